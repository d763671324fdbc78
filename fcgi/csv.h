/*
 * csv.h: RFC 4180 records, for GET /get?format=csv (reply.c writes the
 * document with them).  Pure: it appends to a struct buf (its sticky
 * failure says when memory ran out) and never logs.
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

#endif
