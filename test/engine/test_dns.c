/*
 * test_dns: how DNS answers end a delivery or choose where it goes.
 *
 * "Does not exist" (NXDOMAIN, null MX, no address anywhere) is permanent;
 * "lookup failed" (SERVFAIL, bogus) is temporary and never read as "no
 * records"; no MX means the domain is its own MX (RFC 5321 5.1); at level
 * dane an MX answer of indeterminate DNSSEC status is a failure, not
 * "insecure".  Also: answers that take time (fake clock), a lookup that
 * never answers while another host delivers (cancelled cleanly), IPv6
 * first, and refused connections.
 */
#include <stddef.h>

#include "harness.h"

/* A whole dialogue in clear, for any host. */
#define CLEAR_DIALOGUE(host)                                              \
	(const char *const[]){                                            \
		"< 220 " host " ESMTP", "> EHLO client.example",          \
		"< 250 " host, "> MAIL FROM:<sender@example.org>",        \
		"< 250 2.1.0 ok", "> RCPT TO:<rcpt@example.com>",         \
		"< 250 2.1.5 ok", "> DATA", "< 354 go", "> .",            \
		"< 250 2.0.0 queued", "> QUIT", "< 221 bye", NULL }

static const struct dns_row mx_nxdomain[] = {
	{ "example.com", DNS_MX, .result = DNS_NXDOMAIN },
	{ .name = NULL },
};
static const struct dns_row mx_servfail[] = {
	{ "example.com", DNS_MX, .result = DNS_FAIL },
	{ .name = NULL },
};
static const struct dns_row mx_bogus[] = {
	{ "example.com", DNS_MX, .result = DNS_FAIL, .sec = SEC_BOGUS },
	{ .name = NULL },
};
static const struct dns_row implicit_mx[] = {
	{ "example.com", DNS_MX, .result = DNS_NODATA },
	{ "example.com", DNS_A, .data = "192.0.2.10" },
	{ .name = NULL },
};
static const struct dns_row implicit_no_address[] = {
	{ "example.com", DNS_MX, .result = DNS_NODATA },
	{ .name = NULL },
};
static const struct dns_row null_mx[] = {
	{ "example.com", DNS_MX, .data = "0 ." },
	{ .name = NULL },
};
static const struct dns_row no_address[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .result = DNS_NXDOMAIN },
	{ "mx1.example.com", DNS_AAAA, .result = DNS_NXDOMAIN },
	{ .name = NULL },
};
static const struct dns_row address_fail[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .result = DNS_FAIL },
	{ .name = NULL },
};
static const struct dns_row address_fail_next[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .result = DNS_FAIL },
	{ "mx2.example.com", DNS_A, .data = "192.0.2.2" },
	{ .name = NULL },
};
static const struct dns_row mx_indeterminate[] = {
	{ "example.com", DNS_MX, .sec = SEC_INDETERMINATE,
	  .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ .name = NULL },
};
static const struct dns_row slow[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com", .delay_ms = 4000 },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1", .delay_ms = 2500 },
	{ .name = NULL },
};
/* mx2's address lookup never ends; mx1 delivers meanwhile. */
static const struct dns_row never[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1", .delay_ms = 10 },
	{ "mx2.example.com", DNS_A, .never = true },
	{ "mx2.example.com", DNS_AAAA, .never = true },
	{ .name = NULL },
};
static const struct dns_row dual_stack[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ "mx1.example.com", DNS_AAAA, .data = "2001:db8::1" },
	{ .name = NULL },
};
static const struct dns_row two_hosts[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ "mx2.example.com", DNS_A, .data = "192.0.2.2" },
	{ .name = NULL },
};
/* MX preference decides, not the order of the records. */
static const struct dns_row preference[] = {
	{ "example.com", DNS_MX, .data = "20 mx2.example.com, 10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ "mx2.example.com", DNS_A, .data = "192.0.2.2" },
	{ .name = NULL },
};

static const struct scenario table[] = {
	{ "mx-nxdomain", MXC_TLS_MAY, .dns = mx_nxdomain,
	  .want = { MXC_PERMFAIL, 68, -1, "",
	            .detail = "domain example.com does not exist",
	            .kind = "no-domain", .stage = "dns", .attempts = "" } },
	{ "mx-servfail", MXC_TLS_MAY, .dns = mx_servfail,
	  .want = { MXC_TEMPFAIL, 75, -1, "",
	            .detail = "MX lookup for example.com failed|SERVFAIL",
	            .kind = "dns", .stage = "dns", .attempts = "" } },
	{ "mx-bogus", MXC_TLS_DANE, .dns = mx_bogus,
	  .want = { MXC_TEMPFAIL, 75, -1, "",
	            .detail = "MX lookup for example.com failed|bogus",
	            .kind = "dnssec", .stage = "dns" } },
	{ "mx-nodata-implicit", MXC_TLS_MAY, .dns = implicit_mx,
	  .peers = { { "192.0.2.10", CLEAR_DIALOGUE("example.com"), .accepts = true } },
	  .want = { MXC_DELIVERED, 0, 250, .mx = "example.com",
	            .log = "implicit MX" } },
	{ "mx-nodata-no-address", MXC_TLS_MAY, .dns = implicit_no_address,
	  .want = { MXC_PERMFAIL, 68, -1,
	            .detail = "domain example.com has no MX and no address records",
	            .kind = "no-address", .stage = "dns", .attempts = "no-address@dns" } },
	{ "null-mx", MXC_TLS_MAY, .dns = null_mx,
	  .want = { MXC_PERMFAIL, 68, -1,
	            .detail = "does not accept mail (null MX, RFC 7505)",
	            .kind = "null-mx", .stage = "dns", .attempts = "" } },
	{ "no-host-has-address", MXC_TLS_MAY, .dns = no_address,
	  .want = { MXC_PERMFAIL, 68, -1,
	            .detail = "no MX host of example.com has an address",
	            .kind = "no-address", .stage = "dns" } },
	{ "address-servfail", MXC_TLS_MAY, .dns = address_fail,
	  .want = { MXC_TEMPFAIL, 75, -1,
	            .detail = "cannot resolve mx1.example.com (A): SERVFAIL",
	            .kind = "dns", .stage = "dns", .attempts = "dns@dns" } },
	{ "address-servfail-next-host", MXC_TLS_MAY, .dns = address_fail_next,
	  .peers = { { "192.0.2.2", CLEAR_DIALOGUE("mx2.example.com"), .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .attempts = "none@dot,dns@dns" } },
	/* dane: indeterminate could hide a signed MX RRset. */
	{ "mx-indeterminate-dane", MXC_TLS_DANE, .dns = mx_indeterminate,
	  .peers = { { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, -1,
	            .detail = "DNSSEC status indeterminate",
	            .kind = "dnssec", .stage = "dns" } },
	/* may: DNSSEC does not matter. */
	{ "mx-indeterminate-may", MXC_TLS_MAY, .dns = mx_indeterminate,
	  .peers = { { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .accepts = true } },
	  .want = { .outcome = MXC_DELIVERED } },
	{ "slow-answers", MXC_TLS_MAY, .dns = slow,
	  .peers = { { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .min_elapsed_ms = 6500 } },
	{ "lookup-never-answers", MXC_TLS_MAY, .dns = never,
	  .peers = { { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx1.example.com" } },
	{ "mx-preference", MXC_TLS_MAY, .dns = preference,
	  .peers = { { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .accepts = true },
	             { "192.0.2.2", CLEAR_DIALOGUE("mx2.example.com"), .unused = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx1.example.com" } },
	{ "ipv6-first", MXC_TLS_MAY, .dns = dual_stack,
	  .peers = { { "2001:db8::1", CLEAR_DIALOGUE("mx1.example.com"), .accepts = true },
	             { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .unused = true } },
	  .want = { MXC_DELIVERED, 0, .detail = "[2001:db8::1]" } },
	/* No peer at 2001:db8::1: refused; IPv4 takes over. */
	{ "ipv6-refused-ipv4", MXC_TLS_MAY, .dns = dual_stack,
	  .peers = { { "192.0.2.1", CLEAR_DIALOGUE("mx1.example.com"), .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .detail = "[192.0.2.1]",
	            .attempts = "connect@connect,none@dot" } },
	{ "refused-next-host", MXC_TLS_MAY, .dns = two_hosts,
	  .peers = { { "192.0.2.2", CLEAR_DIALOGUE("mx2.example.com"), .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .attempts = "connect@connect,none@dot" } },
	{ "refused-everywhere", MXC_TLS_MAY, .dns = two_hosts,
	  .want = { MXC_TEMPFAIL, 75, -1,
	            .detail = "every MX host of example.com failed|"
	                      "connect to mx1.example.com[192.0.2.1]:25: connect: "
	                      "Connection refused",
	            .kind = "connect", .stage = "connect", .attempts = "connect@connect,connect@connect" } },
};

/* Runs the table. */
int main(int argc, char **argv)
{
	return scenario_main(argc, argv, table, sizeof table / sizeof table[0]);
}
