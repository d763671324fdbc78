/*
 * owm_client.h: the OpenWeatherMap HTTP client (libcurl multi).
 *
 * One multi handle and a pool of easy handles per child, created after
 * fork and kept across batches so connections are reused.  A batch's
 * calls run concurrently and owm_client_run() returns when every one has
 * ended (answer, timeout, or error).  Always units=metric.  The URL holds
 * the key: it is never logged nor put into an error message.  TLS
 * certificates are verified (owm.ca_file, or the system's bundle).
 *
 * Times are this host's monotonic clock in microseconds.  A call reports
 * the latest moment its request can have reached the server: when the
 * first byte of its answer came (or, without an answer, when it ended).
 * Before a batch, owm_client_warm() opens the connections it will need,
 * so that DNS, connect and TLS (and their lost packets) happen before the
 * batch's slot instead of after it.
 */
#ifndef OWM_CLIENT_H
#define OWM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "owm_parse.h"

struct config;

#define OWM_CLIENT_MAX_CALLS	OWM_GROUP_MAX
/* The err of a call that ran out of time (answer.c counts those apart). */
#define OWM_CLIENT_TIMEOUT	"timeout"
/* The err of an answer longer than OWM_PARSE_MAX_BODY: an answer still. */
#define OWM_CLIENT_TOO_LARGE	"response too large"

struct owm_call {
	/* in */
	int		 group;		/* /group (all ids) or /weather */
	const uint32_t	*ids;
	size_t		 nids;
	/* out */
	long		 status;	/* HTTP status; 0: no answer */
	int64_t		 arrive;	/* it reached the server by then */
	int		 failed;	/* transport error: err says which */
	char		 err[96];
	struct buf	 body;		/* at most OWM_PARSE_MAX_BODY */
};

int	owm_client_init(const struct config *, char *err, size_t errlen);
void	owm_client_free(void);
/*
 * Have n connections to the API open and idle by "by" (at the latest): a
 * request per missing connection that no account can be charged for (no
 * key, no city), answered 401 and kept alive.  Does nothing when the last
 * batch left at least n connections less than a second ago.
 */
void	owm_client_warm(size_t n, int64_t by, void (*tick)(void));
/*
 * Run n calls (at most OWM_CLIENT_MAX_CALLS) concurrently: a call without
 * a connection by connect_by is abandoned ("timeout"), and every call
 * ends by end_by.  tick, when not NULL, is called at least once a second
 * while they run (heartbeats).
 */
void	owm_client_run(struct owm_call *calls, size_t n, int64_t connect_by,
	    int64_t end_by, void (*tick)(void));

#endif
