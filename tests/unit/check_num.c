/*
 * check_num.c: unit tests for lib/num.c (strict unsigned decimals).
 *
 * Driven by a table of {input, max, expected} cases; a failing case names
 * itself in its message.
 */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "check_run.h"

#include "num.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const struct {
	const char	*name;
	const char	*s;
	uint64_t	 max;
	int		 rc;
	uint64_t	 val;
} num_cases[] = {
	{ "zero", "0", 100, 0, 0 },
	{ "one", "1", 100, 0, 1 },
	{ "42", "42", 100, 0, 42 },
	{ "at max", "100", 100, 0, 100 },
	{ "over max", "101", 100, -1, 0 },
	{ "max 0 with 0", "0", 0, 0, 0 },
	{ "max 0 with 1", "1", 0, -1, 0 },
	{ "single digit over max 5", "6", 5, -1, 0 },
	{ "leading zero", "01", 100, -1, 0 },
	{ "double zero", "00", 100, -1, 0 },
	{ "plus sign", "+1", 100, -1, 0 },
	{ "minus sign", "-1", 100, -1, 0 },
	{ "minus zero", "-0", 100, -1, 0 },
	{ "empty", "", 100, -1, 0 },
	{ "space", " 1", 100, -1, 0 },
	{ "trailing space", "1 ", 100, -1, 0 },
	{ "fraction", "1.0", 100, -1, 0 },
	{ "exponent", "1e2", 100, -1, 0 },
	{ "hex", "0x10", 100, -1, 0 },
	{ "letter", "1a", 100, -1, 0 },
	{ "uint32 max", "4294967295", 4294967295ULL, 0, 4294967295ULL },
	{ "uint32 max + 1", "4294967296", 4294967295ULL, -1, 0 },
	{ "uint64 max", "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
	{ "2^64 overflow", "18446744073709551616", UINT64_MAX, -1, 0 },
	{ "2^64 + 4 (wraps to small)", "18446744073709551620", UINT64_MAX,
	    -1, 0 },
	{ "21 digits", "100000000000000000000", UINT64_MAX, -1, 0 },
	{ "int64 max", "9223372036854775807", INT64_MAX, 0, INT64_MAX },
	{ "int64 max + 1", "9223372036854775808", INT64_MAX, -1, 0 },
};

START_TEST(test_num_parse_u64)
{
	uint64_t v = 12345;
	int	 rc = num_parse_u64(num_cases[_i].s, strlen(num_cases[_i].s),
	    num_cases[_i].max, &v);

	ck_assert_msg(rc == num_cases[_i].rc,
	    "num_parse_u64 case \"%s\" (\"%s\", max %llu): rc %d, expected %d",
	    num_cases[_i].name, num_cases[_i].s,
	    (unsigned long long)num_cases[_i].max, rc, num_cases[_i].rc);
	if (rc == 0)
		ck_assert_msg(v == num_cases[_i].val,
		    "num_parse_u64 case \"%s\": value %llu, expected %llu",
		    num_cases[_i].name, (unsigned long long)v,
		    (unsigned long long)num_cases[_i].val);
}
END_TEST

/* Bounded by n: digits past n are not read. */
START_TEST(test_num_parse_u64_bounded)
{
	uint64_t v = 0;

	ck_assert_msg(num_parse_u64("12x", 2, 100, &v) == 0 && v == 12,
	    "num_parse_u64 bounded case \"12x\"[0..2): rc/value wrong (%llu)",
	    (unsigned long long)v);
	ck_assert_msg(num_parse_u64("7", 0, 100, &v) == -1,
	    "num_parse_u64 bounded case \"7\"[0..0): accepted");
}
END_TEST

static Suite *
num_suite(void)
{
	Suite	*s = suite_create("num");
	TCase	*tc;

	tc = tcase_create("num_parse_u64");
	tcase_add_loop_test(tc, test_num_parse_u64, 0, NELEM(num_cases));
	tcase_add_test(tc, test_num_parse_u64_bounded);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(num_suite());
}
