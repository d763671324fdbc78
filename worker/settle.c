/*
 * settle.c: see settle.h.  Owns the housekeeping child's loop and its
 * connection, and writing a request's settled values: requests.collected,
 * failed, finished_at, wait_fetch (and the cities' fetch ids of those it
 * queues again), with the counters' collected/failed/queued deltas.
 *
 * Finding the requests to settle.  A request waits for one fetch at a
 * time (wait_fetch: the largest fetch id among its pending cities), so
 * the requests a fetch may have finished are those whose wait_fetch is
 * that fetch: the wait_fetch index.  Two ways there:
 * - the fast pass, every SETTLE_EVERY_US (at once again while it finds
 *   work): the fetches that ended since the previous pass began (the
 *   done_at index), less SETTLE_OVERLAP_US, joined to the requests
 *   waiting for them.  The overlap catches a fetch whose completion
 *   committed a little after the NOW(6) it wrote, and a POST that
 *   committed a reference to a fetch that had just ended.  Idle, a pass
 *   is one statement reading an empty index range.
 * - the sweep, at start (and after a reconnect) and every SWEEP_EVERY_S:
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
 * two hosts' children) is settled right.  Lock order (etc/schema.sql's):
 * the requests rows FOR UPDATE in ascending id (a cancel locks one row,
 * another host's settle ascends too); then, only for a request with
 * cities to queue again, which is settled in a transaction of its own,
 * their city_tasks rows in ascending city_id (INSERT IGNORE, as POST
 * does); then its own rows' updates; the counters shard row last, once
 * per transaction.  It reads request_data, fetches and readings
 * without locks.
 *
 * The housekeeping loop: a sweep when due, a fast pass when due, a purge
 * pass every PURGE_EVERY_S when retention is on, then a sleep until the
 * next of those (in steps, so SIGTERM is seen within one).  A purge pass
 * may run for minutes; it calls pause() after every transaction, and the
 * pause runs the settle's passes that come due while it lasts, so
 * settling never waits for retention.
 */
#include <sys/prctl.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "purge.h"
#include "settle.h"

#define US(x)			DB_US(x)
#define AT(x)			DB_AT(x)
#define SHARD			DB_COUNTER_SHARD
#define SETTLE_EVERY_US		200000LL	/* a fast pass, when idle */
#define SETTLE_OVERLAP_US	2000000LL	/* looked back past a pass */
#define SWEEP_EVERY_S		30
#define SETTLE_PAGE		1000		/* candidates per statement */
#define SETTLE_GROUP		100		/* requests per transaction */
#define SET_MAX			64		/* JSON_SET paths at once */
#define RETRY_US		1000000LL	/* after a failed pass */

enum {
	S_CLOCK,
	S_FAST,
	S_SWEEP,
	S_LOCK,
	S_STATE,
	S_DROPPED,
	S_TURN,
	S_QUEUE_LOCK,
	S_QUEUE,
	S_FETCH_ID,
	S_SETTLE,
	S_COUNTERS,
	S_COUNT
};

static const char *const sql[S_COUNT] = {
	[S_CLOCK] =
	    "SELECT " US("NOW(6)"),
	/*
	 * The fast pass: first row (0, the database's clock at this pass,
	 * whence the next pass's bound), then (1, id) for each request
	 * waiting for a fetch that ended at or after the bound.  A plain
	 * read.  EXPLAIN: PRIMARY "No tables used"; UNION f range done_at
	 * "Using where; Using index", r ref wait_fetch "Using index" (2
	 * pages when nothing ended).
	 */
	[S_FAST] =
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
	[S_SWEEP] =
	    "SELECT x.wait_fetch, x.id, f.id IS NOT NULL FROM "
	    "(SELECT wait_fetch, id FROM requests FORCE INDEX (wait_fetch) "
	    "WHERE wait_fetch > ? OR (wait_fetch = ? AND id > ?) "
	    "ORDER BY wait_fetch, id LIMIT ?) x "
	    "LEFT JOIN fetches f FORCE INDEX (PRIMARY) ON f.id = x.wait_fetch",
	/* The request, locked first.  EXPLAIN: requests const PRIMARY. */
	[S_LOCK] =
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
	[S_STATE] =
	    "SELECT COUNT(*), COALESCE(SUM(state = 'collected'), 0), "
	    "COALESCE(SUM(state = 'failed'), 0), "
	    "MAX(IF(state = 'pending', fetch_id, NULL)), "
	    US("MAX(done_at)") ", "
	    "COALESCE(SUM(state = 'pending' AND fetch_state = 'dropped'), 0) "
	    "FROM request_data WHERE request_id = ?",
	/* Those dropped ones, ascending city_id (the lock order). */
	[S_DROPPED] =
	    "SELECT pos, city_id FROM request_data WHERE request_id = ? "
	    "AND state = 'pending' AND fetch_state = 'dropped' "
	    "ORDER BY city_id",
	/* The smallest turn queued, as a POST reads it: the cities queued
	 * again interleave with the queue as a new request's would.
	 * EXPLAIN: "Select tables optimized away" (the claim index). */
	[S_TURN] =
	    "SELECT COALESCE(MIN(turn), 0) FROM city_tasks",
	[S_QUEUE_LOCK] =
	    "SELECT COALESCE(" DB_QUEUE_LOCK_GET ", 0)",
	/* One city again, unless queued already (then it waits for that
	 * entry's fetch). */
	[S_QUEUE] =
	    "INSERT IGNORE INTO city_tasks (city_id, turn, ready_at, "
	    "created_at, created_by) VALUES (?, ?, NOW(6), NOW(6), ?)",
	/* The city's queue entry, the one just inserted or the one that
	 * made the insert a no-op (locked by it: it cannot go before our
	 * commit).  EXPLAIN: city_tasks const PRIMARY. */
	[S_FETCH_ID] =
	    "SELECT fetch_id FROM city_tasks WHERE city_id = ?",
	/* The settled values; finished_at when nothing is pending: the
	 * finished rule (etc/schema.sql: request_data; fcgi/read.c's GET
	 * and cancel use it too). */
	[S_SETTLE] =
	    "UPDATE requests SET collected = ?, failed = ?, wait_fetch = ?, "
	    "finished_at = IF(?, GREATEST(requested_at, "
	    "COALESCE(" AT("?") ", requested_at)), NULL) WHERE id = ?",
	/* The deltas, into this connection's shard of the running counts,
	 * the transaction's last lock (everyone takes theirs last). */
	[S_COUNTERS] =
	    "INSERT INTO counters (shard, collected, failed, queued) "
	    "VALUES (" SHARD ", ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE collected = collected + VALUES(collected), "
	    "failed = failed + VALUES(failed), queued = queued + VALUES(queued)",
};

/* A request's cities, as S_STATE counts them. */
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

static const struct config	*cf;
static volatile sig_atomic_t	 quit;
static int	db_ready(MYSQL *, struct db_err *);
static void	db_closing(void);

static MYSQL_STMT		*st[S_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static struct db_conn		 conn = { "housekeeping: ", db_ready,
				    db_closing, DB_RECONNECT_MAX_US, NULL, NULL,
				    0, 0, 0 };
static int			 lost, retention;
static struct db_err		 gone;		/* what lost the connection */
static int64_t			 bound_us;	/* the fast pass's, db clock */
static int			 have_bound;
static int64_t			 next_fast, next_sweep, next_purge;
static unsigned long long	 cand[SETTLE_PAGE];
static struct drop		*drops;
static size_t			 drops_cap;

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

/* Sleep until the monotonic deadline, or until told to quit. */
static void
nap_until(int64_t deadline)
{
	while (!quit && daemon_mono_us() < deadline)
		daemon_nap_step(deadline);
}

static void
db_closing(void)
{
	purge_close();
	db_set_close(&set);
}

/* After every connect: the settle's statements and the purge's. */
static int
db_ready(MYSQL *conn_db, struct db_err *e)
{
	if (db_set_open(&set, conn_db, e) == -1 ||
	    (retention && purge_open(conn_db, cf, e) == -1))
		return -1;
	lost = 0;
	/* What ended while we were away: a sweep first, and the fast
	 * passes from its start on. */
	have_bound = 0;
	next_sweep = next_fast = daemon_mono_us();
	return 0;
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
	return db_one_row(set.db, st[S_STATE], p, o, "settle: cities", e) == 0 ?
	    0 : -1;
}

/* The request's dropped cities, ascending city_id, into drops[]. */
static int
read_drops(unsigned long long id, size_t *n, struct db_err *e)
{
	MYSQL_STMT	*q = st[S_DROPPED];
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
	MYSQL_BIND	 p[3], o[1];
	long long	 base, turn, city, got = 0, wait;
	unsigned long long by = id;
	size_t		 i, n;
	int		 rc;

	*queued = 0;
	if (read_drops(id, &n, e) == -1)
		return -1;
	if (n == 0)
		return 0;
	db_bind_i64(&o[0], &base);
	if (db_one_row(set.db, st[S_TURN], NULL, o, "settle: turn", e) != 0)
		return -1;
	/* One queueing at a time, POSTs' included (fcgi/post.c says why);
	 * on the one writer only, and taken again by each attempt
	 * (db.h: DB_QUEUE_LOCK). */
	wait = db_lock_wait_ms(cf->mysql.read_timeout);
	db_bind_i64(&p[0], &wait);
	db_bind_i64(&o[0], &got);
	if (db_one_row(set.db, st[S_QUEUE_LOCK], p, o, "settle: queue lock",
	    e) != 0)
		return -1;
	if (got != 1) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "settle: the queue lock was "
		    "not granted in %lld ms", wait);
		return -1;
	}
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		city = drops[i].city;
		turn = base + drops[i].pos;
		db_bind_i64(&p[0], &city);
		db_bind_i64(&p[1], &turn);
		db_bind_u64(&p[2], &by);
		if ((rc = db_run(set.db, st[S_QUEUE], p, "settle: queue", e)) == 0)
			*queued += (long long)
			    mysql_stmt_affected_rows(st[S_QUEUE]);
	}
	if (db_query(set.db, "DO RELEASE_LOCK('" DB_QUEUE_LOCK "')", e) == -1 ||
	    rc == -1)
		return -1;
	for (i = 0; i < n; i++) {
		db_bind_i64(&p[0], &drops[i].city);
		db_bind_u64(&o[0], &drops[i].fetch);
		if (db_one_row(set.db, st[S_FETCH_ID], p, o, "settle: queued fetch",
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
	if ((rc = db_one_row(set.db, st[S_LOCK], p, o, "settle: request",
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
	if (db_run(set.db, st[S_SETTLE], p, "settle: request", e) == -1)
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
	MYSQL_BIND	 p[3];
	long long	 v[3] = { d->collected, d->failed, d->queued };
	int		 i;

	if (v[0] != 0 || v[1] != 0 || v[2] != 0) {
		for (i = 0; i < 3; i++)
			db_bind_i64(&p[i], &v[i]);
		if (db_run(set.db, st[S_COUNTERS], p, "settle: counters", e) ==
		    -1)
			return -1;
	}
	return 0;
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
 * The n requests in ids, SETTLE_GROUP at a time in one transaction each
 * (ascending id: two settles lock rows in the same order; a cancel locks
 * one row only): a durable commit per request would bound the settle to
 * the disk's flushes a second.  A group that fails is rolled back and
 * its requests settled one by one, so one bad request holds back no
 * other.  -1 only when the connection is gone.
 */
static int
settle_all(unsigned long long *ids, size_t n, struct tally *t,
    struct db_err *e)
{
	struct tally	 g;
	struct delta	 d;
	unsigned long long alone[SETTLE_GROUP];
	size_t		 i, j, k, nalone;
	int		 failed, rc;

	if (n > 1)
		qsort(ids, n, sizeof(*ids), id_cmp);
	for (i = 0; i < n && !quit; i += k) {
		k = n - i < SETTLE_GROUP ? n - i : SETTLE_GROUP;
		memset(&g, 0, sizeof(g));
		memset(&d, 0, sizeof(d));
		nalone = 0;
		failed = db_begin(set.db, e) == -1;
		for (j = i; j < i + k && !failed; j++)
			if ((rc = settle_body(ids[j], 1, &g, &d, e)) == -1)
				failed = 1;
			else if (rc == 2)
				alone[nalone++] = ids[j];
		if (!failed && add_counts(&d, e) == 0 &&
		    db_commit(set.db, e) == 0) {
			t->settled += g.settled;
			t->finished += g.finished;
			t->queued += g.queued;
			for (j = 0; j < nalone && !quit; j++)
				if (settle(alone[j], t, e) == -1)
					return -1;
			continue;
		}
		db_rollback(set.db);
		if (db_error_is_gone(e->code))
			return -1;
		for (j = i; j < i + k && !quit; j++)
			if (settle(ids[j], t, e) == -1)
				return -1;
	}
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
 * The fast pass: the requests waiting for a fetch that ended since bound;
 * *found how many.  The bound moves to this pass's start (less the
 * overlap) unless the pass stopped at its limit: then the next pass, at
 * once, takes the rest from the same bound (those settled no longer
 * match).  Unless every one failed: they would fill the next pass again,
 * so they are left to the sweep.
 */
static int
fast_pass(size_t *found, struct db_err *e)
{
	MYSQL_STMT	*q = st[S_FAST];
	MYSQL_BIND	 p[2], o[2];
	struct tally	 t;
	long long	 from = bound_us, limit = SETTLE_PAGE, tag, v;
	long long	 clock = 0;
	size_t		 n = 0;
	int		 rc;

	*found = 0;
	db_bind_i64(&p[0], &from);
	db_bind_i64(&p[1], &limit);
	db_bind_i64(&o[0], &tag);
	db_bind_i64(&o[1], &v);
	if (db_run(set.db, q, p, "settle: fast pass", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "settle: fast pass", e);
	while ((rc = mysql_stmt_fetch(q)) == 0)
		if (tag == 0)
			clock = v;
		else if (n < SETTLE_PAGE)
			cand[n++] = (unsigned long long)v;
	if (db_fetch_end(set.db, q, rc, "settle: fast pass", e) == -1)
		return -1;

	memset(&t, 0, sizeof(t));
	if (settle_all(cand, n, &t, e) == -1)
		return -1;
	report("fast pass", &t);
	if (n < SETTLE_PAGE || t.failed == n)
		bound_us = clock - SETTLE_OVERLAP_US;
	*found = n;
	return 0;
}

/* The database's clock. */
static int
db_clock(int64_t *us, struct db_err *e)
{
	MYSQL_BIND	 o[1];
	long long	 v;

	db_bind_i64(&o[0], &v);
	if (db_one_row(set.db, st[S_CLOCK], NULL, o, "settle: clock", e) != 0)
		return -1;
	*us = v;
	return 0;
}

/* Every request still waiting, in pages; those whose fetch ended settled. */
static int
sweep(struct db_err *e)
{
	MYSQL_STMT	*q = st[S_SWEEP];
	MYSQL_BIND	 p[4], o[3];
	struct tally	 t;
	unsigned long long after_fetch = 0, after_id = 0, wait, id;
	long long	 limit = SETTLE_PAGE, ended;
	int64_t		 start;
	size_t		 n, rows;
	int		 rc;

	if (db_clock(&start, e) == -1)
		return -1;
	memset(&t, 0, sizeof(t));
	do {
		db_bind_u64(&p[0], &after_fetch);
		db_bind_u64(&p[1], &after_fetch);
		db_bind_u64(&p[2], &after_id);
		db_bind_i64(&p[3], &limit);
		db_bind_u64(&o[0], &wait);
		db_bind_u64(&o[1], &id);
		db_bind_i64(&o[2], &ended);
		if (db_run(set.db, q, p, "settle: sweep", e) == -1 ||
		    mysql_stmt_bind_result(q, o) != 0)
			return db_fail(set.db, q, "settle: sweep", e);
		n = rows = 0;
		while ((rc = mysql_stmt_fetch(q)) == 0) {
			rows++;
			after_fetch = wait;
			after_id = id;
			if (ended && n < SETTLE_PAGE)
				cand[n++] = id;
		}
		if (db_fetch_end(set.db, q, rc, "settle: sweep", e) == -1)
			return -1;
		if (settle_all(cand, n, &t, e) == -1)
			return -1;
	} while (rows == SETTLE_PAGE && !quit);
	report("sweep", &t);
	/* Everything that ended before the sweep began is settled (or
	 * failed and logged): the fast passes start from there at least. */
	if (!have_bound || bound_us < start - SETTLE_OVERLAP_US)
		bound_us = start - SETTLE_OVERLAP_US;
	have_bound = 1;
	return 0;
}

/*
 * The settle's passes that are due: -1 when the connection is gone
 * (lost), else 0 (a failed pass is logged and tried again after
 * RETRY_US).
 */
static int
tick(void)
{
	struct db_err	 e;
	size_t		 found;
	int64_t		 now = daemon_mono_us();

	if (lost)
		return -1;
	memset(&e, 0, sizeof(e));
	if (now >= next_sweep) {
		if (sweep(&e) == -1) {
			next_sweep = daemon_mono_us() + RETRY_US;
			goto fail;
		}
		next_sweep = daemon_mono_us() + SWEEP_EVERY_S * 1000000LL;
	}
	/* The fast passes start once a sweep has covered what came before. */
	if (have_bound && now >= next_fast && !quit) {
		if (fast_pass(&found, &e) == -1) {
			next_fast = daemon_mono_us() + RETRY_US;
			goto fail;
		}
		next_fast = found > 0 ? now : daemon_mono_us() + SETTLE_EVERY_US;
	}
	return 0;
fail:
	if (db_error_is_gone(e.code)) {
		lost = 1;
		gone = e;
		return -1;
	}
	log_warnx("%s", e.msg);
	return 0;
}

/* When the settle's next pass is due. */
static int64_t
settle_due(void)
{
	if (!have_bound || next_sweep < next_fast)
		return next_sweep;
	return next_fast;
}

/*
 * purge.h's pause: the purge's transaction has committed; settle what is
 * due meanwhile, and sleep the rest of us.  -1: stop (SIGTERM).
 */
static int
purge_pause(int64_t us)
{
	int64_t	 deadline = daemon_mono_us() + us, t;

	while (!quit && daemon_mono_us() < deadline) {
		if (tick() == -1 || (t = settle_due()) > deadline)
			t = deadline;	/* gone: the purge finds it so too */
		nap_until(t);
	}
	return quit ? -1 : 0;
}

int
settle_run(const struct config *conf)
{
	struct db_err	 e;
	int64_t		 now;
	int		 rc;

	cf = conf;
	srandom((unsigned int)(getpid() ^ time(NULL)));	/* db_retry's pauses */
	retention = purge_wanted(cf);
	daemon_child_signals(on_term);
	/* ps and top tell it from the fetching children. */
	(void)prctl(PR_SET_NAME, "owm-housekeep", 0, 0, 0);
	if (retention)
		log_info("housekeeping: settling requests; retention: requests "
		    "kept %lld days, readings %lld days (0: for ever), in "
		    "transactions of at most %d rows",
		    cf->retention.requests_days, cf->retention.readings_days,
		    PURGE_MAX_ROWS);
	else
		log_info("housekeeping: settling requests; retention off");
	next_purge = daemon_mono_us();

	while (!quit) {
		if (db_conn_up(&conn, cf, &e) == -1) {
			nap_until(conn.next_try);
			continue;
		}
		if (tick() == -1) {
			db_conn_lost(&conn, &gone);
			continue;
		}
		now = daemon_mono_us();
		if (retention && now >= next_purge && !quit) {
			memset(&e, 0, sizeof(e));
			rc = purge_pass(purge_pause, &e);
			if (lost || (rc == -1 && db_error_is_gone(e.code))) {
				db_conn_lost(&conn, lost ? &gone : &e);
				continue;
			}
			if (rc == -1)
				log_warnx("purge: %s", e.msg);
			next_purge = daemon_mono_us() + (rc == -1 &&
			    db_error_is_retryable(e.code) ? RETRY_US :
			    PURGE_EVERY_S * 1000000LL);
			continue;
		}
		nap_until(retention && next_purge < settle_due() ? next_purge :
		    settle_due());
	}
	db_conn_close(&conn);
	free(drops);
	return 0;
}
