/*
 * reply.h: every answer the API gives, byte for byte (docs/api.md;
 * etc/openapi.yaml): the JSON of POST /collect's 202 and its Location, of
 * a request (GET /get, and DELETE /collect, which answers the cancelled
 * request's document), of GET /collect's pages, of errors and of
 * /health, the text of /metrics and of GET /get?format=csv, and its
 * Content-Disposition.  The data modules read the database into structs
 * (read.h, health.h, post.h); these only format them, append to a struct
 * buf (its sticky failure says when memory ran out) and never log.
 */
#ifndef OWM_REPLY_H
#define OWM_REPLY_H

#include <stddef.h>

#include "buf.h"

struct accepted;
struct health;
struct health_sums;
struct read_city;
struct read_page;
struct read_request;

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

/*
 * GET /get's document: each done city as a data item (appended to items,
 * a list of their own, as read.h's read_city_fn takes them), then the
 * document: the request and those items.
 */
void	reply_city(struct buf *items, const struct read_city *);
void	reply_document(struct buf *, const struct read_request *,
	    const struct buf *items);

/*
 * GET /get?format=csv: a city as a record (appended to rows of their
 * own), then the document: the header record and those rows.
 */
void	reply_csv_city(struct buf *rows, const struct read_city *);
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

/* GET /collect's page: its requests and the cursor of the next page. */
void	reply_page(struct buf *, const struct read_page *);

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
