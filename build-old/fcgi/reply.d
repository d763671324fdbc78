/work/main/build-old/fcgi/reply.o: fcgi/reply.c fcgi/reply.h lib/buf.h \
 fcgi/csv.h fcgi/health.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/answers.h fcgi/store.h lib/db.h lib/json.h lib/buf.h fcgi/post.h \
 fcgi/read.h fcgi/getcache.h fcgi/validate.h lib/rules.h
fcgi/reply.h:
lib/buf.h:
fcgi/csv.h:
fcgi/health.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/answers.h:
fcgi/store.h:
lib/db.h:
lib/json.h:
lib/buf.h:
fcgi/post.h:
fcgi/read.h:
fcgi/getcache.h:
fcgi/validate.h:
lib/rules.h:
