/*
 * purge.h: retention (retention.requests_days, retention.readings_days):
 * the worker's purge child, and the policy it applies, pure so that the
 * unit tests check it from tables (tests/unit/check_purge.c).
 *
 * What expires (README: "What is kept"):
 * - a request once it is finished and was requested more than
 *   requests_days ago, with its request_cities rows.  An unfinished one is
 *   kept until it finishes (every city ends collected or failed after
 *   worker.max_attempts; DELETE /collect finishes it at once): deleting it
 *   would strand its queue entries, fetched for nobody.
 * - a reading once it was fetched more than readings_days ago AND before
 *   (the oldest request still stored, finished or not) - PURGE_KEEP_S,
 *   so that no request still stored can show it; city_latest's row goes
 *   with the reading it names.
 *
 * Why that bound holds: a request only ever points to a reading that was
 * fresh for it.  A POST reuses a reading fetched at or after requested_at
 * - worker.reuse_seconds (fcgi/store.c, the same clock read for both), and
 * the worker fulfils a pending city with a reading it inserts in that
 * transaction (after the POST committed: the queue entry's lock orders
 * them) or with one that was fresh when the batch was claimed (TASK_REUSE,
 * tasks.c), which may be a batch's wait at the rate gate older than the
 * requests posted meanwhile.  So
 * every reading a stored request points to was fetched at or after
 * requested_at - reuse_seconds - that wait.  PURGE_KEEP_S covers it with
 * room to spare: the largest reuse_seconds any program of any host may be
 * configured with (not this worker's own: the FastCGI hosts read their
 * own files, and a reload may have lowered it since), plus a day for the
 * wait at the gate and for a POST still in flight, not yet visible to the
 * purge although its requested_at is already behind it.  The oldest
 * request is one index lookup (MIN over requests.requested_at), so the
 * check is O(1) whatever the tables hold.  Keeping requests forever keeps
 * their readings too: every reading fetched serves some request.
 */
#ifndef OWM_PURGE_H
#define OWM_PURGE_H

#include <stddef.h>
#include <stdint.h>

struct config;

#define PURGE_MAX_ROWS		1000	/* rows per transaction, at most */
#define PURGE_REUSE_MAX_S	86400LL	/* worker.reuse_seconds' upper bound */
#define PURGE_SLACK_S		86400LL	/* a batch's wait, a POST in flight */
#define PURGE_KEEP_S		(PURGE_REUSE_MAX_S + PURGE_SLACK_S)
#define PURGE_DAY_US		(86400LL * 1000000LL)
/* After a transaction: this many times its length, within bounds. */
#define PURGE_PAUSE_FACTOR	4
#define PURGE_PAUSE_MIN_US	10000LL
#define PURGE_PAUSE_MAX_US	1000000LL

/* Times are microseconds since the epoch on the database's clock. */
struct purge_cuts {
	int64_t		 requests;	/* finished ones requested before go */
	int64_t		 readings;	/* fetched before go */
};					/* 0: nothing of that kind goes */

/*
 * The cut-offs at now.  have_oldest: whether any request is stored, and
 * oldest the requested_at of the oldest one.  A days setting of 0 gives a
 * cut-off of 0.
 */
void	purge_cuts(int64_t now, int have_oldest, int64_t oldest,
	    long long requests_days, long long readings_days,
	    struct purge_cuts *);

/*
 * Of n expired requests (in purge order) with these totals, how many
 * whole ones one transaction of at most max_rows rows may delete: each
 * costs its own row, its purged_requests row and its request_cities rows,
 * at most its total.  0
 * when the first alone does not fit: its cities go in parts first.
 */
size_t	purge_fit(const unsigned int *totals, size_t n, size_t max_rows);

/*
 * The pause after a transaction that took busy_us: a multiple of it, so
 * that the purge holds rows a small share of the time, within bounds.
 */
int64_t	purge_pause_us(int64_t busy_us);

/*
 * The purge child's life (the supervisor runs it in a slot of its own
 * when retention is on): a pass at start and every PURGE_EVERY_S, until
 * SIGTERM; returns the exit code.
 */
int	purge_run(const struct config *);

/* Whether the configuration wants a purge child. */
int	purge_wanted(const struct config *);

#endif
