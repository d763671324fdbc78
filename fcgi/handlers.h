/*
 * handlers.h: the HTTP contract (docs/api.md) on top of FastCGI.  The
 * request is reduced to plain fields first, so handlers are testable
 * without a FastCGI peer.
 */
#ifndef OWM_HANDLERS_H
#define OWM_HANDLERS_H

#include <stddef.h>

#include "buf.h"

struct config;

struct http_req {
	const char	*method;
	const char	*path;
	const char	*query;
	const char	*content_type;
	const char	*authorization;
	const char	*body;		/* NULL when none was read */
	size_t		 body_len;
	int		 body_too_large;
	int		 body_truncated;
	const char	*body_refused;	/* why CONTENT_LENGTH is no number */
};

struct http_resp {
	int		 status;
	const char	*content_type;	/* NULL: application/json; UTF-8 */
	/* Extra header lines, each ending \r\n: room for a CSV's
	 * Content-Disposition (csv.h: an id three times, percent-encoded). */
	char		 headers[1024];
	struct buf	*body;
};

/* Before the first request: the configuration, and the database's
 * connection (-1 when it is unavailable now; requests retry it). */
int	handlers_init(const struct config *);
void	handle(const struct http_req *, struct http_resp *);
/* The process has gone idle: what it keeps only for the next requests
 * (the answers' copies) goes. */
void	handlers_idle(void);

#endif
