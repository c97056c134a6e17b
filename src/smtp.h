/*
 * smtp: one mail transaction (RFC 5321 3.3) on a READY session: MAIL, RCPT,
 * DATA, the message and the final dot (or BDAT LAST and the message where
 * CHUNKING is offered; piped where PIPELINING is), for one sender, one
 * recipient and the shared message.  It reports a verdict; what becomes of the session
 * and of the delivery is the owner's business.
 */
#ifndef MXC_SMTP_H
#define MXC_SMTP_H

#include <stdbool.h>
#include <stdint.h>

#include "result.h"

struct config;
struct mxc_message;
struct session;
struct smtp;

/* What the transaction concluded, all text escaped and NUL-terminated. */
struct smtp_outcome {
	enum verdict verdict;  /* DELIVERED, NEXT_HOST, TEMPFAIL or PERMFAIL */
	enum stage stage;      /* where it ended */
	enum mxc_failure kind; /* what failed: MXC_FAILURE_REPLY for a 4xx
	                          or 5xx, NONE when delivered */
	int code;              /* the deciding reply's code, 0 if none */
	char enhanced[12];     /* its enhanced code or "" */
	char reply[1024];      /* the deciding reply, lines joined by a space */
	char detail[1280];     /* one line for people */
	bool session_usable;   /* the session may carry another transaction */
	bool open;             /* MAIL was accepted and no final reply came:
	                          the server holds an open transaction */
};

/* One transaction's inputs; strings must outlive the transaction. */
struct smtp_params {
	const struct config *config;
	uint64_t delivery_id;                /* for log lines */
	const char *sender;                  /* "" for <> */
	const char *recipient;
	const struct mxc_message *message;
};

/*
 * The transaction ended.  Called from inside the session's callbacks: the
 * owner must not free the transaction or the session from inside it.
 */
typedef void smtp_done_fn(void *arg, const struct smtp_outcome *outcome);

/* Starts a transaction on a READY session (attached until smtp_free()).
 * NULL when memory runs out. */
struct smtp *smtp_start(struct session *session,
                        const struct smtp_params *params, smtp_done_fn *done,
                        void *arg);
/* Detaches from the session and frees; the session is READY again unless
 * its connection is gone. */
void smtp_free(struct smtp *smtp);

#endif
