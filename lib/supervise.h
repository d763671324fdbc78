/*
 * supervise.h: the preforking supervisor both daemons run (after nginx's
 * master process and Postfix's master): it forks the children, replaces
 * one that dies, throttles one that keeps dying early, never respawns
 * after exit code 2 (bad configuration), stops the children on SIGTERM or
 * SIGINT with a deadline and then SIGKILL, and on SIGHUP reloads the
 * configuration and rolls the children.  It does no other work: children
 * open their own database and HTTP handles after fork.  The optional hooks
 * let a program tell its service manager what happens (worker/notify.c
 * speaks sd_notify) without this file knowing about it.
 *
 * Every child it starts gets an id drawn with getrandom(2) before fork:
 * unique across hosts, pid namespaces and reboots, where a host name and
 * a pid are not.  A child learns its own and the one of the child it
 * replaces in its slot (supervise_ids), so what a dead child held under
 * its id, its replacement can give back at once.
 */
#ifndef OWM_SUPERVISE_H
#define OWM_SUPERVISE_H

#define SUPERVISE_MAX	256
#define SUPERVISE_ID_LEN	16	/* hex digits: 64 random bits */

struct supervise_ids {
	char		 self[SUPERVISE_ID_LEN + 1];
	/* The slot's previous child (dead now, however it ended), "" for
	 * the slot's first. */
	char		 previous[SUPERVISE_ID_LEN + 1];
};

struct supervise_ops {
	const char	*child_name;		/* for logs: "process", "child" */
	/* Number of children wanted, read again after each reload. */
	int		(*nchildren)(void);
	/* Seconds a stopping child gets before SIGKILL. */
	int		(*stop_seconds)(void);
	/* Run in the child with signals unblocked and default; returns its
	 * exit code.  restarts: how often this slot's child died and was
	 * replaced so far (a reload's roll does not count). */
	int		(*child_main)(int slot, int restarts);
	/* SIGHUP: 0 when the new configuration is in effect. */
	int		(*reload)(void);
	/* Optional (NULL: none).  on_ready: once, after the first children
	 * were started; on_stopping: once, when a stop signal arrives;
	 * on_tick: every turn of the loop (at least once a second) with the
	 * children alive and wanted. */
	void		(*on_ready)(void);
	void		(*on_stopping)(void);
	void		(*on_tick)(int alive, int wanted);
};

/* Runs until stopped; returns the supervisor's exit code. */
int	supervise(const struct supervise_ops *);
/* In a child (from child_main on): its ids. */
const struct supervise_ids *supervise_ids(void);

#endif
