/work/main/build-old/lib/num.o: lib/num.c lib/num.h
lib/num.h:
