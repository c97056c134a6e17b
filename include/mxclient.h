/*
 * mxclient: deliver mail directly to each recipient domain's MX.
 *
 * The library runs on the caller's libevent event_base.  One engine holds
 * the DNS resolver, the TLS context and the queue; each delivery carries one
 * shared message from one sender to one recipient and ends with exactly one
 * call of its completion callback.
 *
 * Threads: none are created.  All calls must be made from the thread that
 * runs the event_base.  The library never prints and never exits; it talks
 * through the log callback and the completion callbacks only.
 */
#ifndef MXCLIENT_H
#define MXCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MXCLIENT_VERSION "0.1.0"

struct event_base;
struct mxc_engine;
struct mxc_message;
struct mxc_delivery;

/* How much a log line says; a callback receives lines up to its level. */
enum mxc_log_level {
	MXC_LOG_ERROR,    /* failures of a delivery or of an MX host */
	MXC_LOG_INFO,     /* progress: MX found, connected, TLS, delivered */
	MXC_LOG_PROTOCOL, /* the SMTP transcript: ">>> " sent, "<<< " received */
	MXC_LOG_DEBUG     /* state changes and DNS details */
};

/*
 * Who a log line is about.  A connection (a session) can carry several
 * deliveries one after the other, so a line may name a session without a
 * delivery (its greeting, its QUIT) or both.
 */
struct mxc_log_context {
	/* The delivery the line is about while it is in flight, else NULL
	 * (an engine line, or a session line between deliveries). */
	const struct mxc_delivery *delivery;
	uint64_t delivery_id; /* mxc_delivery_id() of it, 0 for none */
	uint64_t session_id;  /* the connection's number, 0 for none */
};

/*
 * Receives one log line.  `line` has no newline; text a remote server or
 * DNS controls has been escaped (bytes outside printable ASCII as \xHH), so
 * the line is safe for a terminal.  `ctx` and `line` are valid only during
 * the call.  The callback runs deep inside the engine: it may call the
 * read-only getters mxc_delivery_arg(), mxc_delivery_recipient() and
 * mxc_delivery_id() on ctx->delivery, and no other mxc_ function.
 */
typedef void mxc_log_fn(void *arg, const struct mxc_log_context *ctx,
                        enum mxc_log_level level, const char *line);

/* DANE state of a delivery (RFC 7672). */
enum mxc_dane {
	MXC_DANE_NONE,     /* no DANE for the host used (or DANE not consulted) */
	MXC_DANE_VERIFIED, /* the peer matched a DNSSEC-validated TLSA record */
	MXC_DANE_UNUSABLE, /* TLSA present but unusable: TLS unauthenticated */
	MXC_DANE_FAILED    /* DANE was required and no host passed the check */
};

/*
 * TLS security level, in Postfix's vocabulary.  Whatever the level, DNSSEC
 * is validated locally and a bogus answer is never taken as insecure.
 */
enum mxc_tls_level {
	/* Default.  Where the MX, address and TLSA records are DNSSEC-secure
	 * and usable TLSA records exist, STARTTLS is mandatory and the server
	 * must match them (RFC 7672); with only unusable TLSA records TLS is
	 * mandatory but unauthenticated; without DANE, opportunistic. */
	MXC_TLS_DANE,
	/* Opportunistic TLS: STARTTLS when offered, any certificate; no
	 * TLSA lookups. */
	MXC_TLS_MAY,
	/* TLS mandatory with any certificate; no TLSA lookups. */
	MXC_TLS_ENCRYPT,
	/* Only DANE-authenticated TLS: a host without usable, secure TLSA
	 * records, or that fails to match them, is a temporary failure. */
	MXC_TLS_DANE_ONLY
};

/* Where DNSSEC is validated. */
enum mxc_dnssec_mode {
	/* Default: here, against the trust anchor; the resolver's AD bit is
	 * never trusted. */
	MXC_DNSSEC_LOCAL,
	/* By the resolver: its AD bit makes an answer secure (RFC 7672
	 * 2.1.1, as Postfix does).  Only for a validating resolver on this
	 * machine: every resolver must be a loopback address or an address
	 * of one of this machine's interfaces, else mxc_engine_new() fails
	 * with errno EPERM. */
	MXC_DNSSEC_RESOLVER
};

/* Engine settings.  Zero every field you do not set: zero means default. */
struct mxc_engine_options {
	/* EHLO name: a host name or an address literal ("[192.0.2.1]",
	 * "[IPv6:2001:db8::1]"); anything else (CR or LF above all) makes
	 * mxc_engine_new() fail with EINVAL.  NULL: this machine's host
	 * name.  Copied. */
	const char *helo_name;
	/* NULL-terminated list of "ADDR" or "ADDR#PORT" recursive resolvers;
	 * NULL: the nameservers of /etc/resolv.conf.  Copied. */
	const char *const *resolvers;
	/* Zone-file DS or DNSKEY lines for the DNS root (or any anchor);
	 * NULL: /usr/share/dns/root.key.  Read once by mxc_engine_new(). */
	const char *trust_anchor_file;
	/* SMTP port to connect to; 0: 25. */
	unsigned port;
	/* Longest single wait, in seconds.  0: the RFC 5321 4.5.3.2 timeouts
	 * (greeting 5 min ... final reply 10 min).  Otherwise every timeout is
	 * scaled by timeout/600, so the final reply waits `timeout` seconds and
	 * the shorter stages proportionally less, but never less than 5
	 * seconds (or `timeout` itself when that is shorter): a connect
	 * scaled from 30 s would otherwise give up after a fraction of a
	 * second.  A DNS lookup gets 10 s, or `timeout` when shorter. */
	unsigned timeout;
	/* How connections reach the MX hosts; both NULL: directly.  TLS,
	 * DNSSEC and DANE stay on this machine either way: a proxy relays
	 * ciphertext after STARTTLS and never sees a DNS question.
	 * `proxy`: "socks5://[USER:PASS@]IP:PORT" (RFC 1928; RFC 1929 when
	 * USER:PASS is given, %XX-escaped); it is asked for IP addresses,
	 * never names.
	 * `proxy_command`: run once per connection attempt with its stdin
	 * and stdout as the connection, e.g. "ssh -W %h:%p relay.example";
	 * %h the MX address, %n the MX host name, %p the port, %% a percent.
	 * Split into words like a shell (quotes, backslash) but run without
	 * one.  Its stderr goes to the log.  Not both.  Copied. */
	const char *proxy;
	const char *proxy_command;
	/* TLS security level for every delivery; 0: MXC_TLS_DANE. */
	enum mxc_tls_level tls_level;
	/* Deliveries in flight at once; the rest wait, started round robin
	 * over their recipient domains.  0: 100. */
	unsigned max_concurrent;
	/* Deliveries in flight at once to one recipient domain (as Postfix's
	 * destination concurrency), so a large or slow domain neither takes
	 * every slot nor floods its receiver.  0: 20. */
	unsigned max_per_destination;
	/* Log sink and its argument; NULL: no logging.  Lines above
	 * `log_level` are not produced at all. */
	mxc_log_fn *log;
	void *log_arg;
	enum mxc_log_level log_level;
	/* Where DNSSEC is validated; 0: MXC_DNSSEC_LOCAL. */
	enum mxc_dnssec_mode dnssec;
	/* Connection reuse.  A connection whose transaction ended cleanly is
	 * kept idle for the next delivery to the same MX host and address
	 * under exactly the same TLS policy (never across policies).
	 * `reuse_limit`: transactions per connection; 0: 100; 1: no reuse.
	 * `idle_ms`: an idle connection is closed (QUIT) after this; 0: 5000.
	 * `max_connection_age`: seconds after which a connection is no longer
	 * reused; 0: 300. */
	unsigned reuse_limit;
	unsigned idle_ms;
	unsigned max_connection_age;
	/* Nonzero: never send the message with BDAT (RFC 3030) where CHUNKING
	 * is offered: DATA and the dot-stuffed message, as without it.
	 * BDAT saves a round trip (MAIL, RCPT and the message go in one
	 * write where PIPELINING is offered too). */
	int no_chunking;
};

/*
 * Creates an engine on `base` (borrowed: it must outlive the engine).
 * Returns NULL on failure with a one-line reason in `err` (if not NULL) and
 * errno set: EINVAL for a bad option or configuration (no base, proxy
 * syntax, TLS level, port, resolver syntax, a trust anchor file that is
 * missing, unreadable, not a regular file, empty or without a DS/DNSKEY
 * record), EPERM when MXC_DNSSEC_RESOLVER is asked with a resolver that is
 * not on this machine, ENOENT when the proxy command's program is not
 * found (or not executable) in $PATH, ENOMEM when memory runs out, EIO
 * when getdns or wolfSSL cannot be set up.
 * Nothing is sent before this returns.
 */
struct mxc_engine *mxc_engine_new(struct event_base *base,
                                  const struct mxc_engine_options *options,
                                  char *err, size_t errlen);

/*
 * Ends every idle connection politely (QUIT) and calls `done` once the
 * engine holds none, from an event; connections still carrying a delivery
 * are ended as their deliveries finish.  For a program about to exit: call
 * it once its deliveries have ended, and free the engine after `done`.
 * Without it, mxc_engine_free() closes idle connections without QUIT.
 */
void mxc_engine_drain(struct mxc_engine *engine, void (*done)(void *arg),
                      void *arg);

/*
 * Frees the engine.  Every delivery still outstanding completes first,
 * from inside this call: its completion callback runs with MXC_TEMPFAIL
 * and the detail "cancelled" (or with its real result if it had already
 * ended), so a caller can free what it attached to each delivery.  Those
 * callbacks may use the mxc_delivery_* getters; mxc_deliver() on this
 * engine fails (EINVAL) and a second mxc_engine_free() does nothing.  Must
 * not be called from inside one of the engine's callbacks other than a
 * completion callback (the delivery being reported then is not reported
 * twice).
 */
void mxc_engine_free(struct mxc_engine *engine);

/*
 * Counters of an engine since it was made.  The struct only ever grows at
 * its end: set `size` to sizeof(struct mxc_engine_stats) before the call;
 * the engine fills that many bytes at most and sets `size` to what it
 * filled, so a program built against an older header keeps working.
 */
struct mxc_engine_stats {
	size_t size;             /* in: the caller's sizeof; out: bytes set */
	/* DNS.  One delivery asks for MX, then A, AAAA and (for DANE) TLSA
	 * of its MX hosts; the engine shares the answers between deliveries
	 * for their TTL. */
	uint64_t dns_sent;       /* queries sent to a resolver, retries
	                            included */
	uint64_t dns_cached;     /* lookups answered from the cache */
	uint64_t dns_coalesced;  /* lookups that joined an identical one
	                            already in flight (no query of their own) */
	uint64_t dns_retried;    /* queries sent again after a timeout or a
	                            failure of a lookup's earlier attempt */
	uint64_t dns_timed_out;  /* queries that got no reply in time */
	/* SMTP connections. */
	uint64_t connections;    /* sessions opened (connections that got as
	                            far as a greeting wait) */
	uint64_t reused;         /* transactions on a connection kept from an
	                            earlier delivery */
	/* Round trips: how often a session wrote and then had to wait for
	 * the server.  The TCP connect (and any proxy's setup) is not
	 * counted: add one per connection for it.  A TLS handshake counts
	 * as its protocol's full handshake: one for TLS 1.3, two before. */
	uint64_t turns_setup;        /* greeting to ready, all connections */
	uint64_t turns_transactions; /* RSET (when one was needed), MAIL to
	                                the final reply, all transactions */
	uint64_t transactions;       /* transactions counted in
	                                turns_transactions */
	uint64_t tls_resumed;    /* TLS handshakes that resumed a session
	                            kept from an earlier connection */
};

/* Fills `stats` (see its `size`); does nothing if `stats->size` is smaller
 * than the `size` field itself. */
void mxc_engine_get_stats(const struct mxc_engine *engine,
                          struct mxc_engine_stats *stats);

/*
 * Checks a resolver ("ADDR" or "ADDR#PORT", IPv4 or IPv6) or a trust anchor
 * file as mxc_engine_new() would, so a program can report a bad setting as
 * its own.  Return 0, or -1 with a reason in `err`.
 */
int mxc_resolver_check(const char *resolver, char *err, size_t errlen);
int mxc_trust_anchor_check(const char *path, char *err, size_t errlen);

/*
 * Builds a message from raw bytes (an RFC 5322 message; LF, CRLF, a lone CR
 * or any mix as line endings; 8-bit bytes allowed; a lone "." line is not
 * special).  Line endings become CRLF, over-long lines are folded (see
 * mxc_message_folds()) and leading dots are doubled once, here, so every
 * delivery sends the same buffer.  The data is copied.
 * Returns NULL with a reason in `err` on a NUL byte or out of memory.
 * The caller holds one reference.
 */
struct mxc_message *mxc_message_new(const void *data, size_t len,
                                    char *err, size_t errlen);
/* Adds a reference. */
struct mxc_message *mxc_message_ref(struct mxc_message *message);
/* Drops a reference; the last one frees the message. */
void mxc_message_unref(struct mxc_message *message);
/* The message size as RFC 1870 counts it (CRLF lines, no dot-stuffing). */
uint64_t mxc_message_size(const struct mxc_message *message);
/*
 * How many times a line longer than RFC 5321 allows (998 octets before
 * CRLF) was folded: every 998 octets, CRLF and a space were inserted, as
 * Postfix does (smtp_line_length_limit).  0 for a message within limits.
 */
size_t mxc_message_folds(const struct mxc_message *message);

/* How a delivery ended. */
enum mxc_outcome {
	MXC_DELIVERED, /* a 2xx reply followed the final dot */
	MXC_TEMPFAIL,  /* not delivered now; may succeed later */
	MXC_PERMFAIL   /* rejected; retrying will not help */
};

/* One certificate in DER. */
struct mxc_cert {
	const unsigned char *der;
	size_t len;
};

/*
 * What became of a delivery.  Strings are NUL-terminated, never NULL
 * (empty when unknown), escaped as log lines are, and valid only during the
 * completion callback.
 */
struct mxc_result {
	enum mxc_outcome outcome;
	int exit_status;        /* sysexits.h: 0, 75, 67, 68, 69, 65 ... */
	const char *recipient;  /* as given */
	const char *detail;     /* one line: why, e.g. "lost connection with
	                           mx.example[192.0.2.1] while sending RCPT TO" */
	int reply_code;         /* last SMTP reply code, 0 if none */
	const char *enhanced;   /* its RFC 3463 code, e.g. "5.1.1", or "" */
	const char *reply;      /* last reply, lines joined by one space */
	const char *mx;         /* MX host name of the last server talked to */
	const char *address;    /* its IP address */
	const char *tls_version;/* e.g. "TLSv1.3", "" when not encrypted */
	const char *tls_cipher; /* e.g. "TLS_AES_128_GCM_SHA256", or "" */
	enum mxc_dane dane;
	/* The certificate chain the last server presented, leaf first, as
	 * sent (not validated); count 0 without TLS. */
	const struct mxc_cert *peer_chain;
	size_t peer_chain_count;
	uint64_t elapsed_ms;    /* from mxc_deliver() to the end */
	uint64_t queue_ms;      /* the part of elapsed_ms spent waiting for a
	                           free slot (max_concurrent) before the MX
	                           lookup started */
};

/*
 * Called once per delivery, from its own event (never from inside
 * mxc_deliver() or mxc_delivery_cancel()).  The delivery handle is freed
 * when the callback returns.
 */
typedef void mxc_done_fn(void *arg, struct mxc_delivery *delivery,
                         const struct mxc_result *result);

/* One delivery's parameters.  Strings are copied; the message is referenced. */
struct mxc_delivery_params {
	const char *sender;      /* envelope sender; "" for the null sender <> */
	const char *recipient;   /* one envelope recipient, local@domain */
	struct mxc_message *message;
	mxc_done_fn *done;       /* required */
	void *arg;               /* passed to done and to the log callback's
	                            mxc_delivery_arg() */
};

/*
 * Queues a delivery.  Returns NULL with a reason in `err` and errno set
 * when the parameters are invalid (bad address syntax: nothing is sent) or
 * the engine is being freed (EINVAL), or memory runs out (ENOMEM);
 * otherwise `done` will be called exactly once.
 */
struct mxc_delivery *mxc_deliver(struct mxc_engine *engine,
                                 const struct mxc_delivery_params *params,
                                 char *err, size_t errlen);

/*
 * Stops a delivery as soon as possible.  Its completion callback still runs
 * once, later, with MXC_TEMPFAIL and the detail "cancelled" (unless it had
 * already ended, in which case its real result is reported).
 */
void mxc_delivery_cancel(struct mxc_delivery *delivery);

/* The `arg` the delivery was created with. */
void *mxc_delivery_arg(const struct mxc_delivery *delivery);
/* The recipient the delivery was created with. */
const char *mxc_delivery_recipient(const struct mxc_delivery *delivery);
/* The delivery's number, unique in its engine and never 0 (log lines
 * carry it). */
uint64_t mxc_delivery_id(const struct mxc_delivery *delivery);

/*
 * Checks an envelope address as mxc_deliver() would (RFC 5321 Mailbox, or
 * "" when `null_ok`).  Returns 0, or -1 with a reason in `err`.
 */
int mxc_address_check(const char *address, int null_ok, char *err,
                      size_t errlen);

/*
 * Checks an EHLO name as mxc_engine_new() would: a host name or an address
 * literal.  Returns 0, or -1 with a reason in `err` (escaped, one line).
 */
int mxc_helo_check(const char *name, char *err, size_t errlen);

/*
 * One line naming this library's version and the versions of the
 * libraries it runs on as linked at run time, e.g. "libmxclient 0.1.0
 * (libevent 2.1.12-stable, getdns 1.6.0, wolfSSL 5.5.4)".  Static storage.
 */
const char *mxc_versions(void);

#ifdef __cplusplus
}
#endif
#endif
