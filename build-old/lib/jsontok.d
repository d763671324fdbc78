/work/main/build-old/lib/jsontok.o: lib/jsontok.c lib/json.h lib/buf.h \
 lib/jsontok.h
lib/json.h:
lib/buf.h:
lib/jsontok.h:
