/*
 * queue.h: queueing cities (etc/schema.sql: city_tasks), the one way POST
 * /collect and the settle's requeue put a city in the queue: the queue's
 * clock and current turn, then the INSERT IGNORE of the cities in
 * ascending city_id under the queue lock (queue.h: QUEUE_LOCK_NAME), taken
 * with its one wait (db_lock_wait_ms) and released whatever happened.
 *
 * As with counters.h, the statements belong to the module whose
 * transaction runs them: its statement set names queue_turn_sql (or
 * reads QUEUE_TURN_SELECT in a statement of its own), queue_lock_sql and
 * queue_insert_sql, and hands them to queue_turn and queue_cities.  The
 * entries are that transaction's city_tasks step (docs/design.md, "Lock
 * order").
 */
#ifndef OWM_QUEUE_H
#define OWM_QUEUE_H

#include <mysql.h>

struct db_err;

/*
 * The named lock around queueing new cities (POST, the settle's requeue).
 * A named lock belongs to its session on its server: it dies with the
 * session (a lost connection releases it as soon as the server sees it
 * close; a session killed mid-statement, when that statement ends), and a
 * Galera node neither replicates nor sees another node's (MariaDB 10.11
 * allows GET_LOCK with wsrep_on, MDEV-31325).  It serialises because
 * every session is on the one writer (HAProxy: one server, the others
 * backup); after a failover the old writer's sessions, and their locks,
 * are gone.  Nothing holds it across a reconnect: it is taken and
 * released inside one attempt of one transaction, and a lost connection
 * fails the attempt, which takes it again on the new one.  Writing to two
 * nodes at once would void it, as it voids the row locks the gate and the
 * claims rely on.
 */
#define QUEUE_LOCK_NAME	"owmcollect.queue"
/*
 * Taking it: GET_LOCK's result (1 granted, 0 not in time, NULL an error),
 * its one parameter the wait in milliseconds, db_lock_wait_ms().
 */
#define QUEUE_LOCK_GET "GET_LOCK('" QUEUE_LOCK_NAME "', ? / 1000)"

/*
 * The database's clock and the queue's current turn (its smallest), as
 * columns now and base: queue_turn_sql, or a derived table inside a
 * statement of the caller's own (post.c's look-up).
 */
#define QUEUE_TURN_SELECT \
	"SELECT NOW(6) AS now, COALESCE(MIN(turn), 0) AS base FROM city_tasks"
extern const char queue_turn_sql[];
/*
 * The look-up a POST starts with, and the resolver's round (a plain read,
 * no lock): the database's clock and the queue's turn as now and base on
 * every row; then, of the cities ([id, ...]), those with a reading
 * fresher than the cut-off (its two parameters, the same, before the
 * list: worker.reuse_seconds; 0, none is) and those already queued, each
 * with its pos in the list (0-based), that reading (0: none), and its
 * queue entry's turn and fetch; one row of NULLs after now and base when
 * there is none.
 */
extern const char queue_look_sql[];

/* A row of queue_look_sql: pos NULL on the row of no city. */
struct queue_look_row {
	MYSQL_TIME	 now;
	unsigned long long base, pos, reading, turn, fetch;
	my_bool		 pos_null, turn_null, fetch_null;
};
/*
 * Run st (queue_look_sql on db) for the cities (a bound [id, ...] list)
 * with worker.reuse_seconds reuse, calling row(arg, r, e) for each row.
 * The rows it read, or -1 with e filled (what names it in the message).
 */
long long queue_look(MYSQL *db, MYSQL_STMT *st, long long reuse,
	    const MYSQL_BIND *cities, const char *what,
	    int (*row)(void *arg, const struct queue_look_row *,
	    struct db_err *), void *arg, struct db_err *e);
/* The queue lock: one parameter, the wait in milliseconds. */
extern const char queue_lock_sql[];
/*
 * Entries queued at a later turn than [[city_id, turn], ...] gives them
 * move forward to it.  The list is in ascending city_id and drives the
 * join (STRAIGHT_JOIN even on a small queue), so that is the lock order.
 */
extern const char queue_lower_sql[];
/* The entries: QUEUE_PARAMS parameters, queue_bind's.  Each entry's
 * created_by is its tuple's third number when it has one, else q->by. */
extern const char queue_insert_sql[];
#define QUEUE_PARAMS	5

/* What to queue. */
struct queue_add {
	MYSQL_TIME	 at;		/* ready_at and created_at */
	unsigned long long base;	/* the turn: base + the city's pos */
	unsigned long long by;		/* created_by: the request */
	/* [[city_id, pos], ...] (or [[city_id, pos, by], ...]) in
	 * ascending city_id, bound (db_list_bind): the caller may read the
	 * same list again after. */
	const MYSQL_BIND *cities;
	long long	 read_timeout;	/* mysql.read_timeout (s): the wait */
};

/* Bind q (the binds point into it) into b[0 .. QUEUE_PARAMS).  Pure. */
void	queue_bind(MYSQL_BIND *b, struct queue_add *q);

/* Run st (queue_turn_sql on db): at and base.  0, or -1 with e filled. */
int	queue_turn(MYSQL *db, MYSQL_STMT *st, MYSQL_TIME *at,
	    unsigned long long *base, struct db_err *e);

enum queue_rc {
	QUEUE_FAILED = -1,	/* a statement failed: e filled */
	QUEUE_DONE,		/* queued: *queued entries are new, the
				 * others were queued already */
	QUEUE_BUSY		/* the lock was not granted in time: nothing
				 * done, e->msg says so (code 0) */
};
/*
 * Queue q's cities: lock (queue_lock_sql) and insert (queue_insert_sql)
 * prepared on db, inside the caller's transaction.  An entry that exists
 * is kept (and share-locked: it cannot go before the commit).
 */
enum queue_rc queue_cities(MYSQL *db, MYSQL_STMT *lock, MYSQL_STMT *insert,
	    const struct queue_add *q, unsigned long long *queued,
	    struct db_err *e);

#endif
