/*
 * housekeep.c: see housekeep.h.  Owns the housekeeping child's process:
 * its signals, its connection (opened again after an outage, at
 * db_conn_up's pace) and when each step runs.  The work is resolve.c's,
 * settle.c's and purge.c's, in steps that each end after at most one
 * transaction:
 * - the resolver's rounds: every RESOLVE_EVERY_US, at once again while a
 *   round finds work; RETRY_US after one that failed.  First in each turn
 *   of the loop: a deferred request's cities wait for it to be queued.
 * - the settle's passes: a sweep at start, after every reconnect and
 *   every SWEEP_EVERY_S; a fast pass every SETTLE_EVERY_US once a sweep
 *   has run, at once again while it finds work; a pass that failed
 *   again RETRY_US later.  One pass at a time, step by step.
 * - the purge's passes when retention is on: one at start and every
 *   PURGE_EVERY_S, its steps paced by the pause each transaction earns
 *   (purge_pause_us).
 * Each turn of the loop runs a round of the resolver when one is due, one
 * step of the settle when one is due, then one of the purge when one is
 * due, and sleeps until the next is due when none ran.  So the settle
 * keeps its pace during a purge pass that lasts minutes (at most one
 * purge transaction between two of its steps), the purge keeps its
 * pauses and is never held back for long by a busy settle, and SIGTERM
 * is seen within one step.
 */
#include <sys/prctl.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "db.h"
#include "housekeep.h"
#include "log.h"
#include "purge.h"
#include "resolve.h"
#include "settle.h"

#define RESOLVE_EVERY_US	50000LL		/* a round, when idle */
#define SETTLE_EVERY_US		200000LL	/* a fast pass, when idle */
#define SWEEP_EVERY_S		30
#define RETRY_US		1000000LL	/* after a failed pass */

/* When each is due next, on daemon_mono_us's clock. */
struct due {
	int64_t		 resolve, sweep, fast, purge;
};

static const struct config	*cf;
static volatile sig_atomic_t	 quit;
static int	conn_ready(MYSQL *, struct db_err *);
static void	conn_closing(void);

static struct db_conn		 conn = { "housekeeping: ", conn_ready,
				    conn_closing, DB_RECONNECT_MAX_US, NULL,
				    NULL, 0, 0, 0 };
static int			 retention;
static struct due		 due;
static enum settle_pass		 passing;	/* the settle's, under way */

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

/* Sleep until the monotonic deadline, or until told to quit. */
static void
nap_until(int64_t deadline)
{
	while (!quit && daemon_mono_us() < deadline)
		daemon_nap_step(deadline);
}

static void
conn_closing(void)
{
	purge_close();
	settle_close();
	resolve_close();
}

/* After every connect: the settle's statements and the purge's, and a
 * sweep at once for what ended while we were away. */
static int
conn_ready(MYSQL *db, struct db_err *e)
{
	if (resolve_open(db, cf, e) == -1 || settle_open(db, cf, e) == -1 ||
	    (retention && purge_open(db, cf, e) == -1))
		return -1;
	due.resolve = due.sweep = due.fast = daemon_mono_us();
	return 0;
}

/* A round of the resolver if one is due: 1 ran, 0 none due, -1 the
 * connection is gone (e). */
static int
resolve_turn(struct db_err *e)
{
	size_t	 found;

	if (daemon_mono_us() < due.resolve)
		return 0;
	if (resolve_round(&found, e) == -1) {
		if (db_error_is_gone(e->code))
			return -1;
		log_warnx("%s", e->msg);
		due.resolve = daemon_mono_us() + RETRY_US;
		return 1;
	}
	due.resolve = daemon_mono_us() + (found > 0 ? 0 : RESOLVE_EVERY_US);
	return 1;
}

/* A settle step if one is due: 1 ran, 0 none due, -1 the connection is
 * gone (e). */
static int
settle_turn(struct db_err *e)
{
	int64_t	 now = daemon_mono_us();
	size_t	 found;
	int	 rc;

	if (!settle_busy()) {
		if (now >= due.sweep)
			passing = SETTLE_SWEEP;
		else if (settle_can_fast() && now >= due.fast)
			passing = SETTLE_FAST;
		else
			return 0;
		settle_begin(passing);
	}
	if ((rc = settle_step(&found, e)) == 1)
		return 1;
	now = daemon_mono_us();
	if (passing == SETTLE_SWEEP)
		due.sweep = now + (rc == 0 ? SWEEP_EVERY_S * 1000000LL :
		    RETRY_US);
	else
		due.fast = now + (rc == -1 ? RETRY_US : found > 0 ? 0 :
		    SETTLE_EVERY_US);
	if (rc == -1) {
		if (db_error_is_gone(e->code))
			return -1;
		log_warnx("%s", e->msg);
	}
	return 1;
}

/* A purge step if one is due: 1 ran, 0 none due, -1 the connection is
 * gone (e). */
static int
purge_turn(struct db_err *e)
{
	int64_t	 pause;
	int	 rc;

	if (!retention || daemon_mono_us() < due.purge)
		return 0;
	memset(e, 0, sizeof(*e));
	rc = purge_step(&pause, e);
	if (rc == -1 && db_error_is_gone(e->code))
		return -1;
	if (rc == -1)
		log_warnx("purge: %s", e->msg);
	due.purge = daemon_mono_us() + (rc == 1 ? pause : rc == 0 ||
	    !db_error_is_retryable(e->code) ? PURGE_EVERY_S * 1000000LL :
	    RETRY_US);
	return 1;
}

/* When the next step is due, none being under way. */
static int64_t
next_due(void)
{
	int64_t	 t = due.resolve;

	if (due.sweep < t)
		t = due.sweep;
	if (settle_can_fast() && due.fast < t)
		t = due.fast;
	if (retention && due.purge < t)
		t = due.purge;
	return t;
}

static void
start(const struct config *conf)
{
	cf = conf;
	srandom((unsigned int)(getpid() ^ time(NULL)));	/* db_retry's pauses */
	retention = purge_wanted(cf);
	daemon_child_signals(on_term);
	/* ps and top tell it from the fetching children. */
	(void)prctl(PR_SET_NAME, "owm-housekeep", 0, 0, 0);
	if (retention)
		log_info("housekeeping: resolving and settling requests; "
		    "retention: requests kept %lld days, readings %lld days "
		    "(0: for ever), in transactions of at most %d rows",
		    cf->retention.requests_days, cf->retention.readings_days,
		    PURGE_MAX_ROWS);
	else
		log_info("housekeeping: resolving and settling requests; "
		    "retention off");
	due.purge = daemon_mono_us();
}

int
housekeep_run(const struct config *conf)
{
	struct db_err	 e;
	int		 resolved, settled, purged;

	start(conf);
	while (!quit) {
		if (db_conn_up(&conn, cf, &e) == -1) {
			nap_until(conn.next_try);
			continue;
		}
		settled = purged = 0;
		if ((resolved = resolve_turn(&e)) == -1 ||
		    (!quit && (settled = settle_turn(&e)) == -1) ||
		    (!quit && (purged = purge_turn(&e)) == -1)) {
			db_conn_lost(&conn, &e);
			continue;
		}
		if (resolved == 0 && settled == 0 && purged == 0)
			nap_until(next_due());
	}
	db_conn_close(&conn);
	return 0;
}
