/work/main/build-old/worker/settle.o: worker/settle.c lib/buf.h \
 lib/config.h lib/db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/counters.h lib/log.h lib/queue.h worker/settle.h
lib/buf.h:
lib/config.h:
lib/db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
lib/counters.h:
lib/log.h:
lib/queue.h:
worker/settle.h:
