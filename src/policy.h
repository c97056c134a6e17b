/*
 * policy: what TLS a session with one MX address must achieve, decided from
 * the DNS evidence and the configured level alone (RFC 7672 2.2), and kept
 * as one value: the requirement, an owned copy of the TLSA records, the SNI
 * and the DANE reference names.  Its digest says whether two sessions were
 * made under the same demands, so that a connection or a TLS session is
 * only ever reused under the policy it was authenticated for.  MTA-STS and
 * REQUIRETLS will be inputs here too, and so part of the digest.
 */
#ifndef MXC_POLICY_H
#define MXC_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "dane.h"
#include "mxclient.h"

/* What TLS a session must achieve before the envelope is sent. */
enum policy_tls {
	POLICY_TLS_OPPORTUNISTIC, /* STARTTLS when offered, any peer; else clear */
	POLICY_TLS_REQUIRED,      /* STARTTLS mandatory, any peer */
	POLICY_TLS_DANE,          /* STARTTLS mandatory, the peer must match the
	                             TLSA records during the handshake */
	POLICY_TLS_NONE,          /* no STARTTLS: the retry in clear after an
	                             opportunistic handshake failed (Postfix) */
	POLICY_TLS_LAST
};

/* What DANE's lookups said for one address family of one MX host. */
enum policy_dns {
	POLICY_DNS_NO_DANE_MX,   /* DANE not consulted: the MX RRset is not
	                            secure, or the level looks up no TLSA */
	POLICY_DNS_NO_DANE_ADDR, /* the address records are not secure */
	POLICY_DNS_TLSA_NONE,    /* TLSA: a secure denial or an insecure answer */
	POLICY_DNS_TLSA_RECORDS, /* TLSA: secure records, usable or not */
	POLICY_DNS_TLSA_FAIL,    /* TLSA: bogus, not validated, or failed */
	POLICY_DNS_LAST
};

/* Why a family's addresses may not be used. */
enum policy_refusal {
	POLICY_OK,                /* usable */
	POLICY_REFUSE_NO_DANE,    /* dane-only, and DANE was not consulted */
	POLICY_REFUSE_TLSA_FAIL,  /* the TLSA lookup failed: never "no DANE" */
	POLICY_REFUSE_NO_TLSA,    /* dane-only, and no TLSA records */
	POLICY_REFUSE_UNUSABLE    /* dane-only, and every record is unusable */
};

/* One address family's decision. */
struct policy_decision {
	enum policy_tls need;
	bool tlsa_present;          /* secure TLSA records exist: DANE applies
	                               (TLS mandatory even if none is usable) */
	enum policy_refusal refusal;
	/* A TLSA failure refuses the whole host; the other refusals refuse
	 * the family, and the host only when no family is left. */
	bool host_refused;
	const char *what;           /* one phrase for the decision's log line */
};

/*
 * Decides one address family: `dns` is what its lookups said; `recs` are
 * the secure TLSA records (POLICY_DNS_TLSA_RECORDS only).  Pure.
 */
void policy_decide(enum mxc_tls_level level, enum policy_dns dns,
                   const struct dane_tlsa *recs, size_t nrecs,
                   struct policy_decision *out);

/* Reference names at most: TLSA base, MX host, next-hop, its CNAME form. */
#define POLICY_NAMES_MAX 4
/* Bytes of a policy digest (SHA-256). */
#define POLICY_DIGEST_LEN 32

/* What a policy is made of; strings are copied. */
struct policy_params {
	enum policy_tls need;
	bool tlsa_present;
	const struct dane_tlsa *tlsa; /* POLICY_TLS_DANE: the records */
	size_t ntlsa;
	const char *base;             /* TLSA base domain, "" without DANE */
	const char *mx;               /* the MX host name */
	/* Behind a secure MX RRset, the next-hop domain and its
	 * CNAME-expanded form ("" when the same), also reference names for
	 * DANE-TA (RFC 7672 3.2.2); NULL otherwise. */
	const char *nexthop;
	const char *nexthop_cname;
};

/* A session's TLS policy.  Immutable once made. */
struct policy {
	enum policy_tls need;
	bool tlsa_present;
	struct dane_tlsa *tlsa;       /* owned copy (dane_tlsa_dup) */
	size_t ntlsa;
	char sni[256];                /* the TLSA base domain under DANE
	                                 (RFC 7672 8.1), else the MX name */
	char name_buf[POLICY_NAMES_MAX][256];
	const char *names[POLICY_NAMES_MAX]; /* into name_buf, for dane_check */
	size_t nnames;
	unsigned char digest[POLICY_DIGEST_LEN]; /* over every field above */
};

/* Makes a policy.  NULL when memory runs out. */
struct policy *policy_new(const struct policy_params *params);
/* Frees a policy (NULL is fine). */
void policy_free(struct policy *policy);
/* Whether two policies demand exactly the same. */
bool policy_same(const struct policy *a, const struct policy *b);
/* "opportunistic", "required", "dane", "none". */
const char *policy_tls_name(enum policy_tls need);

/* What the TLS handshake of a session established. */
struct policy_tls_state {
	bool encrypted;     /* TLS is up */
	bool dane_checked;  /* this connection's certificate check ran */
	bool authenticated; /* ... and a TLSA record matched */
	bool resumed;       /* the TLS session was resumed ... */
	/* ... from one authenticated under this digest (only when resumed) */
	const unsigned char *resumed_digest;
};

/*
 * The DANE guard: whether a session may carry mail under `policy` after
 * its handshake.  Under POLICY_TLS_DANE the peer must have been matched on
 * this connection, or the TLS session resumed from one that was under the
 * same policy; a handshake that skipped the certificate check never
 * passes.  Pure.  Returns NULL when allowed, else why not.
 */
const char *policy_guard(const struct policy *policy,
                         const struct policy_tls_state *state);

#endif
