/work/main/build-old/fcgi/admit.o: fcgi/admit.c fcgi/admit.h lib/daemon.h \
 lib/log.h
fcgi/admit.h:
lib/daemon.h:
lib/log.h:
