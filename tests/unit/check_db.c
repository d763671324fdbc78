/*
 * check_db.c: unit tests for lib/db.c's error classes, the table that
 * decides what a failed transaction does when the database writer
 * changes (issue 14): gone (reconnect: through HAProxy the new
 * connection reaches the node that is usable, and run the transaction
 * again), retryable (rolled back by the server: run it again on the same
 * connection, db_retry's pauses), or neither (log, 503); and the queue
 * lock's wait, always shorter than mysql.read_timeout.
 */
#include <stdio.h>

#include <check.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "check_run.h"

#include "db.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	unsigned int	 code;
	const char	*what;
	int		 gone, retryable;
} cases[] = {
	/* The connection, lost mid-statement or mid-COMMIT. */
	{ CR_SERVER_LOST, "2013 lost during a query (or at COMMIT)", 1, 0 },
	{ CR_SERVER_GONE_ERROR, "2006 gone between queries", 1, 0 },
	{ CR_CONNECTION_ERROR, "2002 cannot connect (socket)", 1, 0 },
	{ CR_CONN_HOST_ERROR, "2003 cannot connect (TCP)", 1, 0 },
	{ CR_SERVER_LOST_EXTENDED, "2055 lost, with the reason", 1, 0 },
	{ CR_COMMANDS_OUT_OF_SYNC, "2014 out of sync: unusable", 1, 0 },
	{ CR_ERR_NET_READ, "5013 Connector/C: read error", 1, 0 },
	{ CR_ERR_NET_WRITE, "5014 Connector/C: write error", 1, 0 },
	{ 2000, "2000 any other client-side error", 1, 0 },
	{ 2999, "2999 the last client-side code", 1, 0 },
	{ 0, "0 no error recorded: the handle is unusable", 1, 0 },
	/* The server going away, or not usable. */
	{ ER_SERVER_SHUTDOWN, "1053 server shutdown in progress", 1, 0 },
	{ ER_CONNECTION_KILLED, "1927 connection killed", 1, 0 },
	{ ER_QUERY_INTERRUPTED, "1317 query interrupted", 1, 0 },
	{ ER_UNKNOWN_COM_ERROR, "1047 WSREP has not yet prepared node for "
	    "application use", 1, 0 },
	/* Rolled back by the server: the same connection may try again. */
	{ ER_LOCK_DEADLOCK, "1213 deadlock, or a Galera certification "
	    "failure at COMMIT", 0, 1 },
	{ ER_LOCK_WAIT_TIMEOUT, "1205 lock wait timeout", 0, 1 },
	/* Answers, not outages. */
	{ ER_DUP_ENTRY, "1062 duplicate key (a POST's 409)", 0, 0 },
	{ ER_NO_SUCH_TABLE, "1146 no such table", 0, 0 },
	{ ER_PARSE_ERROR, "1064 SQL syntax", 0, 0 },
	{ ER_TABLEACCESS_DENIED_ERROR, "1142 denied", 0, 0 },
	{ ER_LOCK_ABORTED, "1689 lock wait aborted", 0, 0 },
	{ 1999, "1999 a server code next to the client range", 0, 0 },
	{ 3000, "3000 past the client range", 0, 0 },
};

START_TEST(test_class)
{
	ck_assert_msg(db_error_is_gone(cases[_i].code) == cases[_i].gone,
	    "%s: gone %d, want %d", cases[_i].what,
	    db_error_is_gone(cases[_i].code), cases[_i].gone);
	ck_assert_msg(db_error_is_retryable(cases[_i].code) ==
	    cases[_i].retryable, "%s: retryable %d, want %d", cases[_i].what,
	    db_error_is_retryable(cases[_i].code), cases[_i].retryable);
	/* One class at most: a gone connection is never retried on itself. */
	ck_assert(!(cases[_i].gone && cases[_i].retryable));
}
END_TEST

/* db_retry: only retryable codes, and only DB_TRIES attempts in all. */
START_TEST(test_retry)
{
	int	 a;

	for (a = 0; a + 1 < DB_TRIES; a++) {
		ck_assert_int_eq(db_retry(ER_LOCK_DEADLOCK, a), 1);
		ck_assert_int_eq(db_retry(ER_LOCK_WAIT_TIMEOUT, a), 1);
		ck_assert_int_eq(db_retry(CR_SERVER_LOST, a), 0);
		ck_assert_int_eq(db_retry(ER_UNKNOWN_COM_ERROR, a), 0);
		ck_assert_int_eq(db_retry(ER_DUP_ENTRY, a), 0);
	}
	ck_assert_int_eq(db_retry(ER_LOCK_DEADLOCK, DB_TRIES - 1), 0);
	ck_assert_int_eq(db_retry(ER_LOCK_WAIT_TIMEOUT, DB_TRIES), 0);
}
END_TEST

/*
 * db_lock_wait_ms: the queue lock's wait, from mysql.read_timeout (1 to
 * 600 s): always shorter than it, a second less while that leaves half,
 * never over 10 s.
 */
static const struct {
	long long	 read_timeout_s, want_ms;
} waits[] = {
	{ 1, 500 },		/* half: a second less would be nothing */
	{ 2, 1000 },		/* both rules agree */
	{ 3, 2000 },
	{ 5, 4000 },		/* the default */
	{ 10, 9000 },
	{ 11, 10000 },		/* the cap */
	{ 600, 10000 },		/* the largest allowed */
};

START_TEST(test_lock_wait)
{
	long long	 rt = waits[_i].read_timeout_s;
	long long	 got = db_lock_wait_ms(rt);

	ck_assert_msg(got == waits[_i].want_ms, "read_timeout %lld s: wait "
	    "%lld ms, want %lld", rt, got, waits[_i].want_ms);
	ck_assert_msg(got < rt * 1000 && got > 0, "read_timeout %lld s: "
	    "wait %lld ms is not shorter", rt, got);
}
END_TEST

/* Every setting config.c allows: shorter, and no less than half. */
START_TEST(test_lock_wait_every_setting)
{
	long long	 rt, got;

	for (rt = 1; rt <= 600; rt++) {
		got = db_lock_wait_ms(rt);
		ck_assert_msg(got < rt * 1000 && got <= DB_LOCK_MAX_MS &&
		    (got >= rt * 500 || got == DB_LOCK_MAX_MS),
		    "read_timeout %lld s: wait %lld ms", rt, got);
	}
}
END_TEST

static Suite *
db_suite(void)
{
	Suite	*s = suite_create("db");
	TCase	*tc = tcase_create("errors");

	tcase_add_loop_test(tc, test_class, 0, (int)NELEM(cases));
	tcase_add_test(tc, test_retry);
	suite_add_tcase(s, tc);
	tc = tcase_create("lock wait");
	tcase_add_loop_test(tc, test_lock_wait, 0, (int)NELEM(waits));
	tcase_add_test(tc, test_lock_wait_every_setting);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(db_suite());
}
