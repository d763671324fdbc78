/*
 * validate.h: pure validators for what clients send (after Postfix's
 * valid_hostname.c): they return 0 or -1 with *why set to one clear
 * sentence, never log and never allocate.
 */
#ifndef OWM_VALIDATE_H
#define OWM_VALIDATE_H

#include <stddef.h>

#define ID_MAX		128	/* bytes */
#define CITIES_MAX	1000
#define CITY_ID_MAX	4294967295ULL

/* 1..128 bytes of valid UTF-8 without C0/C1 control characters or DEL. */
int	validate_id(const char *s, size_t n, const char **why);

/* 1..1000 ids, each 1..2^32-1, no duplicates; *dup is set on a duplicate. */
int	validate_cities(const unsigned int *ids, size_t n, unsigned int *dup,
	    const char **why);

#endif
