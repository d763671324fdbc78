/work/main/build-old/worker/owm_parse.o: worker/owm_parse.c lib/json.h \
 lib/buf.h lib/jsontok.h lib/num.h worker/owm_parse.h
lib/json.h:
lib/buf.h:
lib/jsontok.h:
lib/num.h:
worker/owm_parse.h:
