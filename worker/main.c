/*
 * main.c: owmcollect-worker, the program that fetches the weather.
 *
 * A supervisor (lib/supervise.c) preforks worker.children fetching
 * children (child.c), replaces those that die, stops them on SIGTERM
 * (each finishes the batch in hand first) and, on SIGHUP, re-reads the
 * configuration and rolls them.  The supervisor itself does no database
 * or HTTP work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "log.h"
#include "notify.h"
#include "supervise.h"

#define DEFAULT_CONF	"/etc/owmcollect/owmcollect.conf"
#define FRESH_S		10	/* a child started this soon after a (re)load */

static struct config	 conf;
static const char	*conf_file = DEFAULT_CONF;
static time_t		 loaded_at;

static void
usage(void)
{
	fprintf(stderr, "usage: owmcollect-worker [-dt] [-c file]\n");
	exit(2);
}

static time_t
mono_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int
load(struct config *cf)
{
	char	 err[512], warn[256];

	if (config_load(cf, conf_file, err, sizeof(err), warn,
	    sizeof(warn)) == -1) {
		log_errx("%s", err);
		return -1;
	}
	if (warn[0])
		log_warnx("%s", warn);
	return 0;
}

static void
announce(const struct config *cf)
{
	log_info("%lld children, %s mode, %lld cities/minute in batches of "
	    "%lld, API %s", cf->worker.children, cf->owm.mode_name,
	    cf->owm.cities_per_minute, cf->owm.batch_size, cf->owm.url);
	if (cf->owm.key[0] == '\0')
		log_warnx("owm.key is empty: the API will refuse every call");
}

static int
child_main(int slot, int restarts)
{
	return child_run(&conf, slot, restarts, mono_s() - loaded_at < FRESH_S);
}

static int
nchildren(void)
{
	return (int)conf.worker.children;
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

	if (load(&next) == -1)
		return -1;
	config_free(&conf);
	conf = next;
	loaded_at = mono_s();
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
	int	 ch, test = 0, verbose = 0, rc;

	while ((ch = getopt(argc, argv, "c:dt")) != -1) {
		switch (ch) {
		case 'c':
			conf_file = optarg;
			break;
		case 'd':
			verbose = 1;
			break;
		case 't':
			test = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("owmcollect-worker", verbose);
	if (load(&conf) == -1)
		exit(2);
	if (test) {
		config_dump(&conf, stdout);
		printf("configuration OK\n");
		exit(0);
	}
	loaded_at = mono_s();
	announce(&conf);
	rc = supervise(&ops);
	config_free(&conf);
	return rc;
}
