/*
 * store.c: the FastCGI program's side of the schema (etc/schema.sql).
 *
 * Each preforked process owns one connection and its prepared statements,
 * opened at start and reopened lazily after the server went away.  While
 * the server is unreachable a process retries at most once a second and
 * answers 503 at once in between, so a dead database never queues clients
 * behind connect timeouts.
 *
 * POST is one transaction: the request row holding the city list and the
 * fresh readings that fulfil cities at once (its unique key decides races
 * on an id), then for the other cities their queue entries and their
 * pending rows in one bulk insert each.  GET is one statement, or,
 * when this process has the document cached (getcache.h), one unique-key
 * lookup that proves the cached copy is still exact.
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
	ST_INS_REQUEST,
	ST_INS_CITIES,
	ST_LOOK,
	ST_QUEUE,
	ST_LOWER,
	ST_GET,
	ST_VERSION,
	ST_LIST,
	ST_CANCEL_CITIES,
	ST_CANCEL_REQUEST,
	ST_CANCEL_TASKS,
	ST_COUNTERS,
	ST_PURGED,
	ST_COUNT
};

#define SHARD	DB_COUNTER_SHARD

/* Outcomes per request row in a GET document's version: more than any
 * request's cities (CITIES_MAX, 1000). */
#define VERSION_SPAN	1024
#define STR(x)		#x
#define XSTR(x)		STR(x)
#define GET_COLS	12	/* ST_GET's columns, get_bind's binds */

static const char *const sql[ST_COUNT] = {
	[ST_NOW] =
	    "SELECT NOW(6), COALESCE(MIN(turn), 0) FROM city_tasks",
	[ST_INS_REQUEST] =
	    "INSERT INTO requests (ext_id, requested_at, total, collected, "
	    "finished_at, cities) VALUES (?, ?, ?, ?, ?, ?)",
	[ST_INS_CITIES] =
	    "INSERT INTO request_cities (request_id, pos, city_id) "
	    "VALUES (?, ?, ?)",
	/*
	 * Of the request's cities ([id, ...] as JSON), those with a reading
	 * fresher than the cut-off, and those already queued, with their
	 * turn.  A plain SELECT: in READ COMMITTED a consistent read that
	 * takes no lock.
	 */
	[ST_LOOK] =
	    "SELECT j.pos - 1, IF(cl.fetched_at >= ?, cl.reading_id, 0), "
	    "t.turn FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (pos FOR ORDINALITY, city_id INT UNSIGNED PATH '$')) j "
	    "LEFT JOIN city_latest cl ON cl.city_id = j.city_id "
	    "LEFT JOIN city_tasks t ON t.city_id = j.city_id "
	    "WHERE cl.fetched_at >= ? OR t.turn IS NOT NULL",
	/*
	 * Queue the cities still to fetch ([[id, pos], ...]) in ascending
	 * city_id, the order the worker also locks queue entries in, so a
	 * POST and a worker storing a batch never deadlock.  An entry that
	 * exists gets a shared lock only: concurrent POSTs of the same
	 * cities do not wait on each other, and a worker cannot complete
	 * the entry (delete it) before this request's rows are committed.
	 * The request_cities rows are inserted after, so a worker that holds
	 * an entry never waits on this request's rows.
	 */
	[ST_QUEUE] =
	    "INSERT IGNORE INTO city_tasks (city_id, turn, ready_at, "
	    "created_at) "
	    "SELECT j.city_id, ? + j.pos, ?, ? FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "pos INT UNSIGNED PATH '$[1]')) j ORDER BY j.city_id",
	/*
	 * Fairness: entries queued earlier at a later turn than this
	 * request gives them move forward ([[id, turn], ...]).  Rare: only
	 * when a request puts a city earlier than a bigger one did.
	 */
	[ST_LOWER] =
	    "UPDATE city_tasks t JOIN JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "turn BIGINT UNSIGNED PATH '$[1]')) j ON t.city_id = j.city_id "
	    "SET t.turn = j.turn WHERE t.turn > j.turn",
	/*
	 * Every city of the request in order (so a request with none done
	 * still has rows), done or not: its reading from requests.cities
	 * or its request_cities row.
	 */
	[ST_GET] =
	    "SELECT r.requested_at, r.finished_at, r.total, r.collected, "
	    "r.failed, j.city_id, rd.temperature, rd.humidity, "
	    "rd.observed_at, rc.error, "
	    "COALESCE(j.reading_id > 0 OR rc.state <> 'pending', 0), r.id "
	    "FROM requests r "
	    "JOIN JSON_TABLE(r.cities, '$[*]' COLUMNS (pos FOR ORDINALITY, "
	    "city_id INT UNSIGNED PATH '$[0]', "
	    "reading_id BIGINT UNSIGNED PATH '$[1]')) j "
	    "LEFT JOIN request_cities rc "
	    "ON rc.request_id = r.id AND rc.pos = j.pos - 1 "
	    "LEFT JOIN readings rd "
	    "ON rd.id = IF(j.reading_id > 0, j.reading_id, rc.reading_id) "
	    "WHERE r.ext_id = ? ORDER BY j.pos",
	/* The version of a cached document: its request's row (an id may
	 * be posted again once retention purged it) and its outcomes. */
	[ST_VERSION] =
	    "SELECT id * " XSTR(VERSION_SPAN) " + collected + failed, "
	    "finished_at IS NOT NULL FROM requests WHERE ext_id = ?",
	[ST_LIST] =
	    "SELECT id, ext_id, requested_at, finished_at, total, collected, "
	    "failed FROM requests WHERE id < ? ORDER BY id DESC LIMIT ?",
	/* Cancelling: the request's pending cities fail with "cancelled",
	 * and queue entries no other request waits for go. */
	[ST_CANCEL_CITIES] =
	    "UPDATE request_cities rc JOIN requests r ON r.id = rc.request_id "
	    "SET rc.state = 'failed', rc.error = 'cancelled', "
	    "rc.done_at = NOW(6) "
	    "WHERE r.ext_id = ? AND rc.state = 'pending'",
	[ST_CANCEL_REQUEST] =
	    "UPDATE requests SET failed = failed + ?, "
	    "finished_at = COALESCE(finished_at, NOW(6)) WHERE ext_id = ?",
	[ST_CANCEL_TASKS] =
	    "DELETE t FROM city_tasks t "
	    "JOIN request_cities rc ON rc.city_id = t.city_id "
	    "JOIN requests r ON r.id = rc.request_id "
	    "WHERE r.ext_id = ? AND rc.error = 'cancelled' AND NOT EXISTS "
	    "(SELECT 1 FROM request_cities p "
	    "WHERE p.city_id = t.city_id AND p.state = 'pending')",
	/* An id retention purged stays used: unique forever (DESIGN.md).
	 * Read after the request row is in, so a purge of the same id that
	 * committed meanwhile (it held that row's key) is seen. */
	[ST_PURGED] =
	    "SELECT 1 FROM purged_requests WHERE ext_id = ?",
	/*
	 * What a POST or a cancel changed, added to the running counts
	 * /metrics reads: this connection's shard row, the transaction's
	 * last lock.
	 */
	[ST_COUNTERS] =
	    "INSERT INTO counters (shard, cities, collected, failed, queued, "
	    "requests) VALUES (" SHARD ", ?, ?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE cities = cities + VALUES(cities), "
	    "collected = collected + VALUES(collected), "
	    "failed = failed + VALUES(failed), "
	    "queued = queued + VALUES(queued), "
	    "requests = requests + VALUES(requests)",
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

/*
 * Which of r's cities have a reading fresher than worker.reuse_seconds
 * (reading[pos] set, or 0), and which are queued at a later turn than
 * base + pos would give them (lower[pos] set to that turn, or 0).
 * Returns how many have a fresh reading.
 */
static long
look(const struct collect_req *r, const MYSQL_TIME *now,
    unsigned long long base, unsigned long long *reading,
    unsigned long long *lower, int *retry)
{
	static struct buf json;
	MYSQL_BIND	 b[3], o[3];
	MYSQL_TIME	 cut = *now;
	unsigned long long pos, id, turn;
	unsigned long	 len;
	my_bool		 turn_null;
	long		 n = 0;
	size_t		 i;
	int		 rc;

	memset(reading, 0, r->ncities * sizeof(*reading));
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
		} else if (!turn_null && turn > base + pos)
			lower[pos] = base + pos;
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
 * as a signed change), inside the caller's transaction.
 */
static int
count(long long cities, long long collected, long long failed,
    long long queued, long long requests, int *retry)
{
	MYSQL_BIND	 b[5];
	long long	 v[5] = { cities, collected, failed, queued, requests };
	int		 i;

	memset(b, 0, sizeof(b));
	for (i = 0; i < 5; i++)
		db_bind_i64(&b[i], &v[i]);
	if (mysql_stmt_bind_param(st[ST_COUNTERS], b) != 0 ||
	    mysql_stmt_execute(st[ST_COUNTERS]) != 0) {
		store_fail(st[ST_COUNTERS], "counters", retry);
		return -1;
	}
	return 0;
}

/*
 * Queue the cities without a fresh reading, in ascending city_id, and
 * move forward those queued at a later turn (lower[]).  *queued: the
 * entries this request created (the others were queued already).
 */
static int
queue(const struct collect_req *r, const unsigned long long *reading,
    const unsigned long long *lower, unsigned long long base,
    const MYSQL_TIME *now, unsigned long long *queued, int *retry)
{
	static struct buf json;
	MYSQL_BIND	 b[4];
	MYSQL_TIME	 t = *now;
	unsigned long	 len;
	size_t		 i, k = 0;

	buf_reset(&json);
	for (i = 0; i < r->ncities; i++)
		if (reading[i] == 0)
			pair(&json, k++, r->cities[i], i);
	buf_addc(&json, ']');
	if (bind_json(&b[3], &json, &len, "queue cities: out of memory") ==
	    -1)
		return -1;
	db_bind_u64(&b[0], &base);
	db_bind_time(&b[1], &t);
	db_bind_time(&b[2], &t);
	if (mysql_stmt_bind_param(st[ST_QUEUE], b) != 0 ||
	    mysql_stmt_execute(st[ST_QUEUE]) != 0) {
		store_fail(st[ST_QUEUE], "queue cities", retry);
		return -1;
	}
	*queued = mysql_stmt_affected_rows(st[ST_QUEUE]);

	buf_reset(&json);
	for (i = 0, k = 0; i < r->ncities; i++)
		if (reading[i] == 0 && lower[i] != 0)
			pair(&json, k++, r->cities[i], lower[i]);
	if (k == 0)
		return 0;
	buf_addc(&json, ']');
	if (bind_json(&b[0], &json, &len, "queue turns: out of memory") == -1)
		return -1;
	if (mysql_stmt_bind_param(st[ST_LOWER], b) != 0 ||
	    mysql_stmt_execute(st[ST_LOWER]) != 0) {
		store_fail(st[ST_LOWER], "queue turns", retry);
		return -1;
	}
	return 0;
}

/*
 * The cities without a fresh reading, pending, in one round trip
 * (column-wise array binding).
 */
static int
insert_pending(const struct collect_req *r, unsigned long long reqid,
    const unsigned long long *reading, int *retry)
{
	static unsigned long long reqids[CITIES_MAX];
	static unsigned short	 pos[CITIES_MAX];
	static unsigned int	 city[CITIES_MAX];
	MYSQL_BIND		 b[3];
	unsigned int		 n = 0;
	size_t			 i;

	for (i = 0; i < r->ncities; i++)
		if (reading[i] == 0) {
			reqids[n] = reqid;
			pos[n] = (unsigned short)i;
			city[n++] = r->cities[i];
		}
	memset(b, 0, sizeof(b));
	db_bind_u64(&b[0], reqids);
	b[1].buffer_type = MYSQL_TYPE_SHORT;
	b[1].buffer = pos;
	b[1].is_unsigned = 1;
	b[2].buffer_type = MYSQL_TYPE_LONG;
	b[2].buffer = city;
	b[2].is_unsigned = 1;
	if (mysql_stmt_attr_set(st[ST_INS_CITIES], STMT_ATTR_ARRAY_SIZE, &n) ||
	    mysql_stmt_bind_param(st[ST_INS_CITIES], b) != 0 ||
	    mysql_stmt_execute(st[ST_INS_CITIES]) != 0) {
		store_fail(st[ST_INS_CITIES], "insert cities", retry);
		return -1;
	}
	return 0;
}

/* requests.cities: [[city_id, reading_id or 0], ...] in r's order. */
static void
city_list(struct buf *json, const struct collect_req *r,
    const unsigned long long *reading)
{
	size_t	 i;

	buf_reset(json);
	for (i = 0; i < r->ncities; i++)
		pair(json, i, r->cities[i], reading[i]);
	buf_addc(json, ']');
}

/* STORE_DUPLICATE (rolled back) if retention purged a request of this
 * id, STORE_OK if not. */
static enum store_rc
purged(const struct collect_req *r, int *retry)
{
	MYSQL_STMT	*s = st[ST_PURGED];
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	int		 rc;

	bind_id(&b[0], r->id, r->idlen, &len);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_store_result(s) != 0)
		return store_fail(s, "purged ids", retry);
	rc = mysql_stmt_num_rows(s) > 0;
	mysql_stmt_free_result(s);
	if (!rc)
		return STORE_OK;
	mysql_rollback(db);
	return STORE_DUPLICATE;
}

/*
 * One attempt at the POST transaction; *retry set on a deadlock.  Lock
 * order: the new request row, the queue entries (ascending city_id), the
 * new request_cities rows, this connection's counters.  Fresh readings are
 * read first, without locks, so the request row is inserted once, already
 * with its progress.
 */
static enum store_rc
collect_once(const struct collect_req *r, struct accepted *a, int *retry)
{
	static unsigned long long reading[CITIES_MAX], lower[CITIES_MAX];
	static struct buf list;
	MYSQL_BIND	 b[6], out[2];
	MYSQL_TIME	 now;
	unsigned long long base, reqid, total, done, queued;
	unsigned long	 idlen, listlen;
	my_bool		 unfinished;
	long		 fresh;
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

	if ((fresh = look(r, &now, base, reading, lower, retry)) == -1)
		return STORE_UNAVAILABLE;
	city_list(&list, r, reading);
	if (bind_json(&b[5], &list, &listlen, "city list: out of memory") ==
	    -1)
		return STORE_UNAVAILABLE;
	total = r->ncities;
	done = (unsigned long long)fresh;
	unfinished = done < total;
	bind_id(&b[0], r->id, r->idlen, &idlen);
	db_bind_time(&b[1], &now);
	db_bind_u64(&b[2], &total);
	db_bind_u64(&b[3], &done);
	db_bind_time(&b[4], &now);
	b[4].is_null = &unfinished;
	if (mysql_stmt_bind_param(st[ST_INS_REQUEST], b) != 0 ||
	    mysql_stmt_execute(st[ST_INS_REQUEST]) != 0) {
		if (mysql_stmt_errno(st[ST_INS_REQUEST]) == ER_DUP_ENTRY) {
			mysql_rollback(db);
			return STORE_DUPLICATE;
		}
		return store_fail(st[ST_INS_REQUEST], "insert request", retry);
	}
	reqid = mysql_stmt_insert_id(st[ST_INS_REQUEST]);
	if ((rc = purged(r, retry)) != STORE_OK)
		return rc;
	queued = 0;
	if (done < total && (queue(r, reading, lower, base, &now, &queued,
	    retry) == -1 || insert_pending(r, reqid, reading, retry) == -1))
		return STORE_UNAVAILABLE;
	if (count((long long)total, (long long)done, 0, (long long)queued, 1,
	    retry) == -1)
		return STORE_UNAVAILABLE;
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
	MYSQL_TIME	 requested_at, finished_at, observed_at;
	unsigned long long total, collected, failed, city_id, humidity;
	char		 temperature[16];
	char		 error[1024];
	unsigned long	 temp_len, error_len;
	my_bool		 finished_null, city_null, temp_null, error_null;
	my_bool		 hum_null, obs_null;
	signed char	 done;
	unsigned long long request;	/* requests.id */
};

static void
get_bind(MYSQL_BIND *o, struct get_row *g)
{
	memset(o, 0, GET_COLS * sizeof(*o));
	db_bind_time(&o[0], &g->requested_at);
	db_bind_time(&o[1], &g->finished_at);
	o[1].is_null = &g->finished_null;
	db_bind_u64(&o[2], &g->total);
	db_bind_u64(&o[3], &g->collected);
	db_bind_u64(&o[4], &g->failed);
	db_bind_u64(&o[5], &g->city_id);
	o[5].is_null = &g->city_null;
	o[6].buffer_type = MYSQL_TYPE_STRING;
	o[6].buffer = g->temperature;
	o[6].buffer_length = sizeof(g->temperature);
	o[6].length = &g->temp_len;
	o[6].is_null = &g->temp_null;
	db_bind_u64(&o[7], &g->humidity);
	o[7].is_null = &g->hum_null;
	db_bind_time(&o[8], &g->observed_at);
	o[8].is_null = &g->obs_null;
	o[9].buffer_type = MYSQL_TYPE_STRING;
	o[9].buffer = g->error;
	o[9].buffer_length = sizeof(g->error);
	o[9].length = &g->error_len;
	o[9].is_null = &g->error_null;
	o[10].buffer_type = MYSQL_TYPE_TINY;
	o[10].buffer = &g->done;
	db_bind_u64(&o[11], &g->request);
}

static void
get_head(struct buf *out, const char *id, size_t idlen,
    const struct get_row *g)
{
	char		 t[40];
	unsigned long long done = g->collected + g->failed;
	unsigned long long hundredths = g->total ? done * 10000 / g->total : 0;

	buf_adds(out, "{\"id\": ");
	json_str(out, id, idlen);
	fmt_time(t, sizeof(t), &g->requested_at, 1);
	buf_printf(out, ", \"requested_at\": \"%s\", \"finished_at\": ", t);
	if (g->finished_null)
		buf_adds(out, "null");
	else {
		fmt_time(t, sizeof(t), &g->finished_at, 1);
		buf_printf(out, "\"%s\"", t);
	}
	buf_printf(out, ", \"progress\": %llu.%02llu, \"total\": %llu, "
	    "\"collected\": %llu, \"failed\": %llu, \"data\": [",
	    hundredths / 100, hundredths % 100, g->total, g->collected,
	    g->failed);
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
 * The request's version (outcomes so far) and whether it finished: one
 * unique-key lookup.  STORE_NOTFOUND if there is no such request.
 */
static enum store_rc
get_version(const char *id, size_t idlen, unsigned long long *version,
    int *finished)
{
	MYSQL_STMT	*s = st[ST_VERSION];
	MYSQL_BIND	 b[1], o[2];
	unsigned long	 len;
	unsigned long long fin;
	int		 rc;

	bind_id(&b[0], id, idlen, &len);
	memset(o, 0, sizeof(o));
	db_bind_u64(&o[0], version);
	db_bind_u64(&o[1], &fin);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1)
		return store_fail(s, "get version", NULL);
	mysql_stmt_free_result(s);
	if (rc == MYSQL_NO_DATA)
		return STORE_NOTFOUND;
	*finished = fin != 0;
	return STORE_OK;
}

enum store_rc
store_get(const char *id, size_t idlen, struct buf *out, int *finished)
{
	static struct get_row g;
	const struct buf *cached;
	MYSQL_STMT	*s;
	MYSQL_BIND	 b[1], o[GET_COLS];
	unsigned long	 len;
	unsigned long long version, cached_version;
	enum store_rc	 vrc;
	int		 rc, rows = 0, items = 0;

	if (store_open() == -1)
		return STORE_UNAVAILABLE;
	if ((cached = getcache_find(id, idlen, &cached_version)) != NULL) {
		if ((vrc = get_version(id, idlen, &version, finished)) !=
		    STORE_OK)
			return vrc;
		if (version == cached_version) {
			buf_add(out, cached->data, cached->len);
			return STORE_OK;
		}
	}
	s = st[ST_GET];
	bind_id(&b[0], id, idlen, &len);
	get_bind(o, &g);
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0)
		return store_fail(s, "get", NULL);
	while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		if (rows++ == 0)
			get_head(out, id, idlen, &g);
		if (g.done == 1)
			get_item(out, &g, items++ == 0);
	}
	if (rc == 1)
		return store_fail(s, "get fetch", NULL);
	mysql_stmt_free_result(s);
	if (rows == 0)
		return STORE_NOTFOUND;
	buf_adds(out, "]}\n");
	/* One statement built the document: its row and counts are its
	 * version (ST_VERSION). */
	*finished = !g.finished_null;
	getcache_put(id, idlen, g.request * VERSION_SPAN + g.collected +
	    g.failed, out);
	return STORE_OK;
}

/* Appends one request's summary object (no data) from a ST_LIST row. */
static void
list_item(struct buf *out, const char *id, size_t idlen,
    const MYSQL_TIME *req, const MYSQL_TIME *fin, int fin_null,
    unsigned long long total, unsigned long long collected,
    unsigned long long failed)
{
	char		 t[40];
	unsigned long long h = total ? (collected + failed) * 10000 / total : 0;

	buf_adds(out, "{\"id\": ");
	json_str(out, id, idlen);
	fmt_time(t, sizeof(t), req, 1);
	buf_printf(out, ", \"requested_at\": \"%s\", \"finished_at\": ", t);
	if (fin_null)
		buf_adds(out, "null");
	else {
		fmt_time(t, sizeof(t), fin, 1);
		buf_printf(out, "\"%s\"", t);
	}
	buf_printf(out, ", \"progress\": %llu.%02llu, \"total\": %llu, "
	    "\"collected\": %llu, \"failed\": %llu}", h / 100, h % 100, total,
	    collected, failed);
}

enum store_rc
store_list(unsigned long long before, unsigned long long limit,
    struct buf *out)
{
	MYSQL_STMT	*s;
	MYSQL_BIND	 b[2], o[7];
	MYSQL_TIME	 req, fin;
	char		 id[ID_MAX];
	unsigned long	 idlen;
	unsigned long long rid, total, collected, failed, last = 0;
	my_bool		 fin_null;
	unsigned long long n = 0;
	int		 rc;

	if (store_open() == -1)
		return STORE_UNAVAILABLE;
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
	if (mysql_stmt_bind_param(s, b) != 0 || mysql_stmt_execute(s) != 0 ||
	    mysql_stmt_bind_result(s, o) != 0)
		return store_fail(s, "list", NULL);
	buf_adds(out, "{\"requests\": [");
	while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		if (n++)
			buf_adds(out, ", ");
		list_item(out, id, idlen < sizeof(id) ? idlen : sizeof(id),
		    &req, &fin, fin_null, total, collected, failed);
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
	return STORE_OK;
}

static enum store_rc
cancel_once(const char *id, size_t idlen, unsigned long long *n, int *retry)
{
	MYSQL_BIND	 b[2];
	unsigned long	 len, len2;

	if (mysql_real_query(db, "START TRANSACTION", 17) != 0)
		return store_fail(NULL, "start transaction", retry);
	bind_id(&b[0], id, idlen, &len);
	if (mysql_stmt_bind_param(st[ST_CANCEL_CITIES], b) != 0 ||
	    mysql_stmt_execute(st[ST_CANCEL_CITIES]) != 0)
		return store_fail(st[ST_CANCEL_CITIES], "cancel cities", retry);
	*n = mysql_stmt_affected_rows(st[ST_CANCEL_CITIES]);
	if (*n > 0) {
		memset(b, 0, sizeof(b));
		db_bind_u64(&b[0], n);
		bind_id(&b[1], id, idlen, &len2);
		if (mysql_stmt_bind_param(st[ST_CANCEL_REQUEST], b) != 0 ||
		    mysql_stmt_execute(st[ST_CANCEL_REQUEST]) != 0)
			return store_fail(st[ST_CANCEL_REQUEST],
			    "cancel request", retry);
		bind_id(&b[0], id, idlen, &len);
		if (mysql_stmt_bind_param(st[ST_CANCEL_TASKS], b) != 0 ||
		    mysql_stmt_execute(st[ST_CANCEL_TASKS]) != 0)
			return store_fail(st[ST_CANCEL_TASKS], "cancel tasks",
			    retry);
		if (count(0, 0, (long long)*n, -(long long)
		    mysql_stmt_affected_rows(st[ST_CANCEL_TASKS]), 0, retry)
		    == -1)
			return STORE_UNAVAILABLE;
	}
	if (mysql_commit(db) != 0)
		return store_fail(NULL, "commit", retry);
	return STORE_OK;
}

enum store_rc
store_cancel(const char *id, size_t idlen, unsigned long long *n,
    struct buf *out)
{
	enum store_rc	 rc;
	int		 attempt, retry, finished;

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
		return STORE_UNAVAILABLE;
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
