/*
 * dns: asynchronous stub resolution through getdns on the caller's
 * event_base, with DNSSEC validated here against a configured trust
 * anchor (never the upstream's AD bit, unless configured to trust it): by
 * getdns, or by sigcheck against zone keys getdns validated.
 *
 * The pieces, top to bottom:
 *   - setup: upstream strings, /etc/resolv.conf, the trust anchor file and
 *     one getdns context per upstream and transport, so that each attempt
 *     goes to the upstream dnscache chooses (getdns itself would switch
 *     upstreams only on its own timeouts, which we must never let fire);
 *   - the lookup queue: at most max_outstanding lookups inside getdns, the
 *     rest wait here in FIFO order; every answer is handed to its caller
 *     from a fresh event (the "pump"), never from inside dns_lookup() or
 *     getdns's own stack.  Timeouts are ours too: getdns 1.6 frees a
 *     DNSSEC chain query (DS/DNSKEY) that times out while the chain still
 *     points at it, a use after free when the lookup ends, so our timer
 *     cancels the lookup, chain included, before any getdns timeout can
 *     fire;
 *   - classification: a getdns response becomes a dns_answer, rcode first,
 *     then DNSSEC, then the records, so that a failed lookup can never be
 *     mistaken for "no records" (a DANE downgrade); the TTL the answer may
 *     be cached for comes from the same reply;
 *   - zone keys: the DNSKEY sets in the validation chain of a secure
 *     answer are kept (zonekeys.c says which and how long); those of the
 *     zones that delegate (TLDs) are installed as extra trust anchors
 *     before the next lookup starts, so that getdns validates a new
 *     zone's answers without the chain above them.  An answer that comes out bogus with zone keys installed is
 *     validated again from the root after every key is forgotten: a key
 *     the zone has since replaced must cost a lookup, never a delivery;
 *   - own checks: a lookup below a held zone that has signed answers
 *     before is asked with the DO bit alone, and sigcheck.c checks the
 *     answer's RRSIGs against the held keys: one signature check where
 *     getdns makes up to three, each about 100 us in OpenSSL 3 against
 *     20 us in the wolfSSL subproject build (60 us in Debian's).  Whatever
 *     sigcheck cannot call secure is asked again the usual way, for
 *     getdns to validate: it never decides "insecure" or "bogus".
 */
#include "dns.h"
#include "clock.h"
#include "dnsttl.h"
#include "sigcheck.h"
#include "wirename.h"
#include "zonekeys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>
#include <getdns/getdns_ext_libevent.h>

#define DNS_DEFAULT_TIMEOUT_MS 10000
#define DNS_DEFAULT_OUTSTANDING 100
#define DNS_DEFAULT_ANCHOR "/usr/share/dns/root.key"
#define DNS_RESOLV_CONF "/etc/resolv.conf"
/*
 * Most records taken from one answer.  Beyond it, MX and address records
 * are ignored (fewer hosts or addresses to try is safe), but a larger
 * TLSA RRset fails the lookup: a partial set could hold only records
 * unusable for SMTP while the rest are usable, which would turn
 * "authenticate or defer" into unauthenticated TLS.
 */
#define DNS_MAX_RECORDS 100
/* Most upstreams taken from /etc/resolv.conf or the configuration. */
#define DNS_MAX_UPSTREAMS 16
/* Longest name in presentation format without the trailing dot. */
#define DNS_NAME_MAX 253
/*
 * How much later than ours getdns's own timeout is set.  It must never fire
 * first (see the lookup queue), and getdns sets some of its timers from a
 * fresh clock against libevent's cached one, so they can fire early by as
 * long as one round of the event loop takes: the margin is that bound.
 */
#define DNS_GETDNS_TIMEOUT_MARGIN_MS 60000
/*
 * Taken off a zone key set's lifetime: the longest a lookup started now
 * can take (one attempt; a second validation starts afresh), so that the
 * set installed when it starts is still valid when its answer is
 * validated.
 */
#define DNS_ZONE_KEY_MARGIN_S (DNS_DEFAULT_TIMEOUT_MS / 1000 + 1)
/* Most validation chain records read for zone keys. */
#define DNS_CHAIN_MAX 256

/* Where a lookup is in its life. */
enum query_state {
	QUERY_WAITING,   /* in dns->waiting, not yet given to getdns */
	QUERY_INFLIGHT,  /* in dns->inflight, getdns owns a request for it */
	QUERY_READY,     /* in dns->ready, result stored, callback pending */
	QUERY_DELIVERING /* on no list, its callback is running */
};

/* One lookup, from dns_lookup() to the end of its callback. */
struct dns_query {
	struct dns *dns;
	TAILQ_ENTRY(dns_query) entry;   /* on the list its state names */
	enum query_state state;
	enum dns_type type;
	char name[DNS_NAME_MAX + 2];    /* as given by the caller */
	char fqdn[DNS_NAME_MAX + 2];    /* with trailing dot, for getdns */
	dns_callback *cb;
	void *arg;
	getdns_context *ctx;            /* the upstream and transport asked */
	size_t upstream;                /* its index */
	int transport;                  /* and the transport's: 0 UDP, 1 TCP */
	unsigned timeout_ms;            /* this attempt's deadline */
	uint64_t queued_at_ms;          /* when dns_lookup() queued it */
	uint32_t queued_ms;             /* how long it waited for getdns */
	getdns_transaction_t tid;       /* valid while QUERY_INFLIGHT */
	struct event *timer;            /* our timeout, armed while in flight */
	/* The outcome waiting in QUERY_READY: */
	uint64_t anchor_gen;            /* the zone key generation its context
	                                   held when it started */
	bool revalidated;               /* started again after a bogus answer
	                                   with zone keys */
	uint8_t qwire[256];             /* fqdn in wire format, lower case */
	size_t qwire_len;               /* 0: not made (no zone keys) */
	bool own_check;                 /* asked with the DO bit only, for
	                                   sigcheck to judge against zone keys */
	bool handed_back;               /* sigcheck could not: asked again
	                                   for getdns to validate */
	getdns_callback_type_t cbtype;  /* what getdns reported */
	getdns_dict *response;          /* owned; NULL for none */
	const char *local_error;        /* set when getdns refused the request */
};

TAILQ_HEAD(dns_query_list, dns_query);

/* One configured upstream and the getdns contexts aimed at it alone. */
struct upstream {
	char name[80];                  /* as configured, for reports */
	getdns_context *ctx[2];         /* [0] over UDP, [1] over TCP */
	uint64_t anchor_gen[2];         /* zone key generation installed */
	bool zone_anchors[2];           /* whether that holds zone keys */
};

/*
 * A resolver: a getdns context per upstream and transport (so an attempt
 * can be aimed at one of them), and the lookup queue in front of them.
 */
struct dns {
	struct event_base *base;        /* borrowed */
	struct upstream up[DNS_MAX_UPSTREAMS];
	size_t nup;                     /* upstreams in up[] */
	getdns_dict *extensions;        /* the DNSSEC extensions of every query */
	getdns_dict *do_only;           /* the DO bit alone: answers sigcheck
	                                   judges; NULL unless zonekeys */
	getdns_list *anchors;           /* the trust anchors, to validate a
	                                   reply's RRsets one by one; NULL
	                                   unless cname_links (never with
	                                   trust_ad) */
	struct zonekeys *zonekeys;      /* validated zone key sets; NULL
	                                   unless anchors */
	getdns_list *anchor_list;       /* anchors plus zone keys, as last
	                                   built; NULL: not built */
	uint64_t anchor_list_gen;       /* the zone key generation it holds */
	uint64_t revalidated;           /* bogus answers validated again */
	uint64_t checked_here;          /* answers sigcheck found secure */
	uint64_t handed_back;           /* answers it left to getdns */
	struct event *pump;             /* admits waiting lookups, delivers */
	unsigned max_outstanding;       /* lookups inside getdns at most */
	unsigned inflight_count;        /* entries on inflight */
	struct dns_query_list waiting;  /* FIFO of lookups not yet started */
	struct dns_query_list inflight; /* lookups inside getdns */
	struct dns_query_list ready;    /* answered, callback not yet run */
	bool trust_ad;                  /* DNSSEC from the upstream's AD bit */
	bool delivering;                /* a caller's callback is running */
	bool freed;                     /* dns_free() ran during it: the pump
	                                   frees the rest when it returns */
};

/* An answer under construction, with the storage its pointers use. */
struct answer_buf {
	struct dns_answer answer;
	struct dns_cname_link links[DNS_CNAME_LINKS_MAX];
	char canonical[256];
	char error[80];
	void *records;                  /* malloc'd array of count records */
};

/* ---- small helpers --------------------------------------------------- */

/* Writes a formatted one-line message into err (if there is room). */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a formatted one-line message into err (if there is room). */
static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Returns getdns's text for a return code, never NULL. */
static const char *
getdns_err_text(getdns_return_t r)
{
	const char *s = getdns_get_errorstr_by_id((uint16_t)r);

	return s != NULL ? s : "unknown getdns error";
}

/* Maps our record type to the DNS RR type number. */
static uint16_t
rr_type_of(enum dns_type type)
{
	switch (type) {
	case DNS_MX:
		return GETDNS_RRTYPE_MX;
	case DNS_A:
		return GETDNS_RRTYPE_A;
	case DNS_AAAA:
		return GETDNS_RRTYPE_AAAA;
	case DNS_TLSA:
		return GETDNS_RRTYPE_TLSA;
	}
	return 0;
}


/* The getdns version linked in, for --version. */
const char *
dns_library_version(void)
{
	return getdns_get_version();
}

/* Returns the name of a DNSSEC status, for logs. */
const char *
dnssec_status_name(enum dnssec_status status)
{
	switch (status) {
	case DNSSEC_SECURE:
		return "secure";
	case DNSSEC_INSECURE:
		return "insecure";
	case DNSSEC_BOGUS:
		return "bogus";
	case DNSSEC_INDETERMINATE:
		return "indeterminate";
	}
	return "indeterminate";
}

/*
 * Checks that `name` is a host name we can ask for (letters, digits, '-'
 * and '_' in labels of 1..63, at most 253 characters, one optional trailing
 * dot) and writes it with a trailing dot into fqdn (room for
 * DNS_NAME_MAX + 2).  Returns false for anything else.
 */
static bool
name_to_fqdn(const char *name, char *fqdn)
{
	size_t len = strlen(name);
	size_t label = 0;
	size_t i;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > DNS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		if (++label > 63)
			return false;
	}
	memcpy(fqdn, name, len);
	fqdn[len] = '.';
	fqdn[len + 1] = '\0';
	return true;
}

/* ---- setup: upstreams, resolv.conf, trust anchor ---------------------- */

/*
 * Builds the getdns upstream dict for an address (IPv4 or IPv6, IPv6 with
 * an optional %scope) and a port.  Returns NULL with a reason in err.
 */
static getdns_dict *
upstream_dict(const char *addr, unsigned port, char *err, size_t errlen)
{
	char host[64];
	const char *scope = NULL;
	unsigned char bytes[16];
	getdns_bindata type_bd, addr_bd, scope_bd;
	getdns_dict *d;
	char *pct;
	bool ok;

	if (strlen(addr) >= sizeof(host)) {
		set_err(err, errlen, "bad resolver address \"%.64s...\"", addr);
		return NULL;
	}
	memcpy(host, addr, strlen(addr) + 1);
	if ((pct = strchr(host, '%')) != NULL) {
		*pct = '\0';
		scope = pct + 1;
	}
	if (scope == NULL && inet_pton(AF_INET, host, bytes) == 1) {
		type_bd.data = (uint8_t *)"IPv4";
		type_bd.size = 4;
		addr_bd.size = 4;
	} else if (inet_pton(AF_INET6, host, bytes) == 1 &&
	    (scope == NULL || *scope != '\0')) {
		type_bd.data = (uint8_t *)"IPv6";
		type_bd.size = 4;
		addr_bd.size = 16;
	} else {
		set_err(err, errlen, "bad resolver address \"%s\"", addr);
		return NULL;
	}
	addr_bd.data = bytes;
	if ((d = getdns_dict_create()) == NULL) {
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	ok = getdns_dict_set_bindata(d, "address_type", &type_bd) == 0 &&
	    getdns_dict_set_bindata(d, "address_data", &addr_bd) == 0 &&
	    getdns_dict_set_int(d, "port", port) == 0;
	if (ok && scope != NULL) {
		scope_bd.data = (uint8_t *)(uintptr_t)scope;
		scope_bd.size = strlen(scope);
		ok = getdns_dict_set_bindata(d, "scope_id", &scope_bd) == 0;
	}
	if (!ok) {
		getdns_dict_destroy(d);
		set_err(err, errlen, "out of memory");
		return NULL;
	}
	return d;
}

/*
 * Parses one "ADDR" or "ADDR#PORT" upstream into a getdns dict.  Returns
 * NULL with a reason in err.
 */
static getdns_dict *
parse_upstream(const char *spec, char *err, size_t errlen)
{
	char addr[64];
	const char *hash = strrchr(spec, '#');
	unsigned long port = 53;
	size_t addrlen;

	addrlen = hash != NULL ? (size_t)(hash - spec) : strlen(spec);
	if (addrlen == 0 || addrlen >= sizeof(addr)) {
		set_err(err, errlen, "bad resolver \"%.80s\"", spec);
		return NULL;
	}
	memcpy(addr, spec, addrlen);
	addr[addrlen] = '\0';
	if (hash != NULL) {
		const char *p = hash + 1;
		char *end;

		if (*p < '0' || *p > '9' || strlen(p) > 5) {
			set_err(err, errlen, "bad port in resolver \"%.80s\"",
			    spec);
			return NULL;
		}
		errno = 0;
		port = strtoul(p, &end, 10);
		if (errno != 0 || *end != '\0' || port == 0 || port > 65535) {
			set_err(err, errlen, "bad port in resolver \"%.80s\"",
			    spec);
			return NULL;
		}
	}
	return upstream_dict(addr, (unsigned)port, err, errlen);
}

/*
 * Appends the upstream `d` to `list` (taking it over).  Returns false with
 * a reason in err.
 */
static bool
list_append_dict(getdns_list *list, getdns_dict *d, char *err, size_t errlen)
{
	size_t n = 0;
	getdns_return_t r;

	(void)getdns_list_get_length(list, &n);
	r = getdns_list_set_dict(list, n, d);
	getdns_dict_destroy(d);
	if (r != GETDNS_RETURN_GOOD) {
		set_err(err, errlen, "cannot set resolver: %s",
		    getdns_err_text(r));
		return false;
	}
	return true;
}

/* Checks one upstream's syntax without keeping anything. */
bool
dns_upstream_check(const char *spec, char *err, size_t errlen)
{
	getdns_dict *d;

	if (spec == NULL) {
		set_err(err, errlen, "no resolver given");
		return false;
	}
	if ((d = parse_upstream(spec, err, errlen)) == NULL)
		return false;
	getdns_dict_destroy(d);
	return true;
}

/* Adds one upstream by name to the resolver (its contexts come later). */
static bool
add_upstream(struct dns *dns, const char *spec, char *err, size_t errlen)
{
	if (dns->nup == DNS_MAX_UPSTREAMS) {
		set_err(err, errlen, "more than %d resolvers", DNS_MAX_UPSTREAMS);
		return false;
	}
	if (!dns_upstream_check(spec, err, errlen))
		return false;
	if (strlen(spec) >= sizeof(dns->up[0].name)) {
		set_err(err, errlen, "bad resolver \"%.80s...\"", spec);
		return false;
	}
	memcpy(dns->up[dns->nup].name, spec, strlen(spec) + 1);
	dns->nup++;
	return true;
}

/*
 * Reads the `nameserver` lines of /etc/resolv.conf ourselves (getdns would
 * also take search domains and options from it).  Lines that do not hold
 * an address are skipped, as the C library does.  Returns false with a
 * reason in err when no nameserver is usable.
 */
static bool
read_resolv_conf(struct dns *dns, char *err, size_t errlen)
{
	char line[512];
	bool line_start = true;
	FILE *fp;

	if ((fp = fopen(DNS_RESOLV_CONF, "r")) == NULL) {
		set_err(err, errlen, "cannot read %s: %s", DNS_RESOLV_CONF,
		    strerror(errno));
		return false;
	}
	while (dns->nup < DNS_MAX_UPSTREAMS &&
	    fgets(line, sizeof(line), fp) != NULL) {
		bool was_start = line_start;
		char *p = line, *addr;

		/* A line longer than the buffer: only its start counts. */
		line_start = strchr(line, '\n') != NULL;
		if (!was_start || strncmp(p, "nameserver", 10) != 0)
			continue;
		p += 10;
		if (*p != ' ' && *p != '\t')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		addr = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		*p = '\0';
		/* A '#' would read as a port here, not in resolv.conf. */
		if (strchr(addr, '#') != NULL)
			continue;
		(void)add_upstream(dns, addr, NULL, 0);
	}
	fclose(fp);
	if (dns->nup == 0) {
		set_err(err, errlen, "no usable nameserver in %s",
		    DNS_RESOLV_CONF);
		return false;
	}
	return true;
}

/* Takes the upstreams from the configuration or resolv.conf. */
static bool
setup_upstreams(struct dns *dns, const char *const *upstreams, char *err,
    size_t errlen)
{
	size_t i;

	if (upstreams == NULL)
		return read_resolv_conf(dns, err, errlen);
	for (i = 0; upstreams[i] != NULL; i++)
		if (!add_upstream(dns, upstreams[i], err, errlen))
			return false;
	if (i == 0) {
		set_err(err, errlen, "empty resolver list");
		return false;
	}
	return true;
}

/*
 * Reads the DS/DNSKEY records of a trust anchor file into a new list.
 * Refuses what is not a non-empty regular file before getdns reads it (a
 * directory makes getdns_fp2rr_list spin forever), and files that do not
 * parse or hold no DS or DNSKEY.  Returns NULL with a reason in err.
 */
static getdns_list *
load_trust_anchor(const char *path, char *err, size_t errlen)
{
	getdns_list *rrs = NULL, *anchors = NULL;
	size_t n = 0, i, count = 0;
	getdns_return_t r;
	struct stat st;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		set_err(err, errlen, "cannot read trust anchor %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errlen, "trust anchor %s is not a regular file",
		    path);
		fclose(fp);
		return NULL;
	}
	if (st.st_size == 0) {
		set_err(err, errlen, "trust anchor %s is empty", path);
		fclose(fp);
		return NULL;
	}
	/* Origin NULL: getdns 1.6 fails with a generic error for ".". */
	r = getdns_fp2rr_list(fp, &rrs, NULL, 3600);
	fclose(fp);
	if (r != GETDNS_RETURN_GOOD) {
		set_err(err, errlen, "cannot parse trust anchor %s: %s", path,
		    getdns_err_text(r));
		goto fail;
	}
	if ((anchors = getdns_list_create()) == NULL) {
		set_err(err, errlen, "out of memory");
		goto fail;
	}
	(void)getdns_list_get_length(rrs, &n);
	for (i = 0; i < n; i++) {
		getdns_dict *rr;
		uint32_t type;

		if (getdns_list_get_dict(rrs, i, &rr) != GETDNS_RETURN_GOOD ||
		    getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD)
			continue;
		if (type != GETDNS_RRTYPE_DS && type != GETDNS_RRTYPE_DNSKEY)
			continue;
		if (getdns_list_set_dict(anchors, count, rr) !=
		    GETDNS_RETURN_GOOD) {
			set_err(err, errlen, "out of memory");
			goto fail;
		}
		count++;
	}
	if (count == 0) {
		set_err(err, errlen, "no DS or DNSKEY record in trust anchor %s",
		    path);
		goto fail;
	}
	getdns_list_destroy(rrs);
	return anchors;
fail:
	getdns_list_destroy(anchors);
	getdns_list_destroy(rrs);
	return NULL;
}

/* Checks a trust anchor file as dns_new() would read it. */
bool
dns_trust_anchor_check(const char *path, char *err, size_t errlen)
{
	getdns_list *anchors = load_trust_anchor(path, err, errlen);

	getdns_list_destroy(anchors);
	return anchors != NULL;
}

/* Installs the anchors as a context's only trust anchors. */
static bool
set_trust_anchors(getdns_context *ctx, getdns_list *anchors, char *err,
    size_t errlen)
{
	getdns_list *check = NULL;
	getdns_return_t r;
	size_t n = 0;
	bool ok;

	r = getdns_context_set_dnssec_trust_anchors(ctx, anchors);
	if (r != GETDNS_RETURN_GOOD) {
		set_err(err, errlen, "cannot set trust anchor: %s",
		    getdns_err_text(r));
		return false;
	}
	/* getdns converts the list to wire format and may fail silently. */
	ok = getdns_context_get_dnssec_trust_anchors(ctx, &check) ==
	    GETDNS_RETURN_GOOD && check != NULL &&
	    getdns_list_get_length(check, &n) == GETDNS_RETURN_GOOD && n > 0;
	getdns_list_destroy(check);
	if (!ok)
		set_err(err, errlen, "trust anchor was not accepted");
	return ok;
}

/*
 * Creates and configures one getdns context: stub mode on the caller's
 * event_base aimed at the one upstream `spec` over one transport, DNS
 * namespace only, no name suffixes, no zero-config DNSSEC (no trust-anchor
 * fetch, no ~/.getdns), our anchors and a timeout getdns never reaches.
 */
static getdns_context *
setup_context(struct event_base *base, const char *spec, bool tcp,
    getdns_list *anchors, char *err, size_t errlen)
{
	getdns_namespace_t dns_only = GETDNS_NAMESPACE_DNS;
	/* Over UDP, TCP comes second so that getdns asks again over TCP when
	 * the reply is truncated (TC): with UDP alone it validates the cut
	 * reply, and a signed RRset too large for 1232 bytes (many TLSA or
	 * address records) came out bogus, every time. */
	getdns_transport_list_t transports[2] = {
		tcp ? GETDNS_TRANSPORT_TCP : GETDNS_TRANSPORT_UDP,
		GETDNS_TRANSPORT_TCP,
	};
	getdns_context *ctx = NULL;
	getdns_list *list = NULL;
	getdns_dict *d;
	getdns_return_t r;
	const char *step;

	/* 0: do not read /etc/resolv.conf or /etc/hosts. */
	if ((r = getdns_context_create(&ctx, 0)) != GETDNS_RETURN_GOOD) {
		set_err(err, errlen, "cannot create getdns context: %s",
		    getdns_err_text(r));
		return NULL;
	}
	if ((r = getdns_context_set_trust_anchors_verify_CA(ctx, "")) != 0)
		step = "trust anchor fetch";
	else if ((r = getdns_context_set_trust_anchors_verify_email(ctx,
	    "")) != 0)
		step = "trust anchor fetch";
	else if ((r = getdns_context_set_resolution_type(ctx,
	    GETDNS_RESOLUTION_STUB)) != 0)
		step = "stub mode";
	else if ((r = getdns_context_set_namespaces(ctx, 1, &dns_only)) != 0)
		step = "namespaces";
	else if ((r = getdns_context_set_append_name(ctx,
	    GETDNS_APPEND_NAME_NEVER)) != 0)
		step = "append name";
	else if ((r = getdns_context_set_dns_transport_list(ctx, tcp ? 1 : 2,
	    transports)) != 0)
		step = "transport";
	/* Our attempt timers are at most the default lookup timeout; getdns
	 * must never time out first (see the lookup queue). */
	else if ((r = getdns_context_set_timeout(ctx,
	    (uint64_t)DNS_DEFAULT_TIMEOUT_MS + DNS_GETDNS_TIMEOUT_MARGIN_MS)) !=
	    0)
		step = "timeout";
	/*
	 * No limit inside getdns (0), on purpose: in getdns 1.6 a network
	 * request waiting in its limit queue stays in that queue when its
	 * lookup is cancelled or times out (or when getdns cancels its own
	 * DNSSEC chain queries), and is later submitted from freed memory;
	 * the queue's timer also outlives the context.  Measured: with a
	 * limit of 100 and 1,000 lookups, double frees and a leaked event
	 * even without any cancel from us.  Our own queue bounds the lookups
	 * (each needs a handful of DS/DNSKEY queries at most).
	 */
	else if ((r = getdns_context_set_limit_outstanding_queries(ctx,
	    0)) != 0)
		step = "query limit";
	else
		step = NULL;
	if (step != NULL) {
		set_err(err, errlen, "cannot set getdns %s: %s", step,
		    getdns_err_text(r));
		goto fail;
	}
	if ((list = getdns_list_create()) == NULL ||
	    (d = parse_upstream(spec, err, errlen)) == NULL ||
	    !list_append_dict(list, d, err, errlen))
		goto fail;
	if ((r = getdns_context_set_upstream_recursive_servers(ctx, list)) !=
	    GETDNS_RETURN_GOOD) {
		set_err(err, errlen, "cannot set resolver %s: %s", spec,
		    getdns_err_text(r));
		goto fail;
	}
	if (!set_trust_anchors(ctx, anchors, err, errlen))
		goto fail;
	if ((r = getdns_extension_set_libevent_base(ctx, base)) !=
	    GETDNS_RETURN_GOOD) {
		set_err(err, errlen, "cannot attach getdns to event_base: %s",
		    getdns_err_text(r));
		goto fail;
	}
	getdns_list_destroy(list);
	return ctx;
fail:
	getdns_list_destroy(list);
	getdns_context_destroy(ctx);
	return NULL;
}

/*
 * Builds the extensions dict every query carries: local validation, or
 * with trust_ad only the DO bit, so that the upstream validates and sets
 * AD (and getdns does not set CD).
 */
static getdns_dict *
make_extensions(bool trust_ad, bool chain)
{
	getdns_dict *ext = getdns_dict_create();

	if (ext == NULL)
		return NULL;
	if (trust_ad) {
		if (getdns_dict_set_int(ext, "/add_opt_parameters/do_bit", 1) !=
		    GETDNS_RETURN_GOOD) {
			getdns_dict_destroy(ext);
			return NULL;
		}
		return ext;
	}
	/* return_all_statuses keeps bogus replies instead of dropping them,
	 * which would make a forged answer look like "no such name".  The
	 * validation chain (the DS, DNSKEY and denial records getdns used)
	 * lets a CNAME chain's RRsets be validated one by one. */
	if (getdns_dict_set_int(ext, "dnssec_return_status",
	    GETDNS_EXTENSION_TRUE) != GETDNS_RETURN_GOOD ||
	    getdns_dict_set_int(ext, "dnssec_return_all_statuses",
	    GETDNS_EXTENSION_TRUE) != GETDNS_RETURN_GOOD ||
	    (chain && getdns_dict_set_int(ext,
	    "dnssec_return_validation_chain", GETDNS_EXTENSION_TRUE) !=
	    GETDNS_RETURN_GOOD)) {
		getdns_dict_destroy(ext);
		return NULL;
	}
	return ext;
}

static void pump_cb(evutil_socket_t fd, short what, void *arg);

/* Parses the address part of an upstream spec ("ADDR[%SCOPE][#PORT]"). */
static bool
upstream_address(const char *spec, int *family, unsigned char bytes[16])
{
	char host[64];
	size_t len = strcspn(spec, "%#");

	if (len >= sizeof(host))
		return false;
	memcpy(host, spec, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, bytes) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, host, bytes) == 1) {
		*family = AF_INET6;
		return true;
	}
	return false;
}

/* True when an address is loopback or assigned to one of our interfaces. */
static bool
address_is_local(int family, const unsigned char *bytes,
    const struct ifaddrs *ifs)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (family == AF_INET && bytes[0] == 127)
		return true;
	if (family == AF_INET6 && memcmp(bytes, v6_loopback, 16) == 0)
		return true;
	for (const struct ifaddrs *i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family)
			continue;
		if (family == AF_INET && memcmp(bytes,
		    &((const struct sockaddr_in *)(const void *)
		    i->ifa_addr)->sin_addr, 4) == 0)
			return true;
		if (family == AF_INET6 && memcmp(bytes,
		    &((const struct sockaddr_in6 *)(const void *)
		    i->ifa_addr)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

/*
 * Trusting the AD bit is safe only over a path nobody else can touch
 * (RFC 7672 2.1.1): every upstream must be a loopback address or one of
 * this machine's own.  Returns false with the first that is not.
 */
static bool
upstreams_local(const struct dns *dns, char *err, size_t errlen)
{
	struct ifaddrs *ifs = NULL;
	bool ok = true;

	if (getifaddrs(&ifs) != 0)
		ifs = NULL;
	for (size_t i = 0; ok && i < dns->nup; i++) {
		unsigned char bytes[16];
		int family;

		if (!upstream_address(dns->up[i].name, &family, bytes) ||
		    !address_is_local(family, bytes, ifs)) {
			set_err(err, errlen, "DNSSEC from the resolver's AD bit "
			    "needs a resolver on this machine: %s is not one of "
			    "its addresses", dns->up[i].name);
			ok = false;
		}
	}
	freeifaddrs(ifs);
	return ok;
}

/* Destroys every context made so far (nothing may be outstanding). */
static void
destroy_contexts(struct dns *dns)
{
	for (size_t i = 0; i < dns->nup; i++)
		for (int t = 0; t < 2; t++) {
			getdns_context_destroy(dns->up[i].ctx[t]);
			dns->up[i].ctx[t] = NULL;
		}
}

/* Creates a resolver from the configuration. */
struct dns *
dns_new(const struct dns_config *config, char *err, size_t errlen)
{
	getdns_list *anchors = NULL;
	struct dns *dns;
	unsigned max;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (config == NULL || config->base == NULL) {
		set_err(err, errlen, "no event_base");
		errno = EINVAL;
		return NULL;
	}
	max = config->max_outstanding != 0 ? config->max_outstanding :
	    DNS_DEFAULT_OUTSTANDING;
	if ((dns = calloc(1, sizeof(*dns))) == NULL) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	dns->base = config->base;
	dns->max_outstanding = max;
	TAILQ_INIT(&dns->waiting);
	TAILQ_INIT(&dns->inflight);
	TAILQ_INIT(&dns->ready);
	dns->trust_ad = config->trust_ad;
	if ((dns->extensions = make_extensions(dns->trust_ad,
	    config->cname_links)) == NULL ||
	    (dns->pump = event_new(dns->base, -1, 0, pump_cb, dns)) == NULL) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		goto fail;
	}
	/* The configuration is checked whole before any context exists. */
	if (!setup_upstreams(dns, config->upstreams, err, errlen) ||
	    (anchors = load_trust_anchor(config->trust_anchor_file != NULL ?
	    config->trust_anchor_file : DNS_DEFAULT_ANCHOR, err,
	    errlen)) == NULL) {
		errno = EINVAL;
		goto fail;
	}
	if (dns->trust_ad && !upstreams_local(dns, err, errlen)) {
		errno = EPERM;
		goto fail;
	}
	for (size_t i = 0; i < dns->nup; i++)
		for (int t = 0; t < 2; t++)
			if ((dns->up[i].ctx[t] = setup_context(dns->base,
			    dns->up[i].name, t == 1, anchors, err,
			    errlen)) == NULL) {
				errno = EIO;
				goto fail;
			}
	if (dns->trust_ad || !config->cname_links)
		getdns_list_destroy(anchors);
	else {
		dns->anchors = anchors;
		/* Without a table the zone keys are simply not kept, and
		 * without the second extensions dict answers are never
		 * judged by sigcheck: both only cost speed. */
		dns->zonekeys = zonekeys_new(0);
		if (dns->zonekeys != NULL)
			dns->do_only = make_extensions(true, false);
	}
	return dns;
fail:
	getdns_list_destroy(anchors);
	destroy_contexts(dns);
	if (dns->pump != NULL)
		event_free(dns->pump);
	getdns_dict_destroy(dns->extensions);
	free(dns);
	return NULL;
}

/* Number of upstreams. */
size_t
dns_upstream_count(const struct dns *dns)
{
	return dns->nup;
}

/* Upstream i as configured. */
const char *
dns_upstream_name(const struct dns *dns, size_t i)
{
	return i < dns->nup ? dns->up[i].name : "";
}

/* What the resolver did with zone keys. */
void
dns_get_stats(const struct dns *dns, struct dns_stats *out)
{
	struct zonekeys_stats zs;

	memset(out, 0, sizeof(*out));
	if (dns == NULL)
		return;
	zonekeys_stats(dns->zonekeys, &zs);
	out->zone_keys_learned = zs.learned;
	out->zone_keys_held = zs.held;
	out->revalidated = dns->revalidated;
	out->checked_here = dns->checked_here;
	out->handed_back = dns->handed_back;
}


/* ---- classification: getdns response -> dns_answer ------------------- */

/* Returns the name of an rcode ("SERVFAIL"), or writes "rcode N" to buf. */
static const char *
rcode_name(uint32_t rcode, char *buf, size_t buflen)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
		"NOTZONE",
	};

	if (rcode < sizeof(names) / sizeof(names[0]))
		return names[rcode];
	(void)snprintf(buf, buflen, "rcode %u", (unsigned)rcode);
	return buf;
}

/* Maps a getdns per-reply DNSSEC status to ours. */
static bool
map_dnssec(uint32_t status, enum dnssec_status *out)
{
	switch (status) {
	case GETDNS_DNSSEC_SECURE:
		*out = DNSSEC_SECURE;
		return true;
	case GETDNS_DNSSEC_BOGUS:
		*out = DNSSEC_BOGUS;
		return true;
	case GETDNS_DNSSEC_INDETERMINATE:
		*out = DNSSEC_INDETERMINATE;
		return true;
	case GETDNS_DNSSEC_INSECURE:
		*out = DNSSEC_INSECURE;
		return true;
	}
	return false;
}

/* Marks the answer failed with a one-line reason. */
static void
answer_fail(struct answer_buf *b, const char *why)
{
	b->answer.result = DNS_FAIL;
	b->answer.count = 0;
	(void)snprintf(b->error, sizeof(b->error), "%s", why);
}

/* Compares two wire-format names, ASCII case-insensitively. */
static bool
wire_name_equal(const getdns_bindata *a, const getdns_bindata *b)
{
	return a != NULL && b != NULL &&
	    wirename_equal(a->data, a->size, b->data, b->size);
}

/*
 * Converts a wire-format name to lower case text without the trailing dot
 * ("" for the root) into out.  Returns false when it does not parse or fit.
 */
static bool
wire_name_to_text(const getdns_bindata *wire, char *out, size_t outlen)
{
	char *text = NULL;
	size_t len, i;

	if (getdns_convert_dns_name_to_fqdn(wire, &text) !=
	    GETDNS_RETURN_GOOD || text == NULL)
		return false;
	len = strlen(text);
	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len >= outlen) {
		free(text);
		return false;
	}
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)text[i]);
	out[len] = '\0';
	free(text);
	return true;
}

/* Reads an integer field no larger than max from an rdata dict. */
static bool
rdata_int(getdns_dict *rdata, const char *key, uint32_t max, uint32_t *out)
{
	return getdns_dict_get_int(rdata, key, out) == GETDNS_RETURN_GOOD &&
	    *out <= max;
}

/*
 * Fills record `i` of the answer's array from the rdata of one RR of the
 * asked type.  Returns false when the rdata is malformed.
 */
static bool
parse_record(struct answer_buf *b, size_t i, getdns_dict *rdata)
{
	getdns_bindata *bd;
	uint32_t v1, v2, v3;

	switch (b->answer.type) {
	case DNS_MX: {
		struct dns_mx *mx = (struct dns_mx *)b->records + i;

		if (!rdata_int(rdata, "preference", 65535, &v1) ||
		    getdns_dict_get_bindata(rdata, "exchange", &bd) !=
		    GETDNS_RETURN_GOOD ||
		    !wire_name_to_text(bd, mx->host, sizeof(mx->host)))
			return false;
		mx->pref = v1;
		return true;
	}
	case DNS_A: {
		struct sockaddr_in *sin = (struct sockaddr_in *)
		    ((struct sockaddr_storage *)b->records + i);

		if (getdns_dict_get_bindata(rdata, "ipv4_address", &bd) !=
		    GETDNS_RETURN_GOOD || bd->size != 4)
			return false;
		sin->sin_family = AF_INET;
		sin->sin_port = 0;
		memcpy(&sin->sin_addr, bd->data, 4);
		return true;
	}
	case DNS_AAAA: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)
		    ((struct sockaddr_storage *)b->records + i);

		if (getdns_dict_get_bindata(rdata, "ipv6_address", &bd) !=
		    GETDNS_RETURN_GOOD || bd->size != 16)
			return false;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = 0;
		memcpy(&sin6->sin6_addr, bd->data, 16);
		return true;
	}
	case DNS_TLSA: {
		struct dns_tlsa *t = (struct dns_tlsa *)b->records + i;

		if (!rdata_int(rdata, "certificate_usage", 255, &v1) ||
		    !rdata_int(rdata, "selector", 255, &v2) ||
		    !rdata_int(rdata, "matching_type", 255, &v3) ||
		    getdns_dict_get_bindata(rdata,
		    "certificate_association_data", &bd) !=
		    GETDNS_RETURN_GOOD || bd->size > 65535 ||
		    (bd->size > 0 && bd->data == NULL))
			return false;
		t->usage = (uint8_t)v1;
		t->selector = (uint8_t)v2;
		t->mtype = (uint8_t)v3;
		t->len = (uint16_t)bd->size;
		t->data = bd->data;
		return true;
	}
	}
	return false;
}

/*
 * Takes the records of the asked type owned by the canonical name from the
 * reply's answer section, at most DNS_MAX_RECORDS.  Sets DNS_FOUND or
 * DNS_NODATA, or DNS_FAIL for malformed data or a TLSA RRset over the cap.
 */
static void
collect_records(struct answer_buf *b, getdns_dict *reply,
    const getdns_bindata *owner)
{
	uint16_t want = rr_type_of(b->answer.type);
	getdns_list *section;
	size_t n = 0, i, count = 0;

	if (getdns_dict_get_list(reply, "answer", &section) !=
	    GETDNS_RETURN_GOOD ||
	    getdns_list_get_length(section, &n) != GETDNS_RETURN_GOOD) {
		answer_fail(b, "malformed reply (no answer section)");
		return;
	}
	if (n > 0 && (b->records = calloc(n < DNS_MAX_RECORDS ? n :
	    DNS_MAX_RECORDS, dns_record_size(b->answer.type))) == NULL) {
		answer_fail(b, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		getdns_dict *rr, *rdata;
		getdns_bindata *name;
		uint32_t type;

		if (getdns_list_get_dict(section, i, &rr) != GETDNS_RETURN_GOOD ||
		    getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD) {
			answer_fail(b, "malformed reply (answer record)");
			return;
		}
		if (type != want)
			continue;
		if (getdns_dict_get_bindata(rr, "name", &name) !=
		    GETDNS_RETURN_GOOD || !wire_name_equal(name, owner))
			continue;
		if (count == DNS_MAX_RECORDS) {
			if (b->answer.type != DNS_TLSA)
				break;
			(void)snprintf(b->error, sizeof(b->error),
			    "more than %d TLSA records", DNS_MAX_RECORDS);
			b->answer.result = DNS_FAIL;
			b->answer.count = 0;
			return;
		}
		if (getdns_dict_get_dict(rr, "rdata", &rdata) !=
		    GETDNS_RETURN_GOOD || !parse_record(b, count, rdata)) {
			(void)snprintf(b->error, sizeof(b->error),
			    "malformed %s record",
			    b->answer.type == DNS_MX ? "MX" :
			    b->answer.type == DNS_A ? "A" :
			    b->answer.type == DNS_AAAA ? "AAAA" : "TLSA");
			b->answer.result = DNS_FAIL;
			b->answer.count = 0;
			return;
		}
		count++;
	}
	b->answer.count = count;
	b->answer.result = count > 0 ? DNS_FOUND : DNS_NODATA;
}

/*
 * The DNSSEC status of one RRset of a reply's answer section, the records
 * of `type` owned by `owner` with the RRSIGs over them, validated on its
 * own against the reply's validation chain and the trust anchors.
 */
static enum dnssec_status
rrset_status(getdns_list *answer, size_t n, const getdns_bindata *owner,
    uint32_t type, const getdns_list *chain, const getdns_list *anchors)
{
	enum dnssec_status status = DNSSEC_INDETERMINATE;
	getdns_list *set = getdns_list_create();
	size_t k = 0;

	if (set == NULL)
		return status;
	for (size_t i = 0; i < n; i++) {
		getdns_dict *rr;
		getdns_bindata *name;
		uint32_t t, covered;

		if (getdns_list_get_dict(answer, i, &rr) != GETDNS_RETURN_GOOD ||
		    getdns_dict_get_int(rr, "type", &t) != GETDNS_RETURN_GOOD ||
		    getdns_dict_get_bindata(rr, "name", &name) !=
		    GETDNS_RETURN_GOOD || !wire_name_equal(name, owner))
			continue;
		if (t != type && (t != GETDNS_RRTYPE_RRSIG ||
		    getdns_dict_get_int(rr, "/rdata/type_covered", &covered) !=
		    GETDNS_RETURN_GOOD || covered != type))
			continue;
		if (getdns_list_set_dict(set, k, rr) != GETDNS_RETURN_GOOD)
			break;
		k++;
	}
	if (k > 0 && !map_dnssec((uint32_t)getdns_validate_dnssec2(set, chain,
	    anchors, time(NULL), 0), &status))
		status = DNSSEC_INDETERMINATE;
	getdns_list_destroy(set);
	return status;
}

/* The CNAME record owned by `owner` in an answer section, or NULL. */
static getdns_dict *
find_cname(getdns_list *answer, size_t n, const getdns_bindata *owner)
{
	for (size_t i = 0; i < n; i++) {
		getdns_dict *rr;
		getdns_bindata *name;
		uint32_t t;

		if (getdns_list_get_dict(answer, i, &rr) == GETDNS_RETURN_GOOD &&
		    getdns_dict_get_int(rr, "type", &t) == GETDNS_RETURN_GOOD &&
		    t == GETDNS_RRTYPE_CNAME &&
		    getdns_dict_get_bindata(rr, "name", &name) ==
		    GETDNS_RETURN_GOOD && wire_name_equal(name, owner))
			return rr;
	}
	return NULL;
}

/*
 * Follows the CNAME links from the name asked and gives each the DNSSEC
 * status of its own RRset, and the records at the end theirs.  getdns 1.6
 * has one status per reply, the weakest of its RRsets, so a secure CNAME
 * into an unsigned zone and an unsigned CNAME into a signed zone both
 * read "insecure".  A reply that is secure or bogus as a whole is so in
 * every RRset; only an insecure or indeterminate one with CNAMEs is
 * validated again, RRset by RRset, against the validation chain the reply
 * carries.  Without a chain or anchors (cname_links off, --dnssec
 * resolver, dns_classify) every link gets the reply's status.
 */
static void
classify_links(struct answer_buf *b, getdns_dict *response,
    getdns_dict *reply, const getdns_list *anchors)
{
	getdns_list *answer, *chain = NULL;
	getdns_bindata *name;
	bool again;
	size_t n = 0;

	b->answer.records_dnssec = b->answer.dnssec;
	b->answer.cname = b->links;
	b->answer.links_exact = b->answer.dnssec != DNSSEC_INSECURE &&
	    b->answer.dnssec != DNSSEC_INDETERMINATE;
	if (getdns_dict_get_list(reply, "answer", &answer) !=
	    GETDNS_RETURN_GOOD ||
	    getdns_list_get_length(answer, &n) != GETDNS_RETURN_GOOD ||
	    getdns_dict_get_bindata(reply, "/question/qname", &name) !=
	    GETDNS_RETURN_GOOD)
		return;
	again = anchors != NULL &&
	    (b->answer.dnssec == DNSSEC_INSECURE ||
	    b->answer.dnssec == DNSSEC_INDETERMINATE) &&
	    getdns_dict_get_list(response, "validation_chain", &chain) ==
	    GETDNS_RETURN_GOOD;
	if (again)
		b->answer.links_exact = true;
	while (b->answer.cname_count < DNS_CNAME_LINKS_MAX) {
		struct dns_cname_link *l = &b->links[b->answer.cname_count];
		getdns_dict *rr = find_cname(answer, n, name);
		getdns_bindata *target;

		if (rr == NULL || getdns_dict_get_bindata(rr, "/rdata/cname",
		    &target) != GETDNS_RETURN_GOOD ||
		    !wire_name_to_text(name, l->owner, sizeof(l->owner)))
			break;
		l->dnssec = again ? rrset_status(answer, n, name,
		    GETDNS_RRTYPE_CNAME, chain, anchors) : b->answer.dnssec;
		b->answer.cname_count++;
		name = target;
	}
	if (again && b->answer.cname_count > 0 &&
	    b->answer.result == DNS_FOUND)
		b->answer.records_dnssec = rrset_status(answer, n, name,
		    rr_type_of(b->answer.type), chain, anchors);
}

/*
 * Classifies a complete getdns response, in this order: a reply must be
 * there; its rcode must be NOERROR or NXDOMAIN (a SERVFAIL carries an
 * "insecure" status, so the rcode goes first); a bogus reply fails; then
 * NXDOMAIN, NODATA or FOUND.  Failures other than bogus report the DNSSEC
 * status as indeterminate: nothing was validated.
 */
static void
classify_response(struct answer_buf *b, getdns_dict *response, bool trust_ad,
    const getdns_list *anchors)
{
	getdns_list *replies;
	getdns_dict *reply;
	getdns_bindata *owner;
	uint32_t rcode, status;
	enum dnssec_status dnssec;
	char rbuf[24];
	size_t n = 0;

	if (response == NULL ||
	    getdns_dict_get_list(response, "replies_tree", &replies) !=
	    GETDNS_RETURN_GOOD ||
	    getdns_list_get_length(replies, &n) != GETDNS_RETURN_GOOD ||
	    n == 0 ||
	    getdns_list_get_dict(replies, 0, &reply) != GETDNS_RETURN_GOOD) {
		answer_fail(b, "no reply");
		return;
	}
	if (getdns_dict_get_int(reply, "/header/rcode", &rcode) !=
	    GETDNS_RETURN_GOOD) {
		answer_fail(b, "malformed reply (no rcode)");
		return;
	}
	if (rcode != GETDNS_RCODE_NOERROR && rcode != GETDNS_RCODE_NXDOMAIN) {
		answer_fail(b, rcode_name(rcode, rbuf, sizeof(rbuf)));
		return;
	}
	if (trust_ad) {
		/* A local validating resolver answers SERVFAIL for bogus
		 * data (we never set CD here): AD is secure, else insecure
		 * (RFC 7672 2.1.1). */
		if (getdns_dict_get_int(reply, "/header/ad", &status) !=
		    GETDNS_RETURN_GOOD) {
			answer_fail(b, "malformed reply (no AD bit)");
			return;
		}
		dnssec = status != 0 ? DNSSEC_SECURE : DNSSEC_INSECURE;
	} else if (getdns_dict_get_int(reply, "dnssec_status", &status) !=
	    GETDNS_RETURN_GOOD || !map_dnssec(status, &dnssec)) {
		answer_fail(b, "no DNSSEC status in reply");
		return;
	}
	if (dnssec == DNSSEC_BOGUS) {
		answer_fail(b, "DNSSEC validation failed (bogus)");
		b->answer.dnssec = DNSSEC_BOGUS;
		return;
	}
	/* The owner of the records after CNAMEs; without one, the qname. */
	if (getdns_dict_get_bindata(reply, "canonical_name", &owner) !=
	    GETDNS_RETURN_GOOD &&
	    getdns_dict_get_bindata(reply, "/question/qname", &owner) !=
	    GETDNS_RETURN_GOOD) {
		answer_fail(b, "malformed reply (no name)");
		return;
	}
	if (!wire_name_to_text(owner, b->canonical, sizeof(b->canonical))) {
		answer_fail(b, "malformed reply (bad name)");
		return;
	}
	b->answer.dnssec = dnssec;
	if (rcode == GETDNS_RCODE_NXDOMAIN) {
		b->answer.result = DNS_NXDOMAIN;
		b->answer.ttl = dnsttl_of_reply(reply,
		    rr_type_of(b->answer.type), true, (uint32_t)time(NULL));
		classify_links(b, response, reply, anchors);
		return;
	}
	collect_records(b, reply, owner);
	if (b->answer.result == DNS_FAIL) {
		b->answer.dnssec = DNSSEC_INDETERMINATE;
		return;
	}
	b->answer.ttl = dnsttl_of_reply(reply, rr_type_of(b->answer.type),
	    b->answer.result == DNS_NODATA, (uint32_t)time(NULL));
	classify_links(b, response, reply, anchors);
}

/* Builds the answer of a ready query into b (storage owned by b). */
static void
build_answer(struct answer_buf *b, const struct dns_query *q)
{
	memset(b, 0, sizeof(*b));
	b->answer.type = q->type;
	b->answer.name = q->name;
	/* dns_classify() has no resolver behind its query. */
	b->answer.upstream = q->dns != NULL ? q->dns->up[q->upstream].name : "";
	b->answer.queued_ms = q->queued_ms;
	b->answer.dnssec = DNSSEC_INDETERMINATE;
	b->answer.records_dnssec = DNSSEC_INDETERMINATE;
	b->answer.result = DNS_FAIL;
	/* Until a reply names another owner: the name asked, normalised. */
	(void)snprintf(b->canonical, sizeof(b->canonical), "%s", q->fqdn);
	if (b->canonical[0] != '\0')
		b->canonical[strlen(b->canonical) - 1] = '\0';
	for (char *p = b->canonical; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);

	if (q->local_error != NULL)
		answer_fail(b, q->local_error);
	else if (q->cbtype == GETDNS_CALLBACK_TIMEOUT) {
		answer_fail(b, "timeout");
		b->answer.timed_out = true;
	}
	else if (q->cbtype != GETDNS_CALLBACK_COMPLETE) {
		answer_fail(b, "lookup error");
		b->answer.transient = true;
	}
	else
		classify_response(b, q->response,
		    q->dns != NULL && q->dns->trust_ad,
		    q->dns != NULL ? q->dns->anchors : NULL);

	if (b->answer.result != DNS_FAIL)
		b->error[0] = '\0';
	else
		b->answer.ttl = 0;
	if (b->answer.result != DNS_FOUND)
		b->answer.records_dnssec = b->answer.dnssec;
	b->answer.canonical = b->canonical;
	b->answer.error = b->error;
	switch (q->type) {
	case DNS_MX:
		b->answer.mx = b->records;
		break;
	case DNS_A:
	case DNS_AAAA:
		b->answer.addr = b->records;
		break;
	case DNS_TLSA:
		b->answer.tlsa = b->records;
		break;
	}
	if (b->answer.count == 0) {
		b->answer.mx = NULL;
		b->answer.addr = NULL;
		b->answer.tlsa = NULL;
	}
}

/* ---- zone keys -------------------------------------------------------- */

/* One validation chain record as zonekeys reads it; false to skip it. */
static bool
chain_record(getdns_dict *rr, struct zonekeys_record *out)
{
	getdns_bindata *name, *raw;
	uint32_t type, ttl, v;

	memset(out, 0, sizeof(*out));
	if (getdns_dict_get_bindata(rr, "name", &name) != GETDNS_RETURN_GOOD ||
	    getdns_dict_get_int(rr, "type", &type) != GETDNS_RETURN_GOOD ||
	    getdns_dict_get_int(rr, "ttl", &ttl) != GETDNS_RETURN_GOOD)
		return false;
	out->owner = name->data;
	out->owner_len = name->size;
	out->type = (uint16_t)type;
	out->ttl = ttl;
	switch (type) {
	case GETDNS_RRTYPE_DNSKEY:
		if (getdns_dict_get_bindata(rr, "/rdata/rdata_raw", &raw) !=
		    GETDNS_RETURN_GOOD)
			return false;
		out->rdata = raw->data;
		out->rdata_len = raw->size;
		return true;
	case GETDNS_RRTYPE_DS:
		return true;
	case GETDNS_RRTYPE_RRSIG:
		if (getdns_dict_get_int(rr, "/rdata/type_covered", &v) !=
		    GETDNS_RETURN_GOOD)
			return false;
		out->covered = (uint16_t)v;
		if (getdns_dict_get_int(rr, "/rdata/key_tag", &v) !=
		    GETDNS_RETURN_GOOD)
			return false;
		out->key_tag = (uint16_t)v;
		return getdns_dict_get_int(rr, "/rdata/original_ttl",
		    &out->original_ttl) == GETDNS_RETURN_GOOD &&
		    getdns_dict_get_int(rr, "/rdata/signature_expiration",
		    &out->expiration) == GETDNS_RETURN_GOOD;
	}
	return false;
}

/*
 * Keeps the DNSKEY sets of a secure reply's validation chain.  getdns puts
 * in the chain only the RRsets it authenticated, and the reply's own
 * status is checked again here: nothing from any other reply is kept.
 */
static void
zone_keys_learn(struct dns *dns, const struct dns_query *q,
    const struct dns_answer *answer)
{
	getdns_dict *response = q->response;
	struct zonekeys_record recs[DNS_CHAIN_MAX];
	getdns_list *chain;
	uint32_t status;
	size_t n = 0, k = 0;

	if (dns->zonekeys == NULL || response == NULL ||
	    getdns_dict_get_int(response, "/replies_tree/0/dnssec_status",
	    &status) != GETDNS_RETURN_GOOD || status != GETDNS_DNSSEC_SECURE ||
	    getdns_dict_get_list(response, "validation_chain", &chain) !=
	    GETDNS_RETURN_GOOD ||
	    getdns_list_get_length(chain, &n) != GETDNS_RETURN_GOOD)
		return;
	for (size_t i = 0; i < n && k < DNS_CHAIN_MAX; i++) {
		getdns_dict *rr;

		if (getdns_list_get_dict(chain, i, &rr) == GETDNS_RETURN_GOOD &&
		    chain_record(rr, &recs[k]))
			k++;
	}
	(void)zonekeys_learn(dns->zonekeys, recs, k, time(NULL),
	    DNS_ZONE_KEY_MARGIN_S);
	/* Records or a NODATA at the name come from the zone holding it; an
	 * NXDOMAIN is signed by whichever zone lacks the name, often a TLD
	 * (a mistyped domain), which must not be taken for the zone of
	 * every name below it. */
	if (answer->result == DNS_FOUND || answer->result == DNS_NODATA)
		zonekeys_mark_signer(dns->zonekeys, q->qwire, q->qwire_len);
}

/* Appends one DNSKEY anchor record to a list. */
static bool
append_key(getdns_list *list, size_t at, const struct zonekeys_key *key)
{
	getdns_bindata name = { key->owner_len, (uint8_t *)key->owner };
	getdns_bindata raw = { key->rdata_len, (uint8_t *)key->rdata };
	getdns_dict *rr = getdns_dict_create();
	bool ok = rr != NULL &&
	    getdns_dict_set_bindata(rr, "name", &name) == GETDNS_RETURN_GOOD &&
	    getdns_dict_set_int(rr, "type", GETDNS_RRTYPE_DNSKEY) ==
	    GETDNS_RETURN_GOOD &&
	    getdns_dict_set_int(rr, "class", GETDNS_RRCLASS_IN) ==
	    GETDNS_RETURN_GOOD &&
	    getdns_dict_set_int(rr, "ttl", 0) == GETDNS_RETURN_GOOD &&
	    getdns_dict_set_bindata(rr, "/rdata/rdata_raw", &raw) ==
	    GETDNS_RETURN_GOOD &&
	    getdns_list_set_dict(list, at, rr) == GETDNS_RETURN_GOOD;

	getdns_dict_destroy(rr);
	return ok;
}

/* The configured anchors and every held zone key, as one list; NULL when
 * out of memory. */
static getdns_list *
anchors_build(const struct dns *dns)
{
	getdns_list *list = getdns_list_create();
	const struct zonekeys_key *keys;
	size_t n = 0, nkeys, at = 0;

	if (list == NULL ||
	    getdns_list_get_length(dns->anchors, &n) != GETDNS_RETURN_GOOD)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		getdns_dict *rr;

		if (getdns_list_get_dict(dns->anchors, i, &rr) !=
		    GETDNS_RETURN_GOOD ||
		    getdns_list_set_dict(list, at++, rr) != GETDNS_RETURN_GOOD)
			goto fail;
	}
	keys = zonekeys_keys(dns->zonekeys, &nkeys);
	for (size_t i = 0; i < nkeys; i++)
		if (!append_key(list, at++, &keys[i]))
			goto fail;
	return list;
fail:
	getdns_list_destroy(list);
	return NULL;
}

/*
 * Brings the anchors of the context a query is about to use up to date:
 * expired zone keys out, new ones in; notes in the query the generation
 * its context holds.  When the new list cannot be made or set, the
 * context gets the configured anchors alone, which validate everything,
 * only slower.
 */
static void
anchors_refresh(struct dns *dns, struct dns_query *q)
{
	struct upstream *up = &dns->up[q->upstream];
	int t = q->transport;
	uint64_t gen;
	size_t nkeys;

	if (dns->zonekeys == NULL)
		return;
	(void)zonekeys_expire(dns->zonekeys, time(NULL));
	gen = zonekeys_generation(dns->zonekeys);
	if (up->anchor_gen[t] != gen) {
		if (dns->anchor_list == NULL || dns->anchor_list_gen != gen) {
			getdns_list_destroy(dns->anchor_list);
			dns->anchor_list = anchors_build(dns);
			dns->anchor_list_gen = gen;
		}
		(void)zonekeys_keys(dns->zonekeys, &nkeys);
		up->anchor_gen[t] = gen;
		up->zone_anchors[t] = dns->anchor_list != NULL && nkeys > 0 &&
		    getdns_context_set_dnssec_trust_anchors(q->ctx,
		    dns->anchor_list) == GETDNS_RETURN_GOOD;
		if (!up->zone_anchors[t])
			(void)getdns_context_set_dnssec_trust_anchors(q->ctx,
			    dns->anchors);
	}
	q->anchor_gen = up->anchor_gen[t];
}

/* ---- the lookup queue ------------------------------------------------- */

/* Frees a query that is on no list, with any response it holds. */
static void
query_free(struct dns_query *q)
{
	if (q->timer != NULL)
		event_free(q->timer);
	getdns_dict_destroy(q->response);
	free(q);
}

/* Schedules the pump to run from the event loop. */
static void
pump_kick(struct dns *dns)
{
	event_active(dns->pump, EV_TIMEOUT, 0);
}

/* Moves an in-flight query to the ready list with its outcome. */
static void
query_ready(struct dns_query *q, getdns_callback_type_t cbtype,
    getdns_dict *response, const char *local_error)
{
	struct dns *dns = q->dns;

	TAILQ_REMOVE(&dns->inflight, q, entry);
	dns->inflight_count--;
	(void)evtimer_del(q->timer);
	q->state = QUERY_READY;
	q->cbtype = cbtype;
	q->response = response;
	q->local_error = local_error;
	TAILQ_INSERT_TAIL(&dns->ready, q, entry);
	pump_kick(dns);
}

/*
 * Receives every getdns outcome.  It only files the response: the caller's
 * callback runs later from the pump, outside getdns's stack (and so also
 * when getdns answers synchronously from inside getdns_general).
 */
static void
getdns_cb(getdns_context *ctx, getdns_callback_type_t cbtype,
    getdns_dict *response, void *userarg, getdns_transaction_t tid)
{
	struct dns_query *q = userarg;

	/* CANCEL comes from our own getdns_cancel_callback() or from
	 * getdns_context_destroy(): the query is being freed by our caller. */
	if (cbtype == GETDNS_CALLBACK_CANCEL || q == NULL ||
	    q->state != QUERY_INFLIGHT) {
		getdns_dict_destroy(response);
		return;
	}
	query_ready(q, cbtype, response, NULL);
}

/*
 * Times out an in-flight lookup: it is cancelled inside getdns (with its
 * DNSSEC chain queries) and answered "timeout".
 */
static void
query_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns_query *q = arg;

	if (q->state != QUERY_INFLIGHT)
		return;
	/* Ready first, so the synchronous CANCEL callback finds the query no
	 * longer in flight. */
	query_ready(q, GETDNS_CALLBACK_TIMEOUT, NULL, NULL);
	(void)getdns_cancel_callback(q->ctx, q->tid);
}

/*
 * Makes the query's name in wire format, lower case, for zonekeys and
 * sigcheck; on failure it stays unmade and getdns validates the answer.
 */
static void
query_wire_name(struct dns_query *q)
{
	getdns_bindata *wire = NULL;

	if (q->qwire_len != 0 ||
	    getdns_convert_fqdn_to_dns_name(q->fqdn, &wire) !=
	    GETDNS_RETURN_GOOD || wire == NULL)
		return;
	if (wire->size <= sizeof(q->qwire)) {
		for (size_t i = 0; i < wire->size; i++)
			q->qwire[i] = wirename_lower(wire->data[i]);
		q->qwire_len = wire->size;
	}
	free(wire->data);
	free(wire);
}

/*
 * Whether to ask for the answer with the DO bit alone and have sigcheck
 * judge it: the closest zone above the name whose keys are held has
 * signed answers before (a TLD's keys sign delegations, not the answers
 * below it, and trying those would cost a second query each), and the
 * query has not been handed back or revalidated.
 */
static bool
own_check_wanted(struct dns *dns, struct dns_query *q)
{
	if (dns->do_only == NULL || q->handed_back || q->revalidated)
		return false;
	return q->qwire_len != 0 &&
	    zonekeys_signs_answers(dns->zonekeys, q->qwire, q->qwire_len);
}

/* Hands a waiting query to getdns. */
static void
query_start(struct dns *dns, struct dns_query *q)
{
	uint64_t waited = clock_ms() - q->queued_at_ms;
	getdns_return_t r;

	q->queued_ms = waited < UINT32_MAX ? (uint32_t)waited : UINT32_MAX;
	anchors_refresh(dns, q);
	if (dns->zonekeys != NULL)
		query_wire_name(q);   /* for zonekeys and sigcheck */
	q->own_check = own_check_wanted(dns, q);
	q->state = QUERY_INFLIGHT;
	TAILQ_INSERT_TAIL(&dns->inflight, q, entry);
	dns->inflight_count++;
	r = getdns_general(q->ctx, q->fqdn, rr_type_of(q->type),
	    q->own_check ? dns->do_only : dns->extensions, q, &q->tid,
	    getdns_cb);
	/* getdns may have called back already: then q is ready. */
	if (r != GETDNS_RETURN_GOOD && q->state == QUERY_INFLIGHT)
		query_ready(q, GETDNS_CALLBACK_ERROR, NULL, getdns_err_text(r));
	if (q->state == QUERY_INFLIGHT) {
		/* Relative to libevent's clock, like getdns's own timers set
		 * in the same callback: ours comes first. */
		struct timeval tv = { (time_t)(q->timeout_ms / 1000),
			(suseconds_t)(q->timeout_ms % 1000) * 1000 };

		if (evtimer_add(q->timer, &tv) != 0) {
			query_ready(q, GETDNS_CALLBACK_ERROR, NULL,
			    "cannot arm timer");
			(void)getdns_cancel_callback(q->ctx, q->tid);
		}
	}
}

/* Starts waiting queries, oldest first, while getdns has room. */
static void
queue_admit(struct dns *dns)
{
	struct dns_query *q;

	while (dns->inflight_count < dns->max_outstanding &&
	    (q = TAILQ_FIRST(&dns->waiting)) != NULL) {
		TAILQ_REMOVE(&dns->waiting, q, entry);
		query_start(dns, q);
	}
}

/*
 * Whether zone keys may have validated a query's answer: getdns reads the
 * context's anchors when the answer is complete.  Unchanged since the
 * query started, they are what the context holds now; changed, they may
 * have held keys at some point.
 */
static bool
zone_anchors_used(const struct dns *dns, const struct dns_query *q)
{
	const struct upstream *up = &dns->up[q->upstream];

	return up->zone_anchors[q->transport] ||
	    up->anchor_gen[q->transport] != q->anchor_gen;
}

/* Puts an answered query back at the head of the queue, to be asked
 * again (its flags say how). */
static void
query_requeue(struct dns *dns, struct dns_query *q)
{
	getdns_dict_destroy(q->response);
	q->response = NULL;
	q->local_error = NULL;
	q->state = QUERY_WAITING;
	TAILQ_INSERT_HEAD(&dns->waiting, q, entry);
}

/*
 * Puts a query whose answer came out bogus with zone keys back in the
 * queue, after forgetting every zone key: it is validated again from the
 * root (once).
 */
static void
query_revalidate(struct dns *dns, struct dns_query *q)
{
	(void)zonekeys_forget(dns->zonekeys);
	dns->revalidated++;
	q->revalidated = true;
	query_requeue(dns, q);
}

/*
 * Judges an answer asked with the DO bit alone: when sigcheck finds it
 * secure by the held zone keys it is marked secure, as getdns would have
 * marked it, and classified as usual.  Returns false when sigcheck cannot
 * say (then getdns must validate it).
 */
static bool
own_check(struct dns *dns, struct dns_query *q)
{
	getdns_bindata *wire;
	getdns_dict *reply;

	(void)zonekeys_expire(dns->zonekeys, time(NULL));
	if (getdns_dict_get_bindata(q->response, "/replies_full/0", &wire) !=
	    GETDNS_RETURN_GOOD ||
	    getdns_dict_get_dict(q->response, "/replies_tree/0", &reply) !=
	    GETDNS_RETURN_GOOD ||
	    !sigcheck_reply(wire->data, wire->size, q->qwire, q->qwire_len,
	    rr_type_of(q->type), dns->zonekeys, (uint32_t)time(NULL), NULL) ||
	    getdns_dict_set_int(reply, "dnssec_status",
	    GETDNS_DNSSEC_SECURE) != GETDNS_RETURN_GOOD)
		return false;
	dns->checked_here++;
	return true;
}

/* Runs the callback of the oldest ready query, then frees it. */
static void
queue_deliver_one(struct dns *dns)
{
	struct dns_query *q = TAILQ_FIRST(&dns->ready);
	struct answer_buf b;

	TAILQ_REMOVE(&dns->ready, q, entry);
	q->state = QUERY_DELIVERING;
	if (q->own_check && q->cbtype == GETDNS_CALLBACK_COMPLETE &&
	    q->local_error == NULL && !own_check(dns, q)) {
		dns->handed_back++;
		q->handed_back = true;
		query_requeue(dns, q);
		return;
	}
	build_answer(&b, q);
	if (b.answer.dnssec == DNSSEC_BOGUS && !q->revalidated &&
	    zone_anchors_used(dns, q)) {
		free(b.records);
		query_revalidate(dns, q);
		return;
	}
	if (b.answer.dnssec == DNSSEC_SECURE)
		zone_keys_learn(dns, q, &b.answer);
	dns->delivering = true;
	q->cb(q->arg, &b.answer);
	dns->delivering = false;
	free(b.records);
	query_free(q);
}

/* The pump: admits waiting lookups and delivers ready answers. */
static void
pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;

	for (;;) {
		if (dns->freed) {
			/* A callback called dns_free(): finish it here. */
			event_free(dns->pump);
			free(dns);
			return;
		}
		queue_admit(dns);
		if (TAILQ_EMPTY(&dns->ready))
			break;
		queue_deliver_one(dns);
	}
}

/* Queues a lookup; the pump starts it when getdns has room. */
struct dns_query *
dns_lookup(struct dns *dns, const char *name, enum dns_type type,
    const struct dns_attempt *how, dns_callback *cb, void *arg)
{
	struct dns_query *q;

	if (dns == NULL || dns->freed || name == NULL || cb == NULL ||
	    how == NULL || how->upstream >= dns->nup ||
	    rr_type_of(type) == 0 || strlen(name) > DNS_NAME_MAX + 1)
		return NULL;
	if ((q = calloc(1, sizeof(*q))) == NULL)
		return NULL;
	if (!name_to_fqdn(name, q->fqdn) ||
	    (q->timer = evtimer_new(dns->base, query_timeout_cb, q)) == NULL) {
		query_free(q);
		return NULL;
	}
	memcpy(q->name, name, strlen(name) + 1);
	q->dns = dns;
	q->upstream = how->upstream;
	q->transport = how->tcp ? 1 : 0;
	q->ctx = dns->up[how->upstream].ctx[q->transport];
	q->timeout_ms = how->timeout_ms != 0 ? how->timeout_ms :
	    DNS_DEFAULT_TIMEOUT_MS;
	if (q->timeout_ms > DNS_DEFAULT_TIMEOUT_MS)
		q->timeout_ms = DNS_DEFAULT_TIMEOUT_MS; /* see setup_context */
	q->type = type;
	q->cb = cb;
	q->arg = arg;
	q->state = QUERY_WAITING;
	q->queued_at_ms = clock_ms();
	TAILQ_INSERT_TAIL(&dns->waiting, q, entry);
	pump_kick(dns);
	return q;
}

/* Cancels a lookup in any state before its callback; frees it. */
void
dns_cancel(struct dns_query *q)
{
	struct dns *dns;

	if (q == NULL)
		return;
	dns = q->dns;
	switch (q->state) {
	case QUERY_WAITING:
		TAILQ_REMOVE(&dns->waiting, q, entry);
		break;
	case QUERY_INFLIGHT:
		TAILQ_REMOVE(&dns->inflight, q, entry);
		dns->inflight_count--;
		/* Mark it first: the CANCEL callback comes synchronously. */
		q->state = QUERY_DELIVERING;
		(void)getdns_cancel_callback(q->ctx, q->tid);
		if (!TAILQ_EMPTY(&dns->waiting))
			pump_kick(dns);
		break;
	case QUERY_READY:
		TAILQ_REMOVE(&dns->ready, q, entry);
		break;
	case QUERY_DELIVERING:
		return; /* its callback is running: nothing left to cancel */
	}
	query_free(q);
}

/*
 * Cancels every lookup, then destroys the context and frees.  Called from
 * inside a dns callback (which the header forbids, but the engine's own
 * teardown could come to it), the struct and the pump event outlive the
 * call until that callback returns.
 */
void
dns_free(struct dns *dns)
{
	struct dns_query *q;

	if (dns == NULL || dns->freed)
		return;
	while ((q = TAILQ_FIRST(&dns->waiting)) != NULL)
		dns_cancel(q);
	while ((q = TAILQ_FIRST(&dns->inflight)) != NULL)
		dns_cancel(q);
	while ((q = TAILQ_FIRST(&dns->ready)) != NULL)
		dns_cancel(q);
	/* Nothing of ours is outstanding now, and we are not inside a getdns
	 * callback (answers reach callers from the pump). */
	destroy_contexts(dns);
	getdns_dict_destroy(dns->extensions);
	dns->extensions = NULL;
	getdns_dict_destroy(dns->do_only);
	dns->do_only = NULL;
	getdns_list_destroy(dns->anchors);
	dns->anchors = NULL;
	zonekeys_free(dns->zonekeys);
	dns->zonekeys = NULL;
	getdns_list_destroy(dns->anchor_list);
	dns->anchor_list = NULL;
	if (dns->delivering) {
		dns->freed = true;
		return;
	}
	event_free(dns->pump);
	free(dns);
}

/* Classifies a response without a resolver, as build_answer() does. */
bool
dns_classify(enum dns_type type, const char *name, getdns_dict *response,
    dns_callback *cb, void *arg)
{
	struct dns_query q;
	struct answer_buf b;

	memset(&q, 0, sizeof(q));
	if (name == NULL || cb == NULL || rr_type_of(type) == 0 ||
	    strlen(name) > DNS_NAME_MAX + 1 || !name_to_fqdn(name, q.fqdn))
		return false;
	memcpy(q.name, name, strlen(name) + 1);
	q.type = type;
	q.cbtype = GETDNS_CALLBACK_COMPLETE;
	q.response = response;
	build_answer(&b, &q);
	cb(arg, &b.answer);
	free(b.records);
	return true;
}
