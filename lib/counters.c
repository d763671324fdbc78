/*
 * counters.c: see counters.h.
 *
 * The counts are spread over shards (one row each, all created by
 * etc/schema.sql) so that concurrent transactions rarely share one; a
 * connection always adds to its own (COUNTERS_SHARD), so the upsert
 * only ever updates a row.  Every column is in both statements, whoever
 * runs them: a column a writer does not move is added 0.
 */
#include "counters.h"
#include "db.h"

#define COUNTS_COLS \
	"(shard, cities, collected, failed, queued, requests, ended)"
#define COUNTS_ADD \
	" ON DUPLICATE KEY UPDATE cities = cities + VALUES(cities), " \
	"collected = collected + VALUES(collected), " \
	"failed = failed + VALUES(failed), " \
	"queued = queued + VALUES(queued), " \
	"requests = requests + VALUES(requests), " \
	"ended = ended + VALUES(ended)"

const char counters_add_sql[] =
    "INSERT INTO counters " COUNTS_COLS " "
    "VALUES (" COUNTERS_SHARD ", ?, ?, ?, ?, ?, ?)" COUNTS_ADD;

/* One statement for the counts and the purged id's check: no round trip
 * more, and the check reads as of the row's insert. */
const char counters_post_sql[] =
    "INSERT INTO counters " COUNTS_COLS " "
    "SELECT " COUNTERS_SHARD ", ?, ?, ?, ?, ?, ? FROM DUAL WHERE NOT "
    "EXISTS (SELECT 1 FROM purged_requests WHERE ext_id = ?)" COUNTS_ADD;

void
counters_bind(MYSQL_BIND *b, struct counts *c)
{
	db_bind_i64(&b[0], &c->cities);
	db_bind_i64(&b[1], &c->collected);
	db_bind_i64(&b[2], &c->failed);
	db_bind_i64(&b[3], &c->queued);
	db_bind_i64(&b[4], &c->requests);
	db_bind_i64(&b[5], &c->ended);
}

int
counters_none(const struct counts *c)
{
	return c->cities == 0 && c->collected == 0 && c->failed == 0 &&
	    c->queued == 0 && c->requests == 0 && c->ended == 0;
}

int
counters_add(MYSQL *db, MYSQL_STMT *st, const struct counts *c,
    struct db_err *e)
{
	MYSQL_BIND	 b[COUNTS_PARAMS];
	struct counts	 v = *c;

	if (counters_none(c))
		return 0;
	counters_bind(b, &v);
	return db_run(db, st, b, "counters", e);
}

int
counters_add_post(MYSQL *db, MYSQL_STMT *st, const struct counts *c,
    const char *id, size_t idlen, struct db_err *e)
{
	MYSQL_BIND	 b[COUNTS_PARAMS + 1];
	struct counts	 v = *c;
	unsigned long	 len;

	counters_bind(b, &v);
	db_bind_bytes(&b[COUNTS_PARAMS], id, idlen, &len);
	if (db_run(db, st, b, "counters", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st) != 0;
}
