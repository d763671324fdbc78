/*
 * purge.h: retention (retention.requests_days, retention.readings_days):
 * the passes the worker's housekeeping child runs (housekeep.c), and the
 * policy they apply, pure so that the unit tests check it from tables
 * (tests/unit/check_purge.c).
 *
 * What expires (docs/configuration.md, "What is kept"):
 * - a request once it is finished and was requested more than
 *   requests_days ago (its cities are in its row).  An unfinished one is
 *   kept until it finishes (every city ends collected or failed after
 *   worker.max_attempts; DELETE /collect finishes it at once): deleting it
 *   would strand the queue entries it created, fetched for nobody.
 * - a reading once it was fetched more than readings_days ago AND before
 *   (the oldest request still stored, finished or not) - PURGE_KEEP_S,
 *   so that no request still stored can show it; city_latest's row goes
 *   with the reading it names.
 * - a fetch's outcome (`fetches`) once it ended before (the oldest
 *   request still stored) - PURGE_FETCH_KEEP_S, whenever retention is on:
 *   a request only ever points at fetches that ended after it was posted,
 *   give or take a commit (a POST points at a queue entry it read or
 *   inserted, so its fetch had not ended when the POST began, unless the
 *   completion that ended it had not committed yet; a settle's requeue
 *   comes later still).  So no request still stored, nor a POST still in
 *   flight (an hour is far longer than any), loses the outcome it shows.
 *
 * Why the readings' bound holds: a request only ever shows a reading that
 * was fresh for it.  A POST reuses a reading fetched at or after
 * requested_at - worker.reuse_seconds (fcgi/post.c, the same clock read
 * for both).  A city it waits for shows its fetch's reading: one the
 * completion inserted (when the fetch ended, after the POST began give or
 * take a commit, as above), or one that was fresh when the batch was
 * claimed (TASK_REUSE, tasks.c): at most reuse_seconds older than the
 * claim, and the claim may precede the POST by that batch's time at the
 * rate gate (the POST pointed at a queue entry already leased).  So
 * every reading a stored request shows was fetched at or after
 * requested_at - reuse_seconds - a batch's wait.  PURGE_KEEP_S covers it
 * with room to spare: the largest reuse_seconds any program of any host
 * may be configured with (not this worker's own: the FastCGI hosts read
 * their own files, and a reload may have lowered it since), plus a day
 * for the wait at the gate and for a POST still in flight, not yet
 * visible to the purge although its requested_at is already behind it.
 * The oldest request is one index lookup (MIN over requests.requested_at),
 * so the check is O(1) whatever the tables hold.  Keeping requests
 * forever keeps their readings and fetches too.
 */
#ifndef OWM_PURGE_H
#define OWM_PURGE_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "db.h"

struct config;

#define PURGE_EVERY_S		30	/* a pass at start, then this often */
#define PURGE_MAX_ROWS		1000	/* rows per transaction, at most */
#define PURGE_REUSE_MAX_S	86400LL	/* worker.reuse_seconds' upper bound */
#define PURGE_SLACK_S		86400LL	/* a batch's wait, a POST in flight */
#define PURGE_KEEP_S		(PURGE_REUSE_MAX_S + PURGE_SLACK_S)
#define PURGE_FETCH_KEEP_S	3600LL	/* a commit's lag, a POST in flight */
#define PURGE_DAY_US		(86400LL * 1000000LL)
/* After a transaction: this many times its length, within bounds. */
#define PURGE_PAUSE_FACTOR	4
#define PURGE_PAUSE_MIN_US	10000LL
#define PURGE_PAUSE_MAX_US	1000000LL

/* Times are microseconds since the epoch on the database's clock. */
struct purge_cuts {
	int64_t		 requests;	/* finished ones requested before go */
	int64_t		 readings;	/* fetched before go */
	int64_t		 fetches;	/* ended before go */
};					/* 0: nothing of that kind goes */

/*
 * The cut-offs at now.  have_oldest: whether any request is stored, and
 * oldest the requested_at of the oldest one.  A days setting of 0 gives a
 * cut-off of 0; fetches go whenever either is set.
 */
void	purge_cuts(int64_t now, int have_oldest, int64_t oldest,
	    long long requests_days, long long readings_days,
	    struct purge_cuts *);

/*
 * Of n expired requests (in purge order) with these totals, how many
 * whole ones one transaction of at most max_rows rows may delete: each
 * costs its own row and its purged_requests row, and its cities (the
 * JSON list in its row, undo to write) weigh one row each, so that a
 * transaction stays small however big the requests.  0 when the first
 * alone does not fit: it goes alone.
 */
size_t	purge_fit(const unsigned int *totals, size_t n, size_t max_rows);

/*
 * The pause after a transaction that took busy_us: a multiple of it, so
 * that the purge holds rows a small share of the time, within bounds.
 */
int64_t	purge_pause_us(int64_t busy_us);

/* Whether the configuration wants retention. */
int	purge_wanted(const struct config *);

/*
 * The passes, on the housekeeping child's connection (housekeep.c), one
 * step at a time.  purge_open prepares the statements (after every
 * connect: a pass starts afresh), purge_close closes them (before the
 * connection goes; a pass under way ends there).  A pass deletes what
 * expired, in transactions of at most PURGE_MAX_ROWS rows; purge_step
 * runs its next step (starting one when none is under way), which ends
 * after at most one transaction, with none left open, so the child does
 * its other work on the same connection between steps.  1: the pass goes
 * on, its next step due *pause_us from now (purge_pause_us of the
 * transaction's length; 0 after one that deleted nothing); 0: the pass
 * is over; -1 with e filled: it failed and is over (the caller logs e).
 * A pass that ends logs one line when it deleted something.
 */
int	purge_open(MYSQL *, const struct config *, struct db_err *);
int	purge_step(int64_t *pause_us, struct db_err *);
void	purge_close(void);

#endif
