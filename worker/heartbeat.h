/*
 * heartbeat.h: what a worker child tells the database about itself
 * (etc/schema.sql: worker_children, api_calls), for GET /health and
 * /metrics.
 *
 * The child keeps its totals in memory and heartbeat_beat() writes them
 * as absolute values, so a lost or repeated beat changes nothing.  API
 * call counts are added per batch with one upsert.
 */
#ifndef OWM_HEARTBEAT_H
#define OWM_HEARTBEAT_H

#include <stdint.h>

#include <mysql.h>

#include "answer.h"		/* enum call_outcome */
#include "db.h"

#define HEARTBEAT_EVERY_US	2000000LL

struct child_stats {
	char		 owner[64];	/* "<host>:<pid>" */
	char		 host[32];
	long		 pid;
	long		 ppid;		/* the supervisor */
	int		 slot;
	int		 restarts;
	int64_t		 gate_wait_us;
	uint64_t	 batches;
	uint64_t	 cities;
};

int	heartbeat_open(MYSQL *, struct db_err *);
void	heartbeat_close(void);

/* Upsert this child's row; the first after heartbeat_open() also drops
 * the row of the child this one replaced, and rows dead for 10 minutes
 * go at most once a minute. */
int	heartbeat_beat(const struct child_stats *, struct db_err *);
/* A clean exit: the row goes. */
int	heartbeat_leave(const struct child_stats *, struct db_err *);
/* Add a batch's call counts (indexed by enum call_outcome). */
int	heartbeat_count_calls(const unsigned int *counts, struct db_err *);

#endif
