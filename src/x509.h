/*
 * x509: the certificate operations DANE needs (RFC 6698, RFC 7671,
 * RFC 7672), on certificates in DER as the TLS layer presents them.  Only
 * x509_wolfssl.c implements it, so the DANE logic above it never sees
 * wolfSSL.  Nothing here keeps state between calls.
 *
 * wolfSSL must be initialised while these are called (wolfSSL_Init(), which
 * tls_ctx_new() does; a test calls it itself).
 *
 * Every function that can fail writes a one-line reason, NUL-terminated and
 * truncated to fit, into the caller's `why` buffer of `whylen` bytes
 * (`why` may be NULL when `whylen` is 0).  No function keeps any pointer it
 * is given; every buffer passed in stays the caller's.
 */
#ifndef MXC_X509_H
#define MXC_X509_H

#include <stdbool.h>
#include <stddef.h>

#include "tls.h"

/* Largest SubjectPublicKeyInfo handled (an RSA 16384-bit key needs ~2.1 KB). */
#define X509_SPKI_MAX 4096

/* Longest digest a TLSA matching type yields (SHA-512). */
#define X509_DIGEST_MAX 64

/* TLSA matching types (RFC 6698 2.1.3) that x509_digest() knows. */
enum x509_mtype {
	X509_MTYPE_FULL = 0,   /* the bytes themselves */
	X509_MTYPE_SHA256 = 1, /* SHA2-256 */
	X509_MTYPE_SHA512 = 2  /* SHA2-512 */
};

/*
 * Writes the DER SubjectPublicKeyInfo of `cert` (TLSA selector 1) into
 * `out`, which has `room` bytes, and its length into *outlen.  False (with
 * why) if the certificate does not parse or the key does not fit.
 */
bool x509_spki(const struct tls_cert *cert, unsigned char *out, size_t room,
               size_t *outlen, char *why, size_t whylen);

/*
 * The association data of matching type `mtype` for `len` bytes at `in`:
 * FULL copies them, SHA256 and SHA512 hash them.  Writes into `out` (`room`
 * bytes) and the length into *outlen.  False (with why) for an unknown
 * matching type, or when the result does not fit.
 */
bool x509_digest(unsigned mtype, const unsigned char *in, size_t len,
                 unsigned char *out, size_t room, size_t *outlen, char *why,
                 size_t whylen);

/*
 * Whether the chain verifies from the leaf up to chain->certs[k], taken as
 * the trust anchor: every certificate at depth 0..k is within its validity
 * dates (the anchor included, as OpenSSL does), each certificate at depth
 * i < k is signed by the one at depth i + 1 (the presented order, nothing
 * reordered or skipped), every issuer (depth 1..k) is a CA, no CA's
 * pathLenConstraint (the anchor's included) is exceeded by the CAs below
 * it, and every DNS name below a CA with name constraints satisfies them
 * (DNS names only: dNSName entries, and a leaf's host-like CN when it has
 * none; other name forms are not constrained here).  k == 0
 * checks only the leaf's dates.  Each call uses its own wolfSSL certificate
 * manager, freed before it returns.  False (with why, naming the depth) if
 * not, or if k is not below chain->count.
 */
bool x509_chain_verify(const struct tls_chain *chain, size_t k, char *why,
                       size_t whylen);

/*
 * Whether `cert` carries a signature made by the bare public key `spki`
 * (`len` bytes of DER SubjectPublicKeyInfo, e.g. the data of a "2 1 0"
 * TLSA record).  The signature only: dates are x509_chain_verify()'s.
 * RSA and ECDSA keys; any other key type never verifies.
 */
bool x509_signed_by_key(const struct tls_cert *cert, const unsigned char *spki,
                        size_t len, char *why, size_t whylen);

/*
 * Which of the `n` host names in `hosts` (NUL-terminated strings) the leaf
 * certificate names: its subjectAltName dNSName entries, or its subject
 * CommonName only when it has no dNSName entry (RFC 6125 6.4.4).  Returns
 * the index of the first host named, or -1 (with why) if none is or the
 * certificate does not parse.  Matching is x509_host_match().
 */
int x509_leaf_names(const struct tls_cert *leaf, const char *const *hosts,
                    size_t n, char *why, size_t whylen);

/*
 * Whether the name `pattern` (`len` bytes, from a certificate) names `host`
 * (NUL-terminated): ASCII case-insensitive, one trailing dot ignored on
 * either side.  A wildcard is accepted only as the whole leftmost label
 * ("*.example.net"), matches exactly one non-empty label, and only above at
 * least two labels ("*.net" matches nothing).  A pattern with any other '*'
 * or a NUL byte matches nothing.  Pure.
 */
bool x509_host_match(const char *pattern, size_t len, const char *host);

/*
 * The subject and issuer names of `cert`, one line each in the
 * "/C=../O=../CN=.." form of X509_NAME_oneline(), escaped as log lines are,
 * written into `subject` (`slen` bytes) and `issuer` (`ilen`).  False (both
 * "") when the certificate does not parse.
 */
bool x509_names(const struct tls_cert *cert, char *subject, size_t slen,
                char *issuer, size_t ilen);

#endif
