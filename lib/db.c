/*
 * db.c: see db.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "log.h"

#define DB_RETRY_FIRST_US	1000000LL
/* db_conn_transaction: runs that may lose their connection, in all (a
 * failover costs one; a server that drops every one is not a failover). */
#define DB_FAILOVER_RUNS	4
/* A server refused by its version is logged again after this long. */
#define REFUSED_LOG_US		60000000LL

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

/* Digits of one part of a version, at most 5: the byte after, or NULL. */
static const char *
version_part(const char *s, unsigned *v)
{
	unsigned	 n = 0;
	int		 d;

	for (d = 0; *s >= '0' && *s <= '9'; d++, s++) {
		if (d == 5)
			return NULL;
		n = n * 10 + (unsigned)(*s - '0');
	}
	if (d == 0)
		return NULL;
	*v = n;
	return s;
}

/* major.minor[.patch] at s into v (patch 0 when absent): the byte after
 * it, or NULL when s does not start so. */
static const char *
version_parse(const char *s, unsigned v[3])
{
	v[2] = 0;
	if ((s = version_part(s, &v[0])) == NULL || *s != '.' ||
	    (s = version_part(s + 1, &v[1])) == NULL)
		return NULL;
	if (*s == '.' && (s = version_part(s + 1, &v[2])) == NULL)
		return NULL;
	return s;
}

enum db_server
db_server_check(const char *version, char *why, size_t whylen)
{
	static const char rpl[] = "5.5.5-";
	const char	*s = version, *end;
	char		 shown[41];
	unsigned	 v[3];
	size_t		 i;
	int		 maria = strcasestr(version, "MariaDB") != NULL;

	if (maria && strncmp(s, rpl, sizeof(rpl) - 1) == 0)
		s += sizeof(rpl) - 1;
	if ((end = version_parse(s, v)) == NULL ||
	    (*end != '\0' && *end != '-')) {
		/* The server's bytes, printable, for the one sentence. */
		for (i = 0; version[i] && i + 1 < sizeof(shown); i++)
			shown[i] = version[i] >= ' ' && version[i] <= '~' ?
			    version[i] : '?';
		shown[i] = '\0';
		snprintf(why, whylen, "the server's version \"%s\" is none "
		    "of MariaDB's: owmcollect needs " DB_MIN_SERVER " or later",
		    shown);
		return DB_SERVER_UNKNOWN;
	}
	if (!maria) {
		snprintf(why, whylen, "the server is %u.%u.%u, MySQL or "
		    "another, not MariaDB: owmcollect needs " DB_MIN_SERVER
		    " or later", v[0], v[1], v[2]);
		return DB_SERVER_OTHER;
	}
	if (v[0] < DB_MIN_MAJOR ||
	    (v[0] == DB_MIN_MAJOR && v[1] < DB_MIN_MINOR)) {
		snprintf(why, whylen, "MariaDB %u.%u.%u is too old: owmcollect "
		    "needs " DB_MIN_SERVER " or later", v[0], v[1], v[2]);
		return DB_SERVER_OLD;
	}
	return DB_SERVER_OK;
}

/*
 * Ask the server just reached for its version: 0 when it will do; 1 when
 * it is refused (e->msg the sentence, e->code 0); -1 when it did not say
 * (e filled).  VERSION(), not the handshake's string: a proxy in between
 * (ProxySQL) may announce a version of its own there.
 */
static int
server_refused(MYSQL *db, struct db_err *e)
{
	MYSQL_RES	*res;
	MYSQL_ROW	 row;
	int		 rc;

	if (db_query(db, "SELECT VERSION()", e) == -1)
		return -1;
	if ((res = mysql_store_result(db)) == NULL)
		return db_fail(db, NULL, "SELECT VERSION()", e);
	row = mysql_fetch_row(res);
	rc = db_server_check(row && row[0] ? row[0] : "", e->msg,
	    sizeof(e->msg)) == DB_SERVER_OK ? 0 : 1;
	mysql_free_result(res);
	e->code = 0;
	return rc;
}

int
db_start_check(const struct config *cf, char *why, size_t whylen)
{
	struct db_err	 e;
	MYSQL		*db;
	int		 rc;

	memset(&e, 0, sizeof(e));
	if ((db = db_open(cf, e.msg, sizeof(e.msg))) == NULL)
		return 0;
	rc = server_refused(db, &e);
	mysql_close(db);
	if (rc != 1)
		return 0;
	snprintf(why, whylen, "%s", e.msg);
	return -1;
}

long long
db_lock_wait_ms(long long read_timeout_s)
{
	long long	 rt = read_timeout_s * 1000, ms = rt - DB_LOCK_MARGIN_MS;

	if (ms < rt / 2)
		ms = rt / 2;
	return ms > DB_LOCK_MAX_MS ? DB_LOCK_MAX_MS : ms;
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

int
db_conn_up(struct db_conn *c, const struct config *cf, struct db_err *e)
{
	static int64_t	 refused_logged;	/* this process's last */
	int64_t		 now;
	int		 refused = 0;

	if (c->db)
		return 0;
	memset(e, 0, sizeof(*e));
	if ((now = daemon_mono_us()) < c->next_try) {
		e->code = CR_CONNECTION_ERROR;
		snprintf(e->msg, sizeof(e->msg), "database unavailable");
		return -1;
	}
	if ((c->db = db_open(cf, e->msg, sizeof(e->msg))) == NULL ||
	    (refused = server_refused(c->db, e)) != 0 ||
	    (c->ready && c->ready(c->db, e) == -1)) {
		/* A server refused after start (a failover to an old one):
		 * an error for the operator, again each minute it lasts;
		 * retried like a server that is away. */
		if (refused == 1 && (refused_logged == 0 ||
		    now - refused_logged >= REFUSED_LOG_US)) {
			log_errx("%sdatabase refused: %s; trying again",
			    c->who, e->msg);
			refused_logged = now;
		} else if (!c->down)
			log_warnx("%sdatabase unavailable: %s", c->who, e->msg);
		c->down = 1;
		db_conn_close(c);
		c->retry_us = c->retry_us == 0 ? DB_RETRY_FIRST_US :
		    c->retry_us * 2;
		if (c->retry_us > c->retry_max_us)
			c->retry_us = c->retry_max_us > DB_RETRY_FIRST_US ?
			    c->retry_max_us : DB_RETRY_FIRST_US;
		c->next_try = now + c->retry_us;
		if (e->code == 0)
			e->code = CR_CONNECTION_ERROR;
		return -1;
	}
	if (c->down)
		log_notice("%sdatabase reachable again", c->who);
	c->down = 0;
	c->retry_us = 0;
	return 0;
}

void
db_conn_close(struct db_conn *c)
{
	if (c->closing)
		c->closing();
	if (c->db) {
		mysql_close(c->db);
		c->db = NULL;
	}
}

int
db_conn_lost(struct db_conn *c, const struct db_err *e)
{
	if (!db_error_is_gone(e->code))
		return 0;
	if (!c->down)
		log_warnx("%sdatabase connection lost: %s", c->who, e->msg);
	c->down = 1;
	db_conn_close(c);
	return 1;
}

int
db_set_open(struct db_set *s, MYSQL *db, struct db_err *e)
{
	int	 i;

	s->db = db;
	for (i = 0; i < s->count; i++)
		if ((s->st[i] = db_prepare(db, s->sql[i], e->msg,
		    sizeof(e->msg))) == NULL) {
			e->code = mysql_errno(db);
			db_set_close(s);
			return -1;
		}
	return 0;
}

void
db_set_close(struct db_set *s)
{
	db_close_stmts(s->st, s->count);
	s->db = NULL;
}

void
db_close_stmts(MYSQL_STMT **st, int count)
{
	int	 i;

	for (i = 0; i < count; i++)
		if (st[i]) {
			mysql_stmt_close(st[i]);
			st[i] = NULL;
		}
}

int
db_fail(MYSQL *db, MYSQL_STMT *st, const char *what, struct db_err *e)
{
	e->code = st ? mysql_stmt_errno(st) : mysql_errno(db);
	snprintf(e->msg, sizeof(e->msg), "%s: %u %s", what, e->code,
	    st ? mysql_stmt_error(st) : mysql_error(db));
	return -1;
}

int
db_run(MYSQL *db, MYSQL_STMT *st, MYSQL_BIND *params, const char *what,
    struct db_err *e)
{
	if ((params && mysql_stmt_bind_param(st, params) != 0) ||
	    mysql_stmt_execute(st) != 0)
		return db_fail(db, st, what, e);
	return 0;
}

int
db_one_row(MYSQL *db, MYSQL_STMT *st, MYSQL_BIND *params, MYSQL_BIND *o,
    const char *what, struct db_err *e)
{
	int	 rc;

	if (db_run(db, st, params, what, e) == -1 ||
	    mysql_stmt_bind_result(st, o) != 0 ||
	    (rc = mysql_stmt_fetch(st)) == 1)
		return db_fail(db, st, what, e);
	mysql_stmt_free_result(st);
	if (rc == MYSQL_NO_DATA) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "%s: no row", what);
		return DB_NO_ROW;
	}
	return 0;
}

int
db_fetch_end(MYSQL *db, MYSQL_STMT *st, int rc, const char *what,
    struct db_err *e)
{
	if (rc == 1)
		db_fail(db, st, what, e);
	mysql_stmt_free_result(st);
	return rc == 1 ? -1 : 0;
}

int
db_query(MYSQL *db, const char *sql, struct db_err *e)
{
	if (mysql_real_query(db, sql, strlen(sql)) != 0)
		return db_fail(db, NULL, sql, e);
	return 0;
}

int
db_begin(MYSQL *db, struct db_err *e)
{
	return db_query(db, "START TRANSACTION", e);
}

int
db_commit(MYSQL *db, struct db_err *e)
{
	if (db_query(db, "COMMIT", e) == -1) {
		/* Sent, never answered: it may have taken effect. */
		e->commit_unknown = db_error_is_gone(e->code);
		return -1;
	}
	return 0;
}

void
db_rollback(MYSQL *db)
{
	(void)mysql_rollback(db);
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
db_bind_bytes(MYSQL_BIND *b, const void *p, size_t n, unsigned long *len)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_BLOB;
	b->buffer = (void *)p;
	*len = (unsigned long)n;
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
	/* Galera: "WSREP has not yet prepared node for application use", a
	 * node out of the primary component.  Another connection through
	 * HAProxy reaches one that is. */
	case ER_UNKNOWN_COM_ERROR:
	/* Connector/C's own names for a broken read or write. */
	case CR_ERR_NET_READ:
	case CR_ERR_NET_WRITE:
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

int
db_retry(unsigned int code, int attempt)
{
	struct timespec	 ts;
	long		 ms;

	if (!db_error_is_retryable(code) || attempt + 1 >= DB_TRIES)
		return 0;
	/* 1..5 ms, then up to 15, 25, ...: about 0.3 s in all at worst. */
	ms = 1 + random() % (5 + 10L * attempt);
	ts.tv_sec = 0;
	ts.tv_nsec = ms * 1000000L;
	nanosleep(&ts, NULL);
	return 1;
}

int
db_transaction(MYSQL *db, int (*body)(void *, struct db_err *), void *arg,
    struct db_err *e)
{
	int	 attempt, rc;

	for (attempt = 0; ; attempt++) {
		memset(e, 0, sizeof(*e));
		if ((rc = db_begin(db, e)) == 0 && (rc = body(arg, e)) == 0)
			rc = db_commit(db, e);
		if (rc == 0)
			return 0;
		db_rollback(db);
		if (rc > 0 || !db_retry(e->code, attempt))
			return rc;
	}
}

/* Sleep until the monotonic time until: the owner's way, or plainly. */
static int
conn_nap(struct db_conn *c, int64_t until)
{
	if (c->nap)
		return c->nap(until);
	while (daemon_mono_us() < until)
		daemon_nap_step(until);
	return 0;
}

int
db_conn_transaction(struct db_conn *c, const struct config *cf,
    int64_t deadline, int (*body)(void *, struct db_err *),
    void (*unsure)(void *), void *arg, struct db_err *e)
{
	int	 rc, unknown = 0, runs = 0;

	if (db_conn_up(c, cf, e) == -1)
		return -1;
	for (;;) {
		if ((rc = db_transaction(c->db, body, arg, e)) >= 0)
			return rc;
		if (e->commit_unknown) {
			unknown = 1;
			if (unsure)
				unsure(arg);
		}
		/* Not the connection (code 0: the body's own failure, a
		 * broken invariant), or lost too often: the caller's. */
		if (e->code == 0 || ++runs >= DB_FAILOVER_RUNS ||
		    !db_conn_lost(c, e)) {
			e->commit_unknown = unknown;
			return -1;
		}
		/* Again on a new connection, at db_conn_up's pace: the first
		 * try at once, then each when due, within the deadline. */
		for (;;) {
			if (daemon_mono_us() > deadline)
				goto late;
			if (db_conn_up(c, cf, e) == 0)
				break;
			if (c->next_try > deadline ||
			    conn_nap(c, c->next_try) == -1)
				goto late;
		}
	}
late:
	e->commit_unknown = unknown;
	return -1;
}

void
db_list_start(struct buf *b)
{
	buf_reset(b);
	buf_addc(b, '[');
}

void
db_list_num(struct buf *b, unsigned long long v)
{
	if (b->len > 1)			/* more than the opening '[' */
		buf_addc(b, ',');
	buf_addu(b, v);
}

void
db_list_tuple(struct buf *b, const unsigned long long *v, size_t n)
{
	size_t	 i;

	buf_adds(b, b->len > 1 ? ",[" : "[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, ',');
		buf_addu(b, v[i]);
	}
	buf_addc(b, ']');
}

int
db_list_bind(MYSQL_BIND *p, struct buf *b, unsigned long *len,
    const char *what, struct db_err *e)
{
	buf_addc(b, ']');
	if (buf_cstr(b) == NULL) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "%s: out of memory", what);
		return -1;
	}
	db_bind_str(p, b->data, len);
	return 0;
}

int
db_rows(MYSQL *db, MYSQL_STMT *st, MYSQL_BIND *params, MYSQL_BIND *o,
    const char *what, int (*row)(void *, struct db_err *), void *arg,
    struct db_err *e)
{
	int	 rc;

	if (db_run(db, st, params, what, e) == -1)
		return -1;
	if (mysql_stmt_bind_result(st, o) != 0 ||
	    mysql_stmt_store_result(st) != 0)
		return db_fail(db, st, what, e);
	while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED)
		if (row(arg, e) == -1) {
			mysql_stmt_free_result(st);
			return -1;
		}
	return db_fetch_end(db, st, rc, what, e);
}
