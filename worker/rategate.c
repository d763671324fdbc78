/*
 * rategate.c: see rategate.h.
 *
 * Why a log of reservations and not a token bucket: a bucket that lets a
 * full batch go at once admits R + B cities in some minute, and pacing
 * batches a fixed time apart breaks when their sizes vary (1, 20, 20, 20
 * cities at 0, 1, 21, 41 s is 61 in a minute at R = 60).  Summing the
 * cities actually reserved in the window cannot be fooled that way; a
 * running count per slot makes that sum two lookups at any rate.
 */
#include "rategate.h"

int64_t
rategate_window(long long margin_ms)
{
	return RATEGATE_WINDOW_US + (int64_t)margin_ms * 1000;
}

int
rategate_place(int64_t now, const struct rategate_slot *last,
    unsigned long long cum_last, const struct rategate_slot *reach,
    unsigned long long reach_cum, unsigned int n, unsigned long long limit,
    int64_t window, int64_t *t, const char **why)
{
	int64_t		 at = now;

	if (n == 0 || n > limit) {
		*why = n ? "more cities than the limit allows in a window" :
		    "nothing to reserve";
		return -1;
	}
	if (last != NULL) {
		/*
		 * Never before the newest slot, and paced by cities: a slot of
		 * c cities keeps the next one c / limit minutes behind it
		 * (one batch of 20 every 20 s at 60/min), so the allowance is
		 * spread over the minute instead of spent in a burst.
		 */
		int64_t paced = last->at + (int64_t)((unsigned long long)
		    last->cities * RATEGATE_WINDOW_US / limit);

		if (last->at > at)
			at = last->at;
		if (paced > at)
			at = paced;
	}
	/*
	 * The window check, which is what guarantees the limit: the cities
	 * of the slots in (at - window, at] are cum_last minus those of the
	 * slots at or before at - window, so every slot up to the one whose
	 * running count reaches cum_last + n - limit must have left it.
	 */
	if (cum_last + n > limit && reach != NULL &&
	    reach_cum - reach->cities < cum_last + n - limit &&
	    reach->at + window > at)
		at = reach->at + window;
	*t = at;
	return 0;
}

int
rategate_next(const struct rategate_slot *slots, size_t nslots, int64_t now,
    unsigned int n, unsigned long long limit, int64_t window, int64_t *t,
    const char **why)
{
	unsigned long long cum = 0, target, run = 0;
	size_t		 i;

	for (i = 0; i < nslots; i++) {
		if (i > 0 && slots[i].at < slots[i - 1].at) {
			*why = "slots are not sorted by time";
			return -1;
		}
		cum += slots[i].cities;
	}
	target = cum + n;
	for (i = 0; i < nslots && target > limit; i++) {
		run += slots[i].cities;
		if (run >= target - limit)
			return rategate_place(now, &slots[nslots - 1], cum,
			    &slots[i], run, n, limit, window, t, why);
	}
	return rategate_place(now, nslots ? &slots[nslots - 1] : NULL, cum,
	    NULL, 0, n, limit, window, t, why);
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
