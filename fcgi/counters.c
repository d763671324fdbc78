/*
 * counters.c: see counters.h.
 *
 * The counts are spread over shards (one row each) so that concurrent
 * transactions rarely share one; a connection always adds to its own
 * (DB_COUNTER_SHARD), and that row is the last lock of every transaction
 * that takes it (the lock order of post.c and cancel.c).
 */
#include "counters.h"
#include "db.h"

enum {
	N_POST,
	N_ADD,
	N_COUNT
};

/* Their parameters: the counts in COUNTS_COLS's order, then POST's id. */
enum {
	NP_CITIES,
	NP_COLLECTED,
	NP_FAILED,
	NP_QUEUED,
	NP_REQUESTS,
	NP_ENDED,
	NP_ID,
	NP_COUNT
};

#define SHARD	DB_COUNTER_SHARD
#define COUNTS_COLS \
	"(shard, cities, collected, failed, queued, requests, ended)"
#define COUNTS_ADD \
	" ON DUPLICATE KEY UPDATE cities = cities + VALUES(cities), " \
	"collected = collected + VALUES(collected), " \
	"failed = failed + VALUES(failed), " \
	"queued = queued + VALUES(queued), " \
	"requests = requests + VALUES(requests), " \
	"ended = ended + VALUES(ended)"

static const char *const sql[N_COUNT] = {
	/*
	 * What a POST added to the running counts, and, in the same
	 * statement, whether retention purged a request of this id.
	 * Nothing is added when it did: 0 rows affected, the POST is a
	 * 409.  Run after the request row is in, so a purge of the same id
	 * that committed meanwhile (it held that row's key) is seen.
	 */
	[N_POST] =
	    "INSERT INTO counters " COUNTS_COLS " "
	    "SELECT " SHARD ", ?, ?, ?, ?, ?, ? FROM DUAL WHERE NOT EXISTS "
	    "(SELECT 1 FROM purged_requests WHERE ext_id = ?)" COUNTS_ADD,
	/* What a cancel changed. */
	[N_ADD] =
	    "INSERT INTO counters " COUNTS_COLS " "
	    "VALUES (" SHARD ", ?, ?, ?, ?, ?, ?)" COUNTS_ADD,
};

static MYSQL_STMT		*st[N_COUNT];
struct db_set			 counters_stmts = DB_SET(sql, st);

/* Bind c's counts (a copy the binds point into) into b[NP_CITIES..]. */
static void
bind_counts(MYSQL_BIND *b, struct counts *c)
{
	db_bind_i64(&b[NP_CITIES], &c->cities);
	db_bind_i64(&b[NP_COLLECTED], &c->collected);
	db_bind_i64(&b[NP_FAILED], &c->failed);
	db_bind_i64(&b[NP_QUEUED], &c->queued);
	db_bind_i64(&b[NP_REQUESTS], &c->requests);
	db_bind_i64(&b[NP_ENDED], &c->ended);
}

int
counters_add(const struct counts *c, struct db_err *e)
{
	MYSQL_BIND	 b[NP_COUNT];
	struct counts	 v = *c;

	bind_counts(b, &v);
	return db_run(counters_stmts.db, st[N_ADD], b, "counters", e);
}

int
counters_add_post(const struct counts *c, const char *id, size_t idlen,
    int *added, struct db_err *e)
{
	MYSQL_BIND	 b[NP_COUNT];
	struct counts	 v = *c;
	unsigned long	 len;

	bind_counts(b, &v);
	db_bind_bytes(&b[NP_ID], id, idlen, &len);
	if (db_run(counters_stmts.db, st[N_POST], b, "counters", e) == -1)
		return -1;
	*added = mysql_stmt_affected_rows(st[N_POST]) != 0;
	return 0;
}
