/*
 * check_purge.c: retention's policy (worker/purge.c): the cut-offs, how
 * many requests one transaction may take, the pause after it, and that
 * the bound the readings' cut-off relies on (the largest reuse_seconds)
 * is the configuration's.
 *
 * Table cases give the inputs and the expected results; a property test
 * draws requests and the readings they may point to (fetched at or after
 * requested_at - reuse_seconds - a batch's wait) and checks that none of
 * them is before the readings' cut-off.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_run.h"
#include "config.h"
#include "purge.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define D		PURGE_DAY_US
#define H		(3600LL * 1000000LL)
#define NOW		(20000 * D)		/* 2024-10-04 */
#define KEEP		(PURGE_KEEP_S * 1000000LL)

struct cut_case {
	const char	*name;
	int64_t		 now;
	int		 have_oldest;
	int64_t		 oldest;
	long long	 requests_days, readings_days;
	int64_t		 want_requests, want_readings;
};

static const struct cut_case cut_cases[] = {
	{ "off", NOW, 1, NOW - D, 0, 0, 0, 0 },
	{ "requests only", NOW, 1, NOW - 5 * D, 1, 0, NOW - D, 0 },
	{ "requests 30 days", NOW, 0, 0, 30, 0, NOW - 30 * D, 0 },
	/* No request stored: a POST in flight may still point to a reading
	 * reuse_seconds old, so the bound is now - KEEP. */
	{ "readings, no request", NOW, 0, 0, 0, 1, 0, NOW - KEEP },
	/* A young oldest request: readings_days decides. */
	{ "readings 30, young requests", NOW, 1, NOW - H, 90, 30,
	  NOW - 90 * D, NOW - 30 * D },
	/* An old request still stored keeps what it may show. */
	{ "readings 1, old request", NOW, 1, NOW - 10 * D, 0, 1, 0,
	  NOW - 10 * D - KEEP },
	{ "both 1, request of 23 h", NOW, 1, NOW - 23 * H, 1, 1, NOW - D,
	  NOW - 23 * H - KEEP },
	/* Requests kept for ever keep their readings. */
	{ "requests forever", NOW, 1, NOW - 400 * D, 0, 7, 0,
	  NOW - 400 * D - KEEP },
	/* The oldest request after now (a POST's clock ahead): now. */
	{ "oldest after now", NOW, 1, NOW + H, 0, 1, 0, NOW - KEEP },
	/* Nothing is older than the epoch. */
	{ "near the epoch", D / 2, 1, D / 4, 1, 1, 0, 0 },
	{ "the longest", NOW, 1, NOW - D, 3650, 3650, NOW - 3650 * D,
	  NOW - 3650 * D },
};

START_TEST(test_cuts)
{
	const struct cut_case *c = &cut_cases[_i];
	struct purge_cuts got;

	purge_cuts(c->now, c->have_oldest, c->oldest, c->requests_days,
	    c->readings_days, &got);
	ck_assert_msg(got.requests == c->want_requests, "%s: requests %lld, "
	    "want %lld", c->name, (long long)got.requests,
	    (long long)c->want_requests);
	ck_assert_msg(got.readings == c->want_readings, "%s: readings %lld, "
	    "want %lld", c->name, (long long)got.readings,
	    (long long)c->want_readings);
}
END_TEST

/*
 * Random stores: requests at random times (the oldest of them is what
 * purge_cuts is told), each pointing to readings at most reuse_seconds
 * plus a batch's wait (up to a few hours) older than the request; none
 * may be before the readings' cut-off.  And no reading fetched before
 * the cut-off is younger than readings_days.
 */
START_TEST(test_cuts_keep_what_requests_show)
{
	struct purge_cuts c;
	int64_t		 now, oldest, req, reading, reuse, wait;
	long long	 days;
	int		 i, j, n;

	srandom(0x5eed + (unsigned)_i);
	for (i = 0; i < 2000; i++) {
		now = NOW + (int64_t)(random() % 1000) * D;
		days = 1 + random() % 60;
		n = 1 + (int)(random() % 8);
		oldest = now;
		for (j = 0; j < n; j++) {
			req = now - (int64_t)(random() % (90 * 24)) * H;
			if (req < oldest)
				oldest = req;
		}
		purge_cuts(now, 1, oldest, 0, days, &c);
		ck_assert(c.readings <= now - days * D);
		for (j = 0; j < 50; j++) {
			/* Any request still stored is at or after oldest. */
			req = oldest + (int64_t)(random() %
			    (1 + (now - oldest) / 1000000)) * 1000000;
			reuse = (int64_t)(random() % (PURGE_REUSE_MAX_S + 1)) *
			    1000000;
			wait = (int64_t)(random() % (12 * 3600)) * 1000000;
			reading = req - reuse - wait;
			ck_assert_msg(reading >= c.readings, "a reading %lld s "
			    "before a request is purged", (long long)((req -
			    reading) / 1000000));
		}
	}
}
END_TEST

struct fit_case {
	const char	*name;
	unsigned int	 totals[8];
	size_t		 n;
	size_t		 want;
};

static const struct fit_case fit_cases[] = {
	{ "none", { 0 }, 0, 0 },
	{ "small ones", { 5, 5, 5 }, 3, 3 },
	{ "exactly full", { 500, 496 }, 2, 2 },	/* 502 + 498 */
	{ "one row over", { 500, 497 }, 2, 1 },	/* 502 + 499 */
	{ "998 cities: 1000 rows", { 998, 1 }, 2, 1 },
	{ "999 cities: in parts", { 999, 1 }, 2, 0 },
	{ "a big one stops the batch", { 10, 1000, 10 }, 3, 1 },
	{ "167 each", { 167, 167, 167, 167, 167, 167 }, 6, 5 },
};

START_TEST(test_fit)
{
	const struct fit_case *c = &fit_cases[_i];

	ck_assert_msg(purge_fit(c->totals, c->n, PURGE_MAX_ROWS) == c->want,
	    "%s: %zu, want %zu", c->name, purge_fit(c->totals, c->n,
	    PURGE_MAX_ROWS), c->want);
}
END_TEST

/* 1,000 requests of one city: 333 of them make 999 rows. */
START_TEST(test_fit_many)
{
	unsigned int	 totals[PURGE_MAX_ROWS];
	size_t		 i;

	for (i = 0; i < PURGE_MAX_ROWS; i++)
		totals[i] = 1;
	ck_assert_uint_eq(purge_fit(totals, PURGE_MAX_ROWS, PURGE_MAX_ROWS),
	    PURGE_MAX_ROWS / 3);
}
END_TEST

static const struct {
	int64_t		 busy, want;
} pause_cases[] = {
	{ -5, PURGE_PAUSE_MIN_US },
	{ 0, PURGE_PAUSE_MIN_US },
	{ 1000, PURGE_PAUSE_MIN_US },
	{ 5000, 20000 },
	{ 100000, 400000 },
	{ 250000, 1000000 },
	{ 3000000, PURGE_PAUSE_MAX_US },
};

START_TEST(test_pause)
{
	ck_assert_int_eq(purge_pause_us(pause_cases[_i].busy),
	    pause_cases[_i].want);
}
END_TEST

/* Load defaults and one environment override; 0 or -1. */
static int
load_with(const char *name, const char *value, struct config *cf)
{
	char	 err[256];
	int	 rc;

	setenv(name, value, 1);
	rc = config_load(cf, NULL, err, sizeof(err), NULL, 0);
	unsetenv(name);
	return rc;
}

/* purge.h's PURGE_REUSE_MAX_S must be what config.c accepts at most. */
START_TEST(test_reuse_bound_is_the_config_s)
{
	struct config	 cf;
	char		 v[32];

	snprintf(v, sizeof(v), "%lld", PURGE_REUSE_MAX_S);
	ck_assert_int_eq(load_with("OWMCOLLECT_WORKER_REUSE_SECONDS", v, &cf),
	    0);
	ck_assert_int_eq(cf.worker.reuse_seconds, PURGE_REUSE_MAX_S);
	config_free(&cf);
	snprintf(v, sizeof(v), "%lld", PURGE_REUSE_MAX_S + 1);
	ck_assert_int_eq(load_with("OWMCOLLECT_WORKER_REUSE_SECONDS", v, &cf),
	    -1);
}
END_TEST

START_TEST(test_retention_settings)
{
	struct config	 cf;

	ck_assert_int_eq(load_with("OWMCOLLECT_RETENTION_READINGS_DAYS", "0",
	    &cf), 0);
	ck_assert_int_eq(cf.retention.readings_days, 0);
	ck_assert_int_eq(cf.retention.requests_days, 0);
	ck_assert_int_eq(purge_wanted(&cf), 0);
	config_free(&cf);
	ck_assert_int_eq(load_with("OWMCOLLECT_RETENTION_REQUESTS_DAYS", "7",
	    &cf), 0);
	ck_assert_int_eq(cf.retention.requests_days, 7);
	ck_assert_int_eq(purge_wanted(&cf), 1);
	config_free(&cf);
	ck_assert_int_eq(load_with("OWMCOLLECT_RETENTION_READINGS_DAYS",
	    "3650", &cf), 0);
	ck_assert_int_eq(purge_wanted(&cf), 1);
	config_free(&cf);
	ck_assert_int_eq(load_with("OWMCOLLECT_RETENTION_READINGS_DAYS",
	    "3651", &cf), -1);
	ck_assert_int_eq(load_with("OWMCOLLECT_RETENTION_REQUESTS_DAYS", "-1",
	    &cf), -1);
}
END_TEST

static Suite *
purge_suite(void)
{
	Suite	*s = suite_create("purge");
	TCase	*tc;

	tc = tcase_create("policy");
	tcase_add_loop_test(tc, test_cuts, 0, NELEM(cut_cases));
	tcase_add_loop_test(tc, test_cuts_keep_what_requests_show, 0, 4);
	tcase_add_loop_test(tc, test_fit, 0, NELEM(fit_cases));
	tcase_add_test(tc, test_fit_many);
	tcase_add_loop_test(tc, test_pause, 0, NELEM(pause_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, test_reuse_bound_is_the_config_s);
	tcase_add_test(tc, test_retention_settings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(purge_suite());
}
