/work/main/build-old/worker/child.o: worker/child.c worker/answer.h \
 worker/owm_client.h lib/buf.h worker/owm_parse.h worker/task.h \
 worker/child.h lib/config.h lib/daemon.h lib/db.h \
 /usr/include/mariadb/mysql.h /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 worker/gate_db.h lib/rules.h worker/heartbeat.h lib/supervise.h \
 lib/log.h worker/rategate.h worker/tasks.h
worker/answer.h:
worker/owm_client.h:
lib/buf.h:
worker/owm_parse.h:
worker/task.h:
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
worker/gate_db.h:
lib/rules.h:
worker/heartbeat.h:
lib/supervise.h:
lib/log.h:
worker/rategate.h:
worker/tasks.h:
