/*
 * delivery: the per-recipient state machine.
 *
 *   QUEUED -> MX -> CONNECT <-> SETUP -> TRANSACTION -> DONE
 *                     ^  |                    ^  |
 *                     |  +--------------------+  |  (an idle session
 *                     +-------------------------+   from the pool)
 *
 * MX looks up the domain's MX records (or falls back to the implicit MX)
 * and creates every host at once; each host resolves its addresses and
 * TLSA records and decides what TLS it must give (host.c).  CONNECT races
 * connections (happy eyeballs) over the hosts in preference order, feeding
 * each host's addresses to the race as soon as that host and every better
 * one are decided, unless the pool has an idle session with the best host
 * under the same TLS policy: then TRANSACTION starts on it at once.  SETUP
 * makes a session with the winner under the TLS policy of its address
 * (session.c); TRANSACTION sends the mail on it (smtp.c).  The session then
 * goes to the pool, kept idle or ended there.  A host that fails sends the
 * delivery back to CONNECT with the next host.  DONE reports once, from its
 * own event.
 */
#include <arpa/inet.h>
#include <event2/event.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "address.h"
#include "config.h"
#include "connect.h"
#include "delivery.h"
#include "dnscache.h"
#include "host.h"
#include "message.h"
#include "mxlist.h"
#include "policy.h"
#include "pool.h"
#include "result.h"
#include "session.h"
#include "smtp.h"
#include "tls.h"
#include "transport.h"

/* Connection attempt timeout before scaling, seconds (Postfix: 30). */
#define CONNECT_TIMEOUT 30

/* Most attempts a result lists; later ones are left out. */
#define ATTEMPTS_MAX 64
/* Longest result line kept (with its NUL). */
#define DETAIL_MAX 2048

enum dlv_state {
	DLV_QUEUED,  /* waiting for a slot in the engine */
	DLV_MX,      /* MX lookup out */
	DLV_CONNECT, /* hosts resolving, connections racing */
	DLV_SETUP,   /* a session with one host getting ready */
	DLV_TXN,     /* the mail transaction on it */
	DLV_DONE,    /* result known; completion pending */
	DLV_LAST
};

static const char *const state_names[DLV_LAST] = {
	"QUEUED", "MX", "CONNECT", "SETUP", "TRANSACTION", "DONE",
};
_Static_assert(sizeof state_names / sizeof state_names[0] == DLV_LAST,
               "a name for every delivery state");

/* What the latest session with a host ended with: its setup's failure or
 * its transaction's verdict, and what its TLS was. */
struct report {
	enum verdict verdict;  /* DELIVERED, NEXT_HOST, TEMPFAIL or PERMFAIL */
	enum mxc_failure kind; /* what failed, NONE when delivered */
	enum stage stage;      /* where it ended */
	bool usable;           /* the session can carry another transaction */
	int code;              /* the deciding reply's code, 0 if none */
	char enhanced[12];     /* its enhanced code or "" */
	char reply[1024];      /* the deciding reply, escaped */
	char detail[1280];     /* one line for people */
	bool tls_failed;       /* the TLS required was refused or failed */
	char tls_version[32];  /* "" when the session stayed in clear */
	char tls_cipher[64];
	char tls_group[32];
	bool dane_checked;     /* the handshake reached the DANE check */
	struct dane_result dane;
	struct tls_chain chain; /* the peer's, owned (a copy) */
	struct session_leaf *leaf; /* its leaf's names and fingerprints, owned
	                              (NULL without; kept apart: most
	                              deliveries of a long list wait unused) */
	struct dane_tlsa *tlsa; /* the session policy's records, owned copy
	                           (dane.record indexes them) */
	size_t ntlsa;
	enum dnssec_status addr_dnssec; /* of the peer's address records */
};

/* One connection attempt (or a host never connected to), for the result. */
struct attempt {
	char *mx;              /* owned */
	char address[INET6_ADDRSTRLEN]; /* "" when none was tried */
	enum mxc_failure kind;
	enum mxc_stage stage;
	int code;
	char *detail;          /* owned */
	bool reused;
};

struct mxc_delivery {
	uint64_t id;                    /* unique in the engine, for logs */
	struct mxc_engine *engine;
	const struct config *config;
	char *sender;
	char *recipient;
	const char *domain;             /* inside recipient */
	struct mxc_message *message;    /* one reference */
	mxc_done_fn *done;
	void *arg;
	enum dlv_state state;
	bool started;                   /* delivery_start() was called */
	struct timespec created_at;     /* mxc_deliver(): the queue wait starts */
	struct timespec started_at;     /* delivery_start(): the queue wait ends */
	struct timespec txn_at;         /* the last transaction started */
	bool txn_started;
	struct timespec created_wall;   /* the same two on the wall clock */
	struct timespec started_wall;

	struct dnscache_req *mx_query;
	struct host *hosts[MXLIST_MAX]; /* in the order to try */
	size_t nhosts;
	bool implicit_mx;

	struct he *he;                  /* the current race */
	size_t next_feed;               /* next host to give to the race */
	size_t *target_host;            /* race target index -> host index */
	size_t ntargets_cap;

	struct session *session;        /* the current session */
	struct smtp *smtp;              /* the transaction on it */
	size_t smtp_host;               /* its host */
	bool session_ended;             /* setup failed or transaction done:
	                                   `report` says how */
	bool reused;                    /* the session came from the pool */
	bool no_reuse;                  /* a pooled session failed before MAIL
	                                   was answered: connect afresh */
	struct report *report;          /* latest session's; allocated when
	                                   the delivery starts (most of a
	                                   long list waits unstarted) */
	bool had_session;               /* some host was talked to */
	struct host_tls session_tls;    /* what that session had to achieve */
	struct sockaddr_storage peer;   /* that session's address */
	bool clear_retry;               /* the race is the retry in clear of
	                                   `peer` after an opportunistic TLS
	                                   handshake failed there */
	char domain_cname[256];         /* domain after the MX lookup's
	                                   CNAMEs, "" when the same */
	bool mx_secure;                 /* the MX RRset (or its denial) is
	                                   DNSSEC-secure */
	bool mx_answered;               /* mx_dnssec is known */
	enum dnssec_status mx_dnssec;   /* of the MX answer */

	struct attempt *attempts;       /* every connection tried, in order */
	size_t nattempts, attempts_cap;

	struct event *ev_step;          /* continues after smtp and at DONE */

	/* The result, filled as things happen. */
	enum mxc_outcome outcome;
	enum mxc_failure kind;          /* why, NONE when delivered */
	enum mxc_stage stage;           /* where it ended */
	enum mxc_dane dane;
	char *detail;                   /* owned; NULL until the end */
	char mx[256];
	char address[INET6_ADDRSTRLEN];
};

static void enter(struct mxc_delivery *d, enum dlv_state next);
static void start_race(struct mxc_delivery *d, size_t first);
static void after_session(struct mxc_delivery *d);
static void on_txn_done(void *arg, const struct smtp_outcome *o);

/* Logs a line about this delivery. */
#define dlog(d, level, ...) \
	config_log((d)->config, &(struct logctx){ (d)->id, 0 }, (level), \
	           __VA_ARGS__)

/* Milliseconds from `from` to `to`, never negative. */
static uint64_t ms_between(const struct timespec *from,
                           const struct timespec *to)
{
	int64_t ms = (int64_t)(to->tv_sec - from->tv_sec) * 1000 +
	             (to->tv_nsec - from->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

/* Adds an attempt to the list the result carries (best effort: out of
 * memory or beyond ATTEMPTS_MAX it is left out). */
static void add_attempt(struct mxc_delivery *d, const char *mx,
                        const char *address, enum mxc_failure kind,
                        enum mxc_stage stage, int code, const char *detail,
                        bool reused)
{
	if (d->nattempts >= ATTEMPTS_MAX)
		return;
	if (d->nattempts == d->attempts_cap) {
		size_t cap = d->attempts_cap ? d->attempts_cap * 2 : 4;
		struct attempt *p = realloc(d->attempts, cap * sizeof *p);
		if (p == NULL)
			return;
		d->attempts = p;
		d->attempts_cap = cap;
	}
	struct attempt *a = &d->attempts[d->nattempts];
	*a = (struct attempt){ .kind = kind, .stage = stage, .code = code,
	                       .reused = reused };
	a->mx = strdup(mx);
	a->detail = strdup(detail);
	if (a->mx == NULL || a->detail == NULL) {
		free(a->mx);
		free(a->detail);
		return;
	}
	snprintf(a->address, sizeof a->address, "%s", address);
	d->nattempts++;
}

/* Whether some attempt went to host `mx`. */
static bool attempted(const struct mxc_delivery *d, const char *mx)
{
	for (size_t i = 0; i < d->nattempts; i++)
		if (strcmp(d->attempts[i].mx, mx) == 0)
			return true;
	return false;
}

/* Keeps the result's one line (cut at DETAIL_MAX). */
static void set_detail(struct mxc_delivery *d, const char *detail)
{
	free(d->detail);
	d->detail = strndup(detail, DETAIL_MAX - 1);
}

/* Ends the delivery with a result (the callback follows from an event). */
static void finish(struct mxc_delivery *d, enum mxc_outcome outcome,
                   enum mxc_failure kind, enum mxc_stage stage,
                   const char *detail)
{
	d->outcome = outcome;
	d->kind = kind;
	d->stage = stage;
	set_detail(d, detail);
	/* Hosts that failed in the DNS were never connected to: they are
	 * attempts too, without an address. */
	for (size_t i = 0; i < d->nhosts; i++) {
		const struct host *h = d->hosts[i];
		if (host_failure(h)[0] != '\0' && !attempted(d, host_name(h)))
			add_attempt(d, host_name(h), "", host_failure_kind(h),
			            MXC_STAGE_DNS, 0, host_failure(h), false);
	}
	enter(d, DLV_DONE);
}

/* Drops the current transaction and session at once (no QUIT). */
static void end_session(struct mxc_delivery *d)
{
	smtp_free(d->smtp);
	d->smtp = NULL;
	session_free(d->session);
	d->session = NULL;
}

/* Cancels every outstanding lookup and connection; keeps the result. */
static void stop_everything(struct mxc_delivery *d)
{
	if (d->mx_query != NULL) {
		dnscache_cancel(d->mx_query);
		d->mx_query = NULL;
	}
	for (size_t i = 0; i < d->nhosts; i++) {
		host_free(d->hosts[i]);
		d->hosts[i] = NULL;
	}
	d->nhosts = 0;
	he_free(d->he);
	d->he = NULL;
	end_session(d);
}

/* ---- giving up: which host failed which way ---- */

/*
 * Ends the delivery when no host is left.  Permanent only when every host
 * provably has no address (like Postfix's 5.4.4); otherwise temporary, with
 * every host's reason when there were several.
 */
static void give_up(struct mxc_delivery *d)
{
	size_t failed = 0, no_address = 0;
	bool dane = false;
	for (size_t i = 0; i < d->nhosts; i++) {
		failed += host_failure(d->hosts[i])[0] != '\0';
		no_address += host_has_no_address(d->hosts[i]);
		dane |= host_dane_failed(d->hosts[i]);
	}
	if (dane)
		d->dane = MXC_DANE_FAILED;
	/* Hosts that failed in the DNS were never connected to: they are
	 * attempts too, without an address.  The kind reported is the latest
	 * connection's, else the first failed host's. */
	enum mxc_failure kind = d->nattempts > 0
	                        ? d->attempts[d->nattempts - 1].kind
	                        : MXC_FAILURE_NONE;
	enum mxc_stage stage = d->nattempts > 0
	                       ? d->attempts[d->nattempts - 1].stage
	                       : MXC_STAGE_DNS;
	for (size_t i = 0; i < d->nhosts && kind == MXC_FAILURE_NONE; i++)
		kind = host_failure_kind(d->hosts[i]);
	if (kind == MXC_FAILURE_NONE)
		kind = MXC_FAILURE_LOCAL; /* no host failed: cannot happen */
	char detail[DETAIL_MAX];
	if (no_address == d->nhosts) {
		if (d->implicit_mx)
			snprintf(detail, sizeof detail, "domain %s has no MX and no "
			         "address records", d->domain);
		else
			snprintf(detail, sizeof detail, "no MX host of %s has an "
			         "address", d->domain);
		finish(d, MXC_PERMFAIL, MXC_FAILURE_NO_ADDRESS, MXC_STAGE_DNS,
		       detail);
		return;
	}
	size_t used = 0;
	detail[0] = '\0';
	if (failed > 1)
		used = (size_t)snprintf(detail, sizeof detail,
		                        "every MX host of %s failed: ", d->domain);
	for (size_t i = 0, n = 0; i < d->nhosts && used < sizeof detail; i++) {
		const char *why = host_failure(d->hosts[i]);
		if (why[0] == '\0')
			continue;
		used += (size_t)snprintf(detail + used, sizeof detail - used, "%s%s",
		                         n++ ? "; " : "", why);
	}
	finish(d, MXC_TEMPFAIL, kind, stage, detail);
}

/* ---- CONNECT: feeding the race, in host order ---- */

/*
 * The TLS policy of a session with host `h` at `addr`: what the host's DNS
 * demands for that address family (kept in session_tls), and the names
 * DANE may match.  NULL when memory runs out.
 */
static struct policy *make_policy(struct mxc_delivery *d, struct host *h,
                                  const struct sockaddr_storage *addr)
{
	host_tls(h, addr, &d->session_tls);
	if (d->clear_retry)
		d->session_tls.need = POLICY_TLS_NONE;
	const struct host_tls *t = &d->session_tls;
	struct policy_params pp = {
		.need = t->need,
		.tlsa_present = t->tlsa_present,
		.tlsa = t->tlsa,
		.ntlsa = t->ntlsa,
		.base = t->base,
		.mx = host_name(h),
		.nexthop = d->mx_secure ? d->domain : NULL,
		.nexthop_cname = d->mx_secure ? d->domain_cname : NULL,
	};
	return policy_new(&pp);
}

/* Starts the transaction on the session in hand. */
static void start_transaction(struct mxc_delivery *d)
{
	struct smtp_params p = {
		.config = d->config,
		.delivery_id = d->id,
		.sender = d->sender,
		.recipient = d->recipient,
		.message = d->message,
	};
	enter(d, DLV_TXN);
	clock_gettime(CLOCK_MONOTONIC, &d->txn_at);
	d->txn_started = true;
	d->smtp = smtp_start(d->session, &p, on_txn_done, d);
	if (d->smtp == NULL) { /* maybe inside the session's stack: defer */
		d->report->verdict = VERDICT_TEMPFAIL;
		d->report->kind = MXC_FAILURE_LOCAL;
		d->report->stage = STAGE_MAIL;
		snprintf(d->report->detail, sizeof d->report->detail,
		         "out of memory");
		d->session_ended = true;
		event_active(d->ev_step, EV_TIMEOUT, 0);
	}
}

/*
 * Takes an idle session from the pool for one of host `hi`'s addresses
 * under exactly the policy a new one would have, and starts the
 * transaction on it.  False when there is none.
 */
static bool take_pooled(struct mxc_delivery *d, size_t hi)
{
	struct host *h = d->hosts[hi];
	const struct sockaddr_storage *addrs;
	size_t n = host_addrs(h, &addrs);
	for (size_t i = 0; i < n; i++) {
		struct policy *want = make_policy(d, h, &addrs[i]);
		if (want == NULL)
			return false;
		struct session *s = pool_take(d->config->pool, host_name(h),
		                              &addrs[i], want);
		policy_free(want);
		if (s == NULL)
			continue;
		he_free(d->he);
		d->he = NULL;
		d->smtp_host = hi;
		d->peer = addrs[i];
		snprintf(d->mx, sizeof d->mx, "%s", host_name(h));
		he_addr_text(&addrs[i], d->address, sizeof d->address);
		d->session = s;
		d->reused = true;
		d->session_ended = false;
		dlog(d, MXC_LOG_INFO, "reusing session %" PRIu64 " with %s[%s] "
		     "(transaction %u)", session_id(s), d->mx, d->address,
		     session_transactions(s) + 1);
		start_transaction(d);
		return true;
	}
	return false;
}

/* Gives the race every address of the decided hosts, in order; a host
 * with an idle session in the pool for one of them, while the race has
 * nothing better, takes that session instead. */
static void feed_race(struct mxc_delivery *d)
{
	while (d->next_feed < d->nhosts && host_ready(d->hosts[d->next_feed])) {
		if (he_count(d->he) == 0 && !d->no_reuse &&
		    take_pooled(d, d->next_feed))
			return;
		const struct sockaddr_storage *addrs;
		size_t n = host_addrs(d->hosts[d->next_feed], &addrs);
		for (size_t i = 0; i < n; i++) {
			/* The map grows first: a target the race has must
			 * always have its host here. */
			if (he_count(d->he) >= d->ntargets_cap) {
				size_t cap = d->ntargets_cap ? d->ntargets_cap * 2 : 16;
				size_t *p = realloc(d->target_host, cap * sizeof *p);
				if (p == NULL)
					break; /* out of memory: fewer targets */
				d->target_host = p;
				d->ntargets_cap = cap;
			}
			int idx = he_add(d->he, &addrs[i],
			                 host_name(d->hosts[d->next_feed]));
			if (idx < 0)
				break; /* out of memory: fewer targets */
			d->target_host[idx] = d->next_feed;
		}
		d->next_feed++;
	}
	if (d->next_feed == d->nhosts)
		he_close_input(d->he);
}

/* A host is decided: its addresses may join the race. */
static void on_host_ready(void *arg, struct host *h)
{
	struct mxc_delivery *d = arg;
	(void)h;
	if (d->state == DLV_CONNECT && d->he != NULL)
		feed_race(d);
}

/* The race failed: every address of the remaining hosts failed. */
static void race_failed(struct mxc_delivery *d)
{
	/* Each host keeps the last connection error among its addresses. */
	size_t n = he_count(d->he);
	for (size_t i = 0; i < n; i++) {
		const char *err = he_target_error(d->he, i);
		if (err[0] == '\0')
			continue;
		struct host *h = d->hosts[d->target_host[i]];
		char a[INET6_ADDRSTRLEN];
		he_addr_text(he_target_addr(d->he, i), a, sizeof a);
		dlog(d, MXC_LOG_INFO, "connect to %s[%s]:%u: %s", host_name(h), a,
		     d->config->port, err);
		host_fail(h, false, "connect to %s[%s]:%u: %s", host_name(h), a,
		          d->config->port, err);
		char why[600];
		snprintf(why, sizeof why, "connect to %s[%s]:%u: %s",
		         host_name(h), a, d->config->port, err);
		add_attempt(d, host_name(h), a, MXC_FAILURE_CONNECT,
		            MXC_STAGE_CONNECT, 0, why, false);
		snprintf(d->mx, sizeof d->mx, "%s", host_name(h));
		snprintf(d->address, sizeof d->address, "%s", a);
	}
	give_up(d);
}

/* ---- SETUP, TRANSACTION, QUIT ---- */

/* Copies a chain (the session keeps its own for the next delivery on
 * it); what does not fit in memory is left out. */
static void copy_chain(const struct tls_chain *from, struct tls_chain *to)
{
	tls_chain_free(to);
	for (size_t i = 0; i < from->count; i++) {
		unsigned char *der = malloc(from->certs[i].len);
		if (der == NULL)
			break;
		memcpy(der, from->certs[i].der, from->certs[i].len);
		to->certs[to->count++] = (struct tls_cert){ der,
		                                            from->certs[i].len };
	}
}

/* Keeps what the session's TLS was, and the DNS evidence behind its
 * policy, for the report. */
static void take_tls(struct mxc_delivery *d)
{
	struct report *r = d->report;
	const struct session_info *info = session_info(d->session);
	snprintf(r->tls_version, sizeof r->tls_version, "%s", info->tls_version);
	snprintf(r->tls_cipher, sizeof r->tls_cipher, "%s", info->tls_cipher);
	snprintf(r->tls_group, sizeof r->tls_group, "%s", info->tls_group);
	r->dane_checked = info->dane_checked;
	r->dane = info->dane;
	copy_chain(&info->chain, &r->chain);
	if (r->leaf == NULL)
		r->leaf = malloc(sizeof *r->leaf);
	if (r->leaf != NULL)
		*r->leaf = *session_leaf(d->session);
	const struct policy *p = session_policy(d->session);
	dane_tlsa_free(r->tlsa);
	r->tlsa = NULL;
	r->ntlsa = 0;
	if (p->ntlsa > 0 && (r->tlsa = dane_tlsa_dup(p->tlsa, p->ntlsa)) != NULL)
		r->ntlsa = p->ntlsa;
	r->addr_dnssec = host_addr_dnssec(d->hosts[d->smtp_host], &d->peer);
}

/* The transaction ended; called from the session's stack, so only record
 * it and go on from the step event. */
static void on_txn_done(void *arg, const struct smtp_outcome *o)
{
	struct mxc_delivery *d = arg;
	struct report *r = d->report;
	r->verdict = o->verdict;
	r->kind = o->kind;
	r->stage = o->stage;
	r->usable = o->session_usable;
	r->code = o->code;
	snprintf(r->enhanced, sizeof r->enhanced, "%s", o->enhanced);
	snprintf(r->reply, sizeof r->reply, "%s", o->reply);
	snprintf(r->detail, sizeof r->detail, "%s", o->detail);
	r->tls_failed = false;
	d->session_ended = true;
	event_active(d->ev_step, EV_TIMEOUT, 0);
}

/* The session is ready, or its setup failed (then it is over with this
 * host); called from the session's stack. */
static void on_session_ready(void *arg, struct session *s,
                             const struct session_failure *f)
{
	struct mxc_delivery *d = arg;
	(void)s;
	if (f != NULL) {
		struct report *r = d->report;
		r->verdict = VERDICT_NEXT_HOST;
		r->kind = f->kind;
		r->stage = f->stage;
		r->usable = false;
		r->code = f->code;
		snprintf(r->enhanced, sizeof r->enhanced, "%s", f->enhanced);
		snprintf(r->reply, sizeof r->reply, "%s", f->reply);
		snprintf(r->detail, sizeof r->detail, "%s", f->detail);
		r->tls_failed = f->tls_failed;
		d->session_ended = true;
		event_active(d->ev_step, EV_TIMEOUT, 0);
		return;
	}
	start_transaction(d);
}

/*
 * The session's part is over: keep its TLS facts and hand it to the pool
 * (kept for the next delivery when the last reply left it usable, else
 * ended there).  A session from the pool that failed before MAIL was
 * answered (the server closed it while idle, or said 421) costs a fresh
 * connection to the same host, never a deferral.
 */
static void release_session(struct mxc_delivery *d)
{
	const struct report *r = d->report;
	bool usable = r->usable;
	take_tls(d);
	smtp_free(d->smtp);
	d->smtp = NULL;
	pool_put(d->config->pool, d->session, &d->peer, usable);
	d->session = NULL;
	if (d->reused && r->stage == STAGE_MAIL &&
	    (r->code == 0 || r->code == 421)) {
		dlog(d, MXC_LOG_INFO, "%s; reconnecting", r->detail);
		d->reused = false;
		d->no_reuse = true;
		start_race(d, d->smtp_host);
		return;
	}
	after_session(d);
}

/* The race ended: a connection to a host, or nothing left to try. */
static void on_race(void *arg, int fd, size_t index)
{
	struct mxc_delivery *d = arg;
	if (fd < 0 && d->clear_retry) {
		/* The retry in clear could not connect: the host failed as
		 * its TLS session did; on to the next one. */
		he_free(d->he);
		d->he = NULL;
		host_fail(d->hosts[d->smtp_host], false, "%s", d->report->detail);
		if (d->smtp_host + 1 >= d->nhosts)
			give_up(d);
		else
			start_race(d, d->smtp_host + 1);
		return;
	}
	if (fd < 0) {
		race_failed(d);
		return;
	}
	size_t hi = d->target_host[index];
	struct host *h = d->hosts[hi];
	d->smtp_host = hi;
	snprintf(d->mx, sizeof d->mx, "%s", host_name(h));
	he_addr_text(he_target_addr(d->he, index), d->address, sizeof d->address);
	d->peer = *he_target_addr(d->he, index);
	for (size_t i = 0; i < index; i++)
		if (he_target_error(d->he, i)[0] != '\0') {
			char a[INET6_ADDRSTRLEN];
			he_addr_text(he_target_addr(d->he, i), a, sizeof a);
			dlog(d, MXC_LOG_INFO, "connect to %s[%s]:%u: %s",
			     host_name(d->hosts[d->target_host[i]]), a,
			     d->config->port, he_target_error(d->he, i));
			char why[600];
			snprintf(why, sizeof why, "connect to %s[%s]:%u: %s",
			         host_name(d->hosts[d->target_host[i]]), a,
			         d->config->port, he_target_error(d->he, i));
			add_attempt(d, host_name(d->hosts[d->target_host[i]]), a,
			            MXC_FAILURE_CONNECT, MXC_STAGE_CONNECT, 0, why,
			            false);
		}
	dlog(d, MXC_LOG_INFO, "connected to %s[%s]:%u", d->mx, d->address,
	     d->config->port);
	he_free(d->he); /* allowed from inside its callback */
	d->he = NULL;

	struct policy *policy = make_policy(d, h, &d->peer);
	if (policy == NULL) {
		transport_close(d->config->transport, fd);
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT,
		       "out of memory");
		return;
	}
	struct session_params sp = {
		.config = d->config,
		.id = engine_new_session_id(d->engine),
		.delivery_id = d->id,
		.mx = d->mx,
		.address = d->address,
		.policy = policy, /* the session's from now on */
		.ready = on_session_ready,
		.arg = d,
	};
	d->session_ended = false;
	d->reused = false;
	d->session = session_start(fd, &sp);
	if (d->session == NULL) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT,
		       "out of memory");
		return;
	}
	dlog(d, MXC_LOG_DEBUG, "session %" PRIu64 " with %s[%s], TLS %s",
	     session_id(d->session), d->mx, d->address,
	     policy_tls_name(d->session_tls.need));
	enter(d, DLV_SETUP);
}

/* Starts a race over the hosts from `first` on. */
static void start_race(struct mxc_delivery *d, size_t first)
{
	d->clear_retry = false;
	d->next_feed = first;
	d->he = he_new(d->config, d->id,
	               config_timeout_ms(d->config, CONNECT_TIMEOUT), on_race, d);
	if (d->he == NULL) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT,
		       "out of memory");
		return;
	}
	enter(d, DLV_CONNECT);
	feed_race(d);
}

/* Connects again to the one address of the last session, for a session
 * in clear; no other host joins this race. */
static void retry_in_clear(struct mxc_delivery *d)
{
	d->he = he_new(d->config, d->id,
	               config_timeout_ms(d->config, CONNECT_TIMEOUT), on_race, d);
	if (d->he == NULL) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT,
		       "out of memory");
		return;
	}
	d->clear_retry = true;
	d->next_feed = d->nhosts; /* feed_race() adds nothing */
	enter(d, DLV_CONNECT);
	int idx = he_add(d->he, &d->peer, host_name(d->hosts[d->smtp_host]));
	if (idx < 0 || (size_t)idx >= d->ntargets_cap) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT,
		       "out of memory");
		return;
	}
	d->target_host[idx] = d->smtp_host;
	he_close_input(d->he);
}

/* What DANE achieved in a session that carried mail. */
static enum mxc_dane session_dane(const struct mxc_delivery *d)
{
	if (d->session_tls.need == POLICY_TLS_DANE && d->report->dane_checked &&
	    d->report->dane.authenticated)
		return MXC_DANE_VERIFIED;
	if (d->session_tls.tlsa_present)
		return MXC_DANE_UNUSABLE;
	return MXC_DANE_NONE;
}

/* After a session: delivered, stopped, or on to the next host. */
static void after_session(struct mxc_delivery *d)
{
	const struct report *o = d->report;
	d->had_session = true;
	enum mxc_failure kind = o->verdict == VERDICT_DELIVERED
	                        ? MXC_FAILURE_NONE : o->kind;
	add_attempt(d, d->mx, d->address, kind, stage_public(o->stage), o->code,
	            o->detail, d->reused);
	switch (o->verdict) {
	case VERDICT_DELIVERED:
		d->dane = session_dane(d);
		finish(d, MXC_DELIVERED, kind, stage_public(o->stage), o->detail);
		return;
	case VERDICT_PERMFAIL:
	case VERDICT_TEMPFAIL:
		d->dane = session_dane(d);
		finish(d, o->verdict == VERDICT_PERMFAIL ? MXC_PERMFAIL
		                                         : MXC_TEMPFAIL,
		       kind, stage_public(o->stage), o->detail);
		return;
	case VERDICT_NEXT_HOST:
	case VERDICT_CONTINUE:
		break;
	}
	/* At level may, a TLS handshake that failed: the same address again,
	 * once, in clear (as Postfix does at "may").  Never where TLSA
	 * records or the level demand TLS (those sessions are not
	 * opportunistic), nor at level dane without TLSA records, where
	 * the next MX host is tried with TLS instead. */
	if (o->tls_failed && d->session_tls.need == POLICY_TLS_OPPORTUNISTIC &&
	    d->config->tls_level == MXC_TLS_MAY && !d->clear_retry) {
		dlog(d, MXC_LOG_INFO, "%s; retrying %s[%s] without TLS",
		     o->detail, d->mx, d->address);
		retry_in_clear(d);
		return;
	}
	/* A host that could not give the TLS its TLSA records demand failed
	 * its DANE check. */
	bool dane = d->session_tls.tlsa_present && o->tls_failed;
	host_fail(d->hosts[d->smtp_host], dane, "%s", o->detail);
	if (d->smtp_host + 1 >= d->nhosts) {
		give_up(d);
		return;
	}
	dlog(d, MXC_LOG_ERROR, "%s; trying the next MX host", o->detail);
	start_race(d, d->smtp_host + 1);
}

/* ---- MX lookup ---- */

/* Random numbers for MX shuffling. */
static uint32_t random_below(void *arg, uint32_t bound)
{
	(void)arg;
	return bound > 1 ? arc4random_uniform(bound) : 0;
}

/* Creates the hosts to try and starts their lookups. */
static bool make_hosts(struct mxc_delivery *d, const struct dns_mx *mx,
                       size_t n, bool mx_secure)
{
	for (size_t i = 0; i < n; i++) {
		struct host_params p = {
			.config = d->config,
			.delivery_id = d->id,
			.name = mx[i].host,
			.pref = mx[i].pref,
			.mx_secure = mx_secure,
			.ready = on_host_ready,
			.arg = d,
		};
		d->hosts[i] = host_new(&p);
		if (d->hosts[i] == NULL)
			return false;
		d->nhosts = i + 1;
	}
	return true;
}

/* The MX answer is in: decide the hosts. */
static void on_mx(void *arg, const struct dns_answer *a)
{
	struct mxc_delivery *d = arg;
	char detail[600];
	struct dns_mx order[MXLIST_MAX];
	size_t n = 0;
	d->mx_query = NULL;
	d->mx_answered = true;
	d->mx_dnssec = a->dnssec;
	switch (a->result) {
	case DNS_NXDOMAIN:
		snprintf(detail, sizeof detail, "domain %s does not exist", d->domain);
		finish(d, MXC_PERMFAIL, MXC_FAILURE_NO_DOMAIN, MXC_STAGE_DNS,
		       detail);
		return;
	case DNS_FAIL: /* SERVFAIL, timeout, bogus: never "no MX" */
		snprintf(detail, sizeof detail, "MX lookup for %s failed: %s",
		         d->domain, a->error);
		finish(d, MXC_TEMPFAIL, a->dnssec == DNSSEC_BOGUS
		                        ? MXC_FAILURE_DNSSEC : MXC_FAILURE_DNS,
		       MXC_STAGE_DNS, detail);
		return;
	default:
		break;
	}
	/* Where DANE may apply, an MX answer (or denial) whose DNSSEC status
	 * is indeterminate could hide a secure RRset: a lookup failure to
	 * try again later, never "insecure" (which would drop DANE). */
	enum mxc_tls_level level = d->config->tls_level;
	if (a->dnssec == DNSSEC_INDETERMINATE &&
	    (level == MXC_TLS_DANE || level == MXC_TLS_DANE_ONLY)) {
		snprintf(detail, sizeof detail, "MX lookup for %s failed: "
		         "DNSSEC status indeterminate", d->domain);
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_DNSSEC, MXC_STAGE_DNS, detail);
		return;
	}
	switch (a->result) {
	case DNS_NXDOMAIN:
	case DNS_FAIL:
		break; /* handled above */
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX means the domain is its own MX. */
		d->implicit_mx = true;
		snprintf(order[0].host, sizeof order[0].host, "%s", d->domain);
		order[0].pref = 0;
		n = 1;
		dlog(d, MXC_LOG_INFO, "no MX for %s (dnssec %s): using the domain "
		     "itself (implicit MX)", d->domain, dnssec_status_name(a->dnssec));
		break;
	case DNS_FOUND:
		if (mxlist_order(a->mx, a->count, order, MXLIST_MAX, &n,
		                 random_below, NULL) == MXLIST_NULL_MX) {
			snprintf(detail, sizeof detail, "domain %s does not accept "
			         "mail (null MX, RFC 7505)", d->domain);
			finish(d, MXC_PERMFAIL, MXC_FAILURE_NULL_MX, MXC_STAGE_DNS,
			       detail);
			return;
		}
		if (n == 0) {
			snprintf(detail, sizeof detail, "domain %s has no usable MX "
			         "host", d->domain);
			finish(d, MXC_PERMFAIL, MXC_FAILURE_NO_MX_HOST,
			       MXC_STAGE_DNS, detail);
			return;
		}
		char list[512] = "";
		size_t used = 0;
		for (size_t i = 0; i < n && used < sizeof list; i++)
			used += (size_t)snprintf(list + used, sizeof list - used,
			                         "%s%u %s", i ? ", " : "",
			                         order[i].pref, order[i].host);
		dlog(d, MXC_LOG_INFO, "MX for %s (dnssec %s): %s", d->domain,
		     dnssec_status_name(a->dnssec), list);
		break;
	}
	d->mx_secure = a->dnssec == DNSSEC_SECURE;
	if (a->canonical != NULL && strcasecmp(a->canonical, d->domain) != 0)
		snprintf(d->domain_cname, sizeof d->domain_cname, "%s",
		         a->canonical);
	if (!make_hosts(d, order, n, d->mx_secure)) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT,
		       "out of memory");
		return;
	}
	start_race(d, 0);
}

/* ---- the machine ---- */

/* Changes state, logging the step. */
static void enter(struct mxc_delivery *d, enum dlv_state next)
{
	dlog(d, MXC_LOG_DEBUG, "delivery %s -> %s", state_names[d->state],
	     state_names[next]);
	d->state = next;
	if (next == DLV_DONE) {
		/* Hosts stay until the report: it reads their failures. */
		if (d->mx_query != NULL) {
			dnscache_cancel(d->mx_query);
			d->mx_query = NULL;
		}
		he_free(d->he);
		d->he = NULL;
		end_session(d);
		event_active(d->ev_step, EV_TIMEOUT, 0);
	}
}

/* Milliseconds since 1970 of a wall-clock time. */
static int64_t unix_ms(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000 + t->tv_nsec / 1000000;
}

/* A DNSSEC status in public terms. */
static enum mxc_dnssec public_dnssec(enum dnssec_status st)
{
	switch (st) {
	case DNSSEC_SECURE:
		return MXC_DNSSEC_SECURE;
	case DNSSEC_INSECURE:
		return MXC_DNSSEC_INSECURE;
	case DNSSEC_BOGUS:
		return MXC_DNSSEC_BOGUS;
	case DNSSEC_INDETERMINATE:
		return MXC_DNSSEC_INDETERMINATE;
	}
	return MXC_DNSSEC_UNKNOWN;
}

/* Calls the completion callback with the result (the delivery stays). */
static void report(struct mxc_delivery *d)
{
	stop_everything(d);
	/* Out of memory for the line itself leaves this one. */
	const char *detail = d->detail != NULL ? d->detail
	                                       : "(detail lost: out of memory)";
	if (d->outcome == MXC_DELIVERED)
		dlog(d, MXC_LOG_INFO, "%s", detail);
	else
		dlog(d, MXC_LOG_ERROR, "%s: %s", d->outcome == MXC_TEMPFAIL
		     ? "deferred" : "bounced", detail);
	/* A delivery that never started had no session. */
	static const struct report no_report;
	const struct report *o = d->report != NULL ? d->report : &no_report;
	struct mxc_cert certs[TLS_CHAIN_MAX];
	for (size_t i = 0; i < o->chain.count; i++)
		certs[i] = (struct mxc_cert){ o->chain.certs[i].der,
		                              o->chain.certs[i].len };
	struct mxc_tlsa tlsa[DANE_TLSA_MAX];
	size_t ntlsa = d->had_session && o->ntlsa <= DANE_TLSA_MAX ? o->ntlsa : 0;
	for (size_t i = 0; i < ntlsa; i++)
		tlsa[i] = (struct mxc_tlsa){ o->tlsa[i].usage, o->tlsa[i].selector,
		                             o->tlsa[i].mtype, o->tlsa[i].data,
		                             o->tlsa[i].len };
	bool matched = d->had_session && o->dane_checked &&
	               o->dane.authenticated && o->dane.record >= 0 &&
	               (size_t)o->dane.record < ntlsa;
	struct mxc_attempt attempts[ATTEMPTS_MAX];
	for (size_t i = 0; i < d->nattempts; i++) {
		const struct attempt *a = &d->attempts[i];
		attempts[i] = (struct mxc_attempt){
			.mx = a->mx, .address = a->address, .kind = a->kind,
			.stage = a->stage, .reply_code = a->code,
			.detail = a->detail, .reused = a->reused,
		};
	}
	static const struct session_leaf none;
	const struct session_leaf *leaf = o->leaf != NULL ? o->leaf : &none;
	struct timespec now, wall;
	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_REALTIME, &wall);
	/* A delivery cancelled while queued never started: all of its time
	 * was queue wait. */
	const struct timespec *start = d->started ? &d->started_at : &now;
	/* The parts are derived from the whole, so that queue + delivery is
	 * the elapsed time exactly (each truncated on its own, they could be
	 * a millisecond off). */
	uint64_t elapsed = ms_between(&d->created_at, &now);
	uint64_t queued = ms_between(&d->created_at, start);
	uint64_t transfer = d->txn_started ? ms_between(&d->txn_at, &now) : 0;
	if (queued > elapsed)
		queued = elapsed;
	struct mxc_result r = {
		.outcome = d->outcome,
		.kind = d->kind,
		.stage = d->stage,
		.recipient = d->recipient,
		.sender = d->sender,
		.detail = detail,
		.reply_code = d->had_session ? o->code : 0,
		.enhanced = d->had_session ? o->enhanced : "",
		.reply = d->had_session ? o->reply : "",
		.mx = d->mx,
		.address = d->address,
		.tls_version = d->had_session ? o->tls_version : "",
		.tls_cipher = d->had_session ? o->tls_cipher : "",
		.tls_group = d->had_session ? o->tls_group : "",
		.dane = d->dane,
		.peer_chain = certs,
		.peer_chain_count = o->chain.count,
		.peer_subject = leaf->subject,
		.peer_issuer = leaf->issuer,
		.peer_cert_sha256 = leaf->cert_sha256,
		.peer_pkey_sha256 = leaf->pkey_sha256,
		.mx_dnssec = d->mx_answered ? public_dnssec(d->mx_dnssec)
		                            : MXC_DNSSEC_UNKNOWN,
		.address_dnssec = d->had_session ? public_dnssec(o->addr_dnssec)
		                                 : MXC_DNSSEC_UNKNOWN,
		.tlsa = tlsa,
		.tlsa_count = ntlsa,
		.tlsa_matched = matched ? &tlsa[o->dane.record] : NULL,
		.tlsa_matched_depth = matched ? o->dane.depth : -1,
		.attempts = attempts,
		.attempt_count = d->nattempts,
		.elapsed_ms = elapsed,
		.queue_ms = queued,
		.delivery_ms = elapsed - queued,
		.transfer_ms = transfer < elapsed - queued ? transfer
		                                           : elapsed - queued,
		.queued_at_ms = unix_ms(&d->created_wall),
		.started_at_ms = d->started ? unix_ms(&d->started_wall) : 0,
		.ended_at_ms = unix_ms(&wall),
	};
	d->done(d->arg, d, &r);
}

/* Reports the result and hands the delivery back to the engine. */
static void complete(struct mxc_delivery *d)
{
	engine_delivery_reporting(d->engine, d);
	report(d);
	engine_delivery_ended(d->engine, d); /* frees d */
}

/* The step event: continue after a session, or complete. */
static void on_step(evutil_socket_t fd, short what, void *arg)
{
	struct mxc_delivery *d = arg;
	(void)fd;
	(void)what;
	if (d->state == DLV_DONE) {
		complete(d);
		return;
	}
	if ((d->state == DLV_SETUP || d->state == DLV_TXN) && d->session_ended)
		release_session(d);
}

/* Creates a delivery. */
struct mxc_delivery *delivery_new(struct mxc_engine *engine,
                                  const struct config *config,
                                  const struct mxc_delivery_params *params,
                                  uint64_t id)
{
	struct mxc_delivery *d = calloc(1, sizeof *d);
	if (d == NULL)
		return NULL;
	d->id = id;
	d->engine = engine;
	d->config = config;
	d->sender = strdup(params->sender);
	d->recipient = strdup(params->recipient);
	d->ev_step = event_new(config->base, -1, 0, on_step, d);
	if (d->sender == NULL || d->recipient == NULL || d->ev_step == NULL) {
		delivery_free(d);
		return NULL;
	}
	d->domain = address_domain(d->recipient);
	d->message = mxc_message_ref(params->message);
	d->done = params->done;
	d->arg = params->arg;
	d->state = DLV_QUEUED;
	clock_gettime(CLOCK_MONOTONIC, &d->created_at);
	clock_gettime(CLOCK_REALTIME, &d->created_wall);
	return d;
}

/*
 * A domain literal (user@[192.0.2.25], RFC 5321 4.1.3) names its host: no
 * MX lookup, and no DANE, which needs a DNS name (RFC 7672), so dane-only
 * can never be met: refused at once, for good.
 */
static void start_literal(struct mxc_delivery *d)
{
	if (d->config->tls_level == MXC_TLS_DANE_ONLY) {
		char detail[400];
		snprintf(detail, sizeof detail, "no DANE is possible for the "
		         "address literal %s (RFC 7672 needs a DNS name): TLS "
		         "level dane-only refuses it", d->domain);
		finish(d, MXC_PERMFAIL, MXC_FAILURE_DANE_REQUIRED,
		       MXC_STAGE_NONE, detail);
		return;
	}
	dlog(d, MXC_LOG_INFO, "address literal %s: no MX lookup, no DANE",
	     d->domain);
	struct dns_mx self = { .pref = 0 };
	snprintf(self.host, sizeof self.host, "%s", d->domain);
	if (!make_hosts(d, &self, 1, false)) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_NONE,
		       "out of memory");
		return;
	}
	start_race(d, 0);
}

/* Sends out the MX lookup. */
void delivery_start(struct mxc_delivery *d)
{
	d->started = true;
	clock_gettime(CLOCK_MONOTONIC, &d->started_at);
	clock_gettime(CLOCK_REALTIME, &d->started_wall);
	if (d->state != DLV_QUEUED)
		return; /* cancelled while queued: already DONE */
	if ((d->report = calloc(1, sizeof *d->report)) == NULL) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_NONE,
		       "out of memory");
		return;
	}
	if (d->domain[0] == '[') {
		start_literal(d);
		return;
	}
	d->mx_query = dnscache_lookup(d->config->dnscache, d->domain, DNS_MX,
	                             on_mx, d);
	if (d->mx_query == NULL) {
		finish(d, MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_DNS,
		       "cannot start the MX lookup");
		return;
	}
	enter(d, DLV_MX);
}

/* Frees without reporting. */
void delivery_free(struct mxc_delivery *d)
{
	if (d == NULL)
		return;
	stop_everything(d);
	free(d->target_host);
	if (d->report != NULL) {
		tls_chain_free(&d->report->chain);
		free(d->report->leaf);
		dane_tlsa_free(d->report->tlsa);
		free(d->report);
	}
	free(d->detail);
	for (size_t i = 0; i < d->nattempts; i++) {
		free(d->attempts[i].mx);
		free(d->attempts[i].detail);
	}
	free(d->attempts);
	if (d->ev_step != NULL)
		event_free(d->ev_step);
	if (d->message != NULL)
		mxc_message_unref(d->message);
	free(d->sender);
	free(d->recipient);
	free(d);
}

/* The engine is going away: report now, "cancelled" unless it had ended
 * (then its real result); the engine frees it afterwards. */
void delivery_abort(struct mxc_delivery *d)
{
	if (d->state != DLV_DONE) {
		d->outcome = MXC_TEMPFAIL;
		d->kind = MXC_FAILURE_CANCELLED;
		set_detail(d, "cancelled");
		d->state = DLV_DONE;
	}
	report(d);
}

/* ---- public per-delivery calls ---- */

/* Stops a delivery; it still completes once, from an event. */
void mxc_delivery_cancel(struct mxc_delivery *d)
{
	if (d->state == DLV_DONE)
		return;
	finish(d, MXC_TEMPFAIL, MXC_FAILURE_CANCELLED,
	       d->state == DLV_QUEUED ? MXC_STAGE_NONE
	       : d->state == DLV_MX ? MXC_STAGE_DNS
	       : d->state == DLV_CONNECT ? MXC_STAGE_CONNECT
	       : d->smtp != NULL ? MXC_STAGE_MAIL : MXC_STAGE_GREETING,
	       "cancelled");
}

/* The caller's argument. */
void *mxc_delivery_arg(const struct mxc_delivery *d)
{
	return d->arg;
}

/* The recipient. */
const char *mxc_delivery_recipient(const struct mxc_delivery *d)
{
	return d->recipient;
}

/* The number. */
uint64_t mxc_delivery_id(const struct mxc_delivery *d)
{
	return d->id;
}
