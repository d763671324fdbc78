/*
 * check_csv.c: unit tests for fcgi/csv.c: RFC 4180 quoting of every byte
 * that needs it (and none that does not).  Tables of {input, expected
 * bytes}.  (The Content-Disposition of hostile ids: check_reply.c.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_run.h"
#include "csv.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define F(s)		{ s, sizeof(s) - 1 }
#define NUL_F		{ NULL, 0 }

static void
expect(const char *what, const struct buf *b, const char *want, size_t n)
{
	ck_assert_msg(!b->failed, "%s: the buffer failed", what);
	ck_assert_msg(b->len == n && memcmp(b->data, want, n) == 0,
	    "%s: got [%s], expected [%s]", what, check_show(b->data, b->len),
	    check_show(want, n));
}

/* ---- csv_row ------------------------------------------------------- */

static const struct {
	const char	*name;
	struct csv_field f[4];
	size_t		 n;
	const char	*want;
} row_cases[] = {
	{ "plain", { F("London") }, 1, "London\r\n" },
	{ "empty", { F("") }, 1, "\r\n" },
	{ "null", { NUL_F }, 1, "\r\n" },
	{ "comma", { F("Washington, D.C.") }, 1, "\"Washington, D.C.\"\r\n" },
	{ "quote", { F("The \"Big\" Apple") }, 1,
	    "\"The \"\"Big\"\" Apple\"\r\n" },
	{ "only a quote", { F("\"") }, 1, "\"\"\"\"\r\n" },
	{ "quotes at both ends", { F("\"a\"") }, 1, "\"\"\"a\"\"\"\r\n" },
	{ "CR", { F("a\rb") }, 1, "\"a\rb\"\r\n" },
	{ "LF", { F("a\nb") }, 1, "\"a\nb\"\r\n" },
	{ "CRLF", { F("a\r\nb") }, 1, "\"a\r\nb\"\r\n" },
	{ "all four", { F(",\"\r\n") }, 1, "\",\"\"\r\n\"\r\n" },
	{ "non-ASCII", { F("S\xc3\xa3o Paulo") }, 1, "S\xc3\xa3o Paulo\r\n" },
	{ "CJK", { F("\xe6\x9d\xb1\xe4\xba\xac") }, 1,
	    "\xe6\x9d\xb1\xe4\xba\xac\r\n" },
	{ "emoji", { F("\xf0\x9f\x8c\xa6\xef\xb8\x8f") }, 1,
	    "\xf0\x9f\x8c\xa6\xef\xb8\x8f\r\n" },
	{ "non-ASCII and comma", { F("Krak\xc3\xb3w, PL") }, 1,
	    "\"Krak\xc3\xb3w, PL\"\r\n" },
	{ "spaces and tab kept unquoted", { F(" a\tb ") }, 1, " a\tb \r\n" },
	{ "semicolon, apostrophe", { F("a;b'c") }, 1, "a;b'c\r\n" },
	{ "formula kept as stored", { F("=1+2") }, 1, "=1+2\r\n" },
	{ "fields", { F("1"), NUL_F, F(""), F("x,y") }, 4, "1,,,\"x,y\"\r\n" },
	{ "all null", { NUL_F, NUL_F, NUL_F }, 3, ",,\r\n" },
	{ "header", { F("city_id"), F("name"), F("country") }, 3,
	    "city_id,name,country\r\n" },
};

START_TEST(test_row)
{
	struct buf	 b;
	char		 what[128];

	buf_init(&b, 0);
	csv_row(&b, row_cases[_i].f, row_cases[_i].n);
	snprintf(what, sizeof(what), "row case \"%s\"", row_cases[_i].name);
	expect(what, &b, row_cases[_i].want, strlen(row_cases[_i].want));
	buf_free(&b);
}
END_TEST

/* A NUL inside a field is a byte like any other (lengths, not strings). */
START_TEST(test_row_nul)
{
	static const struct csv_field f[] = { { "a\0b", 3 }, { "\0,", 2 } };
	struct buf	 b;

	buf_init(&b, 0);
	csv_row(&b, f, 2);
	expect("row with NULs", &b, "a\0b,\"\0,\"\r\n", 10);
	buf_free(&b);
}
END_TEST

/* Rows append: a document is a header and its rows. */
START_TEST(test_rows_append)
{
	static const struct csv_field h[] = { F("a"), F("b") };
	static const struct csv_field r[] = { F("1"), F("x\ny") };
	struct buf	 b;

	buf_init(&b, 0);
	csv_row(&b, h, 2);
	csv_row(&b, r, 2);
	csv_row(&b, r, 2);
	expect("three rows", &b, "a,b\r\n1,\"x\ny\"\r\n1,\"x\ny\"\r\n",
	    strlen("a,b\r\n1,\"x\ny\"\r\n1,\"x\ny\"\r\n"));
	buf_free(&b);
}
END_TEST

static Suite *
csv_suite(void)
{
	Suite	*s = suite_create("csv");
	TCase	*tc;

	tc = tcase_create("row");
	tcase_add_loop_test(tc, test_row, 0, NELEM(row_cases));
	tcase_add_test(tc, test_row_nul);
	tcase_add_test(tc, test_rows_append);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(csv_suite());
}
