/*
 * check_admit.c: unit tests for fcgi/admit.c, the turns POSTs take while
 * the worker is behind, across real processes (fork) and a real System V
 * semaphore: no turn needed when off or when the worker is not behind;
 * at most the configured number at once; a waiter gets the turn given
 * back, or gives up after ADMIT_WAIT_MS and is counted; a turn given
 * back while the worker is still behind is kept for half as long again
 * as it was used, up to ADMIT_HOLD_MAX_MS, and not at all once it is not; a
 * process that dies holding a turn gives it back.
 */
#include <sys/wait.h>

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "admit.h"
#include "check_run.h"
#include "daemon.h"

#define FAR	(3600 * 1000000LL)	/* behind for an hour */

/* In a child: take a turn; exit 10 + taken, or 20 + taken when the
 * wait was longer than min_ms.  The parent reads the status. */
static pid_t
contender(long min_ms)
{
	int64_t	 t0;
	pid_t	 pid;
	int	 got;

	if ((pid = fork()) != 0)
		return pid;
	t0 = daemon_mono_us();
	got = admit_enter();
	_exit(((daemon_mono_us() - t0) / 1000 >= min_ms ? 20 : 10) + got);
}

static void
nap_ms(long ms)
{
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* How long admit_leave took, in ms. */
static long
leave_ms(void)
{
	int64_t	 t0 = daemon_mono_us();

	admit_leave();
	return (long)((daemon_mono_us() - t0) / 1000);
}

/* One turn, the worker behind for an hour, and the turn taken. */
static void
take_the_only_turn(void)
{
	ck_assert_int_eq(admit_init(1), 0);
	admit_behind(daemon_mono_us() + FAR);
	ck_assert_int_eq(admit_enter(), 1);
}

static int
status_of(pid_t pid)
{
	int	 st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(test_off)
{
	long long	 n;
	double		 s;

	ck_assert_int_eq(admit_init(0), 0);
	admit_behind(daemon_mono_us() + FAR);
	ck_assert_int_eq(admit_enter(), 0);
	ck_assert_int_eq(admit_enter(), 0);
	admit_read(&n, &s);
	ck_assert_int_eq(n, 0);
	admit_free();
}
END_TEST

START_TEST(test_not_behind)
{
	ck_assert_int_eq(admit_init(1), 0);
	admit_behind(daemon_mono_us() - 1);
	/* No turn taken: a second process needs none either. */
	ck_assert_int_eq(admit_enter(), 0);
	ck_assert_int_eq(admit_enter(), 0);
	admit_behind(daemon_mono_us() + FAR);
	ck_assert_int_eq(admit_enter(), 1);
	admit_leave();
	admit_free();
}
END_TEST

START_TEST(test_turns_then_wait)
{
	long long	 n;
	double		 s;

	ck_assert_int_eq(admit_init(2), 0);
	admit_behind(daemon_mono_us() + FAR);
	ck_assert_int_eq(admit_enter(), 1);
	ck_assert_int_eq(admit_enter(), 1);
	/* Both turns taken: a third waits ADMIT_WAIT_MS, then goes without. */
	ck_assert_int_eq(status_of(contender(ADMIT_WAIT_MS * 9 / 10)), 20);
	admit_read(&n, &s);
	ck_assert_int_eq(n, 1);
	ck_assert(s >= ADMIT_WAIT_MS * 0.9 / 1000);
	ck_assert(s < ADMIT_WAIT_MS * 5.0 / 1000);
	/* One given back: the next takes it at once, uncounted. */
	admit_leave();
	ck_assert_int_eq(status_of(contender(ADMIT_WAIT_MS / 2)), 11);
	admit_read(&n, &s);
	ck_assert_int_eq(n, 1);
	admit_leave();
	admit_free();
}
END_TEST

START_TEST(test_waiter_gets_the_turn)
{
	long long	 n;
	double		 s;
	pid_t		 pid;

	take_the_only_turn();
	pid = contender(ADMIT_WAIT_MS * 9 / 10);
	nap_ms(200);
	admit_leave();
	/* It took the turn given back, well before giving up. */
	ck_assert_int_eq(status_of(pid), 11);
	admit_read(&n, &s);
	ck_assert_int_eq(n, 1);
	ck_assert(s > 0 && s < ADMIT_WAIT_MS * 0.9 / 1000);
	admit_free();
}
END_TEST

START_TEST(test_turn_kept_half_as_long_again)
{
	pid_t	 pid;

	take_the_only_turn();
	/* Used for 160 ms, then kept 80 ms more (up to ADMIT_HOLD_MAX_MS):
	 * the waiter gets it after 240 ms, not when given back after 160. */
	pid = contender(215);
	nap_ms(160);
	ck_assert_int_ge(leave_ms(), 75);
	ck_assert_int_eq(status_of(pid), 21);
	admit_free();
}
END_TEST

START_TEST(test_hold_bounded_and_only_while_behind)
{
	long	 ms;

	/* Used for 1 s: kept ADMIT_HOLD_MAX_MS more, not 500 ms. */
	take_the_only_turn();
	nap_ms(1000);
	ms = leave_ms();
	ck_assert_int_ge(ms, ADMIT_HOLD_MAX_MS - 5);
	ck_assert_int_lt(ms, 450);
	/* The worker caught up meanwhile: given back at once. */
	ck_assert_int_eq(admit_enter(), 1);
	nap_ms(600);
	admit_behind(daemon_mono_us() - 1);
	ck_assert_int_lt(leave_ms(), 250);
	admit_free();
}
END_TEST

START_TEST(test_death_gives_back)
{
	pid_t	 pid;

	ck_assert_int_eq(admit_init(1), 0);
	admit_behind(daemon_mono_us() + FAR);
	/* A child takes the only turn and dies without admit_leave. */
	if ((pid = fork()) == 0)
		_exit(admit_enter() == 1 ? 0 : 1);
	ck_assert_int_eq(status_of(pid), 0);
	ck_assert_int_eq(status_of(contender(ADMIT_WAIT_MS / 2)), 11);
	admit_free();
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("admit");
	TCase	*tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_off);
	tcase_add_test(tc, test_not_behind);
	tcase_add_test(tc, test_turns_then_wait);
	tcase_add_test(tc, test_waiter_gets_the_turn);
	tcase_add_test(tc, test_turn_kept_half_as_long_again);
	tcase_add_test(tc, test_hold_bounded_and_only_while_behind);
	tcase_add_test(tc, test_death_gives_back);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
