/*
 * host: one MX host of one delivery.  Resolves its addresses and, when the
 * TLS level and DNSSEC allow, its TLSA records (RFC 7672 2.2), then decides
 * what TLS it must give.  It also keeps why it failed, for the report that
 * says which host failed which way.
 */
#ifndef MXC_HOST_H
#define MXC_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dane.h"
#include "dns.h"
#include "policy.h"

struct config;
struct host;

/* Called once, from a DNS callback, when host_ready() becomes true. */
typedef void host_ready_fn(void *arg, struct host *host);

/* What a host is and how it is reached. */
struct host_params {
	const struct config *config;
	uint64_t delivery_id;                /* for log lines */
	const char *name;                    /* MX host name (copied) */
	unsigned pref;                       /* MX preference, for logs */
	/* The MX RRset (or, for an implicit MX, the MX denial) was DNSSEC
	 * secure: only then can DANE apply (RFC 7672 2.2.1). */
	bool mx_secure;
	host_ready_fn *ready;
	void *arg;
};

/* What TLS a host demands, valid while the host lives. */
struct host_tls {
	enum policy_tls need;
	const struct dane_tlsa *tlsa; /* POLICY_TLS_DANE: the records */
	size_t ntlsa;
	const char *base;             /* TLSA base domain ("" without DANE) */
	bool tlsa_present;            /* secure TLSA records were found
	                                 (usable or not): DANE applies */
};

/* Creates a host and starts its lookups.  NULL when memory runs out. */
struct host *host_new(const struct host_params *params);
/* Cancels its lookups and frees it. */
void host_free(struct host *host);

/* The MX host name. */
const char *host_name(const struct host *host);
/* Addresses and TLS requirement are known. */
bool host_ready(const struct host *host);
/* The addresses to try, IPv6 and IPv4 interleaved (RFC 8305 4); none when
 * the host failed.  Valid while the host lives. */
size_t host_addrs(const struct host *host,
                  const struct sockaddr_storage **addrs);
/* The TLS a session with this host at `addr` (one of host_addrs()) must
 * achieve: DANE is decided per address family (RFC 7672 2.2.2). */
void host_tls(const struct host *host, const struct sockaddr_storage *addr,
              struct host_tls *tls);

/*
 * Records why the host failed (the first reason is kept).  `dane` marks a
 * failure of what DANE demanded (no STARTTLS, no match, TLSA unusable ...).
 */
void host_fail(struct host *host, bool dane, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Why the host failed, "" if it has not. */
const char *host_failure(const struct host *host);
/* What kind of failure that was (MXC_FAILURE_NONE while none). */
enum mxc_failure host_failure_kind(const struct host *host);
/* The DNSSEC status of the address records in `addr`'s family. */
enum dnssec_status host_addr_dnssec(const struct host *host,
                                    const struct sockaddr_storage *addr);
/* The failure was DANE's (see host_fail). */
bool host_dane_failed(const struct host *host);
/* The host provably has no address (NXDOMAIN/NODATA for both families):
 * the only host failure that is permanent. */
bool host_has_no_address(const struct host *host);

#endif
