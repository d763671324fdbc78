/*
 * queue.c: see queue.h.
 *
 * Why the lock.  Two INSERT IGNOREs of a city whose entry a batch is
 * deleting both wait for the batch, then each holds a shared lock the
 * other's insert needs: InnoDB's deadlock of duplicate keys, a 503 once
 * the retries run out.  So one queueing runs at a time (POSTs and the
 * settle's requeue alike).  The lock is held only across the INSERT,
 * never while waiting for another such lock, so it adds no cycle.  It is
 * per session and per server (queue.h: QUEUE_LOCK_NAME): it serialises only
 * while every session is on the one writer, and it goes with a lost
 * connection, so each attempt takes its own.  Its wait ends before
 * mysql.read_timeout (db.h: db_lock_wait_ms): a refusal of its own,
 * rolled back on a live connection, not a connection taken for lost.
 */
#include <stdio.h>

#include "db.h"
#include "queue.h"

const char queue_turn_sql[] = QUEUE_TURN_SELECT;

/*
 * One statement, one round trip: NOW(6) is the statement's start in both
 * places.  A fresh city's queue entry is not looked up (its reading
 * serves it): a look-up of fresh cities reads one index entry a city, not
 * two.  A plain SELECT: in READ COMMITTED a consistent read that takes no
 * lock, so a flood of POSTs of the same cities never waits on the workers
 * or on each other here.
 */
const char queue_look_sql[] =
    "SELECT h.now, h.base, x.pos, x.reading, x.turn, x.fetch_id "
    "FROM (" QUEUE_TURN_SELECT ") h LEFT JOIN ("
    "SELECT j.pos - 1 AS pos, "
    "IF(cl.fetched_at >= c.cut, cl.reading_id, 0) AS reading, "
    "t.turn, t.fetch_id FROM (SELECT IF(? > 0, "
    "NOW(6) - INTERVAL ? SECOND, TIMESTAMP'9999-12-31 23:59:59') "
    "AS cut) c STRAIGHT_JOIN JSON_TABLE(?, '$[*]' "
    "COLUMNS (pos FOR ORDINALITY, city_id INT UNSIGNED PATH '$')) j "
    "LEFT JOIN city_latest cl ON cl.city_id = j.city_id "
    "LEFT JOIN city_tasks t ON t.city_id = j.city_id "
    "AND (cl.fetched_at IS NULL OR cl.fetched_at < c.cut) "
    "WHERE cl.fetched_at >= c.cut OR t.turn IS NOT NULL) x ON TRUE";

const char queue_lock_sql[] =
    "SELECT " QUEUE_LOCK_GET;

/*
 * In ascending city_id (ORDER BY), the order every locker of queue
 * entries follows.  Each new entry is a new fetch (its fetch_id); one
 * that exists already gets a shared lock only (rare after a plain read
 * found it missing: a city just queued by another request or just
 * completed).
 */
const char queue_insert_sql[] =
    "INSERT IGNORE INTO city_tasks (city_id, turn, ready_at, created_at, "
    "created_by) "
    "SELECT j.city_id, ? + j.pos, ?, ?, COALESCE(j.req, ?) "
    "FROM JSON_TABLE(?, '$[*]' "
    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
    "pos INT UNSIGNED PATH '$[1]', "
    "req BIGINT UNSIGNED PATH '$[2]')) j ORDER BY j.city_id";

const char queue_lower_sql[] =
    "UPDATE JSON_TABLE(?, '$[*]' "
    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
    "turn BIGINT UNSIGNED PATH '$[1]')) j "
    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id "
    "SET t.turn = j.turn WHERE t.turn > j.turn";

/* queue_look's state across db_rows' calls. */
struct look {
	struct queue_look_row r;
	int		(*row)(void *, const struct queue_look_row *,
			    struct db_err *);
	void		*arg;
	long long	 rows;
};

static int
look_row(void *arg, struct db_err *e)
{
	struct look	*l = arg;

	l->rows++;
	return l->row(l->arg, &l->r, e);
}

long long
queue_look(MYSQL *db, MYSQL_STMT *st, long long reuse,
    const MYSQL_BIND *cities, const char *what,
    int (*row)(void *, const struct queue_look_row *, struct db_err *),
    void *arg, struct db_err *e)
{
	struct look	 l = { .row = row, .arg = arg };
	MYSQL_BIND	 b[3], o[6];

	db_bind_i64(&b[0], &reuse);
	db_bind_i64(&b[1], &reuse);
	b[2] = *cities;
	db_bind_time(&o[0], &l.r.now);
	db_bind_u64(&o[1], &l.r.base);
	db_bind_u64(&o[2], &l.r.pos);
	o[2].is_null = &l.r.pos_null;
	db_bind_u64(&o[3], &l.r.reading);
	db_bind_u64(&o[4], &l.r.turn);
	o[4].is_null = &l.r.turn_null;
	db_bind_u64(&o[5], &l.r.fetch);
	o[5].is_null = &l.r.fetch_null;
	if (db_rows(db, st, b, o, what, look_row, &l, e) == -1)
		return -1;
	return l.rows;
}

#define QUEUE_UNLOCK	"DO RELEASE_LOCK('" QUEUE_LOCK_NAME "')"

void
queue_bind(MYSQL_BIND *b, struct queue_add *q)
{
	db_bind_u64(&b[0], &q->base);
	db_bind_time(&b[1], &q->at);
	db_bind_time(&b[2], &q->at);
	db_bind_u64(&b[3], &q->by);
	b[4] = *q->cities;
}

int
queue_turn(MYSQL *db, MYSQL_STMT *st, MYSQL_TIME *at,
    unsigned long long *base, struct db_err *e)
{
	MYSQL_BIND	 o[2];

	db_bind_time(&o[0], at);
	db_bind_u64(&o[1], base);
	return db_one_row(db, st, NULL, o, "queue turn", e) == 0 ? 0 : -1;
}

/* QUEUE_DONE held, QUEUE_BUSY not granted in time, QUEUE_FAILED. */
static enum queue_rc
lock_take(MYSQL *db, MYSQL_STMT *lock, long long read_timeout,
    struct db_err *e)
{
	MYSQL_BIND	 p[1], o[1];
	long long	 got = 0, wait = db_lock_wait_ms(read_timeout);
	my_bool		 null = 0;

	db_bind_i64(&p[0], &wait);
	db_bind_i64(&o[0], &got);
	o[0].is_null = &null;
	if (db_one_row(db, lock, p, o, "queue lock", e) != 0)
		return QUEUE_FAILED;
	if (null || got != 1) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "the queue lock was not "
		    "granted in %lld ms", wait);
		return QUEUE_BUSY;
	}
	return QUEUE_DONE;
}

enum queue_rc
queue_cities(MYSQL *db, MYSQL_STMT *lock, MYSQL_STMT *insert,
    const struct queue_add *q, unsigned long long *queued,
    struct db_err *e)
{
	MYSQL_BIND	 b[QUEUE_PARAMS];
	struct queue_add v = *q;
	struct db_err	 unlock;
	enum queue_rc	 rc;

	*queued = 0;
	if ((rc = lock_take(db, lock, q->read_timeout, e)) != QUEUE_DONE)
		return rc;
	queue_bind(b, &v);
	if (db_run(db, insert, b, "queue cities", e) == -1)
		rc = QUEUE_FAILED;
	else
		*queued = mysql_stmt_affected_rows(insert);
	if (db_query(db, QUEUE_UNLOCK, &unlock) == -1 && rc == QUEUE_DONE) {
		*e = unlock;
		rc = QUEUE_FAILED;
	}
	return rc;
}
