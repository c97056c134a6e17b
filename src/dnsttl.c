/*
 * dnsttl: the reuse time of a getdns reply (see dnsttl.h).  Kept apart
 * from dns.c, which owns getdns contexts and the network, so that the
 * policy can be tested on made-up replies with a fixed clock.
 */
#include "dnsttl.h"

/* Lowers *ttl to v. */
static void
ttl_lower(uint32_t *ttl, uint32_t v)
{
	if (v < *ttl)
		*ttl = v;
}

/*
 * Lowers *ttl to an RRSIG's original TTL and to the seconds left before
 * its signature expires: a validator must not use the data longer than
 * either (RFC 4035 5.3.3), and after the expiration the same answer would
 * no longer validate.
 */
static void
ttl_lower_rrsig(uint32_t *ttl, const getdns_dict *rr, uint32_t now)
{
	uint32_t v, exp;
	int32_t left;

	if (getdns_dict_get_int(rr, "/rdata/original_ttl", &v) ==
	    GETDNS_RETURN_GOOD)
		ttl_lower(ttl, v);
	if (getdns_dict_get_int(rr, "/rdata/signature_expiration", &exp) !=
	    GETDNS_RETURN_GOOD)
		return;
	/* Serial number arithmetic (RFC 4034 3.1.5): the field wraps in
	 * 2106, and a time "before" now by this arithmetic has passed. */
	left = (int32_t)(exp - now);
	ttl_lower(ttl, left > 0 ? (uint32_t)left : 0);
}

/* Whether an RR type counts in a denial's lifetime (RFC 2308, RFC 9077). */
static bool
denial_type(uint32_t type)
{
	return type == GETDNS_RRTYPE_SOA || type == GETDNS_RRTYPE_NSEC ||
	    type == GETDNS_RRTYPE_NSEC3;
}

/* Lowers *ttl by one record of the authority section of a denial. */
static void
ttl_lower_denial(uint32_t *ttl, const getdns_dict *rr, uint32_t type,
    uint32_t v, uint32_t now, bool *soa)
{
	uint32_t covered;

	if (type == GETDNS_RRTYPE_SOA) {
		*soa = true;
		ttl_lower(ttl, v);
		if (getdns_dict_get_int(rr, "/rdata/minimum", &v) ==
		    GETDNS_RETURN_GOOD)
			ttl_lower(ttl, v);
	} else if (denial_type(type)) {
		ttl_lower(ttl, v);
	} else if (type == GETDNS_RRTYPE_RRSIG &&
	    getdns_dict_get_int(rr, "/rdata/type_covered", &covered) ==
	    GETDNS_RETURN_GOOD && denial_type(covered)) {
		ttl_lower_rrsig(ttl, rr, now);
	}
}

/* Reuse time of a reply; see dnsttl.h. */
uint32_t
dnsttl_of_reply(const getdns_dict *reply, uint16_t want, bool negative,
    uint32_t now)
{
	static const char *const sections[] = { "answer", "authority" };
	uint32_t ttl = UINT32_MAX;
	bool soa = false;

	for (size_t s = 0; s < 2; s++) {
		getdns_list *list;
		size_t n = 0;

		if (s == 1 && !negative)
			break;
		if (getdns_dict_get_list(reply, sections[s], &list) !=
		    GETDNS_RETURN_GOOD ||
		    getdns_list_get_length(list, &n) != GETDNS_RETURN_GOOD)
			continue;
		for (size_t i = 0; i < n; i++) {
			getdns_dict *rr;
			uint32_t type, v, covered;

			if (getdns_list_get_dict(list, i, &rr) !=
			    GETDNS_RETURN_GOOD ||
			    getdns_dict_get_int(rr, "type", &type) !=
			    GETDNS_RETURN_GOOD ||
			    getdns_dict_get_int(rr, "ttl", &v) !=
			    GETDNS_RETURN_GOOD)
				continue;
			if (s == 1) {
				ttl_lower_denial(&ttl, rr, type, v, now, &soa);
			} else if (type == want ||
			    type == GETDNS_RRTYPE_CNAME) {
				ttl_lower(&ttl, v);
			} else if (type == GETDNS_RRTYPE_RRSIG &&
			    getdns_dict_get_int(rr, "/rdata/type_covered",
			    &covered) == GETDNS_RETURN_GOOD &&
			    (covered == want ||
			    covered == GETDNS_RRTYPE_CNAME)) {
				ttl_lower_rrsig(&ttl, rr, now);
			}
		}
	}
	if ((negative && !soa) || ttl == UINT32_MAX)
		return 0;
	return ttl;
}
