/*
 * test_tlscache: the TLS session cache on its own (src/tlscache.c compiled
 * in), with made-up saved sessions in place of tls_wolfssl.c's and a fake
 * monotonic clock: exact keys (host, address, port, policy digest), what a
 * hit carries for the DANE guard, replacement, least-recently-used
 * eviction at the bound, expiry by the ticket's lifetime and by the cap,
 * and that every saved session is freed exactly once.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "tls.h"
#include "tlscache.h"

/* A made-up saved session: its lifetime and a serial to tell them apart. */
struct tls_saved {
	uint32_t lifetime;
	int serial;
};

static int saved_live; /* made and not yet freed */

/* Makes a saved session. */
static struct tls_saved *saved(int serial, uint32_t lifetime)
{
	struct tls_saved *s = malloc(sizeof *s);
	s->serial = serial;
	s->lifetime = lifetime;
	saved_live++;
	return s;
}

/* tls.h's functions, as tlscache.c calls them: frees a saved session. */
void tls_saved_free(struct tls_saved *s)
{
	if (s != NULL)
		saved_live--;
	free(s);
}

/* Its ticket's lifetime. */
uint32_t tls_saved_lifetime(const struct tls_saved *s)
{
	return s->lifetime;
}

/* Its size. */
size_t tls_saved_size(const struct tls_saved *s)
{
	return sizeof *s;
}

/* The fake monotonic clock, in ms. */
static uint64_t fake_ms = 1000000;

/* Interposes the clock tlscache.c reads. */
int clock_gettime(clockid_t id, struct timespec *ts)
{
	(void)id;
	ts->tv_sec = (time_t)(fake_ms / 1000);
	ts->tv_nsec = (long)(fake_ms % 1000) * 1000000;
	return 0;
}

/* Two policies that differ only in their digest. */
static struct policy pol_a, pol_b;

/* A key. */
static struct tlscache_key key(const char *mx, const char *addr,
                               unsigned port, const struct policy *p)
{
	return (struct tlscache_key){ mx, addr, port, p };
}

/* The serial of the session kept for a key, or -1. */
static int serial_of(struct tlscache *c, struct tlscache_key k)
{
	struct tlscache_hit hit;
	if (!tlscache_get(c, &k, &hit))
		return -1;
	return hit.saved->serial;
}

/* Exact keys, and what a hit carries. */
static void test_keys(void)
{
	struct tlscache *c = tlscache_new(0);
	struct dane_result dane = { .authenticated = true };
	snprintf(dane.why, sizeof dane.why, "DANE-EE matched");
	struct tlscache_key k = key("mx1.example", "192.0.2.1", 25, &pol_a);
	tlscache_put(c, &k, saved(1, 600), &dane);
	CHECK(serial_of(c, k) == 1, "exact key: found");
	CHECK(serial_of(c, key("mx1.example", "192.0.2.1", 25, &pol_b)) == -1,
	      "another policy digest: not found");
	CHECK(serial_of(c, key("mx2.example", "192.0.2.1", 25, &pol_a)) == -1,
	      "another MX host: not found");
	CHECK(serial_of(c, key("mx1.example", "192.0.2.2", 25, &pol_a)) == -1,
	      "another address: not found");
	CHECK(serial_of(c, key("mx1.example", "192.0.2.1", 587, &pol_a)) == -1,
	      "another port: not found");
	struct tlscache_hit hit;
	CHECK(tlscache_get(c, &k, &hit) && hit.authenticated &&
	      memcmp(hit.digest, pol_a.digest, POLICY_DIGEST_LEN) == 0 &&
	      strcmp(hit.dane.why, "DANE-EE matched") == 0,
	      "a hit carries the authentication, its digest and the check");
	/* Not authenticated (opportunistic): the hit says so. */
	struct tlscache_key kb = key("mx1.example", "192.0.2.1", 25, &pol_b);
	tlscache_put(c, &kb, saved(2, 600), NULL);
	CHECK(tlscache_get(c, &kb, &hit) && !hit.authenticated,
	      "stored without a check: not authenticated");
	/* Replacing a key's session frees the old one. */
	tlscache_put(c, &k, saved(3, 600), &dane);
	CHECK(serial_of(c, k) == 3, "replaced");
	CHECK(saved_live == 2, "the replaced session was freed (%d live)",
	      saved_live);
	struct tlscache_stats st;
	tlscache_stats(c, &st);
	CHECK(st.entries == 2 && st.stored == 3, "stats: %llu entries, %llu "
	      "stored", (unsigned long long)st.entries,
	      (unsigned long long)st.stored);
	tlscache_drop(c, &k);
	CHECK(serial_of(c, k) == -1 && saved_live == 1, "dropped and freed");
	tlscache_free(c);
	CHECK(saved_live == 0, "freed with the cache (%d live)", saved_live);
}

/* The bound: the least recently used entry makes room. */
static void test_lru(void)
{
	struct tlscache *c = tlscache_new(3);
	const char *mx[] = { "a.example", "b.example", "c.example",
	                     "d.example" };
	for (int i = 0; i < 3; i++) {
		struct tlscache_key k = key(mx[i], "192.0.2.1", 25, &pol_a);
		tlscache_put(c, &k, saved(i, 600), NULL);
	}
	CHECK(serial_of(c, key(mx[0], "192.0.2.1", 25, &pol_a)) == 0,
	      "a used again");
	struct tlscache_key kd = key(mx[3], "192.0.2.1", 25, &pol_a);
	tlscache_put(c, &kd, saved(3, 600), NULL);
	CHECK(serial_of(c, key(mx[1], "192.0.2.1", 25, &pol_a)) == -1,
	      "b, the least recently used, made room");
	CHECK(serial_of(c, key(mx[0], "192.0.2.1", 25, &pol_a)) == 0 &&
	      serial_of(c, key(mx[2], "192.0.2.1", 25, &pol_a)) == 2 &&
	      serial_of(c, kd) == 3, "a, c and d kept");
	CHECK(saved_live == 3, "%d live, expected 3", saved_live);
	tlscache_free(c);
	CHECK(saved_live == 0, "all freed");
}

/* Expiry: the ticket's lifetime, at most TLSCACHE_MAX_AGE_S. */
static void test_expiry(void)
{
	struct tlscache *c = tlscache_new(0);
	struct tlscache_key k1 = key("mx1.example", "192.0.2.1", 25, &pol_a);
	struct tlscache_key k2 = key("mx2.example", "192.0.2.1", 25, &pol_a);
	tlscache_put(c, &k1, saved(1, 10), NULL);
	tlscache_put(c, &k2, saved(2, 7 * 24 * 3600), NULL);
	fake_ms += 9999;
	CHECK(serial_of(c, k1) == 1, "within its 10 s: found");
	fake_ms += 1;
	CHECK(serial_of(c, k1) == -1, "after its 10 s: gone");
	CHECK(saved_live == 1, "the expired one was freed");
	fake_ms += (uint64_t)TLSCACHE_MAX_AGE_S * 1000 - 10001;
	CHECK(serial_of(c, k2) == 2, "a week's ticket, just under the cap");
	fake_ms += 1;
	CHECK(serial_of(c, k2) == -1, "a week's ticket, kept an hour at most");
	tlscache_free(c);
	CHECK(saved_live == 0, "all freed");
}

/* Runs the tests. */
int main(void)
{
	memset(pol_a.digest, 0xaa, sizeof pol_a.digest);
	memset(pol_b.digest, 0xaa, sizeof pol_b.digest);
	pol_b.digest[POLICY_DIGEST_LEN - 1] = 0xab; /* the last byte differs */
	test_keys();
	test_lru();
	test_expiry();
	return check_report();
}
