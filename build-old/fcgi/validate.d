/work/main/build-old/fcgi/validate.o: fcgi/validate.c lib/json.h \
 lib/buf.h fcgi/validate.h lib/rules.h
lib/json.h:
lib/buf.h:
fcgi/validate.h:
lib/rules.h:
