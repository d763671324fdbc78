/*
 * tasks.h: the worker's side of the work queue (etc/schema.sql:
 * city_tasks, readings, city_latest, fetches).
 *
 * Claim: up to n due cities in turn order, each leased to one owner
 * ("<child id>:<pid>:<batch>") until ready_at, attempts counted, with the
 * fetch id its queue entry names (city_tasks.fetch_id: the requests
 * waiting for the city point at it).  A claimed city that already has a reading
 * fresher than worker.reuse_seconds comes back as TASK_REUSE (no call): a
 * POST that read city_latest just before a completion committed may have
 * queued it again.
 * Complete: one transaction per batch, O(batch) whatever the number of
 * requests waiting for its cities: the batch's queue entries are locked
 * first, and a done city's is deleted only if the lease is still ours;
 * its fetch's outcome goes to `fetches` (one row per done city, under the
 * fetch id claimed), so every request pointing at it reads the outcome
 * from there (the request_data view).  No request row is read or written:
 * the housekeeping child settles those (settle.c).  Cities to try again
 * go back to the queue with a delay, under the same fetch id.  Each new
 * reading whose place the parser accepted upserts its city's row in
 * `cities` (name, country, coordinates, seen_at) in the same transaction;
 * a reused reading or a refused place writes none.
 *
 * A completion whose COMMIT went unanswered (the connection lost after
 * it was sent) runs again on a new connection, and is idempotent by its
 * leases: what the first COMMIT wrote deleted the entries it completed,
 * so the second finds none still leased to it and writes nothing for
 * them (it reads their fetches' outcomes to tell "stored" from "lost");
 * what it did not write is still leased to us and written once.
 */
#ifndef OWM_TASKS_H
#define OWM_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "db.h"
#include "task.h"

struct buf;
struct config;

/*
 * A batch's owner, "<child id>:<pid>:<batch>" (city_tasks.lease_owner and
 * rate_slots.owner are VARCHAR(64)): the child's id is random (drawn by
 * its supervisor), unique where host names and pids are not.
 */
#define TASKS_OWNER_MAX		64
int	tasks_open(MYSQL *, const struct config *, struct db_err *);
void	tasks_close(void);

/*
 * Claim up to max cities for owner; *n set (0: nothing due).  *due: the
 * due cities its first look found, at most max (fewer: the queue holds
 * less than a batch that is due; others' leases may still cut *n).
 */
int	tasks_claim(const char *owner, struct task *t, size_t max, size_t *n,
	    size_t *due, struct db_err *);
/*
 * A batch dropped before any call (its claim's or its reservation's
 * statement failed, perhaps with its COMMIT unanswered): the entries
 * still leased to owner back to the queue at once, attempts not
 * counted, run again on a new connection until deadline
 * (db_conn_transaction).  Idempotent, and settles an unanswered claim
 * too: by owner, whatever was leased.  *n: the entries released.
 */
int	tasks_release(struct db_conn *, int64_t deadline, const char *owner,
	    size_t *n, struct db_err *);
/*
 * A child that died (reaped by its supervisor, so nothing it held is in
 * use): every entry leased to a batch of its id back to the queue at
 * once, on a new connection if need be until deadline; the attempt not
 * counted unless the batch's calls may have been sent.  *n: the entries
 * released.
 */
int	tasks_release_child(struct db_conn *, int64_t deadline, const char *id,
	    size_t *n, struct db_err *);
/* The n entries of list leased to owner stay so until until_us
 * (database clock), no longer: locked by primary key, ascending. */
int	tasks_lease_until(const char *owner, struct task *const *list,
	    size_t n, int64_t until_us, struct db_err *);
/*
 * Store every outcome in one transaction on c's connection, run again on
 * a new one until deadline (daemon_mono_us) if the connection is lost
 * (db_conn_transaction).  *lost counts cities whose lease had gone to
 * another owner (nothing written for them); *before those whose outcome
 * an unanswered COMMIT of this completion had stored.  -1 with
 * e->commit_unknown when that question is still open (the leases settle
 * it: stored, or fetched again once they expire).
 */
int	tasks_complete(struct db_conn *c, int64_t deadline, const char *owner,
	    struct task *t, size_t n, size_t *lost, size_t *before,
	    struct db_err *);

/*
 * The statements whose length follows the batch (sqlvec.h): one variant
 * per n, 1 .. OWM_GROUP_MAX cities.  tasks_sql() writes the variant's SQL
 * into b; -1 if kind or n is out of range.  For the unit tests only
 * (the worker never calls it): they check every variant's placeholders
 * against what the completion binds.
 */
enum tasks_sql_kind {
	V_TAKE,		/* cities */
	V_CLAIM,	/* owner, lease; cities */
	V_LOCK,		/* cities; owner */
	V_DELETE,	/* cities; owner */
	V_READINGS,	/* (city, temp, humidity, dt, place, name, country,
			 * lat, lon) per city */
	V_READ_IDS,	/* first id; cities */
	V_LATEST,	/* (city, reading) per city */
	V_FRESH,	/* cities; reuse seconds */
	V_FETCHES,	/* (fetch, city, state, reading, error) per city */
	V_CITIES,	/* (city, name, country, lat, lon) per city */
	V_LEASE,	/* until; cities; owner */
	V_DONE,		/* fetches */
	V_COUNT
};

int	tasks_sql(int kind, size_t n, struct buf *b);

#endif
