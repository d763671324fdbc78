/*
 * resolve.c: see resolve.h.  Owns resolving a deferred request: its
 * requests.cities references, wait_fetch, collected and finished_at as a
 * POST would have written them, the queue entries of its new cities, and
 * the counters' collected/queued deltas (and ended: a GET's cached answer
 * of the request is out of date once it is resolved, fcgi/read.c).
 *
 * A round is one transaction whose locks take the steps of
 * docs/design.md, "Lock order", as a POST's do: the requests it resolves,
 * locked FOR UPDATE SKIP LOCKED in ascending id through the wait_fetch
 * index (lock 1: a row a cancel holds, or another host's resolver, is
 * passed over; a cancel clears the mark, so a cancelled request is never
 * resolved); their new cities' queue entries under the queue lock, then
 * the turns of those queued already (lock 2, city_tasks ascending twice,
 * as a POST); the requests' own rows (lock 3); the counters shard (lock
 * 4).  The look-up between is the POST's own plain read (queue.h:
 * queue_look_sql), made once for the round's distinct cities.
 *
 * Each distinct city takes, as a POST would, the turn base + its earliest
 * position among the round's requests, and is queued (when it must be) on
 * behalf of the first request that lists it (created_by: a cancel of that
 * request drops it, and the settle queues it again for the others).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "config.h"
#include "counters.h"
#include "daemon.h"
#include "log.h"
#include "queue.h"
#include "resolve.h"
#include "rules.h"

/* The bytes of references one statement carries, about: a round of 200
 * requests of 1,000 cities is some 5 MB, sent in parts well under the
 * server's max_allowed_packet. */
#define REFS_CHUNK	(256 * 1024)

/*
 * A marked request that cannot be resolved (its total or its list out of
 * bounds: written by hand, or by a bug) would fail every round, and so
 * hold every other deferred request back.  Its round names it; it is
 * passed over for PASS_US, logged each time, then tried again (a row
 * mended by hand resolves then; a cancel ends it).  Meanwhile
 * /metrics' oldest unresolved age grows, and OwmcollectUnresolvedStale
 * fires.
 */
#define PASS_MAX	32
#define PASS_US		(600 * 1000000LL)

enum {
	RS_ANY,
	RS_LOCK,
	RS_CITIES,
	RS_LOOK,
	RS_QUEUE_LOCK,
	RS_QUEUE,
	RS_QUEUED,
	RS_LOWER,
	RS_REFS,
	RS_COUNTERS,
	RS_COUNT
};

static const char *const sql[RS_COUNT] = {
	/* Whether any request is marked, but those passed over ([id, ...],
	 * below): a plain read of the index's head, outside a transaction,
	 * so an idle round is one statement.  EXPLAIN: requests ref
	 * wait_fetch "Using where; Using index". */
	[RS_ANY] =
	    "SELECT EXISTS (SELECT 1 FROM requests FORCE INDEX (wait_fetch) "
	    "WHERE wait_fetch = 0 AND NOT JSON_CONTAINS(?, CAST(id AS CHAR)))",
	/* Lock 1: the marked requests, ascending id, but those passed
	 * over.  EXPLAIN: requests ref wait_fetch "Using where; Using
	 * index". */
	[RS_LOCK] =
	    "SELECT id, total FROM requests FORCE INDEX (wait_fetch) "
	    "WHERE wait_fetch = 0 AND NOT JSON_CONTAINS(?, CAST(id AS CHAR)) "
	    "ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED",
	/* Their cities ([id, ...]): the request's place in the list, the
	 * city's in the request (both from 1) and the city.  Rows the
	 * round holds locked: read as they are. */
	[RS_CITIES] =
	    "SELECT x.k, j.pos, j.city_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (k FOR ORDINALITY, id BIGINT UNSIGNED PATH '$')) x "
	    "STRAIGHT_JOIN requests r ON r.id = x.id "
	    "STRAIGHT_JOIN JSON_TABLE(r.cities, '$[*]' "
	    "COLUMNS (pos FOR ORDINALITY, "
	    "city_id INT UNSIGNED PATH '$[0]')) j",
	[RS_LOOK] = queue_look_sql,
	[RS_QUEUE_LOCK] = queue_lock_sql,
	[RS_QUEUE] = queue_insert_sql,
	/* The fetches of the cities just queued (the queue's list): a
	 * plain read that sees the entries this transaction inserted and
	 * those it found (it holds their lock). */
	[RS_QUEUED] =
	    "SELECT t.city_id, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]')) j "
	    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id",
	[RS_LOWER] = queue_lower_sql,
	/*
	 * Lock 3: the requests' references, a chunk of the round's requests
	 * at a time ([[id, [[city, reading, fetch], ...], wait_fetch or 0,
	 * collected], ...]); finished now when every city was fresh (no
	 * fetch to wait for).  EXPLAIN: j ALL (the list), r eq_ref PRIMARY.
	 */
	[RS_REFS] =
	    "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$[0]', "
	    "refs JSON PATH '$[1]', wait BIGINT UNSIGNED PATH '$[2]', "
	    "fresh SMALLINT UNSIGNED PATH '$[3]')) j "
	    "STRAIGHT_JOIN requests r ON r.id = j.id "
	    "SET r.cities = j.refs, r.wait_fetch = NULLIF(j.wait, 0), "
	    "r.collected = j.fresh, r.finished_at = IF(j.wait = 0, ?, NULL) "
	    "WHERE r.wait_fetch = 0",
	[RS_COUNTERS] = counters_add_sql,
};

/* A request of the round. */
struct req {
	unsigned long long id;
	size_t		 first, n;	/* its cities in city[] */
	size_t		 got;		/* those RS_CITIES gave */
};

/* A distinct city of the round, and what serves it. */
struct dcity {
	unsigned int	 city, pos;	/* its earliest position */
	size_t		 k;		/* the first request listing it */
	unsigned long long reading, fetch, turn;
	int		 queued;	/* a queue entry was found */
};

/* The round under way: its arrays live for one round. */
struct round {
	struct req	 req[RESOLVE_MAX];
	size_t		 nreq;
	unsigned int	*city;		/* every request's, in order */
	size_t		 ncity;
	struct dcity	*d;		/* distinct, ascending city */
	size_t		 nd;
	MYSQL_TIME	 now;
	unsigned long long base, fresh, queued, resolved;
	unsigned long long bad;		/* the request its failure is of */
};

/* The requests passed over, and until when (daemon_mono_us). */
static struct pass {
	unsigned long long id;
	int64_t		 until;
} pass[PASS_MAX];
static size_t		 npass;

static const struct config	*cf;
static MYSQL_STMT		*st[RS_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static struct buf		 list, passing;

int
resolve_open(MYSQL *db, const struct config *conf, struct db_err *e)
{
	cf = conf;
	return db_set_open(&set, db, e);
}

void
resolve_close(void)
{
	db_set_close(&set);
	buf_free(&list);
	buf_free(&passing);
}

static int
fail(struct db_err *e, const char *what)
{
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "resolve: %s", what);
	return -1;
}

/* RS_LOCK's row. */
struct lock_row {
	struct round	*r;
	unsigned long long id, total;
};

static int
lock_row(void *arg, struct db_err *e)
{
	struct lock_row	*l = arg;
	struct round	*r = l->r;

	if (r->nreq == RESOLVE_MAX)
		return fail(e, "more requests than the round asked for");
	if (l->total == 0 || l->total > CITIES_MAX) {
		r->bad = l->id;
		return fail(e, "a marked request's total is out of bounds");
	}
	r->req[r->nreq] = (struct req){ .id = l->id, .first = r->ncity,
	    .n = (size_t)l->total };
	r->ncity += (size_t)l->total;
	r->nreq++;
	return 0;
}

/* RS_CITIES's row. */
struct city_row {
	struct round	*r;
	unsigned long long k, pos, city;
};

static int
city_row(void *arg, struct db_err *e)
{
	struct city_row	*c = arg;
	struct req	*q;

	if (c->k == 0 || c->k > c->r->nreq)
		return fail(e, "a city of no request in hand");
	q = &c->r->req[c->k - 1];
	if (c->pos == 0 || c->pos > q->n || c->city == 0) {
		c->r->bad = q->id;
		return fail(e, "a request's list does not match its total");
	}
	c->r->city[q->first + c->pos - 1] = (unsigned int)c->city;
	q->got++;
	return 0;
}

/* Lock 1, and every city of the requests locked. */
static int
take(struct round *r, struct db_err *e)
{
	struct lock_row	 l = { .r = r };
	struct city_row	 c = { .r = r };
	long long	 limit = RESOLVE_MAX;
	MYSQL_BIND	 p[2], o[3];
	unsigned long	 len, plen;
	size_t		 i;

	db_bind_str(&p[0], passing.data, &plen);
	db_bind_i64(&p[1], &limit);
	db_bind_u64(&o[0], &l.id);
	db_bind_u64(&o[1], &l.total);
	if (db_rows(set.db, st[RS_LOCK], p, o, "resolve: requests", lock_row,
	    &l, e) == -1)
		return -1;
	if (r->nreq == 0)
		return 0;
	if ((r->city = calloc(r->ncity, sizeof(r->city[0]))) == NULL)
		return fail(e, "out of memory");
	db_list_start(&list);
	for (i = 0; i < r->nreq; i++)
		db_list_num(&list, r->req[i].id);
	if (db_list_bind(&p[0], &list, &len, "resolve: requests", e) == -1)
		return -1;
	db_bind_u64(&o[0], &c.k);
	db_bind_u64(&o[1], &c.pos);
	db_bind_u64(&o[2], &c.city);
	if (db_rows(set.db, st[RS_CITIES], p, o, "resolve: cities", city_row,
	    &c, e) == -1)
		return -1;
	for (i = 0; i < r->nreq; i++)
		if (r->req[i].got != r->req[i].n) {
			r->bad = r->req[i].id;
			return fail(e, "a request's list does not match its "
			    "total");
		}
	return 0;
}

static int
dcity_cmp(const void *a, const void *b)
{
	const struct dcity *x = a, *y = b;

	if (x->city != y->city)
		return x->city < y->city ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The round's distinct cities, each at its earliest position and with
 * the first request listing it. */
static int
distinct(struct round *r, struct db_err *e)
{
	size_t	 i, j, n = 0;

	if ((r->d = calloc(r->ncity, sizeof(r->d[0]))) == NULL)
		return fail(e, "out of memory");
	for (i = 0; i < r->nreq; i++)
		for (j = 0; j < r->req[i].n; j++)
			r->d[n++] = (struct dcity){
			    .city = r->city[r->req[i].first + j],
			    .pos = (unsigned int)j, .k = i };
	qsort(r->d, n, sizeof(r->d[0]), dcity_cmp);
	for (i = 0, r->nd = 0; i < n; i++)
		if (r->nd == 0 || r->d[r->nd - 1].city != r->d[i].city)
			r->d[r->nd++] = r->d[i];
		else if (r->d[i].k < r->d[r->nd - 1].k)
			r->d[r->nd - 1].k = r->d[i].k;
	return 0;
}

static int
city_key_cmp(const void *key, const void *elem)
{
	unsigned long long city = *(const unsigned long long *)key;
	const struct dcity *d = elem;

	return city < d->city ? -1 : city > d->city;
}

/* The round's distinct city, or NULL. */
static struct dcity *
find(struct round *r, unsigned long long city)
{
	return bsearch(&city, r->d, r->nd, sizeof(r->d[0]), city_key_cmp);
}

/* A row of RS_LOOK, into the round. */
static int
look_row(void *arg, const struct queue_look_row *l, struct db_err *e)
{
	struct round	*r = arg;
	struct dcity	*d;

	(void)e;
	r->now = l->now;
	r->base = l->base;
	if (l->pos_null || l->pos >= r->nd)
		return 0;
	d = &r->d[l->pos];
	if (l->reading != 0)
		d->reading = l->reading;
	else if (!l->turn_null && !l->fetch_null) {
		d->fetch = l->fetch;
		d->turn = l->turn;
		d->queued = 1;
	}
	return 0;
}

/* The clock, the queue's turn, and what serves each distinct city. */
static int
look(struct round *r, struct db_err *e)
{
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	long long	 rows;
	size_t		 i;

	db_list_start(&list);
	for (i = 0; i < r->nd; i++)
		db_list_num(&list, r->d[i].city);
	if (db_list_bind(&b[0], &list, &len, "resolve: look-up", e) == -1)
		return -1;
	if ((rows = queue_look(set.db, st[RS_LOOK], cf->worker.reuse_seconds,
	    &b[0], "resolve: look-up", look_row, r, e)) == -1)
		return -1;
	return rows == 0 ? fail(e, "look-up: no clock") : 0;
}

/* RS_QUEUED's row. */
struct queued_row {
	struct round	*r;
	unsigned long long city, fetch;
	size_t		 got;
};

static int
queued_row(void *arg, struct db_err *e)
{
	struct queued_row *q = arg;
	struct dcity	*d = find(q->r, q->city);

	(void)e;
	if (d != NULL && d->reading == 0 && d->fetch == 0 && q->fetch != 0) {
		d->fetch = q->fetch;
		q->got++;
	}
	return 0;
}

/* Lock 2: queue the cities neither fresh nor queued, and learn their
 * fetches. */
static int
queue(struct round *r, size_t nnew, struct db_err *e)
{
	struct queued_row q = { .r = r };
	struct queue_add add = { .at = r->now, .base = r->base,
			    .read_timeout = cf->mysql.read_timeout };
	MYSQL_BIND	 b[1], o[2];
	unsigned long	 len;
	size_t		 i;

	db_list_start(&list);
	for (i = 0; i < r->nd; i++)
		if (r->d[i].reading == 0 && !r->d[i].queued)
			db_list_tuple(&list, (unsigned long long[]){
			    r->d[i].city, r->d[i].pos,
			    r->req[r->d[i].k].id }, 3);
	if (db_list_bind(&b[0], &list, &len, "resolve: queue", e) == -1)
		return -1;
	add.cities = &b[0];
	switch (queue_cities(set.db, st[RS_QUEUE_LOCK], st[RS_QUEUE], &add,
	    &r->queued, e)) {
	case QUEUE_DONE:
		break;
	case QUEUE_BUSY:
		return fail(e, "the queue lock was not granted in time");
	default:
		return -1;
	}
	db_bind_u64(&o[0], &q.city);
	db_bind_u64(&o[1], &q.fetch);
	if (db_rows(set.db, st[RS_QUEUED], b, o, "resolve: queued", queued_row,
	    &q, e) == -1)
		return -1;
	return q.got == nnew ? 0 :
	    fail(e, "a city just queued is not in the queue");
}

/* Lock 2 again: the turns of entries queued later than the round's
 * requests would give them. */
static int
lower(struct round *r, struct db_err *e)
{
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	size_t		 i, n = 0;

	db_list_start(&list);
	for (i = 0; i < r->nd; i++)
		if (r->d[i].queued && r->d[i].turn > r->base + r->d[i].pos) {
			db_list_tuple(&list, (unsigned long long[]){
			    r->d[i].city, r->base + r->d[i].pos }, 2);
			n++;
		}
	if (n == 0)
		return 0;
	if (db_list_bind(&b[0], &list, &len, "resolve: turns", e) == -1)
		return -1;
	return db_run(set.db, st[RS_LOWER], b, "resolve: turns", e);
}

/* Lock 3: the references of the requests listed since db_list_start
 * (n of them), as a POST would have written them. */
static int
refs_flush(struct round *r, size_t n, struct db_err *e)
{
	MYSQL_BIND	 b[2];
	unsigned long	 len;

	if (db_list_bind(&b[0], &list, &len, "resolve: references", e) == -1)
		return -1;
	db_bind_time(&b[1], &r->now);
	if (db_run(set.db, st[RS_REFS], b, "resolve: references", e) == -1)
		return -1;
	if (mysql_stmt_affected_rows(st[RS_REFS]) != n)
		return fail(e, "a request of the round was not updated");
	r->resolved += n;
	return 0;
}

/* One request's references, onto the list: [id, [...], wait, fresh]. */
static int
refs_add(struct round *r, const struct req *q, struct db_err *e)
{
	unsigned long long wait = 0, fresh = 0;
	struct dcity	*d;
	size_t		 i;

	buf_adds(&list, list.len > 1 ? ",[" : "[");
	buf_addu(&list, q->id);
	buf_adds(&list, ",[");
	for (i = 0; i < q->n; i++) {
		if ((d = find(r, r->city[q->first + i])) == NULL)
			return fail(e, "a city of the round not looked up");
		buf_printf(&list, "%s[%u,%llu,%llu]", i > 0 ? "," : "",
		    d->city, d->reading, d->fetch);
		if (d->reading != 0)
			fresh++;
		else if (d->fetch > wait)
			wait = d->fetch;
	}
	if (fresh < q->n && wait == 0)
		return fail(e, "a city neither fresh nor queued");
	buf_printf(&list, "],%llu,%llu]", wait, fresh);
	r->fresh += fresh;
	return 0;
}

/* Lock 3: every request's references, in statements of about
 * REFS_CHUNK bytes. */
static int
refs(struct round *r, struct db_err *e)
{
	size_t	 i, n = 0;

	db_list_start(&list);
	for (i = 0; i < r->nreq; i++) {
		if (refs_add(r, &r->req[i], e) == -1)
			return -1;
		n++;
		if (i + 1 < r->nreq && list.len < REFS_CHUNK)
			continue;
		if (refs_flush(r, n, e) == -1)
			return -1;
		db_list_start(&list);
		n = 0;
	}
	return 0;
}

/* One attempt at the round (db_transaction's body). */
static int
round_once(void *arg, struct db_err *e)
{
	struct round	*r = arg;
	struct counts	 c;
	size_t		 i, nnew = 0;

	free(r->city);
	free(r->d);
	memset(r, 0, sizeof(*r));
	if (take(r, e) == -1)
		return -1;
	if (r->nreq == 0)
		return 0;
	if (distinct(r, e) == -1 || look(r, e) == -1)
		return -1;
	for (i = 0; i < r->nd; i++)
		if (r->d[i].reading == 0 && !r->d[i].queued)
			nnew++;
	if ((nnew > 0 && queue(r, nnew, e) == -1) || lower(r, e) == -1)
		return -1;
	if (refs(r, e) == -1)
		return -1;
	c = (struct counts){ .collected = (long long)r->fresh,
	    .queued = (long long)r->queued, .ended = 1 };
	return counters_add(set.db, st[RS_COUNTERS], &c, e);
}

/* The list of the requests passed over ([id, ...]), those whose time
 * is up dropped. */
static int
pass_list(struct db_err *e)
{
	int64_t	 now = daemon_mono_us();
	size_t	 i;

	db_list_start(&passing);
	for (i = 0; i < npass;)
		if (pass[i].until <= now)
			pass[i] = pass[--npass];
		else
			db_list_num(&passing, pass[i++].id);
	buf_addc(&passing, ']');
	return buf_cstr(&passing) == NULL ? fail(e, "out of memory") : 0;
}

/* Pass over request id (its round failed on it: e), in place of the one
 * whose time is up soonest when PASS_MAX are. */
static void
pass_over(unsigned long long id, const struct db_err *e)
{
	size_t	 i, k = npass;

	if (npass == PASS_MAX)
		for (i = k = 0; i < npass; i++)
			if (pass[i].until < pass[k].until)
				k = i;
	pass[k] = (struct pass){ .id = id,
	    .until = daemon_mono_us() + PASS_US };
	if (k == npass)
		npass++;
	log_warnx("%s: request %llu cannot be resolved; the others' rounds "
	    "pass it over for %lld s (a cancel ends it)", e->msg, id,
	    PASS_US / 1000000);
}

int
resolve_round(size_t *found, struct db_err *e)
{
	struct round	*r;
	MYSQL_BIND	 p[1], o[1];
	unsigned long	 len;
	long long	 any = 0;
	int		 rc;

	*found = 0;
	if (pass_list(e) == -1)
		return -1;
	db_bind_str(&p[0], passing.data, &len);
	db_bind_i64(&o[0], &any);
	if (db_one_row(set.db, st[RS_ANY], p, o, "resolve: any", e) != 0)
		return -1;
	if (!any)
		return 0;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return fail(e, "out of memory");
	if ((rc = db_transaction(set.db, round_once, r, e)) == 0) {
		*found = r->nreq;
		if (r->nreq > 0)
			log_debug("resolve: %llu requests, %zu cities (%zu "
			    "distinct): %llu fresh, %llu queued",
			    r->resolved, r->ncity, r->nd, r->fresh, r->queued);
	} else if (r->bad != 0) {
		pass_over(r->bad, e);
		rc = 0;
	}
	free(r->city);
	free(r->d);
	free(r);
	buf_reset(&list);	/* a big round's list is not kept */
	return rc == 0 ? 0 : -1;
}
