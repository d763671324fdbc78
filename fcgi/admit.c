/*
 * admit.c: see admit.h.
 */
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/sem.h>

#include <errno.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "admit.h"
#include "daemon.h"
#include "log.h"

#define US_PER_MS	1000LL
#define ADMIT_HOLD_DIV	2	/* a turn is kept 1/2 of its use more */

/* The counts /metrics shows, shared by every process. */
struct admit_counts {
	long long	 waited;
	long long	 wait_us;
};

static int		 semid = -1;	/* -1: off */
static pid_t		 owner;		/* the supervisor, which removes it */
static struct admit_counts *counts;
static int64_t		 behind_until;	/* local monotonic clock */
static int64_t		 taken_at;	/* this process's turn, since */

int
admit_init(int turns)
{
	void	*p;

	p = mmap(NULL, sizeof(*counts), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	counts = p;
	if (turns <= 0)
		return 0;
	if ((semid = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600)) == -1)
		return -1;
	if (semctl(semid, 0, SETVAL, turns) == -1) {
		admit_free();
		return -1;
	}
	owner = getpid();
	return 0;
}

void
admit_free(void)
{
	if (semid != -1 && owner == getpid())
		(void)semctl(semid, 0, IPC_RMID);
	semid = -1;
}

int
admit_on(void)
{
	return semid != -1;
}

void
admit_behind(int64_t until_mono_us)
{
	behind_until = until_mono_us;
}

int
admit_behind_now(void)
{
	return daemon_mono_us() < behind_until;
}

/*
 * One try at a turn, waiting at most ms (0: not at all): 0, the moment
 * taken in taken_at, or -1.
 */
static int
take(long long ms)
{
	struct sembuf	 op = { 0, -1, SEM_UNDO };
	struct timespec	 ts = { ms / 1000, (ms % 1000) * 1000000L };
	int		 rc;

	if (ms == 0) {
		op.sem_flg |= IPC_NOWAIT;
		rc = semop(semid, &op, 1);
	} else
		rc = semtimedop(semid, &op, 1, &ts);
	if (rc == 0)
		taken_at = daemon_mono_us();
	return rc;
}

int
admit_enter(void)
{
	int64_t		 t0, left;
	int		 got = 0;

	if (semid == -1 || daemon_mono_us() >= behind_until)
		return 0;
	if (take(0) == 0)
		return 1;
	t0 = daemon_mono_us();
	for (;;) {
		left = (t0 + ADMIT_WAIT_MS * US_PER_MS - daemon_mono_us()) /
		    US_PER_MS;
		if (left <= 0)
			break;
		if (take(left) == 0) {
			got = 1;
			break;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			log_warn("POST turns: semtimedop");
		break;
	}
	__atomic_fetch_add(&counts->waited, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&counts->wait_us, daemon_mono_us() - t0,
	    __ATOMIC_RELAXED);
	return got;
}

/*
 * While the worker is still behind, the turn is kept for half as long
 * again as it was used (at most ADMIT_HOLD_MAX_MS): the POSTs'
 * transactions then fill at most two thirds of a turn's time, whatever a
 * transaction costs, and the rest goes to the worker.
 */
void
admit_leave(void)
{
	struct sembuf	 op = { 0, 1, SEM_UNDO };
	int64_t		 now = daemon_mono_us(), hold, until;

	if (semid == -1)
		return;
	if (now < behind_until) {
		hold = (now - taken_at) / ADMIT_HOLD_DIV;
		if (hold > ADMIT_HOLD_MAX_MS * US_PER_MS)
			hold = ADMIT_HOLD_MAX_MS * US_PER_MS;
		until = now + hold;
		while (daemon_mono_us() < until)
			daemon_nap_step(until);
	}
	if (semop(semid, &op, 1) == -1)
		log_warn("POST turns: semop");
}

void
admit_read(long long *waited, double *seconds)
{
	*waited = counts ? __atomic_load_n(&counts->waited,
	    __ATOMIC_RELAXED) : 0;
	*seconds = counts ? __atomic_load_n(&counts->wait_us,
	    __ATOMIC_RELAXED) / 1e6 : 0;
}
