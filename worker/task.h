/*
 * task.h: a claimed city and what became of it (struct task), plain
 * data: what the pure answer policy (answer.h) reads and writes, and
 * what the queue's statements (tasks.h) claim and store.  No database
 * here.
 */
#ifndef OWM_TASK_H
#define OWM_TASK_H

#include <stdint.h>

#include "owm_parse.h"

/* A failed city's reason (fetches.error, city_tasks.last_error are
 * VARCHAR(200)). */
#define TASKS_REASON_MAX	160

enum task_out {
	TASK_PENDING,		/* no outcome yet */
	TASK_READING,		/* store rd, fulfil the city */
	TASK_REUSE,		/* fulfil the city with reading, no call */
	TASK_FAILED,		/* fail the city with reason */
	TASK_RETRY,		/* back to the queue after delay_us (the
				 * attempt counted unless uncounted) */
	TASK_RELEASE		/* back to the queue, attempt not counted */
};

struct task {
	uint32_t		 city;
	unsigned int		 attempts;	/* including this one */
	unsigned long long	 fetch;		/* city_tasks.fetch_id */
	enum task_out		 out;
	struct owm_reading	 rd;
	unsigned long long	 reading;	/* TASK_REUSE: its id */
	char			 reason[TASKS_REASON_MAX];
	int64_t			 delay_us;
	int64_t			 age_s;		/* queued this long, at claim */
	int			 uncounted;	/* a retry not the city's fault:
						 * its attempt does not count */
};

#endif
