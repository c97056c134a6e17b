/*
 * pool: the sessions an engine keeps after their transactions, so that the
 * next delivery to the same place needs no new connection, handshake or
 * greeting.  An idle session is found again only by an exact key: MX host
 * name, address and TLS policy digest (the port and the transport are the
 * engine's, the same for all), so mail never goes over a session made
 * under another policy.  Sessions that are not kept are ended politely
 * (QUIT) here too, so that deliveries need not wait for it.
 */
#ifndef MXC_POOL_H
#define MXC_POOL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct config;
struct policy;
struct session;
struct pool;

/* Limits; zero means default. */
struct pool_limits {
	unsigned max_transactions; /* per session; 1: never reuse.  0: 100 */
	unsigned idle_ms;          /* an idle session is closed after; 0: 5 s */
	unsigned max_age_ms;       /* nor reused once this old; 0: 300 s */
	unsigned max_idle;         /* idle sessions kept at most (the oldest
	                              goes first); 0: 100 */
};

/* What the pool did, since it was made. */
struct pool_stats {
	uint64_t reused;           /* transactions on a session from the pool */
	uint64_t kept;             /* sessions put back idle */
	uint64_t closed_idle;      /* idle sessions closed: limit, age, room */
};

struct pool *pool_new(const struct config *config,
                      const struct pool_limits *limits);
/* Closes every session at once (no QUIT) and frees the pool. */
void pool_free(struct pool *pool);

/*
 * An idle session for exactly this MX host, address and policy, taken out
 * of the pool (the caller owns it; it is READY), or NULL.
 */
struct session *pool_take(struct pool *pool, const char *mx,
                          const struct sockaddr_storage *addr,
                          const struct policy *policy);
/*
 * Takes a session back after its transaction (or its failed setup):
 * `reusable` keeps it idle for the next delivery if the limits allow and
 * it is still connected; otherwise QUIT.  The pool owns it from now on.
 * `addr` is the address it is connected to.
 */
void pool_put(struct pool *pool, struct session *session,
              const struct sockaddr_storage *addr, bool reusable);
/*
 * Ends every idle session (QUIT) and calls `done` once no session is left
 * in the pool, from an event.  Sessions put back later are ended too.
 */
void pool_drain(struct pool *pool, void (*done)(void *arg), void *arg);
void pool_stats(const struct pool *pool, struct pool_stats *out);

#endif
