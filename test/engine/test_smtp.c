/*
 * test_smtp: every SMTP stage against every way a server can answer it.
 *
 * Two MX hosts (mx1 192.0.2.1, preference 10; mx2 192.0.2.2, 20) at level
 * `may`.  mx1 runs the normal dialogue (EHLO offering STARTTLS, TLS, EHLO
 * again, MAIL, RCPT, DATA, the message, QUIT) up to one stage, where it
 * does one thing wrong; mx2, when reached, delivers in clear.  Each case
 * says what must follow: mx2 delivers (the failure was mx1's, before the
 * dot), the delivery ends on mx1's verdict (mx2 never contacted), mx1
 * delivers after all (STARTTLS refused, EHLO refused then HELO, a fault
 * after the verdict), or mx1 is tried again in clear (a failed TLS
 * handshake at `may`).  mx1's script also says exactly what the client
 * must send after the fault (QUIT, or nothing).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Where in the dialogue mx1 goes wrong. */
enum at {
	AT_GREETING, AT_EHLO, AT_STARTTLS, AT_TLS, AT_EHLO2, AT_MAIL, AT_RCPT,
	AT_DATA, AT_BODY, AT_DOT, AT_QUIT, AT_LAST
};

/* What mx1 does there instead of the normal reply. */
enum fault {
	F_4XX,       /* a 4yz reply */
	F_5XX,       /* a 5yz reply */
	F_421,       /* 421 and close, as a server shutting down does */
	F_CLOSE,     /* close without a word */
	F_RESET,     /* close with unread input: the client sees a reset */
	F_TIMEOUT,   /* never answer */
	F_MALFORMED, /* a reply line that is not SMTP */
	F_EXTRA,     /* the right reply, then a second one nobody asked for */
	F_GARBAGE,   /* TLS only: bytes that are not TLS */
	F_ALERT,     /* TLS only: a fatal alert */
	F_LAST
};

/* What the client must do after the fault, as mx1's script goes on. */
enum follow {
	FW_NONE,     /* nothing: it hangs up */
	FW_QUIT,     /* QUIT, answered 221 */
	FW_CLEAR,    /* go on in clear from MAIL to the end (STARTTLS refused) */
	FW_HELO,     /* HELO, then MAIL to the end in clear (EHLO refused) */
};

/* How the delivery must end. */
enum kind {
	K_NEXT,      /* mx1 failed before the dot: mx2 delivers */
	K_FINAL,     /* mx1's verdict ends the delivery; mx2 is not tried */
	K_MX1,       /* mx1 delivers anyway */
	K_CLEAR,     /* mx1 delivers on a second connection, in clear */
};

struct mcase {
	enum at at;
	enum fault fault;
	enum follow follow;
	enum kind kind;
	enum mxc_outcome outcome;  /* K_FINAL */
	int exit_status;           /* K_FINAL */
	int code;                  /* K_FINAL: the reply code, -1 none */
	const char *enhanced;      /* K_FINAL */
	const char *words;         /* in the detail (K_FINAL) or the log */
	unsigned min_s;            /* fake seconds it must take at least */
};

static const char *const at_names[AT_LAST] = {
	"greeting", "ehlo", "starttls", "tls", "ehlo-after-tls", "mail", "rcpt",
	"data", "body", "dot", "quit",
};
static const char *const fault_names[F_LAST] = {
	"4xx", "5xx", "421", "close", "reset", "timeout", "malformed", "extra",
	"garbage", "alert",
};

/* mx1's normal dialogue, stage by stage: what it expects, what it says. */
static const struct {
	const char *expect;
	const char *reply;
} normal[AT_LAST] = {
	[AT_GREETING] = { NULL, "< 220 mx1.example.com ESMTP" },
	[AT_EHLO] = { "> EHLO client.example",
	              "< 250-mx1.example.com\n250-8BITMIME\n250 STARTTLS" },
	[AT_STARTTLS] = { "> STARTTLS", "< 220 2.0.0 ready to start TLS" },
	[AT_TLS] = { NULL, "tls" },
	[AT_EHLO2] = { "> EHLO client.example",
	               "< 250-mx1.example.com\n250 8BITMIME" },
	[AT_MAIL] = { "> MAIL FROM:<sender@example.org>", "< 250 2.1.0 ok" },
	[AT_RCPT] = { "> RCPT TO:<rcpt@example.com>", "< 250 2.1.5 ok" },
	[AT_DATA] = { "> DATA", "< 354 go ahead" },
	[AT_BODY] = { NULL, NULL },
	[AT_DOT] = { "> .", "< 250 2.0.0 queued as 1234" },
	[AT_QUIT] = { "> QUIT", "< 221 2.0.0 bye" },
};

/* The stages' wording in "lost connection ... while ...". */
#define W_GREETING "receiving the initial server greeting"
#define W_DOT "sending end of data -- message may have been delivered"

/* Shorthands for the table. */
#define NEXT(w) .kind = K_NEXT, .words = w
#define MX1(w) .kind = K_MX1, .words = w
#define CLEAR(w) .kind = K_CLEAR, .words = w
#define TEMP(c, enh, w) .kind = K_FINAL, .outcome = MXC_TEMPFAIL, \
	.exit_status = 75, .code = c, .enhanced = enh, .words = w
#define PERM(ex, c, enh, w) .kind = K_FINAL, .outcome = MXC_PERMFAIL, \
	.exit_status = ex, .code = c, .enhanced = enh, .words = w

static const struct mcase cases[] = {
	/* The greeting.  (No reset: the client has sent nothing yet.) */
	{ AT_GREETING, F_4XX, FW_QUIT, NEXT("said: 450 4.3.2 not now (in reply to initial greeting)") },
	{ AT_GREETING, F_5XX, FW_QUIT, NEXT("said: 554 5.3.2 go away (in reply to initial greeting)") },
	{ AT_GREETING, F_421, FW_QUIT, NEXT("said: 421 4.3.2 closing (in reply to initial greeting)") },
	{ AT_GREETING, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while " W_GREETING) },
	{ AT_GREETING, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while " W_GREETING), .min_s = 300 },
	{ AT_GREETING, F_MALFORMED, FW_NONE, NEXT("protocol error with mx1.example.com[192.0.2.1] while " W_GREETING " (malformed reply)") },
	{ AT_GREETING, F_EXTRA, FW_NONE, NEXT("(data after a complete reply)") },
	/* EHLO: refused with 5xx means HELO (RFC 5321 4.1.4), no TLS. */
	{ AT_EHLO, F_4XX, FW_QUIT, NEXT("said: 450 4.3.2 not now (in reply to EHLO command)") },
	{ AT_EHLO, F_5XX, FW_HELO, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_EHLO, F_421, FW_QUIT, NEXT("said: 421 4.3.2 closing (in reply to EHLO command)") },
	{ AT_EHLO, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while performing the EHLO handshake") },
	{ AT_EHLO, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while performing the EHLO handshake") },
	{ AT_EHLO, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while performing the EHLO handshake"), .min_s = 300 },
	{ AT_EHLO, F_MALFORMED, FW_NONE, NEXT("malformed reply") },
	{ AT_EHLO, F_EXTRA, FW_NONE, NEXT("data after a complete reply") },
	/* STARTTLS refused at `may`: on in clear, same connection. */
	{ AT_STARTTLS, F_4XX, FW_CLEAR, MX1("STARTTLS refused by mx1.example.com[192.0.2.1]; continuing without TLS") },
	{ AT_STARTTLS, F_5XX, FW_CLEAR, MX1("STARTTLS refused by mx1.example.com[192.0.2.1]; continuing without TLS") },
	{ AT_STARTTLS, F_421, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending MAIL FROM") },
	{ AT_STARTTLS, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending STARTTLS") },
	{ AT_STARTTLS, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending STARTTLS") },
	{ AT_STARTTLS, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while sending STARTTLS"), .min_s = 300 },
	{ AT_STARTTLS, F_MALFORMED, FW_NONE, NEXT("malformed reply") },
	/* Bytes after the STARTTLS 220 are an injection (CVE-2011-0411). */
	{ AT_STARTTLS, F_EXTRA, FW_NONE, NEXT("data after the STARTTLS reply") },
	/* The handshake fails at `may`: the same address again, in clear. */
	{ AT_TLS, F_CLOSE, FW_NONE, CLEAR("retrying mx1.example.com[192.0.2.1] without TLS") },
	{ AT_TLS, F_RESET, FW_NONE, CLEAR("retrying mx1.example.com[192.0.2.1] without TLS") },
	{ AT_TLS, F_TIMEOUT, FW_NONE, CLEAR("conversation timed out with mx1.example.com[192.0.2.1] while performing the TLS handshake"), .min_s = 300 },
	{ AT_TLS, F_GARBAGE, FW_NONE, CLEAR("TLS failed with mx1.example.com[192.0.2.1]") },
	{ AT_TLS, F_ALERT, FW_NONE, CLEAR("TLS failed with mx1.example.com[192.0.2.1]") },
	/* EHLO again inside TLS. */
	{ AT_EHLO2, F_4XX, FW_QUIT, NEXT("said: 450 4.3.2 not now (in reply to EHLO command)") },
	{ AT_EHLO2, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while performing the EHLO handshake") },
	{ AT_EHLO2, F_TIMEOUT, FW_NONE, NEXT("conversation timed out"), .min_s = 300 },
	{ AT_EHLO2, F_5XX, FW_HELO, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_EHLO2, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while performing the EHLO handshake") },
	{ AT_EHLO2, F_MALFORMED, FW_NONE, NEXT("malformed reply") },
	{ AT_EHLO2, F_EXTRA, FW_NONE, NEXT("data after a complete reply") },
	/* MAIL: 5xx is the sender's problem everywhere. */
	{ AT_MAIL, F_4XX, FW_QUIT, NEXT("said: 450 4.3.2 not now (in reply to MAIL FROM command)") },
	{ AT_MAIL, F_5XX, FW_QUIT, PERM(69, 554, "5.3.2", "host mx1.example.com[192.0.2.1] said: 554 5.3.2 go away (in reply to MAIL FROM command)") },
	{ AT_MAIL, F_421, FW_QUIT, NEXT("said: 421 4.3.2 closing (in reply to MAIL FROM command)") },
	{ AT_MAIL, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending MAIL FROM") },
	{ AT_MAIL, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending MAIL FROM") },
	{ AT_MAIL, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while sending MAIL FROM"), .min_s = 300 },
	{ AT_MAIL, F_MALFORMED, FW_NONE, NEXT("malformed reply") },
	{ AT_MAIL, F_EXTRA, FW_NONE, NEXT("data after a complete reply") },
	/* RCPT: 4xx and 5xx are the recipient's: every MX would agree. */
	{ AT_RCPT, F_4XX, FW_QUIT, TEMP(450, "4.3.2", "host mx1.example.com[192.0.2.1] said: 450 4.3.2 not now (in reply to RCPT TO command)") },
	{ AT_RCPT, F_5XX, FW_QUIT, PERM(69, 554, "5.3.2", "said: 554 5.3.2 go away (in reply to RCPT TO command)") },
	{ AT_RCPT, F_421, FW_QUIT, TEMP(421, "4.3.2", "said: 421 4.3.2 closing (in reply to RCPT TO command)") },
	{ AT_RCPT, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending RCPT TO") },
	{ AT_RCPT, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending RCPT TO") },
	{ AT_RCPT, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while sending RCPT TO"), .min_s = 300 },
	{ AT_RCPT, F_MALFORMED, FW_NONE, NEXT("malformed reply") },
	{ AT_RCPT, F_EXTRA, FW_NONE, NEXT("data after a complete reply") },
	/* DATA. */
	{ AT_DATA, F_4XX, FW_QUIT, NEXT("said: 450 4.3.2 not now (in reply to DATA command)") },
	{ AT_DATA, F_5XX, FW_QUIT, PERM(69, 554, "5.3.2", "said: 554 5.3.2 go away (in reply to DATA command)") },
	{ AT_DATA, F_421, FW_QUIT, NEXT("said: 421 4.3.2 closing (in reply to DATA command)") },
	{ AT_DATA, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending DATA command") },
	{ AT_DATA, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending DATA command") },
	{ AT_DATA, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while sending DATA command"), .min_s = 120 },
	{ AT_DATA, F_MALFORMED, FW_NONE, NEXT("malformed reply") },
	{ AT_DATA, F_EXTRA, FW_NONE, NEXT("data after a complete reply") },
	/* The body (a 1 MiB message, so the client is still writing):
	 * mx1 read some of it. */
	/* A reply before the dot: the server cut the message short. */
	{ AT_BODY, F_4XX, FW_NONE, TEMP(450, "4.3.2", "said: 450 4.3.2 not now") },
	{ AT_BODY, F_5XX, FW_NONE, PERM(69, 554, "5.3.2", "said: 554 5.3.2 go away") },
	{ AT_BODY, F_CLOSE, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending message body") },
	{ AT_BODY, F_RESET, FW_NONE, NEXT("lost connection with mx1.example.com[192.0.2.1] while sending message body") },
	{ AT_BODY, F_TIMEOUT, FW_NONE, NEXT("conversation timed out with mx1.example.com[192.0.2.1] while sending message body"), .min_s = 180 },
	/* After the final dot: never another host, never permanent unless
	 * the server said 5xx. */
	{ AT_DOT, F_4XX, FW_QUIT, TEMP(450, "4.3.2", "said: 450 4.3.2 not now (in reply to end of DATA command)") },
	{ AT_DOT, F_5XX, FW_QUIT, PERM(69, 554, "5.3.2", "said: 554 5.3.2 go away (in reply to end of DATA command)") },
	{ AT_DOT, F_421, FW_QUIT, TEMP(421, "4.3.2", "said: 421 4.3.2 closing (in reply to end of DATA command)") },
	{ AT_DOT, F_CLOSE, FW_NONE, TEMP(-1, "", "lost connection with mx1.example.com[192.0.2.1] while " W_DOT) },
	{ AT_DOT, F_RESET, FW_NONE, TEMP(-1, "", "lost connection with mx1.example.com[192.0.2.1] while " W_DOT) },
	{ AT_DOT, F_TIMEOUT, FW_NONE, TEMP(-1, "", "conversation timed out with mx1.example.com[192.0.2.1] while " W_DOT), .min_s = 600 },
	{ AT_DOT, F_MALFORMED, FW_NONE, TEMP(-1, "", "protocol error with mx1.example.com[192.0.2.1] while " W_DOT " (malformed reply)") },
	{ AT_DOT, F_EXTRA, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]: 250 2.0.0 queued as 1234") },
	/* QUIT: the verdict is in; nothing QUIT does changes it. */
	{ AT_QUIT, F_4XX, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_QUIT, F_5XX, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_QUIT, F_CLOSE, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_QUIT, F_RESET, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_QUIT, F_TIMEOUT, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]"), .min_s = 0 }, /* the delivery ends at its final reply; the pool waits for QUIT */
	{ AT_QUIT, F_MALFORMED, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_QUIT, F_421, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	{ AT_QUIT, F_EXTRA, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]") },
	/* And the whole dialogue with nothing wrong. */
	{ AT_LAST, F_LAST, FW_NONE, MX1("delivered to mx1.example.com[192.0.2.1]: 250 2.0.0 queued as 1234") },
};
#define NCASES (sizeof cases / sizeof cases[0])

/* The whole of a happy dialogue in clear, for mx2 and retries. */
static const char *const mx2_script[] = {
	"< 220 mx2.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx2.example.com\n250 8BITMIME",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued as 5678",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

/* mx1 again after a failed handshake: it still offers STARTTLS, which
 * the retry in clear must not take. */
static const char *const mx1_clear_script[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250-8BITMIME\n250 STARTTLS",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued as 1234",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

static const struct dns_row two_mx[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com, 20 mx2.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ "mx2.example.com", DNS_A, .data = "192.0.2.2" },
	{ .name = NULL },
};

/* Room for one case's script and name. */
struct built {
	const char *steps[48];
	char name[64];
	char attempts[128];  /* the attempts the result must list */
	struct scenario sc;
};

/* The failure kind a fault is (mxc_failure_name()), independent of the
 * words the library reports it with. */
static const char *fault_kind(const struct mcase *c)
{
	static const char *const kinds[F_LAST] = {
		[F_4XX] = "reply", [F_5XX] = "reply", [F_421] = "reply",
		[F_CLOSE] = "lost", [F_RESET] = "lost", [F_TIMEOUT] = "timeout",
		[F_MALFORMED] = "protocol", [F_EXTRA] = "protocol",
		[F_GARBAGE] = "tls", [F_ALERT] = "tls",
	};
	/* 421 to STARTTLS: on in clear at `may`, into a closed connection. */
	if (c->at == AT_STARTTLS && c->fault == F_421)
		return "lost";
	/* A reset during the handshake is the TLS layer's error. */
	if (c->at == AT_TLS && c->fault == F_RESET)
		return "tls";
	return kinds[c->fault];
}

/* The stage a fault at `at` is reported at (mxc_stage_name()). */
static const char *fault_stage(const struct mcase *c)
{
	static const char *const stages[AT_LAST] = {
		[AT_GREETING] = "greeting", [AT_EHLO] = "ehlo",
		[AT_STARTTLS] = "starttls", [AT_TLS] = "tls",
		[AT_EHLO2] = "ehlo", [AT_MAIL] = "mail", [AT_RCPT] = "rcpt",
		[AT_DATA] = "data", [AT_BODY] = "body", [AT_DOT] = "dot",
		[AT_QUIT] = "quit",
	};
	if (c->at == AT_STARTTLS && c->fault == F_421)
		return "mail";
	/* A reply nobody asked for is seen while waiting for the next one
	 * (after STARTTLS's it is an injection, seen at once). */
	if (c->fault == F_EXTRA && c->at != AT_STARTTLS && c->at + 1 < AT_LAST)
		return stages[c->at + 1];
	return stages[c->at];
}

/* The reply a fault sends at a stage with a reply. */
static const char *fault_reply(enum fault f)
{
	switch (f) {
	case F_4XX:
		return "< 450 4.3.2 not now";
	case F_5XX:
		return "< 554 5.3.2 go away";
	case F_421:
		return "< 421 4.3.2 closing";
	case F_MALFORMED:
		return "< 2x0 what is this";
	default:
		return NULL;
	}
}

/* Appends the normal dialogue of stages [from, to). */
static size_t append_normal(const char **s, size_t n, enum at from,
                            enum at to, bool tls)
{
	for (enum at a = from; a < to; a++) {
		if (!tls && (a == AT_STARTTLS || a == AT_TLS || a == AT_EHLO2))
			continue;
		if (normal[a].expect != NULL)
			s[n++] = normal[a].expect;
		if (normal[a].reply != NULL)
			s[n++] = normal[a].reply;
	}
	return n;
}

/* Appends mx1's fault at its stage and what must follow it. */
static size_t append_fault(const struct mcase *c, const char **s, size_t n)
{
	static char extra[AT_LAST][300];
	if (c->at == AT_BODY) {
		s[n++] = "> ...";
	} else if (normal[c->at].expect != NULL && c->fault != F_RESET) {
		/* (a reset leaves the command unread: see "reset") */
		s[n++] = normal[c->at].expect;
	}
	switch (c->fault) {
	case F_4XX:
	case F_5XX:
	case F_MALFORMED:
		s[n++] = fault_reply(c->fault);
		if (c->at == AT_BODY) /* the client may still be sending */
			s[n++] = "drain";
		break;
	case F_421:
		s[n++] = fault_reply(c->fault);
		s[n++] = "close";
		break;
	case F_CLOSE:
		s[n++] = "close";
		break;
	case F_RESET:
		/* The client's next bytes stay unread: at QUIT and in the
		 * handshake they are there already, elsewhere they follow. */
		s[n++] = "reset";
		break;
	case F_TIMEOUT:
		s[n++] = "stall";
		break;
	case F_EXTRA:
		snprintf(extra[c->at], sizeof extra[c->at], "%s\n250 2.0.0 extra",
		         normal[c->at].reply);
		s[n++] = extra[c->at];
		break;
	case F_GARBAGE: /* the client may answer with an alert */
		s[n++] = "tls-garbage";
		s[n++] = "drain";
		break;
	case F_ALERT:
		s[n++] = "tls-alert";
		s[n++] = "drain";
		break;
	case F_LAST:
		break;
	}
	switch (c->follow) {
	case FW_NONE:
		break;
	case FW_QUIT:
		s[n++] = normal[AT_QUIT].expect;
		s[n++] = normal[AT_QUIT].reply;
		break;
	case FW_CLEAR:
		n = append_normal(s, n, AT_MAIL, AT_LAST, false);
		break;
	case FW_HELO:
		s[n++] = "> HELO client.example";
		s[n++] = "< 250 mx1.example.com";
		n = append_normal(s, n, AT_MAIL, AT_LAST, false);
		break;
	}
	return n;
}

/* Builds mx1's script and the scenario of one case. */
static void build(const struct mcase *c, struct built *b)
{
	const char **s = b->steps;
	size_t n = append_normal(s, 0, AT_GREETING, c->at, true);
	if (c->at != AT_LAST) /* AT_LAST: the happy path */
		n = append_fault(c, s, n);
	s[n] = NULL;

	if (c->at == AT_LAST)
		snprintf(b->name, sizeof b->name, "happy-path");
	else
		snprintf(b->name, sizeof b->name, "%s-%s", at_names[c->at],
		         fault_names[c->fault]);
	struct scenario *sc = &b->sc;
	sc->name = b->name;
	sc->level = MXC_TLS_MAY;
	sc->dns = two_mx;
	sc->big_message = c->at == AT_BODY ? 1 << 20 : 0;
	bool mx1_delivers = c->kind == K_MX1;
	sc->peers[0] = (struct peer_spec){ "192.0.2.1", b->steps,
	                                   .accepts = mx1_delivers };
	sc->peers[1] = (struct peer_spec){ "192.0.2.1", mx1_clear_script,
	                                   .unused = c->kind != K_CLEAR,
	                                   .accepts = c->kind == K_CLEAR,
	                                   .absent = "STARTTLS" };
	sc->peers[2] = (struct peer_spec){ "192.0.2.2", mx2_script,
	                                   .unused = c->kind != K_NEXT,
	                                   .accepts = c->kind == K_NEXT };
	struct expect *w = &sc->want;
	w->min_elapsed_ms = c->min_s * 1000ull;
	/* The result and its attempts as data: mx1's failure, then the
	 * connection that carried the verdict. */
	if (c->at != AT_LAST && c->kind != K_MX1)
		snprintf(b->attempts, sizeof b->attempts, "%s@%s%s",
		         fault_kind(c), fault_stage(c),
		         c->kind == K_FINAL ? "" : ",none@dot");
	else
		snprintf(b->attempts, sizeof b->attempts, "none@dot");
	w->attempts = b->attempts;
	w->kind = c->kind == K_FINAL ? fault_kind(c) : "none";
	w->stage = c->kind == K_FINAL ? fault_stage(c) : "dot";
	switch (c->kind) {
	case K_NEXT:
		w->outcome = MXC_DELIVERED;
		w->mx = "mx2.example.com";
		w->log = c->words;
		w->detail = "delivered to mx2.example.com[192.0.2.2]";
		w->reply_code = 250;
		break;
	case K_MX1:
	case K_CLEAR:
		w->outcome = MXC_DELIVERED;
		w->mx = "mx1.example.com";
		w->log = c->words;
		w->reply_code = 250;
		w->check_tls = true;
		w->tls = c->kind == K_MX1 && c->at > AT_TLS;
		break;
	case K_FINAL:
		w->outcome = c->outcome;
		w->exit_status = c->exit_status;
		w->reply_code = c->code;
		w->enhanced = c->enhanced;
		w->detail = c->words;
		w->mx = "mx1.example.com";
		break;
	}
}

/* mx1's dialogue in clear up to the final dot, then `...` (a macro so
 * that each use is one array). */
#define UP_TO_DOT(...)                                                    \
	(const char *const[]){                                            \
		"< 220 mx1.example.com ESMTP", "> EHLO client.example",   \
		"< 250 mx1.example.com",                                  \
		"> MAIL FROM:<sender@example.org>", "< 250 2.1.0 ok",     \
		"> RCPT TO:<rcpt@example.com>", "< 250 2.1.5 ok",         \
		"> DATA", "< 354 go ahead", "> .", __VA_ARGS__, NULL }

/* A recipient at an address literal; STARTTLS offered and taken
 * (opportunistic: no DANE without a DNS name). */
static const char *const literal_script[] = {
	"< 220 literal ESMTP",
	"> EHLO client.example",
	"< 250-literal\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls",
	"> EHLO client.example",
	"< 250 literal",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@[IPv6:2001:db8::25]>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued as 25",
	"> QUIT",
	"< 221 bye",
	NULL,
};

/* No DNS at all: any lookup of a literal would fail loudly. */
static const struct dns_row no_dns[] = {
	{ "[IPv6:2001:db8::25]", DNS_MX, .result = DNS_FAIL },
	{ "[192.0.2.25]", DNS_MX, .result = DNS_FAIL },
	{ .name = NULL },
};

/* Filled by main(): 5000 bytes without a line end; 150 continuation
 * lines. */
static char endless_line[5100];
static char endless_lines[150 * 12 + 20];

/* Faults in the middle of a reply, hostile replies and HELO, beside the
 * matrix. */
static const struct scenario more[] = {
	/* A reply cut inside its last line is no reply. */
	{ "ehlo-cut-then-close", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "<raw 250-mx1.example.com\r\n250-PIPEL", "close", NULL },
	               .accepts = false },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "lost connection with mx1.example.com[192.0.2.1] "
	                   "while performing the EHLO handshake" } },
	/* Half a 250 to the dot, then nothing: not delivered, and not
	 * retried elsewhere. */
	{ "dot-cut-then-close", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", UP_TO_DOT("<raw 25", "close"), .accepts = false },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, -1, "",
	            .detail = "lost connection|message may have been delivered" } },
	{ "dot-cut-then-stall", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", UP_TO_DOT("<raw 250 2.0.0 queu", "stall"),
	               .accepts = false },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, -1, "",
	            .detail = "conversation timed out|message may have been "
	                      "delivered", .min_elapsed_ms = 600000 } },
	/* A multi-line 250 to the dot whose last line never comes. */
	{ "dot-continuation-then-close", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", UP_TO_DOT("<raw 250-2.0.0 queued\r\n", "close"),
	               .accepts = false },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "lost connection" } },
	/* --timeout 60 scales every stage: the dot waits 60 s, not 600. */
	{ "timeout-scaled-dot", MXC_TLS_MAY, .dns = two_mx, .timeout = 60,
	  .peers = { { "192.0.2.1", UP_TO_DOT("stall"), .accepts = false },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_TEMPFAIL, 75, .detail = "conversation timed out",
	            .min_elapsed_ms = 60000, .max_elapsed_ms = 61000 } },
	/* --timeout 10 would scale DATA's 120 s to 2 s: the stage floor
	 * keeps it at 5 s (the whole lookup-to-timeout path included). */
	{ "timeout-scaled-floor", MXC_TLS_MAY, .dns = two_mx, .timeout = 10,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 250 mx1.example.com",
	                 "> MAIL FROM:<sender@example.org>", "< 250 2.1.0 ok",
	                 "> RCPT TO:<rcpt@example.com>", "< 250 2.1.5 ok",
	                 "> DATA", "stall", NULL }, .accepts = false },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "conversation timed out",
	            .min_elapsed_ms = 5000, .max_elapsed_ms = 5100 } },
	/* RFC 5321 4.1.3 domain literals: straight to the address, no MX;
	 * under the default level opportunistic TLS, no DANE. */
	{ "literal-ipv6", MXC_TLS_DANE, .dns = no_dns,
	  .recipient = "rcpt@[IPv6:2001:db8::25]",
	  .peers = { { "2001:db8::25", literal_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .check_dane = true, .dane = MXC_DANE_NONE,
	            .check_tls = true, .tls = true,
	            .log = "address literal [IPv6:2001:db8::25]: no MX lookup" } },
	/* dane-only can never be met without a DNS name: refused, for good,
	 * before any connection. */
	{ "literal-dane-only", MXC_TLS_DANE_ONLY, .dns = no_dns,
	  .recipient = "rcpt@[192.0.2.25]",
	  .peers = { { "192.0.2.25", (const char *const[]){ "stall", NULL },
	               .unused = true } },
	  .want = { MXC_PERMFAIL, 69, .detail = "no DANE|address literal|"
	            "dane-only" } },
	/* Hostile greetings.  A line that never ends: cut at the line
	 * bound, not read for ever. */
	{ "greeting-endless-line", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", (const char *const[]){ endless_line, "stall",
	                 NULL }, .accepts = false },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "reply line too long" } },
	/* Continuation lines without end: cut at the line count bound. */
	{ "greeting-endless-continuation", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", (const char *const[]){ endless_lines, "stall",
	                 NULL }, .accepts = false },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "protocol error with mx1.example.com[192.0.2.1]" } },
	/* A byte every 100 s: the greeting's 300 s are a deadline for the
	 * whole reply, not an idle timeout. */
	{ "greeting-trickle", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", (const char *const[]){ "trickle", NULL },
	               .accepts = false },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "conversation timed out with mx1.example.com",
	            .min_elapsed_ms = 300000, .max_elapsed_ms = 301000 } },
	/* A 554 while the body is still going out, in clear: the server
	 * must not see QUIT inside the message; here it reads the rest of
	 * the message and answers QUIT. */
	{ "body-5xx-clear-quit-after-body", MXC_TLS_MAY, .dns = two_mx,
	  .big_message = 1 << 20,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 250 mx1.example.com",
	                 "> MAIL FROM:<sender@example.org>", "< 250 2.1.0 ok",
	                 "> RCPT TO:<rcpt@example.com>", "< 250 2.1.5 ok",
	                 "> DATA", "< 354 go ahead", "> ...",
	                 "< 554 5.3.4 message too big", "> .", "> QUIT",
	                 "< 221 bye", NULL }, .accepts = false },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 69, 554, "5.3.4", .detail = "too big",
	            .max_elapsed_ms = 1000 } },
	/* The same in TLS: wolfSSL must be given the same bytes again after
	 * WANT_WRITE, so nothing may be queued ahead of the body's rest. */
	{ "body-5xx-tls-quit-after-body", MXC_TLS_MAY, .dns = two_mx,
	  .big_message = 1 << 20,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 250-mx1.example.com\n250 STARTTLS", "> STARTTLS",
	                 "< 220 2.0.0 ready to start TLS", "tls",
	                 "> EHLO client.example", "< 250 mx1.example.com",
	                 "> MAIL FROM:<sender@example.org>", "< 250 2.1.0 ok",
	                 "> RCPT TO:<rcpt@example.com>", "< 250 2.1.5 ok",
	                 "> DATA", "< 354 go ahead", "> ...",
	                 "< 554 5.3.4 message too big", "> .", "> QUIT",
	                 "< 221 bye", NULL }, .accepts = false },
	             { "192.0.2.2", mx2_script, .unused = true } },
	  .want = { MXC_PERMFAIL, 69, 554, "5.3.4", .detail = "too big",
	            .max_elapsed_ms = 1000 } },
	/* EHLO and then HELO refused: the next host. */
	{ "helo-5xx-next-host", MXC_TLS_MAY, .dns = two_mx,
	  .peers = { { "192.0.2.1", (const char *const[]){
	                 "< 220 mx1.example.com ESMTP", "> EHLO client.example",
	                 "< 502 5.5.1 EHLO not implemented",
	                 "> HELO client.example", "< 501 5.5.4 no", "> QUIT",
	                 "< 221 bye", NULL }, .accepts = false },
	             { "192.0.2.2", mx2_script, .accepts = true } },
	  .want = { MXC_DELIVERED, 0, .mx = "mx2.example.com",
	            .log = "said: 501 5.5.4 no (in reply to HELO command)" } },
};

/* Builds the case table, adds the rest, and runs them. */
int main(int argc, char **argv)
{
	enum { NMORE = sizeof more / sizeof more[0] };
	static struct built built[NCASES];
	static struct scenario table[NCASES + NMORE];
	for (size_t i = 0; i < NCASES; i++) {
		build(&cases[i], &built[i]);
		table[i] = built[i].sc;
	}
	for (size_t i = 0; i < NMORE; i++)
		table[NCASES + i] = more[i];
	size_t used = (size_t)snprintf(endless_line, sizeof endless_line,
	                               "<raw 220 ");
	memset(endless_line + used, 'x', sizeof endless_line - used - 1);
	used = (size_t)snprintf(endless_lines, sizeof endless_lines, "<raw ");
	for (int i = 0; i < 150; i++)
		used += (size_t)snprintf(endless_lines + used,
		                         sizeof endless_lines - used,
		                         "220-%05d\r\n", i);
	return scenario_main(argc, argv, table, NCASES + NMORE);
}
