/*
 * daemon.h: the start-up both programs share: the command line
 * ([-dt] [-c file]), loading the configuration with its warnings logged,
 * and the monotonic clock their loops time themselves with.
 */
#ifndef OWM_DAEMON_H
#define OWM_DAEMON_H

#include <stdint.h>
#include <time.h>

#define DAEMON_DEFAULT_CONF	"/etc/owmcollect/owmcollect.conf"

struct config;

/*
 * Parse the command line, start logging as prog and load the
 * configuration into cf: exit 2 (usage or a bad configuration) on error;
 * with -t, print the settings in effect and exit 0.
 */
void	daemon_start(int argc, char *argv[], const char *prog,
	    struct config *cf);

/* Load the same configuration file again (SIGHUP): 0, or -1 (logged). */
int	daemon_reload(struct config *cf);

/* Seconds on CLOCK_MONOTONIC. */
time_t	daemon_now(void);
/*
 * A child process's signals: SIGTERM and SIGINT call on_term (without
 * SA_RESTART, so that its sleeps wake), SIGPIPE and SIGHUP are ignored
 * (the supervisor reloads and rolls its children).
 */
void	daemon_child_signals(void (*on_term)(int));

/* Microseconds on CLOCK_MONOTONIC. */
int64_t	daemon_mono_us(void);
/*
 * One step of a sleep until the monotonic deadline: until it, or for
 * DAEMON_NAP_STEP_US if that is sooner.  Loops that sleep in these steps
 * and check their quit flag between them wake within a step of a
 * SIGTERM that lands between the check and the sleep.
 */
#define DAEMON_NAP_STEP_US	200000LL
void	daemon_nap_step(int64_t deadline);

#endif
