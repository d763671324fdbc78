/*
 * gate_db.c: see gate_db.h.
 *
 * Times cross the SQL boundary as integer microseconds since the epoch
 * (TIMESTAMPDIFF / TIMESTAMPADD against 1970-01-01 in the session's UTC),
 * so no rounding happens between the database clock and rategate.c.
 * All reservations serialise on the rate_gate row lock; the slots they
 * read are therefore exactly the ones committed before them.  Each slot
 * carries the running count of cities through it (cum), so placing one
 * is a few indexed lookups however many slots the window holds; only the
 * slots whose calls are in flight or may have arrived late (arrive_by
 * set, its own index) are read one by one.  A slot's arrive_by only ever
 * shrinks (the reservation's bound -> what the calls' outcomes bound ->
 * NULL once within the margin), and it is written outside the gate's
 * lock: a reservation that read the older, later bound was only more
 * careful.
 *
 * Why a call given up on counts until owm.hold_ms after it left, and not
 * until the moment the client gave up: its bytes may sit unread in the
 * server's socket (a backed-up accept queue, a slow TLS front end) and be
 * read, served and counted after the client has gone, and the city's
 * retry counts again.  Only the server's answer proves when a request
 * was read; without one, owm.hold_ms is the assumption.  The other ways
 * to bound it were weighed: waiting for every sent call until hold_ms
 * (the answer would bound it) ties a child to a dead server for as long
 * and makes owm.timeout_ms meaningless; abandoning calls only before
 * anything was sent is what connect_by already does (nothing sent: no
 * late arrival, the slot counts as used).  So: not connected by send_by,
 * abandoned unsent; sent, waited for until owm.timeout_ms; then,
 * without an answer, the horizon.
 *
 * Why send_by is not slot + margin but at least GATE_SEND_MIN_US (2.5 s)
 * after the slot: a lost SYN is resent after exactly 1 s, and a cold
 * batch (an idle gate places its first slot at "now", so nothing was
 * opened ahead) of 20 new connections into an accept queue of 5 lost
 * 5 to 13 of them at a 1 s margin: abandoned, counted as used, retried
 * in a later slot, one more slot at the end of a request.  Letting them
 * connect late costs nothing in the guarantee, since the margin is not
 * what bounds their arrival: the reservation's bound already covers a
 * request leaving at send_by (send_by + hold_ms, and the deadline), and
 * the answer's first byte replaces it (gate_arrived), as for any call the
 * server read late.  It costs little in pace: that slot counts until
 * its first byte + 60 s instead of slot + margin + 60 s, a second or two
 * more for one later slot, where an abandoned city cost its whole share
 * and a retry.  Placing the first slot later instead (docs/design.md, "The rate limit":
 * within a second of the POST) would let the warm-up open connections
 * ahead, but a second fits only one round of SYNs; the rest would still
 * meet a full queue at the slot.  A far bound is no burden to
 * rategate_place: the slot is one more late slot, counted in every
 * window that ends before its bound + 60 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "gate_db.h"
#include "rategate.h"

#define US(x)		DB_US(x)
#define AT(x)		DB_AT(x)
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	60000
#define KEEP_SLOTS	"INTERVAL 10 MINUTE"
#define LATE_MAX	4096	/* late slots read per reservation */

enum {
	G_INIT,
	G_STATE,
	G_LOCK,
	G_VIEW,
	G_REACH,
	G_INSERT,
	G_ARRIVED,
	G_MINUTE,
	G_MONTH,
	G_PAUSE,
	G_CLEAN,
	G_429,
	G_KEY,
	G_UNKEY,
	G_RESET,
	G_HOLD,
	G_OLOCK,
	G_DOWN,
	G_UP,
	G_COUNT
};

static const char *const sql[G_COUNT] = {
	[G_INIT] = "INSERT IGNORE INTO rate_gate (id) VALUES (1)",
	[G_STATE] =
	    "SELECT " US("NOW(6)") ", " US("paused_until") ", "
	    "COALESCE(pause_reason, ''), backoff_ms FROM rate_gate WHERE id = 1",
	/* No clock here: NOW(6) is the statement's start, before any wait
	 * for the lock. */
	[G_LOCK] =
	    "SELECT " US("paused_until") ", "
	    "COALESCE(pause_reason, ''), backoff_ms, month, month_used, "
	    "outage_since IS NOT NULL "
	    "FROM rate_gate WHERE id = 1 FOR UPDATE",
	/*
	 * What a reservation places its slot from, in one statement once
	 * the row is locked: the clock (row 0, with the month's name and the
	 * next month's start), the newest slot and the running count through
	 * it (row 0, NULL when there is none), and the slots whose calls may
	 * have arrived after slot + margin and may still count at the
	 * clock (rows 1: in flight, the reservation's bound; answered late;
	 * given up on, sent + owm.hold_ms).  Slots are written only under
	 * the lock, so none can come between the clock and them.
	 */
	[G_VIEW] =
	    "SELECT 0, " US("NOW(6)") ", "
	    US("DATE_FORMAT(NOW(6) + INTERVAL 1 MONTH, '%Y-%m-01')") ", "
	    "DATE_FORMAT(NOW(6), '%Y-%m'), " US("l.slot_at") ", l.cities, "
	    "l.cum FROM (SELECT 1) AS one LEFT JOIN (SELECT slot_at, cities, "
	    "cum FROM rate_slots ORDER BY id DESC LIMIT 1) AS l ON 1 "
	    "UNION ALL (SELECT 1, " US("slot_at") ", " US("arrive_by") ", "
	    "NULL, NULL, cities, NULL FROM rate_slots WHERE arrive_by > "
	    "NOW(6) - " RULES_WINDOW_SQL " ORDER BY arrive_by DESC LIMIT ?)",
	/* The oldest slot whose running count reaches ?. */
	[G_REACH] =
	    "SELECT " US("slot_at") ", cities, cum FROM rate_slots "
	    "WHERE cum >= ? ORDER BY cum LIMIT 1",
	[G_INSERT] =
	    "INSERT INTO rate_slots (slot_at, cities, owner, cum, arrive_by) "
	    "VALUES (" AT("?") ", ?, ?, ?, " AT("?") ")",
	[G_ARRIVED] =
	    "UPDATE rate_slots SET arrive_by = " AT("?") " WHERE id = ?",
	/* The durable per-minute count (api_minutes), same transaction. */
	[G_MINUTE] =
	    "INSERT INTO api_minutes (minute, cities) VALUES "
	    "(DATE_FORMAT(" AT("?") ", '%Y-%m-%d %H:%i:00'), ?) "
	    "ON DUPLICATE KEY UPDATE cities = cities + VALUES(cities)",
	/* The month's count; and, if the child says so, that the worker is
	 * behind (GATE_BEHIND_SQL from now). */
	[G_MONTH] =
	    "UPDATE rate_gate SET month = ?, month_used = ?, behind_until = "
	    "IF(?, NOW(6) + INTERVAL " GATE_BEHIND_SQL ", behind_until) "
	    "WHERE id = 1",
	[G_PAUSE] =
	    "UPDATE rate_gate SET paused_until = " AT("?") ", "
	    "pause_reason = ? WHERE id = 1",
	[G_CLEAN] =
	    "DELETE FROM rate_slots WHERE slot_at < NOW(6) - " KEEP_SLOTS,
	/* Both assignments read the old backoff_ms, in either SQL mode. */
	[G_429] =
	    "UPDATE rate_gate SET paused_until = NOW(6) + INTERVAL "
	    "LEAST(GREATEST(backoff_ms * 2, ?), ?) * 1000 MICROSECOND, "
	    "pause_reason = '" RULES_PAUSE_429 "', "
	    "backoff_ms = LEAST(GREATEST(backoff_ms * 2, ?), ?) "
	    "WHERE id = 1 AND paused_until <= NOW(6)",
	[G_KEY] =
	    "UPDATE rate_gate SET paused_until = NOW(6) + INTERVAL ? SECOND, "
	    "pause_reason = '" RULES_PAUSE_KEY "' WHERE id = 1 AND NOT "
	    "(pause_reason <=> '" RULES_PAUSE_KEY "' AND "
	    "paused_until > NOW(6))",
	[G_UNKEY] =
	    "UPDATE rate_gate SET paused_until = NOW(6), pause_reason = NULL "
	    "WHERE id = 1 AND pause_reason = '" RULES_PAUSE_KEY "'",
	[G_RESET] =
	    "UPDATE rate_gate SET backoff_ms = 0 WHERE id = 1 AND "
	    "backoff_ms <> 0",
	/* A probe holds the gate until its calls' end (its transaction). */
	[G_HOLD] =
	    "UPDATE rate_gate SET paused_until = " AT("?") ", "
	    "pause_reason = '" RULES_PAUSE_DOWN "' WHERE id = 1",
	/* The clock and the outage, the row locked (outage_since NULL: 0). */
	[G_OLOCK] =
	    "SELECT " US("NOW(6)") ", " US("paused_until") ", "
	    "COALESCE(pause_reason, ''), "
	    "COALESCE(" US("outage_since") ", 0), outage_backoff_ms "
	    "FROM rate_gate WHERE id = 1 FOR UPDATE",
	[G_DOWN] =
	    "UPDATE rate_gate SET paused_until = " AT("?") ", "
	    "pause_reason = ?, outage_since = COALESCE(outage_since, NOW(6)), "
	    "outage_error = ?, outage_backoff_ms = ? WHERE id = 1",
	/* The API answered: the outage ends, and its hold with it (any
	 * other pause stays). */
	[G_UP] =
	    "UPDATE rate_gate SET paused_until = IF(pause_reason <=> '"
	    RULES_PAUSE_DOWN "', LEAST(paused_until, NOW(6)), paused_until), "
	    "pause_reason = IF(pause_reason <=> '" RULES_PAUSE_DOWN "', NULL, "
	    "pause_reason), outage_since = NULL, outage_error = NULL, "
	    "outage_backoff_ms = 0 WHERE id = 1",
};

static MYSQL_STMT		*st[G_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static const struct config	*cf;
static time_t			 last_clean;

int
gate_open(MYSQL *conn, const struct config *conf, struct db_err *e)
{
		cf = conf;
	if (db_set_open(&set, conn, e) == -1)
		return -1;
	return db_run(set.db, st[G_INIT], NULL, "rate gate init", e);
}

void
gate_close(void)
{
	db_set_close(&set);
}


/* The schema inserts row 1 and gate_open() again: gone means tampering. */
static int
no_row(struct db_err *e)
{
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "rate_gate has no row 1");
	return -1;
}


/*
 * The slot G_REACH finds (p: its parameter): 1 with *slot and *cum set,
 * 0 when there is none.
 */
static int
one_slot(MYSQL_STMT *q, MYSQL_BIND *p, struct rategate_slot *slot,
    unsigned long long *cum, struct db_err *e)
{
	MYSQL_BIND	 o[3];
	long long	 at, cities;
	int		 rc;

	db_bind_i64(&o[0], &at);
	db_bind_i64(&o[1], &cities);
	db_bind_u64(&o[2], cum);
	if (db_run(set.db, q, p, "rate slots", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0 ||
	    (rc = mysql_stmt_fetch(q)) == 1)
		return db_fail(set.db, q, "rate slots", e);
	mysql_stmt_free_result(q);
	if (rc == MYSQL_NO_DATA)
		return 0;
	slot->at = at;
	slot->arrive = 0;
	slot->cities = (unsigned int)cities;
	return 1;
}

/* rategate_place's count lookup: the oldest slot whose count reaches
 * target (G_REACH). */
static int
reach(void *arg, unsigned long long target, struct rategate_slot *slot,
    unsigned long long *cum, const char **why)
{
	struct db_err	*e = arg;
	MYSQL_BIND	 p[1];
	int		 rc;

	db_bind_u64(&p[0], &target);
	if ((rc = one_slot(st[G_REACH], p, slot, cum, e)) == -1)
		*why = e->msg;
	return rc;
}

/* What G_VIEW read: the clock and the slots a reservation places by. */
struct view {
	int64_t		 now;		/* database clock */
	long long	 next_month;	/* database clock */
	char		 cur[16];	/* the clock's 'YYYY-MM' */
	int		 have_last;
	struct rategate_slot last;	/* the newest slot */
	unsigned long long cum_last;	/* the running count through it */
	struct rategate_slot late[LATE_MAX];
	size_t		 nlate;
};

/* Where n cities may go: rategate_place from the gate's view. */
static int
place(const struct view *v, unsigned int n, int64_t *t, struct db_err *e)
{
	const char	*why;

	e->code = 0;
	e->msg[0] = '\0';
	if (rategate_place(v->now, v->have_last ? &v->last : NULL, v->cum_last,
	    v->late, v->nlate, reach, e, n,
	    (unsigned long long)cf->owm.cities_per_minute, cf->owm.margin_ms,
	    t, &why) == -1) {
		if (why != e->msg)
			snprintf(e->msg, sizeof(e->msg), "rate gate: %s", why);
		return -1;
	}
	return 0;
}

/* Inside the transaction: pause until next_month for the monthly cap. */
static int
pause_month(int64_t next_month, struct db_err *e)
{
	MYSQL_BIND	 p[2];
	long long	 until = next_month;
	unsigned long	 len;

	db_bind_i64(&p[0], &until);
	db_bind_str(&p[1], RULES_PAUSE_MONTH, &len);
	return db_run(set.db, st[G_PAUSE], p, "rate gate monthly pause", e);
}

/* One row of a statement without parameters into o: 0, or -1. */
static int
one_row(MYSQL_STMT *q, MYSQL_BIND *o, const char *what, struct db_err *e)
{
	int	 rc;

	if ((rc = db_one_row(set.db, q, NULL, o, what, e)) != 0)
		return rc == DB_NO_ROW ? no_row(e) : -1;
	return 0;
}

static void
terminate(char *s, unsigned long len, size_t cap)
{
	s[len < cap ? len : cap - 1] = '\0';
}

int
gate_check(struct gate_state *g, struct db_err *e)
{
	MYSQL_BIND	 o[4];
	long long	 now, until, backoff;
	unsigned long	 rlen;
	my_bool		 rnull;

	memset(g, 0, sizeof(*g));
	db_bind_i64(&o[0], &now);
	db_bind_i64(&o[1], &until);
	db_bind_out_str(&o[2], g->reason, sizeof(g->reason) - 1, &rlen, &rnull);
	db_bind_i64(&o[3], &backoff);
	if (one_row(st[G_STATE], o, "rate gate state", e) == -1)
		return -1;
	terminate(g->reason, rlen, sizeof(g->reason));
	g->now = now;
	g->paused_until = until;
	g->backoff_ms = (unsigned int)backoff;
	return until > now ? GATE_PAUSED : GATE_OK;
}

/* The gate's row as locked. */
struct locked {
	long long	 used;		/* month_used */
	char		 month[16];	/* the row's 'YYYY-MM' */
};

/* One row of G_VIEW into v: 0, or -1 on a broken shape. */
struct view_row {
	long long	 kind, a, b, c, cities;
	unsigned long long cum;
	my_bool		 bnull, cnull, citiesnull, cumnull, curnull;
	unsigned long	 curlen;
};

static int
view_row(struct view *v, struct view_row *r, struct db_err *e)
{
	if (r->kind == 0) {
		if (v->now != 0 || r->bnull)
			goto shape;
		v->now = r->a;
		v->next_month = r->b;
		terminate(v->cur, r->curlen, sizeof(v->cur));
		if ((v->have_last = !r->cnull)) {
			v->last.at = r->c;
			v->last.arrive = 0;
			v->last.cities = (unsigned int)r->cities;
			v->cum_last = r->cum;
		}
		return 0;
	}
	if (v->nlate == LATE_MAX) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "rate gate: more than %d "
		    "calls in flight or answered late in a minute", LATE_MAX);
		return -1;
	}
	if (r->bnull || r->citiesnull)
		goto shape;
	v->late[v->nlate].at = r->a;
	v->late[v->nlate].arrive = r->b;
	v->late[v->nlate].cities = (unsigned int)r->cities;
	v->nlate++;
	return 0;
shape:
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "rate gate: the clock's row is "
	    "missing or repeated");
	return -1;
}

/*
 * Inside the reservation's transaction, the gate's row locked: the clock
 * and the slots (G_VIEW), read between two local readings of the
 * monotonic clock, into g and v.
 */
static int
read_view(struct gate_state *g, struct view *v, struct db_err *e)
{
	MYSQL_STMT	*q = st[G_VIEW];
	MYSQL_BIND	 p[1], o[7];
	struct view_row	 r;
	long long	 cap = LATE_MAX + 1;
	int		 rc;

	memset(&r, 0, sizeof(r));
	v->now = 0;
	v->nlate = 0;
	v->have_last = 0;
	v->cum_last = 0;
	db_bind_i64(&p[0], &cap);
	db_bind_i64(&o[0], &r.kind);
	db_bind_i64(&o[1], &r.a);
	db_bind_i64(&o[2], &r.b);
	o[2].is_null = &r.bnull;
	db_bind_out_str(&o[3], v->cur, sizeof(v->cur) - 1, &r.curlen,
	    &r.curnull);
	db_bind_i64(&o[4], &r.c);
	o[4].is_null = &r.cnull;
	db_bind_i64(&o[5], &r.cities);
	o[5].is_null = &r.citiesnull;
	db_bind_u64(&o[6], &r.cum);
	o[6].is_null = &r.cumnull;
	g->mono_lo = daemon_mono_us();
	if (db_run(set.db, q, p, "rate gate view", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0)
		return db_fail(set.db, q, "rate gate view", e);
	while ((rc = mysql_stmt_fetch(q)) == 0)
		if (view_row(v, &r, e) == -1) {
			mysql_stmt_free_result(q);
			return -1;
		}
	g->mono_hi = daemon_mono_us();
	if (db_fetch_end(set.db, q, rc, "rate gate view", e) == -1)
		return -1;
	if (v->now == 0)
		return no_row(e);
	g->now = v->now;
	return 0;
}

/*
 * Inside the reservation's transaction: lock the gate's row, then read
 * the clock and the slots (never the clock in the locking statement: its
 * NOW(6) is the statement's start, before any wait for the lock).  g gets
 * the clock and the pause.
 */
static int
lock_gate(struct gate_state *g, struct locked *l, struct view *v,
    struct db_err *e)
{
	MYSQL_BIND	 o[6];
	long long	 until, backoff, outage;
	unsigned long	 rlen, mlen;
	my_bool		 rnull, mnull;

	db_bind_i64(&o[0], &until);
	db_bind_out_str(&o[1], g->reason, sizeof(g->reason) - 1, &rlen, &rnull);
	db_bind_i64(&o[2], &backoff);
	db_bind_out_str(&o[3], l->month, sizeof(l->month) - 1, &mlen, &mnull);
	db_bind_i64(&o[4], &l->used);
	db_bind_i64(&o[5], &outage);
	if (one_row(st[G_LOCK], o, "rate gate lock", e) == -1)
		return -1;
	terminate(g->reason, rlen, sizeof(g->reason));
	terminate(l->month, mlen, sizeof(l->month));
	g->outage = outage != 0;
	g->paused_until = until;
	g->backoff_ms = (unsigned int)backoff;
	/* The lock is ours: now the clock. */
	return read_view(g, v, e);
}

/*
 * The monthly cap (owm.cities_per_month; 0: none), inside the
 * transaction: GATE_PAUSED with the pause written when the month's
 * cities are spent, else GATE_OK with *n cut to what is left.
 */
static int
month_cap(struct gate_state *g, struct locked *l, const struct view *v,
    unsigned int *n, struct db_err *e)
{
	long long	 cap = cf->owm.cities_per_month;

	if (strcmp(l->month, v->cur) != 0)
		l->used = 0;		/* a new month */
	if (cap > 0 && l->used >= cap) {
		if (pause_month(v->next_month, e) == -1)
			return -1;
		g->paused_until = v->next_month;
		snprintf(g->reason, sizeof(g->reason), "%s", RULES_PAUSE_MONTH);
		return GATE_PAUSED;
	}
	if (cap > 0 && (long long)*n > cap - l->used)
		*n = (unsigned int)(cap - l->used);
	return GATE_OK;
}

/* The latest a request of a slot at t may leave (gate_db.h). */
static int64_t
send_by(int64_t t)
{
	int64_t	 leave = cf->owm.margin_ms * 1000;

	return t + (leave > GATE_SEND_MIN_US ? leave : GATE_SEND_MIN_US);
}

/*
 * Inside the transaction: the slot of n cities at t (after the running
 * count of v's newest slot), its calls' deadline into *deadline, the
 * cities counted in the minute and the month, and whether the worker is
 * behind.
 */
static int
record_slot(struct gate_state *g, unsigned int n, const char *owner,
    int behind, int64_t t, struct locked *l, const struct view *v,
    int64_t *deadline, struct db_err *e)
{
	MYSQL_BIND	 p[5];
	long long	 at = t, cities = n, end, bound, says_behind = behind;
	unsigned long long cum = v->cum_last;
	unsigned long	 olen, clen;

	/* Until its calls report, they may arrive as late as an answer
	 * can begin, or a request left unanswered can still be read. */
	end = t + (cf->owm.margin_ms + cf->owm.timeout_ms) * 1000;
	bound = send_by(t) + cf->owm.hold_ms * 1000;
	if (bound < end)
		bound = end;
	cum += n;
	db_bind_i64(&p[0], &at);
	db_bind_i64(&p[1], &cities);
	db_bind_str(&p[2], owner, &olen);
	db_bind_u64(&p[3], &cum);
	db_bind_i64(&p[4], &bound);
	if (db_run(set.db, st[G_INSERT], p, "rate slot insert", e) == -1)
		return -1;
	g->id = mysql_stmt_insert_id(st[G_INSERT]);
	if (db_run(set.db, st[G_MINUTE], p, "api minute count", e) == -1)
		return -1;
	l->used += n;
	db_bind_str(&p[0], v->cur, &clen);
	db_bind_i64(&p[1], &l->used);
	db_bind_i64(&p[2], &says_behind);
	if (db_run(set.db, st[G_MONTH], p, "rate gate month", e) == -1)
		return -1;
	*deadline = end;
	return 0;
}

/* Inside a probe's reservation: nobody else sends until its end. */
static int
hold(int64_t until_us, struct db_err *e)
{
	MYSQL_BIND	 p[1];
	long long	 until = until_us;

	db_bind_i64(&p[0], &until);
	return db_run(set.db, st[G_HOLD], p, "rate gate probe hold", e);
}

/* Old slots go at most once a minute, inside a reservation. */
static int
clean_if_due(struct db_err *e)
{
	if (daemon_now() - last_clean < DB_CLEAN_EVERY_S)
		return 0;
	if (db_run(set.db, st[G_CLEAN], NULL, "rate slots clean-up", e) == -1)
		return -1;
	last_clean = daemon_now();
	return 0;
}

int
gate_reserve(unsigned int n, const char *owner, int behind,
    struct gate_state *g, struct db_err *e)
{
	static struct view v;	/* LATE_MAX slots: not on the stack */
	struct locked	 l;
	int64_t		 t, deadline;
	int		 rc;

	memset(g, 0, sizeof(*g));
	if (db_begin(set.db, e) == -1)
		return -1;
	if (lock_gate(g, &l, &v, e) == -1)
		goto fail;
	if (g->paused_until > g->now) {
		db_rollback(set.db);
		return GATE_PAUSED;
	}
	if ((rc = month_cap(g, &l, &v, &n, e)) == -1)
		goto fail;
	if (rc == GATE_PAUSED) {
		if (db_commit(set.db, e) == -1)
			goto fail;
		return GATE_PAUSED;
	}
	/* The API unreachable: one city tries it, alone. */
	if (g->outage) {
		n = 1;
		g->probe = 1;
	}
	if (place(&v, n, &t, e) == -1 ||
	    record_slot(g, n, owner, behind, t, &l, &v, &deadline, e) == -1 ||
	    (g->probe && hold(deadline, e) == -1) ||
	    clean_if_due(e) == -1 ||
	    db_commit(set.db, e) == -1)
		goto fail;
	g->slot = t;
	g->send_by = send_by(t);
	g->deadline = deadline;
	g->granted = n;
	return GATE_OK;
fail:
	db_rollback(set.db);
	return -1;
}

int
gate_arrived(const struct gate_state *g, int64_t arrive, struct db_err *e)
{
	MYSQL_BIND	 p[2];
	long long	 a = arrive;
	unsigned long long id = g->id;

	db_bind_i64(&p[0], &a);
	db_bind_u64(&p[1], &id);
	/* Within the margin (or never sent): a normal slot again. */
	if (arrive <= g->slot + cf->owm.margin_ms * 1000)
		p[0].buffer_type = MYSQL_TYPE_NULL;
	return db_run(set.db, st[G_ARRIVED], p, "rate slot arrival", e);
}

int64_t
gate_wake_mono(const struct gate_state *g, int64_t db_us)
{
	return db_us - g->now + g->mono_hi;
}

int64_t
gate_by_mono(const struct gate_state *g, int64_t db_us)
{
	return db_us - g->now + g->mono_lo;
}

int64_t
gate_db_time(const struct gate_state *g, int64_t mono)
{
	return g->now + (mono - g->mono_lo);
}

int
gate_pause_429(struct db_err *e)
{
	MYSQL_BIND	 p[4];
	long long	 lo = BACKOFF_MIN_MS, hi = BACKOFF_MAX_MS;

	db_bind_i64(&p[0], &lo);
	db_bind_i64(&p[1], &hi);
	db_bind_i64(&p[2], &lo);
	db_bind_i64(&p[3], &hi);
	if (db_run(set.db, st[G_429], p, "rate gate 429 pause", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st[G_429]) > 0;
}

int
gate_pause_key(int pause_s, struct db_err *e)
{
	MYSQL_BIND	 p[1];
	long long	 s = pause_s;

	db_bind_i64(&p[0], &s);
	if (db_run(set.db, st[G_KEY], p, "rate gate key pause", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st[G_KEY]) > 0;
}

int
gate_clear_key(struct db_err *e)
{
	if (db_run(set.db, st[G_UNKEY], NULL, "rate gate key resume", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st[G_UNKEY]) > 0;
}

int
gate_backoff_reset(struct db_err *e)
{
	return db_run(set.db, st[G_RESET], NULL, "rate gate backoff reset", e);
}

/* The row locked, with the clock and the outage (G_OLOCK). */
struct outage {
	long long	 now, until, since, backoff_ms;
	char		 reason[40];
};

static int
lock_outage(struct outage *o, struct db_err *e)
{
	MYSQL_BIND	 b[5];
	unsigned long	 rlen;
	my_bool		 rnull;

	db_bind_i64(&b[0], &o->now);
	db_bind_i64(&b[1], &o->until);
	db_bind_out_str(&b[2], o->reason, sizeof(o->reason) - 1, &rlen,
	    &rnull);
	db_bind_i64(&b[3], &o->since);
	db_bind_i64(&b[4], &o->backoff_ms);
	if (one_row(st[G_OLOCK], b, "rate gate outage", e) == -1)
		return -1;
	terminate(o->reason, rlen, sizeof(o->reason));
	return 0;
}

/*
 * Where the hold of an unreachable API puts the gate: the next probe
 * after a backoff that doubles with each failed probe (a batch that was
 * in flight when the API went away does not double it), and any other
 * pause in force kept with its reason.
 */
static void
down_next(struct outage *o, int probe)
{
	long long	 b = o->backoff_ms, until;

	b = probe ? b * 2 : b;
	if (b < GATE_DOWN_MIN_MS)
		b = GATE_DOWN_MIN_MS;
	if (b > GATE_DOWN_MAX_MS)
		b = GATE_DOWN_MAX_MS;
	o->backoff_ms = b;
	until = o->now + b * 1000;
	if (o->until > o->now && strcmp(o->reason, RULES_PAUSE_DOWN) != 0 &&
	    o->reason[0] != '\0') {
		if (o->until > until)
			until = o->until;	/* a 429, the key, the month */
	} else {
		snprintf(o->reason, sizeof(o->reason), "%s", RULES_PAUSE_DOWN);
		/* A probe's own hold ends with it; an older batch's
		 * failure never shortens a probe's hold. */
		if (!probe && o->until > until)
			until = o->until;
	}
	o->until = until;
}

int
gate_unreachable(int probe, const char *why, unsigned int *backoff_ms,
    struct db_err *e)
{
	MYSQL_BIND	 p[4];
	struct outage	 o;
	long long	 b;
	unsigned long	 rlen, wlen;

	if (db_begin(set.db, e) == -1)
		return -1;
	if (lock_outage(&o, e) == -1)
		goto fail;
	down_next(&o, probe);
	b = o.backoff_ms;
	db_bind_i64(&p[0], &o.until);
	db_bind_str(&p[1], o.reason, &rlen);
	db_bind_str(&p[2], why, &wlen);
	db_bind_i64(&p[3], &b);
	if (db_run(set.db, st[G_DOWN], p, "rate gate outage", e) == -1 ||
	    db_commit(set.db, e) == -1)
		goto fail;
	*backoff_ms = (unsigned int)b;
	return o.since == 0;
fail:
	db_rollback(set.db);
	return -1;
}

int
gate_reachable(int64_t *down_us, struct db_err *e)
{
	struct outage	 o;

	*down_us = 0;
	if (db_begin(set.db, e) == -1)
		return -1;
	if (lock_outage(&o, e) == -1)
		goto fail;
	if (o.since == 0) {
		db_rollback(set.db);
		return 0;
	}
	if (db_run(set.db, st[G_UP], NULL, "rate gate outage end", e) == -1 ||
	    db_commit(set.db, e) == -1)
		goto fail;
	*down_us = o.now - o.since;
	return 1;
fail:
	db_rollback(set.db);
	return -1;
}
