/*
 * check_answer.c: worker/answer.c, the answer policy, from tables.
 *
 * Each case is one API call as it ended (single /weather for city 42, or
 * /group for 42, 43, 44; HTTP status, transport error, body, the attempt)
 * and what must come of it: each city's outcome (a reading, left out of a
 * group answer, retry, failed, released) with its reason, the call's
 * counter and the verdict's flags.  A second table checks what the gate
 * is told after a batch; a sequence checks that a batch's calls add up.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "answer.h"
#include "buf.h"
#include "check_run.h"
#include "rules.h"

#define NOW	1700000400LL
#define DT	"1700000000"
#define MAXATT	5		/* worker.max_attempts in these cases */
#define GIVEUP	86400		/* worker.give_up_seconds */
#define NCITY	3		/* a group call's cities: 42, 43, 44 */

#define FIELDS(id) \
	"\"coord\":{\"lon\":1.5,\"lat\":2.5},\"main\":{\"temp\":12.5," \
	"\"humidity\":81},\"dt\":" DT ",\"id\":" id ",\"name\":\"C" id "\""
#define CITY(id)	"{" FIELDS(id) "}"
#define SINGLE(id)	"{\"cod\":200," FIELDS(id) "}"
#define GROUP(list)	"{\"cnt\":3,\"list\":[" list "]}"
#define MSG(cod, m)	"{\"cod\":" cod ",\"message\":\"" m "\"}"
#define KEY_BODY	MSG("401", "Invalid API key. Please see " \
			    "https://openweathermap.org/faq#error401 for " \
			    "more info.")
#define LIMIT_BODY	MSG("429", "Your account is temporary blocked due " \
			    "to exceeding of requests limitation of your " \
			    "subscription type.")

enum { SINGLE, GROUPED };

struct acase {
	const char	*name;
	int		 mode;		/* SINGLE: city 42; GROUPED: 42..44 */
	unsigned int	 attempts;	/* of every city, this one included */
	long		 status;
	const char	*err;		/* transport error; NULL: answered */
	const char	*body;
	/* Per city: r reading, p left out (pending), t retry, u retry not
	 * counted (not the city's: the API unreached), f failed,
	 * l released. */
	const char	*outs;
	/* Of every city not r or p; a trailing '*' matches a prefix. */
	const char	*reason;
	enum call_outcome call;
	int		 key, saw429, ok;	/* the verdict's flags */
};

static const struct acase acases[] = {
	/* Readings, and bodies that do not map. */
	{ "200 reading", SINGLE, 1, 200, NULL, SINGLE("42"), "r", NULL,
	    CALL_OK, 0, 0, 1 },
	{ "200 reading, last attempt", SINGLE, MAXATT, 200, NULL,
	    SINGLE("42"), "r", NULL, CALL_OK, 0, 0, 1 },
	{ "200 unparseable body", SINGLE, 1, 200, NULL, "{\"cod\":200,\"ma",
	    "t", "invalid response: *", CALL_BROKEN_JSON, 0, 0, 1 },
	{ "200 empty body", SINGLE, 2, 200, NULL, "", "t",
	    "invalid response: empty body", CALL_BROKEN_JSON, 0, 0, 1 },
	{ "200 HTML body", SINGLE, 1, 200, NULL, "<html>busy</html>", "t",
	    "invalid response: *", CALL_BROKEN_JSON, 0, 0, 1 },
	{ "200 another city", SINGLE, 1, 200, NULL, SINGLE("43"), "t",
	    "invalid response: answer is for another city id",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	{ "200 no reading in it", SINGLE, 1, 200, NULL, "{\"cod\":200}", "t",
	    "invalid response: id missing", CALL_BROKEN_JSON, 0, 0, 1 },
	{ "200 unparseable, last attempt", SINGLE, MAXATT, 200, NULL, "", "f",
	    "invalid response: empty body after 5 attempts",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	/* 404: only the API's word fails a city, and only on /weather. */
	{ "404 city not found", SINGLE, 1, 404, NULL,
	    MSG("\"404\"", "city not found"), "f", "city not found",
	    CALL_NOT_FOUND, 0, 0, 1 },
	{ "404 city not found, cod a number", SINGLE, 3, 404, NULL,
	    MSG("404", "city not found"), "f", "city not found",
	    CALL_NOT_FOUND, 0, 0, 1 },
	{ "404 another message", SINGLE, 1, 404, NULL,
	    MSG("\"404\"", "Not Found"), "t", "HTTP 404", CALL_4XX, 0, 0, 1 },
	{ "404 a longer message", SINGLE, 1, 404, NULL,
	    MSG("\"404\"", "city not found here"), "t", "HTTP 404", CALL_4XX,
	    0, 0, 1 },
	{ "404 without a body", SINGLE, 1, 404, NULL, "", "t", "HTTP 404",
	    CALL_4XX, 0, 0, 1 },
	{ "404 other, last attempt", SINGLE, MAXATT, 404, NULL, "nginx", "f",
	    "HTTP 404 after 5 attempts", CALL_4XX, 0, 0, 1 },
	/* Other statuses: retried, then failed with the last reason. */
	{ "400 not a city id", SINGLE, 1, 400, NULL,
	    MSG("\"400\"", "42x is not a city ID"), "t", "HTTP 400", CALL_4XX,
	    0, 0, 0 },
	/* 5xx: the server's trouble, not the city's: never counted. */
	{ "500", SINGLE, 1, 500, NULL, "", "u", "HTTP 500", CALL_5XX,
	    0, 0, 0 },
	{ "502, attempt 4 of 5", SINGLE, MAXATT - 1, 502, NULL, "bad gateway",
	    "u", "HTTP 502", CALL_5XX, 0, 0, 0 },
	{ "503, last attempt", SINGLE, MAXATT, 503, NULL, "", "u",
	    "HTTP 503", CALL_5XX, 0, 0, 0 },
	{ "503 with a city's body", SINGLE, 1, 503, NULL, SINGLE("42"), "u",
	    "HTTP 503", CALL_5XX, 0, 0, 0 },
	/* Transport errors: the error is the reason, never counted. */
	{ "timeout", SINGLE, 1, 0, OWM_CLIENT_TIMEOUT, "", "u", "timeout",
	    CALL_TIMEOUT, 0, 0, 0 },
	/* A status came, then the body failed: an answer, counted. */
	{ "timeout in the body of a 200", SINGLE, 1, 200, OWM_CLIENT_TIMEOUT,
	    "{\"cod\":200,", "t", "timeout", CALL_TIMEOUT, 0, 0, 0 },
	{ "a 200 cut short, last attempt", SINGLE, MAXATT, 200,
	    "Transferred a partial file", "{\"cod\":200,", "f",
	    "Transferred a partial file after 5 attempts", CALL_TRANSPORT,
	    0, 0, 0 },
	{ "a 502 cut short", SINGLE, 1, 502, "Transferred a partial file", "",
	    "u", "Transferred a partial file", CALL_TRANSPORT, 0, 0, 0 },
	{ "timeout, last attempt", SINGLE, MAXATT, 0, OWM_CLIENT_TIMEOUT, "",
	    "u", "timeout", CALL_TIMEOUT, 0, 0, 0 },
	{ "connection refused", SINGLE, 1, 0, "Couldn't connect to server",
	    "", "u", "Couldn't connect to server", CALL_TRANSPORT, 0, 0, 0 },
	{ "connection refused, last attempt", SINGLE, MAXATT, 0,
	    "Couldn't connect to server", "", "u",
	    "Couldn't connect to server", CALL_TRANSPORT, 0, 0, 0 },
	{ "name not resolved", SINGLE, 1, 0,
	    "Couldn't resolve host name", "", "u",
	    "Couldn't resolve host name", CALL_TRANSPORT, 0, 0, 0 },
	{ "no answer", SINGLE, 1, 0, "no answer", "", "u", "no answer",
	    CALL_TRANSPORT, 0, 0, 0 },
	/* An answer too large is the API's answer: counted. */
	{ "response too large", SINGLE, 2, 200, OWM_CLIENT_TOO_LARGE, "", "t",
	    "response too large", CALL_TRANSPORT, 0, 0, 0 },
	{ "response too large, last attempt", SINGLE, MAXATT, 200,
	    OWM_CLIENT_TOO_LARGE, "", "f",
	    "response too large after 5 attempts", CALL_TRANSPORT, 0, 0, 0 },
	/* 401: nothing fails, the attempt is not counted, everyone stops. */
	{ "401 invalid key", SINGLE, 1, 401, NULL, KEY_BODY, "l",
	    RULES_PAUSE_KEY, CALL_401, 1, 0, 0 },
	{ "401, last attempt", SINGLE, MAXATT, 401, NULL, KEY_BODY, "l",
	    RULES_PAUSE_KEY, CALL_401, 1, 0, 0 },
	/* 429: retried, everyone pauses.  The API sends no Retry-After;
	 * none is read (no header is an input). */
	{ "429 the API's body", SINGLE, 1, 429, NULL, LIMIT_BODY, "t",
	    "HTTP 429", CALL_429, 0, 1, 0 },
	{ "429 without a body", SINGLE, 1, 429, NULL, "", "t", "HTTP 429",
	    CALL_429, 0, 1, 0 },
	{ "429, last attempt", SINGLE, MAXATT, 429, NULL, LIMIT_BODY, "f",
	    "HTTP 429 after 5 attempts", CALL_429, 0, 1, 0 },
	/* /group: one call, one counter, for every city of it. */
	{ "group 200 all", GROUPED, 1, 200, NULL,
	    GROUP(CITY("42") "," CITY("43") "," CITY("44")), "rrr", NULL,
	    CALL_OK, 0, 0, 1 },
	{ "group 200 in another order", GROUPED, 1, 200, NULL,
	    GROUP(CITY("44") "," CITY("42") "," CITY("43")), "rrr", NULL,
	    CALL_OK, 0, 0, 1 },
	{ "group 200 missing a city", GROUPED, 1, 200, NULL,
	    GROUP(CITY("42") "," CITY("44")), "rpr", NULL, CALL_OK, 0, 0, 1 },
	{ "group 200 missing a city, last attempt", GROUPED, MAXATT, 200,
	    NULL, GROUP(CITY("43")), "prp", NULL, CALL_OK, 0, 0, 1 },
	{ "group 200 empty list", GROUPED, 1, 200, NULL,
	    "{\"cnt\":0,\"list\":[]}", "ppp", NULL, CALL_OK, 0, 0, 1 },
	{ "group 200 unparseable", GROUPED, 1, 200, NULL,
	    GROUP(CITY("42") ","), "ttt", "invalid response: *",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	{ "group 200 without a list", GROUPED, 2, 200, NULL, "{\"cnt\":0}",
	    "ttt", "invalid response: list missing or not an array",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	{ "group 200 a city not asked for", GROUPED, 1, 200, NULL,
	    GROUP(CITY("42") "," CITY("99")), "ttt",
	    "invalid response: answer holds a city id not asked for",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	{ "group 200 a city twice", GROUPED, 1, 200, NULL,
	    GROUP(CITY("42") "," CITY("42")), "ttt",
	    "invalid response: answer holds a city twice",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	{ "group 200 unparseable, last attempt", GROUPED, MAXATT, 200, NULL,
	    "", "fff", "invalid response: empty body after 5 attempts",
	    CALL_BROKEN_JSON, 0, 0, 1 },
	{ "group 404 is no city's word", GROUPED, 1, 404, NULL,
	    MSG("\"404\"", "city not found"), "ttt", "HTTP 404", CALL_4XX,
	    0, 0, 0 },
	{ "group 400 id list", GROUPED, 1, 400, NULL,
	    MSG("\"400\"", "id list must be in range from 1 to 20"), "ttt",
	    "HTTP 400", CALL_4XX, 0, 0, 0 },
	{ "group 401 (retired endpoint)", GROUPED, 1, 401, NULL, KEY_BODY,
	    "lll", RULES_PAUSE_KEY, CALL_401, 1, 0, 0 },
	{ "group 429", GROUPED, 1, 429, NULL, LIMIT_BODY, "ttt", "HTTP 429",
	    CALL_429, 0, 1, 0 },
	{ "group 503", GROUPED, 1, 503, NULL, "", "uuu", "HTTP 503",
	    CALL_5XX, 0, 0, 0 },
	{ "group 503, last attempt", GROUPED, MAXATT, 503, NULL, "", "uuu",
	    "HTTP 503", CALL_5XX, 0, 0, 0 },
	{ "group timeout", GROUPED, 1, 0, OWM_CLIENT_TIMEOUT, "", "uuu",
	    "timeout", CALL_TIMEOUT, 0, 0, 0 },
	{ "group connection reset", GROUPED, 1, 0, "Connection reset by peer",
	    "", "uuu", "Connection reset by peer", CALL_TRANSPORT, 0, 0, 0 },
};

static const uint32_t cities[NCITY] = { 42, 43, 44 };

/* The call as the client leaves it. */
static void
call_init(struct owm_call *c, const struct acase *a)
{
	memset(c, 0, sizeof(*c));
	c->group = a->mode == GROUPED;
	c->ids = cities;
	c->nids = a->mode == GROUPED ? NCITY : 1;
	c->status = a->status;
	c->failed = a->err != NULL;
	snprintf(c->err, sizeof(c->err), "%s", a->err ? a->err : "");
	buf_init(&c->body, OWM_PARSE_MAX_BODY);
	buf_adds(&c->body, a->body);
}

/* n tasks of the cities, at attempt att, queued age seconds ago. */
static void
tasks_init(struct task *t, struct task **list, size_t n, unsigned int att,
    int64_t age)
{
	size_t	 i;

	memset(t, 0, n * sizeof(*t));
	for (i = 0; i < n; i++) {
		t[i].city = cities[i];
		t[i].attempts = att;
		t[i].age_s = age;
		list[i] = &t[i];
	}
}

static const char *
out_name(enum task_out out)
{
	static const char *const names[] = { "pending", "reading", "reuse",
	    "failed", "retry", "release" };

	return out < sizeof(names) / sizeof(names[0]) ? names[out] : "?";
}

static enum task_out
out_of(char c)
{
	switch (c) {
	case 'r':
		return TASK_READING;
	case 't':
	case 'u':
		return TASK_RETRY;
	case 'f':
		return TASK_FAILED;
	case 'l':
		return TASK_RELEASE;
	}
	return TASK_PENDING;
}

static void
check_reason(const struct acase *a, const struct task *t)
{
	size_t	 n = strlen(a->reason);

	if (n > 0 && a->reason[n - 1] == '*')
		ck_assert_msg(strncmp(t->reason, a->reason, n - 1) == 0,
		    "%s: city %u: reason \"%s\", want \"%s\"", a->name,
		    t->city, t->reason, a->reason);
	else
		ck_assert_msg(strcmp(t->reason, a->reason) == 0,
		    "%s: city %u: reason \"%s\", want \"%s\"", a->name,
		    t->city, t->reason, a->reason);
}

static void
check_task(const struct acase *a, const struct task *t, char want)
{
	ck_assert_msg(t->out == out_of(want), "%s: city %u: %s, want %s",
	    a->name, t->city, out_name(t->out), out_name(out_of(want)));
	ck_assert_msg(t->uncounted == (want == 'u'), "%s: city %u: uncounted "
	    "%d", a->name, t->city, t->uncounted);
	if (want == 'r') {
		ck_assert_uint_eq(t->rd.id, t->city);
		ck_assert(t->rd.temp == 12.5 && t->rd.humidity == 81);
	} else if (want != 'p')
		check_reason(a, t);
	ck_assert_int_eq(t->delay_us, 0);	/* the caller's to set */
}

static void
check_verdict(const struct acase *a, const struct answer_verdict *v,
    int down)
{
	int	 k;

	ck_assert_msg(v->reached == !down && v->unreached == (unsigned)down,
	    "%s: reached %u unreached %u, want %d %d", a->name, v->reached,
	    v->unreached, !down, down);
	if (down)
		ck_assert_str_eq(v->down_why, a->reason);

	for (k = 0; k < CALL_NOUTCOMES; k++)
		ck_assert_msg(v->calls[k] == (k == (int)a->call),
		    "%s: counter %d is %u, want %d", a->name, k, v->calls[k],
		    k == (int)a->call);
	ck_assert_msg(v->key_refused == a->key && v->saw_429 == a->saw429 &&
	    v->saw_ok == a->ok, "%s: key %d 429 %d ok %d, want %d %d %d",
	    a->name, v->key_refused, v->saw_429, v->saw_ok, a->key,
	    a->saw429, a->ok);
}

/* Run case a with its cities queued age seconds ago; down: no answer. */
static void
run_case(const struct acase *a, int64_t age, int down)
{
	static const struct answer_limits lim = { MAXATT, GIVEUP };
	struct task	 t[NCITY], *list[NCITY], *missing[NCITY];
	struct answer_verdict v;
	struct owm_call	 c;
	size_t		 i, n, nmissing = 0, want_missing = 0;

	n = a->mode == GROUPED ? NCITY : 1;
	ck_assert_uint_eq(strlen(a->outs), n);
	call_init(&c, a);
	tasks_init(t, list, n, a->attempts, age);
	memset(&v, 0, sizeof(v));
	if (a->mode == GROUPED)
		nmissing = answer_group(list, &c, &lim, NOW, &v, missing);
	else
		answer_single(&t[0], &c, &lim, NOW, &v);
	for (i = 0; i < n; i++) {
		check_task(a, &t[i], a->outs[i]);
		if (a->outs[i] == 'p')
			ck_assert_ptr_eq(missing[want_missing++], &t[i]);
	}
	ck_assert_uint_eq(nmissing, want_missing);
	check_verdict(a, &v, down);
	buf_free(&c.body);
}

START_TEST(test_answer)
{
	const struct acase *a = &acases[_i];

	run_case(a, 0, strchr(a->outs, 'u') != NULL);
}
END_TEST

/*
 * A city the API was not reached for fails once queued give_up_s, and
 * only then; an answer of the API's is judged by the attempts alone.
 */
static const struct acase gone[] = {
	{ "timeout, just under the age", SINGLE, 9, 0, OWM_CLIENT_TIMEOUT, "",
	    "u", "timeout", CALL_TIMEOUT, 0, 0, 0 },
	{ "timeout at the age", SINGLE, 9, 0, OWM_CLIENT_TIMEOUT, "", "f",
	    "API unreachable for 86400 s: timeout", CALL_TIMEOUT, 0, 0, 0 },
	{ "refused past the age", SINGLE, 1, 0, "Couldn't connect to server",
	    "", "f", "API unreachable for 86401 s: Couldn't connect to server",
	    CALL_TRANSPORT, 0, 0, 0 },
	{ "group 502 at the age", GROUPED, 2, 502, NULL, "", "fff",
	    "API unreachable for 86400 s: HTTP 502", CALL_5XX, 0, 0, 0 },
	{ "429 at the age: the API answered", SINGLE, 1, 429, NULL, "", "t",
	    "HTTP 429", CALL_429, 0, 1, 0 },
	{ "reading at the age", SINGLE, 1, 200, NULL, SINGLE("42"), "r",
	    NULL, CALL_OK, 0, 0, 1 },
};
static const int64_t gone_age[] = { GIVEUP - 1, GIVEUP, GIVEUP + 1, GIVEUP,
	GIVEUP, GIVEUP };
static const int gone_down[] = { 1, 1, 1, 1, 0, 0 };

START_TEST(test_give_up)
{
	run_case(&gone[_i], gone_age[_i], gone_down[_i]);
}
END_TEST

/*
 * What the gate is told after a batch (backoff_ms: the gate's, 0: none;
 * reached, unreached: its calls answered below 500 or not).
 */
struct gcase {
	const char	*name;
	int		 key, saw429, ok;
	unsigned int	 backoff_ms, reached, unreached;
	int		 want;
};

static const struct gcase gcases[] = {
	{ "no call", 0, 0, 0, 0, 0, 0, 0 },
	{ "nothing answered", 0, 0, 0, 0, 0, 3, ANSWER_DOWN },
	{ "nothing answered, after 429s", 0, 0, 0, 4000, 0, 1, ANSWER_DOWN },
	{ "4xx only", 0, 0, 0, 0, 2, 0, ANSWER_UP },
	{ "one answer among failures", 0, 0, 1, 0, 1, 19, ANSWER_UP },
	{ "answers, no backoff", 0, 0, 1, 0, 20, 0, ANSWER_UP },
	{ "answers after 429s", 0, 0, 1, 2000, 1, 0,
	    ANSWER_BACKOFF_RESET | ANSWER_UP },
	{ "429", 0, 1, 0, 0, 1, 0, ANSWER_PAUSE_429 | ANSWER_UP },
	{ "429 beside answers, after 429s", 0, 1, 1, 2000, 2, 0,
	    ANSWER_PAUSE_429 | ANSWER_UP },
	{ "key refused", 1, 0, 0, 0, 1, 0, ANSWER_PAUSE_KEY | ANSWER_UP },
	{ "key refused and 429", 1, 1, 0, 0, 2, 0,
	    ANSWER_PAUSE_KEY | ANSWER_PAUSE_429 | ANSWER_UP },
	{ "key refused beside answers after 429s", 1, 0, 1, 1000, 2, 0,
	    ANSWER_PAUSE_KEY | ANSWER_BACKOFF_RESET | ANSWER_UP },
};

START_TEST(test_gate)
{
	const struct gcase *g = &gcases[_i];
	struct answer_verdict v;

	memset(&v, 0, sizeof(v));
	v.key_refused = g->key;
	v.saw_429 = g->saw429;
	v.saw_ok = g->ok;
	v.reached = g->reached;
	v.unreached = g->unreached;
	ck_assert_msg(answer_gate(&v, g->backoff_ms) == g->want,
	    "%s: %#x, want %#x", g->name, answer_gate(&v, g->backoff_ms),
	    g->want);
}
END_TEST

/*
 * A group answer leaving 43 out, then its confirming /weather call: the
 * verdict sums both calls, and the gate hears the union.
 */
START_TEST(test_batch)
{
	static const struct acase group = { "group", GROUPED, 1, 200, NULL,
	    GROUP(CITY("42") "," CITY("44")), "rpr", NULL, CALL_OK, 0, 0, 1 };
	static const struct acase confirm = { "confirm", SINGLE, 1, 404, NULL,
	    MSG("\"404\"", "city not found"), "f", "city not found",
	    CALL_NOT_FOUND, 0, 0, 1 };
	struct task	 t[NCITY], *list[NCITY], *missing[NCITY];
	struct answer_verdict v;
	struct owm_call	 c;

	static const struct answer_limits lim = { MAXATT, GIVEUP };
	tasks_init(t, list, NCITY, 1, 0);
	memset(&v, 0, sizeof(v));
	call_init(&c, &group);
	ck_assert_uint_eq(answer_group(list, &c, &lim, NOW, &v, missing), 1);
	buf_free(&c.body);
	call_init(&c, &confirm);
	c.ids = &missing[0]->city;
	answer_single(missing[0], &c, &lim, NOW, &v);
	buf_free(&c.body);
	ck_assert(t[0].out == TASK_READING && t[2].out == TASK_READING);
	ck_assert(t[1].out == TASK_FAILED);
	ck_assert_str_eq(t[1].reason, "city not found");
	ck_assert_uint_eq(v.calls[CALL_OK], 1);
	ck_assert_uint_eq(v.calls[CALL_NOT_FOUND], 1);
	ck_assert_int_eq(answer_gate(&v, 1000),
	    ANSWER_BACKOFF_RESET | ANSWER_UP);
}
END_TEST

/*
 * A batch of single calls none of which reached the API: the gate holds,
 * and answer_hold sends back at once, uncounted, exactly the cities whose
 * calls went unanswered; a city failed by its age and one the API
 * answered about keep their outcomes.
 */
START_TEST(test_hold)
{
	static const struct answer_limits lim = { MAXATT, GIVEUP };
	static const struct acase refused = { "refused", SINGLE, 1, 0,
	    "Couldn't connect to server", "", "u", "", CALL_TRANSPORT,
	    0, 0, 0 };
	struct task	 t[NCITY], *list[NCITY];
	struct answer_verdict v;
	struct owm_call	 c;
	size_t		 i;

	tasks_init(t, list, NCITY, 2, 60);
	t[2].age_s = GIVEUP;
	memset(&v, 0, sizeof(v));
	for (i = 0; i < NCITY; i++) {
		call_init(&c, &refused);
		c.ids = &t[i].city;
		answer_single(&t[i], &c, &lim, NOW, &v);
		buf_free(&c.body);
		t[i].delay_us = 1000000;	/* the caller's backoff */
	}
	ck_assert_int_eq(answer_gate(&v, 0), ANSWER_DOWN);
	ck_assert_str_eq(v.down_why, "Couldn't connect to server");
	answer_hold(t, NCITY);
	for (i = 0; i < 2; i++) {
		ck_assert(t[i].out == TASK_RELEASE);
		ck_assert_int_eq(t[i].delay_us, 0);
		ck_assert_str_eq(t[i].reason, "Couldn't connect to server");
	}
	ck_assert(t[2].out == TASK_FAILED);
	ck_assert_str_eq(t[2].reason,
	    "API unreachable for 86400 s: Couldn't connect to server");
}
END_TEST

/* Released tasks go back uncounted, without a delay. */
START_TEST(test_release)
{
	struct task	 t;

	memset(&t, 0, sizeof(t));
	t.out = TASK_RETRY;
	t.delay_us = 5;
	answer_release(&t, RULES_PAUSE_MONTH);
	ck_assert(t.out == TASK_RELEASE);
	ck_assert_int_eq(t.delay_us, 0);
	ck_assert_str_eq(t.reason, RULES_PAUSE_MONTH);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("answer");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_answer, 0,
	    sizeof(acases) / sizeof(acases[0]));
	tcase_add_loop_test(tc, test_gate, 0,
	    sizeof(gcases) / sizeof(gcases[0]));
	tcase_add_loop_test(tc, test_give_up, 0,
	    sizeof(gone) / sizeof(gone[0]));
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_hold);
	tcase_add_test(tc, test_release);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
