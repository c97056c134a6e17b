/*
 * zonekeys: the DNSKEY sets of signed zones that getdns has validated,
 * kept for a while so that dns.c can give them to getdns as extra trust
 * anchors.  Pure data: dns.c reads the validation chains and installs the
 * anchors; this module decides what to keep, which keys, and how long.
 */
#ifndef MXC_ZONEKEYS_H
#define MXC_ZONEKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define ZONEKEYS_TYPE_DS 43
#define ZONEKEYS_TYPE_RRSIG 46
#define ZONEKEYS_TYPE_DNSKEY 48

/* One record of a validation chain, as much of it as zonekeys reads. */
struct zonekeys_record {
	const uint8_t *owner;     /* wire format, any case */
	size_t owner_len;
	uint16_t type;            /* DNSKEY, DS or RRSIG; others are ignored */
	uint32_t ttl;
	const uint8_t *rdata;     /* DNSKEY: flags, protocol, algorithm, key */
	size_t rdata_len;
	/* RRSIG only: */
	uint16_t covered;         /* the type it signs */
	uint16_t key_tag;
	uint32_t original_ttl;
	uint32_t expiration;      /* seconds since 1970, modulo 2^32 */
};

/* One key given to getdns as an anchor; pointers valid until the next
 * change (learn, expire, forget). */
struct zonekeys_key {
	const uint8_t *owner;     /* wire format, lower case */
	size_t owner_len;
	const uint8_t *rdata;     /* DNSKEY RDATA */
	size_t rdata_len;
};

/* Counters, since the table was made. */
struct zonekeys_stats {
	uint64_t learned;         /* zone key sets taken in */
	size_t held;              /* sets held now */
};

struct zonekeys;

/* A table holding at most max_zones sets (0: 4096); NULL when out of
 * memory. */
struct zonekeys *zonekeys_new(size_t max_zones);
void zonekeys_free(struct zonekeys *zk);
/*
 * Takes in the DNSKEY sets of the validation chain of an answer getdns
 * found secure (the chain holds only RRsets getdns authenticated; the
 * caller must not pass the chain of any other answer).  A zone already
 * held whose set differs in the chain takes the new set.  `now` is the
 * wall clock, as in RRSIG dates; `margin` seconds are taken off every
 * lifetime (the longest a lookup started now can take, so that a set
 * installed for it is still valid when its answer is validated).
 * Returns true when the anchors changed.
 */
bool zonekeys_learn(struct zonekeys *zk, const struct zonekeys_record *chain,
                    size_t n, time_t now, uint32_t margin);
/* Drops the sets whose time is up; returns true when the anchors
 * changed. */
bool zonekeys_expire(struct zonekeys *zk, time_t now);
/* Drops every set; returns true when the anchors changed. */
bool zonekeys_forget(struct zonekeys *zk);
/* Changes whenever the anchors change (learn, expire, forget). */
uint64_t zonekeys_generation(const struct zonekeys *zk);
/* The keys to give getdns: those of every held zone not marked by
 * zonekeys_mark_signer() (the zones that only delegate, such as TLDs,
 * through which getdns validates the first answer of a new zone); n is
 * set to their number.  Valid until the next change. */
const struct zonekeys_key *zonekeys_keys(const struct zonekeys *zk,
                                         size_t *n);
/*
 * The keys held for exactly the zone `zone` (wire, any case), n set to
 * their number; NULL when that zone is not held.  Valid until the next
 * change.
 */
const struct zonekeys_key *zonekeys_zone(const struct zonekeys *zk,
                                         const uint8_t *zone, size_t len,
                                         size_t *n);
/*
 * Notes that the closest held zone at or above `name` (wire) signed a
 * secure answer for it: getdns puts the keys of the zone that signed an
 * answer in its chain, so after zonekeys_learn() that zone is held, and
 * is the closest.  Answers below a zone that only delegates (a TLD) are
 * signed by zones below it, so only marked zones are worth checking
 * answers against directly (zonekeys_signs_answers).  A marked zone's
 * keys leave the anchors (zonekeys_keys), which changes the generation.
 * A TLD is never marked: names in a TLD's own zone are rare, the new
 * domains below it are not, and their first answers need its keys as
 * an anchor.
 */
void zonekeys_mark_signer(struct zonekeys *zk, const uint8_t *name,
                          size_t len);
/* Whether the closest held zone at or above `name` was so marked. */
bool zonekeys_signs_answers(const struct zonekeys *zk, const uint8_t *name,
                            size_t len);
void zonekeys_stats(const struct zonekeys *zk, struct zonekeys_stats *out);
/* The RFC 4034 appendix B key tag of DNSKEY RDATA. */
uint16_t zonekeys_key_tag(const uint8_t *rdata, size_t len);

#endif
