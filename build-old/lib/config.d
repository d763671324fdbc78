/work/main/build-old/lib/config.o: lib/config.c lib/config.h lib/rules.h \
 lib/json.h lib/buf.h lib/num.h
lib/config.h:
lib/rules.h:
lib/json.h:
lib/buf.h:
lib/num.h:
