/*
 * check_reply.c: unit tests for fcgi/reply.c, every answer's bytes from
 * the structs the data modules fill (read.h, health.h, post.h), table by
 * table.  GET /get's data items as JSON and as CSV records from the same
 * struct read_city: what the API said of a city (name, country as
 * stored; lat, lon from a DECIMAL's text, trailing zeros cut), nulls,
 * escaping, failed cities, the largest numbers.  The documents around
 * them: no data, unfinished, finished.  GET /collect's pages, /health's
 * document and status, /metrics' samples (escaped labels, the gate's
 * pause, the oldest queued city, the answers by status class), errors,
 * POST's 202 and the URLs and file names an id goes into
 * (percent-encoding, which percent_decode undoes).  The copies each
 * process keeps of its answers (getcache.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_run.h"
#include "getcache.h"
#include "health.h"
#include "parse.h"
#include "post.h"
#include "read.h"
#include "reply.h"
#include "rules.h"
#include "validate.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define S(s)		s, sizeof(s) - 1
#define NONE		NULL, 0
#define STR_(x)		#x
#define STR(x)		STR_(x)

static const MYSQL_TIME obs = { .year = 2026, .month = 11, .day = 27,
	.hour = 21, .minute = 50, .second = 7 };

/* A collected city: its reading after what the API said of it. */
#define READ(id, name, country, lat, lon) \
	{ id, name, country, lat, lon, S("11.50"), 81, &obs, NONE }
/* A failed city. */
#define FAIL(id, name, country, lat, lon, why) \
	{ id, name, country, lat, lon, NONE, 0, NULL, why }

#define HEAD_L	"{\"city_id\": 2643743, \"name\": \"London\", " \
		"\"country\": \"GB\", "
#define READ_J	", \"temperature\": 11.50, \"humidity\": 81, " \
		"\"observed_at\": \"2026-11-27T21:50:07Z\"}"
#define READ_C	",11.50,81,2026-11-27T21:50:07Z,\r\n"

static const struct {
	const char	*name;
	struct read_city c;
	const char	*json, *csv;
} cases[] = {
	{ "collected", READ(2643743, S("London"), S("GB"), S("51.508500"),
	    S("-0.125700")),
	    HEAD_L "\"lat\": 51.5085, \"lon\": -0.1257" READ_J,
	    "2643743,London,GB" READ_C },
	{ "never seen, failed", FAIL(900000001, NONE, NONE, NONE, NONE,
	    S("city not found")),
	    "{\"city_id\": 900000001, \"name\": null, \"country\": null, "
	    "\"lat\": null, \"lon\": null, \"error\": \"city not found\"}",
	    "900000001,,,,,,city not found\r\n" },
	{ "seen, failed", FAIL(7, S("Atlantis"), S("AQ"), S("-75.250000"),
	    S("0.000100"), S("cancelled")),
	    "{\"city_id\": 7, \"name\": \"Atlantis\", \"country\": \"AQ\", "
	    "\"lat\": -75.25, \"lon\": 0.0001, \"error\": \"cancelled\"}",
	    "7,Atlantis,AQ,,,,cancelled\r\n" },
	{ "failed, no reason", FAIL(8, NONE, NONE, NONE, NONE, NONE),
	    "{\"city_id\": 8, \"name\": null, \"country\": null, "
	    "\"lat\": null, \"lon\": null, \"error\": \"unknown error\"}",
	    "8,,,,,,unknown error\r\n" },
	{ "whole degrees", READ(2643743, S("London"), S("GB"), S("10.000000"),
	    S("-180.000000")),
	    HEAD_L "\"lat\": 10, \"lon\": -180" READ_J,
	    "2643743,London,GB" READ_C },
	{ "zero, half", READ(2643743, S("London"), S("GB"), S("0.000000"),
	    S("-0.500000")),
	    HEAD_L "\"lat\": 0, \"lon\": -0.5" READ_J,
	    "2643743,London,GB" READ_C },
	{ "no point: zeros kept", READ(2643743, S("London"), S("GB"), S("100"),
	    S("-20")),
	    HEAD_L "\"lat\": 100, \"lon\": -20" READ_J,
	    "2643743,London,GB" READ_C },
	{ "no zero to cut", READ(2643743, S("London"), S("GB"), S("1.234567"),
	    S("-179.999999")),
	    HEAD_L "\"lat\": 1.234567, \"lon\": -179.999999" READ_J,
	    "2643743,London,GB" READ_C },
	{ "not numbers: null", READ(2643743, S("London"), S("GB"), S(""),
	    S(".000")),
	    HEAD_L "\"lat\": null, \"lon\": null" READ_J,
	    "2643743,London,GB" READ_C },
	{ "non-ASCII raw", READ(3448439, S("S\xc3\xa3o Paulo"), S("BR"),
	    S("-23.547500"), S("-46.636110")),
	    "{\"city_id\": 3448439, \"name\": \"S\xc3\xa3o Paulo\", "
	    "\"country\": \"BR\", \"lat\": -23.5475, \"lon\": -46.63611"
	    READ_J,
	    "3448439,S\xc3\xa3o Paulo,BR" READ_C },
	{ "escaped", READ(1, S("a\"b\\c\nd\xe2\x80\xa8"), NONE, S("1.5"),
	    S("2.50")),
	    "{\"city_id\": 1, \"name\": \"a\\\"b\\\\c\\nd\\u2028\", "
	    "\"country\": null, \"lat\": 1.5, \"lon\": 2.5" READ_J,
	    "1,\"a\"\"b\\c\nd\xe2\x80\xa8\"," READ_C },
	{ "comma, empty country", READ(2, S("Washington, D.C."), S(""),
	    S("38.895100"), S("-77.036400")),
	    "{\"city_id\": 2, \"name\": \"Washington, D.C.\", "
	    "\"country\": \"\", \"lat\": 38.8951, \"lon\": -77.0364" READ_J,
	    "2,\"Washington, D.C.\"," READ_C },
	{ "error quoted", FAIL(3, NONE, NONE, NONE, NONE,
	    S("API said: \"no\", twice")),
	    "{\"city_id\": 3, \"name\": null, \"country\": null, "
	    "\"lat\": null, \"lon\": null, "
	    "\"error\": \"API said: \\\"no\\\", twice\"}",
	    "3,,,,,,\"API said: \"\"no\"\", twice\"\r\n" },
	{ "largest numbers", { ULLONG_MAX, NONE, NONE, S("-90.000000"),
	    S("180.000000"), S("-273.15"), ULLONG_MAX, &obs, NONE },
	    "{\"city_id\": 18446744073709551615, \"name\": null, "
	    "\"country\": null, \"lat\": -90, \"lon\": 180, "
	    "\"temperature\": -273.15, \"humidity\": 18446744073709551615, "
	    "\"observed_at\": \"2026-11-27T21:50:07Z\"}",
	    "18446744073709551615,,,-273.15,18446744073709551615,"
	    "2026-11-27T21:50:07Z,\r\n" },
	{ "error with a comma and CRLF", FAIL(4, NONE, NONE, NONE, NONE,
	    S("HTTP 502,\r\nbad gateway")),
	    "{\"city_id\": 4, \"name\": null, \"country\": null, "
	    "\"lat\": null, \"lon\": null, "
	    "\"error\": \"HTTP 502,\\r\\nbad gateway\"}",
	    "4,,,,,,\"HTTP 502,\r\nbad gateway\"\r\n" },
};

static void
expect(const char *what, const char *name, const struct buf *b,
    const char *want)
{
	ck_assert_msg(!b->failed, "%s case \"%s\": the buffer failed", what,
	    name);
	ck_assert_msg(b->len == strlen(want) &&
	    memcmp(b->data, want, b->len) == 0,
	    "%s case \"%s\":\n got [%.*s]\nwant [%s]", what, name,
	    (int)b->len, b->data, want);
}

START_TEST(test_json_item)
{
	struct buf	 b;

	buf_init(&b, 0);
	reply_city(&b, &cases[_i].c);
	expect("json", cases[_i].name, &b, cases[_i].json);
	buf_free(&b);
}
END_TEST

START_TEST(test_csv_record)
{
	struct buf	 b;

	buf_init(&b, 0);
	reply_csv_city(&b, &cases[_i].c);
	expect("csv", cases[_i].name, &b, cases[_i].csv);
	buf_free(&b);
}
END_TEST

/* Items are separated, the CSV document has its header first. */
START_TEST(test_documents)
{
	struct buf	 items, rows, out;

	buf_init(&items, 0);
	buf_init(&rows, 0);
	buf_init(&out, 0);
	reply_city(&items, &cases[0].c);
	reply_city(&items, &cases[1].c);
	ck_assert_msg(items.len == strlen(cases[0].json) + 2 +
	    strlen(cases[1].json) && memcmp(items.data + strlen(cases[0].json),
	    ", {", 3) == 0, "two items: [%.*s]", (int)items.len, items.data);
	reply_csv_document(&out, &rows);
	expect("csv", "no rows", &out,
	    "city_id,name,country,temperature,humidity,observed_at,error\r\n");
	buf_reset(&out);
	reply_csv_city(&rows, &cases[0].c);
	reply_csv_city(&rows, &cases[1].c);
	reply_csv_document(&out, &rows);
	ck_assert(out.len > rows.len && memcmp(out.data + out.len - rows.len,
	    rows.data, rows.len) == 0);
	buf_free(&items);
	buf_free(&rows);
	buf_free(&out);
}
END_TEST

/* ---- documents ----------------------------------------------------- */

static const MYSQL_TIME t_req = { .year = 2026, .month = 1, .day = 2,
	.hour = 3, .minute = 4, .second = 5, .second_part = 60708 };
static const MYSQL_TIME t_fin = { .year = 2026, .month = 12, .day = 31,
	.hour = 23, .minute = 59, .second = 59, .second_part = 999999 };

#define REQ_HEAD(id) "{\"id\": \"" id "\", " \
		"\"requested_at\": \"2026-01-02T03:04:05.060708Z\", "
#define FIN	"\"finished_at\": \"2026-12-31T23:59:59.999999Z\", "

/*
 * A request (its id, finished or not, counts) with the first ncities of
 * cases[] as its done cities, and the document expected.
 */
static const struct {
	const char	*name;
	const char	*id;
	int		 finished;
	unsigned long long total, collected, failed;
	size_t		 ncities;
	const char	*want;
} doc_cases[] = {
	{ "no city done", "a", 0, 3, 0, 0, 0,
	    REQ_HEAD("a") "\"finished_at\": null, \"progress\": 0.00, "
	    "\"total\": 3, \"collected\": 0, \"failed\": 0, \"data\": []}\n" },
	{ "one of three, cut not rounded", "b", 0, 3, 1, 0, 1,
	    REQ_HEAD("b") "\"finished_at\": null, \"progress\": 33.33, "
	    "\"total\": 3, \"collected\": 1, \"failed\": 0, \"data\": ["
	    HEAD_L "\"lat\": 51.5085, \"lon\": -0.1257" READ_J "]}\n" },
	{ "two of three: 66.66", "c", 0, 3, 1, 1, 2,
	    REQ_HEAD("c") "\"finished_at\": null, \"progress\": 66.66, "
	    "\"total\": 3, \"collected\": 1, \"failed\": 1, \"data\": ["
	    HEAD_L "\"lat\": 51.5085, \"lon\": -0.1257" READ_J ", "
	    "{\"city_id\": 900000001, \"name\": null, \"country\": null, "
	    "\"lat\": null, \"lon\": null, \"error\": \"city not found\"}"
	    "]}\n" },
	{ "finished, all failed", "d\"\\", 1, 1, 0, 1, 1,
	    "{\"id\": \"d\\\"\\\\\", "
	    "\"requested_at\": \"2026-01-02T03:04:05.060708Z\", " FIN
	    "\"progress\": 100.00, \"total\": 1, \"collected\": 0, "
	    "\"failed\": 1, \"data\": [" HEAD_L "\"lat\": 51.5085, "
	    "\"lon\": -0.1257" READ_J "]}\n" },
	{ "999 of 1000 is not 100", "e", 0, 1000, 990, 9, 0,
	    REQ_HEAD("e") "\"finished_at\": null, \"progress\": 99.90, "
	    "\"total\": 1000, \"collected\": 990, \"failed\": 9, "
	    "\"data\": []}\n" },
	{ "no cities at all", "f", 1, 0, 0, 0, 0,
	    REQ_HEAD("f") FIN "\"progress\": 0.00, \"total\": 0, "
	    "\"collected\": 0, \"failed\": 0, \"data\": []}\n" },
};

static void
doc_request(struct read_request *q, int i)
{
	memset(q, 0, sizeof(*q));
	q->idlen = strlen(doc_cases[i].id);
	memcpy(q->id, doc_cases[i].id, q->idlen);
	q->requested_at = t_req;
	q->finished = doc_cases[i].finished;
	if (q->finished)
		q->finished_at = t_fin;
	q->total = doc_cases[i].total;
	q->collected = doc_cases[i].collected;
	q->failed = doc_cases[i].failed;
}

START_TEST(test_document)
{
	struct read_request q;
	struct buf	 items, out;
	size_t		 k;

	doc_request(&q, _i);
	buf_init(&items, 0);
	buf_init(&out, 0);
	for (k = 0; k < doc_cases[_i].ncities; k++)
		reply_city(&items, &cases[k].c);
	reply_document(&out, &q, &items);
	expect("document", doc_cases[_i].name, &out, doc_cases[_i].want);
	buf_free(&items);
	buf_free(&out);
}
END_TEST

/* The CSV document of the same cities: the header, then their records. */
START_TEST(test_csv_document)
{
	struct buf	 rows, out, want;
	size_t		 k;

	buf_init(&rows, 0);
	buf_init(&out, 0);
	buf_init(&want, 0);
	buf_adds(&want,
	    "city_id,name,country,temperature,humidity,observed_at,error\r\n");
	for (k = 0; k < doc_cases[_i].ncities; k++) {
		reply_csv_city(&rows, &cases[k].c);
		buf_adds(&want, cases[k].csv);
	}
	reply_csv_document(&out, &rows);
	buf_addc(&want, '\0');
	expect("csv document", doc_cases[_i].name, &out, want.data);
	buf_free(&rows);
	buf_free(&out);
	buf_free(&want);
}
END_TEST

/* A document whose items ran out of memory fails too. */
START_TEST(test_document_failed_items)
{
	struct read_request q;
	struct buf	 items, out;

	doc_request(&q, 0);
	buf_init(&items, 0);
	buf_init(&out, 0);
	items.failed = 1;
	reply_document(&out, &q, &items);
	ck_assert(out.failed);
	out.failed = 0;
	buf_reset(&out);
	reply_csv_document(&out, &items);
	ck_assert(out.failed);
	buf_free(&items);
	buf_free(&out);
}
END_TEST

/* ---- GET /collect's pages ------------------------------------------ */

static const struct {
	const char	*name;
	size_t		 n;
	int		 more;
	unsigned long long next;
	const char	*want;
} page_cases[] = {
	{ "empty", 0, 0, 0, "{\"requests\": [], \"next\": null}\n" },
	{ "one, last page", 1, 0, 0, "{\"requests\": [" REQ_HEAD("p0")
	    "\"finished_at\": null, \"progress\": 50.00, \"total\": 2, "
	    "\"collected\": 1, \"failed\": 0}], \"next\": null}\n" },
	{ "two, more", 2, 1, ULLONG_MAX, "{\"requests\": [" REQ_HEAD("p0")
	    "\"finished_at\": null, \"progress\": 50.00, \"total\": 2, "
	    "\"collected\": 1, \"failed\": 0}, " REQ_HEAD("p1") FIN
	    "\"progress\": 100.00, \"total\": 2, \"collected\": 1, "
	    "\"failed\": 1}], \"next\": \"18446744073709551615\"}\n" },
};

START_TEST(test_page)
{
	static struct read_page p;
	struct buf	 out;
	size_t		 k;

	memset(&p, 0, sizeof(p));
	for (k = 0; k < page_cases[_i].n; k++) {
		struct read_request *q = &p.req[k];

		q->idlen = (size_t)snprintf(q->id, sizeof(q->id), "p%zu", k);
		q->requested_at = t_req;
		q->finished = k == 1;
		q->finished_at = t_fin;
		q->total = 2;
		q->collected = 1;
		q->failed = k == 1;
	}
	p.n = page_cases[_i].n;
	p.more = page_cases[_i].more;
	p.next = page_cases[_i].next;
	buf_init(&out, 0);
	reply_page(&out, &p);
	expect("page", page_cases[_i].name, &out, page_cases[_i].want);
	buf_free(&out);
}
END_TEST

/* ---- GET /health ---------------------------------------------------- */

#define H_OK(s)	"{\"status\": \"" s "\", \"database\": {\"reachable\": true}, " \
		"\"workers\": ["
#define G_RUN	"\"gate\": {\"state\": \"running\", \"reason\": null, " \
		"\"until\": null, \"since\": null, \"error\": null}"

static const struct health_host host_alive = { "w1", 2, 4, 1500, 1 };
static const struct health_host host_dead = { "w\"2", 3, 0, 0, 0 };

static const struct {
	const char	*name;
	int		 nhosts;	/* of host_alive, host_dead */
	int		 paused, down, key;
	long long	 queued, oldest_us;
	int		 oldest_null;
	int		 status;
	const char	*want;
} health_cases[] = {
	{ "no worker: down", 0, 0, 0, 0, 0, 0, 1, 503,
	    H_OK("down") "], " G_RUN ", \"queue\": {\"cities\": 0, "
	    "\"oldest_age_s\": null}}\n" },
	{ "ok", 1, 0, 0, 0, 3, 2500999, 0, 200,
	    H_OK("ok") "{\"host\": \"w1\", \"children_alive\": 4, "
	    "\"heartbeat_age_s\": 0.001}], " G_RUN ", \"queue\": "
	    "{\"cities\": 3, \"oldest_age_s\": 2.500}}\n" },
	{ "a host without children: degraded", 2, 0, 0, 0,
	    LLONG_MAX, LLONG_MAX, 0, 200,
	    H_OK("degraded") "{\"host\": \"w1\", \"children_alive\": 4, "
	    "\"heartbeat_age_s\": 0.001}, {\"host\": \"w\\\"2\", "
	    "\"children_alive\": 0, \"heartbeat_age_s\": null}], " G_RUN
	    ", \"queue\": {\"cities\": 9223372036854775807, "
	    "\"oldest_age_s\": 9223372036854.775}}\n" },
	{ "paused by a 429: degraded", 1, 1, 0, 0, 0, -5, 0, 200,
	    H_OK("degraded") "{\"host\": \"w1\", \"children_alive\": 4, "
	    "\"heartbeat_age_s\": 0.001}], \"gate\": {\"state\": "
	    "\"paused\", \"reason\": \"429\", \"until\": "
	    "\"2026-12-07T10:00:00.000000Z\", \"since\": null, "
	    "\"error\": null}, \"queue\": {\"cities\": 0, "
	    "\"oldest_age_s\": 0.000}}\n" },
	{ "held: degraded", 1, 0, 1, 0, 0, 0, 1, 200,
	    H_OK("degraded") "{\"host\": \"w1\", \"children_alive\": 4, "
	    "\"heartbeat_age_s\": 0.001}], \"gate\": {\"state\": \"held\", "
	    "\"reason\": \"API unreachable\", \"until\": null, \"since\": "
	    "\"2026-12-07T09:00:00.000000Z\", \"error\": "
	    "\"connect: \\\"refused\\\"\"}, \"queue\": {\"cities\": 0, "
	    "\"oldest_age_s\": null}}\n" },
	{ "key refused: down", 1, 1, 0, 1, 0, 0, 1, 503,
	    H_OK("down") "{\"host\": \"w1\", \"children_alive\": 4, "
	    "\"heartbeat_age_s\": 0.001}], \"gate\": {\"state\": "
	    "\"paused\", \"reason\": \"invalid key\", \"until\": "
	    "\"2026-12-07T10:00:00.000000Z\", \"since\": null, "
	    "\"error\": null}, \"queue\": {\"cities\": 0, "
	    "\"oldest_age_s\": null}}\n" },
};

#define SET(f, s)	(memcpy(h.f, s, strlen(s)), h.f##_len = strlen(s))

START_TEST(test_health)
{
	struct health_host hosts[2] = { host_alive, host_dead };
	struct health	 h;
	struct buf	 out;
	int		 status;

	memset(&h, 0, sizeof(h));
	h.host = hosts;
	h.hosts = (size_t)health_cases[_i].nhosts;
	h.alive_hosts = h.hosts > 0;
	h.paused = health_cases[_i].paused;
	h.key_paused = health_cases[_i].key;
	SET(reason, h.key_paused ? RULES_PAUSE_KEY : RULES_PAUSE_429);
	SET(until, "2026-12-07T10:00:00.000000Z");
	h.down = health_cases[_i].down;
	SET(since, "2026-12-07T09:00:00.000000Z");
	SET(down_why, "connect: \"refused\"");
	h.queued = health_cases[_i].queued;
	h.oldest_us = health_cases[_i].oldest_us;
	h.oldest_null = health_cases[_i].oldest_null;
	buf_init(&out, 0);
	status = reply_health(&out, &h);
	expect("health", health_cases[_i].name, &out, health_cases[_i].want);
	ck_assert_int_eq(status, health_cases[_i].status);
	buf_free(&out);
}
END_TEST

START_TEST(test_health_down)
{
	struct buf	 out;

	buf_init(&out, 0);
	reply_health_down(&out);
	expect("health", "database down", &out, "{\"status\": \"down\", "
	    "\"database\": {\"reachable\": false}, \"workers\": [], "
	    "\"gate\": null, \"queue\": null}\n");
	buf_free(&out);
}
END_TEST

/* ---- GET /metrics --------------------------------------------------- */

/* struct health_sums' fields of the samples below, and the lines expected. */
static const struct {
	const char	*name;
	long long	 p429, pkey, pmonth, oldest_us;
	long long	 answers[ANSWERS_CLASSES];
	const char	*lines[4];
} metric_cases[] = {
	{ "idle", 0, 0, 0, 0, { 0, 0, 0, 0, 0 }, {
	    "owmcollect_gate_paused{reason=\"429\"} 0\n"
	    "owmcollect_gate_paused{reason=\"invalid key\"} 0\n"
	    "owmcollect_gate_paused{reason=\"monthly cap\"} 0\n",
	    "owmcollect_queue_oldest_age_seconds 0.000000\n",
	    "owmcollect_http_answers_total{code=\"1xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"2xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"3xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"4xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"5xx\"} 0\n",
	    "# TYPE owmcollect_http_answers_total counter\n" } },
	{ "429, an old queue, answers", 1, 0, 0, 754003002001LL,
	    { 0, 81234, 7, 300, 2 }, {
	    "owmcollect_gate_paused{reason=\"429\"} 1\n"
	    "owmcollect_gate_paused{reason=\"invalid key\"} 0\n",
	    "owmcollect_queue_oldest_age_seconds 754003.002001\n",
	    "owmcollect_http_answers_total{code=\"2xx\"} 81234\n"
	    "owmcollect_http_answers_total{code=\"3xx\"} 7\n"
	    "owmcollect_http_answers_total{code=\"4xx\"} 300\n"
	    "owmcollect_http_answers_total{code=\"5xx\"} 2\n",
	    "# TYPE owmcollect_gate_paused gauge\n" } },
	{ "invalid key", 0, 1, 0, 999999, { 0 }, {
	    "owmcollect_gate_paused{reason=\"invalid key\"} 1\n"
	    "owmcollect_gate_paused{reason=\"monthly cap\"} 0\n",
	    "owmcollect_queue_oldest_age_seconds 0.999999\n",
	    "# TYPE owmcollect_queue_oldest_age_seconds gauge\n", NULL } },
	{ "monthly cap", 0, 0, 1, 1000000, { 0 }, {
	    "owmcollect_gate_paused{reason=\"429\"} 0\n",
	    "owmcollect_gate_paused{reason=\"monthly cap\"} 1\n",
	    "owmcollect_queue_oldest_age_seconds 1.000000\n", NULL } },
};

START_TEST(test_metrics)
{
	struct health_sums m;
	struct buf	 out;
	size_t		 i;

	memset(&m, 0, sizeof(m));
	m.down_us = -1;
	m.paused_429 = metric_cases[_i].p429;
	m.paused_key = metric_cases[_i].pkey;
	m.paused_month = metric_cases[_i].pmonth;
	m.oldest_us = metric_cases[_i].oldest_us;
	memcpy(m.answers, metric_cases[_i].answers, sizeof(m.answers));
	buf_init(&out, 0);
	reply_metrics(&out, &m, 60);
	buf_addc(&out, '\0');
	for (i = 0; i < NELEM(metric_cases[_i].lines); i++) {
		const char	*l = metric_cases[_i].lines[i];

		ck_assert_msg(l == NULL || strstr(out.data, l) != NULL,
		    "%s: no [%s] in:\n%s", metric_cases[_i].name, l, out.data);
	}
	buf_free(&out);
}
END_TEST

/*
 * Every sample of one state, the whole text: API calls by outcome (a
 * label value's backslash, quote and newline escaped), the API down for
 * a while, the largest counts.
 */
START_TEST(test_metrics_whole)
{
	static const struct health_call calls[] = {
		{ "ok", 2, 5 },
		{ "a\\b\"c\nd", 7, LLONG_MAX },
	};
	struct health_sums m;
	struct buf	 out;

	memset(&m, 0, sizeof(m));
	m.requests = LLONG_MAX;
	m.pending = 1;
	m.collected = 2;
	m.failed = 3;
	m.window = 4;
	m.wait_us = 5000006;
	m.alive = 7;
	m.restarts = 8;
	m.queued = 9;
	m.down_us = 61000001;
	m.paused_month = 1;
	m.oldest_us = 0;
	m.answers[1] = 10;
	m.answers[4] = 11;
	m.behind = 1;
	m.unresolved_us = 2500000;
	m.post_waits = 12;
	m.post_wait_s = 3.25;
	m.call = calls;
	m.calls = NELEM(calls);
	buf_init(&out, 0);
	reply_metrics(&out, &m, 600);
	expect("metrics", "whole", &out,
	    "# HELP owmcollect_requests_accepted_total Collection requests "
	    "accepted (POST /collect answered 202).\n"
	    "# TYPE owmcollect_requests_accepted_total counter\n"
	    "owmcollect_requests_accepted_total 9223372036854775807\n"
	    "# HELP owmcollect_cities Cities of every request, by state.\n"
	    "# TYPE owmcollect_cities gauge\n"
	    "owmcollect_cities{state=\"pending\"} 1\n"
	    "owmcollect_cities{state=\"collected\"} 2\n"
	    "owmcollect_cities{state=\"failed\"} 3\n"
	    "# HELP owmcollect_api_calls_total API calls made by the "
	    "workers, by outcome.\n"
	    "# TYPE owmcollect_api_calls_total counter\n"
	    "owmcollect_api_calls_total{outcome=\"ok\"} 5\n"
	    "owmcollect_api_calls_total{outcome=\"a\\\\b\\\"c\\nd\"} "
	    "9223372036854775807\n"
	    "# HELP owmcollect_gate_window_cities Cities sent in the last "
	    STR(RULES_WINDOW_S) " s (rate gate reservations).\n"
	    "# TYPE owmcollect_gate_window_cities gauge\n"
	    "owmcollect_gate_window_cities 4\n"
	    "# HELP owmcollect_gate_limit_cities_per_minute The configured "
	    "limit (owm.cities_per_minute).\n"
	    "# TYPE owmcollect_gate_limit_cities_per_minute gauge\n"
	    "owmcollect_gate_limit_cities_per_minute 600\n"
	    "# HELP owmcollect_gate_wait_seconds_total Time the worker "
	    "children slept at the rate gate.\n"
	    "# TYPE owmcollect_gate_wait_seconds_total counter\n"
	    "owmcollect_gate_wait_seconds_total 5.000006\n"
	    "# HELP owmcollect_worker_children_alive Worker children with a "
	    "heartbeat younger than " STR(RULES_ALIVE_S) " s.\n"
	    "# TYPE owmcollect_worker_children_alive gauge\n"
	    "owmcollect_worker_children_alive 7\n"
	    "# HELP owmcollect_worker_restarts_total Restarts of the live "
	    "children's slots by their supervisors.\n"
	    "# TYPE owmcollect_worker_restarts_total counter\n"
	    "owmcollect_worker_restarts_total 8\n"
	    "# HELP owmcollect_queue_cities Cities queued for fetching.\n"
	    "# TYPE owmcollect_queue_cities gauge\n"
	    "owmcollect_queue_cities 9\n"
	    "# HELP owmcollect_api_unreachable 1 while no call reaches the "
	    "API (the gate holds every call but a probe), else 0.\n"
	    "# TYPE owmcollect_api_unreachable gauge\n"
	    "owmcollect_api_unreachable 1\n"
	    "# HELP owmcollect_api_unreachable_seconds How long the API has "
	    "been unreachable (0 while it answers).\n"
	    "# TYPE owmcollect_api_unreachable_seconds gauge\n"
	    "owmcollect_api_unreachable_seconds 61.000001\n"
	    "# HELP owmcollect_gate_paused 1 while the rate gate pauses every "
	    "call for this reason, else 0.\n"
	    "# TYPE owmcollect_gate_paused gauge\n"
	    "owmcollect_gate_paused{reason=\"429\"} 0\n"
	    "owmcollect_gate_paused{reason=\"invalid key\"} 0\n"
	    "owmcollect_gate_paused{reason=\"monthly cap\"} 1\n"
	    "# HELP owmcollect_worker_behind 1 while the worker says it is "
	    "behind: its children find the rate gate open and spend their "
	    "time at the database (POSTs then give way), else 0.\n"
	    "# TYPE owmcollect_worker_behind gauge\n"
	    "owmcollect_worker_behind 1\n"
	    "# HELP owmcollect_queue_oldest_age_seconds Age of the oldest "
	    "queued city (0 while none is queued).\n"
	    "# TYPE owmcollect_queue_oldest_age_seconds gauge\n"
	    "owmcollect_queue_oldest_age_seconds 0.000000\n"
	    "# HELP owmcollect_unresolved_oldest_age_seconds Age of the "
	    "oldest deferred collection whose cities the worker has not "
	    "resolved yet (0 while none waits; http.defer).\n"
	    "# TYPE owmcollect_unresolved_oldest_age_seconds gauge\n"
	    "owmcollect_unresolved_oldest_age_seconds 2.500000\n"
	    "# HELP owmcollect_http_answers_total Answers of the FastCGI "
	    "program since it started, by HTTP status class.\n"
	    "# TYPE owmcollect_http_answers_total counter\n"
	    "owmcollect_http_answers_total{code=\"1xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"2xx\"} 10\n"
	    "owmcollect_http_answers_total{code=\"3xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"4xx\"} 0\n"
	    "owmcollect_http_answers_total{code=\"5xx\"} 11\n"
	    "# HELP owmcollect_http_post_waits_total POSTs of the FastCGI "
	    "program since it started that waited for a turn while the "
	    "worker was behind (http.posts_while_behind).\n"
	    "# TYPE owmcollect_http_post_waits_total counter\n"
	    "owmcollect_http_post_waits_total 12\n"
	    "# HELP owmcollect_http_post_wait_seconds_total Their time "
	    "waiting, in all.\n"
	    "# TYPE owmcollect_http_post_wait_seconds_total counter\n"
	    "owmcollect_http_post_wait_seconds_total 3.250000\n");
	buf_free(&out);
}
END_TEST

/* ---- errors, POST's 202 ------------------------------------------- */

static const struct {
	const char	*msg, *want;
} error_cases[] = {
	{ "no request has this id", "{\"error\": \"no request has this id\"}\n" },
	{ "", "{\"error\": \"\"}\n" },
	{ "before must be the \"next\" value",
	    "{\"error\": \"before must be the \\\"next\\\" value\"}\n" },
	{ "a\\b\n\t\x01", "{\"error\": \"a\\\\b\\n\\t\\u0001\"}\n" },
};

START_TEST(test_error)
{
	struct buf	 out;

	buf_init(&out, 0);
	reply_error(&out, error_cases[_i].msg);
	expect("error", error_cases[_i].msg, &out, error_cases[_i].want);
	buf_free(&out);
}
END_TEST

static const struct {
	const char	*name;
	const char	*id;
	size_t		 idlen;
	unsigned int	 total, done;
	const char	*want;
} accepted_cases[] = {
	{ "none served", S("monday"), 167, 0,
	    "{\"id\": \"monday\", \"requested_at\": "
	    "\"2026-01-02T03:04:05.060708Z\", \"total\": 167, "
	    "\"progress\": 0.00, \"status_url\": \"/get?id=monday\"}\n" },
	{ "some fresh, escaped id", S("a \"b\""), 3, 2,
	    "{\"id\": \"a \\\"b\\\"\", \"requested_at\": "
	    "\"2026-01-02T03:04:05.060708Z\", \"total\": 3, "
	    "\"progress\": 66.66, \"status_url\": "
	    "\"/get?id=a%20%22b%22\"}\n" },
	{ "all fresh", S("x"), 1000, 1000,
	    "{\"id\": \"x\", \"requested_at\": "
	    "\"2026-01-02T03:04:05.060708Z\", \"total\": 1000, "
	    "\"progress\": 100.00, \"status_url\": \"/get?id=x\"}\n" },
};

/* The 202 with the status URL reply_status_url makes of its id. */
START_TEST(test_accepted)
{
	struct accepted	 a = { t_req, accepted_cases[_i].total,
			    accepted_cases[_i].done };
	struct buf	 url, out;

	buf_init(&url, 0);
	buf_init(&out, 0);
	reply_status_url(&url, accepted_cases[_i].id,
	    accepted_cases[_i].idlen);
	ck_assert(buf_cstr(&url) != NULL);
	reply_accepted(&out, accepted_cases[_i].id, accepted_cases[_i].idlen,
	    &a, url.data);
	expect("accepted", accepted_cases[_i].name, &out,
	    accepted_cases[_i].want);
	buf_free(&url);
	buf_free(&out);
}
END_TEST

/* ---- percent-encoding, the status URL, the CSV's file name --------- */

static const struct {
	const char	*name;
	const char	*s;
	size_t		 n;
	size_t		 cap;
	long		 rc;
	const char	*out;
} enc_cases[] = {
	{ "unreserved pass", S("AZaz09-._~"), 64, 10, "AZaz09-._~" },
	{ "empty", S(""), 64, 0, "" },
	{ "space, quote, backslash", S(" \"\\"), 64, 9, "%20%22%5C" },
	{ "CR LF, NUL", "\r\n\0", 3, 64, 9, "%0D%0A%00" },
	{ "percent, plus, slash", S("%+/"), 64, 9, "%25%2B%2F" },
	{ "query syntax", S("a=b&c?d#e"), 64, 17, "a%3Db%26c%3Fd%23e" },
	{ "UTF-8", S("S\xc3\xa3o"), 64, 8, "S%C3%A3o" },
	{ "high byte", S("\xff"), 64, 3, "%FF" },
	{ "exact fit", S("a b"), 5, 5, "a%20b" },
	{ "no room for an escape", S("a b"), 4, -3, NULL },
	{ "no room for a byte", S("ab"), 1, -3, NULL },
};

START_TEST(test_percent_encode)
{
	char	 out[80];	/* cap is at most 64: room to see overruns */
	char	 back[64];
	const char *why = NULL;
	long	 rc, m;

	memset(out, 0x5a, sizeof(out));
	rc = reply_percent_encode(enc_cases[_i].s, enc_cases[_i].n, out,
	    enc_cases[_i].cap);
	ck_assert_msg(rc == enc_cases[_i].rc,
	    "encode case \"%s\": rc %ld, expected %ld", enc_cases[_i].name,
	    rc, enc_cases[_i].rc);
	ck_assert_msg((unsigned char)out[enc_cases[_i].cap] == 0x5a,
	    "encode case \"%s\": wrote past cap", enc_cases[_i].name);
	if (rc < 0)
		return;
	ck_assert_msg(memcmp(out, enc_cases[_i].out, (size_t)rc) == 0,
	    "encode case \"%s\": got [%s], expected [%s]",
	    enc_cases[_i].name, check_show(out, (size_t)rc), enc_cases[_i].out);
	/* percent_decode is its inverse. */
	m = percent_decode(out, (size_t)rc, back, sizeof(back), 1, &why);
	ck_assert_msg(m == (long)enc_cases[_i].n &&
	    memcmp(back, enc_cases[_i].s, enc_cases[_i].n) == 0,
	    "encode case \"%s\": does not decode back", enc_cases[_i].name);
}
END_TEST

/* The longest id's URL (every byte escaped) fits; a longer id fails. */
START_TEST(test_status_url_longest)
{
	char		 id[ID_MAX + 1], want[16 + ID_MAX * 3];
	struct buf	 out;
	size_t		 i, k;

	memset(id, '/', sizeof(id));
	k = (size_t)snprintf(want, sizeof(want), "/get?id=");
	for (i = 0; i < ID_MAX; i++)
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%%2F");
	buf_init(&out, 0);
	reply_status_url(&out, id, ID_MAX);
	expect("status url", "128 slashes", &out, want);
	buf_reset(&out);
	reply_status_url(&out, id, ID_MAX + 1);
	ck_assert_msg(out.failed, "a 129-byte id did not fail the buffer");
	buf_free(&out);
}
END_TEST

#define DHEAD	"attachment; filename=\""
#define DMID	".csv\"; filename*=UTF-8''"

static const struct {
	const char	*name;
	const char	*id;
	size_t		 n;
	const char	*want;
} disp_cases[] = {
	{ "plain", S("monday"), DHEAD "monday" DMID "monday.csv" },
	{ "kept bytes", S("A-z_0.9"), DHEAD "A-z_0.9" DMID "A-z_0.9.csv" },
	{ "quote", S("a\"b"), DHEAD "a_b" DMID "a%22b.csv" },
	{ "backslash", S("a\\b"), DHEAD "a_b" DMID "a%5Cb.csv" },
	{ "quote at the end", S("x\\\""), DHEAD "x__" DMID "x%5C%22.csv" },
	{ "CR LF", S("a\r\nb"), DHEAD "a__b" DMID "a%0D%0Ab.csv" },
	{ "percent", S("100%"), DHEAD "100_" DMID "100%25.csv" },
	{ "escaped-looking", S("%41"), DHEAD "_41" DMID "%2541.csv" },
	{ "space, semicolon, equals", S("a; b=c"), DHEAD "a__b_c" DMID
	    "a%3B%20b%3Dc.csv" },
	{ "tilde, slash", S("~/x"), DHEAD "__x" DMID "~%2Fx.csv" },
	{ "non-ASCII", S("Z\xc3\xbcrich"), DHEAD "Z__rich" DMID
	    "Z%C3%BCrich.csv" },
	{ "emoji", S("\xf0\x9f\x8c\x8d"), DHEAD "____" DMID
	    "%F0%9F%8C%8D.csv" },
	{ "NUL, DEL", "a\0\x7f", 3, DHEAD "a__" DMID "a%00%7F.csv" },
};

START_TEST(test_disposition)
{
	struct buf	 b;

	buf_init(&b, 0);
	reply_csv_disposition(&b, disp_cases[_i].id, disp_cases[_i].n);
	expect("disposition", disp_cases[_i].name, &b, disp_cases[_i].want);
	buf_free(&b);
}
END_TEST

/*
 * The longest ids: 128 bytes, all kept, all replaced (64 two-byte
 * characters), all hostile; the value stays printable ASCII with exactly
 * the two quotes of filename="...".  129 bytes fail the buffer.
 */
START_TEST(test_disposition_longest)
{
	static const char *const unit[] = { "x", "\xc3\xa9", "\"", "\r\n" };
	static const char *const kept[] = { "x", "__", "_", "__" };
	static const char *const enc[] = { "x", "%C3%A9", "%22", "%0D%0A" };
	char		 id[ID_MAX + 8], want[2048];
	size_t		 u = strlen(unit[_i]), n = 0, k, i, quotes = 0;
	struct buf	 b;

	while (n + u <= ID_MAX) {
		memcpy(id + n, unit[_i], u);
		n += u;
	}
	ck_assert_uint_eq(n, ID_MAX);
	k = (size_t)snprintf(want, sizeof(want), "%s", DHEAD);
	for (i = 0; i < n / u; i++)
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%s", kept[_i]);
	k += (size_t)snprintf(want + k, sizeof(want) - k, "%s", DMID);
	for (i = 0; i < n / u; i++)
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%s", enc[_i]);
	k += (size_t)snprintf(want + k, sizeof(want) - k, ".csv");
	buf_init(&b, 0);
	reply_csv_disposition(&b, id, n);
	ck_assert_msg(!b.failed && b.len == k && memcmp(b.data, want, k) == 0,
	    "longest id %d: got [%s], expected [%s]", _i,
	    check_show(b.data, b.len), check_show(want, k));
	for (i = 0; i < b.len; i++) {
		ck_assert_msg(b.data[i] >= 0x20 && b.data[i] < 0x7f,
		    "longest id %d: byte %zu is 0x%02x", _i, i,
		    (unsigned char)b.data[i]);
		quotes += b.data[i] == '"';
	}
	ck_assert_uint_eq(quotes, 2);
	buf_reset(&b);
	id[n++] = 'x';
	reply_csv_disposition(&b, id, n);
	ck_assert_msg(b.failed, "a 129-byte id did not fail the buffer");
	buf_free(&b);
}
END_TEST

/*
 * The answers' copies (getcache.c): served while their version holds,
 * JSON and CSV apart, the least recently used replaced, none over the
 * largest kept, and none at all once the process has gone idle.  Each
 * test starts from an empty table (CK_FORK=no runs them in one process).
 */
static const struct getcache_version v1 = { 1, 2, 0 }, v2 = { 1, 3, 0 };

static size_t
cache_key(char *key, unsigned int i, int csv)
{
	char	 id[32];
	int	 n = snprintf(id, sizeof(id), "req-%u", i);

	return getcache_doc_key(key, id, (size_t)n, csv);
}

/* Request i's document, of len bytes, kept at version v. */
static void
cache_put(unsigned int i, size_t len, const struct getcache_version *v)
{
	char		 key[GETCACHE_KEY_MAX];
	struct buf	 doc;
	size_t		 k = cache_key(key, i, 0);

	buf_init(&doc, 0);
	while (doc.len < len)
		buf_addc(&doc, (char)('a' + (doc.len + i) % 26));
	getcache_put(key, k, v, 0, &doc);
	buf_free(&doc);
}

/* Whether request i's document of len bytes is served at v. */
static int
cache_has(unsigned int i, size_t len, const struct getcache_version *v)
{
	char		 key[GETCACHE_KEY_MAX];
	struct buf	 out;
	size_t		 k = cache_key(key, i, 0), j;
	int		 got;

	buf_init(&out, 0);
	got = getcache_copy(key, k, v, &out, NULL);
	if (got) {
		ck_assert_uint_eq(out.len, len);
		for (j = 0; j < len; j++)
			ck_assert_int_eq(out.data[j], 'a' + (j + i) % 26);
	} else
		ck_assert_uint_eq(out.len, 0);
	buf_free(&out);
	return got;
}

START_TEST(test_cache_versions)
{
	char		 key[GETCACHE_KEY_MAX];
	struct buf	 doc, out;
	size_t		 k = cache_key(key, 1, 0);
	int		 fin = -1;

	getcache_drop();
	buf_init(&doc, 0);
	buf_adds(&doc, "{\"id\": \"req-1\"}");
	getcache_put(key, k, &v1, 1, &doc);
	buf_init(&out, 0);
	ck_assert_int_eq(getcache_copy(key, k, &v1, &out, &fin), 1);
	ck_assert_int_eq(fin, 1);
	ck_assert_uint_eq(out.len, doc.len);
	ck_assert_mem_eq(out.data, doc.data, doc.len);
	buf_reset(&out);
	ck_assert_int_eq(getcache_copy(key, k, &v2, &out, NULL), 0);
	ck_assert_uint_eq(out.len, 0);
	k = cache_key(key, 1, 1);	/* its CSV is another copy */
	ck_assert_int_eq(getcache_copy(key, k, &v1, &out, NULL), 0);
	buf_free(&out);
	buf_free(&doc);
}
END_TEST

START_TEST(test_cache_drop)
{
	unsigned int	 i;

	getcache_drop();
	for (i = 0; i < 3; i++)
		cache_put(i, 100 + i, &v1);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(cache_has(i, 100 + i, &v1), 1);
	getcache_drop();
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(cache_has(i, 100 + i, &v1), 0);
	cache_put(1, 50, &v2);		/* and it fills again */
	ck_assert_int_eq(cache_has(1, 50, &v2), 1);
	getcache_drop();
}
END_TEST

START_TEST(test_cache_largest)
{
	getcache_drop();
	cache_put(1, GETCACHE_MAX_BODY, &v1);
	cache_put(2, GETCACHE_MAX_BODY + 1, &v1);
	ck_assert_int_eq(cache_has(1, GETCACHE_MAX_BODY, &v1), 1);
	ck_assert_int_eq(cache_has(2, GETCACHE_MAX_BODY + 1, &v1), 0);
	getcache_drop();
}
END_TEST

START_TEST(test_cache_least_recent_goes)
{
	unsigned int	 i;

	getcache_drop();
	for (i = 0; i < GETCACHE_SLOTS; i++)
		cache_put(i, 10, &v1);
	ck_assert_int_eq(cache_has(0, 10, &v1), 1);	/* now the newest */
	cache_put(GETCACHE_SLOTS, 10, &v1);		/* replaces 1 */
	ck_assert_int_eq(cache_has(1, 10, &v1), 0);
	for (i = 0; i <= GETCACHE_SLOTS; i++)
		if (i != 1)
			ck_assert_int_eq(cache_has(i, 10, &v1), 1);
	getcache_drop();
}
END_TEST

static Suite *
reply_suite(void)
{
	Suite	*s = suite_create("reply");
	TCase	*tc = tcase_create("city");

	tcase_add_loop_test(tc, test_json_item, 0, NELEM(cases));
	tcase_add_loop_test(tc, test_csv_record, 0, NELEM(cases));
	tcase_add_test(tc, test_documents);
	suite_add_tcase(s, tc);
	tc = tcase_create("document");
	tcase_add_loop_test(tc, test_document, 0, NELEM(doc_cases));
	tcase_add_loop_test(tc, test_csv_document, 0, NELEM(doc_cases));
	tcase_add_test(tc, test_document_failed_items);
	suite_add_tcase(s, tc);
	tc = tcase_create("page");
	tcase_add_loop_test(tc, test_page, 0, NELEM(page_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("health");
	tcase_add_loop_test(tc, test_health, 0, NELEM(health_cases));
	tcase_add_test(tc, test_health_down);
	suite_add_tcase(s, tc);
	tc = tcase_create("metrics");
	tcase_add_loop_test(tc, test_metrics, 0, NELEM(metric_cases));
	tcase_add_test(tc, test_metrics_whole);
	suite_add_tcase(s, tc);
	tc = tcase_create("answers");
	tcase_add_loop_test(tc, test_error, 0, NELEM(error_cases));
	tcase_add_loop_test(tc, test_accepted, 0, NELEM(accepted_cases));
	suite_add_tcase(s, tc);
	tc = tcase_create("url");
	tcase_add_loop_test(tc, test_percent_encode, 0, NELEM(enc_cases));
	tcase_add_test(tc, test_status_url_longest);
	tcase_add_loop_test(tc, test_disposition, 0, NELEM(disp_cases));
	tcase_add_loop_test(tc, test_disposition_longest, 0, 4);
	suite_add_tcase(s, tc);
	tc = tcase_create("cache");
	tcase_add_test(tc, test_cache_versions);
	tcase_add_test(tc, test_cache_drop);
	tcase_add_test(tc, test_cache_largest);
	tcase_add_test(tc, test_cache_least_recent_goes);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(reply_suite());
}
