/*
 * notify.h: owmcollect-worker's messages to systemd (sd_notify(3)) for
 * Type=notify with a watchdog.  The supervisor's hooks (supervise.h) call
 * these; without NOTIFY_SOCKET each is a no-op.  Children never notify:
 * the unit says NotifyAccess=main.
 */
#ifndef OWM_NOTIFY_H
#define OWM_NOTIFY_H

/* READY=1 and a STATUS= line, once the first children run. */
void	notify_ready(void);
/* STOPPING=1: a stop signal arrived. */
void	notify_stopping(void);
/* WATCHDOG=1 at a third of WATCHDOG_USEC; STATUS= when the count changes. */
void	notify_tick(int alive, int wanted);

#endif
