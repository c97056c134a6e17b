/*
 * mxc-idlemem: what an idle TLS client session costs in memory, through
 * the library's own TLS module (src/tls_wolfssl.c), so that the pool's
 * idle sessions can be sized.
 *
 * It makes N client sessions over socketpairs against an in-thread wolfSSL
 * server (the certificate and key given), takes each through the
 * handshake and the first read (which takes the TLS 1.3 tickets), frees
 * the server side, and keeps the clients as the pool keeps idle ones.
 * Heap in use (mallinfo2) and VmRSS are read before and after; per session
 * is the difference over N; each row runs in a child process of its own,
 * so that no row reuses memory an earlier one freed.  Rows: the bare
 * wolfSSL_new (before the
 * handshake), the idle session, the idle session that resumed, and the
 * saved session the resumption cache keeps (tls_save).
 * The SMTP session's own buffers (io.c, iobuf.c) come on top: see the
 * report printed at the end.
 */
#include <malloc.h>
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tls.h"

/* Sessions per row. */
#define COUNT_DEFAULT 200

/* Heap bytes in use. */
static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

/* VmRSS in bytes. */
static size_t rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, res = 0;
	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (size_t)sysconf(_SC_PAGESIZE);
}

/* One client and its server, handshake and first read; the server side
 * is freed.  Returns the client, or NULL. */
static struct tls *connect_one(struct tls_ctx *cctx, WOLFSSL_CTX *sctx,
                               const struct tls_saved *resume, int fds[2])
{
	char err[200];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0)
		return NULL;
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	struct tls *c = tls_new(cctx, fds[0], "mx.example", NULL, NULL, err,
	                        sizeof err);
	WOLFSSL *s = wolfSSL_new(sctx);
	if (c == NULL || s == NULL)
		return NULL;
	if (resume != NULL)
		tls_offer(c, resume);
	wolfSSL_set_fd(s, fds[1]);
	wolfSSL_set_using_nonblock(s, 1);
	bool cdone = false, sdone = false;
	for (int i = 0; i < 50 && !(cdone && sdone); i++) {
		if (!cdone) {
			enum tls_status st = tls_handshake(c);
			if (st == TLS_ERROR || st == TLS_CLOSED) {
				fprintf(stderr, "client: %s\n", tls_error(c));
				return NULL;
			}
			cdone = st == TLS_OK;
		}
		if (!sdone)
			sdone = wolfSSL_accept(s) == WOLFSSL_SUCCESS;
	}
	/* What a server says first in TLS (the EHLO reply), so that the
	 * client's first read takes the tickets too. */
	static const char reply[] = "250 mx.example\r\n";
	char buf[256];
	size_t got = 0;
	wolfSSL_write(s, reply, (int)sizeof reply - 1);
	if (!cdone || !sdone || tls_read(c, buf, sizeof buf, &got) != TLS_OK) {
		fprintf(stderr, "handshake failed\n");
		return NULL;
	}
	wolfSSL_free(s);
	close(fds[1]);
	return c;
}

/* Runs one row: N idle clients; prints bytes per client. */
static void row_here(const char *what, struct tls_ctx *cctx, WOLFSSL_CTX *sctx,
                int n, bool handshake, const struct tls_saved *resume)
{
	struct tls **c = calloc((size_t)n, sizeof *c);
	int *fd = calloc((size_t)n, sizeof *fd);
	char err[200];
	size_t h0 = heap(), r0 = rss();
	int resumed = 0;
	for (int i = 0; i < n; i++) {
		int fds[2];
		if (handshake) {
			c[i] = connect_one(cctx, sctx, resume, fds);
			resumed += c[i] != NULL && tls_resumed(c[i]);
			if (c[i] != NULL) {
				struct tls_chain chain;
				tls_take_chain(c[i], &chain); /* session.c keeps it */
				tls_chain_free(&chain);
			}
		} else {
			socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
			close(fds[1]);
			c[i] = tls_new(cctx, fds[0], "mx.example", NULL, NULL,
			               err, sizeof err);
		}
		fd[i] = fds[0];
	}
	size_t h1 = heap(), r1 = rss();
	printf("%-34s %6d %9zu %9zu %8d\n", what, n, (h1 - h0) / (size_t)n,
	       (r1 > r0 ? r1 - r0 : 0) / (size_t)n, resumed);
	for (int i = 0; i < n; i++) {
		tls_free(c[i]);
		close(fd[i]);
	}
	free(c);
	free(fd);
}

/* Runs a row in a child process. */
static void row(const char *what, struct tls_ctx *cctx, WOLFSSL_CTX *sctx,
                int n, bool handshake, const struct tls_saved *resume)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		row_here(what, cctx, sctx, n, handshake, resume);
		fflush(stdout);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/* Usage: mxc-idlemem CERT KEY [N] */
int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: mxc-idlemem CERT KEY [N]\n");
		return 2;
	}
	int n = argc > 3 ? (int)strtol(argv[3], NULL, 10) : COUNT_DEFAULT;
	if (n <= 0)
		n = COUNT_DEFAULT;
	char err[200];
	struct tls_ctx *cctx = tls_ctx_new(err, sizeof err);
	WOLFSSL_CTX *sctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (cctx == NULL || sctx == NULL ||
	    wolfSSL_CTX_use_certificate_chain_file(sctx, argv[1]) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(sctx, argv[2],
	                                    WOLFSSL_FILETYPE_PEM) !=
	        WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxc-idlemem: cannot set up TLS\n");
		return 1;
	}
	/* warm up: the first handshake's one-time allocations */
	int fds[2];
	struct tls *first = connect_one(cctx, sctx, NULL, fds);
	struct tls_saved *saved = first != NULL ? tls_save(first) : NULL;
	if (first == NULL) {
		fprintf(stderr, "mxc-idlemem: handshake failed\n");
		return 1;
	}
	printf("%-34s %6s %9s %9s %8s\n", "bytes per client session", "count",
	       "heap", "rss", "resumed");
	row("wolfSSL_new, before the handshake", cctx, sctx, n, false, NULL);
	row("idle after a full handshake", cctx, sctx, n, true, NULL);
	if (saved != NULL)
		row("idle after a resumed handshake", cctx, sctx, n, true, saved);
	printf("saved session kept by the cache: %zu bytes (tls_save)\n",
	       saved != NULL ? tls_saved_size(saved) : 0);
	tls_saved_free(saved);
	tls_free(first);
	close(fds[0]);
	wolfSSL_CTX_free(sctx);
	tls_ctx_free(cctx);
	return 0;
}
