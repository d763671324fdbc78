/*
 * post.c: POST /collect's transaction; see post.h.
 *
 * A request is stored by reference: its row holds the city list, each
 * city with the fresh reading that fulfilled it at once or the fetch
 * (city_tasks.fetch_id, its outcome in `fetches`) that will.  POST is one
 * transaction: a plain read of which cities are fresh and which queued
 * already, the request row (its unique key decides races on an id), and,
 * only for cities neither fresh nor queued, their queue entries and the
 * row's references to them; the counters shard last.  So the common POST
 * locks no row another request or a worker holds but its counters shard,
 * whatever the flood.
 *
 * A deferred POST (http.defer: always, or while the worker is behind)
 * writes only the request row, its cities unresolved ([[city_id, 0, 0],
 * ...], wait_fetch 0), and the counters: the worker's resolver does the
 * rest in rounds (worker/resolve.c).
 *
 * Its locks take the steps of docs/design.md, "Lock order": the new
 * request row (lock 1, the requests step), the new queue entries (lock 2,
 * city_tasks ascending: lib/queue.c), the row's references (lock 3, its
 * own row), this connection's counters shard (lock 4, last).
 *
 * A COMMIT that went unanswered (the connection lost after it was sent:
 * the writer died behind HAProxy) may or may not have taken effect.  The
 * transaction runs again on a new connection (store_transaction), and
 * the request's unique id decides: its INSERT succeeds when the first
 * did not commit (had it, the key would be taken; were it still
 * committing, the INSERT would wait for it), or fails on the key, and
 * then the row found is this POST's own exactly when it has the row id
 * the first INSERT was given, the requested_at it wrote (NOW(6) of its
 * session) and the same city list in the same order (POST_MINE): answered
 * 202 as the first would have been, from what the first wrote.  Any
 * other row is someone else's: 409 as always.  So a POST is stored once,
 * and one answered 202 is stored.  No column is needed for it: an id
 * InnoDB gave this INSERT and the microsecond it ran at are not shared
 * by another request's row.
 */
#include <stdlib.h>
#include <string.h>

#include <mysqld_error.h>

#include "admit.h"
#include "buf.h"
#include "config.h"
#include "counters.h"
#include "daemon.h"
#include "log.h"
#include "parse.h"
#include "post.h"
#include "queue.h"
#include "store.h"

#define BEHIND_EVERY_US	250000LL	/* read the worker's state this often */

enum {
	POST_LOOK,
	POST_INSERT,
	POST_QUEUE,
	POST_LOWER,
	POST_QUEUED,
	POST_REFS,
	POST_QUEUE_LOCK,
	POST_MINE,
	POST_COUNTERS,
	POST_BEHIND,
	POST_CLOCK,
	POST_COUNT
};

static const char *const sql[POST_COUNT] = {
	/* For how many more microseconds the worker says it is behind
	 * (admit.h; 0 or less: it is not).  Read at most every
	 * BEHIND_EVERY_US, outside the transaction: the gate's row is
	 * written at every reservation, and a POST need not read it. */
	[POST_BEHIND] =
	    "SELECT COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, NOW(6), "
	    "behind_until) FROM rate_gate WHERE id = 1), 0)",
	[POST_LOOK] = queue_look_sql,
	/* A deferred POST's clock: its requested_at. */
	[POST_CLOCK] = "SELECT NOW(6)",
	/*
	 * The request with every city it could resolve: [[city_id,
	 * reading_id, fetch_id], ...].  Lock 1: a new row (its ext_id key
	 * decides a race on the id, the loser waits here, then fails).
	 * Settled at once (finished_at, wait_fetch NULL) when every city
	 * was fresh.
	 */
	[POST_INSERT] =
	    "INSERT INTO requests (ext_id, requested_at, total, collected, "
	    "finished_at, cities, wait_fetch) VALUES (?, ?, ?, ?, ?, ?, ?)",
	/* Lock 2: queue the cities neither fresh nor queued, under
	 * POST_QUEUE_LOCK (lib/queue.c says why). */
	[POST_QUEUE] = queue_insert_sql,
	[POST_QUEUE_LOCK] = queue_lock_sql,
	/*
	 * Fairness: entries queued earlier at a later turn than this
	 * request gives them move forward (queue.h).  Rare: only when a
	 * request puts a city earlier than a bigger one did.  A second
	 * ascending pass after POST_QUEUE's, over other cities (those seen
	 * queued); a cycle through the two would need another POST that
	 * saw the queue otherwise at the same moment: the deadlock retry.
	 */
	[POST_LOWER] = queue_lower_sql,
	/*
	 * The fetches of the cities POST_QUEUE was given ([[id, pos], ...]):
	 * a plain read, which sees the entries this transaction inserted
	 * and those it found (it holds their lock).  NULL: a broken
	 * invariant.
	 */
	[POST_QUEUED] =
	    "SELECT j.pos, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "pos INT UNSIGNED PATH '$[1]')) j "
	    "LEFT JOIN city_tasks t ON t.city_id = j.city_id",
	/* Lock 3: the references of the request's own new row. */
	[POST_REFS] =
	    "UPDATE requests SET cities = ?, wait_fetch = ? WHERE id = ?",
	/*
	 * After an unanswered COMMIT, the row that holds the id: 1 when it
	 * is the one that COMMIT wrote (its row id, its requested_at, its
	 * total and its cities in order: [id, ...] as JSON), else 0.  A
	 * plain read: the key's owner has committed (the INSERT failed on
	 * it).
	 */
	[POST_MINE] =
	    "SELECT id = ? AND requested_at = ? AND total = ? AND "
	    "JSON_EQUALS(JSON_EXTRACT(cities, '$[*][0]'), ?) "
	    "FROM requests WHERE ext_id = ?",
	/* Lock 4: the counts, unless retention purged this id. */
	[POST_COUNTERS] = counters_post_sql,
};

/* A city with its position in the request, for lock 2's order. */
struct city_pos {
	unsigned int	 city;
	unsigned int	 pos;
};

/* What the attempt whose COMMIT went unanswered wrote (post.c's top). */
struct sent {
	int		 unsure;	/* there was one */
	unsigned long long reqid, fresh;
	MYSQL_TIME	 now;
};

/*
 * One attempt at a POST: what it read and wrote.  Each city of the
 * request, by position, has a fresh reading (reading[pos]), or a fetch
 * that will serve it (fetch[pos]), or neither yet (new: to queue); a
 * queued one may move forward to turn lower[pos].
 */
struct post {
	const struct collect_req *r;
	struct sent	 sent;		/* kept across attempts */
	MYSQL_TIME	 now;		/* the database's clock */
	unsigned long long base;	/* the queue's current turn */
	unsigned long long reqid;	/* the new row */
	unsigned long long fresh;	/* cities with a fresh reading */
	unsigned long long queued;	/* queue entries it created */
	size_t		 nnew, nlower;
	int		 deferred;	/* its cities left to the resolver */
};

static const struct config	*cf;
static MYSQL_STMT		*st[POST_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static unsigned long long	 reading[CITIES_MAX], fetch[CITIES_MAX],
				 lower[CITIES_MAX];
static struct city_pos		 byc[CITIES_MAX];	/* by city_id */
static struct buf		 list;	/* the list a statement is given */

void
post_init(const struct config *conf)
{
	cf = conf;
}

int
post_open(MYSQL *db, struct db_err *e)
{
	return db_set_open(&set, db, e);
}

void
post_close(void)
{
	db_set_close(&set);
}

static int
city_cmp(const void *a, const void *b)
{
	const struct city_pos *x = a, *y = b;

	return x->city < y->city ? -1 : x->city > y->city;
}

/* The request's cities in ascending city_id, into byc. */
static void
sort_by_city(const struct collect_req *r)
{
	size_t	 i;

	for (i = 0; i < r->ncities; i++) {
		byc[i].city = r->cities[i];
		byc[i].pos = (unsigned int)i;
	}
	qsort(byc, r->ncities, sizeof(byc[0]), city_cmp);
}

/* A row of POST_LOOK, into p and reading[], fetch[], lower[]. */
static int
look_row(void *arg, const struct queue_look_row *l, struct db_err *e)
{
	struct post	*p = arg;

	(void)e;
	p->now = l->now;
	p->base = l->base;
	if (l->pos_null || l->pos >= p->r->ncities)
		return 0;
	if (l->reading != 0) {
		if (reading[l->pos] == 0)
			p->fresh++;
		reading[l->pos] = l->reading;
	} else if (!l->turn_null && !l->fetch_null && reading[l->pos] == 0) {
		fetch[l->pos] = l->fetch;
		if (l->turn > p->base + l->pos)
			lower[l->pos] = p->base + l->pos;
	}
	return 0;
}

/*
 * The database's clock and the queue's turn (p->now, p->base); which of
 * the request's cities have a reading fresher than worker.reuse_seconds,
 * which of the others are queued, and which of those at a later turn
 * than base + pos would give them (struct post).
 */
static enum store_rc
look(struct post *p, struct db_err *e)
{
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	long long	 rows;
	size_t		 i;

	memset(reading, 0, p->r->ncities * sizeof(reading[0]));
	memset(fetch, 0, p->r->ncities * sizeof(fetch[0]));
	memset(lower, 0, p->r->ncities * sizeof(lower[0]));
	db_list_start(&list);
	for (i = 0; i < p->r->ncities; i++)
		db_list_num(&list, p->r->cities[i]);
	if (db_list_bind(&b[0], &list, &len, "fresh readings", e) == -1)
		return STORE_FAILED;
	if ((rows = queue_look(set.db, st[POST_LOOK], cf->worker.reuse_seconds,
	    &b[0], "fresh readings", look_row, p, e)) == -1)
		return STORE_FAILED;
	if (rows == 0) {
		log_warnx("POST /collect: fresh readings: no clock");
		return STORE_UNAVAILABLE;
	}
	return STORE_OK;
}

/*
 * requests.cities, [[city_id, reading_id, fetch_id], ...] in the
 * request's order, into list; returns the largest fetch (the request's
 * wait_fetch; 0: none).
 */
static unsigned long long
city_list(const struct collect_req *r)
{
	unsigned long long wait = 0;
	size_t		 i;

	db_list_start(&list);
	for (i = 0; i < r->ncities; i++) {
		db_list_tuple(&list, (unsigned long long[]){ r->cities[i],
		    reading[i], fetch[i] }, 3);
		if (fetch[i] > wait)
			wait = fetch[i];
	}
	return wait;
}

/*
 * The id is taken, and an earlier attempt's COMMIT went unanswered:
 * STORE_DONE_BEFORE when the row is what that attempt wrote, else
 * STORE_DUPLICATE.
 */
static enum store_rc
mine(struct post *p, struct db_err *e)
{
	MYSQL_BIND	 b[5], o[1];
	unsigned long long total = p->r->ncities;
	unsigned long	 listlen, idlen;
	long long	 same = 0;
	my_bool		 null = 0;
	size_t		 i;
	int		 rc;

	db_list_start(&list);
	for (i = 0; i < p->r->ncities; i++)
		db_list_num(&list, p->r->cities[i]);
	if (db_list_bind(&b[3], &list, &listlen, "own request", e) == -1)
		return STORE_FAILED;
	db_bind_u64(&b[0], &p->sent.reqid);
	db_bind_time(&b[1], &p->sent.now);
	db_bind_u64(&b[2], &total);
	db_bind_bytes(&b[4], p->r->id, p->r->idlen, &idlen);
	db_bind_i64(&o[0], &same);
	o[0].is_null = &null;
	if ((rc = db_one_row(set.db, st[POST_MINE], b, o, "own request",
	    e)) != 0)
		return rc == DB_NO_ROW ? STORE_DUPLICATE : STORE_FAILED; /* gone */
	return !null && same == 1 ? STORE_DONE_BEFORE : STORE_DUPLICATE;
}

/*
 * Lock 1: the request's row; STORE_DUPLICATE when its id is taken
 * (STORE_DONE_BEFORE when by this POST's own unanswered COMMIT).
 */
static enum store_rc
insert_request(struct post *p, struct db_err *e)
{
	MYSQL_BIND	 b[7];
	unsigned long long total = p->r->ncities, wait = city_list(p->r);
	unsigned long	 idlen, listlen;
	my_bool		 unfinished = p->fresh < total,
			 no_wait = wait == 0 && !p->deferred;

	if (db_list_bind(&b[5], &list, &listlen, "city list", e) == -1)
		return STORE_FAILED;
	db_bind_bytes(&b[0], p->r->id, p->r->idlen, &idlen);
	db_bind_time(&b[1], &p->now);
	db_bind_u64(&b[2], &total);
	db_bind_u64(&b[3], &p->fresh);
	db_bind_time(&b[4], &p->now);
	b[4].is_null = &unfinished;
	db_bind_u64(&b[6], &wait);
	b[6].is_null = &no_wait;
	if (db_run(set.db, st[POST_INSERT], b, "insert request", e) == -1) {
		if (e->code != ER_DUP_ENTRY)
			return STORE_FAILED;
		return p->sent.unsure ? mine(p, e) : STORE_DUPLICATE;
	}
	p->reqid = mysql_stmt_insert_id(st[POST_INSERT]);
	return STORE_OK;
}

/* POST_QUEUED's row: a city just queued, and its fetch. */
struct queued_row {
	const struct collect_req *r;
	unsigned long long pos, fetch;
	my_bool		 fetch_null;
	size_t		 got;
};

static int
queued_row(void *arg, struct db_err *e)
{
	struct queued_row *q = arg;

	(void)e;
	if (!q->fetch_null && q->fetch != 0 && q->pos < q->r->ncities &&
	    reading[q->pos] == 0 && fetch[q->pos] == 0) {
		fetch[q->pos] = q->fetch;
		q->got++;
	}
	return 0;
}

/*
 * Lock 2: queue the new cities in ascending city_id, each a new fetch
 * created by the new request, and learn their fetches into fetch[].
 * p->queued: the entries it created (an entry that appeared since the
 * plain read was kept).
 */
static enum store_rc
queue(struct post *p, struct db_err *e)
{
	struct queued_row q = { .r = p->r };
	struct queue_add add = { .at = p->now, .base = p->base,
			    .by = p->reqid,
			    .read_timeout = cf->mysql.read_timeout };
	MYSQL_BIND	 b[1], o[2];
	unsigned long	 len;
	size_t		 i;

	db_list_start(&list);
	for (i = 0; i < p->r->ncities; i++)
		if (reading[byc[i].pos] == 0 && fetch[byc[i].pos] == 0)
			db_list_tuple(&list, (unsigned long long[]){
			    byc[i].city, byc[i].pos }, 2);
	if (db_list_bind(&b[0], &list, &len, "queue cities", e) == -1)
		return STORE_FAILED;
	add.cities = &b[0];
	switch (queue_cities(set.db, st[POST_QUEUE_LOCK], st[POST_QUEUE], &add,
	    &p->queued, e)) {
	case QUEUE_DONE:
		break;
	case QUEUE_BUSY:
		log_warnx("POST /collect: %s: answered 503", e->msg);
		return STORE_UNAVAILABLE;
	default:
		return STORE_FAILED;
	}
	db_bind_u64(&o[0], &q.pos);
	db_bind_u64(&o[1], &q.fetch);
	o[1].is_null = &q.fetch_null;
	if (db_rows(set.db, st[POST_QUEUED], b, o, "queued fetches",
	    queued_row, &q, e) == -1)
		return STORE_FAILED;
	if (q.got != p->nnew) {
		log_warnx("POST /collect: a city just queued is not in the "
		    "queue");
		return STORE_UNAVAILABLE;
	}
	return STORE_OK;
}

/* Move forward the queued cities lower[] names, in ascending city_id. */
static int
lower_turns(const struct collect_req *r, struct db_err *e)
{
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	size_t		 i;

	db_list_start(&list);
	for (i = 0; i < r->ncities; i++)
		if (lower[byc[i].pos] != 0)
			db_list_tuple(&list, (unsigned long long[]){
			    byc[i].city, lower[byc[i].pos] }, 2);
	if (db_list_bind(&b[0], &list, &len, "queue turns", e) == -1)
		return -1;
	return db_run(set.db, st[POST_LOWER], b, "queue turns", e);
}

/* Lock 3: the request row's references once its new cities are queued. */
static int
set_refs(struct post *p, struct db_err *e)
{
	MYSQL_BIND	 b[3];
	unsigned long long wait = city_list(p->r);
	unsigned long	 len;

	if (db_list_bind(&b[0], &list, &len, "city list", e) == -1)
		return -1;
	db_bind_u64(&b[1], &wait);
	db_bind_u64(&b[2], &p->reqid);
	return db_run(set.db, st[POST_REFS], b, "request references", e);
}

/* Lock 4: the counts; STORE_DUPLICATE when retention purged this id. */
static enum store_rc
count(const struct post *p, struct db_err *e)
{
	struct counts	 c = { .cities = (long long)p->r->ncities,
			    .collected = (long long)p->fresh,
			    .queued = (long long)p->queued, .requests = 1 };

	switch (counters_add_post(set.db, st[POST_COUNTERS], &c, p->r->id,
	    p->r->idlen, e)) {
	case 1:
		return STORE_OK;
	case 0:
		return STORE_DUPLICATE;
	default:
		return STORE_FAILED;
	}
}

/*
 * Whether the worker is behind, for this process's POSTs (admit.h), read
 * again when the last reading is BEHIND_EVERY_US old.  A failure leaves
 * the last reading; a lost connection is the transaction's to reopen.
 */
static void
read_behind(void)
{
	static int64_t	 last;
	struct db_err	 e;
	MYSQL_BIND	 o[1];
	long long	 behind;
	int64_t		 now = daemon_mono_us();

	if ((!admit_on() && cf->http.defer != DEFER_BEHIND) ||
	    (last != 0 && now - last < BEHIND_EVERY_US) ||
	    store_conn() == NULL)
		return;
	last = now;
	db_bind_i64(&o[0], &behind);
	if (db_one_row(set.db, st[POST_BEHIND], NULL, o, "worker behind",
	    &e) != 0) {
		(void)store_fail("POST /collect", &e);
		return;
	}
	admit_behind(now + (behind > 0 ? behind : 0));
}

/*
 * One attempt (store_transaction's body).  Fresh readings and queued
 * cities are read first, without locks, so a POST whose cities are all
 * fresh or queued is POST_LOOK, the request row and the counters: it
 * never waits on a worker or on another POST.
 */
static int
collect_once(void *arg, struct db_err *e)
{
	struct post	*p = arg;
	size_t		 i;
	enum store_rc	 rc;

	*p = (struct post){ .r = p->r, .sent = p->sent };
	if ((rc = look(p, e)) != STORE_OK)
		return rc;
	for (i = 0; i < p->r->ncities; i++) {
		if (reading[i] == 0 && fetch[i] == 0)
			p->nnew++;
		if (lower[i] != 0)
			p->nlower++;
	}
	if ((rc = insert_request(p, e)) != STORE_OK)
		return rc;
	if (p->nnew > 0 || p->nlower > 0)
		sort_by_city(p->r);
	if (p->nnew > 0 && (rc = queue(p, e)) != STORE_OK)
		return rc;
	if ((p->nlower > 0 && lower_turns(p->r, e) == -1) ||
	    (p->nnew > 0 && set_refs(p, e) == -1))
		return STORE_FAILED;
	return count(p, e);
}

/*
 * One attempt at a deferred POST: the request row with its cities
 * unresolved ([[city_id, 0, 0], ...], wait_fetch 0: worker/resolve.c's
 * mark) and the counters; no look-up, no queue.
 */
static int
defer_once(void *arg, struct db_err *e)
{
	struct post	*p = arg;
	MYSQL_BIND	 o[1];
	enum store_rc	 rc;
	int		 turn_taken;

	*p = (struct post){ .r = p->r, .sent = p->sent, .deferred = 1 };
	memset(reading, 0, p->r->ncities * sizeof(reading[0]));
	memset(fetch, 0, p->r->ncities * sizeof(fetch[0]));
	db_bind_time(&o[0], &p->now);
	if (db_one_row(set.db, st[POST_CLOCK], NULL, o, "clock", e) != 0)
		return STORE_FAILED;
	turn_taken = admit_enter();
	if ((rc = insert_request(p, e)) == STORE_OK)
		rc = count(p, e);
	if (turn_taken)
		admit_leave();
	return rc;
}

/*
 * The attempt just made sent COMMIT and no answer came: what it wrote,
 * for the next attempt to recognise (a later unanswered one replaces it:
 * its INSERT succeeding proved this one had not committed).
 */
static void
collect_unsure(void *arg)
{
	struct post	*p = arg;

	p->sent = (struct sent){ .unsure = 1, .reqid = p->reqid,
	    .fresh = p->fresh, .now = p->now };
}

enum store_rc
post_collect(const struct collect_req *r, struct accepted *a)
{
	struct post	 p = { .r = r };
	enum store_rc	 rc;
	int		 turn_taken, defer;

	/*
	 * While the worker is behind, a turn among this host's POSTs, and
	 * the cities left to the resolver (http.defer "behind"): a deferred
	 * POST takes its turn for its writes (defer_once), not for its
	 * clock or its COMMIT, which waits for the log's flush, not for the
	 * CPU, and flushes with the others' commits.
	 */
	read_behind();
	defer = cf->http.defer == DEFER_ALWAYS ||
	    (cf->http.defer == DEFER_BEHIND && admit_behind_now());
	turn_taken = defer ? 0 : admit_enter();
	rc = store_transaction("POST /collect", defer ? defer_once :
	    collect_once, collect_unsure, &p);
	if (turn_taken)
		admit_leave();
	if (rc == STORE_DONE_BEFORE) {
		log_notice("POST /collect: a COMMIT left unanswered by a lost "
		    "connection had taken effect: request %llu answered "
		    "from it", p.sent.reqid);
		p.now = p.sent.now;
		p.fresh = p.sent.fresh;
	} else if (rc != STORE_OK)
		return rc;
	a->requested_at = p.now;
	a->total = (unsigned int)r->ncities;
	a->done = (unsigned int)p.fresh;
	return STORE_OK;
}
