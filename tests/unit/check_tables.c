/*
 * check_tables.c: unit tests for what both programs write to the shared
 * tables through lib/: the counters' upsert (lib/counters.c) and
 * queueing cities (lib/queue.c).  Without a database: each statement's
 * text against the binds its builder makes (which field feeds which
 * column, how many parameters), and the rule that a change of nothing
 * runs no statement.
 */
#include <stddef.h>
#include <string.h>

#include <check.h>

#include "check_run.h"

#include "counters.h"
#include "db.h"
#include "queue.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* The parameters of sql: its '?' outside quoted strings. */
static int
placeholders(const char *sql)
{
	int	 n = 0, quoted = 0;

	for (; *sql; sql++)
		if (*sql == '\'')
			quoted = !quoted;
		else if (*sql == '?' && !quoted)
			n++;
	return n;
}

/*
 * The name of column i (0: the first) of the column list that follows
 * "INSERT INTO table (" in sql, into out; 0, or -1 when there is none.
 */
static int
column(const char *sql, int i, char *out, size_t cap)
{
	const char	*p = strchr(sql, '('), *end;
	size_t		 n;

	if (p == NULL)
		return -1;
	for (p++; i > 0; i--) {
		if ((p = strpbrk(p, ",)")) == NULL || *p == ')')
			return -1;
		p += strspn(p + 1, " ") + 1;
	}
	end = p + strcspn(p, ",)");
	if ((n = (size_t)(end - p)) == 0 || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* The counts' columns, in the order counters_bind binds them. */
static const struct {
	const char	*col;
	size_t		 off;
} counts[] = {
	{ "cities", offsetof(struct counts, cities) },
	{ "collected", offsetof(struct counts, collected) },
	{ "failed", offsetof(struct counts, failed) },
	{ "queued", offsetof(struct counts, queued) },
	{ "requests", offsetof(struct counts, requests) },
	{ "ended", offsetof(struct counts, ended) },
};

static const struct {
	const char	*what;
	const char	*sql;
	int		 params;
} counters_sql[] = {
	{ "counters_add_sql", counters_add_sql, COUNTS_PARAMS },
	{ "counters_post_sql", counters_post_sql, COUNTS_PARAMS + 1 },
};

/*
 * Both statements: the shard first, then each count's column fed by the
 * bind of that count's field, added (not set) on the shard's row.
 */
START_TEST(test_counters_columns)
{
	const char	*sql = counters_sql[_i].sql;
	struct counts	 c;
	MYSQL_BIND	 b[COUNTS_PARAMS];
	char		 col[32], add[96];
	size_t		 k;

	ck_assert_int_eq(NELEM(counts), COUNTS_PARAMS);
	ck_assert_int_eq(placeholders(sql), counters_sql[_i].params);
	ck_assert_int_eq(column(sql, 0, col, sizeof(col)), 0);
	ck_assert_str_eq(col, "shard");
	ck_assert_ptr_nonnull(strstr(sql, COUNTERS_SHARD));
	counters_bind(b, &c);
	for (k = 0; k < NELEM(counts); k++) {
		ck_assert_msg(column(sql, (int)k + 1, col, sizeof(col)) == 0 &&
		    strcmp(col, counts[k].col) == 0, "%s: column %zu is %s, "
		    "its bind %s's", counters_sql[_i].what, k + 1, col,
		    counts[k].col);
		ck_assert_ptr_eq(b[k].buffer, (char *)&c + counts[k].off);
		ck_assert_int_eq(b[k].buffer_type, MYSQL_TYPE_LONGLONG);
		ck_assert(!b[k].is_unsigned);	/* counts move both ways */
		snprintf(add, sizeof(add), "%s = %s + VALUES(%s)",
		    counts[k].col, counts[k].col, counts[k].col);
		ck_assert_msg(strstr(sql, add) != NULL, "%s: no \"%s\"",
		    counters_sql[_i].what, add);
	}
	ck_assert_int_eq(column(sql, COUNTS_PARAMS + 1, col, sizeof(col)),
	    -1);
}
END_TEST

/* POST's statement: its id is the one parameter after the counts. */
START_TEST(test_counters_post_id)
{
	const char	*p = strstr(counters_post_sql, "purged_requests");

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(placeholders(counters_post_sql) -
	    placeholders(p), COUNTS_PARAMS);
	ck_assert_ptr_nonnull(strstr(p, "ext_id = ?"));
}
END_TEST

/* A change of nothing runs nothing (no statement, no lock). */
static const struct {
	const char	*what;
	struct counts	 c;
	int		 none;
} nothing[] = {
	{ "all zero", { 0, 0, 0, 0, 0, 0 }, 1 },
	{ "cities", { .cities = 1 }, 0 },
	{ "collected", { .collected = 2 }, 0 },
	{ "failed", { .failed = 3 }, 0 },
	{ "queued down (a batch)", { .queued = -4 }, 0 },
	{ "requests", { .requests = 1 }, 0 },
	{ "ended", { .ended = 5 }, 0 },
	{ "a cancel", { .failed = 1, .queued = -1, .ended = 2 }, 0 },
	{ "two that cancel out", { .collected = 1, .failed = -1 }, 0 },
};

START_TEST(test_counters_none)
{
	ck_assert_msg(counters_none(&nothing[_i].c) == nothing[_i].none,
	    "%s: counters_none %d, want %d", nothing[_i].what,
	    counters_none(&nothing[_i].c), nothing[_i].none);
}
END_TEST

/* counters_add with nothing to add returns before touching its handles. */
START_TEST(test_counters_add_nothing)
{
	struct counts	 c = { 0, 0, 0, 0, 0, 0 };
	struct db_err	 e;

	memset(&e, 0, sizeof(e));
	ck_assert_int_eq(counters_add(NULL, NULL, &c, &e), 0);
	ck_assert_int_eq(e.code, 0);
}
END_TEST

/*
 * The queue's INSERT: each column of city_tasks against the SELECT
 * expression that feeds it, and the bind of each parameter, in order.
 */
static const struct {
	const char	*col;
	const char	*expr;		/* in the SELECT list */
	int		 bind;		/* queue_bind's, -1: none */
} queue_cols[] = {
	{ "city_id", "j.city_id", -1 },
	{ "turn", "? + j.pos", 0 },
	{ "ready_at", "?", 1 },
	{ "created_at", "?", 2 },
	{ "created_by", "COALESCE(j.req, ?)", 3 },	/* a tuple's own, or q.by */
};

START_TEST(test_queue_columns)
{
	struct queue_add q;
	MYSQL_BIND	 cities, b[QUEUE_PARAMS];
	const char	*sel = strstr(queue_insert_sql, "SELECT ");
	char		 col[32], want[128];
	size_t		 k;
	const void	*field[] = { &q.base, &q.at, &q.at, &q.by };

	memset(&cities, 0, sizeof(cities));
	cities.buffer_type = MYSQL_TYPE_STRING;
	cities.buffer = (void *)"[[1, 0]]";
	q.cities = &cities;
	queue_bind(b, &q);
	ck_assert_int_eq(placeholders(queue_insert_sql), QUEUE_PARAMS);
	ck_assert_ptr_nonnull(sel);
	/* The SELECT list, in the columns' order. */
	want[0] = '\0';
	for (k = 0; k < NELEM(queue_cols); k++) {
		ck_assert_int_eq(column(queue_insert_sql, (int)k, col,
		    sizeof(col)), 0);
		ck_assert_str_eq(col, queue_cols[k].col);
		strcat(want, k ? ", " : "SELECT ");
		strcat(want, queue_cols[k].expr);
		if (queue_cols[k].bind >= 0)
			ck_assert_ptr_eq(b[queue_cols[k].bind].buffer,
			    field[queue_cols[k].bind]);
	}
	ck_assert_msg(strncmp(sel, want, strlen(want)) == 0,
	    "the SELECT is \"%.60s\", want \"%s\"", sel, want);
	ck_assert_int_eq(b[0].buffer_type, MYSQL_TYPE_LONGLONG);
	ck_assert(b[0].is_unsigned);
	ck_assert_int_eq(b[1].buffer_type, MYSQL_TYPE_DATETIME);
	ck_assert_int_eq(b[3].buffer_type, MYSQL_TYPE_LONGLONG);
	/* The last parameter is the list the caller bound. */
	ck_assert_ptr_eq(b[4].buffer, cities.buffer);
	ck_assert_int_eq(b[4].buffer_type, MYSQL_TYPE_STRING);
	ck_assert_ptr_nonnull(strstr(queue_insert_sql, "INSERT IGNORE INTO "
	    "city_tasks"));
	ck_assert_ptr_nonnull(strstr(queue_insert_sql, "ORDER BY j.city_id"));
}
END_TEST

/* The lock statement takes the one named lock with one parameter, the
 * wait; the turn's statement reads the clock and the queue's turn. */
START_TEST(test_queue_lock)
{
	ck_assert_int_eq(placeholders(queue_lock_sql), 1);
	ck_assert_ptr_nonnull(strstr(queue_lock_sql,
	    "GET_LOCK('" QUEUE_LOCK_NAME "'"));
	ck_assert_int_eq(placeholders(queue_turn_sql), 0);
	ck_assert_ptr_nonnull(strstr(queue_turn_sql, "NOW(6)"));
	ck_assert_ptr_nonnull(strstr(queue_turn_sql, "MIN(turn)"));
}
END_TEST

static Suite *
tables_suite(void)
{
	Suite	*s = suite_create("tables");
	TCase	*tc = tcase_create("counters");

	tcase_add_loop_test(tc, test_counters_columns, 0,
	    (int)NELEM(counters_sql));
	tcase_add_test(tc, test_counters_post_id);
	tcase_add_loop_test(tc, test_counters_none, 0, (int)NELEM(nothing));
	tcase_add_test(tc, test_counters_add_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("queue");
	tcase_add_test(tc, test_queue_columns);
	tcase_add_test(tc, test_queue_lock);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(tables_suite());
}
