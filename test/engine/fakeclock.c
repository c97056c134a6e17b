/*
 * fakeclock: the time the engine and libevent see in the engine tests.
 *
 * Both call clock_gettime() through the dynamic linker, so defining it in
 * the test executable takes the call for every monotonic clock (libevent
 * 2.1 reads CLOCK_MONOTONIC_COARSE unless asked for precise timers; the
 * engine reads CLOCK_MONOTONIC).  Other clocks pass through to the kernel.
 *
 * Time moves only when the loop has nothing to do: libevent's epoll
 * backend asks epoll_wait() to sleep until its next timer, and the
 * epoll_wait() defined here polls without sleeping instead and, when
 * nothing is ready, moves the clock by exactly the time libevent wanted to
 * sleep.  Every peer and the engine share the process, so "nothing ready"
 * means nothing will ever be until a timer fires: a 300 s SMTP timeout
 * passes in microseconds, at the exact fake instant it is due.  A loop
 * that would sleep for ever (no timer, nothing ready) is stuck: the clock
 * breaks the loop and tells the driver.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Fake monotonic time in nanoseconds; starts well away from zero so that
 * nothing mistakes it for "unset". */
static uint64_t now_ns = 100000ull * 1000000000ull;
/* The loop asked to sleep for ever with nothing ready. */
static bool stuck;
/* The base to break when stuck (the driver's). */
static struct event_base *watched;
/* Real epoll_wait() calls that found nothing and moved the clock. */
static uint64_t jumps;

/* Whether a clock is one the fake replaces. */
static bool is_fake(clockid_t id)
{
	return id == CLOCK_MONOTONIC || id == CLOCK_MONOTONIC_COARSE ||
	       id == CLOCK_MONOTONIC_RAW || id == CLOCK_BOOTTIME;
}

/* The interposed clock_gettime(): fake for monotonic clocks. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	if (!is_fake(id))
		return (int)syscall(SYS_clock_gettime, id, ts);
	ts->tv_sec = (time_t)(now_ns / 1000000000ull);
	ts->tv_nsec = (long)(now_ns % 1000000000ull);
	return 0;
}

/*
 * The interposed epoll_wait(): never sleeps.  Polls; when nothing is ready
 * moves the clock by the wait asked for (libevent's next timer), or, when
 * asked to wait for ever, reports the loop stuck.
 */
int epoll_wait(int epfd, struct epoll_event *events, int maxevents,
               int timeout)
{
	int n = (int)syscall(SYS_epoll_pwait, epfd, events, maxevents, 0,
	                     NULL, (size_t)8);
	if (n != 0 || timeout == 0)
		return n;
	if (timeout < 0) {
		stuck = true;
		if (watched != NULL)
			event_base_loopbreak(watched);
		return 0;
	}
	now_ns += (uint64_t)timeout * 1000000ull;
	jumps++;
	return 0;
}

/* Milliseconds of fake time. */
uint64_t fakeclock_ms(void)
{
	return now_ns / 1000000ull;
}

/* Moves the fake clock forward. */
void fakeclock_advance_ms(uint64_t ms)
{
	now_ns += ms * 1000000ull;
}

/* Watches a loop: clears the stuck flag and remembers whom to break. */
void fakeclock_watch(struct event_base *base)
{
	watched = base;
	stuck = false;
}

/* True when the watched loop had nothing left to wait for. */
bool fakeclock_stuck(void)
{
	return stuck;
}

/* How many times the clock jumped to a timer. */
uint64_t fakeclock_jumps(void)
{
	return jumps;
}
