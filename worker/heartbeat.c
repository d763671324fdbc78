/*
 * heartbeat.c: see heartbeat.h.
 *
 * The beat is one upsert keyed by owner (the child's id); started_at is
 * written only by the first.  The call counts are one multi-row upsert
 * with a row per outcome (zeros included), so every outcome has a row
 * from the first batch on and a batch costs one round trip whatever it
 * saw.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "daemon.h"
#include "heartbeat.h"

enum {
	H_BEAT,
	H_PREDECESSOR,
	H_CLEAN,
	H_LEAVE,
	H_CALLS,
	H_COUNT
};

static const char *const sql[H_COUNT] = {
	[H_BEAT] =
	    "INSERT INTO worker_children (owner, host, pid, ppid, slot, "
	    "started_at, heartbeat_at, restarts, gate_wait_us, batches, "
	    "cities) VALUES (?, ?, ?, ?, ?, NOW(6), NOW(6), ?, ?, ?, ?) "
	    "ON DUPLICATE KEY UPDATE heartbeat_at = NOW(6), "
	    "restarts = VALUES(restarts), gate_wait_us = VALUES(gate_wait_us), "
	    "batches = VALUES(batches), cities = VALUES(cities)",
	/* The slot's previous child is dead: its row would count as alive
	 * for up to 10 s more.  By its id, not by host and slot: another
	 * host may share the name and the supervisor's pid. */
	[H_PREDECESSOR] =
	    "DELETE FROM worker_children WHERE owner = ?",
	[H_CLEAN] =
	    "DELETE FROM worker_children "
	    "WHERE heartbeat_at < NOW(6) - INTERVAL 10 MINUTE",
	[H_LEAVE] =
	    "DELETE FROM worker_children WHERE owner = ?",
	/* The order of enum call_outcome (answer.h). */
	[H_CALLS] =
	    "INSERT INTO api_calls (outcome, n) VALUES "
	    "('ok', ?), ('not_found', ?), ('401', ?), ('429', ?), "
	    "('http_4xx', ?), ('http_5xx', ?), ('timeout', ?), "
	    "('transport', ?), ('broken_json', ?) "
	    "ON DUPLICATE KEY UPDATE n = n + VALUES(n)",
};

static MYSQL_STMT	*st[H_COUNT];
static struct db_set		 set = DB_SET(sql, st);
static time_t		 last_clean;
static int		 announced;

int
heartbeat_open(MYSQL *conn, struct db_err *e)
{
	announced = 0;
	return db_set_open(&set, conn, e);
}

void
heartbeat_close(void)
{
	db_set_close(&set);
}


int
heartbeat_beat(const struct child_stats *c, struct db_err *e)
{
	MYSQL_BIND	 p[9];
	unsigned long	 olen, hlen;
	long long	 pid = c->pid, ppid = c->ppid, slot = c->slot;
	long long	 restarts = c->restarts, wait = c->gate_wait_us;
	unsigned long long batches = c->batches, cities = c->cities;

	if (!announced && c->previous[0] != '\0') {
		db_bind_str(&p[0], c->previous, &olen);
		if (db_run(set.db, st[H_PREDECESSOR], p, "heartbeat predecessor",
		    e) == -1)
			return -1;
	}
	announced = 1;
	db_bind_str(&p[0], c->owner, &olen);
	db_bind_str(&p[1], c->host, &hlen);
	db_bind_i64(&p[2], &pid);
	db_bind_i64(&p[3], &ppid);
	db_bind_i64(&p[4], &slot);
	db_bind_i64(&p[5], &restarts);
	db_bind_i64(&p[6], &wait);
	db_bind_u64(&p[7], &batches);
	db_bind_u64(&p[8], &cities);
	if (db_run(set.db, st[H_BEAT], p, "heartbeat", e) == -1)
		return -1;
	if (daemon_now() - last_clean >= DB_CLEAN_EVERY_S) {
		if (db_run(set.db, st[H_CLEAN], NULL, "heartbeat clean-up",
		    e) == -1)
			return -1;
		last_clean = daemon_now();
	}
	return 0;
}

int
heartbeat_leave(const struct child_stats *c, struct db_err *e)
{
	MYSQL_BIND	 p[1];
	unsigned long	 olen;

	db_bind_str(&p[0], c->owner, &olen);
	return db_run(set.db, st[H_LEAVE], p, "heartbeat leave", e);
}

int
heartbeat_count_calls(const unsigned int *counts, struct db_err *e)
{
	MYSQL_BIND	 p[CALL_NOUTCOMES];
	long long	 v[CALL_NOUTCOMES];
	int		 i, any = 0;

	for (i = 0; i < CALL_NOUTCOMES; i++) {
		v[i] = counts[i];
		any |= counts[i] != 0;
		db_bind_i64(&p[i], &v[i]);
	}
	if (!any)
		return 0;
	return db_run(set.db, st[H_CALLS], p, "api call counts", e);
}
