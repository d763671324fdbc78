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
    "SELECT j.city_id, ? + j.pos, ?, ?, ? FROM JSON_TABLE(?, '$[*]' "
    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
    "pos INT UNSIGNED PATH '$[1]')) j ORDER BY j.city_id";

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
