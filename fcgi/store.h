/*
 * store.h: the FastCGI program's database connection.  One per process:
 * opened at start and reopened lazily after the server went away, with
 * every module's statements prepared on it (post.c, read.c, cancel.c,
 * health.c: their _open and _close); and the one way its transactions
 * run.  Functions
 * return STORE_OK or an error class the handler maps to a status; they
 * never log client data.
 */
#ifndef OWM_STORE_H
#define OWM_STORE_H

#include <mysql.h>

#include "db.h"

struct config;

enum store_rc {
	STORE_FAILED = -1,	/* (a body's, never a handler's) a statement
				 * failed, e filled: store_transaction tries
				 * again or answers STORE_UNAVAILABLE */
	STORE_OK = 0,
	STORE_DUPLICATE,	/* 409: the id is taken */
	STORE_NOTFOUND,		/* 404 */
	STORE_UNAVAILABLE,	/* 503: database unreachable or failing */
	STORE_DONE_BEFORE,	/* (a body's, never a handler's) an earlier
				 * run's unanswered COMMIT took effect */
};

/*
 * A module that keeps statements on the connection: open prepares them
 * on a new one, or notes it for a first use that will (cancel.c), (0, or
 * -1 with e filled); close closes them.
 */
struct store_module {
	int		(*open)(MYSQL *, struct db_err *);
	void		(*close)(void);
};

/*
 * Connect at start, so the first request pays no connect (-1 is fine);
 * the n modules open on every connect and close when it goes.
 */
int	store_init(const struct config *, const struct store_module *mods,
	    size_t n);
void	store_close(void);

/*
 * The connection with every statement prepared, opened if need be; NULL
 * while the database is unavailable (answer 503).
 */
MYSQL	*store_conn(void);

/*
 * A statement failed with e: a connection that is gone is closed (and
 * that logged once), anything else is logged under what.  Returns
 * STORE_UNAVAILABLE.
 */
enum store_rc store_fail(const char *what, const struct db_err *e);

/*
 * A read (GET) answered 503: 1 when the connection it ran on was lost
 * during the request, within a few seconds of its start (an idle
 * connection the old writer's death cut: a failover), and a new one is
 * open now, so the read may simply run again, once.
 * store_request_start forgets the last request's.
 */
void	store_request_start(void);
int	store_read_again(void);

/*
 * Run body(arg, e) as one transaction: START TRANSACTION, the body, and
 * COMMIT when it returns STORE_OK.  Another answer (STORE_DUPLICATE,
 * STORE_NOTFOUND, or STORE_UNAVAILABLE after the body logged a broken
 * invariant) is rolled back and returned.  STORE_FAILED means a
 * statement failed with e filled: rolled back, tried again while
 * db_retry allows (a deadlock, a lock wait timeout) or, when the
 * connection was lost, on a new connection for a few seconds
 * (db_conn_transaction), else store_fail's under what.  When a COMMIT
 * went unanswered, unsure(arg) (NULL: the body is idempotent as it is) is
 * called before the body runs again, and the body must find out whether
 * that commit took effect.
 */
enum store_rc store_transaction(const char *what,
	    int (*body)(void *arg, struct db_err *e),
	    void (*unsure)(void *arg), void *arg);

#endif
