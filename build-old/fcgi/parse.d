/work/main/build-old/fcgi/parse.o: fcgi/parse.c lib/json.h lib/buf.h \
 lib/jsontok.h lib/num.h fcgi/parse.h fcgi/validate.h lib/rules.h
lib/json.h:
lib/buf.h:
lib/jsontok.h:
lib/num.h:
fcgi/parse.h:
fcgi/validate.h:
lib/rules.h:
