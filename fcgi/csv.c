/*
 * csv.c: see csv.h.
 *
 * Records end in CRLF, the header's too, and a field is quoted only when
 * RFC 4180 requires it, so a name without those four bytes reads the
 * same in any CSV reader.  Values are written as stored: a leading "="
 * is not defused for spreadsheets, since the contract is the bytes.
 */
#include <string.h>

#include "csv.h"

/* 1 if the field must be quoted: it holds , " CR or LF. */
static int
needs_quotes(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n')
			return 1;
	return 0;
}

static void
field(struct buf *b, const char *s, size_t n)
{
	const char *q;

	if (s == NULL)
		return;
	if (!needs_quotes(s, n)) {
		buf_add(b, s, n);
		return;
	}
	buf_addc(b, '"');
	/* Each quote is written twice: up to and with it, then it again. */
	while ((q = memchr(s, '"', n)) != NULL) {
		buf_add(b, s, (size_t)(q - s) + 1);
		buf_addc(b, '"');
		n -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	buf_add(b, s, n);
	buf_addc(b, '"');
}

void
csv_row(struct buf *b, const struct csv_field *f, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(b, ',');
		field(b, f[i].s, f[i].n);
	}
	buf_adds(b, "\r\n");
}
