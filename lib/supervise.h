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
 */
#ifndef OWM_SUPERVISE_H
#define OWM_SUPERVISE_H

#define SUPERVISE_MAX	256

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

#endif
