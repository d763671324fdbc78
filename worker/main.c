/*
 * main.c: owmcollect-worker, the program that fetches the weather.
 *
 * A supervisor (lib/supervise.c) preforks worker.children fetching
 * children (child.c), replaces those that die, stops them on SIGTERM
 * (each finishes the batch in hand first) and, on SIGHUP, re-reads the
 * configuration and rolls them.  One more slot, after the fetching
 * children's, always runs the housekeeping child (housekeep.c): it settles
 * the requests the batches progressed, and runs retention (purge.c) when
 * that is on; the supervisor treats it like any other child (restarted,
 * throttled when it keeps dying, rolled on SIGHUP, which is how it learns
 * a changed retention).  The supervisor itself does no database or HTTP
 * work, but for one look at the server's version at start: a fetching
 * child that dies leaves its leases to its replacement, which knows the
 * dead one's id (lib/supervise.h) and gives them back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "log.h"
#include "notify.h"
#include "purge.h"
#include "housekeep.h"
#include "supervise.h"

#define FRESH_S		10	/* a child started this soon after a (re)load */

static struct config	 conf;
static time_t		 loaded_at;

static void
announce(const struct config *cf)
{
	log_info("%lld children, %s mode, %lld cities/minute in batches of "
	    "%lld, API %s", cf->worker.children, cf->owm.mode_name,
	    cf->owm.cities_per_minute, cf->owm.batch_size, cf->owm.url);
	if (cf->owm.key[0] == '\0')
		log_warnx("owm.key is empty: the API will refuse every call");
	if (purge_wanted(cf))
		log_info("retention: child %lld purges requests after %lld "
		    "days, readings after %lld days (0: never)",
		    cf->worker.children, cf->retention.requests_days,
		    cf->retention.readings_days);
}

/* The slot after the fetching children's is the housekeeping child's. */
static int
child_main(int slot, int restarts)
{
	if (slot == conf.worker.children)
		return housekeep_run(&conf);
	return child_run(&conf, slot, restarts,
	    daemon_now() - loaded_at < FRESH_S, supervise_ids());
}

static int
nchildren(void)
{
	return (int)conf.worker.children + 1;
}

static int
stop_seconds(void)
{
	return (int)conf.worker.stop_seconds;
}

static int
reload(void)
{
	struct config	 next;

	if (daemon_reload(&next) == -1)
		return -1;
	config_free(&conf);
	conf = next;
	loaded_at = daemon_now();
	announce(&conf);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct supervise_ops ops = {
		.child_name = "child",
		.nchildren = nchildren,
		.stop_seconds = stop_seconds,
		.child_main = child_main,
		.reload = reload,
		.on_ready = notify_ready,
		.on_stopping = notify_stopping,
		.on_tick = notify_tick,
	};
	char	 why[256];
	int	 rc;

	daemon_start(argc, argv, "owmcollect-worker", &conf);
	/* A server too old, or not MariaDB: a bad configuration (exit 2,
	 * never respawned).  One connection, closed before any child;
	 * one that does not answer now is each child's to check later. */
	if (db_start_check(&conf, why, sizeof(why)) == -1)
		fatalx(2, "%s", why);
	loaded_at = daemon_now();
	announce(&conf);
	rc = supervise(&ops);
	config_free(&conf);
	return rc;
}
