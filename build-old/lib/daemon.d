/work/main/build-old/lib/daemon.o: lib/daemon.c lib/config.h lib/daemon.h \
 lib/log.h
lib/config.h:
lib/daemon.h:
lib/log.h:
