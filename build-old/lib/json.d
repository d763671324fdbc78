/work/main/build-old/lib/json.o: lib/json.c lib/json.h lib/buf.h
lib/json.h:
lib/buf.h:
