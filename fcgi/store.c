/*
 * store.c: the FastCGI program's side of the schema (etc/schema.sql).
 *
 * Each preforked process owns one connection and its prepared statements,
 * opened at start and reopened lazily after the server went away.  While
 * the server is unreachable a process retries at most once a second and
 * answers 503 at once in between, so a dead database never queues clients
 * behind connect timeouts.
 *
 * A request is stored by reference: its row holds the city list, each
 * city with the fresh reading that fulfilled it at once or the fetch
 * (city_tasks.fetch_id, its outcome in `fetches`) that will.  POST is one
 * transaction: a plain read of which cities are fresh and which queued
 * already, the request row (its unique key decides races on an id), and,
 * only for cities neither fresh nor queued, their queue entries and the
 * row's references to them; the counters shard last.  So the common POST
 * locks no row another request or a worker holds but its counters shard,
 * whatever the flood.  Every transaction here takes its locks in the
 * one order the worker's transactions follow too, so none deadlocks: at most one
 * existing requests row (FOR UPDATE) first, city_tasks rows in ascending
 * city_id, the rows it alone creates or owns, the counters shard last.
 *
 * GET reads the request's cities through the request_data view, so its
 * counts and finished_at are exact now, not as last settled into the row
 * (worker/settle.c): one statement.  A finished document never changes,
 * so this process keeps it (getcache.h) and proves it current with one
 * unique-key lookup.  DELETE marks the request cancelled, drops the
 * unleased queue entries it created and settles its row at once.
 */
#include <mysql.h>
#include <mysqld_error.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "getcache.h"
#include "json.h"
#include "log.h"
#include "parse.h"
#include "store.h"

enum {
	ST_NOW,
	ST_LOOK,
	ST_INS_REQUEST,
	ST_QUEUE,
	ST_LOWER,
	ST_QUEUED,
	ST_REFS,
	ST_POST_COUNTERS,
	ST_GET,
	ST_VERSION,
	ST_LIST_VERSION,
	ST_LIST,
	ST_LIVE,
	ST_CANCEL_LOCK,
	ST_CANCEL_MARK,
	ST_CANCEL_FIND,
	ST_CANCEL_TAKE,
	ST_CANCEL_FETCHES,
	ST_CANCEL_TASKS,
	ST_CANCEL_SETTLE,
	ST_COUNTERS,
	ST_QUEUE_LOCK,
	ST_QUEUE_UNLOCK,
	ST_COUNT
};

#define SHARD	DB_COUNTER_SHARD
#define GET_COLS	11	/* ST_GET's columns, get_bind's binds */

/* The running counts' columns, and adding to this connection's shard. */
#define COUNTS_COLS	"(shard, cities, collected, failed, queued, requests, " \
			"ended)"
#define COUNTS_ADD \
	" ON DUPLICATE KEY UPDATE cities = cities + VALUES(cities), " \
	"collected = collected + VALUES(collected), " \
	"failed = failed + VALUES(failed), " \
	"queued = queued + VALUES(queued), " \
	"requests = requests + VALUES(requests), " \
	"ended = ended + VALUES(ended)"
/* The fetches ended so far: part of a cached answer's version. */
#define ENDED		"(SELECT COALESCE(SUM(ended), 0) FROM counters)"

static const char *const sql[ST_COUNT] = {
	[ST_NOW] =
	    "SELECT NOW(6), COALESCE(MIN(turn), 0) FROM city_tasks",
	/*
	 * Of the request's cities ([id, ...] as JSON), those with a reading
	 * fresher than the cut-off, and those already queued, with their
	 * turn and fetch.  A plain SELECT: in READ COMMITTED a consistent
	 * read that takes no lock, so a flood of POSTs of the same cities
	 * never waits on the workers or on each other here.
	 */
	[ST_LOOK] =
	    "SELECT j.pos - 1, IF(cl.fetched_at >= ?, cl.reading_id, 0), "
	    "t.turn, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (pos FOR ORDINALITY, city_id INT UNSIGNED PATH '$')) j "
	    "LEFT JOIN city_latest cl ON cl.city_id = j.city_id "
	    "LEFT JOIN city_tasks t ON t.city_id = j.city_id "
	    "WHERE cl.fetched_at >= ? OR t.turn IS NOT NULL",
	/*
	 * The request with every city it could resolve: [[city_id,
	 * reading_id, fetch_id], ...].  Lock 1: a new row (its ext_id key
	 * decides a race on the id, the loser waits here, then fails).
	 * Settled at once (finished_at, wait_fetch NULL) when every city
	 * was fresh.
	 */
	[ST_INS_REQUEST] =
	    "INSERT INTO requests (ext_id, requested_at, total, collected, "
	    "finished_at, cities, wait_fetch) VALUES (?, ?, ?, ?, ?, ?, ?)",
	/*
	 * Lock 2: queue the cities neither fresh nor queued ([[id, pos],
	 * ...]) in ascending city_id, the order the worker also locks queue
	 * entries in.  Each new entry is a new fetch (its fetch_id); one
	 * that appeared since the plain read gets a shared lock only (rare:
	 * a city just queued by another request or just completed).
	 */
	[ST_QUEUE] =
	    "INSERT IGNORE INTO city_tasks (city_id, turn, ready_at, "
	    "created_at, created_by) "
	    "SELECT j.city_id, ? + j.pos, ?, ?, ? FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "pos INT UNSIGNED PATH '$[1]')) j ORDER BY j.city_id",
	/*
	 * Fairness: entries queued earlier at a later turn than this
	 * request gives them move forward ([[id, turn], ...], built in
	 * ascending city_id: the list drives the join, STRAIGHT_JOIN even
	 * on a small queue, so that is the lock order).  Rare: only when a
	 * request puts a city earlier than a bigger one did.  A second
	 * ascending pass after ST_QUEUE's, over other cities (those seen
	 * queued); a cycle through the two would need another POST that
	 * saw the queue otherwise at the same moment: the deadlock retry.
	 */
	[ST_LOWER] =
	    "UPDATE JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "turn BIGINT UNSIGNED PATH '$[1]')) j "
	    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id "
	    "SET t.turn = j.turn WHERE t.turn > j.turn",
	/*
	 * The fetches of the cities ST_QUEUE was given ([[id, pos], ...]):
	 * a plain read, which sees the entries this transaction inserted
	 * and those it found (it holds their lock).  NULL: a broken
	 * invariant.
	 */
	[ST_QUEUED] =
	    "SELECT j.pos, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "pos INT UNSIGNED PATH '$[1]')) j "
	    "LEFT JOIN city_tasks t ON t.city_id = j.city_id",
	/* Lock 3: the references of the request's own new row. */
	[ST_REFS] =
	    "UPDATE requests SET cities = ?, wait_fetch = ? WHERE id = ?",
	/*
	 * Lock 4, last: what a POST added to the running counts, and, in the
	 * same statement, whether retention purged a request of this id (an
	 * id stays used: unique forever, DESIGN.md).  Nothing is added when
	 * it did: 0 rows affected, the POST is a 409.  Read after the
	 * request row is in, so a purge of the same id that committed
	 * meanwhile (it held that row's key) is seen.
	 */
	[ST_POST_COUNTERS] =
	    "INSERT INTO counters " COUNTS_COLS " "
	    "SELECT " SHARD ", ?, ?, ?, ?, ?, ? FROM DUAL WHERE NOT EXISTS "
	    "(SELECT 1 FROM purged_requests WHERE ext_id = ?)" COUNTS_ADD,
	/*
	 * Every city of the request in order, done or not, with its state
	 * (request_data: 1 collected, 2 failed, 0 pending) and when it was
	 * done.  Merged: the request by its unique key, its list, each
	 * city's fetch and reading by primary key.
	 */
	[ST_GET] =
	    "SELECT q.requested_at, q.finished_at, q.total, q.id, "
	    "d.city_id, d.temperature, d.humidity, d.observed_at, d.error, "
	    "FIELD(d.state, 'collected', 'failed'), d.done_at "
	    "FROM requests q JOIN request_data d ON d.request_id = q.id "
	    "WHERE q.ext_id = ? ORDER BY d.pos",
	/* The version of a cached (finished) document: its request's row
	 * (getcache.h). */
	[ST_VERSION] =
	    "SELECT id, finished_at IS NOT NULL, " ENDED " "
	    "FROM requests WHERE ext_id = ?",
	/* A page's version: the newest and oldest rows ("Select tables
	 * optimized away") and the fetches ended. */
	[ST_LIST_VERSION] =
	    "SELECT COALESCE(MAX(id), 0), COALESCE(MIN(id), 0), " ENDED " "
	    "FROM requests",
	[ST_LIST] =
	    "SELECT id, ext_id, requested_at, finished_at, total, collected, "
	    "failed FROM requests WHERE id < ? ORDER BY id DESC LIMIT ?",
	/*
	 * One request's counts now, and when it finished by the contract's
	 * rule (all cities done: the latest done_at, never before it was
	 * requested).  For a list's unfinished rows and a cancel's settle.
	 */
	[ST_LIVE] =
	    "SELECT SUM(d.state = 'collected'), SUM(d.state = 'failed'), "
	    "SUM(d.state = 'pending'), GREATEST(MIN(q.requested_at), "
	    "COALESCE(MAX(d.done_at), MIN(q.requested_at))) "
	    "FROM requests q JOIN request_data d ON d.request_id = q.id "
	    "WHERE q.id = ?",
	/*
	 * Cancelling.  Lock 1: the request's row, first, so a settle of it
	 * waits (or is waited for) whole.
	 */
	[ST_CANCEL_LOCK] =
	    "SELECT id, collected, failed, finished_at IS NOT NULL "
	    "FROM requests WHERE ext_id = ? FOR UPDATE",
	[ST_CANCEL_MARK] =
	    "UPDATE requests SET cancelled_at = NOW(6) WHERE id = ?",
	/*
	 * The queue entries it created that no worker has leased, found
	 * through its own list by primary key (a plain read, sorted), so
	 * ST_CANCEL_TAKE can lock them in ascending city_id.
	 */
	[ST_CANCEL_FIND] =
	    "SELECT t.city_id FROM requests q "
	    "JOIN JSON_TABLE(q.cities, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]')) j "
	    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id "
	    "WHERE q.id = ? AND t.created_by = q.id "
	    "AND t.lease_owner IS NULL ORDER BY t.city_id",
	/* Lock 2: those ([id, ...] ascending) still unleased, in order:
	 * the list drives the join by primary key whatever the queue's
	 * size (STRAIGHT_JOIN), never a scan. */
	[ST_CANCEL_TAKE] =
	    "SELECT t.city_id, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$')) j "
	    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id "
	    "WHERE t.created_by = ? AND t.lease_owner IS NULL FOR UPDATE",
	/* Lock 3: their fetches end, dropped ([[id, fetch_id], ...]); a
	 * request still waiting for one queues its city again (settle). */
	[ST_CANCEL_FETCHES] =
	    "INSERT INTO fetches (id, city_id, state, error, done_at) "
	    "SELECT j.fetch_id, j.city_id, 'dropped', 'cancelled', NOW(6) "
	    "FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "fetch_id BIGINT UNSIGNED PATH '$[1]')) j",
	[ST_CANCEL_TASKS] =
	    "DELETE t FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "fetch_id BIGINT UNSIGNED PATH '$[1]')) j "
	    "STRAIGHT_JOIN city_tasks t "
	    "ON t.city_id = j.city_id AND t.fetch_id = j.fetch_id",
	/* The row it holds (lock 1), settled: every city is done now. */
	[ST_CANCEL_SETTLE] =
	    "UPDATE requests SET collected = ?, failed = ?, finished_at = ?, "
	    "wait_fetch = NULL WHERE id = ?",
	/*
	 * What a cancel changed, added to the running counts /metrics
	 * reads: this connection's shard row, the transaction's last lock.
	 */
	[ST_COUNTERS] =
	    "INSERT INTO counters " COUNTS_COLS " "
	    "VALUES (" SHARD ", ?, ?, ?, ?, ?, ?)" COUNTS_ADD,
	/*
	 * ST_QUEUE one at a time (worker/settle.c's requeue takes the same
	 * lock).  Two INSERT IGNOREs of a city whose entry a batch is
	 * deleting both wait for the batch, then each holds a shared lock
	 * the other's insert needs: InnoDB's deadlock of duplicate keys, a
	 * 503 once the retries run out.  Held only across that statement,
	 * never while waiting for another such lock, so it adds no cycle.
	 */
	[ST_QUEUE_LOCK] =
	    "SELECT GET_LOCK('" DB_QUEUE_LOCK "', 10)",
	[ST_QUEUE_UNLOCK] =
	    "DO RELEASE_LOCK('" DB_QUEUE_LOCK "')",
};

#define STORE_TRIES	5	/* a transaction that loses a deadlock */

static const struct config	*cf;
static MYSQL			*db;
static MYSQL_STMT		*st[ST_COUNT];
static time_t			 last_attempt;
static int			 was_down;
static unsigned long		 epoch;

static int	store_open(void);

/* Connect at start so the first request pays no connect; failing is fine. */
int
store_init(const struct config *conf)
{
	cf = conf;
	return store_open();
}

void
store_close(void)
{
	int	 i;

	for (i = 0; i < ST_COUNT; i++)
		if (st[i]) {
			mysql_stmt_close(st[i]);
			st[i] = NULL;
		}
	if (db) {
		mysql_close(db);
		db = NULL;
	}
}

static int
store_open(void)
{
	char	 err[512];
	time_t	 now = time(NULL);
	int	 i;

	if (db)
		return 0;
	if (now == last_attempt)
		return -1;
	last_attempt = now;
	if ((db = db_open(cf, err, sizeof(err))) == NULL)
		goto fail;
	for (i = 0; i < ST_COUNT; i++)
		if ((st[i] = db_prepare(db, sql[i], err, sizeof(err))) == NULL)
			goto fail;
	if (was_down)
		log_notice("database reachable again");
	was_down = 0;
	epoch++;
	return 0;
fail:
	if (!was_down)
		log_warnx("database unavailable: %s", err);
	was_down = 1;
	store_close();
	return -1;
}

/*
 * Classify a failed statement: the connection is dropped unless the error
 * is a plain deadlock, which the caller retries.
 */
static enum store_rc
store_fail(MYSQL_STMT *s, const char *what, int *retry)
{
	unsigned int e = s ? mysql_stmt_errno(s) : mysql_errno(db);

	if (retry && db_error_is_retryable(e)) {
		mysql_rollback(db);
		*retry = 1;
		return STORE_UNAVAILABLE;
	}
	if (!db_error_is_gone(e))
		log_warnx("%s: %u %s", what, e, s ? mysql_stmt_error(s) :
		    mysql_error(db));
	else if (!was_down) {
		log_warnx("database connection lost during %s: %s", what,
		    s ? mysql_stmt_error(s) : mysql_error(db));
		was_down = 1;
	}
	store_close();
	return STORE_UNAVAILABLE;
}

/* A POST's city with its position in the request, for the ascending
 * city_id order of lock 2. */
struct city_pos {
	unsigned int	 city;
	unsigned int	 pos;
};

static int
city_cmp(const void *a, const void *b)
{
	const struct city_pos *x = a, *y = b;

	return x->city < y->city ? -1 : x->city > y->city;
}

static void
fmt_time(char *dst, size_t len, const MYSQL_TIME *t, int micro)
{
	if (micro)
		snprintf(dst, len, "%04u-%02u-%02uT%02u:%02u:%02u.%06luZ",
		    t->year, t->month, t->day, t->hour, t->minute, t->second,
		    t->second_part);
	else
		snprintf(dst, len, "%04u-%02u-%02uT%02u:%02u:%02uZ",
		    t->year, t->month, t->day, t->hour, t->minute, t->second);
}

/* Orders two DATETIME values (same time zone, as all of ours are). */
static int
time_cmp(const MYSQL_TIME *a, const MYSQL_TIME *b)
{
	unsigned long	 x[7] = { a->year, a->month, a->day, a->hour,
			    a->minute, a->second, a->second_part };
	unsigned long	 y[7] = { b->year, b->month, b->day, b->hour,
			    b->minute, b->second, b->second_part };
	int		 i;

	for (i = 0; i < 7; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* The nth pair of a JSON list of pairs: "[a,b]" after "[" or ",". */
static void
pair(struct buf *json, size_t nth, unsigned long long a, unsigned long long b)
{
	buf_adds(json, nth ? ",[" : "[[");
	buf_addu(json, a);
	buf_addc(json, ',');
	buf_addu(json, b);
	buf_addc(json, ']');
}

static void
bind_id(MYSQL_BIND *b, const char *id, size_t idlen, unsigned long *len)
{
	memset(b, 0, sizeof(*b));
	*len = idlen;
	b->buffer_type = MYSQL_TYPE_BLOB;
	b->buffer = (void *)id;
	b->buffer_length = idlen;
	b->length = len;
}

static int
bind_json(MYSQL_BIND *b, const struct buf *json, unsigned long *len,
    const char *what)
{
	if (json->failed) {
		store_fail(NULL, what, NULL);
		return -1;
	}
	*len = json->len;
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = json->data;
	b->buffer_length = json->len;
	b->length = len;
	return 0;
}

/* Run statement which with parameters b (no result set); -1 (logged,
 * classified) if it failed. */
static int
run(int which, MYSQL_BIND *b, const char *what, int *retry)
{
	MYSQL_STMT	*s = st[which];

	if ((b && mysql_stmt_bind_param(s, b) != 0) ||
	    mysql_stmt_execute(s) != 0) {
		store_fail(s, what, retry);
		return -1;
	}
	return 0;
}

/* ST_QUEUE_LOCK: 0 held, -1 failed (or not granted in 10 s). */
static int
queue_lock(int *retry)
{
	MYSQL_STMT	*s = st[ST_QUEUE_LOCK];
	MYSQL_BIND	 o[1];
	long long	 got = 0;
	my_bool		 null = 0;
	int		 rc;

	memset(o, 0, sizeof(o));
	db_bind_i64(&o[0], &got);
	o[0].is_null = &null;
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1 || rc == MYSQL_NO_DATA) {
		store_fail(s, "queue lock", retry);
		return -1;
	}
	mysql_stmt_free_result(s);
	if (null || got != 1) {
		log_warnx("POST /collect: the queue lock was not granted in 10 s");
		return -1;
	}
	return 0;
}

/*
 * A broken invariant inside a transaction: logged, rolled back, answered
 * 503; the service goes on.
 */
static enum store_rc
broken(const char *what)
{
	log_warnx("%s", what);
	mysql_rollback(db);
	return STORE_UNAVAILABLE;
}

/*
 * Which of r's cities have a reading fresher than worker.reuse_seconds
 * (reading[pos] set, or 0), which of the others are queued (fetch[pos]
 * their fetch, or 0), and which of those at a later turn than base + pos
 * would give them (lower[pos] set to that turn, or 0).  Returns how many
 * have a fresh reading.
 */
static long
look(const struct collect_req *r, const MYSQL_TIME *now,
    unsigned long long base, unsigned long long *reading,
    unsigned long long *fetch, unsigned long long *lower, int *retry)
{
	static struct buf json;
	MYSQL_BIND	 b[3], o[4];
	MYSQL_TIME	 cut = *now;
	unsigned long long pos, id, turn, fid;
	unsigned long	 len;
	my_bool		 turn_null, fid_null;
	long		 n = 0;
	size_t		 i;
	int		 rc;

	memset(reading, 0, r->ncities * sizeof(*reading));
	memset(fetch, 0, r->ncities * sizeof(*fetch));
	memset(lower, 0, r->ncities * sizeof(*lower));
	if (cf->worker.reuse_seconds == 0)	/* no reuse: a cut-off after */
		cut.year = 9999;		/* every reading */
	else if (db_time_add(&cut, -(long long)cf->worker.reuse_seconds) ==
	    -1) {
		store_fail(NULL, "fresh readings: bad clock", NULL);
		return -1;
	}
	buf_reset(&json);
	for (i = 0; i < r->ncities; i++) {
		buf_addc(&json, i ? ',' : '[');
		buf_addu(&json, r->cities[i]);
	}
	buf_addc(&json, ']');
	if (bind_json(&b[1], &json, &len, "look: out of memory") == -1)
		return -1;
	db_bind_time(&b[0], &cut);
	db_bind_time(&b[2], &cut);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &pos);
	db_bind_u64(&o[1], &id);
	db_bind_u64(&o[2], &turn);
	o[2].is_null = &turn_null;
	db_bind_u64(&o[3], &fid);
	o[3].is_null = &fid_null;
	if (mysql_stmt_bind_param(st[ST_LOOK], b) != 0 ||
	    mysql_stmt_execute(st[ST_LOOK]) != 0 ||
	    mysql_stmt_bind_result(st[ST_LOOK], o) != 0) {
		store_fail(st[ST_LOOK], "fresh readings", retry);
		return -1;
	}
	while ((rc = mysql_stmt_fetch(st[ST_LOOK])) == 0) {
		if (pos >= r->ncities)
			continue;
		if (id != 0) {
			if (reading[pos] == 0)
				n++;
			reading[pos] = id;
		} else if (!turn_null && !fid_null && reading[pos] == 0) {
			fetch[pos] = fid;
			if (turn > base + pos)
				lower[pos] = base + pos;
		}
	}
	mysql_stmt_free_result(st[ST_LOOK]);
	if (rc == 1) {
		store_fail(st[ST_LOOK], "fresh readings", retry);
		return -1;
	}
	return n;
}

/*
 * Add to this connection's shard of the running counts (the queue entries
 * as a signed change), inside the caller's transaction: the cancel's
 * ST_COUNTERS, or, with the id of a POST, ST_POST_COUNTERS.  Returns the
 * rows affected (0: a POST of a purged id, nothing added), -1 on failure.
 */
static long long
count(long long cities, long long collected, long long failed,
    long long queued, long long requests, long long ended, const char *id,
    size_t idlen, int *retry)
{
	MYSQL_STMT	*s = st[id ? ST_POST_COUNTERS : ST_COUNTERS];
	MYSQL_BIND	 b[7];
	long long	 v[6] = { cities, collected, failed, queued, requests,
			    ended };
	unsigned long	 len;
	int		 i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < 6; i++)
		db_bind_i64(&b[i], &v[i]);
	if (id)
		bind_id(&b[6], id, idlen, &len);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0) {
		store_fail(s, "counters", retry);
		return -1;
	}
	return (long long)mysql_stmt_affected_rows(s);
}

/*
 * Queue the cities neither fresh nor queued (fetch[pos] 0), in ascending
 * city_id (byc), each as a new fetch created by request reqid, and learn
 * their fetches into fetch[].  *queued: the entries this request created
 * (an entry that appeared since the plain read was kept).
 */
static int
queue(const struct collect_req *r, const struct city_pos *byc,
    unsigned long long reqid, const unsigned long long *reading,
    unsigned long long *fetch, unsigned long long base,
    const MYSQL_TIME *now, unsigned long long *queued, int *retry)
{
	static struct buf json;
	MYSQL_STMT	*s = st[ST_QUEUED];
	MYSQL_BIND	 b[5], o[2];
	MYSQL_TIME	 t = *now;
	unsigned long long pos, fid;
	unsigned long	 len;
	my_bool		 fid_null;
	size_t		 i, k = 0, got = 0;
	int		 rc;

	buf_reset(&json);
	for (i = 0; i < r->ncities; i++)
		if (reading[byc[i].pos] == 0 && fetch[byc[i].pos] == 0)
			pair(&json, k++, byc[i].city, byc[i].pos);
	buf_addc(&json, ']');
	if (bind_json(&b[4], &json, &len, "queue cities: out of memory") ==
	    -1)
		return -1;
	db_bind_u64(&b[0], &base);
	db_bind_time(&b[1], &t);
	db_bind_time(&b[2], &t);
	db_bind_u64(&b[3], &reqid);
	if (queue_lock(retry) == -1)
		return -1;
	rc = run(ST_QUEUE, b, "queue cities", retry);
	*queued = mysql_stmt_affected_rows(st[ST_QUEUE]);
	if (run(ST_QUEUE_UNLOCK, NULL, "queue lock", retry) == -1 || rc == -1)
		return -1;

	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &pos);
	db_bind_u64(&o[1], &fid);
	o[1].is_null = &fid_null;
	if (mysql_stmt_bind_param(s, &b[4]) != 0 ||
	    mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0) {
		store_fail(s, "queued fetches", retry);
		return -1;
	}
	while ((rc = mysql_stmt_fetch(s)) == 0)
		if (!fid_null && fid != 0 && pos < r->ncities &&
		    reading[pos] == 0 && fetch[pos] == 0) {
			fetch[pos] = fid;
			got++;
		}
	mysql_stmt_free_result(s);
	if (rc == 1) {
		store_fail(s, "queued fetches", retry);
		return -1;
	}
	if (got != k) {
		broken("POST /collect: a city just queued is not in the "
		    "queue");
		return -1;
	}
	return 0;
}

/* Move forward the queued cities lower[] names, in ascending city_id. */
static int
lower_turns(const struct collect_req *r, const struct city_pos *byc,
    const unsigned long long *lower, int *retry)
{
	static struct buf json;
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	size_t		 i, k = 0;

	buf_reset(&json);
	for (i = 0; i < r->ncities; i++)
		if (lower[byc[i].pos] != 0)
			pair(&json, k++, byc[i].city, lower[byc[i].pos]);
	buf_addc(&json, ']');
	if (bind_json(&b[0], &json, &len, "queue turns: out of memory") == -1)
		return -1;
	return run(ST_LOWER, b, "queue turns", retry);
}

/*
 * requests.cities: [[city_id, reading_id, fetch_id], ...] in r's order;
 * returns the largest fetch (the request's wait_fetch; 0: none).
 */
static unsigned long long
city_list(struct buf *json, const struct collect_req *r,
    const unsigned long long *reading, const unsigned long long *fetch)
{
	unsigned long long wait = 0;
	size_t		 i;

	buf_reset(json);
	for (i = 0; i < r->ncities; i++) {
		buf_adds(json, i ? ",[" : "[[");
		buf_addu(json, r->cities[i]);
		buf_addc(json, ',');
		buf_addu(json, reading[i]);
		buf_addc(json, ',');
		buf_addu(json, fetch[i]);
		buf_addc(json, ']');
		if (fetch[i] > wait)
			wait = fetch[i];
	}
	buf_addc(json, ']');
	return wait;
}

/* The request row's references once its new cities are queued. */
static int
set_refs(const struct buf *list, unsigned long long wait,
    unsigned long long reqid, int *retry)
{
	MYSQL_BIND	 b[3];
	unsigned long	 len;

	if (bind_json(&b[0], list, &len, "city list: out of memory") == -1)
		return -1;
	db_bind_u64(&b[1], &wait);
	db_bind_u64(&b[2], &reqid);
	return run(ST_REFS, b, "request references", retry);
}

/*
 * One attempt at the POST transaction; *retry set on a deadlock.  Lock
 * order: the new request row, the queue entries (ascending city_id), the
 * request row's references, this connection's counters.  Fresh readings
 * and queued cities are read first, without locks, so a POST whose
 * cities are all fresh or queued is NOW, LOOK, the request row and the
 * counters: it never waits on a worker or on another POST.
 */
static enum store_rc
collect_once(const struct collect_req *r, struct accepted *a, int *retry)
{
	static unsigned long long reading[CITIES_MAX], fetch[CITIES_MAX],
			 lower[CITIES_MAX];
	static struct city_pos byc[CITIES_MAX];
	static struct buf list;
	MYSQL_BIND	 b[7], out[2];
	MYSQL_TIME	 now;
	unsigned long long base, reqid, total, done, queued, wait;
	unsigned long	 idlen, listlen;
	my_bool		 unfinished, no_wait;
	long long	 counted;
	long		 fresh;
	size_t		 i, nnew = 0, nlower = 0;
	int		 rc;

	if (mysql_real_query(db, "START TRANSACTION", 17) != 0)
		return store_fail(NULL, "start transaction", retry);

	/* The database's clock, and the queue's current turn. */
	memset(out, 0, sizeof(out));
	db_bind_time(&out[0], &now);
	db_bind_u64(&out[1], &base);
	if (mysql_stmt_execute(st[ST_NOW]) != 0 ||
	    mysql_stmt_bind_result(st[ST_NOW], out) != 0 ||
	    (rc = mysql_stmt_fetch(st[ST_NOW])) == 1 || rc == MYSQL_NO_DATA)
		return store_fail(st[ST_NOW], "now", retry);
	mysql_stmt_free_result(st[ST_NOW]);

	if ((fresh = look(r, &now, base, reading, fetch, lower, retry)) == -1)
		return STORE_UNAVAILABLE;
	for (i = 0; i < r->ncities; i++) {
		if (reading[i] == 0 && fetch[i] == 0)
			nnew++;
		if (lower[i] != 0)
			nlower++;
	}
	wait = city_list(&list, r, reading, fetch);
	if (bind_json(&b[5], &list, &listlen, "city list: out of memory") ==
	    -1)
		return STORE_UNAVAILABLE;
	total = r->ncities;
	done = (unsigned long long)fresh;
	unfinished = done < total;
	no_wait = wait == 0;
	bind_id(&b[0], r->id, r->idlen, &idlen);
	db_bind_time(&b[1], &now);
	db_bind_u64(&b[2], &total);
	db_bind_u64(&b[3], &done);
	db_bind_time(&b[4], &now);
	b[4].is_null = &unfinished;
	db_bind_u64(&b[6], &wait);
	b[6].is_null = &no_wait;
	if (mysql_stmt_bind_param(st[ST_INS_REQUEST], b) != 0 ||
	    mysql_stmt_execute(st[ST_INS_REQUEST]) != 0) {
		if (mysql_stmt_errno(st[ST_INS_REQUEST]) == ER_DUP_ENTRY) {
			mysql_rollback(db);
			return STORE_DUPLICATE;
		}
		return store_fail(st[ST_INS_REQUEST], "insert request", retry);
	}
	reqid = mysql_stmt_insert_id(st[ST_INS_REQUEST]);

	queued = 0;
	if (nnew > 0 || nlower > 0) {
		for (i = 0; i < r->ncities; i++) {
			byc[i].city = r->cities[i];
			byc[i].pos = (unsigned int)i;
		}
		qsort(byc, r->ncities, sizeof(byc[0]), city_cmp);
	}
	if (nnew > 0 && queue(r, byc, reqid, reading, fetch, base, &now,
	    &queued, retry) == -1)
		return STORE_UNAVAILABLE;
	if (nlower > 0 && lower_turns(r, byc, lower, retry) == -1)
		return STORE_UNAVAILABLE;
	if (nnew > 0) {
		wait = city_list(&list, r, reading, fetch);
		if (set_refs(&list, wait, reqid, retry) == -1)
			return STORE_UNAVAILABLE;
	}
	if ((counted = count((long long)total, (long long)done, 0,
	    (long long)queued, 1, 0, r->id, r->idlen, retry)) == -1)
		return STORE_UNAVAILABLE;
	if (counted == 0) {		/* retention purged this id */
		mysql_rollback(db);
		return STORE_DUPLICATE;
	}
	if (mysql_commit(db) != 0)
		return store_fail(NULL, "commit", retry);

	fmt_time(a->requested_at, sizeof(a->requested_at), &now, 1);
	a->total = (unsigned int)total;
	a->done = (unsigned int)done;
	return STORE_OK;
}

/* Before the next try of a transaction that lost a deadlock. */
static void
retry_pause(int attempt)
{
	struct timespec	 ts = { 0, (long)(1 + random() % (4 << attempt)) *
			    1000000L };

	nanosleep(&ts, NULL);
}

enum store_rc
store_collect(const struct collect_req *r, struct accepted *a)
{
	enum store_rc	 rc;
	int		 attempt, retry;

	for (attempt = 0; attempt < STORE_TRIES; attempt++) {
		if (store_open() == -1)
			return STORE_UNAVAILABLE;
		retry = 0;
		rc = collect_once(r, a, &retry);
		if (!retry)
			return rc;
		retry_pause(attempt);
	}
	log_warnx("POST /collect: still deadlocked after %d tries", attempt);
	return STORE_UNAVAILABLE;
}

/* Result columns of ST_GET. */
struct get_row {
	MYSQL_TIME	 requested_at, finished_at, observed_at, done_at;
	unsigned long long total, request, city_id, humidity, state;
	char		 temperature[16];
	char		 error[1024];
	unsigned long	 temp_len, error_len;
	my_bool		 finished_null, city_null, temp_null, error_null;
	my_bool		 hum_null, obs_null, done_null;
};

/* request_data's states as ST_GET gives them (FIELD). */
#define STATE_PENDING	0
#define STATE_COLLECTED	1
#define STATE_FAILED	2

static void
get_bind(MYSQL_BIND *o, struct get_row *g)
{
	memset(o, 0, GET_COLS * sizeof(*o));
	db_bind_time(&o[0], &g->requested_at);
	db_bind_time(&o[1], &g->finished_at);
	o[1].is_null = &g->finished_null;
	db_bind_u64(&o[2], &g->total);
	db_bind_u64(&o[3], &g->request);
	db_bind_u64(&o[4], &g->city_id);
	o[4].is_null = &g->city_null;
	o[5].buffer_type = MYSQL_TYPE_STRING;
	o[5].buffer = g->temperature;
	o[5].buffer_length = sizeof(g->temperature);
	o[5].length = &g->temp_len;
	o[5].is_null = &g->temp_null;
	db_bind_u64(&o[6], &g->humidity);
	o[6].is_null = &g->hum_null;
	db_bind_time(&o[7], &g->observed_at);
	o[7].is_null = &g->obs_null;
	o[8].buffer_type = MYSQL_TYPE_STRING;
	o[8].buffer = g->error;
	o[8].buffer_length = sizeof(g->error);
	o[8].length = &g->error_len;
	o[8].is_null = &g->error_null;
	db_bind_u64(&o[9], &g->state);
	db_bind_time(&o[10], &g->done_at);
	o[10].is_null = &g->done_null;
}

/*
 * A request's summary, as GET /get and GET /collect show it, without its
 * closing brace: fin NULL while it is not finished.
 */
static void
summary(struct buf *out, const char *id, size_t idlen, const MYSQL_TIME *req,
    const MYSQL_TIME *fin, unsigned long long total,
    unsigned long long collected, unsigned long long failed)
{
	char		 t[40];
	unsigned long long h = total ? (collected + failed) * 10000 / total : 0;

	buf_adds(out, "{\"id\": ");
	json_str(out, id, idlen);
	fmt_time(t, sizeof(t), req, 1);
	buf_printf(out, ", \"requested_at\": \"%s\", \"finished_at\": ", t);
	if (fin == NULL)
		buf_adds(out, "null");
	else {
		fmt_time(t, sizeof(t), fin, 1);
		buf_printf(out, "\"%s\"", t);
	}
	buf_printf(out, ", \"progress\": %llu.%02llu, \"total\": %llu, "
	    "\"collected\": %llu, \"failed\": %llu", h / 100, h % 100, total,
	    collected, failed);
}

static void
get_item(struct buf *out, const struct get_row *g, int first)
{
	char	 t[40];

	buf_printf(out, "%s{\"city_id\": %llu, ", first ? "" : ", ",
	    g->city_id);
	if (!g->temp_null && !g->hum_null && !g->obs_null) {
		fmt_time(t, sizeof(t), &g->observed_at, 0);
		buf_adds(out, "\"temperature\": ");
		buf_add(out, g->temperature, g->temp_len < sizeof(g->temperature)
		    ? g->temp_len : sizeof(g->temperature));
		buf_printf(out, ", \"humidity\": %llu, \"observed_at\": "
		    "\"%s\"}", g->humidity, t);
		return;
	}
	buf_adds(out, "\"error\": ");
	if (g->error_null)
		json_str(out, "unknown error", 13);
	else
		json_str(out, g->error, g->error_len < sizeof(g->error) ?
		    g->error_len : sizeof(g->error));
	buf_addc(out, '}');
}

/*
 * The version of a request's document now (getcache.h): its row, and,
 * until the row is settled finished, the fetches ended.  One unique-key
 * lookup and a sum of the counters' few rows.  STORE_NOTFOUND if there is
 * no such request.
 */
static enum store_rc
get_version(const char *id, size_t idlen, struct getcache_version *v)
{
	MYSQL_STMT	*s = st[ST_VERSION];
	MYSQL_BIND	 b[1], o[3];
	unsigned long	 len;
	int		 rc;

	bind_id(&b[0], id, idlen, &len);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &v->row);
	db_bind_u64(&o[1], &v->final);
	db_bind_u64(&o[2], &v->ended);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1)
		return store_fail(s, "get version", NULL);
	mysql_stmt_free_result(s);
	if (rc == MYSQL_NO_DATA)
		return STORE_NOTFOUND;
	if (v->final)
		v->ended = 0;	/* it never changes again */
	return STORE_OK;
}

/*
 * The document is built from the request's cities as request_data says
 * they are now: its counts from their states, finished_at the row's when
 * settled, else, once no city is pending, the contract's rule (the latest
 * done_at, never before requested_at; ST_LIVE's in SQL).  It is cached
 * with the version read before it was built (get_version), so a copy is
 * served only while nothing it shows can have moved.
 */
enum store_rc
store_get(const char *id, size_t idlen, struct buf *out, int *finished)
{
	static struct get_row g;
	static struct buf items;
	const struct buf *cached;
	const MYSQL_TIME *fin;
	MYSQL_STMT	*s;
	MYSQL_BIND	 b[1], o[GET_COLS];
	MYSQL_TIME	 req, last;
	unsigned long	 len;
	struct getcache_version version, cached_version;
	unsigned long long total = 0, collected = 0, failed = 0, pending = 0;
	enum store_rc	 vrc;
	int		 rc, rows = 0, items_n = 0, settled = 0, any_done = 0;
	int		 cached_fin;

	if (store_open() == -1)
		return STORE_UNAVAILABLE;
	if ((vrc = get_version(id, idlen, &version)) != STORE_OK)
		return vrc;
	if ((cached = getcache_find(id, idlen, &cached_version, &cached_fin))
	    != NULL && getcache_same(&version, &cached_version)) {
		buf_add(out, cached->data, cached->len);
		*finished = cached_fin;
		return STORE_OK;
	}
	s = st[ST_GET];
	bind_id(&b[0], id, idlen, &len);
	get_bind(o, &g);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0)
		return store_fail(s, "get", NULL);
	buf_reset(&items);
	memset(&req, 0, sizeof(req));
	memset(&last, 0, sizeof(last));
	while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		if (rows++ == 0) {
			req = g.requested_at;
			total = g.total;
			if ((settled = !g.finished_null))
				last = g.finished_at;
		}
		if (g.state == STATE_PENDING) {
			pending++;
			continue;
		}
		if (g.state == STATE_COLLECTED)
			collected++;
		else
			failed++;
		get_item(&items, &g, items_n++ == 0);
		if (!settled && !g.done_null &&
		    (!any_done || time_cmp(&g.done_at, &last) > 0)) {
			last = g.done_at;
			any_done = 1;
		}
	}
	if (rc == 1)
		return store_fail(s, "get fetch", NULL);
	mysql_stmt_free_result(s);
	if (rows == 0)
		return STORE_NOTFOUND;
	if (settled)
		fin = &last;
	else if (pending == 0) {
		if (!any_done || time_cmp(&req, &last) > 0)
			last = req;
		fin = &last;
	} else
		fin = NULL;
	summary(out, id, idlen, &req, fin, total, collected, failed);
	buf_adds(out, ", \"data\": [");
	buf_add(out, items.data, items.len);
	if (items.failed)
		out->failed = 1;
	buf_adds(out, "]}\n");
	*finished = fin != NULL;
	getcache_put(id, idlen, &version, *finished, out);
	return STORE_OK;
}

/* ST_LIVE's answer: a request's counts now, fin_null while unfinished. */
struct live {
	unsigned long long collected, failed, pending;
	MYSQL_TIME	 fin;
	my_bool		 c_null, f_null, p_null, fin_null;
};

/* One request's live counts (ST_LIVE); -1 on failure. */
static int
live(unsigned long long rid, struct live *lv, const char *what, int *retry)
{
	MYSQL_STMT	*s = st[ST_LIVE];
	MYSQL_BIND	 b[1], o[4];
	int		 rc;

	memset(b, 0, sizeof(b));
	db_bind_u64(&b[0], &rid);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &lv->collected);
	o[0].is_null = &lv->c_null;
	db_bind_u64(&o[1], &lv->failed);
	o[1].is_null = &lv->f_null;
	db_bind_u64(&o[2], &lv->pending);
	o[2].is_null = &lv->p_null;
	db_bind_time(&o[3], &lv->fin);
	o[3].is_null = &lv->fin_null;
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1 || rc == MYSQL_NO_DATA) {
		store_fail(s, what, retry);
		return -1;
	}
	mysql_stmt_free_result(s);
	return 0;
}

/*
 * A page of requests: a finished row as settled (it never changes), an
 * unfinished one (the settle may lag a second) live like GET, one
 * aggregate over its own cities each (ST_LIVE).
 */
enum store_rc
store_list(unsigned long long before, unsigned long long limit,
    struct buf *out)
{
	const struct buf *cached;
	struct getcache_version version, cached_version;
	MYSQL_STMT	*s;
	MYSQL_BIND	 b[2], o[7];
	MYSQL_TIME	 req, fin;
	struct live	 lv;
	char		 id[ID_MAX], key[64];
	unsigned long	 idlen;
	unsigned long long rid, total, collected, failed, last = 0;
	my_bool		 fin_null;
	unsigned long long n = 0;
	size_t		 start = out->len, keylen;
	int		 rc, fin_cached;

	if (store_open() == -1)
		return STORE_UNAVAILABLE;
	/* A page's key starts with a byte no request id holds. */
	keylen = (size_t)snprintf(key, sizeof(key), "\001%llu:%llu", before,
	    limit);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &version.row);
	db_bind_u64(&o[1], &version.final);
	db_bind_u64(&o[2], &version.ended);
	s = st[ST_LIST_VERSION];
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1 || rc == MYSQL_NO_DATA)
		return store_fail(s, "list version", NULL);
	mysql_stmt_free_result(s);
	if ((cached = getcache_find(key, keylen, &cached_version, &fin_cached))
	    != NULL && getcache_same(&version, &cached_version)) {
		buf_add(out, cached->data, cached->len);
		return STORE_OK;
	}
	s = st[ST_LIST];
	memset(b, 0, sizeof(b));
	db_bind_u64(&b[0], &before);
	db_bind_u64(&b[1], &limit);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &rid);
	o[1].buffer_type = MYSQL_TYPE_BLOB;
	o[1].buffer = id;
	o[1].buffer_length = sizeof(id);
	o[1].length = &idlen;
	db_bind_time(&o[2], &req);
	db_bind_time(&o[3], &fin);
	o[3].is_null = &fin_null;
	db_bind_u64(&o[4], &total);
	db_bind_u64(&o[5], &collected);
	db_bind_u64(&o[6], &failed);
	/* Stored whole, so ST_LIVE can run between its rows. */
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0 ||
	    mysql_stmt_store_result(s) != 0)
		return store_fail(s, "list", NULL);
	buf_adds(out, "{\"requests\": [");
	while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		if (fin_null) {
			if (live(rid, &lv, "list progress", NULL) == -1)
				return STORE_UNAVAILABLE;
			/* NULL: the row went meanwhile (a purge): as read. */
			if (!lv.c_null && !lv.f_null && !lv.p_null) {
				collected = lv.collected;
				failed = lv.failed;
				if (lv.pending == 0 && !lv.fin_null) {
					fin = lv.fin;
					fin_null = 0;
				}
			}
		}
		if (n++)
			buf_adds(out, ", ");
		summary(out, id, idlen < sizeof(id) ? idlen : sizeof(id),
		    &req, fin_null ? NULL : &fin, total, collected, failed);
		buf_addc(out, '}');
		last = rid;
	}
	if (rc == 1)
		return store_fail(s, "list fetch", NULL);
	mysql_stmt_free_result(s);
	/* A full page may have a next one; its cursor is the last row id. */
	if (n == limit)
		buf_printf(out, "], \"next\": \"%llu\"}\n", last);
	else
		buf_adds(out, "], \"next\": null}\n");
	if (!out->failed) {
		static struct buf page;

		buf_reset(&page);
		buf_add(&page, out->data + start, out->len - start);
		getcache_put(key, keylen, &version, 0, &page);
	}
	return STORE_OK;
}

/*
 * Drop the queue entries request rid created that no worker has leased:
 * found by a plain read, then locked in ascending city_id (lock 2), their
 * fetches ended as dropped (lock 3) and the entries deleted.  Returns how
 * many went, -1 on failure.
 */
static long long
drop_tasks(unsigned long long rid, int *retry)
{
	static unsigned int	 cities[CITIES_MAX];
	static struct buf	 json;
	MYSQL_STMT	*s;
	MYSQL_BIND	 b[2], o[2];
	unsigned long long city, fid;
	unsigned long	 len;
	size_t		 n = 0, i, k = 0;
	int		 rc;

	s = st[ST_CANCEL_FIND];
	memset(b, 0, sizeof(b));
	db_bind_u64(&b[0], &rid);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &city);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0) {
		store_fail(s, "cancel: find tasks", retry);
		return -1;
	}
	while ((rc = mysql_stmt_fetch(s)) == 0)
		if (n < CITIES_MAX)
			cities[n++] = (unsigned int)city;
	mysql_stmt_free_result(s);
	if (rc == 1) {
		store_fail(s, "cancel: find tasks", retry);
		return -1;
	}
	if (n == 0)
		return 0;

	buf_reset(&json);
	for (i = 0; i < n; i++) {
		buf_addc(&json, i ? ',' : '[');
		buf_addu(&json, cities[i]);
	}
	buf_addc(&json, ']');
	if (bind_json(&b[0], &json, &len, "cancel: out of memory") == -1)
		return -1;
	db_bind_u64(&b[1], &rid);
	s = st[ST_CANCEL_TAKE];
	db_bind_u64(&o[1], &fid);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0 ||
	    mysql_stmt_store_result(s) != 0) {
		store_fail(s, "cancel: lock tasks", retry);
		return -1;
	}
	/* The list is rebuilt below from the rows, json is free again. */
	buf_reset(&json);
	while ((rc = mysql_stmt_fetch(s)) == 0)
		pair(&json, k++, city, fid);
	mysql_stmt_free_result(s);
	if (rc == 1) {
		store_fail(s, "cancel: lock tasks", retry);
		return -1;
	}
	if (k == 0)			/* all leased meanwhile */
		return 0;
	buf_addc(&json, ']');
	if (bind_json(&b[0], &json, &len, "cancel: out of memory") == -1 ||
	    run(ST_CANCEL_FETCHES, b, "cancel: drop fetches", retry) == -1 ||
	    run(ST_CANCEL_TASKS, b, "cancel: drop tasks", retry) == -1)
		return -1;
	return (long long)mysql_stmt_affected_rows(st[ST_CANCEL_TASKS]);
}

/*
 * One attempt at a cancel; *retry set on a deadlock.  Lock order: the
 * request row (FOR UPDATE), its queue entries (ascending city_id), the
 * dropped fetches, this connection's counters.  A finished request
 * (settled, or with no city pending) is left as it is.  Otherwise it is
 * cancelled now: a city not done by now is failed ("cancelled",
 * request_data), so the row is settled at once from its cities and the
 * counts move by the difference.
 */
static enum store_rc
cancel_once(const char *id, size_t idlen, unsigned long long *n, int *retry)
{
	MYSQL_STMT	*s = st[ST_CANCEL_LOCK];
	MYSQL_BIND	 b[4], o[4];
	struct live	 lv;
	unsigned long	 len;
	unsigned long long rid, was_c, was_f, fin;
	long long	 dropped;
	int		 rc;

	*n = 0;
	if (mysql_real_query(db, "START TRANSACTION", 17) != 0)
		return store_fail(NULL, "start transaction", retry);
	bind_id(&b[0], id, idlen, &len);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], &rid);
	db_bind_u64(&o[1], &was_c);
	db_bind_u64(&o[2], &was_f);
	db_bind_u64(&o[3], &fin);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1)
		return store_fail(s, "cancel: lock request", retry);
	mysql_stmt_free_result(s);
	if (rc == MYSQL_NO_DATA || fin) {
		mysql_rollback(db);
		return rc == MYSQL_NO_DATA ? STORE_NOTFOUND : STORE_OK;
	}
	/* Finished by its cities, not settled yet (the settle will): as
	 * finished, nothing changes either. */
	if (live(rid, &lv, "cancel: progress", retry) == -1)
		return STORE_UNAVAILABLE;
	if (!lv.p_null && lv.pending == 0) {
		mysql_rollback(db);
		return STORE_OK;
	}

	memset(b, 0, sizeof(b));
	db_bind_u64(&b[0], &rid);
	if (run(ST_CANCEL_MARK, b, "cancel: mark request", retry) == -1 ||
	    (dropped = drop_tasks(rid, retry)) == -1 ||
	    live(rid, &lv, "cancel: settle", retry) == -1)
		return STORE_UNAVAILABLE;
	if (lv.c_null || lv.f_null || lv.p_null || lv.fin_null ||
	    lv.pending != 0)
		return broken("DELETE /collect: a cancelled request still has "
		    "cities pending");
	db_bind_u64(&b[0], &lv.collected);
	db_bind_u64(&b[1], &lv.failed);
	db_bind_time(&b[2], &lv.fin);
	db_bind_u64(&b[3], &rid);
	if (run(ST_CANCEL_SETTLE, b, "cancel: settle", retry) == -1 ||
	    count(0, (long long)lv.collected - (long long)was_c,
	    (long long)lv.failed - (long long)was_f, -dropped, 0, dropped + 1,
	    NULL, 0, retry) == -1)
		return STORE_UNAVAILABLE;
	if (mysql_commit(db) != 0)
		return store_fail(NULL, "commit", retry);
	*n = lv.failed - was_f;
	return STORE_OK;
}

enum store_rc
store_cancel(const char *id, size_t idlen, unsigned long long *n,
    struct buf *out)
{
	enum store_rc	 rc = STORE_UNAVAILABLE;
	int		 attempt, retry = 0, finished;

	for (attempt = 0; attempt < STORE_TRIES; attempt++) {
		if (store_open() == -1)
			return STORE_UNAVAILABLE;
		retry = 0;
		rc = cancel_once(id, idlen, n, &retry);
		if (!retry)
			break;
		retry_pause(attempt);
	}
	if (retry)
		log_warnx("DELETE /collect: still deadlocked after %d tries",
		    attempt);
	if (rc != STORE_OK || retry)
		return retry ? STORE_UNAVAILABLE : rc;
	return store_get(id, idlen, out, &finished);
}

MYSQL *
store_conn(void)
{
	return store_open() == -1 ? NULL : db;
}

unsigned long
store_epoch(void)
{
	return epoch;
}

enum store_rc
store_lost(MYSQL_STMT *s, const char *what)
{
	return store_fail(s, what, NULL);
}
