/*
 * tasks.c: see tasks.h.
 *
 * A batch costs a handful of statements, not a few per city: the claim's
 * leases, the lock on the batch's queue entries, their deletion, the
 * readings, city_latest and the fetches' outcomes are each one statement
 * over the whole batch (IN lists and multi-row inserts: sqlvec.c's
 * templates, one prepared variant per list length).  None of them
 * depends on how many requests wait for the batch's cities: a completion
 * never touches requests (they point at its fetches, and the housekeeping
 * child settles them afterwards: settle.c).
 *
 * The completion's locks take the steps of docs/design.md, "Lock order",
 * from city_tasks on (it takes no requests row): the batch's queue
 * entries in ascending city_id (one locking read over the primary key,
 * which walks an IN list in ascending order); its own new rows
 * (readings, fetches), then city_latest and the cities rows of the new
 * readings, each in ascending city_id (only completions write cities);
 * the counters shard last.  Children never share a city (the lease).
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

#include "config.h"
#include "counters.h"
#include "db.h"
#include "sqlvec.h"
#include "tasks.h"

#define VMAX		OWM_GROUP_MAX	/* longest IN list: a batch */
#define CLAIM_TRIES	5		/* candidates all taken: read again */
/* readings.temperature is DECIMAL(5,2): bound as text, two decimals. */
#define TEMP_FMT	"%.2f"
#define TEMP_TEXT	16		/* owm_parse's range, with room */
/* cities.lat DECIMAL(8,6), lon DECIMAL(9,6): as text, six decimals. */
#define COORD_FMT	"%.6f"
#define COORD_TEXT	16		/* "-180.000000" and room */

enum {
	T_CLAIM_SEL,
	T_REQUEUE,
	T_COUNTERS,
	T_RELEASE,
	T_RELEASE_CHILD,
	T_COUNT
};

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
	/* Set, not only extended: the claim's lease (worker.lease_seconds)
	 * may outlast the calls by far. */
	[T_REQUEUE] =
	    "UPDATE city_tasks SET ready_at = NOW(6) + INTERVAL ? MICROSECOND, "
	    "lease_owner = NULL, last_error = ?, "
	    "attempts = GREATEST(attempts, 1) - ? "
	    "WHERE city_id = ? AND lease_owner = ?",
	/* The queue entries a batch deleted, taken from the running counts
	 * /metrics reads (collected and failed are the requests', counted by
	 * the settle that writes them): the transaction's last lock. */
	[T_COUNTERS] = counters_add_sql,
	/* A batch dropped before its calls: every entry still leased to its
	 * owner back to the queue now, the claim's attempt not counted.
	 * Through the lease_owner index: ascending city_id. */
	[T_RELEASE] =
	    "UPDATE city_tasks SET lease_owner = NULL, ready_at = NOW(6), "
	    "attempts = GREATEST(attempts, 1) - 1 WHERE lease_owner = ?",
	/*
	 * A dead child's entries, by the prefix of its batches' owners,
	 * through the lease_owner index: back to the queue now.  The attempt
	 * counts only where the batch's calls may have gone (a slot it
	 * reserved is due: rate_slots' owner index), so a city whose answer
	 * kills its child still fails after worker.max_attempts.  attempts
	 * first: an assignment sees the ones before it.
	 */
	[T_RELEASE_CHILD] =
	    "UPDATE city_tasks SET attempts = IF(EXISTS (SELECT 1 FROM "
	    "rate_slots s WHERE s.owner = city_tasks.lease_owner AND "
	    "s.slot_at <= NOW(6)), attempts, GREATEST(attempts, 1) - 1), "
	    "lease_owner = NULL, ready_at = NOW(6) WHERE lease_owner LIKE ?",
};

/*
 * Statements over n cities, enum tasks_sql_kind in tasks.h, as sqlvec.h
 * templates: "?*" a list of n placeholders, "[...]" a part repeated n
 * times.
 */

static const char *const vsql[V_COUNT] = {
	/* Locks the candidates still due, skipping those another child
	 * (or a POST queueing them) holds, in ascending city_id through the
	 * primary key: a few pages, not the claim index's scan. */
	[V_TAKE] =
	    "SELECT city_id, attempts, fetch_id, "
	    "TIMESTAMPDIFF(SECOND, created_at, NOW(6)) FROM city_tasks "
	    "WHERE city_id IN (?*) AND ready_at <= NOW(6) "
	    "ORDER BY city_id FOR UPDATE SKIP LOCKED",
	/* Leases what V_TAKE locked. */
	[V_CLAIM] =
	    "UPDATE city_tasks SET lease_owner = ?, "
	    "ready_at = NOW(6) + INTERVAL ? SECOND, attempts = attempts + 1 "
	    "WHERE city_id IN (?*)",
	/* The entries still leased to us, with the fetch each names: the
	 * one claimed, unless the entry went and came back meanwhile. */
	[V_LOCK] =
	    "SELECT city_id, fetch_id FROM city_tasks WHERE city_id IN (?*) "
	    "AND lease_owner = ? ORDER BY city_id FOR UPDATE",
	[V_DELETE] =
	    "DELETE FROM city_tasks WHERE city_id IN (?*) AND lease_owner = ?",
	/* Each with the place its answer gave, kept with it for good. */
	[V_READINGS] =
	    "INSERT INTO readings (city_id, temperature, humidity, "
	    "observed_at, fetched_at, place, name, country, lat, lon) VALUES "
	    "[(?, ?, ?, FROM_UNIXTIME(?), NOW(6), ?, ?, ?, ?, ?)]",
	/* Through the primary key: the rows since the insert's first id,
	 * not every reading these cities ever had. */
	[V_READ_IDS] =
	    "SELECT id, city_id FROM readings FORCE INDEX (PRIMARY) "
	    "WHERE id >= ? AND city_id IN (?*)",
	[V_LATEST] =
	    "INSERT INTO city_latest (city_id, reading_id, fetched_at) "
	    "VALUES [(?, ?, NOW(6))] ON DUPLICATE KEY UPDATE "
	    "reading_id = VALUES(reading_id), fetched_at = VALUES(fetched_at)",
	/* Claimed cities whose newest reading is fresh enough to reuse. */
	[V_FRESH] =
	    "SELECT city_id, reading_id FROM city_latest "
	    "WHERE city_id IN (?*) AND fetched_at >= NOW(6) - INTERVAL ? "
	    "SECOND",
	/*
	 * The outcome of each fetch the batch ended, under the id its queue
	 * entry named: 'collected' with its reading (new, or reused), or
	 * 'failed' with the reason (reading NULL).  New rows only (the id
	 * is the entry's, locked and deleted by this transaction), so they
	 * lock nothing anyone else holds.  done_at is what the settle's
	 * fast pass looks for (settle.c) and what the purge ages them by.
	 */
	[V_FETCHES] =
	    "INSERT INTO fetches (id, city_id, state, reading_id, error, "
	    "done_at) VALUES [(?, ?, ?, ?, ?, NOW(6))]",
	/*
	 * What the API said of the cities whose new readings the batch
	 * stored: the newest answer wins (a lease that went to another
	 * child writes nothing, so no older answer commits after a newer
	 * one), seen on the database's clock as the readings' fetched_at.
	 */
	[V_CITIES] =
	    "INSERT INTO cities (city_id, name, country, lat, lon, seen_at) "
	    "VALUES [(?, ?, ?, ?, ?, NOW(6))] ON DUPLICATE KEY UPDATE "
	    "name = VALUES(name), country = VALUES(country), "
	    "lat = VALUES(lat), lon = VALUES(lon), seen_at = VALUES(seen_at)",
	/* After an unanswered COMMIT: which of the batch's fetches (that
	 * its leases no longer name) have their outcome stored. */
	/* The batch's leases end at ?: through the primary key, in
	 * ascending city_id like every other locker of these rows (through
	 * the lease_owner index it took gap locks that deadlocked with
	 * claims and POSTs). */
	[V_LEASE] =
	    "UPDATE city_tasks SET ready_at = " DB_AT("?") " "
	    "WHERE city_id IN (?*) AND lease_owner = ?",
	[V_DONE] =
	    "SELECT id FROM fetches WHERE id IN (?*)",
};

static MYSQL_STMT		*st[T_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static struct sqlvec		 vec = SQLVEC(vsql, VMAX);
static const struct config	*cf;

int
tasks_sql(int kind, size_t n, struct buf *b)
{
	if (kind < 0 || kind >= V_COUNT || n > VMAX)
		return -1;
	return sqlvec_sql(vsql[kind], n, b);
}

int
tasks_open(MYSQL *conn, const struct config *conf, struct db_err *e)
{
	cf = conf;
	if (db_set_open(&set, conn, e) == -1)
		return -1;
	if (sqlvec_open(&vec, conn, e) == -1) {
		db_set_close(&set);
		return -1;
	}
	return 0;
}

void
tasks_close(void)
{
	db_set_close(&set);
	sqlvec_close(&vec);
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
fresh(struct task *t, size_t n, struct db_err *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[2];
	struct task	*x;
	long long	 city;
	unsigned long long reading;
	size_t		 i;
	int		 rc;

	sqlvec_params(&vec);
	for (i = 0; i < n; i++)
		sqlvec_i64(&vec, t[i].city);
	sqlvec_i64(&vec, cf->worker.reuse_seconds);
	if ((q = sqlvec_run(&vec, V_FRESH, n, "fresh readings", e)) == NULL)
		return -1;
	db_bind_i64(&o[0], &city);
	db_bind_u64(&o[1], &reading);
	if (mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "fresh readings", e);
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
		return db_fail(set.db, q, "fresh readings", e);
	return 0;
}

/*
 * The claim's candidates: up to max due cities in turn order that are
 * not among the nseen offered by an earlier round of this claim (those
 * are ours now, or someone else's: the plain read may still show them
 * due until the other claim commits).
 */
static int
candidates(uint32_t *cand, size_t max, const uint32_t *seen, size_t nseen,
    size_t *k, struct db_err *e)
{
	MYSQL_STMT	*q = st[T_CLAIM_SEL];
	MYSQL_BIND	 p[1], o[1];
	long long	 limit = (long long)(max + nseen), city;
	size_t		 i;
	int		 rc;

	*k = 0;
	db_bind_i64(&p[0], &limit);
	db_bind_i64(&o[0], &city);
	if (db_run(set.db, q, p, "claim", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "claim", e);
	while ((rc = mysql_stmt_fetch(q)) == 0 && *k < max) {
		for (i = 0; i < nseen && seen[i] != (uint32_t)city; i++)
			;
		if (i == nseen)
			cand[(*k)++] = (uint32_t)city;
	}
	return db_fetch_end(set.db, q, rc, "claim fetch", e);
}

/*
 * Inside the claim's transaction: lock the k candidates still due, those
 * no one else holds, into t[*n..max).
 */
static int
take(const uint32_t *cand, size_t k, struct task *t, size_t max, size_t *n,
    struct db_err *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[4];
	long long	 city, attempts, age;
	unsigned long long fetch;
	size_t		 i;
	int		 rc;

	sqlvec_params(&vec);
	for (i = 0; i < k; i++)
		sqlvec_i64(&vec, cand[i]);
	if ((q = sqlvec_run(&vec, V_TAKE, k, "claim", e)) == NULL)
		return -1;
	db_bind_i64(&o[0], &city);
	db_bind_i64(&o[1], &attempts);
	db_bind_u64(&o[2], &fetch);
	db_bind_i64(&o[3], &age);
	if (mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "claim", e);
	while ((rc = mysql_stmt_fetch(q)) == 0 && *n < max) {
		memset(&t[*n], 0, sizeof(t[*n]));
		t[*n].city = (uint32_t)city;
		t[*n].attempts = (unsigned int)attempts + 1;
		t[*n].fetch = fetch;
		t[*n].age_s = age;
		(*n)++;
	}
	return db_fetch_end(set.db, q, rc, "claim fetch", e);
}

/* Lease the n tasks taken to owner, and commit the claim. */
static int
lease(const char *owner, const struct task *t, size_t n, struct db_err *e)
{
	size_t	 i;

	sqlvec_params(&vec);
	sqlvec_str(&vec, owner);
	sqlvec_i64(&vec, cf->worker.lease_seconds);
	for (i = 0; i < n; i++)
		sqlvec_i64(&vec, t[i].city);
	if (sqlvec_run(&vec, V_CLAIM, n, "claim lease", e) == NULL)
		return -1;
	return db_commit(set.db, e);
}

/*
 * The candidates (a plain read of the claim index), then one
 * transaction: lock those still due with FOR UPDATE SKIP LOCKED through
 * the primary key (ascending city_id, so it never waits for a POST or
 * another claim) and lease them.  Two children reading the same
 * candidates split them (19 and 1 at a cold start), and a short batch
 * costs a slot of its own: so a round that got fewer than it offered,
 * some taken by others, reads the next candidates (not those offered
 * before) to top the batch up, within CLAIM_TRIES rounds.  A round that
 * got every candidate it offered ends the claim: the queue holds no more
 * that are due.
 */
static int
claim_once(const char *owner, struct task *t, size_t max, size_t *n,
    size_t *due, struct db_err *e)
{
	uint32_t	 cand[VMAX], seen[CLAIM_TRIES * VMAX];
	size_t		 k, nseen = 0, before;
	int		 try, in_tx = 0;

	*n = 0;
	for (try = 0; try < CLAIM_TRIES && *n < max; try++) {
		if (candidates(cand, max - *n, seen, nseen, &k, e) == -1)
			goto fail;
		if (try == 0)
			*due = k;
		if (k == 0)
			break;
		if (!in_tx && db_begin(set.db, e) == -1)
			return -1;
		in_tx = 1;
		before = *n;
		if (take(cand, k, t, max, n, e) == -1)
			goto fail;
		if (*n - before == k)
			break;		/* none taken by others */
		memcpy(seen + nseen, cand, k * sizeof(cand[0]));
		nseen += k;
	}
	if (*n == 0) {
		if (in_tx && db_commit(set.db, e) == -1)
			goto fail;
		return 0;
	}
	if (lease(owner, t, *n, e) == -1)
		goto fail;
	return 0;
fail:
	*n = 0;
	if (in_tx)
		db_rollback(set.db);
	return -1;
}

/*
 * The claim, run again (db_retry) when it meets a deadlock: its rounds
 * lock rows that are not in one ascending order, and its lease moves
 * their claim-index entries past a POST's inserts; a rolled-back claim
 * leased nothing.  Then the fresh readings, after the commit.
 */
int
tasks_claim(const char *owner, struct task *t, size_t max, size_t *n,
    size_t *due, struct db_err *e)
{
	int	 attempt;

	if (max > VMAX)
		max = VMAX;
	*due = 0;
	for (attempt = 0; claim_once(owner, t, max, n, due, e) == -1;
	    attempt++)
		if (!db_retry(e->code, attempt))
			return -1;
	if (*n > 0 && cf->worker.reuse_seconds > 0 && fresh(t, *n, e) == -1) {
		*n = 0;		/* the leases expire; the cities come back */
		return -1;
	}
	return 0;
}

static int
u32_cmp(const void *a, const void *b)
{
	const uint32_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* A batch's new lease. */
struct lease {
	const char	*owner;
	uint32_t	 city[VMAX];
	size_t		 n;
	int64_t		 until_us;
};

static int
lease_once(void *arg, struct db_err *e)
{
	struct lease	*l = arg;
	size_t		 i;

	sqlvec_params(&vec);
	sqlvec_i64(&vec, l->until_us);
	for (i = 0; i < l->n; i++)
		sqlvec_i64(&vec, l->city[i]);
	sqlvec_str(&vec, l->owner);
	return sqlvec_run(&vec, V_LEASE, l->n, "lease until", e) ? 0 : -1;
}

/*
 * One statement on its own (autocommit: one round trip, where a
 * transaction around it took three), run again after a deadlock (a POST's
 * INSERT IGNORE queueing the same cities takes their locks in the same
 * order, but the claim index's entries it inserts meet the ones this
 * update moves), as every transaction here is: a statement that failed
 * so changed nothing.
 */
int
tasks_lease_until(const char *owner, struct task *const *list, size_t n,
    int64_t until_us, struct db_err *e)
{
	struct lease	 l;
	size_t		 i;
	int		 attempt;

	if (n == 0 || n > VMAX)
		return 0;
	l.owner = owner;
	l.n = n;
	l.until_us = until_us;
	for (i = 0; i < n; i++)
		l.city[i] = list[i]->city;
	qsort(l.city, n, sizeof(l.city[0]), u32_cmp);
	for (attempt = 0; lease_once(&l, e) == -1; attempt++)
		if (!db_retry(e->code, attempt))
			return -1;
	return 0;
}

/* A release: the body of its transaction.  which: T_RELEASE (owner is
 * a batch's) or T_RELEASE_CHILD (a LIKE pattern). */
struct release {
	int		 which;
	const char	*owner;
	const char	*what;		/* for errors */
	size_t		*n;
};

static int
release_once(void *arg, struct db_err *e)
{
	struct release	*r = arg;
	MYSQL_BIND	 p[1];
	unsigned long	 olen;

	db_bind_str(&p[0], r->owner, &olen);
	if (db_run(set.db, st[r->which], p, r->what, e) == -1)
		return -1;
	*r->n = (size_t)mysql_stmt_affected_rows(st[r->which]);
	return 0;
}

int
tasks_release(struct db_conn *conn, int64_t deadline, const char *owner,
    size_t *n, struct db_err *e)
{
	struct release	 r = { T_RELEASE, owner, "release batch", n };

	*n = 0;
	return db_conn_transaction(conn, cf, deadline, release_once, NULL, &r,
	    e);
}

int
tasks_release_child(struct db_conn *conn, int64_t deadline, const char *id,
    size_t *n, struct db_err *e)
{
	char		 like[TASKS_OWNER_MAX];
	struct release	 r = { T_RELEASE_CHILD, like, "release child", n };
	size_t		 len = strlen(id);

	*n = 0;
	/* "<id>:%": a supervisor's ids are hex digits, no LIKE wildcard. */
	if (len == 0 || len + 3 > sizeof(like) ||
	    strspn(id, "0123456789abcdef") != len) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "not a child id: %zu bytes",
		    len);
		return -1;
	}
	snprintf(like, sizeof(like), "%s:%%", id);
	return db_conn_transaction(conn, cf, deadline, release_once, NULL, &r,
	    e);
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
invariant(struct db_err *e, const char *what, unsigned long long want,
    unsigned long long got)
{
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "batch: %llu %s seen but %llu "
	    "written", want, what, got);
	return -1;
}

/*
 * Lock the queue entries of every task with something to write, in
 * ascending city_id, and mark those still leased to owner under the
 * fetch claimed (mine).
 */
static int
lock_entries(const char *owner, struct task *t, size_t n, int *mine,
    struct db_err *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[2];
	long long	 city;
	unsigned long long fetch;
	struct task	*x;
	size_t		 i, k = 0;
	int		 rc;

	sqlvec_params(&vec);
	for (i = 0; i < n; i++) {
		mine[i] = 0;
		if (is_done(&t[i]) || is_requeue(&t[i])) {
			sqlvec_i64(&vec, t[i].city);
			k++;
		}
	}
	if (k == 0)
		return 0;
	sqlvec_str(&vec, owner);
	if ((q = sqlvec_run(&vec, V_LOCK, k, "lock tasks", e)) == NULL)
		return -1;
	db_bind_i64(&o[0], &city);
	db_bind_u64(&o[1], &fetch);
	if (mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "lock tasks", e);
	while ((rc = mysql_stmt_fetch(q)) == 0)
		if ((x = find_city(t, n, (uint32_t)city)) != NULL &&
		    x->fetch == fetch)
			mine[x - t] = 1;
	mysql_stmt_free_result(q);
	if (rc != MYSQL_NO_DATA)
		return db_fail(set.db, q, "lock tasks", e);
	return 0;
}

static int
requeue(const char *owner, const struct task *t, struct db_err *e)
{
	MYSQL_BIND	 p[5];
	long long	 delay = t->delay_us, city = t->city;
	long long	 uncount = t->out == TASK_RELEASE || t->uncounted;
	unsigned long	 rlen, olen;

	db_bind_i64(&p[0], &delay);
	db_bind_str(&p[1], t->reason, &rlen);
	db_bind_i64(&p[2], &uncount);
	db_bind_i64(&p[3], &city);
	db_bind_str(&p[4], owner, &olen);
	return db_run(set.db, st[T_REQUEUE], p, "requeue city", e);
}

/* A place's coordinates as the columns' text. */
struct coords {
	char	 lat[COORD_TEXT], lon[COORD_TEXT];
};

/* A place's name, country (NULL: none), lat and lon; c holds the text. */
static void
bind_place(const struct owm_place *p, struct coords *c)
{
	snprintf(c->lat, sizeof(c->lat), COORD_FMT, p->lat);
	snprintf(c->lon, sizeof(c->lon), COORD_FMT, p->lon);
	sqlvec_str(&vec, p->name);
	if (p->countrylen > 0)
		sqlvec_str(&vec, p->country);
	else
		sqlvec_null(&vec);
	sqlvec_str(&vec, c->lat);
	sqlvec_str(&vec, c->lon);
}

/*
 * A reading's place columns: place 1 and the place the parser accepted,
 * or 0 and NULLs when the answer gave none it accepted.
 */
static void
bind_reading_place(const struct owm_reading *rd, struct coords *c)
{
	int	 i;

	if (rd->place_state == OWM_PLACE_OK) {
		sqlvec_i64(&vec, 1);
		bind_place(&rd->place, c);
		return;
	}
	sqlvec_i64(&vec, 0);
	for (i = 0; i < 4; i++)
		sqlvec_null(&vec);
}

/* The readings of the k tasks in list, one insert: the first id. */
static int
insert_readings(struct task **list, size_t k, unsigned long long *first,
    struct db_err *e)
{
	MYSQL_STMT	*q;
	char		 temp[VMAX][TEMP_TEXT];
	struct coords	 c[VMAX];
	size_t		 i;

	sqlvec_params(&vec);
	for (i = 0; i < k; i++) {
		snprintf(temp[i], sizeof(temp[i]), TEMP_FMT, list[i]->rd.temp);
		sqlvec_i64(&vec, list[i]->city);
		sqlvec_str(&vec, temp[i]);
		sqlvec_i64(&vec, list[i]->rd.humidity);
		sqlvec_i64(&vec, list[i]->rd.dt);
		bind_reading_place(&list[i]->rd, &c[i]);
	}
	if ((q = sqlvec_run(&vec, V_READINGS, k, "insert readings", e)) == NULL)
		return -1;
	*first = mysql_stmt_insert_id(q);
	return 0;
}

/*
 * The ids the insert gave the k readings of list, from first on, into
 * ids[] (same order): exactly one each, or the batch fails.
 */
static int
reading_ids(struct task **list, size_t k, unsigned long long first,
    unsigned long long *ids, struct db_err *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[2];
	unsigned long long id;
	long long	 city;
	size_t		 i, got = 0;
	int		 rc;

	sqlvec_params(&vec);
	sqlvec_i64(&vec, (long long)first);
	for (i = 0; i < k; i++) {
		sqlvec_i64(&vec, list[i]->city);
		ids[i] = 0;
	}
	if ((q = sqlvec_run(&vec, V_READ_IDS, k, "reading ids", e)) == NULL)
		return -1;
	db_bind_u64(&o[0], &id);
	db_bind_i64(&o[1], &city);
	if (mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "reading ids", e);
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
		return db_fail(set.db, q, "reading ids", e);
	if (got != k)
		return invariant(e, "readings inserted", k, got);
	return 0;
}

/*
 * The readings of the k tasks in list, one insert; their ids into
 * ids[] (same order), then city_latest.
 */
static int
store_readings(struct task **list, size_t k, unsigned long long *ids,
    struct db_err *e)
{
	unsigned long long first;
	size_t		 i;

	if (insert_readings(list, k, &first, e) == -1 ||
	    reading_ids(list, k, first, ids, e) == -1)
		return -1;
	sqlvec_params(&vec);
	for (i = 0; i < k; i++) {
		sqlvec_i64(&vec, list[i]->city);
		sqlvec_i64(&vec, (long long)ids[i]);
	}
	return sqlvec_run(&vec, V_LATEST, k, "city_latest", e) ? 0 : -1;
}

/*
 * The places the parser accepted of the k new readings in list (ascending
 * city_id), one upsert; nothing when none was.
 */
static int
store_cities(struct task **list, size_t k, struct db_err *e)
{
	struct coords	 c[VMAX];
	size_t		 i, m = 0;

	sqlvec_params(&vec);
	for (i = 0; i < k; i++) {
		if (list[i]->rd.place_state != OWM_PLACE_OK)
			continue;
		sqlvec_i64(&vec, list[i]->city);
		bind_place(&list[i]->rd.place, &c[m++]);
	}
	if (m == 0)
		return 0;
	return sqlvec_run(&vec, V_CITIES, m, "cities", e) ? 0 : -1;
}

/*
 * The outcome of each of the k done tasks in list (ids[]: the reading of
 * each, 0 if failed) under its fetch id, one insert.
 */
static int
store_fetches(struct task **list, size_t k, const unsigned long long *ids,
    struct db_err *e)
{
	size_t		 i;

	sqlvec_params(&vec);
	for (i = 0; i < k; i++) {
		sqlvec_i64(&vec, (long long)list[i]->fetch);
		sqlvec_i64(&vec, list[i]->city);
		if (is_collected(list[i])) {
			sqlvec_str(&vec, "collected");
			sqlvec_i64(&vec, (long long)ids[i]);
			sqlvec_null(&vec);
		} else {
			sqlvec_str(&vec, "failed");
			sqlvec_null(&vec);
			sqlvec_str(&vec, list[i]->reason);
		}
	}
	return sqlvec_run(&vec, V_FETCHES, k, "fetch outcomes", e) ? 0 : -1;
}

/*
 * The queue entries the batch deleted (the fetches it ended), taken from
 * and added to this connection's shard of the running counts, last in the
 * transaction.
 */
static int
store_counters(size_t deleted, struct db_err *e)
{
	struct counts	 c = { .queued = -(long long)deleted,
			    .ended = (long long)deleted };

	return counters_add(set.db, st[T_COUNTERS], &c, e);
}

/*
 * The ndone done tasks (nrdg of them, rdg, with a new reading): their
 * queue entries deleted, the readings and their cities stored, each
 * fetch's outcome, the running counts.  Inside the completion's
 * transaction.
 */
static int
store_outcomes(const char *owner, struct task **done, size_t ndone,
    struct task **rdg, size_t nrdg, struct db_err *e)
{
	unsigned long long ids[VMAX], rids[VMAX];
	MYSQL_STMT	*q;
	size_t		 i, j;

	sqlvec_params(&vec);
	for (i = 0; i < ndone; i++)
		sqlvec_i64(&vec, done[i]->city);
	sqlvec_str(&vec, owner);
	if ((q = sqlvec_run(&vec, V_DELETE, ndone, "delete tasks", e)) == NULL)
		return -1;
	if (mysql_stmt_affected_rows(q) != ndone)
		return invariant(e, "locked tasks", ndone,
		    mysql_stmt_affected_rows(q));
	if (nrdg > 0 && store_readings(rdg, nrdg, rids, e) == -1)
		return -1;
	for (i = j = 0; i < ndone; i++)
		ids[i] = done[i]->out == TASK_READING ? rids[j++] :
		    done[i]->out == TASK_REUSE ? done[i]->reading : 0;
	if (store_fetches(done, ndone, ids, e) == -1 ||
	    store_cities(rdg, nrdg, e) == -1)
		return -1;
	return store_counters(ndone, e);
}

/* A batch's completion: the body of its transaction (db_transaction). */
struct completion {
	const char	*owner;
	struct task	*t;
	size_t		 n;
	size_t		*lost, *before;
	int		 unsure;	/* an earlier COMMIT unanswered */
};

/*
 * After an unanswered COMMIT: of the k done tasks of list that are no
 * longer ours, how many have an outcome stored under their fetch (that
 * COMMIT took effect, or another child completed them after our lease
 * expired: one outcome either way) into *found.
 */
static int
stored_before(struct task **list, size_t k, size_t *found,
    struct db_err *e)
{
	MYSQL_STMT	*q;
	MYSQL_BIND	 o[1];
	unsigned long long id;
	size_t		 i;
	int		 rc;

	*found = 0;
	if (k == 0)
		return 0;
	sqlvec_params(&vec);
	for (i = 0; i < k; i++)
		sqlvec_i64(&vec, (long long)list[i]->fetch);
	if ((q = sqlvec_run(&vec, V_DONE, k, "fetch outcomes", e)) == NULL)
		return -1;
	db_bind_u64(&o[0], &id);
	if (mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "fetch outcomes", e);
	while ((rc = mysql_stmt_fetch(q)) == 0)
		(*found)++;
	return db_fetch_end(set.db, q, rc, "fetch outcomes", e);
}

static int
complete_once(void *arg, struct db_err *e)
{
	struct completion *c = arg;
	struct task	*t = c->t, *done[VMAX], *rdg[VMAX], *gone[VMAX];
	int		 mine[VMAX];
	size_t		 i, ndone = 0, nrdg = 0, ngone = 0;

	*c->lost = *c->before = 0;
	if (lock_entries(c->owner, t, c->n, mine, e) == -1)
		return -1;
	for (i = 0; i < c->n; i++) {
		if (is_done(&t[i]) && !mine[i])
			gone[ngone++] = &t[i];	/* not ours now */
		else if (is_done(&t[i])) {
			done[ndone++] = &t[i];
			if (t[i].out == TASK_READING)
				rdg[nrdg++] = &t[i];
		} else if (is_requeue(&t[i]) && mine[i] &&
		    requeue(c->owner, &t[i], e) == -1)
			return -1;
	}
	if (ndone > 0 &&
	    store_outcomes(c->owner, done, ndone, rdg, nrdg, e) == -1)
		return -1;
	/* Not ours: the lease expired, or our unanswered COMMIT ended it. */
	if (c->unsure && stored_before(gone, ngone, c->before, e) == -1)
		return -1;
	*c->lost = ngone - *c->before;
	return 0;
}

static void
complete_unsure(void *arg)
{
	struct completion *c = arg;

	c->unsure = 1;
}

int
tasks_complete(struct db_conn *conn, int64_t deadline, const char *owner,
    struct task *t, size_t n, size_t *lost, size_t *before,
    struct db_err *e)
{
	struct completion c = { owner, t, n, lost, before, 0 };

	if (n > VMAX) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "batch of %zu cities", n);
		return -1;
	}
	/* Queue entries are locked in ascending city_id, as POST does;
	 * the per-city lists below keep that order. */
	if (n > 1)
		qsort(t, n, sizeof(*t), city_cmp);
	return db_conn_transaction(conn, cf, deadline, complete_once,
	    complete_unsure, &c, e);
}
