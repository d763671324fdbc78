/work/main/build-old/worker/answer.o: worker/answer.c worker/answer.h \
 worker/owm_client.h lib/buf.h worker/owm_parse.h worker/task.h \
 lib/rules.h
worker/answer.h:
worker/owm_client.h:
lib/buf.h:
worker/owm_parse.h:
worker/task.h:
lib/rules.h:
