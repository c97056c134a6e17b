/*
 * pool: idle sessions kept for reuse, and sessions on their way out.
 *
 * Every session the pool owns is an entry on one of two lists: idle (READY,
 * with a timer that closes it after the idle limit) or closing (QUIT sent,
 * gone when the session says so).  Lookups walk the idle list, which the
 * max_idle limit keeps short; the oldest idle session makes room for a new
 * one.
 */
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "config.h"
#include "policy.h"
#include "pool.h"
#include "session.h"

#define DEFAULT_MAX_TRANSACTIONS 100
#define DEFAULT_IDLE_MS 5000
#define DEFAULT_MAX_AGE_MS 300000
#define DEFAULT_MAX_IDLE 100

/* One session the pool owns. */
struct entry {
	TAILQ_ENTRY(entry) link;    /* on idle or closing */
	struct pool *pool;
	struct session *session;
	struct sockaddr_storage addr; /* what it is connected to */
	bool idle;                  /* on the idle list (else closing) */
	struct event *timer;        /* idle: closes it when it fires */
};

TAILQ_HEAD(entry_list, entry);

struct pool {
	const struct config *config;
	struct pool_limits limits;
	struct entry_list idle;     /* oldest first */
	struct entry_list closing;
	unsigned nidle;
	struct pool_stats stats;
	bool draining;              /* pool_drain(): keep nothing */
	void (*drained)(void *arg);
	void *drained_arg;
	struct event *ev_drained;   /* calls `drained` from its own event */
};

static void close_entry(struct entry *e);

/* Whether two socket addresses are the same address (port ignored: the
 * engine's one port). */
static bool same_addr(const struct sockaddr_storage *a,
                      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr,
		              sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr,
		              sizeof(struct in6_addr)) == 0;
	return false;
}

/* Calls `drained` when draining and nothing is left. */
static void check_drained(struct pool *p)
{
	if (p->draining && p->drained != NULL && TAILQ_EMPTY(&p->idle) &&
	    TAILQ_EMPTY(&p->closing))
		event_active(p->ev_drained, EV_TIMEOUT, 0);
}

/* The drained event. */
static void on_drained(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	(void)fd;
	(void)what;
	void (*done)(void *) = p->drained;
	p->drained = NULL;
	if (done != NULL)
		done(p->drained_arg);
}

/* Frees an entry (its session is already gone or taken). */
static void free_entry(struct entry *e)
{
	struct pool *p = e->pool;
	if (e->idle) {
		TAILQ_REMOVE(&p->idle, e, link);
		p->nidle--;
	} else {
		TAILQ_REMOVE(&p->closing, e, link);
	}
	if (e->timer != NULL)
		event_free(e->timer);
	free(e);
	check_drained(p);
}

/* A closing session is gone. */
static void on_closed(void *arg)
{
	struct entry *e = arg;
	e->session = NULL; /* it frees itself after this */
	free_entry(e);
}

/* Ends an entry's session: QUIT, and the entry goes when it is closed. */
static void close_entry(struct entry *e)
{
	struct pool *p = e->pool;
	if (e->idle) {
		TAILQ_REMOVE(&p->idle, e, link);
		p->nidle--;
		e->idle = false;
		TAILQ_INSERT_TAIL(&p->closing, e, link);
	}
	if (e->timer != NULL) {
		event_free(e->timer);
		e->timer = NULL;
	}
	session_quit(e->session, on_closed, e); /* may free e at once */
}

/* An idle session's time is up. */
static void on_idle_timer(evutil_socket_t fd, short what, void *arg)
{
	struct entry *e = arg;
	(void)fd;
	(void)what;
	e->pool->stats.closed_idle++;
	close_entry(e);
}

/* Makes a pool. */
struct pool *pool_new(const struct config *config,
                      const struct pool_limits *limits)
{
	struct pool *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->config = config;
	p->limits = *limits;
	if (p->limits.max_transactions == 0)
		p->limits.max_transactions = DEFAULT_MAX_TRANSACTIONS;
	if (p->limits.idle_ms == 0)
		p->limits.idle_ms = DEFAULT_IDLE_MS;
	if (p->limits.max_age_ms == 0)
		p->limits.max_age_ms = DEFAULT_MAX_AGE_MS;
	if (p->limits.max_idle == 0)
		p->limits.max_idle = DEFAULT_MAX_IDLE;
	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->closing);
	p->ev_drained = event_new(config->base, -1, 0, on_drained, p);
	if (p->ev_drained == NULL) {
		free(p);
		return NULL;
	}
	return p;
}

/* Frees every entry of a list, closing its session at once. */
static void free_list(struct entry_list *list)
{
	struct entry *e;
	while ((e = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, e, link);
		session_free(e->session);
		if (e->timer != NULL)
			event_free(e->timer);
		free(e);
	}
}

/* Frees the pool. */
void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	free_list(&p->idle);
	free_list(&p->closing);
	event_free(p->ev_drained);
	free(p);
}

/* Whether a session may carry one more transaction. */
static bool has_room(const struct pool *p, const struct session *s)
{
	return session_usable(s) &&
	       session_transactions(s) < p->limits.max_transactions &&
	       session_age_ms(s) < p->limits.max_age_ms;
}

/* Takes an idle session with exactly this key. */
struct session *pool_take(struct pool *p, const char *mx,
                          const struct sockaddr_storage *addr,
                          const struct policy *policy)
{
	struct entry *e, *next;
	for (e = TAILQ_FIRST(&p->idle); e != NULL; e = next) {
		next = TAILQ_NEXT(e, link);
		struct session *s = e->session;
		if (!same_addr(&e->addr, addr) ||
		    strcmp(session_mx(s), mx) != 0 ||
		    !policy_same(session_policy(s), policy))
			continue;
		if (!has_room(p, s)) { /* the server closed it, or too old */
			p->stats.closed_idle++;
			close_entry(e);
			continue;
		}
		TAILQ_REMOVE(&p->idle, e, link);
		p->nidle--;
		event_free(e->timer);
		free(e);
		p->stats.reused++;
		check_drained(p);
		return s;
	}
	return NULL;
}

/* Takes a session back. */
void pool_put(struct pool *p, struct session *s,
              const struct sockaddr_storage *addr, bool reusable)
{
	struct entry *e = calloc(1, sizeof *e);
	if (e == NULL) {
		session_free(s); /* no memory to be polite with */
		return;
	}
	e->pool = p;
	e->session = s;
	e->addr = *addr;
	bool keep = reusable && !p->draining && has_room(p, s) &&
	            p->limits.max_transactions > 1;
	if (keep)
		e->timer = evtimer_new(p->config->base, on_idle_timer, e);
	if (!keep || e->timer == NULL) {
		TAILQ_INSERT_TAIL(&p->closing, e, link);
		close_entry(e);
		return;
	}
	if (p->nidle >= p->limits.max_idle) { /* room: the oldest goes */
		p->stats.closed_idle++;
		close_entry(TAILQ_FIRST(&p->idle));
	}
	session_park(s);
	e->idle = true;
	TAILQ_INSERT_TAIL(&p->idle, e, link);
	p->nidle++;
	p->stats.kept++;
	struct timeval tv = { p->limits.idle_ms / 1000,
	                      (p->limits.idle_ms % 1000) * 1000 };
	evtimer_add(e->timer, &tv);
}

/* Ends everything idle, and calls done when nothing is left. */
void pool_drain(struct pool *p, void (*done)(void *arg), void *arg)
{
	p->draining = true;
	p->drained = done;
	p->drained_arg = arg;
	while (!TAILQ_EMPTY(&p->idle))
		close_entry(TAILQ_FIRST(&p->idle));
	check_drained(p);
}

/* Copies the counters. */
void pool_stats(const struct pool *p, struct pool_stats *out)
{
	*out = p->stats;
}
