/*
 * cancel.c: DELETE /collect's transaction; see cancel.h.
 *
 * A finished request (settled, or with no city pending) is left as it
 * is.  Otherwise it is cancelled now: marked (request_data then fails
 * every city not done by now with "cancelled"), the queue entries it
 * created that no worker has leased are dropped with their fetches, and
 * its row is settled at once from its cities; the counts move by the
 * difference.
 *
 * A batch that is storing one of the request's cities right now must
 * not be missed: its completion writes the fetch's outcome (done_at) and
 * commits a moment later, holding the city's queue entry locked from
 * before the one to after the other.  So the cancel first locks every
 * queue entry the request still waits for, which waits for any such
 * completion to commit, and only then reads anything (its first plain
 * read opens the transaction's snapshot, which then holds those outcomes)
 * and marks the request: every outcome stored before the mark is seen
 * and counted, and every completion after it waits for the cancel's
 * commit and writes a done_at after the mark (request_data: "cancelled").
 *
 * Its locks take the steps of docs/design.md, "Lock order": the
 * request's row (lock 1, the requests step, so a settle of it waits or is
 * waited for whole), the queue entries of the fetches it waits for and of
 * those it drops (lock 2, city_tasks ascending), their dropped fetches
 * (lock 3, its own rows), this connection's counters shard (lock 4,
 * last).
 */
#include "cancel.h"
#include "counters.h"
#include "log.h"
#include "read.h"
#include "rules.h"

enum {
	C_LOCK,
	C_PENDING,
	C_WAIT,
	C_MARK,
	C_FIND,
	C_TAKE,
	C_FETCHES,
	C_TASKS,
	C_SETTLE,
	C_COUNTERS,
	C_COUNT
};

static const char *const sql[C_COUNT] = {
	/* Lock 1: the request's row, first. */
	[C_LOCK] =
	    "SELECT id, collected, failed, finished_at IS NOT NULL "
	    "FROM requests WHERE ext_id = ? FOR UPDATE",
	/* The fetches it waits for, from its row as locked (a locking read:
	 * no snapshot yet), ascending city_id. */
	[C_PENDING] =
	    "SELECT j.city_id, j.fetch_id FROM requests q "
	    "JOIN JSON_TABLE(q.cities, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "reading_id BIGINT UNSIGNED PATH '$[1]', "
	    "fetch_id BIGINT UNSIGNED PATH '$[2]' DEFAULT '0' ON EMPTY)) j "
	    "WHERE q.id = ? AND j.reading_id = 0 AND j.fetch_id > 0 "
	    "ORDER BY j.city_id FOR UPDATE",
	/* Lock 2: their queue entries ([[id, fetch_id], ...] ascending),
	 * leased or not: waits for a completion storing one of them. */
	[C_WAIT] =
	    "SELECT t.city_id, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "fetch_id BIGINT UNSIGNED PATH '$[1]')) j "
	    "STRAIGHT_JOIN city_tasks t "
	    "ON t.city_id = j.city_id AND t.fetch_id = j.fetch_id FOR UPDATE",
	[C_MARK] =
	    "UPDATE requests SET cancelled_at = NOW(6) WHERE id = ?",
	/*
	 * The queue entries it created that no worker has leased, found
	 * through its own list by primary key (a plain read, sorted), so
	 * C_TAKE can lock them in ascending city_id.
	 */
	[C_FIND] =
	    "SELECT t.city_id FROM requests q "
	    "JOIN JSON_TABLE(q.cities, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]')) j "
	    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id "
	    "WHERE q.id = ? AND t.created_by = q.id "
	    "AND t.lease_owner IS NULL ORDER BY t.city_id",
	/* Lock 2: those ([id, ...] ascending) still unleased, in order:
	 * the list drives the join by primary key whatever the queue's
	 * size (STRAIGHT_JOIN), never a scan. */
	[C_TAKE] =
	    "SELECT t.city_id, t.fetch_id FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$')) j "
	    "STRAIGHT_JOIN city_tasks t ON t.city_id = j.city_id "
	    "WHERE t.created_by = ? AND t.lease_owner IS NULL FOR UPDATE",
	/* Lock 3: their fetches end, dropped ([[id, fetch_id], ...]); a
	 * request still waiting for one queues its city again (settle). */
	[C_FETCHES] =
	    "INSERT INTO fetches (id, city_id, state, error, done_at) "
	    "SELECT j.fetch_id, j.city_id, 'dropped', 'cancelled', NOW(6) "
	    "FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "fetch_id BIGINT UNSIGNED PATH '$[1]')) j",
	[C_TASKS] =
	    "DELETE t FROM JSON_TABLE(?, '$[*]' "
	    "COLUMNS (city_id INT UNSIGNED PATH '$[0]', "
	    "fetch_id BIGINT UNSIGNED PATH '$[1]')) j "
	    "STRAIGHT_JOIN city_tasks t "
	    "ON t.city_id = j.city_id AND t.fetch_id = j.fetch_id",
	/* The row it holds (lock 1), settled: every city is done now. */
	[C_SETTLE] =
	    "UPDATE requests SET collected = ?, failed = ?, finished_at = ?, "
	    "wait_fetch = NULL WHERE id = ?",
	/* Lock 4: what the cancel changed. */
	[C_COUNTERS] = counters_add_sql,
};

/* One attempt at a cancel: the request's row as locked, and the result. */
struct cancel {
	const char	*id;
	size_t		 idlen;
	unsigned long long rid, was_c, was_f, finished;
	unsigned long long n;		/* cities failed by the cancel */
};

/* A row of a find_lock's statements (city, fetch), and how many so far. */
struct task_row {
	unsigned long long city, fetch;
	size_t		 n;
};

static MYSQL_STMT		*st[C_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static struct buf		 ids, tasks;	/* a lock's list; its rows */
/*
 * The connection; its statements are prepared by the first DELETE on it
 * (need), not at connect: each costs the process about 10 KiB of the
 * client library's, and most processes never serve a DELETE.
 */
static MYSQL			*conn;

int
cancel_open(MYSQL *db, struct db_err *e)
{
	(void)e;
	conn = db;
	return 0;
}

void
cancel_close(void)
{
	db_set_close(&set);
	conn = NULL;
}

/* The statements on this connection: 0, or -1 with e filled. */
static int
need(struct db_err *e)
{
	if (set.db != NULL)
		return 0;
	return db_set_open(&set, conn, e);
}

/* Lock 1; STORE_NOTFOUND for an unknown id. */
static enum store_rc
lock_request(struct cancel *c, struct db_err *e)
{
	MYSQL_BIND	 b[1], o[4];
	unsigned long	 len;
	int		 rc;

	db_bind_bytes(&b[0], c->id, c->idlen, &len);
	db_bind_u64(&o[0], &c->rid);
	db_bind_u64(&o[1], &c->was_c);
	db_bind_u64(&o[2], &c->was_f);
	db_bind_u64(&o[3], &c->finished);
	if ((rc = db_one_row(set.db, st[C_LOCK], b, o, "cancel: lock request",
	    e)) != 0)
		return rc == DB_NO_ROW ? STORE_NOTFOUND : STORE_FAILED;
	return STORE_OK;
}

/* A row found: its city (city_row), or its city and fetch (pair_row),
 * into ids. */
static int
city_row(void *arg, struct db_err *e)
{
	struct task_row	*t = arg;

	(void)e;
	if (t->n++ < CITIES_MAX)
		db_list_num(&ids, t->city);
	return 0;
}

static int
pair_row(void *arg, struct db_err *e)
{
	struct task_row	*t = arg;

	(void)e;
	if (t->n++ < CITIES_MAX)
		db_list_tuple(&ids, (unsigned long long[]){ t->city,
		    t->fetch }, 2);
	return 0;
}

/* A row locked: [city_id, fetch_id] into tasks. */
static int
taken_row(void *arg, struct db_err *e)
{
	struct task_row	*t = arg;

	(void)e;
	db_list_tuple(&tasks, (unsigned long long[]){ t->city, t->fetch }, 2);
	t->n++;
	return 0;
}

/*
 * Lock 2 takes queue entries in two statements: find reads request rid's
 * (from its row, or through the queue by its id), their list in
 * ascending city_id, then lock locks that list's entries (given the list
 * and rid) in that order.
 */
struct find_lock {
	int		 find, lock;
	int		 (*row)(void *, struct db_err *);	/* find's */
	const char	*what;
};

/* The fetches it waits for: a completion storing one commits first. */
static const struct find_lock waited = { C_PENDING, C_WAIT, pair_row,
				    "cancel: wait for fetches" };
/* The entries it created that no worker has leased. */
static const struct find_lock unleased = { C_FIND, C_TAKE, city_row,
				    "cancel: lock tasks" };

/* The entries locked, into tasks as [[city_id, fetch_id], ...]; returns
 * how many, -1 on failure. */
static long long
find_and_lock(const struct find_lock *f, unsigned long long rid,
    struct db_err *e)
{
	struct task_row	 t = { 0, 0, 0 };
	MYSQL_BIND	 b[2], o[2];
	unsigned long	 len;

	db_bind_u64(&b[0], &rid);
	db_bind_u64(&o[0], &t.city);
	db_bind_u64(&o[1], &t.fetch);
	db_list_start(&ids);
	db_list_start(&tasks);
	if (db_rows(set.db, st[f->find], b, o, f->what, f->row, &t, e) == -1)
		return -1;
	if (t.n == 0)
		return 0;
	if (db_list_bind(&b[0], &ids, &len, f->what, e) == -1)
		return -1;
	db_bind_u64(&b[1], &rid);
	t.n = 0;
	if (db_rows(set.db, st[f->lock], b, o, f->what, taken_row, &t, e) ==
	    -1)
		return -1;
	return (long long)t.n;
}

/*
 * Drop the queue entries request rid created that no worker has leased:
 * their fetches end as dropped (lock 3) and the entries go.  Returns how
 * many went, -1 on failure.
 */
static long long
drop_tasks(unsigned long long rid, struct db_err *e)
{
	MYSQL_BIND	 b[1];
	unsigned long	 len;
	long long	 n;

	/* None, or all leased: nothing to drop. */
	if ((n = find_and_lock(&unleased, rid, e)) <= 0)
		return n;
	if (db_list_bind(&b[0], &tasks, &len, "cancel: drop tasks", e) ==
	    -1 ||
	    db_run(set.db, st[C_FETCHES], b, "cancel: drop fetches", e) ==
	    -1 ||
	    db_run(set.db, st[C_TASKS], b, "cancel: drop tasks", e) == -1)
		return -1;
	return (long long)mysql_stmt_affected_rows(st[C_TASKS]);
}

/* The row it holds, settled from its cities; then the counts. */
static enum store_rc
settle(struct cancel *c, struct live *lv, long long dropped,
    struct db_err *e)
{
	MYSQL_BIND	 b[4];
	struct counts	 n = {
		.collected = (long long)lv->collected - (long long)c->was_c,
		.failed = (long long)lv->failed - (long long)c->was_f,
		.queued = -dropped, .ended = dropped + 1 };

	db_bind_u64(&b[0], &lv->collected);
	db_bind_u64(&b[1], &lv->failed);
	db_bind_time(&b[2], &lv->fin);
	db_bind_u64(&b[3], &c->rid);
	if (db_run(set.db, st[C_SETTLE], b, "cancel: settle", e) == -1 ||
	    counters_add(set.db, st[C_COUNTERS], &n, e) == -1)
		return STORE_FAILED;
	c->n = lv->failed - c->was_f;
	return STORE_OK;
}

/* One attempt (store_transaction's body). */
static int
cancel_once(void *arg, struct db_err *e)
{
	struct cancel	*c = arg;
	MYSQL_BIND	 b[1];
	struct live	 lv;
	long long	 dropped;
	enum store_rc	 rc;

	c->n = 0;
	if (need(e) == -1)
		return STORE_FAILED;
	if ((rc = lock_request(c, e)) != STORE_OK || c->finished)
		return rc;
	if (find_and_lock(&waited, c->rid, e) == -1)
		return STORE_FAILED;
	/* Finished by its cities, not settled yet (the settle will): as
	 * finished, nothing changes either. */
	if (read_live(c->rid, &lv, "cancel: progress", e) == -1)
		return STORE_FAILED;
	if (!lv.p_null && lv.pending == 0)
		return STORE_OK;
	db_bind_u64(&b[0], &c->rid);
	if (db_run(set.db, st[C_MARK], b, "cancel: mark request", e) == -1 ||
	    (dropped = drop_tasks(c->rid, e)) == -1 ||
	    read_live(c->rid, &lv, "cancel: settle", e) == -1)
		return STORE_FAILED;
	if (lv.c_null || lv.f_null || lv.p_null || lv.fin_null ||
	    lv.pending != 0) {
		log_warnx("DELETE /collect: a cancelled request still has "
		    "cities pending");
		return STORE_UNAVAILABLE;
	}
	return settle(c, &lv, dropped, e);
}

enum store_rc
cancel_request(const char *id, size_t idlen, unsigned long long *n)
{
	struct cancel	 c = { .id = id, .idlen = idlen };
	enum store_rc	 rc;

	*n = 0;
	/* Idempotent: a cancel whose COMMIT went unanswered finds its
	 * request finished on the next run, and leaves it so. */
	if ((rc = store_transaction("DELETE /collect", cancel_once, NULL,
	    &c)) != STORE_OK)
		return rc;
	*n = c.n;
	return STORE_OK;
}
