/*
 * health.h: the database side of GET /health and GET /metrics: what the
 * worker children report (worker_children, api_calls), the rate gate
 * (rate_gate, rate_slots), the queue and the requests' sums.  Statements
 * are prepared on the store's connection (store.h) and again after it
 * was reopened.  Nothing here logs client data.
 */
#ifndef OWM_HEALTH_H
#define OWM_HEALTH_H

#include "buf.h"
#include "store.h"

/* A heartbeat this young is a child alive (the children beat every 2 s). */

struct health {
	int		 hosts;		/* worker hosts with a recent row */
	int		 alive_hosts;	/* hosts with a child alive */
	int		 key_paused;	/* the gate is paused: invalid key */
	int		 paused;	/* paused for any reason */
};

/*
 * Append the /health document's "workers", "gate" and "queue" members
 * (each preceded by ", ") to out and fill h.  STORE_UNAVAILABLE: the
 * database is unreachable or failing; out then holds a partial document.
 */
enum store_rc health_read(struct buf *out, struct health *h);

/* Append every /metrics sample (text exposition format 0.0.4). */
enum store_rc health_metrics(long long limit_per_minute, struct buf *out);

#endif
