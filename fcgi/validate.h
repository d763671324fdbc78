/*
 * validate.h: pure validators for what clients send (after Postfix's
 * valid_hostname.c): they return 0 or -1 with *why set to one clear
 * sentence, never log and never allocate.
 */
#ifndef OWM_VALIDATE_H
#define OWM_VALIDATE_H

#include <stddef.h>

#include "rules.h"	/* the city-list rules: cities_check */

#define ID_MAX		128	/* bytes */

/* 1..128 bytes of valid UTF-8 without C0/C1 control characters or DEL. */
int	validate_id(const char *s, size_t n, const char **why);

#endif
