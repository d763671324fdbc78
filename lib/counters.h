/*
 * counters.h: the running counts (etc/schema.sql: counters) that POST,
 * DELETE /collect, a batch's completion and the settle add to inside
 * their transactions, and that /health and /metrics read summed: the one
 * upsert both programs run, its SQL and its binding.
 *
 * The statement belongs to the module whose transaction runs it: that
 * module's statement set (db.h: struct db_set) names counters_add_sql or
 * counters_post_sql, prepared with the rest on its connection, and hands
 * it to counters_add or counters_add_post.  Its row is the transaction's
 * last lock (docs/design.md, "Lock order").
 */
#ifndef OWM_COUNTERS_H
#define OWM_COUNTERS_H

#include <stddef.h>

#include <mysql.h>

/*
 * The row of the running counts (etc/schema.sql: counters, one row per
 * shard 1..32) a connection adds to: spread so that concurrent
 * transactions rarely share one, fixed per connection.
 */
#define COUNTERS_SHARD "CONNECTION_ID() % 32 + 1"

struct db_err;

/* A change to the counts, each signed (a batch takes queue entries off). */
struct counts {
	long long	 cities, collected, failed, queued, requests, ended;
};
/* Their parameters, in struct counts' order, first in both statements. */
#define COUNTS_PARAMS	6

/* Add the counts to this connection's shard (COUNTERS_SHARD). */
extern const char counters_add_sql[];
/*
 * The same, then POST's id: nothing is added when retention purged a
 * request of that id (an id is unique forever: docs/api.md).
 */
extern const char counters_post_sql[];

/* Bind c (a copy the binds point into) into b[0 .. COUNTS_PARAMS).  Pure. */
void	counters_bind(MYSQL_BIND *b, struct counts *c);
/* 1 when c changes nothing.  Pure. */
int	counters_none(const struct counts *c);

/*
 * Run st (prepared from counters_add_sql on db) for c; a c that changes
 * nothing runs nothing, so takes no lock.  0, or -1 with e filled.
 */
int	counters_add(MYSQL *db, MYSQL_STMT *st, const struct counts *c,
	    struct db_err *e);
/*
 * Run st (prepared from counters_post_sql on db) for a POST's c: 1 added,
 * 0 not (retention purged a request of this id: the POST is a 409), or -1
 * with e filled.  Run after the request row is in, so a purge of the same
 * id that committed meanwhile (it held that row's key) is seen.
 */
int	counters_add_post(MYSQL *db, MYSQL_STMT *st, const struct counts *c,
	    const char *id, size_t idlen, struct db_err *e);

#endif
