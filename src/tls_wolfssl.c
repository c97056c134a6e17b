/*
 * tls_wolfssl: client TLS sessions with wolfSSL, non-blocking.
 *
 * wolfSSL has no DANE API.  Instead the context asks for peer verification
 * with no CA loaded, so wolfSSL calls our verify callback for every
 * certificate, the leaf last; at the leaf the store holds the whole chain
 * as presented.  We copy it there and let the session's owner decide.
 * Returning 0 aborts the handshake before our Finished, so no application
 * byte ever reaches a peer the owner refused.
 *
 * Resumption uses explicit session objects (wolfSSL_get1_session after the
 * first read, wolfSSL_set_session before the handshake): the ServerID
 * cache (wolfSSL_SetServerID) does not resume TLS 1.3 in 5.5.4 (upstream
 * #6172).  A saved session is kept serialised (wolfSSL_i2d_SSL_SESSION):
 * a few KB, where a WOLFSSL_SESSION object with SESSION_CERTS is 37 KB in
 * Debian's build and 87 KB in the subproject's.
 */
#include <wolfssl/options.h> /* first: the package's build flags live here */
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tls.h"

/*
 * wolfSSL's own compile-time bounds on the chain a server sends; a longer
 * or larger chain fails inside wolfSSL, before verify_cb.  The subproject
 * build (subprojects/wolfssl/meson.build) sets them with -D flags, which
 * wolfSSL's configure copies into options.h; Debian's package keeps
 * wolfssl/internal.h's defaults: 9 certificates, and a Certificate message
 * of 3 + 9 x (3 + 2048) bytes.  Only the error message uses them (and
 * says TLS_CHAIN_MAX where the subproject's depth is one more, see
 * verify_cb).
 */
#ifdef MAX_CHAIN_DEPTH
#define LIB_CHAIN_MAX (MAX_CHAIN_DEPTH > TLS_CHAIN_MAX ? TLS_CHAIN_MAX \
                                                    : MAX_CHAIN_DEPTH)
#else
#define LIB_CHAIN_MAX 9
#endif
#ifdef MAX_HANDSHAKE_SZ
#define LIB_MESSAGE_MAX MAX_HANDSHAKE_SZ
#else
#define LIB_MESSAGE_MAX (3 + 9 * (3 + 2048))
#endif

/* What resumption needs of the build: TLS 1.3 session tickets and the
 * session (de)serialiser.  Debian's 5.5.4 and the subproject have them
 * all; a build without them never resumes. */
#if defined(WOLFSSL_TLS13) && defined(HAVE_SESSION_TICKET) && \
	defined(HAVE_EXT_CACHE) && !defined(NO_SESSION_CACHE)
#define TLS_RESUME 1
#else
#define TLS_RESUME 0
#endif

struct tls_ctx {
	WOLFSSL_CTX *ctx;
};

/* A saved session: wolfSSL's own serialisation of it. */
struct tls_saved {
	uint32_t lifetime;      /* seconds the ticket may be used */
	size_t len;
	unsigned char der[];    /* wolfSSL_i2d_SSL_SESSION */
};

struct tls {
	WOLFSSL *ssl;
	tls_verify_fn *verify;  /* owner's decision, NULL: accept all */
	void *verify_arg;
	bool refused;           /* verify said no: the handshake error is ours */
	bool offered;           /* tls_offer() set a session to resume */
	struct tls_chain chain; /* copied at the leaf's verify callback */
	const char *oversize;   /* why the presented chain exceeds
	                           TLS_CHAIN_MAX or TLS_CERT_MAX, or NULL */
	char error[256];        /* why the last step failed */
};

/* Copies the presented chain out of the store, once. */
static void keep_chain(struct tls *tls, const WOLFSSL_X509_STORE_CTX *store)
{
	if (tls->chain.count > 0 || store->certs == NULL)
		return;
	if (store->totalCerts > TLS_CHAIN_MAX)
		tls->oversize = "the server's chain has more than 20 "
		                "certificates";
	for (int i = 0; i < store->totalCerts && i < TLS_CHAIN_MAX; i++) {
		const WOLFSSL_BUFFER_INFO *b = &store->certs[i];
		if (b->length > TLS_CERT_MAX) {
			tls->oversize = "a certificate of the server's chain "
			                "is larger than 64 KB";
			return;
		}
		unsigned char *copy = malloc(b->length ? b->length : 1);
		if (copy == NULL)
			return; /* leaves a shorter chain; the owner sees that */
		memcpy(copy, b->buffer, b->length);
		tls->chain.certs[i].der = copy;
		tls->chain.certs[i].len = b->length;
		tls->chain.count = (size_t)i + 1;
	}
}

/*
 * wolfSSL's verify callback.  `preverify` is ignored: with no CA loaded it
 * means nothing (it even reads 1 for intermediates).  The decision is made
 * at depth 0, where the whole chain is known.
 */
static int verify_cb(int preverify, WOLFSSL_X509_STORE_CTX *store)
{
	(void)preverify;
	struct tls *tls = store->userCtx;
	if (tls == NULL)
		return 0; /* not ours: refuse rather than guess */
	if (store->error_depth != 0)
		return 1;
	keep_chain(tls, store);
	/* A store holding more than TLS_CHAIN_MAX may be a chain wolfSSL cut
	 * at its MAX_CHAIN_DEPTH (the subproject sets it to TLS_CHAIN_MAX + 1
	 * for this check): it then misreads the rest of the message, and with
	 * the subproject's large message bound would wait for bytes that never
	 * come.  So this one is refused with its reason, verifier or not. */
	if (tls->oversize != NULL &&
	    (tls->verify != NULL || store->totalCerts > TLS_CHAIN_MAX)) {
		snprintf(tls->error, sizeof tls->error, "%s", tls->oversize);
		tls->refused = true;
		return 0;
	}
	if (tls->verify == NULL)
		return 1;
	if (tls->verify(tls->verify_arg, &tls->chain, tls->error,
	                sizeof tls->error))
		return 1;
	tls->refused = true;
	return 0;
}

/* The wolfSSL version linked in, for --version. */
const char *tls_library_version(void)
{
	return wolfSSL_lib_version();
}

/* Creates the context shared by every session of an engine. */
struct tls_ctx *tls_ctx_new(char *err, size_t errlen)
{
	struct tls_ctx *c = calloc(1, sizeof *c);
	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "wolfSSL_Init failed");
		free(c);
		return NULL;
	}
	c->ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
	if (c->ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		wolfSSL_Cleanup();
		free(c);
		return NULL;
	}
	/* TLS 1.0 and 1.1 are broken enough that even opportunistic TLS
	 * should not negotiate them. */
	wolfSSL_CTX_SetMinVersion(c->ctx, WOLFSSL_TLSV1_2);
	wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, verify_cb);
	/* X25519 first: the TLS 1.3 key share goes to the first group, and
	 * wolfSSL's default (P-256) costs about twice the client CPU in this
	 * build; the NIST curves follow for servers without X25519. */
	int groups[] = { WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1,
	                 WOLFSSL_ECC_SECP384R1, WOLFSSL_ECC_SECP521R1 };
	if (wolfSSL_CTX_set_groups(c->ctx, groups,
	                           (int)(sizeof groups / sizeof groups[0])) !=
	    WOLFSSL_SUCCESS) {
		snprintf(err, errlen, "cannot set the TLS key exchange groups");
		wolfSSL_CTX_free(c->ctx);
		wolfSSL_Cleanup();
		free(c);
		return NULL;
	}
	return c;
}

/* Frees the context; every session must be gone. */
void tls_ctx_free(struct tls_ctx *c)
{
	if (c == NULL)
		return;
	wolfSSL_CTX_free(c->ctx);
	wolfSSL_Cleanup();
	free(c);
}

/* Creates a session: done only when STARTTLS starts (~55 KB each). */
struct tls *tls_new(struct tls_ctx *c, int fd, const char *sni,
                    tls_verify_fn *verify, void *verify_arg, char *err,
                    size_t errlen)
{
	struct tls *tls = calloc(1, sizeof *tls);
	if (tls == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tls->ssl = wolfSSL_new(c->ctx);
	if (tls->ssl == NULL) {
		snprintf(err, errlen, "cannot create a TLS session");
		free(tls);
		return NULL;
	}
	tls->verify = verify;
	tls->verify_arg = verify_arg;
	wolfSSL_SetCertCbCtx(tls->ssl, tls);
	if (wolfSSL_set_fd(tls->ssl, fd) != WOLFSSL_SUCCESS ||
	    (sni != NULL && *sni != '\0' &&
	     wolfSSL_UseSNI(tls->ssl, WOLFSSL_SNI_HOST_NAME, sni,
	                    (unsigned short)strlen(sni)) != WOLFSSL_SUCCESS)) {
		snprintf(err, errlen, "cannot set up the TLS session");
		tls_free(tls);
		return NULL;
	}
	wolfSSL_set_using_nonblock(tls->ssl, 1);
	/* A peer that closes while we write must not kill the process. */
	wolfSSL_SetIOWriteFlags(tls->ssl, MSG_NOSIGNAL);
	return tls;
}

/* Frees a session and its copy of the peer chain. */
void tls_free(struct tls *tls)
{
	if (tls == NULL)
		return;
	wolfSSL_free(tls->ssl);
	tls_chain_free(&tls->chain);
	free(tls);
}

/* Maps a wolfSSL return value to a status, recording why on error. */
static enum tls_status status_of(struct tls *tls, int ret)
{
	int e = wolfSSL_get_error(tls->ssl, ret);
	switch (e) {
	case WOLFSSL_ERROR_WANT_READ:
		return TLS_WANT_READ;
	case WOLFSSL_ERROR_WANT_WRITE:
		return TLS_WANT_WRITE;
	case WOLFSSL_ERROR_ZERO_RETURN:
		return TLS_CLOSED;
	default:
		break;
	}
	if (tls->refused)
		return TLS_ERROR; /* the verifier already said why */
	if (e == HANDSHAKE_SIZE_ERROR || e == MAX_CHAIN_ERROR) {
		/* wolfSSL's compile-time bounds (see tls.h), or a broken
		 * peer: say which bound, not just "too large". */
		snprintf(tls->error, sizeof tls->error,
		         "the server's certificate chain is longer or larger "
		         "than this wolfSSL build accepts (%s; at most %d "
		         "certificates and %d bytes in all)",
		         e == MAX_CHAIN_ERROR ? "too many certificates"
		                              : "handshake message too large",
		         LIB_CHAIN_MAX, LIB_MESSAGE_MAX);
		return TLS_ERROR;
	}
	char buf[WOLFSSL_MAX_ERROR_SZ];
	wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof buf);
	snprintf(tls->error, sizeof tls->error, "%s", buf);
	return TLS_ERROR;
}

/*
 * A resumed handshake shows no certificate: the chain for reports is the
 * one the saved session carries (wolfSSL keeps the peer's chain in it,
 * SESSION_CERTS; certificates over its MAX_X509_SIZE are left out).
 */
static void keep_session_chain(struct tls *tls)
{
	WOLFSSL_X509_CHAIN *ch = wolfSSL_get_peer_chain(tls->ssl);
	int n = ch != NULL ? wolfSSL_get_chain_count(ch) : 0;
	for (int i = 0; i < n && i < TLS_CHAIN_MAX; i++) {
		int len = wolfSSL_get_chain_length(ch, i);
		const unsigned char *der = wolfSSL_get_chain_cert(ch, i);
		unsigned char *copy = der != NULL && len > 0
		                          ? malloc((size_t)len) : NULL;
		if (copy == NULL)
			return; /* a shorter chain: only a report is poorer */
		memcpy(copy, der, (size_t)len);
		tls->chain.certs[i] = (struct tls_cert){ copy, (size_t)len };
		tls->chain.count = (size_t)i + 1;
	}
}

/* Advances the handshake (it may finish in the very first call). */
enum tls_status tls_handshake(struct tls *tls)
{
	int ret = wolfSSL_connect(tls->ssl);
	if (ret != WOLFSSL_SUCCESS)
		return status_of(tls, ret);
	if (tls_resumed(tls) && tls->chain.count == 0)
		keep_session_chain(tls);
	return TLS_OK;
}

/* Reads decrypted bytes. */
enum tls_status tls_read(struct tls *tls, void *buf, size_t len, size_t *got)
{
	int n = wolfSSL_read(tls->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		*got = (size_t)n;
		return TLS_OK;
	}
	return status_of(tls, n);
}

/* Writes bytes to be encrypted. */
enum tls_status tls_write(struct tls *tls, const void *buf, size_t len,
                          size_t *put)
{
	int n = wolfSSL_write(tls->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		*put = (size_t)n;
		return TLS_OK;
	}
	return status_of(tls, n);
}

/* Sends close_notify without waiting for the answer. */
void tls_shutdown(struct tls *tls)
{
	(void)wolfSSL_shutdown(tls->ssl);
}

/* Negotiated protocol version. */
const char *tls_version(const struct tls *tls)
{
	const char *v = wolfSSL_get_version(tls->ssl);
	return v != NULL ? v : "";
}

/* Key exchange group of the handshake, as wolfSSL names it ("X25519",
 * "SECP256R1"); "" for a finite-field or unknown group. */
const char *tls_group(const struct tls *tls)
{
	const char *name = wolfSSL_get_curve_name(tls->ssl);
	return name != NULL ? name : "";
}

/* Negotiated cipher suite, in the IANA spelling other tools print. */
const char *tls_cipher(const struct tls *tls)
{
	int suite = wolfSSL_get_current_cipher_suite(tls->ssl);
	if (suite < 0)
		return "";
	const char *name = wolfSSL_get_cipher_name_iana_from_suite(
		(unsigned char)(suite >> 8), (unsigned char)suite);
	return name != NULL ? name : "";
}

/* Hands the chain over. */
void tls_take_chain(struct tls *tls, struct tls_chain *out)
{
	*out = tls->chain;
	memset(&tls->chain, 0, sizeof tls->chain);
}

/* Frees a chain. */
void tls_chain_free(struct tls_chain *chain)
{
	for (size_t i = 0; i < chain->count; i++)
		free(chain->certs[i].der);
	memset(chain, 0, sizeof *chain);
}

/* Why the last step failed. */
const char *tls_error(const struct tls *tls)
{
	return tls->error[0] != '\0' ? tls->error : "TLS failure";
}

/* Whether this build resumes sessions. */
bool tls_can_resume(void)
{
	return TLS_RESUME;
}

/* Serialises the session's ticket and secrets (TLS 1.3 only). */
struct tls_saved *tls_save(struct tls *tls)
{
#if TLS_RESUME
	/* TLS 1.2 resumption is not used: it skips the certificate as
	 * well, and the servers that matter speak 1.3. */
	if (wolfSSL_version(tls->ssl) != TLS1_3_VERSION)
		return NULL;
	WOLFSSL_SESSION *sess = wolfSSL_get1_session(tls->ssl);
	if (sess == NULL)
		return NULL;
	struct tls_saved *saved = NULL;
	int len = wolfSSL_SESSION_has_ticket(sess) == WOLFSSL_SUCCESS
	              ? wolfSSL_i2d_SSL_SESSION(sess, NULL) : 0;
	if (len > 0)
		saved = malloc(sizeof *saved + (size_t)len);
	if (saved != NULL) {
		unsigned char *p = saved->der;
		if (wolfSSL_i2d_SSL_SESSION(sess, &p) != len) {
			free(saved);
			saved = NULL;
		} else {
			saved->len = (size_t)len;
			long t = wolfSSL_SESSION_get_timeout(sess);
			saved->lifetime = t > 0 && t < UINT32_MAX ? (uint32_t)t : 0;
		}
	}
	wolfSSL_SESSION_free(sess);
	return saved;
#else
	(void)tls;
	return NULL;
#endif
}

/* Frees a saved session. */
void tls_saved_free(struct tls_saved *saved)
{
	free(saved);
}

/* Copies a saved session. */
struct tls_saved *tls_saved_copy(const struct tls_saved *saved)
{
	struct tls_saved *copy = malloc(sizeof *saved + saved->len);
	if (copy != NULL)
		memcpy(copy, saved, sizeof *saved + saved->len);
	return copy;
}

/* The ticket's lifetime. */
uint32_t tls_saved_lifetime(const struct tls_saved *saved)
{
	return saved->lifetime;
}

/* Bytes a saved session takes. */
size_t tls_saved_size(const struct tls_saved *saved)
{
	return sizeof *saved + saved->len;
}

/* Offers a saved session in the coming handshake. */
bool tls_offer(struct tls *tls, const struct tls_saved *saved)
{
#if TLS_RESUME
	const unsigned char *p = saved->der;
	WOLFSSL_SESSION *sess = wolfSSL_d2i_SSL_SESSION(NULL, &p,
	                                                (long)saved->len);
	if (sess == NULL)
		return false;
	/* wolfSSL copies it; it refuses one past its lifetime. */
	tls->offered = wolfSSL_set_session(tls->ssl, sess) == WOLFSSL_SUCCESS;
	wolfSSL_SESSION_free(sess);
	return tls->offered;
#else
	(void)tls;
	(void)saved;
	return false;
#endif
}

/* Whether the handshake resumed the offered session. */
bool tls_resumed(struct tls *tls)
{
	/* wolfSSL clears its flag when the server declines the ticket. */
	return tls->offered && wolfSSL_session_reused(tls->ssl) == 1;
}
