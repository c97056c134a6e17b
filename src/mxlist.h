/*
 * mxlist: which hosts to try, in which order (RFC 5321 5.1, RFC 7505 null
 * MX, RFC 8305 4 address interleaving).  Pure: random choices come from a
 * function the caller passes, so tests can fix them.
 */
#ifndef MXC_MXLIST_H
#define MXC_MXLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns.h"

/* Most MX hosts tried for one domain; further ones are ignored. */
#define MXLIST_MAX 10

/* Returns a uniformly random integer in [0, bound). */
typedef uint32_t mxlist_random_fn(void *arg, uint32_t bound);

/* Outcome of mxlist_order(). */
enum mxlist_kind {
	MXLIST_HOSTS,   /* out[] holds count hosts to try in order */
	MXLIST_NULL_MX  /* the domain publishes a null MX: it takes no mail */
};

/*
 * Orders `n` MX records into `out` (room for `max`): by preference, equal
 * preferences in random order, duplicate host names dropped (the first, best
 * preference, kept).  A single record with the root target "" is a null MX;
 * a root target among other records is skipped as unusable.  Writes the
 * number of hosts to *count.
 */
enum mxlist_kind mxlist_order(const struct dns_mx *mx, size_t n,
                              struct dns_mx *out, size_t max, size_t *count,
                              mxlist_random_fn *rnd, void *rnd_arg);

/*
 * Interleaves one host's addresses by family, IPv6 first (RFC 8305 4: v6,
 * v4, v6, v4 ...; when one family runs out the other continues), dropping
 * exact duplicates.  `out` has room for n6 + n4.  Returns the count.
 */
size_t mxlist_interleave(const struct sockaddr_storage *v6, size_t n6,
                         const struct sockaddr_storage *v4, size_t n4,
                         struct sockaddr_storage *out);

#endif
