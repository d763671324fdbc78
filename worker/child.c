/*
 * child.c: the fetching loop of one worker child.
 *
 * Each round: obey the gate's pause; claim up to a batch of due cities
 * (leased); reserve their slot at the shared rate gate and sleep until it
 * (database clock), opening the batch's connections a little before it;
 * send (one /group call, or one /weather call per city, concurrently);
 * tell the gate when the answers began (the latest the calls can have
 * arrived); map the answers; then store every outcome in one transaction
 * (tasks.c), and only then what they said about the key and the limit.
 * What each answer makes of its cities, and what the gate must be told,
 * is answer.c's (a pure policy); this file runs the calls, waits with
 * jitter before a retry, and does what the verdict says.
 *
 * Every ~2 s, also while it sleeps at the gate, the child upserts its
 * heartbeat (heartbeat.c: alive, time spent waiting at the gate, batches)
 * and adds the API calls' outcomes counted since to api_calls; also when
 * it goes idle or stops, so a finished collection's calls are counted at
 * once.  Not after every batch: under load each statement of a batch is
 * a round trip that waits its turn at the database, and the counts do
 * not need to be newer than the heartbeat.
 *
 * The child opens its own database connection and curl handles after
 * fork.  The database going away closes the connection; the child waits
 * and reconnects, and the leases it held simply expire, except a batch
 * whose calls were made: its completion runs again on a new connection
 * while the leases last (tasks.h says why that is idempotent).  A claim
 * or a reservation that fails is never used (gate_db.h): its cities go
 * back to the queue at once, with the outcomes of any calls made.
 *
 * A batch's leases end soon after its calls' deadline (keep_leases), and
 * a child that dies leaves them to its replacement, which gives back
 * everything leased under the dead one's id before its first claim.
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "answer.h"
#include "child.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "gate_db.h"
#include "heartbeat.h"
#include "log.h"
#include "owm_client.h"
#include "owm_parse.h"
#include "rategate.h"
#include "supervise.h"
#include "tasks.h"

#define US_PER_MS	1000LL		/* the clocks count microseconds */
#define US_PER_S	1000000LL

#define KEY_PAUSE_S	60		/* retry a refused key this often */
/* A lease outlives its calls' deadline by this (or worker.lease_seconds,
 * if shorter): the time to store their outcomes, or to reconnect and try
 * again (STORE_RETRY_US). */
#define LEASE_AFTER_US	(10 * US_PER_S)
#define RETRY_BASE_US	US_PER_S	/* first retry of a city after ~1 s, */
#define RETRY_CAP_US	(60 * US_PER_S)	/* doubling up to a minute */
#define PAUSE_NAP_US	US_PER_S	/* re-read a pause this often */
#define TROUBLE_NAP_US	US_PER_S	/* after an error not of the link */
#define LATE_MIN_US	(2 * US_PER_MS)	/* a wake-up's lateness: late_allowed */
#define BEAT_SPARE_US	(300 * US_PER_MS) /* beat in a sleep with this left */
#define SEED_SLOT_SHIFT	16		/* the slot apart from the pid's bits */
#define DB_DOWN		"database unavailable"	/* a released city's reason */
/* A completion that lost its connection keeps trying at least this long
 * (and while the batch's leases last): its calls are spent already. */
#define STORE_RETRY_US	(10 * US_PER_S)
/* Full batches at an open gate this long: the worker is behind. */
#define BEHIND_AFTER_US	US_PER_S

static const struct config	*cf;
static volatile sig_atomic_t	 quit;
static int	db_ready(MYSQL *, struct db_err *);
static void	db_closing(void);
static int	child_nap(int64_t);
static struct db_conn		 conn = { "", db_ready, db_closing,
				    DB_RECONNECT_MAX_US, child_nap, NULL, 0, 0,
				    0 };
static char			 owner[TASKS_OWNER_MAX];	/* the batch */
static struct child_stats	 stats;
static int64_t			 next_beat;
static unsigned long		 batchno;
static int64_t			 lease_end;	/* local: the batch's leases */
static struct task		 tasks[OWM_GROUP_MAX];
static int64_t			 behind_since;	/* 0: not behind */
static int			 pace_open;	/* the round's gate: let it pass */
static int			 pace_full;	/* a full batch was due */
static int64_t			 pace_calls;	/* the round's time in calls */
static struct answer_limits	 limits;	/* from the configuration */
static unsigned int		 calls_due[CALL_NOUTCOMES]; /* not counted yet */
static struct owm_call		 calls[OWM_CLIENT_MAX_CALLS];

/* What a batch learnt: its answers' verdict, the gate's state. */
struct verdict {
	struct answer_verdict ans;
	unsigned int	 backoff_ms;	/* the gate's, at reservation */
	int		 outage;	/* the API was unreachable then */
	int		 probe;		/* the batch was the outage's probe */
};

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

/*
 * Sleep until the monotonic deadline, or until told to quit (in steps:
 * daemon_nap_step), a SIGTERM then costs a step, not a whole wait for a
 * rate slot.
 */
static void	beat(int64_t now);

static void
nap_until(int64_t deadline)
{
	int64_t		 now;

	while (!quit && (now = daemon_mono_us()) < deadline) {
		/* Long sleeps at the gate keep beating; a beat never makes
		 * us late for a slot, though. */
		if (now >= next_beat && deadline - now >= BEAT_SPARE_US) {
			beat(now);
			continue;
		}
		daemon_nap_step(deadline);
	}
}

static void
nap(int64_t us)
{
	nap_until(daemon_mono_us() + us);
}

/* db_conn_transaction's wait for a reconnect: -1 once told to stop. */
static int
child_nap(int64_t until)
{
	nap_until(until);
	return quit ? -1 : 0;
}

/* After every connect: the statements of the gate, the queue, the beat. */
static int
db_ready(MYSQL *db, struct db_err *e)
{
	if (gate_open(db, cf, e) == -1 || tasks_open(db, cf, e) == -1 ||
	    heartbeat_open(db, e) == -1)
		return -1;
	next_beat = 0;		/* announce ourselves at once */
	return 0;
}

static void
db_closing(void)
{
	heartbeat_close();
	gate_close();
	tasks_close();
}

/* A statement failed: drop a broken connection, log anything else. */
static void
db_trouble(const struct db_err *e)
{
	if (db_conn_lost(&conn, e))
		return;
	log_warnx("database: %s", e->msg);
	nap(TROUBLE_NAP_US);
}

/*
 * Add the calls counted since the last time to api_calls; kept for the
 * next time if that fails (a failure is classified as beat()'s are).
 */
static void
count_calls(void)
{
	struct db_err	 e;

	if (conn.db == NULL)
		return;
	if (heartbeat_count_calls(calls_due, &e) == -1) {
		if (!db_error_is_gone(e.code))
			log_warnx("database: %s", e.msg);
		return;
	}
	memset(calls_due, 0, sizeof(calls_due));
}

/*
 * Upsert the heartbeat if one is due.  A failure is left for the next
 * regular statement to classify: this may run in the middle of a batch,
 * which must keep its connection until it decides.
 */
static void
beat(int64_t now)
{
	struct db_err	 e;

	next_beat = now + HEARTBEAT_EVERY_US;
	if (conn.db == NULL)
		return;
	if (heartbeat_beat(&stats, &e) == -1 && !db_error_is_gone(e.code))
		log_warnx("database: %s", e.msg);
	count_calls();
}

/* A slow API call (up to owm.timeout_ms) must not look like a dead child. */
static void
beat_if_due(void)
{
	int64_t	 now = daemon_mono_us();

	if (now >= next_beat)
		beat(now);
}

static double
rnd(void)
{
	return (double)random() / ((double)RAND_MAX + 1.0);
}

/* A retry waits a backoff with jitter, growing with the attempts. */
static void
retry_later(struct task *t, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (t[i].out == TASK_RETRY)
			t[i].delay_us = rategate_backoff(t[i].attempts,
			    RETRY_BASE_US, RETRY_CAP_US, rnd());
}

/* Release every task of list still without an outcome. */
static void
release_all(struct task **list, size_t n, const char *reason)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		answer_release(list[i], reason);
}

/* A reservation in hand, on this host's monotonic clock. */
struct pass {
	struct gate_state g;
	int64_t		 wake;		/* the slot */
	int64_t		 connect_by;	/* connected by then: send_by */
	int64_t		 send_by;	/* no request leaves after this */
	int64_t		 end_by;	/* the calls' deadline */
};

/*
 * The batch's leases last until the calls' deadline and the storing of
 * their outcomes, and no longer: the claim's lease (worker.lease_seconds)
 * covers a wait of unknown length at the gate, and would keep the cities
 * of a batch lost with its host from everyone for that long.
 */
static int
keep_leases(struct task **list, size_t n, const struct pass *ps,
    struct db_err *e)
{
	int64_t	 after = cf->worker.lease_seconds * US_PER_S;

	if (after > LEASE_AFTER_US)
		after = LEASE_AFTER_US;
	if (tasks_lease_until(owner, list, n, ps->g.deadline + after, e) ==
	    -1)
		return -1;
	lease_end = ps->end_by + after;
	return 0;
}

/*
 * Tell the gate the latest moment the reservation's calls can have
 * arrived (database clock; 0: none was sent).  Not recorded, the row
 * keeps the calls' deadline, which is only more careful.
 */
static void
note_arrival(const struct pass *ps, int64_t arrive)
{
	struct db_err	 e;

	if (gate_arrived(&ps->g, arrive, &e) == -1 &&
	    !db_error_is_gone(e.code))
		log_warnx("database: %s", e.msg);
}

/* The reservation was not used after all (pause, shutdown, lateness). */
static void
unused(const struct pass *ps)
{
	note_arrival(ps, 0);
}

/*
 * How late a wake-up may be and still use its slot: half the margin (the
 * other half is the calls' to connect in), and never less than a
 * scheduler's wake-up (with a margin of 0 every sleep would otherwise end
 * "late" and reserve again).
 */
static int64_t
late_allowed(void)
{
	int64_t	 late = cf->owm.margin_ms * US_PER_MS / 2;

	return late < LATE_MIN_US ? LATE_MIN_US : late;
}

/*
 * The worker is behind when this child's rounds of full batches have
 * spent most of their time at the database for BEHIND_AFTER_US: every
 * call it makes could have been made sooner, by a machine less busy.
 * Its reservations then say so to the gate (rate_gate.behind_until), and
 * the POSTs give the database to the work the key is paid for
 * (docs/design.md, "The worker's share").
 */
static int
behind(void)
{
	return behind_since != 0 &&
	    daemon_mono_us() - behind_since >= BEHIND_AFTER_US;
}

/*
 * After a round's calls (the round began at start, with wait0 spent at
 * the gate then).  It counts towards being behind if the gate let a full
 * batch pass and the round spent longer at the database (its claim and
 * reservation) than at the gate and in its API calls together: the limit
 * did not hold it back, and a slow API is no reason for the POSTs to give
 * way (they would not make it faster).  A slot a few milliseconds ahead
 * of a round that spent tens at the database is still the database's
 * round, so the test is the time waited, not whether the slot had come.
 * Any other round ends that.  Once behind, the worker stays so while a
 * full batch is due at each round, even as it keeps up again: it keeps
 * up because the POSTs give way.  Less than a batch due (the backlog is
 * done) ends it.
 */
static void
pace(int64_t start, int64_t wait0)
{
	int64_t	 now = daemon_mono_us();
	int64_t	 waited = stats.gate_wait_us - wait0;
	int64_t	 rest = now - start - pace_calls - waited;

	if (behind()) {
		if (!pace_full)
			behind_since = 0;
		return;
	}
	if (pace_open && pace_full && rest > pace_calls + waited) {
		if (behind_since == 0)
			behind_since = now;
	} else
		behind_since = 0;
}

/*
 * Reserve a slot for the n tasks of list, and keep their leases past its
 * calls: how many tasks it covers (the monthly cap may cut them; the
 * others are released), 0 when the gate is paused (all released), -1 on
 * a database error.
 */
static int
reserve(struct task **list, size_t n, struct verdict *v, struct pass *ps)
{
	struct gate_state *g = &ps->g;
	struct db_err	 e;
	int		 rc;

	if ((rc = gate_reserve((unsigned int)n, owner, behind(), g, &e)) ==
	    -1) {
		db_trouble(&e);
		return -1;
	}
	/* The gate let the batch pass, and not as the probe of an API that
	 * seems down (pace() decides what held it back). */
	pace_open = rc == GATE_OK && !g->probe;
	if (rc == GATE_PAUSED) {
		release_all(list, n, g->reason);
		return 0;
	}
	v->backoff_ms = g->backoff_ms;
	v->outage |= g->outage;
	v->probe |= g->probe;
	if (g->granted < n) {
		release_all(list + g->granted, n - g->granted,
		    g->probe ? RULES_PAUSE_DOWN : RULES_PAUSE_MONTH);
		n = g->granted;
	}
	ps->wake = gate_wake_mono(g, g->slot);
	/* A connect may take as long as a request may wait to leave
	 * (gate_db.h: GATE_SEND_MIN_US, one or two lost SYNs). */
	ps->send_by = gate_by_mono(g, g->send_by);
	ps->connect_by = ps->send_by;
	ps->end_by = gate_by_mono(g, g->deadline);
	if (keep_leases(list, n, ps, &e) == -1) {
		unused(ps);
		db_trouble(&e);
		return -1;
	}
	return (int)n;
}

/*
 * Sleep until the slot, opening the calls' connections
 * owm.connect_timeout_ms before it, then see that no one paused the gate
 * meanwhile.  n when the tasks may go, 0 when they were released
 * (stopping, paused), -1 on a database error.
 */
static int
sleep_to_slot(struct task **list, size_t n, size_t ncalls,
    const struct pass *ps)
{
	struct gate_state state;
	struct db_err	 e;
	int64_t		 t0, lead = cf->owm.connect_timeout_ms * US_PER_MS;
	int		 rc;

	if (ps->wake > daemon_mono_us())
		log_debug("%zu cities: slot in %lld ms", n,
		    (long long)((ps->wake - daemon_mono_us()) / US_PER_MS));
	t0 = daemon_mono_us();
	nap_until(ps->wake - lead);
	if (!quit)
		owm_client_warm(ncalls, ps->wake, beat_if_due);
	nap_until(ps->wake);
	stats.gate_wait_us += daemon_mono_us() - t0;
	if (quit) {
		unused(ps);
		release_all(list, n, "worker stopping");
		return 0;
	}
	if (ps->wake <= t0)
		return (int)n;
	/* Someone may have been refused while we slept (a probe's own
	 * hold is no reason to stop it). */
	if ((rc = gate_check(&state, &e)) == -1) {
		unused(ps);
		db_trouble(&e);
		return -1;
	}
	if (rc == GATE_PAUSED && ps->g.probe &&
	    strcmp(state.reason, RULES_PAUSE_DOWN) == 0)
		return (int)n;
	if (rc == GATE_PAUSED) {
		unused(ps);
		release_all(list, n, state.reason);
		return 0;
	}
	return (int)n;
}

/*
 * Pass the gate for the n tasks of list (ncalls calls) and sleep until
 * the slot.  Returns the number of tasks that may be sent now, with *ps
 * (the others are released), or -1 on a database error.
 */
static int
pass_gate(struct task **list, size_t n, size_t ncalls, struct verdict *v,
    struct pass *ps)
{
	int64_t	 late = late_allowed();
	int	 k;

	for (;;) {
		if ((k = reserve(list, n, v, ps)) <= 0)
			return k;
		n = (size_t)k;
		if (ncalls > n)
			ncalls = n;
		if ((k = sleep_to_slot(list, n, ncalls, ps)) <= 0)
			return k;
		/* Late past the margin: the slot no longer covers us. */
		if (daemon_mono_us() <= ps->wake + late)
			return k;
		log_warnx("woke %lld ms after the rate slot: reserving again",
		    (long long)((daemon_mono_us() - ps->wake) / US_PER_MS));
		unused(ps);
	}
}

/*
 * The calls of a reservation ended: tell the gate the latest moment any
 * can have arrived (owm_client.h: an answer's first byte, a request
 * given up on's hold; 0 when none was sent).
 */
static void
arrived(const struct pass *ps, const struct owm_call *c, size_t n)
{
	int64_t		 last = 0;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (c[i].arrive > last)
			last = c[i].arrive;
	note_arrival(ps, last ? gate_db_time(&ps->g, last) : 0);
}

/* n concurrent /weather calls for list; outcomes into the tasks. */
static int
fetch_single(struct task **list, size_t n, struct verdict *v)
{
	struct pass	 ps;
	uint32_t	 ids[OWM_GROUP_MAX];
	size_t		 i;
	int64_t		 t0;
	int		 k;

	if ((k = pass_gate(list, n, n, v, &ps)) <= 0)
		return k;
	for (i = 0; i < (size_t)k; i++) {
		ids[i] = list[i]->city;
		calls[i].group = 0;
		calls[i].ids = &ids[i];
		calls[i].nids = 1;
	}
	t0 = daemon_mono_us();
	owm_client_run(calls, (size_t)k, ps.connect_by, ps.send_by, ps.end_by,
	    beat_if_due);
	pace_calls += daemon_mono_us() - t0;
	arrived(&ps, calls, (size_t)k);
	for (i = 0; i < (size_t)k; i++) {
		log_debug("GET /weather id=%u: %ld%s%s", ids[i],
		    calls[i].status, calls[i].failed ? " " : "",
		    calls[i].failed ? calls[i].err : "");
		answer_single(list[i], &calls[i], &limits, time(NULL),
		    &v->ans);
	}
	stats.cities += (uint64_t)k;
	return 0;
}

/* One /group call for list; ids left out are confirmed one by one. */
static int
fetch_group(struct task **list, size_t n, struct verdict *v)
{
	struct task	*missing[OWM_GROUP_MAX];
	struct pass	 ps;
	uint32_t	 ids[OWM_GROUP_MAX];
	size_t		 i, nmissing;
	int64_t		 t0;
	int		 k;

	if ((k = pass_gate(list, n, 1, v, &ps)) <= 0)
		return k;
	n = (size_t)k;
	for (i = 0; i < n; i++)
		ids[i] = list[i]->city;
	calls[0].group = 1;
	calls[0].ids = ids;
	calls[0].nids = n;
	t0 = daemon_mono_us();
	owm_client_run(calls, 1, ps.connect_by, ps.send_by, ps.end_by,
	    beat_if_due);
	pace_calls += daemon_mono_us() - t0;
	arrived(&ps, calls, 1);
	stats.cities += n;
	log_debug("GET /group (%zu ids from %u): %ld%s%s", n, ids[0],
	    calls[0].status, calls[0].failed ? " " : "",
	    calls[0].failed ? calls[0].err : "");
	nmissing = answer_group(list, &calls[0], &limits, time(NULL), &v->ans,
	    missing);
	/* The API leaves unknown ids out of a group answer; one single
	 * call each tells an unknown city from a hiccup. */
	if (nmissing > 0)
		return fetch_single(missing, nmissing, v);
	return 0;
}

/* The API reached nothing: hold the gate for everyone. */
static int
report_down(const struct verdict *v, struct db_err *e)
{
	unsigned int	 backoff;
	int		 rc;

	if ((rc = gate_unreachable(v->probe, v->ans.down_why, &backoff,
	    e)) == -1)
		return -1;
	if (rc == 1)
		log_errx("the API is unreachable (%s): every child holds its "
		    "calls, and one city probes it, first in %u ms, then up "
		    "to every %d s; no city is failed", v->ans.down_why,
		    backoff, GATE_DOWN_MAX_MS / 1000);
	return 0;
}

/* The API answered: an outage, if one was on, ends. */
static int
report_up(struct db_err *e)
{
	int64_t		 down_us;
	int		 rc;

	if ((rc = gate_reachable(&down_us, e)) == -1)
		return -1;
	if (rc == 1)
		log_notice("the API answers again after %lld s unreachable: "
		    "calls resume", (long long)(down_us / US_PER_S));
	return 0;
}

/*
 * Tell everyone what this batch learnt about the key, the limit and the
 * API's reach, before its outcomes are stored: the other children must
 * stop calling an API that refuses or cannot be reached at once, whether
 * or not the storing goes well.
 */
static int
report_gate(const struct verdict *v)
{
	struct db_err	 e;
	int		 rc, act = answer_gate(&v->ans, v->backoff_ms);

	if (act & ANSWER_PAUSE_KEY) {
		if ((rc = gate_pause_key(KEY_PAUSE_S, &e)) == -1)
			goto fail;
		if (rc == 1)
			log_errx("the API refused the key (HTTP 401 Invalid "
			    "API key): fetching is paused for everyone and "
			    "retried every %d s; no city is failed. Fix "
			    "owm.key and reload (SIGHUP)", KEY_PAUSE_S);
	}
	if (act & ANSWER_PAUSE_429) {
		if ((rc = gate_pause_429(&e)) == -1)
			goto fail;
		if (rc == 1)
			log_warnx("the API answered 429 (limit exceeded): "
			    "pausing the rate gate for everyone");
	}
	if ((act & ANSWER_BACKOFF_RESET) && gate_backoff_reset(&e) == -1)
		goto fail;
	if ((act & ANSWER_DOWN) && report_down(v, &e) == -1)
		goto fail;
	if ((act & ANSWER_UP) && v->outage && report_up(&e) == -1)
		goto fail;
	return 0;
fail:
	db_trouble(&e);
	return -1;
}

/* The batch's API calls, by outcome, to be counted (count_calls). */
static void
report_calls(const struct verdict *v)
{
	int	 i;

	for (i = 0; i < CALL_NOUTCOMES; i++)
		calls_due[i] += v->ans.calls[i];
}

static void
batch_log(size_t n, size_t lost, size_t before)
{
	size_t	 i, got = 0, failed = 0, retry = 0, back = 0;

	for (i = 0; i < n; i++)
		switch (tasks[i].out) {
		case TASK_READING:
			if (tasks[i].rd.place_state == OWM_PLACE_REFUSED)
				log_warnx("city %u: name and place not kept: "
				    "%s", tasks[i].city, tasks[i].rd.place_why);
			/* FALLTHROUGH */
		case TASK_REUSE:
			got++;
			break;
		case TASK_FAILED:
			failed++;
			log_info("city %u failed: %s", tasks[i].city,
			    tasks[i].reason);
			break;
		case TASK_RETRY:
			retry++;
			log_debug("city %u: %s (attempt %u), retrying",
			    tasks[i].city, tasks[i].reason,
			    tasks[i].attempts);
			break;
		default:
			back++;
			break;
		}
	if (lost)
		log_warnx("batch %s: %zu cities' leases expired before the "
		    "results were stored; another child owns them now",
		    owner, lost);
	if (before)
		log_notice("batch %s: a COMMIT left unanswered by a lost "
		    "connection had stored %zu cities' outcomes", owner,
		    before);
	log_debug("batch %s: %zu collected, %zu failed, %zu to retry, %zu "
	    "released", owner, got, failed, retry, back);
}

/*
 * The claim failed (perhaps with its COMMIT unanswered: then it may
 * hold leases it never learnt of): what is leased to the batch goes back
 * to the queue at once, on a new connection if need be, rather than
 * when the leases expire.  Best effort: if the database stays away, the
 * leases still expire.
 */
static void
drop_batch(void)
{
	struct db_err	 e;
	size_t		 n;

	if (tasks_release(&conn, daemon_mono_us() + STORE_RETRY_US, owner, &n,
	    &e) == -1) {
		if (!db_error_is_gone(e.code))
			log_warnx("database: %s", e.msg);
		return;
	}
	if (n > 0)
		log_notice("batch %s: %zu cities leased by a claim whose "
		    "answer was lost, back to the queue", owner, n);
}

/* One round; 1 if it did something, 0 if idle, -1 on a database error. */
static int
round_once(void)
{
	struct gate_state g;
	struct verdict	 v;
	struct task	*list[OWM_GROUP_MAX];
	struct db_err	 e;
	size_t		 n, i, k, lost, before, max, due;
	int64_t		 until, start = daemon_mono_us();
	int64_t		 wait0 = stats.gate_wait_us;
	int		 rc, told;

	pace_open = pace_full = 0;
	pace_calls = 0;
	if ((rc = gate_check(&g, &e)) == -1) {
		db_trouble(&e);
		return -1;
	}
	if (rc == GATE_PAUSED) {
		/* Held by the API's word, not by the machine: whatever
		 * counted towards being behind ends here. */
		behind_since = 0;
		log_debug("rate gate paused (%s) for %lld ms", g.reason,
		    (long long)((g.paused_until - g.now) / US_PER_MS));
		nap(g.paused_until - g.now < PAUSE_NAP_US ?
		    g.paused_until - g.now : PAUSE_NAP_US);
		return 1;
	}
	max = (size_t)cf->owm.batch_size;
	if ((long long)max > cf->owm.cities_per_minute)
		max = (size_t)cf->owm.cities_per_minute;
	snprintf(owner, sizeof(owner), "%s:%ld:%lu", stats.owner, stats.pid,
	    ++batchno);
	lease_end = daemon_mono_us() + cf->worker.lease_seconds * US_PER_S;
	if (tasks_claim(owner, tasks, max, &n, &due, &e) == -1) {
		db_trouble(&e);
		drop_batch();
		return -1;
	}
	/* A full batch was due: the queue holds a backlog (others' leases
	 * may still have cut this batch). */
	pace_full = due >= max;
	if (n == 0) {
		behind_since = 0;	/* the queue is empty */
		return 0;
	}
	memset(&v, 0, sizeof(v));
	for (i = k = 0; i < n; i++)
		if (tasks[i].out == TASK_PENDING)
			list[k++] = &tasks[i];
	rc = 0;
	if (k > 0) {
		rc = cf->owm.mode == OWM_MODE_GROUP ? fetch_group(list, k, &v) :
		    fetch_single(list, k, &v);
		stats.batches++;
		report_calls(&v);
		pace(start, wait0);
		retry_later(tasks, n);
		/* Nothing reached the API: its cities wait for the gate. */
		if (answer_gate(&v.ans, v.backoff_ms) & ANSWER_DOWN)
			answer_hold(tasks, n);
	}
	/* The database failed before some calls (the claim is known, the
	 * reservation not used): those go back to the queue with the
	 * outcomes of any calls made. */
	if (rc == -1 || conn.db == NULL)
		for (i = 0; i < n; i++)
			if (tasks[i].out == TASK_PENDING)
				answer_release(&tasks[i], DB_DOWN);
	/* What the calls said of the key, the limit and the API first;
	 * on a lost connection, again after the completion (which opens a
	 * new one). */
	told = conn.db != NULL && report_gate(&v) == 0;
	/* Then the outcomes; a failure to report must not lose them.  A
	 * lost connection is opened again and the completion run again
	 * (tasks.h: idempotent by the leases) while the leases last. */
	until = daemon_mono_us() + STORE_RETRY_US;
	if (tasks_complete(&conn, lease_end > until ? lease_end : until,
	    owner, tasks, n, &lost, &before, &e) == -1) {
		if (e.commit_unknown)
			log_warnx("batch %s: the connection was lost after "
			    "COMMIT and no new one answered in time (%s); "
			    "the leases decide: stored, or fetched again "
			    "once they expire", owner, e.msg);
		else
			log_warnx("batch %s: results not stored (%s); the "
			    "cities will be fetched again", owner, e.msg);
		db_trouble(&e);
		if (!told && conn.db != NULL)
			(void)report_gate(&v);
		return -1;
	}
	batch_log(n, lost, before);
	if (!told && report_gate(&v) == -1)
		return -1;
	return 1;
}

/*
 * Who this child is, for its heartbeat and its batches' owners: the
 * supervisor's random id, not the host name and pid (neither is unique).
 * The host name is shown whole; a byte a column of text would refuse
 * (the kernel takes any) shows as '?'.
 */
static void
stats_init(int slot, int restarts, const struct supervise_ids *ids)
{
	size_t	 i;

	if (gethostname(stats.host, sizeof(stats.host)) == -1)
		snprintf(stats.host, sizeof(stats.host), "localhost");
	stats.host[sizeof(stats.host) - 1] = '\0';
	for (i = 0; stats.host[i] != '\0'; i++)
		if (stats.host[i] < '!' || stats.host[i] > '~')
			stats.host[i] = '?';
	stats.pid = (long)getpid();
	stats.ppid = (long)getppid();
	stats.slot = slot;
	stats.restarts = restarts;
	memcpy(stats.owner, ids->self, sizeof(stats.owner));
	memcpy(stats.previous, ids->previous, sizeof(stats.previous));
}

/*
 * The child this one replaces is dead (reaped before this one started):
 * what it held goes back to the queue now, not when its leases expire.
 * 0 once done, -1 to try again on the next connection.
 */
static int
release_predecessor(void)
{
	static int	 done;
	struct db_err	 e;
	size_t		 n;

	if (done || stats.previous[0] == '\0')
		return 0;
	if (tasks_release_child(&conn, daemon_mono_us() + STORE_RETRY_US,
	    stats.previous, &n, &e) == -1) {
		db_trouble(&e);
		return -1;
	}
	if (n > 0)
		log_notice("%zu cities leased by child %s, which this one "
		    "replaces, back to the queue", n, stats.previous);
	done = 1;
	return 0;
}

int
child_run(const struct config *conf, int slot, int restarts, int fresh,
    const struct supervise_ids *ids)
{
	struct db_err	 e;
	size_t		 i;
	int		 rc, worked = 0;

	cf = conf;
	limits.max_attempts = (unsigned int)cf->worker.max_attempts;
	limits.give_up_s = cf->worker.give_up_seconds;
	daemon_child_signals(on_term);

	srandom((unsigned int)(getpid() ^ time(NULL) ^
	    (slot << SEED_SLOT_SHIFT)));
	stats_init(slot, restarts, ids);
	if (owm_client_init(cf, e.msg, sizeof(e.msg)) == -1) {
		log_errx("%s", e.msg);
		return 1;
	}
	while (!quit) {
		if (db_conn_up(&conn, cf, &e) == -1) {
			nap_until(conn.next_try);
			continue;
		}
		if (release_predecessor() == -1)
			continue;
		if (fresh) {
			if ((rc = gate_clear_key(&e)) == -1) {
				db_trouble(&e);
				continue;
			}
			if (rc == 1)
				log_notice("new configuration: lifting the "
				    "invalid-key pause");
			fresh = 0;
		}
		if (daemon_mono_us() >= next_beat)
			beat(daemon_mono_us());
		if ((rc = round_once()) != 0)
			worked = 1;
		else {
			/* Going idle: what the batches freed goes back to
			 * the kernel instead of staying dirty till the next. */
			if (worked) {
				count_calls();
				(void)malloc_trim(0);
			}
			worked = 0;
			nap(cf->worker.poll_ms * US_PER_MS);
		}
	}
	count_calls();
	if (conn.db && heartbeat_leave(&stats, &e) == -1)
		log_warnx("database: %s", e.msg);
	db_conn_close(&conn);
	for (i = 0; i < OWM_CLIENT_MAX_CALLS; i++)
		buf_free(&calls[i].body);
	owm_client_free();
	return 0;
}
