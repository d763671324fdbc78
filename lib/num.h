/*
 * num.h: strict decimal numbers from untrusted bytes (a query string, a
 * request body's city ids, the API's answers, configuration values).
 * Pure: never logs, never allocates, never reads past its length argument.
 */
#ifndef OWM_NUM_H
#define OWM_NUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Strict unsigned decimal: digits only, no sign, no leading zero (unless
 * "0"), value <= max.  0 on success, -1 otherwise.
 */
int	num_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

#endif
