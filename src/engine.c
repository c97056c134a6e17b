/*
 * engine: what all deliveries share.  Holds the configuration, the resolver
 * and the TLS context, the queue of deliveries waiting for a slot and the
 * list of those in flight; starts the next one as each ends.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "delivery.h"
#include "dns.h"
#include "dnscache.h"
#include "pool.h"
#include "queue.h"
#include "tls.h"
#include "tlscache.h"
#include "transport.h"

/* Deliveries in flight when the caller does not say. */
#define DEFAULT_CONCURRENCY 100
/* DNS lookups inside getdns at once: more crashes it under load. */
#define DNS_OUTSTANDING 100
/* Longest DNS lookup, ms, all attempts and validation included. */
#define DNS_TIMEOUT_MS 10000

/* Deliveries in flight per destination when the caller does not say
 * (Postfix's default_destination_concurrency_limit). */
#define DEFAULT_PER_DESTINATION 20

struct mxc_engine {
	struct config config;
	struct queue *queue;          /* every delivery not yet freed */
	unsigned max_concurrent;
	/* The delivery whose completion callback is running, if any: the
	 * callback may free the engine, which must then wait for it. */
	struct mxc_delivery *reporting;
	bool freed;                   /* mxc_engine_free() ran during it */
	bool freeing;                 /* mxc_engine_free() is running: no new
	                                 deliveries, no second free */
	uint64_t last_delivery_id;    /* ids given so far */
	uint64_t last_session_id;
	struct config_turns turns;    /* round trips, for the stats */
};

/* Finds a live delivery for a log line. */
static struct mxc_delivery *find_delivery(const struct mxc_engine *e,
                                          uint64_t id)
{
	return e != NULL && e->queue != NULL ? queue_find(e->queue, id) : NULL;
}

/* A number for a new session. */
uint64_t engine_new_session_id(struct mxc_engine *e)
{
	return ++e->last_session_id;
}

/* The engine's TLS session cache. */
struct tlscache *engine_tlscache(struct mxc_engine *e)
{
	return e->config.tlscache;
}

/* Starts waiting deliveries while the limits allow. */
static void pump(struct mxc_engine *e)
{
	struct mxc_delivery *d;
	while ((d = queue_next(e->queue)) != NULL)
		delivery_start(d);
}

/* A delivery's completion callback is about to run. */
void engine_delivery_reporting(struct mxc_engine *e, struct mxc_delivery *d)
{
	e->reporting = d;
}

/* A delivery's completion callback returned: free it, start the next. */
void engine_delivery_ended(struct mxc_engine *e, struct mxc_delivery *d)
{
	e->reporting = NULL;
	if (e->freed) { /* the callback freed the engine: finish the job */
		delivery_free(d);
		free(e);
		return;
	}
	queue_remove(e->queue, mxc_delivery_id(d));
	delivery_free(d);
	pump(e);
}

/* The EHLO name when none is given: this host's name. */
static void default_helo(char *out, size_t outlen)
{
	if (gethostname(out, outlen) != 0 || out[0] == '\0')
		snprintf(out, outlen, "localhost");
	out[outlen - 1] = '\0';
}

/* Frees what mxc_engine_new() made before it failed; errno = err unless
 * 0 (keep the failing call's).  Returns NULL. */
static struct mxc_engine *undo_new(struct mxc_engine *e, int err)
{
	struct config *c = &e->config;
	queue_free(e->queue);
	pool_free(c->pool);
	transport_free(c->transport);
	tls_ctx_free(c->tls);
	tlscache_free(c->tlscache);
	dnscache_free(c->dnscache); /* before the resolver it uses */
	dns_free(c->dns);
	free(e);
	if (err != 0)
		errno = err;
	return NULL;
}

/* Creates an engine on the caller's loop. */
struct mxc_engine *mxc_engine_new(struct event_base *base,
                                  const struct mxc_engine_options *o,
                                  char *err, size_t errlen)
{
	char scratch[256];
	if (err == NULL) {
		err = scratch;
		errlen = sizeof scratch;
	}
	static const struct mxc_engine_options defaults;
	if (o == NULL)
		o = &defaults;
	if (base == NULL) {
		snprintf(err, errlen, "no event_base given");
		errno = EINVAL;
		return NULL;
	}
	if (o->tls_level > MXC_TLS_DANE_ONLY) {
		snprintf(err, errlen, "unknown TLS level %d", (int)o->tls_level);
		errno = EINVAL;
		return NULL;
	}
	if (o->helo_name != NULL && o->helo_name[0] != '\0') {
		char why[200];
		if (address_check_helo(o->helo_name, why, sizeof why) != 0) {
			snprintf(err, errlen, "bad EHLO name: %s", why);
			errno = EINVAL;
			return NULL;
		}
	}
	if (o->dnssec > MXC_DNSSEC_RESOLVER) {
		snprintf(err, errlen, "unknown DNSSEC mode %d", (int)o->dnssec);
		errno = EINVAL;
		return NULL;
	}
	if (o->port > 65535) {
		snprintf(err, errlen, "port %u is out of range", o->port);
		errno = EINVAL;
		return NULL;
	}
	struct mxc_engine *e = calloc(1, sizeof *e);
	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct config *c = &e->config;
	c->engine = e;
	c->find_delivery = find_delivery;
	c->base = base;
	c->port = o->port ? o->port : 25;
	c->timeout = o->timeout;
	c->chunking = !o->no_chunking;
	c->turns = &e->turns;
	c->tls_level = o->tls_level;
	c->log = o->log;
	c->log_arg = o->log_arg;
	c->log_level = o->log_level;
	if (o->helo_name != NULL && o->helo_name[0] != '\0')
		snprintf(c->helo, sizeof c->helo, "%s", o->helo_name);
	else
		default_helo(c->helo, sizeof c->helo);
	e->max_concurrent = o->max_concurrent ? o->max_concurrent
	                                      : DEFAULT_CONCURRENCY;
	unsigned dns_ms = DNS_TIMEOUT_MS;
	if (o->timeout != 0 && o->timeout * 1000ull < dns_ms)
		dns_ms = o->timeout * 1000u;
	struct dns_config dc = {
		.base = base,
		.upstreams = o->resolvers,
		.trust_anchor_file = o->trust_anchor_file,
		.max_outstanding = DNS_OUTSTANDING,
		.trust_ad = o->dnssec == MXC_DNSSEC_RESOLVER,
		/* Each CNAME link's own DNSSEC status, kept by the cache
		 * (RFC 7672 2.2.2); the validation chain it needs cost no
		 * measurable CPU (doc/dns.md). */
		.cname_links = true,
	};
	/* dns_new sets errno EINVAL for a bad resolver or trust anchor and
	 * EPERM for AD-bit trust in a resolver elsewhere: configuration
	 * errors, reported as such. */
	c->dns = dns_new(&dc, err, errlen);
	if (c->dns == NULL)
		return undo_new(e, 0);
	struct dnscache_config cc = {
		.base = base,
		.dns = c->dns,
		.timeout_ms = dns_ms,
	};
	c->dnscache = dnscache_new(&cc, err, errlen);
	if (c->dnscache == NULL)
		return undo_new(e, ENOMEM);
	errno = 0;
	c->tls = tls_ctx_new(err, errlen);
	if (c->tls == NULL) /* memory, or wolfSSL's own setup */
		return undo_new(e, errno == ENOMEM ? ENOMEM : EIO);
	c->tlscache = tlscache_new(0);
	if (c->tlscache == NULL) {
		snprintf(err, errlen, "out of memory");
		return undo_new(e, ENOMEM);
	}
	errno = 0;
	c->transport = transport_new(base, o->proxy, o->proxy_command, err,
	                             errlen);
	if (c->transport == NULL) /* memory, a missing command, or syntax */
		return undo_new(e, errno == ENOMEM || errno == ENOENT ? errno
		                                                      : EINVAL);
	struct pool_limits limits = {
		.max_transactions = o->reuse_limit,
		.idle_ms = o->idle_ms,
		.max_age_ms = o->max_connection_age > 4000000
		                  ? 4000000000u : o->max_connection_age * 1000u,
		/* idle connections hold descriptors: about as many as the
		 * deliveries in flight, a few more for small --jobs */
		.max_idle = e->max_concurrent + 16,
	};
	c->pool = pool_new(c, &limits);
	e->queue = queue_new(e->max_concurrent,
	                     o->max_per_destination ? o->max_per_destination
	                                            : DEFAULT_PER_DESTINATION);
	if (c->pool == NULL || e->queue == NULL) {
		snprintf(err, errlen, "out of memory");
		return undo_new(e, ENOMEM);
	}
	return e;
}

/* Ends idle connections, then tells the caller. */
void mxc_engine_drain(struct mxc_engine *e, void (*done)(void *arg),
                      void *arg)
{
	pool_drain(e->config.pool, done, arg);
}

/* Completes a delivery unless its completion callback is running: the
 * caller learns the end of every delivery it started, so it can free what
 * it attached to each. */
static void abort_unless_reporting(void *arg, struct mxc_delivery *d)
{
	struct mxc_engine *e = arg;
	if (d != e->reporting)
		delivery_abort(d);
}

/* Frees a delivery unless its completion callback is running. */
static void free_unless_reporting(void *arg, struct mxc_delivery *d)
{
	struct mxc_engine *e = arg;
	if (d != e->reporting)
		delivery_free(d);
}

/* Frees the engine; outstanding deliveries complete "cancelled" first. */
void mxc_engine_free(struct mxc_engine *e)
{
	if (e == NULL || e->freed || e->freeing)
		return;
	e->freeing = true;
	/* While the engine is whole, and every delivery stays until all
	 * have reported: the callbacks (and log lines naming a delivery)
	 * may still reach any of them. */
	queue_each(e->queue, abort_unless_reporting, e);
	queue_each(e->queue, free_unless_reporting, e);
	queue_free(e->queue);
	e->queue = NULL;
	pool_free(e->config.pool);
	/* The cache cancels its attempts before the resolver goes. */
	dnscache_free(e->config.dnscache);
	dns_free(e->config.dns);
	tls_ctx_free(e->config.tls);
	tlscache_free(e->config.tlscache);
	transport_free(e->config.transport);
	if (e->reporting != NULL) {
		/* Inside a completion callback: that delivery and the engine
		 * itself go when the callback returns. */
		e->freed = true;
		return;
	}
	free(e);
}

/* Queues a delivery after checking its addresses. */
struct mxc_delivery *mxc_deliver(struct mxc_engine *e,
                                 const struct mxc_delivery_params *p,
                                 char *err, size_t errlen)
{
	char scratch[256];
	if (err == NULL) {
		err = scratch;
		errlen = sizeof scratch;
	}
	if (p == NULL || p->done == NULL || p->message == NULL ||
	    p->sender == NULL || p->recipient == NULL) {
		snprintf(err, errlen, "incomplete delivery parameters");
		errno = EINVAL;
		return NULL;
	}
	if (e->freeing) { /* a completion callback inside mxc_engine_free() */
		snprintf(err, errlen, "the engine is being freed");
		errno = EINVAL;
		return NULL;
	}
	char why[256];
	if (address_check(p->sender, true, why, sizeof why) < 0) {
		snprintf(err, errlen, "bad sender: %s", why);
		errno = EINVAL;
		return NULL;
	}
	if (address_check(p->recipient, false, why, sizeof why) < 0) {
		snprintf(err, errlen, "bad recipient: %s", why);
		errno = EINVAL;
		return NULL;
	}
	uint64_t id = e->last_delivery_id + 1;
	struct mxc_delivery *d = delivery_new(e, &e->config, p, id);
	if (d == NULL ||
	    !queue_add(e->queue, d, id, address_domain(p->recipient))) {
		delivery_free(d);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	e->last_delivery_id = id;
	pump(e);
	return d;
}

/* Copies the engine's counters, as many fields as the caller knows. */
void mxc_engine_get_stats(const struct mxc_engine *e,
                          struct mxc_engine_stats *out)
{
	struct dnscache_stats ds;
	struct mxc_engine_stats all = { .size = sizeof all };
	if (e == NULL || out == NULL || out->size < sizeof out->size)
		return;
	dnscache_stats(e->config.dnscache, &ds);
	all.dns_sent = ds.sent;
	all.dns_cached = ds.cached;
	all.dns_coalesced = ds.coalesced;
	all.dns_retried = ds.retried;
	all.dns_timed_out = ds.timed_out;
	struct pool_stats ps;
	pool_stats(e->config.pool, &ps);
	all.connections = e->last_session_id;
	all.reused = ps.reused;
	all.turns_setup = e->turns.setup;
	all.turns_transactions = e->turns.transactions;
	all.transactions = e->turns.carried;
	struct tlscache_stats ts;
	tlscache_stats(e->config.tlscache, &ts);
	all.tls_resumed = ts.resumed;
	struct dns_stats zs;
	dns_get_stats(e->config.dns, &zs);
	all.dns_zone_keys = zs.zone_keys_learned;
	all.dns_revalidated = zs.revalidated;
	all.dns_checked_here = zs.checked_here;
	all.dns_handed_back = zs.handed_back;
	size_t n = out->size < sizeof all ? out->size : sizeof all;
	memcpy(out, &all, n);
	out->size = n;
}

/* Names the library and what it runs on, once per process. */
const char *mxc_versions(void)
{
	static char text[256];
	if (text[0] == '\0')
		snprintf(text, sizeof text, "libmxclient %s (libevent %s, getdns "
		         "%s, wolfSSL %s)", MXCLIENT_VERSION, event_get_version(),
		         dns_library_version(), tls_library_version());
	return text;
}

/* Checks one resolver as mxc_engine_new() would. */
int mxc_resolver_check(const char *resolver, char *err, size_t errlen)
{
	char scratch[256];
	if (err == NULL) {
		err = scratch;
		errlen = sizeof scratch;
	}
	return dns_upstream_check(resolver, err, errlen) ? 0 : -1;
}

/* Checks a trust anchor file as mxc_engine_new() would read it. */
int mxc_trust_anchor_check(const char *path, char *err, size_t errlen)
{
	char scratch[256];
	if (err == NULL) {
		err = scratch;
		errlen = sizeof scratch;
	}
	return dns_trust_anchor_check(path, err, errlen) ? 0 : -1;
}
