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
	/* DNSSEC.  The DNSKEY sets of signed zones, once validated, serve as
	 * trust anchors for later answers from those zones for their TTL
	 * (at most an hour), so that those are not validated from the root
	 * again. */
	uint64_t dns_zone_keys;   /* zone DNSKEY sets taken in */
	uint64_t dns_revalidated; /* answers that were bogus with zone keys
	                             in use, validated again from the root
	                             after forgetting every zone key (a zone
	                             that changed keys) */
	/* Answers from a zone whose keys are held are asked for with the
	 * DO bit alone and their RRSIGs checked here against those keys;
	 * shapes that check does not take (CNAME, NXDOMAIN, NSEC3,
	 * wildcards, other algorithms) or a failed check go to getdns. */
	uint64_t dns_checked_here;  /* answers found secure that way */
	uint64_t dns_handed_back;   /* answers asked again for getdns to
	                               validate */
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
 * What kind of failure ended a delivery, or one attempt of it.  Chosen so
 * that a TLS report (RFC 8460) can be made from results: see
 * mxc_failure_tlsrpt().  The numbering only ever grows at its end.
 */
enum mxc_failure {
	MXC_FAILURE_NONE,      /* none: delivered (or an attempt that got as
	                          far as it had to) */
	MXC_FAILURE_DNS,       /* a lookup failed (SERVFAIL, REFUSED, no
	                          answer in time): never "does not exist" */
	MXC_FAILURE_DNSSEC,    /* an answer was DNSSEC-bogus, or its status
	                          indeterminate where DANE may apply */
	MXC_FAILURE_NO_DOMAIN, /* the recipient domain does not exist */
	MXC_FAILURE_NULL_MX,   /* the domain accepts no mail (RFC 7505) */
	MXC_FAILURE_NO_MX_HOST,/* MX records, none of them usable */
	MXC_FAILURE_NO_ADDRESS,/* no MX host has an address */
	MXC_FAILURE_CONNECT,   /* TCP (or proxy) connection failed */
	MXC_FAILURE_STARTTLS,  /* TLS required, STARTTLS not offered or
	                          refused */
	MXC_FAILURE_TLS,       /* the TLS handshake failed */
	MXC_FAILURE_DANE,      /* the certificate matched no usable TLSA
	                          record (or its chain did not verify) */
	MXC_FAILURE_DANE_REQUIRED, /* DANE required (dane-only) but the
	                          host's MX or address records are not
	                          DNSSEC-secure, or it has no TLSA records */
	MXC_FAILURE_TLSA_INVALID, /* DANE required, but every TLSA record
	                          is unusable, or the TLSA lookup failed */
	MXC_FAILURE_REPLY,     /* the server said 4xx or 5xx: see the
	                          reply_code, enhanced and reply fields */
	MXC_FAILURE_PROTOCOL,  /* the server broke the protocol (malformed
	                          reply, reply out of turn, bytes after
	                          STARTTLS's reply) */
	MXC_FAILURE_TIMEOUT,   /* the server did not answer in time */
	MXC_FAILURE_LOST,      /* the connection closed or reset */
	MXC_FAILURE_CANCELLED, /* mxc_delivery_cancel() */
	MXC_FAILURE_LOCAL,     /* here: out of memory, a lookup that could
	                          not start */
	MXC_FAILURE_CAPABILITY,/* the server lacks what the message needs
	                          (SMTPUTF8, or a SIZE limit below it) */
	MXC_FAILURE_LAST
};

/* Short name of a failure kind for logs and JSON: "none", "dns",
 * "dnssec", "no-domain", "null-mx", "no-mx-host", "no-address", "connect",
 * "starttls", "tls", "dane", "dane-required", "tlsa-invalid", "reply",
 * "protocol", "timeout", "lost", "cancelled", "local", "capability"; "?"
 * out of range.  Static. */
const char *mxc_failure_name(enum mxc_failure kind);

/* The RFC 8460 4.3 result type a failure of this kind reports, e.g.
 * "starttls-not-supported", "validation-failure", "dnssec-invalid",
 * "dane-required", "tlsa-invalid"; NULL for a kind that is no TLS failure.  Static. */
const char *mxc_failure_tlsrpt(enum mxc_failure kind);

/* Where a delivery (or an attempt) ended: the DNS, the connection, or the
 * SMTP dialogue (RFC 5321 command names).  Grows only at its end. */
enum mxc_stage {
	MXC_STAGE_NONE,     /* not started (cancelled while queued) */
	MXC_STAGE_DNS,      /* the MX lookup, or a host's address/TLSA ones */
	MXC_STAGE_CONNECT,  /* the TCP (or proxy) connection */
	MXC_STAGE_GREETING,
	MXC_STAGE_EHLO,
	MXC_STAGE_HELO,
	MXC_STAGE_STARTTLS,
	MXC_STAGE_TLS,      /* the TLS handshake and DANE check */
	MXC_STAGE_MAIL,
	MXC_STAGE_RCPT,
	MXC_STAGE_DATA,
	MXC_STAGE_BODY,     /* the message, before the final dot went out */
	MXC_STAGE_DOT,      /* the reply to the final dot */
	MXC_STAGE_QUIT,
	MXC_STAGE_BDAT,     /* the reply to BDAT LAST (RFC 3030): final, like
	                       the dot's */
	MXC_STAGE_LAST
};

/* Short name of a stage: "none", "dns", "connect", "greeting", "ehlo",
 * "helo", "starttls", "tls", "mail", "rcpt", "data", "body", "dot",
 * "quit", "bdat"; "?" out of range.  Static. */
const char *mxc_stage_name(enum mxc_stage stage);

/* A DNSSEC status (RFC 4035 4.3), as validated (see mxc_dnssec_mode). */
enum mxc_dnssec {
	MXC_DNSSEC_UNKNOWN,       /* not looked up (or no answer) */
	MXC_DNSSEC_SECURE,
	MXC_DNSSEC_INSECURE,
	MXC_DNSSEC_BOGUS,
	MXC_DNSSEC_INDETERMINATE
};

/* Short name: "unknown", "secure", "insecure", "bogus", "indeterminate". */
const char *mxc_dnssec_name(enum mxc_dnssec status);

/* One TLSA record (RFC 6698 2.1). */
struct mxc_tlsa {
	uint8_t usage;             /* 2 DANE-TA, 3 DANE-EE (0, 1 unusable) */
	uint8_t selector;          /* 0 certificate, 1 public key */
	uint8_t mtype;             /* 0 full, 1 SHA2-256, 2 SHA2-512 */
	const unsigned char *data; /* certificate association data */
	size_t len;
};

/* One connection attempt, or one MX host that was never connected to (its
 * address is then "").  Strings as in struct mxc_result. */
struct mxc_attempt {
	const char *mx;          /* MX host name */
	const char *address;     /* IP address, "" when none was tried */
	enum mxc_failure kind;   /* MXC_FAILURE_NONE: it carried the result */
	enum mxc_stage stage;    /* where it ended */
	int reply_code;          /* the reply that ended it, 0 if none */
	const char *detail;      /* one line, as mxc_result's detail */
	int reused;              /* 1: a connection kept from an earlier
	                            delivery (no connect, no handshake) */
};

/*
 * What became of a delivery: data, not only words.  Strings are
 * NUL-terminated, never NULL (empty when unknown), escaped as log lines
 * are, and valid only during the completion callback, like every array
 * and pointer here.  The library says what happened; what exit status a
 * program makes of it is the program's (the mxclient command's mapping is
 * in mxclient(1)).
 *
 * Fields about the server (mx ... peer_*) describe the last server talked
 * to; without one (DNS failures) they are empty, 0 or MXC_DNSSEC_UNKNOWN.
 */
struct mxc_result {
	enum mxc_outcome outcome;
	enum mxc_failure kind;  /* why it failed; MXC_FAILURE_NONE when
	                           delivered */
	enum mxc_stage stage;   /* where it ended (MXC_STAGE_DOT or, with
	                           BDAT, MXC_STAGE_BDAT when delivered) */
	const char *recipient;  /* as given */
	const char *sender;     /* as given, "" for the null sender */
	const char *detail;     /* one line: why, e.g. "lost connection with
	                           mx.example[192.0.2.1] while sending RCPT TO" */
	int reply_code;         /* last SMTP reply code, 0 if none */
	const char *enhanced;   /* its RFC 3463 code, e.g. "5.1.1", or "" */
	const char *reply;      /* last reply, lines joined by one space */
	const char *mx;         /* MX host name of the last server talked to */
	const char *address;    /* its IP address */
	const char *tls_version;/* e.g. "TLSv1.3", "" when not encrypted */
	const char *tls_cipher; /* e.g. "TLS_AES_128_GCM_SHA256", or "" */
	const char *tls_group;  /* key exchange group, e.g. "X25519",
	                           "SECP256R1", or "" when unknown */
	enum mxc_dane dane;
	/* The certificate chain the last server presented, leaf first, as
	 * sent (not validated); also when the handshake then failed (a DANE
	 * mismatch: tls_version is ""); count 0 when none came. */
	const struct mxc_cert *peer_chain;
	size_t peer_chain_count;
	/* The leaf's subject and issuer, one line each in OpenSSL's
	 * X509_NAME_oneline() form ("/O=Example/CN=mx.example.net"), its SHA-256 fingerprint and its
	 * public key's (SHA-256 of the DER SubjectPublicKeyInfo, as
	 * posttls-finger shows), in lower-case hex; "" without a chain. */
	const char *peer_subject;
	const char *peer_issuer;
	const char *peer_cert_sha256;
	const char *peer_pkey_sha256;
	/* The DNSSEC status of the recipient domain's MX RRset (or its
	 * denial), and of the address records of the last server's host in
	 * its address family. */
	enum mxc_dnssec mx_dnssec;
	enum mxc_dnssec address_dnssec;
	/* The TLSA records the last server was checked against (DANE only;
	 * count 0 otherwise), and the one that authenticated it (NULL when
	 * none did; then tlsa_matched_depth is -1).  The depth is that of the
	 * certificate it matched in peer_chain: 0 for DANE-EE. */
	const struct mxc_tlsa *tlsa;
	size_t tlsa_count;
	const struct mxc_tlsa *tlsa_matched;
	int tlsa_matched_depth;
	/* Every host and address tried, in the order they ended (the first
	 * 64; memory permitting); the last one with an address is the one
	 * the fields above describe.  A host that failed in the DNS is listed
	 * once, with address "". */
	const struct mxc_attempt *attempts;
	size_t attempt_count;
	/* Times.  elapsed_ms = queue_ms + delivery_ms. */
	uint64_t elapsed_ms;    /* from mxc_deliver() to the end */
	uint64_t queue_ms;      /* waiting for a free slot (max_concurrent,
	                           max_per_destination) before the MX lookup */
	uint64_t delivery_ms;   /* from the MX lookup to the end */
	/* Wall clock, milliseconds since 1970 (UTC): mxc_deliver(), the MX
	 * lookup started (0 if never), the end. */
	int64_t queued_at_ms;
	int64_t started_at_ms;
	int64_t ended_at_ms;
	/* The part of delivery_ms from the start of the last transaction
	 * (MAIL, on a session set up or taken from the pool) to the end; 0
	 * without one.  The rest is setting up: DNS, connection, EHLO, TLS
	 * (Postfix's delays c and d). */
	uint64_t transfer_ms;
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
