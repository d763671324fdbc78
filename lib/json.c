/*
 * json.c: UTF-8 validation, JSON string escaping and unescaping, JSON's
 * number grammar.  Every function is bounded by its length argument and
 * never reads past it; the fuzz targets drive these through the request
 * parsers.
 */
#include <string.h>

#include "json.h"

int
utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t	 i = 0;

	while (i < n) {
		unsigned char c = s[i];
		uint32_t cp;
		size_t	 len, k;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			len = 2, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4, cp = c & 0x07;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

void
json_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t	 i, run = 0;

	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char	 u[7];

		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f) {
			memcpy(u, "\\u00", 4);
			u[4] = hex[c >> 4];
			u[5] = hex[c & 15];
			u[6] = '\0';
			esc = u;
		} else if (c == 0xe2 && i + 2 < n &&
		    (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0xa8 ||
		    (unsigned char)s[i + 2] == 0xa9)) {
			/* U+2028/2029 break JavaScript string literals. */
			esc = (unsigned char)s[i + 2] == 0xa8 ?
			    "\\u2028" : "\\u2029";
			buf_add(b, s + i - run, run);
			run = 0;
			buf_adds(b, esc);
			i += 2;
			continue;
		}
		if (esc == NULL) {
			run++;
			continue;
		}
		buf_add(b, s + i - run, run);
		run = 0;
		buf_adds(b, esc);
	}
	buf_add(b, s + n - run, run);
	buf_addc(b, '"');
}

static int
hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int	 i;

	for (i = 0; i < 4; i++) {
		char c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t
utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The escape at s[*i] (just past its backslash, *i < n) as one code
 * point; *i is left on its last character.  A surrogate pair is one.
 */
static int
escape(const char *s, size_t n, size_t *i, uint32_t *cp, const char **why)
{
	uint32_t	 lo;
	size_t		 at = *i;

	switch (s[at]) {
	case '"':  *cp = '"'; return 0;
	case '\\': *cp = '\\'; return 0;
	case '/':  *cp = '/'; return 0;
	case 'b':  *cp = '\b'; return 0;
	case 'f':  *cp = '\f'; return 0;
	case 'n':  *cp = '\n'; return 0;
	case 'r':  *cp = '\r'; return 0;
	case 't':  *cp = '\t'; return 0;
	case 'u':
		break;
	default:
		*why = "unknown escape in string";
		return -1;
	}
	if (n - at < 5 || hex4(s + at + 1, cp) == -1) {
		*why = "bad \\u escape";
		return -1;
	}
	at += 4;
	if (*cp >= 0xdc00 && *cp <= 0xdfff)
		goto lone;
	if (*cp >= 0xd800 && *cp <= 0xdbff) {
		if (n - at < 7 || s[at + 1] != '\\' || s[at + 2] != 'u' ||
		    hex4(s + at + 3, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			goto lone;
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		at += 6;
	}
	*i = at;
	return 0;
lone:
	*why = "lone surrogate in \\u escape";
	return -1;
}

long
json_unescape(const char *s, size_t n, char *out, size_t cap,
    const char **why)
{
	size_t		 i, o = 0, k;
	uint32_t	 cp;
	char		 tmp[4];

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20) {
			*why = "control character in string";
			return -1;
		}
		if (s[i] != '\\') {
			tmp[0] = s[i];
			k = 1;
		} else if (++i >= n) {
			*why = "truncated escape";
			return -1;
		} else if (escape(s, n, &i, &cp, why) == -1)
			return -1;
		else
			k = utf8_put(tmp, cp);
		if (out != NULL) {
			if (cap - o < k) {
				*why = "string too long";
				return -1;
			}
			memcpy(out + o, tmp, k);
		}
		o += k;
	}
	/* Escapes decode to valid UTF-8, so without out the raw bytes tell. */
	if (out != NULL ? !utf8_valid(out, o) : !utf8_valid(s, n)) {
		*why = "string is not valid UTF-8";
		return -1;
	}
	return (long)o;
}

int
json_number_valid(const char *s, size_t n)
{
	size_t	 i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i >= n)
		return 0;
	if (s[i] == '0')
		i++;
	else if (s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n;
}
