/work/main/build-old/worker/rategate.o: worker/rategate.c \
 worker/rategate.h lib/rules.h
worker/rategate.h:
lib/rules.h:
