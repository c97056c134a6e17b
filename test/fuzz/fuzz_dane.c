/*
 * fuzz_dane: TLSA records and a presented certificate chain (DER) through
 * the DANE matcher (src/dane.c over src/x509_wolfssl.c).
 * Input: a header byte (bits 0-2: records, 0..7; bits 3-4: which reference
 * names), each record as usage, selector, matching type, a 2-byte length
 * and its data, then a byte giving the number of certificates (at most
 * TLS_CHAIN_MAX), each as a 2-byte length and its DER.  Missing bytes are
 * zeros (records) or end the chain.
 * Properties: the result is coherent (authenticated exactly when a usable
 * record is named, with its fields, a depth inside the chain, DANE-EE at
 * depth 0, DANE-TA at depth >= 1 unless a bare key, a reference name for
 * DANE-TA), the reason is a printable line, and the matcher keeps no
 * pointer (every buffer is freed right after; ASan sees any later use).
 */
#include <wolfssl/options.h> /* first: the package's build flags */
#include <wolfssl/ssl.h>

#include <string.h>

#include "dane.h"
#include "fuzz.h"

/* Reference name sets: (TLSA base, MX host) as SMTP uses them. */
static const char *const names_mx[] = { "example.net", "mx1.example.net" };
static const char *const names_self[] = { "self.example.net" };
static const char *const names_wild[] = { "a.wild.example.net",
	                                  "mx1.wild.example.net" };

/* Takes a length-prefixed (2 bytes, big-endian) copy of input bytes. */
static unsigned char *
take_blob(struct fuzz_in *in, size_t *len)
{
	size_t want = (size_t)fuzz_byte(in) << 8;
	const uint8_t *p;
	unsigned char *copy;

	want |= fuzz_byte(in);
	p = fuzz_bytes(in, want, len);
	copy = malloc(*len > 0 ? *len : 1);
	FUZZ_ASSERT(copy != NULL, "out of memory");
	memcpy(copy, p, *len);
	return copy;
}

/* One record set against one chain. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fuzz_in in = { data, size, 0 };
	struct dane_tlsa recs[8];
	unsigned char *blobs[8];
	struct tls_chain chain;
	struct dane_result res;
	const char *const *names;
	size_t nrecs, nnames, i, usable = 0;
	uint8_t head;

	if (!ready) {
		FUZZ_ASSERT(wolfSSL_Init() == WOLFSSL_SUCCESS, "wolfSSL_Init");
		ready = true;
	}
	head = fuzz_byte(&in);
	nrecs = head & 7;
	switch ((head >> 3) & 3) {
	case 0:
		names = names_mx;
		nnames = 2;
		break;
	case 1:
		names = names_self;
		nnames = 1;
		break;
	case 2:
		names = names_wild;
		nnames = 2;
		break;
	default:
		names = NULL;
		nnames = 0;
		break;
	}
	for (i = 0; i < nrecs; i++) {
		recs[i].usage = fuzz_byte(&in);
		recs[i].selector = fuzz_byte(&in);
		recs[i].mtype = fuzz_byte(&in);
		blobs[i] = take_blob(&in, &recs[i].len);
		recs[i].data = blobs[i];
		usable += dane_tlsa_usable(&recs[i]);
	}
	memset(&chain, 0, sizeof(chain));
	chain.count = fuzz_byte(&in) % (TLS_CHAIN_MAX + 1);
	for (i = 0; i < chain.count; i++)
		chain.certs[i].der = take_blob(&in, &chain.certs[i].len);

	memset(&res, 0x5a, sizeof(res));
	dane_check(recs, nrecs, &chain, names, nnames, &res);

	FUZZ_ASSERT(memchr(res.why, '\0', sizeof(res.why)) != NULL,
	            "reason not NUL-terminated");
	FUZZ_ASSERT(fuzz_printable(res.why, strlen(res.why)), "reason \"%s\"",
	            res.why);
	FUZZ_ASSERT(res.usable == usable, "usable %zu, counted %zu",
	            res.usable, usable);
	if (res.authenticated) {
		const struct dane_tlsa *r;

		FUZZ_ASSERT(res.record >= 0 && (size_t)res.record < nrecs,
		            "record %d", res.record);
		r = &recs[res.record];
		FUZZ_ASSERT(dane_tlsa_usable(r), "unusable record matched");
		FUZZ_ASSERT(res.usage == r->usage && res.selector ==
		            r->selector && res.mtype == r->mtype,
		            "fields differ from record %d", res.record);
		FUZZ_ASSERT(chain.count > 0 && res.depth >= 0 &&
		            (size_t)res.depth < chain.count, "depth %d of %zu",
		            res.depth, chain.count);
		if (r->usage == DANE_USAGE_DANE_EE) {
			FUZZ_ASSERT(res.depth == 0 && !res.bare_key,
			            "DANE-EE at depth %d", res.depth);
		} else {
			FUZZ_ASSERT(res.bare_key || res.depth >= 1,
			            "DANE-TA matched the leaf");
			FUZZ_ASSERT(res.name >= 0 && (size_t)res.name < nnames,
			            "DANE-TA without a name (%d)", res.name);
		}
	} else {
		FUZZ_ASSERT(res.record == -1, "record %d not authenticated",
		            res.record);
	}
	for (i = 0; i < nrecs; i++) {
		char line[DANE_DESCRIBE_MAX];

		dane_tlsa_describe(&recs[i], line, sizeof(line));
		FUZZ_ASSERT(fuzz_printable(line, strlen(line)), "describe");
	}
	{
		struct dane_tlsa *copy = dane_tlsa_dup(recs, nrecs);

		FUZZ_ASSERT(copy != NULL, "dup failed");
		for (i = 0; i < nrecs; i++)
			FUZZ_ASSERT(copy[i].len == recs[i].len &&
			            (recs[i].len == 0 || memcmp(copy[i].data,
			            recs[i].data, recs[i].len) == 0), "dup differs");
		dane_tlsa_free(copy);
	}
	for (i = 0; i < nrecs; i++)
		free(blobs[i]);
	for (i = 0; i < chain.count; i++)
		free(chain.certs[i].der);
	return 0;
}
