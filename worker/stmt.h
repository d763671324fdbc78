/*
 * stmt.h: small helpers around prepared statements for the worker's
 * database modules (gate_db.c, tasks.c, purge.c, settle.c): running, one
 * row (binding is lib/db.h's db_bind_*), and one error record the child
 * classifies (gone / retryable / other).
 */
#ifndef OWM_STMT_H
#define OWM_STMT_H

#include <mysql.h>

#include "db.h"

struct sqlerr {
	unsigned int	 code;		/* mysql errno; 0 if not a DB error */
	char		 msg[256];
};


/* Record the statement's (or connection's) error; always returns -1. */
int	stmt_fail(MYSQL *, MYSQL_STMT *, const char *what, struct sqlerr *);
/* Bind params (may be NULL) and execute; -1 with e filled on error. */
int	stmt_run(MYSQL *, MYSQL_STMT *, MYSQL_BIND *, const char *what,
	    struct sqlerr *);
/*
 * Bind params (may be NULL), execute, and fetch the one row the statement
 * returns into o; -1 with e filled on error, or when there is no row
 * (e->code 0, "<what>: no row").
 */
int	stmt_one_row(MYSQL *, MYSQL_STMT *, MYSQL_BIND *params, MYSQL_BIND *o,
	    const char *what, struct sqlerr *);
/* A plain statement without parameters (START TRANSACTION, COMMIT). */
int	stmt_query(MYSQL *, const char *sql, struct sqlerr *);
/* Prepare count statements; on failure closes the prepared ones. */
int	stmt_prepare_all(MYSQL *, const char *const *sql, MYSQL_STMT **st,
	    int count, struct sqlerr *);
void	stmt_close_all(MYSQL_STMT **st, int count);

#endif
