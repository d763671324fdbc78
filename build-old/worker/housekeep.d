/work/main/build-old/worker/housekeep.o: worker/housekeep.c lib/config.h \
 lib/daemon.h lib/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 worker/housekeep.h lib/log.h worker/purge.h worker/settle.h
lib/config.h:
lib/daemon.h:
lib/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
worker/housekeep.h:
lib/log.h:
worker/purge.h:
worker/settle.h:
