/*
 * dnscache: the answers every delivery of an engine shares.  Sits between
 * the resolver (dns.c, one attempt per call) and its users (host.c,
 * delivery.c): answers are kept for their TTL, identical lookups in flight
 * share one upstream request, and a lookup is retried with a deadline per
 * attempt, moving through the configured upstreams.
 *
 * What the cache keeps never changes meaning: "found", "does not exist" and
 * "failed" and the DNSSEC status come back exactly as the resolver gave
 * them.  Failures are held for at most a second (so a burst of lookups for a
 * broken name asks once) and are never served as "no records".
 */
#ifndef MXC_DNSCACHE_H
#define MXC_DNSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns.h"

struct event_base;
struct dnscache;
struct dnscache_req;

/* Settings; zero means default. */
struct dnscache_config {
	struct event_base *base;   /* borrowed */
	struct dns *dns;           /* borrowed: where attempts go */
	unsigned timeout_ms;       /* whole lookup, all attempts; 0: 10000 */
	unsigned first_attempt_ms; /* first attempt's deadline, doubled for
	                              each next one; 0: 1000 */
	unsigned max_entries;      /* answers kept at most; 0: 10000 */
	bool no_jitter;            /* exact deadlines (tests) */
	bool tcp_only;             /* every attempt over TCP (measurements) */
	/* Monotonic milliseconds; NULL: CLOCK_MONOTONIC.  Tests pass a fake
	 * clock to step through TTLs. */
	uint64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

/* What the cache did, since it was made. */
struct dnscache_stats {
	uint64_t sent;      /* attempts sent upstream (retries included) */
	uint64_t cached;    /* lookups answered from the cache */
	uint64_t coalesced; /* lookups that joined one already in flight */
	uint64_t retried;   /* attempts after a lookup's first */
	uint64_t timed_out; /* attempts that got no reply in time */
};

/* Creates the cache.  Returns NULL with a reason in err. */
struct dnscache *dnscache_new(const struct dnscache_config *config,
                              char *err, size_t errlen);
/*
 * Cancels every lookup (no callback runs) and frees the cache; the dns is
 * the caller's and must be freed after this.
 */
void dnscache_free(struct dnscache *cache);
/*
 * Looks up `name` (any case, trailing dot or not).  The callback runs
 * exactly once, from the cache's own event (never from inside this call or
 * from inside the resolver), unless cancelled first.  answer->name is the
 * name as given here.  Returns NULL when memory runs out or the name is
 * too long.
 */
struct dnscache_req *dnscache_lookup(struct dnscache *cache, const char *name,
                                     enum dns_type type, dns_callback *cb,
                                     void *arg);
/* Cancels a lookup whose callback has not run; it will not run. */
void dnscache_cancel(struct dnscache_req *req);
/* Copies the counters. */
void dnscache_stats(const struct dnscache *cache, struct dnscache_stats *out);

/*
 * Seconds an answer of this result and TTL is kept: records up to a day,
 * NXDOMAIN/NODATA up to an hour (RFC 2308), failures not at all (their
 * short hold is dnscache_fail_hold_ms()).
 */
uint32_t dnscache_keep_seconds(enum dns_result result, uint32_t ttl);
/* How long the n-th failure in a row (n >= 1) is held: 125 ms doubling,
 * at most 1 s. */
unsigned dnscache_fail_hold_ms(unsigned n);

#endif
