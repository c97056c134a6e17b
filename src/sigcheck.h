/*
 * sigcheck: decides whether a DNS reply is an answer authenticated by the
 * keys of a zone already held (zonekeys), by checking its RRSIGs here
 * instead of handing the reply to getdns, which would validate it from
 * its trust anchors down again.  Pure: the reply is wire format, the
 * crypto is dnssig's.
 *
 * It says "secure" only for the two shapes that make up nearly every
 * lookup a delivery makes, and only when every rule of RFC 4035 5.3 that
 * applies to them holds; anything else is "unsure", and the caller has
 * getdns validate the answer as before:
 *   - a positive answer: NOERROR, the answer section holding exactly the
 *     RRset asked for at the name asked (no CNAME, no DNAME, no wildcard
 *     expansion) and RRSIGs over it, one of which a held key verifies;
 *   - a NODATA answer: NOERROR, an empty answer section, and in the
 *     authority section an NSEC owned by the name asked, or an NSEC3
 *     whose owner is the hash of the name right below a zone enclosing
 *     it (SHA-1, flags 0 or 1, at most 150 iterations), verified the
 *     same way, whose type bitmap has neither the type asked nor CNAME
 *     and that is not the parent's side of a delegation (RFC 4035 5.4,
 *     RFC 5155 8.5, RFC 6840 4.4).
 * NXDOMAIN, wildcards, CNAMEs, empty non-terminals and unknown
 * algorithms are left to getdns.
 */
#ifndef MXC_SIGCHECK_H
#define MXC_SIGCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zonekeys;

/*
 * Whether the reply `msg` (wire format, len octets) to a query for
 * `qname` (wire format, lower case) and `qtype` (class IN) is secure by
 * the keys held in `zk`, at wall-clock time `now` (seconds since 1970,
 * modulo 2^32, as in RRSIG dates).  When it is not, `why` (may be NULL)
 * gets a short reason for tests and logs.
 */
bool sigcheck_reply(const uint8_t *msg, size_t len, const uint8_t *qname,
                    size_t qname_len, uint16_t qtype,
                    const struct zonekeys *zk, uint32_t now,
                    const char **why);

#endif
