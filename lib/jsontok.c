/*
 * jsontok.c: jsmn in strict mode plus the checks it leaves out; see
 * jsontok.h.  Everything is bounded by len and by the token budget, so
 * neither deep nesting nor huge input can exhaust the stack or memory.
 */
#include <string.h>

#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"
#include "jsontok.h"

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Bytes a token really covers: string tokens exclude their quotes. */
static int
tok_begin(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->start - 1 : t->start;
}

static int
tok_end(const jsmntok_t *t)
{
	return t->type == JSMN_STRING ? t->end + 1 : t->end;
}

/* js[from..to) must be white space around at most the one byte sep. */
static int
gap_ok(const char *js, int from, int to, char sep)
{
	int	 seen = sep == 0;

	for (; from < to; from++) {
		if (is_ws(js[from]))
			continue;
		if (js[from] != sep || seen)
			return 0;
		seen = 1;
	}
	return seen;
}

int
json_skip(const jsmntok_t *t, int i)
{
	int	 pending = 1;

	while (pending > 0) {
		pending += t[i].size - 1;
		i++;
	}
	return i;
}

int
json_tok_eq(const char *js, const jsmntok_t *t, const char *s)
{
	size_t	 n = strlen(s);

	return (size_t)(t->end - t->start) == n &&
	    memcmp(js + t->start, s, n) == 0;
}

/* Separators inside container c: ',' between members, ':' after keys. */
static int
check_container(const char *js, const jsmntok_t *t, int c)
{
	int	 i = c + 1, k, prev = t[c].start + 1;
	int	 obj = t[c].type == JSMN_OBJECT;

	for (k = 0; k < t[c].size; k++) {
		if (!gap_ok(js, prev, tok_begin(&t[i]), k ? ',' : 0))
			return 0;
		if (obj) {
			if (t[i].type != JSMN_STRING || t[i].size != 1 ||
			    !gap_ok(js, tok_end(&t[i]), tok_begin(&t[i + 1]),
			    ':'))
				return 0;
			i++;
		}
		prev = tok_end(&t[i]);
		i = json_skip(t, i);
	}
	return gap_ok(js, prev, t[c].end - 1, 0);
}

/* Nothing but white space before and after the top value t[0]. */
static int
only_ws_around(const char *js, size_t len, const jsmntok_t *t)
{
	size_t	 k;

	for (k = 0; k < (size_t)tok_begin(&t[0]); k++)
		if (!is_ws(js[k]))
			return 0;
	for (k = (size_t)tok_end(&t[0]); k < len; k++)
		if (!is_ws(js[k]))
			return 0;
	return 1;
}

/* What jsmn lets through but JSON does not: -1 with *why set. */
static int
token_valid(const char *js, const jsmntok_t *t, int i, const char **why)
{
	const char	*s = js + t[i].start;
	size_t		 sl = (size_t)(t[i].end - t[i].start);

	switch (t[i].type) {
	case JSMN_OBJECT:
	case JSMN_ARRAY:
		if (t[i].end >= 0 && check_container(js, t, i))
			return 0;
		break;
	case JSMN_STRING:
		return json_unescape(s, sl, NULL, 0, why) == -1 ? -1 : 0;
	case JSMN_PRIMITIVE:
		if ((sl == 4 && memcmp(s, "true", 4) == 0) ||
		    (sl == 5 && memcmp(s, "false", 5) == 0) ||
		    (sl == 4 && memcmp(s, "null", 4) == 0) ||
		    json_number_valid(s, sl))
			return 0;
		break;
	default:
		break;
	}
	*why = "not valid JSON";
	return -1;
}

int
json_tokenise(const char *js, size_t len, jsmntok_t *t, unsigned max,
    const char **why)
{
	jsmn_parser	 p;
	int		 n, i;

	if (memchr(js, '\0', len) != NULL) {	/* jsmn stops at a NUL */
		*why = "not valid JSON (NUL byte)";
		return -1;
	}
	jsmn_init(&p);
	n = jsmn_parse(&p, js, len, t, max);
	if (n == JSMN_ERROR_NOMEM) {
		*why = "too many JSON values";
		return -1;
	}
	if (n == JSMN_ERROR_PART) {
		*why = "truncated JSON";
		return -1;
	}
	if (n < 1 || json_skip(t, 0) != n || !only_ws_around(js, len, t)) {
		*why = "not valid JSON";
		return -1;
	}
	for (i = 0; i < n; i++)
		if (token_valid(js, t, i, why) == -1)
			return -1;
	return n;
}
