/*
 * gate_db.c: see gate_db.h.
 *
 * Times cross the SQL boundary as integer microseconds since the epoch
 * (TIMESTAMPDIFF / TIMESTAMPADD against 1970-01-01 in the session's UTC),
 * so no rounding happens between the database clock and rategate.c.
 * All reservations serialise on the rate_gate row lock; the slots they
 * read are therefore exactly the ones committed before them.  Each slot
 * carries the running count of cities through it (cum), so placing one
 * is two indexed lookups however many slots the window holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "daemon.h"
#include "gate_db.h"
#include "rategate.h"

#define EPOCH		"TIMESTAMP'1970-01-01 00:00:00'"
#define US(x)		"TIMESTAMPDIFF(MICROSECOND, " EPOCH ", " x ")"
#define AT(x)		"TIMESTAMPADD(MICROSECOND, " x ", " EPOCH ")"
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	60000
#define CLEAN_EVERY_S	60
#define KEEP_SLOTS	"INTERVAL 10 MINUTE"

enum {
	G_INIT,
	G_STATE,
	G_LOCK,
	G_LAST,
	G_REACH,
	G_INSERT,
	G_MINUTE,
	G_MONTH,
	G_PAUSE,
	G_CLEAN,
	G_429,
	G_KEY,
	G_UNKEY,
	G_RESET,
	G_COUNT
};

static const char *const sql[G_COUNT] = {
	[G_INIT] = "INSERT IGNORE INTO rate_gate (id) VALUES (1)",
	[G_STATE] =
	    "SELECT " US("NOW(6)") ", " US("paused_until") ", "
	    "COALESCE(pause_reason, ''), backoff_ms FROM rate_gate WHERE id = 1",
	[G_LOCK] =
	    "SELECT " US("NOW(6)") ", " US("paused_until") ", "
	    "COALESCE(pause_reason, ''), backoff_ms, month, "
	    "DATE_FORMAT(NOW(6), '%Y-%m'), month_used, "
	    US("DATE_FORMAT(NOW(6) + INTERVAL 1 MONTH, '%Y-%m-01')") " "
	    "FROM rate_gate WHERE id = 1 FOR UPDATE",
	/* The newest slot and the running count through it. */
	[G_LAST] =
	    "SELECT " US("slot_at") ", cities, cum FROM rate_slots "
	    "ORDER BY id DESC LIMIT 1",
	/* The oldest slot whose running count reaches ?. */
	[G_REACH] =
	    "SELECT " US("slot_at") ", cities, cum FROM rate_slots "
	    "WHERE cum >= ? ORDER BY cum LIMIT 1",
	[G_INSERT] =
	    "INSERT INTO rate_slots (slot_at, cities, owner, cum) "
	    "VALUES (" AT("?") ", ?, ?, ?)",
	/* The durable per-minute count (api_minutes), same transaction. */
	[G_MINUTE] =
	    "INSERT INTO api_minutes (minute, cities) VALUES "
	    "(DATE_FORMAT(" AT("?") ", '%Y-%m-%d %H:%i:00'), ?) "
	    "ON DUPLICATE KEY UPDATE cities = cities + VALUES(cities)",
	[G_MONTH] =
	    "UPDATE rate_gate SET month = ?, month_used = ? WHERE id = 1",
	[G_PAUSE] =
	    "UPDATE rate_gate SET paused_until = " AT("?") ", "
	    "pause_reason = ? WHERE id = 1",
	[G_CLEAN] =
	    "DELETE FROM rate_slots WHERE slot_at < NOW(6) - " KEEP_SLOTS,
	/* Both assignments read the old backoff_ms, in either SQL mode. */
	[G_429] =
	    "UPDATE rate_gate SET paused_until = NOW(6) + INTERVAL "
	    "LEAST(GREATEST(backoff_ms * 2, ?), ?) * 1000 MICROSECOND, "
	    "pause_reason = '" GATE_REASON_429 "', "
	    "backoff_ms = LEAST(GREATEST(backoff_ms * 2, ?), ?) "
	    "WHERE id = 1 AND paused_until <= NOW(6)",
	[G_KEY] =
	    "UPDATE rate_gate SET paused_until = NOW(6) + INTERVAL ? SECOND, "
	    "pause_reason = '" GATE_REASON_KEY "' WHERE id = 1 AND NOT "
	    "(pause_reason <=> '" GATE_REASON_KEY "' AND "
	    "paused_until > NOW(6))",
	[G_UNKEY] =
	    "UPDATE rate_gate SET paused_until = NOW(6), pause_reason = NULL "
	    "WHERE id = 1 AND pause_reason = '" GATE_REASON_KEY "'",
	[G_RESET] =
	    "UPDATE rate_gate SET backoff_ms = 0 WHERE id = 1 AND "
	    "backoff_ms <> 0",
};

static MYSQL			*db;
static MYSQL_STMT		*st[G_COUNT];
static const struct config	*cf;
static time_t			 last_clean;

int
gate_open(MYSQL *conn, const struct config *conf, struct sqlerr *e)
{
	db = conn;
	cf = conf;
	if (stmt_prepare_all(db, sql, st, G_COUNT, e) == -1)
		return -1;
	return stmt_run(db, st[G_INIT], NULL, "rate gate init", e);
}

void
gate_close(void)
{
	stmt_close_all(st, G_COUNT);
	db = NULL;
}


/* The schema inserts row 1 and gate_open() again: gone means tampering. */
static int
no_row(struct sqlerr *e)
{
	e->code = 0;
	snprintf(e->msg, sizeof(e->msg), "rate_gate has no row 1");
	return -1;
}

int
gate_check(struct gate_state *g, struct sqlerr *e)
{
	MYSQL_BIND	 o[4];
	long long	 now, until, backoff;
	unsigned long	 rlen;
	my_bool		 rnull;
	int		 rc;

	memset(g, 0, sizeof(*g));
	db_bind_i64(&o[0], &now);
	db_bind_i64(&o[1], &until);
	db_bind_out_str(&o[2], g->reason, sizeof(g->reason) - 1, &rlen, &rnull);
	db_bind_i64(&o[3], &backoff);
	if (stmt_run(db, st[G_STATE], NULL, "rate gate state", e) == -1)
		return -1;
	if (mysql_stmt_bind_result(st[G_STATE], o) != 0 ||
	    (rc = mysql_stmt_fetch(st[G_STATE])) == 1)
		return stmt_fail(db, st[G_STATE], "rate gate state", e);
	mysql_stmt_free_result(st[G_STATE]);
	if (rc == MYSQL_NO_DATA)
		return no_row(e);
	g->reason[rlen < sizeof(g->reason) ? rlen : sizeof(g->reason) - 1] =
	    '\0';
	g->now = now;
	g->paused_until = until;
	g->backoff_ms = (unsigned int)backoff;
	return until > now ? GATE_PAUSED : GATE_OK;
}

/*
 * One slot from G_LAST or G_REACH (p: its parameter, or NULL): 1 with
 * *slot and *cum set, 0 when there is none.
 */
static int
one_slot(MYSQL_STMT *q, MYSQL_BIND *p, struct rategate_slot *slot,
    unsigned long long *cum, struct sqlerr *e)
{
	MYSQL_BIND	 o[3];
	long long	 at, cities;
	int		 rc;

	db_bind_i64(&o[0], &at);
	db_bind_i64(&o[1], &cities);
	db_bind_u64(&o[2], cum);
	if (stmt_run(db, q, p, "rate slots", e) == -1 ||
	    mysql_stmt_bind_result(q, o) != 0 ||
	    (rc = mysql_stmt_fetch(q)) == 1)
		return stmt_fail(db, q, "rate slots", e);
	mysql_stmt_free_result(q);
	if (rc == MYSQL_NO_DATA)
		return 0;
	slot->at = at;
	slot->cities = (unsigned int)cities;
	return 1;
}

/* Where n cities may go: rategate_place from two indexed lookups. */
static int
place(int64_t now, unsigned int n, int64_t *t, unsigned long long *cum_last,
    struct sqlerr *e)
{
	struct rategate_slot last, reach;
	unsigned long long limit = (unsigned long long)cf->owm.cities_per_minute;
	unsigned long long target, reach_cum = 0;
	MYSQL_BIND	 p[1];
	const char	*why;
	int		 have_last, have_reach = 0;

	*cum_last = 0;
	if ((have_last = one_slot(st[G_LAST], NULL, &last, cum_last, e)) == -1)
		return -1;
	if (have_last && *cum_last + n > limit) {
		target = *cum_last + n - limit;
		db_bind_u64(&p[0], &target);
		if ((have_reach = one_slot(st[G_REACH], p, &reach, &reach_cum,
		    e)) == -1)
			return -1;
	}
	if (rategate_place(now, have_last ? &last : NULL, *cum_last,
	    have_reach ? &reach : NULL, reach_cum, n, limit,
	    rategate_window(cf->owm.margin_ms), t, &why) == -1) {
		e->code = 0;
		snprintf(e->msg, sizeof(e->msg), "rate gate: %s", why);
		return -1;
	}
	return 0;
}

/* Inside the transaction: pause until next_month for the monthly cap. */
static int
pause_month(int64_t next_month, struct sqlerr *e)
{
	MYSQL_BIND	 p[2];
	long long	 until = next_month;
	unsigned long	 len;

	db_bind_i64(&p[0], &until);
	db_bind_str(&p[1], GATE_REASON_MONTH, &len);
	return stmt_run(db, st[G_PAUSE], p, "rate gate monthly pause", e);
}

int
gate_reserve(unsigned int n, const char *owner, struct gate_state *g,
    struct sqlerr *e)
{
	MYSQL_BIND	 o[8], p[4];
	long long	 now, until, backoff, used, next_month, at, cities;
	unsigned long long cum;
	char		 month[16], cur[16];
	unsigned long	 rlen, mlen, clen, olen;
	my_bool		 rnull, mnull, cnull;
	int64_t		 t;
	long long	 cap = cf->owm.cities_per_month;
	int		 rc;

	memset(g, 0, sizeof(*g));
	if (stmt_query(db, "START TRANSACTION", e) == -1)
		return -1;
	db_bind_i64(&o[0], &now);
	db_bind_i64(&o[1], &until);
	db_bind_out_str(&o[2], g->reason, sizeof(g->reason) - 1, &rlen, &rnull);
	db_bind_i64(&o[3], &backoff);
	db_bind_out_str(&o[4], month, sizeof(month) - 1, &mlen, &mnull);
	db_bind_out_str(&o[5], cur, sizeof(cur) - 1, &clen, &cnull);
	db_bind_i64(&o[6], &used);
	db_bind_i64(&o[7], &next_month);
	if (stmt_run(db, st[G_LOCK], NULL, "rate gate lock", e) == -1)
		goto fail;
	if (mysql_stmt_bind_result(st[G_LOCK], o) != 0 ||
	    (rc = mysql_stmt_fetch(st[G_LOCK])) == 1) {
		stmt_fail(db, st[G_LOCK], "rate gate lock", e);
		goto fail;
	}
	mysql_stmt_free_result(st[G_LOCK]);
	if (rc == MYSQL_NO_DATA) {
		no_row(e);
		goto fail;
	}
	g->reason[rlen < sizeof(g->reason) ? rlen : sizeof(g->reason) - 1] =
	    '\0';
	month[mlen < sizeof(month) ? mlen : sizeof(month) - 1] = '\0';
	cur[clen < sizeof(cur) ? clen : sizeof(cur) - 1] = '\0';
	g->now = now;
	g->paused_until = until;
	g->backoff_ms = (unsigned int)backoff;
	if (until > now) {
		mysql_rollback(db);
		return GATE_PAUSED;
	}

	if (strcmp(month, cur) != 0)
		used = 0;
	if (cap > 0 && used >= cap) {
		if (pause_month(next_month, e) == -1 ||
		    stmt_query(db, "COMMIT", e) == -1)
			goto fail;
		g->paused_until = next_month;
		snprintf(g->reason, sizeof(g->reason), "%s", GATE_REASON_MONTH);
		return GATE_PAUSED;
	}
	if (cap > 0 && (long long)n > cap - used)
		n = (unsigned int)(cap - used);

	if (place(now, n, &t, &cum, e) == -1)
		goto fail;
	at = t;
	cities = n;
	cum += n;
	db_bind_i64(&p[0], &at);
	db_bind_i64(&p[1], &cities);
	db_bind_str(&p[2], owner, &olen);
	db_bind_u64(&p[3], &cum);
	if (stmt_run(db, st[G_INSERT], p, "rate slot insert", e) == -1 ||
	    stmt_run(db, st[G_MINUTE], p, "api minute count", e) == -1)
		goto fail;
	used += n;
	db_bind_str(&p[0], cur, &clen);
	db_bind_i64(&p[1], &used);
	if (stmt_run(db, st[G_MONTH], p, "rate gate month", e) == -1)
		goto fail;
	if (daemon_now() - last_clean >= CLEAN_EVERY_S) {
		if (stmt_run(db, st[G_CLEAN], NULL, "rate slots clean-up",
		    e) == -1)
			goto fail;
		last_clean = daemon_now();
	}
	if (stmt_query(db, "COMMIT", e) == -1)
		goto fail;
	g->slot = t;
	g->granted = n;
	return GATE_OK;
fail:
	mysql_rollback(db);
	return -1;
}

int
gate_pause_429(struct sqlerr *e)
{
	MYSQL_BIND	 p[4];
	long long	 lo = BACKOFF_MIN_MS, hi = BACKOFF_MAX_MS;

	db_bind_i64(&p[0], &lo);
	db_bind_i64(&p[1], &hi);
	db_bind_i64(&p[2], &lo);
	db_bind_i64(&p[3], &hi);
	if (stmt_run(db, st[G_429], p, "rate gate 429 pause", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st[G_429]) > 0;
}

int
gate_pause_key(int pause_s, struct sqlerr *e)
{
	MYSQL_BIND	 p[1];
	long long	 s = pause_s;

	db_bind_i64(&p[0], &s);
	if (stmt_run(db, st[G_KEY], p, "rate gate key pause", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st[G_KEY]) > 0;
}

int
gate_clear_key(struct sqlerr *e)
{
	if (stmt_run(db, st[G_UNKEY], NULL, "rate gate key resume", e) == -1)
		return -1;
	return mysql_stmt_affected_rows(st[G_UNKEY]) > 0;
}

int
gate_backoff_reset(struct sqlerr *e)
{
	return stmt_run(db, st[G_RESET], NULL, "rate gate backoff reset", e);
}
