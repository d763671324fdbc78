/*
 * child.h: one preforked fetching process of owmcollect-worker.
 */
#ifndef OWM_CHILD_H
#define OWM_CHILD_H

struct config;
struct supervise_ids;

/*
 * Runs until SIGTERM/SIGINT, then finishes the batch in hand and returns
 * the exit code.  restarts: how often the supervisor replaced this slot's
 * child before (reported in the heartbeat).  fresh: the configuration was
 * (re)loaded just now, so a key refused before may have been replaced:
 * lift an invalid-key pause.  ids: this child's id (its heartbeat's key,
 * its batches' owners' prefix) and its predecessor's, whose leases it
 * gives back first.
 */
int	child_run(const struct config *, int slot, int restarts, int fresh,
	    const struct supervise_ids *ids);

#endif
