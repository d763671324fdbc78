/*
 * json.h: the JSON pieces both programs share: strict UTF-8 validation,
 * string escaping for output, unescaping of jsmn string tokens, and JSON's
 * number grammar (strict unsigned decimals are num.h's).  Pure functions:
 * they never log and never allocate.
 */
#ifndef OWM_JSON_H
#define OWM_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates, > U+10FFFF). */
int	utf8_valid(const char *s, size_t n);

/*
 * Append s[0..n) as a quoted JSON string.  Valid UTF-8 passes through byte
 * for byte; '"', '\\', control characters, DEL and U+2028/U+2029 are escaped.
 */
void	json_str(struct buf *, const char *s, size_t n);

/*
 * Decode the inside of a JSON string (the bytes between the quotes) into
 * out[0..cap).  Rejects raw control characters, unknown escapes, lone
 * surrogates, \u0000 is allowed through (callers that forbid NUL check),
 * and invalid UTF-8.  Returns the decoded length, or -1 with *why set.
 * With out == NULL it only validates (and returns the decoded length).
 */
long	json_unescape(const char *s, size_t n, char *out, size_t cap,
	    const char **why);

/* 1 if s[0..n) is a number by JSON's grammar (RFC 8259 section 6). */
int	json_number_valid(const char *s, size_t n);

#endif
