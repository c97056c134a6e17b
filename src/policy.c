/*
 * policy: the TLS a session must achieve, from the DNS evidence and the
 * level (RFC 7672 2.2), and the guard that holds a session to it.
 *
 * The decision table, per address family of an MX host:
 *   DANE not consulted        by level: encrypt requires TLS, may and dane
 *                             are opportunistic, dane-only refuses;
 *   TLSA failed               the host is unusable (never "no DANE");
 *   TLSA none                 opportunistic (dane-only refuses);
 *   TLSA records, one usable  DANE: STARTTLS mandatory, the peer must match;
 *   TLSA records, none usable TLS mandatory, unauthenticated (dane-only
 *                             refuses).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "x509.h"

/* Decides one address family. */
void policy_decide(enum mxc_tls_level level, enum policy_dns dns,
                   const struct dane_tlsa *recs, size_t nrecs,
                   struct policy_decision *out)
{
	*out = (struct policy_decision){ .need = POLICY_TLS_OPPORTUNISTIC };
	size_t usable = 0;
	switch (dns) {
	case POLICY_DNS_NO_DANE_MX:
	case POLICY_DNS_NO_DANE_ADDR:
	case POLICY_DNS_LAST:
		if (level == MXC_TLS_ENCRYPT) {
			out->need = POLICY_TLS_REQUIRED;
			out->what = "TLS required (encrypt)";
		} else if (level == MXC_TLS_DANE_ONLY) {
			out->refusal = POLICY_REFUSE_NO_DANE;
			out->what = "no DANE: unusable at level dane-only";
		} else {
			out->what = level == MXC_TLS_MAY ? "TLS opportunistic (may)"
			                                 : "no DANE: TLS opportunistic";
		}
		return;
	case POLICY_DNS_TLSA_FAIL:
		out->refusal = POLICY_REFUSE_TLSA_FAIL;
		out->host_refused = true;
		out->what = "unusable: TLSA lookup failed";
		return;
	case POLICY_DNS_TLSA_NONE:
		if (level == MXC_TLS_DANE_ONLY) {
			out->refusal = POLICY_REFUSE_NO_TLSA;
			out->host_refused = true;
			out->what = "no TLSA records: unusable at level dane-only";
		} else {
			out->what = "no TLSA records: TLS opportunistic";
		}
		return;
	case POLICY_DNS_TLSA_RECORDS:
		break;
	}
	for (size_t i = 0; i < nrecs; i++)
		usable += dane_tlsa_usable(&recs[i]);
	out->tlsa_present = true;
	if (usable > 0) {
		out->need = POLICY_TLS_DANE;
		out->what = "DANE: STARTTLS required, peer must match";
		return;
	}
	/* RFC 7672 2.2: unusable records still make TLS mandatory,
	 * unauthenticated. */
	out->need = POLICY_TLS_REQUIRED;
	if (level == MXC_TLS_DANE_ONLY) {
		out->refusal = POLICY_REFUSE_UNUSABLE;
		out->host_refused = true;
		out->what = "TLSA records all unusable: unusable at level dane-only";
		return;
	}
	out->what = "TLSA records all unusable: TLS required, not authenticated";
}

/* A growing byte string for the digest's input. */
struct ser {
	unsigned char *buf;
	size_t len, cap;
	bool failed; /* out of memory */
};

/* Appends bytes. */
static void ser_put(struct ser *s, const void *p, size_t n)
{
	if (s->failed)
		return;
	if (s->len + n > s->cap) {
		size_t cap = s->cap ? s->cap : 256;
		while (cap < s->len + n)
			cap *= 2;
		unsigned char *b = realloc(s->buf, cap);
		if (b == NULL) {
			s->failed = true;
			return;
		}
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/* Appends a length then the bytes, so no two field lists serialise alike. */
static void ser_field(struct ser *s, const void *p, size_t n)
{
	uint32_t len = (uint32_t)n;
	unsigned char be[4] = { len >> 24, len >> 16 & 0xff, len >> 8 & 0xff,
	                        len & 0xff };
	ser_put(s, be, sizeof be);
	ser_put(s, p, n);
}

/* Computes the digest over every field that makes the policy. */
static bool make_digest(struct policy *p)
{
	struct ser s = { 0 };
	unsigned char flags[2] = { (unsigned char)p->need, p->tlsa_present };
	ser_field(&s, flags, sizeof flags);
	ser_field(&s, p->sni, strlen(p->sni));
	for (size_t i = 0; i < p->ntlsa; i++) {
		const struct dane_tlsa *t = &p->tlsa[i];
		unsigned char head[3] = { t->usage, t->selector, t->mtype };
		ser_field(&s, head, sizeof head);
		ser_field(&s, t->data, t->len);
	}
	for (size_t i = 0; i < p->nnames; i++)
		ser_field(&s, p->names[i], strlen(p->names[i]));
	size_t got = 0;
	char why[64];
	bool ok = !s.failed &&
	          x509_digest(X509_MTYPE_SHA256, s.buf, s.len, p->digest,
	                      sizeof p->digest, &got, why, sizeof why) &&
	          got == sizeof p->digest;
	free(s.buf);
	return ok;
}

/* Adds a reference name unless empty. */
static void add_name(struct policy *p, const char *name)
{
	if (name == NULL || name[0] == '\0' || p->nnames >= POLICY_NAMES_MAX)
		return;
	snprintf(p->name_buf[p->nnames], sizeof p->name_buf[0], "%s", name);
	p->names[p->nnames] = p->name_buf[p->nnames];
	p->nnames++;
}

/* Makes a policy. */
struct policy *policy_new(const struct policy_params *pp)
{
	struct policy *p = calloc(1, sizeof *p);
	if (p == NULL)
		return NULL;
	p->need = pp->need;
	p->tlsa_present = pp->tlsa_present;
	if (pp->need == POLICY_TLS_DANE && pp->ntlsa > 0) {
		p->tlsa = dane_tlsa_dup(pp->tlsa, pp->ntlsa);
		if (p->tlsa == NULL) {
			free(p);
			return NULL;
		}
		p->ntlsa = pp->ntlsa;
	}
	const char *base = pp->base != NULL ? pp->base : "";
	snprintf(p->sni, sizeof p->sni, "%s", base[0] != '\0' ? base : pp->mx);
	if (p->sni[0] == '[') /* an address literal: SNI is for names only
	                        (RFC 6066 3) */
		p->sni[0] = '\0';
	/* RFC 7672 3.2.2: the TLSA base domain and the MX host name, and
	 * behind a secure MX RRset the next-hop domain and its expanded
	 * form too (as Postfix). */
	add_name(p, base);
	add_name(p, pp->mx);
	add_name(p, pp->nexthop);
	add_name(p, pp->nexthop_cname);
	if (!make_digest(p)) {
		policy_free(p);
		return NULL;
	}
	return p;
}

/* Frees a policy. */
void policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	dane_tlsa_free(p->tlsa);
	free(p);
}

/* Same demands. */
bool policy_same(const struct policy *a, const struct policy *b)
{
	return memcmp(a->digest, b->digest, sizeof a->digest) == 0;
}

/* Name of a requirement. */
const char *policy_tls_name(enum policy_tls need)
{
	static const char *const names[POLICY_TLS_LAST] = {
		"opportunistic", "required", "dane", "none",
	};
	_Static_assert(sizeof names / sizeof names[0] == POLICY_TLS_LAST,
	               "a name for every requirement");
	return need < POLICY_TLS_LAST ? names[need] : "?";
}

/* The DANE guard. */
const char *policy_guard(const struct policy *p,
                         const struct policy_tls_state *st)
{
	if (p->need == POLICY_TLS_OPPORTUNISTIC || p->need == POLICY_TLS_NONE)
		return NULL;
	if (!st->encrypted)
		return "TLS is required but the session is not encrypted";
	if (p->need != POLICY_TLS_DANE)
		return NULL;
	if (st->dane_checked)
		return st->authenticated ? NULL : "DANE authentication failed";
	if (st->resumed && st->resumed_digest != NULL &&
	    memcmp(st->resumed_digest, p->digest, sizeof p->digest) == 0)
		return NULL;
	return st->resumed ? "TLS session resumed from one not authenticated "
	                     "under this DANE policy"
	                   : "the peer certificate was never checked against "
	                     "the TLSA records";
}
