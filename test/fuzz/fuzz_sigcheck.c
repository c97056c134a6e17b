/*
 * fuzz_sigcheck: RRSIG checks of a reply against held zone keys
 * (src/sigcheck.c).  The input is a type selector (MX, A, AAAA, TLSA)
 * then a DNS wire reply to a query for mx.fz.example. of that type.  The
 * zone fz.example. holds one Ed25519 key, whose private half is the
 * bytes 0..31 (make_seeds.py signs the seeds with it), so mutations of a
 * good seed reach every rule, including the signature itself.
 * Properties: the verdict is the same when asked twice; "unsure" always
 * comes with a printable reason; "secure" only for a NOERROR response to
 * the one question asked; nothing leaks.
 */
#include <string.h>

#include "fuzz.h"
#include "sigcheck.h"
#include "zonekeys.h"

#define NOW 1800000000u

/* fz.example. DNSKEY 256 3 15 (public key of the seed bytes 0..31). */
static const uint8_t zone[] = "\x02" "fz" "\x07" "example";
static const uint8_t key[] = {
	0x01, 0x00, 0x03, 0x0f,
	0x03, 0xa1, 0x07, 0xbf, 0xf3, 0xce, 0x10, 0xbe, 0x1d, 0x70, 0xdd,
	0x18, 0xe7, 0x4b, 0xc0, 0x99, 0x67, 0xe4, 0xd6, 0x30, 0x9b, 0xa5,
	0x0d, 0x5f, 0x1d, 0xdc, 0x86, 0x64, 0x12, 0x55, 0x31, 0xb8,
};
static const uint8_t qname[] = "\x02" "mx" "\x02" "fz" "\x07" "example";
static const uint16_t types[4] = { 15, 1, 28, 52 };

/* The held keys, made once: the key as a validated DNSKEY set. */
static struct zonekeys *
keys(void)
{
	static struct zonekeys *zk;

	if (zk == NULL) {
		struct zonekeys_record chain[2] = {
			{ .owner = zone, .owner_len = sizeof(zone),
			  .type = ZONEKEYS_TYPE_DNSKEY, .ttl = 3600,
			  .rdata = key, .rdata_len = sizeof(key) },
			/* Signed by another key: this one is kept. */
			{ .owner = zone, .owner_len = sizeof(zone),
			  .type = ZONEKEYS_TYPE_RRSIG, .ttl = 3600,
			  .covered = ZONEKEYS_TYPE_DNSKEY, .key_tag = 1,
			  .original_ttl = 3600, .expiration = 0x7fffffff },
		};

		zk = zonekeys_new(0);
		FUZZ_ASSERT(zk != NULL && zonekeys_learn(zk, chain, 2,
		    (time_t)NOW, 0), "cannot hold the key");
	}
	return zk;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why1 = NULL, *why2 = NULL;
	uint16_t qtype;
	bool first, second;

	if (size < 1)
		return 0;
	qtype = types[data[0] & 3];
	first = sigcheck_reply(data + 1, size - 1, qname, sizeof(qname), qtype,
	    keys(), NOW, &why1);
	second = sigcheck_reply(data + 1, size - 1, qname, sizeof(qname),
	    qtype, keys(), NOW, &why2);
	FUZZ_ASSERT(first == second, "verdict changed when asked again");
	if (!first)
		FUZZ_ASSERT(why1 != NULL && why1[0] != '\0' &&
		    fuzz_printable(why1, strlen(why1)) && why1 == why2,
		    "unsure without a printable reason");
	else
		FUZZ_ASSERT(size >= 13 && (data[3] & 0x80) != 0 &&
		    (data[4] & 0x0f) == 0 && data[5] == 0 && data[6] == 1,
		    "secure but not a NOERROR response to one question");
	return 0;
}
