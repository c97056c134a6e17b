/*
 * test_dnscache: the answer cache's policy, hermetic.  dns.c is replaced
 * by a fake resolver defined here (attempts are recorded and answered by
 * the test), and the cache runs on a fake clock, so TTLs, the failure hold
 * and the attempt schedule are stepped through exactly: hits and expiry,
 * RFC 2308 negative TTLs and their caps, failures never served as "no
 * records", DNSSEC status (and each CNAME link's) kept, coalescing,
 * retries moving through the upstreams (timeouts switch to TCP), cancel,
 * eviction, teardown.
 * dnsttl.c is tested here too, on getdns replies made up by the test: the
 * reuse time it computes is what the cache keeps an answer for, so the
 * RRSIG bounds (original TTL, signature expiration) are followed through
 * to the moment the cache asks again.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/event.h>

#include <getdns/getdns.h>

#include "dnscache.h"
#include "dnsttl.h"

#include "check.h"

/* ---- the fake resolver ------------------------------------------------ */

#define MAX_QUERIES 256

/* One attempt the cache made. */
struct dns_query {
	bool live;                /* not yet answered or cancelled */
	char name[DNS_NAME_MAX_TEXT];
	enum dns_type type;
	struct dns_attempt how;
	dns_callback *cb;
	void *arg;
};

struct dns {
	size_t nup;
};

static struct dns_query queries[MAX_QUERIES];
static size_t nqueries;
static bool in_lookup;            /* inside dns_lookup: no callbacks */
static const char *const upnames[] = { "up0", "up1", "up2" };

/* Records an attempt. */
struct dns_query *
dns_lookup(struct dns *dns, const char *name, enum dns_type type,
    const struct dns_attempt *how, dns_callback *cb, void *arg)
{
	struct dns_query *q;

	if (nqueries == MAX_QUERIES || how->upstream >= dns->nup)
		return NULL;
	q = &queries[nqueries++];
	q->live = true;
	(void)snprintf(q->name, sizeof(q->name), "%s", name);
	q->type = type;
	q->how = *how;
	q->cb = cb;
	q->arg = arg;
	return q;
}

/* Cancels an attempt. */
void
dns_cancel(struct dns_query *q)
{
	q->live = false;
}

/* The fake's upstreams. */
size_t
dns_upstream_count(const struct dns *dns)
{
	return dns->nup;
}

/* Names of the fake's upstreams. */
const char *
dns_upstream_name(const struct dns *dns, size_t i)
{
	return i < dns->nup ? upnames[i] : "";
}

/* ---- the world of the test -------------------------------------------- */

static uint64_t fake_now = 1000000;
static uint32_t next_queued_ms;   /* the next answer's queue wait */
/* The next answer's CNAME links (then cleared), as dns.c would give. */
static const struct dns_cname_link *next_links;
static size_t next_nlinks;
static enum dnssec_status next_records_dnssec;
static struct event_base *base;

/* The fake clock. */
static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* What one caller received. */
struct got {
	int calls;
	bool during_lookup;       /* a callback ran inside dnscache_lookup */
	enum dns_result result;
	enum dnssec_status dnssec;
	size_t count;
	char error[400];
	char name[DNS_NAME_MAX_TEXT];
	char mx0[256];
	size_t nlinks;
	char link1[DNS_NAME_MAX_TEXT];
	enum dnssec_status link0_dnssec, link1_dnssec, records_dnssec;
	uint8_t tlsa0[8];
	size_t tlsa0_len;
};

/* The callback every test lookup uses. */
static void
got_cb(void *arg, const struct dns_answer *a)
{
	struct got *g = arg;

	g->calls++;
	g->during_lookup |= in_lookup;
	g->result = a->result;
	g->dnssec = a->dnssec;
	g->count = a->count;
	(void)snprintf(g->error, sizeof(g->error), "%s", a->error);
	(void)snprintf(g->name, sizeof(g->name), "%s", a->name);
	g->nlinks = a->cname_count;
	g->records_dnssec = a->records_dnssec;
	if (a->cname_count >= 2) {
		g->link0_dnssec = a->cname[0].dnssec;
		g->link1_dnssec = a->cname[1].dnssec;
		(void)snprintf(g->link1, sizeof(g->link1), "%s",
		    a->cname[1].owner);
	}
	if (a->type == DNS_MX && a->count > 0)
		(void)snprintf(g->mx0, sizeof(g->mx0), "%s", a->mx[0].host);
	if (a->type == DNS_TLSA && a->count > 0) {
		g->tlsa0_len = a->tlsa[0].len < 8 ? a->tlsa[0].len : 8;
		memcpy(g->tlsa0, a->tlsa[0].data, g->tlsa0_len);
	}
}

/* Looks a name up, noting callbacks that would run inside the call. */
static struct dnscache_req *
lookup(struct dnscache *c, const char *name, enum dns_type type,
    struct got *g)
{
	struct dnscache_req *r;

	in_lookup = true;
	r = dnscache_lookup(c, name, type, got_cb, g);
	in_lookup = false;
	return r;
}

/* Runs whatever the loop has ready (the cache's pump). */
static void
run_loop(void)
{
	(void)event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Answers attempt q with the given outcome (and one MX or TLSA record). */
static void
answer(size_t qi, enum dns_result result, enum dnssec_status dnssec,
    uint32_t ttl, const char *error, bool timed_out)
{
	struct dns_query *q = &queries[qi];
	struct dns_answer a;
	struct dns_mx mx;
	struct dns_tlsa tlsa;
	uint8_t data[4] = { 0xde, 0xad, 0xbe, 0xef };

	CHECK(qi < nqueries && q->live, "attempt %zu to answer is not there",
	    qi);
	if (qi >= nqueries || !q->live)
		return;
	memset(&a, 0, sizeof(a));
	a.type = q->type;
	a.result = result;
	a.dnssec = dnssec;
	a.name = q->name;
	a.canonical = q->name;
	a.error = error != NULL ? error : "";
	a.ttl = ttl;
	a.timed_out = timed_out;
	a.transient = !timed_out && error != NULL &&
	    strcmp(error, "lookup error") == 0;
	a.upstream = upnames[q->how.upstream];
	a.queued_ms = next_queued_ms;
	next_queued_ms = 0;
	a.cname = next_links;
	a.cname_count = next_nlinks;
	a.records_dnssec = next_nlinks > 0 ? next_records_dnssec : dnssec;
	next_links = NULL;
	next_nlinks = 0;
	if (result == DNS_FOUND && q->type == DNS_MX) {
		mx.pref = 10;
		(void)snprintf(mx.host, sizeof(mx.host), "mx.%s", q->name);
		a.mx = &mx;
		a.count = 1;
	}
	if (result == DNS_FOUND && q->type == DNS_TLSA) {
		tlsa = (struct dns_tlsa){ 3, 1, 1, sizeof(data), data };
		a.tlsa = &tlsa;
		a.count = 1;
	}
	q->live = false;
	q->cb(q->arg, &a);
	/* The resolver's storage is gone after the callback. */
	memset(data, 0, sizeof(data));
	memset(&mx, 0, sizeof(mx));
}

/* Creates a cache over `nup` fake upstreams. */
static struct dnscache *
make_cache(struct dns *dns, size_t nup, unsigned max_entries)
{
	struct dnscache_config cfg;
	char err[128];

	dns->nup = nup;
	memset(&cfg, 0, sizeof(cfg));
	cfg.base = base;
	cfg.dns = dns;
	cfg.max_entries = max_entries;
	cfg.no_jitter = true;
	cfg.clock_ms = fake_clock;
	return dnscache_new(&cfg, err, sizeof(err));
}

/* ---- the tests -------------------------------------------------------- */

/* A found answer is reused until its TTL ends, in any spelling. */
static void
test_hit_and_expiry(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct dnscache_stats st;
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 }, g4 = { 0 };
	size_t q0 = nqueries;

	lookup(c, "a.example", DNS_MX, &g1);
	CHECK(nqueries == q0 + 1, "one query sent");
	CHECK(queries[q0].how.upstream == 0 && !queries[q0].how.tcp &&
	    queries[q0].how.timeout_ms == 1000, "first attempt: up0, UDP, 1 s");
	answer(q0, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	CHECK(g1.calls == 0, "no callback from inside the resolver's");
	run_loop();
	CHECK(g1.calls == 1 && g1.result == DNS_FOUND &&
	    g1.dnssec == DNSSEC_SECURE && strcmp(g1.mx0, "mx.a.example") == 0,
	    "answer delivered: calls %d result %d mx %s", g1.calls, g1.result,
	    g1.mx0);

	fake_now += 59999;
	lookup(c, "A.Example.", DNS_MX, &g2);
	CHECK(nqueries == q0 + 1, "hit: nothing sent");
	CHECK(g2.calls == 0 && !g2.during_lookup, "hit not answered inside");
	run_loop();
	CHECK(g2.calls == 1 && g2.result == DNS_FOUND &&
	    g2.dnssec == DNSSEC_SECURE && strcmp(g2.mx0, "mx.a.example") == 0 &&
	    strcmp(g2.name, "A.Example.") == 0, "hit keeps everything: %s %s",
	    g2.mx0, g2.name);
	lookup(c, "a.example", DNS_A, &g4);
	CHECK(nqueries == q0 + 2, "another type is another key");
	answer(q0 + 1, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);

	fake_now += 1;
	lookup(c, "a.example", DNS_MX, &g3);
	CHECK(nqueries == q0 + 3, "expired after its TTL: asked again");
	answer(q0 + 2, DNS_FOUND, DNSSEC_INSECURE, 60, NULL, false);
	run_loop();
	CHECK(g3.calls == 1 && g3.dnssec == DNSSEC_INSECURE, "new answer");
	dnscache_stats(c, &st);
	CHECK(st.sent == 3 && st.cached == 1 && st.coalesced == 0 &&
	    st.retried == 0 && st.timed_out == 0, "stats %llu %llu",
	    (unsigned long long)st.sent, (unsigned long long)st.cached);
	dnscache_free(c);
}

/* Negative answers: their TTL (capped at an hour), none without an SOA. */
static void
test_negative(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct got g[4];
	size_t q0 = nqueries;

	memset(g, 0, sizeof(g));
	CHECK(dnscache_keep_seconds(DNS_NXDOMAIN, 7200) == 3600, "cap 1 h");
	CHECK(dnscache_keep_seconds(DNS_NODATA, 30) == 30, "nodata ttl");
	CHECK(dnscache_keep_seconds(DNS_FOUND, 200000) == 86400, "cap 1 d");
	CHECK(dnscache_keep_seconds(DNS_FAIL, 300) == 0, "fail never");

	lookup(c, "gone.example", DNS_MX, &g[0]);
	answer(q0, DNS_NXDOMAIN, DNSSEC_SECURE, 30, NULL, false);
	run_loop();
	fake_now += 29999;
	lookup(c, "gone.example", DNS_MX, &g[1]);
	run_loop();
	CHECK(nqueries == q0 + 1 && g[1].result == DNS_NXDOMAIN &&
	    g[1].dnssec == DNSSEC_SECURE, "NXDOMAIN cached for its TTL");
	fake_now += 1;
	lookup(c, "gone.example", DNS_MX, &g[2]);
	CHECK(nqueries == q0 + 2, "NXDOMAIN expired");
	/* NODATA with no SOA: TTL 0 from dns.c, so not kept. */
	answer(q0 + 1, DNS_NODATA, DNSSEC_INSECURE, 0, NULL, false);
	run_loop();
	CHECK(g[2].result == DNS_NODATA && g[2].dnssec == DNSSEC_INSECURE,
	    "nodata insecure delivered");
	lookup(c, "gone.example", DNS_MX, &g[3]);
	CHECK(nqueries == q0 + 3, "TTL 0 is not kept");
	answer(q0 + 2, DNS_NODATA, DNSSEC_INSECURE, 0, NULL, false);
	run_loop();
	dnscache_free(c);
}

/* Failures: held briefly with backoff, always as failures. */
static void
test_failure_hold(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct got g[6];
	size_t q0 = nqueries;

	memset(g, 0, sizeof(g));
	CHECK(dnscache_fail_hold_ms(1) == 125 && dnscache_fail_hold_ms(2) ==
	    250 && dnscache_fail_hold_ms(4) == 1000 &&
	    dnscache_fail_hold_ms(40) == 1000, "hold schedule");
	lookup(c, "sf.example", DNS_TLSA, &g[0]);
	answer(q0, DNS_FAIL, DNSSEC_INDETERMINATE, 300, "SERVFAIL", false);
	run_loop();
	CHECK(g[0].result == DNS_FAIL && g[0].count == 0 &&
	    strcmp(g[0].error, "SERVFAIL") == 0, "failure delivered: %s",
	    g[0].error);
	fake_now += 124;
	lookup(c, "sf.example", DNS_TLSA, &g[1]);
	run_loop();
	CHECK(nqueries == q0 + 1 && g[1].result == DNS_FAIL &&
	    strcmp(g[1].error, "SERVFAIL") == 0,
	    "held failure served as a failure (result %d)", g[1].result);
	fake_now += 1;
	lookup(c, "sf.example", DNS_TLSA, &g[2]);
	CHECK(nqueries == q0 + 2, "hold over: asked again");
	answer(q0 + 1, DNS_FAIL, DNSSEC_BOGUS, 0,
	    "DNSSEC validation failed (bogus)", false);
	run_loop();
	CHECK(g[2].result == DNS_FAIL && g[2].dnssec == DNSSEC_BOGUS,
	    "bogus kept");
	fake_now += 249;
	lookup(c, "sf.example", DNS_TLSA, &g[3]);
	run_loop();
	CHECK(nqueries == q0 + 2 && g[3].result == DNS_FAIL &&
	    g[3].dnssec == DNSSEC_BOGUS, "second failure held longer");
	fake_now += 1;
	lookup(c, "sf.example", DNS_TLSA, &g[4]);
	CHECK(nqueries == q0 + 3, "backoff over: asked again");
	answer(q0 + 2, DNS_FOUND, DNSSEC_SECURE, 300, NULL, false);
	run_loop();
	CHECK(g[4].result == DNS_FOUND && g[4].count == 1 &&
	    g[4].tlsa0_len == 4 && g[4].tlsa0[0] == 0xde &&
	    g[4].tlsa0[3] == 0xef, "recovered");
	lookup(c, "sf.example", DNS_TLSA, &g[5]);
	run_loop();
	CHECK(g[5].result == DNS_FOUND && g[5].tlsa0_len == 4 &&
	    g[5].tlsa0[0] == 0xde && g[5].tlsa0[3] == 0xef,
	    "TLSA data copied, not borrowed from the resolver");
	dnscache_free(c);
}

/* Identical lookups in flight share one attempt. */
static void
test_coalescing(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct dnscache_stats st;
	static struct got g[300];
	size_t q0 = nqueries;
	int delivered = 0, inside = 0;

	memset(g, 0, sizeof(g));
	for (int i = 0; i < 300; i++)
		lookup(c, i % 2 ? "Bulk.example" : "bulk.example.", DNS_MX,
		    &g[i]);
	CHECK(nqueries == q0 + 1, "300 lookups, %zu queries", nqueries - q0);
	answer(q0, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	for (int i = 0; i < 300; i++) {
		delivered += g[i].calls == 1 && g[i].result == DNS_FOUND &&
		    strcmp(g[i].mx0, "mx.bulk.example") == 0;
		inside += g[i].during_lookup;
	}
	CHECK(delivered == 300 && inside == 0, "all 300 answered: %d",
	    delivered);
	dnscache_stats(c, &st);
	CHECK(st.sent == 1 && st.coalesced == 299, "coalesced %llu",
	    (unsigned long long)st.coalesced);
	dnscache_free(c);
}

/* Timeouts move to the next upstream over TCP; later lookups start there. */
static void
test_failover(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 2, 0);
	struct dnscache_stats st;
	struct got g1 = { 0 }, g2 = { 0 };
	size_t q0 = nqueries;

	lookup(c, "fo.example", DNS_MX, &g1);
	CHECK(queries[q0].how.upstream == 0, "starts at up0");
	fake_now += 1000;
	answer(q0, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "timeout", true);
	CHECK(nqueries == q0 + 2 && queries[q0 + 1].how.upstream == 1 &&
	    queries[q0 + 1].how.tcp && queries[q0 + 1].how.timeout_ms == 2000,
	    "second attempt: up1, TCP, 2 s (up %zu tcp %d ms %u)",
	    queries[q0 + 1].how.upstream, queries[q0 + 1].how.tcp,
	    queries[q0 + 1].how.timeout_ms);
	answer(q0 + 1, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	CHECK(g1.calls == 1 && g1.result == DNS_FOUND, "answered by up1");
	lookup(c, "next.example", DNS_MX, &g2);
	CHECK(queries[q0 + 2].how.upstream == 1 && !queries[q0 + 2].how.tcp,
	    "the next lookup starts at the upstream that answered, on UDP");
	answer(q0 + 2, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	dnscache_stats(c, &st);
	CHECK(st.sent == 3 && st.retried == 1 && st.timed_out == 1,
	    "stats sent %llu retried %llu timed out %llu",
	    (unsigned long long)st.sent, (unsigned long long)st.retried,
	    (unsigned long long)st.timed_out);
	dnscache_free(c);
}

/* Every attempt silent: 4 attempts in 10 s, the report names both. */
static void
test_all_silent(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 2, 0);
	struct got g = { 0 }, g2 = { 0 };
	static const unsigned want[] = { 1000, 2000, 4000, 3000 };
	size_t q0 = nqueries, i;

	lookup(c, "silent.example", DNS_A, &g);
	for (i = 0; i < 4; i++) {
		CHECK(nqueries == q0 + i + 1, "attempt %zu made", i + 1);
		CHECK(queries[q0 + i].how.timeout_ms == want[i],
		    "attempt %zu deadline %u, want %u", i + 1,
		    queries[q0 + i].how.timeout_ms, want[i]);
		CHECK(queries[q0 + i].how.upstream == i % 2, "rotates");
		fake_now += queries[q0 + i].how.timeout_ms;
		answer(q0 + i, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "timeout",
		    true);
	}
	CHECK(nqueries == q0 + 4, "no fifth attempt");
	run_loop();
	CHECK(g.calls == 1 && g.result == DNS_FAIL &&
	    strstr(g.error, "no answer from up0, up1") != NULL,
	    "report: %s", g.error);
	/* The next lookup no longer starts at a silent first upstream...
	 * both were silent: it starts at the one after the last tried. */
	lookup(c, "other.example", DNS_A, &g2);
	CHECK(queries[q0 + 4].how.upstream == 0, "preferred rotates");
	dnscache_free(c); /* with that attempt outstanding */
	CHECK(!queries[q0 + 4].live, "free cancels the attempt");
	CHECK(g2.calls == 0, "no callback after free");
}

/* Waiting in the resolver's queue does not eat the lookup's budget. */
static void
test_queue_wait(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct got g = { 0 };
	size_t q0 = nqueries;

	lookup(c, "q.example", DNS_MX, &g);
	fake_now += 9500;         /* 8.5 s queued, then a 1 s attempt */
	next_queued_ms = 8500;
	answer(q0, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "timeout", true);
	CHECK(nqueries == q0 + 2 && queries[q0 + 1].how.timeout_ms == 2000,
	    "second attempt with its full deadline after a queue wait");
	answer(q0 + 1, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	CHECK(g.calls == 1 && g.result == DNS_FOUND, "answered");
	dnscache_free(c);
}

/* REFUSED moves on at once; when every upstream refused, that is it. */
static void
test_refused(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 2, 0);
	struct dnscache_stats st;
	struct got g = { 0 }, g2 = { 0 };
	size_t q0 = nqueries;

	lookup(c, "r.example", DNS_MX, &g);
	answer(q0, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "REFUSED", false);
	CHECK(nqueries == q0 + 2 && queries[q0 + 1].how.upstream == 1 &&
	    !queries[q0 + 1].how.tcp, "refused: next upstream, still UDP");
	answer(q0 + 1, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "REFUSED", false);
	CHECK(nqueries == q0 + 2, "both refused: no more attempts");
	run_loop();
	CHECK(g.result == DNS_FAIL && strcmp(g.error, "REFUSED") == 0,
	    "refused reported: %s", g.error);
	/* A refusing first upstream: the second answers. */
	lookup(c, "r2.example", DNS_MX, &g2);
	answer(q0 + 2, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "REFUSED", false);
	answer(q0 + 3, DNS_NODATA, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	CHECK(g2.result == DNS_NODATA && g2.dnssec == DNSSEC_SECURE,
	    "second upstream's answer");
	dnscache_stats(c, &st);
	CHECK(st.timed_out == 0 && st.retried == 2, "retried %llu",
	    (unsigned long long)st.retried);
	dnscache_free(c);
}

/* A send error comes at once: the next attempt waits a little. */
static void
test_transient(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct got g = { 0 };
	struct timeval wait = { 0, 150000 };
	size_t q0 = nqueries;

	lookup(c, "t.example", DNS_MX, &g);
	answer(q0, DNS_FAIL, DNSSEC_INDETERMINATE, 0, "lookup error", false);
	run_loop();
	CHECK(nqueries == q0 + 1, "no attempt at once after a send error");
	/* The pause is a real libevent timer (100 ms). */
	(void)event_base_loopexit(base, &wait);
	(void)event_base_dispatch(base);
	CHECK(nqueries == q0 + 2 && queries[q0 + 1].how.tcp,
	    "retried after the pause, over TCP");
	answer(q0 + 1, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	CHECK(g.calls == 1 && g.result == DNS_FOUND, "answered after retry");
	dnscache_free(c);
}

/* A cancelled lookup gets no callback, its answer is still kept. */
static void
test_cancel(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct dnscache_req *r;
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	size_t q0 = nqueries;

	r = lookup(c, "c.example", DNS_AAAA, &g1);
	dnscache_cancel(r);
	CHECK(queries[q0].live, "the attempt goes on for the cache");
	answer(q0, DNS_FOUND, DNSSEC_SECURE, 60, NULL, false);
	run_loop();
	CHECK(g1.calls == 0, "no callback after cancel");
	r = lookup(c, "c.example", DNS_AAAA, &g2);
	dnscache_cancel(r); /* cancelled while ready */
	lookup(c, "c.example", DNS_AAAA, &g3);
	run_loop();
	CHECK(nqueries == q0 + 1 && g2.calls == 0 && g3.calls == 1,
	    "cancel of a ready hit");
	/* Freed with a ready request: no callback, no leak (ASan). */
	lookup(c, "c.example", DNS_AAAA, &g2);
	dnscache_free(c);
	run_loop();
	CHECK(g2.calls == 0, "no callback after free");
}

/* The table is bounded: the oldest answers go first. */
static void
test_eviction(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 4);
	struct got g[8];
	char name[32];
	size_t q0 = nqueries;

	memset(g, 0, sizeof(g));
	for (int i = 0; i < 6; i++) {
		(void)snprintf(name, sizeof(name), "e%d.example", i);
		lookup(c, name, DNS_MX, &g[i]);
		answer(q0 + (size_t)i, DNS_FOUND, DNSSEC_SECURE, 600, NULL,
		    false);
	}
	run_loop();
	lookup(c, "e5.example", DNS_MX, &g[6]);
	CHECK(nqueries == q0 + 6, "newest kept");
	lookup(c, "e0.example", DNS_MX, &g[7]);
	CHECK(nqueries == q0 + 7, "oldest evicted");
	answer(q0 + 6, DNS_FOUND, DNSSEC_SECURE, 600, NULL, false);
	run_loop();
	CHECK(g[6].calls == 1 && g[7].calls == 1, "both answered");
	dnscache_free(c);
}

/*
 * The DNSSEC status of each CNAME link and of the records (a signed name
 * CNAME'd into an unsigned zone) comes back from the cache as dns.c gave
 * it, though the resolver's storage is gone.
 */
static void
test_cname_links(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct dns_cname_link links[2];
	struct got g1 = { 0 }, g2 = { 0 };
	size_t q0 = nqueries;

	(void)snprintf(links[0].owner, sizeof(links[0].owner), "mx.a.example");
	links[0].dnssec = DNSSEC_SECURE;
	(void)snprintf(links[1].owner, sizeof(links[1].owner), "mx.b.example");
	links[1].dnssec = DNSSEC_SECURE;
	next_links = links;
	next_nlinks = 2;
	next_records_dnssec = DNSSEC_INSECURE;
	lookup(c, "mx.a.example", DNS_A, &g1);
	answer(q0, DNS_FOUND, DNSSEC_INSECURE, 60, NULL, false);
	memset(links, 0, sizeof(links));
	run_loop();
	lookup(c, "mx.a.example", DNS_A, &g2);
	CHECK(nqueries == q0 + 1, "cached");
	run_loop();
	CHECK(g2.calls == 1 && g2.nlinks == 2 &&
	    g2.link0_dnssec == DNSSEC_SECURE &&
	    g2.link1_dnssec == DNSSEC_SECURE &&
	    strcmp(g2.link1, "mx.b.example") == 0 &&
	    g2.records_dnssec == DNSSEC_INSECURE &&
	    g2.dnssec == DNSSEC_INSECURE,
	    "links kept: %zu links, %d %d %s, records %d", g2.nlinks,
	    g2.link0_dnssec, g2.link1_dnssec, g2.link1, g2.records_dnssec);
	CHECK(g1.nlinks == 2 && g1.records_dnssec == DNSSEC_INSECURE,
	    "first caller got the links too");
	dnscache_free(c);
}

/* ---- reuse times of signed replies (dnsttl.c) ------------------------- */

/* The wall clock of the made-up replies, seconds since the epoch. */
#define WALL 1800000000u

/* Appends one record to section `sec` ("answer", "authority") of reply. */
static void
add_rr(getdns_dict *reply, const char *sec, uint32_t type, uint32_t ttl,
    getdns_dict *rdata)
{
	getdns_list *list = NULL;
	getdns_dict *rr = getdns_dict_create();
	size_t n = 0;
	bool made = false;

	if (getdns_dict_get_list(reply, sec, &list) != GETDNS_RETURN_GOOD) {
		list = getdns_list_create();
		made = true;
	}
	(void)getdns_list_get_length(list, &n);
	(void)getdns_dict_set_int(rr, "type", type);
	(void)getdns_dict_set_int(rr, "class", GETDNS_RRCLASS_IN);
	(void)getdns_dict_set_int(rr, "ttl", ttl);
	if (rdata != NULL)
		(void)getdns_dict_set_dict(rr, "rdata", rdata);
	(void)getdns_list_set_dict(list, n, rr); /* copies */
	if (made) {
		(void)getdns_dict_set_list(reply, sec, list); /* copies */
		getdns_list_destroy(list);
	}
	getdns_dict_destroy(rr);
	if (rdata != NULL)
		getdns_dict_destroy(rdata);
}

/* An RRSIG's rdata: covered type, original TTL, expiration (absolute). */
static getdns_dict *
sig_rdata(uint32_t covered, uint32_t orig_ttl, uint32_t expiration)
{
	getdns_dict *d = getdns_dict_create();

	(void)getdns_dict_set_int(d, "type_covered", covered);
	(void)getdns_dict_set_int(d, "original_ttl", orig_ttl);
	(void)getdns_dict_set_int(d, "signature_expiration", expiration);
	(void)getdns_dict_set_int(d, "signature_inception", WALL - 3600);
	return d;
}

/* An SOA's rdata with the given MINIMUM. */
static getdns_dict *
soa_rdata(uint32_t minimum)
{
	getdns_dict *d = getdns_dict_create();

	(void)getdns_dict_set_int(d, "minimum", minimum);
	return d;
}

/* dnsttl_of_reply on made-up replies, each bound alone. */
static void
test_ttl_bounds(void)
{
	const uint32_t MX = GETDNS_RRTYPE_MX, SIG = GETDNS_RRTYPE_RRSIG;
	getdns_dict *r;

	r = getdns_dict_create();
	add_rr(r, "answer", MX, 3600, NULL);
	CHECK(dnsttl_of_reply(r, MX, false, WALL) == 3600, "unsigned: TTL");
	add_rr(r, "answer", SIG, 3600, sig_rdata(MX, 900, WALL + 86400));
	CHECK(dnsttl_of_reply(r, MX, false, WALL) == 900,
	    "RRSIG original TTL 900 below the TTL: %u",
	    dnsttl_of_reply(r, MX, false, WALL));
	add_rr(r, "answer", SIG, 3600, sig_rdata(MX, 3600, WALL + 7));
	CHECK(dnsttl_of_reply(r, MX, false, WALL) == 7,
	    "a signature expiring in 7 s: %u",
	    dnsttl_of_reply(r, MX, false, WALL));
	CHECK(dnsttl_of_reply(r, MX, false, WALL + 7) == 0 &&
	    dnsttl_of_reply(r, MX, false, WALL + 100) == 0,
	    "expired signature: not reused");
	getdns_dict_destroy(r);

	/* Serial number arithmetic: an expiration past 2^32 wraps. */
	r = getdns_dict_create();
	add_rr(r, "answer", MX, 3600, NULL);
	add_rr(r, "answer", SIG, 3600, sig_rdata(MX, 3600, 20));
	CHECK(dnsttl_of_reply(r, MX, false, UINT32_MAX - 9) == 30,
	    "expiration after the wrap: %u",
	    dnsttl_of_reply(r, MX, false, UINT32_MAX - 9));
	getdns_dict_destroy(r);

	/* An RRSIG over another type does not count; one over a CNAME
	 * followed does. */
	r = getdns_dict_create();
	add_rr(r, "answer", MX, 3600, NULL);
	add_rr(r, "answer", SIG, 3600,
	    sig_rdata(GETDNS_RRTYPE_TXT, 3600, WALL + 5));
	CHECK(dnsttl_of_reply(r, MX, false, WALL) == 3600,
	    "RRSIG over TXT ignored");
	add_rr(r, "answer", GETDNS_RRTYPE_CNAME, 3600, NULL);
	add_rr(r, "answer", SIG, 3600,
	    sig_rdata(GETDNS_RRTYPE_CNAME, 3600, WALL + 11));
	CHECK(dnsttl_of_reply(r, MX, false, WALL) == 11,
	    "RRSIG over the CNAME: %u", dnsttl_of_reply(r, MX, false, WALL));
	getdns_dict_destroy(r);

	/* Denials: SOA TTL and MINIMUM, NSEC TTL, and the signatures over
	 * the SOA and the NSEC; nothing without an SOA. */
	r = getdns_dict_create();
	add_rr(r, "authority", GETDNS_RRTYPE_NSEC, 3600, NULL);
	CHECK(dnsttl_of_reply(r, MX, true, WALL) == 0, "denial without SOA");
	add_rr(r, "authority", GETDNS_RRTYPE_SOA, 3600, soa_rdata(600));
	CHECK(dnsttl_of_reply(r, MX, true, WALL) == 600, "SOA MINIMUM: %u",
	    dnsttl_of_reply(r, MX, true, WALL));
	add_rr(r, "authority", SIG, 3600,
	    sig_rdata(GETDNS_RRTYPE_SOA, 3600, WALL + 60));
	CHECK(dnsttl_of_reply(r, MX, true, WALL) == 60,
	    "denial, SOA signature expiring in 60 s: %u",
	    dnsttl_of_reply(r, MX, true, WALL));
	add_rr(r, "authority", SIG, 3600,
	    sig_rdata(GETDNS_RRTYPE_NSEC, 30, WALL + 86400));
	CHECK(dnsttl_of_reply(r, MX, true, WALL) == 30,
	    "denial, NSEC signature's original TTL 30: %u",
	    dnsttl_of_reply(r, MX, true, WALL));
	add_rr(r, "authority", GETDNS_RRTYPE_NSEC, 20, NULL);
	CHECK(dnsttl_of_reply(r, MX, true, WALL) == 20, "NSEC TTL 20: %u",
	    dnsttl_of_reply(r, MX, true, WALL));
	CHECK(dnsttl_of_reply(r, MX, false, WALL) == 0,
	    "the authority section counts only for a denial");
	getdns_dict_destroy(r);
}

/*
 * A signed MX RRset with TTL 3600 whose signature expires in 5 s: the
 * cache serves it for 5 s and then asks again, though the TTL runs on.
 */
static void
test_rrsig_expiry(void)
{
	struct dns dns;
	struct dnscache *c = make_cache(&dns, 1, 0);
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	getdns_dict *r = getdns_dict_create();
	size_t q0 = nqueries;
	uint32_t ttl;

	add_rr(r, "answer", GETDNS_RRTYPE_MX, 3600, NULL);
	add_rr(r, "answer", GETDNS_RRTYPE_RRSIG, 3600,
	    sig_rdata(GETDNS_RRTYPE_MX, 3600, WALL + 5));
	ttl = dnsttl_of_reply(r, GETDNS_RRTYPE_MX, false, WALL);
	getdns_dict_destroy(r);

	lookup(c, "sig.example", DNS_MX, &g1);
	answer(q0, DNS_FOUND, DNSSEC_SECURE, ttl, NULL, false);
	run_loop();
	CHECK(g1.calls == 1 && g1.result == DNS_FOUND, "signed MX found");
	fake_now += 4999;
	lookup(c, "sig.example", DNS_MX, &g2);
	CHECK(nqueries == q0 + 1, "before the signature expires: cached");
	run_loop();
	CHECK(g2.calls == 1 && g2.dnssec == DNSSEC_SECURE, "served cached");
	fake_now += 1;
	lookup(c, "sig.example", DNS_MX, &g3);
	CHECK(nqueries == q0 + 2, "signature expired (TTL 3600 not): the "
	    "cache must ask again, %zu queries", nqueries - q0);
	answer(q0 + 1, DNS_FOUND, DNSSEC_SECURE, 3600, NULL, false);
	run_loop();
	dnscache_free(c);
}

int
main(void)
{
	base = event_base_new();
	if (base == NULL)
		return 1;
	test_hit_and_expiry();
	test_negative();
	test_failure_hold();
	test_coalescing();
	test_failover();
	test_all_silent();
	test_refused();
	test_queue_wait();
	test_transient();
	test_cancel();
	test_eviction();
	test_cname_links();
	test_ttl_bounds();
	test_rrsig_expiry();
	event_base_free(base);
	return check_report();
}
