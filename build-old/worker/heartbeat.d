/work/main/build-old/worker/heartbeat.o: worker/heartbeat.c lib/daemon.h \
 worker/heartbeat.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 worker/answer.h worker/owm_client.h lib/buf.h worker/owm_parse.h \
 worker/task.h lib/db.h lib/supervise.h
lib/daemon.h:
worker/heartbeat.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
worker/answer.h:
worker/owm_client.h:
lib/buf.h:
worker/owm_parse.h:
worker/task.h:
lib/db.h:
lib/supervise.h:
