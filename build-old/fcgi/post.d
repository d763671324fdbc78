/work/main/build-old/fcgi/post.o: fcgi/post.c \
 /usr/include/mariadb/mysqld_error.h fcgi/admit.h lib/buf.h lib/config.h \
 lib/counters.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/daemon.h lib/log.h fcgi/parse.h fcgi/validate.h lib/rules.h \
 fcgi/post.h fcgi/store.h lib/db.h lib/queue.h
/usr/include/mariadb/mysqld_error.h:
fcgi/admit.h:
lib/buf.h:
lib/config.h:
lib/counters.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
lib/daemon.h:
lib/log.h:
fcgi/parse.h:
fcgi/validate.h:
lib/rules.h:
fcgi/post.h:
fcgi/store.h:
lib/db.h:
lib/queue.h:
