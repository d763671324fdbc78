/*
 * csv.h: RFC 4180 text, for GET /get?format=csv: a row of fields, and the
 * Content-Disposition that names the download after the request id (RFC
 * 6266, with RFC 8187's filename*).  Pure: they append to a struct buf
 * (its sticky failure says when memory ran out) and never log.
 */
#ifndef OWM_CSV_H
#define OWM_CSV_H

#include <stddef.h>

#include "buf.h"

/* A field's bytes, any at all; s NULL (a null) is an empty field too. */
struct csv_field {
	const char	*s;
	size_t		 n;
};

/*
 * Append one record of n fields and its CRLF.  A field holding a comma,
 * a double quote, CR or LF is quoted, its quotes doubled; any other is
 * written as it is (UTF-8 passes byte for byte).
 */
void	csv_row(struct buf *, const struct csv_field *, size_t n);

/*
 * Append the Content-Disposition value of request id's CSV:
 *   attachment; filename="<id>.csv"; filename*=UTF-8''<id>.csv
 * where the quoted name has every byte outside [A-Za-z0-9._-] replaced by
 * "_" (no quote, backslash, CR, LF or non-ASCII byte can reach the
 * header) and filename* carries the id percent-encoded.  An id longer
 * than ID_MAX fails the buffer.
 */
void	csv_disposition(struct buf *, const char *id, size_t idlen);

#endif
