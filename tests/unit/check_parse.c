/*
 * check_parse.c: unit tests for fcgi/parse.c (the POST /collect body as
 * JSON or form, the query string, percent-decoding) and fcgi/validate.c.
 *
 * Tables of {input, expected}; a failing case names itself.  Generated
 * inputs (long ids, 1000 cities, deep nesting, every prefix of a body)
 * have their own loops.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_run.h"

#include "parse.h"
#include "validate.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define L(s)		s, sizeof(s) - 1
#define NOC		-1	/* no cities expected */

static struct collect_req req;	/* large: keep it off the stack */


/* A parse case: on success the id and cities; on failure a why substring. */
struct pcase {
	const char	*name;
	const char	*body;
	size_t		 len;
	int		 ok;
	const char	*id;		/* expected id bytes (ok) */
	size_t		 idlen;
	int		 ncities;	/* NOC: no "cities" */
	unsigned int	 first, last;	/* first and last city (ok) */
	const char	*why;		/* substring of *why (!ok) */
};

#define OK(name, body, id, nc, first, last) \
	{ name, L(body), 1, L(id), nc, first, last, NULL }
#define BAD(name, body, why) \
	{ name, L(body), 0, NULL, 0, NOC, 0, 0, why }

static void
check_case(const struct pcase *c, const char *what, int rc, const char *why)
{
	if (!c->ok) {
		ck_assert_msg(rc == -1,
		    "%s case \"%s\" (%s): accepted (id \"%s\", %zu cities), "
		    "expected an error with \"%s\"", what, c->name,
		    check_show(c->body, c->len), check_show(req.id, req.idlen),
		    req.ncities, c->why);
		ck_assert_msg(why != NULL && strstr(why, c->why) != NULL,
		    "%s case \"%s\" (%s): why \"%s\" lacks \"%s\"", what,
		    c->name, check_show(c->body, c->len), why ? why : "(null)",
		    c->why);
		return;
	}
	ck_assert_msg(rc == 0, "%s case \"%s\" (%s): rejected: %s", what,
	    c->name, check_show(c->body, c->len), why ? why : "(null)");
	ck_assert_msg(req.idlen == c->idlen &&
	    memcmp(req.id, c->id, c->idlen) == 0,
	    "%s case \"%s\": id [%s], expected [%s]", what, c->name,
	    check_show(req.id, req.idlen), check_show(c->id, c->idlen));
	if (c->ncities == NOC) {
		ck_assert_msg(!req.has_cities,
		    "%s case \"%s\": has_cities set", what, c->name);
		return;
	}
	ck_assert_msg(req.has_cities && req.ncities == (size_t)c->ncities,
	    "%s case \"%s\": has_cities %d, %zu cities, expected %d", what,
	    c->name, req.has_cities, req.ncities, c->ncities);
	ck_assert_msg(req.cities[0] == c->first &&
	    req.cities[req.ncities - 1] == c->last,
	    "%s case \"%s\": cities %u..%u, expected %u..%u", what, c->name,
	    req.cities[0], req.cities[req.ncities - 1], c->first, c->last);
}

/* ---- parse_collect_json ------------------------------------------- */

static const struct pcase json_cases[] = {
	/* valid */
	OK("id only", "{\"id\":\"abc\"}", "abc", NOC, 0, 0),
	OK("id + cities", "{\"id\":\"r1\",\"cities\":[1,2,3]}", "r1", 3, 1, 3),
	OK("cities first", "{\"cities\":[5],\"id\":\"x\"}", "x", 1, 5, 5),
	OK("unicode id", "{\"id\":\"Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-"
	    "\xf0\x9f\x8c\x8d\"}", "Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-"
	    "\xf0\x9f\x8c\x8d", NOC, 0, 0),
	OK("escaped \\u00e9 equals UTF-8", "{\"id\":\"caf\\u00e9\"}",
	    "caf\xc3\xa9", NOC, 0, 0),
	OK("escaped surrogate pair", "{\"id\":\"\\ud83c\\udf0d\"}",
	    "\xf0\x9f\x8c\x8d", NOC, 0, 0),
	OK("simple escapes", "{\"id\":\"a\\\"b\\\\c\\/d\"}", "a\"b\\c/d",
	    NOC, 0, 0),
	OK("whitespace around", " \r\n\t{ \"id\" : \"a b\" ,\n \"cities\" :"
	    " [ 1 , 2 ] }\t\r\n ", "a b", 2, 1, 2),
	OK("max city id", "{\"id\":\"x\",\"cities\":[4294967295]}", "x", 1,
	    4294967295U, 4294967295U),
	OK("U+2028 is not a control", "{\"id\":\"\\u2028\"}", "\xe2\x80\xa8",
	    NOC, 0, 0),
	OK("NBSP U+00A0 is not a control", "{\"id\":\"\xc2\xa0\"}",
	    "\xc2\xa0", NOC, 0, 0),
	OK("unordered cities", "{\"id\":\"x\",\"cities\":[30,10,20]}", "x",
	    3, 30, 20),
	/* not an object */
	BAD("empty body", "", "empty"),
	BAD("only whitespace", "   ", "JSON"),
	BAD("open brace", "{", "truncated"),
	BAD("close brace", "}", "JSON"),
	BAD("array", "[]", "must be a JSON object"),
	BAD("string", "\"x\"", "must be a JSON object"),
	BAD("number", "1 ", "must be a JSON object"),
	BAD("null", "null", "JSON"),
	BAD("id missing", "{}", "id is missing"),
	BAD("only cities", "{\"cities\":[1]}", "id is missing"),
	/* id type and content */
	/* an integer id is its decimal text, as Python's str(int) */
	OK("id integer", "{\"id\":12345}", "12345", NOC, 0, 0),
	OK("id 0", "{\"id\":0}", "0", NOC, 0, 0),
	OK("id -0 is 0", "{\"id\":-0}", "0", NOC, 0, 0),
	OK("id negative", "{\"id\":-42,\"cities\":[1]}", "-42", 1, 1, 1),
	OK("id integer then cities", " {\"id\" : 7 , \"cities\":[2,3]} ", "7",
	    2, 2, 3),
	OK("id past 2^64", "{\"id\":123456789012345678901234567890}",
	    "123456789012345678901234567890", NOC, 0, 0),
	BAD("id 1.5", "{\"id\":1.5}", "string or an integer without a fraction"),
	BAD("id 1.0", "{\"id\":1.0}", "without a fraction or exponent"),
	BAD("id 1e3", "{\"id\":1e3}", "without a fraction or exponent"),
	BAD("id 1E+3", "{\"id\":1E+3}", "without a fraction or exponent"),
	BAD("id -0.0", "{\"id\":-0.0}", "without a fraction or exponent"),
	BAD("id leading zero", "{\"id\":012}", "JSON"),
	BAD("id plus sign", "{\"id\":+1}", "JSON"),
	BAD("id null", "{\"id\":null}", "id must be a string or an integer"),
	BAD("id true", "{\"id\":true}", "id must be a string or an integer"),
	BAD("id false", "{\"id\":false}", "id must be a string or an integer"),
	BAD("id empty array", "{\"id\":[]}", "id must be a string or an integer"),
	BAD("id array", "{\"id\":[\"a\"]}", "id must be a string or an integer"),
	BAD("id array of an integer", "{\"id\":[1]}",
	    "id must be a string or an integer"),
	BAD("id empty object", "{\"id\":{}}", "id must be a string or an integer"),
	BAD("id object", "{\"id\":{\"a\":\"b\"}}",
	    "id must be a string or an integer"),
	BAD("empty id", "{\"id\":\"\"}", "id must not be empty"),
	BAD("id \\u0000", "{\"id\":\"a\\u0000b\"}", "control"),
	BAD("id escaped \\n", "{\"id\":\"a\\nb\"}", "control"),
	BAD("id escaped \\t", "{\"id\":\"\\t\"}", "control"),
	BAD("id raw newline", "{\"id\":\"a\nb\"}", "control"),
	BAD("id raw 0x01", "{\"id\":\"a\x01" "b\"}", "control"),
	BAD("id raw 0x1f", "{\"id\":\"\x1f\"}", "control"),
	BAD("id DEL escaped", "{\"id\":\"\\u007f\"}", "control"),
	BAD("id DEL raw", "{\"id\":\"a\x7f\"}", "control"),
	BAD("id C1 \\u0085", "{\"id\":\"\\u0085\"}", "control"),
	BAD("id C1 \\u009f", "{\"id\":\"x\\u009F\"}", "control"),
	BAD("id raw C1 C2 85", "{\"id\":\"\xc2\x85\"}", "control"),
	BAD("id invalid UTF-8 FF", "{\"id\":\"a\xff\"}", "UTF-8"),
	BAD("id overlong C0 AF", "{\"id\":\"\xc0\xaf\"}", "UTF-8"),
	BAD("id raw surrogate", "{\"id\":\"\xed\xa0\x80\"}", "UTF-8"),
	BAD("id truncated UTF-8", "{\"id\":\"\xe6\x9d\"}", "UTF-8"),
	BAD("id lone high surrogate", "{\"id\":\"\\ud83c\"}", "surrogate"),
	BAD("id lone low surrogate", "{\"id\":\"\\udf0d\"}", "surrogate"),
	BAD("id high + text", "{\"id\":\"\\ud83cxyz\"}", "surrogate"),
	BAD("key lone surrogate", "{\"\\udf0d\":\"a\",\"id\":\"x\"}",
	    "surrogate"),
	BAD("id bad escape", "{\"id\":\"\\x41\"}", "JSON"),
	BAD("id bad \\u hex", "{\"id\":\"\\u00zz\"}", "JSON"),
	/* fields */
	BAD("duplicate id", "{\"id\":\"a\",\"id\":\"b\"}", "repeats the field"),
	BAD("duplicate id same", "{\"id\":\"a\",\"id\":\"a\"}",
	    "repeats the field \"id\""),
	BAD("duplicate cities", "{\"id\":\"a\",\"cities\":[1],\"cities\":[2]}",
	    "repeats the field \"cities\""),
	BAD("unknown field", "{\"id\":\"a\",\"city\":[1]}", "unknown field"),
	BAD("unknown field first", "{\"x\":1,\"id\":\"a\"}", "unknown field"),
	BAD("field name case", "{\"ID\":\"a\"}", "unknown field"),
	/* cities */
	BAD("cities number", "{\"id\":\"a\",\"cities\":5}",
	    "cities must be an array"),
	BAD("cities string", "{\"id\":\"a\",\"cities\":\"1,2\"}",
	    "cities must be an array"),
	BAD("cities object", "{\"id\":\"a\",\"cities\":{\"1\":2}}",
	    "cities must be an array"),
	BAD("cities null", "{\"id\":\"a\",\"cities\":null}",
	    "cities must be an array"),
	BAD("cities empty", "{\"id\":\"a\",\"cities\":[]}", "1 to 1000"),
	BAD("cities 0", "{\"id\":\"a\",\"cities\":[0]}", "positive"),
	BAD("cities 1,0", "{\"id\":\"a\",\"cities\":[1,0]}", "positive"),
	BAD("cities -1", "{\"id\":\"a\",\"cities\":[-1]}", "positive"),
	BAD("cities -0", "{\"id\":\"a\",\"cities\":[-0]}", "positive"),
	BAD("cities 1.5", "{\"id\":\"a\",\"cities\":[1.5]}", "integers"),
	BAD("cities 1.0", "{\"id\":\"a\",\"cities\":[1.0]}", "integers"),
	BAD("cities 1e3", "{\"id\":\"a\",\"cities\":[1e3]}", "integers"),
	BAD("cities 1E3", "{\"id\":\"a\",\"cities\":[1E3]}", "integers"),
	BAD("cities \"12\"", "{\"id\":\"a\",\"cities\":[\"12\"]}", "integers"),
	BAD("cities null element", "{\"id\":\"a\",\"cities\":[null]}",
	    "integers"),
	BAD("cities true element", "{\"id\":\"a\",\"cities\":[true]}",
	    "integers"),
	BAD("cities nested array", "{\"id\":\"a\",\"cities\":[[1]]}",
	    "integers"),
	BAD("cities nested object", "{\"id\":\"a\",\"cities\":[{}]}",
	    "integers"),
	BAD("cities 4294967296", "{\"id\":\"a\",\"cities\":[4294967296]}",
	    "at most 4294967295"),
	BAD("cities 2^64", "{\"id\":\"a\",\"cities\":[18446744073709551616]}",
	    "at most 4294967295"),
	BAD("cities 30 digits", "{\"id\":\"a\",\"cities\":"
	    "[123456789012345678901234567890]}", "at most 4294967295"),
	BAD("cities leading zero", "{\"id\":\"a\",\"cities\":[01]}", "JSON"),
	BAD("cities duplicate", "{\"id\":\"a\",\"cities\":[7,8,7]}",
	    "cities must not repeat a city id (7)"),
	BAD("cities duplicate big", "{\"id\":\"a\",\"cities\":"
	    "[4294967295,1,4294967295]}", "(4294967295)"),
	BAD("cities NaN", "{\"id\":\"a\",\"cities\":[NaN]}", "JSON"),
	BAD("cities Infinity", "{\"id\":\"a\",\"cities\":[Infinity]}", "JSON"),
	BAD("cities hex", "{\"id\":\"a\",\"cities\":[0x10]}", "JSON"),
	BAD("cities +1", "{\"id\":\"a\",\"cities\":[+1]}", "JSON"),
	/* JSON syntax */
	BAD("trailing garbage", "{\"id\":\"a\"} x", "not valid JSON"),
	BAD("trailing garbage no space", "{\"id\":\"a\"}x", "JSON"),
	BAD("two objects", "{}{}", "JSON"),
	BAD("object then value", "{\"id\":\"a\"} {\"id\":\"b\"}", "JSON"),
	BAD("array holding the object", "[{\"id\":\"a\"}]",
	    "must be a JSON object"),
	BAD("comma after object", "{\"id\":\"a\"},", "JSON"),
	BAD("trailing comma after cities",
	    "{\"id\":\"a\",\"cities\":[1,2],}", "JSON"),
	BAD("object in cities with nested array",
	    "{\"id\":\"a\",\"cities\":[1,{\"x\":[2,3]}]}", "integers"),
	BAD("string key followed by string",
	    "{\"id\" \"x\":\"a\"}", "JSON"),
	BAD("object then number", "{\"id\":\"a\"} 1 ", "JSON"),
	BAD("extra close", "{\"id\":\"a\"}}", "JSON"),
	BAD("mismatched close", "{\"id\":\"a\"]", "JSON"),
	BAD("trailing comma in object", "{\"id\":\"a\",}", "JSON"),
	BAD("trailing comma in array", "{\"id\":\"a\",\"cities\":[1,2,]}", "JSON"),
	BAD("leading comma in object", "{,\"id\":\"a\"}", "JSON"),
	BAD("leading comma in array", "{\"id\":\"a\",\"cities\":[,1]}", "JSON"),
	BAD("double comma", "{\"id\":\"a\",,\"cities\":[1]}", "JSON"),
	BAD("missing comma between fields", "{\"id\":\"a\" \"cities\":[1]}",
	    "JSON"),
	BAD("missing comma in array", "{\"id\":\"a\",\"cities\":[1 2]}", "JSON"),
	BAD("missing colon", "{\"id\" \"a\"}", "JSON"),
	BAD("double colon", "{\"id\"::\"a\"}", "JSON"),
	BAD("colon chain", "{\"id\":\"a\":\"b\"}", "JSON"),
	BAD("colon in array", "{\"id\":\"a\",\"cities\":[1:2]}", "JSON"),
	BAD("key without value", "{\"id\"}", "JSON"),
	BAD("number as key", "{1:\"a\"}", "JSON"),
	BAD("single quotes", "{'id':'a'}", "JSON"),
	BAD("unquoted key", "{id:\"a\"}", "JSON"),
	BAD("NaN value", "{\"id\":NaN}", "JSON"),
	BAD("bare word value", "{\"id\":abc}", "JSON"),
	BAD("truncated literal", "{\"id\":nul}", "JSON"),
	BAD("long literal", "{\"id\":\"a\",\"x\":nulll}", "JSON"),
	BAD("comment", "{\"id\":\"a\" /* c */}", "JSON"),
	BAD("unterminated string", "{\"id\":\"a}", "JSON"),
	BAD("form feed as whitespace", "\f{\"id\":\"a\"}", "JSON"),
	BAD("BOM", "\xef\xbb\xbf{\"id\":\"a\"}", "JSON"),
	BAD("NUL after object", "{\"id\":\"a\"}\0", "JSON"),
	BAD("NUL inside id", "{\"id\":\"a\0b\"}", "JSON"),
	BAD("NUL between tokens", "{\"id\":\0\"a\"}", "JSON"),
	BAD("NUL before object", "\0{\"id\":\"a\"}", "JSON"),
	BAD("deep nesting in unknown field",
	    "{\"id\":\"a\",\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
	    "unknown field"),
	BAD("deep nesting in cities",
	    "{\"id\":\"a\",\"cities\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}",
	    "integers"),
	BAD("deep nesting in id",
	    "{\"id\":[[[[[[[[[[[[[[[[\"a\"]]]]]]]]]]]]]]]]}",
	    "id must be a string or an integer"),
};

START_TEST(test_json)
{
	const struct pcase *c = &json_cases[_i];
	const char *why = NULL;
	int	 rc;

	memset(&req, 0x5a, sizeof(req));
	rc = parse_collect_json(c->body, c->len, &req, &why);
	check_case(c, "json", rc, why);
}
END_TEST

/* Generated JSON bodies: long ids and long city lists. */
enum gen { G_ID, G_ID_ESC, G_ID_INT, G_ID_NEG, G_CITIES, G_CITIES_DUP_LAST };

static const struct {
	const char	*name;
	enum gen	 gen;
	size_t		 n;		/* id bytes, digits or cities */
	int		 ok;
	const char	*why;
} gen_cases[] = {
	{ "id 1 byte", G_ID, 1, 1, NULL },
	{ "id 128 bytes", G_ID, 128, 1, NULL },
	{ "id 129 bytes", G_ID, 129, 0, "at most 128 bytes" },
	{ "id 1000 bytes", G_ID, 1000, 0, "at most 128 bytes" },
	{ "id 100000 bytes", G_ID, 100000, 0, "at most 128 bytes" },
	{ "id 64 x \\u00e9 = 128 bytes", G_ID_ESC, 64, 1, NULL },
	{ "id 65 x \\u00e9 = 130 bytes", G_ID_ESC, 65, 0, "at most 128" },
	{ "id 500 x \\u00e9", G_ID_ESC, 500, 0, "at most 128" },
	{ "integer id of 128 digits", G_ID_INT, 128, 1, NULL },
	{ "integer id of 129 digits", G_ID_INT, 129, 0, "at most 128 bytes" },
	{ "integer id of 100000 digits", G_ID_INT, 100000, 0, "at most 128" },
	{ "negative id of 127 digits = 128 bytes", G_ID_NEG, 127, 1, NULL },
	{ "negative id of 128 digits = 129 bytes", G_ID_NEG, 128, 0,
	    "at most 128 bytes" },
	{ "1 city", G_CITIES, 1, 1, NULL },
	{ "1000 cities", G_CITIES, 1000, 1, NULL },
	{ "1001 cities", G_CITIES, 1001, 0, "1 to 1000" },
	{ "5000 cities", G_CITIES, 5000, 0, "too many JSON values" },
	{ "1000 cities, last repeats the first", G_CITIES_DUP_LAST, 1000, 0,
	    "repeat a city id (4294967295)" },
};

static char *
gen_body(int i, size_t *len, char *id, size_t *idlen)
{
	size_t	 n = gen_cases[i].n, cap = 64 + n * 12, k;
	char	*b = malloc(cap);
	int	 o;

	ck_assert_ptr_nonnull(b);
	*idlen = 0;
	switch (gen_cases[i].gen) {
	case G_ID:
		o = snprintf(b, cap, "{\"id\":\"");
		memset(b + o, 'q', n);
		memset(id, 'q', n < ID_MAX ? n : ID_MAX);
		*idlen = n;
		o += (int)n;
		o += snprintf(b + o, cap - (size_t)o, "\"}");
		break;
	case G_ID_ESC:
		o = snprintf(b, cap, "{\"id\":\"");
		for (k = 0; k < n; k++) {
			o += snprintf(b + o, cap - (size_t)o, "\\u00e9");
			if (2 * k + 1 < ID_MAX)
				memcpy(id + 2 * k, "\xc3\xa9", 2);
		}
		*idlen = 2 * n;
		o += snprintf(b + o, cap - (size_t)o, "\"}");
		break;
	case G_ID_INT:
	case G_ID_NEG:
		/* Digits 1..9 repeating: no leading zero. */
		o = snprintf(b, cap, "{\"id\":%s",
		    gen_cases[i].gen == G_ID_NEG ? "-" : "");
		*idlen = (size_t)o - 6;
		memcpy(id, b + 6, *idlen);
		for (k = 0; k < n; k++, (*idlen)++) {
			b[o++] = (char)('1' + k % 9);
			if (*idlen < ID_MAX)
				id[*idlen] = b[o - 1];
		}
		o += snprintf(b + o, cap - (size_t)o, "}");
		break;
	default:
		o = snprintf(b, cap, "{\"id\":\"c\",\"cities\":[");
		if (gen_cases[i].gen == G_CITIES_DUP_LAST)
			n--;	/* the repeat makes it n */
		for (k = 0; k < n; k++)
			o += snprintf(b + o, cap - (size_t)o, "%s%u",
			    k ? "," : "", (unsigned)(4294967295U - k));
		if (gen_cases[i].gen == G_CITIES_DUP_LAST)
			o += snprintf(b + o, cap - (size_t)o, ",4294967295");
		o += snprintf(b + o, cap - (size_t)o, "]}");
		memcpy(id, "c", 1);
		*idlen = 1;
		break;
	}
	*len = (size_t)o;
	return b;
}

START_TEST(test_json_generated)
{
	char	 id[ID_MAX];
	size_t	 len, idlen;
	char	*body = gen_body(_i, &len, id, &idlen);
	const char *why = NULL;
	int	 rc = parse_collect_json(body, len, &req, &why);

	if (!gen_cases[_i].ok) {
		ck_assert_msg(rc == -1, "json generated case \"%s\": accepted",
		    gen_cases[_i].name);
		ck_assert_msg(why && strstr(why, gen_cases[_i].why),
		    "json generated case \"%s\": why \"%s\" lacks \"%s\"",
		    gen_cases[_i].name, why ? why : "(null)",
		    gen_cases[_i].why);
	} else {
		ck_assert_msg(rc == 0, "json generated case \"%s\": %s",
		    gen_cases[_i].name, why ? why : "(null)");
		ck_assert_msg(req.idlen == idlen &&
		    memcmp(req.id, id, idlen) == 0,
		    "json generated case \"%s\": id wrong (%zu bytes)",
		    gen_cases[_i].name, req.idlen);
		if (gen_cases[_i].gen == G_CITIES)
			ck_assert_msg(req.has_cities &&
			    req.ncities == gen_cases[_i].n &&
			    req.cities[0] == 4294967295U &&
			    req.cities[req.ncities - 1] ==
			    4294967295U - (gen_cases[_i].n - 1),
			    "json generated case \"%s\": %zu cities",
			    gen_cases[_i].name, req.ncities);
	}
	free(body);
}
END_TEST

/* Nesting far past the token budget is refused cleanly, never a crash. */
static const struct {
	const char	*name;
	const char	*prefix;
	const char	*open, *close;
	size_t		 depth;
	const char	*suffix;
} deep_cases[] = {
	{ "[ x 100000 top level", "", "[", "]", 100000, "" },
	{ "[ x 100000 in cities", "{\"id\":\"a\",\"cities\":", "[", "]",
	    100000, "}" },
	{ "{ x 100000 in unknown field", "{\"id\":\"a\",\"x\":", "{\"k\":",
	    "}", 100000, "}" },
	{ "[ x 4095 in field", "{\"id\":\"a\",\"x\":", "[", "]", 4095, "}" },
	{ "[ x 100000 unclosed", "{\"id\":\"a\",\"x\":", "[", "", 100000, "" },
};

START_TEST(test_json_deep)
{
	size_t	 ol = strlen(deep_cases[_i].open);
	size_t	 cl = strlen(deep_cases[_i].close), d = deep_cases[_i].depth;
	size_t	 cap = 64 + d * (ol + cl), k, o = 0;
	char	*b = malloc(cap);
	const char *why = NULL;
	int	 rc;

	ck_assert_ptr_nonnull(b);
	o += (size_t)snprintf(b, cap, "%s", deep_cases[_i].prefix);
	for (k = 0; k < d; k++, o += ol)
		memcpy(b + o, deep_cases[_i].open, ol);
	o += (size_t)snprintf(b + o, cap - o, "1");
	for (k = 0; k < d; k++, o += cl)
		memcpy(b + o, deep_cases[_i].close, cl);
	o += (size_t)snprintf(b + o, cap - o, "%s", deep_cases[_i].suffix);
	rc = parse_collect_json(b, o, &req, &why);
	ck_assert_msg(rc == -1 && why != NULL && why[0] != '\0',
	    "json deep case \"%s\": rc %d why \"%s\"", deep_cases[_i].name, rc,
	    why ? why : "(null)");
	free(b);
}
END_TEST

/* Every proper prefix of a valid body is rejected (and nothing crashes). */
static const char *const prefix_bodies[] = {
	"{\"id\":\"abc\"}",
	"{\"id\":\"Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x8c\x8d\","
	    "\"cities\":[1,22,333,4294967295]}",
	"{\"cities\":[10,200],\"id\":\"caf\\u00e9\\ud83c\\udf0d\\/\"}",
	" { \"id\" : \"x\" , \"cities\" : [ 7 ] }",
};

START_TEST(test_json_prefixes)
{
	const char *body = prefix_bodies[_i];
	size_t	 len = strlen(body), n;

	for (n = 0; n < len; n++) {
		/* Copy to an exact-size heap block so an overread is seen. */
		char	*p = malloc(n ? n : 1);
		const char *why = NULL;
		int	 rc;

		ck_assert_ptr_nonnull(p);
		memcpy(p, body, n);
		rc = parse_collect_json(p, n, &req, &why);
		ck_assert_msg(rc == -1,
		    "json prefix case %d, length %zu of %zu [%s]: accepted",
		    _i, n, len, check_show(p, n));
		ck_assert_msg(why != NULL && why[0] != '\0',
		    "json prefix case %d, length %zu: no reason", _i, n);
		free(p);
	}
}
END_TEST

/* The full body of each prefix case does parse (so the prefixes mean something). */
START_TEST(test_json_prefix_bodies_valid)
{
	const char *why = NULL;
	int	 rc = parse_collect_json(prefix_bodies[_i],
	    strlen(prefix_bodies[_i]), &req, &why);

	ck_assert_msg(rc == 0, "json prefix body %d rejected: %s", _i,
	    why ? why : "(null)");
}
END_TEST

/* ---- parse_collect_form ------------------------------------------- */

static const struct pcase form_cases[] = {
	OK("id", "id=abc", "abc", NOC, 0, 0),
	OK("percent UTF-8", "id=%E2%9C%93", "\xe2\x9c\x93", NOC, 0, 0),
	OK("percent lowercase hex", "id=%e2%9c%93", "\xe2\x9c\x93", NOC, 0, 0),
	OK("plus is space", "id=a+b", "a b", NOC, 0, 0),
	OK("encoded plus", "id=a%2Bb", "a+b", NOC, 0, 0),
	OK("double encoding stays", "id=%2541", "%41", NOC, 0, 0),
	OK("encoded ampersand", "id=a%26b%3Dc", "a&b=c", NOC, 0, 0),
	OK("cities", "id=a&cities=1,2,3", "a", 3, 1, 3),
	OK("cities first", "cities=9&id=a", "a", 1, 9, 9),
	OK("cities encoded comma", "id=a&cities=1%2C2", "a", 2, 1, 2),
	OK("max city", "id=a&cities=4294967295", "a", 1, 4294967295U,
	    4294967295U),
	OK("empty pairs", "&id=a&&", "a", NOC, 0, 0),
	OK("unicode", "id=Z%C3%BCrich-%E6%9D%B1%E4%BA%AC-%F0%9F%8C%8D",
	    "Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x8c\x8d", NOC, 0,
	    0),
	BAD("empty body", "", "empty"),
	BAD("id empty", "id=", "id must not be empty"),
	BAD("id without =", "id", "id must not be empty"),
	BAD("no id", "cities=1", "id is missing"),
	BAD("%zz", "id=%zz", "malformed percent-encoding"),
	BAD("%0", "id=%0", "malformed percent-encoding"),
	BAD("% at end", "id=a%", "malformed percent-encoding"),
	BAD("%g0", "id=%g0", "malformed percent-encoding"),
	BAD("%00", "id=%00", "control"),
	BAD("%0A", "id=a%0Ab", "control"),
	BAD("%7F", "id=%7F", "control"),
	BAD("C1 %C2%85", "id=%C2%85", "control"),
	BAD("invalid UTF-8 %FF", "id=%FF", "UTF-8"),
	BAD("overlong %C0%AF", "id=%C0%AF", "UTF-8"),
	BAD("surrogate %ED%A0%80", "id=%ED%A0%80", "UTF-8"),
	BAD("cities 1,,2", "id=a&cities=1,,2", "cities"),
	BAD("cities empty", "id=a&cities=", "cities"),
	BAD("cities trailing comma", "id=a&cities=1,2,", "cities"),
	BAD("cities leading comma", "id=a&cities=,1", "cities"),
	BAD("cities 0", "id=a&cities=0", "positive"),
	BAD("cities -1", "id=a&cities=-1", "cities"),
	BAD("cities 01", "id=a&cities=01", "cities"),
	BAD("cities space", "id=a&cities=1,+2", "cities"),
	BAD("cities 1.5", "id=a&cities=1.5", "cities"),
	BAD("cities 4294967296", "id=a&cities=4294967296", "cities"),
	BAD("cities duplicate", "id=a&cities=5,6,5",
	    "cities must not repeat a city id (5)"),
	BAD("cities malformed percent", "id=a&cities=1%2", "malformed"),
	BAD("unknown field", "id=a&foo=1", "unknown field"),
	BAD("unknown field no value", "id=a&foo", "unknown field"),
	BAD("empty key", "id=a&=1", "unknown field"),
	BAD("encoded key", "i%64=a", "unknown field"),
	BAD("key case", "ID=a", "unknown field"),
	BAD("repeated id", "id=a&id=b", "body repeats the field \"id\""),
	BAD("repeated id same value", "id=a&id=a",
	    "body repeats the field \"id\""),
	BAD("repeated cities", "id=a&cities=1&cities=2",
	    "body repeats the field \"cities\""),
	BAD("repeated id after cities", "cities=1&id=a&id=b&cities=2",
	    "body repeats the field \"id\""),
	BAD("NUL in body", "id=a\0b", "control"),
};

START_TEST(test_form)
{
	const struct pcase *c = &form_cases[_i];
	const char *why = NULL;
	int	 rc;

	memset(&req, 0x5a, sizeof(req));
	rc = parse_collect_form(c->body, c->len, &req, &why);
	check_case(c, "form", rc, why);
}
END_TEST

/* Generated form bodies: id lengths and city counts at the bounds. */
static const struct {
	const char	*name;
	int		 cities;	/* 0: vary the id */
	size_t		 n;
	int		 pct;		/* id as %XX */
	int		 ok;
} fgen_cases[] = {
	{ "id 128", 0, 128, 0, 1 },
	{ "id 129", 0, 129, 0, 0 },
	{ "id 128 percent-encoded", 0, 128, 1, 1 },
	{ "id 129 percent-encoded", 0, 129, 1, 0 },
	{ "1000 cities", 1, 1000, 0, 1 },
	{ "1001 cities", 1, 1001, 0, 0 },
};

START_TEST(test_form_generated)
{
	size_t	 n = fgen_cases[_i].n, cap = 64 + n * 12, k, o;
	char	*b = malloc(cap);
	const char *why = NULL;
	int	 rc;

	ck_assert_ptr_nonnull(b);
	if (fgen_cases[_i].cities) {
		o = (size_t)snprintf(b, cap, "id=x&cities=");
		for (k = 0; k < n; k++)
			o += (size_t)snprintf(b + o, cap - o, "%s%zu",
			    k ? "," : "", 4000000000U + k);
	} else {
		o = (size_t)snprintf(b, cap, "id=");
		for (k = 0; k < n; k++)
			o += (size_t)snprintf(b + o, cap - o, "%s",
			    fgen_cases[_i].pct ? "%41" : "A");
	}
	rc = parse_collect_form(b, o, &req, &why);
	if (fgen_cases[_i].ok) {
		ck_assert_msg(rc == 0, "form generated case \"%s\": %s",
		    fgen_cases[_i].name, why ? why : "(null)");
		if (fgen_cases[_i].cities)
			ck_assert_msg(req.ncities == n &&
			    req.cities[n - 1] == 4000000000U + n - 1,
			    "form generated case \"%s\": %zu cities",
			    fgen_cases[_i].name, req.ncities);
		else
			ck_assert_msg(req.idlen == n && req.id[0] == 'A' &&
			    req.id[n - 1] == 'A',
			    "form generated case \"%s\": idlen %zu",
			    fgen_cases[_i].name, req.idlen);
	} else {
		ck_assert_msg(rc == -1, "form generated case \"%s\": accepted",
		    fgen_cases[_i].name);
		ck_assert_msg(why && strstr(why, fgen_cases[_i].cities ?
		    "1 to 1000" : "at most 128"),
		    "form generated case \"%s\": why \"%s\"",
		    fgen_cases[_i].name, why ? why : "(null)");
	}
	free(b);
}
END_TEST

/* ---- parse_query_param -------------------------------------------- */

static const struct {
	const char	*name;
	const char	*qs;
	const char	*param;
	size_t		 cap;
	long		 rc;
	const char	*out;
} query_cases[] = {
	{ "present", "id=abc", "id", 64, 3, "abc" },
	{ "empty query", "", "id", 64, -2, NULL },
	{ "missing", "x=1&y=2", "id", 64, -2, NULL },
	{ "prefix of another name", "idx=1", "id", 64, -2, NULL },
	{ "suffix of another name", "xid=1", "id", 64, -2, NULL },
	{ "case differs", "ID=1", "id", 64, -2, NULL },
	{ "encoded name not decoded", "i%64=1", "id", 64, -2, NULL },
	{ "among others", "x=1&id=abc&y=2", "id", 64, 3, "abc" },
	{ "last", "x=1&id=z", "id", 64, 1, "z" },
	{ "repeated", "id=a&id=b", "id", 64, -1, NULL },
	{ "repeated, one without value", "id=a&id", "id", 64, -1, NULL },
	{ "repeated far apart", "id=a&x=1&y=2&id=a", "id", 64, -1, NULL },
	{ "empty value", "id=", "id", 64, 0, "" },
	{ "no =", "id", "id", 64, 0, "" },
	{ "empty value among others", "x=1&id=&y=2", "id", 64, 0, "" },
	{ "too long", "id=abcd", "id", 3, -3, NULL },
	{ "exact fit", "id=abc", "id", 3, 3, "abc" },
	{ "too long after decoding", "id=%41%42%43%44", "id", 3, -3, NULL },
	{ "fits after decoding", "id=%41%42%43", "id", 3, 3, "ABC" },
	{ "percent space", "id=a%20b", "id", 64, 3, "a b" },
	{ "plus space", "id=a+b", "id", 64, 3, "a b" },
	{ "encoded plus", "id=%2B", "id", 64, 1, "+" },
	{ "UTF-8", "id=%E2%9C%93", "id", 64, 3, "\xe2\x9c\x93" },
	{ "double encoding", "id=%2541", "id", 64, 3, "%41" },
	{ "malformed %zz", "id=%zz", "id", 64, -1, NULL },
	{ "malformed %4", "id=%4", "id", 64, -1, NULL },
	{ "other param malformed", "x=%zz&id=a", "id", 64, 1, "a" },
	{ "other param repeated", "x=1&id=a&x=2", "id", 64, 1, "a" },
	{ "empty pairs", "&&id=a&&", "id", 64, 1, "a" },
	{ "= in value", "id=a=b", "id", 64, 3, "a=b" },
	{ "other name", "id=1&cities=5", "cities", 64, 1, "5" },
};

START_TEST(test_query)
{
	char	 out[80];	/* cap is at most 64: room to see overruns */
	const char *why = NULL;
	long	 rc;

	memset(out, 0x5a, sizeof(out));
	rc = parse_query_param(query_cases[_i].qs, strlen(query_cases[_i].qs),
	    query_cases[_i].param, out, query_cases[_i].cap, &why);
	ck_assert_msg(rc == query_cases[_i].rc,
	    "query case \"%s\" (%s, %s, cap %zu): rc %ld, expected %ld (%s)",
	    query_cases[_i].name, query_cases[_i].qs, query_cases[_i].param,
	    query_cases[_i].cap, rc, query_cases[_i].rc,
	    rc == -1 && why ? why : "");
	if (rc == -1)
		ck_assert_msg(why != NULL && why[0] != '\0',
		    "query case \"%s\": no reason", query_cases[_i].name);
	if (rc >= 0)
		ck_assert_msg(memcmp(out, query_cases[_i].out, (size_t)rc) == 0,
		    "query case \"%s\": got [%s], expected [%s]",
		    query_cases[_i].name, check_show(out, (size_t)rc),
		    query_cases[_i].out);
	ck_assert_msg((unsigned char)out[query_cases[_i].cap] == 0x5a,
	    "query case \"%s\": wrote past cap", query_cases[_i].name);
}
END_TEST

/* ---- parse_get_format --------------------------------------------- */

static const struct {
	const char	*qs;
	int		 rc;
	enum get_format	 f;
	const char	*why;
} fmt_cases[] = {
	{ "id=a", 0, GET_JSON, NULL },
	{ "", 0, GET_JSON, NULL },
	{ "id=a&format=json", 0, GET_JSON, NULL },
	{ "format=csv&id=a", 0, GET_CSV, NULL },
	{ "id=a&format=%63sv", 0, GET_CSV, NULL },
	{ "id=a&formats=csv", 0, GET_JSON, NULL },
	{ "id=a&format=CSV", -1, GET_JSON, "json or csv" },
	{ "id=a&format=xml", -1, GET_JSON, "json or csv" },
	{ "id=a&format=", -1, GET_JSON, "json or csv" },
	{ "id=a&format", -1, GET_JSON, "json or csv" },
	{ "id=a&format=csv+", -1, GET_JSON, "json or csv" },
	{ "id=a&format=csv%00", -1, GET_JSON, "json or csv" },
	{ "id=a&format=jsonjsonjson", -1, GET_JSON, "json or csv" },
	{ "id=a&format=%zz", -1, GET_JSON, "percent" },
	{ "format=csv&format=csv", -1, GET_JSON, "repeats" },
};

START_TEST(test_get_format)
{
	const char	*why = NULL;
	enum get_format	 f = GET_CSV + 1;
	int		 rc;

	rc = parse_get_format(fmt_cases[_i].qs, strlen(fmt_cases[_i].qs), &f,
	    &why);
	ck_assert_msg(rc == fmt_cases[_i].rc, "format case \"%s\": rc %d",
	    fmt_cases[_i].qs, rc);
	if (rc == 0)
		ck_assert_msg(f == fmt_cases[_i].f,
		    "format case \"%s\": format %d", fmt_cases[_i].qs, (int)f);
	else
		ck_assert_msg(why != NULL && strstr(why, fmt_cases[_i].why),
		    "format case \"%s\": why \"%s\"", fmt_cases[_i].qs,
		    why ? why : "(null)");
}
END_TEST

/* ---- parse_content_length ------------------------------------------ */

/* max 65536 (http.max_body's default) in every case. */
static const struct {
	const char	*s;
	int		 rc;
	uint64_t	 v;
} cl_cases[] = {
	{ "0", 0, 0 },
	{ "10", 0, 10 },
	{ "010", 0, 10 },
	{ "0000000000000000000000000000010", 0, 10 },
	{ "65536", 0, 65536 },
	{ "065536", 0, 65536 },
	{ "65537", PARSE_LEN_OVER, 0 },
	{ "99999999999999999999999999999", PARSE_LEN_OVER, 0 },
	{ "18446744073709551616", PARSE_LEN_OVER, 0 },
	{ "", -1, 0 },
	{ "-1", -1, 0 },
	{ "+10", -1, 0 },
	{ " 10", -1, 0 },
	{ "10 ", -1, 0 },
	{ "0x10", -1, 0 },
	{ "1e3", -1, 0 },
	{ "99999999999999999999x", -1, 0 },
	{ "10,10", -1, 0 },
};

START_TEST(test_content_length)
{
	const char	*why = NULL;
	uint64_t	 v = 12345;
	int		 rc;

	rc = parse_content_length(cl_cases[_i].s, strlen(cl_cases[_i].s),
	    65536, &v, &why);
	ck_assert_msg(rc == cl_cases[_i].rc, "Content-Length \"%s\": rc %d",
	    cl_cases[_i].s, rc);
	if (rc == 0)
		ck_assert_msg(v == cl_cases[_i].v, "Content-Length \"%s\": %llu",
		    cl_cases[_i].s, (unsigned long long)v);
	else if (rc == -1)
		ck_assert(why != NULL && strstr(why, "decimal") != NULL);
}
END_TEST

/* ---- validate_id / validate_cities --------------------------------- */

static const struct {
	const char	*name;
	const char	*s;
	size_t		 n;
	int		 ok;
	const char	*why;
} vid_cases[] = {
	{ "one byte", L("a"), 1, NULL },
	{ "space inside", L("a b"), 1, NULL },
	{ "unicode", L("Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x8c\x8d"),
	    1, NULL },
	{ "NBSP", L("\xc2\xa0"), 1, NULL },
	{ "U+00FF", L("\xc3\xbf"), 1, NULL },
	{ "U+2028", L("\xe2\x80\xa8"), 1, NULL },
	{ "U+10FFFF", L("\xf4\x8f\xbf\xbf"), 1, NULL },
	{ "128 bytes", L("0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef"), 1, NULL },
	{ "129 bytes", L("0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdef0123456789abcdef"
	    "0123456789abcdef0123456789abcdefX"), 0, "at most 128" },
	{ "empty", L(""), 0, "empty" },
	{ "NUL", L("a\0b"), 0, "control" },
	{ "0x01", L("\x01"), 0, "control" },
	{ "tab", L("a\tb"), 0, "control" },
	{ "0x1f", L("\x1f"), 0, "control" },
	{ "DEL", L("\x7f"), 0, "control" },
	{ "C1 U+0080", L("\xc2\x80"), 0, "control" },
	{ "C1 U+0085", L("x\xc2\x85"), 0, "control" },
	{ "C1 U+009F", L("\xc2\x9f"), 0, "control" },
	{ "invalid FF", L("\xff"), 0, "UTF-8" },
	{ "overlong", L("\xc0\x80"), 0, "UTF-8" },
	{ "surrogate", L("\xed\xa0\x80"), 0, "UTF-8" },
	{ "over U+10FFFF", L("\xf4\x90\x80\x80"), 0, "UTF-8" },
	{ "truncated", L("ab\xe6\x9d"), 0, "UTF-8" },
	{ "stray continuation", L("\x85"), 0, "UTF-8" },
};

START_TEST(test_validate_id)
{
	const char *why = NULL;
	int	 rc = validate_id(vid_cases[_i].s, vid_cases[_i].n, &why);

	if (vid_cases[_i].ok)
		ck_assert_msg(rc == 0, "validate_id case \"%s\": rejected: %s",
		    vid_cases[_i].name, why ? why : "(null)");
	else {
		ck_assert_msg(rc == -1, "validate_id case \"%s\": accepted",
		    vid_cases[_i].name);
		ck_assert_msg(why && strstr(why, vid_cases[_i].why),
		    "validate_id case \"%s\": why \"%s\" lacks \"%s\"",
		    vid_cases[_i].name, why ? why : "(null)",
		    vid_cases[_i].why);
	}
}
END_TEST

#define VC_MAXN	8
static const struct {
	const char	*name;
	unsigned int	 ids[VC_MAXN];
	size_t		 n;
	int		 ok;
	unsigned int	 dup;		/* expected *dup, 0: none */
	const char	*why;
} vc_cases[] = {
	{ "one", { 1 }, 1, 1, 0, NULL },
	{ "several", { 3, 1, 2 }, 3, 1, 0, NULL },
	{ "max id", { 4294967295U }, 1, 1, 0, NULL },
	{ "max and min", { 4294967295U, 1 }, 2, 1, 0, NULL },
	{ "none", { 0 }, 0, 0, 0, "1 to 1000" },
	{ "zero", { 0 }, 1, 0, 0, "positive" },
	{ "zero last", { 5, 6, 0 }, 3, 0, 0, "positive" },
	{ "duplicate adjacent", { 7, 7 }, 2, 0, 7, "repeat" },
	{ "duplicate apart", { 9, 1, 2, 9 }, 4, 0, 9, "repeat" },
	{ "duplicate max", { 4294967295U, 5, 4294967295U }, 3, 0, 4294967295U,
	    "repeat" },
	{ "two duplicates: smallest named", { 8, 3, 8, 3 }, 4, 0, 3,
	    "repeat" },
};

START_TEST(test_validate_cities)
{
	unsigned int ids[VC_MAXN], dup = 0;
	const char *why = NULL;
	int	 rc;

	memcpy(ids, vc_cases[_i].ids, sizeof(ids));
	rc = cities_check(ids, vc_cases[_i].n, &dup, &why);
	ck_assert_msg(memcmp(ids, vc_cases[_i].ids, sizeof(ids)) == 0,
	    "validate_cities case \"%s\": modified its input",
	    vc_cases[_i].name);
	if (vc_cases[_i].ok) {
		ck_assert_msg(rc == 0,
		    "validate_cities case \"%s\": rejected: %s",
		    vc_cases[_i].name, why ? why : "(null)");
		return;
	}
	ck_assert_msg(rc == -1, "validate_cities case \"%s\": accepted",
	    vc_cases[_i].name);
	ck_assert_msg(why && strstr(why, vc_cases[_i].why),
	    "validate_cities case \"%s\": why \"%s\" lacks \"%s\"",
	    vc_cases[_i].name, why ? why : "(null)", vc_cases[_i].why);
	ck_assert_msg(dup == vc_cases[_i].dup,
	    "validate_cities case \"%s\": dup %u, expected %u",
	    vc_cases[_i].name, dup, vc_cases[_i].dup);
}
END_TEST

/* Counts at the bounds: 1000 distinct, 1001, 1000 with a repeat. */
static const struct {
	const char	*name;
	size_t		 n;
	int		 dup_at_end;
	int		 ok;
} vcn_cases[] = {
	{ "1000 distinct", 1000, 0, 1 },
	{ "1001 distinct", 1001, 0, 0 },
	{ "1000 with a repeat", 1000, 1, 0 },
};

START_TEST(test_validate_cities_count)
{
	static unsigned int ids[CITIES_MAX + 1];
	unsigned int dup = 0;
	const char *why = NULL;
	size_t	 k, n = vcn_cases[_i].n;
	int	 rc;

	for (k = 0; k < n; k++)
		ids[k] = (unsigned int)(1000000 + k * 7);
	if (vcn_cases[_i].dup_at_end)
		ids[n - 1] = ids[0];
	rc = cities_check(ids, n, &dup, &why);
	ck_assert_msg(rc == (vcn_cases[_i].ok ? 0 : -1),
	    "validate_cities count case \"%s\": rc %d (%s)",
	    vcn_cases[_i].name, rc, why ? why : "");
	if (vcn_cases[_i].dup_at_end)
		ck_assert_msg(dup == ids[0],
		    "validate_cities count case \"%s\": dup %u",
		    vcn_cases[_i].name, dup);
}
END_TEST

/* ---- runner -------------------------------------------------------- */

static Suite *
parse_suite(void)
{
	Suite	*s = suite_create("parse");
	TCase	*tc;

	tc = tcase_create("json");
	tcase_add_loop_test(tc, test_json, 0, NELEM(json_cases));
	tcase_add_loop_test(tc, test_json_generated, 0, NELEM(gen_cases));
	tcase_add_loop_test(tc, test_json_deep, 0, NELEM(deep_cases));
	tcase_add_loop_test(tc, test_json_prefixes, 0, NELEM(prefix_bodies));
	tcase_add_loop_test(tc, test_json_prefix_bodies_valid, 0,
	    NELEM(prefix_bodies));
	suite_add_tcase(s, tc);

	tc = tcase_create("form");
	tcase_add_loop_test(tc, test_form, 0, NELEM(form_cases));
	tcase_add_loop_test(tc, test_form_generated, 0, NELEM(fgen_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_loop_test(tc, test_query, 0, NELEM(query_cases));
	tcase_add_loop_test(tc, test_get_format, 0, NELEM(fmt_cases));
	tcase_add_loop_test(tc, test_content_length, 0, NELEM(cl_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("validate");
	tcase_add_loop_test(tc, test_validate_id, 0, NELEM(vid_cases));
	tcase_add_loop_test(tc, test_validate_cities, 0, NELEM(vc_cases));
	tcase_add_loop_test(tc, test_validate_cities_count, 0,
	    NELEM(vcn_cases));
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return check_run(parse_suite());
}
