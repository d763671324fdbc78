/*
 * validate.c: the request id rule of the HTTP contract (the city-list rules
 * are lib/rules.c's, shared with the configuration).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "validate.h"

int
validate_id(const char *s, size_t n, const char **why)
{
	size_t	 i;

	if (n == 0) {
		*why = "id must not be empty";
		return -1;
	}
	if (n > ID_MAX) {
		*why = "id must be at most 128 bytes";
		return -1;
	}
	if (!utf8_valid(s, n)) {
		*why = "id must be valid UTF-8";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		/* C1 controls U+0080..U+009F are encoded C2 80..C2 9F. */
		if (c < 0x20 || c == 0x7f || (c == 0xc2 && i + 1 < n &&
		    (unsigned char)s[i + 1] >= 0x80 &&
		    (unsigned char)s[i + 1] <= 0x9f)) {
			*why = "id must not contain control characters";
			return -1;
		}
	}
	return 0;
}
