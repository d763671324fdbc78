/*
 * rategate.h: the arithmetic of the shared rate gate, a sliding-window log
 * of arrivals.
 *
 * Pure: no clock, no database, no logging.  Times are microseconds on one
 * clock (the database's, in production; the test's, in the unit tests).
 * gate_db.c feeds it the reservations ("slots") read under the gate's row
 * lock and stores the answer as a new slot.
 *
 * The API counts a city when its call ARRIVES, which is after the slot it
 * was sent at and before the first byte of its answer.  A slot's calls
 * normally arrive within the margin after it; such a slot counts in every
 * window that ends within 60 s + margin of it.  One that connected late
 * (a lost SYN: the child waits up to gate_db.h's GATE_SEND_MIN_US for a
 * connection, then abandons the call) arrives later, and its slot carries
 * that bound like any late slot.  A slot whose calls may have
 * arrived later carries that bound in "arrive" and counts until 60 s
 * after it: still in flight, the bound it was reserved with (gate_db.h);
 * answered late, their answer's first byte; given up on once sent, the
 * latest the server may still read them (owm.hold_ms after they left),
 * which may be well past the moment the child gave up.
 */
#ifndef OWM_RATEGATE_H
#define OWM_RATEGATE_H

#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define RATEGATE_WINDOW_US	(RULES_WINDOW_S * 1000000LL)	/* rules.h */

struct rategate_slot {
	int64_t		 at;		/* when its cities were sent (at most
					 * margin late) */
	int64_t		 arrive;	/* 0: arrived by at + margin; else the
					 * latest moment they may arrive */
	unsigned int	 cities;
};

/* The window a slot of normal arrival counts in: 60 s plus the margin. */
int64_t	rategate_window(long long margin_ms);

/*
 * The oldest slot whose running count of cities ("cum": the cities of
 * every slot through it, in slot order) reaches target, with that count:
 * 1 found, 0 none, -1 error (why set).
 */
typedef int (*rategate_reach_fn)(void *arg, unsigned long long target,
    struct rategate_slot *slot, unsigned long long *cum, const char **why);

/*
 * The earliest t >= max(now, the newest slot's time + its cities / limit
 * minutes) at which n more cities keep every window of the API's minute
 * within limit, counting each slot until its arrival bound leaves the
 * window: a normal slot until at + window, a late one until arrive + 60 s.
 * last: the newest slot (NULL if none) and cum_last the running count
 * through it; late: every slot with arrive set that may still count
 * (arrive > now - 60 s), in any order; reach: the count lookup, used only
 * when the window is full.  Because every slot is placed at or after the
 * newest one, and a slot's bound only ever shrinks (the reservation's
 * bound covers every outcome its calls can report), checking the windows
 * from t on is enough: every earlier window was checked when its own
 * newest slot was placed.  A bound however far ahead is one more late
 * slot: the candidate time moves at most twice per late slot.
 * Returns 0 with *t set, or -1 with *why.
 */
int	rategate_place(int64_t now, const struct rategate_slot *last,
	    unsigned long long cum_last, const struct rategate_slot *late,
	    size_t nlate, rategate_reach_fn reach, void *arg, unsigned int n,
	    unsigned long long limit, long long margin_ms, int64_t *t,
	    const char **why);

/*
 * Exponential backoff with jitter for the attempt-th failure (1, 2, ..):
 * base * 2^(attempt-1), at most cap, scaled by a factor in [0.5, 1.5)
 * drawn from rnd (0 <= rnd < 1).  Microseconds.
 */
int64_t	rategate_backoff(unsigned int attempt, int64_t base, int64_t cap,
	    double rnd);

#endif
