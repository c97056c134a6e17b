/*
 * zonekeys: the DNSKEY sets of signed zones that getdns has validated,
 * kept for a while as extra trust anchors (dns.c installs them).
 *
 * Why: getdns 1.6 validates every answer from the root down.  For a name
 * in a signed zone under a signed TLD that is the root's DNSKEY, the
 * TLD's DS and DNSKEY, the zone's DS and DNSKEY and the answer itself:
 * six signature checks per RRset, and a NODATA answer has three RRsets.
 * Measured: 36 checks for one delivery's MX, A, AAAA and TLSA.  A zone's
 * DNSKEY set, once validated, is as good as a trust anchor for that zone
 * for as long as a validating resolver may cache it, and getdns starts
 * each RRset's chain at the closest anchor above it.
 *
 * Which keys: given a DNSKEY anchor, getdns first checks the zone's
 * freshly fetched DNSKEY set against it (one signature check), and only
 * when no anchor key signed that set does it take the anchor itself as
 * the zone's keys.  So the keys that sign the DNSKEY set (the KSKs) are
 * left out of the anchor, and an answer costs its own signature only.  A
 * zone whose every key signs its DNSKEY set (one combined key) keeps them
 * all and costs one check more.
 *
 * How long: the smallest of the original TTLs of the zone's DNSKEY and
 * DS RRsets and of their signatures, the time left before those
 * signatures expire, and an hour; less the caller's margin.  A set the
 * zone no longer publishes (it moved to a new ZSK) can only make answers
 * bogus, never secure: dns.c then forgets every set and validates again
 * from the root.
 *
 * The root's keys are never taken: the configured anchor covers the root.
 *
 * Anchors and checks: a zone that has signed an answer (dns.c marks it)
 * has its later answers checked by sigcheck against its keys here
 * (zonekeys_zone), so only the zones that delegate stay getdns anchors;
 * thousands of zones can be held without handing getdns a list that
 * long on every change.  The table is indexed by owner (open addressing)
 * for the lookups made before every query.
 */
#include "zonekeys.h"
#include "fnv.h"
#include "wirename.h"

#include <stdlib.h>
#include <string.h>

/* Zones held at most by default: more than the new domains a batch has
 * in flight at once (a zone's keys must outlive its first answer until
 * its other answers are checked), at 1 to 2 KB each. */
#define DEFAULT_MAX_ZONES 4096
/* Longest a set is kept, whatever its TTLs. */
#define MAX_LIFETIME 3600
/* DNSKEY flags (RFC 4034 2.1.1, RFC 5011 3). */
#define FLAG_ZONE 0x0100
#define FLAG_REVOKE 0x0080
#define DNSKEY_PROTOCOL 3
/* Most keys taken from one zone's set, and the longest key RDATA (an
 * 8192-bit RSA key and its header): with at most max_zones sets, what a
 * hostile zone can make us hold and hand to getdns stays small. */
#define MAX_KEYS 16
#define MAX_KEY_RDATA 1028
#define NAME_MAX_WIRE 255

/* One key of a held set. */
struct key {
	uint8_t *rdata;           /* malloc'd */
	size_t len;
};

/* One zone's held set. */
struct zone {
	uint8_t owner[NAME_MAX_WIRE];  /* wire, lower case */
	size_t owner_len;
	unsigned labels;          /* 1 for a TLD */
	time_t expires;           /* wall clock */
	uint64_t order;           /* when taken in, for eviction */
	bool signs_answers;       /* a secure answer at or below it was
	                             signed by this zone, not a zone below */
	struct key keys[MAX_KEYS];
	struct zonekeys_key kv[MAX_KEYS]; /* the same, for zonekeys_zone() */
	size_t nkeys;
};

struct zonekeys {
	struct zone **zones;      /* held sets, max of them */
	size_t count, max;
	struct zone **index;      /* open addressing by owner; NULL: empty */
	size_t index_size;        /* a power of two, at least 2 * max */
	time_t next_expiry;       /* the earliest zone->expires held */
	uint64_t next_order;
	uint64_t generation;
	uint64_t learned;
	struct zonekeys_key *view; /* the anchors, for zonekeys_keys() */
	size_t nview;
};

/* Creates an empty table. */
struct zonekeys *
zonekeys_new(size_t max_zones)
{
	struct zonekeys *zk = calloc(1, sizeof(*zk));

	if (zk == NULL)
		return NULL;
	zk->max = max_zones != 0 ? max_zones : DEFAULT_MAX_ZONES;
	for (zk->index_size = 16; zk->index_size < 2 * zk->max; )
		zk->index_size *= 2;
	if ((zk->zones = calloc(zk->max, sizeof(*zk->zones))) == NULL ||
	    (zk->index = calloc(zk->index_size, sizeof(*zk->index))) ==
	    NULL) {
		free(zk->zones);
		free(zk);
		return NULL;
	}
	return zk;
}

/* Frees one held set. */
static void
zone_free(struct zone *z)
{
	for (size_t i = 0; i < z->nkeys; i++)
		free(z->keys[i].rdata);
	free(z);
}

/* Frees the table and every set. */
void
zonekeys_free(struct zonekeys *zk)
{
	if (zk == NULL)
		return;
	for (size_t i = 0; i < zk->count; i++)
		zone_free(zk->zones[i]);
	free(zk->zones);
	free(zk->index);
	free(zk->view);
	free(zk);
}

/* The RFC 4034 appendix B key tag (algorithm 1's is not needed: getdns
 * does not validate RSA/MD5). */
uint16_t
zonekeys_key_tag(const uint8_t *rdata, size_t len)
{
	uint32_t ac = 0;

	for (size_t i = 0; i < len; i++)
		ac += (i & 1) != 0 ? rdata[i] : (uint32_t)rdata[i] << 8;
	ac += (ac >> 16) & 0xFFFF;
	return (uint16_t)(ac & 0xFFFF);
}

/* The index slot an owner name (any case) starts probing at. */
static size_t
slot_of(const struct zonekeys *zk, const uint8_t *owner, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = wirename_lower(owner[i]);

		h = fnv1a(h, &c, 1);
	}
	return h & (zk->index_size - 1);
}

/* The held set of a zone, or NULL. */
static struct zone *
find(const struct zonekeys *zk, const uint8_t *owner, size_t len)
{
	for (size_t i = slot_of(zk, owner, len); zk->index[i] != NULL;
	    i = (i + 1) & (zk->index_size - 1))
		if (wirename_equal(zk->index[i]->owner, zk->index[i]->owner_len,
		    owner, len))
			return zk->index[i];
	return NULL;
}

/* Enters a zone in the index (it has room: at most max of 2 * max). */
static void
index_add(struct zonekeys *zk, struct zone *z)
{
	size_t i = slot_of(zk, z->owner, z->owner_len);

	while (zk->index[i] != NULL)
		i = (i + 1) & (zk->index_size - 1);
	zk->index[i] = z;
}

/* Makes the index and the earliest expiry again from the held sets,
 * after any was removed. */
static void
reindex(struct zonekeys *zk)
{
	memset(zk->index, 0, zk->index_size * sizeof(*zk->index));
	zk->next_expiry = 0;
	for (size_t i = 0; i < zk->count; i++) {
		index_add(zk, zk->zones[i]);
		if (i == 0 || zk->zones[i]->expires < zk->next_expiry)
			zk->next_expiry = zk->zones[i]->expires;
	}
}

/*
 * The held set of the closest zone at or above a wire name (the name
 * itself, then each parent), or NULL.
 */
static struct zone *
find_closest(const struct zonekeys *zk, const uint8_t *name, size_t len)
{
	size_t pos = 0;

	if (wirename_labels(name, len) < 0)
		return NULL;
	for (;;) {
		struct zone *z = find(zk, name + pos, len - pos);

		if (z != NULL || name[pos] == 0)
			return z;
		pos += (size_t)name[pos] + 1;
	}
}

/*
 * Rebuilds the anchors and moves to a new generation.  The anchors are
 * the keys of the zones that have not signed an answer (TLDs and other
 * zones that only delegate): the answers of the others are checked by
 * sigcheck, and getdns gets a short list however many zones are held.
 */
static void
changed(struct zonekeys *zk)
{
	size_t n = 0;

	zk->generation++;
	for (size_t i = 0; i < zk->count; i++)
		if (!zk->zones[i]->signs_answers)
			n += zk->zones[i]->nkeys;
	free(zk->view);
	zk->view = NULL;
	zk->nview = 0;
	if (n == 0 || (zk->view = calloc(n, sizeof(*zk->view))) == NULL)
		return; /* out of memory: no zone anchors, only the root's */
	for (size_t i = 0; i < zk->count; i++) {
		const struct zone *z = zk->zones[i];

		if (z->signs_answers)
			continue;
		memcpy(&zk->view[zk->nview], z->kv, z->nkeys * sizeof(*z->kv));
		zk->nview += z->nkeys;
	}
}

/* Removes the set at index i (order of the others kept); the caller
 * reindexes. */
static void
remove_at(struct zonekeys *zk, size_t i)
{
	zone_free(zk->zones[i]);
	memmove(&zk->zones[i], &zk->zones[i + 1],
	    (zk->count - i - 1) * sizeof(*zk->zones));
	zk->count--;
}

/*
 * Makes room for one more set: the oldest set below a TLD goes first, so
 * that the TLDs' keys, which serve every new domain, stay.
 */
static void
evict_one(struct zonekeys *zk)
{
	size_t victim = 0;
	bool found = false;

	for (size_t i = 0; i < zk->count; i++)
		if (zk->zones[i]->labels > 1 && (!found ||
		    zk->zones[i]->order < zk->zones[victim]->order)) {
			victim = i;
			found = true;
		}
	if (!found)
		for (size_t i = 1; i < zk->count; i++)
			if (zk->zones[i]->order < zk->zones[victim]->order)
				victim = i;
	remove_at(zk, victim);
}

/* Lowers *life to v when v is smaller. */
static void
bound(int64_t *life, int64_t v)
{
	if (v < *life)
		*life = v;
}

/* How long the signatures and TTLs of the `covered` RRset at owner let a
 * set live; MAX_LIFETIME when there is nothing to bound it, -1 when a
 * signature has expired.  `signed_seen` tells whether any signature was
 * there. */
static int64_t
rrset_life(const struct zonekeys_record *chain, size_t n,
    const uint8_t *owner, size_t owner_len, uint16_t covered, time_t now,
    bool *signed_seen)
{
	int64_t life = MAX_LIFETIME;

	*signed_seen = false;
	for (size_t i = 0; i < n; i++) {
		const struct zonekeys_record *r = &chain[i];

		if (!wirename_equal(r->owner, r->owner_len, owner, owner_len))
			continue;
		if (r->type == covered)
			bound(&life, r->ttl);
		else if (r->type == ZONEKEYS_TYPE_RRSIG &&
		    r->covered == covered) {
			/* RFC 4034 3.1.5: serial number arithmetic. */
			int32_t left = (int32_t)(r->expiration -
			    (uint32_t)now);

			*signed_seen = true;
			bound(&life, r->original_ttl);
			bound(&life, r->ttl);
			bound(&life, left > 0 ? left : -1);
		}
	}
	return life;
}

/* Whether a key tag signs the DNSKEY RRset at owner in the chain. */
static bool
signs_keyset(const struct zonekeys_record *chain, size_t n,
    const uint8_t *owner, size_t owner_len, uint16_t tag)
{
	for (size_t i = 0; i < n; i++)
		if (chain[i].type == ZONEKEYS_TYPE_RRSIG &&
		    chain[i].covered == ZONEKEYS_TYPE_DNSKEY &&
		    chain[i].key_tag == tag &&
		    wirename_equal(chain[i].owner, chain[i].owner_len, owner,
		    owner_len))
			return true;
	return false;
}

/* A DNSKEY that can serve as an anchor: a zone key, not revoked. */
static bool
usable_key(const struct zonekeys_record *r)
{
	uint16_t flags;

	if (r->type != ZONEKEYS_TYPE_DNSKEY || r->rdata == NULL ||
	    r->rdata_len < 5 || r->rdata_len > MAX_KEY_RDATA)
		return false;
	flags = (uint16_t)(r->rdata[0] << 8 | r->rdata[1]);
	return (flags & FLAG_ZONE) != 0 && (flags & FLAG_REVOKE) == 0 &&
	    r->rdata[2] == DNSKEY_PROTOCOL;
}

/*
 * The set of the zone owning the DNSKEY record at chain[at], or NULL
 * when it cannot be taken (no signature, expired, too short a life, no
 * usable key, out of memory).  Keys that sign the DNSKEY set are left
 * out unless every key does.
 */
static struct zone *
make_zone(const struct zonekeys_record *chain, size_t n, size_t at,
    time_t now, uint32_t margin)
{
	const uint8_t *owner = chain[at].owner;
	size_t owner_len = chain[at].owner_len;
	int labels = wirename_labels(owner, owner_len);
	bool keys_signed, ds_signed;
	int64_t life;
	struct zone *z;

	if (labels < 1 || owner_len > NAME_MAX_WIRE)
		return NULL; /* the root, or a malformed name */
	life = rrset_life(chain, n, owner, owner_len, ZONEKEYS_TYPE_DNSKEY,
	    now, &keys_signed);
	bound(&life, rrset_life(chain, n, owner, owner_len,
	    ZONEKEYS_TYPE_DS, now, &ds_signed));
	if (!keys_signed || life <= (int64_t)margin)
		return NULL;
	if ((z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	for (size_t i = 0; i < owner_len; i++)
		z->owner[i] = wirename_lower(owner[i]);
	z->owner_len = owner_len;
	z->labels = (unsigned)labels;
	z->expires = now + (time_t)(life - (int64_t)margin);
	/* Two passes: the keys that do not sign the set; if none, all. */
	for (int pass = 0; pass < 2 && z->nkeys == 0; pass++)
		for (size_t i = 0; i < n && z->nkeys < MAX_KEYS; i++) {
			const struct zonekeys_record *r = &chain[i];
			struct key *k = &z->keys[z->nkeys];

			if (!usable_key(r) || !wirename_equal(r->owner,
			    r->owner_len, owner, owner_len) ||
			    (pass == 0 && signs_keyset(chain, n, owner,
			    owner_len, zonekeys_key_tag(r->rdata,
			    r->rdata_len))))
				continue;
			if ((k->rdata = malloc(r->rdata_len)) == NULL)
				break;
			memcpy(k->rdata, r->rdata, r->rdata_len);
			k->len = r->rdata_len;
			z->nkeys++;
		}
	if (z->nkeys == 0) {
		zone_free(z);
		return NULL;
	}
	for (size_t k = 0; k < z->nkeys; k++)
		z->kv[k] = (struct zonekeys_key){ .owner = z->owner,
		    .owner_len = z->owner_len, .rdata = z->keys[k].rdata,
		    .rdata_len = z->keys[k].len };
	return z;
}

/* Whether two sets hold the same keys in the same order. */
static bool
same_keys(const struct zone *a, const struct zone *b)
{
	if (a->nkeys != b->nkeys)
		return false;
	for (size_t k = 0; k < a->nkeys; k++)
		if (a->keys[k].len != b->keys[k].len ||
		    memcmp(a->keys[k].rdata, b->keys[k].rdata,
		    a->keys[k].len) != 0)
			return false;
	return true;
}

/*
 * Takes in the DNSKEY sets of a secure answer's validation chain.  A zone
 * already held whose set in the chain differs (it changed its ZSK, and
 * getdns validated the new set from an anchor above it) gets the new set.
 */
bool
zonekeys_learn(struct zonekeys *zk, const struct zonekeys_record *chain,
    size_t n, time_t now, uint32_t margin)
{
	bool any = false, removed = false;

	if (zk == NULL || chain == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		struct zone *z, *old;

		if (chain[i].type != ZONEKEYS_TYPE_DNSKEY ||
		    (z = make_zone(chain, n, i, now, margin)) == NULL)
			continue;
		if ((old = find(zk, z->owner, z->owner_len)) != NULL) {
			if (same_keys(old, z)) {
				zone_free(z);
				continue;
			}
			z->signs_answers = old->signs_answers;
			for (size_t k = 0; k < zk->count; k++)
				if (zk->zones[k] == old) {
					remove_at(zk, k);
					break;
				}
			removed = true;
		} else if (zk->count == zk->max) {
			evict_one(zk);
			removed = true;
		}
		z->order = zk->next_order++;
		zk->zones[zk->count++] = z;
		if (removed)
			reindex(zk);
		else {
			index_add(zk, z);
			if (zk->count == 1 || z->expires < zk->next_expiry)
				zk->next_expiry = z->expires;
		}
		removed = false;
		zk->learned++;
		any = true;
	}
	if (any)
		changed(zk);
	return any;
}

/* Drops the sets whose time is up. */
bool
zonekeys_expire(struct zonekeys *zk, time_t now)
{
	bool any = false;

	/* Called before every lookup: most calls have nothing to do. */
	if (zk == NULL || zk->count == 0 || now < zk->next_expiry)
		return false;
	for (size_t i = 0; i < zk->count; )
		if (zk->zones[i]->expires <= now) {
			remove_at(zk, i);
			any = true;
		} else
			i++;
	reindex(zk);
	if (any)
		changed(zk);
	return any;
}

/* Drops every set. */
bool
zonekeys_forget(struct zonekeys *zk)
{
	if (zk == NULL || zk->count == 0)
		return false;
	while (zk->count > 0)
		remove_at(zk, zk->count - 1);
	reindex(zk);
	changed(zk);
	return true;
}

/* The anchors' generation. */
uint64_t
zonekeys_generation(const struct zonekeys *zk)
{
	return zk != NULL ? zk->generation : 0;
}

/* Every held key. */
const struct zonekeys_key *
zonekeys_keys(const struct zonekeys *zk, size_t *n)
{
	*n = zk != NULL ? zk->nview : 0;
	return zk != NULL ? zk->view : NULL;
}

/* The keys of one held zone. */
const struct zonekeys_key *
zonekeys_zone(const struct zonekeys *zk, const uint8_t *zone, size_t len,
    size_t *n)
{
	const struct zone *z = zk != NULL ? find(zk, zone, len) : NULL;

	*n = 0;
	if (z == NULL)
		return NULL;
	*n = z->nkeys;
	return z->kv;
}

/* Notes that the closest held zone above a secure answer signed it. */
void
zonekeys_mark_signer(struct zonekeys *zk, const uint8_t *name, size_t len)
{
	struct zone *z = zk != NULL ? find_closest(zk, name, len) : NULL;

	/* A TLD stays an anchor: it serves every new domain below it. */
	if (z != NULL && z->labels > 1 && !z->signs_answers) {
		z->signs_answers = true;
		changed(zk);   /* its keys leave the anchors */
	}
}

/* Whether the closest held zone above a name signs answers itself. */
bool
zonekeys_signs_answers(const struct zonekeys *zk, const uint8_t *name,
    size_t len)
{
	const struct zone *z = zk != NULL ? find_closest(zk, name, len) : NULL;

	return z != NULL && z->signs_answers;
}

/* The counters. */
void
zonekeys_stats(const struct zonekeys *zk, struct zonekeys_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (zk == NULL)
		return;
	out->learned = zk->learned;
	out->held = zk->count;
}
