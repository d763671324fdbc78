/*
 * check_run.h: what every Check unit test shares, written once: the
 * main's run of the suite (forking per test unless CK_FORK=no, as
 * test-valgrind asks; exit 1 if any check failed), and bytes shown
 * printably in a failure's message.
 */
#ifndef OWM_CHECK_RUN_H
#define OWM_CHECK_RUN_H

#include <stddef.h>
#include <stdio.h>

#include <check.h>

static inline int
check_run(Suite *s)
{
	SRunner	*sr = srunner_create(s);
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/*
 * Bytes for a message: printable ASCII as is, the rest as \xNN, cut to
 * fit.  Four calls may be used in one message (rotating buffers).
 */
static inline const char *
check_show(const char *s, size_t n)
{
	static char	 out[4][2048];
	static int	 which;
	char		*o = out[which++ & 3];
	size_t		 i, k = 0;

	for (i = 0; i < n && k + 8 < sizeof(out[0]); i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			o[k++] = (char)c;
		else
			k += (size_t)snprintf(o + k, sizeof(out[0]) - k,
			    "\\x%02x", c);
	}
	o[k] = '\0';
	return o;
}

#endif
