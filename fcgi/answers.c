/*
 * answers.c: see answers.h.  Relaxed atomic adds: each count is only ever
 * added to, and a scrape needs no order between them.
 */
#include <sys/mman.h>

#include <stddef.h>

#include "answers.h"

static long long	*counts;	/* ANSWERS_CLASSES, shared */

int
answers_init(void)
{
	void	*p;

	p = mmap(NULL, ANSWERS_CLASSES * sizeof(*counts),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	counts = p;
	return 0;
}

void
answers_count(int status)
{
	int	 c = status / 100 - 1;

	if (counts == NULL)
		return;
	if (c < 0 || c >= ANSWERS_CLASSES)
		c = ANSWERS_CLASSES - 1;
	__atomic_fetch_add(&counts[c], 1, __ATOMIC_RELAXED);
}

void
answers_read(long long n[ANSWERS_CLASSES])
{
	int	 i;

	for (i = 0; i < ANSWERS_CLASSES; i++)
		n[i] = counts ? __atomic_load_n(&counts[i], __ATOMIC_RELAXED) : 0;
}
