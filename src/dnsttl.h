/*
 * dnsttl: how long a validated DNS reply may be reused, from the reply
 * alone: the TTLs of the records used, bounded for signed data by each
 * RRSIG's original TTL and signature expiration (RFC 4035 5.3.3), and for
 * denials by the SOA (RFC 2308 5).  A module of its own so that the cache
 * test can drive it with made-up replies and a chosen clock.
 */
#ifndef MXC_DNSTTL_H
#define MXC_DNSTTL_H

#include <stdbool.h>
#include <stdint.h>

#include <getdns/getdns.h>

/*
 * Seconds the getdns reply dict `reply` (one entry of replies_tree) may be
 * reused, `now` being the wall clock in seconds since the epoch (RRSIG
 * times are absolute).  `want` is the RR type asked; `negative` says the
 * answer is NXDOMAIN or NODATA.  Counted:
 *   - answer section: the records of type `want` and the CNAMEs followed,
 *     and the RRSIGs covering either (original TTL, and the seconds left
 *     before the signature expires, 0 once expired);
 *   - authority section, for a denial only: the SOA's TTL and MINIMUM, the
 *     NSEC/NSEC3 TTLs, and the RRSIGs covering those three the same way.
 * A denial without an SOA gives 0 (not cached), as does a reply with
 * nothing counted.
 */
uint32_t dnsttl_of_reply(const getdns_dict *reply, uint16_t want,
    bool negative, uint32_t now);

#endif
