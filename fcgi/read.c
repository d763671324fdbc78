/*
 * read.c: see read.h.
 *
 * GET reads the request's cities through the request_data view, so its
 * counts and finished_at are exact now, not as last settled into the row
 * (worker/settle.c): one statement.  A page of the list shows a finished
 * row as settled (it never changes) and an unfinished one (the settle may
 * lag a second) live like GET, one aggregate over its own cities each
 * (R_LIVE).  Both are plain reads: no lock, no transaction.
 *
 * A finished document never changes, so the handler keeps it
 * (getcache.h) and proves it current with one unique-key lookup
 * (R_VERSION); an unfinished one and a page are kept while the fetches
 * ended and the rows they show stay the same (R_LIST_VERSION).  The
 * version is read before the answer, so a copy is served only while
 * nothing it shows can have moved.
 *
 * A document's cities go to the caller one row at a time, from the
 * row's own buffers: a request of thousands of cities is never held as
 * structs, only as the text its caller makes of them.
 */
#include <string.h>

#include "read.h"

enum {
	R_GET,
	R_VERSION,
	R_LIST_VERSION,
	R_LIST,
	R_LIVE,
	R_COUNT
};

/* The fetches ended so far: part of a cached answer's version. */
#define ENDED		"(SELECT COALESCE(SUM(ended), 0) FROM counters)"

static const char *const sql[R_COUNT] = {
	/*
	 * Every city of the request in order, done or not, with what the
	 * API said of it, its state (request_data: 1 collected, 2 failed,
	 * 0 pending) and when it was done.  Merged: the request by its
	 * unique key, its list, each city's fetch, reading and cities row
	 * by primary key.  Its columns: G_*.
	 */
	[R_GET] =
	    "SELECT q.requested_at, q.finished_at, q.total, q.id, "
	    "d.city_id, d.name, d.country, d.lat, d.lon, "
	    "d.temperature, d.humidity, d.observed_at, d.error, "
	    "FIELD(d.state, 'collected', 'failed'), d.done_at "
	    "FROM requests q JOIN request_data d ON d.request_id = q.id "
	    "WHERE q.ext_id = ? ORDER BY d.pos",
	/* The version of a request's document: its row (getcache.h). */
	[R_VERSION] =
	    "SELECT id, finished_at IS NOT NULL, " ENDED " "
	    "FROM requests WHERE ext_id = ?",
	/* A page's version: the newest and oldest rows ("Select tables
	 * optimized away") and the fetches ended. */
	[R_LIST_VERSION] =
	    "SELECT COALESCE(MAX(id), 0), COALESCE(MIN(id), 0), " ENDED " "
	    "FROM requests",
	/* A page of requests, newest first.  Its columns: L_*. */
	[R_LIST] =
	    "SELECT id, ext_id, requested_at, finished_at, total, collected, "
	    "failed FROM requests WHERE id < ? ORDER BY id DESC LIMIT ?",
	/*
	 * One request's counts now, and when it finished by the contract's
	 * rule (all cities done: the latest done_at, never before it was
	 * requested).  For a list's unfinished rows and a cancel's settle.
	 */
	[R_LIVE] =
	    "SELECT SUM(d.state = 'collected'), SUM(d.state = 'failed'), "
	    "SUM(d.state = 'pending'), GREATEST(MIN(q.requested_at), "
	    "COALESCE(MAX(d.done_at), MIN(q.requested_at))) "
	    "FROM requests q JOIN request_data d ON d.request_id = q.id "
	    "WHERE q.id = ?",
};

/* R_GET's columns, in its SELECT's order. */
enum {
	G_REQUESTED_AT,
	G_FINISHED_AT,
	G_TOTAL,
	G_REQUEST,
	G_CITY_ID,
	G_NAME,
	G_COUNTRY,
	G_LAT,
	G_LON,
	G_TEMPERATURE,
	G_HUMIDITY,
	G_OBSERVED_AT,
	G_ERROR,
	G_STATE,
	G_DONE_AT,
	G_COLS
};

/* request_data's states as R_GET gives them (FIELD). */
#define STATE_PENDING	0
#define STATE_COLLECTED	1

/* R_LIST's columns, in its SELECT's order. */
enum {
	L_ID,
	L_EXT_ID,
	L_REQUESTED_AT,
	L_FINISHED_AT,
	L_TOTAL,
	L_COLLECTED,
	L_FAILED,
	L_COLS
};

/*
 * Room for a column's text: a DECIMAL(9,6)'s is at most 11 bytes
 * ("-179.999999"), a VARCHAR(255) of utf8mb4's at most 1020.
 */
#define DECIMAL_TEXT	16
#define NAME_TEXT	1024

/* An R_GET row, and the document the rows so far build. */
struct get_doc {
	MYSQL_TIME	 requested_at, finished_at, observed_at, done_at;
	unsigned long long total, request, city_id, humidity, state;
	char		 name[NAME_TEXT], country[16];
	char		 lat[DECIMAL_TEXT], lon[DECIMAL_TEXT];
	char		 temperature[DECIMAL_TEXT];
	char		 error[1024];
	unsigned long	 name_len, country_len, lat_len, lon_len;
	unsigned long	 temp_len, error_len;
	my_bool		 finished_null, city_null, temp_null, error_null;
	my_bool		 name_null, country_null, lat_null, lon_null;
	my_bool		 hum_null, obs_null, done_null;

	MYSQL_TIME	 req, last;	/* requested, the latest done */
	unsigned long long collected, failed, pending;
	int		 rows, settled, any_done;
	read_city_fn	*city;		/* takes each done city */
	void		*arg;
};

/* An R_LIST row, and the page the rows so far fill. */
struct list_page {
	unsigned long long rid, total, collected, failed;
	char		 id[ID_MAX];
	unsigned long	 idlen;
	MYSQL_TIME	 req, fin;
	my_bool		 fin_null;

	struct read_page *page;
};

static MYSQL_STMT		*st[R_COUNT];
static struct db_set		 read_stmts = DB_SET(sql, st);
static struct get_doc		 doc;

int
read_open(MYSQL *db, struct db_err *e)
{
	return db_set_open(&read_stmts, db, e);
}

void
read_close(void)
{
	db_set_close(&read_stmts);
}

static size_t
clamp(unsigned long len, size_t cap)
{
	return len < cap ? len : cap;
}

/* Orders two DATETIME values (same time zone, as all of ours are). */
static int
time_cmp(const MYSQL_TIME *a, const MYSQL_TIME *b)
{
	unsigned long	 x[] = { a->year, a->month, a->day, a->hour,
			    a->minute, a->second, a->second_part };
	unsigned long	 y[] = { b->year, b->month, b->day, b->hour,
			    b->minute, b->second, b->second_part };
	size_t		 i;

	for (i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* A version's columns (R_VERSION's, R_LIST_VERSION's) into v. */
static void
version_bind(MYSQL_BIND *o, struct getcache_version *v)
{
	db_bind_u64(&o[0], &v->row);
	db_bind_u64(&o[1], &v->final);
	db_bind_u64(&o[2], &v->ended);
}

/*
 * Its row, and, until the row is settled finished, the fetches ended: one
 * unique-key lookup and a sum of the counters' few rows.
 */
enum store_rc
read_get_version(const char *id, size_t idlen, struct getcache_version *v)
{
	MYSQL_BIND	 b[1], o[3];
	unsigned long	 len;
	struct db_err	 e;
	int		 rc;

	if (store_conn() == NULL)
		return STORE_UNAVAILABLE;
	db_bind_bytes(&b[0], id, idlen, &len);
	version_bind(o, v);
	if ((rc = db_one_row(read_stmts.db, st[R_VERSION], b, o, "get version",
	    &e)) != 0)
		return rc == DB_NO_ROW ? STORE_NOTFOUND :
		    store_fail("GET /get", &e);
	if (v->final)
		v->ended = 0;	/* it never changes again */
	return STORE_OK;
}

static void
get_bind(MYSQL_BIND *o, struct get_doc *d)
{
	db_bind_time(&o[G_REQUESTED_AT], &d->requested_at);
	db_bind_time(&o[G_FINISHED_AT], &d->finished_at);
	o[G_FINISHED_AT].is_null = &d->finished_null;
	db_bind_u64(&o[G_TOTAL], &d->total);
	db_bind_u64(&o[G_REQUEST], &d->request);
	db_bind_u64(&o[G_CITY_ID], &d->city_id);
	o[G_CITY_ID].is_null = &d->city_null;
	db_bind_out_str(&o[G_NAME], d->name, sizeof(d->name), &d->name_len,
	    &d->name_null);
	db_bind_out_str(&o[G_COUNTRY], d->country, sizeof(d->country),
	    &d->country_len, &d->country_null);
	db_bind_out_str(&o[G_LAT], d->lat, sizeof(d->lat), &d->lat_len,
	    &d->lat_null);
	db_bind_out_str(&o[G_LON], d->lon, sizeof(d->lon), &d->lon_len,
	    &d->lon_null);
	db_bind_out_str(&o[G_TEMPERATURE], d->temperature,
	    sizeof(d->temperature), &d->temp_len, &d->temp_null);
	db_bind_u64(&o[G_HUMIDITY], &d->humidity);
	o[G_HUMIDITY].is_null = &d->hum_null;
	db_bind_time(&o[G_OBSERVED_AT], &d->observed_at);
	o[G_OBSERVED_AT].is_null = &d->obs_null;
	db_bind_out_str(&o[G_ERROR], d->error, sizeof(d->error),
	    &d->error_len, &d->error_null);
	db_bind_u64(&o[G_STATE], &d->state);
	db_bind_time(&o[G_DONE_AT], &d->done_at);
	o[G_DONE_AT].is_null = &d->done_null;
}

/* A nullable text column of the row into *s, *n: NULL when null. */
static void
text(const char **s, size_t *n, const char *col, size_t cap,
    unsigned long len, my_bool null)
{
	*s = null ? NULL : col;
	*n = null ? 0 : clamp(len, cap);
}

/* A done city of the row to the caller: its reading, or why it failed. */
static void
get_city(const struct get_doc *d)
{
	struct read_city c = { .city_id = d->city_id };

	text(&c.name, &c.name_len, d->name, sizeof(d->name), d->name_len,
	    d->name_null);
	text(&c.country, &c.country_len, d->country, sizeof(d->country),
	    d->country_len, d->country_null);
	text(&c.lat, &c.lat_len, d->lat, sizeof(d->lat), d->lat_len,
	    d->lat_null);
	text(&c.lon, &c.lon_len, d->lon, sizeof(d->lon), d->lon_len,
	    d->lon_null);
	if (!d->temp_null && !d->hum_null && !d->obs_null) {
		c.temperature = d->temperature;
		c.temperature_len = clamp(d->temp_len, sizeof(d->temperature));
		c.humidity = d->humidity;
		c.observed_at = &d->observed_at;
	} else if (!d->error_null) {
		c.error = d->error;
		c.error_len = clamp(d->error_len, sizeof(d->error));
	}
	d->city(d->arg, &c);
}

static int
get_row(void *arg, struct db_err *e)
{
	struct get_doc	*d = arg;

	(void)e;
	if (d->rows++ == 0) {
		d->req = d->requested_at;
		if ((d->settled = !d->finished_null))
			d->last = d->finished_at;
	}
	if (d->state == STATE_PENDING) {
		d->pending++;
		return 0;
	}
	if (d->state == STATE_COLLECTED)
		d->collected++;
	else
		d->failed++;
	get_city(d);
	if (!d->settled && !d->done_null &&
	    (!d->any_done || time_cmp(&d->done_at, &d->last) > 0)) {
		d->last = d->done_at;
		d->any_done = 1;
	}
	return 0;
}

/*
 * When the request finished: the row's finished_at once settled, else,
 * once no city is pending, the contract's rule (the latest done_at, never
 * before requested_at; R_LIVE's in SQL).  0 while it is not.
 */
static int
get_finished(struct get_doc *d)
{
	if (d->settled)
		return 1;
	if (d->pending > 0)
		return 0;
	if (!d->any_done || time_cmp(&d->req, &d->last) > 0)
		d->last = d->req;
	return 1;
}

enum store_rc
read_get(const char *id, size_t idlen, read_city_fn *city, void *arg,
    struct read_request *q)
{
	MYSQL_BIND	 b[1], o[G_COLS];
	unsigned long	 len;
	struct db_err	 e;

	if (store_conn() == NULL)
		return STORE_UNAVAILABLE;
	if (idlen > sizeof(q->id))
		return STORE_NOTFOUND;	/* validation lets none through */
	memset(&doc, 0, sizeof(doc));
	doc.city = city;
	doc.arg = arg;
	db_bind_bytes(&b[0], id, idlen, &len);
	get_bind(o, &doc);
	if (db_rows(read_stmts.db, st[R_GET], b, o, "get", get_row, &doc, &e) == -1)
		return store_fail("GET /get", &e);
	if (doc.rows == 0)
		return STORE_NOTFOUND;
	memcpy(q->id, id, idlen);
	q->idlen = idlen;
	q->requested_at = doc.req;
	if ((q->finished = get_finished(&doc)))
		q->finished_at = doc.last;
	q->total = doc.total;
	q->collected = doc.collected;
	q->failed = doc.failed;
	return STORE_OK;
}

int
read_live(unsigned long long rid, struct live *lv, const char *what,
    struct db_err *e)
{
	MYSQL_BIND	 b[1], o[4];

	db_bind_u64(&b[0], &rid);
	db_bind_u64(&o[0], &lv->collected);
	o[0].is_null = &lv->c_null;
	db_bind_u64(&o[1], &lv->failed);
	o[1].is_null = &lv->f_null;
	db_bind_u64(&o[2], &lv->pending);
	o[2].is_null = &lv->p_null;
	db_bind_time(&o[3], &lv->fin);
	o[3].is_null = &lv->fin_null;
	return db_one_row(read_stmts.db, st[R_LIVE], b, o, what, e) == 0 ? 0 :
	    -1;
}

/* A page's row: an unfinished one live, like GET; then into the page. */
static int
list_row(void *arg, struct db_err *e)
{
	struct list_page *l = arg;
	struct read_request *q;
	struct live	 lv;

	if (l->page->n == READ_PAGE_MAX)
		return 0;	/* LIMIT never gives more */
	if (l->fin_null) {
		if (read_live(l->rid, &lv, "list progress", e) == -1)
			return -1;
		/* NULL: the row went meanwhile (a purge): as read. */
		if (!lv.c_null && !lv.f_null && !lv.p_null) {
			l->collected = lv.collected;
			l->failed = lv.failed;
			if (lv.pending == 0 && !lv.fin_null) {
				l->fin = lv.fin;
				l->fin_null = 0;
			}
		}
	}
	q = &l->page->req[l->page->n++];
	q->idlen = clamp(l->idlen, sizeof(l->id));
	memcpy(q->id, l->id, q->idlen);
	q->requested_at = l->req;
	if ((q->finished = !l->fin_null))
		q->finished_at = l->fin;
	q->total = l->total;
	q->collected = l->collected;
	q->failed = l->failed;
	l->page->next = l->rid;
	return 0;
}

/* The page's rows into p; -1 with e filled. */
static int
list_rows(unsigned long long before, unsigned long long limit,
    struct read_page *p, struct db_err *e)
{
	struct list_page l = { .page = p };
	MYSQL_BIND	 b[2], o[L_COLS];

	db_bind_u64(&b[0], &before);
	db_bind_u64(&b[1], &limit);
	db_bind_u64(&o[L_ID], &l.rid);
	db_bind_out_str(&o[L_EXT_ID], l.id, sizeof(l.id), &l.idlen, NULL);
	db_bind_time(&o[L_REQUESTED_AT], &l.req);
	db_bind_time(&o[L_FINISHED_AT], &l.fin);
	o[L_FINISHED_AT].is_null = &l.fin_null;
	db_bind_u64(&o[L_TOTAL], &l.total);
	db_bind_u64(&o[L_COLLECTED], &l.collected);
	db_bind_u64(&o[L_FAILED], &l.failed);
	p->n = 0;
	if (db_rows(read_stmts.db, st[R_LIST], b, o, "list", list_row, &l, e) == -1)
		return -1;
	/* A full page may have a next one; its cursor is the last row id. */
	p->more = p->n == limit;
	return 0;
}

/* The newest and oldest rows, and the fetches ended. */
enum store_rc
read_list_version(struct getcache_version *version)
{
	MYSQL_BIND	 o[3];
	struct db_err	 e;

	if (store_conn() == NULL)
		return STORE_UNAVAILABLE;
	version_bind(o, version);
	if (db_one_row(read_stmts.db, st[R_LIST_VERSION], NULL, o, "list version",
	    &e) != 0)
		return store_fail("GET /collect", &e);
	return STORE_OK;
}

enum store_rc
read_list(unsigned long long before, unsigned long long limit,
    struct read_page *p)
{
	struct db_err	 e;

	if (store_conn() == NULL)
		return STORE_UNAVAILABLE;
	if (limit > READ_PAGE_MAX)
		limit = READ_PAGE_MAX;
	if (list_rows(before, limit, p, &e) == -1)
		return store_fail("GET /collect", &e);
	return STORE_OK;
}
