/*
 * reply.h: every answer the API gives, byte for byte (README.md, "The HTTP
 * contract"; etc/openapi.yaml): the JSON of POST /collect's 202, of a
 * request (GET /get, and DELETE /collect, which answers the cancelled
 * request's document), of GET /collect's pages, of errors and of
 * /health, the text of /metrics and of GET /get?format=csv, its
 * Content-Disposition and POST's status URL.  The callers read the
 * database (health.h fills structs of figures); these only format what
 * they read, append to a struct buf (its sticky failure says when memory
 * ran out) and never log.
 */
#ifndef OWM_REPLY_H
#define OWM_REPLY_H

#include <stddef.h>

#include <mysql.h>

#include "buf.h"

struct accepted;
struct health;
struct health_sums;

/* {"error": msg} */
void	reply_error(struct buf *, const char *msg);

/*
 * Request id's status URL, /get?id=<id percent-encoded>: POST /collect's
 * Location, and its 202's status_url.
 */
void	reply_status_url(struct buf *, const char *id, size_t idlen);
/* POST /collect's 202; status_url as reply_status_url made it. */
void	reply_accepted(struct buf *, const char *id, size_t idlen,
	    const struct accepted *, const char *status_url);

/* A request as GET /get heads its document and GET /collect lists it. */
struct reply_request {
	const char	*id;
	size_t		 idlen;
	const MYSQL_TIME *requested_at;
	const MYSQL_TIME *finished_at;		/* NULL while unfinished */
	unsigned long long total, collected, failed;
};

/*
 * A done city of a request: what the API said of it (NULL each while it
 * was never seen), then its reading, or why it failed.
 */
struct reply_city {
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

/* Append a city to a document's data items (a list of its own). */
void	reply_city(struct buf *items, const struct reply_city *);
/* GET /get's document: the request, then its data items. */
void	reply_document(struct buf *, const struct reply_request *,
	    const struct buf *items);

/*
 * GET /get?format=csv: a city as a record (appended to rows of their
 * own), then the document: the header record and those rows.
 */
void	reply_csv_city(struct buf *rows, const struct reply_city *);
void	reply_csv_document(struct buf *, const struct buf *rows);

/*
 * GET /get?format=csv's Content-Disposition, naming the download after
 * request id (RFC 6266, with RFC 8187's filename*):
 *   attachment; filename="<id>.csv"; filename*=UTF-8''<id>.csv
 * where the quoted name has every byte outside [A-Za-z0-9._-] replaced by
 * "_" (no quote, backslash, CR, LF or non-ASCII byte can reach the
 * header) and filename* carries the id percent-encoded.  An id longer
 * than ID_MAX fails the buffer.
 */
void	reply_csv_disposition(struct buf *, const char *id, size_t idlen);

/*
 * GET /collect's page: the start, its nth request (n from 0), the end
 * with the cursor of the next page (NULL: none).
 */
void	reply_page_start(struct buf *);
void	reply_page_request(struct buf *, unsigned long long n,
	    const struct reply_request *);
void	reply_page_end(struct buf *, const unsigned long long *next);

/*
 * GET /health: the document of h, and its HTTP status: 200 while the
 * service can do its job, else 503; or the document of a database that
 * does not answer (a 503).
 */
int	reply_health(struct buf *, const struct health *h);
void	reply_health_down(struct buf *);

/* GET /metrics: every sample (text exposition format 0.0.4). */
void	reply_metrics(struct buf *, const struct health_sums *,
	    long long limit_per_minute);

/*
 * Percent-encode every byte but RFC 3986's unreserved ones (A-Z a-z 0-9
 * - . _ ~) as %XX: safe in a URL's query and as an RFC 8187 ext-value.
 * The encoded length, or -3 when it does not fit in cap (3 * n does).
 */
long	reply_percent_encode(const char *s, size_t n, char *out, size_t cap);

#endif
