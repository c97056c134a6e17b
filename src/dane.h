/*
 * dane: TLSA record usability and DANE authentication of an SMTP server's
 * certificate chain (RFC 6698, RFC 7671, RFC 7672).  Pure logic on records
 * and a presented chain: no I/O, no wolfSSL (the certificate work is
 * x509.h's, and wolfSSL allocates inside it), no allocation of its own
 * while checking.
 */
#ifndef MXC_DANE_H
#define MXC_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tls.h"

/*
 * Most TLSA records dane_check() takes; a larger set fails closed.  As
 * many as dns.c takes from one answer (a larger RRset fails the lookup
 * there), so a signed RRset that had to come over TCP is used whole.
 */
#define DANE_TLSA_MAX 100

/* Room for a dane_result's reason, and for dane_tlsa_describe(). */
#define DANE_WHY_MAX 256
#define DANE_DESCRIBE_MAX 48

/* Certificate usages (RFC 6698 2.1.1, RFC 7218 names). */
enum dane_usage {
	DANE_USAGE_PKIX_TA = 0, /* unusable with SMTP (RFC 7672 3.1.3) */
	DANE_USAGE_PKIX_EE = 1, /* unusable with SMTP (RFC 7672 3.1.3) */
	DANE_USAGE_DANE_TA = 2, /* a trust anchor of the chain */
	DANE_USAGE_DANE_EE = 3  /* the server's own certificate or key */
};

/* Selectors (RFC 6698 2.1.2). */
enum dane_selector {
	DANE_SELECTOR_CERT = 0, /* the whole certificate */
	DANE_SELECTOR_SPKI = 1  /* its SubjectPublicKeyInfo */
};

/* Matching types (RFC 6698 2.1.3). */
enum dane_mtype {
	DANE_MTYPE_FULL = 0,   /* the selected bytes themselves */
	DANE_MTYPE_SHA256 = 1, /* their SHA2-256, 32 bytes */
	DANE_MTYPE_SHA512 = 2  /* their SHA2-512, 64 bytes */
};

/*
 * One TLSA record.  Whoever fills one owns `data`: a record from the DNS
 * layer points into its answer, which dies after the callback, so a
 * delivery keeps a copy made by dane_tlsa_dup().
 */
struct dane_tlsa {
	uint8_t usage;             /* enum dane_usage, or an unknown value */
	uint8_t selector;          /* enum dane_selector, or unknown */
	uint8_t mtype;             /* enum dane_mtype, or unknown */
	size_t len;                /* bytes at data */
	const unsigned char *data; /* certificate association data */
};

/*
 * Copies `n` records (n may be 0) into one allocation holding the records
 * and their data; the copies' `data` point into it.  Free it with
 * dane_tlsa_free().  NULL when out of memory or n is too large.
 */
struct dane_tlsa *dane_tlsa_dup(const struct dane_tlsa *recs, size_t n);

/* Frees what dane_tlsa_dup() returned (NULL is fine). */
void dane_tlsa_free(struct dane_tlsa *copy);

/*
 * Why a record is unusable for SMTP (RFC 7672 3.1.3, RFC 6698 2.1): a PKIX
 * usage, an unknown usage, selector or matching type, empty data, or a
 * digest whose length is wrong for its type.  NULL when it is usable.  The
 * string is static.
 */
const char *dane_tlsa_unusable(const struct dane_tlsa *rec);

/* Whether a record is usable for SMTP: dane_tlsa_unusable() is NULL. */
bool dane_tlsa_usable(const struct dane_tlsa *rec);

/*
 * Describes a record for logs as "3 1 1 a1b2c3d4e5f6...0a0b": the three
 * fields and the data in hex, shortened in the middle when longer than 8
 * bytes.  Writes at most `len` bytes including the NUL (DANE_DESCRIBE_MAX
 * is enough for the whole line).  Returns `buf`.
 */
char *dane_tlsa_describe(const struct dane_tlsa *rec, char *buf, size_t len);

/* What dane_check() concluded. */
struct dane_result {
	bool authenticated; /* a usable record matched and every check passed */
	size_t usable;      /* usable records among those given; 0 means DANE
	                       does not apply (RFC 7672 2.2: TLS still
	                       mandatory, but not authenticated) */
	int record;         /* index of the record that authenticated the chain,
	                       -1 if none */
	uint8_t usage;      /* that record's fields (0 when record is -1) */
	uint8_t selector;
	uint8_t mtype;
	int depth;          /* chain depth of the certificate the record
	                       matched: 0 for DANE-EE, >= 1 for DANE-TA; with a
	                       bare key, the depth of the certificate it signs;
	                       -1 if none */
	bool bare_key;      /* the anchor was not in the chain: a "2 1 0"
	                       public key or a "2 0 0" certificate that
	                       signed chain[depth] */
	int name;           /* DANE-TA: index in names[] of the name the leaf
	                       carries; -1 for DANE-EE (names not checked) */
	/* One line: what matched, or why nothing did, e.g. "no TLSA record
	 * matched the chain (2 usable)" or "DANE-TA (2 0 1
	 * 2663f66bab9f...0e58): chain does not verify: certificate at depth
	 * 0 has expired".  Names taken from certificates are escaped. */
	char why[DANE_WHY_MAX];
};

/*
 * Decides whether `chain` (leaf first, as presented) is authenticated by
 * any of the `nrecs` TLSA records (at most DANE_TLSA_MAX; more fail closed),
 * the reference names being `names[0..nnames-1]` (NUL-terminated; for SMTP
 * the TLSA base domain, the MX host name and behind a secure MX RRset the
 * next-hop domain, RFC 7672 3.2.2).  Unusable
 * records are skipped, and so are records whose matching type is weaker
 * than another usable record's of the same usage and selector (digest
 * agility, RFC 7671 9: SHA2-512 over SHA2-256 over Full).  Records are
 * tried in order; the first that authenticates wins.
 *   DANE-EE(3): the leaf (selector 0) or its key (selector 1) matches;
 *     names and dates are ignored (RFC 7672 3.1.1).
 *   DANE-TA(2): a certificate at depth >= 1, or its key, matches; the chain
 *     from the leaf up to it verifies (signatures in presented order,
 *     validity dates of every certificate including the anchor, CA flags)
 *     and the leaf names one of the reference names.  A TA record never
 *     matches the leaf itself (as in OpenSSL's DANE code).  A "2 1 0"
 *     record whose key is in no certificate at depth >= 1 is tried as a
 *     bare trust-anchor key (RFC 7671 5.2.2): it must sign some chain[j]
 *     (j = 0 included, so a self-signed leaf carrying that key passes),
 *     and chain[0..j] must verify up to chain[j] as above.  Likewise a
 *     "2 0 0" record whose certificate is not in the chain is the anchor
 *     above the first chain[j] it signed: chain[0..j] plus that
 *     certificate must verify (its dates and CA flag included).
 *     Verification also enforces RFC 5280 path length constraints of
 *     every CA from the anchor down, and DNS name constraints.
 * Nothing given is kept.  Work is bounded by DANE_TLSA_MAX records times
 * TLS_CHAIN_MAX certificates.
 */
void dane_check(const struct dane_tlsa *recs, size_t nrecs,
                const struct tls_chain *chain, const char *const *names,
                size_t nnames, struct dane_result *res);

#endif
