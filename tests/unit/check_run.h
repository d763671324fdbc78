/*
 * check_run.h: the main of a Check unit test, written once: run the
 * suite (forking per test unless CK_FORK=no, as test-valgrind asks) and
 * exit 1 if any check failed.
 */
#ifndef OWM_CHECK_RUN_H
#define OWM_CHECK_RUN_H

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

#endif
