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
 * the latest moment its request can have reached the server:
 *
 *   never sent (no connection by connect_by, or not by send_by)	0
 *
 * (connect_by and send_by are the same moment in the worker: gate_db.h,
 * GATE_SEND_MIN_US.)
 *   answered			the first byte of its answer
 *   sent, no answer		when it was sent + owm.hold_ms
 *
 * Without an answer the client cannot know whether the server has read
 * the request: a server that is slow to read (a backed-up accept queue, a
 * busy TLS front end) reads the bytes waiting in its socket after the
 * client gave up and closed, serves the call and counts it.  owm.hold_ms
 * is how late that may be; the moment the client gave up is no bound.
 * A request leaves at most once: libcurl's silent resend on a reused
 * connection found dead (the request may have reached the server on it
 * already) is refused, and the call ends without an answer.
 *
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
	int64_t		 sent;		/* its request left then (0: never) */
	int64_t		 arrive;	/* it reached the server by then
					 * (0: never sent) */
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
 * a connection by connect_by is abandoned ("timeout"), one whose request
 * would leave after send_by is not sent, and every call ends by end_by.
 * tick, when not NULL, is called at least once a second while they run
 * (heartbeats).
 */
void	owm_client_run(struct owm_call *calls, size_t n, int64_t connect_by,
	    int64_t send_by, int64_t end_by, void (*tick)(void));

#endif
