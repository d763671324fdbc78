/*
 * check_rategate.c: the rate gate's sliding-window arithmetic
 * (worker/rategate.c) with an injected clock.
 *
 * Table cases give a sequence of reservations (when asked, how many
 * cities, how late its calls' answers began) and the slot each must get;
 * a property test replays random sequences, with calls that arrive late
 * and bounds that are only known once the answers came, and checks every
 * window of the resulting arrivals, the way the stand-in's access log is
 * checked in the integration tests.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "check_run.h"
#include "rategate.h"
#include "rategate_model.h"

#define S(x)	((int64_t)((x) * 1000000.0))
#define MAXRES	64

struct step {
	double		 asked;		/* seconds */
	unsigned int	 n;
	double		 want;		/* expected slot, seconds */
	double		 late;		/* its arrival bound - slot, when
					 * past the margin; 0: normal */
};

struct tcase_rg {
	const char	*name;
	unsigned long long limit;
	long long	 margin_ms;
	struct step	 steps[16];
	size_t		 nsteps;
};

static const struct tcase_rg cases[] = {
	/* docs/design.md, "The rate limit": 1 city, then 20, 20, 20 at R = 60
	 * must not be 61 in a minute: the third 20 waits until the 1
	 * leaves the window. */
	{ "design 1+20+20+20", 60, 0,
	  { { 0, 1, 0, 0 }, { 1, 20, 1, 0 }, { 21, 20, 21, 0 }, { 41, 20, 60, 0 } }, 4 },
	/* The same with a 1 s margin: the window is 61 s. */
	{ "design with margin", 60, 1000,
	  { { 0, 1, 0, 0 }, { 1, 20, 1, 0 }, { 21, 20, 21, 0 }, { 41, 20, 61, 0 } }, 4 },
	/* Full batches at R = 60, B = 20: one every 20 s, paced, even when
	 * all are asked for at once. */
	{ "full batches", 60, 0,
	  { { 0, 20, 0, 0 }, { 0, 20, 20, 0 }, { 0, 20, 40, 0 }, { 0, 20, 60, 0 },
	    { 0, 20, 80, 0 }, { 0, 20, 100, 0 }, { 0, 20, 120, 0 } }, 7 },
	/* Partial batches cost what they hold, in pacing and in the
	 * window: 5 cities keep the next 5 s behind. */
	{ "partial batches", 60, 0,
	  { { 0, 5, 0, 0 }, { 0, 7, 5, 0 }, { 0, 48, 12, 0 }, { 0, 5, 60, 0 },
	    { 0, 7, 65, 0 }, { 0, 48, 72, 0 }, { 0, 1, 120, 0 } }, 7 },
	/* Never before the latest slot, even when the window has room. */
	{ "monotone", 60, 0,
	  { { 0, 60, 0, 0 }, { 10, 1, 60, 0 }, { 11, 1, 61, 0 } }, 3 },
	/* Idle gate: a request at t goes at t. */
	{ "idle", 60, 500,
	  { { 0, 20, 0, 0 }, { 100, 20, 100, 0 }, { 300.5, 20, 300.5, 0 } }, 3 },
	/* Window boundary is open on the left: exactly one window later
	 * the old slot no longer counts. */
	{ "boundary", 10, 0,
	  { { 0, 10, 0, 0 }, { 59.999999, 10, 60, 0 }, { 60, 1, 120, 0 } }, 3 },
	/* Several old slots must leave before a big one fits. */
	{ "drain several", 20, 0,
	  { { 0, 5, 0, 0 }, { 1, 5, 15, 0 }, { 2, 5, 30, 0 }, { 3, 5, 45, 0 },
	    { 3, 15, 90, 0 } }, 5 },
	/* The margin widens the window. */
	{ "margin", 20, 2500,
	  { { 0, 20, 0, 0 }, { 0, 20, 62.5, 0 } }, 2 },
	/* R = 1 and B = 1. */
	{ "one per minute", 1, 0,
	  { { 0, 1, 0, 0 }, { 0, 1, 60, 0 }, { 0, 1, 120, 0 }, { 200, 1, 200, 0 } }, 4 },
	/* A real run: the first batch's calls reached the server up to 3 s
	 * late (lost SYNs), the next two on time.  The fourth must wait
	 * until the first one's arrivals leave the server's window (63 s),
	 * not its slot's (61 s). */
	{ "late first batch", 60, 1000,
	  { { 0, 20, 0, 3 }, { 0, 20, 20, 0 }, { 0, 20, 40, 0 }, { 0, 20, 63, 0 },
	    { 0, 20, 83, 0 } }, 5 },
	/* A late batch in the middle pushes only the batch a window after
	 * it; the ones around it keep their pace. */
	{ "late middle batch", 60, 1000,
	  { { 0, 20, 0, 0 }, { 0, 20, 20, 2.5 }, { 0, 20, 40, 0 }, { 0, 20, 61, 0 },
	    { 0, 20, 82.5, 0 }, { 0, 20, 102.5, 0 }, { 0, 20, 122.5, 0 } }, 7 },
	/* Still in flight: counted until its deadline (margin + timeout)
	 * leaves the window. */
	{ "in flight", 20, 500,
	  { { 0, 20, 0, 10.5 }, { 1, 20, 70.5, 0 } }, 2 },
	/* Late arrivals within the window of a full one cost nothing. */
	{ "late but room", 60, 1000,
	  { { 0, 10, 0, 4 }, { 0, 10, 10, 0 }, { 0, 10, 20, 0 }, { 0, 10, 30, 0 } },
	  4 },
	/* A batch given up on 4 s after its slot (owm.timeout_ms 3 s) may
	 * still be read by the server until its send + owm.hold_ms (10 s):
	 * the batch a window later waits for that bound (71 s), not for
	 * the give-up's (64 s); the ones around it keep their pace. */
	{ "given up, read late", 60, 1000,
	  { { 0, 20, 0, 11 }, { 0, 20, 20, 0 }, { 0, 20, 40, 0 }, { 0, 20, 71, 0 },
	    { 0, 20, 91, 0 } }, 5 },
	/* A bound far ahead (a minute's hold) holds its cities for as long. */
	{ "bound far ahead", 20, 0,
	  { { 0, 20, 0, 60 }, { 1, 20, 120, 0 } }, 2 },
};

START_TEST(test_table)
{
	const struct tcase_rg *c = &cases[_i];
	struct rategate_slot slots[MAXRES];
	const char	*why;
	int64_t		 t;
	size_t		 i;

	for (i = 0; i < c->nsteps; i++) {
		ck_assert_msg(rategate_next(slots, i, S(c->steps[i].asked),
		    c->steps[i].n, c->limit, c->margin_ms, &t, &why) == 0,
		    "%s: step %zu refused: %s", c->name, i, why);
		ck_assert_msg(t == S(c->steps[i].want),
		    "%s: step %zu: slot %.6f, want %.6f", c->name, i,
		    t / 1e6, c->steps[i].want);
		slots[i].at = t;
		slots[i].arrive = c->steps[i].late > 0 ?
		    t + S(c->steps[i].late) : 0;
		slots[i].cities = c->steps[i].n;
	}
}
END_TEST

START_TEST(test_refusals)
{
	struct rategate_slot slots[2] = { { S(5), 0, 1 }, { S(4), 0, 1 } };
	const char	*why = NULL;
	int64_t		 t;

	ck_assert_int_eq(rategate_next(NULL, 0, 0, 0, 60, 0, &t, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(rategate_next(NULL, 0, 0, 21, 20, 0, &t, &why), -1);
	ck_assert_int_eq(rategate_next(slots, 2, 0, 1, 60, 0, &t, &why), -1);
	/* Old slots before the window are ignored. */
	slots[0].at = S(-100);
	slots[1].at = S(-61);
	ck_assert_int_eq(rategate_next(slots, 2, 0, 60, 60, 0, &t, &why), 0);
	ck_assert(t == 0);
	/* ... and so is an old late one whose bound has left it. */
	slots[1].arrive = S(-60.5);
	ck_assert_int_eq(rategate_next(slots, 2, 0, 60, 60, 0, &t, &why), 0);
	ck_assert(t == 0);
	slots[1].arrive = S(-59.5);
	ck_assert_int_eq(rategate_next(slots, 2, 0, 60, 60, 0, &t, &why), 0);
	ck_assert(t == S(0.5));
}
END_TEST

/* The reach lookup as the database answers it: one fixed slot. */
struct fixed_reach {
	struct rategate_slot slot;
	unsigned long long cum;
	int		 calls;
};

static int
fixed(void *arg, unsigned long long target, struct rategate_slot *slot,
    unsigned long long *cum, const char **why)
{
	struct fixed_reach *f = arg;

	(void)target;
	(void)why;
	f->calls++;
	if (f->cum == 0)
		return 0;
	*slot = f->slot;
	*cum = f->cum;
	return 1;
}

/*
 * rategate_place from the database's lookups: the slot that crosses the
 * count constrains; a later one found because the crossing slot was
 * deleted as old (its count before it is already past the target) does
 * not; with room in the window the count is not even looked up.
 */
START_TEST(test_place_lookups)
{
	struct rategate_slot last = { S(100), 0, 20 };
	struct fixed_reach f = { { S(70), 0, 20 }, 20, 0 };
	const char	*why;
	int64_t		 t;

	/* R = 60, 60 cities through last, n = 20: target 20; reach crosses
	 * it (count 0 -> 20): t = reach + window, later than the pacing
	 * (last + 20 s). */
	ck_assert_int_eq(rategate_place(S(101), &last, 60, NULL, 0, fixed, &f,
	    20, 60, 0, &t, &why), 0);
	ck_assert(t == S(130));
	/* The same slot found with a count of 40 (20 before it): the
	 * crossing slot was deleted, nothing waits but the pacing. */
	f.cum = 40;
	ck_assert_int_eq(rategate_place(S(101), &last, 60, NULL, 0, fixed, &f,
	    20, 60, 0, &t, &why), 0);
	ck_assert(t == S(120));
	/* Room in the window: only the pacing, no lookup. */
	f.calls = 0;
	ck_assert_int_eq(rategate_place(S(101), &last, 30, NULL, 0, fixed, &f,
	    20, 60, 0, &t, &why), 0);
	ck_assert(t == S(120));
	ck_assert_int_eq(f.calls, 0);
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
 * sometimes jump) from many "children", whose calls arrive anywhere up to
 * their answer's first byte: most within the margin, some seconds late.
 * Some are given up on (no answer by margin + 3 s): those arrive anywhere
 * up to margin + hold, a hold of 0 to 40 s, later than the give-up when
 * the hold is longer.  Each slot is known to the gate only as the
 * children report it: by the bound it was reserved with (the later of
 * the deadline, margin + timeout, and margin + hold) until its calls
 * ended, then by the answer's time, or margin + hold when given up on.
 * Every 60 s span of arrivals holds at most R.
 */
#define NPROP		3000
#define DEADLINE_US	S(11)
#define GIVE_UP_US	S(3)

START_TEST(test_property)
{
	static struct rategate_slot slots[NPROP], seen[NPROP];
	static int64_t	 bound[NPROP], known[NPROP], arrival[NPROP];
	struct rategate_slot x;
	const char	*why;
	unsigned int	 seed = 12345u + (unsigned int)_i;
	unsigned long long limit = 1 + (unsigned long long)(_i % 7) * 37;
	long long	 margin_ms = (_i % 3) * 700;
	int64_t		 now = 0, t, m = margin_ms * 1000;
	int64_t		 hold = S((_i % 5) * 10), reserved;
	size_t		 i, j, n = 0;
	unsigned int	 b;

	reserved = m + hold > DEADLINE_US ? m + hold : DEADLINE_US;
	for (i = 0; i < NPROP; i++) {
		b = 1 + (unsigned int)(rand_r(&seed) % 20);
		if (b > limit)
			b = (unsigned int)limit;
		now += (int64_t)(rand_r(&seed) % 4) * (rand_r(&seed) % 3000000);
		/* What the gate knows now of each earlier slot. */
		for (j = 0; j < n; j++) {
			seen[j] = slots[j];
			if (known[j] + 100000 > now)	/* not reported yet */
				seen[j].arrive = slots[j].at + reserved;
			else
				seen[j].arrive = bound[j] > slots[j].at + m ?
				    bound[j] : 0;
		}
		ck_assert_int_eq(rategate_next(seen, n, now, b, limit,
		    margin_ms, &t, &why), 0);
		ck_assert(t >= now);
		ck_assert(n == 0 || t >= slots[n - 1].at);
		slots[n].at = t;
		slots[n].cities = b;
		/* One in five answers begins up to 5 s past the margin;
		 * one in ten calls is given up on, reported at once. */
		bound[n] = t + (rand_r(&seed) % 5 == 0 ?
		    m + (int64_t)(rand_r(&seed) % 5000000) :
		    (m > 0 ? (int64_t)(rand_r(&seed) % (unsigned int)m) : 0));
		known[n] = bound[n];
		if (rand_r(&seed) % 10 == 0) {
			bound[n] = t + m + hold;
			known[n] = t + m + GIVE_UP_US;
		}
		arrival[n] = t + (int64_t)((double)(bound[n] - t) *
		    (rand_r(&seed) / ((double)RAND_MAX + 1.0)));
		n++;
	}
	/* The arrivals, sorted, as the server saw them. */
	for (i = 0; i < n; i++) {
		slots[i].at = arrival[i];
		slots[i].arrive = 0;
	}
	for (i = 1; i < n; i++) {
		x = slots[i];
		for (j = i; j > 0 && slots[j - 1].at > x.at; j--)
			slots[j] = slots[j - 1];
		slots[j] = x;
	}
	ck_assert_uint_le(worst_window(slots, n, RATEGATE_WINDOW_US), limit);
}
END_TEST

/*
 * Without arrival bounds the same schedule breaks the limit: the check
 * above can fail (a gate that counts every slot from its send time is
 * this with every bound ignored).
 */
START_TEST(test_property_needs_bounds)
{
	static struct rategate_slot slots[400];
	const char	*why;
	int64_t		 t, late = S(3);
	size_t		 i;

	/* R = 60, B = 20, margin 1 s: the first three batches, on new
	 * connections that lost their SYNs, arrive 3 s late; the later
	 * ones, on kept-alive connections, on time (a run seen on a real network). */
	for (i = 0; i < 12; i++) {
		ck_assert_int_eq(rategate_next(slots, i, 0, 20, 60, 1000, &t,
		    &why), 0);
		slots[i].at = t;
		slots[i].cities = 20;
		slots[i].arrive = 0;
	}
	for (i = 0; i < 3; i++)
		slots[i].at += late;
	for (i = 0; i + 1 < 12; i++)
		if (slots[i].at > slots[i + 1].at) {
			struct rategate_slot x = slots[i];

			slots[i] = slots[i + 1];
			slots[i + 1] = x;
		}
	ck_assert_uint_gt(worst_window(slots, 12, RATEGATE_WINDOW_US), 60);
}
END_TEST

/*
 * A batch given up on 4 s after its slot, read by the server 1 s later
 * (a connection held 5 s), counted once more when its retry goes: the
 * gate must count it by its send + owm.hold_ms.  Told the give-up's
 * time instead (the gate of before), the batch a window later lands
 * with it in the server's minute.
 */
START_TEST(test_given_up_needs_the_hold)
{
	static const struct {
		double	 told;		/* bound the gate is told, seconds */
		int	 over;		/* the server sees more than R */
	} runs[] = { { 4, 1 }, { 11, 0 } };
	struct rategate_slot slots[6];
	const char	*why;
	int64_t		 t;
	size_t		 r, i;

	for (r = 0; r < sizeof(runs) / sizeof(runs[0]); r++) {
		for (i = 0; i < 6; i++) {
			ck_assert_int_eq(rategate_next(slots, i, S(5), 20, 60,
			    1000, &t, &why), 0);
			slots[i].at = t;
			slots[i].cities = 20;
			slots[i].arrive = i == 0 ? t + S(runs[r].told) : 0;
		}
		slots[0].at += S(5);		/* read after the hold */
		slots[0].arrive = 0;
		for (i = 0; i + 1 < 6 && slots[i].at > slots[i + 1].at; i++) {
			struct rategate_slot x = slots[i];

			slots[i] = slots[i + 1];
			slots[i + 1] = x;
		}
		if (runs[r].over)
			ck_assert_uint_gt(worst_window(slots, 6,
			    RATEGATE_WINDOW_US), 60);
		else
			ck_assert_uint_le(worst_window(slots, 6,
			    RATEGATE_WINDOW_US), 60);
	}
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
	tcase_add_loop_test(tc, test_property, 0, 35);
	tcase_add_test(tc, test_property_needs_bounds);
	tcase_add_test(tc, test_given_up_needs_the_hold);
	tcase_add_loop_test(tc, test_backoff, 0,
	    sizeof(bcases) / sizeof(bcases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
