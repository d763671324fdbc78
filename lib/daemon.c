/*
 * daemon.c: see daemon.h.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

static const char	*conf_file = DAEMON_DEFAULT_CONF;

/*
 * malloc's defaults move its thresholds up to the largest block freed so
 * far: one big answer (a 1000-city document, a long page) then leaves a
 * process's heap at that size for good, in each of the preforked
 * processes.  Fixed thresholds hand blocks over MALLOC_BIG back to the
 * kernel when freed, and a freed heap top over it too.  One arena: both
 * programs serve from one thread; a library's helper thread (libcurl's
 * resolver) would otherwise get an arena of its own.
 */
#define MALLOC_BIG	(128 * 1024)

static void
malloc_tune(void)
{
	(void)mallopt(M_MMAP_THRESHOLD, MALLOC_BIG);
	(void)mallopt(M_TRIM_THRESHOLD, MALLOC_BIG);
	(void)mallopt(M_ARENA_MAX, 1);
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

void
daemon_start(int argc, char *argv[], const char *prog, struct config *cf)
{
	int	 ch, test = 0, verbose = 0;

	malloc_tune();
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
			goto usage;
		}
	}
	if (optind != argc)
		goto usage;
	log_init(prog, verbose);
	if (load(cf) == -1)
		exit(2);
	if (test) {
		config_dump(cf, stdout);
		printf("configuration OK\n");
		exit(0);
	}
	return;
usage:
	fprintf(stderr, "usage: %s [-dt] [-c file]\n", prog);
	exit(2);
}

int
daemon_reload(struct config *cf)
{
	return load(cf);
}

time_t
daemon_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int64_t
daemon_mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
daemon_nap_step(int64_t deadline)
{
	struct timespec	 ts;
	int64_t		 now = daemon_mono_us(), until = deadline;

	if (until - now > DAEMON_NAP_STEP_US)
		until = now + DAEMON_NAP_STEP_US;
	ts.tv_sec = until / 1000000;
	ts.tv_nsec = (long)(until % 1000000) * 1000;
	(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void
daemon_child_signals(void (*on_term)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}
