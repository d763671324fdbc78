/*
 * read.h: the FastCGI program's reads of requests: GET /get's document,
 * GET /collect's pages, and a request's live counts (which the list's
 * unfinished rows and the cancel's settle use); see read.c.
 */
#ifndef OWM_READ_H
#define OWM_READ_H

#include <stddef.h>

#include <mysql.h>

#include "buf.h"
#include "parse.h"
#include "store.h"

/* Prepare its statements on a new connection (store.c: on every
 * connect); 0, or -1 with e filled.  read_close closes them. */
int	read_open(MYSQL *, struct db_err *);
void	read_close(void);

/*
 * Append the GET /get document of request id to out, in JSON or CSV, its
 * progress exact now; *finished tells whether the request is complete
 * (its document will never change again).
 */
enum store_rc read_get(const char *id, size_t idlen, enum get_format,
	    struct buf *out, int *finished);

/*
 * GET /collect: requests with internal id < before, newest first, at most
 * limit, as {"requests": [...], "next": cursor or null}; an unfinished
 * one's progress exact now, like GET /get's.
 */
enum store_rc read_list(unsigned long long before, unsigned long long limit,
	    struct buf *out);

/*
 * A request's counts now, and when it finished by the contract's rule
 * (fin_null while a city is pending); NULL counts when it is gone.
 */
struct live {
	unsigned long long collected, failed, pending;
	MYSQL_TIME	 fin;
	my_bool		 c_null, f_null, p_null, fin_null;
};
int	read_live(unsigned long long rid, struct live *, const char *what,
	    struct db_err *);

#endif
