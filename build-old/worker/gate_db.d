/work/main/build-old/worker/gate_db.o: worker/gate_db.c lib/config.h \
 lib/daemon.h worker/gate_db.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 lib/db.h lib/rules.h worker/rategate.h
lib/config.h:
lib/daemon.h:
worker/gate_db.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
lib/db.h:
lib/rules.h:
worker/rategate.h:
