/*
 * answer.c: see answer.h.
 *
 * The HTTP status decides, never the body's cod (a number in some bodies,
 * a string in others, as the real API sends them); the body is read for the readings, and
 * on a /weather 404 for the API's message.  A call is counted once,
 * under the outcome of the call: a /group answer for 20 cities is one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "answer.h"
#include "rules.h"		/* the pause reasons */

#define NOT_FOUND	"city not found"	/* the API's 404 message */
/* The longest tail retry() gives a reason on the last attempt. */
#define AFTER_LONGEST	" after 4294967295 attempts"
/* Room for a reason retry() is given: t->reason less that tail. */
#define REASON_ROOM	(TASKS_REASON_MAX - sizeof(AFTER_LONGEST) + 1)

/* A transient failure: try again later, or fail after the last attempt. */
static void
retry(struct task *t, const char *reason, unsigned int max_attempts)
{
	if (t->attempts >= max_attempts) {
		t->out = TASK_FAILED;
		snprintf(t->reason, sizeof(t->reason), "%s after %u attempts",
		    reason, t->attempts);
		return;
	}
	t->out = TASK_RETRY;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

/*
 * A failure that is not the city's: try again, the attempt not counted,
 * or fail once the city has waited give_up_s in the queue.
 */
static void
unreached(struct task *t, const char *reason, const struct answer_limits *l)
{
	if (t->age_s >= l->give_up_s) {
		t->out = TASK_FAILED;
		snprintf(t->reason, sizeof(t->reason), "API unreachable for "
		    "%lld s: %s", (long long)t->age_s, reason);
		return;
	}
	t->out = TASK_RETRY;
	t->uncounted = 1;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

void
answer_release(struct task *t, const char *reason)
{
	t->out = TASK_RELEASE;
	t->delay_us = 0;
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

void
answer_hold(struct task *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (t[i].out == TASK_RETRY && t[i].uncounted) {
			t[i].out = TASK_RELEASE;
			t[i].delay_us = 0;
		}
}

/*
 * The call reached no one who could answer for the city: it failed
 * before any status came (no connection, no name, TLS, a timeout), or the
 * server answered 5xx.  A status below 500 followed by a failure (a body
 * cut short, too large, stalled) is an answer that did not serve it.
 */
static int
is_unreached(const struct owm_call *c)
{
	if (c->failed && c->status == 0)
		return 1;
	return c->status >= 500;
}

/* Every call counts once: reached or not, and the first reason not. */
static void
count_reach(const struct owm_call *c, const char *why,
    struct answer_verdict *v)
{
	if (!is_unreached(c)) {
		v->reached++;
		return;
	}
	if (v->unreached++ == 0)
		snprintf(v->down_why, sizeof(v->down_why), "%s", why);
}

/* The counter a call's transport result and status fall under. */
static enum call_outcome
outcome_of(const struct owm_call *c)
{
	if (c->failed)
		return strcmp(c->err, OWM_CLIENT_TIMEOUT) == 0 ? CALL_TIMEOUT :
		    CALL_TRANSPORT;
	switch (c->status) {
	case 200:
		return CALL_OK;
	case 401:
		return CALL_401;
	case 429:
		return CALL_429;
	}
	return c->status >= 500 ? CALL_5XX : CALL_4XX;
}

/* An answer without a usable body: the HTTP status decides. */
static void
classify_status(struct task *t, const struct owm_call *c,
    const struct answer_limits *l, struct answer_verdict *v)
{
	char	 why[REASON_ROOM];

	if (c->failed && is_unreached(c)) {
		unreached(t, c->err, l);
		return;
	}
	if (c->failed) {
		retry(t, c->err, l->max_attempts);
		return;
	}
	switch (c->status) {
	case 401:
		v->key_refused = 1;
		answer_release(t, RULES_PAUSE_KEY);
		return;
	case 429:
		v->saw_429 = 1;
		break;
	}
	snprintf(why, sizeof(why), "HTTP %ld", c->status);
	if (is_unreached(c))
		unreached(t, why, l);
	else
		retry(t, why, l->max_attempts);
}

/* The API's word for an unknown id; any other 404 is a misrouted call. */
static int
is_not_found(const struct owm_call *c)
{
	/* One byte more than the word: a longer message does not fit. */
	char	 msg[sizeof(NOT_FOUND) + 1];

	return owm_parse_message(c->body.data, c->body.len, msg,
	    sizeof(msg)) == 0 && strcmp(msg, NOT_FOUND) == 0;
}

/* One /weather answer for t; returns the call's counter. */
static enum call_outcome
classify_single(struct task *t, const struct owm_call *c,
    const struct answer_limits *l, int64_t now, struct answer_verdict *v)
{
	const char	*why;
	char		 reason[REASON_ROOM];

	if (c->failed || (c->status != 200 && c->status != 404)) {
		classify_status(t, c, l, v);
		return outcome_of(c);
	}
	v->saw_ok = 1;
	if (c->status == 404) {
		if (is_not_found(c)) {
			t->out = TASK_FAILED;
			snprintf(t->reason, sizeof(t->reason), NOT_FOUND);
			return CALL_NOT_FOUND;
		}
		retry(t, "HTTP 404", l->max_attempts);
		return CALL_4XX;
	}
	if (owm_parse_single(c->body.data, c->body.len, t->city, now, &t->rd,
	    &why) == 0) {
		t->out = TASK_READING;
		return CALL_OK;
	}
	snprintf(reason, sizeof(reason), "invalid response: %s", why);
	retry(t, reason, l->max_attempts);
	return CALL_BROKEN_JSON;
}

void
answer_single(struct task *t, const struct owm_call *c,
    const struct answer_limits *l, int64_t now, struct answer_verdict *v)
{
	v->calls[classify_single(t, c, l, now, v)]++;
	count_reach(c, t->reason, v);
}

size_t
answer_group(struct task **list, const struct owm_call *c,
    const struct answer_limits *l, int64_t now, struct answer_verdict *v,
    struct task **missing)
{
	struct owm_reading rd[OWM_GROUP_MAX];
	int		 found[OWM_GROUP_MAX];
	const char	*why;
	char		 reason[REASON_ROOM];
	size_t		 i, n = c->nids, nmissing = 0;

	if (n > OWM_GROUP_MAX || n == 0)
		abort();		/* the client never sends those */
	if (c->failed || c->status != 200) {
		v->calls[outcome_of(c)]++;
		for (i = 0; i < n; i++)
			classify_status(list[i], c, l, v);
		count_reach(c, list[0]->reason, v);
		return 0;
	}
	v->saw_ok = 1;
	v->reached++;
	if (owm_parse_group(c->body.data, c->body.len, c->ids, n, now, rd,
	    found, &why) == -1) {
		v->calls[CALL_BROKEN_JSON]++;
		snprintf(reason, sizeof(reason), "invalid response: %s", why);
		for (i = 0; i < n; i++)
			retry(list[i], reason, l->max_attempts);
		return 0;
	}
	v->calls[CALL_OK]++;
	for (i = 0; i < n; i++) {
		if (found[i]) {
			list[i]->rd = rd[i];
			list[i]->out = TASK_READING;
		} else
			missing[nmissing++] = list[i];
	}
	return nmissing;
}

int
answer_gate(const struct answer_verdict *v, unsigned int backoff_ms)
{
	int	 act = 0;

	if (v->key_refused)
		act |= ANSWER_PAUSE_KEY;
	if (v->saw_429)
		act |= ANSWER_PAUSE_429;
	else if (v->saw_ok && backoff_ms > 0)
		act |= ANSWER_BACKOFF_RESET;
	if (v->reached > 0)
		act |= ANSWER_UP;
	else if (v->unreached > 0)
		act |= ANSWER_DOWN;
	return act;
}
