/*
 * check_json.c: unit tests for lib/json.c (UTF-8 validation, JSON string
 * escaping and unescaping, JSON's number grammar) and lib/buf.c.
 *
 * Every test is driven by a table of {input, expected} cases; a failing
 * case names itself in its message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_run.h"

#include "buf.h"
#include "json.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
/* A string literal with its exact length, embedded NULs included. */
#define L(s)		s, sizeof(s) - 1


/* ---- utf8_valid ---------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*s;
	size_t		 n;
	int		 valid;
} utf8_cases[] = {
	{ "empty", L(""), 1 },
	{ "ascii", L("hello, world ~"), 1 },
	{ "ascii NUL", L("a\0b"), 1 },
	{ "ascii DEL", L("\x7f"), 1 },
	{ "2-byte min U+0080", L("\xc2\x80"), 1 },
	{ "2-byte e-acute", L("\xc3\xa9"), 1 },
	{ "2-byte max U+07FF", L("\xdf\xbf"), 1 },
	{ "3-byte min U+0800", L("\xe0\xa0\x80"), 1 },
	{ "3-byte CJK", L("\xe6\x9d\xb1\xe4\xba\xac"), 1 },
	{ "3-byte U+D7FF", L("\xed\x9f\xbf"), 1 },
	{ "3-byte U+E000", L("\xee\x80\x80"), 1 },
	{ "3-byte U+FFFF", L("\xef\xbf\xbf"), 1 },
	{ "4-byte min U+10000", L("\xf0\x90\x80\x80"), 1 },
	{ "4-byte emoji", L("\xf0\x9f\x8c\x8d"), 1 },
	{ "4-byte max U+10FFFF", L("\xf4\x8f\xbf\xbf"), 1 },
	{ "mixed", L("Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x8c\x8d"), 1 },
	{ "overlong C0 80", L("\xc0\x80"), 0 },
	{ "overlong C1 BF", L("\xc1\xbf"), 0 },
	{ "overlong E0 80 80", L("\xe0\x80\x80"), 0 },
	{ "overlong E0 9F BF", L("\xe0\x9f\xbf"), 0 },
	{ "overlong F0 80 80 80", L("\xf0\x80\x80\x80"), 0 },
	{ "overlong F0 8F BF BF", L("\xf0\x8f\xbf\xbf"), 0 },
	{ "surrogate ED A0 80", L("\xed\xa0\x80"), 0 },
	{ "surrogate ED BF BF", L("\xed\xbf\xbf"), 0 },
	{ "> U+10FFFF F4 90 80 80", L("\xf4\x90\x80\x80"), 0 },
	{ "F5 lead", L("\xf5\x80\x80\x80"), 0 },
	{ "FF byte", L("\xff"), 0 },
	{ "FE byte", L("\xfe"), 0 },
	{ "truncated 2-byte", L("\xc3"), 0 },
	{ "truncated 3-byte (1 of 2)", L("\xe6\x9d"), 0 },
	{ "truncated 4-byte (2 of 3)", L("\xf0\x9f\x8c"), 0 },
	{ "truncated then ascii", L("\xe6\x9d" "a"), 0 },
	{ "truncated at end after valid", L("ok\xc3"), 0 },
	{ "stray continuation 80", L("\x80"), 0 },
	{ "stray continuation after ascii", L("a\xbf"), 0 },
	{ "extra continuation", L("\xc3\xa9\xa9"), 0 },
	{ "lead followed by lead", L("\xc3\xc3"), 0 },
};

START_TEST(test_utf8_valid)
{
	int	 got = utf8_valid(utf8_cases[_i].s, utf8_cases[_i].n);

	ck_assert_msg(got == utf8_cases[_i].valid,
	    "utf8_valid case \"%s\" (%s): got %d, expected %d",
	    utf8_cases[_i].name, check_show(utf8_cases[_i].s, utf8_cases[_i].n),
	    got, utf8_cases[_i].valid);
}
END_TEST

/* ---- json_str ------------------------------------------------------ */

static const struct {
	const char	*name;
	const char	*in;
	size_t		 n;
	const char	*out;
} str_cases[] = {
	{ "empty", L(""), "\"\"" },
	{ "plain", L("abc"), "\"abc\"" },
	{ "quote", L("a\"b"), "\"a\\\"b\"" },
	{ "backslash", L("a\\b"), "\"a\\\\b\"" },
	{ "slash unescaped", L("a/b"), "\"a/b\"" },
	{ "newline", L("a\nb"), "\"a\\nb\"" },
	{ "cr", L("\r"), "\"\\r\"" },
	{ "tab", L("\t"), "\"\\t\"" },
	{ "backspace as u0008", L("\b"), "\"\\u0008\"" },
	{ "formfeed as u000c", L("\f"), "\"\\u000c\"" },
	{ "0x01", L("\x01"), "\"\\u0001\"" },
	{ "0x1f", L("\x1f"), "\"\\u001f\"" },
	{ "0x1b escape", L("x\x1by"), "\"x\\u001by\"" },
	{ "DEL", L("\x7f"), "\"\\u007f\"" },
	{ "space kept", L(" "), "\" \"" },
	{ "embedded NUL", L("a\0b"), "\"a\\u0000b\"" },
	{ "only NULs", L("\0\0"), "\"\\u0000\\u0000\"" },
	{ "U+2028", L("\xe2\x80\xa8"), "\"\\u2028\"" },
	{ "U+2029 in text", L("a\xe2\x80\xa9z"), "\"a\\u2029z\"" },
	{ "U+2027 kept", L("\xe2\x80\xa7"), "\"\xe2\x80\xa7\"" },
	{ "U+202A kept", L("\xe2\x80\xaa"), "\"\xe2\x80\xaa\"" },
	{ "2-byte kept", L("Z\xc3\xbcrich"), "\"Z\xc3\xbcrich\"" },
	{ "3-byte kept", L("\xe6\x9d\xb1\xe4\xba\xac"),
	    "\"\xe6\x9d\xb1\xe4\xba\xac\"" },
	{ "4-byte kept", L("\xf0\x9f\x8c\x8d"), "\"\xf0\x9f\x8c\x8d\"" },
	{ "C1 U+0085 kept raw", L("\xc2\x85"), "\"\xc2\x85\"" },
	{ "mixed", L("\"\\\n\x01\xe2\x80\xa8\xc3\xa9"),
	    "\"\\\"\\\\\\n\\u0001\\u2028\xc3\xa9\"" },
};

START_TEST(test_json_str)
{
	struct buf b;
	size_t	 want = strlen(str_cases[_i].out);

	buf_init(&b, 0);
	json_str(&b, str_cases[_i].in, str_cases[_i].n);
	ck_assert_msg(!b.failed, "json_str case \"%s\": buffer failed",
	    str_cases[_i].name);
	ck_assert_msg(b.len == want && memcmp(b.data, str_cases[_i].out,
	    want) == 0,
	    "json_str case \"%s\": got [%s], expected [%s]",
	    str_cases[_i].name, check_show(b.data, b.len),
	    check_show(str_cases[_i].out, want));
	buf_free(&b);
}
END_TEST

/* Every json_str output must be valid UTF-8 and free of raw controls. */
START_TEST(test_json_str_output_clean)
{
	struct buf b;
	char	 all[256];
	size_t	 i;

	for (i = 0; i < 128; i++)
		all[i] = (char)i;
	buf_init(&b, 0);
	json_str(&b, all, 128);
	ck_assert_msg(!b.failed, "json_str all ASCII: buffer failed");
	ck_assert_msg(utf8_valid(b.data, b.len),
	    "json_str all ASCII: output not UTF-8");
	for (i = 0; i < b.len; i++)
		ck_assert_msg((unsigned char)b.data[i] >= 0x20 &&
		    b.data[i] != 0x7f,
		    "json_str all ASCII: raw byte 0x%02x at %zu in output",
		    (unsigned char)b.data[i], i);
	buf_free(&b);
}
END_TEST

/* ---- json_unescape ------------------------------------------------- */

static const struct {
	const char	*name;
	const char	*in;
	size_t		 n;
	size_t		 cap;
	const char	*out;		/* NULL: must fail */
	size_t		 outlen;
	const char	*why;		/* substring of *why on failure */
} unesc_cases[] = {
	{ "empty", L(""), 16, "", 0, NULL },
	{ "plain", L("abc"), 16, "abc", 3, NULL },
	{ "quote", L("\\\""), 16, "\"", 1, NULL },
	{ "backslash", L("\\\\"), 16, "\\", 1, NULL },
	{ "slash", L("\\/"), 16, "/", 1, NULL },
	{ "b", L("\\b"), 16, "\b", 1, NULL },
	{ "f", L("\\f"), 16, "\f", 1, NULL },
	{ "n", L("\\n"), 16, "\n", 1, NULL },
	{ "r", L("\\r"), 16, "\r", 1, NULL },
	{ "t", L("\\t"), 16, "\t", 1, NULL },
	{ "all simple", L("\\\"\\\\\\/\\b\\f\\n\\r\\t"), 16,
	    "\"\\/\b\f\n\r\t", 8, NULL },
	{ "u0041", L("\\u0041"), 16, "A", 1, NULL },
	{ "u0041 mid", L("x\\u0041y"), 16, "xAy", 3, NULL },
	{ "uppercase hex", L("\\u00E9"), 16, "\xc3\xa9", 2, NULL },
	{ "lowercase hex", L("\\u00e9"), 16, "\xc3\xa9", 2, NULL },
	{ "u07ff", L("\\u07ff"), 16, "\xdf\xbf", 2, NULL },
	{ "u0800", L("\\u0800"), 16, "\xe0\xa0\x80", 3, NULL },
	{ "u6771 CJK", L("\\u6771"), 16, "\xe6\x9d\xb1", 3, NULL },
	{ "uffff", L("\\uffff"), 16, "\xef\xbf\xbf", 3, NULL },
	{ "u0000 allowed", L("a\\u0000b"), 16, "a\0b", 3, NULL },
	{ "pair U+1F30D", L("\\ud83c\\udf0d"), 16, "\xf0\x9f\x8c\x8d", 4,
	    NULL },
	{ "pair U+10000", L("\\uD800\\uDC00"), 16, "\xf0\x90\x80\x80", 4,
	    NULL },
	{ "pair U+10FFFF", L("\\udbff\\udfff"), 16, "\xf4\x8f\xbf\xbf", 4,
	    NULL },
	{ "raw UTF-8 kept", L("Z\xc3\xbcrich"), 16, "Z\xc3\xbcrich", 7,
	    NULL },
	{ "DEL raw allowed", L("\x7f"), 16, "\x7f", 1, NULL },
	{ "exact cap", L("abcd"), 4, "abcd", 4, NULL },
	{ "exact cap multibyte", L("\\u6771"), 3, "\xe6\x9d\xb1", 3, NULL },
	{ "lone high", L("\\ud83c"), 16, NULL, 0, "surrogate" },
	{ "lone high then text", L("\\ud83cabcdef"), 16, NULL, 0,
	    "surrogate" },
	{ "high then high", L("\\ud83c\\ud83c"), 16, NULL, 0, "surrogate" },
	{ "high then u0041", L("\\ud83c\\u0041"), 16, NULL, 0, "surrogate" },
	{ "high then bad escape", L("\\ud83c\\n"), 16, NULL, 0, "" },
	{ "lone low", L("\\udf0d"), 16, NULL, 0, "surrogate" },
	{ "low then high", L("\\udc00\\ud800"), 16, NULL, 0, "surrogate" },
	{ "bad hex g", L("\\u00g1"), 16, NULL, 0, "\\u" },
	{ "bad hex space", L("\\u 041"), 16, NULL, 0, "\\u" },
	{ "short u", L("\\u041"), 16, NULL, 0, "\\u" },
	{ "u alone", L("\\u"), 16, NULL, 0, "\\u" },
	{ "bad hex in low half", L("\\ud83c\\udfzz"), 16, NULL, 0, "" },
	{ "truncated escape", L("abc\\"), 16, NULL, 0, "truncated" },
	{ "unknown escape x", L("\\x41"), 16, NULL, 0, "unknown escape" },
	{ "unknown escape a", L("\\a"), 16, NULL, 0, "unknown escape" },
	{ "escaped quote-less apostrophe", L("\\'"), 16, NULL, 0,
	    "unknown escape" },
	{ "raw newline", L("a\nb"), 16, NULL, 0, "control" },
	{ "raw NUL", L("a\0b"), 16, NULL, 0, "control" },
	{ "raw 0x1f", L("\x1f"), 16, NULL, 0, "control" },
	{ "raw tab", L("\t"), 16, NULL, 0, "control" },
	{ "invalid UTF-8 FF", L("a\xff"), 16, NULL, 0, "UTF-8" },
	{ "overlong C0 80", L("\xc0\x80"), 16, NULL, 0, "UTF-8" },
	{ "raw surrogate", L("\xed\xa0\x80"), 16, NULL, 0, "UTF-8" },
	{ "truncated raw seq", L("\xe6\x9d"), 16, NULL, 0, "UTF-8" },
	{ "truncated raw before escape", L("\xc3\\u00a9"), 16, NULL, 0,
	    "UTF-8" },
	{ "cap exceeded raw", L("abcde"), 4, NULL, 0, "too long" },
	{ "cap exceeded escape", L("abc\\n\\n"), 4, NULL, 0, "too long" },
	{ "cap exceeded multibyte", L("ab\\u6771"), 4, NULL, 0, "too long" },
	{ "cap exceeded pair", L("\\ud83c\\udf0d"), 3, NULL, 0, "too long" },
	{ "cap 0", L("a"), 0, NULL, 0, "too long" },
};

START_TEST(test_json_unescape)
{
	char	 out[64];
	const char *why = NULL;
	long	 got;

	memset(out, 0xa5, sizeof(out));
	got = json_unescape(unesc_cases[_i].in, unesc_cases[_i].n, out,
	    unesc_cases[_i].cap, &why);
	if (unesc_cases[_i].out == NULL) {
		ck_assert_msg(got == -1,
		    "json_unescape case \"%s\" (%s): got %ld, expected -1",
		    unesc_cases[_i].name,
		    check_show(unesc_cases[_i].in, unesc_cases[_i].n), got);
		ck_assert_msg(why != NULL && strstr(why,
		    unesc_cases[_i].why) != NULL,
		    "json_unescape case \"%s\": why \"%s\" lacks \"%s\"",
		    unesc_cases[_i].name, why ? why : "(null)",
		    unesc_cases[_i].why);
		return;
	}
	ck_assert_msg(got == (long)unesc_cases[_i].outlen,
	    "json_unescape case \"%s\" (%s): got %ld (%s), expected %zu",
	    unesc_cases[_i].name, check_show(unesc_cases[_i].in, unesc_cases[_i].n),
	    got, got == -1 && why ? why : "", unesc_cases[_i].outlen);
	ck_assert_msg(memcmp(out, unesc_cases[_i].out,
	    unesc_cases[_i].outlen) == 0,
	    "json_unescape case \"%s\": got [%s], expected [%s]",
	    unesc_cases[_i].name, check_show(out, (size_t)got),
	    check_show(unesc_cases[_i].out, unesc_cases[_i].outlen));
	/* Nothing written past cap. */
	ck_assert_msg((unsigned char)out[unesc_cases[_i].cap] == 0xa5,
	    "json_unescape case \"%s\": wrote past cap",
	    unesc_cases[_i].name);
}
END_TEST

/* out == NULL validates only; same verdict, decoded length, cap ignored. */
START_TEST(test_json_unescape_validate_only)
{
	const char *why = NULL;
	long	 got;

	/* The cap-exceeded cases are valid strings: NULL mode has no cap. */
	got = json_unescape(unesc_cases[_i].in, unesc_cases[_i].n, NULL, 0,
	    &why);
	if (unesc_cases[_i].out == NULL &&
	    strcmp(unesc_cases[_i].why, "too long") != 0) {
		ck_assert_msg(got == -1,
		    "json_unescape(NULL) case \"%s\": got %ld, expected -1",
		    unesc_cases[_i].name, got);
		ck_assert_msg(why != NULL && strstr(why,
		    unesc_cases[_i].why) != NULL,
		    "json_unescape(NULL) case \"%s\": why \"%s\" lacks \"%s\"",
		    unesc_cases[_i].name, why ? why : "(null)",
		    unesc_cases[_i].why);
		return;
	}
	if (unesc_cases[_i].out == NULL) {
		char	 big[64];
		long	 want = json_unescape(unesc_cases[_i].in,
		    unesc_cases[_i].n, big, sizeof(big), &why);

		ck_assert_msg(want >= 0 && got == want,
		    "json_unescape(NULL) case \"%s\": got %ld, expected %ld",
		    unesc_cases[_i].name, got, want);
		return;
	}
	ck_assert_msg(got == (long)unesc_cases[_i].outlen,
	    "json_unescape(NULL) case \"%s\": got %ld, expected %zu",
	    unesc_cases[_i].name, got, unesc_cases[_i].outlen);
}
END_TEST

/* ---- round trip: json_str -> strip quotes -> json_unescape ---------- */

static const struct {
	const char	*name;
	const char	*s;
	size_t		 n;
} rt_cases[] = {
	{ "ascii", L("user-42") },
	{ "zurich tokyo earth",
	    L("Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac-\xf0\x9f\x8c\x8d") },
	{ "quotes and backslashes", L("a\"b\\c\"\\") },
	{ "controls", L("\x01\x02\n\r\t\b\f\x1f") },
	{ "DEL", L("x\x7fy") },
	{ "NUL inside", L("a\0b\0") },
	{ "U+2028 U+2029", L("\xe2\x80\xa8\xe2\x80\xa9") },
	{ "C1 U+0085", L("\xc2\x85") },
	{ "max code point", L("\xf4\x8f\xbf\xbf") },
	{ "BOM", L("\xef\xbb\xbf" "id") },
	{ "cyrillic greek arabic",
	    L("\xd0\x9c\xd0\xbe\xd1\x81\xce\xb1\xd8\xb9") },
	{ "slash", L("a/b") },
};

START_TEST(test_round_trip)
{
	struct buf b;
	char	 out[256];
	const char *why = NULL;
	long	 got;

	buf_init(&b, 0);
	json_str(&b, rt_cases[_i].s, rt_cases[_i].n);
	ck_assert_msg(!b.failed && b.len >= 2 && b.data[0] == '"' &&
	    b.data[b.len - 1] == '"',
	    "round trip case \"%s\": json_str did not quote", rt_cases[_i].name);
	got = json_unescape(b.data + 1, b.len - 2, out, sizeof(out), &why);
	ck_assert_msg(got == (long)rt_cases[_i].n &&
	    memcmp(out, rt_cases[_i].s, rt_cases[_i].n) == 0,
	    "round trip case \"%s\": [%s] -> [%s] -> %ld [%s] (%s)",
	    rt_cases[_i].name, check_show(rt_cases[_i].s, rt_cases[_i].n),
	    check_show(b.data, b.len), got, got > 0 ? check_show(out, (size_t)got) : "",
	    got == -1 && why ? why : "");
	buf_free(&b);
}
END_TEST

/* ---- json_number_valid -------------------------------------------- */

static const struct {
	const char	*s;
	int		 valid;
} jnum_cases[] = {
	{ "0", 1 }, { "-0", 1 }, { "1", 1 }, { "-1", 1 }, { "123", 1 },
	{ "1.5", 1 }, { "-1.5", 1 }, { "0.5", 1 }, { "1.5e10", 1 },
	{ "1.5E+3", 1 }, { "1e-3", 1 }, { "1E3", 1 }, { "0e0", 1 },
	{ "-0.0e-0", 1 }, { "4294967296", 1 },
	{ "", 0 }, { "-", 0 }, { "+1", 0 }, { "1.", 0 }, { ".5", 0 },
	{ "01", 0 }, { "-01", 0 }, { "00", 0 }, { "1e", 0 }, { "1e+", 0 },
	{ "1E-", 0 }, { "1.e3", 0 }, { "1.5.5", 0 }, { "1e5e5", 0 },
	{ "--1", 0 }, { "NaN", 0 }, { "Infinity", 0 }, { "-Infinity", 0 },
	{ "0x10", 0 }, { "1 ", 0 }, { " 1", 0 }, { "1a", 0 }, { "e3", 0 },
	{ "-e3", 0 }, { "true", 0 }, { "null", 0 },
};

START_TEST(test_json_number_valid)
{
	int	 got = json_number_valid(jnum_cases[_i].s,
	    strlen(jnum_cases[_i].s));

	ck_assert_msg(got == jnum_cases[_i].valid,
	    "json_number_valid case \"%s\": got %d, expected %d",
	    jnum_cases[_i].s, got, jnum_cases[_i].valid);
}
END_TEST

/* ---- buf ----------------------------------------------------------- */

START_TEST(test_buf_growth)
{
	static const size_t sizes[] = { 1, 255, 256, 257, 1000, 4096, 100000 };
	size_t	 k, i;

	for (k = 0; k < NELEM(sizes); k++) {
		struct buf b;
		const char *s;

		buf_init(&b, 0);
		for (i = 0; i < sizes[k]; i++)
			buf_addc(&b, (char)('a' + i % 26));
		s = buf_cstr(&b);
		ck_assert_msg(s != NULL && !b.failed && b.len == sizes[k],
		    "buf growth case %zu bytes: len %zu failed %d",
		    sizes[k], b.len, b.failed);
		ck_assert_msg(b.cap > b.len && s[b.len] == '\0',
		    "buf growth case %zu bytes: no room for NUL (cap %zu)",
		    sizes[k], b.cap);
		for (i = 0; i < sizes[k]; i++)
			ck_assert_msg(s[i] == (char)('a' + i % 26),
			    "buf growth case %zu bytes: byte %zu wrong",
			    sizes[k], i);
		/* Reuse after reset keeps the storage. */
		buf_reset(&b);
		ck_assert_msg(b.len == 0 && strcmp(buf_cstr(&b), "") == 0,
		    "buf growth case %zu bytes: reset did not empty",
		    sizes[k]);
		buf_adds(&b, "again");
		ck_assert_msg(strcmp(buf_cstr(&b), "again") == 0,
		    "buf growth case %zu bytes: append after reset", sizes[k]);
		buf_free(&b);
		ck_assert_msg(b.data == NULL && b.len == 0,
		    "buf growth case %zu bytes: free did not clear", sizes[k]);
	}
}
END_TEST

/* How much a buffer holds before buf_reset: does it keep its storage? */
static const struct {
	const char	*name;
	size_t		 n;
	int		 kept;
} reset_cases[] = {
	{ "small", 1000, 1 },
	{ "just under the bound (cap BUF_KEEP)", BUF_KEEP - 1, 1 },
	{ "at the bound (cap over it)", BUF_KEEP, 0 },
	{ "a big answer", 1024 * 1024, 0 },
};

START_TEST(test_buf_reset_keep)
{
	struct buf b;
	char	*fill, *before;
	size_t	 cap;

	fill = malloc(reset_cases[_i].n);
	ck_assert_ptr_nonnull(fill);
	memset(fill, 'x', reset_cases[_i].n);
	buf_init(&b, 0);
	buf_add(&b, fill, reset_cases[_i].n);
	ck_assert_msg(!b.failed && b.len == reset_cases[_i].n,
	    "buf reset case \"%s\": filling failed", reset_cases[_i].name);
	before = b.data;
	cap = b.cap;
	buf_reset(&b);
	if (reset_cases[_i].kept)
		ck_assert_msg(b.data == before && b.cap == cap,
		    "buf reset case \"%s\": storage of %zu given back",
		    reset_cases[_i].name, cap);
	else
		ck_assert_msg(b.data == NULL && b.cap == 0,
		    "buf reset case \"%s\": storage of %zu kept (bound %d)",
		    reset_cases[_i].name, b.cap, BUF_KEEP);
	ck_assert_msg(b.len == 0 && !b.failed,
	    "buf reset case \"%s\": not empty", reset_cases[_i].name);
	buf_adds(&b, "again");
	ck_assert_msg(strcmp(buf_cstr(&b), "again") == 0,
	    "buf reset case \"%s\": append after reset", reset_cases[_i].name);
	buf_free(&b);
	free(fill);
}
END_TEST

static const struct {
	const char	*name;
	size_t		 limit;
	size_t		 first;		/* bytes appended first */
	size_t		 second;	/* then these */
	int		 failed;	/* expected after second */
	size_t		 len;		/* expected len at the end */
} limit_cases[] = {
	{ "under limit", 10, 4, 5, 0, 9 },
	{ "exactly limit", 10, 5, 5, 0, 10 },
	{ "one over", 10, 5, 6, 1, 5 },
	{ "first over", 10, 11, 1, 1, 0 },
	{ "big limit", 5000, 4000, 1000, 0, 5000 },
	{ "big over", 5000, 4000, 1001, 1, 4000 },
};

START_TEST(test_buf_limit)
{
	struct buf b;
	char	 fill[8192];

	memset(fill, 'x', sizeof(fill));
	buf_init(&b, limit_cases[_i].limit);
	buf_add(&b, fill, limit_cases[_i].first);
	buf_add(&b, fill, limit_cases[_i].second);
	ck_assert_msg(b.failed == limit_cases[_i].failed,
	    "buf limit case \"%s\": failed %d, expected %d",
	    limit_cases[_i].name, b.failed, limit_cases[_i].failed);
	ck_assert_msg(b.len == limit_cases[_i].len,
	    "buf limit case \"%s\": len %zu, expected %zu",
	    limit_cases[_i].name, b.len, limit_cases[_i].len);
	if (limit_cases[_i].failed) {
		size_t	 len = b.len;

		/* Further appends of every kind are ignored. */
		buf_addc(&b, 'y');
		buf_adds(&b, "z");
		buf_add(&b, "w", 1);
		buf_printf(&b, "%d", 7);
		ck_assert_msg(b.failed && b.len == len,
		    "buf limit case \"%s\": append after failure changed "
		    "len to %zu", limit_cases[_i].name, b.len);
		ck_assert_msg(buf_cstr(&b) == NULL,
		    "buf limit case \"%s\": buf_cstr not NULL when failed",
		    limit_cases[_i].name);
		buf_reset(&b);
		ck_assert_msg(!b.failed && b.len == 0,
		    "buf limit case \"%s\": reset did not clear failure",
		    limit_cases[_i].name);
		buf_adds(&b, "ok");
		ck_assert_msg(buf_cstr(&b) != NULL &&
		    strcmp(buf_cstr(&b), "ok") == 0,
		    "buf limit case \"%s\": append after reset",
		    limit_cases[_i].name);
	} else {
		ck_assert_msg(buf_cstr(&b) != NULL,
		    "buf limit case \"%s\": buf_cstr NULL at len == limit",
		    limit_cases[_i].name);
	}
	buf_free(&b);
}
END_TEST

static const struct {
	const char	*name;
	size_t		 width;		/* %*s padding */
	size_t		 limit;
	int		 failed;
} printf_cases[] = {
	{ "short", 10, 0, 0 },
	{ "254 total", 250, 0, 0 },
	{ "255 total", 251, 0, 0 },
	{ "256 total", 252, 0, 0 },
	{ "257 total", 253, 0, 0 },
	{ "1000 total", 996, 0, 0 },
	{ "100000 total", 99996, 0, 0 },
	{ "long exactly at limit", 996, 1000, 0 },
	{ "long one over limit", 996, 999, 1 },
};

START_TEST(test_buf_printf)
{
	struct buf b;
	char	*want;
	size_t	 w = printf_cases[_i].width, n;

	/* The buffer already holds a prefix, so vsnprintf must append. */
	buf_init(&b, printf_cases[_i].limit);
	buf_adds(&b, "<>");
	buf_printf(&b, "%*s%s", (int)w, "a", "!b");
	n = w + 2;
	want = malloc(n + 3);
	ck_assert_ptr_nonnull(want);
	memcpy(want, "<>", 2);
	memset(want + 2, ' ', w - 1);
	memcpy(want + 2 + w - 1, "a!b", 3);
	ck_assert_msg(b.failed == printf_cases[_i].failed,
	    "buf_printf case \"%s\": failed %d, expected %d",
	    printf_cases[_i].name, b.failed, printf_cases[_i].failed);
	if (!b.failed) {
		const char *s = buf_cstr(&b);

		ck_assert_msg(s != NULL && b.len == n + 2 &&
		    memcmp(s, want, n + 2) == 0 && s[n + 2] == '\0',
		    "buf_printf case \"%s\": len %zu, expected %zu",
		    printf_cases[_i].name, b.len, n + 2);
	} else
		ck_assert_msg(b.len == 2,
		    "buf_printf case \"%s\": len %zu after failure",
		    printf_cases[_i].name, b.len);
	free(want);
	buf_free(&b);
}
END_TEST

static const unsigned long long addu_cases[] = {
	0, 1, 9, 10, 99, 100, 4294967295ULL, 4294967296ULL,
	1000000000000000000ULL, 18446744073709551615ULL,
};

/* buf_addu writes what printf's %llu writes, after a prefix. */
START_TEST(test_buf_addu)
{
	struct buf b;
	char	 want[32];
	const char *s;

	buf_init(&b, 0);
	buf_adds(&b, "x=");
	buf_addu(&b, addu_cases[_i]);
	snprintf(want, sizeof(want), "x=%llu", addu_cases[_i]);
	s = buf_cstr(&b);
	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(s, want);
	ck_assert_uint_eq(b.len, strlen(want));
	buf_free(&b);
}
END_TEST

/* ---- runner -------------------------------------------------------- */

static Suite *
json_suite(void)
{
	Suite	*s = suite_create("json");
	TCase	*tc;

	tc = tcase_create("utf8_valid");
	tcase_add_loop_test(tc, test_utf8_valid, 0, NELEM(utf8_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("json_str");
	tcase_add_loop_test(tc, test_json_str, 0, NELEM(str_cases));
	tcase_add_test(tc, test_json_str_output_clean);
	suite_add_tcase(s, tc);

	tc = tcase_create("json_unescape");
	tcase_add_loop_test(tc, test_json_unescape, 0, NELEM(unesc_cases));
	tcase_add_loop_test(tc, test_json_unescape_validate_only, 0,
	    NELEM(unesc_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("round_trip");
	tcase_add_loop_test(tc, test_round_trip, 0, NELEM(rt_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("json_number_valid");
	tcase_add_loop_test(tc, test_json_number_valid, 0, NELEM(jnum_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("buf");
	tcase_add_test(tc, test_buf_growth);
	tcase_add_loop_test(tc, test_buf_limit, 0, NELEM(limit_cases));
	tcase_add_loop_test(tc, test_buf_reset_keep, 0, NELEM(reset_cases));
	tcase_add_loop_test(tc, test_buf_printf, 0, NELEM(printf_cases));
	tcase_add_loop_test(tc, test_buf_addu, 0, NELEM(addu_cases));
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return check_run(json_suite());
}
