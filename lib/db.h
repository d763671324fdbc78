/*
 * db.h: the one database layer of owmcollect-fcgi and owmcollect-worker.
 *
 *   connection	db_open; struct db_conn, a connection that comes and goes
 *		(opened lazily, its outages logged once each way);
 *   statements	struct db_set, one module's SQL prepared together on a
 *		connection; db_run, db_one_row, db_rows, db_query run them
 *		and fill one error record (struct db_err);
 *   binds	db_bind_*, MYSQL_BIND set-up; db_list_*, the JSON lists of
 *		ids statements read through JSON_TABLE;
 *   errors	gone (reconnect later), retryable (deadlock, lock wait
 *		timeout), and the one retry policy (db_retry);
 *   failover	db_conn_transaction, a transaction that survives a change
 *		of server (reconnect and run again, an unknown COMMIT
 *		resolved by its owner).
 *
 * Sessions run in UTC and READ COMMITTED: the claim and completion
 * transactions rely on locking reads seeing the latest committed rows.
 * Automatic reconnection stays off: a silent reconnect would lose session
 * state (prepared statements, time zone) and hide a transaction's failure.
 */
#ifndef OWM_DB_H
#define OWM_DB_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

struct buf;
struct config;

/*
 * Times cross the SQL boundary as integer microseconds since the epoch on
 * the session's UTC clock: DB_US(x) of a DATETIME(6) expression, DB_AT(x)
 * the DATETIME(6) of a microseconds expression.  No rounding happens.
 */
#define DB_EPOCH	"TIMESTAMP'1970-01-01 00:00:00'"
#define DB_US(x)	"TIMESTAMPDIFF(MICROSECOND, " DB_EPOCH ", " x ")"
#define DB_AT(x)	"TIMESTAMPADD(MICROSECOND, " x ", " DB_EPOCH ")"

/*
 * How long a session waits for a named lock, from mysql.read_timeout
 * (seconds): always shorter, so that a lock not granted in time is
 * GET_LOCK's own 0 on a live connection, a clean rollback.  Were it
 * longer, the client's read would time out first: the connection taken
 * for lost (a reconnect, a 503) while the server still ran the abandoned
 * transaction, holding what it wrote, until its GET_LOCK gave up.  The
 * read timeout less a second for the statement's own trip, at least half
 * of it (read_timeout may be 1 s), at most 10 s (no POST waits longer on
 * one INSERT's lock).
 */
#define DB_LOCK_MARGIN_MS	1000LL
#define DB_LOCK_MAX_MS		10000LL
long long	 db_lock_wait_ms(long long read_timeout_s);

/*
 * What failed: mysql errno (0 if not a database error) and a message.
 * commit_unknown: the connection was lost after COMMIT was sent, so
 * whether the transaction took effect is not known (db_transaction).
 */
struct db_err {
	unsigned int	 code;
	int		 commit_unknown;
	char		 msg[256];
};

/* NULL with err filled on failure. Timeouts come from mysql.* settings. */
MYSQL		*db_open(const struct config *, char *err, size_t errlen);

/*
 * The oldest server the programs and etc/schema.sql run on: MariaDB
 * 10.7.0, the first with JSON_EQUALS (a POST recognising its own
 * unanswered COMMIT, fcgi/post.c); 10.6 brought JSON_TABLE (every list of
 * cities a statement reads) and SKIP LOCKED (claims), 10.5 JSON_ARRAYAGG
 * with ORDER BY (the schema's upgrade).  MySQL is not enough, whatever
 * its version: it lacks JSON_EQUALS and ADD COLUMN IF NOT EXISTS.
 * Checked at every connect (db_conn_up), since a reconnect may reach
 * another server, and once at start (db_start_check).
 */
#define DB_MIN_SERVER		"MariaDB 10.7"
#define DB_MIN_MAJOR		10
#define DB_MIN_MINOR		7
/*
 * Whether a server whose VERSION() is version will do: DB_SERVER_OK, or
 * why not, with one sentence naming both versions in why
 * ("MariaDB 10.6.12 is too old: owmcollect needs MariaDB 10.7 or later").
 * A "5.5.5-" before a MariaDB version (the prefix MariaDB's handshake
 * carries for old replication clients) is passed over.  Pure.
 */
enum db_server {
	DB_SERVER_OK,
	DB_SERVER_OLD,		/* MariaDB, older than the minimum */
	DB_SERVER_OTHER,	/* a version, not MariaDB's: MySQL or another */
	DB_SERVER_UNKNOWN	/* no version read */
};
enum db_server	 db_server_check(const char *version, char *why,
		    size_t whylen);
/*
 * At a program's start: -1 with why filled when the server answers and
 * is refused (db_server_check: the program exits 2, a bad
 * configuration); 0 when it will do or does not answer now (its
 * connections retry and check it then).
 */
int		 db_start_check(const struct config *, char *why,
		    size_t whylen);
MYSQL_STMT	*db_prepare(MYSQL *, const char *sql, char *err, size_t errlen);

/*
 * A connection that comes and goes.  db_conn_up opens it (if closed) and
 * calls ready() to prepare the owner's statements; db_conn_lost closes it
 * when an error says the server went away.  While the server is away, an
 * attempt is made at most once per pause (1 s, doubling up to
 * retry_max_us; next_try says when, on daemon_mono_us's clock), so a dead
 * database costs no connect timeout in between.  The first failure of an
 * outage and the return are logged once each, prefixed with who.
 */
struct db_conn {
	const char	*who;			/* "" or "housekeeping: " */
	int		(*ready)(MYSQL *, struct db_err *);
	void		(*closing)(void);	/* close the statements */
	int64_t		 retry_max_us;
	/* How the owner sleeps until a reconnect is due (db_conn_transaction):
	 * -1 to give up (a SIGTERM); NULL: a plain sleep. */
	int		(*nap)(int64_t until);
	MYSQL		*db;			/* NULL while closed */
	int		 down;
	int64_t		 retry_us, next_try;
};
/* A daemon's longest pause between reconnects (the worker's children). */
#define DB_RECONNECT_MAX_US	10000000LL
/* A table kept small by the worker (rate_slots, worker_children) has its
 * old rows deleted by each connection at most this often. */
#define DB_CLEAN_EVERY_S	60
int		 db_conn_up(struct db_conn *, const struct config *,
		    struct db_err *);
void		 db_conn_close(struct db_conn *);
/* 1 (logged once, closed) when e says the connection is gone, else 0. */
int		 db_conn_lost(struct db_conn *, const struct db_err *);

/* One module's statements: sql[count], prepared into st[count]. */
struct db_set {
	const char *const *sql;
	MYSQL_STMT	**st;
	int		 count;
	MYSQL		*db;			/* NULL while closed */
};
#define DB_SET(sql, st)	{ (sql), (st), (int)(sizeof(st) / sizeof((st)[0])), \
			    NULL }
/* Prepare every statement; on failure none stays open. */
int		 db_set_open(struct db_set *, MYSQL *, struct db_err *);
void		 db_set_close(struct db_set *);
/* Close the open ones of count statements (NULLs are passed over). */
void		 db_close_stmts(MYSQL_STMT **, int count);

/* Record the statement's (or connection's) error; always returns -1. */
int		 db_fail(MYSQL *, MYSQL_STMT *, const char *what,
		    struct db_err *);
/* Bind params (may be NULL) and execute; -1 with e filled on error. */
int		 db_run(MYSQL *, MYSQL_STMT *, MYSQL_BIND *, const char *what,
		    struct db_err *);
/*
 * Bind params (may be NULL), execute, and fetch the one row the statement
 * returns into o: 0, or DB_NO_ROW when it returns none (e filled too:
 * code 0, "<what>: no row", for callers to whom a missing row is a
 * failure: they test != 0), or -1 with e filled on error.
 */
#define DB_NO_ROW	1
int		 db_one_row(MYSQL *, MYSQL_STMT *, MYSQL_BIND *params,
		    MYSQL_BIND *o, const char *what, struct db_err *);
/*
 * The end of a loop of mysql_stmt_fetch() that stopped with rc: the
 * result is freed; -1 with e filled when rc says the fetch failed.
 */
int		 db_fetch_end(MYSQL *, MYSQL_STMT *, int rc, const char *what,
		    struct db_err *);
/* A plain statement without parameters. */
int		 db_query(MYSQL *, const char *sql, struct db_err *);
/*
 * A transaction run by hand (db_transaction runs one around a body):
 * db_begin starts it, db_commit commits it, each -1 with e filled; a
 * COMMIT sent and never answered (db_error_is_gone) also sets
 * e->commit_unknown.  db_rollback undoes what is open, if anything, and
 * reports nothing: it follows a failure whose e is the one to report,
 * and if it fails the connection is gone, which rolls back on the server
 * all the same.
 */
int		 db_begin(MYSQL *, struct db_err *);
int		 db_commit(MYSQL *, struct db_err *);
void		 db_rollback(MYSQL *);

/*
 * Bind one parameter or result column (the MYSQL_BIND is cleared first;
 * set is_null, indicators and the like after).  db_bind_str takes a
 * NUL-terminated input string, db_bind_bytes len bytes; db_bind_out_str a
 * result buffer of cap.
 */
void		 db_bind_i64(MYSQL_BIND *, long long *);
void		 db_bind_u64(MYSQL_BIND *, unsigned long long *);
void		 db_bind_time(MYSQL_BIND *, MYSQL_TIME *);
int		 db_time_add(MYSQL_TIME *, long long);
void		 db_bind_str(MYSQL_BIND *, const char *, unsigned long *len);
void		 db_bind_bytes(MYSQL_BIND *, const void *, size_t,
		    unsigned long *len);
void		 db_bind_out_str(MYSQL_BIND *, char *, unsigned long cap,
		    unsigned long *len, my_bool *is_null);

/*
 * The server is unreachable, the connection broke, or the server is not
 * usable (a Galera node not ready: 1047): reconnect (behind HAProxy the
 * new connection reaches the node that is).
 */
int		 db_error_is_gone(unsigned int);
/*
 * Deadlock (also Galera's certification failure at COMMIT) or lock wait
 * timeout: rolled back by the server, the transaction may simply be
 * retried on the same connection.
 */
int		 db_error_is_retryable(unsigned int);

/*
 * The one retry policy.  A transaction that failed (and was rolled back)
 * with code on its attempt (0 first) is tried again when db_retry says 1,
 * after it has slept a random pause that grows with the attempt (so two
 * transactions that deadlocked do not collide again); 0 when the error is
 * not retryable or DB_TRIES attempts are spent.
 */
#define DB_TRIES	8
int		 db_retry(unsigned int code, int attempt);
/*
 * body(arg, e) as one transaction, tried again while db_retry allows:
 * START TRANSACTION, the body, and COMMIT when it returns 0.  A body that
 * returns more than 0 (an answer, not a failure) is rolled back and that
 * returned; -1 (a statement failed, e filled) is rolled back and tried
 * again, or returned when db_retry says no more.
 */
int		 db_transaction(MYSQL *, int (*body)(void *arg, struct db_err *),
		    void *arg, struct db_err *e);
/*
 * db_transaction on c's connection, surviving a change of server (the
 * writer dying behind HAProxy) until the monotonic deadline.  When the
 * connection is lost (db_error_is_gone: mid-statement, mid-COMMIT, a node
 * not ready) it is closed, opened again at db_conn_up's pace (the first
 * try at once: HAProxy sends it elsewhere; then c->nap until the next
 * try) and the transaction runs again from the start, up to a few times;
 * a retryable error is retried as db_transaction does; a failure of the
 * body's own (code 0) is the caller's.  A connection that is closed when
 * called is not waited for: -1 at once (a dead database queues no one).
 *
 * When COMMIT was sent and no answer came, the transaction may or may
 * not have taken effect: unsure(arg) (if not NULL) is called before the
 * next run, whose body must find out which (by what the first run wrote)
 * and never do it twice.  -1 with e->commit_unknown set when the deadline
 * passed with that question still open.
 */
int		 db_conn_transaction(struct db_conn *, const struct config *,
		    int64_t deadline, int (*body)(void *arg, struct db_err *),
		    void (*unsure)(void *arg), void *arg, struct db_err *e);

/*
 * A JSON list of numbers ([a, ...]) or of tuples ([[a, b], ...]) that a
 * statement reads through JSON_TABLE: db_list_start, the items one at a
 * time, then db_list_bind closes the list and binds it as a string
 * parameter; -1 with e filled (code 0, "<what>: out of memory") when the
 * list did not fit in memory.
 */
void		 db_list_start(struct buf *);
void		 db_list_num(struct buf *, unsigned long long);
void		 db_list_tuple(struct buf *, const unsigned long long *,
		    size_t n);
int		 db_list_bind(MYSQL_BIND *, struct buf *, unsigned long *len,
		    const char *what, struct db_err *);

/*
 * Bind params (may be NULL), execute, read the whole result (so row() may
 * run other statements), and fetch each row into o, calling row(arg, e)
 * after each; a row whose strings were cut to their buffers counts (the
 * caller clamps).  -1 with e filled when a step or row() failed.
 */
int		 db_rows(MYSQL *, MYSQL_STMT *, MYSQL_BIND *params,
		    MYSQL_BIND *o, const char *what,
		    int (*row)(void *arg, struct db_err *), void *arg,
		    struct db_err *e);

#endif
