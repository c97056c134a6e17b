/*
 * result: the delivery policy for SMTP replies and lost connections, as one
 * table indexed by stage (Postfix keeps its wording the same way), so that
 * "what does a 450 to RCPT mean" has exactly one answer in the code.
 */
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

/* The sysexits code for a verdict reached at a stage. */
static int exit_for(enum verdict v, enum stage stage, const char *enhanced)
{
	switch (v) {
	case VERDICT_PERMFAIL:
		/* RFC 3463 5.1.x: a bad destination mailbox address. */
		if (stage == STAGE_RCPT && strncmp(enhanced, "5.1.", 4) == 0)
			return EXIT_NOUSER;
		return EXIT_UNAVAILABLE;
	case VERDICT_TEMPFAIL:
	case VERDICT_NEXT_HOST:
		return EXIT_TEMPFAIL;
	case VERDICT_DELIVERED:
	case VERDICT_CONTINUE:
		break;
	}
	return EXIT_DELIVERED;
}

/* Whether a stage waits for the reply that decides delivery. */
bool result_final(enum stage stage)
{
	return stage == STAGE_DOT || stage == STAGE_BDAT;
}

/* What a reply means at a stage. */
enum verdict result_of_reply(enum stage stage, int code, const char *enhanced,
                             int *exit_status)
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
	*exit_status = exit_for(v, stage, enhanced != NULL ? enhanced : "");
	return v;
}

/* What losing the connection means at a stage. */
enum verdict result_of_loss(enum stage stage, int *exit_status)
{
	if (stage >= STAGE_LAST)
		stage = STAGE_GREETING;
	enum verdict v = rules[stage].on_loss;
	*exit_status = exit_for(v, stage, "");
	return v;
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
