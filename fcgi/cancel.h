/*
 * cancel.h: DELETE /collect's transaction; see cancel.c.
 */
#ifndef OWM_CANCEL_H
#define OWM_CANCEL_H

#include <stddef.h>

#include <mysql.h>

#include "buf.h"
#include "store.h"


/* Take a new connection (store.c: on every connect); its statements are
 * prepared by the first DELETE on it (cancel.c says why).  Returns 0.
 * cancel_close closes them. */
int	cancel_open(MYSQL *, struct db_err *);
void	cancel_close(void);

/*
 * DELETE /collect: the request's cities not done yet fail with
 * "cancelled" (so it reaches 100) and the queue entries it created that
 * no worker holds go; *n tells how many cities its failed count grew by
 * (0 for a request already finished: nothing changes).  STORE_NOTFOUND
 * for an unknown id.
 */
enum store_rc cancel_request(const char *id, size_t idlen,
	    unsigned long long *n);

#endif
