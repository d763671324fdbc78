/work/main/build-old/lib/supervise.o: lib/supervise.c lib/daemon.h \
 lib/log.h lib/supervise.h
lib/daemon.h:
lib/log.h:
lib/supervise.h:
