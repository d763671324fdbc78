/*
 * settle.c: see settle.h.  Owns writing a request's settled values:
 * requests.collected, failed, finished_at, wait_fetch (and the cities'
 * fetch ids of those it queues again), with the counters'
 * collected/failed/queued deltas.
 *
 * Finding the requests to settle.  A request waits for one fetch at a
 * time (wait_fetch: the largest fetch id among its pending cities), so
 * the requests a fetch may have finished are those whose wait_fetch is
 * that fetch: the wait_fetch index.  Two ways there (housekeep.c says
 * when each runs):
 * - the fast pass, every fifth of a second (at once again while it finds
 *   work): the fetches that ended since the previous pass began (the
 *   done_at index), less SETTLE_OVERLAP_US, joined to the requests
 *   waiting for them.  The overlap catches a fetch whose completion
 *   committed a little after the NOW(6) it wrote, and a POST that
 *   committed a reference to a fetch that had just ended.  Idle, a pass
 *   is one statement reading an empty index range.
 * - the sweep, at start (and after a reconnect) and every 30 seconds:
 *   every request still waiting (wait_fetch NOT NULL), in pages of
 *   SETTLE_PAGE entries of the wait_fetch index, each joined to fetches
 *   by primary key: what the fast passes missed (a commit later than the
 *   overlap, a pass that failed, the time the child was down).
 * Neither ever scans a table; the EXPLAIN of each statement (MariaDB
 * 10.11, 20,000 fetches and 10,000 waiting requests) is beside it.
 *
 * Requests are settled SETTLE_GROUP to a transaction, in ascending id (a
 * durable commit each would bound the settle by the disk's flushes); a
 * group that fails is rolled back and its requests settled one to a
 * transaction, so a failure costs that request a later pass, never
 * anyone else's.  Settling is idempotent: whatever it finds, it writes
 * what request_data says now, so a request settled twice (the two ways,
 * two hosts' children) is settled right.  Its locks take the steps of
 * docs/design.md, "Lock order": a group's requests rows FOR UPDATE in
 * ascending id; only for a request with cities to queue again, settled
 * in a transaction of its own, their city_tasks rows (lib/queue.c, as
 * POST queues); its own rows' updates; the counters shard once, last.
 * It reads request_data, fetches and readings without locks.
 *
 * A pass runs in steps (settle_step): the next candidates read when
 * those in hand are settled (the fast pass's one statement, or a page of
 * the sweep), and one transaction: a group, or one request alone (one
 * that queues cities again, or each of a group that failed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "counters.h"
#include "log.h"
#include "queue.h"
#include "settle.h"

#define US(x)			DB_US(x)
#define AT(x)			DB_AT(x)
#define SETTLE_OVERLAP_US	2000000LL	/* looked back past a pass */
#define SETTLE_PAGE		1000		/* candidates per statement */
#define SETTLE_GROUP		100		/* requests per transaction */
#define SET_MAX			64		/* JSON_SET paths at once */

enum {
	SL_CLOCK,
	SL_FAST,
	SL_SWEEP,
	SL_LOCK,
	SL_STATE,
	SL_DROPPED,
	SL_TURN,
	SL_QUEUE_LOCK,
	SL_QUEUE,
	SL_FETCH_ID,
	SL_SETTLE,
	SL_COUNTERS,
	SL_COUNT
};

static const char *const sql[SL_COUNT] = {
	[SL_CLOCK] =
	    "SELECT " US("NOW(6)"),
	/*
	 * The fast pass: first row (0, the database's clock at this pass,
	 * whence the next pass's bound), then (1, id) for each request
	 * waiting for a fetch that ended at or after the bound.  A plain
	 * read.  EXPLAIN: PRIMARY "No tables used"; UNION f range done_at
	 * "Using where; Using index", r ref wait_fetch "Using index" (2
	 * pages when nothing ended).
	 */
	[SL_FAST] =
	    "SELECT 0, " US("NOW(6)") " UNION ALL "
	    "(SELECT 1, CAST(r.id AS SIGNED) FROM fetches f FORCE INDEX "
	    "(done_at) STRAIGHT_JOIN requests r FORCE INDEX (wait_fetch) "
	    "ON r.wait_fetch = f.id WHERE f.done_at >= " AT("?") " LIMIT ?)",
	/*
	 * A page of the sweep: the next SETTLE_PAGE waiting requests after
	 * (wait_fetch, id) in index order, each with whether its fetch
	 * ended.  The page is of index entries, not of results, so one
	 * statement reads SETTLE_PAGE entries at most however few have
	 * ended.  A plain read.  EXPLAIN: DERIVED requests range wait_fetch
	 * (key_len 17: the index with its primary key) "Using where; Using
	 * index", no filesort; then <derived2> ALL, f eq_ref PRIMARY.
	 */
	[SL_SWEEP] =
	    "SELECT x.wait_fetch, x.id, f.id IS NOT NULL FROM "
	    "(SELECT wait_fetch, id FROM requests FORCE INDEX (wait_fetch) "
	    "WHERE wait_fetch > ? OR (wait_fetch = ? AND id > ?) "
	    "ORDER BY wait_fetch, id LIMIT ?) x "
	    "LEFT JOIN fetches f FORCE INDEX (PRIMARY) ON f.id = x.wait_fetch",
	/* The request, locked first.  EXPLAIN: requests const PRIMARY. */
	[SL_LOCK] =
	    "SELECT total, collected, failed, wait_fetch IS NOT NULL, "
	    "cancelled_at IS NOT NULL FROM requests WHERE id = ? FOR UPDATE",
	/*
	 * Its cities as request_data says (the one definition of a city's
	 * state): how many, collected, failed, the largest fetch id still
	 * pending (NULL: none pending), when the last was done, and how
	 * many pending ones a cancel dropped.  EXPLAIN: r const PRIMARY,
	 * j "Table function: json_table", f eq_ref PRIMARY (readings is
	 * not read).
	 */
	[SL_STATE] =
	    "SELECT COUNT(*), COALESCE(SUM(state = 'collected'), 0), "
	    "COALESCE(SUM(state = 'failed'), 0), "
	    "MAX(IF(state = 'pending', fetch_id, NULL)), "
	    US("MAX(done_at)") ", "
	    "COALESCE(SUM(state = 'pending' AND fetch_state = 'dropped'), 0) "
	    "FROM request_data WHERE request_id = ?",
	/* Those dropped ones, ascending city_id (the lock order). */
	[SL_DROPPED] =
	    "SELECT pos, city_id FROM request_data WHERE request_id = ? "
	    "AND state = 'pending' AND fetch_state = 'dropped' "
	    "ORDER BY city_id",
	/* The smallest turn queued, as a POST reads it: the cities queued
	 * again interleave with the queue as a new request's would.
	 * EXPLAIN: "Select tables optimized away" (the claim index). */
	[SL_TURN] = queue_turn_sql,
	[SL_QUEUE_LOCK] = queue_lock_sql,
	/* The cities again, unless queued already (then each waits for
	 * that entry's fetch). */
	[SL_QUEUE] = queue_insert_sql,
	/* The city's queue entry, the one just inserted or the one that
	 * made the insert a no-op (locked by it: it cannot go before our
	 * commit).  EXPLAIN: city_tasks const PRIMARY. */
	[SL_FETCH_ID] =
	    "SELECT fetch_id FROM city_tasks WHERE city_id = ?",
	/* The settled values; finished_at when nothing is pending: the
	 * finished rule (etc/schema.sql: request_data; fcgi/read.c's GET
	 * and cancel use it too). */
	[SL_SETTLE] =
	    "UPDATE requests SET collected = ?, failed = ?, wait_fetch = ?, "
	    "finished_at = IF(?, GREATEST(requested_at, "
	    "COALESCE(" AT("?") ", requested_at)), NULL) WHERE id = ?",
	/* The deltas, the transaction's last lock. */
	[SL_COUNTERS] = counters_add_sql,
};

/* A request's cities, as SL_STATE counts them. */
struct state {
	long long		 total, collected, failed, dropped;
	unsigned long long	 wait;		/* largest pending fetch id */
	my_bool			 none_pending;	/* wait is NULL */
	long long		 done_us;	/* the last done_at */
	my_bool			 none_done;
};

/* A city to queue again: its position, and the fetch that serves it. */
struct drop {
	long long		 pos, city;
	unsigned long long	 fetch;
};

/* What a pass did, for its debug line. */
struct tally {
	unsigned long long	 settled, finished, queued, failed;
};

/* The pass under way. */
struct pass {
	int			 busy;
	enum settle_pass	 kind;
	int			 more;		/* candidates left to read */
	int			 started;	/* the sweep's clock read */
	int64_t			 clock;		/* the db's, at its start */
	unsigned long long	 after_fetch, after_id;	/* the sweep's page */
	unsigned long long	 cand[SETTLE_PAGE];	/* read, ascending */
	size_t			 ncand, next, found;
	unsigned long long	 one[SETTLE_GROUP];	/* each alone */
	size_t			 none, nextone;
	struct tally		 t;
};

static const struct config	*cf;
static MYSQL_STMT		*st[SL_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static int64_t			 bound_us;	/* the fast pass's, db clock */
static int			 have_bound;
static struct pass		 cur;
static struct drop		*drops;
static size_t			 drops_cap;

int
settle_open(MYSQL *db, const struct config *conf, struct db_err *e)
{
	cf = conf;
	/* What ended while we were away: a sweep first, and the fast
	 * passes from its start on. */
	have_bound = 0;
	memset(&cur, 0, sizeof(cur));
	return db_set_open(&set, db, e);
}

void
settle_close(void)
{
	db_set_close(&set);
	memset(&cur, 0, sizeof(cur));
	free(drops);
	drops = NULL;
	drops_cap = 0;
}

int
settle_can_fast(void)
{
	return have_bound;
}

/* A broken invariant of one request: logged, its transaction undone. */
static int
invariant(struct db_err *e, unsigned long long id, const char *what)
{
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "request %llu: %s", id, what);
	return -1;
}

static int
read_state(unsigned long long id, struct state *s, struct db_err *e)
{
	MYSQL_BIND	 p[1], o[6];

	db_bind_u64(&p[0], &id);
	db_bind_i64(&o[0], &s->total);
	db_bind_i64(&o[1], &s->collected);
	db_bind_i64(&o[2], &s->failed);
	db_bind_u64(&o[3], &s->wait);
	o[3].is_null = &s->none_pending;
	db_bind_i64(&o[4], &s->done_us);
	o[4].is_null = &s->none_done;
	db_bind_i64(&o[5], &s->dropped);
	return db_one_row(set.db, st[SL_STATE], p, o, "settle: cities",
	    e) == 0 ? 0 : -1;
}

/* The request's dropped cities, ascending city_id, into drops[]. */
static int
read_drops(unsigned long long id, size_t *n, struct db_err *e)
{
	MYSQL_STMT	*q = st[SL_DROPPED];
	MYSQL_BIND	 p[1], o[2];
	long long	 pos, city;
	int		 rc;

	*n = 0;
	db_bind_u64(&p[0], &id);
	db_bind_i64(&o[0], &pos);
	db_bind_i64(&o[1], &city);
	if (db_run(set.db, q, p, "settle: dropped cities", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "settle: dropped cities", e);
	while ((rc = mysql_stmt_fetch(q)) == 0) {
		if (*n == drops_cap) {
			size_t	 cap = drops_cap ? drops_cap * 2 : 64;
			void	*x = reallocarray(drops, cap, sizeof(*drops));

			if (x == NULL) {
				mysql_stmt_free_result(q);
				e->code = 0;
				snprintf(e->msg, sizeof(e->msg), "settle: out "
				    "of memory");
				return -1;
			}
			drops = x;
			drops_cap = cap;
		}
		drops[*n].pos = pos;
		drops[*n].city = city;
		drops[*n].fetch = 0;
		(*n)++;
	}
	return db_fetch_end(set.db, q, rc, "settle: dropped cities", e);
}

/*
 * drops[0 .. n) into the request's cities: '$[pos][2]' = the fetch, up to
 * SET_MAX at a time.  Prepared for the occasion: this is the rare path (a
 * cancel dropped a city another request also waits for).
 */
static int
set_fetches(unsigned long long id, size_t n, struct db_err *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 p[2 * SET_MAX + 1];
	char		 path[SET_MAX][32];
	unsigned long	 plen[SET_MAX];
	struct buf	 b;
	size_t		 i, j, m;
	int		 rc = 0;

	for (i = 0; i < n && rc == 0; i += m) {
		m = n - i < SET_MAX ? n - i : SET_MAX;
		buf_init(&b, 0);
		buf_adds(&b, "UPDATE requests SET cities = JSON_SET(cities");
		for (j = 0; j < m; j++)
			buf_adds(&b, ", ?, ?");
		buf_adds(&b, ") WHERE id = ?");
		if (buf_cstr(&b) == NULL) {
			buf_free(&b);
			e->code = 0;
			snprintf(e->msg, sizeof(e->msg), "settle: out of "
			    "memory");
			return -1;
		}
		if ((q = db_prepare(set.db, b.data, e->msg, sizeof(e->msg))) ==
		    NULL) {
			e->code = mysql_errno(set.db);
			buf_free(&b);
			return -1;
		}
		buf_free(&b);
		for (j = 0; j < m; j++) {
			snprintf(path[j], sizeof(path[j]), "$[%lld][2]",
			    drops[i + j].pos);
			db_bind_str(&p[2 * j], path[j], &plen[j]);
			db_bind_u64(&p[2 * j + 1], &drops[i + j].fetch);
		}
		db_bind_u64(&p[2 * m], &id);
		rc = db_run(set.db, q, p, "settle: fetch ids", e);
		mysql_stmt_close(q);
	}
	return rc;
}

/*
 * Queue again the request's pending cities whose fetch a cancel dropped,
 * in ascending city_id, as a POST queues its cities (turn: the smallest
 * queued + the city's position; created_by: this request), and point
 * them at the entries' fetches.  *queued: the entries inserted.
 */
static int
requeue(unsigned long long id, long long *queued, struct db_err *e)
{
	struct queue_add add = { .by = id,
			    .read_timeout = cf->mysql.read_timeout };
	MYSQL_BIND	 p[1], o[1];
	struct buf	 list;
	unsigned long	 len;
	unsigned long long got = 0;
	size_t		 i, n;
	enum queue_rc	 rc = QUEUE_FAILED;

	*queued = 0;
	if (read_drops(id, &n, e) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (queue_turn(set.db, st[SL_TURN], &add.at, &add.base, e) == -1)
		return -1;
	buf_init(&list, 0);
	db_list_start(&list);
	for (i = 0; i < n; i++)
		db_list_tuple(&list, (unsigned long long[]){
		    (unsigned long long)drops[i].city,
		    (unsigned long long)drops[i].pos }, 2);
	if (db_list_bind(&p[0], &list, &len, "settle: queue", e) == 0) {
		add.cities = &p[0];
		rc = queue_cities(set.db, st[SL_QUEUE_LOCK], st[SL_QUEUE], &add,
		    &got, e);
	}
	buf_free(&list);
	if (rc != QUEUE_DONE)	/* QUEUE_BUSY: e says so, a failure here */
		return -1;
	*queued = (long long)got;
	for (i = 0; i < n; i++) {
		db_bind_i64(&p[0], &drops[i].city);
		db_bind_u64(&o[0], &drops[i].fetch);
		if (db_one_row(set.db, st[SL_FETCH_ID], p, o, "settle: queued fetch",
		    e) != 0)
			return -1;
	}
	return set_fetches(id, n, e);
}

/* What settling requests changed, for the counters (once, last). */
struct delta {
	long long	 collected, failed, queued;
};

/*
 * One request inside the caller's transaction: its row locked, its state
 * read through request_data, its dropped cities queued again, its row
 * written, and what changed added to d.  0 settled, 1 nothing to do (no
 * longer waiting, or gone), 2 (only in a group) cities to queue again:
 * left for a transaction of its own, whose city_tasks locks then follow
 * one ascending order; -1 with e filled.
 */
static int
settle_body(unsigned long long id, int in_group, struct tally *t,
    struct delta *d, struct db_err *e)
{
	MYSQL_BIND	 p[6], o[5];
	struct state	 s;
	long long	 total, old_c, old_f, waiting, cancelled;
	long long	 queued = 0, finished;
	unsigned long long req = id;
	int		 rc;

	db_bind_u64(&p[0], &req);
	db_bind_i64(&o[0], &total);
	db_bind_i64(&o[1], &old_c);
	db_bind_i64(&o[2], &old_f);
	db_bind_i64(&o[3], &waiting);
	db_bind_i64(&o[4], &cancelled);
	if ((rc = db_one_row(set.db, st[SL_LOCK], p, o, "settle: request",
	    e)) != 0)
		return rc == DB_NO_ROW ? 1 : -1;	/* gone: purged, say */
	if (!waiting)
		return 1;
	if (read_state(id, &s, e) == -1)
		return -1;
	if (s.total != total)
		return invariant(e, id, "cities do not match its total");
	if (s.dropped > 0 && !cancelled) {
		if (in_group)
			return 2;
		if (requeue(id, &queued, e) == -1 || read_state(id, &s, e) == -1)
			return -1;
		if (s.dropped > 0)
			return invariant(e, id, "a dropped city not queued again");
	}
	finished = s.none_pending;
	if (!finished && s.wait == 0)
		return invariant(e, id, "a pending city without a fetch");
	db_bind_i64(&p[0], &s.collected);
	db_bind_i64(&p[1], &s.failed);
	db_bind_u64(&p[2], &s.wait);
	p[2].is_null = &s.none_pending;
	db_bind_i64(&p[3], &finished);
	db_bind_i64(&p[4], &s.done_us);
	p[4].is_null = &s.none_done;
	db_bind_u64(&p[5], &req);
	if (db_run(set.db, st[SL_SETTLE], p, "settle: request", e) == -1)
		return -1;
	d->collected += s.collected - old_c;
	d->failed += s.failed - old_f;
	d->queued += queued;
	t->settled++;
	t->finished += finished;
	t->queued += (unsigned long long)queued;
	return 0;
}

/* The counters shard row, the transaction's last lock. */
static int
add_counts(const struct delta *d, struct db_err *e)
{
	struct counts	 c = { .collected = d->collected, .failed = d->failed,
			    .queued = d->queued };

	return counters_add(set.db, st[SL_COUNTERS], &c, e);
}

/* One request alone: the body of its transaction (db_transaction). */
struct alone {
	unsigned long long	 id;
	struct tally		 mine;
	struct delta		 d;
};

/* 0 settled, 1 nothing to do, -1 with e filled. */
static int
settle_once(void *arg, struct db_err *e)
{
	struct alone	*a = arg;
	int		 rc;

	memset(&a->mine, 0, sizeof(a->mine));
	memset(&a->d, 0, sizeof(a->d));
	if ((rc = settle_body(a->id, 0, &a->mine, &a->d, e)) != 0)
		return rc;
	return add_counts(&a->d, e);
}

/*
 * One request, retried after a deadlock or lock wait timeout.  A failure
 * is logged and passed over (a later pass tries again); -1 only when the
 * connection is gone.
 */
static int
settle(unsigned long long id, struct tally *t, struct db_err *e)
{
	struct alone	 a = { .id = id };
	int		 rc;

	if ((rc = db_transaction(set.db, settle_once, &a, e)) == 0) {
		t->settled += a.mine.settled;
		t->finished += a.mine.finished;
		t->queued += a.mine.queued;
	}
	if (rc != -1)
		return 0;
	if (db_error_is_gone(e->code))
		return -1;
	log_warnx("settle: request %llu: %s", id, e->msg);
	t->failed++;
	return 0;
}

static int
id_cmp(const void *a, const void *b)
{
	const unsigned long long *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/*
 * One group of the candidates in one transaction (ascending id: two
 * settles lock rows in the same order; a cancel locks one row only): a
 * durable commit per request would bound the settle to the disk's
 * flushes a second.  The group's requests with cities to queue again
 * are left in one[], to be settled alone next; a group that fails is
 * rolled back and all its requests left there, so one bad request holds
 * back no other.  -1 only when the connection is gone.
 */
static int
settle_group(const unsigned long long *ids, size_t k, struct db_err *e)
{
	struct tally	 g;
	struct delta	 d;
	size_t		 j;
	int		 rc = 0;

	memset(&g, 0, sizeof(g));
	memset(&d, 0, sizeof(d));
	cur.none = cur.nextone = 0;
	if (db_begin(set.db, e) == -1)
		rc = -1;
	for (j = 0; j < k && rc != -1; j++)
		if ((rc = settle_body(ids[j], 1, &g, &d, e)) == 2)
			cur.one[cur.none++] = ids[j];
	if (rc != -1 && add_counts(&d, e) == 0 && db_commit(set.db, e) == 0) {
		cur.t.settled += g.settled;
		cur.t.finished += g.finished;
		cur.t.queued += g.queued;
		return 0;
	}
	db_rollback(set.db);
	if (db_error_is_gone(e->code))
		return -1;
	memcpy(cur.one, ids, k * sizeof(*ids));
	cur.none = k;
	return 0;
}

static void
report(const char *what, const struct tally *t)
{
	if (t->settled + t->failed > 0)
		log_debug("settle: %s: %llu requests settled (%llu finished, "
		    "%llu cities queued again), %llu failed", what, t->settled,
		    t->finished, t->queued, t->failed);
}

/*
 * The fast pass's candidates: the requests waiting for a fetch that
 * ended since bound, and the database's clock.
 */
static int
read_fast(struct db_err *e)
{
	MYSQL_STMT	*q = st[SL_FAST];
	MYSQL_BIND	 p[2], o[2];
	long long	 from = bound_us, limit = SETTLE_PAGE, tag, v;
	int		 rc;

	db_bind_i64(&p[0], &from);
	db_bind_i64(&p[1], &limit);
	db_bind_i64(&o[0], &tag);
	db_bind_i64(&o[1], &v);
	if (db_run(set.db, q, p, "settle: fast pass", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "settle: fast pass", e);
	while ((rc = mysql_stmt_fetch(q)) == 0)
		if (tag == 0)
			cur.clock = v;
		else if (cur.ncand < SETTLE_PAGE)
			cur.cand[cur.ncand++] = (unsigned long long)v;
	cur.more = 0;
	return db_fetch_end(set.db, q, rc, "settle: fast pass", e);
}

/* The database's clock. */
static int
db_clock(int64_t *us, struct db_err *e)
{
	MYSQL_BIND	 o[1];
	long long	 v;

	db_bind_i64(&o[0], &v);
	if (db_one_row(set.db, st[SL_CLOCK], NULL, o, "settle: clock", e) != 0)
		return -1;
	*us = v;
	return 0;
}

/* The sweep's next page of waiting requests; those whose fetch ended are
 * the candidates. */
static int
read_page(struct db_err *e)
{
	MYSQL_STMT	*q = st[SL_SWEEP];
	MYSQL_BIND	 p[4], o[3];
	unsigned long long wait, id;
	long long	 limit = SETTLE_PAGE, ended;
	size_t		 rows = 0;
	int		 rc;

	if (!cur.started && db_clock(&cur.clock, e) == -1)
		return -1;
	cur.started = 1;
	db_bind_u64(&p[0], &cur.after_fetch);
	db_bind_u64(&p[1], &cur.after_fetch);
	db_bind_u64(&p[2], &cur.after_id);
	db_bind_i64(&p[3], &limit);
	db_bind_u64(&o[0], &wait);
	db_bind_u64(&o[1], &id);
	db_bind_i64(&o[2], &ended);
	if (db_run(set.db, q, p, "settle: sweep", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "settle: sweep", e);
	while ((rc = mysql_stmt_fetch(q)) == 0) {
		rows++;
		cur.after_fetch = wait;
		cur.after_id = id;
		if (ended && cur.ncand < SETTLE_PAGE)
			cur.cand[cur.ncand++] = id;
	}
	cur.more = rows == SETTLE_PAGE;
	return db_fetch_end(set.db, q, rc, "settle: sweep", e);
}

/* The next candidates, ascending, when those in hand are settled. */
static int
read_next(struct db_err *e)
{
	if (cur.nextone < cur.none || cur.next < cur.ncand || !cur.more)
		return 0;
	cur.ncand = cur.next = 0;
	if ((cur.kind == SETTLE_FAST ? read_fast(e) : read_page(e)) == -1)
		return -1;
	if (cur.ncand > 1)
		qsort(cur.cand, cur.ncand, sizeof(cur.cand[0]), id_cmp);
	cur.found += cur.ncand;
	return 0;
}

/* One transaction: the next request alone, else the next group. */
static int
settle_next(struct db_err *e)
{
	size_t	 i = cur.next, k = cur.ncand - cur.next;

	if (cur.nextone < cur.none)
		return settle(cur.one[cur.nextone++], &cur.t, e);
	if (k == 0)
		return 0;
	if (k > SETTLE_GROUP)
		k = SETTLE_GROUP;
	cur.next += k;
	return settle_group(cur.cand + i, k, e);
}

/*
 * The pass is over.  The sweep: everything that ended before it began
 * is settled (or failed and logged), so the fast passes start from there
 * at least.  The fast pass: the bound moves to its start (less the
 * overlap) unless it stopped at its limit: then the next pass, at once,
 * takes the rest from the same bound (those settled no longer match).
 * Unless every one failed: they would fill the next pass again, so they
 * are left to the sweep.
 */
static void
pass_end(void)
{
	if (cur.kind == SETTLE_SWEEP) {
		report("sweep", &cur.t);
		if (!have_bound || bound_us < cur.clock - SETTLE_OVERLAP_US)
			bound_us = cur.clock - SETTLE_OVERLAP_US;
		have_bound = 1;
	} else {
		report("fast pass", &cur.t);
		if (cur.found < SETTLE_PAGE || cur.t.failed == cur.found)
			bound_us = cur.clock - SETTLE_OVERLAP_US;
	}
	cur.busy = 0;
}

void
settle_begin(enum settle_pass kind)
{
	memset(&cur, 0, sizeof(cur));
	cur.busy = 1;
	cur.kind = kind;
	cur.more = 1;
}

int
settle_busy(void)
{
	return cur.busy;
}

int
settle_step(size_t *found, struct db_err *e)
{
	memset(e, 0, sizeof(*e));
	*found = 0;
	if (!cur.busy)
		return 0;
	if (read_next(e) == -1 || settle_next(e) == -1) {
		cur.busy = 0;
		return -1;
	}
	if (cur.nextone < cur.none || cur.next < cur.ncand || cur.more)
		return 1;
	*found = cur.found;
	pass_end();
	return 0;
}
