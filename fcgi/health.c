/*
 * health.c: see health.h.
 *
 * Two statements per endpoint, each one round trip, and none reads more
 * than a few rows however old the database: the requests' and the queue's
 * figures are the running counts the POST, cancel, completion and settle
 * transactions keep (counters, summed over its shards), the oldest queue
 * entry is the head of an index, the gate's window is the last minute's
 * slots.  Times are the database's clock, the one the children beat with,
 * so a host's skew never fakes an age.  reply.c shapes what they read.
 *
 * The hosts and the outcomes of calls are rows of their own, as many as
 * the tables hold: kept in a buffer each (buf.h, whose failure says when
 * memory ran out), reused from one answer to the next.
 */
#include <string.h>

#include "admit.h"
#include "answers.h"
#include "buf.h"
#include "health.h"
#include "rules.h"

#define ALIVE	"heartbeat_at > NOW(6) - " RULES_ALIVE_SQL
#define COUNTER(x)	"COALESCE(SUM(" x "), 0)"
/* 1 while the gate is paused for reason r (its one row, a primary key). */
#define PAUSED(r)	"COALESCE((SELECT paused_until > NOW(6) AND " \
			"pause_reason = '" r "' FROM rate_gate WHERE id = 1), 0)"

enum {
	HS_GATE,
	HS_WORKERS,
	HS_SUMS,
	HS_CALLS,
	HS_COUNT
};

static const char *const sql[HS_COUNT] = {
	[HS_GATE] =
	    "SELECT g.paused_until > NOW(6), COALESCE(g.pause_reason, ''), "
	    "DATE_FORMAT(g.paused_until, '%Y-%m-%dT%H:%i:%s.%fZ'), "
	    "(SELECT " COUNTER("queued") " FROM counters), "
	    "(SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) "
	    "FROM city_tasks), "
	    "g.outage_since IS NOT NULL, "
	    "DATE_FORMAT(g.outage_since, '%Y-%m-%dT%H:%i:%s.%fZ'), "
	    "COALESCE(g.outage_error, '') "
	    "FROM rate_gate g WHERE g.id = 1",
	[HS_WORKERS] =
	    "SELECT host, COALESCE(SUM(" ALIVE "), 0), "
	    "TIMESTAMPDIFF(MICROSECOND, MAX(heartbeat_at), NOW(6)) "
	    "FROM worker_children GROUP BY host ORDER BY host",
	[HS_SUMS] =
	    "SELECT r.n, r.cities - r.collected - r.failed, r.collected, "
	    "r.failed, w.cities, c.wait_us, c.alive, c.restarts, r.queued, "
	    "COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, outage_since, "
	    "NOW(6)) FROM rate_gate WHERE id = 1), -1), "
	    PAUSED(RULES_PAUSE_429) ", " PAUSED(RULES_PAUSE_KEY) ", "
	    PAUSED(RULES_PAUSE_MONTH) ", "
	    "COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), "
	    "NOW(6)) FROM city_tasks), 0), "
	    "COALESCE((SELECT behind_until > NOW(6) FROM rate_gate "
	    "WHERE id = 1), 0), "
	    /* The oldest deferred request not resolved yet: the head of
	     * the wait_fetch index's 0 entries (worker/resolve.c). */
	    "COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, requested_at, "
	    "NOW(6)) FROM requests FORCE INDEX (wait_fetch) "
	    "WHERE wait_fetch = 0 ORDER BY id LIMIT 1), 0) FROM "
	    "(SELECT " COUNTER("requests") " AS n, "
	    COUNTER("cities") " AS cities, "
	    COUNTER("collected") " AS collected, "
	    COUNTER("failed") " AS failed, "
	    COUNTER("queued") " AS queued FROM counters) r, "
	    "(SELECT COALESCE(SUM(cities), 0) AS cities FROM rate_slots "
	    "WHERE slot_at > NOW(6) - " RULES_WINDOW_SQL " "
	    "AND slot_at <= NOW(6)) w, "
	    "(SELECT COALESCE(SUM(gate_wait_us), 0) AS wait_us, "
	    "COALESCE(SUM(" ALIVE "), 0) AS alive, "
	    "COALESCE(SUM(IF(" ALIVE ", restarts, 0)), 0) AS restarts "
	    "FROM worker_children) c",
	[HS_CALLS] =
	    "SELECT outcome, n FROM api_calls ORDER BY outcome",
};

/* HS_GATE's columns, in its SELECT's order. */
enum {
	GT_PAUSED,
	GT_REASON,
	GT_UNTIL,
	GT_QUEUED,
	GT_OLDEST,
	GT_DOWN,
	GT_SINCE,
	GT_WHY,
	GT_COLS
};

/* HS_SUMS's columns, in its SELECT's order. */
enum {
	SUM_REQUESTS,
	SUM_PENDING,
	SUM_COLLECTED,
	SUM_FAILED,
	SUM_WINDOW,
	SUM_WAIT_US,
	SUM_ALIVE,
	SUM_RESTARTS,
	SUM_QUEUED,
	SUM_DOWN_US,
	SUM_PAUSED_429,
	SUM_PAUSED_KEY,
	SUM_PAUSED_MONTH,
	SUM_OLDEST_US,
	SUM_BEHIND,
	SUM_UNRESOLVED_US,
	SUM_COLS
};

/* An HS_WORKERS row. */
struct host_row {
	char		 host[64];
	unsigned long	 len;
	long long	 alive, age_us;
	my_bool		 alive_null, age_null;
};

/* An HS_CALLS row. */
struct call_row {
	char		 outcome[40];
	unsigned long	 len;
	long long	 n;
	my_bool		 n_null;
};

static MYSQL_STMT		*st[HS_COUNT];
static struct db_set		 health_stmts = DB_SET(sql, st);
static struct buf		 hosts;		/* struct health_host */
static struct buf		 calls;		/* struct health_call */

int
health_open(MYSQL *db, struct db_err *e)
{
	return db_set_open(&health_stmts, db, e);
}

void
health_close(void)
{
	db_set_close(&health_stmts);
}

static void
bind_ll(MYSQL_BIND *b, long long *v, my_bool *is_null)
{
	db_bind_i64(b, v);
	b->is_null = is_null;
}

static size_t
clamp(unsigned long len, size_t cap)
{
	return len < cap ? len : cap;
}

/* An HS_WORKERS row appended to hosts. */
static int
host_row(void *arg, struct db_err *e)
{
	struct host_row	*r = arg;
	struct health_host h = { .len = clamp(r->len, sizeof(r->host)) };

	(void)e;
	memcpy(h.host, r->host, h.len);
	h.alive = r->alive_null ? 0 : r->alive;
	h.age_known = !r->age_null;
	h.age_us = r->age_null ? 0 : r->age_us;
	buf_add(&hosts, &h, sizeof(h));
	return 0;
}

/* Every worker host into h; their rows stay in hosts. */
static int
read_workers(struct health *h, struct db_err *e)
{
	struct host_row	 r;
	MYSQL_BIND	 o[3];
	size_t		 i;

	buf_reset(&hosts);
	db_bind_out_str(&o[0], r.host, sizeof(r.host), &r.len, NULL);
	bind_ll(&o[1], &r.alive, &r.alive_null);
	bind_ll(&o[2], &r.age_us, &r.age_null);
	if (db_rows(health_stmts.db, st[HS_WORKERS], NULL, o, "health workers",
	    host_row, &r, e) == -1)
		return -1;
	/* buf's data is malloc's: aligned for any struct. */
	h->host = (const struct health_host *)(void *)hosts.data;
	h->hosts = hosts.len / sizeof(*h->host);
	for (i = 0; i < h->hosts; i++)
		if (h->host[i].alive > 0)
			h->alive_hosts++;
	return 0;
}

/* The gate's pause and the queue; no gate row yet: nothing paused. */
static int
read_gate(struct health *h, struct db_err *e)
{
	MYSQL_BIND	 o[GT_COLS];
	long long	 paused = 0, down = 0;
	unsigned long	 rlen = 0, ulen = 0, slen = 0, wlen = 0;
	my_bool		 pnull = 1, qnull = 1, onull = 1, dnull = 1;
	int		 rc;

	bind_ll(&o[GT_PAUSED], &paused, &pnull);
	db_bind_out_str(&o[GT_REASON], h->reason, sizeof(h->reason), &rlen,
	    NULL);
	db_bind_out_str(&o[GT_UNTIL], h->until, sizeof(h->until), &ulen,
	    NULL);
	bind_ll(&o[GT_QUEUED], &h->queued, &qnull);
	bind_ll(&o[GT_OLDEST], &h->oldest_us, &onull);
	bind_ll(&o[GT_DOWN], &down, &dnull);
	db_bind_out_str(&o[GT_SINCE], h->since, sizeof(h->since), &slen,
	    NULL);
	db_bind_out_str(&o[GT_WHY], h->down_why, sizeof(h->down_why), &wlen,
	    NULL);
	if ((rc = db_one_row(health_stmts.db, st[HS_GATE], NULL, o,
	    "health gate", e)) == -1)
		return -1;
	if (rc == DB_NO_ROW) {
		paused = down = 0;
		pnull = qnull = onull = dnull = 1;
	}
	h->paused = !pnull && paused;
	h->down = !dnull && down;
	h->since_len = clamp(slen, sizeof(h->since));
	h->down_why_len = clamp(wlen, sizeof(h->down_why));
	h->reason_len = clamp(rlen, sizeof(h->reason));
	h->until_len = clamp(ulen, sizeof(h->until));
	h->key_paused = h->paused &&
	    h->reason_len == strlen(RULES_PAUSE_KEY) &&
	    memcmp(h->reason, RULES_PAUSE_KEY, h->reason_len) == 0;
	if (qnull)
		h->queued = 0;
	h->oldest_null = onull;
	return 0;
}

enum store_rc
health_read(struct health *h)
{
	struct db_err	 e;

	memset(h, 0, sizeof(*h));
	if (store_conn() == NULL)
		return STORE_UNAVAILABLE;
	if (read_workers(h, &e) == -1 || read_gate(h, &e) == -1)
		return store_fail("GET /health", &e);
	return hosts.failed ? STORE_UNAVAILABLE : STORE_OK;
}

/* HS_SUMS's one row into m, a NULL as 0. */
static int
read_sums(struct health_sums *m, struct db_err *e)
{
	long long	*col[SUM_COLS] = {
		[SUM_REQUESTS] = &m->requests,
		[SUM_PENDING] = &m->pending,
		[SUM_COLLECTED] = &m->collected,
		[SUM_FAILED] = &m->failed,
		[SUM_WINDOW] = &m->window,
		[SUM_WAIT_US] = &m->wait_us,
		[SUM_ALIVE] = &m->alive,
		[SUM_RESTARTS] = &m->restarts,
		[SUM_QUEUED] = &m->queued,
		[SUM_DOWN_US] = &m->down_us,
		[SUM_PAUSED_429] = &m->paused_429,
		[SUM_PAUSED_KEY] = &m->paused_key,
		[SUM_PAUSED_MONTH] = &m->paused_month,
		[SUM_OLDEST_US] = &m->oldest_us,
		[SUM_BEHIND] = &m->behind,
		[SUM_UNRESOLVED_US] = &m->unresolved_us,
	};
	MYSQL_BIND	 o[SUM_COLS];
	my_bool		 null[SUM_COLS];
	int		 i;

	for (i = 0; i < SUM_COLS; i++)
		bind_ll(&o[i], col[i], &null[i]);
	if (db_one_row(health_stmts.db, st[HS_SUMS], NULL, o, "metrics",
	    e) != 0)
		return -1;
	for (i = 0; i < SUM_COLS; i++)
		if (null[i])
			*col[i] = 0;
	return 0;
}

/* An HS_CALLS row appended to calls. */
static int
call_row(void *arg, struct db_err *e)
{
	struct call_row	*r = arg;
	struct health_call c = { .len = clamp(r->len, sizeof(r->outcome)) };

	(void)e;
	memcpy(c.outcome, r->outcome, c.len);
	c.n = r->n_null ? 0 : r->n;
	buf_add(&calls, &c, sizeof(c));
	return 0;
}

enum store_rc
health_metrics(struct health_sums *m)
{
	struct call_row	 r;
	MYSQL_BIND	 o[2];
	struct db_err	 e;

	memset(m, 0, sizeof(*m));
	if (store_conn() == NULL)
		return STORE_UNAVAILABLE;
	buf_reset(&calls);
	db_bind_out_str(&o[0], r.outcome, sizeof(r.outcome), &r.len, NULL);
	bind_ll(&o[1], &r.n, &r.n_null);
	if (read_sums(m, &e) == -1 ||
	    db_rows(health_stmts.db, st[HS_CALLS], NULL, o, "metrics calls", call_row,
	    &r, &e) == -1)
		return store_fail("GET /metrics", &e);
	if (calls.failed)
		return STORE_UNAVAILABLE;
	m->call = (const struct health_call *)(void *)calls.data;
	m->calls = calls.len / sizeof(*m->call);
	answers_read(m->answers);
	admit_read(&m->post_waits, &m->post_wait_s);
	return STORE_OK;
}
