/*
 * tlscache: the TLS sessions an engine keeps so that the next connection
 * to the same place can resume instead of making a full handshake.  One
 * session per key: MX host name, address, port and TLS policy digest (the
 * transport is the engine's, the same for every key).  A resumed TLS 1.3
 * handshake shows no certificate, so each entry carries what the connection
 * it came from established: whether the DANE check of its policy ran and
 * matched, under which digest, and that check's result for reports.  The
 * DANE guard (policy_guard) reads that, never the TLS library's word.
 * Bounded: the least recently used entry makes room, and entries expire.
 */
#ifndef MXC_TLSCACHE_H
#define MXC_TLSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dane.h"
#include "policy.h"

struct tls_saved;
struct tlscache;

/* Entries kept when the engine does not say: a TLS 1.3 ticket is a few
 * hundred bytes, with the peer chain wolfSSL keeps a few KB. */
#define TLSCACHE_DEFAULT_MAX 4096
/* The longest an entry is kept, whatever the ticket's lifetime: how long
 * one certificate check may stand in for later connections. */
#define TLSCACHE_MAX_AGE_S 3600

/* Where a session was made; strings are borrowed for the call. */
struct tlscache_key {
	const char *mx;                 /* MX host name */
	const char *address;            /* its IP as text */
	unsigned port;
	const struct policy *policy;    /* its digest is part of the key */
};

/* What a lookup found, copied out. */
struct tlscache_hit {
	const struct tls_saved *saved;  /* borrowed until the next call */
	/* The connection it came from passed the DANE check of the policy
	 * with this digest (false: not authenticated, or not DANE). */
	bool authenticated;
	unsigned char digest[POLICY_DIGEST_LEN];
	struct dane_result dane;        /* that check's result */
};

/* What the cache did, since it was made. */
struct tlscache_stats {
	uint64_t stored;   /* sessions put in */
	uint64_t offered;  /* lookups that found one to offer */
	uint64_t resumed;  /* handshakes that resumed (tlscache_resumed) */
	uint64_t entries;  /* now kept */
	uint64_t bytes;    /* now taken by the saved sessions */
};

/* A cache of at most `max` entries (0: TLSCACHE_DEFAULT_MAX).  NULL when
 * memory runs out. */
struct tlscache *tlscache_new(size_t max);
void tlscache_free(struct tlscache *cache);

/*
 * Keeps `saved` (taken over, even on failure) for `key`, replacing an
 * earlier one.  `authenticated` is the DANE check that authenticated the
 * connection it came from under key->policy, or NULL if none did (only
 * right for a policy that does not demand DANE).
 */
void tlscache_put(struct tlscache *cache, const struct tlscache_key *key,
                  struct tls_saved *saved,
                  const struct dane_result *authenticated);
/* The session for `key`, if one is kept and not expired. */
bool tlscache_get(struct tlscache *cache, const struct tlscache_key *key,
                  struct tlscache_hit *out);
/* Forgets the session for `key` (the server declined it). */
void tlscache_drop(struct tlscache *cache, const struct tlscache_key *key);
/* Counts a handshake that resumed a session from this cache. */
void tlscache_resumed(struct tlscache *cache);
void tlscache_stats(const struct tlscache *cache, struct tlscache_stats *out);

struct mxc_engine;
/* The engine's cache (engine.c), for the engine tests. */
struct tlscache *engine_tlscache(struct mxc_engine *engine);

#endif
