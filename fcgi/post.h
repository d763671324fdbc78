/*
 * post.h: POST /collect's transaction; see post.c.
 */
#ifndef OWM_POST_H
#define OWM_POST_H

#include <mysql.h>

#include "store.h"

struct config;
struct collect_req;

/* What the 202 answer tells of an accepted request. */
struct accepted {
	MYSQL_TIME	 requested_at;	/* the database's clock, UTC */
	unsigned int	 total;
	unsigned int	 done;		/* served from fresh readings */
};

void	post_init(const struct config *);
/* Prepare its statements on a new connection (store.c: on every
 * connect); 0, or -1 with e filled.  post_close closes them. */
int	post_open(MYSQL *, struct db_err *);
void	post_close(void);

/*
 * Insert the request, holding its cities by reference (a fresh reading or
 * the fetch that will fulfil each), and queue the cities nobody queued
 * yet, in one transaction.  STORE_DUPLICATE if the id is or was used.
 */
enum store_rc post_collect(const struct collect_req *, struct accepted *);

#endif
