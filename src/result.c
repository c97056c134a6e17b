/*
 * result: the delivery policy for SMTP replies and lost connections, as one
 * table indexed by stage (Postfix keeps its wording the same way), so that
 * "what does a 450 to RCPT mean" has exactly one answer in the code.
 */
#include <stdio.h>
#include <string.h>

#include "result.h"

/* Per stage: report wording and what each reply class means. */
struct stage_rule {
	const char *name;      /* for logs */
	const char *while_;    /* "lost connection with X while ..." */
	const char *in_reply;  /* "(in reply to ...)" */
	enum verdict on_4xx;   /* meaning of a 4yz reply */
	enum verdict on_5xx;   /* meaning of a 5yz reply */
	enum verdict on_loss;  /* meaning of a lost connection or timeout */
	bool usable;           /* after a 4yz/5yz (other than 421) the
	                          session can carry the next transaction */
};

/*
 * Before the recipient is judged (greeting, EHLO, MAIL, DATA) a failure is
 * the host's: another MX may do better.  A 4xx to RCPT is the recipient's
 * (greylisting, a full mailbox): every MX would say the same, so stop.
 * After the final dot the message may have arrived: never retry at once.
 */
static const struct stage_rule rules[STAGE_LAST] = {
	[STAGE_GREETING] = { "greeting", "receiving the initial server greeting",
	                     "initial greeting",
	                     VERDICT_NEXT_HOST, VERDICT_NEXT_HOST, VERDICT_NEXT_HOST, false },
	/* EHLO 5xx: fall back to HELO (the caller handles CONTINUE here). */
	[STAGE_EHLO] = { "EHLO", "performing the EHLO handshake", "EHLO command",
	                 VERDICT_NEXT_HOST, VERDICT_CONTINUE, VERDICT_NEXT_HOST, false },
	[STAGE_HELO] = { "HELO", "performing the HELO handshake", "HELO command",
	                 VERDICT_NEXT_HOST, VERDICT_NEXT_HOST, VERDICT_NEXT_HOST, false },
	/* STARTTLS refused: opportunistic TLS carries on in clear. */
	[STAGE_STARTTLS] = { "STARTTLS", "sending STARTTLS", "STARTTLS command",
	                     VERDICT_CONTINUE, VERDICT_CONTINUE, VERDICT_NEXT_HOST, false },
	[STAGE_TLS] = { "TLS", "performing the TLS handshake", "TLS handshake",
	                VERDICT_NEXT_HOST, VERDICT_NEXT_HOST, VERDICT_NEXT_HOST, false },
	[STAGE_MAIL] = { "MAIL", "sending MAIL FROM", "MAIL FROM command",
	                 VERDICT_NEXT_HOST, VERDICT_PERMFAIL, VERDICT_NEXT_HOST, true },
	[STAGE_RCPT] = { "RCPT", "sending RCPT TO", "RCPT TO command",
	                 VERDICT_TEMPFAIL, VERDICT_PERMFAIL, VERDICT_NEXT_HOST, true },
	[STAGE_DATA] = { "DATA", "sending DATA command", "DATA command",
	                 VERDICT_NEXT_HOST, VERDICT_PERMFAIL, VERDICT_NEXT_HOST, true },
	/* A reply before the dot went out: the server cut the message short. */
	[STAGE_BODY] = { "BODY", "sending message body", "end of DATA command",
	                 VERDICT_TEMPFAIL, VERDICT_PERMFAIL, VERDICT_NEXT_HOST, false },
	[STAGE_DOT] = { "DOT",
	                "sending end of data -- message may have been delivered",
	                "end of DATA command",
	                VERDICT_TEMPFAIL, VERDICT_PERMFAIL, VERDICT_TEMPFAIL, true },
	/* After QUIT the verdict is already known; QUIT cannot change it. */
	[STAGE_QUIT] = { "QUIT", "sending QUIT", "QUIT command",
	                 VERDICT_CONTINUE, VERDICT_CONTINUE, VERDICT_CONTINUE, false },
	/* RSET between transactions: no delivery waits on it. */
	[STAGE_RSET] = { "RSET", "sending RSET", "RSET command",
	                 VERDICT_CONTINUE, VERDICT_CONTINUE, VERDICT_CONTINUE, false },
	/* The one chunk went with its LAST: exactly as after the dot. */
	[STAGE_BDAT] = { "BDAT",
	                 "sending BDAT LAST -- message may have been delivered",
	                 "BDAT LAST command",
	                 VERDICT_TEMPFAIL, VERDICT_PERMFAIL, VERDICT_TEMPFAIL, true },
};

/* Whether a stage waits for the reply that decides delivery. */
bool result_final(enum stage stage)
{
	return stage == STAGE_DOT || stage == STAGE_BDAT;
}

/* What a reply means at a stage. */
enum verdict result_of_reply(enum stage stage, int code)
{
	enum verdict v;
	if (stage >= STAGE_LAST)
		stage = STAGE_GREETING;
	if (code >= 200 && code < 400) {
		/* 2yz, and 3yz where one is expected (354 to DATA, which the
		 * session checks), move on; a 2xx to the dot is the goal. */
		v = result_final(stage) && code < 300 ? VERDICT_DELIVERED
		                                      : VERDICT_CONTINUE;
	} else if (code >= 400 && code < 500) {
		v = rules[stage].on_4xx;
	} else {
		v = rules[stage].on_5xx;
	}
	return v;
}

/* What losing the connection means at a stage. */
enum verdict result_of_loss(enum stage stage)
{
	if (stage >= STAGE_LAST)
		stage = STAGE_GREETING;
	return rules[stage].on_loss;
}

/* Whether the session survives a reply that ended a transaction. */
bool result_session_usable(enum stage stage, int code)
{
	if (stage >= STAGE_LAST || code == 421)
		return false; /* 421: the server is closing (RFC 5321 3.8) */
	if (result_final(stage) && code >= 200 && code < 300)
		return true;
	return code >= 400 && rules[stage].usable;
}

/* Wording after "while". */
const char *stage_while(enum stage stage)
{
	return stage < STAGE_LAST ? rules[stage].while_ : "talking";
}

/* Wording after "in reply to". */
const char *stage_in_reply(enum stage stage)
{
	return stage < STAGE_LAST ? rules[stage].in_reply : "command";
}

/* Short name. */
const char *stage_name(enum stage stage)
{
	return stage < STAGE_LAST ? rules[stage].name : "?";
}

/* ---- the public vocabulary of results ---- */

/* Per failure kind: its name and its RFC 8460 result type. */
static const struct {
	const char *name;
	const char *tlsrpt; /* NULL: not a TLS failure */
} kinds[MXC_FAILURE_LAST] = {
	[MXC_FAILURE_NONE] = { "none", NULL },
	[MXC_FAILURE_DNS] = { "dns", NULL },
	[MXC_FAILURE_DNSSEC] = { "dnssec", "dnssec-invalid" },
	[MXC_FAILURE_NO_DOMAIN] = { "no-domain", NULL },
	[MXC_FAILURE_NULL_MX] = { "null-mx", NULL },
	[MXC_FAILURE_NO_MX_HOST] = { "no-mx-host", NULL },
	[MXC_FAILURE_NO_ADDRESS] = { "no-address", NULL },
	[MXC_FAILURE_CONNECT] = { "connect", NULL },
	[MXC_FAILURE_STARTTLS] = { "starttls", "starttls-not-supported" },
	/* RFC 8460 4.3.2: a failed negotiation that fits no other type. */
	[MXC_FAILURE_TLS] = { "tls", "validation-failure" },
	/* The DANE check does not yet say why (expired, name): general. */
	[MXC_FAILURE_DANE] = { "dane", "validation-failure" },
	[MXC_FAILURE_DANE_REQUIRED] = { "dane-required", "dane-required" },
	[MXC_FAILURE_TLSA_INVALID] = { "tlsa-invalid", "tlsa-invalid" },
	[MXC_FAILURE_REPLY] = { "reply", NULL },
	[MXC_FAILURE_PROTOCOL] = { "protocol", NULL },
	[MXC_FAILURE_TIMEOUT] = { "timeout", NULL },
	[MXC_FAILURE_LOST] = { "lost", NULL },
	[MXC_FAILURE_CANCELLED] = { "cancelled", NULL },
	[MXC_FAILURE_LOCAL] = { "local", NULL },
	[MXC_FAILURE_CAPABILITY] = { "capability", NULL },
};

/* The short name of a failure kind. */
const char *mxc_failure_name(enum mxc_failure kind)
{
	return (unsigned)kind < MXC_FAILURE_LAST && kinds[kind].name != NULL
	       ? kinds[kind].name : "?";
}

/* The TLS-RPT result type of a failure kind, or NULL. */
const char *mxc_failure_tlsrpt(enum mxc_failure kind)
{
	return (unsigned)kind < MXC_FAILURE_LAST ? kinds[kind].tlsrpt : NULL;
}

/* The short name of a public stage. */
const char *mxc_stage_name(enum mxc_stage stage)
{
	static const char *const names[MXC_STAGE_LAST] = {
		"none", "dns", "connect", "greeting", "ehlo", "helo",
		"starttls", "tls", "mail", "rcpt", "data", "body", "dot",
		"quit", "bdat",
	};
	_Static_assert(sizeof names / sizeof names[0] == MXC_STAGE_LAST,
	               "a name for every public stage");
	return (unsigned)stage < MXC_STAGE_LAST ? names[stage] : "?";
}

/* The short name of a DNSSEC status. */
const char *mxc_dnssec_name(enum mxc_dnssec status)
{
	static const char *const names[] = {
		"unknown", "secure", "insecure", "bogus", "indeterminate",
	};
	return (unsigned)status < sizeof names / sizeof names[0]
	       ? names[status] : "?";
}

/* A dialogue stage in public terms (RSET belongs to the next MAIL). */
enum mxc_stage stage_public(enum stage stage)
{
	static const enum mxc_stage map[STAGE_LAST] = {
		[STAGE_GREETING] = MXC_STAGE_GREETING,
		[STAGE_EHLO] = MXC_STAGE_EHLO,
		[STAGE_HELO] = MXC_STAGE_HELO,
		[STAGE_STARTTLS] = MXC_STAGE_STARTTLS,
		[STAGE_TLS] = MXC_STAGE_TLS,
		[STAGE_MAIL] = MXC_STAGE_MAIL,
		[STAGE_RCPT] = MXC_STAGE_RCPT,
		[STAGE_DATA] = MXC_STAGE_DATA,
		[STAGE_BODY] = MXC_STAGE_BODY,
		[STAGE_DOT] = MXC_STAGE_DOT,
		[STAGE_BDAT] = MXC_STAGE_BDAT,
		[STAGE_QUIT] = MXC_STAGE_QUIT,
		[STAGE_RSET] = MXC_STAGE_MAIL,
	};
	return stage < STAGE_LAST ? map[stage] : MXC_STAGE_NONE;
}

/* Each loss's words and failure kind. */
static const struct {
	const char *words;
	enum mxc_failure kind;
} losses[LOSS_LAST] = {
	[LOSS_CLOSED] = { "lost connection with", MXC_FAILURE_LOST },
	[LOSS_TIMEOUT] = { "conversation timed out with", MXC_FAILURE_TIMEOUT },
	[LOSS_PROTOCOL] = { "protocol error with", MXC_FAILURE_PROTOCOL },
	[LOSS_TLS] = { "TLS failed with", MXC_FAILURE_TLS },
	[LOSS_TLS_SETUP] = { "cannot start TLS with", MXC_FAILURE_LOCAL },
	[LOSS_DANE] = { "DANE authentication failed for", MXC_FAILURE_DANE },
	[LOSS_RSET] = { "RSET refused by", MXC_FAILURE_REPLY },
	[LOSS_TOO_LONG] = { "command too long for", MXC_FAILURE_LOCAL },
	[LOSS_NO_MEMORY] = { "out of memory talking to", MXC_FAILURE_LOCAL },
	[LOSS_TOO_MANY] = { "too many commands in flight to",
	                    MXC_FAILURE_LOCAL },
};

enum mxc_failure loss_kind(enum loss loss)
{
	return loss < LOSS_LAST ? losses[loss].kind : MXC_FAILURE_LOST;
}

/* The one-line report of a loss. */
void loss_detail(char *out, size_t len, enum loss loss, const char *mx,
                 const char *address, const char *via, enum stage stage,
                 const char *why)
{
	snprintf(out, len, "%s %s[%s]%s%s while %s%s%s%s",
	         loss < LOSS_LAST ? losses[loss].words : "lost connection with",
	         mx, address, via != NULL ? " via " : "", via != NULL ? via : "",
	         stage_while(stage), why != NULL ? " (" : "",
	         why != NULL ? why : "", why != NULL ? ")" : "");
}
