/*
 * check_rategate.c: the rate gate's sliding-window arithmetic
 * (worker/rategate.c) with an injected clock.
 *
 * Table cases give a sequence of reservations (when asked, how many
 * cities) and the slot each must get; a property test replays random
 * sequences and checks every window of the resulting schedule, the way
 * the stand-in's access log is checked in the integration tests.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "rategate.h"

#define S(x)	((int64_t)((x) * 1000000.0))
#define MAXRES	64

struct step {
	double		 asked;		/* seconds */
	unsigned int	 n;
	double		 want;		/* expected slot, seconds */
};

struct tcase_rg {
	const char	*name;
	unsigned long long limit;
	long long	 margin_ms;
	struct step	 steps[16];
	size_t		 nsteps;
};

static const struct tcase_rg cases[] = {
	/* DESIGN.md: 1 city, then 20, 20, 20 at R = 60 must not be 61 in
	 * a minute: the third 20 waits until the 1 leaves the window. */
	{ "design 1+20+20+20", 60, 0,
	  { { 0, 1, 0 }, { 1, 20, 1 }, { 21, 20, 21 }, { 41, 20, 60 } }, 4 },
	/* The same with a 1 s margin: the window is 61 s. */
	{ "design with margin", 60, 1000,
	  { { 0, 1, 0 }, { 1, 20, 1 }, { 21, 20, 21 }, { 41, 20, 61 } }, 4 },
	/* Full batches at R = 60, B = 20: one every 20 s, paced, even when
	 * all are asked for at once. */
	{ "full batches", 60, 0,
	  { { 0, 20, 0 }, { 0, 20, 20 }, { 0, 20, 40 }, { 0, 20, 60 },
	    { 0, 20, 80 }, { 0, 20, 100 }, { 0, 20, 120 } }, 7 },
	/* Partial batches cost what they hold, in pacing and in the
	 * window: 5 cities keep the next 5 s behind. */
	{ "partial batches", 60, 0,
	  { { 0, 5, 0 }, { 0, 7, 5 }, { 0, 48, 12 }, { 0, 5, 60 },
	    { 0, 7, 65 }, { 0, 48, 72 }, { 0, 1, 120 } }, 7 },
	/* Never before the latest slot, even when the window has room. */
	{ "monotone", 60, 0,
	  { { 0, 60, 0 }, { 10, 1, 60 }, { 11, 1, 61 } }, 3 },
	/* Idle gate: a request at t goes at t. */
	{ "idle", 60, 500,
	  { { 0, 20, 0 }, { 100, 20, 100 }, { 300.5, 20, 300.5 } }, 3 },
	/* Window boundary is open on the left: exactly one window later
	 * the old slot no longer counts. */
	{ "boundary", 10, 0,
	  { { 0, 10, 0 }, { 59.999999, 10, 60 }, { 60, 1, 120 } }, 3 },
	/* Several old slots must leave before a big one fits. */
	{ "drain several", 20, 0,
	  { { 0, 5, 0 }, { 1, 5, 15 }, { 2, 5, 30 }, { 3, 5, 45 },
	    { 3, 15, 90 } }, 5 },
	/* The margin widens the window. */
	{ "margin", 20, 2500,
	  { { 0, 20, 0 }, { 0, 20, 62.5 } }, 2 },
	/* R = 1 and B = 1. */
	{ "one per minute", 1, 0,
	  { { 0, 1, 0 }, { 0, 1, 60 }, { 0, 1, 120 }, { 200, 1, 200 } }, 4 },
};

START_TEST(test_table)
{
	const struct tcase_rg *c = &cases[_i];
	struct rategate_slot slots[MAXRES];
	const char	*why;
	int64_t		 t, w = rategate_window(c->margin_ms);
	size_t		 i;

	for (i = 0; i < c->nsteps; i++) {
		ck_assert_msg(rategate_next(slots, i, S(c->steps[i].asked),
		    c->steps[i].n, c->limit, w, &t, &why) == 0,
		    "%s: step %zu refused: %s", c->name, i, why);
		ck_assert_msg(t == S(c->steps[i].want),
		    "%s: step %zu: slot %.6f, want %.6f", c->name, i,
		    t / 1e6, c->steps[i].want);
		slots[i].at = t;
		slots[i].cities = c->steps[i].n;
	}
}
END_TEST

START_TEST(test_refusals)
{
	struct rategate_slot slots[2] = { { S(5), 1 }, { S(4), 1 } };
	const char	*why = NULL;
	int64_t		 t;

	ck_assert_int_eq(rategate_next(NULL, 0, 0, 0, 60, S(60), &t, &why),
	    -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(rategate_next(NULL, 0, 0, 21, 20, S(60), &t, &why),
	    -1);
	ck_assert_int_eq(rategate_next(slots, 2, 0, 1, 60, S(60), &t, &why),
	    -1);
	/* Old slots before the window are ignored. */
	slots[0].at = S(-100);
	slots[1].at = S(-61);
	ck_assert_int_eq(rategate_next(slots, 2, 0, 60, 60, S(60), &t, &why),
	    0);
	ck_assert(t == 0);
}
END_TEST

/*
 * rategate_place from the database's two lookups: the slot that crosses
 * the count constrains; a later one found because the crossing slot was
 * deleted as old (its count before it is already past the target) does
 * not.
 */
START_TEST(test_place_lookups)
{
	struct rategate_slot last = { S(100), 20 }, reach = { S(70), 20 };
	const char	*why;
	int64_t		 t;

	/* R = 60, 60 cities through last, n = 20: target 20; reach crosses
	 * it (count 0 -> 20): t = reach + window, later than the pacing
	 * (last + 20 s). */
	ck_assert_int_eq(rategate_place(S(101), &last, 60, &reach, 20, 20, 60,
	    S(60), &t, &why), 0);
	ck_assert(t == S(130));
	/* The same slot found with a count of 40 (20 before it): the
	 * crossing slot was deleted, nothing waits but the pacing. */
	ck_assert_int_eq(rategate_place(S(101), &last, 60, &reach, 40, 20, 60,
	    S(60), &t, &why), 0);
	ck_assert(t == S(120));
	/* Room in the window: only the pacing. */
	ck_assert_int_eq(rategate_place(S(101), &last, 30, NULL, 0, 20, 60,
	    S(60), &t, &why), 0);
	ck_assert(t == S(120));
}
END_TEST

/* Largest number of cities in any span (a - span, a], as the gate and
 * the integration tests' access-log audit count. */
static unsigned long long
worst_window(const struct rategate_slot *s, size_t n, int64_t span)
{
	unsigned long long best = 0, sum = 0;
	size_t		 lo = 0, hi;

	for (hi = 0; hi < n; hi++) {
		sum += s[hi].cities;
		while (s[lo].at <= s[hi].at - span)
			sum -= s[lo++].cities;
		if (sum > best)
			best = sum;
	}
	return best;
}

/*
 * Random reservations (sizes 1..B, clocks that sometimes stand still and
 * sometimes jump) from many "children": every 60 s span of slots holds at
 * most R, and with a margin M, even arrivals up to M late do.
 */
START_TEST(test_property)
{
	static struct rategate_slot slots[4000];
	const char	*why;
	unsigned int	 seed = 12345u + (unsigned int)_i;
	unsigned long long limit = 1 + (unsigned long long)(_i % 7) * 37;
	long long	 margin_ms = (_i % 3) * 700;
	int64_t		 now = 0, t, w = rategate_window(margin_ms);
	size_t		 i, n = 0;
	unsigned int	 b;

	for (i = 0; i < 4000; i++) {
		b = 1 + (unsigned int)(rand_r(&seed) % 20);
		if (b > limit)
			b = (unsigned int)limit;
		now += (int64_t)(rand_r(&seed) % 4) * (rand_r(&seed) % 3000000);
		ck_assert_int_eq(rategate_next(slots, n, now, b, limit, w, &t,
		    &why), 0);
		ck_assert(t >= now);
		ck_assert(n == 0 || t >= slots[n - 1].at);
		slots[n].at = t;
		slots[n].cities = b;
		n++;
	}
	ck_assert_uint_le(worst_window(slots, n, RATEGATE_WINDOW_US), limit);
	/* Arrivals spread over [slot, slot + margin): still within R for
	 * every 60 s span (shift every other slot late by the margin). */
	for (i = 0; i < n && margin_ms > 0; i += 2)
		slots[i].at += margin_ms * 1000 - 1;
	for (i = 1; i < n; i++)		/* keep it sorted for the scan */
		if (slots[i].at < slots[i - 1].at) {
			struct rategate_slot x = slots[i];
			size_t	 j = i;

			while (j > 0 && slots[j - 1].at > x.at) {
				slots[j] = slots[j - 1];
				j--;
			}
			slots[j] = x;
		}
	ck_assert_uint_le(worst_window(slots, n, RATEGATE_WINDOW_US), limit);
}
END_TEST

struct bcase {
	unsigned int	 attempt;
	double		 rnd;
	int64_t		 want;
};

static const struct bcase bcases[] = {
	{ 1, 0.5, 1000000 }, { 2, 0.5, 2000000 }, { 3, 0.0, 2000000 },
	{ 4, 0.999, 11992000 }, { 10, 0.5, 60000000 }, { 100, 0.5, 60000000 },
	{ 1, 7.0, 1000000 },
};

START_TEST(test_backoff)
{
	const struct bcase *c = &bcases[_i];

	ck_assert_int_eq(rategate_backoff(c->attempt, 1000000, 60000000,
	    c->rnd), c->want);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("rategate");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_place_lookups);
	tcase_add_loop_test(tc, test_property, 0, 21);
	tcase_add_loop_test(tc, test_backoff, 0,
	    sizeof(bcases) / sizeof(bcases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
