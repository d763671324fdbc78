/*
 * rules.c: see rules.h.
 */
#include <stdlib.h>
#include <string.h>

#include "rules.h"

static int
cmp_uint(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

int
cities_check(const unsigned int *ids, size_t n, unsigned int *dup,
    const char **why)
{
	unsigned int	 sorted[CITIES_MAX];
	size_t		 i;

	if (n == 0 || n > CITIES_MAX) {
		*why = CITIES_WHY_COUNT;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (ids[i] == 0) {
			*why = "cities must be positive integers";
			return -1;
		}
	memcpy(sorted, ids, n * sizeof(ids[0]));
	qsort(sorted, n, sizeof(sorted[0]), cmp_uint);
	for (i = 1; i < n; i++)
		if (sorted[i] == sorted[i - 1]) {
			*dup = sorted[i];
			*why = "cities must not repeat a city id";
			return -1;
		}
	return 0;
}
