/*
 * read.h: the FastCGI program's reads of requests: GET /get's document (a
 * request's done cities, one at a time, and its counts), GET /collect's
 * pages, the versions the answers built from them are cached under
 * (getcache.h), and a request's live counts (which the list's unfinished
 * rows and the cancel's settle use); see read.c.  They read and return
 * what they read: reply.c formats it.
 */
#ifndef OWM_READ_H
#define OWM_READ_H

#include <stddef.h>

#include <mysql.h>

#include "getcache.h"
#include "store.h"
#include "validate.h"

/* Prepare its statements on a new connection (store.c: on every
 * connect); 0, or -1 with e filled.  read_close closes them. */
int	read_open(MYSQL *, struct db_err *);
void	read_close(void);

/* A request as GET /get heads its document and GET /collect lists it. */
struct read_request {
	char		 id[ID_MAX];
	size_t		 idlen;
	MYSQL_TIME	 requested_at;
	MYSQL_TIME	 finished_at;	/* set only when finished */
	int		 finished;
	unsigned long long total, collected, failed;
};

/*
 * A done city of a request: what the API said of it (NULL each while it
 * was never seen), then its reading, or why it failed.
 */
struct read_city {
	unsigned long long city_id;
	const char	*name;		/* as stored, any UTF-8 */
	size_t		 name_len;
	const char	*country;
	size_t		 country_len;
	const char	*lat;		/* a DECIMAL's text: 51.508500 */
	size_t		 lat_len;
	const char	*lon;
	size_t		 lon_len;
	const char	*temperature;	/* a JSON number; NULL: failed */
	size_t		 temperature_len;
	unsigned long long humidity;
	const MYSQL_TIME *observed_at;
	const char	*error;		/* NULL: not known */
	size_t		 error_len;
};

/* What takes a request's cities as they are read (arg: its own). */
typedef void	read_city_fn(void *arg, const struct read_city *);

/*
 * The version of request id's document now (getcache.h): read before the
 * document, so that a copy is never newer than its version.
 * STORE_NOTFOUND if there is no such request.
 */
enum store_rc read_get_version(const char *id, size_t idlen,
	    struct getcache_version *);

/*
 * GET /get: every done city of request id, in the request's order, to
 * city(arg, c) as its row is read (c and what it points to live for the
 * call only: a large request is never held whole), then *q, the request
 * with its counts and finished_at exact now.  STORE_NOTFOUND if there is
 * no such request.
 */
enum store_rc read_get(const char *id, size_t idlen, read_city_fn *city,
	    void *arg, struct read_request *q);

/*
 * GET /collect: the requests with internal id < before, newest first, at
 * most limit (<= READ_PAGE_MAX); an unfinished one's counts exact now,
 * like GET /get's.  more: the page is full, and next is the cursor of the
 * page after it.
 */
#define READ_PAGE_MAX	100
struct read_page {
	struct read_request req[READ_PAGE_MAX];
	size_t		 n;
	int		 more;
	unsigned long long next;
};
enum store_rc read_list_version(struct getcache_version *);
enum store_rc read_list(unsigned long long before, unsigned long long limit,
	    struct read_page *);

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
