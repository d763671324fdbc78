/*
 * health.h: the database side of GET /health and GET /metrics: what the
 * worker children report (worker_children, api_calls), the rate gate
 * (rate_gate, rate_slots), the queue and the requests' sums, as structs
 * of figures.  The queries only: reply.c shapes what they read.  Nothing
 * here logs client data.
 */
#ifndef OWM_HEALTH_H
#define OWM_HEALTH_H

#include <stddef.h>

#include <mysql.h>

#include "answers.h"
#include "store.h"

/* A worker host: its children alive, its newest heartbeat's age. */
struct health_host {
	char		 host[64];
	size_t		 len;
	long long	 alive;
	long long	 age_us;
	int		 age_known;	/* 0: no heartbeat yet */
};

struct health {
	const struct health_host *host;	/* every worker host, by name */
	size_t		 hosts;
	size_t		 alive_hosts;	/* hosts with a child alive */
	int		 key_paused;	/* the gate is paused: invalid key */
	int		 paused;	/* paused for any reason */
	char		 reason[40];	/* while paused: why (rate_gate) */
	char		 until[40];	/* and until when (ISO 8601) */
	size_t		 reason_len, until_len;
	long long	 queued;	/* cities queued */
	long long	 oldest_us;	/* the oldest queue entry's age */
	int		 oldest_null;	/* the queue is empty */
	int		 down;		/* the API unreachable: held */
	char		 since[40];	/* since when (ISO 8601) */
	char		 down_why[168];	/* the last call's error */
	size_t		 since_len, down_why_len;
};

/* An outcome of API calls and their number. */
struct health_call {
	char		 outcome[40];
	size_t		 len;
	long long	 n;
};

/* The running sums /metrics shows. */
struct health_sums {
	long long	 requests;	/* accepted */
	long long	 pending, collected, failed;	/* cities */
	long long	 window;	/* cities sent in the API's window */
	long long	 wait_us;	/* the children's sleep at the gate */
	long long	 alive;		/* worker children alive */
	long long	 restarts;	/* of the live children's slots */
	long long	 queued;	/* cities queued */
	long long	 down_us;	/* the API unreachable this long; -1:
					 * it answers */
	long long	 paused_429, paused_key, paused_month; /* 0/1:
					 * the gate paused, and why */
	long long	 oldest_us;	/* the oldest queued city's age; 0:
					 * none queued */
	long long	 behind;	/* 0/1: the worker says it is behind */
	long long	 unresolved_us;	/* the oldest deferred request not
					 * resolved yet, its age; 0: none */
	long long	 answers[ANSWERS_CLASSES]; /* by status class */
	long long	 post_waits;	/* POSTs that waited for a turn */
	double		 post_wait_s;	/* ... and their wait in all */
	const struct health_call *call;	/* API calls by outcome */
	size_t		 calls;
};

/* Prepare its statements on a new connection (store.c: on every
 * connect); 0, or -1 with e filled.  health_close closes them. */
int	health_open(MYSQL *, struct db_err *);
void	health_close(void);

/*
 * GET /health's figures into h (its hosts live until the next call).
 * STORE_UNAVAILABLE: the database is unreachable or failing, or memory
 * ran out.
 */
enum store_rc health_read(struct health *h);

/* GET /metrics' figures into m (its calls live until the next call). */
enum store_rc health_metrics(struct health_sums *m);

#endif
