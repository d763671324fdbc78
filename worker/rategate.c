/*
 * rategate.c: see rategate.h.
 *
 * Why a log of reservations and not a token bucket: a bucket that lets a
 * full batch go at once admits R + B cities in some minute, and pacing
 * batches a fixed time apart breaks when their sizes vary (1, 20, 20, 20
 * cities at 0, 1, 21, 41 s is 61 in a minute at R = 60).  Summing the
 * cities actually reserved in the window cannot be fooled that way; a
 * running count per slot makes that sum one lookup at any rate.
 *
 * Why arrival bounds: batches sent on schedule land closer together than
 * they were placed when an early one is slowed (a lost SYN, a server that
 * reads late) and a later one is not.  The few slots whose calls may have
 * arrived after slot + margin are read one by one and count until their
 * own bound leaves the window; all the others are summed by the count.
 */
#include <stdlib.h>

#include "rategate.h"

int64_t
rategate_window(long long margin_ms)
{
	return RATEGATE_WINDOW_US + (int64_t)margin_ms * 1000;
}

/*
 * The cities of late slots that have left the count (at + w <= at_) but
 * whose bound is still in the window ending at at_, and the first moment
 * one of them leaves it (*next).
 */
static unsigned long long
late_count(const struct rategate_slot *late, size_t nlate, int64_t w,
    int64_t at, int64_t *next)
{
	unsigned long long sum = 0;
	size_t		 i;

	*next = INT64_MAX;
	for (i = 0; i < nlate; i++) {
		int64_t	 gone = late[i].arrive + RATEGATE_WINDOW_US;

		if (late[i].at + w <= at && gone > at) {
			sum += late[i].cities;
			if (gone < *next)
				*next = gone;
		}
	}
	return sum;
}

/*
 * The earliest a new slot may take: never before the newest slot, and
 * paced by cities: a slot of c cities keeps the next one c / limit
 * minutes behind it (one batch of 20 every 20 s at 60/min), so the
 * allowance is spread over the minute instead of spent in a burst.
 */
static int64_t
paced(int64_t now, const struct rategate_slot *last, unsigned long long limit)
{
	int64_t	 at = now, next;

	if (last == NULL)
		return at;
	next = last->at + (int64_t)((unsigned long long)last->cities *
	    RATEGATE_WINDOW_US / limit);
	if (last->at > at)
		at = last->at;
	if (next > at)
		at = next;
	return at;
}

/*
 * When the count's part of a window ending at at next holds less than
 * target: when the reach slot leaves (1, *cut), or already (0: the reach
 * slot left, or the one that crossed target was deleted as old), -1 on
 * error.
 */
static int
reach_cut(rategate_reach_fn reach, void *arg, unsigned long long target,
    int64_t at, int64_t w, int64_t *cut, const char **why)
{
	struct rategate_slot r;
	unsigned long long rcum;
	int		 rc;

	if ((rc = reach(arg, target, &r, &rcum, why)) == -1)
		return -1;
	/* A reach slot that does not itself cross the target means the
	 * crossing one was deleted as old. */
	if (rc == 0 || rcum - r.cities >= target || r.at + w <= at)
		return 0;
	*cut = r.at + w;
	return 1;
}

int
rategate_place(int64_t now, const struct rategate_slot *last,
    unsigned long long cum_last, const struct rategate_slot *late,
    size_t nlate, rategate_reach_fn reach, void *arg, unsigned int n,
    unsigned long long limit, long long margin_ms, int64_t *t,
    const char **why)
{
	unsigned long long e, target;
	int64_t		 at, w = rategate_window(margin_ms), next, cut;
	size_t		 round;
	int		 rc;

	if (n == 0 || n > limit) {
		*why = n ? "more cities than the limit allows in a window" :
		    "nothing to reserve";
		return -1;
	}
	at = paced(now, last, limit);
	/*
	 * The window check, which is what guarantees the limit.  At a
	 * candidate time the slots that count are those of the count not
	 * yet out of the window (every slot after the one whose running
	 * count reaches cum_last + n + late - limit must still be in it,
	 * so that one must have left) plus the late ones the count already
	 * dropped.  Each round either settles or moves to the next moment
	 * something leaves: the reach slot, or a late slot's bound.  A round
	 * that moves to the reach slot adds late slots to the sum, so there
	 * are at most two rounds per late slot.
	 */
	for (round = 0; round <= 2 * nlate + 2; round++) {
		e = late_count(late, nlate, w, at, &next);
		if (cum_last + n + e <= limit) {
			*t = at;
			return 0;
		}
		target = cum_last + n + e - limit;
		cut = INT64_MAX;
		if (target <= cum_last && (rc = reach_cut(reach, arg, target,
		    at, w, &cut, why)) <= 0) {
			if (rc == 0)
				*t = at;
			return rc;
		}
		if (next < cut)
			cut = next;
		if (cut == INT64_MAX) {
			*why = "late slots hold more than the limit";
			return -1;
		}
		at = cut;
	}
	*why = "the window check did not settle";
	return -1;
}

int64_t
rategate_backoff(unsigned int attempt, int64_t base, int64_t cap, double rnd)
{
	int64_t	 d = base;

	while (attempt-- > 1 && d < cap)
		d *= 2;
	if (d > cap)
		d = cap;
	if (rnd < 0 || rnd >= 1)
		rnd = 0.5;
	return (int64_t)((double)d * (0.5 + rnd));
}
