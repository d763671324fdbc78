/*
 * health.c: see health.h.
 *
 * Two statements per endpoint, each one round trip, and none reads more
 * than a few rows however old the database: the requests' and the queue's
 * figures are the running counts the POST, cancel, completion and settle
 * transactions keep (counters, summed over its shards), the oldest queue
 * entry is the head of an index, the gate's window is the last minute's
 * slots.  Times are the database's clock, the one the children beat with,
 * so a host's skew never fakes an age.
 */
#include <stdio.h>
#include <string.h>

#include <mysql.h>

#include "db.h"
#include "health.h"
#include "json.h"
#include "rules.h"

#define ALIVE	"heartbeat_at > NOW(6) - " RULES_ALIVE_SQL
#define COUNTER(x)	"COALESCE(SUM(" x "), 0)"

enum {
	HS_GATE,
	HS_WORKERS,
	HS_SUMS,
	HS_CALLS,
	HS_COUNT
};

static const char *const sql[HS_COUNT] = {
	[HS_GATE] =
	    "SELECT g.paused_until > NOW(6), COALESCE(g.pause_reason, ''), "
	    "DATE_FORMAT(g.paused_until, '%Y-%m-%dT%H:%i:%s.%fZ'), "
	    "(SELECT " COUNTER("queued") " FROM counters), "
	    "(SELECT TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) "
	    "FROM city_tasks) "
	    "FROM rate_gate g WHERE g.id = 1",
	[HS_WORKERS] =
	    "SELECT host, COALESCE(SUM(" ALIVE "), 0), "
	    "TIMESTAMPDIFF(MICROSECOND, MAX(heartbeat_at), NOW(6)) "
	    "FROM worker_children GROUP BY host ORDER BY host",
	[HS_SUMS] =
	    "SELECT r.n, r.cities - r.collected - r.failed, r.collected, "
	    "r.failed, w.cities, c.wait_us, c.alive, c.restarts, r.queued FROM "
	    "(SELECT " COUNTER("requests") " AS n, "
	    COUNTER("cities") " AS cities, "
	    COUNTER("collected") " AS collected, "
	    COUNTER("failed") " AS failed, "
	    COUNTER("queued") " AS queued FROM counters) r, "
	    "(SELECT COALESCE(SUM(cities), 0) AS cities FROM rate_slots "
	    "WHERE slot_at > NOW(6) - " RULES_WINDOW_SQL " "
	    "AND slot_at <= NOW(6)) w, "
	    "(SELECT COALESCE(SUM(gate_wait_us), 0) AS wait_us, "
	    "COALESCE(SUM(" ALIVE "), 0) AS alive, "
	    "COALESCE(SUM(IF(" ALIVE ", restarts, 0)), 0) AS restarts "
	    "FROM worker_children) c",
	[HS_CALLS] =
	    "SELECT outcome, n FROM api_calls ORDER BY outcome",
};

static MYSQL_STMT	*st[HS_COUNT];
static unsigned long	 prepared_epoch;

static void
close_all(void)
{
	int	 i;

	for (i = 0; i < HS_COUNT; i++)
		if (st[i]) {
			mysql_stmt_close(st[i]);
			st[i] = NULL;
		}
}

/* The store's connection with our statements on it, or -1 (503). */
static int
ready(void)
{
	MYSQL		*db;
	int		 i;

	if ((db = store_conn()) == NULL)
		return -1;
	if (st[0] && prepared_epoch == store_epoch())
		return 0;
	close_all();
	for (i = 0; i < HS_COUNT; i++)
		if ((st[i] = mysql_stmt_init(db)) == NULL ||
		    mysql_stmt_prepare(st[i], sql[i], strlen(sql[i])) != 0) {
			store_lost(st[i], "prepare health");
			close_all();
			return -1;
		}
	prepared_epoch = store_epoch();
	return 0;
}

static void
bind_ll(MYSQL_BIND *b, long long *v, my_bool *is_null)
{
	db_bind_i64(b, v);
	b->is_null = is_null;
}

static size_t
clamp(unsigned long len, size_t cap)
{
	return len < cap ? len : cap;
}

/* Microseconds as seconds with three decimals. */
static void
add_secs(struct buf *out, long long us)
{
	if (us < 0)
		us = 0;
	buf_printf(out, "%lld.%03lld", us / 1000000, us / 1000 % 1000);
}

static enum store_rc
read_workers(struct buf *out, struct health *h)
{
	MYSQL_STMT	*s = st[HS_WORKERS];
	MYSQL_BIND	 o[3];
	char		 host[64];
	unsigned long	 hlen;
	long long	 alive, age;
	my_bool		 anull, agenull;
	int		 rc, n = 0;

	db_bind_out_str(&o[0], host, sizeof(host), &hlen, NULL);
	bind_ll(&o[1], &alive, &anull);
	bind_ll(&o[2], &age, &agenull);
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0)
		return store_lost(s, "health workers");
	buf_adds(out, ", \"workers\": [");
	while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		buf_adds(out, n++ ? ", {\"host\": " : "{\"host\": ");
		json_str(out, host, clamp(hlen, sizeof(host)));
		buf_printf(out, ", \"children_alive\": %lld, "
		    "\"heartbeat_age_s\": ", anull ? 0 : alive);
		if (agenull)
			buf_adds(out, "null}");
		else {
			add_secs(out, age);
			buf_addc(out, '}');
		}
		h->hosts++;
		if (!anull && alive > 0)
			h->alive_hosts++;
	}
	if (rc == 1)
		return store_lost(s, "health workers fetch");
	mysql_stmt_free_result(s);
	buf_addc(out, ']');
	return STORE_OK;
}

enum store_rc
health_read(struct buf *out, struct health *h)
{
	MYSQL_STMT	*s;
	MYSQL_BIND	 o[5];
	char		 reason[40], until[40];
	unsigned long	 rlen, ulen;
	long long	 paused, cities, oldest;
	my_bool		 pnull, cnull, onull;
	enum store_rc	 rc;
	int		 frc;

	memset(h, 0, sizeof(*h));
	if (ready() == -1)
		return STORE_UNAVAILABLE;
	if ((rc = read_workers(out, h)) != STORE_OK)
		return rc;

	s = st[HS_GATE];
	bind_ll(&o[0], &paused, &pnull);
	db_bind_out_str(&o[1], reason, sizeof(reason), &rlen, NULL);
	db_bind_out_str(&o[2], until, sizeof(until), &ulen, NULL);
	bind_ll(&o[3], &cities, &cnull);
	bind_ll(&o[4], &oldest, &onull);
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0 ||
	    (frc = mysql_stmt_fetch(s)) == 1)
		return store_lost(s, "health gate");
	mysql_stmt_free_result(s);
	if (frc == MYSQL_NO_DATA)	/* no gate row yet: nothing paused */
		paused = cities = 0, pnull = cnull = onull = 1;
	h->paused = !pnull && paused;
	if (h->paused) {
		h->key_paused = clamp(rlen, sizeof(reason)) ==
		    strlen(RULES_PAUSE_KEY) &&
		    memcmp(reason, RULES_PAUSE_KEY, rlen) == 0;
		buf_adds(out, ", \"gate\": {\"state\": \"paused\", \"reason\": ");
		json_str(out, reason, clamp(rlen, sizeof(reason)));
		buf_adds(out, ", \"until\": ");
		json_str(out, until, clamp(ulen, sizeof(until)));
		buf_addc(out, '}');
	} else
		buf_adds(out, ", \"gate\": {\"state\": \"running\", "
		    "\"reason\": null, \"until\": null}");
	buf_printf(out, ", \"queue\": {\"cities\": %lld, \"oldest_age_s\": ",
	    cnull ? 0 : cities);
	if (onull)
		buf_adds(out, "null}");
	else {
		add_secs(out, oldest);
		buf_addc(out, '}');
	}
	return STORE_OK;
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

static enum store_rc
metrics_calls(struct buf *out)
{
	MYSQL_STMT	*s = st[HS_CALLS];
	MYSQL_BIND	 o[2];
	char		 outcome[40];
	unsigned long	 olen;
	long long	 n;
	my_bool		 nnull;
	int		 rc;

	db_bind_out_str(&o[0], outcome, sizeof(outcome), &olen, NULL);
	bind_ll(&o[1], &n, &nnull);
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0)
		return store_lost(s, "metrics calls");
	family(out, "owmcollect_api_calls_total", "counter",
	    "API calls made by the workers, by outcome.");
	while ((rc = mysql_stmt_fetch(s)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
		buf_adds(out, "owmcollect_api_calls_total{outcome=\"");
		label_value(out, outcome, clamp(olen, sizeof(outcome)));
		buf_printf(out, "\"} %lld\n", nnull ? 0 : n);
	}
	if (rc == 1)
		return store_lost(s, "metrics calls fetch");
	mysql_stmt_free_result(s);
	return STORE_OK;
}

enum store_rc
health_metrics(long long limit, struct buf *out)
{
	MYSQL_STMT	*s;
	MYSQL_BIND	 o[9];
	long long	 v[9];
	my_bool		 isnull[9];
	int		 i, rc;

	if (ready() == -1)
		return STORE_UNAVAILABLE;
	s = st[HS_SUMS];
	for (i = 0; i < 9; i++)
		bind_ll(&o[i], &v[i], &isnull[i]);
	if (mysql_stmt_execute(s) != 0 || mysql_stmt_bind_result(s, o) != 0 ||
	    (rc = mysql_stmt_fetch(s)) == 1 || rc == MYSQL_NO_DATA)
		return store_lost(s, "metrics");
	mysql_stmt_free_result(s);
	for (i = 0; i < 9; i++)
		if (isnull[i])
			v[i] = 0;

	family(out, "owmcollect_requests_accepted_total", "counter",
	    "Collection requests accepted (POST /collect answered 202).");
	buf_printf(out, "owmcollect_requests_accepted_total %lld\n", v[0]);
	family(out, "owmcollect_cities", "gauge",
	    "Cities of every request, by state.");
	buf_printf(out, "owmcollect_cities{state=\"pending\"} %lld\n"
	    "owmcollect_cities{state=\"collected\"} %lld\n"
	    "owmcollect_cities{state=\"failed\"} %lld\n", v[1], v[2], v[3]);
	if ((rc = metrics_calls(out)) != STORE_OK)
		return rc;
	family(out, "owmcollect_gate_window_cities", "gauge",
	    "Cities sent in the last 60 s (rate gate reservations).");
	buf_printf(out, "owmcollect_gate_window_cities %lld\n", v[4]);
	family(out, "owmcollect_gate_limit_cities_per_minute", "gauge",
	    "The configured limit (owm.cities_per_minute).");
	buf_printf(out, "owmcollect_gate_limit_cities_per_minute %lld\n",
	    limit);
	family(out, "owmcollect_gate_wait_seconds_total", "counter",
	    "Time the worker children slept at the rate gate.");
	buf_printf(out, "owmcollect_gate_wait_seconds_total %lld.%06lld\n",
	    v[5] / 1000000, v[5] % 1000000);
	family(out, "owmcollect_worker_children_alive", "gauge",
	    "Worker children with a heartbeat younger than 10 s.");
	buf_printf(out, "owmcollect_worker_children_alive %lld\n", v[6]);
	family(out, "owmcollect_worker_restarts_total", "counter",
	    "Restarts of the live children's slots by their supervisors.");
	buf_printf(out, "owmcollect_worker_restarts_total %lld\n", v[7]);
	family(out, "owmcollect_queue_cities", "gauge",
	    "Cities queued for fetching.");
	buf_printf(out, "owmcollect_queue_cities %lld\n", v[8]);
	return STORE_OK;
}
