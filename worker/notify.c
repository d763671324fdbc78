/*
 * notify.c: see notify.h.
 *
 * The watchdog is fed from the supervisor's loop, which turns at least
 * once a second whatever the children do, so a supervisor stuck anywhere
 * stops feeding it and systemd restarts the service.  Children are not
 * checked here: the supervisor replaces them, and /health reports their
 * heartbeats.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "notify.h"

static int		 started;
static uint64_t		 watchdog_us;	/* 0: no watchdog wanted */
static uint64_t		 last_feed;
static int		 last_alive = -1, last_wanted = -1;

static void
status(int alive, int wanted)
{
	char	 msg[96];

	if (alive == last_alive && wanted == last_wanted)
		return;
	last_alive = alive;
	last_wanted = wanted;
	snprintf(msg, sizeof(msg), "STATUS=%d of %d children running",
	    alive, wanted);
	(void)sd_notify(0, msg);
}

void
notify_ready(void)
{
	/* sd_watchdog_enabled() also checks WATCHDOG_PID is ours. */
	if (sd_watchdog_enabled(0, &watchdog_us) <= 0)
		watchdog_us = 0;
	started = 1;
	last_feed = (uint64_t)daemon_mono_us();
	(void)sd_notify(0, "READY=1\nSTATUS=children started");
}

void
notify_stopping(void)
{
	(void)sd_notify(0, "STOPPING=1\nSTATUS=stopping: children finish "
	    "their batches");
	last_alive = last_wanted = -2;	/* no more count updates */
}

void
notify_tick(int alive, int wanted)
{
	uint64_t	 now;

	if (!started)
		return;
	if (last_alive != -2)
		status(alive, wanted);
	if (watchdog_us == 0)
		return;
	now = (uint64_t)daemon_mono_us();
	if (now - last_feed >= watchdog_us / 3) {
		(void)sd_notify(0, "WATCHDOG=1");
		last_feed = now;
	}
}
