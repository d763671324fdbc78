/*
 * rategate_model.h: test code only.  The rate gate's answer worked out
 * from every slot of the log (worker/rategate.h: rategate_place, with
 * the log in memory), the model the unit tests check rategate_place and
 * the database's lookups against.  The worker never needs it: its log
 * is the database's.
 */
#ifndef OWM_RATEGATE_MODEL_H
#define OWM_RATEGATE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "rategate.h"

/*
 * The slot for n cities asked at now, from every slot of the log, sorted
 * by time (older ones than any window may be present): rategate_place's
 * answer; -1 with why when the slots are not sorted or out of memory.
 */
int	rategate_next(const struct rategate_slot *slots, size_t nslots,
	    int64_t now, unsigned int n, unsigned long long limit,
	    long long margin_ms, int64_t *t, const char **why);

#endif
