/*
 * answer.h: the answer policy, what an API call's outcome makes of the
 * tasks it was for and what a batch's answers tell the rate gate.
 *
 * Pure: no database, no curl, no clock (now is given, for the parser's
 * dt check), no globals, never logs.  In: the call as it ended (HTTP
 * status, transport error, body: struct owm_call is plain data), single
 * (/weather, one task) or group (/group, every task of the call), each
 * task's attempts (this one included) against max_attempts.  Out: each
 * task's outcome and reason, the verdict's flags and the call's counter.
 *
 *   no status (no connection, timeout)	retry with the error, not counted
 *   5xx				retry "HTTP n", not counted
 *   a status, then a transport error	retry with the error
 *   200, a valid body			a reading
 *   200, a body that does not map	retry "invalid response: why"
 *   404 "city not found" (/weather)	failed at once: the API's word
 *   other 4xx, 404 of /group		retry "HTTP n"
 *   429				retry; the gate pauses everyone
 *   401				released, nothing failed; the gate
 *					pauses everyone for the key
 *
 * A retry on the last attempt fails the task with "<reason> after n
 * attempts".  A call that failed without an answer, or with a 5xx, says
 * nothing about its city (no connection, no name, TLS, a timeout, a
 * server in trouble): its retry does not count as an attempt, and the
 * city fails only once it has waited in the queue give_up_s, with
 * "API unreachable for n s: <reason>".  A batch none of whose calls
 * reached the API is an outage (answer_gate): the gate holds everyone
 * and answer_hold puts the batch's cities back at once.  The 429's
 * Retry-After is not read: the real API sends none; the gate's
 * own backoff decides.  A /group answer leaves unknown ids out: those
 * tasks stay TASK_PENDING, for the caller to confirm with a /weather call
 * each.  The retry's delay is the caller's (rategate_backoff: it draws
 * jitter).
 */
#ifndef OWM_ANSWER_H
#define OWM_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "owm_client.h"
#include "task.h"

/* API call outcomes, in api_calls.outcome order (heartbeat.c). */
enum call_outcome {
	CALL_OK,
	CALL_NOT_FOUND,
	CALL_401,
	CALL_429,
	CALL_4XX,
	CALL_5XX,
	CALL_TIMEOUT,
	CALL_TRANSPORT,
	CALL_BROKEN_JSON,
	CALL_NOUTCOMES
};

/* What a batch's answers said about the key, the limit and the API. */
struct answer_verdict {
	int		 key_refused;	/* a 401 */
	int		 saw_429;
	int		 saw_ok;	/* the API meant it: 200, /weather 404 */
	unsigned int	 reached;	/* calls the API answered below 500 */
	unsigned int	 unreached;	/* calls without one (or a 5xx) */
	char		 down_why[96];	/* the first of those: why */
	unsigned int	 calls[CALL_NOUTCOMES];	/* one count per call */
};

/* The configuration's part in a verdict. */
struct answer_limits {
	unsigned int	 max_attempts;	/* worker.max_attempts */
	int64_t		 give_up_s;	/* worker.give_up_seconds */
};

/* One /weather call c for t. */
void	answer_single(struct task *t, const struct owm_call *c,
	    const struct answer_limits *, int64_t now,
	    struct answer_verdict *);
/*
 * One /group call c for list[0..c->nids) (list[i] asked as c->ids[i], at
 * most OWM_GROUP_MAX).  Returns how many tasks the answer left out, into
 * missing[], still TASK_PENDING.
 */
size_t	answer_group(struct task **list, const struct owm_call *c,
	    const struct answer_limits *, int64_t now,
	    struct answer_verdict *, struct task **missing);
/* Not sent, or the key refused: back to the queue, attempt uncounted. */
void	answer_release(struct task *, const char *reason);
/*
 * The API is unreachable (ANSWER_DOWN): each of the n tasks waiting for a
 * retry that is not the city's goes back to the queue at once, with its
 * reason, to be sent when the gate lets calls through again.
 */
void	answer_hold(struct task *t, size_t n);

/* What the gate must be told after a batch: answer_gate's bits. */
#define ANSWER_PAUSE_KEY	0x1	/* pause everyone: the key refused */
#define ANSWER_PAUSE_429	0x2	/* pause everyone, growing backoff */
#define ANSWER_BACKOFF_RESET	0x4	/* answers again: backoff starts over */
#define ANSWER_DOWN		0x8	/* no call reached the API: hold */
#define ANSWER_UP		0x10	/* the API answered: end a hold */
/* backoff_ms: the gate's 429 backoff when the batch reserved. */
int	answer_gate(const struct answer_verdict *, unsigned int backoff_ms);

#endif
