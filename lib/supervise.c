/*
 * supervise.c: see supervise.h.
 *
 * All signals the supervisor cares about stay blocked and are taken
 * synchronously with sigtimedwait(2), so there are no handlers, no flags
 * and no race between checking state and sleeping.
 */
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "supervise.h"

#define EARLY_DEATH	2	/* seconds: a child dying sooner is throttled */
#define THROTTLE_MAX	30	/* seconds between restarts, at most */
#define RESPAWN_POLL_NS	50000000L	/* a respawn due now: look again */
#define KILLED_WAIT_S	3600	/* after SIGKILL: only SIGCHLD matters */

struct slot {
	pid_t		 pid;
	time_t		 started;
	time_t		 respawn_at;
	int		 fails;		/* early deaths in a row */
	int		 restarts;	/* deaths replaced so far */
	int		 disabled;	/* exited 2: never respawn */
	int		 rolling;	/* told to stop by a reload */
	char		 id[SUPERVISE_ID_LEN + 1];	/* its child's, or
							 * the last one's */
};

static struct slot	 slots[SUPERVISE_MAX];
static int		 stopping;	/* told to stop: no more respawns */
static time_t		 deadline;	/* then: SIGKILL for what still runs */
static struct supervise_ids me;		/* in a child: its own */

const struct supervise_ids *
supervise_ids(void)
{
	return &me;
}

/* A new child's id: SUPERVISE_ID_LEN hex digits of getrandom(2). */
static int
draw_id(char *id)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 r[SUPERVISE_ID_LEN / 2];
	size_t		 i;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (i = 0; i < sizeof(r); i++) {
		id[2 * i] = hex[r[i] >> 4];
		id[2 * i + 1] = hex[r[i] & 0xf];
	}
	id[SUPERVISE_ID_LEN] = '\0';
	return 0;
}

static void
spawn(const struct supervise_ops *ops, int i, const sigset_t *old)
{
	struct sigaction sa;
	char		 id[SUPERVISE_ID_LEN + 1];
	pid_t		 pid, parent = getpid();
	int		 sig;

	if (draw_id(id) == -1 || (pid = fork()) == -1) {
		log_warn("starting %s %d", ops->child_name, i);
		slots[i].respawn_at = daemon_now() + 1;
		return;
	}
	if (pid == 0) {
		memcpy(me.self, id, sizeof(me.self));
		memcpy(me.previous, slots[i].id, sizeof(me.previous));
		/* A supervisor killed with SIGKILL must not leave children
		 * working on unsupervised: they get SIGTERM and wind down. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != parent)
			_exit(1);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		for (sig = 1; sig < NSIG; sig++)
			(void)sigaction(sig, &sa, NULL);
		sigprocmask(SIG_SETMASK, old, NULL);
		_exit(ops->child_main(i, slots[i].restarts));
	}
	slots[i].pid = pid;
	slots[i].started = daemon_now();
	memcpy(slots[i].id, id, sizeof(slots[i].id));
	log_info("%s %d started (pid %ld, id %s)", ops->child_name, i,
	    (long)pid, id);
}

static void
log_exit(const struct supervise_ops *ops, int i, pid_t pid, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s %d (pid %ld) exited", ops->child_name, i,
		    (long)pid);
	else if (WIFEXITED(status))
		log_warnx("%s %d (pid %ld) exited with code %d",
		    ops->child_name, i, (long)pid, WEXITSTATUS(status));
	else
		log_warnx("%s %d (pid %ld) killed by signal %d",
		    ops->child_name, i, (long)pid, WTERMSIG(status));
}

/* When slot i's child, dead with status, comes back (if it does). */
static void
plan_respawn(const struct supervise_ops *ops, int i, int status, time_t now)
{
	int	 delay;

	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		log_errx("%s %d: configuration error, not restarting it",
		    ops->child_name, i);
		slots[i].disabled = 1;
		return;
	}
	if (slots[i].rolling) {
		slots[i].rolling = 0;
		slots[i].respawn_at = now;
		return;
	}
	slots[i].restarts++;
	if (now - slots[i].started >= EARLY_DEATH) {
		slots[i].fails = 0;
		slots[i].respawn_at = now;
		log_info("%s %d: restarting", ops->child_name, i);
		return;
	}
	delay = 1 << (slots[i].fails < 5 ? slots[i].fails : 5);
	if (delay > THROTTLE_MAX)
		delay = THROTTLE_MAX;
	slots[i].fails++;
	slots[i].respawn_at = now + delay;
	log_warnx("%s %d died %d time(s) in a row within %d s of start: "
	    "restarting in %d s", ops->child_name, i, slots[i].fails,
	    EARLY_DEATH, delay);
}

static void
reap(const struct supervise_ops *ops)
{
	int	 status, i;
	pid_t	 pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < SUPERVISE_MAX && slots[i].pid != pid; i++)
			;
		if (i == SUPERVISE_MAX)
			continue;
		slots[i].pid = 0;
		log_exit(ops, i, pid, status);
		if (!stopping)
			plan_respawn(ops, i, status, daemon_now());
	}
}

static void
signal_all(int sig)
{
	int	 i;

	for (i = 0; i < SUPERVISE_MAX; i++)
		if (slots[i].pid)
			(void)kill(slots[i].pid, sig);
}

/*
 * Start what is due in slots 0..n-1 and stop those beyond n (a reload
 * lowered it): the count of usable slots; *wake is lowered to the next
 * respawn.
 */
static int
fill(const struct supervise_ops *ops, int n, time_t now, time_t *wake,
    const sigset_t *old)
{
	int	 i, usable = 0;

	for (i = 0; i < n; i++) {
		if (slots[i].disabled)
			continue;
		usable++;
		if (slots[i].pid == 0 && slots[i].respawn_at <= now)
			spawn(ops, i, old);
		if (slots[i].pid == 0 && slots[i].respawn_at < *wake)
			*wake = slots[i].respawn_at;
	}
	for (i = n; i < SUPERVISE_MAX; i++)
		if (slots[i].pid)
			(void)kill(slots[i].pid, SIGTERM);
	return usable;
}

static int
count_alive(void)
{
	int	 i, alive = 0;

	for (i = 0; i < SUPERVISE_MAX; i++)
		alive += slots[i].pid != 0;
	return alive;
}

/* SIGTERM or SIGINT: every child is told to stop, by the deadline. */
static void
stop_all(const struct supervise_ops *ops, int sig)
{
	log_info("signal %d: stopping every %s", sig, ops->child_name);
	stopping = 1;
	if (ops->on_stopping)
		ops->on_stopping();
	deadline = daemon_now() + ops->stop_seconds();
	signal_all(SIGTERM);
}

/* SIGHUP: a new configuration, and every child replaced to read it. */
static void
roll_all(const struct supervise_ops *ops)
{
	int	 i;

	if (ops->reload() == -1) {
		log_warnx("SIGHUP: configuration not reloaded; keeping the "
		    "running one");
		return;
	}
	log_info("SIGHUP: configuration reloaded; restarting every %s",
	    ops->child_name);
	for (i = 0; i < SUPERVISE_MAX; i++) {
		slots[i].disabled = 0;
		slots[i].fails = 0;
		slots[i].respawn_at = 0;
		slots[i].rolling = slots[i].pid != 0;
	}
	signal_all(SIGTERM);
}

/* Wait for one of the signals in set until wake (a second at most). */
static void
wait_signal(const struct supervise_ops *ops, const sigset_t *set,
    time_t now, time_t wake)
{
	siginfo_t	 info;
	struct timespec	 ts;
	int		 sig;

	ts.tv_sec = wake > now ? wake - now : 0;
	ts.tv_nsec = wake > now ? 0 : RESPAWN_POLL_NS;
	if (ts.tv_sec > 1)
		ts.tv_sec = 1;
	if ((sig = sigtimedwait(set, &info, &ts)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			log_warn("sigtimedwait");
		return;
	}
	if (sig == SIGCHLD)
		reap(ops);
	else if ((sig == SIGTERM || sig == SIGINT) && !stopping)
		stop_all(ops, sig);
	else if (sig == SIGHUP && !stopping)
		roll_all(ops);
}

int
supervise(const struct supervise_ops *ops)
{
	sigset_t	 set, old;
	time_t		 now, wake;
	int		 n, alive, usable, ready = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);

	for (;;) {
		now = daemon_now();
		if ((n = ops->nchildren()) > SUPERVISE_MAX)
			n = SUPERVISE_MAX;
		wake = now + 1;
		usable = stopping ? 0 : fill(ops, n, now, &wake, &old);
		alive = count_alive();
		if (!stopping && usable == 0 && alive == 0) {
			log_errx("every %s exited with a configuration error; "
			    "giving up", ops->child_name);
			return 2;
		}
		if (stopping && alive == 0) {
			log_info("every %s has stopped", ops->child_name);
			return 0;
		}
		if (!ready && !stopping && alive > 0) {
			ready = 1;
			if (ops->on_ready)
				ops->on_ready();
		}
		if (ops->on_tick)
			ops->on_tick(alive, stopping ? 0 : n);
		if (stopping && now >= deadline) {
			log_warnx("%d %s(s) still running after %d s: killing",
			    alive, ops->child_name, ops->stop_seconds());
			signal_all(SIGKILL);
			deadline = now + KILLED_WAIT_S;
		}
		wait_signal(ops, &set, now, stopping ? deadline : wake);
	}
}
