/*
 * rategate_model.c: see rategate_model.h.  Test code only.
 */
#include <stdlib.h>

#include "rategate_model.h"

/* The log in memory, for rategate_place's reach(). */
struct log_view {
	const struct rategate_slot *slots;
	size_t		 n;
};

static int
log_reach(void *arg, unsigned long long target, struct rategate_slot *slot,
    unsigned long long *cum, const char **why)
{
	const struct log_view *v = arg;
	unsigned long long run = 0;
	size_t		 i;

	(void)why;
	for (i = 0; i < v->n; i++) {
		run += v->slots[i].cities;
		if (run >= target) {
			*slot = v->slots[i];
			*cum = run;
			return 1;
		}
	}
	return 0;
}

int
rategate_next(const struct rategate_slot *slots, size_t nslots, int64_t now,
    unsigned int n, unsigned long long limit, long long margin_ms,
    int64_t *t, const char **why)
{
	struct rategate_slot *late;
	struct log_view	 v = { slots, nslots };
	unsigned long long cum = 0;
	int64_t		 w = rategate_window(margin_ms);
	size_t		 i, nlate = 0;
	int		 rc;

	for (i = 0; i < nslots; i++) {
		if (i > 0 && slots[i].at < slots[i - 1].at) {
			*why = "slots are not sorted by time";
			return -1;
		}
		cum += slots[i].cities;
	}
	if ((late = calloc(nslots + 1, sizeof(*late))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < nslots; i++)
		if (slots[i].arrive != 0 &&
		    slots[i].arrive > slots[i].at + w - RATEGATE_WINDOW_US &&
		    slots[i].arrive > now - RATEGATE_WINDOW_US)
			late[nlate++] = slots[i];
	rc = rategate_place(now, nslots ? &slots[nslots - 1] : NULL, cum,
	    late, nlate, log_reach, &v, n, limit, margin_ms, t, why);
	free(late);
	return rc;
}
