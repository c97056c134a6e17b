/*
 * fakedns: the engine's DNS, answered from a table.  Replaces dnscache.c
 * (the API every DNS user of the engine calls) and the few dns.c functions
 * engine.c calls directly, at link time: the engine tests link the
 * library's objects without either file, so getdns is never loaded and no
 * query leaves the process.
 *
 * As the real cache promises, an answer comes from its own event, never
 * from inside dnscache_lookup(), after the row's delay on the fake clock;
 * a row marked `never` leaves the lookup outstanding until cancelled.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dnscache.h"
#include "harness.h"

/* Records one answer may carry here. */
#define RECORDS_MAX 8

/* The resolver handle engine.c holds: nothing behind it. */
struct dns {
	int unused; /* C needs a member */
};

struct dnscache {
	struct event_base *base;   /* borrowed */
	struct dnscache_req *reqs; /* outstanding, linked by next */
	struct dnscache_stats stats;
};

struct dnscache_req {
	struct dnscache *cache;
	struct dnscache_req *next;
	char name[DNS_NAME_MAX_TEXT];
	enum dns_type type;
	dns_callback *cb;
	void *arg;
	struct event *ev;          /* delivers the answer */
};

static const struct dns_row *table;
static char asked[8192];
static size_t asked_len;

/* Installs the table. */
void fakedns_set_table(const struct dns_row *rows)
{
	table = rows;
	asked[0] = '\0';
	asked_len = 0;
}

/* The lookups made. */
const char *fakedns_asked(void)
{
	return asked;
}

/* Type names for the record of lookups. */
static const char *type_name(enum dns_type t)
{
	switch (t) {
	case DNS_MX:
		return "MX";
	case DNS_A:
		return "A";
	case DNS_AAAA:
		return "AAAA";
	case DNS_TLSA:
		return "TLSA";
	}
	return "?";
}

/* The row for a lookup, or NULL. */
static const struct dns_row *find_row(const char *name, enum dns_type type)
{
	for (const struct dns_row *r = table; r != NULL && r->name != NULL; r++)
		if (r->type == type && strcasecmp(r->name, name) == 0)
			return r;
	return NULL;
}

/* Reads hex digits into bytes; returns the count, or 0 on bad input. */
static size_t parse_hex(const char *s, size_t len, uint8_t *out, size_t cap)
{
	size_t n = 0;
	if (len % 2 != 0)
		return 0;
	for (size_t i = 0; i < len; i += 2) {
		unsigned v;
		char two[3] = { s[i], s[i + 1], '\0' };
		if (n == cap || strspn(two, "0123456789abcdefABCDEF") != 2 ||
		    sscanf(two, "%2x", &v) != 1)
			return 0;
		out[n++] = (uint8_t)v;
	}
	return n;
}

/* Records of one row, parsed into `a`'s arrays. */
struct parsed {
	struct dns_mx mx[RECORDS_MAX];
	struct sockaddr_storage addr[RECORDS_MAX];
	struct dns_tlsa tlsa[RECORDS_MAX];
	uint8_t tlsa_data[RECORDS_MAX][64];
};

/* Parses a row's records; a malformed row aborts the test program. */
static size_t parse_records(const struct dns_row *r, struct parsed *p)
{
	size_t n = 0;
	const char *s = r->data != NULL ? r->data : "";
	while (*s != '\0' && n < RECORDS_MAX) {
		while (*s == ' ' || *s == ',')
			s++;
		if (*s == '\0')
			break;
		size_t len = strcspn(s, ",");
		char one[300];
		snprintf(one, sizeof one, "%.*s", (int)len, s);
		s += len;
		bool ok = false;
		switch (r->type) {
		case DNS_MX: {
			unsigned pref;
			char host[256];
			ok = sscanf(one, "%u %255s", &pref, host) == 2;
			p->mx[n].pref = pref;
			snprintf(p->mx[n].host, sizeof p->mx[n].host, "%s",
			         strcmp(host, ".") == 0 ? "" : host);
			break;
		}
		case DNS_A: {
			struct sockaddr_in *sin = (struct sockaddr_in *)&p->addr[n];
			memset(&p->addr[n], 0, sizeof p->addr[n]);
			sin->sin_family = AF_INET;
			ok = inet_pton(AF_INET, one, &sin->sin_addr) == 1;
			break;
		}
		case DNS_AAAA: {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&p->addr[n];
			memset(&p->addr[n], 0, sizeof p->addr[n]);
			sin6->sin6_family = AF_INET6;
			ok = inet_pton(AF_INET6, one, &sin6->sin6_addr) == 1;
			break;
		}
		case DNS_TLSA: {
			unsigned u, sel, mt;
			char hex[200];
			ok = sscanf(one, "%u %u %u %199s", &u, &sel, &mt, hex) == 4;
			size_t dl = parse_hex(hex, strlen(hex), p->tlsa_data[n],
			                      sizeof p->tlsa_data[n]);
			ok = ok && dl > 0;
			p->tlsa[n] = (struct dns_tlsa){ (uint8_t)u, (uint8_t)sel,
			                                (uint8_t)mt, (uint16_t)dl,
			                                p->tlsa_data[n] };
			break;
		}
		}
		if (!ok) {
			fprintf(stderr, "fakedns: bad %s record \"%s\" for %s\n",
			        type_name(r->type), one, r->name);
			abort();
		}
		n++;
	}
	return n;
}

/* Unlinks a request from its cache. */
static void unlink_req(struct dnscache_req *q)
{
	for (struct dnscache_req **pp = &q->cache->reqs; *pp != NULL;
	     pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			return;
		}
}

/* Frees a request. */
static void free_req(struct dnscache_req *q)
{
	if (q->cache != NULL)
		unlink_req(q);
	if (q->ev != NULL)
		event_free(q->ev);
	free(q);
}

/* The answer's event: builds the answer from the table and delivers it. */
static void on_answer(evutil_socket_t fd, short what, void *arg)
{
	struct dnscache_req *q = arg;
	(void)fd;
	(void)what;
	const struct dns_row *r = find_row(q->name, q->type);
	static const enum dnssec_status sec[] = {
		[SEC_INSECURE] = DNSSEC_INSECURE,
		[SEC_SECURE] = DNSSEC_SECURE,
		[SEC_BOGUS] = DNSSEC_BOGUS,
		[SEC_INDETERMINATE] = DNSSEC_INDETERMINATE,
	};
	struct parsed p;
	struct dns_answer a = {
		.type = q->type,
		.result = r != NULL ? r->result : DNS_NODATA,
		.dnssec = r != NULL ? sec[r->sec] : DNSSEC_INSECURE,
		.name = q->name,
		.canonical = r != NULL && r->canonical != NULL ? r->canonical
		                                               : q->name,
		.error = "",
		.ttl = 300,
		.upstream = "fakedns",
		.mx = p.mx,
		.addr = p.addr,
		.tlsa = p.tlsa,
	};
	if (a.result == DNS_FAIL) {
		a.error = r->sec == SEC_BOGUS ? "DNSSEC validation failed (bogus)"
		                              : "SERVFAIL";
		a.ttl = 0;
	}
	if (a.result == DNS_FOUND)
		a.count = parse_records(r, &p);
	if (a.result == DNS_FOUND && a.count == 0)
		a.result = DNS_NODATA;
	/* Out of the cache's list first: the callback may cancel others;
	 * freed after it, because the answer's name points into it. */
	unlink_req(q);
	q->cache = NULL;
	q->cb(q->arg, &a);
	event_free(q->ev);
	free(q);
}

/* Starts a lookup answered from the table. */
struct dnscache_req *dnscache_lookup(struct dnscache *cache, const char *name,
                                     enum dns_type type, dns_callback *cb,
                                     void *arg)
{
	struct dnscache_req *q = calloc(1, sizeof *q);
	if (q == NULL)
		return NULL;
	q->cache = cache;
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len >= sizeof q->name) {
		free(q);
		return NULL;
	}
	memcpy(q->name, name, len);
	q->name[len] = '\0';
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->next = cache->reqs;
	cache->reqs = q;
	cache->stats.sent++;
	asked_len += (size_t)snprintf(asked + asked_len, sizeof asked - asked_len,
	                              "%s/%s\n", q->name, type_name(type));
	if (asked_len >= sizeof asked)
		asked_len = sizeof asked - 1;
	const struct dns_row *r = find_row(q->name, type);
	if (r != NULL && r->never)
		return q;
	q->ev = evtimer_new(cache->base, on_answer, q);
	if (q->ev == NULL) {
		free_req(q);
		return NULL;
	}
	unsigned ms = r != NULL ? r->delay_ms : 0;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_add(q->ev, &tv);
	return q;
}

/* Cancels a lookup. */
void dnscache_cancel(struct dnscache_req *q)
{
	if (q != NULL)
		free_req(q);
}

/* Creates the table's cache on the engine's loop. */
struct dnscache *dnscache_new(const struct dnscache_config *config,
                              char *err, size_t errlen)
{
	struct dnscache *c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->base = config->base;
	return c;
}

/* Frees the cache; outstanding lookups end without callbacks. */
void dnscache_free(struct dnscache *c)
{
	if (c == NULL)
		return;
	while (c->reqs != NULL)
		free_req(c->reqs);
	free(c);
}

/* Copies the counters. */
void dnscache_stats(const struct dnscache *c, struct dnscache_stats *out)
{
	*out = c->stats;
}

/* The resolver engine.c creates: a token. */
struct dns *dns_new(const struct dns_config *config, char *err, size_t errlen)
{
	(void)config;
	struct dns *d = calloc(1, sizeof *d);
	if (d == NULL)
		snprintf(err, errlen, "out of memory");
	return d;
}

/* Frees the token. */
void dns_get_stats(const struct dns *dns, struct dns_stats *out)
{
	(void)dns;
	memset(out, 0, sizeof *out);
}

void dns_free(struct dns *dns)
{
	free(dns);
}

/* Any upstream will do: none is ever asked. */
bool dns_upstream_check(const char *spec, char *err, size_t errlen)
{
	(void)spec;
	(void)err;
	(void)errlen;
	return true;
}

/* Any anchor will do: nothing is validated. */
bool dns_trust_anchor_check(const char *path, char *err, size_t errlen)
{
	(void)path;
	(void)err;
	(void)errlen;
	return true;
}

/* No getdns here. */
const char *dns_library_version(void)
{
	return "none (fakedns)";
}

/* Status names, as dns.c gives them. */

const char *dnssec_status_name(enum dnssec_status s)
{
	static const char *const names[] = { "secure", "insecure", "bogus",
	                                     "indeterminate" };
	return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "?";
}
