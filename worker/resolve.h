/*
 * resolve.h: the resolver, a step of the housekeeping child
 * (housekeep.c).  A deferred POST (http.defer; fcgi/post.c) stores its
 * request with the cities unresolved: [[city_id, 0, 0], ...] and
 * wait_fetch 0, the mark no fetch id has.  Each round takes up to
 * RESOLVE_MAX such requests and does for all of them at once what a POST
 * does for its own: one look-up of their distinct cities (fresh readings,
 * queue entries), one queueing of those neither fresh nor queued, one
 * move forward of the turns, then each request's references and counts
 * (resolve.c says how).
 */
#ifndef OWM_RESOLVE_H
#define OWM_RESOLVE_H

#include <stddef.h>

#include <mysql.h>

#include "db.h"

#define RESOLVE_MAX	200	/* requests a round resolves */

struct config;

/* On every connect: prepare its statements; 0, or -1 with e filled. */
int	resolve_open(MYSQL *, const struct config *, struct db_err *);
void	resolve_close(void);

/*
 * One round, one transaction: the requests it resolved in *found (0: none
 * was waiting, or all were locked by another resolver or a cancel); 0, or
 * -1 with e filled (rolled back: the requests wait for the next round).
 */
int	resolve_round(size_t *found, struct db_err *);

#endif
