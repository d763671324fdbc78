/work/main/build-old/lib/buf.o: lib/buf.c lib/buf.h
lib/buf.h:
