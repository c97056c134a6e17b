/*
 * test_tls: what each TLS level demands of a host, and DANE (RFC 7672)
 * against a peer whose key does or does not match the TLSA record.
 *
 * The peer's certificate is data/peer.pem; its DANE-EE SPKI SHA-256
 * (3 1 1) is PEER_SPKI below, made with
 *   openssl x509 -in peer.pem -pubkey -noout |
 *   openssl pkey -pubin -outform DER | openssl dgst -sha256
 * The key point of DANE is checked on the transcript: a peer that fails
 * the check never receives a byte of the envelope ("MAIL" is absent).
 */
#include <stddef.h>
#include <stdio.h>

#include "harness.h"

#define PEER_SPKI "91bc9dd0e128b66aa2b0310199888e08ca9cb93e5d4f1765de669cf42f59afcc"
#define WRONG_SPKI "00bc9dd0e128b66aa2b0310199888e08ca9cb93e5d4f1765de669cf42f59afcc"

/* mx1 does not offer STARTTLS; the client must go no further. */
static const char *const no_starttls_quit[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 8BITMIME",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

/* mx1 offers STARTTLS but refuses it; the client must go no further. */
static const char *const starttls_454_quit[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 454 4.7.0 TLS not available",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

/* mx2 delivers in clear. */
static const char *const mx2_clear[] = {
	"< 220 mx2.example.com ESMTP",
	"> EHLO client.example",
	"< 250 mx2.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

/* mx2 delivers inside TLS. */
static const char *const mx2_tls[] = {
	"< 220 mx2.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx2.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls",
	"> EHLO client.example",
	"< 250 mx2.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

/* In TLS, 250 to the dot and an abrupt close (no close_notify, no QUIT
 * reply): delivered all the same. */
static const char *const tls_250_then_close[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls",
	"> EHLO client.example",
	"< 250 mx1.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued",
	"close",
	NULL,
};

/* The same in TLS with a 554 to the dot: a rejection, not a loss. */
static const char *const tls_554_then_close[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls",
	"> EHLO client.example",
	"< 250 mx1.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 554 5.7.1 rejected as spam",
	"close",
	NULL,
};

/* Signed zone, mx1 with a TLSA record matching the peer. */
static const struct dns_row dane_match[] = {
	{ "example.com", DNS_MX, .sec = SEC_SECURE, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .sec = SEC_SECURE, .data = "192.0.2.1" },
	{ "mx1.example.com", DNS_AAAA, .result = DNS_NODATA, .sec = SEC_SECURE },
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .sec = SEC_SECURE,
	  .data = "3 1 1 " PEER_SPKI },
	{ .name = NULL },
};

/* The same with a TLSA record the peer does not match. */
static const struct dns_row dane_mismatch[] = {
	{ "example.com", DNS_MX, .sec = SEC_SECURE, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .sec = SEC_SECURE, .data = "192.0.2.1" },
	{ "mx1.example.com", DNS_AAAA, .result = DNS_NODATA, .sec = SEC_SECURE },
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .sec = SEC_SECURE,
	  .data = "3 1 1 " WRONG_SPKI },
	{ .name = NULL },
};

/* Two signed hosts: mx1 with a wrong TLSA record, mx2 without any. */
static const struct dns_row dane_mismatch_two[] = {
	{ "example.com", DNS_MX, .sec = SEC_SECURE,
	  .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .sec = SEC_SECURE, .data = "192.0.2.1" },
	{ "mx1.example.com", DNS_AAAA, .result = DNS_NODATA, .sec = SEC_SECURE },
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .sec = SEC_SECURE,
	  .data = "3 1 1 " WRONG_SPKI },
	{ "mx2.example.com", DNS_A, .sec = SEC_SECURE, .data = "192.0.2.2" },
	{ "mx2.example.com", DNS_AAAA, .result = DNS_NODATA, .sec = SEC_SECURE },
	{ "_25._tcp.mx2.example.com", DNS_TLSA, .result = DNS_NODATA, .sec = SEC_SECURE },
	{ .name = NULL },
};

/* A signed host whose TLSA answer is bogus. */
static const struct dns_row dane_bogus_tlsa[] = {
	{ "example.com", DNS_MX, .sec = SEC_SECURE, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .sec = SEC_SECURE, .data = "192.0.2.1" },
	{ "mx1.example.com", DNS_AAAA, .result = DNS_NODATA, .sec = SEC_SECURE },
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .result = DNS_FAIL, .sec = SEC_BOGUS },
	{ .name = NULL },
};

/* Unsigned zone: one host. */
static const struct dns_row plain_one[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ .name = NULL },
};

/* Unsigned zone: two hosts. */
static const struct dns_row plain_two[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ "mx2.example.com", DNS_A, .data = "192.0.2.2" },
	{ .name = NULL },
};

static const struct scenario table[] = {
	{ "dane-match", MXC_TLS_DANE, .dns = dane_match,
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, 250, "2.0.0", "delivered to mx1.example.com",
	            .dane = MXC_DANE_VERIFIED, .check_dane = true,
	            .tls = true, .check_tls = true,
	            .log = "DANE: STARTTLS required, peer must match",
	            .kind = "none", .stage = "dot", .attempts = "none@dot" } },
	{ "dane-only-match", MXC_TLS_DANE_ONLY, .dns = dane_match,
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .dane = MXC_DANE_VERIFIED,
	            .check_dane = true, .tls = true, .check_tls = true } },
	/* RFC 7672 3.1: no SMTP command to a peer that fails DANE. */
	{ "dane-mismatch", MXC_TLS_DANE, .dns = dane_mismatch,
	  .peers = { { "192.0.2.1", script_tls_refused, .absent = "MAIL" } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "DANE authentication failed",
	            .dane = MXC_DANE_FAILED, .check_dane = true,
	            .kind = "dane", .stage = "tls", .attempts = "dane@tls",
	            .chain = 1 } },
	{ "dane-mismatch-next-host", MXC_TLS_DANE, .dns = dane_mismatch_two,
	  .peers = { { "192.0.2.1", script_tls_refused, .absent = "MAIL" },
	             { "192.0.2.2", mx2_tls, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "DANE authentication failed|trying the next MX host",
	            .tls = true, .check_tls = true,
	            .attempts = "dane@tls,none@dot" } },
	/* DANE without STARTTLS: not one envelope byte in clear. */
	{ "dane-no-starttls", MXC_TLS_DANE, .dns = dane_match,
	  .peers = { { "192.0.2.1", no_starttls_quit, .absent = "MAIL" } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "TLS is required, but host "
	            "mx1.example.com[192.0.2.1] did not offer STARTTLS",
	            .kind = "starttls", .stage = "ehlo", .attempts = "starttls@ehlo" } },
	{ "dane-starttls-refused", MXC_TLS_DANE, .dns = dane_match,
	  .peers = { { "192.0.2.1", starttls_454_quit, .absent = "MAIL" } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "refused STARTTLS|454 4.7.0",
	            .kind = "starttls", .stage = "starttls" } },
	/* A bogus TLSA answer could hide a record: the host is unusable,
	 * not "no TLSA". */
	{ "dane-tlsa-bogus", MXC_TLS_DANE, .dns = dane_bogus_tlsa,
	  .peers = { { "192.0.2.1", script_tls_ok, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75,
	            .detail = "TLSA lookup for _25._tcp.mx1.example.com failed",
	            .dane = MXC_DANE_FAILED, .check_dane = true,
	            .kind = "dnssec", .stage = "dns", .attempts = "dnssec@dns" } },
	/* Unsigned MX: DANE does not apply; opportunistic TLS. */
	{ "dane-unsigned-opportunistic", MXC_TLS_DANE, .dns = plain_one,
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .dane = MXC_DANE_NONE, .check_dane = true,
	            .tls = true, .check_tls = true,
	            .log = "no DANE: TLS opportunistic" } },
	{ "dane-only-unsigned", MXC_TLS_DANE_ONLY, .dns = plain_one,
	  .peers = { { "192.0.2.1", script_tls_ok, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "level dane-only",
	            .kind = "dane-required", .stage = "dns", .attempts = "dane-required@dns" } },
	/* encrypt: TLS or nothing, any certificate. */
	{ "encrypt-ok", MXC_TLS_ENCRYPT, .dns = plain_one,
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .tls = true, .check_tls = true,
	            .log = "required, not authenticated" } },
	{ "encrypt-no-starttls", MXC_TLS_ENCRYPT, .dns = plain_one,
	  .peers = { { "192.0.2.1", no_starttls_quit, .absent = "MAIL" } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "TLS is required, but host "
	            "mx1.example.com[192.0.2.1] did not offer STARTTLS" } },
	{ "encrypt-no-starttls-next-host", MXC_TLS_ENCRYPT, .dns = plain_two,
	  .peers = { { "192.0.2.1", no_starttls_quit, .absent = "MAIL" },
	             { "192.0.2.2", mx2_tls, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com", .tls = true,
	            .check_tls = true, .log = "did not offer STARTTLS" } },
	{ "encrypt-starttls-refused", MXC_TLS_ENCRYPT, .dns = plain_two,
	  .peers = { { "192.0.2.1", starttls_454_quit, .absent = "MAIL" },
	             { "192.0.2.2", mx2_tls, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "refused STARTTLS" } },
	/* encrypt never falls back to clear after a failed handshake. */
	{ "encrypt-handshake-fails-next-host", MXC_TLS_ENCRYPT, .dns = plain_two,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 250-mx1.example.com\n250 STARTTLS", "> STARTTLS",
	                 "< 220 2.0.0 go ahead", "tls-alert", "drain", NULL },
	               .absent = "MAIL" },
	             { "192.0.2.2", mx2_tls, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com", .tls = true,
	            .check_tls = true,
	            .attempts = "tls@tls,none@dot" } },
	/* may: a server without STARTTLS gets the mail in clear. */
	{ "may-no-starttls", MXC_TLS_MAY, .dns = plain_two,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 250 mx1.example.com",
	                 "> MAIL FROM:<sender@example.org>", "< 250 ok",
	                 "> RCPT TO:<rcpt@example.com>", "< 250 ok", "> DATA",
	                 "< 354 go", "> .", "< 250 queued", "> QUIT", "< 221 bye",
	                 NULL }, .accepts = true },
	             { "192.0.2.2", mx2_clear, .unused = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx1.example.com", .tls = false,
	            .check_tls = true } },
	/* The last word before an abrupt close in TLS still counts. */
	{ "tls-250-then-close", MXC_TLS_MAY, .dns = plain_two,
	  .peers = { { "192.0.2.1", tls_250_then_close, .accepts = true },
	             { "192.0.2.2", mx2_clear, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, "2.0.0",
	            .detail = "delivered to mx1.example.com[192.0.2.1]" } },
	{ "tls-554-then-close", MXC_TLS_MAY, .dns = plain_two,
	  .peers = { { "192.0.2.1", tls_554_then_close, .accepts = false },
	             { "192.0.2.2", mx2_clear, .unused = true } },
	  .want = { MXC_PERMFAIL, 69, 554, "5.7.1", .detail = "rejected as spam",
	            .kind = "reply", .stage = "dot" } },
};

/* An EHLO reply of 90 lines, over 4 KiB, whose last line is filled in
 * by main(): capabilities must come from every line, not from the text
 * kept for reports. */
static char long_ehlo[8192];
static const char *long_ehlo_starttls[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	long_ehlo,
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls",
	"> EHLO client.example",
	"< 250 mx1.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};
static char long_ehlo_size[8192];
static const char *long_ehlo_size_script[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	long_ehlo_size,
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};
static const struct scenario long_ehlo_table[] = {
	{ "ehlo-long-starttls-last", MXC_TLS_MAY, .dns = plain_one,
	  .peers = { { "192.0.2.1", long_ehlo_starttls, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .tls = true, .check_tls = true } },
	{ "ehlo-long-size-last", MXC_TLS_MAY, .dns = plain_one,
	  .peers = { { "192.0.2.1", long_ehlo_size_script, .absent = "MAIL" } },
	  .want = { MXC_PERMFAIL, 69, .detail = "exceeds size limit 10 of host",
	            .kind = "capability", .stage = "mail" } },
};

/* Fills an EHLO reply of 89 filler lines and `last`. */
static void make_long_ehlo(char *out, size_t len, const char *last)
{
	size_t used = (size_t)snprintf(out, len, "< 250-mx1.example.com");
	for (int i = 0; i < 88; i++)
		used += (size_t)snprintf(out + used, len - used,
		                         "\n250-X-FILLER-%02d-ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		                         "0123456789", i);
	snprintf(out + used, len - used, "\n250 %s", last);
}

/* Runs the tables. */
int main(int argc, char **argv)
{
	enum { N = sizeof table / sizeof table[0],
	       NLONG = sizeof long_ehlo_table / sizeof long_ehlo_table[0] };
	static struct scenario all[N + NLONG];
	make_long_ehlo(long_ehlo, sizeof long_ehlo, "STARTTLS");
	make_long_ehlo(long_ehlo_size, sizeof long_ehlo_size, "SIZE 10");
	for (size_t i = 0; i < N; i++)
		all[i] = table[i];
	for (size_t i = 0; i < NLONG; i++)
		all[N + i] = long_ehlo_table[i];
	return scenario_main(argc, argv, all, N + NLONG);
}
