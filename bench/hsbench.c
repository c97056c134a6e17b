/*
 * mxc-hsbench: the bare CPU cost of a TLS 1.3 handshake with the wolfSSL
 * this build links, so that the benchmark can check mxclient's cost per
 * connection against it ("at most twice the handshake").
 *
 * Client and server run in this one thread, joined by two in-memory byte
 * queues through wolfSSL's custom I/O callbacks: no sockets, no kernel, no
 * waiting.  Every wolfSSL call is timed with the thread's CPU clock and
 * charged to the side that made it.  For each key-share group (X25519,
 * P-256; the client offers only that one) it runs N full handshakes, then
 * N resumed ones, each resuming the session of the connection before it.
 *
 * The client side is what mxclient does per connection, minus TCP and
 * SMTP: wolfSSL_new, wolfSSL_set_session, wolfSSL_connect until done,
 * wolfSSL_read (which takes the TLS 1.3 ticket the server sent, and the one
 * byte of application data the server writes so the client has something
 * to read), SHA-256 over the leaf's SubjectPublicKeyInfo (a DANE-EE 3 1 1
 * check: it parses the certificate), wolfSSL_get1_session, wolfSSL_free.
 * The server side is wolfSSL_new, wolfSSL_accept until done, one
 * wolfSSL_write, wolfSSL_free.
 *
 * It also prints the wolfSSL version, the assembly options its headers
 * report, and the bulk speed of AES-128-GCM and ChaCha20-Poly1305.
 */
#include <wolfssl/options.h> /* first: the build flags of the wolfSSL we link */
#include <wolfssl/ssl.h>
#include <wolfssl/version.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/chacha20_poly1305.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfio.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Room in one direction's queue: more than the largest flight. */
#define QUEUE_SIZE (64 * 1024)
/* wolfSSL_connect/accept calls allowed per handshake before giving up. */
#define STEPS_MAX 16
/* Longest SubjectPublicKeyInfo we hash (RSA-4096 fits). */
#define SPKI_MAX 1024
/* Bulk cipher test: 64 MiB in TLS-sized records. */
#define BULK_RECORD (16 * 1024)
#define BULK_RECORDS 4096

/* One direction of the in-memory connection. */
struct queue {
	unsigned char data[QUEUE_SIZE];
	size_t len; /* bytes written */
	size_t off; /* bytes already read */
};

/* The key-share group a run forces on the client. */
struct group {
	const char *name; /* as printed */
	int id;           /* WOLFSSL_ECC_* */
};

/* What one run (a group, full or resumed) measured. */
struct tally {
	uint64_t client_ns; /* CPU in client calls */
	uint64_t server_ns; /* CPU in server calls */
	unsigned client_laps; /* timed intervals in client_ns */
	unsigned server_laps; /* timed intervals in server_ns */
	unsigned done;      /* handshakes completed */
	unsigned resumed;   /* of those, resumed per the client */
	unsigned spki;      /* leaf SPKI hashes computed */
	char curve[32];     /* key exchange group of the last handshake */
};

/* Everything a handshake needs. */
struct bench {
	WOLFSSL_CTX *server;      /* shared by all runs */
	WOLFSSL_CTX *client;      /* of the current group */
	WOLFSSL_SESSION *session; /* of the client's last connection */
	struct queue c2s;         /* client to server */
	struct queue s2c;         /* server to client */
};

/* The thread's CPU clock, in ns. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* wolfSSL receive callback: reads from a queue, never blocking. */
static int queue_recv(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct queue *q = arg;
	size_t n = q->len - q->off;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	if (sz >= 0 && n > (size_t)sz)
		n = (size_t)sz;
	memcpy(buf, q->data + q->off, n);
	q->off += n;
	if (q->off == q->len)
		q->off = q->len = 0;
	return (int)n;
}

/* wolfSSL send callback: appends to a queue, never blocking. */
static int queue_send(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct queue *q = arg;
	size_t n = sizeof q->data - q->len;
	if (n == 0)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	if (sz >= 0 && n > (size_t)sz)
		n = (size_t)sz;
	memcpy(q->data + q->len, buf, n);
	q->len += n;
	return (int)n;
}

/* True if a wolfSSL result only means "call again when the peer moved". */
static bool would_block(WOLFSSL *ssl, int ret)
{
	int e = wolfSSL_get_error(ssl, ret);
	return e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE;
}

/* SHA-256 of the peer leaf's SPKI, as a DANE-EE 3 1 1 check computes it. */
static bool leaf_spki_sha256(WOLFSSL *ssl, unsigned char digest[32])
{
	WOLFSSL_X509_CHAIN *chain = wolfSSL_get_peer_chain(ssl);
	if (chain == NULL || wolfSSL_get_chain_count(chain) < 1)
		return false;
	const unsigned char *der = wolfSSL_get_chain_cert(chain, 0);
	int len = wolfSSL_get_chain_length(chain, 0);
	if (der == NULL || len <= 0)
		return false;
	WOLFSSL_X509 *x = wolfSSL_X509_d2i(NULL, der, len);
	if (x == NULL)
		return false;
	unsigned char spki[SPKI_MAX];
	int sz = sizeof spki;
	bool ok = wolfSSL_X509_get_pubkey_buffer(x, spki, &sz) ==
	              WOLFSSL_SUCCESS &&
	          sz > 0 && sz <= (int)sizeof spki &&
	          wc_Sha256Hash(spki, (word32)sz, digest) == 0;
	wolfSSL_X509_free(x);
	return ok;
}

/* One connection, handshake to free; false (with a message) on failure. */
static bool handshake(struct bench *b, bool resume, struct tally *t)
{
	b->c2s.len = b->c2s.off = b->s2c.len = b->s2c.off = 0;

	uint64_t t0 = cpu_ns();
	WOLFSSL *cl = wolfSSL_new(b->client);
	if (cl != NULL) {
		wolfSSL_SetIOReadCtx(cl, &b->s2c);
		wolfSSL_SetIOWriteCtx(cl, &b->c2s);
		if (resume && b->session != NULL)
			wolfSSL_set_session(cl, b->session);
	}
	t->client_ns += cpu_ns() - t0;
	t->client_laps++;

	t0 = cpu_ns();
	WOLFSSL *sv = wolfSSL_new(b->server);
	if (sv != NULL) {
		wolfSSL_SetIOReadCtx(sv, &b->c2s);
		wolfSSL_SetIOWriteCtx(sv, &b->s2c);
	}
	t->server_ns += cpu_ns() - t0;
	t->server_laps++;
	if (cl == NULL || sv == NULL) {
		fprintf(stderr, "mxc-hsbench: wolfSSL_new failed\n");
		wolfSSL_free(cl);
		wolfSSL_free(sv);
		return false;
	}

	bool cdone = false, sdone = false, ok = true;
	int err = 0; /* wolfSSL's error code of a failed step */
	for (int step = 0; step < STEPS_MAX && !(cdone && sdone) && ok;
	     step++) {
		if (!cdone) {
			t0 = cpu_ns();
			int r = wolfSSL_connect(cl);
			t->client_ns += cpu_ns() - t0;
			t->client_laps++;
			cdone = r == WOLFSSL_SUCCESS;
			ok = cdone || would_block(cl, r);
			if (!ok)
				err = wolfSSL_get_error(cl, r);
		}
		if (!sdone && ok) {
			t0 = cpu_ns();
			int r = wolfSSL_accept(sv);
			t->server_ns += cpu_ns() - t0;
			t->server_laps++;
			sdone = r == WOLFSSL_SUCCESS;
			ok = sdone || would_block(sv, r);
			if (!ok)
				err = wolfSSL_get_error(sv, r);
		}
	}
	if (!cdone || !sdone) {
		char why[WOLFSSL_MAX_ERROR_SZ];
		wolfSSL_ERR_error_string_n((unsigned long)err, why, sizeof why);
		fprintf(stderr, "mxc-hsbench: handshake failed (%s side): %s\n",
		        cdone ? "server" : "client",
		        err != 0 ? why : "too many steps");
		wolfSSL_free(cl);
		wolfSSL_free(sv);
		return false;
	}

	/* One byte of application data, so that the client reads, which is
	 * when wolfSSL takes the TLS 1.3 ticket. */
	t0 = cpu_ns();
	int w = wolfSSL_write(sv, "x", 1);
	t->server_ns += cpu_ns() - t0;
	t->server_laps++;

	unsigned char byte, digest[32];
	t0 = cpu_ns();
	int n = wolfSSL_read(cl, &byte, 1);
	bool spki = leaf_spki_sha256(cl, digest);
	WOLFSSL_SESSION *next = wolfSSL_get1_session(cl);
	wolfSSL_SESSION_free(b->session);
	b->session = next;
	bool reused = wolfSSL_session_reused(cl);
	t->client_ns += cpu_ns() - t0;
	t->client_laps++;
	const char *curve = wolfSSL_get_curve_name(cl);
	snprintf(t->curve, sizeof t->curve, "%s", curve ? curve : "?");

	t0 = cpu_ns();
	wolfSSL_free(cl);
	t->client_ns += cpu_ns() - t0;
	t->client_laps++;
	t0 = cpu_ns();
	wolfSSL_free(sv);
	t->server_ns += cpu_ns() - t0;
	t->server_laps++;

	if (w != 1 || n != 1) {
		fprintf(stderr, "mxc-hsbench: application byte lost\n");
		return false;
	}
	t->done++;
	t->resumed += reused;
	t->spki += spki;
	return true;
}

/* The server context: the sink's settings. */
static WOLFSSL_CTX *server_ctx(const char *cert, const char *key)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
	if (ctx == NULL ||
	    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_certificate_chain_file(ctx, cert) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_groups(ctx, groups, 2) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxc-hsbench: cannot load %s / %s\n", cert, key);
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(ctx, queue_recv);
	wolfSSL_CTX_SetIOSend(ctx, queue_send);
	return ctx;
}

/* A TLS 1.3 client context offering one group only. */
static WOLFSSL_CTX *client_ctx(int group)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
	if (ctx == NULL || wolfSSL_CTX_set_groups(ctx, &group, 1) !=
	                       WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxc-hsbench: cannot make a client context\n");
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	/* Like mxclient's opportunistic and DANE checks: no CA store. */
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(ctx, queue_recv);
	wolfSSL_CTX_SetIOSend(ctx, queue_send);
	return ctx;
}

/* Bulk cipher speeds, in MB/s (10^6 bytes) of thread CPU time. */
struct bulk {
	double aes128gcm; /* < 0: failed */
	double chacha;    /* < 0: not in this build or failed */
};

/* Encrypts 64 MiB in 16 KB records with AES-128-GCM and ChaCha20-Poly1305. */
static void bulk_speed(struct bulk *r)
{
	static unsigned char in[BULK_RECORD], out[BULK_RECORD];
	unsigned char key[32] = {1}, iv[12] = {2}, aad[13] = {3}, tag[16];
	const double bytes = (double)BULK_RECORD * BULK_RECORDS;
	memset(in, 0x5a, sizeof in);

	r->aes128gcm = -1;
	Aes aes;
	if (wc_AesInit(&aes, NULL, INVALID_DEVID) == 0) {
		if (wc_AesGcmSetKey(&aes, key, 16) == 0) {
			bool ok = true;
			uint64_t t0 = cpu_ns();
			for (unsigned i = 0; i < BULK_RECORDS && ok; i++) {
				memcpy(iv, &i, sizeof i); /* a fresh nonce */
				ok = wc_AesGcmEncrypt(&aes, out, in, sizeof in,
				                      iv, sizeof iv, tag,
				                      sizeof tag, aad,
				                      sizeof aad) == 0;
			}
			uint64_t ns = cpu_ns() - t0;
			if (ok && ns > 0)
				r->aes128gcm = bytes / ((double)ns / 1e9) / 1e6;
		}
		wc_AesFree(&aes);
	}

	r->chacha = -1;
#if defined(HAVE_CHACHA) && defined(HAVE_POLY1305)
	bool ok = true;
	uint64_t t0 = cpu_ns();
	for (unsigned i = 0; i < BULK_RECORDS && ok; i++) {
		memcpy(iv, &i, sizeof i);
		ok = wc_ChaCha20Poly1305_Encrypt(key, iv, aad, sizeof aad, in,
		                                 sizeof in, out, tag) == 0;
	}
	uint64_t ns = cpu_ns() - t0;
	if (ok && ns > 0)
		r->chacha = bytes / ((double)ns / 1e9) / 1e6;
#endif
}

/* Build options that decide crypto speed, as this build's headers say. */
struct feature {
	const char *name; /* the macro */
	bool on;
};

static const struct feature features[] = {
	{"WOLFSSL_X86_64_BUILD",
#ifdef WOLFSSL_X86_64_BUILD
	 true},
#else
	 false},
#endif
	{"WOLFSSL_AESNI",
#ifdef WOLFSSL_AESNI
	 true},
#else
	 false},
#endif
	{"USE_INTEL_SPEEDUP",
#ifdef USE_INTEL_SPEEDUP
	 true},
#else
	 false},
#endif
	{"WOLFSSL_SP_X86_64_ASM",
#ifdef WOLFSSL_SP_X86_64_ASM
	 true},
#else
	 false},
#endif
	{"WOLFSSL_HAVE_SP_ECC",
#ifdef WOLFSSL_HAVE_SP_ECC
	 true},
#else
	 false},
#endif
	{"WOLFSSL_SP_MATH_ALL",
#ifdef WOLFSSL_SP_MATH_ALL
	 true},
#else
	 false},
#endif
	{"HAVE_INTEL_AVX2",
#ifdef HAVE_INTEL_AVX2
	 true},
#else
	 false},
#endif
	{"CURVE25519_SMALL",
#ifdef CURVE25519_SMALL
	 true},
#else
	 false},
#endif
};

#define NFEATURES (sizeof features / sizeof features[0])

/* Prints the usage. */
static void usage(FILE *f)
{
	fprintf(f, "usage: mxc-hsbench --cert FILE --key FILE [--count N] "
	           "[--json]\n"
	           "  --cert/--key  PEM leaf (+chain) and key of the server\n"
	           "  --count       handshakes per row (default 2000)\n"
	           "  --json        one JSON object per line on stdout "
	           "(the table goes to stderr)\n");
}

/* Parses the options, measures, prints. */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"count", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *cert = NULL, *key = NULL;
	unsigned count = 2000;
	bool json = false;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    optarg[0] == '-' || v == 0 || v > 10000000) {
				fprintf(stderr, "mxc-hsbench: bad --count\n");
				return 2;
			}
			count = (unsigned)v;
			break;
		}
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (cert == NULL || key == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	/* Human-readable lines go where the JSON is not. */
	FILE *table = json ? stderr : stdout;

	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxc-hsbench: wolfSSL_Init failed\n");
		return 1;
	}
	static struct bench b; /* 128 KB of queues: not on the stack */
	b.server = server_ctx(cert, key);
	if (b.server == NULL) {
		wolfSSL_Cleanup();
		return 1;
	}

	struct bulk bulk;
	bulk_speed(&bulk);
	fprintf(table, "wolfSSL %s (headers %s)\n", wolfSSL_lib_version(),
	        LIBWOLFSSL_VERSION_STRING);
	fprintf(table, "build:");
	for (size_t i = 0; i < NFEATURES; i++)
		fprintf(table, " %s=%s", features[i].name,
		        features[i].on ? "yes" : "no");
	fprintf(table, "\nbulk, 64 MiB in 16 KB records (MB/s of CPU time): "
	               "AES-128-GCM %.0f, ChaCha20-Poly1305 %.0f\n",
	        bulk.aes128gcm, bulk.chacha);
	if (json) {
		printf("{\"type\": \"build\", \"wolfssl\": \"%s\", "
		       "\"wolfssl_headers\": \"%s\"",
		       wolfSSL_lib_version(), LIBWOLFSSL_VERSION_STRING);
		for (size_t i = 0; i < NFEATURES; i++)
			printf(", \"%s\": %s", features[i].name,
			       features[i].on ? "true" : "false");
		printf(", \"aes128gcm_MBps\": %.1f, "
		       "\"chacha20poly1305_MBps\": %.1f}\n",
		       bulk.aes128gcm, bulk.chacha);
	}

	/* Reading the thread CPU clock is a system call (about 1 us here);
	 * each timed interval carries about one reading's cost, which is
	 * taken off the figures below. */
	uint64_t t0 = cpu_ns();
	for (int i = 0; i < 1000; i++)
		(void)cpu_ns();
	double clock_ns = (double)(cpu_ns() - t0) / 1000;
	fprintf(table, "clock read: %.2f us, subtracted per timed call\n",
	        clock_ns / 1000);

	const struct group groups[] = {
		{"X25519", WOLFSSL_ECC_X25519},
		{"P-256", WOLFSSL_ECC_SECP256R1},
	};
	fprintf(table, "%-7s %-8s %7s %10s %10s %8s %6s  %s\n", "group", "kind",
	        "count", "client_us", "server_us", "resumed", "spki", "curve");
	int status = 0;
	for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
		b.client = client_ctx(groups[g].id);
		if (b.client == NULL) {
			status = 1;
			break;
		}
		wolfSSL_SESSION_free(b.session);
		b.session = NULL;
		for (int resume = 0; resume <= 1 && status == 0; resume++) {
			struct tally t = {0};
			for (unsigned i = 0; i < count; i++) {
				if (!handshake(&b, resume, &t)) {
					status = 1;
					break;
				}
			}
			const char *kind = resume ? "resumed" : "full";
			double cns = (double)t.client_ns -
			             clock_ns * t.client_laps;
			double sns = (double)t.server_ns -
			             clock_ns * t.server_laps;
			double cus = t.done ? cns / 1e3 / t.done : 0;
			double sus = t.done ? sns / 1e3 / t.done : 0;
			double oh = t.done ? clock_ns * (t.client_laps +
			                                 t.server_laps) /
			                         1e3 / t.done : 0;
			fprintf(table, "%-7s %-8s %7u %10.1f %10.1f %8u %6u  %s\n",
			        groups[g].name, kind, t.done, cus, sus,
			        t.resumed, t.spki, t.curve);
			if (json)
				printf("{\"type\": \"handshake\", \"group\": "
				       "\"%s\", \"kind\": \"%s\", \"count\": %u, "
				       "\"client_us\": %.1f, \"server_us\": %.1f, "
				       "\"resumed\": %u, \"spki_hashed\": %u, "
				       "\"curve\": \"%s\", "
				       "\"clock_overhead_us\": %.1f}\n",
				       groups[g].name, kind, t.done, cus, sus,
				       t.resumed, t.spki, t.curve, oh);
			fflush(stdout);
		}
		wolfSSL_CTX_free(b.client);
		b.client = NULL;
	}
	wolfSSL_SESSION_free(b.session);
	wolfSSL_CTX_free(b.server);
	wolfSSL_Cleanup();
	return status;
}
