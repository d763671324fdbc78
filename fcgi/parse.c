/*
 * parse.c: the POST /collect body and the query string.
 *
 * JSON goes through json_tokenise (jsmn, strict, plus full validation)
 * with a fixed token budget.  Unknown and repeated fields are refused: a
 * typo must not silently collect the default cities.  The id is a string,
 * or an integer taken as its decimal text.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "jsontok.h"
#include "num.h"
#include "parse.h"

#define TOKENS_MAX	4096

#define ID_WHY_TYPE	"id must be a string or an integer"

/*
 * An id sent as a JSON number: the service this replaces took one and
 * kept its decimal text (Python's str(int)), so an integer is that text,
 * its sign included; "-0" is "0", JSON allows no other spelling of an
 * integer.  A fraction or an exponent is refused rather than guessed at
 * (str(1e3) is "1000.0" there).  jsmn has checked the number's grammar.
 */
static int
json_id_number(const char *p, size_t len, struct collect_req *r,
    const char **why)
{
	if (len == 0 || !(p[0] == '-' || (p[0] >= '0' && p[0] <= '9'))) {
		*why = ID_WHY_TYPE;	/* true, false, null */
		return -1;
	}
	if (memchr(p, '.', len) || memchr(p, 'e', len) || memchr(p, 'E', len)) {
		*why = ID_WHY_TYPE " without a fraction or exponent";
		return -1;
	}
	if (len == 2 && memcmp(p, "-0", 2) == 0) {
		p++;
		len--;
	}
	if (len > ID_MAX) {
		*why = "id must be at most 128 bytes";
		return -1;
	}
	memcpy(r->id, p, len);
	r->idlen = len;
	return 0;
}

static int
json_id(const char *js, const jsmntok_t *v, struct collect_req *r,
    const char **why)
{
	char	 tmp[ID_MAX * 6];
	long	 n;

	if (v->type == JSMN_PRIMITIVE)
		return json_id_number(js + v->start, (size_t)(v->end - v->start),
		    r, why);
	if (v->type != JSMN_STRING) {
		*why = ID_WHY_TYPE;
		return -1;
	}
	if ((size_t)(v->end - v->start) > sizeof(tmp)) {
		*why = "id must be at most 128 bytes";
		return -1;
	}
	n = json_unescape(js + v->start, v->end - v->start, tmp, sizeof(tmp),
	    why);
	if (n == -1)
		return -1;
	if (validate_id(tmp, (size_t)n, why) == -1)
		return -1;
	memcpy(r->id, tmp, n);
	r->idlen = (size_t)n;
	return 0;
}

static int
json_cities(const char *js, const jsmntok_t *t, int i, struct collect_req *r,
    const char **why)
{
	unsigned int	 dup = 0;
	int		 k, n = t[i].size;
	uint64_t	 id;

	if (t[i].type != JSMN_ARRAY) {
		*why = "cities must be an array of city ids";
		return -1;
	}
	if (n == 0 || n > CITIES_MAX) {
		*why = CITIES_WHY_COUNT;
		return -1;
	}
	for (k = 0; k < n; k++) {
		const jsmntok_t *e = &t[i + 1 + k];
		const char *p = js + e->start;
		size_t	 len = (size_t)(e->end - e->start);

		/* A nested element fails here, before its children could be
		 * mistaken for the next elements. */
		if (e->type != JSMN_PRIMITIVE || !json_number_valid(p, len)) {
			*why = "cities must be positive integers";
			return -1;
		}
		if (num_parse_u64(p, len, CITY_ID_MAX, &id) == -1) {
			*why = len > 0 && (p[0] == '-' || p[0] == '0') ?
			    "cities must be positive integers" :
			    memchr(p, '.', len) || memchr(p, 'e', len) ||
			    memchr(p, 'E', len) ?
			    "cities must be integers" :
			    CITIES_WHY_RANGE;
			return -1;
		}
		r->cities[k] = (unsigned int)id;
	}
	if (cities_check(r->cities, (size_t)n, &dup, why) == -1) {
		if (dup) {
			snprintf(r->whybuf, sizeof(r->whybuf),
			    "cities must not repeat a city id (%u)", dup);
			*why = r->whybuf;
		}
		return -1;
	}
	r->ncities = (size_t)n;
	r->has_cities = 1;
	return 0;
}

/* The body as jsmn tokens of one JSON object: their count, or -1. */
static int
json_object(const char *js, size_t len, jsmntok_t *t, struct collect_req *r,
    const char **why)
{
	size_t	 i;
	int	 n;

	if (len == 0) {
		*why = "body is empty";
		return -1;
	}
	/* Say what matters for a scalar document, not how jsmn fails it. */
	for (i = 0; i < len && strchr(" \t\r\n", js[i]) && js[i]; i++)
		;
	if (i < len && js[i] != '{' && js[i] != '[') {
		*why = "body must be a JSON object";
		return -1;
	}
	if ((n = json_tokenise(js, len, t, TOKENS_MAX, why)) == -1) {
		snprintf(r->whybuf, sizeof(r->whybuf), "body is %s%s",
		    strcmp(*why, "not valid JSON") == 0 ? "" :
		    "not valid JSON: ", *why);
		*why = r->whybuf;
		return -1;
	}
	if (t[0].type != JSMN_OBJECT) {
		*why = "body must be a JSON object";
		return -1;
	}
	return n;
}

int
parse_collect_json(const char *js, size_t len, struct collect_req *r,
    const char **why)
{
	static jsmntok_t t[TOKENS_MAX];
	int		 n, i, end, seen_id = 0, seen_cities = 0;

	r->idlen = 0;
	r->ncities = 0;
	r->has_cities = 0;
	if ((n = json_object(js, len, t, r, why)) == -1)
		return -1;
	for (i = 1; i < n; i = end) {
		end = json_skip(t, i + 1);
		if (json_tok_eq(js, &t[i], "id")) {
			if (seen_id++) {
				*why = "body repeats the field \"id\"";
				return -1;
			}
			if (json_id(js, &t[i + 1], r, why) == -1)
				return -1;
		} else if (json_tok_eq(js, &t[i], "cities")) {
			if (seen_cities++) {
				*why = "body repeats the field \"cities\"";
				return -1;
			}
			if (json_cities(js, t, i + 1, r, why) == -1)
				return -1;
		} else {
			*why = "body has an unknown field (known: id, cities)";
			return -1;
		}
	}
	if (!seen_id) {
		*why = "id is missing";
		return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long
percent_decode(const char *s, size_t n, char *out, size_t cap, int plus,
    const char **why)
{
	size_t	 i, o = 0;

	for (i = 0; i < n; i++) {
		char	 c = s[i];

		if (c == '%') {
			int hi, lo;

			if (n - i < 3 || (hi = hexval(s[i + 1])) == -1 ||
			    (lo = hexval(s[i + 2])) == -1) {
				*why = "malformed percent-encoding";
				return -1;
			}
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (o >= cap)
			return -3;
		out[o++] = c;
	}
	return (long)o;
}

/*
 * Walk "k=v&k=v" for the one pair named name.  Keys are matched undecoded:
 * every key we know is plain ASCII.
 */
long
parse_query_param(const char *qs, size_t len, const char *name, char *out,
    size_t cap, const char **why)
{
	size_t	 i = 0, nlen = strlen(name);
	long	 found = -2;

	while (i < len) {
		const char *pair = qs + i, *amp, *eq;
		size_t	 plen;

		amp = memchr(pair, '&', len - i);
		plen = amp ? (size_t)(amp - pair) : len - i;
		i += plen + 1;
		eq = memchr(pair, '=', plen);
		if ((eq ? (size_t)(eq - pair) : plen) != nlen ||
		    memcmp(pair, name, nlen) != 0)
			continue;
		if (found != -2) {
			*why = "query repeats a parameter";
			return -1;
		}
		if (eq == NULL)
			found = 0;
		else if ((found = percent_decode(eq + 1, plen - nlen - 1, out,
		    cap, 1, why)) < 0)
			return found;
	}
	return found;
}

static int
form_cities(const char *v, size_t n, struct collect_req *r, const char **why)
{
	unsigned int	 dup = 0;
	size_t		 i = 0, k = 0;
	uint64_t	 id;

	while (i <= n) {
		const char *comma = memchr(v + i, ',', n - i);
		size_t	 len = comma ? (size_t)(comma - (v + i)) : n - i;

		if (k == CITIES_MAX) {
			*why = CITIES_WHY_COUNT;
			return -1;
		}
		if (num_parse_u64(v + i, len, CITY_ID_MAX, &id) == -1) {
			*why = "cities must be comma-separated positive "
			    "integers";
			return -1;
		}
		r->cities[k++] = (unsigned int)id;
		i += len + 1;
	}
	if (cities_check(r->cities, k, &dup, why) == -1) {
		if (dup) {
			snprintf(r->whybuf, sizeof(r->whybuf),
			    "cities must not repeat a city id (%u)", dup);
			*why = r->whybuf;
		}
		return -1;
	}
	r->ncities = k;
	r->has_cities = 1;
	return 0;
}

int
parse_collect_form(const char *body, size_t len, struct collect_req *r,
    const char **why)
{
	static char	 val[CITIES_MAX * 11];
	long		 n;

	r->idlen = 0;
	r->ncities = 0;
	r->has_cities = 0;
	if (len == 0) {
		*why = "body is empty";
		return -1;
	}
	/* Refuse fields we do not know or repeated, as the JSON parser does. */
	for (size_t i = 0, ids = 0, cities = 0; i < len;) {
		const char *pair = body + i, *amp = memchr(pair, '&', len - i);
		size_t	 plen = amp ? (size_t)(amp - pair) : len - i;
		const char *eq = memchr(pair, '=', plen);
		size_t	 klen = eq ? (size_t)(eq - pair) : plen;

		i += plen + 1;
		if (plen == 0)
			continue;
		if (klen == 2 && memcmp(pair, "id", 2) == 0)
			ids++;
		else if (klen == 6 && memcmp(pair, "cities", 6) == 0)
			cities++;
		else {
			*why = "body has an unknown field (known: id, cities)";
			return -1;
		}
		if (ids > 1 || cities > 1) {
			*why = ids > 1 ? "body repeats the field \"id\"" :
			    "body repeats the field \"cities\"";
			return -1;
		}
	}
	n = parse_query_param(body, len, "id", val, ID_MAX, why);
	if (n == -2) {
		*why = "id is missing";
		return -1;
	}
	if (n == -3)
		*why = "id must be at most 128 bytes";
	if (n < 0 || validate_id(val, (size_t)n, why) == -1)
		return -1;
	memcpy(r->id, val, n);
	r->idlen = (size_t)n;
	n = parse_query_param(body, len, "cities", val, sizeof(val), why);
	if (n == -3)
		*why = CITIES_WHY_COUNT;
	if (n == -1 || n == -3)
		return -1;
	if (n >= 0 && form_cities(val, (size_t)n, r, why) == -1)
		return -1;
	return 0;
}

int
parse_content_length(const char *s, size_t n, uint64_t max, uint64_t *v,
    const char **why)
{
	uint64_t	 u = 0;
	size_t		 i;
	unsigned	 d;
	int		 over = 0;

	*why = "Content-Length must be a decimal number";
	if (n == 0)
		return -1;
	/* Every byte is looked at, so "1x" is refused even past max. */
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (over || d > max || u > (max - d) / 10)
			over = 1;
		else
			u = u * 10 + d;
	}
	if (over)
		return PARSE_LEN_OVER;
	*v = u;
	return 0;
}

int
parse_get_format(const char *qs, size_t len, enum get_format *f,
    const char **why)
{
	char	 v[8];
	long	 n;

	n = parse_query_param(qs, len, "format", v, sizeof(v), why);
	if (n == -1)
		return -1;
	*f = GET_JSON;
	if (n == -2 || (n == 4 && memcmp(v, "json", 4) == 0))
		return 0;
	if (n == 3 && memcmp(v, "csv", 3) == 0) {
		*f = GET_CSV;
		return 0;
	}
	*why = "format must be json or csv";
	return -1;
}
