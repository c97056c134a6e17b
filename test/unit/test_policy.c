/*
 * test_policy: the TLS policy table (RFC 7672 2.2) by level and DNS
 * evidence, the policy digest (same demands, same digest; any difference,
 * another), and the DANE guard.
 */
#include <string.h>

#include "check.h"
#include "policy.h"

static const unsigned char sha[32] = { 1, 2, 3 };
static const struct dane_tlsa usable[] = {
	{ DANE_USAGE_DANE_EE, DANE_SELECTOR_SPKI, DANE_MTYPE_SHA256, 32, sha },
};
static const struct dane_tlsa unusable[] = {
	{ DANE_USAGE_PKIX_EE, DANE_SELECTOR_SPKI, DANE_MTYPE_SHA256, 32, sha },
};

/* One row: level and evidence in, decision out. */
struct row {
	enum mxc_tls_level level;
	enum policy_dns dns;
	const struct dane_tlsa *recs;
	enum policy_tls need;
	bool tlsa_present;
	enum policy_refusal refusal;
	bool host_refused;
};

#define O POLICY_TLS_OPPORTUNISTIC
#define R POLICY_TLS_REQUIRED
#define D POLICY_TLS_DANE

static const struct row rows[] = {
	/* DANE not consulted: by level. */
	{ MXC_TLS_DANE, POLICY_DNS_NO_DANE_MX, NULL, O, false, POLICY_OK, false },
	{ MXC_TLS_DANE, POLICY_DNS_NO_DANE_ADDR, NULL, O, false, POLICY_OK, false },
	{ MXC_TLS_MAY, POLICY_DNS_NO_DANE_MX, NULL, O, false, POLICY_OK, false },
	{ MXC_TLS_ENCRYPT, POLICY_DNS_NO_DANE_MX, NULL, R, false, POLICY_OK, false },
	{ MXC_TLS_DANE_ONLY, POLICY_DNS_NO_DANE_MX, NULL, O, false,
	  POLICY_REFUSE_NO_DANE, false },
	{ MXC_TLS_DANE_ONLY, POLICY_DNS_NO_DANE_ADDR, NULL, O, false,
	  POLICY_REFUSE_NO_DANE, false },
	/* A failed TLSA lookup is never "no DANE". */
	{ MXC_TLS_DANE, POLICY_DNS_TLSA_FAIL, NULL, O, false,
	  POLICY_REFUSE_TLSA_FAIL, true },
	{ MXC_TLS_DANE_ONLY, POLICY_DNS_TLSA_FAIL, NULL, O, false,
	  POLICY_REFUSE_TLSA_FAIL, true },
	/* No records: opportunistic, refused at dane-only. */
	{ MXC_TLS_DANE, POLICY_DNS_TLSA_NONE, NULL, O, false, POLICY_OK, false },
	{ MXC_TLS_DANE_ONLY, POLICY_DNS_TLSA_NONE, NULL, O, false,
	  POLICY_REFUSE_NO_TLSA, true },
	/* Records: a usable one makes DANE; none usable, TLS mandatory. */
	{ MXC_TLS_DANE, POLICY_DNS_TLSA_RECORDS, usable, D, true, POLICY_OK, false },
	{ MXC_TLS_DANE_ONLY, POLICY_DNS_TLSA_RECORDS, usable, D, true, POLICY_OK,
	  false },
	{ MXC_TLS_DANE, POLICY_DNS_TLSA_RECORDS, unusable, R, true, POLICY_OK,
	  false },
	{ MXC_TLS_DANE_ONLY, POLICY_DNS_TLSA_RECORDS, unusable, R, true,
	  POLICY_REFUSE_UNUSABLE, true },
};

/* Walks the decision table. */
static void test_decide(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		struct policy_decision pd;
		policy_decide(r->level, r->dns, r->recs, r->recs ? 1 : 0, &pd);
		CHECK(pd.need == r->need, "row %zu: need %d, want %d", i,
		      (int)pd.need, (int)r->need);
		CHECK(pd.tlsa_present == r->tlsa_present, "row %zu: tlsa_present",
		      i);
		CHECK(pd.refusal == r->refusal, "row %zu: refusal %d, want %d", i,
		      (int)pd.refusal, (int)r->refusal);
		CHECK(pd.host_refused == r->host_refused, "row %zu: host_refused",
		      i);
		CHECK(pd.what != NULL && pd.what[0] != '\0', "row %zu: what", i);
	}
}

/* A DANE policy for mx.example behind a secure MX of example. */
static struct policy *dane_policy(const struct dane_tlsa *recs, size_t n,
                                  const char *base, const char *nexthop)
{
	struct policy_params pp = {
		.need = POLICY_TLS_DANE, .tlsa_present = true, .tlsa = recs,
		.ntlsa = n, .base = base, .mx = "mx.example",
		.nexthop = nexthop, .nexthop_cname = "",
	};
	return policy_new(&pp);
}

/* The object: SNI, names, owned records, and the digest. */
static void test_object(void)
{
	unsigned char other_sha[32] = { 9 };
	struct dane_tlsa other[] = {
		{ DANE_USAGE_DANE_EE, DANE_SELECTOR_SPKI, DANE_MTYPE_SHA256, 32,
		  other_sha },
	};
	struct policy *a = dane_policy(usable, 1, "mx.example", "example");
	struct policy *b = dane_policy(usable, 1, "mx.example", "example");
	struct policy *c = dane_policy(other, 1, "mx.example", "example");
	struct policy *d = dane_policy(usable, 1, "mx.example", "example.net");
	struct policy *e = dane_policy(usable, 1, "alias.example", "example");
	struct policy_params may = { .need = POLICY_TLS_OPPORTUNISTIC,
	                             .base = "", .mx = "mx.example" };
	struct policy *f = policy_new(&may);
	CHECK(a && b && c && d && e && f, "policy_new");
	if (!(a && b && c && d && e && f))
		return;
	CHECK(strcmp(a->sni, "mx.example") == 0, "SNI is the TLSA base");
	CHECK(strcmp(e->sni, "alias.example") == 0, "SNI follows the base");
	CHECK(strcmp(f->sni, "mx.example") == 0, "SNI without DANE: the MX");
	CHECK(a->nnames == 3 && strcmp(a->names[2], "example") == 0,
	      "reference names: base, MX, next-hop");
	CHECK(f->nnames == 1, "no next-hop names behind an insecure MX");
	CHECK(a->tlsa != usable && a->ntlsa == 1 &&
	      memcmp(a->tlsa[0].data, sha, 32) == 0, "records copied");
	CHECK(policy_same(a, b), "same inputs, same digest");
	CHECK(!policy_same(a, c), "other TLSA data, other digest");
	CHECK(!policy_same(a, d), "other next-hop, other digest");
	CHECK(!policy_same(a, e), "other base, other digest");
	CHECK(!policy_same(a, f), "dane and may never the same");
	/* The records are the policy's own: changing the caller's copy
	 * afterwards changes nothing. */
	struct policy *g = dane_policy(other, 1, "mx.example", "example");
	other_sha[0] = 1;
	other_sha[1] = 2;
	other_sha[2] = 3; /* now equal to sha */
	CHECK(g != NULL && policy_same(c, g) && !policy_same(a, g),
	      "records copied, digest stable");
	policy_free(a);
	policy_free(b);
	policy_free(c);
	policy_free(d);
	policy_free(e);
	policy_free(f);
	policy_free(g);
}

/* The DANE guard on every kind of handshake. */
static void test_guard(void)
{
	struct policy *dane = dane_policy(usable, 1, "mx.example", "example");
	struct policy *dane2 = dane_policy(usable, 1, "mx.example", "example.org");
	struct policy_params rp = { .need = POLICY_TLS_REQUIRED, .base = "",
	                            .mx = "mx.example" };
	struct policy *req = policy_new(&rp);
	struct policy_params op = { .need = POLICY_TLS_OPPORTUNISTIC,
	                            .base = "", .mx = "mx.example" };
	struct policy *opp = policy_new(&op);
	CHECK(dane && dane2 && req && opp, "policy_new");
	if (!(dane && dane2 && req && opp))
		return;
	struct policy_tls_state checked = { .encrypted = true,
	                                    .dane_checked = true,
	                                    .authenticated = true };
	struct policy_tls_state mismatch = { .encrypted = true,
	                                     .dane_checked = true };
	struct policy_tls_state skipped = { .encrypted = true };
	struct policy_tls_state resumed_same = { .encrypted = true,
	                                         .resumed = true,
	                                         .resumed_digest = dane->digest };
	struct policy_tls_state resumed_other = { .encrypted = true,
	                                          .resumed = true,
	                                          .resumed_digest =
	                                              dane2->digest };
	struct policy_tls_state resumed_unknown = { .encrypted = true,
	                                            .resumed = true };
	struct policy_tls_state clear = { 0 };
	CHECK(policy_guard(dane, &checked) == NULL, "matched: allowed");
	CHECK(policy_guard(dane, &mismatch) != NULL, "no match: refused");
	CHECK(policy_guard(dane, &skipped) != NULL,
	      "certificate never checked: refused");
	CHECK(policy_guard(dane, &resumed_same) == NULL,
	      "resumed under the same policy: allowed");
	CHECK(policy_guard(dane, &resumed_other) != NULL,
	      "resumed under another policy: refused");
	CHECK(policy_guard(dane, &resumed_unknown) != NULL,
	      "resumed from an unknown session: refused");
	CHECK(policy_guard(dane, &clear) != NULL, "clear: refused");
	CHECK(policy_guard(req, &skipped) == NULL, "required: any peer");
	CHECK(policy_guard(req, &clear) != NULL, "required: not in clear");
	CHECK(policy_guard(opp, &clear) == NULL, "opportunistic: clear ok");
	policy_free(dane);
	policy_free(dane2);
	policy_free(req);
	policy_free(opp);
}

int main(void)
{
	test_decide();
	test_object();
	test_guard();
	return check_report();
}
