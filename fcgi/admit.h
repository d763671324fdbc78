/*
 * admit.h: POSTs give way to the worker while it is behind
 * (docs/design.md, "The worker's share").
 *
 * The worker says it is behind in its gate's row (rate_gate.behind_until:
 * its children find the gate open for full batches and spend their time
 * at the database, so the machine, not the limit, holds the collection
 * back).  Each process reads that before a POST, at most every 250 ms
 * (post.c), and tells admit_behind; while it holds, at most
 * http.posts_while_behind POSTs of this program run their transaction at
 * once, and the others wait their turn, up to ADMIT_WAIT_MS, then go
 * anyway: a POST is slowed, never refused.  A turn is kept after its
 * transaction for half as long again, so that the POSTs leave the
 * database a share however cheap they get.  The turns are one System V
 * semaphore the supervisor makes before it forks, taken with SEM_UNDO, so
 * a process that dies holding a turn gives it back by dying.  The POSTs
 * that waited and their time are counted for /metrics in a shared
 * mapping, as answers.c counts answers.
 */
#ifndef OWM_ADMIT_H
#define OWM_ADMIT_H

#include <stdint.h>

#define ADMIT_WAIT_MS	1000	/* a POST waits at most this for a turn */
#define ADMIT_HOLD_MAX_MS 100	/* and a turn is kept at most this after */

/* Once, in the supervisor before the children fork: turns at once while
 * the worker is behind (0: POSTs never wait).  -1 with errno on failure. */
int	admit_init(int turns);
/* The supervisor, as it exits: the semaphore goes. */
void	admit_free(void);

/* 1 when POSTs may have to wait (turns were made), else 0. */
int	admit_on(void);
/* What this process last read: the worker is behind until this moment
 * of the local monotonic clock (in the past: it is not). */
void	admit_behind(int64_t until_mono_us);
/* 1 when, as last read, the worker is behind now. */
int	admit_behind_now(void);
/* Before a POST's transaction: 1 when it took a turn (admit_leave after
 * the transaction), 0 when it needs none or waited in vain. */
int	admit_enter(void);
/* The turn back; while the worker is still behind, only once it has been
 * kept for half as long again as it was used, up to ADMIT_HOLD_MAX_MS. */
void	admit_leave(void);

/* The POSTs that waited for a turn, and their wait in all (seconds). */
void	admit_read(long long *waited, double *seconds);

#endif
