/*
 * The end of every Check test program: run the suite, free it, and exit
 * as automake wants (0 when every test passed).
 */
#ifndef CHECK_RUN_H
#define CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int
check_run(Suite *s, enum print_output mode)
{
	SRunner	*sr = srunner_create(s);
	int	 nfailed;

	srunner_run_all(sr, mode);
	nfailed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nfailed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* CHECK_RUN_H */
