/*
 * owm_parse.c: see owm_parse.h.
 *
 * Bodies are tokenised by json_tokenise (lib/jsontok.c: jsmn in strict
 * mode plus full RFC 8259 validation); every value used is then converted
 * with bounds, keys unescaped before they are compared.  Tokens are walked
 * by offsets, never recursively, so nesting depth costs nothing.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsontok.h"
#include "owm_parse.h"

#define DT_PAST		(30LL * 86400)
#define DT_FUTURE	3600LL

struct doc {
	const char	*js;
	jsmntok_t	*tok;
	int		 ntok;
};

enum { F_ID = 1, F_DT = 2, F_TEMP = 4, F_HUM = 8, F_MAIN = 16 };

static int
tokenize(struct doc *d, const char *body, size_t len, const char **why)
{
	int	 n;

	d->js = body;
	d->tok = NULL;
	if (len == 0) {
		*why = "empty body";
		return -1;
	}
	if (len > OWM_PARSE_MAX_BODY) {
		*why = "body too large";
		return -1;
	}
	if ((d->tok = calloc(OWM_PARSE_MAX_TOKENS, sizeof(*d->tok))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	n = json_tokenise(body, len, d->tok, OWM_PARSE_MAX_TOKENS, why);
	if (n == -1)
		goto fail;
	if (d->tok[0].type != JSMN_OBJECT) {
		*why = "not a JSON object";
		goto fail;
	}
	d->ntok = n;
	return 0;
fail:
	free(d->tok);
	d->tok = NULL;
	return -1;
}

/* Key token k unescaped into buf; "" when it is not a plain short key. */
static void
key_name(const struct doc *d, int k, char *buf, size_t len)
{
	const jsmntok_t *t = &d->tok[k];
	const char	*why;
	long		 n;

	buf[0] = '\0';
	if (t->type != JSMN_STRING)
		return;
	n = json_unescape(d->js + t->start, (size_t)(t->end - t->start), buf,
	    len - 1, &why);
	if (n < 0 || memchr(buf, '\0', (size_t)n) != NULL) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
}

/*
 * Iterate over object o's members: *k is the key's index, the value is
 * at *k + 1.  Checks that each key is a string with exactly one value.
 */
static int
member_next(const struct doc *d, int o, int *k, int *left, const char **why)
{
	if (*left == 0)
		return 0;
	if (*left == d->tok[o].size)
		*k = o + 1;
	else
		*k = json_skip(d->tok, *k + 1);
	(*left)--;
	if (*k + 1 >= d->ntok || d->tok[*k].type != JSMN_STRING ||
	    d->tok[*k].size != 1) {
		*why = "malformed object member";
		return -1;
	}
	return 1;
}

static int
tok_u64(const struct doc *d, int i, uint64_t max, uint64_t *v)
{
	const jsmntok_t *t = &d->tok[i];

	return t->type == JSMN_PRIMITIVE ? num_parse_u64(d->js + t->start,
	    (size_t)(t->end - t->start), max, v) : -1;
}

static int
tok_double(const struct doc *d, int i, double *v)
{
	const jsmntok_t *t = &d->tok[i];
	char		 num[64], *end;
	size_t		 n = (size_t)(t->end - t->start);

	if (t->type != JSMN_PRIMITIVE || n >= sizeof(num) ||
	    !json_number_valid(d->js + t->start, n))
		return -1;
	memcpy(num, d->js + t->start, n);
	num[n] = '\0';
	*v = strtod(num, &end);
	return *end == '\0' && isfinite(*v) ? 0 : -1;
}

static int
map_main(const struct doc *d, int o, struct owm_reading *r, int *seen,
    const char **why)
{
	char		 key[16];
	uint64_t	 u;
	int		 k = 0, left = d->tok[o].size, rc;

	if (d->tok[o].type != JSMN_OBJECT) {
		*why = "main is not an object";
		return -1;
	}
	while ((rc = member_next(d, o, &k, &left, why)) == 1) {
		key_name(d, k, key, sizeof(key));
		if (strcmp(key, "temp") == 0) {
			if (*seen & F_TEMP) {
				*why = "main.temp given twice";
				return -1;
			}
			if (tok_double(d, k + 1, &r->temp) == -1 ||
			    r->temp < -100 || r->temp > 100) {
				*why = "main.temp is not a number in "
				    "[-100, 100]";
				return -1;
			}
			*seen |= F_TEMP;
		} else if (strcmp(key, "humidity") == 0) {
			if (*seen & F_HUM) {
				*why = "main.humidity given twice";
				return -1;
			}
			if (tok_u64(d, k + 1, 100, &u) == -1) {
				*why = "main.humidity is not an integer "
				    "0..100";
				return -1;
			}
			r->humidity = (unsigned int)u;
			*seen |= F_HUM;
		}
	}
	return rc;
}

/* One member of a city object (its key at k): id, dt, main; others pass. */
static int
map_city_member(const struct doc *d, int k, int64_t now,
    struct owm_reading *r, int *seen, const char **why)
{
	char		 key[16];
	uint64_t	 u;

	key_name(d, k, key, sizeof(key));
	if (strcmp(key, "id") == 0) {
		if (*seen & F_ID) {
			*why = "id given twice";
			return -1;
		}
		if (tok_u64(d, k + 1, UINT32_MAX, &u) == -1 || u == 0) {
			*why = "id is not a positive integer";
			return -1;
		}
		r->id = (uint32_t)u;
		*seen |= F_ID;
	} else if (strcmp(key, "dt") == 0) {
		if (*seen & F_DT) {
			*why = "dt given twice";
			return -1;
		}
		if (tok_u64(d, k + 1, INT64_MAX, &u) == -1 ||
		    (int64_t)u < now - DT_PAST ||
		    (int64_t)u > now + DT_FUTURE) {
			*why = "dt is not a recent Unix time";
			return -1;
		}
		r->dt = (int64_t)u;
		*seen |= F_DT;
	} else if (strcmp(key, "main") == 0) {
		if (*seen & F_MAIN) {
			*why = "main given twice";
			return -1;
		}
		*seen |= F_MAIN;
		return map_main(d, k + 1, r, seen, why);
	}
	return 0;
}

/* A city object at o: id, dt, main.temp, main.humidity. */
static int
map_city(const struct doc *d, int o, int64_t now, struct owm_reading *r,
    const char **why)
{
	int	 k = 0, left, rc, seen = 0;

	if (d->tok[o].type != JSMN_OBJECT) {
		*why = "city is not an object";
		return -1;
	}
	memset(r, 0, sizeof(*r));
	left = d->tok[o].size;
	while ((rc = member_next(d, o, &k, &left, why)) == 1)
		if (map_city_member(d, k, now, r, &seen, why) == -1)
			return -1;
	if (rc == -1)
		return -1;
	if (!(seen & F_ID))
		*why = "id missing";
	else if (!(seen & F_DT))
		*why = "dt missing";
	else if (!(seen & F_TEMP))
		*why = "main.temp missing";
	else if (!(seen & F_HUM))
		*why = "main.humidity missing";
	else
		return 0;
	return -1;
}

int
owm_parse_single(const char *body, size_t len, uint32_t want, int64_t now,
    struct owm_reading *out, const char **why)
{
	struct doc	 d;
	int		 rc = -1;

	if (tokenize(&d, body, len, why) == -1)
		return -1;
	if (map_city(&d, 0, now, out, why) == -1)
		goto out;
	if (out->id != want) {
		*why = "answer is for another city id";
		goto out;
	}
	rc = 0;
out:
	free(d.tok);
	return rc;
}

int
owm_parse_group(const char *body, size_t len, const uint32_t *ids, size_t n,
    int64_t now, struct owm_reading *out, int *found, const char **why)
{
	struct owm_reading r;
	struct doc	 d;
	char		 key[16];
	size_t		 j;
	int		 k = 0, left, m, i, list = -1, rc;

	for (j = 0; j < n; j++)
		found[j] = 0;
	if (tokenize(&d, body, len, why) == -1)
		return -1;
	left = d.tok[0].size;
	while ((rc = member_next(&d, 0, &k, &left, why)) == 1) {
		key_name(&d, k, key, sizeof(key));
		if (strcmp(key, "list") == 0) {
			if (list != -1) {
				*why = "list given twice";
				goto fail;
			}
			list = k + 1;
		}
	}
	if (rc == -1)
		goto fail;
	if (list == -1 || d.tok[list].type != JSMN_ARRAY) {
		*why = "list missing or not an array";
		goto fail;
	}
	for (m = 0, i = list + 1; m < d.tok[list].size; m++, i = json_skip(d.tok, i)) {
		if (i >= d.ntok) {
			*why = "malformed list";
			goto fail;
		}
		if (map_city(&d, i, now, &r, why) == -1)
			goto fail;
		for (j = 0; j < n && ids[j] != r.id; j++)
			;
		if (j == n) {
			*why = "answer holds a city id not asked for";
			goto fail;
		}
		if (found[j]) {
			*why = "answer holds a city twice";
			goto fail;
		}
		found[j] = 1;
		out[j] = r;
	}
	free(d.tok);
	return 0;
fail:
	for (j = 0; j < n; j++)
		found[j] = 0;
	free(d.tok);
	return -1;
}

int
owm_parse_message(const char *body, size_t len, char *msg, size_t msglen)
{
	struct doc	 d;
	const char	*why;
	char		 key[16];
	int		 k = 0, left, rc = -1;
	long		 n;

	if (msglen == 0)
		return -1;
	msg[0] = '\0';
	if (tokenize(&d, body, len, &why) == -1)
		return -1;
	left = d.tok[0].size;
	while (member_next(&d, 0, &k, &left, &why) == 1) {
		key_name(&d, k, key, sizeof(key));
		if (strcmp(key, "message") != 0 ||
		    d.tok[k + 1].type != JSMN_STRING)
			continue;
		n = json_unescape(d.js + d.tok[k + 1].start,
		    (size_t)(d.tok[k + 1].end - d.tok[k + 1].start), msg,
		    msglen - 1, &why);
		if (n >= 0) {
			msg[n] = '\0';
			rc = 0;
		} else
			msg[0] = '\0';
		break;
	}
	free(d.tok);
	return rc;
}
