/*
 * clock: monotonic milliseconds, the one clock of timeouts and ages.
 * Inline, so that a module tested alone (tlscache, dnscache) needs no
 * other file, and a test that interposes clock_gettime() still steers it.
 */
#ifndef MXC_CLOCK_H
#define MXC_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds of CLOCK_MONOTONIC. */
static inline uint64_t clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
