/work/main/build-old/fcgi/health.o: fcgi/health.c fcgi/admit.h \
 fcgi/answers.h lib/buf.h fcgi/health.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/store.h lib/db.h lib/rules.h
fcgi/admit.h:
fcgi/answers.h:
lib/buf.h:
fcgi/health.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/store.h:
lib/db.h:
lib/rules.h:
