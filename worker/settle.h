/*
 * settle.h: the worker's housekeeping child ("owm-housekeep" in ps), run by
 * the supervisor in the slot after the fetching children's (main.c),
 * always.
 *
 * It settles requests.  A batch's completion (tasks.c) only writes its
 * fetches' outcomes (`fetches`); every request pointing at those fetches
 * (requests.cities) reads its exact state from them at once (the
 * request_data view, GET /get).  The request's own row - collected,
 * failed, finished_at and wait_fetch, which lists, request_progress and
 * /metrics (through the counters) read - is brought up to date here,
 * from that same view, within about a second of the end of the fetch it
 * waits for (requests.wait_fetch), and again at each following one until
 * it is finished.  A city whose fetch a cancel dropped ('dropped': another
 * request had queued it) is queued again for the requests still waiting
 * for it.
 *
 * When retention is on (purge_wanted), the same child runs the purge's
 * passes (purge.c), and keeps settling in the pauses between their
 * transactions.
 */
#ifndef OWM_SETTLE_H
#define OWM_SETTLE_H

struct config;

/* The child's life, until SIGTERM; returns its exit code. */
int	settle_run(const struct config *);

#endif
