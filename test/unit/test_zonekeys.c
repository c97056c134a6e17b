/*
 * test_zonekeys: which validated DNSKEY sets become trust anchors, with
 * which keys, for how long; on made-up validation chains.  The RFC 4034
 * key tag against the root KSK-2017 (20326); KSKs left out, a combined key
 * kept; the root, unsigned, expired, revoked and non-zone keys refused;
 * lifetimes bounded by every TTL and signature expiration (serial number
 * arithmetic) less the margin; names compared without case; eviction that
 * keeps TLDs; forgetting; and the generation moving on every change only.
 * Zones that sign answers: out of the anchors, still found by
 * zonekeys_zone(); a zone's new set replacing its old one; thousands of
 * zones found through the index; expiry of the earliest only.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zonekeys.h"

/* The root zone's KSK-2017 DNSKEY RDATA (flags 257, protocol 3, RSA/SHA-256). */
static const uint8_t root_ksk[] = {
	0x01, 0x01, 0x03, 0x08, 0x03, 0x01, 0x00, 0x01, 0xac, 0xff,
	0xb4, 0x09, 0xbc, 0xc9, 0x39, 0xf8, 0x31, 0xf7, 0xa1, 0xe5,
	0xec, 0x88, 0xf7, 0xa5, 0x92, 0x55, 0xec, 0x53, 0x04, 0x0b,
	0xe4, 0x32, 0x02, 0x73, 0x90, 0xa4, 0xce, 0x89, 0x6d, 0x6f,
	0x90, 0x86, 0xf3, 0xc5, 0xe1, 0x77, 0xfb, 0xfe, 0x11, 0x81,
	0x63, 0xaa, 0xec, 0x7a, 0xf1, 0x46, 0x2c, 0x47, 0x94, 0x59,
	0x44, 0xc4, 0xe2, 0xc0, 0x26, 0xbe, 0x5e, 0x98, 0xbb, 0xcd,
	0xed, 0x25, 0x97, 0x82, 0x72, 0xe1, 0xe3, 0xe0, 0x79, 0xc5,
	0x09, 0x4d, 0x57, 0x3f, 0x0e, 0x83, 0xc9, 0x2f, 0x02, 0xb3,
	0x2d, 0x35, 0x13, 0xb1, 0x55, 0x0b, 0x82, 0x69, 0x29, 0xc8,
	0x0d, 0xd0, 0xf9, 0x2c, 0xac, 0x96, 0x6d, 0x17, 0x76, 0x9f,
	0xd5, 0x86, 0x7b, 0x64, 0x7c, 0x3f, 0x38, 0x02, 0x9a, 0xbd,
	0xc4, 0x81, 0x52, 0xeb, 0x8f, 0x20, 0x71, 0x59, 0xec, 0xc5,
	0xd2, 0x32, 0xc7, 0xc1, 0x53, 0x7c, 0x79, 0xf4, 0xb7, 0xac,
	0x28, 0xff, 0x11, 0x68, 0x2f, 0x21, 0x68, 0x1b, 0xf6, 0xd6,
	0xab, 0xa5, 0x55, 0x03, 0x2b, 0xf6, 0xf9, 0xf0, 0x36, 0xbe,
	0xb2, 0xaa, 0xa5, 0xb3, 0x77, 0x8d, 0x6e, 0xeb, 0xfb, 0xa6,
	0xbf, 0x9e, 0xa1, 0x91, 0xbe, 0x4a, 0xb0, 0xca, 0xea, 0x75,
	0x9e, 0x2f, 0x77, 0x3a, 0x1f, 0x90, 0x29, 0xc7, 0x3e, 0xcb,
	0x8d, 0x57, 0x35, 0xb9, 0x32, 0x1d, 0xb0, 0x85, 0xf1, 0xb8,
	0xe2, 0xd8, 0x03, 0x8f, 0xe2, 0x94, 0x19, 0x92, 0x54, 0x8c,
	0xee, 0x0d, 0x67, 0xdd, 0x45, 0x47, 0xe1, 0x1d, 0xd6, 0x3a,
	0xf9, 0xc9, 0xfc, 0x1c, 0x54, 0x66, 0xfb, 0x68, 0x4c, 0xf0,
	0x09, 0xd7, 0x19, 0x7c, 0x2c, 0xf7, 0x9e, 0x79, 0x2a, 0xb5,
	0x01, 0xe6, 0xa8, 0xa1, 0xca, 0x51, 0x9a, 0xf2, 0xcb, 0x9b,
	0x5f, 0x63, 0x67, 0xe9, 0x4c, 0x0d, 0x47, 0x50, 0x24, 0x51,
	0x35, 0x7b, 0xe1, 0xb5
};

static const uint8_t root_name[] = { 0 };
static const uint8_t example[] = "\x07" "example"; /* + the final 0 */
static const uint8_t zk[] = "\x02" "zk" "\x07" "example";
static const uint8_t zk_upper[] = "\x02" "ZK" "\x07" "EXAMPLE";
static const uint8_t other[] = "\x05" "other" "\x07" "example";
static const uint8_t third[] = "\x05" "third" "\x07" "example";

#define NOW ((time_t)1800000000)
#define MARGIN 11

/* Made-up DNSKEY RDATA: flags, protocol 3, algorithm 13, a key byte. */
struct fake_key {
	uint8_t rdata[8];
};

static struct fake_key key(uint16_t flags, uint8_t serial)
{
	struct fake_key k = { { (uint8_t)(flags >> 8), (uint8_t)flags, 3, 13,
	                        serial, 0x55, serial, 0xAA } };
	return k;
}

static uint16_t tag(const struct fake_key *k)
{
	return zonekeys_key_tag(k->rdata, sizeof k->rdata);
}

/* A chain under construction. */
struct chain {
	struct zonekeys_record r[32];
	size_t n;
};

static void add_dnskey(struct chain *c, const uint8_t *owner, size_t len,
                       const struct fake_key *k, uint32_t ttl)
{
	struct zonekeys_record *r = &c->r[c->n++];
	memset(r, 0, sizeof *r);
	r->owner = owner;
	r->owner_len = len;
	r->type = ZONEKEYS_TYPE_DNSKEY;
	r->ttl = ttl;
	r->rdata = k->rdata;
	r->rdata_len = sizeof k->rdata;
}

static void add_rrsig(struct chain *c, const uint8_t *owner, size_t len,
                      uint16_t covered, uint16_t key_tag, uint32_t orig_ttl,
                      uint32_t expiration)
{
	struct zonekeys_record *r = &c->r[c->n++];
	memset(r, 0, sizeof *r);
	r->owner = owner;
	r->owner_len = len;
	r->type = ZONEKEYS_TYPE_RRSIG;
	r->ttl = orig_ttl;
	r->covered = covered;
	r->key_tag = key_tag;
	r->original_ttl = orig_ttl;
	r->expiration = expiration;
}

static void add_ds(struct chain *c, const uint8_t *owner, size_t len,
                   uint32_t ttl)
{
	struct zonekeys_record *r = &c->r[c->n++];
	memset(r, 0, sizeof *r);
	r->owner = owner;
	r->owner_len = len;
	r->type = ZONEKEYS_TYPE_DS;
	r->ttl = ttl;
}

/* A signed zone's set: KSK and ZSK, the DNSKEY set signed by the KSK, the
 * DS signed by the parent. */
static void add_zone(struct chain *c, const uint8_t *owner, size_t len,
                     const struct fake_key *ksk, const struct fake_key *zsk,
                     uint32_t ttl)
{
	add_dnskey(c, owner, len, ksk, ttl);
	add_dnskey(c, owner, len, zsk, ttl);
	add_rrsig(c, owner, len, ZONEKEYS_TYPE_DNSKEY, tag(ksk), ttl,
	          (uint32_t)NOW + 86400);
	add_ds(c, owner, len, ttl);
	add_rrsig(c, owner, len, ZONEKEYS_TYPE_DS, 4242, ttl,
	          (uint32_t)NOW + 86400);
}

/* Whether the anchors hold exactly these keys of a zone. */
static int holds(const struct zonekeys *z, const uint8_t *owner, size_t len,
                 const struct fake_key *k)
{
	size_t n;
	const struct zonekeys_key *keys = zonekeys_keys(z, &n);
	for (size_t i = 0; i < n; i++)
		if (keys[i].owner_len == len &&
		    memcmp(keys[i].owner, owner, len) == 0 &&
		    keys[i].rdata_len == sizeof k->rdata &&
		    memcmp(keys[i].rdata, k->rdata, sizeof k->rdata) == 0)
			return 1;
	return 0;
}

static size_t count(const struct zonekeys *z)
{
	size_t n;
	(void)zonekeys_keys(z, &n);
	return n;
}

static void test_key_tag(void)
{
	CHECK(zonekeys_key_tag(root_ksk, sizeof root_ksk) == 20326,
	      "root KSK-2017 key tag %u", zonekeys_key_tag(root_ksk,
	      sizeof root_ksk));
}

/* The KSK signs the DNSKEY set: only the ZSK becomes the anchor. */
static void test_ksk_left_out(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key ksk = key(257, 1), zsk = key(256, 2);
	struct chain c = { .n = 0 };
	add_zone(&c, zk, sizeof zk, &ksk, &zsk, 3600);
	uint64_t g = zonekeys_generation(z);
	CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "zone not learned");
	CHECK(zonekeys_generation(z) != g, "generation did not move");
	CHECK(count(z) == 1 && holds(z, zk, sizeof zk, &zsk),
	      "expected the ZSK alone, %zu keys", count(z));
	CHECK(!holds(z, zk, sizeof zk, &ksk), "the KSK was kept");
	g = zonekeys_generation(z);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "learned twice");
	CHECK(zonekeys_generation(z) == g, "generation moved for nothing");
	struct zonekeys_stats st;
	zonekeys_stats(z, &st);
	CHECK(st.learned == 1 && st.held == 1, "stats %llu %zu",
	      (unsigned long long)st.learned, st.held);
	zonekeys_free(z);
}

/* One combined key, or every key signing the set: all are kept. */
static void test_combined(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key csk = key(257, 3), ksk = key(257, 4), zsk = key(256, 5);
	struct chain c = { .n = 0 };
	add_dnskey(&c, zk, sizeof zk, &csk, 600);
	add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DNSKEY, tag(&csk), 600,
	          (uint32_t)NOW + 86400);
	add_dnskey(&c, other, sizeof other, &ksk, 600);
	add_dnskey(&c, other, sizeof other, &zsk, 600);
	add_rrsig(&c, other, sizeof other, ZONEKEYS_TYPE_DNSKEY, tag(&ksk), 600,
	          (uint32_t)NOW + 86400);
	add_rrsig(&c, other, sizeof other, ZONEKEYS_TYPE_DNSKEY, tag(&zsk), 600,
	          (uint32_t)NOW + 86400);
	CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "not learned");
	CHECK(holds(z, zk, sizeof zk, &csk), "combined key not kept");
	CHECK(holds(z, other, sizeof other, &ksk) &&
	      holds(z, other, sizeof other, &zsk) && count(z) == 3,
	      "both keys signing the set: expected both, %zu keys", count(z));
	zonekeys_free(z);
}

/* Sets that must never become anchors. */
static void test_refused(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key ksk = key(257, 6), zsk = key(256, 7);
	struct fake_key revoked = key(256 | 0x80, 8), nonzone = key(0, 9);
	struct chain c = { .n = 0 };

	/* The root: the configured anchor covers it. */
	add_dnskey(&c, root_name, sizeof root_name, &zsk, 3600);
	add_rrsig(&c, root_name, sizeof root_name, ZONEKEYS_TYPE_DNSKEY,
	          tag(&ksk), 3600, (uint32_t)NOW + 86400);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "root learned");

	/* No signature over the DNSKEY set in the chain. */
	c.n = 0;
	add_dnskey(&c, zk, sizeof zk, &zsk, 3600);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "unsigned learned");

	/* An expired signature; one that expires within the margin. */
	c.n = 0;
	add_dnskey(&c, zk, sizeof zk, &zsk, 3600);
	add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DNSKEY, tag(&ksk), 3600,
	          (uint32_t)NOW - 1);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "expired learned");
	c.r[1].expiration = (uint32_t)NOW + MARGIN;
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN),
	      "learned with no life left after the margin");
	/* The DS's signature expired: the zone's own is not enough. */
	c.r[1].expiration = (uint32_t)NOW + 86400;
	add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DS, 99, 3600,
	          (uint32_t)NOW - 5);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN),
	      "learned with the DS signature expired");

	/* Revoked and non-zone keys only. */
	c.n = 0;
	add_dnskey(&c, zk, sizeof zk, &revoked, 3600);
	add_dnskey(&c, zk, sizeof zk, &nonzone, 3600);
	add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DNSKEY, tag(&ksk), 3600,
	          (uint32_t)NOW + 86400);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN),
	      "revoked or non-zone key learned");
	/* A key too long to be a real one. */
	static uint8_t huge[1029] = { 1, 0, 3, 13 };
	c.n = 0;
	add_dnskey(&c, zk, sizeof zk, &zsk, 3600);
	c.r[0].rdata = huge;
	c.r[0].rdata_len = sizeof huge;
	add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DNSKEY, tag(&ksk), 3600,
	          (uint32_t)NOW + 86400);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "huge key learned");
	c.r[0].rdata_len = 1028;
	CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN) && count(z) == 1,
	      "a key of 1,028 bytes refused");
	CHECK(zonekeys_forget(z), "forget");
	/* A malformed name. */
	static const uint8_t bad[] = "\x09" "zk" "\x07" "example";
	c.n = 0;
	add_dnskey(&c, bad, sizeof bad, &zsk, 3600);
	add_rrsig(&c, bad, sizeof bad, ZONEKEYS_TYPE_DNSKEY, tag(&ksk), 3600,
	          (uint32_t)NOW + 86400);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "bad name learned");
	CHECK(count(z) == 0, "%zu keys held", count(z));
	zonekeys_free(z);
}

/* The smallest TTL or signature life, less the margin. */
static void test_lifetime(void)
{
	struct fake_key ksk = key(257, 10), zsk = key(256, 11);
	struct {
		uint32_t dnskey_ttl, sig_ttl, ds_ttl, ds_sig_ttl;
		int64_t sig_left; /* seconds to the DNSKEY signature's expiry */
		time_t life;      /* expected, before the margin */
	} rows[] = {
		{ 3600, 3600, 3600, 3600, 86400, 3600 },
		{ 300, 3600, 3600, 3600, 86400, 300 },
		{ 3600, 120, 3600, 3600, 86400, 120 },
		{ 3600, 3600, 60, 3600, 86400, 60 },
		{ 3600, 3600, 3600, 90, 86400, 90 },
		{ 3600, 3600, 3600, 3600, 200, 200 },
		{ 86400, 86400, 86400, 86400, 864000, 3600 }, /* the cap */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct zonekeys *z = zonekeys_new(0);
		struct chain c = { .n = 0 };
		add_dnskey(&c, zk, sizeof zk, &ksk, rows[i].dnskey_ttl);
		add_dnskey(&c, zk, sizeof zk, &zsk, rows[i].dnskey_ttl);
		add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DNSKEY, tag(&ksk),
		          rows[i].sig_ttl,
		          (uint32_t)(NOW + rows[i].sig_left));
		add_ds(&c, zk, sizeof zk, rows[i].ds_ttl);
		add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DS, 77,
		          rows[i].ds_sig_ttl, (uint32_t)NOW + 86400);
		CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "row %zu", i);
		time_t end = NOW + rows[i].life - MARGIN;
		CHECK(!zonekeys_expire(z, end - 1) && count(z) == 1,
		      "row %zu: gone before %lld s", i, (long long)(end - NOW));
		uint64_t g = zonekeys_generation(z);
		CHECK(zonekeys_expire(z, end) && count(z) == 0,
		      "row %zu: kept past %lld s", i, (long long)(end - NOW));
		CHECK(zonekeys_generation(z) != g, "row %zu: generation", i);
		zonekeys_free(z);
	}
}

/* Signature dates wrap modulo 2^32 (RFC 4034 3.1.5). */
static void test_serial_arithmetic(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key ksk = key(257, 12), zsk = key(256, 13);
	struct chain c = { .n = 0 };
	time_t now = (time_t)0xFFFFFF00u;  /* 2106, just before the wrap */
	add_dnskey(&c, zk, sizeof zk, &zsk, 3600);
	add_rrsig(&c, zk, sizeof zk, ZONEKEYS_TYPE_DNSKEY, tag(&ksk), 3600,
	          0x100u);                  /* 512 s later, after the wrap */
	CHECK(zonekeys_learn(z, c.r, c.n, now, MARGIN), "not learned");
	CHECK(!zonekeys_expire(z, now + 512 - MARGIN - 1) &&
	      zonekeys_expire(z, now + 512 - MARGIN),
	      "lifetime across the wrap is not 512 s");
	c.r[1].expiration = 0xFFFFFE00u;   /* before now: expired */
	CHECK(!zonekeys_learn(z, c.r, c.n, now, MARGIN), "expired learned");
	zonekeys_free(z);
}

/* Names match without case, and are kept in lower case. */
static void test_case(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key ksk = key(257, 14), zsk = key(256, 15);
	struct chain c = { .n = 0 };
	add_zone(&c, zk_upper, sizeof zk_upper, &ksk, &zsk, 3600);
	CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "not learned");
	CHECK(holds(z, zk, sizeof zk, &zsk), "owner not in lower case");
	c.n = 0;
	add_zone(&c, zk, sizeof zk, &ksk, &zsk, 3600);
	CHECK(!zonekeys_learn(z, c.r, c.n, NOW, MARGIN),
	      "the same zone in another case learned again");
	zonekeys_free(z);
}

/* At the bound the oldest zone below a TLD goes; TLDs stay. */
static void test_eviction(void)
{
	struct zonekeys *z = zonekeys_new(3);
	struct fake_key k[8];
	for (int i = 0; i < 8; i++)
		k[i] = key(i % 2 == 0 ? 257 : 256, (uint8_t)(20 + i));
	const uint8_t *names[] = { example, zk, other, third };
	size_t lens[] = { sizeof example, sizeof zk, sizeof other,
	                  sizeof third };
	for (int i = 0; i < 4; i++) {
		struct chain c = { .n = 0 };
		add_zone(&c, names[i], lens[i], &k[2 * i], &k[2 * i + 1], 3600);
		CHECK(zonekeys_learn(z, c.r, c.n, NOW + i, MARGIN), "zone %d", i);
	}
	CHECK(count(z) == 3, "%zu keys at a bound of 3 zones", count(z));
	CHECK(holds(z, example, sizeof example, &k[1]), "the TLD was evicted");
	CHECK(!holds(z, zk, sizeof zk, &k[3]), "the oldest SLD was kept");
	CHECK(holds(z, other, sizeof other, &k[5]) &&
	      holds(z, third, sizeof third, &k[7]), "a newer SLD was evicted");
	uint64_t g = zonekeys_generation(z);
	CHECK(zonekeys_forget(z) && count(z) == 0 &&
	      zonekeys_generation(z) != g, "forget");
	g = zonekeys_generation(z);
	CHECK(!zonekeys_forget(z) && zonekeys_generation(z) == g,
	      "forgetting nothing changed the generation");
	zonekeys_free(z);
}

/* Whether zonekeys_zone() gives exactly this one key for a zone. */
static int zone_has(const struct zonekeys *z, const uint8_t *owner,
                    size_t len, const struct fake_key *k)
{
	size_t n;
	const struct zonekeys_key *keys = zonekeys_zone(z, owner, len, &n);
	return keys != NULL && n == 1 && keys[0].rdata_len == sizeof k->rdata &&
	       memcmp(keys[0].rdata, k->rdata, sizeof k->rdata) == 0;
}

/* A zone marked as signing answers leaves the anchors, stays findable,
 * and serves the names below it; a delegating zone does neither. */
static void test_signers(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key k[4] = { key(257, 40), key(256, 41), key(257, 42),
	                         key(256, 43) };
	struct chain c = { .n = 0 };
	static const uint8_t host[] = "\x02" "mx" "\x02" "zk" "\x07" "example";
	add_zone(&c, example, sizeof example, &k[0], &k[1], 3600);
	add_zone(&c, zk, sizeof zk, &k[2], &k[3], 3600);
	CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "not learned");
	CHECK(count(z) == 2 && holds(z, zk, sizeof zk, &k[3]),
	      "unmarked zones are not both anchors");
	CHECK(!zonekeys_signs_answers(z, host, sizeof host),
	      "signs answers before any was marked");
	uint64_t g0 = zonekeys_generation(z);
	zonekeys_mark_signer(z, other, sizeof other);  /* closest: the TLD */
	CHECK(zonekeys_generation(z) == g0 && count(z) == 2 &&
	      !zonekeys_signs_answers(z, other, sizeof other),
	      "a TLD was marked as signing answers");
	uint64_t g = zonekeys_generation(z);
	zonekeys_mark_signer(z, host, sizeof host);
	CHECK(zonekeys_generation(z) != g, "marking kept the generation");
	CHECK(count(z) == 1 && holds(z, example, sizeof example, &k[1]) &&
	      !holds(z, zk, sizeof zk, &k[3]),
	      "the marked zone is still an anchor, or the TLD is not");
	CHECK(zone_has(z, zk, sizeof zk, &k[3]) &&
	      zone_has(z, zk_upper, sizeof zk_upper, &k[3]),
	      "the marked zone's keys are not found");
	CHECK(zonekeys_signs_answers(z, host, sizeof host) &&
	      zonekeys_signs_answers(z, zk, sizeof zk),
	      "names at and below the marked zone are not served");
	CHECK(!zonekeys_signs_answers(z, other, sizeof other),
	      "a name below the TLD only is served");
	g = zonekeys_generation(z);
	zonekeys_mark_signer(z, zk, sizeof zk);
	CHECK(zonekeys_generation(z) == g, "marking again changed anything");
	zonekeys_free(z);
}

/* A held zone's new set (a new ZSK) replaces the old, marked as it was. */
static void test_new_set(void)
{
	struct zonekeys *z = zonekeys_new(0);
	struct fake_key ksk = key(257, 44), old = key(256, 45),
	                new = key(256, 46);
	struct chain c = { .n = 0 };
	struct zonekeys_stats st;
	add_zone(&c, zk, sizeof zk, &ksk, &old, 3600);
	CHECK(zonekeys_learn(z, c.r, c.n, NOW, MARGIN), "not learned");
	zonekeys_mark_signer(z, zk, sizeof zk);
	c.n = 0;
	add_zone(&c, zk, sizeof zk, &ksk, &new, 3600);
	uint64_t g = zonekeys_generation(z);
	CHECK(zonekeys_learn(z, c.r, c.n, NOW + 5, MARGIN) &&
	      zonekeys_generation(z) != g, "the new set was not taken");
	CHECK(zone_has(z, zk, sizeof zk, &new), "the old key is still held");
	CHECK(zonekeys_signs_answers(z, zk, sizeof zk),
	      "the new set lost the zone's mark");
	zonekeys_stats(z, &st);
	CHECK(st.held == 1 && st.learned == 2, "held %zu, learned %llu",
	      st.held, (unsigned long long)st.learned);
	zonekeys_free(z);
}

/* Thousands of zones: each found, the bound kept, and the earliest
 * expiries alone removed. */
static void test_many(void)
{
	enum { N = 3000 };
	static uint8_t names[N][16];
	struct zonekeys *z = zonekeys_new(0), *small = zonekeys_new(1000);
	struct fake_key ksk = key(257, 47), zsk = key(256, 48);
	struct zonekeys_stats st;
	size_t found = 0, n;
	for (int i = 0; i < N; i++) {
		struct chain c = { .n = 0 };
		uint8_t *w = names[i];
		w[0] = 4;
		w[1] = 'z';
		w[2] = (uint8_t)('a' + i / 26 / 26 % 26);
		w[3] = (uint8_t)('a' + i / 26 % 26);
		w[4] = (uint8_t)('a' + i % 26);
		memcpy(w + 5, example, sizeof example);
		/* The first ten live 100 s, the rest an hour. */
		add_zone(&c, w, 5 + sizeof example, &ksk, &zsk,
		         i < 10 ? 100 : 3600);
		(void)zonekeys_learn(z, c.r, c.n, NOW, MARGIN);
		(void)zonekeys_learn(small, c.r, c.n, NOW, MARGIN);
	}
	for (int i = 0; i < N; i++)
		found += zonekeys_zone(z, names[i], 5 + sizeof example, &n) !=
		         NULL;
	CHECK(found == N, "%zu of %d zones found", found, N);
	zonekeys_stats(small, &st);
	CHECK(st.held == 1000 && zonekeys_zone(small, names[N - 1],
	      5 + sizeof example, &n) != NULL && zonekeys_zone(small,
	      names[0], 5 + sizeof example, &n) == NULL,
	      "a bound of 1000 holds %zu, not the newest", st.held);
	CHECK(!zonekeys_expire(z, NOW + 100 - MARGIN - 1),
	      "expired before the earliest expiry");
	CHECK(zonekeys_expire(z, NOW + 100 - MARGIN), "nothing expired");
	zonekeys_stats(z, &st);
	CHECK(st.held == N - 10 && zonekeys_zone(z, names[10],
	      5 + sizeof example, &n) != NULL && zonekeys_zone(z, names[9],
	      5 + sizeof example, &n) == NULL,
	      "%zu held after the first ten expired", st.held);
	zonekeys_free(z);
	zonekeys_free(small);
}

int main(void)
{
	test_key_tag();
	test_ksk_left_out();
	test_combined();
	test_refused();
	test_lifetime();
	test_serial_arithmetic();
	test_case();
	test_eviction();
	test_signers();
	test_new_set();
	test_many();
	zonekeys_free(NULL);
	return check_report();
}
