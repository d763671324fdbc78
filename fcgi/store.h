/*
 * store.h: the FastCGI program's database work.  One store per process:
 * one persistent connection and its prepared statements, reopened after
 * the server goes away.  Functions return STORE_OK or an error class the
 * handler maps to a status; they never log client data.
 */
#ifndef OWM_STORE_H
#define OWM_STORE_H

#include <stddef.h>

#include <mysql.h>

#include "buf.h"

struct config;
struct collect_req;

enum store_rc {
	STORE_OK = 0,
	STORE_DUPLICATE,	/* 409: the id is taken */
	STORE_NOTFOUND,		/* 404 */
	STORE_UNAVAILABLE,	/* 503: database unreachable or failing */
};

struct accepted {
	char		 requested_at[32];	/* ISO 8601 UTC */
	unsigned int	 total;
	unsigned int	 done;			/* served from fresh readings */
};

int	store_init(const struct config *);
void	store_close(void);

/*
 * For modules that keep their own prepared statements on this process's
 * connection (health.c).  store_conn() opens it if needed (NULL: the
 * database is unavailable, answer 503); store_epoch() changes whenever a
 * new connection was opened, so statements prepared on an older one must
 * be prepared again; store_lost() classifies a failed statement like the
 * store's own (a broken connection is closed) and returns
 * STORE_UNAVAILABLE.
 */
MYSQL	*store_conn(void);
unsigned long store_epoch(void);
enum store_rc store_lost(MYSQL_STMT *, const char *what);

/*
 * Insert the request, holding its cities by reference (a fresh reading or
 * the fetch that will fulfil each), and queue the cities nobody queued
 * yet, in one transaction.  STORE_DUPLICATE if the id is or was used.
 */
enum store_rc store_collect(const struct collect_req *, struct accepted *);

/*
 * Append the GET /get JSON document of request id to out, its progress
 * exact now; *finished tells whether the request is complete (its
 * document will never change again).
 */
enum store_rc store_get(const char *id, size_t idlen, struct buf *out,
	    int *finished);

/*
 * GET /collect: requests with internal id < before, newest first, at most
 * limit, as {"requests": [...], "next": cursor or null}; an unfinished
 * one's progress exact now, like GET /get's.
 */
enum store_rc store_list(unsigned long long before, unsigned long long limit,
	    struct buf *out);

/*
 * DELETE /collect: the request's cities not done yet fail with
 * "cancelled" (so it reaches 100) and the queue entries it created that
 * no worker holds go; *n tells how many cities its failed count grew by
 * (0 for a request already finished: nothing changes).  Appends the
 * request's document; STORE_NOTFOUND for an unknown id.
 */
enum store_rc store_cancel(const char *id, size_t idlen,
	    unsigned long long *n, struct buf *out);

#endif
