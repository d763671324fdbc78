/*
 * owm_client.h: the OpenWeatherMap HTTP client (libcurl multi).
 *
 * One multi handle and a pool of easy handles per child, created after
 * fork and kept across batches so connections are reused.  A batch's
 * calls run concurrently and owm_client_run() returns when every one has
 * ended (answer, timeout, or error).  Always units=metric.  The URL holds
 * the key: it is never logged nor put into an error message.
 */
#ifndef OWM_CLIENT_H
#define OWM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "owm_parse.h"

struct config;

#define OWM_CLIENT_MAX_CALLS	OWM_GROUP_MAX

struct owm_call {
	/* in */
	int		 group;		/* /group (all ids) or /weather */
	const uint32_t	*ids;
	size_t		 nids;
	/* out */
	long		 status;	/* HTTP status; 0: no answer */
	int		 failed;	/* transport error: err says which */
	char		 err[96];
	struct buf	 body;		/* at most OWM_PARSE_MAX_BODY */
};

int	owm_client_init(const struct config *, char *err, size_t errlen);
void	owm_client_free(void);
/*
 * Run n calls (at most OWM_CLIENT_MAX_CALLS) concurrently; tick, when not
 * NULL, is called at least once a second while they run (heartbeats).
 */
void	owm_client_run(struct owm_call *calls, size_t n, void (*tick)(void));

#endif
