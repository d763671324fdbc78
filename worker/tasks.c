/*
 * tasks.c: see tasks.h.
 *
 * Lock order inside the completion transaction, the same in every child:
 * the batch's city_tasks rows in ascending city_id (POST /collect takes
 * them in that order too), then their request_cities rows, then the
 * requests rows in ascending id.  Children never share a city (the
 * lease), so only the requests rows are contended, and ascending order
 * keeps two children from waiting on each other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "tasks.h"

#define EPOCH		"TIMESTAMP'1970-01-01 00:00:00'"

enum {
	T_CLAIM_SEL,
	T_CLAIM_UPD,
	T_EXTEND,
	T_DELETE,
	T_READING,
	T_LATEST,
	T_PENDING,
	T_COLLECT,
	T_FAIL,
	T_BUMP,
	T_REQUEUE,
	T_COUNT
};

static const char *const sql[T_COUNT] = {
	[T_CLAIM_SEL] =
	    "SELECT city_id, attempts FROM city_tasks "
	    "WHERE ready_at <= NOW(6) ORDER BY turn LIMIT ? "
	    "FOR UPDATE SKIP LOCKED",
	[T_CLAIM_UPD] =
	    "UPDATE city_tasks SET lease_owner = ?, "
	    "ready_at = NOW(6) + INTERVAL ? SECOND, attempts = attempts + 1 "
	    "WHERE city_id = ?",
	[T_EXTEND] =
	    "UPDATE city_tasks SET ready_at = GREATEST(ready_at, "
	    "TIMESTAMPADD(MICROSECOND, ?, " EPOCH ") + INTERVAL ? SECOND) "
	    "WHERE lease_owner = ?",
	[T_DELETE] =
	    "DELETE FROM city_tasks WHERE city_id = ? AND lease_owner = ?",
	[T_READING] =
	    "INSERT INTO readings (city_id, temperature, humidity, "
	    "observed_at, fetched_at) VALUES (?, ?, ?, FROM_UNIXTIME(?), "
	    "NOW(6))",
	[T_LATEST] =
	    "INSERT INTO city_latest (city_id, reading_id, fetched_at) "
	    "VALUES (?, ?, NOW(6)) ON DUPLICATE KEY UPDATE "
	    "reading_id = VALUES(reading_id), fetched_at = VALUES(fetched_at)",
	[T_PENDING] =
	    "SELECT request_id FROM request_cities "
	    "WHERE city_id = ? AND state = 'pending'",
	[T_COLLECT] =
	    "UPDATE request_cities SET state = 'collected', reading_id = ?, "
	    "done_at = NOW(6) WHERE city_id = ? AND state = 'pending'",
	[T_FAIL] =
	    "UPDATE request_cities SET state = 'failed', error = ?, "
	    "done_at = NOW(6) WHERE city_id = ? AND state = 'pending'",
	/* finished_at first: it must read the counters before the bump. */
	[T_BUMP] =
	    "UPDATE requests SET finished_at = IF(finished_at IS NULL AND "
	    "collected + failed + ? + ? >= total, NOW(6), finished_at), "
	    "collected = collected + ?, failed = failed + ? WHERE id = ?",
	[T_REQUEUE] =
	    "UPDATE city_tasks SET ready_at = NOW(6) + INTERVAL ? MICROSECOND, "
	    "lease_owner = NULL, last_error = ?, "
	    "attempts = GREATEST(attempts, 1) - ? "
	    "WHERE city_id = ? AND lease_owner = ?",
};

struct bump {
	unsigned long long	 request;
	long long		 collected, failed;
};

static MYSQL			*db;
static MYSQL_STMT		*st[T_COUNT];
static const struct config	*cf;
static struct bump		*bumps;
static size_t			 nbumps, bumps_cap;

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
	stmt_close_all(st, T_COUNT);
	db = NULL;
	free(bumps);
	bumps = NULL;
	nbumps = bumps_cap = 0;
}

int
tasks_claim(const char *owner, struct task *t, size_t max, size_t *n,
    struct sqlerr *e)
{
	MYSQL_BIND	 p[3], o[2];
	long long	 limit = (long long)max, lease = cf->worker.lease_seconds;
	long long	 city, attempts, id;
	unsigned long	 olen;
	size_t		 i;
	int		 rc;

	*n = 0;
	if (stmt_query(db, "START TRANSACTION", e) == -1)
		return -1;
	db_bind_i64(&p[0], &limit);
	db_bind_i64(&o[0], &city);
	db_bind_i64(&o[1], &attempts);
	if (stmt_run(db, st[T_CLAIM_SEL], p, "claim", e) == -1 ||
	    mysql_stmt_bind_result(st[T_CLAIM_SEL], o) != 0) {
		stmt_fail(db, st[T_CLAIM_SEL], "claim", e);
		goto fail;
	}
	while ((rc = mysql_stmt_fetch(st[T_CLAIM_SEL])) == 0 && *n < max) {
		memset(&t[*n], 0, sizeof(t[*n]));
		t[*n].city = (uint32_t)city;
		t[*n].attempts = (unsigned int)attempts + 1;
		(*n)++;
	}
	mysql_stmt_free_result(st[T_CLAIM_SEL]);
	if (rc == 1) {
		stmt_fail(db, st[T_CLAIM_SEL], "claim fetch", e);
		goto fail;
	}
	for (i = 0; i < *n; i++) {
		id = t[i].city;
		db_bind_str(&p[0], owner, &olen);
		db_bind_i64(&p[1], &lease);
		db_bind_i64(&p[2], &id);
		if (stmt_run(db, st[T_CLAIM_UPD], p, "claim lease", e) == -1)
			goto fail;
	}
	if (stmt_query(db, "COMMIT", e) == -1)
		goto fail;
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

static int
bump_add(unsigned long long request, int failed)
{
	size_t	 i;

	for (i = 0; i < nbumps && bumps[i].request != request; i++)
		;
	if (i == nbumps) {
		if (nbumps == bumps_cap) {
			size_t	 cap = bumps_cap ? bumps_cap * 2 : 64;
			void	*q = reallocarray(bumps, cap, sizeof(*bumps));

			if (q == NULL)
				return -1;
			bumps = q;
			bumps_cap = cap;
		}
		memset(&bumps[nbumps], 0, sizeof(bumps[nbumps]));
		bumps[nbumps++].request = request;
	}
	if (failed)
		bumps[i].failed++;
	else
		bumps[i].collected++;
	return 0;
}

static int
bump_cmp(const void *a, const void *b)
{
	const struct bump *x = a, *y = b;

	return x->request < y->request ? -1 : x->request > y->request;
}

/* The requests waiting for city, added to the bumps; *count of them. */
static int
pending_requests(long long city, int failed, unsigned long long *count,
    struct sqlerr *e)
{
	MYSQL_BIND	 p[1], o[1];
	unsigned long long req;
	int		 rc;

	*count = 0;
	db_bind_i64(&p[0], &city);
	db_bind_u64(&o[0], &req);
	if (stmt_run(db, st[T_PENDING], p, "pending requests", e) == -1 ||
	    mysql_stmt_bind_result(st[T_PENDING], o) != 0)
		return stmt_fail(db, st[T_PENDING], "pending requests", e);
	while ((rc = mysql_stmt_fetch(st[T_PENDING])) == 0) {
		if (bump_add(req, failed) == -1) {
			mysql_stmt_free_result(st[T_PENDING]);
			e->code = 0;
			strcpy(e->msg, "pending requests: out of memory");
			return -1;
		}
		(*count)++;
	}
	mysql_stmt_free_result(st[T_PENDING]);
	if (rc != MYSQL_NO_DATA)
		return stmt_fail(db, st[T_PENDING], "pending requests", e);
	return 0;
}

/* The city's reading and its pending rows; the task row is already ours. */
static int
store_reading(const struct task *t, struct sqlerr *e)
{
	MYSQL_BIND	 p[4];
	long long	 city = t->city, hum = t->rd.humidity, dt = t->rd.dt;
	unsigned long long reading, want;
	char		 temp[16];
	unsigned long	 tlen;

	snprintf(temp, sizeof(temp), "%.2f", t->rd.temp);
	db_bind_i64(&p[0], &city);
	db_bind_str(&p[1], temp, &tlen);
	db_bind_i64(&p[2], &hum);
	db_bind_i64(&p[3], &dt);
	if (stmt_run(db, st[T_READING], p, "insert reading", e) == -1)
		return -1;
	reading = mysql_stmt_insert_id(st[T_READING]);
	db_bind_i64(&p[0], &city);
	db_bind_u64(&p[1], &reading);
	if (stmt_run(db, st[T_LATEST], p, "city_latest", e) == -1)
		return -1;
	if (pending_requests(city, 0, &want, e) == -1)
		return -1;
	db_bind_u64(&p[0], &reading);
	db_bind_i64(&p[1], &city);
	if (stmt_run(db, st[T_COLLECT], p, "collect", e) == -1)
		return -1;
	if (mysql_stmt_affected_rows(st[T_COLLECT]) != want) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "city %u: %llu pending rows "
		    "seen but %llu updated", t->city, want,
		    (unsigned long long)mysql_stmt_affected_rows(
		    st[T_COLLECT]));
		return -1;
	}
	return 0;
}

static int
store_failure(const struct task *t, struct sqlerr *e)
{
	MYSQL_BIND	 p[2];
	long long	 city = t->city;
	unsigned long long want;
	unsigned long	 rlen;

	if (pending_requests(city, 1, &want, e) == -1)
		return -1;
	db_bind_str(&p[0], t->reason, &rlen);
	db_bind_i64(&p[1], &city);
	if (stmt_run(db, st[T_FAIL], p, "fail city", e) == -1)
		return -1;
	if (mysql_stmt_affected_rows(st[T_FAIL]) != want) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "city %u: %llu pending rows "
		    "seen but %llu failed", t->city, want,
		    (unsigned long long)mysql_stmt_affected_rows(st[T_FAIL]));
		return -1;
	}
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

static int
city_cmp(const void *a, const void *b)
{
	const struct task *x = a, *y = b;

	return x->city < y->city ? -1 : x->city > y->city;
}

static void
sort_by_city(struct task *t, size_t n)
{
	if (n > 1)
		qsort(t, n, sizeof(*t), city_cmp);
}

static int
complete_once(const char *owner, struct task *t, size_t n, size_t *lost,
    struct sqlerr *e)
{
	MYSQL_BIND	 p[5];
	long long	 city;
	unsigned long	 olen;
	size_t		 i;

	*lost = 0;
	nbumps = 0;
	/* Queue entries are locked in ascending city_id, as POST does. */
	sort_by_city(t, n);
	if (stmt_query(db, "START TRANSACTION", e) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (t[i].out == TASK_RETRY || t[i].out == TASK_RELEASE) {
			if (requeue(owner, &t[i], e) == -1)
				goto fail;
			continue;
		}
		if (t[i].out != TASK_READING && t[i].out != TASK_FAILED)
			continue;
		city = t[i].city;
		db_bind_i64(&p[0], &city);
		db_bind_str(&p[1], owner, &olen);
		if (stmt_run(db, st[T_DELETE], p, "delete task", e) == -1)
			goto fail;
		if (mysql_stmt_affected_rows(st[T_DELETE]) == 0) {
			(*lost)++;	/* the lease expired: not ours now */
			continue;
		}
		if ((t[i].out == TASK_READING ? store_reading(&t[i], e) :
		    store_failure(&t[i], e)) == -1)
			goto fail;
	}
	if (nbumps > 1)
		qsort(bumps, nbumps, sizeof(*bumps), bump_cmp);
	for (i = 0; i < nbumps; i++) {
		db_bind_i64(&p[0], &bumps[i].collected);
		db_bind_i64(&p[1], &bumps[i].failed);
		db_bind_i64(&p[2], &bumps[i].collected);
		db_bind_i64(&p[3], &bumps[i].failed);
		db_bind_u64(&p[4], &bumps[i].request);
		if (stmt_run(db, st[T_BUMP], p, "request progress", e) == -1)
			goto fail;
	}
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
