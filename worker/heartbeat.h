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

#include <limits.h>
#include <stdint.h>

#include <mysql.h>

#include "answer.h"		/* enum call_outcome */
#include "db.h"
#include "supervise.h"		/* SUPERVISE_ID_LEN */

#define HEARTBEAT_EVERY_US	2000000LL

/*
 * The row's key is the child's id, drawn at random by its supervisor: a
 * host name and a pid are not unique (containers of one image, pid
 * namespaces, a host rebooted).  The host name is only shown, whole
 * (HOST_NAME_MAX: worker_children.host is VARCHAR(64)).
 */
struct child_stats {
	char		 owner[SUPERVISE_ID_LEN + 1];
	char		 previous[SUPERVISE_ID_LEN + 1]; /* "": none */
	char		 host[HOST_NAME_MAX + 1];
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
 * the row of the child this one replaced (previous), and rows dead for 10
 * minutes go at most once a minute. */
int	heartbeat_beat(const struct child_stats *, struct db_err *);
/* A clean exit: the row goes. */
int	heartbeat_leave(const struct child_stats *, struct db_err *);
/* Add a batch's call counts (indexed by enum call_outcome). */
int	heartbeat_count_calls(const unsigned int *counts, struct db_err *);

#endif
