/work/main/build-old/fcgi/cancel.o: fcgi/cancel.c fcgi/cancel.h \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/buf.h fcgi/store.h lib/db.h lib/counters.h lib/log.h fcgi/read.h \
 fcgi/getcache.h fcgi/validate.h lib/rules.h
fcgi/cancel.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
lib/buf.h:
fcgi/store.h:
lib/db.h:
lib/counters.h:
lib/log.h:
fcgi/read.h:
fcgi/getcache.h:
fcgi/validate.h:
lib/rules.h:
