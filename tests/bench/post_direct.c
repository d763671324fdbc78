/*
 * post_direct.c: the ceiling for POST /collect: the same database work
 * (fcgi/post.c's post_collect, 167 default cities, a unique id each)
 * done in a loop by P processes with no HTTP, for D seconds.
 *
 *	post_direct -c FILE [-p processes] [-d seconds]
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

#include "config.h"
#include "log.h"
#include "parse.h"
#include "post.h"
#include "store.h"

#define MAX_SAMPLES	200000

/* What a POST runs: its statements. */
static const struct store_module mods[] = { { post_open, post_close } };

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
	int		 ch, procs = 4, secs = 10, p, i;
	long		 total = 0, n;

	while ((ch = getopt(argc, argv, "c:p:d:")) != -1) {
		switch (ch) {
		case 'c': file = optarg; break;
		case 'p': procs = atoi(optarg); break;
		case 'd': secs = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: post_direct -c file [-p n] "
			    "[-d secs]\n");
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
		post_init(&cf);
		if (store_init(&cf, mods, sizeof(mods) / sizeof(mods[0])) == -1)
			fatalx(1, "cannot connect to the database");
		memcpy(r.cities, cf.cities, cf.ncities * sizeof(r.cities[0]));
		r.ncities = cf.ncities;
		for (n = 0; now() < end; n++) {
			r.idlen = (size_t)snprintf(r.id, sizeof(r.id),
			    "direct-%d-%d-%ld", (int)getppid(), p, n);
			t0 = now();
			if (post_collect(&r, &a) != STORE_OK)
				fatalx(1, "post_collect failed");
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
