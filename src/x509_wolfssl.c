/*
 * x509_wolfssl: the certificate operations of x509.h on wolfSSL.
 *
 * Chain verification walks the presented chain one link at a time with a
 * private certificate manager holding only the issuer of that link, so a
 * certificate can be vouched for by the next one in the chain and by nothing
 * else: no global store, no reordering, no skipped intermediate.  wolfSSL
 * checks a verified certificate's dates but not those of a loaded CA, and it
 * loads a non-CA certificate as a CA without complaint, so the anchor's
 * dates and every issuer's CA flag are checked here.
 *
 * wolfSSL sees one link at a time, so what spans the chain is checked here
 * on the decoded certificates: RFC 5280 path length constraints (of every
 * CA from the anchor down, the anchor's included, as OpenSSL does), and
 * name constraints.  Those bind DNS names only (RFC 7671 5.2.2 leaves the
 * rest to RFC 5280, and an SMTP server is named by DNS names): wolfSSL 5.5.4
 * also holds a subordinate CA's subject CommonName against a DNS
 * constraint, which refuses valid chains, so its name-constraint verdict
 * is replaced by ours (the link's signature and dates are then checked
 * here too, since wolfSSL stopped before reporting them).
 *
 * Host names are matched here rather than with wolfSSL_X509_check_host():
 * in 5.5.4 it keeps a trailing dot significant ("mx1.example.net." does not
 * match), and its wildcard rules are its own, where RFC 7672 3.2.3 wants
 * RFC 6125's, and both CN and SAN handling are easier to state and test
 * here.
 */
#include <wolfssl/options.h> /* first: the package's build flags live here */
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfcrypt/sha512.h>

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "x509.h"

/* Longest host name shown in a reason (escaped form). */
#define SHOWN_NAME_MAX 80

static void say(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Writes a one-line reason into the caller's buffer, if there is one. */
static void say(char *why, size_t whylen, const char *fmt, ...)
{
	if (why == NULL || whylen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Parses one certificate; NULL if it is empty, too large or not DER X.509. */
static WOLFSSL_X509 *parse(const struct tls_cert *cert)
{
	if (cert == NULL || cert->der == NULL || cert->len == 0 ||
	    cert->len > INT_MAX)
		return NULL;
	return wolfSSL_X509_d2i(NULL, cert->der, (int)cert->len);
}

/* ASCII lower case, independent of the locale. */
static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* Compares two byte strings of equal length, ASCII case-insensitively. */
static bool same_name(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

/* Words for a wolfSSL verification error; `buf` holds the fallback text. */
static const char *verify_error(int rc, char *buf, size_t len)
{
	switch (rc) {
	case ASN_AFTER_DATE_E:
		return "has expired";
	case ASN_BEFORE_DATE_E:
		return "is not yet valid";
	case ASN_NO_SIGNER_E:
		return "is not issued by the next certificate in the chain";
	case ASN_SELF_SIGNED_E:
		return "is self-signed, not issued by the next certificate in "
		       "the chain";
	case ASN_SIG_CONFIRM_E:
		return "has a signature that does not verify";
	default: {
		char text[80];
		wolfSSL_ERR_error_string_n((unsigned long)rc, text,
		                           sizeof text);
		snprintf(buf, len, "is rejected: %s (%d)", text, rc);
		return buf;
	}
	}
}

/* Copies the SubjectPublicKeyInfo of a certificate. */
bool x509_spki(const struct tls_cert *cert, unsigned char *out, size_t room,
               size_t *outlen, char *why, size_t whylen)
{
	WOLFSSL_X509 *x = parse(cert);
	if (x == NULL) {
		say(why, whylen, "certificate does not parse");
		return false;
	}
	int sz = room > INT_MAX ? INT_MAX : (int)room;
	int rc = wolfSSL_X509_get_pubkey_buffer(x, out, &sz);
	wolfSSL_X509_free(x);
	/* wolfSSL reports success and the size needed, copying nothing, when
	 * the buffer is too small. */
	if (rc != WOLFSSL_SUCCESS || sz <= 0) {
		say(why, whylen, "certificate has no readable public key");
		return false;
	}
	if ((size_t)sz > room) {
		say(why, whylen, "public key too large (%d bytes)", sz);
		return false;
	}
	*outlen = (size_t)sz;
	return true;
}

/* Computes TLSA association data of one matching type. */
bool x509_digest(unsigned mtype, const unsigned char *in, size_t len,
                 unsigned char *out, size_t room, size_t *outlen, char *why,
                 size_t whylen)
{
	if (len > UINT32_MAX) {
		say(why, whylen, "input too large to digest");
		return false;
	}
	switch (mtype) {
	case X509_MTYPE_FULL:
		if (len > room) {
			say(why, whylen, "data too large (%zu bytes)", len);
			return false;
		}
		if (len > 0)
			memcpy(out, in, len);
		*outlen = len;
		return true;
	case X509_MTYPE_SHA256:
		if (room < WC_SHA256_DIGEST_SIZE)
			break;
		if (wc_Sha256Hash(in, (word32)len, out) != 0) {
			say(why, whylen, "SHA-256 failed");
			return false;
		}
		*outlen = WC_SHA256_DIGEST_SIZE;
		return true;
	case X509_MTYPE_SHA512:
		if (room < WC_SHA512_DIGEST_SIZE)
			break;
		if (wc_Sha512Hash(in, (word32)len, out) != 0) {
			say(why, whylen, "SHA-512 failed");
			return false;
		}
		*outlen = WC_SHA512_DIGEST_SIZE;
		return true;
	default:
		say(why, whylen, "unknown matching type %u", mtype);
		return false;
	}
	say(why, whylen, "digest buffer too small");
	return false;
}

/* Checks that the certificate at `depth` is within its validity dates. */
static bool in_dates(WOLFSSL_X509 *x, size_t depth, char *why, size_t whylen)
{
	/* cmp_current_time: -1 for a time in the past, 1 in the future,
	 * 0 when it cannot tell. */
	const WOLFSSL_ASN1_TIME *nb = wolfSSL_X509_get_notBefore(x);
	const WOLFSSL_ASN1_TIME *na = wolfSSL_X509_get_notAfter(x);
	int before = wolfSSL_X509_cmp_current_time(nb);
	int after = wolfSSL_X509_cmp_current_time(na);
	if (before == 0 || after == 0) {
		say(why, whylen,
		    "certificate at depth %zu has unreadable dates", depth);
		return false;
	}
	if (before > 0) {
		say(why, whylen, "certificate at depth %zu is not yet valid",
		    depth);
		return false;
	}
	if (after < 0) {
		say(why, whylen, "certificate at depth %zu has expired", depth);
		return false;
	}
	return true;
}

/* Checks one certificate's dates (if asked) and that it is a CA (if asked). */
static bool check_one(const struct tls_chain *chain, size_t depth, bool dates,
                      bool ca, char *why, size_t whylen)
{
	WOLFSSL_X509 *x = parse(&chain->certs[depth]);
	if (x == NULL) {
		say(why, whylen, "certificate at depth %zu does not parse",
		    depth);
		return false;
	}
	bool ok = !dates || in_dates(x, depth, why, whylen);
	if (ok && ca && wolfSSL_X509_get_isCA(x) != 1) {
		say(why, whylen, "certificate at depth %zu is not a CA", depth);
		ok = false;
	}
	wolfSSL_X509_free(x);
	return ok;
}

/* One certificate decoded by wolfSSL (wc_FreeDecodedCert frees it). */
static bool decode(const struct tls_cert *cert, struct DecodedCert *dc)
{
	if (cert->der == NULL || cert->len == 0 || cert->len > UINT32_MAX)
		return false;
	wc_InitDecodedCert(dc, cert->der, (word32)cert->len, NULL);
	if (wc_ParseCert(dc, CERT_TYPE, NO_VERIFY, NULL) != 0) {
		wc_FreeDecodedCert(dc);
		return false;
	}
	return true;
}

/*
 * RFC 5280 4.2.1.9: a CA with pathLenConstraint N may have at most N
 * CA certificates below it in the path, self-issued ones not counted.
 * Checked for every CA from depth 1 up to the anchor at depth k.
 */
static bool path_lengths_ok(const struct tls_chain *chain, size_t k,
                            char *why, size_t whylen)
{
	size_t below = 0; /* non-self-issued CAs at depth 1..i-1 */
	for (size_t i = 1; i <= k; i++) {
		struct DecodedCert dc;
		if (!decode(&chain->certs[i], &dc)) {
			say(why, whylen,
			    "certificate at depth %zu does not parse", i);
			return false;
		}
		bool limited = dc.pathLengthSet;
		size_t limit = dc.pathLength;
		bool self_issued = memcmp(dc.subjectHash, dc.issuerHash,
		                          sizeof dc.subjectHash) == 0;
		wc_FreeDecodedCert(&dc);
		if (limited && below > limit) {
			say(why, whylen,
			    "certificate at depth %zu allows a path length of "
			    "%zu CA(s) below it, the chain has %zu",
			    i, limit, below);
			return false;
		}
		if (!self_issued)
			below++;
	}
	return true;
}

/* Whether `name` (len bytes) lies in the DNS subtree `base` (RFC 5280
 * 4.2.1.10: the name itself or below it; a base with a leading dot, as
 * OpenSSL accepts, only below it). */
static bool in_dns_subtree(const char *name, size_t len, const char *base,
                           size_t blen)
{
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (blen > 0 && base[blen - 1] == '.')
		blen--;
	if (blen == 0)
		return true; /* the empty base is every name */
	bool below_only = base[0] == '.';
	if (below_only) {
		base++;
		blen--;
	}
	if (len == blen && !below_only)
		return same_name(name, base, len);
	return len > blen && name[len - blen - 1] == '.' &&
	       same_name(name + len - blen, base, blen);
}

/* Whether one DNS name satisfies a CA's DNS name constraints. */
static bool dns_name_allowed(const struct DecodedCert *ca, const char *name,
                             size_t len)
{
	for (const Base_entry *e = ca->excludedNames; e != NULL; e = e->next)
		if (e->type == ASN_DNS_TYPE && e->name != NULL &&
		    e->nameSz >= 0 &&
		    in_dns_subtree(name, len, e->name, (size_t)e->nameSz))
			return false;
	bool any = false;
	for (const Base_entry *e = ca->permittedNames; e != NULL; e = e->next) {
		if (e->type != ASN_DNS_TYPE || e->name == NULL ||
		    e->nameSz < 0)
			continue;
		any = true;
		if (in_dns_subtree(name, len, e->name, (size_t)e->nameSz))
			return true;
	}
	return !any;
}

/* Whether a CommonName reads as a host name ("a.b" of letters, digits,
 * hyphens, dots, a leading "*."): only such a leaf CN is a DNS name. */
static bool cn_is_host(const char *cn, size_t len)
{
	if (len > 1 && cn[0] == '*' && cn[1] == '.') {
		cn += 2;
		len -= 2;
	}
	if (len == 0 || memchr(cn, '.', len) == NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = lower((unsigned char)cn[i]);
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Whether every DNS name of `subject` (depth d) satisfies the constraints
 * of `ca`: its dNSName entries, and for the leaf without any, a CN that
 * reads as a host name (as OpenSSL does). */
static bool names_allowed(const struct DecodedCert *ca,
                          const struct DecodedCert *subject, size_t d)
{
	bool any = false;
	for (const DNS_entry *e = subject->altNames; e != NULL; e = e->next) {
		if (e->type != ASN_DNS_TYPE)
			continue;
		any = true;
		if (e->name == NULL || e->len < 0 ||
		    !dns_name_allowed(ca, e->name, (size_t)e->len))
			return false;
	}
	if (!any && d == 0 && subject->subjectCN != NULL &&
	    subject->subjectCNLen > 0 &&
	    cn_is_host(subject->subjectCN, (size_t)subject->subjectCNLen))
		return dns_name_allowed(ca, subject->subjectCN,
		                        (size_t)subject->subjectCNLen);
	return true;
}

/* Name constraints of every CA at depth 1..k over the DNS names of every
 * certificate below it. */
static bool name_constraints_ok(const struct tls_chain *chain, size_t k,
                                char *why, size_t whylen)
{
	for (size_t i = 1; i <= k; i++) {
		struct DecodedCert ca;
		if (!decode(&chain->certs[i], &ca)) {
			say(why, whylen,
			    "certificate at depth %zu does not parse", i);
			return false;
		}
		bool ok = true;
		if (ca.permittedNames != NULL || ca.excludedNames != NULL) {
			for (size_t d = 0; ok && d < i; d++) {
				struct DecodedCert sub;
				if (!decode(&chain->certs[d], &sub)) {
					say(why, whylen, "certificate at depth "
					    "%zu does not parse", d);
					ok = false;
					break;
				}
				if (!names_allowed(&ca, &sub, d)) {
					say(why, whylen,
					    "certificate at depth %zu has a "
					    "DNS name outside the name "
					    "constraints of depth %zu", d, i);
					ok = false;
				}
				wc_FreeDecodedCert(&sub);
			}
		}
		wc_FreeDecodedCert(&ca);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * wolfSSL refused a link for its name constraints: whether the link holds
 * without them (the subject's signature by the issuer's key, and its
 * dates), the constraints being name_constraints_ok()'s.
 */
static bool link_ok_but_names(const struct tls_cert *subject,
                              const struct tls_cert *issuer, size_t i,
                              char *why, size_t whylen)
{
	unsigned char spki[X509_SPKI_MAX];
	size_t len;
	if (!x509_spki(issuer, spki, sizeof spki, &len, why, whylen))
		return false;
	if (!x509_signed_by_key(subject, spki, len, NULL, 0)) {
		say(why, whylen, "certificate at depth %zu has a signature "
		    "that does not verify", i);
		return false;
	}
	WOLFSSL_X509 *x = parse(subject);
	if (x == NULL) {
		say(why, whylen, "certificate at depth %zu does not parse", i);
		return false;
	}
	bool ok = in_dates(x, i, why, whylen);
	wolfSSL_X509_free(x);
	return ok;
}

/* Verifies chain[0..k-1] link by link up to the anchor chain[k]. */
bool x509_chain_verify(const struct tls_chain *chain, size_t k, char *why,
                       size_t whylen)
{
	if (chain == NULL || k >= chain->count || k >= TLS_CHAIN_MAX) {
		say(why, whylen, "no certificate at depth %zu", k);
		return false;
	}
	for (size_t i = 0; i <= k; i++) {
		if (chain->certs[i].der == NULL || chain->certs[i].len == 0 ||
		    chain->certs[i].len > LONG_MAX) {
			say(why, whylen, "certificate at depth %zu is empty",
			    i);
			return false;
		}
	}
	/* The anchor's dates (wolfSSL checks only those of the certificates
	 * it verifies) and every issuer's CA flag. */
	if (!check_one(chain, k, true, k > 0, why, whylen))
		return false;
	for (size_t i = 1; i < k; i++)
		if (!check_one(chain, i, false, true, why, whylen))
			return false;
	if (k == 0)
		return true;

	WOLFSSL_CERT_MANAGER *cm = wolfSSL_CertManagerNew();
	if (cm == NULL) {
		say(why, whylen, "cannot create a certificate manager");
		return false;
	}
	bool ok = true;
	char buf[128];
	for (size_t i = k; ok && i-- > 0;) {
		const struct tls_cert *issuer = &chain->certs[i + 1];
		const struct tls_cert *subject = &chain->certs[i];
		wolfSSL_CertManagerUnloadCAs(cm);
		int rc = wolfSSL_CertManagerLoadCABuffer(cm, issuer->der,
		                                         (long)issuer->len,
		                                         WOLFSSL_FILETYPE_ASN1);
		if (rc != WOLFSSL_SUCCESS) {
			say(why, whylen,
			    "certificate at depth %zu cannot be an issuer: %s",
			    i + 1, verify_error(rc, buf, sizeof buf));
			ok = false;
			break;
		}
		rc = wolfSSL_CertManagerVerifyBuffer(cm, subject->der,
		                                     (long)subject->len,
		                                     WOLFSSL_FILETYPE_ASN1);
		if (rc == ASN_NAME_INVALID_E) {
			ok = link_ok_but_names(subject, issuer, i, why,
			                       whylen);
		} else if (rc != WOLFSSL_SUCCESS) {
			say(why, whylen, "certificate at depth %zu %s", i,
			    verify_error(rc, buf, sizeof buf));
			ok = false;
		}
	}
	wolfSSL_CertManagerFree(cm);
	return ok && path_lengths_ok(chain, k, why, whylen) &&
	       name_constraints_ok(chain, k, why, whylen);
}

/* Size of the DER element at p (header and contents), 0 if it is malformed
 * or runs past len. */
static size_t der_size(const unsigned char *p, size_t len)
{
	if (len < 2)
		return 0;
	size_t hdr = 2, n = p[1];
	if (n & 0x80) {
		size_t bytes = n & 0x7f;
		if (bytes == 0 || bytes > 4 || bytes > len - 2)
			return 0;
		n = 0;
		for (size_t i = 0; i < bytes; i++)
			n = n << 8 | p[2 + i];
		hdr += bytes;
	}
	return n <= len - hdr ? hdr + n : 0;
}

/* Verifies a certificate's signature with a bare public key. */
bool x509_signed_by_key(const struct tls_cert *cert, const unsigned char *spki,
                        size_t len, char *why, size_t whylen)
{
	if (spki == NULL || len == 0 || len > LONG_MAX) {
		say(why, whylen, "no public key");
		return false;
	}
	/* Exactly one SubjectPublicKeyInfo SEQUENCE: wolfSSL would ignore
	 * bytes after it. */
	if (spki[0] != 0x30 || der_size(spki, len) != len) {
		say(why, whylen, "TLSA data is not a public key");
		return false;
	}
	const unsigned char *p = spki;
	WOLFSSL_EVP_PKEY *key = wolfSSL_d2i_PUBKEY(NULL, &p, (long)len);
	if (key == NULL) {
		say(why, whylen, "TLSA data is not a usable public key");
		return false;
	}
	WOLFSSL_X509 *x = parse(cert);
	if (x == NULL) {
		wolfSSL_EVP_PKEY_free(key);
		say(why, whylen, "certificate does not parse");
		return false;
	}
	bool ok = wolfSSL_X509_verify(x, key) == WOLFSSL_SUCCESS;
	if (!ok)
		say(why, whylen, "certificate is not signed by the TLSA key");
	wolfSSL_X509_free(x);
	wolfSSL_EVP_PKEY_free(key);
	return ok;
}

/* Matches a certificate name against a host name (RFC 6125 rules). */
bool x509_host_match(const char *pattern, size_t len, const char *host)
{
	if (pattern == NULL || host == NULL || memchr(pattern, '\0', len))
		return false;
	size_t hlen = strlen(host);
	if (len > 0 && pattern[len - 1] == '.')
		len--;
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (len == 0 || hlen == 0 || memchr(host, '*', hlen))
		return false;

	if (len > 2 && pattern[0] == '*' && pattern[1] == '.') {
		const char *suffix = pattern + 2;
		size_t slen = len - 2;
		/* Two labels at least under the wildcard, and no other '*'. */
		if (memchr(suffix, '*', slen) || !memchr(suffix, '.', slen) ||
		    suffix[0] == '.')
			return false;
		const char *dot = memchr(host, '.', hlen);
		if (dot == NULL || dot == host)
			return false;
		size_t rest = hlen - (size_t)(dot + 1 - host);
		return rest == slen && same_name(dot + 1, suffix, slen);
	}
	if (memchr(pattern, '*', len))
		return false;
	return len == hlen && same_name(pattern, host, len);
}

/* Appends text to a reason being built, keeping it NUL-terminated. */
static void append(char *why, size_t whylen, size_t *used, const char *text)
{
	if (why == NULL || *used + 1 >= whylen)
		return;
	int n = snprintf(why + *used, whylen - *used, "%s", text);
	if (n > 0)
		*used += (size_t)n < whylen - *used ? (size_t)n
		                                    : whylen - *used - 1;
}

/* Appends a name from a certificate or DNS, escaped for a log. */
static void append_name(char *why, size_t whylen, size_t *used,
                        const char *name, size_t len)
{
	char shown[SHOWN_NAME_MAX];
	escape_text(name, len, shown, sizeof shown);
	append(why, whylen, used, shown);
}

/* Whether hosts[i] is the same name as an earlier one (case and one
 * trailing dot aside). */
static bool named_before(const char *const *hosts, size_t i)
{
	if (hosts[i] == NULL)
		return true;
	size_t len = strlen(hosts[i]);
	if (len > 0 && hosts[i][len - 1] == '.')
		len--;
	for (size_t j = 0; j < i; j++) {
		if (hosts[j] == NULL)
			continue;
		size_t l = strlen(hosts[j]);
		if (l > 0 && hosts[j][l - 1] == '.')
			l--;
		if (l == len && same_name(hosts[j], hosts[i], len))
			return true;
	}
	return false;
}

/* Explains that the leaf names none of the hosts, listing what it names. */
static void explain_names(const struct DecodedCert *dc, bool use_cn,
                          const char *const *hosts, size_t n, char *why,
                          size_t whylen)
{
	size_t used = 0;
	if (why == NULL || whylen == 0)
		return;
	why[0] = '\0';
	if (n == 0) {
		append(why, whylen, &used, "no host name to check");
		return;
	}
	/* A name given twice (the MX host that is also the TLSA base
	 * domain) is listed once. */
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++)
		distinct += !named_before(hosts, i);
	append(why, whylen, &used,
	       distinct == 1 ? "certificate does not name "
	       : distinct == 2 ? "certificate names neither "
	                       : "certificate names none of ");
	for (size_t i = 0, shown = 0; i < n; i++) {
		if (named_before(hosts, i))
			continue;
		if (shown++ > 0)
			append(why, whylen, &used,
			       distinct == 2 ? " nor " : ", ");
		append_name(why, whylen, &used, hosts[i], strlen(hosts[i]));
	}
	append(why, whylen, &used, " (it names ");
	bool any = false;
	if (use_cn) {
		if (dc->subjectCN != NULL && dc->subjectCNLen > 0) {
			append(why, whylen, &used, "CN ");
			append_name(why, whylen, &used, dc->subjectCN,
			            (size_t)dc->subjectCNLen);
			any = true;
		}
	} else {
		const DNS_entry *e;
		for (e = dc->altNames; e != NULL; e = e->next) {
			if (e->type != ASN_DNS_TYPE || e->name == NULL)
				continue;
			if (any)
				append(why, whylen, &used, ", ");
			append_name(why, whylen, &used, e->name,
			            e->len > 0 ? (size_t)e->len : 0);
			any = true;
		}
	}
	if (!any)
		append(why, whylen, &used, "nothing");
	append(why, whylen, &used, ")");
}

/* Finds the first of the hosts the leaf certificate names. */
int x509_leaf_names(const struct tls_cert *leaf, const char *const *hosts,
                    size_t n, char *why, size_t whylen)
{
	if (leaf == NULL || leaf->der == NULL || leaf->len == 0 ||
	    leaf->len > UINT32_MAX) {
		say(why, whylen, "no leaf certificate");
		return -1;
	}
	struct DecodedCert dc;
	wc_InitDecodedCert(&dc, leaf->der, (word32)leaf->len, NULL);
	if (wc_ParseCert(&dc, CERT_TYPE, NO_VERIFY, NULL) != 0) {
		wc_FreeDecodedCert(&dc);
		say(why, whylen, "leaf certificate does not parse");
		return -1;
	}
	/* RFC 6125 6.4.4: the CN only when there is no dNSName at all. */
	bool use_cn = true;
	for (const DNS_entry *e = dc.altNames; e != NULL; e = e->next)
		if (e->type == ASN_DNS_TYPE)
			use_cn = false;

	int found = -1;
	for (size_t i = 0; found < 0 && i < n && i < INT_MAX; i++) {
		if (hosts[i] == NULL)
			continue;
		if (use_cn) {
			if (dc.subjectCN != NULL && dc.subjectCNLen > 0 &&
			    x509_host_match(dc.subjectCN,
			                    (size_t)dc.subjectCNLen, hosts[i]))
				found = (int)i;
			continue;
		}
		const DNS_entry *e;
		for (e = dc.altNames; e != NULL; e = e->next) {
			if (e->type == ASN_DNS_TYPE && e->name != NULL &&
			    e->len > 0 &&
			    x509_host_match(e->name, (size_t)e->len,
			                    hosts[i])) {
				found = (int)i;
				break;
			}
		}
	}
	if (found < 0)
		explain_names(&dc, use_cn, hosts, n, why, whylen);
	wc_FreeDecodedCert(&dc);
	return found;
}

/* Writes one name of a parsed certificate, escaped, into out. */
static bool name_text(WOLFSSL_X509_NAME *name, char *out, size_t outlen)
{
	char raw[1024];
	if (name == NULL ||
	    wolfSSL_X509_NAME_oneline(name, raw, (int)sizeof raw) == NULL)
		return false;
	escape_text(raw, strnlen(raw, sizeof raw), out, outlen);
	return true;
}

/* The subject and issuer of a certificate, for reports. */
bool x509_names(const struct tls_cert *cert, char *subject, size_t slen,
                char *issuer, size_t ilen)
{
	if (slen > 0)
		subject[0] = '\0';
	if (ilen > 0)
		issuer[0] = '\0';
	WOLFSSL_X509 *x = parse(cert);
	if (x == NULL)
		return false;
	bool ok = name_text(wolfSSL_X509_get_subject_name(x), subject, slen) &&
	          name_text(wolfSSL_X509_get_issuer_name(x), issuer, ilen);
	wolfSSL_X509_free(x);
	return ok;
}
