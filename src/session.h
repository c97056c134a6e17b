/*
 * session: one SMTP connection, apart from the mail it carries.  It takes a
 * connected socket to READY (greeting, EHLO, STARTTLS and the TLS its
 * policy demands, EHLO again), then carries transactions one at a time:
 * a transaction queues commands, and the session matches each complete
 * reply to the oldest command still waiting for one (so PIPELINING is a
 * matter of queueing several).  Between transactions it is idle; at the
 * end it sends QUIT and closes.
 *
 * Nothing here points at a delivery: log lines carry ids only.
 */
#ifndef MXC_SESSION_H
#define MXC_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dane.h"
#include "policy.h"
#include "reply.h"
#include "result.h"
#include "tls.h"

struct config;
struct session;
struct mxc_message;

/* Where a session is. */
enum session_state {
	SESSION_GREETING, /* waiting for the 220 */
	SESSION_EHLO,
	SESSION_HELO,     /* EHLO was refused (RFC 5321 4.1.4) */
	SESSION_STARTTLS,
	SESSION_TLS,      /* the handshake */
	SESSION_READY,    /* may start a transaction */
	SESSION_BUSY,     /* a transaction runs */
	SESSION_RSET,     /* RSET sent: aborting a transaction left open */
	SESSION_QUIT,     /* QUIT sent */
	SESSION_CLOSED,   /* the connection is gone */
	SESSION_LAST
};

/* What a session found out; text escaped. */
struct session_info {
	char tls_version[32];    /* "" while in clear */
	char tls_cipher[64];
	char tls_group[32];      /* key exchange group, "" when unknown */
	bool dane_checked;       /* the handshake reached the DANE check, or
	                            resumed a TLS session from one whose
	                            check authenticated the peer */
	struct dane_result dane; /* its result (POLICY_TLS_DANE only) */
	bool tls_resumed;        /* the TLS session was resumed */
	struct ehlo_caps caps;   /* from the latest EHLO (none after HELO) */
	/* The peer's chain, leaf first, moved out of the TLS session at the
	 * end of the handshake.  The session owns it. */
	struct tls_chain chain;
};

/* The peer's leaf certificate for reports: its subject and issuer, and the
 * SHA-256 fingerprints of the certificate and of its public key (lower-case
 * hex); "" each without a certificate or when it does not parse. */
struct session_leaf {
	char subject[512];
	char issuer[512];
	char cert_sha256[2 * 32 + 1];
	char pkey_sha256[2 * 32 + 1];
};

/* How a session's setup failed; text escaped. */
struct session_failure {
	enum stage stage;      /* where */
	int code;              /* the deciding reply's code, 0 if none */
	char enhanced[12];
	char reply[1024];      /* the reply, lines joined by a space */
	char detail[1280];     /* one line for people */
	bool tls_failed;       /* the TLS required was refused or failed */
	enum mxc_failure kind; /* what failed (MXC_FAILURE_REPLY: `code`) */
};

/*
 * The setup ended: `failure` NULL means READY.  Called from deep inside
 * the connection's callbacks: the owner may start a transaction here, but
 * quits or frees the session only later, from an event of its own.
 */
typedef void session_ready_fn(void *arg, struct session *s,
                              const struct session_failure *failure);

/* What a session is started with; strings are copied. */
struct session_params {
	const struct config *config;
	uint64_t id;                  /* for log lines, never 0 */
	uint64_t delivery_id;         /* the delivery it is made for, for log
	                                 lines until a transaction attaches */
	const char *mx;               /* host name, for reports */
	const char *address;          /* its IP as text, for reports */
	struct policy *policy;        /* taken over, even on failure */
	session_ready_fn *ready;
	void *arg;
};

/*
 * Starts a session on `fd` (taken over, even on failure: closed through
 * the transport).  NULL when memory runs out.
 */
struct session *session_start(int fd, const struct session_params *params);
/* Closes the connection at once (no QUIT) and frees the session. */
void session_free(struct session *s);
/* A quitting session is closed and about to be freed. */
typedef void session_closed_fn(void *arg);
/*
 * Ends the session politely: QUIT, then close when the reply comes, the
 * connection drops or QUIT's timeout passes; then `closed` (may be NULL)
 * is called and the session freed.  `closed` runs from inside this call
 * when the connection is already gone.  Not while BUSY.
 */
void session_quit(struct session *s, session_closed_fn *closed, void *arg);

enum session_state session_state(const struct session *s);
const struct session_info *session_info(const struct session *s);
/* The leaf's evidence (struct session_leaf), worked out on first use and
 * kept for the connection. */
const struct session_leaf *session_leaf(struct session *s);
const struct policy *session_policy(const struct session *s);
const char *session_mx(const struct session *s);
const char *session_address(const struct session *s);
uint64_t session_id(const struct session *s);

/* ---- for the transaction (smtp.c) ---- */

/* What a transaction hears from the session, from inside the connection's
 * callbacks: it may send commands, but not free or quit the session. */
struct session_txn_ops {
	/* The session is ready for the transaction's first command: at once
	 * from session_attach(), or when an earlier RSET is answered. */
	void (*go)(void *arg);
	/* A complete reply to the command sent for `stage`. */
	void (*reply)(void *arg, enum stage stage, const struct reply *reply);
	/* Everything written so far has left (the message body). */
	void (*drained)(void *arg);
	/* The connection failed while waiting at `stage`: `loss` says what
	 * happened, `why` adds the cause or NULL. */
	void (*lost)(void *arg, enum stage stage, enum loss loss,
	             const char *why);
};

/*
 * Hands a usable session (READY, or still in RSET) to a transaction of
 * delivery `delivery_id` (for log lines); it is BUSY until
 * session_detach(), and `go` says when the first command may be sent.
 */
void session_attach(struct session *s, uint64_t delivery_id,
                    const struct session_txn_ops *ops, void *arg);
/*
 * The transaction is over: READY again unless the connection is gone.
 * `open`: it ended with a transaction still open on the server (MAIL
 * accepted, no final reply): RSET goes first (RFC 5321 4.1.1.5), and the
 * session is READY when its 250 comes (closed if anything else does).
 */
void session_detach(struct session *s, bool open);
/* The session waits in the pool: it gives back what an idle connection
 * need not hold (the empty input buffer). */
void session_park(struct session *s);
/* Transactions attached so far. */
unsigned session_transactions(const struct session *s);
/* Whether an idle session can take a transaction: READY (or RSET, which
 * ends READY or closed) and connected. */
bool session_usable(const struct session *s);
/* Milliseconds since the session started. */
uint64_t session_age_ms(const struct session *s);
/* Sends one command line (CRLF added) whose reply will be for `stage`.
 * Returns false after reporting `lost` (out of memory, too long). */
bool session_command(struct session *s, enum stage stage, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
/*
 * Sends the message's wire form (body and final dot) by reference, holding
 * a reference to the message until the bytes have left: a transaction that
 * ends early (a reply during the body) does not cut them short, and QUIT
 * goes after the dot.  The timeout restarts on progress.  The reply to the
 * final dot is then expected for STAGE_DOT.
 */
void session_body(struct session *s, const struct mxc_message *m);
/*
 * Sends "BDAT <size> LAST" and the message's BDAT chunk (RFC 3030) in the
 * same write, by reference as session_body() does; the reply is then
 * expected for STAGE_BDAT.  Returns false after reporting `lost`.
 */
bool session_bdat(struct session *s, const struct mxc_message *m);
/* Replies the transaction still waits for (commands piped, a body whose
 * final dot has yet to be answered). */
size_t session_awaiting(const struct session *s);
/* Logs a line about the session's current transaction. */
void session_log(const struct session *s, enum mxc_log_level level,
                 const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
