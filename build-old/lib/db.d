/work/main/build-old/lib/db.o: lib/db.c /usr/include/mariadb/errmsg.h \
 /usr/include/mariadb/mysqld_error.h lib/buf.h lib/config.h lib/daemon.h \
 lib/db.h /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/log.h
/usr/include/mariadb/errmsg.h:
/usr/include/mariadb/mysqld_error.h:
lib/buf.h:
lib/config.h:
lib/daemon.h:
lib/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
lib/log.h:
