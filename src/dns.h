/*
 * dns: the only module that touches getdns.  Asynchronous stub resolution on
 * the engine's event_base, with DNSSEC validated here against a configured
 * trust anchor, or (trust_ad) taken from the AD bit of a resolver on this
 * machine.  Every answer keeps
 * "found", "does not exist" and "lookup failed" apart, and carries its DNSSEC
 * status, because DANE decisions depend on both.
 *
 * One lookup here is one attempt: at one upstream, over one transport, with
 * one deadline, and no retry.  Retries, failover and caching are
 * dnscache's job, above this module.
 */
#ifndef MXC_DNS_H
#define MXC_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for a name in text form without the trailing dot, with its NUL. */
#define DNS_NAME_MAX_TEXT 256

struct event_base;
struct dns;
struct dns_query;

/* Record types the engine asks for. */
enum dns_type {
	DNS_MX,
	DNS_A,
	DNS_AAAA,
	DNS_TLSA
};

/* DNSSEC status of an answer, as validated locally. */
enum dnssec_status {
	DNSSEC_SECURE,        /* signed, chain to the anchor verified */
	DNSSEC_INSECURE,      /* provably unsigned (secure proof of no DS) */
	DNSSEC_BOGUS,         /* signatures or proofs do not verify */
	DNSSEC_INDETERMINATE  /* no anchor covers the name: unknown */
};

/* What a lookup found.  Only DNS_FAIL means "ask again later". */
enum dns_result {
	DNS_FOUND,    /* NOERROR with records of the type (count > 0) */
	DNS_NODATA,   /* NOERROR, name exists, no records of the type */
	DNS_NXDOMAIN, /* the name does not exist */
	DNS_FAIL      /* SERVFAIL, REFUSED, other rcodes, timeout, a bogus
	                 answer, a malformed answer, local error */
};

/* Most CNAME links an answer reports one by one (a longer chain: the
 * first ones; getdns itself follows at most a handful). */
#define DNS_CNAME_LINKS_MAX 8

/* One CNAME link followed: the CNAME RRset owned by `owner`. */
struct dns_cname_link {
	char owner[DNS_NAME_MAX_TEXT]; /* lower case, no trailing dot */
	enum dnssec_status dnssec;     /* of this CNAME RRset alone */
};

/* One MX record. */
struct dns_mx {
	unsigned pref;  /* preference, lower first */
	char host[256]; /* target host name, no trailing dot, lower case;
	                   "" for the root "." (a null MX, RFC 7505) */
};

/* One TLSA record (RFC 6698). */
struct dns_tlsa {
	uint8_t usage, selector, mtype;
	uint16_t len;         /* bytes in data */
	const uint8_t *data;  /* certificate association data */
};

/* Bytes one record of `type` takes in an answer's records array (shared by
 * the resolver, which fills it, and the cache, which copies it). */
static inline size_t dns_record_size(enum dns_type type)
{
	switch (type) {
	case DNS_MX:
		return sizeof(struct dns_mx);
	case DNS_A:
	case DNS_AAAA:
		return sizeof(struct sockaddr_storage);
	case DNS_TLSA:
		return sizeof(struct dns_tlsa);
	}
	return 1;
}

/* An answer, valid only during the callback. */
struct dns_answer {
	enum dns_type type;
	enum dns_result result;
	enum dnssec_status dnssec; /* of the answer (or of the denial) */
	const char *name;          /* the name asked, as given */
	/* The owner of the records after following CNAMEs, lower case and
	 * without trailing dot; equals name when no CNAME was involved. */
	const char *canonical;
	/* For DNS_FAIL: why, one line, e.g. "SERVFAIL", "timeout",
	 * "DNSSEC validation failed (bogus)".  "" otherwise. */
	const char *error;
	/* Seconds the answer may be reused: for records the smallest TTL of
	 * the records and CNAMEs used (no longer than an RRSIG's original TTL
	 * or its time to expiry); for NXDOMAIN/NODATA min(SOA TTL, SOA
	 * MINIMUM) from the authority section (RFC 2308), 0 without an SOA;
	 * 0 for DNS_FAIL. */
	uint32_t ttl;
	/* DNS_FAIL because no reply came before the attempt's deadline. */
	bool timed_out;
	/* DNS_FAIL because of a local or network error before any reply
	 * (e.g. a send refused by a firewall): worth another attempt. */
	bool transient;
	/* Milliseconds the attempt waited in the queue before getdns got it
	 * (max_outstanding); its deadline ran only after that. */
	uint32_t queued_ms;
	/* The upstream asked, as configured ("ADDR" or "ADDR#PORT"). */
	const char *upstream;
	/* The CNAME links from `name` to `canonical`, in order (cname_count
	 * 0: none), each with the DNSSEC status of its own RRset, and the
	 * status of the records at `canonical` alone (for DNS_FOUND; else
	 * `dnssec`).  `dnssec` stays the reply's, the weakest of them
	 * (getdns 1.6 validates a reply as a whole); the links tell a secure
	 * CNAME into an unsigned zone (RFC 7672 2.2.2) from an insecure one.
	 * With --dnssec resolver one AD bit covers the reply: every link and
	 * the records carry `dnssec`, and so they do when the resolver was
	 * made without cname_links (struct dns_config). */
	size_t cname_count;
	const struct dns_cname_link *cname;
	enum dnssec_status records_dnssec;
	/* Each link's (and the records') status is its own RRset's: the
	 * reply was validated RRset by RRset, or was secure or bogus as a
	 * whole.  False when an insecure reply's status was only copied to
	 * every link: then a link reading "insecure" may be signed. */
	bool links_exact;
	size_t count;                 /* records in the array below */
	const struct dns_mx *mx;      /* DNS_MX */
	const struct sockaddr_storage *addr; /* DNS_A/DNS_AAAA; port 0 */
	const struct dns_tlsa *tlsa;  /* DNS_TLSA */
};

/* Resolver settings. */
struct dns_config {
	struct event_base *base;   /* borrowed */
	/* NULL-terminated "ADDR" / "ADDR#PORT" upstreams (IPv4 or IPv6);
	 * NULL: the nameservers of /etc/resolv.conf. */
	const char *const *upstreams;
	/* DS/DNSKEY zone-file lines; NULL: /usr/share/dns/root.key. */
	const char *trust_anchor_file;
	/* Take DNSSEC status from the upstreams' AD bit instead of
	 * validating here; allowed only when every upstream is a loopback
	 * address or one of this machine's (else dns_new fails, errno
	 * EPERM). */
	bool trust_ad;
	/* Give each CNAME link of an answer its own DNSSEC status (struct
	 * dns_answer's cname[]): every query then asks getdns for its
	 * validation chain (no measurable CPU: doc/dns.md), and an insecure
	 * reply with CNAMEs is validated again RRset by RRset; off: every
	 * link carries the reply's status.  Ignored with trust_ad.  The
	 * engine sets it. */
	bool cname_links;
	unsigned max_outstanding;  /* lookups inside getdns at once; the rest
	                              wait in order here; 0: 100 */
};

/* Receives the answer of a lookup. */
typedef void dns_callback(void *arg, const struct dns_answer *answer);

/*
 * Creates a resolver.  The internet trust-anchor fetch is switched off and
 * /etc/resolv.conf is read only when no upstreams are given.  Returns NULL
 * with a one-line reason in err.
 */
struct dns *dns_new(const struct dns_config *config, char *err,
                    size_t errlen);
/*
 * Checks one "ADDR" / "ADDR#PORT" upstream's syntax.  Returns false with a
 * one-line reason in err.
 */
bool dns_upstream_check(const char *spec, char *err, size_t errlen);
/*
 * Checks that a trust anchor file is a readable, non-empty regular file
 * holding at least one DS or DNSKEY record.  Returns false with a one-line
 * reason in err.
 */
bool dns_trust_anchor_check(const char *path, char *err, size_t errlen);
/* Number of upstreams the resolver uses (at least 1). */
size_t dns_upstream_count(const struct dns *dns);
/* Upstream i as configured, for reports. */
const char *dns_upstream_name(const struct dns *dns, size_t i);
/* What the resolver did with validated zone keys (src/zonekeys.c). */
struct dns_stats {
	uint64_t zone_keys_learned; /* zone DNSKEY sets taken in as anchors */
	size_t zone_keys_held;      /* held now */
	uint64_t revalidated;       /* answers bogus with zone keys installed,
	                               validated again from the root */
	uint64_t checked_here;      /* answers from zones whose keys are held,
	                               found secure by sigcheck (asked with
	                               the DO bit alone, not validated by
	                               getdns) */
	uint64_t handed_back;       /* such answers sigcheck could not judge,
	                               asked again for getdns to validate */
};
void dns_get_stats(const struct dns *dns, struct dns_stats *out);
/* Cancels outstanding lookups (their callbacks are not called), then frees.
 * Must not be called from inside a dns callback. */
void dns_free(struct dns *dns);
/* How one attempt is made. */
struct dns_attempt {
	size_t upstream;      /* index below dns_upstream_count() */
	bool tcp;             /* TCP instead of UDP */
	unsigned timeout_ms;  /* from when getdns gets it; 0: 10000 */
};

/*
 * Starts one attempt to look up `name` (no trailing dot needed).  The
 * callback runs exactly once, never from inside dns_lookup(), unless the
 * lookup is cancelled first.  Returns NULL when memory runs out, the
 * upstream index is out of range or the name is not a valid DNS name (the
 * caller reports that itself).
 */
struct dns_query *dns_lookup(struct dns *dns, const char *name,
                             enum dns_type type,
                             const struct dns_attempt *how,
                             dns_callback *cb, void *arg);
/* Cancels a lookup whose callback has not run; it will not run. */
void dns_cancel(struct dns_query *query);
/*
 * Classifies a complete getdns response (a dict as getdns hands it to a
 * lookup's callback) to a lookup of `name` and `type` exactly as a lookup
 * would, and passes the answer to `cb` (valid only during that call).  The
 * response stays the caller's.  No resolver is involved: this is the
 * classification alone, for the fuzz target.  False, without calling cb,
 * when `name` is not a name dns_lookup() accepts.
 */
struct getdns_dict;
bool dns_classify(enum dns_type type, const char *name,
                  struct getdns_dict *response, dns_callback *cb, void *arg);
/* The DNS library's version string, e.g. "1.6.0". */
const char *dns_library_version(void);
/* Name of a status, for logs: "secure", "insecure", "bogus", "indeterminate". */
const char *dnssec_status_name(enum dnssec_status status);

#endif
