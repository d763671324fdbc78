/*
 * stmt.c: see stmt.h.
 */
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "stmt.h"

int
stmt_fail(MYSQL *db, MYSQL_STMT *st, const char *what, struct sqlerr *e)
{
	e->code = st ? mysql_stmt_errno(st) : mysql_errno(db);
	snprintf(e->msg, sizeof(e->msg), "%s: %u %s", what, e->code,
	    st ? mysql_stmt_error(st) : mysql_error(db));
	return -1;
}

int
stmt_run(MYSQL *db, MYSQL_STMT *st, MYSQL_BIND *params, const char *what,
    struct sqlerr *e)
{
	if ((params && mysql_stmt_bind_param(st, params) != 0) ||
	    mysql_stmt_execute(st) != 0)
		return stmt_fail(db, st, what, e);
	return 0;
}

int
stmt_one_row(MYSQL *db, MYSQL_STMT *st, MYSQL_BIND *params, MYSQL_BIND *o,
    const char *what, struct sqlerr *e)
{
	int	 rc;

	if (stmt_run(db, st, params, what, e) == -1 ||
	    mysql_stmt_bind_result(st, o) != 0 ||
	    (rc = mysql_stmt_fetch(st)) == 1)
		return stmt_fail(db, st, what, e);
	mysql_stmt_free_result(st);
	if (rc == MYSQL_NO_DATA) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "%s: no row", what);
		return -1;
	}
	return 0;
}

int
stmt_query(MYSQL *db, const char *sql, struct sqlerr *e)
{
	if (mysql_real_query(db, sql, strlen(sql)) != 0)
		return stmt_fail(db, NULL, sql, e);
	return 0;
}

int
stmt_prepare_all(MYSQL *db, const char *const *sql, MYSQL_STMT **st,
    int count, struct sqlerr *e)
{
	int	 i;

	for (i = 0; i < count; i++)
		if ((st[i] = db_prepare(db, sql[i], e->msg,
		    sizeof(e->msg))) == NULL) {
			e->code = mysql_errno(db);
			stmt_close_all(st, i);
			return -1;
		}
	return 0;
}

void
stmt_close_all(MYSQL_STMT **st, int count)
{
	int	 i;

	for (i = 0; i < count; i++)
		if (st[i]) {
			mysql_stmt_close(st[i]);
			st[i] = NULL;
		}
}
