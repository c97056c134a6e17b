/*
 * dane: which TLSA records an SMTP client may use (RFC 7672 3.1.3), and
 * whether a presented chain matches one of them (RFC 6698, RFC 7671 5,
 * RFC 7672 3.1.1 and 3.1.2).
 *
 * A check keeps, per chain depth, the digests it has computed and whether
 * the chain verifies up to that depth, so a large record set costs at most
 * one digest per (depth, selector, matching type), one chain verification
 * per depth and one name check, plus one signature per bare key and depth.
 * The certificate work itself is x509.h's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"
#include "escape.h"
#include "x509.h"

/* Bytes a digest of each matching type has (0: any non-zero length). */
static const size_t digest_len[] = {
	[DANE_MTYPE_FULL] = 0,
	[DANE_MTYPE_SHA256] = 32,
	[DANE_MTYPE_SHA512] = 64,
};

/* Room for a reason from x509.h, short enough to fit in a dane_result's
 * with the record's description before it. */
#define REASON_MAX 160

/* Tri-state of a check done at most once. */
enum once { ONCE_UNKNOWN, ONCE_YES, ONCE_NO };

/* Digests of one certificate, computed when first needed. */
struct depth_cache {
	/* [selector][mtype - 1]: only the hashed matching types are kept */
	enum once have[2][2];                        /* computed, and how */
	unsigned char digest[2][2][X509_DIGEST_MAX]; /* valid when YES */
	enum once verified; /* the chain verifies up to this depth as anchor */
};

/* One dane_check() in progress. */
struct check {
	const struct tls_chain *chain; /* as given */
	size_t count;                  /* certificates looked at */
	const char *const *names;      /* reference names */
	size_t nnames;
	struct depth_cache depth[TLS_CHAIN_MAX];
	enum once leaf_parses;   /* a DANE-EE match needs a real certificate */
	enum once named;         /* the leaf names a reference name */
	int name;                /* which one, when named is YES */
	bool failed;             /* a record matched, a later check failed */
	char fail[DANE_WHY_MAX]; /* the first such failure */
};

/* Copies records and their data into one block. */
struct dane_tlsa *dane_tlsa_dup(const struct dane_tlsa *recs, size_t n)
{
	if (n > SIZE_MAX / sizeof *recs)
		return NULL;
	size_t total = n * sizeof *recs;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].len > SIZE_MAX - total)
			return NULL;
		total += recs[i].len;
	}
	struct dane_tlsa *copy = malloc(total > 0 ? total : 1);
	if (copy == NULL)
		return NULL;
	unsigned char *data = (unsigned char *)(copy + n);
	for (size_t i = 0; i < n; i++) {
		copy[i] = recs[i];
		if (recs[i].len > 0 && recs[i].data != NULL) {
			memcpy(data, recs[i].data, recs[i].len);
			copy[i].data = data;
			data += recs[i].len;
		} else {
			copy[i].data = NULL;
			copy[i].len = 0;
		}
	}
	return copy;
}

/* Frees a block made by dane_tlsa_dup(). */
void dane_tlsa_free(struct dane_tlsa *copy)
{
	free(copy);
}

/* Says why a record cannot be used with SMTP, or NULL. */
const char *dane_tlsa_unusable(const struct dane_tlsa *rec)
{
	if (rec == NULL)
		return "no record";
	switch (rec->usage) {
	case DANE_USAGE_PKIX_TA:
		return "PKIX-TA(0) is not used with SMTP";
	case DANE_USAGE_PKIX_EE:
		return "PKIX-EE(1) is not used with SMTP";
	case DANE_USAGE_DANE_TA:
	case DANE_USAGE_DANE_EE:
		break;
	default:
		return "unknown certificate usage";
	}
	if (rec->selector > DANE_SELECTOR_SPKI)
		return "unknown selector";
	if (rec->mtype > DANE_MTYPE_SHA512)
		return "unknown matching type";
	if (rec->len == 0 || rec->data == NULL)
		return "empty association data";
	if (digest_len[rec->mtype] != 0 && rec->len != digest_len[rec->mtype])
		return rec->mtype == DANE_MTYPE_SHA256
		               ? "SHA2-256 data is not 32 bytes"
		               : "SHA2-512 data is not 64 bytes";
	return NULL;
}

/* Whether a record can be used with SMTP. */
bool dane_tlsa_usable(const struct dane_tlsa *rec)
{
	return dane_tlsa_unusable(rec) == NULL;
}

/* Appends the hex of `n` bytes to buf at *used, if they fit. */
static void put_hex(char *buf, size_t len, size_t *used,
                    const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n && *used + 2 < len; i++) {
		buf[(*used)++] = hex[p[i] >> 4];
		buf[(*used)++] = hex[p[i] & 0x0f];
	}
	buf[*used] = '\0';
}

/* Formats a record for logs, its data shortened. */
char *dane_tlsa_describe(const struct dane_tlsa *rec, char *buf, size_t len)
{
	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	if (rec == NULL)
		return buf;
	int n = snprintf(buf, len, "%u %u %u ", (unsigned)rec->usage,
	                 (unsigned)rec->selector, (unsigned)rec->mtype);
	if (n < 0 || (size_t)n >= len)
		return buf;
	size_t used = (size_t)n;
	if (rec->len == 0 || rec->data == NULL) {
		snprintf(buf + used, len - used, "-");
		return buf;
	}
	if (rec->len <= 8) {
		put_hex(buf, len, &used, rec->data, rec->len);
		return buf;
	}
	put_hex(buf, len, &used, rec->data, 6);
	if (used + 3 < len) {
		memcpy(buf + used, "...", 4);
		used += 3;
	}
	put_hex(buf, len, &used, rec->data + rec->len - 2, 2);
	return buf;
}

/* Notes the first failure of a record that matched. */
static void note_failure(struct check *c, const struct dane_tlsa *rec,
                         const char *what, const char *why)
{
	if (c->failed)
		return;
	c->failed = true;
	char desc[DANE_DESCRIBE_MAX];
	snprintf(c->fail, sizeof c->fail, "%s (%s): %s", what,
	         dane_tlsa_describe(rec, desc, sizeof desc), why);
}

/* Whether a usable record's data matches the certificate at `d`. */
static bool matches(struct check *c, const struct dane_tlsa *rec, size_t d)
{
	const struct tls_cert *cert = &c->chain->certs[d];
	unsigned char spki[X509_SPKI_MAX];
	const unsigned char *sel = cert->der;
	size_t sellen = cert->len;

	if (rec->mtype == DANE_MTYPE_FULL) {
		if (rec->selector == DANE_SELECTOR_SPKI) {
			if (!x509_spki(cert, spki, sizeof spki, &sellen, NULL,
			               0))
				return false;
			sel = spki;
		}
		return sel != NULL && sellen == rec->len &&
		       memcmp(sel, rec->data, sellen) == 0;
	}

	struct depth_cache *dc = &c->depth[d];
	unsigned s = rec->selector, m = rec->mtype - 1u;
	if (dc->have[s][m] == ONCE_UNKNOWN) {
		size_t got = 0;
		bool ok = sel != NULL;
		if (ok && s == DANE_SELECTOR_SPKI) {
			ok = x509_spki(cert, spki, sizeof spki, &sellen, NULL,
			               0);
			sel = spki;
		}
		ok = ok && x509_digest(rec->mtype, sel, sellen,
		                       dc->digest[s][m], X509_DIGEST_MAX, &got,
		                       NULL, 0) &&
		     got == digest_len[rec->mtype];
		dc->have[s][m] = ok ? ONCE_YES : ONCE_NO;
	}
	return dc->have[s][m] == ONCE_YES &&
	       memcmp(dc->digest[s][m], rec->data, rec->len) == 0;
}

/* Fills the result for the record that authenticated the chain. */
static void success(const struct check *c, size_t i,
                    const struct dane_tlsa *rec, size_t depth, bool bare,
                    struct dane_result *res)
{
	char desc[DANE_DESCRIBE_MAX];
	char name[DANE_WHY_MAX / 2];
	res->authenticated = true;
	res->record = (int)i;
	res->usage = rec->usage;
	res->selector = rec->selector;
	res->mtype = rec->mtype;
	res->depth = (int)depth;
	res->bare_key = bare;
	dane_tlsa_describe(rec, desc, sizeof desc);
	if (rec->usage == DANE_USAGE_DANE_EE) {
		res->name = -1;
		snprintf(res->why, sizeof res->why,
		         "DANE-EE record %zu (%s) matched the leaf", i, desc);
		return;
	}
	res->name = c->name;
	const char *n = c->name >= 0 ? c->names[c->name] : "?";
	escape_text(n, strlen(n), name, sizeof name);
	snprintf(res->why, sizeof res->why,
	         !bare ? "DANE-TA record %zu (%s) matched the certificate at "
	                 "depth %zu; the leaf names %s"
	         : rec->selector == DANE_SELECTOR_SPKI
	                 ? "DANE-TA record %zu (%s) is the key that signed "
	                   "the certificate at depth %zu; the leaf names %s"
	                 : "DANE-TA record %zu (%s) is the certificate, not "
	                   "in the chain, that issued the certificate at "
	                   "depth %zu; the leaf names %s",
	         i, desc, depth, name);
}

/* Whether the leaf names a reference name, checked once per dane_check. */
static bool leaf_named(struct check *c, const struct dane_tlsa *rec)
{
	char why[REASON_MAX];
	if (c->named == ONCE_UNKNOWN) {
		c->name = x509_leaf_names(&c->chain->certs[0], c->names,
		                          c->nnames, why, sizeof why);
		c->named = c->name >= 0 ? ONCE_YES : ONCE_NO;
		if (c->named == ONCE_NO)
			note_failure(c, rec, "DANE-TA", why);
	}
	return c->named == ONCE_YES;
}

/* Whether the chain verifies up to the anchor at depth d, checked once. */
static bool verified_to(struct check *c, const struct dane_tlsa *rec, size_t d)
{
	char why[REASON_MAX];
	char line[REASON_MAX + 32];
	struct depth_cache *dc = &c->depth[d];
	if (dc->verified == ONCE_UNKNOWN) {
		bool ok = x509_chain_verify(c->chain, d, why, sizeof why);
		dc->verified = ok ? ONCE_YES : ONCE_NO;
		if (!ok) {
			snprintf(line, sizeof line, "chain does not verify: %s",
			         why);
			note_failure(c, rec, "DANE-TA", line);
		}
	}
	return dc->verified == ONCE_YES;
}

/* Tries a DANE-EE record against the leaf. */
static bool try_ee(struct check *c, size_t i, const struct dane_tlsa *rec,
                   struct dane_result *res)
{
	if (!matches(c, rec, 0))
		return false;
	if (c->leaf_parses == ONCE_UNKNOWN) {
		unsigned char spki[X509_SPKI_MAX];
		size_t len;
		c->leaf_parses = x509_spki(&c->chain->certs[0], spki,
		                           sizeof spki, &len, NULL, 0)
		                         ? ONCE_YES
		                         : ONCE_NO;
	}
	if (c->leaf_parses != ONCE_YES) {
		note_failure(c, rec, "DANE-EE", "the leaf does not parse");
		return false;
	}
	success(c, i, rec, 0, false, res);
	return true;
}

/*
 * RFC 7671 5.2.2: a "2 0 0" record is the anchor certificate itself, which
 * the server need not send.  It anchors the chain at the first chain[j]
 * its key signed: chain[0..j] with the anchor above it must verify as a
 * chain presented that way would (dates, CA flags and constraints of the
 * anchor included).  A certificate identical to the leaf is no anchor
 * (a TA record never matches the leaf).
 */
static bool try_ta_cert(struct check *c, size_t i, const struct dane_tlsa *rec,
                        struct dane_result *res)
{
	struct tls_cert anchor = { (unsigned char *)rec->data, rec->len };
	unsigned char spki[X509_SPKI_MAX];
	size_t spkilen;
	if (!x509_spki(&anchor, spki, sizeof spki, &spkilen, NULL, 0))
		return false; /* not a certificate: matches nothing */
	const struct tls_cert *leaf = &c->chain->certs[0];
	for (size_t j = 0; j < c->count && j + 1 < TLS_CHAIN_MAX; j++) {
		if (j == 0 && leaf->len == anchor.len &&
		    memcmp(leaf->der, anchor.der, anchor.len) == 0)
			continue;
		if (!x509_signed_by_key(&c->chain->certs[j], spki, spkilen,
		                        NULL, 0))
			continue;
		struct tls_chain ext;
		ext.count = j + 2;
		memcpy(ext.certs, c->chain->certs, (j + 1) * sizeof *ext.certs);
		ext.certs[j + 1] = anchor;
		char why[REASON_MAX];
		char line[REASON_MAX + 32];
		if (!x509_chain_verify(&ext, j + 1, why, sizeof why)) {
			snprintf(line, sizeof line, "chain does not verify: %s",
			         why);
			note_failure(c, rec, "DANE-TA", line);
			continue;
		}
		if (leaf_named(c, rec)) {
			success(c, i, rec, j, true, res);
			return true;
		}
	}
	return false;
}

/* Tries a DANE-TA record: a chain certificate, else a bare key. */
static bool try_ta(struct check *c, size_t i, const struct dane_tlsa *rec,
                   struct dane_result *res)
{
	bool in_chain = false;
	for (size_t d = 1; d < c->count; d++) {
		if (!matches(c, rec, d))
			continue;
		in_chain = true;
		if (verified_to(c, rec, d) && leaf_named(c, rec)) {
			success(c, i, rec, d, false, res);
			return true;
		}
	}
	if (in_chain || rec->mtype != DANE_MTYPE_FULL)
		return false;
	if (rec->selector == DANE_SELECTOR_CERT)
		return try_ta_cert(c, i, rec, res);

	/* RFC 7671 5.2.2: a "2 1 0" key need not be sent in the chain. */
	for (size_t j = 0; j < c->count; j++) {
		if (!x509_signed_by_key(&c->chain->certs[j], rec->data,
		                        rec->len, NULL, 0))
			continue;
		if (verified_to(c, rec, j) && leaf_named(c, rec)) {
			success(c, i, rec, j, true, res);
			return true;
		}
	}
	return false;
}

/* Checks a presented chain against a TLSA record set. */
void dane_check(const struct dane_tlsa *recs, size_t nrecs,
                const struct tls_chain *chain, const char *const *names,
                size_t nnames, struct dane_result *res)
{
	memset(res, 0, sizeof *res);
	res->record = -1;
	res->depth = -1;
	res->name = -1;
	for (size_t i = 0; recs != NULL && i < nrecs; i++)
		if (dane_tlsa_usable(&recs[i]))
			res->usable++;
	if (nrecs > DANE_TLSA_MAX) {
		snprintf(res->why, sizeof res->why,
		         "too many TLSA records (%zu, at most %d)", nrecs,
		         DANE_TLSA_MAX);
		return;
	}
	if (nrecs == 0) {
		snprintf(res->why, sizeof res->why, "no TLSA records");
		return;
	}
	if (res->usable == 0) {
		snprintf(res->why, sizeof res->why,
		         "none of the %zu TLSA records is usable", nrecs);
		return;
	}
	if (chain == NULL || chain->count == 0 ||
	    chain->certs[0].der == NULL || chain->certs[0].len == 0) {
		snprintf(res->why, sizeof res->why, "no certificate presented");
		return;
	}

	static const struct check blank;
	struct check c = blank;
	c.chain = chain;
	c.count = chain->count < TLS_CHAIN_MAX ? chain->count : TLS_CHAIN_MAX;
	c.names = names;
	c.nnames = names != NULL ? nnames : 0;

	/* RFC 7671 9: per usage and selector, only the strongest matching
	 * type present counts (as OpenSSL orders them: SHA2-512, SHA2-256,
	 * Full); records of weaker types are ignored. */
	uint8_t strongest[4][2] = { { 0 } };
	for (size_t i = 0; i < nrecs; i++) {
		const struct dane_tlsa *rec = &recs[i];
		if (dane_tlsa_usable(rec) &&
		    rec->mtype > strongest[rec->usage][rec->selector])
			strongest[rec->usage][rec->selector] = rec->mtype;
	}
	for (size_t i = 0; i < nrecs; i++) {
		const struct dane_tlsa *rec = &recs[i];
		if (!dane_tlsa_usable(rec) ||
		    rec->mtype < strongest[rec->usage][rec->selector])
			continue;
		bool done = rec->usage == DANE_USAGE_DANE_EE
		                    ? try_ee(&c, i, rec, res)
		                    : try_ta(&c, i, rec, res);
		if (done)
			return;
	}
	if (c.failed)
		snprintf(res->why, sizeof res->why, "%s", c.fail);
	else
		snprintf(res->why, sizeof res->why,
		         "no TLSA record matched the chain (%zu usable)",
		         res->usable);
}
