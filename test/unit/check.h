/*
 * check: the one assertion every unit test program uses.  CHECK(cond, fmt,
 * ...) counts the check and, when cond is false, prints where and why and
 * counts a failure; a test's main() ends with `return check_report();`.
 * Each test is one file, so the counters can live here.
 */
#ifndef MXC_TEST_CHECK_H
#define MXC_TEST_CHECK_H

#include <stdio.h>

static int checks;   /* checks made */
static int failures; /* checks that did not hold */

#define CHECK(cond, ...)                                                  \
	do {                                                              \
		checks++;                                                 \
		if (!(cond)) {                                            \
			failures++;                                       \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);   \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

/* Prints the tally; returns the exit status (0 only if nothing failed). */
static inline int check_report(void)
{
	printf("%d checks, %d failed\n", checks, failures);
	return failures != 0;
}

#endif
