/*
 * post_direct.c: the ceilings for POST /collect, each done in a loop by P
 * processes with no HTTP, for D seconds, a unique id each:
 *
 *   post (the default): the same database work (fcgi/post.c's
 *	post_collect, the 167 default cities);
 *   min (-m min): the least a POST must do: one request row holding
 *	its cities (as a POST of fresh cities writes it), the counters'
 *	upsert with its purged-id check (lib/counters.c), one commit;
 *   look (-m look): the least, after the read every POST starts with
 *	(post.c's look-up of fresh readings and queued cities): what a POST
 *	that queued nothing itself would cost.
 *
 *	post_direct -c FILE [-m post|min|look] [-p processes] [-d seconds]
 *	    [-r rate]
 *
 * With -r, the processes together start at most rate POSTs a second,
 * each on its own schedule (a process that falls behind it sends at once):
 * the load a given rate puts beside the worker, not the most it can do.
 *
 * Prints one line: "requests N seconds S rate R p50_ms A p99_ms B".
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "counters.h"
#include "db.h"
#include "log.h"
#include "parse.h"
#include "post.h"
#include "queue.h"
#include "store.h"

#define MAX_SAMPLES	200000

/* What a POST runs: its statements. */
static const struct store_module mods[] = { { post_open, post_close } };

enum mode { MODE_POST, MODE_MIN, MODE_LOOK };
static const char *const mode_name[] = { "post", "min", "look" };

/* The least a POST must do, and its statements; the look-up. */
static const char *const min_sql[] = {
	"INSERT INTO requests (ext_id, requested_at, total, collected, "
	    "finished_at, cities) VALUES (?, UTC_TIMESTAMP(6), ?, ?, "
	    "UTC_TIMESTAMP(6), ?)",
	counters_post_sql,
	queue_look_sql,
};
static MYSQL_STMT	*min_st[3];
static enum mode	 mode;
static struct buf	 look_list;	/* [city, ...] */
static struct db_set	 min_set = DB_SET(min_sql, min_st);
static struct buf	 min_list;	/* [[city, reading, 0], ...] */
static unsigned long long min_total;

static void
min_init(const struct config *cf)
{
	struct db_err	 e;
	MYSQL		*db;
	char		 err[512];
	size_t		 i;

	if ((db = db_open(cf, err, sizeof(err))) == NULL)
		fatalx(1, "%s", err);
	if (db_set_open(&min_set, db, &e) == -1)
		fatalx(1, "prepare: %s", e.msg);
	/* A fresh POST's references: each city's reading (any id will do:
	 * the row's bytes are what count); and the look-up's list. */
	db_list_start(&min_list);
	db_list_start(&look_list);
	for (i = 0; i < cf->ncities; i++) {
		unsigned long long t[3] = { cf->cities[i], i + 1, 0 };

		db_list_tuple(&min_list, t, 3);
		db_list_num(&look_list, cf->cities[i]);
	}
	buf_addc(&min_list, ']');
	buf_addc(&look_list, ']');
	if (buf_cstr(&min_list) == NULL || buf_cstr(&look_list) == NULL)
		fatalx(1, "city list: out of memory");
	min_total = cf->ncities;
}

/* A row of the look-up: read, and nothing more to do with it. */
static int
look_row(void *arg, const struct queue_look_row *r, struct db_err *e)
{
	(void)arg;
	(void)r;
	(void)e;
	return 0;
}

/* The look-up (the product's own, lib/queue.c), its rows read and
 * dropped: 0, or -1. */
static int
look(struct db_err *e)
{
	MYSQL_BIND	 b[1];
	unsigned long	 len;

	db_bind_str(&b[0], look_list.data, &len);
	return queue_look(min_set.db, min_st[2], 0, &b[0], "look-up",
	    look_row, NULL, e) == -1 ? -1 : 0;
}

static int
min_body(void *arg, struct db_err *e)
{
	const struct collect_req *r = arg;
	struct counts	 c = { .cities = (long long)min_total,
			    .collected = (long long)min_total, .requests = 1 };
	MYSQL_BIND	 b[4];
	unsigned long	 idlen, listlen;

	db_bind_str(&b[3], min_list.data, &listlen);
	db_bind_bytes(&b[0], r->id, r->idlen, &idlen);
	db_bind_u64(&b[1], &min_total);
	db_bind_u64(&b[2], &min_total);
	if ((mode == MODE_LOOK && look(e) == -1) ||
	    db_run(min_set.db, min_st[0], b, "insert request", e) == -1 ||
	    counters_add_post(min_set.db, min_st[1], &c, r->id, r->idlen,
	    e) == -1)
		return -1;
	return 0;
}

/* One minimal POST: 0, or -1. */
static int
min_collect(const struct collect_req *r)
{
	struct db_err	 e;

	if (db_transaction(min_set.db, min_body, (void *)r, &e) != 0) {
		log_warnx("minimal POST: %s", e.msg);
		return -1;
	}
	return 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char *argv[])
{
	static struct collect_req r;
	struct config	 cf;
	struct accepted	 a;
	const char	*file = NULL;
	char		 err[512];
	double		*lat, end, t0;
	long		*count;
	double		 rate = 0, next;
	int		 ch, procs = 4, secs = 10, p, i, status, failed = 0;
	long		 total = 0, n;

	while ((ch = getopt(argc, argv, "c:m:p:d:r:")) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'm':
			mode = strcmp(optarg, "min") == 0 ? MODE_MIN :
			    strcmp(optarg, "look") == 0 ? MODE_LOOK : MODE_POST;
			break;
		case 'p': procs = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		default:
			fprintf(stderr, "usage: post_direct -c file "
			    "[-m post|min|look] [-p n] [-d secs] [-r rate]\n");
			return 2;
		}
	}
	log_init("post_direct", 0);
	if (config_load(&cf, file, err, sizeof(err), NULL, 0) == -1)
		fatalx(2, "%s", err);
	/* Shared with the children: per-process counts and latencies. */
	lat = mmap(NULL, sizeof(double) * MAX_SAMPLES * procs,
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	count = mmap(NULL, sizeof(long) * procs, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lat == MAP_FAILED || count == MAP_FAILED)
		fatal(1, "mmap");
	end = now() + secs;
	for (p = 0; p < procs; p++) {
		if (fork() != 0)
			continue;
		if (mode != MODE_POST)
			min_init(&cf);
		else {
			post_init(&cf);
			if (store_init(&cf, mods,
			    sizeof(mods) / sizeof(mods[0])) == -1)
				fatalx(1, "cannot connect to the database");
		}
		memcpy(r.cities, cf.cities, cf.ncities * sizeof(r.cities[0]));
		r.ncities = cf.ncities;
		/* Each process's share of the rate, its starts spread out. */
		next = now() + (rate > 0 ? p / rate : 0);
		for (n = 0; now() < end; n++) {
			if (rate > 0) {
				if (next >= end)
					break;
				while ((t0 = now()) < next)
					usleep((useconds_t)((next - t0) * 1e6));
				next += procs / rate;
			}
			r.idlen = (size_t)snprintf(r.id, sizeof(r.id),
			    "%s-%d-%d-%ld", mode_name[mode],
			    (int)getppid(), p, n);
			t0 = now();
			if (mode != MODE_POST ? min_collect(&r) == -1 :
			    post_collect(&r, &a) != STORE_OK)
				fatalx(1, "%s failed", mode_name[mode]);
			if (n < MAX_SAMPLES)
				lat[p * MAX_SAMPLES + n] = now() - t0;
		}
		count[p] = n;
		_exit(0);
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	if (failed)
		fatalx(1, "a process failed");
	for (p = 0; p < procs; p++) {
		long k = count[p] < MAX_SAMPLES ? count[p] : MAX_SAMPLES;

		memmove(lat + total, lat + p * MAX_SAMPLES, k * sizeof(double));
		total += k;
	}
	qsort(lat, total, sizeof(double), cmp_double);
	for (n = 0, p = 0; p < procs; p++)
		n += count[p];
	i = total ? (int)(total * 0.99) : 0;
	printf("requests %ld seconds %d rate %.0f p50_ms %.2f p99_ms %.2f\n",
	    n, secs, (double)n / secs, total ? lat[total / 2] * 1e3 : 0,
	    total ? lat[i < total ? i : total - 1] * 1e3 : 0);
	config_free(&cf);
	return 0;
}
