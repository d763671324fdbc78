/*
 * post_direct.c: the ceilings for POST /collect, each done in a loop by P
 * processes with no HTTP, for D seconds, a unique id each:
 *
 *   post (the default): the same database work (fcgi/post.c's
 *	post_collect, the 167 default cities);
 *   min (-m min): the least a POST must do: one request row holding
 *	its cities (as a POST of fresh cities writes it), the counters'
 *	upsert with its purged-id check (lib/counters.c), one commit.
 *
 *	post_direct -c FILE [-m post|min] [-p processes] [-d seconds]
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
#include "store.h"

#define MAX_SAMPLES	200000

/* What a POST runs: its statements. */
static const struct store_module mods[] = { { post_open, post_close } };

/* The least a POST must do, and its statements. */
static const char *const min_sql[] = {
	"INSERT INTO requests (ext_id, requested_at, total, collected, "
	    "finished_at, cities) VALUES (?, UTC_TIMESTAMP(6), ?, ?, "
	    "UTC_TIMESTAMP(6), ?)",
	counters_post_sql,
};
static MYSQL_STMT	*min_st[2];
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
	 * the row's bytes are what count). */
	db_list_start(&min_list);
	for (i = 0; i < cf->ncities; i++) {
		unsigned long long t[3] = { cf->cities[i], i + 1, 0 };

		db_list_tuple(&min_list, t, 3);
	}
	buf_addc(&min_list, ']');
	if (buf_cstr(&min_list) == NULL)
		fatalx(1, "city list: out of memory");
	min_total = cf->ncities;
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
	if (db_run(min_set.db, min_st[0], b, "insert request", e) == -1 ||
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
	int		 ch, procs = 4, secs = 10, min = 0, p, i;
	long		 total = 0, n;

	while ((ch = getopt(argc, argv, "c:m:p:d:")) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'm': min = strcmp(optarg, "min") == 0; break;
		case 'p': procs = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: post_direct -c file "
			    "[-m post|min] [-p n] [-d secs]\n");
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
		if (min)
			min_init(&cf);
		else {
			post_init(&cf);
			if (store_init(&cf, mods,
			    sizeof(mods) / sizeof(mods[0])) == -1)
				fatalx(1, "cannot connect to the database");
		}
		memcpy(r.cities, cf.cities, cf.ncities * sizeof(r.cities[0]));
		r.ncities = cf.ncities;
		for (n = 0; now() < end; n++) {
			r.idlen = (size_t)snprintf(r.id, sizeof(r.id),
			    "%s-%d-%d-%ld", min ? "min" : "direct",
			    (int)getppid(), p, n);
			t0 = now();
			if (min ? min_collect(&r) == -1 :
			    post_collect(&r, &a) != STORE_OK)
				fatalx(1, "%s failed", min ? "min" : "post");
			if (n < MAX_SAMPLES)
				lat[p * MAX_SAMPLES + n] = now() - t0;
		}
		count[p] = n;
		_exit(0);
	}
	while (wait(NULL) > 0)
		;
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
	return 0;
}
