/work/main/build-old/fcgi/csv.o: fcgi/csv.c fcgi/csv.h lib/buf.h
fcgi/csv.h:
lib/buf.h:
