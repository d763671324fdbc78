# worker/worker.mk: owmcollect-worker and its unit tests, included by the
# top Makefile (which provides B, ALL_CFLAGS, LDFLAGS, LIB_OBJ,
# LDLIBS_COMMON and CHECK_LIBS).

WORKER_SRC	:= worker/main.c worker/child.c worker/answer.c \
		   worker/rategate.c worker/gate_db.c worker/tasks.c \
		   worker/sqlvec.c worker/owm_client.c worker/owm_parse.c \
		   worker/notify.c worker/heartbeat.c worker/purge.c \
		   worker/settle.c worker/resolve.c worker/housekeep.c
WORKER_OBJ	 = $(WORKER_SRC:%.c=$(B)/%.o)
CURL_LIBS	 = $(shell pkg-config --libs libcurl 2>/dev/null)
# sd_notify (notify.c): only the worker links libsystemd.
SYSTEMD_LIBS	 = $(shell pkg-config --libs libsystemd 2>/dev/null)

PROGRAMS	+= $(B)/owmcollect-worker
UNIT_TESTS	+= $(B)/tests/check_rategate $(B)/tests/check_worker_parse \
		   $(B)/tests/check_purge $(B)/tests/check_answer

$(B)/owmcollect-worker: $(WORKER_OBJ) $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(SYSTEMD_LIBS) \
	    $(LDLIBS_COMMON) -lm

$(B)/tests/check_rategate: $(B)/tests/unit/check_rategate.o \
    $(B)/tests/unit/rategate_model.o $(B)/worker/rategate.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS)

$(B)/tests/check_worker_parse: $(B)/tests/unit/check_worker_parse.o \
    $(B)/worker/owm_parse.o $(B)/worker/tasks.o $(B)/worker/sqlvec.o \
    $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON) -lm

$(B)/tests/check_purge: $(B)/tests/unit/check_purge.o $(B)/worker/purge.o \
    $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS_COMMON)

# The answer policy is pure: it links without the database and curl.
$(B)/tests/check_answer: $(B)/tests/unit/check_answer.o $(B)/worker/answer.o \
    $(B)/worker/owm_parse.o $(B)/lib/buf.o $(B)/lib/json.o $(B)/lib/jsontok.o \
    $(B)/lib/num.o
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) -lm
