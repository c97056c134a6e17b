/*
 * tls: the only module that uses wolfSSL.  A client TLS session on a
 * non-blocking socket, driven step by step by the io layer, that keeps the
 * peer's certificate chain (for reports and for DANE) and lets its owner
 * decide, during the handshake, whether the peer is acceptable.
 */
#ifndef MXC_TLS_H
#define MXC_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tls_ctx;
struct tls;
struct tls_saved;

/* Most certificates kept from a peer's chain, and the largest one kept:
 * what real servers send, with room (RFC 7672 servers may send long
 * chains).  A verifying session refuses a chain beyond either bound, and
 * every session one of more than TLS_CHAIN_MAX certificates.
 * wolfSSL's own compile-time limits may be lower: Debian 12's 5.5.4 takes
 * at most 9 certificates (MAX_CHAIN_DEPTH) and 18462 bytes for the whole
 * Certificate message (MAX_HANDSHAKE_SZ), and such a chain fails the
 * handshake inside wolfSSL, reported by tls_error().  The subproject build
 * raises them to these bounds (subprojects/wolfssl/meson.build). */
#define TLS_CHAIN_MAX 20
#define TLS_CERT_MAX 65536

/* One certificate in DER. */
struct tls_cert {
	unsigned char *der;
	size_t len;
};

/* The peer's chain as presented, leaf first. */
struct tls_chain {
	size_t count;
	struct tls_cert certs[TLS_CHAIN_MAX];
};

/*
 * Decides whether a peer is acceptable, called once during the handshake
 * with the whole presented chain, before the client's Finished message.
 * Returns true to go on; false (with a one-line reason in why) aborts the
 * handshake, so nothing is ever sent to that peer.
 */
typedef bool tls_verify_fn(void *arg, const struct tls_chain *chain,
                           char *why, size_t whylen);

/* Result of a step. */
enum tls_status {
	TLS_OK,         /* done (handshake complete, or bytes moved) */
	TLS_WANT_READ,  /* call again when the socket is readable */
	TLS_WANT_WRITE, /* call again when the socket is writable */
	TLS_CLOSED,     /* the peer closed the session */
	TLS_ERROR       /* failed; tls_error() says why */
};

/* Creates the engine-wide context (TLS 1.2 and 1.3). NULL + err on failure. */
struct tls_ctx *tls_ctx_new(char *err, size_t errlen);
/* The TLS library's version string, e.g. "5.5.4". */
const char *tls_library_version(void);
void tls_ctx_free(struct tls_ctx *ctx);

/*
 * Creates a client session on the connected socket `fd` (not taken over).
 * `sni` is the server name sent (NULL: none).  `verify` may be NULL: every
 * peer is accepted (opportunistic TLS) and its chain still kept.
 */
struct tls *tls_new(struct tls_ctx *ctx, int fd, const char *sni,
                    tls_verify_fn *verify, void *verify_arg, char *err,
                    size_t errlen);
void tls_free(struct tls *tls);

/* One step of the handshake. */
enum tls_status tls_handshake(struct tls *tls);
/* Reads up to len bytes; *got receives the count on TLS_OK. */
enum tls_status tls_read(struct tls *tls, void *buf, size_t len, size_t *got);
/* Writes up to len bytes; *put receives the count on TLS_OK. */
enum tls_status tls_write(struct tls *tls, const void *buf, size_t len,
                          size_t *put);
/* Sends close_notify, best effort, without waiting for the peer's. */
void tls_shutdown(struct tls *tls);

/* Negotiated protocol, e.g. "TLSv1.3" ("" before the handshake). */
const char *tls_version(const struct tls *tls);
/* Key exchange group, e.g. "X25519" or "SECP256R1" ("" when unknown). */
const char *tls_group(const struct tls *tls);
/* Negotiated cipher suite, e.g. "TLS_AES_256_GCM_SHA384". */
const char *tls_cipher(const struct tls *tls);
/* Moves the kept chain into *out (the caller frees it with
 * tls_chain_free); the session keeps none. */
void tls_take_chain(struct tls *tls, struct tls_chain *out);
/* Frees a chain's certificates and empties it. */
void tls_chain_free(struct tls_chain *chain);
/* Why the last step failed, one line. */
const char *tls_error(const struct tls *tls);

/*
 * Resumption (TLS 1.3 tickets only).  A resumed handshake has no
 * Certificate message, so the verify function is not called: whether a
 * resumed session may carry mail is the owner's decision (policy_guard),
 * from what it knew of the connection the ticket came from.
 */
/* Whether this build can resume sessions at all (session tickets and
 * TLS 1.3 compiled in); if not, tls_save() always returns NULL. */
bool tls_can_resume(void);
/*
 * A copy of the session's ticket and secrets, to be offered by a later
 * connection; NULL when there is none (not TLS 1.3, no ticket received
 * yet, or no memory).  A TLS 1.3 server sends its tickets after the
 * handshake, so they are known only after the first read.
 */
struct tls_saved *tls_save(struct tls *tls);
void tls_saved_free(struct tls_saved *saved);
/* A copy of a saved session (NULL when memory runs out). */
struct tls_saved *tls_saved_copy(const struct tls_saved *saved);
/* Seconds the server allows the ticket to be used, counted from when the
 * session was saved. */
uint32_t tls_saved_lifetime(const struct tls_saved *saved);
/* Bytes the saved session takes. */
size_t tls_saved_size(const struct tls_saved *saved);
/*
 * Offers a saved session in the handshake, before the first
 * tls_handshake(); `saved` is copied.  False: not offered (expired,
 * unreadable); the handshake is then a full one.
 */
bool tls_offer(struct tls *tls, const struct tls_saved *saved);
/* Whether the finished handshake resumed the offered session (the server
 * may decline it and make a full handshake, verify included).  The peer
 * chain of a resumed session is the one saved with it. */
bool tls_resumed(struct tls *tls);

#endif
