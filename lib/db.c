/*
 * db.c: connection set-up shared by owmcollect-fcgi and owmcollect-worker.
 *
 * Automatic reconnection stays off: a silent reconnect would lose session
 * state (prepared statements, time zone) and hide a transaction's failure.
 * Callers close the handle on a "gone" error and open a new one.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "config.h"
#include "db.h"

MYSQL *
db_open(const struct config *cf, char *err, size_t errlen)
{
	MYSQL		*db;
	unsigned int	 ct = (unsigned int)cf->mysql.connect_timeout;
	unsigned int	 rt = (unsigned int)cf->mysql.read_timeout;
	my_bool		 off = 0;

	if ((db = mysql_init(NULL)) == NULL) {
		snprintf(err, errlen, "mysql_init: out of memory");
		return NULL;
	}
	if (mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &ct) ||
	    mysql_options(db, MYSQL_OPT_READ_TIMEOUT, &rt) ||
	    mysql_options(db, MYSQL_OPT_WRITE_TIMEOUT, &rt) ||
	    mysql_options(db, MYSQL_OPT_RECONNECT, &off) ||
	    mysql_options(db, MYSQL_SET_CHARSET_NAME, "utf8mb4") ||
	    mysql_options(db, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'") ||
	    mysql_options(db, MYSQL_INIT_COMMAND,
	    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")) {
		snprintf(err, errlen, "mysql_options: %s", mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	if (mysql_real_connect(db,
	    cf->mysql.socket[0] ? NULL : cf->mysql.host,
	    cf->mysql.user, cf->mysql.password, cf->mysql.database,
	    (unsigned int)cf->mysql.port,
	    cf->mysql.socket[0] ? cf->mysql.socket : NULL, 0) == NULL) {
		snprintf(err, errlen, "cannot connect to MySQL as %s@%s: %s",
		    cf->mysql.user, cf->mysql.socket[0] ? cf->mysql.socket :
		    cf->mysql.host, mysql_error(db));
		mysql_close(db);
		return NULL;
	}
	return db;
}

MYSQL_STMT *
db_prepare(MYSQL *db, const char *sql, char *err, size_t errlen)
{
	MYSQL_STMT	*st;

	if ((st = mysql_stmt_init(db)) == NULL) {
		snprintf(err, errlen, "mysql_stmt_init: %s", mysql_error(db));
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		snprintf(err, errlen, "prepare \"%.60s...\": %s", sql,
		    mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	return st;
}

void
db_bind_i64(MYSQL_BIND *b, long long *v)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = v;
}

void
db_bind_u64(MYSQL_BIND *b, unsigned long long *v)
{
	db_bind_i64(b, (long long *)v);
	b->is_unsigned = 1;
}

void
db_bind_time(MYSQL_BIND *b, MYSQL_TIME *t)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_DATETIME;
	b->buffer = t;
}

/* t (UTC, as the connection's time zone is) moved by secs seconds. */
int
db_time_add(MYSQL_TIME *t, long long secs)
{
	struct tm	 tm;
	time_t		 when;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)t->year - 1900;
	tm.tm_mon = (int)t->month - 1;
	tm.tm_mday = (int)t->day;
	tm.tm_hour = (int)t->hour;
	tm.tm_min = (int)t->minute;
	tm.tm_sec = (int)t->second;
	if ((when = timegm(&tm)) == (time_t)-1)
		return -1;
	when += (time_t)secs;
	if (gmtime_r(&when, &tm) == NULL)
		return -1;
	t->year = (unsigned int)tm.tm_year + 1900;
	t->month = (unsigned int)tm.tm_mon + 1;
	t->day = (unsigned int)tm.tm_mday;
	t->hour = (unsigned int)tm.tm_hour;
	t->minute = (unsigned int)tm.tm_min;
	t->second = (unsigned int)tm.tm_sec;
	return 0;
}

void
db_bind_str(MYSQL_BIND *b, const char *s, unsigned long *len)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = (void *)s;
	*len = (unsigned long)strlen(s);
	b->buffer_length = *len;
	b->length = len;
}

void
db_bind_out_str(MYSQL_BIND *b, char *s, unsigned long cap,
    unsigned long *len, my_bool *is_null)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_STRING;
	b->buffer = s;
	b->buffer_length = cap;
	b->length = len;
	b->is_null = is_null;
}

int
db_error_is_gone(unsigned int e)
{
	switch (e) {
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_SERVER_LOST_EXTENDED:
	case CR_COMMANDS_OUT_OF_SYNC:
	case ER_SERVER_SHUTDOWN:
	case ER_CONNECTION_KILLED:
	case ER_QUERY_INTERRUPTED:
	case 0:		/* no error recorded: treat the handle as unusable */
		return 1;
	default:
		return e >= 2000 && e < 3000;	/* any client-side error */
	}
}

int
db_error_is_retryable(unsigned int e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT;
}
