/*
 * handlers.c: POST /collect and GET /get (docs/api.md),
 * request management (GET /collect lists, DELETE /collect cancels: both,
 * like POST, need http.token when one is set), and the operators' GET
 * /health and GET /metrics (their queries: health.c).  Each path also
 * answers with a trailing slash (/collect/), as the seed service's did.
 *
 * Validation happens before any database work, so bad input costs no
 * round trip and can never leave a half-written row; post.c, read.c,
 * cancel.c and health.c then do each request's work in one transaction
 * or one statement and return what they read, reply.c gives every answer
 * its bytes, and getcache.c keeps the documents and pages it may serve
 * again: a handler here is the glue, read -> reply -> cache.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reply.h"
#include "cancel.h"
#include "config.h"
#include "getcache.h"
#include "handlers.h"
#include "health.h"
#include "num.h"
#include "parse.h"
#include "post.h"
#include "read.h"
#include "rules.h"

static const struct config *cf;

/* Every module that answers from the database, for store.c to open. */
static const struct store_module modules[] = {
	{ post_open, post_close }, { read_open, read_close },
	{ cancel_open, cancel_close }, { health_open, health_close },
};

int
handlers_init(const struct config *conf)
{
	cf = conf;
	post_init(cf);
	return store_init(cf, modules, sizeof(modules) / sizeof(modules[0]));
}

void
handlers_idle(void)
{
	getcache_drop();
}

/* Every error is JSON, whatever a handler had set up before it failed. */
static void
error(struct http_resp *rs, int status, const char *msg)
{
	rs->status = status;
	rs->content_type = NULL;
	rs->headers[0] = '\0';
	buf_reset(rs->body);
	reply_error(rs->body, msg);
}

static void
unavailable(struct http_resp *rs)
{
	error(rs, 503, "the database is unavailable; retry later");
	snprintf(rs->headers, sizeof(rs->headers), "Retry-After: 2\r\n");
}

/*
 * Media type without parameters, case-insensitive; a charset parameter,
 * if any, must be UTF-8.  Returns 1 if ct is type.
 */
static int
media_is(const char *ct, const char *type)
{
	size_t	 n = strlen(type);
	const char *p;

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	p = ct + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p != ';')
		return 0;
	for (p++; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == '\0')
		return 1;
	if (strncasecmp(p, "charset=", 8) != 0)
		return 0;
	p += 8;
	return strcasecmp(p, "utf-8") == 0 || strcasecmp(p, "\"utf-8\"") == 0;
}

/* Compare without leaking where the first difference is. */
static int
token_ok(const char *auth, const char *token)
{
	size_t		 n = strlen(token), m, i;
	unsigned char	 diff = 0;

	/* The scheme is case-insensitive (RFC 7235, 2.1); the token is not. */
	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return 0;
	auth += 7;
	m = strlen(auth);
	for (i = 0; i < n; i++)
		diff |= (unsigned char)token[i] ^
		    (unsigned char)(i < m ? auth[i] : 0);
	return diff == 0 && m == n;
}

/* The answer for a store result other than STORE_OK. */
static void
store_error(struct http_resp *rs, enum store_rc rc)
{
	if (rc == STORE_NOTFOUND)
		error(rs, 404, "no request has this id");
	else
		unavailable(rs);
}

/*
 * What needs http.token when one is set: the requests that change state
 * (POST, DELETE) and the list of requests, an operator's view (it names
 * every id, and an id is all it takes to read a document).  One document
 * by its id (GET /get) stays open, as in the service this replaces.  The
 * token is checked before anything else, so a client without it learns
 * nothing (not even that its query was bad) and no cache is asked.
 */
static int
authorized(const struct http_req *rq, struct http_resp *rs)
{
	if (cf->http.token[0] == '\0' ||
	    token_ok(rq->authorization, cf->http.token))
		return 1;
	error(rs, 401, "a valid Authorization: Bearer token is required");
	snprintf(rs->headers, sizeof(rs->headers),
	    "WWW-Authenticate: Bearer\r\nCache-Control: no-store\r\n");
	return 0;
}

/*
 * POST /collect's body into r, the configured cities when it names none;
 * -1 when it is refused (rs holds the answer).
 */
static int
collect_body(const struct http_req *rq, struct http_resp *rs,
    struct collect_req *r)
{
	const char	*why = NULL;
	int		 rc;

	if (rq->body_refused) {
		error(rs, 400, rq->body_refused);
		return -1;
	}
	if (rq->body_too_large) {
		error(rs, 413, "request body is too large");
		return -1;
	}
	if (rq->body_truncated) {
		error(rs, 400, "request body is truncated");
		return -1;
	}
	if (media_is(rq->content_type, "application/json"))
		rc = parse_collect_json(rq->body, rq->body_len, r, &why);
	else if (media_is(rq->content_type,
	    "application/x-www-form-urlencoded"))
		rc = parse_collect_form(rq->body, rq->body_len, r, &why);
	else {
		error(rs, 415, "Content-Type must be application/json or "
		    "application/x-www-form-urlencoded");
		return -1;
	}
	if (rc == -1) {
		error(rs, 400, why);
		return -1;
	}
	if (!r->has_cities) {
		memcpy(r->cities, cf->cities,
		    cf->ncities * sizeof(r->cities[0]));
		r->ncities = cf->ncities;
	}
	return 0;
}

static void
collect(const struct http_req *rq, struct http_resp *rs)
{
	static struct collect_req r;
	static struct buf url;
	struct accepted	 a;

	if (!authorized(rq, rs) || collect_body(rq, rs, &r) == -1)
		return;
	switch (post_collect(&r, &a)) {
	case STORE_OK:
		break;
	case STORE_DUPLICATE:
		error(rs, 409, "id is already used");
		return;
	default:
		unavailable(rs);
		return;
	}
	buf_reset(&url);
	reply_status_url(&url, r.id, r.idlen);
	if (buf_cstr(&url) == NULL) {
		unavailable(rs);
		return;
	}
	rs->status = 202;
	snprintf(rs->headers, sizeof(rs->headers), "Location: %s\r\n",
	    url.data);
	reply_accepted(rs->body, r.id, r.idlen, &a, url.data);
}

/* The id query parameter of GET /get and DELETE /collect, validated. */
static long
query_id(const struct http_req *rq, struct http_resp *rs, char *id)
{
	const char	*q = rq->query ? rq->query : "", *why = NULL;
	long		 n;

	n = parse_query_param(q, strlen(q), "id", id, ID_MAX, &why);
	if (n == -2)
		why = "id is missing: add ?id=...";
	else if (n == -3)
		why = "id must be at most 128 bytes";
	else if (n >= 0 && validate_id(id, (size_t)n, &why) == 0)
		return n;
	error(rs, 400, why);
	return -1;
}

/*
 * GET /get's headers for a document: its caching, and for CSV its type
 * and the file name a download gets; -1 if they do not fit.
 */
static int
get_headers(struct http_resp *rs, const char *id, size_t idlen,
    enum get_format f, int finished)
{
	static struct buf disp;
	/* A finished request never changes again: nginx and clients may keep
	 * it, in either format (nginx keys its copies by the whole URI).
	 * Anything else, a 404 included (the id may be posted later), must
	 * not be stored. */
	const char	*cache = finished ? "public, max-age=31536000, immutable" :
			    "no-store";
	int		 n;

	if (f == GET_JSON) {
		snprintf(rs->headers, sizeof(rs->headers),
		    "Cache-Control: %s\r\n", cache);
		return 0;
	}
	buf_reset(&disp);
	reply_csv_disposition(&disp, id, idlen);
	if (buf_cstr(&disp) == NULL)
		return -1;
	rs->content_type = "text/csv; charset=utf-8";
	n = snprintf(rs->headers, sizeof(rs->headers), "Cache-Control: %s\r\n"
	    "Content-Disposition: %s\r\n", cache, disp.data);
	return n < 0 || (size_t)n >= sizeof(rs->headers) ? -1 : 0;
}

/* A document's data items, or CSV records, as read.c reads its rows. */
static void
json_city(void *items, const struct read_city *c)
{
	reply_city(items, c);
}

static void
csv_city(void *rows, const struct read_city *c)
{
	reply_csv_city(rows, c);
}

/*
 * Request id's document, JSON or CSV, into out (empty): the copy kept
 * while its version holds (getcache.h), else read and formatted row by
 * row, then kept.  *finished: it will never change again.
 */
static enum store_rc
document(const char *id, size_t idlen, enum get_format f, struct buf *out,
    int *finished)
{
	struct buf	 items;		/* its data items or records */
	struct read_request q;
	struct getcache_version v;
	char		 key[GETCACHE_KEY_MAX];
	size_t		 keylen = getcache_doc_key(key, id, idlen, f == GET_CSV);
	enum store_rc	 rc;

	if ((rc = read_get_version(id, idlen, &v)) != STORE_OK)
		return rc;
	if (getcache_copy(key, keylen, &v, out, finished))
		return STORE_OK;
	buf_init(&items, 0);	/* built only when the copy is stale */
	rc = read_get(id, idlen, f == GET_CSV ? csv_city : json_city, &items,
	    &q);
	if (rc == STORE_OK && f == GET_CSV)
		reply_csv_document(out, &items);
	else if (rc == STORE_OK)
		reply_document(out, &q, &items);
	buf_free(&items);
	if (rc != STORE_OK)
		return rc;
	*finished = q.finished;
	getcache_put(key, keylen, &v, *finished, out);
	return STORE_OK;
}

static void
get(const struct http_req *rq, struct http_resp *rs)
{
	const char	*q = rq->query ? rq->query : "", *why = NULL;
	char		 id[ID_MAX];
	enum get_format	 f;
	enum store_rc	 rc;
	long		 n;
	int		 finished = 0;

	if ((n = query_id(rq, rs, id)) < 0)
		return;
	if (parse_get_format(q, strlen(q), &f, &why) == -1) {
		error(rs, 400, why);
		return;
	}
	if ((rc = document(id, (size_t)n, f, rs->body, &finished)) !=
	    STORE_OK) {
		store_error(rs, rc);
		return;
	}
	rs->status = 200;
	if (get_headers(rs, id, (size_t)n, f, finished) == -1)
		unavailable(rs);
}

/* A numeric query parameter in [min, max]; def when absent. */
static int
query_num(const char *q, const char *name, unsigned long long min,
    unsigned long long max, unsigned long long def, unsigned long long *v)
{
	char		 tmp[24];
	const char	*why;
	uint64_t	 u;
	long		 n;

	n = parse_query_param(q, strlen(q), name, tmp, sizeof(tmp), &why);
	if (n == -2) {
		*v = def;
		return 0;
	}
	if (n < 0 || num_parse_u64(tmp, (size_t)n, max, &u) == -1 || u < min)
		return -1;
	*v = u;
	return 0;
}

/* GET /collect's page into out (empty): kept like a document. */
static enum store_rc
page(unsigned long long before, unsigned long long limit, struct buf *out)
{
	static struct read_page p;
	struct getcache_version v;
	char		 key[GETCACHE_KEY_MAX];
	size_t		 keylen = getcache_page_key(key, before, limit);
	enum store_rc	 rc;

	if ((rc = read_list_version(&v)) != STORE_OK)
		return rc;
	if (getcache_copy(key, keylen, &v, out, NULL))
		return STORE_OK;
	if ((rc = read_list(before, limit, &p)) != STORE_OK)
		return rc;
	reply_page(out, &p);
	getcache_put(key, keylen, &v, 0, out);
	return STORE_OK;
}

static void
list(const struct http_req *rq, struct http_resp *rs)
{
	const char		*q = rq->query ? rq->query : "";
	unsigned long long	 limit, before;

	if (!authorized(rq, rs))
		return;
	if (query_num(q, "limit", 1, READ_PAGE_MAX, 20, &limit) == -1) {
		error(rs, 400, "limit must be an integer from 1 to 100");
		return;
	}
	if (query_num(q, "before", 1, UINT64_MAX, UINT64_MAX, &before) == -1) {
		error(rs, 400, "before must be the \"next\" value of a "
		    "previous page");
		return;
	}
	if (page(before, limit, rs->body) != STORE_OK) {
		unavailable(rs);
		return;
	}
	rs->status = 200;
	snprintf(rs->headers, sizeof(rs->headers), "Cache-Control: no-store\r\n");
}

static void
cancel(const struct http_req *rq, struct http_resp *rs)
{
	char			 id[ID_MAX];
	unsigned long long	 n = 0;
	enum store_rc		 rc;
	long			 idlen;
	int			 finished;

	if (!authorized(rq, rs))
		return;
	if ((idlen = query_id(rq, rs, id)) < 0)
		return;
	/* The answer is the request's document as it is now. */
	if ((rc = cancel_request(id, (size_t)idlen, &n)) != STORE_OK ||
	    (rc = document(id, (size_t)idlen, GET_JSON, rs->body,
	    &finished)) != STORE_OK) {
		store_error(rs, rc);
		return;
	}
	rs->status = 200;
	snprintf(rs->headers, sizeof(rs->headers), "Cache-Control: no-store\r\n");
}

/* Its status (200, 503 when down) as reply_health judges it. */
static void
health(struct http_resp *rs)
{
	struct health	 h;

	if (health_read(&h) != STORE_OK) {
		reply_health_down(rs->body);
		rs->status = 503;
		snprintf(rs->headers, sizeof(rs->headers),
		    "Retry-After: 2\r\nCache-Control: no-store\r\n");
		return;
	}
	rs->status = reply_health(rs->body, &h);
	snprintf(rs->headers, sizeof(rs->headers), "Cache-Control: no-store\r\n");
}

static void
metrics(struct http_resp *rs)
{
	struct health_sums m;

	if (health_metrics(&m) != STORE_OK) {
		unavailable(rs);
		return;
	}
	reply_metrics(rs->body, &m, cf->owm.cities_per_minute);
	rs->status = 200;
	rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
	snprintf(rs->headers, sizeof(rs->headers), "Cache-Control: no-store\r\n");
}

static void
not_allowed(struct http_resp *rs, const char *allow)
{
	char	 msg[80];

	snprintf(msg, sizeof(msg), "method not allowed: use %s", allow);
	error(rs, 405, msg);
	snprintf(rs->headers, sizeof(rs->headers), "Allow: %s\r\n", allow);
}

/*
 * Whether path names endpoint, with or without one trailing slash: the
 * service this replaces was asked /collect/ and /get/?id=, and its clients
 * still are.  nginx sends both spellings to the same handler, with the
 * same limits and cache rules.
 */
static int
path_is(const char *path, const char *endpoint)
{
	size_t	 n = strlen(endpoint);

	return path != NULL && strncmp(path, endpoint, n) == 0 &&
	    (path[n] == '\0' || (path[n] == '/' && path[n + 1] == '\0'));
}

/* Route the request to its handler. */
static void
route(const struct http_req *rq, struct http_resp *rs, const char *m,
    int head)
{
	rs->status = 500;
	rs->content_type = NULL;
	rs->headers[0] = '\0';
	buf_reset(rs->body);
	if (path_is(rq->path, "/collect")) {
		if (strcmp(m, "POST") == 0)
			collect(rq, rs);
		else if (strcmp(m, "GET") == 0 || head)
			list(rq, rs);
		else if (strcmp(m, "DELETE") == 0)
			cancel(rq, rs);
		else
			not_allowed(rs, "GET, HEAD, POST, DELETE");
	} else if (path_is(rq->path, "/get")) {
		if (strcmp(m, "GET") == 0 || head)
			get(rq, rs);
		else
			not_allowed(rs, "GET, HEAD");
	} else if (path_is(rq->path, "/health")) {
		if (strcmp(m, "GET") == 0 || head)
			health(rs);
		else
			not_allowed(rs, "GET, HEAD");
	} else if (path_is(rq->path, "/metrics")) {
		if (strcmp(m, "GET") == 0 || head)
			metrics(rs);
		else
			not_allowed(rs, "GET, HEAD");
	} else
		error(rs, 404, "no such endpoint");
}

/*
 * A read that found its connection dead (the writer changed while this
 * process idled) runs once more on a new one: it changes nothing.  POST
 * and DELETE run again inside their transactions (store_transaction).
 */
void
handle(const struct http_req *rq, struct http_resp *rs)
{
	const char	*m = rq->method ? rq->method : "";
	int		 head = strcmp(m, "HEAD") == 0;

	store_request_start();
	route(rq, rs, m, head);
	if (rs->status == 503 && (head || strcmp(m, "GET") == 0) &&
	    store_read_again())
		route(rq, rs, m, head);
	if (rs->body->failed)
		unavailable(rs);
}
