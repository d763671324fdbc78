/work/main/build-old/worker/tasks.o: worker/tasks.c lib/config.h \
 lib/counters.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/db.h worker/sqlvec.h worker/tasks.h worker/task.h worker/owm_parse.h
lib/config.h:
lib/counters.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
lib/db.h:
worker/sqlvec.h:
worker/tasks.h:
worker/task.h:
worker/owm_parse.h:
