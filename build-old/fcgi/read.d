/work/main/build-old/fcgi/read.o: fcgi/read.c fcgi/read.h \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/getcache.h lib/buf.h fcgi/validate.h lib/rules.h fcgi/store.h \
 lib/db.h
fcgi/read.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/getcache.h:
lib/buf.h:
fcgi/validate.h:
lib/rules.h:
fcgi/store.h:
lib/db.h:
