/*
 * tasks.c: see tasks.h.
 *
 * A batch costs a handful of statements, not a few per city: the claim's
 * leases, the lock on the batch's queue entries, their deletion, the
 * readings, the request_cities outcomes and the requests counters are
 * each one statement over the whole batch (IN lists and CASE maps, one
 * prepared variant per list length, prepared when first needed).
 *
 * Lock order inside the completion transaction, the same in every child:
 * the batch's city_tasks rows in ascending city_id (one locking read over
 * the primary key, which walks an IN list in ascending order; POST
 * /collect takes them in that order too), then their request_cities rows,
 * then the requests rows in ascending id, last this connection's row of
 * the counters (POST takes its own last too).  Children never share a
 * city (the lease), so only the requests rows are contended, and
 * ascending order keeps two children from waiting on each other.
 *
 * Reading ids are looked up after the multi-row insert rather than
 * assumed consecutive: auto-increment ids interleave under
 * innodb_autoinc_lock_mode = 2 (Galera) or an auto_increment_increment
 * above 1.  Every reading of the batch's cities with an id from the
 * insert's first on is ours: another reading of such a city needs its
 * queue entry, locked by us until commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "db.h"
#include "tasks.h"

#define VMAX		OWM_GROUP_MAX	/* longest IN list: a batch */
#define CLAIM_TRIES	5		/* candidates all taken: read again */

enum {
	T_CLAIM_SEL,
	T_EXTEND,
	T_REQUEUE,
	T_COUNTERS,
	T_COUNT
};

#define SHARD		DB_COUNTER_SHARD

static const char *const sql[T_COUNT] = {
	/*
	 * The claim's candidates: a plain read, through the claim index
	 * always (a filesort of the whole queue examines every row, and the
	 * optimizer picks it half the time).  Not a locking read: under load
	 * the head of that index is mostly delete-marked entries of cities
	 * just claimed or done, and a locking scan checks each one's
	 * implicit lock in the clustered index (5-10x the pages of a plain
	 * read, milliseconds per claim).
	 */
	[T_CLAIM_SEL] =
	    "SELECT city_id FROM city_tasks FORCE INDEX (claim) "
	    "WHERE ready_at <= NOW(6) ORDER BY turn LIMIT ?",
	[T_EXTEND] =
	    "UPDATE city_tasks SET ready_at = GREATEST(ready_at, "
	    DB_AT("?") " + INTERVAL ? SECOND) "
	    "WHERE lease_owner = ?",
	[T_REQUEUE] =
	    "UPDATE city_tasks SET ready_at = NOW(6) + INTERVAL ? MICROSECOND, "
	    "lease_owner = NULL, last_error = ?, "
	    "attempts = GREATEST(attempts, 1) - ? "
	    "WHERE city_id = ? AND lease_owner = ?",
	/* What a batch changed, added to the running counts /metrics
	 * reads: this connection's shard row, the transaction's last lock
	 * (fcgi/store.c takes it last too). */
	[T_COUNTERS] =
	    "INSERT INTO counters (shard, collected, failed, queued) "
	    "VALUES (" SHARD ", ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE collected = collected + VALUES(collected), "
	    "failed = failed + VALUES(failed), queued = queued + VALUES(queued)",
};

/*
 * Statements over n cities (or n requests: V_BUMP), enum tasks_sql_kind
 * in tasks.h.  In the templates "(?*)" is a list of n placeholders,
 * "[...]" a part repeated n times; nothing else is special.
 */

static const char *const vsql[V_COUNT] = {
	/* Locks the candidates still due, skipping those another child
	 * (or a POST queueing them) holds, in ascending city_id through the
	 * primary key: a few pages, not the claim index's scan. */
	[V_TAKE] =
	    "SELECT city_id, attempts FROM city_tasks "
	    "WHERE city_id IN (?*) AND ready_at <= NOW(6) "
	    "ORDER BY city_id FOR UPDATE SKIP LOCKED",
	/* Leases what V_TAKE locked. */
	[V_CLAIM] =
	    "UPDATE city_tasks SET lease_owner = ?, "
	    "ready_at = NOW(6) + INTERVAL ? SECOND, attempts = attempts + 1 "
	    "WHERE city_id IN (?*)",
	[V_LOCK] =
	    "SELECT city_id FROM city_tasks WHERE city_id IN (?*) "
	    "AND lease_owner = ? ORDER BY city_id FOR UPDATE",
	[V_DELETE] =
	    "DELETE FROM city_tasks WHERE city_id IN (?*) AND lease_owner = ?",
	[V_READINGS] =
	    "INSERT INTO readings (city_id, temperature, humidity, "
	    "observed_at, fetched_at) VALUES "
	    "[(?, ?, ?, FROM_UNIXTIME(?), NOW(6))]",
	/* Through the primary key: the rows since the insert's first id,
	 * not every reading these cities ever had. */
	[V_READ_IDS] =
	    "SELECT id, city_id FROM readings FORCE INDEX (PRIMARY) "
	    "WHERE id >= ? AND city_id IN (?*)",
	[V_LATEST] =
	    "INSERT INTO city_latest (city_id, reading_id, fetched_at) "
	    "VALUES [(?, ?, NOW(6))] ON DUPLICATE KEY UPDATE "
	    "reading_id = VALUES(reading_id), fetched_at = VALUES(fetched_at)",
	[V_PENDING] =
	    "SELECT request_id, city_id FROM request_cities "
	    "WHERE city_id IN (?*) AND state = 'pending'",
	/* Claimed cities whose newest reading is fresh enough to reuse. */
	[V_FRESH] =
	    "SELECT city_id, reading_id FROM city_latest "
	    "WHERE city_id IN (?*) AND fetched_at >= NOW(6) - INTERVAL ? "
	    "SECOND",
	/* Per city: its state, reading (NULL if failed), error (NULL if
	 * collected). */
	[V_OUTCOME] =
	    "UPDATE request_cities SET "
	    "state = CASE city_id [WHEN ? THEN ?] END, "
	    "reading_id = CASE city_id [WHEN ? THEN ?] END, "
	    "error = CASE city_id [WHEN ? THEN ?] END, done_at = NOW(6) "
	    "WHERE city_id IN (?*) AND state = 'pending'",
	/* finished_at first: it must read the counters before the bump.
	 * Per request: collected + failed, collected, failed. */
	[V_BUMP] =
	    "UPDATE requests SET finished_at = IF(finished_at IS NULL AND "
	    "collected + failed + CASE id [WHEN ? THEN ?] END >= total, "
	    "NOW(6), finished_at), "
	    "collected = collected + CASE id [WHEN ? THEN ?] END, "
	    "failed = failed + CASE id [WHEN ? THEN ?] END "
	    "WHERE id IN (?*)",
};

struct bump {
	unsigned long long	 request;
	long long		 collected, failed, sum;
};

static MYSQL			*db;
static MYSQL_STMT		*st[T_COUNT];
static MYSQL_STMT		*vst[V_COUNT][VMAX + 1];
static const struct config	*cf;
static struct bump		*bumps;
static size_t			 nbumps, bumps_cap;

/* Parameters of one variable statement: room for its longest form. */
static MYSQL_BIND		 pb[7 * VMAX + 2];
static long long		 pv[7 * VMAX + 2];
static unsigned long		 plen[7 * VMAX + 2];
static size_t			 np;

int
tasks_sql(int kind, size_t n, struct buf *b)
{
	const char	*s, *rep = NULL;
	size_t		 i;

	if (kind < 0 || kind >= V_COUNT || n < 1 || n > VMAX)
		return -1;
	buf_reset(b);
	for (s = vsql[kind]; *s; s++) {
		if (strncmp(s, "?*", 2) == 0) {
			for (i = 0; i < n; i++)
				buf_adds(b, i ? ", ?" : "?");
			s++;
		} else if (*s == '[')
			rep = s + 1;
		else if (*s == ']' && rep) {
			for (i = 0; i < n; i++) {
				if (i > 0)
					buf_adds(b, *rep == '(' ? ", " : " ");
				buf_add(b, rep, (size_t)(s - rep));
			}
			rep = NULL;
		} else if (rep == NULL)
			buf_addc(b, *s);
	}
	return buf_cstr(b) ? 0 : -1;
}

/* The variant of kind for n, prepared on first use. */
static MYSQL_STMT *
vstmt(int kind, size_t n, struct sqlerr *e)
{
	struct buf	 b;

	if (vst[kind][n])
		return vst[kind][n];
	buf_init(&b, 0);
	if (tasks_sql(kind, n, &b) == -1) {
		buf_free(&b);
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "statement %d/%zu: out of "
		    "memory", kind, n);
		return NULL;
	}
	vst[kind][n] = db_prepare(db, b.data, e->msg, sizeof(e->msg));
	if (vst[kind][n] == NULL)
		e->code = mysql_errno(db);
	buf_free(&b);
	return vst[kind][n];
}

/* Start a parameter list; the add_* append to it. */
static void
params(void)
{
	np = 0;
}

static void
add_i64(long long v)
{
	pv[np] = v;
	db_bind_i64(&pb[np], &pv[np]);
	np++;
}

static void
add_str(const char *s)
{
	db_bind_str(&pb[np], s, &plen[np]);
	np++;
}

static void
add_null(void)
{
	memset(&pb[np], 0, sizeof(pb[np]));
	pb[np].buffer_type = MYSQL_TYPE_NULL;
	np++;
}

/* Run the variant of kind for n with the parameters added. */
static MYSQL_STMT *
vrun(int kind, size_t n, const char *what, struct sqlerr *e)
{
	MYSQL_STMT	*q;

	if ((q = vstmt(kind, n, e)) == NULL)
		return NULL;
	if (mysql_stmt_param_count(q) != np) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "%s: %lu parameters, %zu "
		    "bound", what, mysql_stmt_param_count(q), np);
		return NULL;
	}
	if (stmt_run(db, q, pb, what, e) == -1)
		return NULL;
	return q;
}

int
tasks_open(MYSQL *conn, const struct config *conf, struct sqlerr *e)
{
	db = conn;
	cf = conf;
	return stmt_prepare_all(db, sql, st, T_COUNT, e);
}

void
tasks_close(void)
{
	int	 k;

	stmt_close_all(st, T_COUNT);
	for (k = 0; k < V_COUNT; k++)
		stmt_close_all(vst[k], VMAX + 1);
	db = NULL;
	free(bumps);
	bumps = NULL;
	nbumps = bumps_cap = 0;
}

/*
 * Mark the claimed tasks whose city has a reading fresher than
 * worker.reuse_seconds: TASK_REUSE.  A POST decides from a consistent
 * read of city_latest, then queues the cities it did not find fresh; a
 * completion committing in between leaves a queue entry for a city just
 * fetched.  Read after the claim committed, so any completion that
 * deleted an earlier entry of the city is visible.
 */
static int
fresh(struct task *t, size_t n, struct sqlerr *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[2];
	struct task	*x;
	long long	 city;
	unsigned long long reading;
	size_t		 i;
	int		 rc;

	params();
	for (i = 0; i < n; i++)
		add_i64(t[i].city);
	add_i64(cf->worker.reuse_seconds);
	if ((q = vrun(V_FRESH, n, "fresh readings", e)) == NULL)
		return -1;
	db_bind_i64(&o[0], &city);
	db_bind_u64(&o[1], &reading);
	if (mysql_stmt_bind_result(q, o) != 0)
		return stmt_fail(db, q, "fresh readings", e);
	while ((rc = mysql_stmt_fetch(q)) == 0) {
		for (i = 0, x = NULL; i < n && x == NULL; i++)
			if (t[i].city == (uint32_t)city)
				x = &t[i];
		if (x != NULL) {
			x->out = TASK_REUSE;
			x->reading = reading;
		}
	}
	mysql_stmt_free_result(q);
	if (rc != MYSQL_NO_DATA)
		return stmt_fail(db, q, "fresh readings", e);
	return 0;
}

/*
 * The candidates (a plain read of the claim index, outside any
 * transaction), then one transaction: lock those still due with FOR
 * UPDATE SKIP LOCKED through the primary key (ascending city_id, so it
 * never deadlocks with a POST or another claim, and never waits) and
 * lease them.  Two children reading the same candidates split them; the
 * later one may get a short batch.
 */
int
tasks_claim(const char *owner, struct task *t, size_t max, size_t *n,
    struct sqlerr *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 p[1], o[2];
	uint32_t	 cand[VMAX];
	long long	 limit, city, attempts;
	size_t		 i, k;
	int		 rc, try;

	*n = 0;
	if (max > VMAX)
		max = VMAX;
	limit = (long long)max;
	for (try = 0; try < CLAIM_TRIES; try++) {
		db_bind_i64(&p[0], &limit);
		db_bind_i64(&o[0], &city);
		if (stmt_run(db, st[T_CLAIM_SEL], p, "claim", e) == -1 ||
		    mysql_stmt_bind_result(st[T_CLAIM_SEL], o) != 0)
			return stmt_fail(db, st[T_CLAIM_SEL], "claim", e);
		k = 0;
		while ((rc = mysql_stmt_fetch(st[T_CLAIM_SEL])) == 0 &&
		    k < max)
			cand[k++] = (uint32_t)city;
		mysql_stmt_free_result(st[T_CLAIM_SEL]);
		if (rc == 1)
			return stmt_fail(db, st[T_CLAIM_SEL], "claim fetch", e);
		if (k == 0)
			return 0;

		if (stmt_query(db, "START TRANSACTION", e) == -1)
			return -1;
		params();
		for (i = 0; i < k; i++)
			add_i64(cand[i]);
		if ((q = vrun(V_TAKE, k, "claim", e)) == NULL)
			goto fail;
		db_bind_i64(&o[0], &city);
		db_bind_i64(&o[1], &attempts);
		if (mysql_stmt_bind_result(q, o) != 0) {
			stmt_fail(db, q, "claim", e);
			goto fail;
		}
		while ((rc = mysql_stmt_fetch(q)) == 0 && *n < max) {
			memset(&t[*n], 0, sizeof(t[*n]));
			t[*n].city = (uint32_t)city;
			t[*n].attempts = (unsigned int)attempts + 1;
			(*n)++;
		}
		mysql_stmt_free_result(q);
		if (rc == 1) {
			stmt_fail(db, q, "claim fetch", e);
			goto fail;
		}
		if (*n > 0)
			break;
		/* All taken by others meanwhile: the next ones, at once
		 * (not after an idle poll: work is there). */
		if (stmt_query(db, "COMMIT", e) == -1)
			goto fail;
	}
	if (*n == 0)
		return 0;
	params();
	add_str(owner);
	add_i64(cf->worker.lease_seconds);
	for (i = 0; i < *n; i++)
		add_i64(t[i].city);
	if (vrun(V_CLAIM, *n, "claim lease", e) == NULL ||
	    stmt_query(db, "COMMIT", e) == -1)
		goto fail;
	if (cf->worker.reuse_seconds > 0 && fresh(t, *n, e) == -1) {
		*n = 0;		/* the leases expire; the cities come back */
		return -1;
	}
	return 0;
fail:
	*n = 0;
	mysql_rollback(db);
	return -1;
}

int
tasks_extend(const char *owner, int64_t until_us, struct sqlerr *e)
{
	MYSQL_BIND	 p[3];
	long long	 until = until_us, lease = cf->worker.lease_seconds;
	unsigned long	 olen;

	db_bind_i64(&p[0], &until);
	db_bind_i64(&p[1], &lease);
	db_bind_str(&p[2], owner, &olen);
	return stmt_run(db, st[T_EXTEND], p, "extend lease", e);
}

/*
 * One pending row's outcome for its request, appended: the rows of one
 * request are merged once all are in (bumps_merge), so a batch costs
 * O(rows log rows) however many requests wait for its cities, where a
 * search per row was quadratic.
 */
static int
bump_add(unsigned long long request, int failed)
{
	if (nbumps == bumps_cap) {
		size_t	 cap = bumps_cap ? bumps_cap * 2 : 64;
		void	*q = reallocarray(bumps, cap, sizeof(*bumps));

		if (q == NULL)
			return -1;
		bumps = q;
		bumps_cap = cap;
	}
	bumps[nbumps].request = request;
	bumps[nbumps].collected = !failed;
	bumps[nbumps].failed = !!failed;
	bumps[nbumps].sum = 1;
	nbumps++;
	return 0;
}

static int
bump_cmp(const void *a, const void *b)
{
	const struct bump *x = a, *y = b;

	return x->request < y->request ? -1 : x->request > y->request;
}

static int
city_cmp(const void *a, const void *b)
{
	const struct task *x = a, *y = b;

	return x->city < y->city ? -1 : x->city > y->city;
}

/* The task of city among the n sorted tasks, or NULL. */
static struct task *
find_city(struct task *t, size_t n, uint32_t city)
{
	struct task	 key;

	key.city = city;
	return bsearch(&key, t, n, sizeof(*t), city_cmp);
}

static int
is_done(const struct task *t)
{
	return t->out == TASK_READING || t->out == TASK_REUSE ||
	    t->out == TASK_FAILED;
}

static int
is_collected(const struct task *t)
{
	return t->out == TASK_READING || t->out == TASK_REUSE;
}

static int
is_requeue(const struct task *t)
{
	return t->out == TASK_RETRY || t->out == TASK_RELEASE;
}

static int
invariant(struct sqlerr *e, const char *what, unsigned long long want,
    unsigned long long got)
{
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "batch: %llu %s seen but %llu "
	    "written", want, what, got);
	return -1;
}

/*
 * Lock the queue entries of every task with something to write, in
 * ascending city_id, and mark those still leased to owner (mine).
 */
static int
lock_entries(const char *owner, struct task *t, size_t n, int *mine,
    struct sqlerr *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[1];
	long long	 city;
	struct task	*x;
	size_t		 i, k = 0;
	int		 rc;

	params();
	for (i = 0; i < n; i++) {
		mine[i] = 0;
		if (is_done(&t[i]) || is_requeue(&t[i])) {
			add_i64(t[i].city);
			k++;
		}
	}
	if (k == 0)
		return 0;
	add_str(owner);
	if ((q = vrun(V_LOCK, k, "lock tasks", e)) == NULL)
		return -1;
	db_bind_i64(&o[0], &city);
	if (mysql_stmt_bind_result(q, o) != 0)
		return stmt_fail(db, q, "lock tasks", e);
	while ((rc = mysql_stmt_fetch(q)) == 0)
		if ((x = find_city(t, n, (uint32_t)city)) != NULL)
			mine[x - t] = 1;
	mysql_stmt_free_result(q);
	if (rc != MYSQL_NO_DATA)
		return stmt_fail(db, q, "lock tasks", e);
	return 0;
}

static int
requeue(const char *owner, const struct task *t, struct sqlerr *e)
{
	MYSQL_BIND	 p[5];
	long long	 delay = t->delay_us, city = t->city;
	long long	 uncount = t->out == TASK_RELEASE;
	unsigned long	 rlen, olen;

	db_bind_i64(&p[0], &delay);
	db_bind_str(&p[1], t->reason, &rlen);
	db_bind_i64(&p[2], &uncount);
	db_bind_i64(&p[3], &city);
	db_bind_str(&p[4], owner, &olen);
	return stmt_run(db, st[T_REQUEUE], p, "requeue city", e);
}

/*
 * The readings of the k tasks in list, one insert; their ids into
 * ids[] (same order), then city_latest.
 */
static int
store_readings(struct task **list, size_t k, unsigned long long *ids,
    struct sqlerr *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[2];
	char		 temp[VMAX][16];
	unsigned long long first, id;
	long long	 city;
	size_t		 i, got = 0;
	int		 rc;

	params();
	for (i = 0; i < k; i++) {
		snprintf(temp[i], sizeof(temp[i]), "%.2f", list[i]->rd.temp);
		add_i64(list[i]->city);
		add_str(temp[i]);
		add_i64(list[i]->rd.humidity);
		add_i64(list[i]->rd.dt);
	}
	if ((q = vrun(V_READINGS, k, "insert readings", e)) == NULL)
		return -1;
	first = mysql_stmt_insert_id(q);

	params();
	add_i64((long long)first);
	for (i = 0; i < k; i++) {
		add_i64(list[i]->city);
		ids[i] = 0;
	}
	if ((q = vrun(V_READ_IDS, k, "reading ids", e)) == NULL)
		return -1;
	db_bind_u64(&o[0], &id);
	db_bind_i64(&o[1], &city);
	if (mysql_stmt_bind_result(q, o) != 0)
		return stmt_fail(db, q, "reading ids", e);
	while ((rc = mysql_stmt_fetch(q)) == 0) {
		for (i = 0; i < k && list[i]->city != (uint32_t)city; i++)
			;
		if (i < k && ids[i] == 0) {
			ids[i] = id;
			got++;
		} else
			got = k + 1;	/* a stranger: fails the check */
	}
	mysql_stmt_free_result(q);
	if (rc != MYSQL_NO_DATA)
		return stmt_fail(db, q, "reading ids", e);
	if (got != k)
		return invariant(e, "readings inserted", k, got);

	params();
	for (i = 0; i < k; i++) {
		add_i64(list[i]->city);
		add_i64((long long)ids[i]);
	}
	return vrun(V_LATEST, k, "city_latest", e) ? 0 : -1;
}

/*
 * Every pending request_cities row of the k done tasks in list gets its
 * outcome (ids[]: reading of each, 0 if failed); the requests they
 * belong to are added to the bumps.  The queue entries are locked, so
 * no pending row of these cities can appear or go meanwhile: the rows
 * seen must be the rows updated.
 */
static int
store_outcomes(struct task **list, size_t k, const unsigned long long *ids,
    struct sqlerr *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[2];
	unsigned long long req, want = 0, got;
	long long	 city;
	size_t		 i;
	int		 rc;

	params();
	for (i = 0; i < k; i++)
		add_i64(list[i]->city);
	if ((q = vrun(V_PENDING, k, "pending requests", e)) == NULL)
		return -1;
	db_bind_u64(&o[0], &req);
	db_bind_i64(&o[1], &city);
	if (mysql_stmt_bind_result(q, o) != 0)
		return stmt_fail(db, q, "pending requests", e);
	while ((rc = mysql_stmt_fetch(q)) == 0) {
		for (i = 0; i < k && list[i]->city != (uint32_t)city; i++)
			;
		if (i == k || bump_add(req, list[i]->out == TASK_FAILED)
		    == -1) {
			mysql_stmt_free_result(q);
			e->code = 0;
			snprintf(e->msg, sizeof(e->msg), i == k ?
			    "pending requests: city %lld not asked for" :
			    "pending requests: out of memory", city);
			return -1;
		}
		want++;
	}
	mysql_stmt_free_result(q);
	if (rc != MYSQL_NO_DATA)
		return stmt_fail(db, q, "pending requests", e);
	if (want == 0)
		return 0;

	params();
	for (i = 0; i < k; i++) {
		add_i64(list[i]->city);
		add_str(is_collected(list[i]) ? "collected" : "failed");
	}
	for (i = 0; i < k; i++) {
		add_i64(list[i]->city);
		if (is_collected(list[i]))
			add_i64((long long)ids[i]);
		else
			add_null();
	}
	for (i = 0; i < k; i++) {
		add_i64(list[i]->city);
		if (list[i]->out == TASK_FAILED)
			add_str(list[i]->reason);
		else
			add_null();
	}
	for (i = 0; i < k; i++)
		add_i64(list[i]->city);
	if ((q = vrun(V_OUTCOME, k, "city outcomes", e)) == NULL)
		return -1;
	got = mysql_stmt_affected_rows(q);
	if (got != want)
		return invariant(e, "pending rows", want, got);
	return 0;
}

/* Sort the bumps by request and add up each request's into one. */
static void
bumps_merge(void)
{
	size_t	 i, k = 0;

	if (nbumps > 1)
		qsort(bumps, nbumps, sizeof(*bumps), bump_cmp);
	for (i = 0; i < nbumps; i++) {
		if (k > 0 && bumps[k - 1].request == bumps[i].request) {
			bumps[k - 1].collected += bumps[i].collected;
			bumps[k - 1].failed += bumps[i].failed;
			bumps[k - 1].sum += bumps[i].sum;
		} else
			bumps[k++] = bumps[i];
	}
	nbumps = k;
}

/* The requests' counters, ascending id, at most VMAX per statement. */
static int
store_bumps(struct sqlerr *e)
{
	size_t	 i, j, m;

	bumps_merge();
	for (i = 0; i < nbumps; i += m) {
		m = nbumps - i < VMAX ? nbumps - i : VMAX;
		params();
		for (j = i; j < i + m; j++) {
			add_i64((long long)bumps[j].request);
			add_i64(bumps[j].sum);
		}
		for (j = i; j < i + m; j++) {
			add_i64((long long)bumps[j].request);
			add_i64(bumps[j].collected);
		}
		for (j = i; j < i + m; j++) {
			add_i64((long long)bumps[j].request);
			add_i64(bumps[j].failed);
		}
		for (j = i; j < i + m; j++)
			add_i64((long long)bumps[j].request);
		if (vrun(V_BUMP, m, "request progress", e) == NULL)
			return -1;
	}
	return 0;
}

/*
 * The batch's outcomes (the merged bumps: what the requests' counters
 * grew by) and the queue entries it deleted, added to this connection's
 * shard of the running counts, last in the transaction.
 */
static int
store_counters(size_t deleted, struct sqlerr *e)
{
	MYSQL_BIND	 p[3];
	long long	 collected = 0, failed = 0, queued = -(long long)deleted;
	size_t		 i;

	for (i = 0; i < nbumps; i++) {
		collected += bumps[i].collected;
		failed += bumps[i].failed;
	}
	db_bind_i64(&p[0], &collected);
	db_bind_i64(&p[1], &failed);
	db_bind_i64(&p[2], &queued);
	return stmt_run(db, st[T_COUNTERS], p, "counters", e);
}

static int
complete_once(const char *owner, struct task *t, size_t n, size_t *lost,
    struct sqlerr *e)
{
	struct task	*done[VMAX], *rdg[VMAX];
	unsigned long long ids[VMAX], rids[VMAX];
	MYSQL_STMT	*q;
	int		 mine[VMAX];
	size_t		 i, j, ndone = 0, nrdg = 0;

	*lost = 0;
	nbumps = 0;
	if (stmt_query(db, "START TRANSACTION", e) == -1)
		return -1;
	if (lock_entries(owner, t, n, mine, e) == -1)
		goto fail;
	for (i = 0; i < n; i++) {
		if (is_done(&t[i]) && !mine[i])
			(*lost)++;	/* the lease expired: not ours now */
		else if (is_done(&t[i])) {
			done[ndone++] = &t[i];
			if (t[i].out == TASK_READING)
				rdg[nrdg++] = &t[i];
		} else if (is_requeue(&t[i]) && mine[i] &&
		    requeue(owner, &t[i], e) == -1)
			goto fail;
	}
	if (ndone == 0)
		goto commit;
	params();
	for (i = 0; i < ndone; i++)
		add_i64(done[i]->city);
	add_str(owner);
	if ((q = vrun(V_DELETE, ndone, "delete tasks", e)) == NULL)
		goto fail;
	if (mysql_stmt_affected_rows(q) != ndone) {
		invariant(e, "locked tasks", ndone, mysql_stmt_affected_rows(q));
		goto fail;
	}
	if (nrdg > 0 && store_readings(rdg, nrdg, rids, e) == -1)
		goto fail;
	for (i = j = 0; i < ndone; i++)
		ids[i] = done[i]->out == TASK_READING ? rids[j++] :
		    done[i]->out == TASK_REUSE ? done[i]->reading : 0;
	if (store_outcomes(done, ndone, ids, e) == -1 || store_bumps(e) == -1 ||
	    store_counters(ndone, e) == -1)
		goto fail;
commit:
	if (stmt_query(db, "COMMIT", e) == -1)
		goto fail;
	return 0;
fail:
	mysql_rollback(db);
	return -1;
}

int
tasks_complete(const char *owner, struct task *t, size_t n, size_t *lost,
    struct sqlerr *e)
{
	int	 attempt;

	if (n > VMAX) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "batch of %zu cities", n);
		return -1;
	}
	/* Queue entries are locked in ascending city_id, as POST does;
	 * the per-city lists below keep that order. */
	if (n > 1)
		qsort(t, n, sizeof(*t), city_cmp);
	for (attempt = 0; ; attempt++) {
		if (complete_once(owner, t, n, lost, e) == 0)
			return 0;
		if (attempt == 9 || !db_error_is_retryable(e->code))
			return -1;
		/* A deadlock: let the other transaction finish first. */
		nanosleep(&(struct timespec){ 0, (5 + attempt * 10) * 1000000L },
		    NULL);
	}
}
