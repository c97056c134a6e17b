/*
 * smtp: one SMTP client session on a connected socket, from the greeting to
 * QUIT, for one sender, one recipient and the shared message.  It reports a
 * verdict; choosing another host or ending the delivery is delivery.c's job.
 */
#ifndef MXC_SMTP_H
#define MXC_SMTP_H

#include "dane.h"
#include "reply.h"
#include "result.h"
#include "tls.h"

struct config;

/* What TLS a session must achieve before the envelope is sent. */
enum smtp_tls {
	SMTP_TLS_OPPORTUNISTIC, /* STARTTLS when offered, any peer; else clear */
	SMTP_TLS_REQUIRED,      /* STARTTLS mandatory, any peer */
	SMTP_TLS_DANE,          /* STARTTLS mandatory, the peer must match the
	                           TLSA records during the handshake */
	SMTP_TLS_NONE           /* no STARTTLS: the retry in clear after an
	                           opportunistic handshake failed (Postfix) */
};
struct mxc_delivery;
struct mxc_message;
struct smtp;

/* What the session found out, all text escaped and NUL-terminated. */
struct smtp_outcome {
	enum verdict verdict;  /* DELIVERED, NEXT_HOST, TEMPFAIL or PERMFAIL */
	int exit_status;       /* sysexits code */
	enum stage stage;      /* where it ended */
	int code;              /* the deciding reply's code, 0 if none */
	char enhanced[12];     /* its enhanced code or "" */
	char reply[1024];      /* the deciding reply, lines joined by a space */
	char detail[1280];     /* one line for people */
	char tls_version[32];  /* "" when the session stayed in clear */
	char tls_cipher[64];
	bool tls_failed;       /* the TLS required was refused or failed */
	bool dane_checked;     /* the handshake reached the DANE check */
	struct dane_result dane; /* its result (SMTP_TLS_DANE only) */
	/* The peer's certificate chain, leaf first, moved here from the TLS
	 * session when the handshake ended; the receiver of the outcome owns
	 * it (tls_chain_free).  Empty without TLS. */
	struct tls_chain chain;
};

/* One session's inputs; strings must outlive the session. */
struct smtp_params {
	const struct config *config;
	const struct mxc_delivery *delivery; /* for log lines */
	const char *sender;                  /* "" for <> */
	const char *recipient;
	const struct mxc_message *message;
	const char *mx;                      /* host name, for SNI and reports */
	const char *address;                 /* its IP as text, for reports */
	enum smtp_tls tls;                   /* what TLS must be achieved */
	const char *sni;                     /* name sent in SNI: the TLSA base
	                                        domain under DANE, else mx */
	const struct dane_tlsa *tlsa;        /* SMTP_TLS_DANE: the records */
	size_t ntlsa;
	const char *const *names;            /* SMTP_TLS_DANE: reference names
	                                        (TLSA base domain, MX host, and
	                                        behind a secure MX RRset the
	                                        next-hop domain, CNAME-expanded
	                                        too) */
	size_t nnames;
};

/*
 * The session ended.  Called from inside the event loop's I/O callbacks:
 * the owner must not free the session from inside it (defer to an event).
 */
typedef void smtp_done_fn(void *arg, const struct smtp_outcome *outcome);

/* Starts a session on `fd` (taken over, even on failure: closed through
 * the transport).  NULL when memory runs out. */
struct smtp *smtp_start(int fd, const struct smtp_params *params,
                        smtp_done_fn *done, void *arg);
/* Ends a session at once (no QUIT) and closes its connection. */
void smtp_free(struct smtp *smtp);

#endif
