/*
 * counters.h: the running counts (etc/schema.sql: counters) that POST and
 * DELETE /collect add to inside their transactions, and that /health and
 * /metrics read summed.
 */
#ifndef OWM_COUNTERS_H
#define OWM_COUNTERS_H

#include <stddef.h>

#include <mysql.h>

struct db_err;

/* A change to the counts; queued is the queue entries', signed. */
struct counts {
	long long	 cities, collected, failed, queued, requests, ended;
};

/* Its statements, prepared by store.c on every connect. */
extern struct db_set counters_stmts;

/* Add c to this connection's shard (a cancel): 0, or -1 with e filled. */
int	counters_add(const struct counts *, struct db_err *);

/*
 * Add a POST's c, unless retention purged a request of this id (an id
 * stays used: unique forever: README, "The HTTP API"): then *added is 0 and nothing
 * changed.  0, or -1 with e filled.
 */
int	counters_add_post(const struct counts *, const char *id, size_t idlen,
	    int *added, struct db_err *);

#endif
