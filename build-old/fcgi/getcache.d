/work/main/build-old/fcgi/getcache.o: fcgi/getcache.c fcgi/getcache.h \
 lib/buf.h fcgi/validate.h lib/rules.h
fcgi/getcache.h:
lib/buf.h:
fcgi/validate.h:
lib/rules.h:
