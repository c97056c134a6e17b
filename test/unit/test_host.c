/*
 * test_host: host.c's DANE decision (RFC 7672 2.2) on answers made up
 * here.  This program supplies its own dnscache_lookup()/dnscache_cancel(),
 * so the static library's answer cache and dns.c are never linked: each
 * lookup host.c starts is recorded, and a case answers them in the order it
 * likes.
 *
 * Cases: a secure MX host that is a CNAME into an unsigned zone keeps the
 * TLSA records at its own name (2.2.2); per address family decisions (A
 * secure, AAAA insecure); and the plain secure and insecure hosts around
 * them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dns.h"
#include "dnscache.h"
#include "host.h"

#include "check.h"

/* Most lookups one case starts. */
#define QUERIES_MAX 8

/* One lookup host.c started. */
struct dnscache_req {
	char name[300];
	enum dns_type type;
	dns_callback *cb;
	void *arg;
	bool live; /* started, not answered nor cancelled */
};

static struct dnscache_req queries[QUERIES_MAX];
static size_t nqueries;

/* Records a lookup (the fake resolver never answers by itself). */
struct dnscache_req *dnscache_lookup(struct dnscache *cache, const char *name,
                                     enum dns_type type, dns_callback *cb,
                                     void *arg)
{
	(void)cache;
	if (nqueries == QUERIES_MAX)
		return NULL;
	struct dnscache_req *q = &queries[nqueries++];
	snprintf(q->name, sizeof q->name, "%s", name);
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->live = true;
	return q;
}

/* Forgets a lookup. */
void dnscache_cancel(struct dnscache_req *q)
{
	q->live = false;
}

/* Status names, as dns.c gives them. */
const char *dnssec_status_name(enum dnssec_status s)
{
	static const char *const names[] = { "secure", "insecure", "bogus",
	                                     "indeterminate" };
	return (unsigned)s < 4 ? names[s] : "?";
}

/* The live lookup of `type` for `name`, or NULL. */
static struct dnscache_req *find(enum dns_type type, const char *name)
{
	for (size_t i = 0; i < nqueries; i++)
		if (queries[i].live && queries[i].type == type &&
		    strcmp(queries[i].name, name) == 0)
			return &queries[i];
	return NULL;
}

/* Answers one live lookup; false if host.c never asked it. */
static bool answer(enum dns_type type, const char *name,
                   enum dns_result result, enum dnssec_status dnssec,
                   const char *canonical, const char *addr,
                   const struct dns_tlsa *tlsa, size_t ntlsa)
{
	struct dnscache_req *q = find(type, name);
	if (q == NULL)
		return false;
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct dns_answer a = {
		.type = type,
		.result = result,
		.dnssec = dnssec,
		.name = name,
		.canonical = canonical != NULL ? canonical : name,
		.error = result == DNS_FAIL ? "SERVFAIL" : "",
	};
	if (addr != NULL && result == DNS_FOUND) {
		if (type == DNS_AAAA) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			inet_pton(AF_INET6, addr, &s6->sin6_addr);
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			inet_pton(AF_INET, addr, &s4->sin_addr);
		}
		a.addr = &ss;
		a.count = 1;
	}
	if (tlsa != NULL && result == DNS_FOUND) {
		a.tlsa = tlsa;
		a.count = ntlsa;
	}
	q->live = false;
	q->cb(q->arg, &a);
	return true;
}

/* A usable "3 1 1" record (the digest need not match anything here). */
static const unsigned char digest[32] = { 1, 2, 3, 4, 5, 6, 7, 8 };
static const struct dns_tlsa good_tlsa = { 3, 1, 1, 32, digest };

static bool ready_called;

/* The host's ready callback. */
static void on_ready(void *arg, struct host *h)
{
	(void)arg;
	(void)h;
	ready_called = true;
}

/* Starts a host named `name` at `level` behind a secure MX RRset. */
static struct host *start(struct config *cfg, enum mxc_tls_level level,
                          const char *name)
{
	memset(queries, 0, sizeof queries);
	nqueries = 0;
	ready_called = false;
	memset(cfg, 0, sizeof *cfg);
	cfg->port = 25;
	cfg->tls_level = level;
	struct host_params p = {
		.config = cfg,
		.name = name,
		.pref = 10,
		.mx_secure = true,
		.ready = on_ready,
	};
	return host_new(&p);
}

/* The TLS decided for the host's address of one family (need -1: none). */
static int need_of(const struct host *h, int family, const char **base)
{
	const struct sockaddr_storage *addrs;
	size_t n = host_addrs(h, &addrs);
	for (size_t i = 0; i < n; i++) {
		if (addrs[i].ss_family != family)
			continue;
		struct host_tls t;
		host_tls(h, &addrs[i], &t);
		if (base != NULL)
			*base = t.base;
		return (int)t.need;
	}
	return -1;
}

/*
 * RFC 7672 2.2.2: mx.a.example (signed) is a CNAME to mx.u.example in an
 * unsigned zone.  The addresses are insecure; the TLSA records at
 * _25._tcp.mx.a.example are signed and apply, mx.a.example being the TLSA
 * base domain.
 */
static void test_cname_insecure_target(void)
{
	struct config cfg;
	const char *base = NULL;
	struct host *h = start(&cfg, MXC_TLS_DANE, "mx.a.example");
	CHECK(find(DNS_TLSA, "_25._tcp.mx.a.example") != NULL,
	      "no TLSA lookup at the MX host name");
	answer(DNS_A, "mx.a.example", DNS_FOUND, DNSSEC_INSECURE,
	       "mx.u.example", "192.0.2.1", NULL, 0);
	answer(DNS_AAAA, "mx.a.example", DNS_NODATA, DNSSEC_INSECURE,
	       "mx.u.example", NULL, NULL, 0);
	CHECK(!ready_called, "decided before the TLSA answer");
	CHECK(find(DNS_TLSA, "_25._tcp.mx.u.example") == NULL,
	      "TLSA asked at the insecure CNAME target");
	answer(DNS_TLSA, "_25._tcp.mx.a.example", DNS_FOUND, DNSSEC_SECURE,
	       NULL, NULL, &good_tlsa, 1);
	CHECK(ready_called, "not decided");
	CHECK(need_of(h, AF_INET, &base) == POLICY_TLS_DANE,
	      "insecure CNAME target: need %d, wanted DANE",
	      need_of(h, AF_INET, NULL));
	CHECK(base != NULL && strcmp(base, "mx.a.example") == 0,
	      "TLSA base domain %s, wanted mx.a.example",
	      base != NULL ? base : "(none)");
	host_free(h);

	/* The TLSA lookup at the MX host name fails: the host fails. */
	h = start(&cfg, MXC_TLS_DANE, "mx.a.example");
	answer(DNS_A, "mx.a.example", DNS_FOUND, DNSSEC_INSECURE,
	       "mx.u.example", "192.0.2.1", NULL, 0);
	answer(DNS_AAAA, "mx.a.example", DNS_NODATA, DNSSEC_INSECURE,
	       "mx.u.example", NULL, NULL, 0);
	answer(DNS_TLSA, "_25._tcp.mx.a.example", DNS_FAIL,
	       DNSSEC_INDETERMINATE, NULL, NULL, NULL, 0);
	CHECK(ready_called && host_failure(h)[0] != '\0' &&
	              host_dane_failed(h),
	      "a failed TLSA lookup behind an insecure CNAME target is not "
	      "a DANE failure: \"%s\"", host_failure(h));
	host_free(h);

	/* No TLSA records at the MX host name (secure denial): no DANE. */
	h = start(&cfg, MXC_TLS_DANE, "mx.a.example");
	answer(DNS_A, "mx.a.example", DNS_FOUND, DNSSEC_INSECURE,
	       "mx.u.example", "192.0.2.1", NULL, 0);
	answer(DNS_AAAA, "mx.a.example", DNS_NODATA, DNSSEC_INSECURE,
	       "mx.u.example", NULL, NULL, 0);
	answer(DNS_TLSA, "_25._tcp.mx.a.example", DNS_NXDOMAIN,
	       DNSSEC_SECURE, NULL, NULL, NULL, 0);
	CHECK(need_of(h, AF_INET, NULL) == POLICY_TLS_OPPORTUNISTIC,
	      "secure denial behind an insecure target: need %d",
	      need_of(h, AF_INET, NULL));
	host_free(h);

	/* No CNAME, insecure addresses: the TLSA answer does not count. */
	h = start(&cfg, MXC_TLS_DANE, "mx.b.example");
	answer(DNS_A, "mx.b.example", DNS_FOUND, DNSSEC_INSECURE, NULL,
	       "192.0.2.2", NULL, 0);
	answer(DNS_AAAA, "mx.b.example", DNS_NODATA, DNSSEC_INSECURE, NULL,
	       NULL, NULL, 0);
	CHECK(ready_called && need_of(h, AF_INET, NULL) ==
	                              POLICY_TLS_OPPORTUNISTIC,
	      "insecure host without CNAME: ready %d need %d", ready_called,
	      need_of(h, AF_INET, NULL));
	host_free(h);
}

/*
 * RFC 7672 2.2.2 per address family, as Postfix: A secure, AAAA insecure.
 * The IPv4 address keeps DANE; the IPv6 one goes without it at level
 * dane, and is not used at dane-only (the host does not fail).
 */
static void test_per_family(void)
{
	struct config cfg;
	struct host *h = start(&cfg, MXC_TLS_DANE, "mx.c.example");
	answer(DNS_AAAA, "mx.c.example", DNS_FOUND, DNSSEC_INSECURE, NULL,
	       "2001:db8::3", NULL, 0);
	answer(DNS_A, "mx.c.example", DNS_FOUND, DNSSEC_SECURE, NULL,
	       "192.0.2.3", NULL, 0);
	answer(DNS_TLSA, "_25._tcp.mx.c.example", DNS_FOUND, DNSSEC_SECURE,
	       NULL, NULL, &good_tlsa, 1);
	CHECK(ready_called, "not decided");
	CHECK(need_of(h, AF_INET, NULL) == POLICY_TLS_DANE,
	      "secure A: need %d, wanted DANE", need_of(h, AF_INET, NULL));
	CHECK(need_of(h, AF_INET6, NULL) == POLICY_TLS_OPPORTUNISTIC,
	      "insecure AAAA: need %d, wanted opportunistic",
	      need_of(h, AF_INET6, NULL));
	host_free(h);

	h = start(&cfg, MXC_TLS_DANE_ONLY, "mx.c.example");
	answer(DNS_AAAA, "mx.c.example", DNS_FOUND, DNSSEC_INSECURE, NULL,
	       "2001:db8::3", NULL, 0);
	answer(DNS_A, "mx.c.example", DNS_FOUND, DNSSEC_SECURE, NULL,
	       "192.0.2.3", NULL, 0);
	answer(DNS_TLSA, "_25._tcp.mx.c.example", DNS_FOUND, DNSSEC_SECURE,
	       NULL, NULL, &good_tlsa, 1);
	CHECK(host_failure(h)[0] == '\0', "dane-only, secure A: failed: %s",
	      host_failure(h));
	CHECK(need_of(h, AF_INET, NULL) == POLICY_TLS_DANE &&
	              need_of(h, AF_INET6, NULL) == -1,
	      "dane-only: IPv4 need %d, IPv6 need %d (wanted DANE, unused)",
	      need_of(h, AF_INET, NULL), need_of(h, AF_INET6, NULL));
	host_free(h);

	/* Both secure: both DANE.  Both insecure at dane-only: failed. */
	h = start(&cfg, MXC_TLS_DANE, "mx.d.example");
	answer(DNS_AAAA, "mx.d.example", DNS_FOUND, DNSSEC_SECURE, NULL,
	       "2001:db8::4", NULL, 0);
	answer(DNS_A, "mx.d.example", DNS_FOUND, DNSSEC_SECURE, NULL,
	       "192.0.2.4", NULL, 0);
	answer(DNS_TLSA, "_25._tcp.mx.d.example", DNS_FOUND, DNSSEC_SECURE,
	       NULL, NULL, &good_tlsa, 1);
	CHECK(need_of(h, AF_INET, NULL) == POLICY_TLS_DANE &&
	              need_of(h, AF_INET6, NULL) == POLICY_TLS_DANE,
	      "both secure: needs %d %d", need_of(h, AF_INET, NULL),
	      need_of(h, AF_INET6, NULL));
	host_free(h);

	h = start(&cfg, MXC_TLS_DANE_ONLY, "mx.e.example");
	answer(DNS_AAAA, "mx.e.example", DNS_FOUND, DNSSEC_INSECURE, NULL,
	       "2001:db8::5", NULL, 0);
	answer(DNS_A, "mx.e.example", DNS_FOUND, DNSSEC_INSECURE, NULL,
	       "192.0.2.5", NULL, 0);
	CHECK(ready_called && host_failure(h)[0] != '\0' &&
	              host_dane_failed(h),
	      "dane-only, nothing secure: not failed");
	host_free(h);
}

/* Runs every case. */
int main(void)
{
	test_cname_insecure_target();
	test_per_family();
	return check_report();
}
