/work/main/build-old/worker/main.o: worker/main.c worker/child.h \
 lib/config.h lib/daemon.h lib/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/log.h worker/notify.h worker/purge.h worker/housekeep.h \
 lib/supervise.h
worker/child.h:
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
worker/notify.h:
worker/purge.h:
worker/housekeep.h:
lib/supervise.h:
