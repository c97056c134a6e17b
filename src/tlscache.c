/*
 * tlscache: saved TLS sessions by (MX host, address, port, policy digest).
 *
 * A hash table of chained entries for lookups, and one list in order of
 * use for eviction: the least recently used entry goes when the table is
 * full.  Expiry is checked on lookup (the ticket's lifetime, at most
 * TLSCACHE_MAX_AGE_S), on the monotonic clock.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "clock.h"
#include "fnv.h"
#include "tls.h"
#include "tlscache.h"

/* Buckets of the hash table: a power of two. */
#define BUCKETS 1024

/* One kept session. */
struct entry {
	TAILQ_ENTRY(entry) lru;     /* most recently used first */
	struct entry *next;         /* in its bucket */
	uint32_t hash;
	char *mx;                   /* owned, with address in one allocation */
	char *address;
	unsigned port;
	/* The key's digest, and the digest the DANE check of the connection
	 * it came from was made under: the same one, kept apart so that a
	 * wrong lookup is still caught by the guard. */
	unsigned char key_digest[POLICY_DIGEST_LEN];
	unsigned char auth_digest[POLICY_DIGEST_LEN];
	bool authenticated;
	struct dane_result dane;
	struct tls_saved *saved;
	uint64_t expires_ms;        /* monotonic */
};

TAILQ_HEAD(entry_list, entry);

struct tlscache {
	struct entry *buckets[BUCKETS];
	struct entry_list lru;
	size_t n, max;
	struct tlscache_stats stats;
};

/* The hash of a key: every part of it. */
static uint32_t key_hash(const struct tlscache_key *k)
{
	uint32_t h = FNV1A_INIT;
	h = fnv1a(h, k->mx, strlen(k->mx) + 1);
	h = fnv1a(h, k->address, strlen(k->address) + 1);
	h = fnv1a(h, &k->port, sizeof k->port);
	return fnv1a(h, k->policy->digest, POLICY_DIGEST_LEN);
}

/* Whether an entry is for exactly this key. */
static bool same_key(const struct entry *e, uint32_t hash,
                     const struct tlscache_key *k)
{
	return e->hash == hash && e->port == k->port &&
	       strcmp(e->mx, k->mx) == 0 &&
	       strcmp(e->address, k->address) == 0 &&
	       memcmp(e->key_digest, k->policy->digest, POLICY_DIGEST_LEN) == 0;
}

/* The bucket slot that points at the entry for a key (or at NULL). */
static struct entry **find(struct tlscache *c, uint32_t hash,
                           const struct tlscache_key *k)
{
	struct entry **at = &c->buckets[hash & (BUCKETS - 1)];
	while (*at != NULL && !same_key(*at, hash, k))
		at = &(*at)->next;
	return at;
}

/* Unlinks and frees the entry *at points to. */
static void remove_at(struct tlscache *c, struct entry **at)
{
	struct entry *e = *at;
	*at = e->next;
	TAILQ_REMOVE(&c->lru, e, lru);
	c->n--;
	c->stats.bytes -= tls_saved_size(e->saved);
	tls_saved_free(e->saved);
	free(e->mx);
	free(e);
}

/* Removes an entry found by pointer (eviction). */
static void remove_entry(struct tlscache *c, struct entry *e)
{
	struct entry **at = &c->buckets[e->hash & (BUCKETS - 1)];
	while (*at != e)
		at = &(*at)->next;
	remove_at(c, at);
}

/* Makes a cache. */
struct tlscache *tlscache_new(size_t max)
{
	struct tlscache *c = calloc(1, sizeof *c);
	if (c == NULL)
		return NULL;
	TAILQ_INIT(&c->lru);
	c->max = max ? max : TLSCACHE_DEFAULT_MAX;
	return c;
}

/* Frees the cache and every session in it. */
void tlscache_free(struct tlscache *c)
{
	if (c == NULL)
		return;
	struct entry *e;
	while ((e = TAILQ_FIRST(&c->lru)) != NULL)
		remove_entry(c, e);
	free(c);
}

/* Keeps a session for a key. */
void tlscache_put(struct tlscache *c, const struct tlscache_key *k,
                  struct tls_saved *saved,
                  const struct dane_result *authenticated)
{
	if (saved == NULL)
		return;
	uint32_t hash = key_hash(k);
	struct entry **at = find(c, hash, k);
	if (*at != NULL)
		remove_at(c, at);
	while (c->n >= c->max && !TAILQ_EMPTY(&c->lru))
		remove_entry(c, TAILQ_LAST(&c->lru, entry_list));
	size_t mxlen = strlen(k->mx) + 1, addrlen = strlen(k->address) + 1;
	struct entry *e = calloc(1, sizeof *e);
	char *names = malloc(mxlen + addrlen);
	if (e == NULL || names == NULL) {
		free(e);
		free(names);
		tls_saved_free(saved);
		return;
	}
	memcpy(names, k->mx, mxlen);
	memcpy(names + mxlen, k->address, addrlen);
	e->mx = names;
	e->address = names + mxlen;
	e->port = k->port;
	e->hash = hash;
	memcpy(e->key_digest, k->policy->digest, POLICY_DIGEST_LEN);
	memcpy(e->auth_digest, k->policy->digest, POLICY_DIGEST_LEN);
	e->authenticated = authenticated != NULL;
	if (authenticated != NULL)
		e->dane = *authenticated;
	e->saved = saved;
	uint32_t life = tls_saved_lifetime(saved);
	if (life > TLSCACHE_MAX_AGE_S)
		life = TLSCACHE_MAX_AGE_S;
	e->expires_ms = clock_ms() + life * 1000ull;
	/* find() may have moved with the removals: insert at the head. */
	struct entry **head = &c->buckets[hash & (BUCKETS - 1)];
	e->next = *head;
	*head = e;
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	c->n++;
	c->stats.stored++;
	c->stats.bytes += tls_saved_size(saved);
}

/* Looks a key up, dropping what expired. */
bool tlscache_get(struct tlscache *c, const struct tlscache_key *k,
                  struct tlscache_hit *out)
{
	uint32_t hash = key_hash(k);
	struct entry **at = find(c, hash, k);
	struct entry *e = *at;
	if (e == NULL)
		return false;
	if (clock_ms() >= e->expires_ms) {
		remove_at(c, at);
		return false;
	}
	TAILQ_REMOVE(&c->lru, e, lru);
	TAILQ_INSERT_HEAD(&c->lru, e, lru);
	out->saved = e->saved;
	out->authenticated = e->authenticated;
	memcpy(out->digest, e->auth_digest, POLICY_DIGEST_LEN);
	out->dane = e->dane;
	c->stats.offered++;
	return true;
}

/* Forgets a key's session. */
void tlscache_drop(struct tlscache *c, const struct tlscache_key *k)
{
	struct entry **at = find(c, key_hash(k), k);
	if (*at != NULL)
		remove_at(c, at);
}

/* Counts a resumed handshake. */
void tlscache_resumed(struct tlscache *c)
{
	c->stats.resumed++;
}

/* Copies the counters. */
void tlscache_stats(const struct tlscache *c, struct tlscache_stats *out)
{
	*out = c->stats;
	out->entries = c->n;
}
