/*
 * result: what an SMTP reply at a given stage means for the delivery, as
 * data (RFC 5321 4.2.1 reply classes, RFC 3463 enhanced codes), and the
 * words that name each stage in reports.  Pure, so the whole policy sits in
 * one table that a test walks.
 */
#ifndef MXC_RESULT_H
#define MXC_RESULT_H

#include <stdbool.h>

#include "mxclient.h"

/* Where in the dialogue a reply or a failure happened. */
enum stage {
	STAGE_GREETING,
	STAGE_EHLO,
	STAGE_HELO,
	STAGE_STARTTLS,
	STAGE_TLS,       /* the TLS handshake itself */
	STAGE_MAIL,
	STAGE_RCPT,
	STAGE_DATA,
	STAGE_BODY,      /* sending the message, dot not yet sent */
	STAGE_DOT,       /* the final dot sent, waiting for the reply */
	STAGE_QUIT,
	STAGE_RSET,      /* aborting a transaction on a session kept open */
	STAGE_BDAT,      /* "BDAT n LAST" and the whole message sent, waiting
	                    for the final reply (RFC 3030): as STAGE_DOT */
	STAGE_LAST
};

/* What the session concludes. */
enum verdict {
	VERDICT_CONTINUE,  /* a good reply: go on with the dialogue */
	VERDICT_DELIVERED, /* 2xx after the final dot */
	VERDICT_NEXT_HOST, /* this host failed before judging the recipient */
	VERDICT_TEMPFAIL,  /* stop now, temporary */
	VERDICT_PERMFAIL   /* stop now, permanent */
};

/* Whether `stage` waits for the final reply, the one that decides
 * delivery (after the dot, or after BDAT LAST). */
bool result_final(enum stage stage);

/*
 * What a complete reply with `code` means at `stage` (the enhanced code
 * does not change the verdict; the CLI reads it for its exit status).
 * EHLO's 5xx is VERDICT_CONTINUE here: the caller falls back to HELO.
 * STARTTLS refused is also CONTINUE (opportunistic TLS goes on in clear).
 */
enum verdict result_of_reply(enum stage stage, int code);

/*
 * What losing the connection (or a timeout, or a protocol error) at `stage`
 * means: before the dot, try the next host; after it, the message may have
 * arrived, so a temporary failure that is never retried elsewhere now.
 */
enum verdict result_of_loss(enum stage stage);

/*
 * Whether the session can carry another transaction after `code` ended one
 * at `stage`: after a 2xx to the dot, or a 4yz/5yz to MAIL, RCPT, DATA or
 * the dot (RSET first where a transaction is open); never after 421, a
 * reply that cut the body short, or a lost connection.
 */
bool result_session_usable(enum stage stage, int code);

/* "while sending RCPT TO": for "lost connection with X while ...". */
const char *stage_while(enum stage stage);
/* "RCPT TO command": for "host X said: ... (in reply to ...)". */
const char *stage_in_reply(enum stage stage);
/* Short name for logs: "RCPT". */
const char *stage_name(enum stage stage);

/* The public name of a dialogue stage (MXC_STAGE_GREETING ...). */
enum mxc_stage stage_public(enum stage stage);

/* How a connection was lost or given up: each has its words in reports
 * and its failure kind (loss_kind). */
enum loss {
	LOSS_CLOSED,    /* "lost connection with" */
	LOSS_TIMEOUT,   /* "conversation timed out with" */
	LOSS_PROTOCOL,  /* "protocol error with" */
	LOSS_TLS,       /* "TLS failed with" */
	LOSS_TLS_SETUP, /* "cannot start TLS with" */
	LOSS_DANE,      /* "DANE authentication failed for" */
	LOSS_RSET,      /* "RSET refused by" */
	LOSS_TOO_LONG,  /* "command too long for" */
	LOSS_NO_MEMORY, /* "out of memory talking to" */
	LOSS_TOO_MANY,  /* "too many commands in flight to" */
	LOSS_LAST
};

/* The failure kind of a loss. */
enum mxc_failure loss_kind(enum loss loss);

/*
 * The one-line report of a loss at `stage`: "lost connection with
 * MX[ADDR] while sending RCPT TO", with " via PROXY" after the address when
 * `via` is not NULL and " (WHY)" at the end when `why` is not NULL.
 */
void loss_detail(char *out, size_t len, enum loss loss, const char *mx,
                 const char *address, const char *via, enum stage stage,
                 const char *why);

#endif
