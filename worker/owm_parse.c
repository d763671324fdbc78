/*
 * owm_parse.c: see owm_parse.h.
 *
 * Bodies are tokenised by json_tokenise (lib/jsontok.c: jsmn in strict
 * mode plus full RFC 8259 validation); every value used is then converted
 * with bounds, keys unescaped before they are compared.  Tokens are walked
 * by offsets, never recursively, so nesting depth costs nothing.
 *
 * A city's place is mapped after its reading is: the walk over the city's
 * members only notes where name, coord and sys are, and map_place judges
 * them once the reading is known to be valid.  A body that is not UTF-8
 * (a raw invalid byte in the name too) is not JSON (RFC 8259 section
 * 8.1): json_tokenise refuses the whole answer, as for any other string.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jsontok.h"
#include "num.h"
#include "owm_parse.h"

#define DT_PAST		(30LL * 86400)
#define DT_FUTURE	3600LL

struct doc {
	const char	*js;
	jsmntok_t	*tok;
	int		 ntok;
};

enum { F_ID = 1, F_DT = 2, F_TEMP = 4, F_HUM = 8, F_MAIN = 16 };

/* Where a city's place is: value tokens, -1 if absent. */
struct place_toks {
	int		 name, coord, sys;
	const char	*twice;		/* one of them was given twice */
};

#define STR_(x)		#x
#define STR(x)		STR_(x)
static const char NAME_LONG[] =
    "name longer than " STR(OWM_NAME_MAX) " bytes";
static const char COUNTRY_BAD[] = "country is not two letters A-Z";

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

/* Note where the place's member key is (its value at v), if it is one. */
static void
note_place(const char *key, int v, struct place_toks *pt)
{
	int		*at = NULL;

	if (strcmp(key, "name") == 0)
		at = &pt->name;
	else if (strcmp(key, "coord") == 0)
		at = &pt->coord;
	else if (strcmp(key, "sys") == 0)
		at = &pt->sys;
	if (at == NULL)
		return;
	if (*at != -1 && pt->twice == NULL)
		pt->twice = at == &pt->name ? "name given twice" :
		    at == &pt->coord ? "coord given twice" : "sys given twice";
	*at = v;
}

/*
 * One member of a city object (its key at k): id, dt, main; the place's
 * members noted in pt; others pass.
 */
static int
map_city_member(const struct doc *d, int k, int64_t now,
    struct owm_reading *r, int *seen, struct place_toks *pt,
    const char **why)
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
	} else
		note_place(key, k + 1, pt);
	return 0;
}

/*
 * String token i unescaped into out[0..cap] (NUL-terminated), its length
 * into *len: NULL, or too_long when it decodes to more than cap bytes, or
 * bad when it is not a string.
 */
static const char *
tok_string(const struct doc *d, int i, char *out, size_t cap, size_t *len,
    const char *too_long, const char *bad)
{
	const jsmntok_t *t = &d->tok[i];
	const char	*s = d->js + t->start, *why;
	size_t		 sl = (size_t)(t->end - t->start);
	long		 n;

	if (t->type != JSMN_STRING)
		return bad;
	/* Its decoded length first, so a long one is refused, not cut. */
	if ((n = json_unescape(s, sl, NULL, 0, &why)) < 0)
		return bad;
	if ((size_t)n > cap)
		return too_long;
	if ((n = json_unescape(s, sl, out, cap, &why)) < 0)
		return bad;
	out[n] = '\0';
	*len = (size_t)n;
	return NULL;
}

/* sys.country, if sys (at o, -1 if absent) has one: null and "" are none. */
static const char *
place_country(const struct doc *d, int o, struct owm_place *p)
{
	const char	*why;
	char		 key[16];
	int		 k = 0, left, rc, v = -1;

	if (o == -1)
		return NULL;
	if (d->tok[o].type != JSMN_OBJECT)
		return "sys is not an object";
	left = d->tok[o].size;
	while ((rc = member_next(d, o, &k, &left, &why)) == 1) {
		key_name(d, k, key, sizeof(key));
		if (strcmp(key, "country") != 0)
			continue;
		if (v != -1)
			return "country given twice";
		v = k + 1;
	}
	if (rc == -1)
		return why;
	if (v == -1 || (d->tok[v].type == JSMN_PRIMITIVE &&
	    json_tok_eq(d->js, &d->tok[v], "null")))
		return NULL;
	return tok_string(d, v, p->country, OWM_COUNTRY_MAX, &p->countrylen,
	    COUNTRY_BAD, "country is not a string");
}

/* coord (at o): lat and lon, numbers; their ranges are owm_place_check's. */
static const char *
place_coord(const struct doc *d, int o, struct owm_place *p)
{
	static const struct {
		const char	*key, *twice, *bad, *missing;
	} c[2] = {
		{ "lat", "latitude given twice",
		    "latitude is not a finite number", "latitude missing" },
		{ "lon", "longitude given twice",
		    "longitude is not a finite number", "longitude missing" },
	};
	double		*v[2] = { &p->lat, &p->lon };
	const char	*why;
	char		 key[16];
	int		 k = 0, left, rc, j, seen[2] = { 0, 0 };

	if (d->tok[o].type != JSMN_OBJECT)
		return "coord is not an object";
	left = d->tok[o].size;
	while ((rc = member_next(d, o, &k, &left, &why)) == 1) {
		key_name(d, k, key, sizeof(key));
		for (j = 0; j < 2 && strcmp(key, c[j].key) != 0; j++)
			;
		if (j == 2)
			continue;
		if (seen[j]++)
			return c[j].twice;
		if (tok_double(d, k + 1, v[j]) == -1)
			return c[j].bad;
	}
	if (rc == -1)
		return why;
	for (j = 0; j < 2; j++)
		if (!seen[j])
			return c[j].missing;
	return NULL;
}

/* The place of a valid reading r, from where pt found its members. */
static void
map_place(const struct doc *d, const struct place_toks *pt,
    struct owm_reading *r)
{
	struct owm_place *p = &r->place;
	const char	*why;

	if (pt->name == -1 || pt->coord == -1)
		return;		/* OWM_PLACE_NONE, as map_city left it */
	if ((why = pt->twice) == NULL)
		why = tok_string(d, pt->name, p->name, OWM_NAME_MAX,
		    &p->namelen, NAME_LONG, "name is not a string");
	if (why == NULL && p->namelen == 0) {
		/* The API knows no name for it: nothing to keep or say. */
		memset(p, 0, sizeof(*p));
		return;
	}
	if (why == NULL &&
	    (why = place_country(d, pt->sys, p)) == NULL &&
	    (why = place_coord(d, pt->coord, p)) == NULL)
		why = owm_place_check(p);
	if (why == NULL) {
		r->place_state = OWM_PLACE_OK;
		return;
	}
	memset(p, 0, sizeof(*p));
	r->place_state = OWM_PLACE_REFUSED;
	r->place_why = why;
}

/* A city object at o: id, dt, main.temp, main.humidity; then its place. */
static int
map_city(const struct doc *d, int o, int64_t now, struct owm_reading *r,
    const char **why)
{
	struct place_toks pt = { -1, -1, -1, NULL };
	int	 k = 0, left, rc, seen = 0;

	if (d->tok[o].type != JSMN_OBJECT) {
		*why = "city is not an object";
		return -1;
	}
	memset(r, 0, sizeof(*r));
	left = d->tok[o].size;
	while ((rc = member_next(d, o, &k, &left, why)) == 1)
		if (map_city_member(d, k, now, r, &seen, &pt, why) == -1)
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
	else {
		map_place(d, &pt, r);
		return 0;
	}
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

/* 1 if s[0..n), valid UTF-8, holds U+0000-U+001F or U+007F-U+009F. */
static int
has_control(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f ||
		    (s[i] == 0xc2 && i + 1 < n && s[i + 1] <= 0x9f))
			return 1;	/* C2 80..C2 9F: U+0080..U+009F */
	return 0;
}

static int
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

const char *
owm_place_check(const struct owm_place *p)
{
	if (p->namelen == 0)
		return "name is empty";
	if (p->namelen > OWM_NAME_MAX)
		return NAME_LONG;
	if (!utf8_valid(p->name, p->namelen))
		return "name is not valid UTF-8";
	if (has_control(p->name, p->namelen))
		return "name has a control character";
	if (memchr("=+-@", p->name[0], 4) != NULL)
		return "name starts like a formula (= + - @)";
	if (p->countrylen != 0 && (p->countrylen != 2 ||
	    !is_upper(p->country[0]) || !is_upper(p->country[1])))
		return COUNTRY_BAD;
	/* Written so that NaN fails too. */
	if (!(p->lat >= -90 && p->lat <= 90))
		return "latitude out of range";
	if (!(p->lon >= -180 && p->lon <= 180))
		return "longitude out of range";
	return NULL;
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
