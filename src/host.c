/*
 * host: resolve one MX host and decide what TLS it must give.
 *
 * The A, AAAA and (when DANE may apply) TLSA lookups go out together, so
 * DANE costs no extra round trip in the common case.  The decision follows
 * RFC 7672 2.2:
 *   - DANE applies only when the MX RRset is DNSSEC-secure, and it is
 *     decided per address family (as Postfix does): a family whose
 *     address records are secure keeps DANE even when the other's are
 *     insecure, whose addresses then go without it;
 *   - when the address lookup followed a secure CNAME, the TLSA records of
 *     the expanded name are tried first, then those of the MX host name
 *     (2.2.2), and the name whose records are used is the TLSA base domain;
 *   - when the addresses are insecure because a CNAME led out of the
 *     signed zone, the MX host name's own TLSA records still apply (2.2.2:
 *     an insecure target cannot strip them); a secure TLSA RRset there,
 *     at the name the TLSA lookup asked, shows that name is signed; a
 *     CNAME at the MX host name that is itself insecure (validated link
 *     by link, dns.c) shows it is not, and then there is no DANE;
 *   - secure TLSA records make STARTTLS mandatory (authenticated when some
 *     record is usable); a secure denial or an insecure answer means no
 *     DANE; a bogus answer or a failed lookup in a signed zone makes the
 *     host unusable, never "no DANE".
 * policy.c then maps that and the TLS level to what a session needs.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dnscache.h"
#include "host.h"
#include "mxlist.h"

/* Most addresses taken per family (Postfix takes 5 in all). */
#define ADDRS_PER_FAMILY 8

/* Address families, in lookup order. */
enum { FAM6, FAM4, FAM_LAST };

/* What one TLSA lookup said, for DANE's purposes. */
enum tlsa_kind {
	TLSA_PENDING, /* not answered (or not asked) */
	TLSA_NONE,    /* no DANE: secure denial, or an insecure answer */
	TLSA_RECORDS, /* DNSSEC-secure records (usable or not) */
	TLSA_FAIL     /* bogus, unvalidated, or a failed lookup */
};

/* One TLSA lookup: at the MX host name, or at its CNAME-expanded name. */
struct tlsa_lookup {
	struct host *host;
	char qname[300];           /* _PORT._tcp.NAME */
	char base[256];            /* NAME: the TLSA base domain if used */
	struct dnscache_req *query; /* while outstanding */
	bool asked;
	enum tlsa_kind kind;
	struct dane_tlsa *recs;    /* TLSA_RECORDS: our copy */
	size_t nrecs;
	char error[128];           /* TLSA_FAIL: why */
};

/* One address family's lookup. */
struct addr_lookup {
	struct host *host;
	enum dns_type type;
	struct dnscache_req *query; /* while outstanding */
	bool answered;
	enum dns_result result;
	enum dnssec_status dnssec;
	char error[96];
	struct sockaddr_storage found[ADDRS_PER_FAMILY];
	size_t nfound;
	/* The MX host name's own CNAME RRset is (exactly) insecure: the
	 * name is in an unsigned zone, like any insecure host. */
	bool name_unsigned;
};

struct host {
	struct host_params p;
	char name[256];
	struct addr_lookup addr[FAM_LAST];
	char canonical[256];       /* owner of the addresses after CNAMEs */
	struct tlsa_lookup tlsa[2]; /* [0] the host name, [1] the CNAME target */
	bool dane_possible;        /* TLS level and MX security allow DANE */
	bool ready;                /* decided */
	struct sockaddr_storage addrs[FAM_LAST * ADDRS_PER_FAMILY];
	size_t naddrs;
	struct host_tls tls[FAM_LAST]; /* the decision, per address family */
	bool usable[FAM_LAST];     /* the family's addresses may be tried */
	char failure[700];         /* why the host failed, "" if it did not */
	enum mxc_failure kind;     /* and what kind of failure that was */
	bool dane_failed;
	bool no_address;
};

static void decide(struct host *h);

/* Logs a line about the host's delivery. */
#define hlog(h, level, ...) \
	config_log((h)->p.config, &(struct logctx){ (h)->p.delivery_id, 0 }, \
	           (level), __VA_ARGS__)

/* Records why the host failed, and its kind; the first reason stays. */
static void vfail(struct host *h, enum mxc_failure kind, bool dane,
                  const char *fmt, va_list ap)
{
	if (h->failure[0] != '\0')
		return;
	vsnprintf(h->failure, sizeof h->failure, fmt, ap);
	h->kind = kind;
	h->dane_failed = dane;
}

/* A failure found here, in the DNS, of a known kind. */
static void fail_kind(struct host *h, enum mxc_failure kind, bool dane,
                      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void fail_kind(struct host *h, enum mxc_failure kind, bool dane,
                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(h, kind, dane, fmt, ap);
	va_end(ap);
}

/* Records why the host failed (its connections: the delivery keeps their
 * kinds); the first reason stays. */
void host_fail(struct host *h, bool dane, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail(h, dane ? MXC_FAILURE_DANE : MXC_FAILURE_CONNECT, dane, fmt, ap);
	va_end(ap);
}

/* Classifies a TLSA answer (the host's address records being secure). */
static void take_tlsa(struct tlsa_lookup *t, const struct dns_answer *a)
{
	t->query = NULL;
	if (a->result == DNS_FAIL) {
		t->kind = TLSA_FAIL;
		snprintf(t->error, sizeof t->error, "%s", a->error);
		return;
	}
	if (a->dnssec == DNSSEC_INSECURE) {
		t->kind = TLSA_NONE; /* provably unsigned: no DANE */
		return;
	}
	if (a->dnssec != DNSSEC_SECURE) {
		/* Indeterminate is not insecure: it could hide records. */
		t->kind = TLSA_FAIL;
		snprintf(t->error, sizeof t->error, "answer not validated (%s)",
		         dnssec_status_name(a->dnssec));
		return;
	}
	if (a->result != DNS_FOUND) {
		t->kind = TLSA_NONE; /* secure proof that none exist */
		return;
	}
	struct dane_tlsa recs[DANE_TLSA_MAX];
	if (a->count > DANE_TLSA_MAX) {
		t->kind = TLSA_FAIL;
		snprintf(t->error, sizeof t->error, "%zu TLSA records, more than "
		         "the %d accepted", a->count, DANE_TLSA_MAX);
		return;
	}
	for (size_t i = 0; i < a->count; i++)
		recs[i] = (struct dane_tlsa){ a->tlsa[i].usage, a->tlsa[i].selector,
		                              a->tlsa[i].mtype, a->tlsa[i].len,
		                              a->tlsa[i].data };
	t->recs = dane_tlsa_dup(recs, a->count);
	if (t->recs == NULL) {
		t->kind = TLSA_FAIL;
		snprintf(t->error, sizeof t->error, "out of memory");
		return;
	}
	t->nrecs = a->count;
	t->kind = TLSA_RECORDS;
}

/* A TLSA answer arrived. */
static void on_tlsa(void *arg, const struct dns_answer *a)
{
	struct tlsa_lookup *t = arg;
	take_tlsa(t, a);
	decide(t->host);
}

/* Sends a TLSA lookup for `name`. */
static void ask_tlsa(struct host *h, struct tlsa_lookup *t, const char *name)
{
	t->host = h;
	t->asked = true;
	snprintf(t->base, sizeof t->base, "%s", name);
	snprintf(t->qname, sizeof t->qname, "_%u._tcp.%s", h->p.config->port,
	         name);
	t->query = dnscache_lookup(h->p.config->dnscache, t->qname, DNS_TLSA,
	                           on_tlsa, t);
	if (t->query == NULL) {
		t->kind = TLSA_FAIL;
		snprintf(t->error, sizeof t->error, "cannot start the lookup");
	}
}

/* An address answer arrived. */
static void on_addr(void *arg, const struct dns_answer *a)
{
	struct addr_lookup *l = arg;
	struct host *h = l->host;
	l->query = NULL;
	l->answered = true;
	l->result = a->result;
	l->dnssec = a->dnssec;
	snprintf(l->error, sizeof l->error, "%s", a->error);
	for (size_t i = 0; i < a->count && l->nfound < ADDRS_PER_FAMILY; i++)
		l->found[l->nfound++] = a->addr[i];
	l->name_unsigned = a->cname_count > 0 && a->links_exact &&
	                   a->cname[0].dnssec == DNSSEC_INSECURE;
	if (a->result == DNS_FOUND && h->canonical[0] == '\0')
		snprintf(h->canonical, sizeof h->canonical, "%s", a->canonical);
	decide(h);
}

/* Whether a family's address records are DNSSEC-secure. */
static bool family_secure(const struct host *h, int f)
{
	return h->addr[f].result != DNS_FAIL &&
	       h->addr[f].dnssec == DNSSEC_SECURE;
}

/* The address lookup followed a CNAME to another name. */
static bool is_cname(const struct host *h)
{
	return h->canonical[0] != '\0' && strcmp(h->canonical, h->name) != 0;
}

/*
 * Picks the TLSA answer that decides (RFC 7672 2.2.2): the expanded name's
 * when it has records or failed, else the MX host name's.  NULL while a
 * needed answer is still out.
 */
static const struct tlsa_lookup *deciding_tlsa(struct host *h)
{
	struct tlsa_lookup *named = &h->tlsa[0], *expanded = &h->tlsa[1];
	bool cname = is_cname(h);
	if (cname && !expanded->asked)
		ask_tlsa(h, expanded, h->canonical);
	if (cname) {
		if (expanded->kind == TLSA_PENDING)
			return NULL;
		if (expanded->kind != TLSA_NONE)
			return expanded;
	}
	return named->kind == TLSA_PENDING ? NULL : named;
}

/* Describes one TLSA answer for the decision's log line. */
static void describe_tlsa(const struct tlsa_lookup *t, char *out, size_t len)
{
	char recs[DANE_TLSA_MAX * DANE_DESCRIBE_MAX] = "";
	size_t used = 0;
	out[0] = '\0';
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrecs; i++) {
		char one[DANE_DESCRIBE_MAX];
		dane_tlsa_describe(&t->recs[i], one, sizeof one);
		used += (size_t)snprintf(recs + used, sizeof recs - used, "%s%s%s",
		                         i ? ", " : "", one,
		                         dane_tlsa_usable(&t->recs[i]) ? ""
		                                                       : " (unusable)");
		if (used >= sizeof recs)
			break;
	}
	if (t->kind == TLSA_RECORDS)
		snprintf(out, len, "; TLSA %s (secure): %s", t->qname, recs);
	else
		snprintf(out, len, "; TLSA %s: %s", t->qname,
		         t->kind == TLSA_NONE ? "none" : t->error);
}

/* Logs the host's DNS and TLS decision in one line. */
static void log_decision(struct host *h, const struct tlsa_lookup *t,
                         const char *what)
{
	char tlsa[DANE_TLSA_MAX * DANE_DESCRIBE_MAX + 400];
	describe_tlsa(t, tlsa, sizeof tlsa);
	hlog(h, MXC_LOG_INFO, "MX %u %s: AAAA %s, A %s%s; %s", h->p.pref, h->name,
	     dnssec_status_name(h->addr[FAM6].dnssec),
	     dnssec_status_name(h->addr[FAM4].dnssec), tlsa, what);
}

/* Collects the addresses of the usable families once both answered. */
static void collect_addresses(struct host *h)
{
	const struct addr_lookup *six = &h->addr[FAM6], *four = &h->addr[FAM4];
	h->naddrs = mxlist_interleave(six->found,
	                              h->usable[FAM6] ? six->nfound : 0,
	                              four->found,
	                              h->usable[FAM4] ? four->nfound : 0,
	                              h->addrs);
	if (h->naddrs > 0)
		return;
	for (int f = 0; f < FAM_LAST; f++)
		if (h->addr[f].result == DNS_FAIL) {
			fail_kind(h, MXC_FAILURE_DNS, false,
			          "cannot resolve %s (%s): %s", h->name,
			          f == FAM6 ? "AAAA" : "A", h->addr[f].error);
			return;
		}
	h->no_address = true;
	fail_kind(h, MXC_FAILURE_NO_ADDRESS, false,
	          "%s has no address records", h->name);
}

/*
 * Applies the policy decision of one family whose DNS said `dns` (TLSA
 * answer `t` when one counts) and records the refusal as the host's
 * failure: a TLSA failure or dane-only refusal by TLSA fails the host at
 * once, a dane-only refusal without DANE only when no family is left
 * (`last`).  Returns the phrase for the decision's log line.
 */
static const char *apply_policy(struct host *h, enum policy_dns dns,
                                const struct tlsa_lookup *t,
                                struct host_tls *tls, bool last,
                                bool *usable)
{
	struct policy_decision pd;
	policy_decide(h->p.config->tls_level, dns, t != NULL ? t->recs : NULL,
	              t != NULL ? t->nrecs : 0, &pd);
	tls->need = pd.need;
	tls->tlsa_present = pd.tlsa_present;
	if (pd.tlsa_present) {
		tls->base = t->base;
		if (pd.need == POLICY_TLS_DANE) {
			tls->tlsa = t->recs;
			tls->ntlsa = t->nrecs;
		}
	}
	*usable = pd.refusal == POLICY_OK;
	switch (pd.refusal) {
	case POLICY_OK:
		break;
	case POLICY_REFUSE_NO_DANE:
		if (last)
			fail_kind(h, MXC_FAILURE_DANE_REQUIRED, true,
			          "%s: no DANE (%s): level dane-only",
			          h->name, !h->p.mx_secure
			                       ? "MX records not DNSSEC-secure"
			                       : "address records not DNSSEC-secure");
		break;
	case POLICY_REFUSE_TLSA_FAIL:
		fail_kind(h, MXC_FAILURE_DNSSEC, true,
		          "%s: TLSA lookup for %s failed: %s", h->name,
		          t->qname, t->error);
		break;
	case POLICY_REFUSE_NO_TLSA:
		fail_kind(h, MXC_FAILURE_DANE_REQUIRED, true,
		          "%s: no TLSA records at %s: level dane-only",
		          h->name, t->qname);
		break;
	case POLICY_REFUSE_UNUSABLE:
		fail_kind(h, MXC_FAILURE_TLSA_INVALID, true,
		          "%s: every TLSA record at %s is unusable: "
		          "level dane-only", h->name, t->qname);
		break;
	}
	return pd.what;
}

/* What DNS said for DANE's purposes, given the deciding TLSA answer. */
static enum policy_dns dns_evidence(const struct tlsa_lookup *t)
{
	switch (t->kind) {
	case TLSA_RECORDS:
		return POLICY_DNS_TLSA_RECORDS;
	case TLSA_FAIL:
		return POLICY_DNS_TLSA_FAIL;
	case TLSA_NONE:
	case TLSA_PENDING:
		break;
	}
	return POLICY_DNS_TLSA_NONE;
}

/*
 * Decides, once everything needed has answered, what TLS the host must
 * give, per address family; then tells the delivery.  Called after every
 * answer.
 */
static void decide(struct host *h)
{
	if (h->ready || !h->addr[FAM6].answered || !h->addr[FAM4].answered)
		return;
	/* Which TLSA answer each family goes by: secure address records
	 * go by deciding_tlsa(); insecure ones behind a CNAME by the MX host
	 * name's own records, unless that name is itself shown unsigned (its
	 * TLSA answer can then only be insecure or failed, and a failure is
	 * no reason to give up the host); the rest by none. */
	const struct tlsa_lookup *by[FAM_LAST] = { NULL, NULL };
	for (int f = 0; f < FAM_LAST && h->dane_possible; f++) {
		if (h->addr[f].result == DNS_FAIL || h->addr[f].nfound == 0)
			continue;
		if (family_secure(h, f))
			by[f] = deciding_tlsa(h);
		else if (is_cname(h) &&
		         h->addr[f].dnssec == DNSSEC_INSECURE &&
		         !h->addr[f].name_unsigned)
			by[f] = h->tlsa[0].kind == TLSA_PENDING ? NULL
			                                       : &h->tlsa[0];
		else
			continue;
		if (by[f] == NULL)
			return; /* a TLSA answer is still out */
	}
	const char *what[FAM_LAST];
	int nodane = 0; /* families going without DANE */
	for (int f = 0; f < FAM_LAST; f++) {
		h->tls[f].base = "";
		if (by[f] != NULL)
			what[f] = apply_policy(h, dns_evidence(by[f]), by[f],
			                       &h->tls[f], false, &h->usable[f]);
		else
			nodane++;
	}
	for (int f = 0; f < FAM_LAST; f++)
		if (by[f] == NULL)
			what[f] = apply_policy(h, h->p.mx_secure
			                              ? POLICY_DNS_NO_DANE_ADDR
			                              : POLICY_DNS_NO_DANE_MX,
			                       NULL, &h->tls[f],
			                       nodane == FAM_LAST ||
			                           h->addr[!f].nfound == 0,
			                       &h->usable[f]);
	h->ready = true;
	if (h->failure[0] == '\0')
		collect_addresses(h);
	/* One line: a family with DANE first, both when they differ. */
	int f = by[FAM6] != NULL || by[FAM4] == NULL ? FAM6 : FAM4;
	char line[300];
	if (strcmp(what[FAM6], what[FAM4]) == 0 || h->addr[!f].nfound == 0)
		snprintf(line, sizeof line, "%s", what[f]);
	else
		snprintf(line, sizeof line, "%s: %s; %s: %s",
		         f == FAM6 ? "IPv6" : "IPv4", what[f],
		         f == FAM6 ? "IPv4" : "IPv6", what[!f]);
	log_decision(h, by[f] != NULL ? by[f] : by[!f], line);
	h->p.ready(h->p.arg, h); /* last: the delivery may act on it */
}

/*
 * A recipient's address literal ("[192.0.2.1]", "[IPv6:2001:db8::1]",
 * checked by address.c) stands for its one address: both families are
 * answered at once, insecure (no DNS, so no DANE), and the host decides
 * now.  False if `name` is no literal.
 */
static bool take_literal(struct host *h, const char *name)
{
	size_t len = strlen(name);
	char inner[INET6_ADDRSTRLEN + 8];
	if (len < 3 || name[0] != '[' || len - 2 >= sizeof inner)
		return false;
	memcpy(inner, name + 1, len - 2);
	inner[len - 2] = '\0';
	bool v6 = strncmp(inner, "IPv6:", 5) == 0;
	struct sockaddr_storage ss = { 0 };
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, inner + 5, &s6->sin6_addr) != 1)
			return false;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, inner, &s4->sin_addr) != 1)
			return false;
	}
	for (int f = 0; f < FAM_LAST; f++) {
		struct addr_lookup *l = &h->addr[f];
		l->answered = true;
		l->dnssec = DNSSEC_INSECURE;
		l->result = (f == FAM6) == v6 ? DNS_FOUND : DNS_NODATA;
		if (l->result == DNS_FOUND)
			l->found[l->nfound++] = ss;
	}
	h->dane_possible = false;
	decide(h);
	return true;
}

/* Creates a host and starts its lookups. */
struct host *host_new(const struct host_params *p)
{
	struct host *h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->p = *p;
	snprintf(h->name, sizeof h->name, "%s", p->name);
	if (p->name[0] == '[' && take_literal(h, p->name))
		return h;
	enum mxc_tls_level level = p->config->tls_level;
	h->dane_possible = p->mx_secure && (level == MXC_TLS_DANE ||
	                                    level == MXC_TLS_DANE_ONLY);
	for (int f = 0; f < FAM_LAST; f++) {
		struct addr_lookup *l = &h->addr[f];
		l->host = h;
		l->type = f == FAM6 ? DNS_AAAA : DNS_A;
		l->query = dnscache_lookup(p->config->dnscache, h->name, l->type,
		                           on_addr, l);
		if (l->query == NULL) {
			host_free(h);
			return NULL;
		}
	}
	/* TLSA in parallel with the addresses, so DANE adds no round trip;
	 * the answer counts only if the addresses turn out secure. */
	if (h->dane_possible)
		ask_tlsa(h, &h->tlsa[0], h->name);
	return h;
}

/* Cancels the lookups and frees the host. */
void host_free(struct host *h)
{
	if (h == NULL)
		return;
	for (int f = 0; f < FAM_LAST; f++)
		if (h->addr[f].query != NULL)
			dnscache_cancel(h->addr[f].query);
	for (int i = 0; i < 2; i++) {
		if (h->tlsa[i].query != NULL)
			dnscache_cancel(h->tlsa[i].query);
		dane_tlsa_free(h->tlsa[i].recs);
	}
	free(h);
}

/* The MX host name. */
const char *host_name(const struct host *h)
{
	return h->name;
}

/* Decided. */
bool host_ready(const struct host *h)
{
	return h->ready;
}

/* Addresses to try (none once failed). */
size_t host_addrs(const struct host *h, const struct sockaddr_storage **addrs)
{
	*addrs = h->addrs;
	return h->failure[0] == '\0' ? h->naddrs : 0;
}

/* The TLS requirement of one address's family. */
void host_tls(const struct host *h, const struct sockaddr_storage *addr,
              struct host_tls *tls)
{
	*tls = h->tls[addr->ss_family == AF_INET6 ? FAM6 : FAM4];
}

/* Why it failed. */
const char *host_failure(const struct host *h)
{
	return h->failure;
}

/* What kind of failure it was. */
enum mxc_failure host_failure_kind(const struct host *h)
{
	return h->failure[0] != '\0' ? h->kind : MXC_FAILURE_NONE;
}

/* The DNSSEC status of the address records of one address's family. */
enum dnssec_status host_addr_dnssec(const struct host *h,
                                    const struct sockaddr_storage *addr)
{
	return h->addr[addr->ss_family == AF_INET6 ? FAM6 : FAM4].dnssec;
}

/* The failure was DANE's. */
bool host_dane_failed(const struct host *h)
{
	return h->dane_failed;
}

/* Provably no address. */
bool host_has_no_address(const struct host *h)
{
	return h->no_address;
}
