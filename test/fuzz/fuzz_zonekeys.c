/*
 * fuzz_zonekeys: which DNSKEY sets of a validation chain become trust
 * anchors (src/zonekeys.c).  The input is a list of records, each:
 *   owner length (1 byte), owner (wire, any bytes), kind (1: DNSKEY,
 *   DS or RRSIG), TTL (4), then for a DNSKEY its RDATA length (1) and
 *   RDATA, for an RRSIG the covered type (1: DNSKEY or DS), key tag (2),
 *   original TTL (4) and expiration (4, relative to a fixed now).
 * Properties: every anchor key is a zone key, not revoked, protocol 3,
 * owned by a well-formed lower-case name below the root; the same chain
 * learned again changes nothing; nothing outlives an hour; nothing leaks.
 */
#include <ctype.h>
#include <string.h>

#include "fuzz.h"
#include "zonekeys.h"

#define NOW ((time_t)1800000000)
#define MAX_RECORDS 64

/* Reads n big-endian bytes; false when the input is short. */
static bool
take(const uint8_t **p, const uint8_t *end, size_t n, uint32_t *out)
{
	uint32_t v = 0;

	if ((size_t)(end - *p) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | (*p)[i];
	*p += n;
	*out = v;
	return true;
}

/* A well-formed wire name in lower case with at least one label. */
static bool
good_owner(const uint8_t *name, size_t len)
{
	size_t pos = 0;
	int labels = 0;

	while (pos < len && name[pos] != 0) {
		if (name[pos] > 63)
			return false;
		for (size_t i = pos + 1; i <= pos + name[pos] && i < len; i++)
			if (tolower(name[i]) != name[i])
				return false;
		pos += (size_t)name[pos] + 1;
		labels++;
	}
	return labels > 0 && pos + 1 == len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t kinds[] = { ZONEKEYS_TYPE_DNSKEY,
		ZONEKEYS_TYPE_DS, ZONEKEYS_TYPE_RRSIG };
	struct zonekeys_record recs[MAX_RECORDS];
	const uint8_t *p = data, *end = data + size;
	size_t n = 0;
	uint32_t v;

	while (n < MAX_RECORDS && take(&p, end, 1, &v) &&
	    (size_t)(end - p) >= v) {
		struct zonekeys_record *r = &recs[n];

		memset(r, 0, sizeof(*r));
		r->owner = p;
		r->owner_len = v;
		p += v;
		if (!take(&p, end, 1, &v))
			break;
		r->type = kinds[v % 3];
		if (!take(&p, end, 4, &r->ttl))
			break;
		if (r->type == ZONEKEYS_TYPE_DNSKEY) {
			if (!take(&p, end, 1, &v) || (size_t)(end - p) < v)
				break;
			r->rdata = p;
			r->rdata_len = v;
			p += v;
		} else if (r->type == ZONEKEYS_TYPE_RRSIG) {
			uint32_t covered, tag, exp;

			if (!take(&p, end, 1, &covered) ||
			    !take(&p, end, 2, &tag) ||
			    !take(&p, end, 4, &r->original_ttl) ||
			    !take(&p, end, 4, &exp))
				break;
			r->covered = covered % 2 != 0 ? ZONEKEYS_TYPE_DS :
			    ZONEKEYS_TYPE_DNSKEY;
			r->key_tag = (uint16_t)tag;
			r->expiration = (uint32_t)NOW + exp;
		}
		n++;
	}

	struct zonekeys *zk = zonekeys_new(0);
	FUZZ_ASSERT(zk != NULL, "out of memory");
	(void)zonekeys_learn(zk, recs, n, NOW, 11);
	size_t nkeys;
	const struct zonekeys_key *keys = zonekeys_keys(zk, &nkeys);
	for (size_t i = 0; i < nkeys; i++) {
		const struct zonekeys_key *k = &keys[i];
		FUZZ_ASSERT(good_owner(k->owner, k->owner_len),
		            "anchor %zu: bad owner", i);
		FUZZ_ASSERT(k->rdata_len >= 5 && k->rdata_len <= 1028,
		            "anchor %zu: key of %zu bytes", i, k->rdata_len);
		FUZZ_ASSERT((k->rdata[0] & 1) == 1 &&
		            (k->rdata[1] & 0x80) == 0 && k->rdata[2] == 3,
		            "anchor %zu: not a usable zone key", i);
	}
	uint64_t gen = zonekeys_generation(zk);
	FUZZ_ASSERT(!zonekeys_learn(zk, recs, n, NOW, 11) &&
	            zonekeys_generation(zk) == gen, "learned twice");
	(void)zonekeys_expire(zk, NOW + 3600 - 11);
	(void)zonekeys_keys(zk, &nkeys);
	FUZZ_ASSERT(nkeys == 0, "%zu keys outlived the hour", nkeys);
	zonekeys_free(zk);
	return 0;
}
