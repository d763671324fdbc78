/*
 * rategate.h: the arithmetic of the shared rate gate, a sliding-window log.
 *
 * Pure: no clock, no database, no logging.  Times are microseconds on one
 * clock (the database's, in production; the test's, in the unit tests).
 * gate_db.c feeds it the reservations ("slots") read under the gate's row
 * lock and stores the answer as a new slot.
 */
#ifndef OWM_RATEGATE_H
#define OWM_RATEGATE_H

#include <stddef.h>
#include <stdint.h>

#define RATEGATE_WINDOW_US	(60LL * 1000 * 1000)	/* the API's minute */

struct rategate_slot {
	int64_t		 at;		/* when its cities may be sent */
	unsigned int	 cities;
};

/* The window the gate checks: the API's minute plus the jitter margin. */
int64_t	rategate_window(long long margin_ms);

/*
 * The earliest t >= max(now, every slot's time, the latest slot's time +
 * its cities / limit minutes) such that the cities of the slots in
 * (t - window, t] plus n stay within limit.  Because every
 * slot is placed at or after the latest one, checking the window that ends
 * at the new slot is enough: every other window was checked when its own
 * last slot was placed.  slots must be sorted by time; slots older than
 * now - window may be present and are ignored.  Returns 0 with *t set, or
 * -1 (with *why) when n is 0, n exceeds limit or slots are unsorted.
 */
int	rategate_next(const struct rategate_slot *slots, size_t nslots,
	    int64_t now, unsigned int n, unsigned long long limit,
	    int64_t window, int64_t *t, const char **why);

/*
 * The same answer as rategate_next from what the database gives in two
 * indexed lookups, so a reservation costs the same at any rate: the newest
 * slot (NULL if none), cum_last = the cities of every slot through it, and
 * reach = the oldest slot whose running count ("cum") reaches cum_last + n
 * - limit, with that count (reach_cum), or NULL if none; only used when
 * cum_last + n > limit.  A reach slot that does not itself cross the
 * count (reach_cum - reach->cities >= the target) means the crossing slot
 * was deleted as old: out of every window, it constrains nothing.
 */
int	rategate_place(int64_t now, const struct rategate_slot *last,
	    unsigned long long cum_last, const struct rategate_slot *reach,
	    unsigned long long reach_cum, unsigned int n,
	    unsigned long long limit, int64_t window, int64_t *t,
	    const char **why);

/*
 * Exponential backoff with jitter for the attempt-th failure (1, 2, ..):
 * base * 2^(attempt-1), at most cap, scaled by a factor in [0.5, 1.5)
 * drawn from rnd (0 <= rnd < 1).  Microseconds.
 */
int64_t	rategate_backoff(unsigned int attempt, int64_t base, int64_t cap,
	    double rnd);

#endif
