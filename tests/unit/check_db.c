/*
 * check_db.c: unit tests for lib/db.c's error classes, the table that
 * decides what a failed transaction does when the database writer
 * changes (a failover): gone (reconnect: through HAProxy the new
 * connection reaches the node that is usable, and run the transaction
 * again), retryable (rolled back by the server: run it again on the same
 * connection, db_retry's pauses), or neither (log, 503); the queue
 * lock's wait, always shorter than mysql.read_timeout; and which database
 * servers the programs accept (db_server_check).
 */
#include <stdio.h>
#include <string.h>

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

/*
 * db_server_check: which servers the programs accept, from VERSION() (or
 * a handshake's string), and the one sentence of a refusal.
 */
static const struct {
	const char	*version;
	enum db_server	 want;
	const char	*why;		/* the sentence, exactly */
} servers[] = {
	/* MariaDB 10.7 or later. */
	{ "10.11.19-MariaDB-0+deb12u1", DB_SERVER_OK, NULL },
	{ "10.7.0-MariaDB", DB_SERVER_OK, NULL },
	{ "10.7.8-MariaDB-1:10.7.8+maria~ubu2004-log", DB_SERVER_OK, NULL },
	{ "10.10.7-MariaDB", DB_SERVER_OK, NULL },
	{ "11.4.2-MariaDB-ubu2404", DB_SERVER_OK, NULL },
	{ "12.1.2-MariaDB", DB_SERVER_OK, NULL },
	{ "10.11.6-mariadb", DB_SERVER_OK, NULL },
	{ "10.7-MariaDB", DB_SERVER_OK, NULL },
	/* The replication prefix, before a MariaDB version only. */
	{ "5.5.5-10.11.6-MariaDB-log", DB_SERVER_OK, NULL },
	{ "5.5.5-10.6.12-MariaDB", DB_SERVER_OLD,
	    "MariaDB 10.6.12 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	/* Too old: no JSON_EQUALS (10.6), nor JSON_TABLE (10.5). */
	{ "10.6.12-MariaDB", DB_SERVER_OLD,
	    "MariaDB 10.6.12 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	{ "10.6.21-MariaDB-ubu2004", DB_SERVER_OLD,
	    "MariaDB 10.6.21 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	{ "10.5.23-MariaDB-1:10.5.23+maria~deb11", DB_SERVER_OLD,
	    "MariaDB 10.5.23 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	{ "10.6.8-4-MariaDB-enterprise", DB_SERVER_OLD,
	    "MariaDB 10.6.8 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	{ "5.5.68-MariaDB", DB_SERVER_OLD,
	    "MariaDB 5.5.68 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	{ "9.9.9-MariaDB", DB_SERVER_OLD,
	    "MariaDB 9.9.9 is too old: owmcollect needs MariaDB 10.7 or "
	    "later" },
	/* MySQL and the rest, whatever their version. */
	{ "8.0.36", DB_SERVER_OTHER,
	    "the server is 8.0.36, MySQL or another, not MariaDB: owmcollect "
	    "needs MariaDB 10.7 or later" },
	{ "8.4.0-0ubuntu0.24.04.1", DB_SERVER_OTHER,
	    "the server is 8.4.0, MySQL or another, not MariaDB: owmcollect "
	    "needs MariaDB 10.7 or later" },
	{ "11.0.0", DB_SERVER_OTHER,
	    "the server is 11.0.0, MySQL or another, not MariaDB: owmcollect "
	    "needs MariaDB 10.7 or later" },
	{ "5.5.5-10.11.6", DB_SERVER_OTHER,
	    "the server is 5.5.5, MySQL or another, not MariaDB: owmcollect "
	    "needs MariaDB 10.7 or later" },
	{ "5.7.25-TiDB-v7.5.0", DB_SERVER_OTHER,
	    "the server is 5.7.25, MySQL or another, not MariaDB: owmcollect "
	    "needs MariaDB 10.7 or later" },
	/* No version to read. */
	{ "", DB_SERVER_UNKNOWN,
	    "the server's version \"\" is none of MariaDB's: owmcollect "
	    "needs MariaDB 10.7 or later" },
	{ "MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"MariaDB\" is none of MariaDB's: "
	    "owmcollect needs MariaDB 10.7 or later" },
	{ "10-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"10-MariaDB\" is none of MariaDB's: "
	    "owmcollect needs MariaDB 10.7 or later" },
	{ "10.-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"10.-MariaDB\" is none of MariaDB's: "
	    "owmcollect needs MariaDB 10.7 or later" },
	{ "10.11.x-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"10.11.x-MariaDB\" is none of MariaDB's: "
	    "owmcollect needs MariaDB 10.7 or later" },
	{ "v10.11.6-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"v10.11.6-MariaDB\" is none of MariaDB's: "
	    "owmcollect needs MariaDB 10.7 or later" },
	/* Parts of more than 5 digits: no overflow, no version. */
	{ "100000.7.0-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"100000.7.0-MariaDB\" is none of "
	    "MariaDB's: owmcollect needs MariaDB 10.7 or later" },
	{ "10.99999999999999999999-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"10.99999999999999999999-MariaDB\" is "
	    "none of MariaDB's: owmcollect needs MariaDB 10.7 or later" },
	/* The server's bytes are shown printable only, and cut. */
	{ "\x1b[2J\n10.11-MariaDB", DB_SERVER_UNKNOWN,
	    "the server's version \"?[2J?10.11-MariaDB\" is none of "
	    "MariaDB's: owmcollect needs MariaDB 10.7 or later" },
	{ "MariaDB-0123456789012345678901234567890123456789", DB_SERVER_UNKNOWN,
	    "the server's version \"MariaDB-01234567890123456789012345678901"
	    "\" is none of MariaDB's: owmcollect needs MariaDB 10.7 or "
	    "later" },
};

START_TEST(test_server)
{
	char		 why[256] = "untouched";
	enum db_server	 got;

	got = db_server_check(servers[_i].version, why, sizeof(why));
	ck_assert_msg(got == servers[_i].want, "\"%s\": %d, want %d",
	    check_show(servers[_i].version, strlen(servers[_i].version)),
	    got, servers[_i].want);
	if (servers[_i].why)
		ck_assert_str_eq(why, servers[_i].why);
}
END_TEST

/* A short buffer gets a cut sentence, never an overrun. */
START_TEST(test_server_short_why)
{
	char	 why[16];

	memset(why, 'x', sizeof(why));
	ck_assert_int_eq(db_server_check("10.6.12-MariaDB", why, 8),
	    DB_SERVER_OLD);
	ck_assert_str_eq(why, "MariaDB");
	ck_assert_int_eq(why[9], 'x');
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
	tc = tcase_create("server version");
	tcase_add_loop_test(tc, test_server, 0, (int)NELEM(servers));
	tcase_add_test(tc, test_server_short_why);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(db_suite());
}
