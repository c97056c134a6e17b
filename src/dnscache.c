/*
 * dnscache: answers shared by an engine's deliveries, with TTLs,
 * coalescing, retries and failover in front of dns.c.
 *
 * An entry is one (lower-case name, type).  While its lookup is in flight
 * it is "pending" and every lookup of the same key waits on it (coalesced);
 * once answered it holds a copy of the answer until it expires.  An expired
 * entry leaves the table but lives on while requests still read it, so a
 * new lookup never changes an answer already handed out.
 *
 * A pending entry makes attempts: each has its own deadline (1 s, doubled
 * each time, with +-10% jitter, never past the lookup's overall timeout,
 * which does not count time spent waiting in dns.c's queue) and goes to
 * one upstream.  The first attempt goes to the preferred
 * upstream (the last that answered); a timeout moves to the next one and
 * switches to TCP, which no lost datagram can stall; a SERVFAIL, REFUSED or
 * bogus reply moves to the next upstream that has not failed this way; a
 * local error before any reply (a send refused) is retried like a timeout,
 * after a short pause (it comes at once, and may again).
 * Requests are completed from the cache's own event (the pump), never from
 * inside dnscache_lookup() or the resolver's callback.
 */
#include "dnscache.h"

#include "clock.h"
#include "fnv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event.h>

#define DEFAULT_TIMEOUT_MS 10000
#define DEFAULT_FIRST_ATTEMPT_MS 1000
#define DEFAULT_MAX_ENTRIES 10000
/* Hash buckets (a power of two). */
#define BUCKETS 4096
/* Longest kept: a day for records, an hour for denials (RFC 2308 5). */
#define MAX_POSITIVE_TTL 86400
#define MAX_NEGATIVE_TTL 3600
/* Failure hold: 125 ms doubling per failure in a row, at most 1 s. */
#define FAIL_HOLD_FIRST_MS 125
#define FAIL_HOLD_MAX_MS 1000
/* Below this much time left, no further attempt is made. */
#define MIN_ATTEMPT_MS 50
/* Upstreams tracked per lookup (bits of a mask); dns.c has at most 16. */
#define MAX_UPSTREAMS 32

/* One cached (or pending) answer. */
struct entry {
	struct dnscache *cache;
	TAILQ_ENTRY(entry) bucket_link; /* in its bucket, while linked */
	TAILQ_ENTRY(entry) age_link;    /* in cache->by_age, while linked */
	bool linked;                    /* in the table */
	unsigned refs;                  /* the table's, and one per request */
	char name[DNS_NAME_MAX_TEXT];   /* lower case, no trailing dot */
	enum dns_type type;
	uint32_t hash;

	/* While pending: the lookup in flight. */
	bool pending;
	TAILQ_HEAD(, dnscache_req) waiters; /* requests waiting for it */
	struct dns_query *query;        /* the current attempt */
	unsigned attempt;               /* attempts made so far */
	size_t upstream;                /* the current attempt's upstream */
	uint64_t deadline_ms;           /* the whole lookup's */
	uint32_t failed_mask;           /* upstreams that replied a failure */
	uint32_t silent_mask;           /* upstreams that did not reply */
	bool tcp;                       /* the next attempts go over TCP */
	struct event *retry;            /* a delayed next attempt, or NULL */
	size_t retry_upstream;          /* where it goes */

	/* Once answered: the answer and how long it holds. */
	enum dns_result result;
	enum dnssec_status dnssec;
	bool timed_out;
	char canonical[DNS_NAME_MAX_TEXT];
	char error[400];
	char upstream_name[80];
	uint32_t ttl;                   /* as the resolver gave it */
	size_t cname_count;             /* CNAME links followed */
	struct dns_cname_link *cname;   /* their owners and statuses,
	                                   malloc'd; NULL without links */
	enum dnssec_status records_dnssec; /* of the final RRset alone */
	bool links_exact;               /* struct dns_answer's */
	size_t count;
	void *records;                  /* count records, then TLSA data */
	uint64_t expires_ms;
	unsigned failures;              /* failed lookups in a row */
};

/* Where a request is. */
enum req_state {
	REQ_WAITING,    /* on its entry's waiters */
	REQ_READY,      /* on cache->ready, callback pending */
	REQ_DELIVERING  /* on no list, its callback is running */
};

/* One caller's lookup. */
struct dnscache_req {
	struct dnscache *cache;
	struct entry *entry;            /* holds a reference */
	TAILQ_ENTRY(dnscache_req) link;
	enum req_state state;
	char name[DNS_NAME_MAX_TEXT];   /* as given */
	dns_callback *cb;
	void *arg;
};

TAILQ_HEAD(entry_list, entry);
TAILQ_HEAD(req_list, dnscache_req);

struct dnscache {
	struct event_base *base;
	struct dns *dns;
	unsigned timeout_ms, first_attempt_ms, max_entries;
	bool no_jitter;
	bool tcp_only;                  /* every attempt over TCP */
	uint64_t (*clock_ms)(void *arg);
	void *clock_arg;
	size_t nup;                     /* upstreams of dns */
	size_t preferred;               /* where first attempts go */
	struct entry_list buckets[BUCKETS];
	struct entry_list by_age;       /* linked entries, oldest first */
	size_t nentries;                /* linked entries */
	struct req_list ready;          /* answered, callback pending */
	struct event *pump;             /* runs the ready callbacks */
	struct dnscache_stats stats;
	bool delivering;                /* a callback is running */
	bool freed;                     /* freed during it */
};

/* The monotonic clock in ms. */
static uint64_t
monotonic_ms(void *arg)
{
	(void)arg;
	return clock_ms();
}

/* Now, by the cache's clock. */
static uint64_t
now_ms(const struct dnscache *c)
{
	return c->clock_ms(c->clock_arg);
}

/* FNV-1a over the key. */
static uint32_t
key_hash(const char *name, enum dns_type type)
{
	uint32_t t = (uint32_t)type;

	return fnv1a(fnv1a(FNV1A_INIT, name, strlen(name)), &t, 1);
}


/* Seconds an answer is kept. */
uint32_t
dnscache_keep_seconds(enum dns_result result, uint32_t ttl)
{
	switch (result) {
	case DNS_FOUND:
		return ttl < MAX_POSITIVE_TTL ? ttl : MAX_POSITIVE_TTL;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		return ttl < MAX_NEGATIVE_TTL ? ttl : MAX_NEGATIVE_TTL;
	case DNS_FAIL:
		break;
	}
	return 0;
}

/* The hold of the n-th failure in a row. */
unsigned
dnscache_fail_hold_ms(unsigned n)
{
	unsigned ms = FAIL_HOLD_FIRST_MS;

	while (n > 1 && ms < FAIL_HOLD_MAX_MS) {
		ms *= 2;
		n--;
	}
	return ms < FAIL_HOLD_MAX_MS ? ms : FAIL_HOLD_MAX_MS;
}

/* ---- entries ---------------------------------------------------------- */

/* Drops a reference; the last frees the entry. */
static void
entry_unref(struct entry *e)
{
	if (--e->refs > 0)
		return;
	if (e->retry != NULL)
		event_free(e->retry);
	free(e->records);
	free(e->cname);
	free(e);
}

/* Takes an entry out of the table (requests may still hold it). */
static void
entry_unlink(struct entry *e)
{
	struct dnscache *c = e->cache;

	if (!e->linked)
		return;
	TAILQ_REMOVE(&c->buckets[e->hash & (BUCKETS - 1)], e, bucket_link);
	TAILQ_REMOVE(&c->by_age, e, age_link);
	e->linked = false;
	c->nentries--;
	entry_unref(e);
}

/* Finds the linked entry of a key. */
static struct entry *
entry_find(struct dnscache *c, const char *name, enum dns_type type,
    uint32_t hash)
{
	struct entry *e;

	TAILQ_FOREACH(e, &c->buckets[hash & (BUCKETS - 1)], bucket_link)
		if (e->hash == hash && e->type == type &&
		    strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/*
 * Makes room for one more entry: first every expired answer goes, then
 * the oldest answers.  Pending entries stay (requests wait on them).
 */
static void
make_room(struct dnscache *c)
{
	struct entry *e, *next;
	uint64_t now;

	if (c->nentries < c->max_entries)
		return;
	now = now_ms(c);
	for (e = TAILQ_FIRST(&c->by_age); e != NULL; e = next) {
		next = TAILQ_NEXT(e, age_link);
		if (!e->pending && e->expires_ms <= now)
			entry_unlink(e);
	}
	for (e = TAILQ_FIRST(&c->by_age);
	    e != NULL && c->nentries >= c->max_entries; e = next) {
		next = TAILQ_NEXT(e, age_link);
		if (!e->pending)
			entry_unlink(e);
	}
}

/* Creates and links a pending entry. */
static struct entry *
entry_new(struct dnscache *c, const char *name, enum dns_type type,
    uint32_t hash)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	make_room(c);
	e->cache = c;
	memcpy(e->name, name, strlen(name) + 1);
	e->type = type;
	e->hash = hash;
	e->pending = true;
	TAILQ_INIT(&e->waiters);
	e->refs = 1;
	e->linked = true;
	TAILQ_INSERT_TAIL(&c->buckets[hash & (BUCKETS - 1)], e, bucket_link);
	TAILQ_INSERT_TAIL(&c->by_age, e, age_link);
	c->nentries++;
	return e;
}

/*
 * Stores a copy of the answer in the entry, with the TLSA data in the same
 * block as the records.  Returns false when memory runs out.
 */
static bool
entry_store(struct entry *e, const struct dns_answer *a)
{
	size_t rs = dns_record_size(a->type), extra = 0, i;
	uint8_t *blob;

	e->result = a->result;
	e->dnssec = a->dnssec;
	e->records_dnssec = a->records_dnssec;
	e->links_exact = a->links_exact;
	e->timed_out = a->timed_out;
	if (a->cname_count > 0) {
		e->cname = malloc(a->cname_count * sizeof(*e->cname));
		if (e->cname == NULL)
			return false;
		memcpy(e->cname, a->cname, a->cname_count * sizeof(*e->cname));
		e->cname_count = a->cname_count;
	}
	e->ttl = a->ttl;
	(void)snprintf(e->canonical, sizeof(e->canonical), "%s",
	    a->canonical != NULL ? a->canonical : e->name);
	(void)snprintf(e->upstream_name, sizeof(e->upstream_name), "%s",
	    a->upstream != NULL ? a->upstream : "");
	e->count = 0;
	if (a->count == 0)
		return true;
	if (a->type == DNS_TLSA)
		for (i = 0; i < a->count; i++)
			extra += a->tlsa[i].len;
	if ((blob = malloc(a->count * rs + extra + 1)) == NULL)
		return false;
	switch (a->type) {
	case DNS_MX:
		memcpy(blob, a->mx, a->count * rs);
		break;
	case DNS_A:
	case DNS_AAAA:
		memcpy(blob, a->addr, a->count * rs);
		break;
	case DNS_TLSA: {
		struct dns_tlsa *t = (struct dns_tlsa *)(void *)blob;
		uint8_t *data = blob + a->count * rs;

		for (i = 0; i < a->count; i++) {
			t[i] = a->tlsa[i];
			if (t[i].len > 0)
				memcpy(data, a->tlsa[i].data, t[i].len);
			t[i].data = data;
			data += t[i].len;
		}
		break;
	}
	}
	e->records = blob;
	e->count = a->count;
	return true;
}

/* ---- completing requests ---------------------------------------------- */

/* Schedules the pump. */
static void
pump_kick(struct dnscache *c)
{
	event_active(c->pump, EV_TIMEOUT, 0);
}

/* Moves a request to the ready list. */
static void
req_ready(struct dnscache_req *r)
{
	r->state = REQ_READY;
	TAILQ_INSERT_TAIL(&r->cache->ready, r, link);
	pump_kick(r->cache);
}

/* Builds the answer a request receives from its entry. */
static void
entry_answer(const struct entry *e, const struct dnscache_req *r,
    struct dns_answer *a)
{
	memset(a, 0, sizeof(*a));
	a->type = e->type;
	a->result = e->result;
	a->dnssec = e->dnssec;
	a->records_dnssec = e->records_dnssec;
	a->links_exact = e->links_exact;
	a->cname_count = e->cname_count;
	a->cname = e->cname;
	a->name = r->name;
	a->canonical = e->canonical;
	a->error = e->result == DNS_FAIL ? e->error : "";
	a->ttl = e->ttl;
	a->timed_out = e->timed_out;
	a->upstream = e->upstream_name;
	a->count = e->count;
	if (e->count == 0)
		return;
	switch (e->type) {
	case DNS_MX:
		a->mx = e->records;
		break;
	case DNS_A:
	case DNS_AAAA:
		a->addr = e->records;
		break;
	case DNS_TLSA:
		a->tlsa = e->records;
		break;
	}
}

/* The pump: runs the callbacks of ready requests, oldest first. */
static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dnscache *c = arg;
	struct dnscache_req *r;

	(void)fd;
	(void)what;
	while ((r = TAILQ_FIRST(&c->ready)) != NULL) {
		struct dns_answer a;

		TAILQ_REMOVE(&c->ready, r, link);
		r->state = REQ_DELIVERING;
		entry_answer(r->entry, r, &a);
		c->delivering = true;
		r->cb(r->arg, &a);
		c->delivering = false;
		entry_unref(r->entry);
		free(r);
		if (c->freed) {
			event_free(c->pump);
			free(c);
			return;
		}
	}
}

/* ---- attempts --------------------------------------------------------- */

static void attempt_done(void *arg, const struct dns_answer *a);

/*
 * Ends a pending entry with the answer: stores it with its expiry and
 * hands it to every waiter.
 */
static void
entry_finish(struct entry *e, const struct dns_answer *a, const char *error)
{
	struct dnscache *c = e->cache;
	struct dnscache_req *r;
	uint64_t now = now_ms(c);

	e->pending = false;
	e->query = NULL;
	if (a != NULL && !entry_store(e, a)) {
		a = NULL;
		error = "out of memory";
	}
	if (a == NULL) {
		e->result = DNS_FAIL;
		e->dnssec = DNSSEC_INDETERMINATE;
		e->records_dnssec = DNSSEC_INDETERMINATE;
		e->links_exact = false;
		e->cname_count = 0;
		e->count = 0;
		(void)snprintf(e->canonical, sizeof(e->canonical), "%s",
		    e->name);
	}
	if (e->result == DNS_FAIL) {
		(void)snprintf(e->error, sizeof(e->error), "%s",
		    error != NULL ? error : a->error);
		e->failures++;
		e->expires_ms = now + dnscache_fail_hold_ms(e->failures);
	} else {
		e->failures = 0;
		e->expires_ms = now +
		    (uint64_t)dnscache_keep_seconds(e->result, e->ttl) * 1000;
	}
	while ((r = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, r, link);
		req_ready(r);
	}
}

/* This attempt's deadline: doubled per attempt, jittered, within budget. */
static unsigned
attempt_timeout(const struct entry *e, uint64_t now)
{
	const struct dnscache *c = e->cache;
	uint64_t ms = (uint64_t)c->first_attempt_ms << (e->attempt < 16 ?
	    e->attempt : 16);
	uint64_t left = e->deadline_ms > now ? e->deadline_ms - now : 0;

	if (!c->no_jitter) /* +-10%: retries of a burst do not line up */
		ms = ms * (900 + arc4random_uniform(201)) / 1000;
	if (ms > left)
		ms = left;
	/* The rest of the budget would make too short a last attempt. */
	if (left - ms < c->first_attempt_ms / 2)
		ms = left;
	return (unsigned)ms;
}

/*
 * Starts the entry's next attempt at `upstream`.  Returns false when there
 * is no time left or the resolver refuses the lookup.
 */
static bool
attempt_start(struct entry *e, size_t upstream)
{
	struct dnscache *c = e->cache;
	uint64_t now = now_ms(c);
	struct dns_attempt how;

	how.upstream = upstream;
	how.tcp = e->tcp || c->tcp_only;
	how.timeout_ms = attempt_timeout(e, now);
	if (how.timeout_ms < MIN_ATTEMPT_MS)
		return false;
	e->query = dns_lookup(c->dns, e->name, e->type, &how, attempt_done, e);
	if (e->query == NULL)
		return false;
	e->upstream = upstream;
	if (e->attempt > 0)
		c->stats.retried++;
	e->attempt++;
	c->stats.sent++;
	return true;
}

/* Appends the upstreams in `mask` to buf, comma-separated. */
static void
list_upstreams(const struct dnscache *c, uint32_t mask, char *buf,
    size_t buflen)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->nup && i < MAX_UPSTREAMS; i++) {
		int n;

		if (!(mask & (1u << i)))
			continue;
		n = snprintf(buf + used, buflen - used, "%s%s",
		    used > 0 ? ", " : "", dns_upstream_name(c->dns, i));
		if (n < 0 || (size_t)n >= buflen - used)
			break;
		used += (size_t)n;
	}
}

/* Ends a lookup whose attempts all failed, naming the silent upstreams. */
static void
entry_give_up(struct entry *e, const struct dns_answer *last)
{
	char silent[300], why[400];

	if (e->silent_mask == 0) {
		entry_finish(e, last, NULL);
		return;
	}
	list_upstreams(e->cache, e->silent_mask, silent, sizeof(silent));
	(void)snprintf(why, sizeof(why), "%s (no answer from %s)",
	    last != NULL ? last->error : "timeout", silent);
	entry_finish(e, last, why);
}

/* Makes the delayed attempt (after a transient error). */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct entry *e = arg;

	(void)fd;
	(void)what;
	if (!attempt_start(e, e->retry_upstream))
		entry_give_up(e, NULL);
}

/*
 * Schedules the next attempt after a transient error, which comes at once
 * and may come again at once: 100 ms, doubled per attempt, at most 1 s.
 * Returns false when it cannot.
 */
static bool
retry_later(struct entry *e, size_t upstream)
{
	unsigned ms = 100u << (e->attempt < 4 ? e->attempt - 1 : 3);
	struct timeval tv;

	if (e->retry == NULL &&
	    (e->retry = evtimer_new(e->cache->base, retry_cb, e)) == NULL)
		return false;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	e->retry_upstream = upstream;
	return evtimer_add(e->retry, &tv) == 0;
}

/* Receives one attempt's outcome: finish, or try again. */
static void
attempt_done(void *arg, const struct dns_answer *a)
{
	struct entry *e = arg;
	struct dnscache *c = e->cache;
	uint32_t bit = e->upstream < MAX_UPSTREAMS ? 1u << e->upstream : 0;
	size_t next;

	e->query = NULL;
	/* Time spent waiting for room in the resolver's queue (a burst
	 * larger than max_outstanding) does not count against the lookup. */
	e->deadline_ms += a->queued_ms;
	if (a->result != DNS_FAIL) {
		c->preferred = e->upstream;
		entry_finish(e, a, NULL);
		return;
	}
	if (a->timed_out || a->transient) {
		if (a->timed_out)
			c->stats.timed_out++;
		e->silent_mask |= bit;
		/* Later attempts go over TCP, which no lost datagram stalls,
		 * and later lookups start at the next upstream. */
		e->tcp = true;
		if (c->preferred == e->upstream)
			c->preferred = (e->upstream + 1) % c->nup;
		next = (e->upstream + 1) % c->nup;
	} else {
		/* SERVFAIL, REFUSED, bogus: another upstream may do better;
		 * when each has said so, that is the answer. */
		e->failed_mask |= bit;
		for (next = (e->upstream + 1) % c->nup;
		    next != e->upstream && next < MAX_UPSTREAMS &&
		    (e->failed_mask & (1u << next)); next = (next + 1) % c->nup)
			;
		if (next == e->upstream || next >= MAX_UPSTREAMS ||
		    (e->failed_mask & (1u << next))) {
			entry_finish(e, a, NULL);
			return;
		}
	}
	if (a->transient) {
		if (!retry_later(e, next))
			entry_give_up(e, a);
		return;
	}
	if (!attempt_start(e, next))
		entry_give_up(e, a);
}

/* ---- the interface ---------------------------------------------------- */

/* Creates the cache. */
struct dnscache *
dnscache_new(const struct dnscache_config *config, char *err, size_t errlen)
{
	struct dnscache *c;

	if (config == NULL || config->base == NULL || config->dns == NULL) {
		(void)snprintf(err, errlen, "dnscache: no event_base or dns");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = config->base;
	c->dns = config->dns;
	c->timeout_ms = config->timeout_ms ? config->timeout_ms :
	    DEFAULT_TIMEOUT_MS;
	c->first_attempt_ms = config->first_attempt_ms ?
	    config->first_attempt_ms : DEFAULT_FIRST_ATTEMPT_MS;
	c->max_entries = config->max_entries ? config->max_entries :
	    DEFAULT_MAX_ENTRIES;
	c->no_jitter = config->no_jitter;
	c->tcp_only = config->tcp_only;
	c->clock_ms = config->clock_ms ? config->clock_ms : monotonic_ms;
	c->clock_arg = config->clock_arg;
	c->nup = dns_upstream_count(c->dns);
	if (c->nup == 0)
		c->nup = 1;
	for (size_t i = 0; i < BUCKETS; i++)
		TAILQ_INIT(&c->buckets[i]);
	TAILQ_INIT(&c->by_age);
	TAILQ_INIT(&c->ready);
	if ((c->pump = event_new(c->base, -1, 0, pump_cb, c)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		free(c);
		return NULL;
	}
	return c;
}

/*
 * Writes the key of a name: lower case, no trailing dot.  Returns false
 * when it does not fit.
 */
static bool
make_key(const char *name, char *key)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= DNS_NAME_MAX_TEXT)
		return false;
	for (size_t i = 0; i < len; i++)
		key[i] = (char)tolower((unsigned char)name[i]);
	key[len] = '\0';
	return true;
}

/* Looks up a name: from the cache, joined to one in flight, or sent. */
struct dnscache_req *
dnscache_lookup(struct dnscache *c, const char *name, enum dns_type type,
    dns_callback *cb, void *arg)
{
	char key[DNS_NAME_MAX_TEXT];
	struct dnscache_req *r;
	struct entry *e, *old;
	uint32_t hash;
	uint64_t now;

	if (c == NULL || c->freed || name == NULL || cb == NULL ||
	    strlen(name) >= sizeof(r->name) || !make_key(name, key))
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->cache = c;
	memcpy(r->name, name, strlen(name) + 1);
	r->cb = cb;
	r->arg = arg;
	hash = key_hash(key, type);
	now = now_ms(c);
	e = old = entry_find(c, key, type, hash);
	if (e != NULL && e->pending) {
		c->stats.coalesced++;
		e->refs++;
		r->entry = e;
		r->state = REQ_WAITING;
		TAILQ_INSERT_TAIL(&e->waiters, r, link);
		return r;
	}
	if (e != NULL && now < e->expires_ms) {
		c->stats.cached++;
		e->refs++;
		r->entry = e;
		req_ready(r);
		return r;
	}
	/* Not there, or expired: a new entry, with the failure count of the
	 * one it replaces (the failure hold backs off). */
	if ((e = entry_new(c, key, type, hash)) == NULL) {
		free(r);
		return NULL;
	}
	if (old != NULL) {
		e->failures = old->failures;
		entry_unlink(old);
	}
	e->deadline_ms = now + c->timeout_ms;
	e->refs++;
	r->entry = e;
	r->state = REQ_WAITING;
	TAILQ_INSERT_TAIL(&e->waiters, r, link);
	if (!attempt_start(e, c->preferred < c->nup ? c->preferred : 0))
		entry_finish(e, NULL, "cannot start the lookup");
	return r;
}

/* Cancels a request before its callback. */
void
dnscache_cancel(struct dnscache_req *r)
{
	if (r == NULL)
		return;
	switch (r->state) {
	case REQ_WAITING:
		TAILQ_REMOVE(&r->entry->waiters, r, link);
		break;
	case REQ_READY:
		TAILQ_REMOVE(&r->cache->ready, r, link);
		break;
	case REQ_DELIVERING:
		return;
	}
	/* A pending lookup goes on without waiters: its answer is cached. */
	entry_unref(r->entry);
	free(r);
}

/* Copies the counters. */
void
dnscache_stats(const struct dnscache *c, struct dnscache_stats *out)
{
	*out = c->stats;
}

/* Cancels everything and frees. */
void
dnscache_free(struct dnscache *c)
{
	struct dnscache_req *r;
	struct entry *e;

	if (c == NULL || c->freed)
		return;
	while ((r = TAILQ_FIRST(&c->ready)) != NULL)
		dnscache_cancel(r);
	while ((e = TAILQ_FIRST(&c->by_age)) != NULL) {
		e->refs++; /* keep it while its waiters go */
		if (e->retry != NULL)
			(void)evtimer_del(e->retry);
		if (e->query != NULL) {
			dns_cancel(e->query);
			e->query = NULL;
		}
		while ((r = TAILQ_FIRST(&e->waiters)) != NULL)
			dnscache_cancel(r);
		entry_unlink(e);
		entry_unref(e);
	}
	if (c->delivering) {
		c->freed = true;
		return;
	}
	event_free(c->pump);
	free(c);
}
