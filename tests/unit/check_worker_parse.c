/*
 * check_worker_parse.c: worker/owm_parse.c, the mapping of API answers,
 * table-driven: good single and group bodies, cod as string or number,
 * missing fields, NaN, strings where numbers belong, wrong types, huge,
 * deep nesting, foreign ids, truncated bodies; the city's place (name,
 * country, coordinates): kept, or refused with the reading still valid,
 * and owm_place_check on its own.  Also worker/tasks.c's
 * batch statements: sqlvec.c's template markup, the SQL of a variant, and
 * every variant's placeholders against what the completion binds.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_run.h"
#include "owm_parse.h"
#include "sqlvec.h"
#include "tasks.h"

#define NOW	1700000400LL
#define DT	"1700000000"

#define CITY(id, temp, hum) \
	"{\"coord\":{\"lon\":1.5,\"lat\":2.5},\"weather\":[{\"id\":800," \
	"\"main\":\"Clear\",\"description\":\"clear sky\",\"icon\":\"01d\"}]," \
	"\"base\":\"stations\",\"main\":{\"temp\":" temp ",\"feels_like\":1," \
	"\"pressure\":1000,\"humidity\":" hum "},\"visibility\":10000," \
	"\"dt\":" DT ",\"sys\":{\"country\":\"GB\"},\"timezone\":0," \
	"\"id\":" id ",\"name\":\"City " id "\""

struct scase {
	const char	*name;
	const char	*body;
	unsigned int	 want_id;
	int		 ok;
	double		 temp;
	unsigned int	 hum;
};

static const struct scase scases[] = {
	{ "plain", CITY("42", "12.5", "81") ",\"cod\":200}", 42, 1, 12.5, 81 },
	{ "cod as string", CITY("42", "-3.25", "0") ",\"cod\":\"200\"}", 42, 1,
	    -3.25, 0 },
	{ "no cod", CITY("42", "100", "100") "}", 42, 1, 100, 100 },
	{ "negative zero and exponent", CITY("42", "-0.0e1", "5") "}", 42, 1,
	    0, 5 },
	{ "white space", " \n" CITY("42", "1", "2") "} \r\n", 42, 1, 1, 2 },
	{ "escaped key", "{\"id\":42,\"dt\":" DT ",\"m\\u0061in\":{"
	    "\"temp\":3,\"humidity\":4}}", 42, 1, 3, 4 },
	{ "foreign id", CITY("43", "12.5", "81") "}", 42, 0, 0, 0 },
	{ "temp too hot", CITY("42", "100.01", "81") "}", 42, 0, 0, 0 },
	{ "temp too cold", CITY("42", "-273.15", "81") "}", 42, 0, 0, 0 },
	{ "humidity 101", CITY("42", "1", "101") "}", 42, 0, 0, 0 },
	{ "humidity negative", CITY("42", "1", "-1") "}", 42, 0, 0, 0 },
	{ "humidity fraction", CITY("42", "1", "50.5") "}", 42, 0, 0, 0 },
	{ "NaN", CITY("42", "NaN", "81") "}", 42, 0, 0, 0 },
	{ "Infinity", CITY("42", "Infinity", "81") "}", 42, 0, 0, 0 },
	{ "huge exponent", CITY("42", "1e999", "81") "}", 42, 0, 0, 0 },
	{ "temp as string", CITY("42", "\"12.5\"", "81") "}", 42, 0, 0, 0 },
	{ "humidity as string", CITY("42", "1", "\"50\"") "}", 42, 0, 0, 0 },
	{ "temp true", CITY("42", "true", "81") "}", 42, 0, 0, 0 },
	{ "temp null", CITY("42", "null", "81") "}", 42, 0, 0, 0 },
	{ "bad number", CITY("42", "1.2.3", "81") "}", 42, 0, 0, 0 },
	{ "leading zero", CITY("42", "01", "81") "}", 42, 0, 0, 0 },
	{ "plus sign", CITY("42", "+1", "81") "}", 42, 0, 0, 0 },
	{ "id as string", CITY("\"42\"", "1", "2") "}", 42, 0, 0, 0 },
	{ "id zero", "{\"id\":0,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 0, 0, 0, 0 },
	{ "id fraction", "{\"id\":42.0,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "id too big", "{\"id\":4294967296,\"dt\":" DT ",\"main\":{"
	    "\"temp\":1,\"humidity\":2}}", 0, 0, 0, 0 },
	{ "main is an array", "{\"id\":42,\"dt\":" DT ",\"main\":[{"
	    "\"temp\":1,\"humidity\":2}]}", 42, 0, 0, 0 },
	{ "main missing", "{\"id\":42,\"dt\":" DT "}", 42, 0, 0, 0 },
	{ "temp missing", "{\"id\":42,\"dt\":" DT ",\"main\":{"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "humidity missing", "{\"id\":42,\"dt\":" DT ",\"main\":{"
	    "\"temp\":2}}", 42, 0, 0, 0 },
	{ "dt missing", "{\"id\":42,\"main\":{\"temp\":1,\"humidity\":2}}",
	    42, 0, 0, 0 },
	{ "id missing", "{\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "dt far past", "{\"id\":42,\"dt\":1000,\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "dt future", "{\"id\":42,\"dt\":1800000000,\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "dt negative", "{\"id\":42,\"dt\":-1,\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "duplicate temp", "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"temp\":5,\"humidity\":2}}", 42, 0, 0, 0 },
	{ "duplicate id", "{\"id\":42,\"id\":43,\"dt\":" DT ",\"main\":{"
	    "\"temp\":1,\"humidity\":2}}", 42, 0, 0, 0 },
	{ "truncated", CITY("42", "12.5", "81"), 42, 0, 0, 0 },
	{ "truncated in number", "{\"id\":42,\"dt\":17", 42, 0, 0, 0 },
	{ "empty", "", 42, 0, 0, 0 },
	{ "not an object", "[1,2]", 42, 0, 0, 0 },
	{ "a number", "42", 42, 0, 0, 0 },
	{ "trailing garbage", CITY("42", "1", "2") "}x", 42, 0, 0, 0 },
	{ "two values", CITY("42", "1", "2") "}{}", 42, 0, 0, 0 },
	{ "missing value", "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\"}}", 42, 0, 0, 0 },
	{ "html", "<html><body>502 Bad Gateway</body></html>", 42, 0, 0, 0 },
	{ "mangled", "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "error body", "{\"cod\":\"404\",\"message\":\"city not found\"}",
	    42, 0, 0, 0 },
};

START_TEST(test_single)
{
	const struct scase *c = &scases[_i];
	struct owm_reading r;
	const char	*why = NULL;
	int		 rc;

	rc = owm_parse_single(c->body, strlen(c->body), c->want_id, NOW, &r,
	    &why);
	if (!c->ok) {
		ck_assert_msg(rc == -1, "%s: accepted", c->name);
		ck_assert_msg(why != NULL && why[0], "%s: no reason", c->name);
		return;
	}
	ck_assert_msg(rc == 0, "%s: refused: %s", c->name, why);
	ck_assert_uint_eq(r.id, c->want_id);
	ck_assert_msg(fabs(r.temp - c->temp) < 1e-9, "%s: temp %g", c->name,
	    r.temp);
	ck_assert_uint_eq(r.humidity, c->hum);
	ck_assert_int_eq(r.dt, 1700000000LL);
}
END_TEST

struct gcase {
	const char	*name;
	const char	*body;
	int		 ok;
	int		 found[3];	/* for ids 1, 2, 3 */
};

#define G(body)	"{\"cnt\":2,\"list\":[" body "]}"

static const struct gcase gcases[] = {
	{ "all three", G(CITY("1", "1", "1") "}," CITY("2", "2", "2") "},"
	    CITY("3", "3", "3") "}"), 1, { 1, 1, 1 } },
	{ "one left out", G(CITY("3", "3", "3") "}," CITY("1", "1", "1") "}"),
	    1, { 1, 0, 1 } },
	{ "none", "{\"cnt\":0,\"list\":[]}", 1, { 0, 0, 0 } },
	{ "no cnt", "{\"list\":[" CITY("2", "2", "2") "}]}", 1, { 0, 1, 0 } },
	{ "foreign id", G(CITY("1", "1", "1") "}," CITY("4", "2", "2") "}"),
	    0, { 0, 0, 0 } },
	{ "twice", G(CITY("1", "1", "1") "}," CITY("1", "1", "1") "}"), 0,
	    { 0, 0, 0 } },
	{ "one bad item", G(CITY("1", "1", "1") "}," CITY("2", "NaN", "2")
	    "}"), 0, { 0, 0, 0 } },
	{ "string numbers", G(CITY("1", "\"1\"", "\"1\"") "}"), 0,
	    { 0, 0, 0 } },
	{ "list missing", "{\"cnt\":1}", 0, { 0, 0, 0 } },
	{ "list an object", "{\"cnt\":1,\"list\":{}}", 0, { 0, 0, 0 } },
	{ "item not an object", "{\"cnt\":1,\"list\":[1]}", 0, { 0, 0, 0 } },
	{ "truncated", "{\"cnt\":1,\"list\":[" CITY("1", "1", "1") "}", 0,
	    { 0, 0, 0 } },
	{ "single body", CITY("1", "1", "1") ",\"cod\":200}", 0, { 0, 0, 0 } },
};

START_TEST(test_group)
{
	static const uint32_t ids[3] = { 1, 2, 3 };
	const struct gcase *c = &gcases[_i];
	struct owm_reading out[3];
	const char	*why = NULL;
	int		 found[3], rc, j;

	rc = owm_parse_group(c->body, strlen(c->body), ids, 3, NOW, out,
	    found, &why);
	ck_assert_msg(rc == (c->ok ? 0 : -1), "%s: rc %d (%s)", c->name, rc,
	    why ? why : "");
	for (j = 0; j < 3; j++) {
		ck_assert_msg(found[j] == c->found[j], "%s: id %d found %d",
		    c->name, j + 1, found[j]);
		if (found[j]) {
			ck_assert_uint_eq(out[j].id, ids[j]);
			ck_assert(fabs(out[j].temp - (j + 1)) < 1e-9);
		}
	}
}
END_TEST

/* The stand-in's hostile bodies, built at run time. */
START_TEST(test_hostile)
{
	struct owm_reading r, out[20];
	const char	*why;
	char		*b;
	size_t		 n, i, len;
	int		 found[20];
	uint32_t	 ids[20];

	/* huge: past the size cap */
	n = OWM_PARSE_MAX_BODY + 100;
	b = malloc(n + 200);
	ck_assert_ptr_nonnull(b);
	len = (size_t)snprintf(b, 100, "{\"padding\":\"");
	memset(b + len, 'x', n - len);
	strcpy(b + n, "\"," "\"id\":1,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":1}}");
	ck_assert_int_eq(owm_parse_single(b, strlen(b), 1, NOW, &r, &why), -1);
	free(b);

	/* deep: 100000 nested arrays */
	n = 100000;
	b = malloc(2 * n + 200);
	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"main\":");
	memset(b + len, '[', n);
	memset(b + len + n, ']', n);
	strcpy(b + len + 2 * n, ",\"dt\":" DT ",\"id\":1}");
	ck_assert_int_eq(owm_parse_single(b, strlen(b), 1, NOW, &r, &why), -1);
	free(b);

	/* many items: more tokens than the budget */
	n = 10000;
	b = malloc(n * 80 + 100);
	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"cnt\":%zu,\"list\":[", n);
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(b + len, "%s{\"id\":%zu,\"dt\":" DT
		    ",\"main\":{\"temp\":1,\"humidity\":1}}", i ? "," : "",
		    i + 1);
	strcpy(b + len, "]}");
	for (i = 0; i < 20; i++)
		ids[i] = (uint32_t)(i + 1);
	ck_assert_int_eq(owm_parse_group(b, strlen(b), ids, 20, NOW, out,
	    found, &why), -1);
	free(b);

	/* NUL inside */
	ck_assert_int_eq(owm_parse_single("{\"id\":1\0}", 9, 1, NOW, &r, &why),
	    -1);
}
END_TEST

/*
 * The place of a valid reading: a /weather body for 42 with members m
 * (name, coord, sys) after a valid reading's.
 */
#define PLACE(m) "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":1," \
	"\"humidity\":2}" m ",\"cod\":200}"
#define COORD(lat, lon) ",\"coord\":{\"lon\":" lon ",\"lat\":" lat "}"
#define SP_COORD	COORD("-23.5475", "-46.6361")
#define SP_UTF8		"S\xc3\xa3o Paulo"

struct pcase {
	const char	*name;
	const char	*body;
	enum owm_place_state state;
	const char	*pname;		/* OK: the name's bytes */
	const char	*country;	/* OK: NULL for none */
	double		 lat, lon;
	const char	*why;		/* REFUSED: in the reason */
};

#define OK(n, b, pn, cc, la, lo)	{ n, b, OWM_PLACE_OK, pn, cc, la, lo, \
					    NULL }
#define NO(n, b, w)			{ n, b, OWM_PLACE_REFUSED, NULL, NULL, \
					    0, 0, w }
#define NONE(n, b)			{ n, b, OWM_PLACE_NONE, NULL, NULL, \
					    0, 0, NULL }

static const struct pcase pcases[] = {
	OK("raw UTF-8", PLACE(",\"name\":\"" SP_UTF8 "\"" SP_COORD
	    ",\"sys\":{\"country\":\"BR\"}"), SP_UTF8, "BR", -23.5475,
	    -46.6361),
	OK("escaped", PLACE(",\"name\":\"S\\u00e3o Paulo\"" SP_COORD
	    ",\"sys\":{\"country\":\"BR\"}"), SP_UTF8, "BR", -23.5475,
	    -46.6361),
	OK("surrogate pair", PLACE(",\"name\":\"Globe \\ud83c\\udf0d\""
	    SP_COORD), "Globe \xf0\x9f\x8c\x8d", NULL, -23.5475, -46.6361),
	OK("raw emoji, escaped quote", PLACE(",\"name\":\"\xf0\x9f\x8c\x8d "
	    "\\\"x\\\"\"" SP_COORD), "\xf0\x9f\x8c\x8d \"x\"", NULL, -23.5475,
	    -46.6361),
	OK("no-break space is no control", PLACE(",\"name\":\"a\\u00a0b\""
	    SP_COORD), "a\xc2\xa0" "b", NULL, -23.5475, -46.6361),
	OK("escaped country", PLACE(",\"name\":\"London\"" SP_COORD
	    ",\"sys\":{\"country\":\"\\u0047B\"}"), "London", "GB", -23.5475,
	    -46.6361),
	OK("country empty", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"\"}"), "x", NULL, -23.5475, -46.6361),
	OK("country null", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":null}"), "x", NULL, -23.5475, -46.6361),
	OK("country absent", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"type\":2}"), "x", NULL, -23.5475, -46.6361),
	OK("sys absent", PLACE(",\"name\":\"x\"" SP_COORD), "x", NULL,
	    -23.5475, -46.6361),
	OK("poles and date line", PLACE(",\"name\":\"x\""
	    COORD("-90", "180")), "x", NULL, -90, 180),
	OK("the other ends", PLACE(",\"name\":\"x\"" COORD("90.0", "-180")),
	    "x", NULL, 90, -180),
	OK("exponents", PLACE(",\"name\":\"x\"" COORD("1.5e1", "-2E-1")),
	    "x", NULL, 15, -0.2),
	OK("members after the reading's", "{\"name\":\"x\",\"sys\":{"
	    "\"country\":\"IS\"}" COORD("64.1355", "-21.8954") ",\"id\":42,"
	    "\"dt\":" DT ",\"main\":{\"temp\":1,\"humidity\":2}}", "x", "IS",
	    64.1355, -21.8954),
	NONE("name absent", PLACE(SP_COORD ",\"sys\":{\"country\":\"BR\"}")),
	NONE("coord absent", PLACE(",\"name\":\"x\",\"sys\":{"
	    "\"country\":\"BR\"}")),
	NONE("both absent", PLACE("")),
	NONE("coord absent, the rest hostile", PLACE(",\"name\":\"=x\","
	    "\"sys\":{\"country\":\"gb\"}")),
	NO("\\u0001", PLACE(",\"name\":\"a\\u0001b\"" SP_COORD), "control"),
	NO("\\u0000", PLACE(",\"name\":\"a\\u0000b\"" SP_COORD), "control"),
	NO("\\u001f", PLACE(",\"name\":\"a\\u001f\"" SP_COORD), "control"),
	NO("\\n", PLACE(",\"name\":\"a\\nb\"" SP_COORD), "control"),
	NO("\\u007f", PLACE(",\"name\":\"a\\u007f\"" SP_COORD), "control"),
	NO("raw DEL", PLACE(",\"name\":\"a\x7f\"" SP_COORD), "control"),
	NO("\\u0085", PLACE(",\"name\":\"a\\u0085b\"" SP_COORD), "control"),
	NO("\\u0080", PLACE(",\"name\":\"\\u0080\"" SP_COORD), "control"),
	NO("raw U+009F", PLACE(",\"name\":\"a\xc2\x9f\"" SP_COORD), "control"),
	NO("=cmd", PLACE(",\"name\":\"=cmd|' /C calc'!A0\"" SP_COORD),
	    "formula"),
	NO("+", PLACE(",\"name\":\"+1+1\"" SP_COORD), "formula"),
	NO("-", PLACE(",\"name\":\"-2+3\"" SP_COORD), "formula"),
	NO("@", PLACE(",\"name\":\"@SUM(A1)\"" SP_COORD), "formula"),
	NO("escaped =", PLACE(",\"name\":\"\\u003d1+1\"" SP_COORD), "formula"),
	NONE("name empty", PLACE(",\"name\":\"\"" SP_COORD)),
	NO("name a number", PLACE(",\"name\":12" SP_COORD), "not a string"),
	NO("name null", PLACE(",\"name\":null" SP_COORD), "not a string"),
	NO("name twice", PLACE(",\"name\":\"a\",\"name\":\"b\"" SP_COORD),
	    "twice"),
	NO("country lower case", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"gb\"}"), "country"),
	NO("country of three", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"GBR\"}"), "country"),
	NO("country mixed case", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"gB\"}"), "country"),
	NO("country a digit", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"1G\"}"), "country"),
	NO("country of one", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"G\"}"), "country"),
	NO("country too long", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"ABCDEFGHIJ\"}"), "country"),
	NO("country not ASCII", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"\xc3\x85X\"}"), "country"),
	NO("country a number", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":44}"), "country"),
	NO("country twice", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":{\"country\":\"GB\",\"country\":\"FR\"}"), "twice"),
	NO("sys not an object", PLACE(",\"name\":\"x\"" SP_COORD
	    ",\"sys\":\"GB\""), "sys"),
	NO("lat 1e308", PLACE(",\"name\":\"x\"" COORD("1e308", "0")),
	    "latitude out of range"),
	NO("lat 90.0001", PLACE(",\"name\":\"x\"" COORD("90.0001", "0")),
	    "latitude out of range"),
	NO("lat -90.5", PLACE(",\"name\":\"x\"" COORD("-90.5", "0")),
	    "latitude out of range"),
	NO("lon -180.5", PLACE(",\"name\":\"x\"" COORD("0", "-180.5")),
	    "longitude out of range"),
	NO("lon 180.000001", PLACE(",\"name\":\"x\""
	    COORD("0", "180.000001")), "longitude out of range"),
	NO("lat 1e999", PLACE(",\"name\":\"x\"" COORD("1e999", "0")),
	    "latitude is not a finite number"),
	NO("lat as string", PLACE(",\"name\":\"x\"" COORD("\"12\"", "0")),
	    "latitude is not"),
	NO("lat NaN as string", PLACE(",\"name\":\"x\"" COORD("\"NaN\"",
	    "0")), "latitude is not"),
	NO("lon null", PLACE(",\"name\":\"x\"" COORD("0", "null")),
	    "longitude is not"),
	NO("lon true", PLACE(",\"name\":\"x\"" COORD("0", "true")),
	    "longitude is not"),
	NO("lat missing", PLACE(",\"name\":\"x\",\"coord\":{\"lon\":1}"),
	    "latitude missing"),
	NO("lon twice", PLACE(",\"name\":\"x\",\"coord\":{\"lon\":1,"
	    "\"lat\":1,\"lon\":2}"), "twice"),
	NO("coord an array", PLACE(",\"name\":\"x\",\"coord\":[1,2]"),
	    "coord"),
	NO("coord twice", PLACE(",\"name\":\"x\"" SP_COORD SP_COORD),
	    "twice"),
};

/* The reading of a place case: always valid, whatever its place. */
static void
check_reading(const char *name, const char *body, size_t len,
    struct owm_reading *r)
{
	const char	*why = NULL;

	ck_assert_msg(owm_parse_single(body, len, 42, NOW, r, &why) == 0,
	    "%s: reading refused: %s", name, why);
	ck_assert_uint_eq(r->id, 42);
	ck_assert(r->temp == 1 && r->humidity == 2 && r->dt == 1700000000LL);
}

START_TEST(test_place)
{
	const struct pcase *c = &pcases[_i];
	const struct owm_place *p;
	struct owm_reading r;

	check_reading(c->name, c->body, strlen(c->body), &r);
	ck_assert_msg(r.place_state == c->state, "%s: state %d (%s)", c->name,
	    r.place_state, r.place_why ? r.place_why : "");
	p = &r.place;
	if (c->state == OWM_PLACE_REFUSED) {
		ck_assert_msg(r.place_why != NULL &&
		    strstr(r.place_why, c->why) != NULL, "%s: reason %s",
		    c->name, r.place_why ? r.place_why : "(none)");
		ck_assert_uint_eq(p->namelen, 0);
		return;
	}
	if (c->state == OWM_PLACE_NONE)
		return;
	ck_assert_uint_eq(p->namelen, strlen(c->pname));
	ck_assert_mem_eq(p->name, c->pname, p->namelen + 1);
	if (c->country == NULL)
		ck_assert_uint_eq(p->countrylen, 0);
	else {
		ck_assert_uint_eq(p->countrylen, strlen(c->country));
		ck_assert_str_eq(p->country, c->country);
	}
	ck_assert_msg(p->lat == c->lat && p->lon == c->lon, "%s: %g, %g",
	    c->name, p->lat, p->lon);
	ck_assert_ptr_null(owm_place_check(p));
}
END_TEST

/* A name of n bytes: n - 1 'a' and a 'b', or escaped two-byte letters. */
static char *
name_body(size_t n, int escaped)
{
	char	*b, *s;
	size_t	 i;

	b = malloc(6 * n + 200);
	ck_assert_ptr_nonnull(b);
	s = b + sprintf(b, "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2},\"name\":\"");
	for (i = 0; escaped && i + 2 <= n; i += 2)
		s += sprintf(s, "\\u00e9");	/* 2 bytes of UTF-8 each */
	for (; i < n; i++)
		*s++ = 'a';
	strcpy(s, "\"" COORD("1", "2") "}");
	return b;
}

/* The name's bound counts bytes once unescaped, and refuses, never cuts. */
static const struct {
	size_t	 n;
	int	 escaped, ok;
} lcases[] = {
	{ 1, 0, 1 }, { 254, 0, 1 }, { 255, 0, 1 }, { 256, 0, 0 },
	{ 10000, 0, 0 }, { 255, 1, 1 }, { 256, 1, 0 }, { 257, 1, 0 },
	{ 100000, 1, 0 },
};

START_TEST(test_place_name_length)
{
	struct owm_reading r;
	char		*b;

	b = name_body(lcases[_i].n, lcases[_i].escaped);
	check_reading("long name", b, strlen(b), &r);
	if (lcases[_i].ok) {
		ck_assert_int_eq(r.place_state, OWM_PLACE_OK);
		ck_assert_uint_eq(r.place.namelen, lcases[_i].n);
		ck_assert_uint_eq(strlen(r.place.name), lcases[_i].n);
	} else {
		ck_assert_int_eq(r.place_state, OWM_PLACE_REFUSED);
		ck_assert_str_eq(r.place_why, "name longer than 255 bytes");
	}
	free(b);
}
END_TEST

/*
 * A body that is not UTF-8 is not JSON: a raw invalid byte or a lone
 * surrogate in the name refuses the whole answer (RFC 8259 section 8.1),
 * as in any other string; owm_place_check refuses such a name on its own.
 */
START_TEST(test_place_not_utf8)
{
	static const char *const bad[] = {
		"a\xff", "\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	};
	static const char *const esc[] = { "\\ud800", "\\udc00x" };
	struct owm_reading r;
	const char	*why;
	char		 body[512];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), PLACE(",\"name\":\"%s\"" SP_COORD),
		    bad[i]);
		ck_assert_int_eq(owm_parse_single(body, strlen(body), 42, NOW,
		    &r, &why), -1);
	}
	for (i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		snprintf(body, sizeof(body), PLACE(",\"name\":\"%s\"" SP_COORD),
		    esc[i]);
		ck_assert_int_eq(owm_parse_single(body, strlen(body), 42, NOW,
		    &r, &why), -1);
	}
}
END_TEST

/* owm_place_check on its own: what the parser cannot hand it too. */
struct ccase {
	const char	*name;		/* bytes, NUL-terminated */
	size_t		 namelen;
	const char	*country;
	double		 lat, lon;
	const char	*why;		/* NULL: kept */
};

static const struct ccase ccases[] = {
	{ "Krak\xc3\xb3w", 7, "PL", 50.0833, 19.9167, NULL },
	{ "a\xff", 2, "", 0, 0, "not valid UTF-8" },
	{ "\xc3", 1, "", 0, 0, "not valid UTF-8" },
	{ "\xc0\xaf", 2, "", 0, 0, "not valid UTF-8" },
	{ "\xed\xa0\x80", 3, "", 0, 0, "not valid UTF-8" },
	{ "a\0b", 3, "", 0, 0, "control" },
	{ "a\xc2\x80", 3, "", 0, 0, "control" },
	{ "a\xc2\xa0", 3, "", 0, 0, NULL },
	{ "", 0, "", 0, 0, "empty" },
	{ "=", 1, "", 0, 0, "formula" },
	{ "x", 1, "G1", 0, 0, "country" },
	{ "x", 1, "", NAN, 0, "latitude out of range" },
	{ "x", 1, "", 0, INFINITY, "longitude out of range" },
	{ "x", 1, "", -INFINITY, 0, "latitude out of range" },
};

START_TEST(test_place_check)
{
	const struct ccase *c = &ccases[_i];
	struct owm_place p;
	const char	*why;

	memset(&p, 0, sizeof(p));
	memcpy(p.name, c->name, c->namelen);
	p.namelen = c->namelen;
	p.countrylen = strlen(c->country);
	memcpy(p.country, c->country, p.countrylen);
	p.lat = c->lat;
	p.lon = c->lon;
	why = owm_place_check(&p);
	if (c->why == NULL)
		ck_assert_msg(why == NULL, "case %d: %s", _i, why);
	else
		ck_assert_msg(why != NULL && strstr(why, c->why) != NULL,
		    "case %d: %s", _i, why ? why : "kept");
	p.namelen = OWM_NAME_MAX + 1;
	ck_assert_ptr_nonnull(owm_place_check(&p));
}
END_TEST

/* A group answer: each item's place judged apart, every reading kept. */
START_TEST(test_group_places)
{
	static const char body[] = "{\"cnt\":3,\"list\":["
	    "{\"id\":1,\"dt\":" DT ",\"main\":{\"temp\":1,\"humidity\":1},"
	    "\"name\":\"Krak\xc3\xb3w\"" COORD("50.0833", "19.9167")
	    ",\"sys\":{\"country\":\"PL\"}},"
	    "{\"id\":2,\"dt\":" DT ",\"main\":{\"temp\":2,\"humidity\":2},"
	    "\"name\":\"=1+1\"" COORD("1", "1") "},"
	    "{\"id\":3,\"dt\":" DT ",\"main\":{\"temp\":3,\"humidity\":3}}]}";
	static const uint32_t ids[3] = { 3, 2, 1 };
	struct owm_reading out[3];
	const char	*why = NULL;
	int		 found[3];

	ck_assert_msg(owm_parse_group(body, strlen(body), ids, 3, NOW, out,
	    found, &why) == 0, "%s", why);
	ck_assert(found[0] && found[1] && found[2]);
	ck_assert_int_eq(out[2].place_state, OWM_PLACE_OK);
	ck_assert_str_eq(out[2].place.name, "Krak\xc3\xb3w");
	ck_assert_str_eq(out[2].place.country, "PL");
	ck_assert(out[2].place.lat == 50.0833 && out[2].place.lon == 19.9167);
	ck_assert_int_eq(out[1].place_state, OWM_PLACE_REFUSED);
	ck_assert_ptr_nonnull(strstr(out[1].place_why, "formula"));
	ck_assert(out[1].temp == 2 && out[1].humidity == 2);
	ck_assert_int_eq(out[0].place_state, OWM_PLACE_NONE);
	ck_assert(out[0].temp == 3);
}
END_TEST

struct mcase {
	const char	*body;
	int		 rc;
	const char	*msg;
};

static const struct mcase mcases[] = {
	{ "{\"cod\":\"404\",\"message\":\"city not found\"}", 0,
	    "city not found" },
	{ "{\"cod\":401, \"message\": \"Invalid API key.\"}", 0,
	    "Invalid API key." },
	{ "{\"message\":\"a\\u00e9\\n\"}", 0, "a\xc3\xa9\n" },
	{ "{\"message\":5}", -1, "" },
	{ "Service Temporarily Unavailable\n", -1, "" },
	{ "{\"cod\":\"404\"}", -1, "" },
};

START_TEST(test_message)
{
	const struct mcase *c = &mcases[_i];
	char		 msg[64];

	ck_assert_int_eq(owm_parse_message(c->body, strlen(c->body), msg,
	    sizeof(msg)), c->rc);
	ck_assert_str_eq(msg, c->msg);
}
END_TEST

/* worker/sqlvec.c's template markup on its own. */
static const struct {
	const char	*tmpl;
	size_t		 n;
	const char	*sql;		/* NULL: refused */
} vcases[] = {
	{ "x IN (?*)", 3, "x IN (?, ?, ?)" },
	{ "x IN (?*) AND y = ?", 1, "x IN (?) AND y = ?" },
	{ "VALUES [(?, 1)]", 2, "VALUES (?, 1), (?, 1)" },
	{ "WHERE 1[ AND x <> ?]", 3, "WHERE 1 AND x <> ?  AND x <> ?  AND "
	    "x <> ?" },
	{ "no list", 2, "no list" },
	{ "x IN (?*)", 0, NULL },
};

START_TEST(test_sqlvec)
{
	struct buf	 b;

	buf_init(&b, 0);
	if (vcases[_i].sql == NULL)
		ck_assert_int_eq(sqlvec_sql(vcases[_i].tmpl, vcases[_i].n, &b),
		    -1);
	else {
		ck_assert_int_eq(sqlvec_sql(vcases[_i].tmpl, vcases[_i].n, &b),
		    0);
		ck_assert_str_eq(b.data, vcases[_i].sql);
	}
	buf_free(&b);
}
END_TEST

/* Exact SQL of a few of tasks.c's variants. */
struct sqlcase {
	int		 kind;
	size_t		 n;
	const char	*sql;
};

static const struct sqlcase sqlcases[] = {
	{ V_TAKE, 2, "SELECT city_id, attempts, fetch_id, "
	    "TIMESTAMPDIFF(SECOND, created_at, NOW(6)) FROM city_tasks "
	    "WHERE city_id IN (?, ?) AND ready_at <= NOW(6) "
	    "ORDER BY city_id FOR UPDATE SKIP LOCKED" },
	{ V_CLAIM, 1, "UPDATE city_tasks SET lease_owner = ?, "
	    "ready_at = NOW(6) + INTERVAL ? SECOND, attempts = attempts + 1 "
	    "WHERE city_id IN (?)" },
	{ V_DELETE, 3, "DELETE FROM city_tasks WHERE city_id IN (?, ?, ?) "
	    "AND lease_owner = ?" },
	{ V_READINGS, 2, "INSERT INTO readings (city_id, temperature, "
	    "humidity, observed_at, fetched_at, place, name, country, lat, "
	    "lon) VALUES "
	    "(?, ?, ?, FROM_UNIXTIME(?), NOW(6), ?, ?, ?, ?, ?), "
	    "(?, ?, ?, FROM_UNIXTIME(?), NOW(6), ?, ?, ?, ?, ?)" },
	{ V_LATEST, 2, "INSERT INTO city_latest (city_id, reading_id, "
	    "fetched_at) VALUES (?, ?, NOW(6)), (?, ?, NOW(6)) ON DUPLICATE "
	    "KEY UPDATE reading_id = VALUES(reading_id), "
	    "fetched_at = VALUES(fetched_at)" },
	{ V_LOCK, 2, "SELECT city_id, fetch_id FROM city_tasks "
	    "WHERE city_id IN (?, ?) AND lease_owner = ? ORDER BY city_id "
	    "FOR UPDATE" },
	{ V_FETCHES, 1, "INSERT INTO fetches (id, city_id, state, "
	    "reading_id, error, done_at) VALUES (?, ?, ?, ?, ?, NOW(6))" },
	{ V_FETCHES, 3, "INSERT INTO fetches (id, city_id, state, "
	    "reading_id, error, done_at) VALUES (?, ?, ?, ?, ?, NOW(6)), "
	    "(?, ?, ?, ?, ?, NOW(6)), (?, ?, ?, ?, ?, NOW(6))" },
	{ V_CITIES, 2, "INSERT INTO cities (city_id, name, country, lat, lon, "
	    "seen_at) VALUES (?, ?, ?, ?, ?, NOW(6)), (?, ?, ?, ?, ?, NOW(6)) "
	    "ON DUPLICATE KEY UPDATE name = VALUES(name), "
	    "country = VALUES(country), lat = VALUES(lat), lon = VALUES(lon), "
	    "seen_at = VALUES(seen_at)" },
	{ V_DONE, 2, "SELECT id FROM fetches WHERE id IN (?, ?)" },
};

START_TEST(test_sql)
{
	const struct sqlcase *c = &sqlcases[_i];
	struct buf	 b;

	buf_init(&b, 0);
	ck_assert_int_eq(tasks_sql(c->kind, c->n, &b), 0);
	ck_assert_str_eq(b.data, c->sql);
	buf_free(&b);
}
END_TEST

/*
 * Placeholders per variant: per * n + fixed, what tasks.c binds (the
 * comments of enum tasks_sql_kind).  Every n, and nothing of the
 * template's markup left over.
 */
static const struct {
	int		 kind;
	size_t		 per, fixed;
} sqlparams[] = {
	{ V_TAKE, 1, 0 }, { V_CLAIM, 1, 2 }, { V_LOCK, 1, 1 },
	{ V_DELETE, 1, 1 }, { V_READINGS, 9, 0 }, { V_READ_IDS, 1, 1 },
	{ V_LATEST, 2, 0 }, { V_FRESH, 1, 1 }, { V_FETCHES, 5, 0 },
	{ V_CITIES, 5, 0 }, { V_LEASE, 1, 2 }, { V_DONE, 1, 0 },
};

START_TEST(test_sql_params)
{
	struct buf	 b;
	const char	*p;
	size_t		 n, q;

	ck_assert_int_eq(sizeof(sqlparams) / sizeof(sqlparams[0]), V_COUNT);
	buf_init(&b, 0);
	for (n = 1; n <= OWM_GROUP_MAX; n++) {
		ck_assert_int_eq(tasks_sql(sqlparams[_i].kind, n, &b), 0);
		for (q = 0, p = b.data; *p; p++)
			q += *p == '?';
		ck_assert_uint_eq(q, sqlparams[_i].per * n +
		    sqlparams[_i].fixed);
		ck_assert_ptr_null(strpbrk(b.data, "[]*"));
	}
	ck_assert_int_eq(tasks_sql(sqlparams[_i].kind, 0, &b), -1);
	ck_assert_int_eq(tasks_sql(sqlparams[_i].kind, OWM_GROUP_MAX + 1, &b),
	    -1);
	ck_assert_int_eq(tasks_sql(V_COUNT, 1, &b), -1);
	buf_free(&b);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("owm_parse");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_single, 0,
	    sizeof(scases) / sizeof(scases[0]));
	tcase_add_loop_test(tc, test_group, 0,
	    sizeof(gcases) / sizeof(gcases[0]));
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);
	tc = tcase_create("place");
	tcase_add_loop_test(tc, test_place, 0,
	    sizeof(pcases) / sizeof(pcases[0]));
	tcase_add_loop_test(tc, test_place_name_length, 0,
	    sizeof(lcases) / sizeof(lcases[0]));
	tcase_add_test(tc, test_place_not_utf8);
	tcase_add_loop_test(tc, test_place_check, 0,
	    sizeof(ccases) / sizeof(ccases[0]));
	tcase_add_test(tc, test_group_places);
	tcase_add_loop_test(tc, test_message, 0,
	    sizeof(mcases) / sizeof(mcases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("tasks_sql");
	tcase_add_loop_test(tc, test_sqlvec, 0,
	    sizeof(vcases) / sizeof(vcases[0]));
	tcase_add_loop_test(tc, test_sql, 0,
	    sizeof(sqlcases) / sizeof(sqlcases[0]));
	tcase_add_loop_test(tc, test_sql_params, 0,
	    sizeof(sqlparams) / sizeof(sqlparams[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
