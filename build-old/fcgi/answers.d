/work/main/build-old/fcgi/answers.o: fcgi/answers.c fcgi/answers.h
fcgi/answers.h:
