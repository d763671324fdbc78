/work/main/build-old/worker/owm_client.o: worker/owm_client.c \
 lib/config.h lib/daemon.h worker/owm_client.h lib/buf.h \
 worker/owm_parse.h
lib/config.h:
lib/daemon.h:
worker/owm_client.h:
lib/buf.h:
worker/owm_parse.h:
