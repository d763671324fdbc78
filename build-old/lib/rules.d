/work/main/build-old/lib/rules.o: lib/rules.c lib/rules.h
lib/rules.h:
