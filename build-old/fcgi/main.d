/work/main/build-old/fcgi/main.o: fcgi/main.c fcgi/admit.h fcgi/answers.h \
 lib/config.h lib/daemon.h lib/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/handlers.h lib/buf.h lib/log.h fcgi/parse.h fcgi/validate.h \
 lib/rules.h fcgi/store.h lib/supervise.h
fcgi/admit.h:
fcgi/answers.h:
lib/config.h:
lib/daemon.h:
lib/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/handlers.h:
lib/buf.h:
lib/log.h:
fcgi/parse.h:
fcgi/validate.h:
lib/rules.h:
fcgi/store.h:
lib/supervise.h:
