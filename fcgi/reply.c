/*
 * reply.c: see reply.h.
 *
 * Times are the database's (UTC) in ISO 8601: a request's with
 * microseconds, a reading's to the second.  Progress is (collected +
 * failed) / total * 100 with two decimals, cut, never rounded up, so it
 * shows 100 only when every city is done.  A document's CSV (csv.c for
 * the quoting) has the JSON's data items as records, their values
 * written as the JSON writes them, a null as an empty field.
 *
 * A document's items are formatted as the rows come (read.h), into a
 * list the document then takes whole: its head (progress, finished_at)
 * is known only after the last row, and a request of thousands of cities
 * is never held as anything but its text.
 */
#include <stdio.h>
#include <string.h>

#include "reply.h"
#include "csv.h"
#include "health.h"
#include "json.h"
#include "post.h"
#include "read.h"
#include "rules.h"
#include "validate.h"

#define STR_(x)	#x
#define STR(x)	STR_(x)

/* What a failed city without a reason says. */
#define UNKNOWN_ERROR	"unknown error"

/* Room for time_text's and num_text's text, whatever the values. */
#define TIME_TEXT	96
#define NUM_TEXT	24

/* A time in ISO 8601 (UTC), microseconds when micro: its length. */
static size_t
time_text(char *s, size_t cap, const MYSQL_TIME *t, int micro)
{
	int	 n;

	if (micro)
		n = snprintf(s, cap, "%04u-%02u-%02uT%02u:%02u:%02u.%06luZ",
		    t->year, t->month, t->day, t->hour, t->minute, t->second,
		    t->second_part);
	else
		n = snprintf(s, cap, "%04u-%02u-%02uT%02u:%02u:%02uZ",
		    t->year, t->month, t->day, t->hour, t->minute, t->second);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static size_t
num_text(char *s, size_t cap, unsigned long long v)
{
	int	 n = snprintf(s, cap, "%llu", v);

	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void
add_time(struct buf *out, const MYSQL_TIME *t, int micro)
{
	char	 s[TIME_TEXT];

	buf_addc(out, '"');
	buf_add(out, s, time_text(s, sizeof(s), t, micro));
	buf_addc(out, '"');
}

static void
add_progress(struct buf *out, unsigned long long done,
    unsigned long long total)
{
	unsigned long long h = total ? done * 10000 / total : 0;

	buf_printf(out, "%llu.%02llu", h / 100, h % 100);
}

/* Microseconds as seconds with three decimals. */
static void
add_secs(struct buf *out, long long us)
{
	if (us < 0)
		us = 0;
	buf_printf(out, "%lld.%03lld", us / 1000000, us / 1000 % 1000);
}

void
reply_error(struct buf *out, const char *msg)
{
	buf_adds(out, "{\"error\": ");
	json_str(out, msg, strlen(msg));
	buf_adds(out, "}\n");
}

/* 1 if c is an RFC 3986 unreserved byte: [A-Za-z0-9._~-]. */
static int
url_unreserved(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == '~';
}

long
reply_percent_encode(const char *s, size_t n, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (url_unreserved((char)c)) {
			if (o >= cap)
				return -3;
			out[o++] = (char)c;
			continue;
		}
		if (cap - o < 3)
			return -3;
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	return (long)o;
}

void
reply_status_url(struct buf *out, const char *id, size_t idlen)
{
	char	 enc[ID_MAX * 3];
	long	 n;

	if (idlen > ID_MAX ||
	    (n = reply_percent_encode(id, idlen, enc, sizeof(enc))) < 0) {
		out->failed = 1;
		return;
	}
	buf_adds(out, "/get?id=");
	buf_add(out, enc, (size_t)n);
}

void
reply_accepted(struct buf *out, const char *id, size_t idlen,
    const struct accepted *a, const char *status_url)
{
	buf_adds(out, "{\"id\": ");
	json_str(out, id, idlen);
	buf_adds(out, ", \"requested_at\": ");
	add_time(out, &a->requested_at, 1);
	buf_printf(out, ", \"total\": %u, \"progress\": ", a->total);
	add_progress(out, a->done, a->total);
	buf_printf(out, ", \"status_url\": \"%s\"}\n", status_url);
}

/* A request's members, without the object's closing brace. */
static void
request_head(struct buf *out, const struct read_request *q)
{
	buf_adds(out, "{\"id\": ");
	json_str(out, q->id, q->idlen);
	buf_adds(out, ", \"requested_at\": ");
	add_time(out, &q->requested_at, 1);
	buf_adds(out, ", \"finished_at\": ");
	if (!q->finished)
		buf_adds(out, "null");
	else
		add_time(out, &q->finished_at, 1);
	buf_adds(out, ", \"progress\": ");
	add_progress(out, q->collected + q->failed, q->total);
	buf_printf(out, ", \"total\": %llu, \"collected\": %llu, "
	    "\"failed\": %llu", q->total, q->collected, q->failed);
}

/* A string member's value, or null. */
static void
add_str(struct buf *out, const char *s, size_t n)
{
	if (s == NULL)
		buf_adds(out, "null");
	else
		json_str(out, s, n);
}

/*
 * A DECIMAL's text as a JSON number, its fraction's trailing zeros cut
 * (51.508500 -> 51.5085, 10.000000 -> 10); null when NULL, or if it is
 * not a number (a DECIMAL column's text always is).
 */
static void
add_decimal(struct buf *out, const char *s, size_t n)
{
	if (s != NULL && memchr(s, '.', n) != NULL) {
		while (s[n - 1] == '0')
			n--;
		if (s[n - 1] == '.')
			n--;
	}
	if (s == NULL || !json_number_valid(s, n))
		buf_adds(out, "null");
	else
		buf_add(out, s, n);
}

void
reply_city(struct buf *items, const struct read_city *c)
{
	buf_printf(items, "%s{\"city_id\": %llu, \"name\": ",
	    items->len ? ", " : "", c->city_id);
	add_str(items, c->name, c->name_len);
	buf_adds(items, ", \"country\": ");
	add_str(items, c->country, c->country_len);
	buf_adds(items, ", \"lat\": ");
	add_decimal(items, c->lat, c->lat_len);
	buf_adds(items, ", \"lon\": ");
	add_decimal(items, c->lon, c->lon_len);
	buf_adds(items, ", ");
	if (c->temperature != NULL) {
		buf_adds(items, "\"temperature\": ");
		buf_add(items, c->temperature, c->temperature_len);
		buf_printf(items, ", \"humidity\": %llu, \"observed_at\": ",
		    c->humidity);
		add_time(items, c->observed_at, 0);
	} else {
		buf_adds(items, "\"error\": ");
		if (c->error == NULL)
			buf_adds(items, "\"" UNKNOWN_ERROR "\"");
		else
			json_str(items, c->error, c->error_len);
	}
	buf_addc(items, '}');
}

void
reply_document(struct buf *out, const struct read_request *q,
    const struct buf *items)
{
	request_head(out, q);
	buf_adds(out, ", \"data\": [");
	buf_add(out, items->data, items->len);
	if (items->failed)
		out->failed = 1;
	buf_adds(out, "]}\n");
}

/* GET /get?format=csv's columns, and its header record. */
enum {
	CSV_CITY_ID,
	CSV_NAME,
	CSV_COUNTRY,
	CSV_TEMPERATURE,
	CSV_HUMIDITY,
	CSV_OBSERVED_AT,
	CSV_ERROR,
	CSV_COLS
};
#define CSV_F(s)	{ s, sizeof(s) - 1 }
static const struct csv_field csv_head[CSV_COLS] = {
	[CSV_CITY_ID] = CSV_F("city_id"),
	[CSV_NAME] = CSV_F("name"),
	[CSV_COUNTRY] = CSV_F("country"),
	[CSV_TEMPERATURE] = CSV_F("temperature"),
	[CSV_HUMIDITY] = CSV_F("humidity"),
	[CSV_OBSERVED_AT] = CSV_F("observed_at"),
	[CSV_ERROR] = CSV_F("error"),
};

void
reply_csv_city(struct buf *rows, const struct read_city *c)
{
	struct csv_field f[CSV_COLS] = { { NULL, 0 } };
	char		 id[NUM_TEXT], hum[NUM_TEXT], obs[TIME_TEXT];

	f[CSV_CITY_ID].s = id;
	f[CSV_CITY_ID].n = num_text(id, sizeof(id), c->city_id);
	f[CSV_NAME] = (struct csv_field){ c->name, c->name_len };
	f[CSV_COUNTRY] = (struct csv_field){ c->country, c->country_len };
	if (c->temperature != NULL) {
		f[CSV_TEMPERATURE] = (struct csv_field){ c->temperature,
		    c->temperature_len };
		f[CSV_HUMIDITY].s = hum;
		f[CSV_HUMIDITY].n = num_text(hum, sizeof(hum), c->humidity);
		f[CSV_OBSERVED_AT].s = obs;
		f[CSV_OBSERVED_AT].n = time_text(obs, sizeof(obs),
		    c->observed_at, 0);
	} else if (c->error != NULL)
		f[CSV_ERROR] = (struct csv_field){ c->error, c->error_len };
	else
		f[CSV_ERROR] = (struct csv_field)CSV_F(UNKNOWN_ERROR);
	csv_row(rows, f, CSV_COLS);
}

void
reply_csv_document(struct buf *out, const struct buf *rows)
{
	csv_row(out, csv_head, CSV_COLS);
	buf_add(out, rows->data, rows->len);
	if (rows->failed)
		out->failed = 1;
}

/* A byte that may stand in the quoted filename as it is: [A-Za-z0-9._-]. */
static int
filename_plain(char c)
{
	return url_unreserved(c) && c != '~';
}

void
reply_csv_disposition(struct buf *out, const char *id, size_t idlen)
{
	char	 enc[ID_MAX * 3];
	long	 n;
	size_t	 i;

	if (idlen > ID_MAX ||
	    (n = reply_percent_encode(id, idlen, enc, sizeof(enc))) < 0) {
		out->failed = 1;
		return;
	}
	buf_adds(out, "attachment; filename=\"");
	for (i = 0; i < idlen; i++)
		buf_addc(out, filename_plain(id[i]) ? id[i] : '_');
	buf_adds(out, ".csv\"; filename*=UTF-8''");
	buf_add(out, enc, (size_t)n);
	buf_adds(out, ".csv");
}

void
reply_page(struct buf *out, const struct read_page *p)
{
	size_t	 i;

	buf_adds(out, "{\"requests\": [");
	for (i = 0; i < p->n; i++) {
		if (i > 0)
			buf_adds(out, ", ");
		request_head(out, &p->req[i]);
		buf_addc(out, '}');
	}
	if (p->more)
		buf_printf(out, "], \"next\": \"%llu\"}\n", p->next);
	else
		buf_adds(out, "], \"next\": null}\n");
}

/* The worker hosts' list, without its brackets. */
static void
health_hosts(struct buf *out, const struct health *h)
{
	const struct health_host *w;
	size_t		 i;

	for (i = 0; i < h->hosts; i++) {
		w = &h->host[i];
		buf_adds(out, i > 0 ? ", {\"host\": " : "{\"host\": ");
		json_str(out, w->host, w->len);
		buf_printf(out, ", \"children_alive\": %lld, "
		    "\"heartbeat_age_s\": ", w->alive);
		if (!w->age_known)
			buf_adds(out, "null");
		else
			add_secs(out, w->age_us);
		buf_addc(out, '}');
	}
}

/*
 * The gate: "held" while the API is unreachable (with the last error and
 * since when), else "paused" (a 429, the key, the month) or "running";
 * until: the end of a pause in force (the next probe, while held).
 */
static void
health_gate(struct buf *out, const struct health *h)
{
	buf_printf(out, "], \"gate\": {\"state\": \"%s\", \"reason\": ",
	    h->down ? "held" : h->paused ? "paused" : "running");
	if (h->paused)
		json_str(out, h->reason, h->reason_len);
	else if (h->down)
		json_str(out, RULES_PAUSE_DOWN, strlen(RULES_PAUSE_DOWN));
	else
		buf_adds(out, "null");
	buf_adds(out, ", \"until\": ");
	if (h->paused)
		json_str(out, h->until, h->until_len);
	else
		buf_adds(out, "null");
	buf_adds(out, ", \"since\": ");
	if (h->down)
		json_str(out, h->since, h->since_len);
	else
		buf_adds(out, "null");
	buf_adds(out, ", \"error\": ");
	if (h->down)
		json_str(out, h->down_why, h->down_why_len);
	else
		buf_adds(out, "null");
	buf_addc(out, '}');
}

/*
 * 200 while the service can do its job: the database answers, some
 * worker child beat within RULES_ALIVE_S and the key is not refused.
 * "degraded": still 200, but the gate is paused (a 429, the monthly cap)
 * or held (the API unreachable), or a worker host has no child alive.
 */
int
reply_health(struct buf *out, const struct health *h)
{
	int		 ok = h->alive_hosts > 0 && !h->key_paused;
	const char	*status = !ok ? "down" : h->paused || h->down ||
			    h->hosts > h->alive_hosts ? "degraded" : "ok";

	buf_printf(out, "{\"status\": \"%s\", \"database\": "
	    "{\"reachable\": true}, \"workers\": [", status);
	health_hosts(out, h);
	health_gate(out, h);
	buf_printf(out, ", \"queue\": {\"cities\": %lld, \"oldest_age_s\": ",
	    h->queued);
	if (h->oldest_null)
		buf_adds(out, "null");
	else
		add_secs(out, h->oldest_us);
	buf_adds(out, "}}\n");
	return ok ? 200 : 503;
}

void
reply_health_down(struct buf *out)
{
	buf_adds(out, "{\"status\": \"down\", \"database\": "
	    "{\"reachable\": false}, \"workers\": [], \"gate\": null, "
	    "\"queue\": null}\n");
}

static void
family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

/* A label value: backslash, quote and newline escaped. */
static void
label_value(struct buf *out, const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\' || s[i] == '"')
			buf_addc(out, '\\');
		if (s[i] == '\n') {
			buf_adds(out, "\\n");
			continue;
		}
		buf_addc(out, s[i]);
	}
}

/* The API calls, one sample per outcome. */
static void
metrics_calls(struct buf *out, const struct health_sums *m)
{
	size_t	 i;

	family(out, "owmcollect_api_calls_total", "counter",
	    "API calls made by the workers, by outcome.");
	for (i = 0; i < m->calls; i++) {
		buf_adds(out, "owmcollect_api_calls_total{outcome=\"");
		label_value(out, m->call[i].outcome, m->call[i].len);
		buf_printf(out, "\"} %lld\n", m->call[i].n);
	}
}

/* A metric of one sample without labels. */
static void
metric(struct buf *out, const char *name, const char *type, const char *help,
    long long v)
{
	family(out, name, type, help);
	buf_printf(out, "%s %lld\n", name, v);
}

/* The gate's pause, one sample per reason a pause can have. */
static void
metrics_paused(struct buf *out, const struct health_sums *m)
{
	family(out, "owmcollect_gate_paused", "gauge",
	    "1 while the rate gate pauses every call for this reason, else 0.");
	buf_printf(out, "owmcollect_gate_paused{reason=\"" RULES_PAUSE_429
	    "\"} %d\n", m->paused_429 != 0);
	buf_printf(out, "owmcollect_gate_paused{reason=\"" RULES_PAUSE_KEY
	    "\"} %d\n", m->paused_key != 0);
	buf_printf(out, "owmcollect_gate_paused{reason=\"" RULES_PAUSE_MONTH
	    "\"} %d\n", m->paused_month != 0);
}

/* The program's own answers, by status class (answers.c). */
static void
metrics_answers(struct buf *out, const struct health_sums *m)
{
	int	 i;

	family(out, "owmcollect_http_answers_total", "counter",
	    "Answers of the FastCGI program since it started, by HTTP status "
	    "class.");
	for (i = 0; i < ANSWERS_CLASSES; i++)
		buf_printf(out, "owmcollect_http_answers_total{code=\"%dxx\"} "
		    "%lld\n", i + 1, m->answers[i]);
	metric(out, "owmcollect_http_post_waits_total", "counter",
	    "POSTs of the FastCGI program since it started that waited for "
	    "a turn while the worker was behind (http.posts_while_behind).",
	    m->post_waits);
	family(out, "owmcollect_http_post_wait_seconds_total", "counter",
	    "Their time waiting, in all.");
	buf_printf(out, "owmcollect_http_post_wait_seconds_total %.6f\n",
	    m->post_wait_s);
}

void
reply_metrics(struct buf *out, const struct health_sums *m, long long limit)
{
	metric(out, "owmcollect_requests_accepted_total", "counter",
	    "Collection requests accepted (POST /collect answered 202).",
	    m->requests);
	family(out, "owmcollect_cities", "gauge",
	    "Cities of every request, by state.");
	buf_printf(out, "owmcollect_cities{state=\"pending\"} %lld\n"
	    "owmcollect_cities{state=\"collected\"} %lld\n"
	    "owmcollect_cities{state=\"failed\"} %lld\n", m->pending,
	    m->collected, m->failed);
	metrics_calls(out, m);
	metric(out, "owmcollect_gate_window_cities", "gauge",
	    "Cities sent in the last " STR(RULES_WINDOW_S) " s (rate gate "
	    "reservations).", m->window);
	metric(out, "owmcollect_gate_limit_cities_per_minute", "gauge",
	    "The configured limit (owm.cities_per_minute).", limit);
	family(out, "owmcollect_gate_wait_seconds_total", "counter",
	    "Time the worker children slept at the rate gate.");
	buf_printf(out, "owmcollect_gate_wait_seconds_total %lld.%06lld\n",
	    m->wait_us / 1000000, m->wait_us % 1000000);
	metric(out, "owmcollect_worker_children_alive", "gauge",
	    "Worker children with a heartbeat younger than "
	    STR(RULES_ALIVE_S) " s.", m->alive);
	metric(out, "owmcollect_worker_restarts_total", "counter",
	    "Restarts of the live children's slots by their supervisors.",
	    m->restarts);
	metric(out, "owmcollect_queue_cities", "gauge",
	    "Cities queued for fetching.", m->queued);
	metric(out, "owmcollect_api_unreachable", "gauge",
	    "1 while no call reaches the API (the gate holds every call but "
	    "a probe), else 0.", m->down_us >= 0);
	family(out, "owmcollect_api_unreachable_seconds", "gauge",
	    "How long the API has been unreachable (0 while it answers).");
	buf_printf(out, "owmcollect_api_unreachable_seconds %lld.%06lld\n",
	    m->down_us > 0 ? m->down_us / 1000000 : 0,
	    m->down_us > 0 ? m->down_us % 1000000 : 0);
	metrics_paused(out, m);
	metric(out, "owmcollect_worker_behind", "gauge",
	    "1 while the worker says it is behind: its children find the "
	    "rate gate open and spend their time at the database (POSTs "
	    "then give way), else 0.", m->behind);
	family(out, "owmcollect_queue_oldest_age_seconds", "gauge",
	    "Age of the oldest queued city (0 while none is queued).");
	buf_printf(out, "owmcollect_queue_oldest_age_seconds %lld.%06lld\n",
	    m->oldest_us > 0 ? m->oldest_us / 1000000 : 0,
	    m->oldest_us > 0 ? m->oldest_us % 1000000 : 0);
	family(out, "owmcollect_unresolved_oldest_age_seconds", "gauge",
	    "Age of the oldest deferred collection whose cities the worker "
	    "has not resolved yet (0 while none waits; http.defer).");
	buf_printf(out, "owmcollect_unresolved_oldest_age_seconds "
	    "%lld.%06lld\n",
	    m->unresolved_us > 0 ? m->unresolved_us / 1000000 : 0,
	    m->unresolved_us > 0 ? m->unresolved_us % 1000000 : 0);
	metrics_answers(out, m);
}
