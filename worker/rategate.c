/*
 * rategate.c: see rategate.h.
 *
 * Why a log of reservations and not a token bucket: a bucket that lets a
 * full batch go at once admits R + B cities in some minute, and pacing
 * batches a fixed time apart breaks when their sizes vary (1, 20, 20, 20
 * cities at 0, 1, 21, 41 s is 61 in a minute at R = 60).  Summing the
 * cities actually reserved in the window cannot be fooled that way.
 */
#include "rategate.h"

int64_t
rategate_window(long long margin_ms)
{
	return RATEGATE_WINDOW_US + (int64_t)margin_ms * 1000;
}

int
rategate_next(const struct rategate_slot *slots, size_t nslots, int64_t now,
    unsigned int n, unsigned long long limit, int64_t window, int64_t *t,
    const char **why)
{
	unsigned long long sum = 0;
	int64_t		 at = now;
	size_t		 i, first;

	if (n == 0 || n > limit) {
		*why = n ? "more cities than the limit allows in a window" :
		    "nothing to reserve";
		return -1;
	}
	for (i = 0; i < nslots; i++) {
		if (i > 0 && slots[i].at < slots[i - 1].at) {
			*why = "slots are not sorted by time";
			return -1;
		}
		if (slots[i].at > at)
			at = slots[i].at;
	}
	/*
	 * Pace by cities: a slot of c cities keeps the next one c / limit
	 * minutes behind it (one batch of 20 every 20 s at 60/min), so the
	 * allowance is spread over the minute instead of spent in a burst.
	 * The window check below is what guarantees the limit.
	 */
	if (nslots > 0) {
		int64_t paced = slots[nslots - 1].at + (int64_t)
		    ((unsigned long long)slots[nslots - 1].cities *
		    RATEGATE_WINDOW_US / limit);

		if (paced > at)
			at = paced;
	}
	/* The slots inside (at - window, at]: all from first on. */
	for (first = 0; first < nslots && slots[first].at <= at - window;
	    first++)
		;
	for (i = first; i < nslots; i++)
		sum += slots[i].cities;
	/*
	 * Too full: move t to the moment the oldest slot leaves the window
	 * (the window is open on the left), and again, until n fits.
	 */
	while (sum + n > limit) {
		at = slots[first].at + window;
		for (; first < nslots && slots[first].at <= at - window;
		    first++)
			sum -= slots[first].cities;
	}
	*t = at;
	return 0;
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
