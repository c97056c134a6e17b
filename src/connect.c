/*
 * connect: happy eyeballs (RFC 8305) as one level-triggered run() and one
 * stagger timer.  Every change (a target added, an attempt that failed, the
 * delay that expired) schedules run(), which looks at the whole race and
 * decides what to start next or whether it is over.  Deciding from one place
 * keeps the rules readable and the owner's callback off our own stack.
 * Each attempt goes through the engine's transport (direct, SOCKS5 or a
 * proxy command), so the race is the same whichever carries it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "connect.h"
#include "transport.h"

/* Where one target stands. */
enum target_state {
	TARGET_NEW,     /* not tried yet */
	TARGET_PENDING, /* connect() in progress */
	TARGET_FAILED,  /* refused, unreachable or timed out */
	TARGET_WON      /* connected; its socket went to the owner */
};

struct target {
	struct sockaddr_storage addr;
	enum target_state state;
	char mx[256];           /* its MX host name (for %n and logs) */
	struct transport_attempt *attempt; /* while pending */
	struct he *he;          /* back pointer for the attempt's callback */
	char error[900];        /* why it failed */
};

struct he {
	struct event_base *base;
	struct transport *transport;
	const struct config *config;          /* for the transport's logs */
	uint64_t delivery_id;             /* for log lines */
	unsigned port;
	unsigned attempt_ms;
	he_callback *cb;
	void *arg;
	struct target **targets; /* in trying order; pointers stay put */
	size_t count, cap;
	size_t next;             /* first target not started */
	bool input_closed;       /* he_close_input() called */
	bool over;               /* the callback has been called */
	struct timespec last_start; /* when the latest attempt started */
	bool started_any;
	struct event *ev_run;    /* runs run() from the loop */
	struct event *ev_delay;  /* the Connection Attempt Delay */
};

static void run(struct he *he);

/* Asks for run() from a fresh event. */
static void schedule(struct he *he)
{
	if (!he->over)
		event_active(he->ev_run, EV_TIMEOUT, 0);
}

/* Abandons a pending attempt. */
static void close_target(struct target *t)
{
	transport_cancel(t->attempt);
	t->attempt = NULL;
}

/* Marks a target failed with a reason. */
static void target_failed(struct target *t, const char *why)
{
	close_target(t);
	t->state = TARGET_FAILED;
	snprintf(t->error, sizeof t->error, "%s", why);
}

/* Ends the race with a winner: close the rest, hand over the socket. */
static void win(struct he *he, struct target *t, size_t index, int fd)
{
	t->attempt = NULL; /* it ended by giving us fd */
	t->state = TARGET_WON;
	for (size_t i = 0; i < he->count; i++)
		if (he->targets[i]->state == TARGET_PENDING) {
			close_target(he->targets[i]);
			he->targets[i]->state = TARGET_NEW; /* not failed: abandoned */
		}
	he->over = true;
	event_del(he->ev_delay);
	he->cb(he->arg, fd, index); /* last: the owner may free us */
}

/* An attempt ended: connected, or failed (refused, timed out ...). */
static void on_attempt(void *arg, int fd, const char *why)
{
	struct target *t = arg;
	struct he *he = t->he;
	size_t index = 0;
	while (he->targets[index] != t)
		index++;
	t->attempt = NULL; /* the transport freed it */
	if (fd < 0) {
		target_failed(t, why);
		run(he);
		return;
	}
	win(he, t, index, fd);
}

/* Starts an attempt on one target.  Returns false if it could not. */
static bool start(struct he *he, struct target *t)
{
	clock_gettime(CLOCK_MONOTONIC, &he->last_start);
	he->started_any = true;
	t->attempt = transport_connect(he->transport, he->config, he->delivery_id,
	                               &t->addr, he->port, t->mx,
	                               he->attempt_ms, on_attempt, t);
	if (t->attempt == NULL) {
		target_failed(t, "out of memory");
		return false;
	}
	t->state = TARGET_PENDING;
	return true;
}

/* Milliseconds since the latest attempt started. */
static long since_last_start(const struct he *he)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - he->last_start.tv_sec) * 1000L +
	       (now.tv_nsec - he->last_start.tv_nsec) / 1000000L;
}

/*
 * Looks at the whole race: start the next attempt if nothing is pending or
 * the delay has passed; arm the delay while attempts are pending; report
 * failure when every target failed and no more will come.
 */
static void run(struct he *he)
{
	if (he->over)
		return;
	for (;;) {
		size_t pending = 0;
		for (size_t i = 0; i < he->next; i++)
			if (he->targets[i]->state == TARGET_PENDING)
				pending++;
		if (he->next == he->count) {
			if (pending == 0 && he->input_closed) {
				he->over = true;
				event_del(he->ev_delay);
				he->cb(he->arg, -1, 0); /* last: may free us */
			}
			return;
		}
		long waited = since_last_start(he);
		if (pending > 0 && he->started_any &&
		    waited < HE_ATTEMPT_DELAY_MS) {
			long left = HE_ATTEMPT_DELAY_MS - waited;
			struct timeval tv = { .tv_sec = 0, .tv_usec = left * 1000 };
			event_add(he->ev_delay, &tv);
			return;
		}
		if (start(he, he->targets[he->next++]))
			continue; /* look again: maybe more to start later */
	}
}

/* run() from the loop. */
static void on_run(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run(arg);
}

/* Creates a race. */
struct he *he_new(const struct config *config,
                  uint64_t delivery_id, unsigned attempt_ms,
                  he_callback *cb, void *arg)
{
	struct he *he = calloc(1, sizeof *he);
	if (he == NULL)
		return NULL;
	struct event_base *base = config->base;
	he->base = base;
	he->transport = config->transport;
	he->config = config;
	he->delivery_id = delivery_id;
	unsigned port = config->port;
	he->port = port;
	he->attempt_ms = attempt_ms;
	he->cb = cb;
	he->arg = arg;
	he->ev_run = event_new(base, -1, 0, on_run, he);
	he->ev_delay = evtimer_new(base, on_run, he);
	if (he->ev_run == NULL || he->ev_delay == NULL) {
		he_free(he);
		return NULL;
	}
	return he;
}

/* Closes everything pending and frees the race. */
void he_free(struct he *he)
{
	if (he == NULL)
		return;
	for (size_t i = 0; i < he->count; i++) {
		close_target(he->targets[i]);
		free(he->targets[i]);
	}
	free(he->targets);
	if (he->ev_run != NULL)
		event_free(he->ev_run);
	if (he->ev_delay != NULL)
		event_free(he->ev_delay);
	free(he);
}

/* Appends a target. */
int he_add(struct he *he, const struct sockaddr_storage *addr,
           const char *mx)
{
	if (he->count == he->cap) {
		size_t cap = he->cap ? he->cap * 2 : 8;
		struct target **p = realloc(he->targets, cap * sizeof *p);
		if (p == NULL)
			return -1;
		he->targets = p;
		he->cap = cap;
	}
	struct target *t = calloc(1, sizeof *t);
	if (t == NULL)
		return -1;
	t->addr = *addr;
	snprintf(t->mx, sizeof t->mx, "%s", mx);
	t->he = he;
	he->targets[he->count] = t;
	schedule(he);
	return (int)he->count++;
}

/* No more targets will come. */
void he_close_input(struct he *he)
{
	he->input_closed = true;
	schedule(he);
}

/* Targets added so far. */
size_t he_count(const struct he *he)
{
	return he->count;
}

/* Why a target failed. */
const char *he_target_error(const struct he *he, size_t index)
{
	return index < he->count ? he->targets[index]->error : "";
}

/* Writes an address without its port. */
void he_addr_text(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const void *a = ss->ss_family == AF_INET6
		? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
		: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
	if (inet_ntop(ss->ss_family, a, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

/* A target's address. */
const struct sockaddr_storage *he_target_addr(const struct he *he,
                                              size_t index)
{
	return &he->targets[index]->addr;
}
