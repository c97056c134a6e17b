/*
 * test_pipe: PIPELINING (RFC 2920) and BDAT LAST (RFC 3030) against
 * scripted servers.  mx1 (192.0.2.1) offers what each case names; mx2
 * (192.0.2.2), when reached, delivers one command at a time.  The scripts
 * prove the grouping: ">> LINE" must have come in the same write as the
 * line before it, "=> LINE" only after the reply before it.  Each case
 * also checks the round trips the engine counted: two in setup in clear
 * (greeting, EHLO), and per transaction 4 one at a time, 2 piped with
 * DATA, 3 with BDAT alone, 1 piped with BDAT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static const struct dns_row two_mx[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ "mx2.example.com", DNS_A, .data = "192.0.2.2" },
	{ .name = NULL },
};

/* mx2: the whole dialogue, one command at a time. */
static const char *const mx2_script[] = {
	"< 220 mx2.example.com ESMTP", "> EHLO client.example",
	"< 250 mx2.example.com", "> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok", "=> RCPT TO:<rcpt@example.com>", "< 250 2.1.5 ok",
	"=> DATA", "< 354 go ahead", "> .", "< 250 2.0.0 queued as 5678",
	"> QUIT", "< 221 2.0.0 bye", NULL,
};

/* mx1's greeting and EHLO offering `caps` (lines after the name), then
 * `...` (a macro so that each use is one array). */
#define MX1(caps, ...)                                                   \
	(const char *const[]){                                           \
		"< 220 mx1.example.com ESMTP", "> EHLO client.example",  \
		"< 250-mx1.example.com\n" caps, __VA_ARGS__, NULL }
#define PIPE "250-PIPELINING\n250 8BITMIME"
#define PIPE_BDAT "250-PIPELINING\n250-CHUNKING\n250 8BITMIME"
#define BDAT_ONLY "250-CHUNKING\n250 8BITMIME"
#define NO_PIPE "250 8BITMIME"

#define MAIL "MAIL FROM:<sender@example.org>"
#define RCPT "RCPT TO:<rcpt@example.com>"
#define W_BDAT "sending BDAT LAST -- message may have been delivered"

static const struct scenario table[] = {
	/* MAIL, RCPT and DATA in one write; the body after the 354. */
	{ "pipe-data", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE, "> " MAIL, ">> " RCPT, ">> DATA",
	                 "< 250 2.1.0 ok", "< 250 2.1.5 ok", "< 354 go ahead",
	                 "> .", "< 250 2.0.0 queued as 1234", "> QUIT",
	                 "< 221 bye"), .accepts = true, .absent = "BDAT" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, "2.0.0", .detail = "queued as 1234",
	            .turns_setup = 2, .turns_txn = 2 } },
	/* Without PIPELINING: one command at a time, as ever. */
	{ "no-pipe-one-at-a-time", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(NO_PIPE, "> " MAIL, "< 250 2.1.0 ok",
	                 "=> " RCPT, "< 250 2.1.5 ok", "=> DATA",
	                 "< 354 go ahead", "> .", "< 250 2.0.0 queued as 1234",
	                 "> QUIT", "< 221 bye"), .accepts = true },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, .turns_setup = 2, .turns_txn = 4 } },
	/* A 550 to RCPT with DATA piped: the RCPT's reply is the verdict,
	 * not the 554 to DATA that follows from it. */
	{ "pipe-rcpt-550", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE, "> " MAIL, ">> " RCPT, ">> DATA",
	                 "< 250 2.1.0 ok", "< 550 5.1.1 no such user",
	                 "< 554 5.5.1 no valid recipients", "> QUIT",
	                 "< 221 bye"), .absent = "\r\n.\r\n" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 67, 550, "5.1.1",
	            .detail = "said: 550 5.1.1 no such user (in reply to RCPT TO "
	                      "command)", .turns_txn = 1 } },
	/* ... a 450 the same way: temporary, the recipient's. */
	{ "pipe-rcpt-450", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE, "> " MAIL, ">> " RCPT, ">> DATA",
	                 "< 250 2.1.0 ok", "< 450 4.2.0 greylisted",
	                 "< 503 5.5.1 no recipients", "> QUIT", "< 221 bye") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, 450, "4.2.0",
	            .detail = "said: 450 4.2.0 greylisted (in reply to RCPT TO" } },
	/* A server that says 354 although no recipient was accepted gets
	 * the lone dot, no message (RFC 2920 3.1). */
	{ "pipe-rcpt-550-then-354", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE, "> " MAIL, ">> " RCPT, ">> DATA",
	                 "< 250 2.1.0 ok", "< 550 5.1.1 no such user",
	                 "< 354 go ahead", "=> .",
	                 "< 554 5.5.1 no valid recipients", "> QUIT",
	                 "< 221 bye"), .absent = "Subject" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 67, 550, "5.1.1",
	            .detail = "said: 550 5.1.1 no such user (in reply to RCPT TO "
	                      "command)", .turns_txn = 2 } },
	/* MAIL refused with the rest piped: MAIL's reply decides. */
	{ "pipe-mail-553", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE, "> " MAIL, ">> " RCPT, ">> DATA",
	                 "< 553 5.1.8 bad sender", "< 503 5.5.1 need MAIL",
	                 "< 503 5.5.1 need RCPT", "> QUIT", "< 221 bye") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 69, 553, "5.1.8",
	            .detail = "in reply to MAIL FROM command" } },
	/* MAIL 421 and close with the rest piped: the next host. */
	{ "pipe-mail-421-close", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE, "> " MAIL, ">> " RCPT, ">> DATA",
	                 "< 421 4.3.2 closing", "close") },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "421 4.3.2 closing (in reply to MAIL FROM command)" } },
	/* BDAT LAST with PIPELINING: MAIL, RCPT, BDAT and the message in
	 * one write, one round trip; never DATA. */
	{ "bdat-pipe", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> BDAT", "< 250 2.1.0 ok", "< 250 2.1.5 ok",
	                 "< 250 2.0.0 queued as 1234", "> QUIT", "< 221 bye"),
	               .accepts = true, .absent = "DATA" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, "2.0.0", .detail = "queued as 1234",
	            .turns_setup = 2, .turns_txn = 1 } },
	/* Lines starting with a dot go un-stuffed in BDAT: "BDAT 34 LAST"
	 * and exactly those 34 bytes, else QUIT would not match. */
	{ "bdat-dot-line", MXC_TLS_MAY, .dns = two_mx,
	  .message = "Subject: dots\n\n.leading\n..two\n",
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> BDAT", "< 250 2.1.0 ok", "< 250 2.1.5 ok",
	                 "< 250 2.0.0 queued as 1234", "> QUIT", "< 221 bye"),
	               .accepts = true, .absent = "..leading" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, .log = "BDAT 34 LAST",
	            .turns_txn = 1 } },
	/* CHUNKING without PIPELINING: one command at a time, BDAT last. */
	{ "bdat-no-pipe", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(BDAT_ONLY, "> " MAIL, "< 250 2.1.0 ok",
	                 "=> " RCPT, "< 250 2.1.5 ok", "=> BDAT",
	                 "< 250 2.0.0 queued as 1234", "> QUIT", "< 221 bye"),
	               .accepts = true, .absent = "DATA" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, .turns_txn = 3 } },
	/* --no-bdat: DATA piped where CHUNKING is offered. */
	{ "bdat-off", MXC_TLS_MAY, .dns = two_mx, .no_chunking = true,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> DATA", "< 250 2.1.0 ok", "< 250 2.1.5 ok",
	                 "< 354 go ahead", "> .", "< 250 2.0.0 queued as 1234",
	                 "> QUIT", "< 221 bye"), .accepts = true,
	               .absent = "BDAT" },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, .turns_txn = 2 } },
	/* The connection drops after the whole chunk went: it may have been
	 * delivered, so a temporary failure, never another host. */
	{ "bdat-lost-after-data", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> BDAT", "close") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, -1, "",
	            .detail = "lost connection with mx1.example.com[192.0.2.1] "
	                      "while " W_BDAT } },
	{ "bdat-lost-after-rcpt-reply", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> BDAT", "< 250 2.1.0 ok", "< 250 2.1.5 ok", "close") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, -1, "", .detail = W_BDAT } },
	{ "bdat-no-pipe-timeout", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(BDAT_ONLY, "> " MAIL, "< 250 2.1.0 ok",
	                 "=> " RCPT, "< 250 2.1.5 ok", "=> BDAT", "stall") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, -1, "",
	            .detail = "conversation timed out|" W_BDAT,
	            .min_elapsed_ms = 600000 } },
	/* The final reply to BDAT decides, as the dot's does. */
	{ "bdat-552", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> BDAT", "< 250 2.1.0 ok", "< 250 2.1.5 ok",
	                 "< 552 5.3.4 too big", "> QUIT", "< 221 bye") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 69, 552, "5.3.4",
	            .detail = "said: 552 5.3.4 too big (in reply to BDAT LAST "
	                      "command)" } },
	/* A final reply while the chunk is still going out (1 MiB): the
	 * server cut it short; the rest still goes before QUIT. */
	{ "bdat-reply-during-chunk", MXC_TLS_MAY, .dns = two_mx,
	  .big_message = 1 << 20,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT, "> ...",
	                 "< 250 2.1.0 ok", "< 250 2.1.5 ok",
	                 "< 552 5.3.4 too big", "drain") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 69, 552, "5.3.4", .detail = "too big",
	            .max_elapsed_ms = 1000 } },
	/* RCPT refused with BDAT piped: the RCPT's 550 is the verdict. */
	{ "bdat-rcpt-550", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", MX1(PIPE_BDAT, "> " MAIL, ">> " RCPT,
	                 ">> BDAT", "< 250 2.1.0 ok", "< 550 5.1.1 no such user",
	                 "< 554 5.5.1 no valid recipients", "> QUIT",
	                 "< 221 bye") },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 67, 550, "5.1.1",
	            .detail = "said: 550 5.1.1 no such user (in reply to RCPT TO "
	                      "command)", .turns_txn = 1 } },
	/* In TLS the same: one write after the handshake. */
	{ "bdat-pipe-tls", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 250-mx1.example.com\n250 STARTTLS", "> STARTTLS",
	                 "< 220 2.0.0 ready to start TLS", "tls",
	                 "> EHLO client.example", "< 250-mx1.example.com\n" PIPE_BDAT,
	                 "> " MAIL, ">> " RCPT, ">> BDAT", "< 250 2.1.0 ok",
	                 "< 250 2.1.5 ok", "< 250 2.0.0 queued as 1234", "> QUIT",
	                 "< 221 bye", NULL }, .accepts = true },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_DELIVERED, 0, 250, .check_tls = true, .tls = true,
	            .turns_txn = 1 } },
};

int main(int argc, char **argv)
{
	return scenario_main(argc, argv, table, sizeof table / sizeof table[0]);
}
