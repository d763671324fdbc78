/work/main/build-old/worker/notify.o: worker/notify.c lib/daemon.h \
 worker/notify.h
lib/daemon.h:
worker/notify.h:
