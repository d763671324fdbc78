/*
 * gate_db.h: the shared rate gate through the database (etc/schema.sql:
 * rate_gate, rate_slots).
 *
 * A reservation locks the single rate_gate row, then reads the database
 * clock (never in the locking statement: that one may have waited for
 * the lock), the newest slot and the late ones, asks rategate_place() for
 * the earliest slot that keeps every window of owm.cities_per_minute,
 * inserts it with the latest moment its calls may arrive as their
 * arrival bound, and commits; the caller sleeps until the slot, sends,
 * and then reports the bound its calls' outcomes give (gate_arrived).
 * Every reservation counts, used or not.  The same row holds the pause
 * every child obeys (a 429, an invalid key, the monthly cap, the API
 * unreachable).  While the API is unreachable (an outage: no call of a
 * batch got an answer), a reservation carries one city, a probe, and
 * holds the gate until its calls' end; a failed probe pauses everyone
 * for a backoff that doubles up to 30 s; the first answer ends the
 * outage.
 *
 * The bound a reservation starts with covers every outcome its calls
 * can report, so that a report only ever lowers it (rategate.h): an
 * answer begins by the calls' deadline (slot + margin + owm.timeout_ms);
 * a request connects and leaves by send_by (slot + the margin, at least
 * GATE_SEND_MIN_US) or not at all, and one left unanswered may be read
 * until owm.hold_ms after it left.  So the bound is the later of the
 * deadline and send_by + owm.hold_ms.  A call that left after the margin
 * (a lost SYN) arrived by its answer's first byte, which gate_arrived
 * records: the bound covers it until then.
 *
 * A reservation whose COMMIT went unanswered (the connection lost after
 * it was sent: a failover) is never used: gate_reserve fails and the
 * caller drops the batch.  If it did take effect, its row stays with the
 * calls' deadline as their arrival bound, counted as used like any
 * other; if not, nothing was sent on it.  Either way a lost
 * acknowledgement can only make the gate more careful, never admit more
 * than owm.cities_per_minute in 60 s.  Likewise a gate_arrived whose
 * answer is lost leaves the later bound.
 *
 * Clocks: the database's NOW(6) is read between two readings of this
 * host's monotonic clock, so a database time maps to a local one and back
 * with an error no larger than that statement's round trip, always on the
 * safe side (gate_wake_mono: never before; gate_db_time: never earlier).
 */
#ifndef OWM_GATE_DB_H
#define OWM_GATE_DB_H

#include <stdint.h>

#include <mysql.h>

#include "db.h"
#include "rules.h"		/* the pause reasons */

struct config;

#define GATE_OK		0
#define GATE_PAUSED	1	/* nothing reserved: wait until paused_until */
/* Between probes of an unreachable API: from 1 s, doubling, to 30 s, so
 * that the gate opens within a minute of the API's return. */
#define GATE_DOWN_MIN_MS	1000
#define GATE_DOWN_MAX_MS	30000
/*
 * A call may still connect and leave this long after its slot, whatever
 * the margin: a connection whose SYN found the server's accept queue full
 * is resent after 1 s and, on a kernel that resends at 1 s intervals
 * (Linux from 6.7), once more at 2 s, or once only where the resends
 * double (1 s, then 3 s).  A batch on new connections into a small queue
 * (a cold start: nothing could be opened ahead of a slot that is "now")
 * loses a third to a half of its SYNs at once; abandoning those calls
 * wasted their cities' share of the limit.  One that leaves after the
 * margin is counted by its answer's first byte (gate_arrived), like any
 * late arrival.
 */
#define GATE_SEND_MIN_US	2500000LL


struct gate_state {
	int64_t		 now;		/* the database clock, microseconds */
	int64_t		 mono_lo;	/* local monotonic clock just before */
	int64_t		 mono_hi;	/* ... and just after now was read */
	unsigned long long id;		/* the reservation's rate_slots row */
	int64_t		 slot;		/* reserved: send at this time */
	int64_t		 send_by;	/* no request leaves after this */
	int64_t		 deadline;	/* its calls end by then */
	unsigned int	 granted;	/* reserved cities (<= asked for) */
	int64_t		 paused_until;
	char		 reason[40];
	unsigned int	 backoff_ms;	/* the 429 backoff in force */
	int		 outage;	/* the API unreachable (reserve) */
	int		 probe;		/* granted as its one probe */
};

int	gate_open(MYSQL *, const struct config *, struct db_err *);
void	gate_close(void);

/* A plain read of the pause: GATE_OK, GATE_PAUSED or -1. */
int	gate_check(struct gate_state *, struct db_err *);
/*
 * Reserve up to n cities: GATE_OK (granted > 0), GATE_PAUSED or -1.
 * behind: the child finds the worker behind (child.c); the gate's row
 * then says so for GATE_BEHIND_SQL from now (rate_gate.behind_until),
 * which the POSTs read.
 */
#define GATE_BEHIND_SQL	"2 SECOND"
int	gate_reserve(unsigned int n, const char *owner, int behind,
	    struct gate_state *, struct db_err *);
/*
 * The reservation's calls ended: the latest moment any of them may have
 * arrived (database clock; 0: none was sent), never later than the bound
 * it was reserved with.  A bound within the margin of the slot is the
 * normal case and clears the row's bound.
 */
int	gate_arrived(const struct gate_state *, int64_t arrive,
	    struct db_err *);

/* The first local monotonic time that is surely at or after db_us. */
int64_t	gate_wake_mono(const struct gate_state *, int64_t db_us);
/* A local monotonic time that is surely at or before db_us. */
int64_t	gate_by_mono(const struct gate_state *, int64_t db_us);
/* A database time surely at or after the local monotonic time mono. */
int64_t	gate_db_time(const struct gate_state *, int64_t mono);
/* A 429 was seen: pause everyone with a growing backoff.  1 if this call
 * started the pause, 0 if one was already running, -1 on error. */
int	gate_pause_429(struct db_err *);
/* A 401: pause everyone for pause_s seconds with the invalid-key reason.
 * 1 if this call set it (log loudly), 0 if already set, -1 on error. */
int	gate_pause_key(int pause_s, struct db_err *);
/* A new configuration may hold a new key: lift an invalid-key pause. */
int	gate_clear_key(struct db_err *);
/* A successful call after 429s: the backoff starts over. */
int	gate_backoff_reset(struct db_err *);
/*
 * No call of a batch reached the API (why: the first's error): hold the
 * gate for everyone until the next probe (a doubled backoff after a
 * failed probe), and note the outage.  1 if this started it (log once),
 * 0 if it was known, -1 on error; *backoff_ms the pause until the probe.
 */
int	gate_unreachable(int probe, const char *why, unsigned int *backoff_ms,
	    struct db_err *);
/* The API answered: end an outage.  1 if one ended (*down_us: since
 * when), 0 if none was on, -1 on error. */
int	gate_reachable(int64_t *down_us, struct db_err *);

#endif
