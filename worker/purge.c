/*
 * purge.c: see purge.h.  Owns deleting expired requests (with their
 * purged_requests tombstones), fetches, readings and city_latest rows;
 * never touches the queue, the gate or the counters (api_minutes and
 * api_calls are kept; rate_slots cleans itself).
 *
 * Where it runs: in the worker's housekeeping child (housekeep.c), one
 * step at a time between that child's settle steps, on its connection:
 * not a step between a fetching child's batches, which would hold back
 * its next claim for every transaction and pause it takes (a first pass
 * over a year of data runs for many minutes) and let the gate's slots
 * pass unused.  Every worker host runs one; two purges take the same rows
 * in the same order (index order), so one waits for the other and finds
 * them gone.
 *
 * A pass (at the child's start, then every PURGE_EVERY_S) goes through
 * its phases, one transaction a step: the cut-offs from the database's
 * clock and the oldest request (purge.h says why those bounds keep
 * everything a stored request can show), the expired requests, then the
 * clock again (the oldest request is younger now) and the expired
 * readings, then the expired fetches.  Each transaction deletes at most
 * PURGE_MAX_ROWS rows and the next step is due a pause of
 * PURGE_PAUSE_FACTOR times its length later, so the purge holds rows a
 * fifth of the time at most.  Every row is found through an index range or key,
 * never by scanning a table: a plain read picks the expired rows' ids
 * through the requested_at, fetched_at or done_at index, and the deletes
 * join that list to the primary keys.  The EXPLAIN of each statement
 * (MariaDB 10.11, on tables of 300,000 readings and 60,000 requests, and
 * on tables of 30 rows, where the optimizer would scan without the hints)
 * is in the comment above it.
 *
 * Its locks follow docs/design.md, "Lock order", one step a
 * transaction: it takes only rows it deletes (the picks and PG_NAMED are
 * plain reads; each delete joins a list to one table), and none that
 * anyone waits for while holding a row the purge wants:
 * - a requests transaction locks the picked requests rows (finished
 *   ones) and nothing else.  A settle or a cancel locks one requests row
 *   first and then only queue entries, its own new rows and its counters
 *   row; a POST only rows it inserts; a completion no requests row at
 *   all: each waits at most for the purge's commit, never the reverse.
 * - a readings transaction locks the city_latest rows still naming an
 *   expired reading, in ascending city_id, then the expired readings.
 *   The completion locks city_latest rows in ascending city_id too (after
 *   its queue entries and new readings, which the purge never touches),
 *   so at worst one waits for the other's commit, for the row of a city
 *   not fetched for days.  Old readings are locked by nobody else.
 * - a fetches transaction locks expired fetches rows only: a fetches row
 *   is written once, by the transaction that ends the fetch, and only
 *   ever read (without locks) after.
 * POSTs and the claim read city_latest and readings without locks, the
 * settle and GET read fetches without locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "purge.h"

#define US(x)		DB_US(x)
#define AT(x)		DB_AT(x)
#define IDS		"JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED " \
			"PATH '$')) j"

enum {
	PG_CLOCK,
	PG_PICK,
	PG_TOMBS,
	PG_REQUESTS,
	PG_PICK_READINGS,
	PG_NAMED,
	PG_LATEST,
	PG_READINGS,
	PG_PICK_FETCHES,
	PG_FETCHES,
	PG_COUNT
};

/*
 * The deletes take their rows from a list of ids the pick before found
 * through an index ([id, ...], JSON_TABLE), joined left to right
 * (STRAIGHT_JOIN) on the primary keys (FORCE INDEX): on small tables the
 * optimizer would otherwise start from a scan of the table and probe the
 * list, as EXPLAIN shows on a table of 30 readings.
 */
static const char *const sql[PG_COUNT] = {
	/* The database's clock and the oldest request stored, NULL when
	 * none.  EXPLAIN: "Select tables optimized away" (MIN is the first
	 * entry of the requested_at index). */
	[PG_CLOCK] =
	    "SELECT " US("NOW(6)") ", " US("MIN(requested_at)") " "
	    "FROM requests",
	/*
	 * Expired finished requests, oldest first, from where the previous
	 * batch of this pass ended (unfinished ones are passed over once a
	 * pass, not once a batch): a plain read.  EXPLAIN: requests, range,
	 * key requested_at, "Using index condition; Using where".
	 */
	[PG_PICK] =
	    "SELECT id, total, " US("requested_at") " "
	    "FROM requests FORCE INDEX (requested_at) "
	    "WHERE requested_at >= " AT("?") " AND requested_at < " AT("?")
	    " AND finished_at IS NOT NULL ORDER BY requested_at LIMIT ?",
	/* Their ids stay used (purged_requests): one row each, counted in
	 * the transaction's rows (purge_fit).  EXPLAIN: j ("Table function:
	 * json_table"), then requests eq_ref PRIMARY. */
	[PG_TOMBS] =
	    "INSERT IGNORE INTO purged_requests (ext_id) SELECT r.ext_id "
	    "FROM " IDS " STRAIGHT_JOIN requests r FORCE INDEX (PRIMARY) "
	    "ON r.id = j.id WHERE r.finished_at IS NOT NULL",
	/* The picked requests, their cities with them (requests.cities).
	 * EXPLAIN: j, then requests eq_ref PRIMARY. */
	[PG_REQUESTS] =
	    "DELETE r FROM " IDS " STRAIGHT_JOIN requests r FORCE INDEX "
	    "(PRIMARY) ON r.id = j.id WHERE r.finished_at IS NOT NULL",
	/* Expired readings, oldest first: a plain read.  EXPLAIN: readings,
	 * range, key fetched_at, "Using where; Using index". */
	[PG_PICK_READINGS] =
	    "SELECT id FROM readings FORCE INDEX (fetched_at) "
	    "WHERE fetched_at < " AT("?") " ORDER BY fetched_at LIMIT ?",
	/*
	 * Which of them a city_latest row names (cities not fetched since):
	 * a plain read, so that the deletes below lock only rows they
	 * delete, in ascending city_id as the completion does; a locking
	 * join would take (and wait for) the city_latest row of every city
	 * in the list.  EXPLAIN: j, readings eq_ref PRIMARY, city_latest
	 * eq_ref PRIMARY.
	 */
	[PG_NAMED] =
	    "SELECT cl.city_id, cl.reading_id FROM " IDS " STRAIGHT_JOIN "
	    "readings rd FORCE INDEX (PRIMARY) ON rd.id = j.id "
	    "STRAIGHT_JOIN city_latest cl FORCE INDEX (PRIMARY) "
	    "ON cl.city_id = rd.city_id AND cl.reading_id = rd.id",
	/* Those city_latest rows ([[city_id, reading_id], ...], ascending
	 * city_id), if they still name them.  EXPLAIN: j, city_latest
	 * eq_ref PRIMARY. */
	[PG_LATEST] =
	    "DELETE cl FROM JSON_TABLE(?, '$[*]' COLUMNS (city_id INT "
	    "UNSIGNED PATH '$[0]', reading_id BIGINT UNSIGNED PATH '$[1]')) j "
	    "STRAIGHT_JOIN city_latest cl FORCE INDEX (PRIMARY) "
	    "ON cl.city_id = j.city_id AND cl.reading_id = j.reading_id",
	/* The readings.  None is named by city_latest now: the rows naming
	 * them went first, and the completion only ever points city_latest
	 * at a reading it has just inserted.  EXPLAIN: j, readings eq_ref
	 * PRIMARY. */
	[PG_READINGS] =
	    "DELETE rd FROM " IDS " STRAIGHT_JOIN readings rd FORCE INDEX "
	    "(PRIMARY) ON rd.id = j.id",
	/* Expired fetches, oldest first: a plain read.  EXPLAIN: fetches,
	 * range, key done_at, "Using where; Using index". */
	[PG_PICK_FETCHES] =
	    "SELECT id FROM fetches FORCE INDEX (done_at) "
	    "WHERE done_at < " AT("?") " ORDER BY done_at LIMIT ?",
	/* The fetches.  EXPLAIN: j, fetches eq_ref PRIMARY. */
	[PG_FETCHES] =
	    "DELETE f FROM " IDS " STRAIGHT_JOIN fetches f FORCE INDEX "
	    "(PRIMARY) ON f.id = j.id",
};

/* What a pass deleted, for its one log line. */
struct tally {
	unsigned long long	 requests, fetches, latest, readings;
	unsigned long long	 tx, largest;
};

/* A pass's phases, in order; each step runs the current one. */
enum purge_phase {
	PH_CUTS,		/* the cut-offs */
	PH_REQUESTS,
	PH_RECUT,		/* again: the oldest request is younger now */
	PH_READINGS,
	PH_FETCHES,
	PH_END
};

/* The pass under way. */
struct pass {
	enum purge_phase	 phase;
	struct purge_cuts	 cuts;
	int64_t			 from;	/* the next pick of requests */
	int64_t			 tx_start, pause;
	struct tally		 t;
};

static const struct config	*cf;
static MYSQL_STMT		*st[PG_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static struct pass		 cur;
static struct buf		 json;		/* a list of ids, [id, ...] */

void
purge_cuts(int64_t now, int have_oldest, int64_t oldest,
    long long requests_days, long long readings_days, struct purge_cuts *c)
{
	int64_t	 base = have_oldest && oldest < now ? oldest : now;

	c->requests = c->readings = c->fetches = 0;
	if (requests_days > 0)
		c->requests = now - requests_days * PURGE_DAY_US;
	if (readings_days > 0) {
		c->readings = now - readings_days * PURGE_DAY_US;
		if (base - PURGE_KEEP_S * 1000000 < c->readings)
			c->readings = base - PURGE_KEEP_S * 1000000;
	}
	if (requests_days > 0 || readings_days > 0)
		c->fetches = base - PURGE_FETCH_KEEP_S * 1000000;
	/* Before the epoch: nothing can be that old. */
	if (c->requests < 0)
		c->requests = 0;
	if (c->readings < 0)
		c->readings = 0;
	if (c->fetches < 0)
		c->fetches = 0;
}

size_t
purge_fit(const unsigned int *totals, size_t n, size_t max_rows)
{
	size_t	 i, rows = 0;

	for (i = 0; i < n; i++) {
		if ((size_t)totals[i] + 2 > max_rows - rows)
			break;
		rows += (size_t)totals[i] + 2;
	}
	return i;
}

int64_t
purge_pause_us(int64_t busy_us)
{
	int64_t	 p = busy_us > 0 ? busy_us * PURGE_PAUSE_FACTOR : 0;

	if (p < PURGE_PAUSE_MIN_US)
		p = PURGE_PAUSE_MIN_US;
	if (p > PURGE_PAUSE_MAX_US)
		p = PURGE_PAUSE_MAX_US;
	return p;
}

int
purge_wanted(const struct config *conf)
{
	return conf->retention.requests_days > 0 ||
	    conf->retention.readings_days > 0;
}

static void
report(const struct tally *t)
{
	if (t->tx == 0)
		return;
	log_info("purge: deleted %llu requests, %llu fetches, %llu readings "
	    "and %llu city_latest rows in %llu transactions, the largest %llu "
	    "rows", t->requests, t->fetches, t->readings, t->latest, t->tx,
	    t->largest);
}

/* The pass under way ends: what it did logged, the next starts afresh. */
static void
pass_end(void)
{
	report(&cur.t);
	memset(&cur, 0, sizeof(cur));
}

int
purge_open(MYSQL *conn, const struct config *conf, struct db_err *e)
{
	cf = conf;
	memset(&cur, 0, sizeof(cur));
	return db_set_open(&set, conn, e);
}

void
purge_close(void)
{
	pass_end();
	db_set_close(&set);
	buf_free(&json);
}

/* Run statement k; *n: the rows it changed. */
static int
run(int k, MYSQL_BIND *p, const char *what, unsigned long long *n,
    struct db_err *e)
{
	if (db_run(set.db, st[k], p, what, e) == -1)
		return -1;
	*n = mysql_stmt_affected_rows(st[k]);
	return 0;
}

static int
tx_begin(struct db_err *e)
{
	cur.tx_start = daemon_mono_us();
	return db_begin(set.db, e);
}

/* Commit; a transaction that deleted rows is counted, and paused after. */
static int
tx_commit(struct tally *t, unsigned long long rows, const char *what,
    struct db_err *e)
{
	int64_t	 busy;

	if (db_commit(set.db, e) == -1)
		return -1;
	busy = daemon_mono_us() - cur.tx_start;
	cur.pause = 0;
	if (rows == 0)
		return 0;
	t->tx++;
	if (rows > t->largest)
		t->largest = rows;
	log_debug("purge: %s: %llu rows in one transaction (%lld ms)", what,
	    rows, (long long)(busy / 1000));
	cur.pause = purge_pause_us(busy);
	return 0;
}

/* The database's clock, the oldest request, and so the cut-offs. */
static int
cuts_now(struct purge_cuts *c, struct db_err *e)
{
	MYSQL_STMT	*q = st[PG_CLOCK];
	MYSQL_BIND	 o[2];
	long long	 now, oldest;
	my_bool		 none;

	db_bind_i64(&o[0], &now);
	db_bind_i64(&o[1], &oldest);
	o[1].is_null = &none;
	if (db_one_row(set.db, q, NULL, o, "purge clock", e) != 0)
		return -1;
	purge_cuts(now, !none, oldest, cf->retention.requests_days,
	    cf->retention.readings_days, c);
	return 0;
}

/* [id, ...] of the n ids, built in json and bound to p; -1 with e filled
 * when out of memory. */
static int
bind_ids(MYSQL_BIND *p, unsigned long *len, const unsigned long long *ids,
    size_t n, struct db_err *e)
{
	size_t	 i;

	db_list_start(&json);
	for (i = 0; i < n; i++)
		db_list_num(&json, ids[i]);
	return db_list_bind(p, &json, len, "purge", e);
}

/*
 * Whole requests in one transaction (their tombstones, then their rows);
 * 1 when they were gone already.
 */
static int
purge_some(const unsigned long long *ids, size_t k, struct tally *t,
    struct db_err *e)
{
	MYSQL_BIND	 p[1];
	unsigned long	 len;
	unsigned long long tombs, nreq;

	if (tx_begin(e) == -1 || bind_ids(&p[0], &len, ids, k, e) == -1)
		goto fail;
	if (run(PG_TOMBS, p, "purge: purged ids", &tombs, e) == -1 ||
	    run(PG_REQUESTS, p, "purge: requests", &nreq, e) == -1 ||
	    tx_commit(t, 2 * nreq, "requests", e) == -1)
		goto fail;
	t->requests += nreq;
	return nreq > 0 ? 0 : 1;
fail:
	db_rollback(set.db);
	return -1;
}

/* Up to PURGE_MAX_ROWS expired finished requests from `from` on. */
static int
pick_requests(int64_t from, int64_t cut, unsigned long long *ids,
    unsigned int *totals, int64_t *ats, size_t *n, struct db_err *e)
{
	MYSQL_STMT	*q = st[PG_PICK];
	MYSQL_BIND	 p[3], o[3];
	long long	 lo = from, hi = cut, limit = PURGE_MAX_ROWS, total, at;
	unsigned long long id;
	int		 rc;

	*n = 0;
	db_bind_i64(&p[0], &lo);
	db_bind_i64(&p[1], &hi);
	db_bind_i64(&p[2], &limit);
	db_bind_u64(&o[0], &id);
	db_bind_i64(&o[1], &total);
	db_bind_i64(&o[2], &at);
	if (db_run(set.db, q, p, "purge: expired requests", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "purge: expired requests", e);
	while ((rc = mysql_stmt_fetch(q)) == 0 && *n < PURGE_MAX_ROWS) {
		ids[*n] = id;
		totals[*n] = (unsigned int)total;
		ats[*n] = at;
		(*n)++;
	}
	return db_fetch_end(set.db, q, rc, "purge: expired requests", e);
}

/*
 * The phases' steps: 1 after a transaction (the phase moved on when it
 * has no more to do), 0 when there was nothing to do (the phase moved
 * on), -1 with e filled.
 */
static int
step_requests(struct db_err *e)
{
	static unsigned long long ids[PURGE_MAX_ROWS];
	static unsigned int	 totals[PURGE_MAX_ROWS];
	static int64_t		 ats[PURGE_MAX_ROWS];
	size_t			 n = 0, k;
	int			 rc;

	if (cur.cuts.requests > 0 && pick_requests(cur.from,
	    cur.cuts.requests, ids, totals, ats, &n, e) == -1)
		return -1;
	if (n == 0) {
		cur.phase++;
		return 0;
	}
	/* One too big for a transaction goes alone: a request is one row,
	 * however many cities it lists. */
	if ((k = purge_fit(totals, n, PURGE_MAX_ROWS)) == 0)
		k = 1;
	if ((rc = purge_some(ids, k, &cur.t, e)) == -1)
		return -1;
	if (rc == 1)
		cur.phase++;	/* gone meanwhile: another purge's */
	cur.from = ats[k - 1];
	return 1;
}

/*
 * Up to PURGE_MAX_ROWS readings fetched (or fetches ended) before cut,
 * oldest first: pick is PG_PICK_READINGS or PG_PICK_FETCHES.
 */
static int
pick_before(int pick, const char *what, int64_t cut, unsigned long long *ids,
    size_t *n, struct db_err *e)
{
	MYSQL_STMT	*q = st[pick];
	MYSQL_BIND	 p[2], o[1];
	long long	 at = cut, limit = PURGE_MAX_ROWS;
	unsigned long long id;
	int		 rc;

	*n = 0;
	db_bind_i64(&p[0], &at);
	db_bind_i64(&p[1], &limit);
	db_bind_u64(&o[0], &id);
	if (db_run(set.db, q, p, what, e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, what, e);
	while ((rc = mysql_stmt_fetch(q)) == 0 && *n < PURGE_MAX_ROWS)
		ids[(*n)++] = id;
	return db_fetch_end(set.db, q, rc, what, e);
}

/* A city_latest row naming an expired reading. */
struct named {
	unsigned long long	 city, reading;
};

static int
named_cmp(const void *a, const void *b)
{
	const struct named *x = a, *y = b;

	return x->city < y->city ? -1 : x->city > y->city;
}

/*
 * Of the readings listed in p (bind_ids), the city_latest rows naming one
 * (PG_NAMED), bound to p in their place as [[city_id, reading_id], ...] in
 * ascending city_id; *k how many.
 */
static int
named_list(MYSQL_BIND *p, unsigned long *len, struct named *nm, size_t *k,
    struct db_err *e)
{
	MYSQL_STMT	*q = st[PG_NAMED];
	MYSQL_BIND	 o[2];
	unsigned long long city, reading, pair[2];
	size_t		 i;
	int		 rc;

	*k = 0;
	db_bind_u64(&o[0], &city);
	db_bind_u64(&o[1], &reading);
	if (db_run(set.db, q, p, "purge: latest readings", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "purge: latest readings", e);
	while ((rc = mysql_stmt_fetch(q)) == 0 && *k < PURGE_MAX_ROWS) {
		nm[*k].city = city;
		nm[*k].reading = reading;
		(*k)++;
	}
	if (db_fetch_end(set.db, q, rc, "purge: latest readings", e) == -1)
		return -1;
	if (*k > 1)
		qsort(nm, *k, sizeof(*nm), named_cmp);
	db_list_start(&json);
	for (i = 0; i < *k; i++) {
		pair[0] = nm[i].city;
		pair[1] = nm[i].reading;
		db_list_tuple(&json, pair, 2);
	}
	return db_list_bind(p, &json, len, "purge", e);
}

/*
 * Readings, one transaction of: the city_latest rows naming some of the
 * picked ones, then as many of those (oldest first) as the rest of the
 * transaction's rows allow.
 */
static int
step_readings(struct db_err *e)
{
	static unsigned long long ids[PURGE_MAX_ROWS];
	static struct named nm[PURGE_MAX_ROWS];
	MYSQL_BIND	 p[1];
	unsigned long	 len;
	unsigned long long nlatest = 0, nread = 0;
	size_t		 n = 0, k, room;

	if (cur.cuts.readings > 0 && pick_before(PG_PICK_READINGS,
	    "purge: expired readings", cur.cuts.readings, ids, &n, e) == -1)
		return -1;
	if (n == 0) {
		cur.phase++;
		return 0;
	}
	if (tx_begin(e) == -1 || bind_ids(&p[0], &len, ids, n, e) == -1 ||
	    named_list(&p[0], &len, nm, &k, e) == -1 ||
	    (k > 0 && run(PG_LATEST, p, "purge: city_latest", &nlatest,
	    e) == -1))
		goto fail;
	room = PURGE_MAX_ROWS - (size_t)nlatest;
	if (room > 0 && (bind_ids(&p[0], &len, ids, n < room ? n : room,
	    e) == -1 || run(PG_READINGS, p, "purge: readings", &nread,
	    e) == -1))
		goto fail;
	if (tx_commit(&cur.t, nlatest + nread, "readings", e) == -1)
		goto fail;
	cur.t.latest += nlatest;
	cur.t.readings += nread;
	/* Gone meanwhile (another purge's), or none left before the cut. */
	if (nlatest + nread == 0 || (n < PURGE_MAX_ROWS && nread == n))
		cur.phase++;
	return 1;
fail:
	db_rollback(set.db);
	return -1;
}

/* Fetches that ended before the cut-off, as the readings. */
static int
step_fetches(struct db_err *e)
{
	static unsigned long long ids[PURGE_MAX_ROWS];
	MYSQL_BIND	 p[1];
	unsigned long	 len;
	unsigned long long nf;
	size_t		 n = 0;

	if (cur.cuts.fetches > 0 && pick_before(PG_PICK_FETCHES,
	    "purge: expired fetches", cur.cuts.fetches, ids, &n, e) == -1)
		return -1;
	if (n == 0) {
		cur.phase++;
		return 0;
	}
	if (tx_begin(e) == -1 || bind_ids(&p[0], &len, ids, n, e) == -1 ||
	    run(PG_FETCHES, p, "purge: fetches", &nf, e) == -1 ||
	    tx_commit(&cur.t, nf, "fetches", e) == -1)
		goto fail;
	cur.t.fetches += nf;
	/* Gone meanwhile (another purge's), or none left before the cut. */
	if (nf == 0 || (n < PURGE_MAX_ROWS && nf == n))
		cur.phase++;
	return 1;
fail:
	db_rollback(set.db);
	return -1;
}

/* The cut-offs, at the pass's start and again after the requests. */
static int
step_cuts(struct db_err *e)
{
	if (cuts_now(&cur.cuts, e) == -1)
		return -1;
	cur.phase++;
	return 0;
}

static int
step(struct db_err *e)
{
	switch (cur.phase) {
	case PH_CUTS:
	case PH_RECUT:
		return step_cuts(e);
	case PH_REQUESTS:
		return step_requests(e);
	case PH_READINGS:
		return step_readings(e);
	case PH_FETCHES:
		return step_fetches(e);
	case PH_END:
		break;
	}
	return 0;
}

int
purge_step(int64_t *pause_us, struct db_err *e)
{
	int	 rc = 0;

	*pause_us = 0;
	while (rc == 0 && cur.phase != PH_END)
		rc = step(e);
	if (rc == 1) {
		*pause_us = cur.pause;
		return 1;
	}
	pass_end();
	return rc;
}
