/work/main/build-old/fcgi/handlers.o: fcgi/handlers.c fcgi/reply.h \
 lib/buf.h fcgi/cancel.h /usr/include/mariadb/mysql.h \
 /usr/include/mariadb/mariadb_com.h \
 /usr/include/mariadb/mariadb_version.h /usr/include/mariadb/ma_list.h \
 /usr/include/mariadb/mariadb_ctype.h /usr/include/mariadb/mariadb_stmt.h \
 fcgi/store.h lib/db.h lib/config.h fcgi/getcache.h fcgi/validate.h \
 lib/rules.h fcgi/handlers.h fcgi/health.h fcgi/answers.h lib/num.h \
 fcgi/parse.h fcgi/post.h fcgi/read.h
fcgi/reply.h:
lib/buf.h:
fcgi/cancel.h:
/usr/include/mariadb/mysql.h:
/usr/include/mariadb/mariadb_com.h:
/usr/include/mariadb/mariadb_version.h:
/usr/include/mariadb/ma_list.h:
/usr/include/mariadb/mariadb_ctype.h:
/usr/include/mariadb/mariadb_stmt.h:
fcgi/store.h:
lib/db.h:
lib/config.h:
fcgi/getcache.h:
fcgi/validate.h:
lib/rules.h:
fcgi/handlers.h:
fcgi/health.h:
fcgi/answers.h:
lib/num.h:
fcgi/parse.h:
fcgi/post.h:
fcgi/read.h:
