/*
 * test_lifetime: a delivery cancelled, or its engine freed, at each point
 * of its life: waiting for DNS, for the greeting, inside the TLS
 * handshake, while sending the body, after the final dot.  A cancelled
 * delivery still completes once, TEMPFAIL "cancelled" (never delivered,
 * even after its dot); so does each delivery of a freed engine, from
 * inside mxc_engine_free(), so an embedder can free its context.  Either way the
 * harness checks that no descriptor stays open, and ASan (in CI) that
 * nothing leaks or is used after being freed.
 */
#include <stddef.h>

#include "harness.h"

static const struct dns_row mx_never[] = {
	{ "example.com", DNS_MX, .never = true },
	{ .name = NULL },
};
static const struct dns_row address_never[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .never = true },
	{ .name = NULL },
};
static const struct dns_row one_host[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ .name = NULL },
};

/* The server never greets. */
static const char *const silent[] = { "stall", NULL };

/* The server never answers the ClientHello. */
static const char *const stuck_in_tls[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"stall",
	NULL,
};

/* The server stops reading a long body. */
static const char *const stuck_in_body[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250 mx1.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> ...",
	"stall",
	NULL,
};

/* The server never answers the final dot. */
static const char *const stuck_after_dot[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250 mx1.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"stall",
	NULL,
};

/* A cancelled delivery's result. */
#define CANCELLED { MXC_TEMPFAIL, 75, .detail = "cancelled", \
	            .kind = "cancelled", \
	            .min_elapsed_ms = 1000, .max_elapsed_ms = 1000 }

static const struct scenario table[] = {
	{ "cancel-during-mx", MXC_TLS_MAY, .dns = mx_never,
	  .cancel_after_ms = 1000, .want = CANCELLED },
	{ "cancel-during-address", MXC_TLS_MAY, .dns = address_never,
	  .cancel_after_ms = 1000, .want = CANCELLED },
	{ "cancel-during-greeting", MXC_TLS_MAY, .dns = one_host,
	  .peers = { { "192.0.2.1", silent, .accepts = false } },
	  .cancel_after_ms = 1000, .want = CANCELLED },
	{ "cancel-during-tls", MXC_TLS_MAY, .dns = one_host,
	  .peers = { { "192.0.2.1", stuck_in_tls, .accepts = false } },
	  .cancel_after_ms = 1000, .want = CANCELLED },
	{ "cancel-during-body", MXC_TLS_MAY, .dns = one_host,
	  .big_message = 1 << 20,
	  .peers = { { "192.0.2.1", stuck_in_body, .accepts = false } },
	  .cancel_after_ms = 1000, .want = CANCELLED },
	{ "cancel-after-dot", MXC_TLS_MAY, .dns = one_host,
	  .peers = { { "192.0.2.1", stuck_after_dot, .accepts = false } },
	  .cancel_after_ms = 1000, .want = CANCELLED },
	{ "free-during-mx", MXC_TLS_MAY, .dns = mx_never,
	  .free_after_ms = 1000, .want = CANCELLED },
	{ "free-during-address", MXC_TLS_MAY, .dns = address_never,
	  .free_after_ms = 1000, .want = CANCELLED },
	{ "free-during-greeting", MXC_TLS_MAY, .dns = one_host,
	  .peers = { { "192.0.2.1", silent, .accepts = false } },
	  .free_after_ms = 1000, .want = CANCELLED },
	{ "free-during-tls", MXC_TLS_MAY, .dns = one_host,
	  .peers = { { "192.0.2.1", stuck_in_tls, .accepts = false } },
	  .free_after_ms = 1000, .want = CANCELLED },
	{ "free-during-body", MXC_TLS_MAY, .dns = one_host,
	  .big_message = 1 << 20,
	  .peers = { { "192.0.2.1", stuck_in_body, .accepts = false } },
	  .free_after_ms = 1000, .want = CANCELLED },
	{ "free-after-dot", MXC_TLS_MAY, .dns = one_host,
	  .peers = { { "192.0.2.1", stuck_after_dot, .accepts = false } },
	  .free_after_ms = 1000, .want = CANCELLED },
};

/* Runs the table. */
int main(int argc, char **argv)
{
	return scenario_main(argc, argv, table, sizeof table / sizeof table[0]);
}
