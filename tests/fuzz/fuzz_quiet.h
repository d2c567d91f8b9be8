/*
 * The daemon's log lines in a fuzzer: log.c writes them, in the foreground,
 * to stdio's stderr, one or more for each bad input.  At thousands of runs
 * a second they would fill the fuzzer's log, so stdio's stderr goes to
 * /dev/null (glibc lets a program set it).  libFuzzer and the sanitizers
 * write to descriptor 2 themselves, and a harness says why it stops on
 * fuzz_err, the stderr that was: their reports still come out.
 */
#ifndef FUZZ_QUIET_H
#define FUZZ_QUIET_H

#include <stdio.h>
#include <stdlib.h>

static FILE	*fuzz_err;

static void
fuzz_quiet(void)
{
	FILE	*devnull;

	if (fuzz_err != NULL)
		return;
	if ((devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	fuzz_err = stderr;
	stderr = devnull;
}

#endif /* FUZZ_QUIET_H */
