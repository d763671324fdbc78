/*
 * store.c: the FastCGI program's connection to the database; see store.h.
 *
 * Each preforked process owns one connection (a struct db_conn) and every
 * module's prepared statements, opened at start and reopened lazily after
 * the server went away.  While the server is unreachable a process tries
 * at most once a second and answers 503 at once in between, so a dead
 * database never queues clients behind connect timeouts; the outage and
 * the return are logged once each.
 *
 * POST and DELETE run their transactions through store_transaction:
 * rolled back on any failure, retried after a deadlock or a lock wait
 * timeout by lib's one policy (db_retry).  A connection lost during one
 * (the writer died behind HAProxy: 2013, 2006, a node not ready: 1047) is
 * opened again at once and the transaction run again, for up to
 * FAILOVER_US from its start (db_conn_transaction); a COMMIT left
 * unanswered is resolved by the handler's body on that run (post.c: by
 * the request's unique id).  Any other failure, or one that outlasts
 * that, is logged and answered 503 (Retry-After); only a connection that
 * is gone is closed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "store.h"

#define RETRY_MAX_US	1000000LL	/* a dead database: once a second */
/*
 * How long a transaction that lost its connection keeps trying on new
 * ones before the client gets its 503: a failover that HAProxy has seen
 * (the first reconnect reaches the new writer) costs one reconnect; a
 * statement that timed out (mysql.read_timeout) is already past it.
 */
#define FAILOVER_US	3000000LL

static const struct config	*cf;
static int	ready(MYSQL *, struct db_err *);
static void	closing(void);
static struct db_conn		 conn = { "", ready, closing, RETRY_MAX_US,
				    NULL, NULL, 0, 0, 0 };

/* The connection was lost during the request in hand, which began then
 * (store_read_again). */
static int			 lost_in_request;
static int64_t			 request_start;

/* The modules that keep statements (store_init), opened on each
 * connect. */
static const struct store_module *mods;
static size_t			 nmods;

/* A module that fails leaves none of its statements open; db_conn_up
 * closes the connection, and with it the others (closing). */
static int
ready(MYSQL *db, struct db_err *e)
{
	size_t	 i;

	for (i = 0; i < nmods; i++)
		if (mods[i].open(db, e) == -1)
			return -1;
	return 0;
}

static void
closing(void)
{
	size_t	 i;

	for (i = 0; i < nmods; i++)
		mods[i].close();
}

int
store_init(const struct config *conf, const struct store_module *m,
    size_t n)
{
	struct db_err	 e;

	cf = conf;
	mods = m;
	nmods = n;
	srandom((unsigned int)(getpid() ^ time(NULL)));	/* db_retry's pauses */
	return db_conn_up(&conn, cf, &e);
}

void
store_close(void)
{
	db_conn_close(&conn);
}

MYSQL *
store_conn(void)
{
	struct db_err	 e;

	return db_conn_up(&conn, cf, &e) == -1 ? NULL : conn.db;
}

enum store_rc
store_fail(const char *what, const struct db_err *e)
{
	int	 was_up = conn.db != NULL;

	if (!db_conn_lost(&conn, e))
		log_warnx("%s: %s", what, e->msg);
	else if (was_up)
		lost_in_request = 1;
	return STORE_UNAVAILABLE;
}

void
store_request_start(void)
{
	lost_in_request = 0;
	request_start = daemon_mono_us();
}

/* Within FAILOVER_US of the start, as a transaction would be: a read
 * that timed out (a frozen server) is answered at once. */
int
store_read_again(void)
{
	int	 lost = lost_in_request;

	lost_in_request = 0;
	return lost && daemon_mono_us() - request_start < FAILOVER_US &&
	    store_conn() != NULL;
}

enum store_rc
store_transaction(const char *what, int (*body)(void *, struct db_err *),
    void (*unsure)(void *), void *arg)
{
	struct db_err	 e;
	int		 rc;

	if ((rc = db_conn_transaction(&conn, cf, daemon_mono_us() + FAILOVER_US,
	    body, unsure, arg, &e)) >= 0)
		return (enum store_rc)rc;
	if (e.commit_unknown) {
		log_warnx("%s: the connection was lost after COMMIT and no "
		    "new one answered in time; whether it took effect is "
		    "unknown: %s", what, e.msg);
		db_conn_lost(&conn, &e);
		return STORE_UNAVAILABLE;
	}
	if (!db_error_is_retryable(e.code))
		return store_fail(what, &e);
	log_warnx("%s: still deadlocked after %d tries: %s", what, DB_TRIES,
	    e.msg);
	return STORE_UNAVAILABLE;
}
