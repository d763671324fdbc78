/*
 * db.h: opening the MariaDB/MySQL connection both programs use, and
 * classifying its errors.  Every statement the programs run is prepared
 * (db_prepare) with bound parameters.
 *
 * Sessions run in UTC and READ COMMITTED: the claim and completion
 * transactions rely on locking reads seeing the latest committed rows.
 */
#ifndef OWM_DB_H
#define OWM_DB_H

/*
 * Times cross the SQL boundary as integer microseconds since the epoch on
 * the session's UTC clock: DB_US(x) of a DATETIME(6) expression, DB_AT(x)
 * the DATETIME(6) of a microseconds expression.  No rounding happens.
 */
#define DB_EPOCH	"TIMESTAMP'1970-01-01 00:00:00'"
#define DB_US(x)	"TIMESTAMPDIFF(MICROSECOND, " DB_EPOCH ", " x ")"
#define DB_AT(x)	"TIMESTAMPADD(MICROSECOND, " x ", " DB_EPOCH ")"

/*
 * The row of the running counts (etc/schema.sql: counters, one row per
 * shard 1..32) a connection adds to: spread so that concurrent
 * transactions rarely share one, fixed per connection.
 */
/* The named lock around queueing new cities (fcgi/store.c ST_QUEUE_LOCK,
 * worker/settle.c's requeue). */
#define DB_QUEUE_LOCK	"owmcollect.queue"
#define DB_COUNTER_SHARD "CONNECTION_ID() % 32 + 1"

#include <stddef.h>

#include <mysql.h>

struct config;

/* NULL with err filled on failure. Timeouts come from mysql.* settings. */
MYSQL		*db_open(const struct config *, char *err, size_t errlen);
MYSQL_STMT	*db_prepare(MYSQL *, const char *sql, char *err, size_t errlen);

/*
 * Bind one parameter or result column (the MYSQL_BIND is cleared first;
 * set is_null, indicators and the like after).  db_bind_str takes a
 * NUL-terminated input string; db_bind_out_str a result buffer of cap.
 */
void		 db_bind_i64(MYSQL_BIND *, long long *);
void		 db_bind_u64(MYSQL_BIND *, unsigned long long *);
void		 db_bind_time(MYSQL_BIND *, MYSQL_TIME *);
int		 db_time_add(MYSQL_TIME *, long long);
void		 db_bind_str(MYSQL_BIND *, const char *, unsigned long *len);
void		 db_bind_out_str(MYSQL_BIND *, char *, unsigned long cap,
		    unsigned long *len, my_bool *is_null);

/* The server is unreachable or the connection broke: reconnect later. */
int		 db_error_is_gone(unsigned int);
/* Deadlock or lock wait timeout: the transaction may simply be retried. */
int		 db_error_is_retryable(unsigned int);

#endif
