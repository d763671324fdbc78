/*
 * answers.h: the FastCGI program's answers counted by status class
 * (1xx .. 5xx), shared by every process of the program, for /metrics.
 *
 * The counts live in one anonymous shared mapping the supervisor makes
 * before it forks: every child, a respawned one too, adds to the same
 * counters, so a scrape served by any process sees the whole program's
 * answers, the 503 of a database that does not answer included (the
 * database could not have counted that one).  They start at 0 when the
 * program starts (a counter reset, which Prometheus' rate() allows for).
 */
#ifndef OWM_ANSWERS_H
#define OWM_ANSWERS_H

#define ANSWERS_CLASSES	5	/* 1xx .. 5xx */

/* Map the counters: once, before the children fork.  -1: mmap failed. */
int	answers_init(void);

/* Count one answer of HTTP status (an out of range one as 5xx). */
void	answers_count(int status);

/* n[i]: the answers of class i + 1 (n[4]: 5xx); all 0 before init. */
void	answers_read(long long n[ANSWERS_CLASSES]);

#endif
