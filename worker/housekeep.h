/*
 * housekeep.h: the worker's housekeeping child ("owm-housekeep" in ps),
 * run by the supervisor in the slot after the fetching children's
 * (main.c), always.  It settles requests (settle.h) and, when retention
 * is on (purge_wanted), deletes what expired (purge.h), both on one
 * connection of its own, in steps of at most one transaction each.
 */
#ifndef OWM_HOUSEKEEP_H
#define OWM_HOUSEKEEP_H

struct config;

/* The child's life, until SIGTERM; returns its exit code. */
int	housekeep_run(const struct config *);

#endif
