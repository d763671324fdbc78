/*
 * settle.h: settling requests, in steps the worker's housekeeping child
 * runs (housekeep.c).
 *
 * A batch's completion (tasks.c) only writes its fetches' outcomes
 * (`fetches`); every request pointing at those fetches (requests.cities)
 * reads its exact state from them at once (the request_data view, GET
 * /get).  The request's own row - collected, failed, finished_at and
 * wait_fetch, which lists, request_progress and /metrics (through the
 * counters) read - is brought up to date here, from that same view,
 * within about a second of the end of the fetch it waits for
 * (requests.wait_fetch), and again at each following one until it is
 * finished.  A city whose fetch a cancel dropped ('dropped': another
 * request had queued it) is queued again for the requests still waiting
 * for it.
 */
#ifndef OWM_SETTLE_H
#define OWM_SETTLE_H

#include <stddef.h>

#include <mysql.h>

#include "db.h"

struct config;

/* The two ways to the requests to settle (settle.c says how each goes). */
enum settle_pass {
	SETTLE_SWEEP,	/* every request still waiting */
	SETTLE_FAST	/* those waiting for a fetch that ended since */
};

/*
 * The statements on a new connection (after every connect: a pass under
 * way is dropped, and the fast passes wait for a sweep), and closing
 * them before the connection goes.
 */
int	settle_open(MYSQL *, const struct config *, struct db_err *);
void	settle_close(void);
/* Whether a sweep has run on this connection: the fast passes start
 * from where it began. */
int	settle_can_fast(void);

/*
 * A pass: settle_begin starts one, settle_step runs its next step (the
 * next candidates read when those in hand are done, and at most one
 * transaction, none left open), settle_busy says whether one is under
 * way.  settle_step: 1 the pass goes on; 0 it is over, *found the
 * requests it found to settle; -1 with e filled when a read failed or
 * the connection is gone (the pass is dropped).  A request that fails
 * to settle is logged and left to a later pass, not a failure.
 */
void	settle_begin(enum settle_pass);
int	settle_busy(void);
int	settle_step(size_t *found, struct db_err *);

#endif
