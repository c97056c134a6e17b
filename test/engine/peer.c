/*
 * peer: scripted SMTP servers inside the test process.
 *
 * The engine connects with connect(); the connect() defined here (it takes
 * the call from the library's objects linked into the test program) never
 * reaches the network.  For a documentation address with a script it makes
 * a socketpair, puts one end over the caller's socket with dup2() and gives
 * the other to a peer that runs its script on the same event loop; a
 * documentation address without a script is refused; anything else is
 * unreachable and counted as a stray (a test failure).
 *
 * A peer records everything the client sent it (decrypted after STARTTLS)
 * as its transcript, whether the client sent the final dot, and whether it
 * answered that dot with a 2xx, which is what "delivered" must mean.
 */
#undef _GNU_SOURCE /* the POSIX prototype of connect(), not glibc's union */
#define _DEFAULT_SOURCE

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Most connections one scenario makes. */
#define PEERS_MAX 8
/* Transcript bytes kept per peer; the rest is counted. */
#define TRANSCRIPT_MAX 65536
/* Input a peer holds unconsumed at most. */
#define INPUT_MAX (256 * 1024)
/* "> ..." consumes at least this much of the message. */
#define PART_MIN 16384

struct peer {
	const struct peer_spec *spec;
	int fd;                      /* our end, -1 once closed */
	struct event *ev_read;       /* persistent, while we read */
	struct event *ev_kick;       /* starts the script from the loop */
	struct event *ev_trickle;    /* "trickle": the next byte */
	size_t step;                 /* next step of spec->script */
	WOLFSSL *ssl;                /* after "tls" */
	bool tls_up;                 /* handshake completed */
	char in[INPUT_MAX];          /* received, not yet consumed */
	size_t inlen;
	char transcript[TRANSCRIPT_MAX + 1];
	size_t tlen;                 /* bytes in transcript */
	size_t received;             /* bytes received in all */
	size_t part;                 /* message bytes "> ..." has taken */
	size_t waited_step;          /* 1 + the "=>" step whose input was
	                                found not to have come early */
	bool got_dot;                /* the final dot arrived */
	unsigned commands;           /* command lines taken ("> ") */
	unsigned replies;            /* replies sent ("< "), the greeting's
	                                included */
	unsigned owed;               /* replies due to commands piped ahead
	                                of the final dot, still to be sent */
	bool dot_answered;           /* a reply followed the final dot */
	bool accepted;               /* that reply was 2xx */
	bool client_closed;          /* EOF from the client */
	bool failed;                 /* the client strayed from the script */
	char why[512];               /* the first failure */
};

static struct event_base *loop_base;
static const struct peer_spec *specs;
static bool spec_used[SCENARIO_PEERS];
static struct peer *peers[PEERS_MAX];
static size_t npeers;
static unsigned strays;
static char data_dir[512] = ".";
static WOLFSSL_CTX *server_ctx;

static void run(struct peer *p);

/* Where the certificate and key are. */
void peer_set_data_dir(const char *dir)
{
	snprintf(data_dir, sizeof data_dir, "%s", dir);
}

/* Appends to the transcript, as much as fits. */
static void record(struct peer *p, const char *data, size_t len)
{
	size_t room = TRANSCRIPT_MAX - p->tlen;
	size_t n = len < room ? len : room;
	memcpy(p->transcript + p->tlen, data, n);
	p->tlen += n;
	p->transcript[p->tlen] = '\0';
}

/* Notes the first way the client strayed from the script. */
static void fail(struct peer *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct peer *p, const char *fmt, ...)
{
	if (p->failed)
		return;
	p->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->why, sizeof p->why, fmt, ap);
	va_end(ap);
}

/* Closes our end (with input left unread, the client sees a reset). */
static void peer_close(struct peer *p)
{
	if (p->fd < 0)
		return;
	if (p->ev_read != NULL)
		event_del(p->ev_read);
	if (p->ev_trickle != NULL)
		event_del(p->ev_trickle);
	if (p->ssl != NULL) {
		wolfSSL_free(p->ssl);
		p->ssl = NULL;
	}
	close(p->fd);
	p->fd = -1;
}

/* Sends bytes (through TLS once it is up); a closed client is noted. */
static void peer_send(struct peer *p, const char *data, size_t len)
{
	if (p->fd < 0)
		return;
	if (p->tls_up) {
		if (wolfSSL_write(p->ssl, data, (int)len) != (int)len)
			record(p, "[send failed]", 13);
		return;
	}
	while (len > 0) {
		ssize_t n = send(p->fd, data, len, MSG_NOSIGNAL);
		if (n <= 0) {
			record(p, "[send failed]", 13);
			return;
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Reads what is there without waiting.  Returns bytes read; sets
 * client_closed on EOF or a reset. */
static size_t fill(struct peer *p)
{
	size_t got = 0;
	while (p->fd >= 0 && p->inlen < INPUT_MAX) {
		char *at = p->in + p->inlen;
		size_t room = INPUT_MAX - p->inlen;
		ssize_t n;
		if (p->tls_up) {
			int r = wolfSSL_read(p->ssl, at, (int)room);
			if (r <= 0) {
				int e = wolfSSL_get_error(p->ssl, r);
				if (e == WOLFSSL_ERROR_WANT_READ ||
				    e == WOLFSSL_ERROR_WANT_WRITE)
					break;
				p->client_closed = true;
				break;
			}
			n = r;
		} else {
			n = read(p->fd, at, room);
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				p->client_closed = true;
				break;
			}
		}
		record(p, at, (size_t)n);
		p->inlen += (size_t)n;
		p->received += (size_t)n;
		got += (size_t)n;
	}
	return got;
}

/* Drops `n` consumed bytes from the input. */
static void consume(struct peer *p, size_t n)
{
	memmove(p->in, p->in + n, p->inlen - n);
	p->inlen -= n;
}

/* Position of `needle` in the input, or -1. */
static long find_in(const struct peer *p, const char *needle, size_t nlen)
{
	for (size_t i = 0; i + nlen <= p->inlen; i++)
		if (memcmp(p->in + i, needle, nlen) == 0)
			return (long)i;
	return -1;
}

/* The final dot (or BDAT LAST) is in: replies to commands piped ahead of
 * it come before the one that decides. */
static void got_final(struct peer *p)
{
	p->got_dot = true;
	unsigned answered = p->replies > 0 ? p->replies - 1 : 0; /* greeting */
	p->owed = p->commands > answered ? p->commands - answered : 0;
}

/* "< TEXT": TEXT with each newline as CRLF, and a final CRLF. */
static void send_reply(struct peer *p, const char *text)
{
	char out[8192];
	size_t n = 0;
	for (const char *c = text; *c != '\0' && n + 3 < sizeof out; c++) {
		if (*c == '\n')
			out[n++] = '\r';
		out[n++] = *c;
	}
	out[n++] = '\r';
	out[n++] = '\n';
	/* Only the first reply after the dot decides (a 221 to QUIT
	 * accepts nothing); one during the body has decided already. */
	if (p->part > 0 && !p->got_dot)
		p->dot_answered = true;
	p->replies++;
	if (p->got_dot && p->owed > 0) {
		p->owed--; /* a piped command's, not the dot's */
	} else if (p->got_dot && !p->dot_answered) {
		p->dot_answered = true;
		p->accepted = text[0] == '2' && text[1] >= '0' && text[1] <= '9' &&
		              text[2] >= '0' && text[2] <= '9';
	}
	peer_send(p, out, n);
}

/* Handshakes that resumed a TLS session, since peers_begin(). */
static unsigned resumed;

/* Handshakes that resumed a session (the server's view). */
unsigned peers_resumed(void)
{
	return resumed;
}

/* Runs the TLS handshake as far as it goes.  Returns 1 done, 0 waiting,
 * -1 failed (with the reason in `why`). */
static int handshake(struct peer *p, char *why, size_t whylen)
{
	if (p->ssl == NULL) {
		p->ssl = wolfSSL_new(server_ctx);
		if (p->ssl == NULL || wolfSSL_set_fd(p->ssl, p->fd) != WOLFSSL_SUCCESS) {
			snprintf(why, whylen, "cannot make a server TLS session");
			return -1;
		}
		wolfSSL_set_using_nonblock(p->ssl, 1);
		wolfSSL_SetIOWriteFlags(p->ssl, MSG_NOSIGNAL);
	}
	int r = wolfSSL_accept(p->ssl);
	if (r == WOLFSSL_SUCCESS) {
		p->tls_up = true;
		record(p, "[TLS]", 5);
		resumed += wolfSSL_session_reused(p->ssl) == 1;
		return 1;
	}
	int e = wolfSSL_get_error(p->ssl, r);
	if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE)
		return 0;
	char buf[80];
	wolfSSL_ERR_error_string_n((unsigned long)e, buf, sizeof buf);
	snprintf(why, whylen, "%d %s", e, buf);
	return -1;
}

/* Whether step `s` starts with `word` followed by the end or a space. */
static bool is_step(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncmp(s, word, n) == 0 && (s[n] == '\0' || s[n] == ' ');
}

/*
 * Runs one step.  Returns true when it finished and the next may run,
 * false to wait for input (or when the peer is done).
 */
static bool step(struct peer *p, const char *s)
{
	if (strncmp(s, "<raw ", 5) == 0) {
		peer_send(p, s + 5, strlen(s + 5));
		return true;
	}
	if (strncmp(s, "< ", 2) == 0) {
		send_reply(p, s + 2);
		return true;
	}
	if (strcmp(s, "> .") == 0) {
		long at;
		if (p->inlen >= 3 && memcmp(p->in, ".\r\n", 3) == 0)
			at = -2; /* an empty message: the dot alone */
		else
			at = find_in(p, "\r\n.\r\n", 5);
		if (at == -1) {
			if (p->inlen == INPUT_MAX) /* keep the tail only */
				consume(p, INPUT_MAX - 4);
			return fill(p) > 0 && step(p, s);
		}
		consume(p, at == -2 ? 3 : (size_t)at + 5);
		got_final(p);
		return true;
	}
	if (strcmp(s, "> ...") == 0) {
		if (p->inlen == 0 && fill(p) == 0)
			return false;
		p->part += p->inlen;
		consume(p, p->inlen);
		return p->part >= PART_MIN || step(p, s);
	}
	if (strncmp(s, "=> ", 3) == 0) {
		/* One command at a time: nothing of it may have come before
		 * the reply the script sent just before this step. */
		if (p->waited_step != p->step + 1) {
			int queued = 0;
			if (!p->tls_up && ioctl(p->fd, FIONREAD, &queued) != 0)
				queued = 0;
			if (p->inlen > 0 || queued > 0) {
				fail(p, "\"%s\" came before the reply it had to wait "
				     "for", s + 3);
				peer_close(p);
				return false;
			}
			p->waited_step = p->step + 1;
		}
		return step(p, s + 1);
	}
	if (strncmp(s, ">> ", 3) == 0) {
		/* Sent in the same write as the line before (PIPELINING):
		 * already here, without waiting for more. */
		if (find_in(p, "\r\n", 2) < 0 && !p->failed) {
			fail(p, "\"%s\" did not come with the command before it",
			     s + 3);
			peer_close(p);
			return false;
		}
		return step(p, s + 1);
	}
	if (is_step(s, "> BDAT")) {
		/* "BDAT <n> LAST" and its n bytes: the whole message. */
		long at = find_in(p, "\r\n", 2);
		if (at < 0)
			return fill(p) > 0 && step(p, s);
		char line[64] = "";
		snprintf(line, sizeof line, "%.*s", (int)(at < 60 ? at : 60), p->in);
		char *end = NULL;
		unsigned long long n = strncmp(line, "BDAT ", 5) == 0
		                       ? strtoull(line + 5, &end, 10) : 0;
		if (end == NULL || strcmp(end, " LAST") != 0 || n > INPUT_MAX / 2) {
			fail(p, "expected \"BDAT <size> LAST\", got \"%s\"", line);
			peer_close(p);
			return false;
		}
		while (p->inlen < (size_t)at + 2 + n)
			if (fill(p) == 0)
				return false; /* the rest comes later */
		p->part += n;
		bool crlf = n == 0 || (n >= 2 && memcmp(p->in + at + 2 + n - 2,
		                                        "\r\n", 2) == 0);
		consume(p, (size_t)at + 2 + n);
		if (!crlf) {
			fail(p, "the BDAT chunk does not end with CRLF");
			peer_close(p);
			return false;
		}
		got_final(p); /* LAST: as the final dot */
		return true;
	}
	if (strncmp(s, "> ", 2) == 0) {
		long at = find_in(p, "\r\n", 2);
		if (at < 0)
			return fill(p) > 0 && step(p, s);
		size_t len = (size_t)at;
		if (len != strlen(s + 2) || memcmp(p->in, s + 2, len) != 0) {
			char got[300];
			snprintf(got, sizeof got, "%.*s", (int)(len < 200 ? len : 200),
			         p->in);
			fail(p, "expected \"%s\", got \"%s\"", s + 2, got);
			peer_close(p);
			return false;
		}
		consume(p, len + 2);
		p->commands++;
		return true;
	}
	if (is_step(s, "tls") || is_step(s, "tls-fail")) {
		char why[200];
		int r = handshake(p, why, sizeof why);
		if (r == 0)
			return false;
		bool want_fail = is_step(s, "tls-fail");
		if (r < 0) {
			record(p, "[TLS failed]", 12);
			if (!want_fail)
				fail(p, "TLS handshake failed: %s", why);
			peer_close(p);
			return want_fail; /* the step is done: the script ends */
		}
		if (want_fail) {
			fail(p, "%s", "TLS handshake completed, expected a failure");
			peer_close(p);
			return false;
		}
		return true;
	}
	if (is_step(s, "tls-garbage") || is_step(s, "tls-alert")) {
		if (p->inlen == 0 && fill(p) == 0)
			return false; /* wait for the ClientHello */
		consume(p, p->inlen);
		if (is_step(s, "tls-alert")) {
			/* TLS 1.2 record: alert, fatal, handshake_failure */
			static const char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02,
			                              0x02, 0x28 };
			peer_send(p, alert, sizeof alert);
		} else {
			peer_send(p, "garbage, not TLS\r\n", 18);
		}
		return true;
	}
	if (is_step(s, "drain")) {
		fill(p);
		consume(p, p->inlen);
		if (p->client_closed)
			peer_close(p);
		return false;
	}
	if (is_step(s, "close")) {
		peer_close(p);
		return false;
	}
	if (is_step(s, "reset")) {
		/* A reset needs input the kernel still holds: wait for the
		 * client's next bytes and close without reading them. */
		int pending = 0;
		if (ioctl(p->fd, FIONREAD, &pending) != 0 || pending == 0)
			return false;
		peer_close(p);
		return false;
	}
	if (is_step(s, "trickle")) {
		/* One byte of a reply line that never ends, every 100 s of
		 * fake time, for ever: only an overall deadline stops it. */
		fill(p);
		consume(p, p->inlen);
		if (p->client_closed) { /* (EOF stays readable: stop here) */
			peer_close(p);
			return false;
		}
		if (!evtimer_pending(p->ev_trickle, NULL)) {
			peer_send(p, "2", 1);
			struct timeval tv = { 100, 0 };
			event_add(p->ev_trickle, &tv);
		}
		return false;
	}
	if (is_step(s, "stall")) {
		event_del(p->ev_read);
		return false;
	}
	fprintf(stderr, "peer: unknown step \"%s\"\n", s);
	abort();
}

/* Runs the script as far as it goes; after its end, input is a failure. */
static void run(struct peer *p)
{
	const char *const *script = p->spec->script;
	while (p->fd >= 0 && script[p->step] != NULL) {
		if (!step(p, script[p->step])) {
			if (p->fd >= 0 && p->client_closed &&
			    script[p->step] != NULL) {
				fail(p, "the client closed the connection while the "
				     "script was at \"%s\"", script[p->step]);
				peer_close(p);
			}
			return;
		}
		p->step++;
	}
	if (p->fd < 0)
		return;
	fill(p);
	if (p->inlen > 0) {
		char got[200];
		snprintf(got, sizeof got, "%.*s",
		         (int)(p->inlen < 100 ? p->inlen : 100), p->in);
		fail(p, "input after the end of the script: \"%s\"", got);
		peer_close(p);
		return;
	}
	if (p->client_closed)
		peer_close(p);
}

/* The peer's socket is readable (or the client went away). */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	(void)fd;
	(void)what;
	const char *s = p->spec->script[p->step];
	if (s != NULL && is_step(s, "reset")) {
		peer_close(p); /* the input stays unread: a reset */
		p->step++;
		return;
	}
	run(p);
}

/* The trickle's timer: one more byte. */
static void on_trickle(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	(void)fd;
	(void)what;
	if (p->fd < 0)
		return;
	run(p);
}

/* First run of the script, from the loop (after connect() returned). */
static void on_kick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run(arg);
}

/* Makes the server TLS context once. */
static bool server_tls(void)
{
	if (server_ctx != NULL)
		return true;
	char cert[600], key[600];
	snprintf(cert, sizeof cert, "%s/peer.pem", data_dir);
	snprintf(key, sizeof key, "%s/peer.key", data_dir);
	wolfSSL_Init();
	server_ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (server_ctx == NULL ||
	    wolfSSL_CTX_use_certificate_file(server_ctx, cert,
	                                     WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(server_ctx, key,
	                                    WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "peer: cannot load %s and %s\n", cert, key);
		abort();
	}
	return true;
}

/* Installs the peers of a scenario. */
void peers_begin(struct event_base *base, const struct peer_spec *list)
{
	loop_base = base;
	specs = list;
	memset(spec_used, 0, sizeof spec_used);
	npeers = 0;
	strays = 0;
	resumed = 0;
	server_tls();
}

/* Whether an address is in a documentation range. */
static bool documentation(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		uint32_t a = ntohl(sin->sin_addr.s_addr);
		return (a >> 8) == 0xc00002 || (a >> 8) == 0xc63364 ||
		       (a >> 8) == 0xcb0071;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		static const uint8_t doc[4] = { 0x20, 0x01, 0x0d, 0xb8 };
		return memcmp(sin6->sin6_addr.s6_addr, doc, 4) == 0;
	}
	return false;
}

/*
 * The interposed connect(): a socketpair to a scripted peer for a
 * documentation address with a script left, ECONNREFUSED for one without,
 * ENETUNREACH (and a stray) for anything else.
 */
int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	(void)len;
	if (!documentation(sa)) {
		strays++;
		errno = ENETUNREACH;
		return -1;
	}
	char text[INET6_ADDRSTRLEN] = "";
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		          text, sizeof text);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		          text, sizeof text);
	const struct peer_spec *spec = NULL;
	for (size_t i = 0; specs != NULL && i < SCENARIO_PEERS &&
	                   specs[i].addr != NULL; i++)
		if (!spec_used[i] && strcmp(specs[i].addr, text) == 0) {
			spec = &specs[i];
			spec_used[i] = true;
			break;
		}
	if (spec == NULL || npeers == PEERS_MAX) {
		errno = ECONNREFUSED;
		return -1;
	}
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	int flags = fcntl(sv[0], F_GETFL);
	fcntl(sv[0], F_SETFL, flags | O_NONBLOCK);
	fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
	if (dup2(sv[0], fd) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[0]);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	struct peer *p = calloc(1, sizeof *p);
	if (p == NULL) {
		close(sv[1]);
		errno = ENOMEM;
		return -1;
	}
	p->spec = spec;
	p->fd = sv[1];
	p->ev_read = event_new(loop_base, p->fd, EV_READ | EV_PERSIST, on_read, p);
	p->ev_kick = event_new(loop_base, -1, 0, on_kick, p);
	p->ev_trickle = evtimer_new(loop_base, on_trickle, p);
	event_add(p->ev_read, NULL);
	event_active(p->ev_kick, EV_TIMEOUT, 0);
	peers[npeers++] = p;
	return 0;
}

/* Whether `text` occurs in the transcript. */
static bool in_transcript(const struct peer *p, const char *text)
{
	size_t n = strlen(text);
	for (size_t i = 0; i + n <= p->tlen; i++)
		if (memcmp(p->transcript + i, text, n) == 0)
			return true;
	return false;
}

/* Any peer answered 2xx after the final dot. */
bool peers_any_accepted(void)
{
	for (size_t i = 0; i < npeers; i++)
		if (peers[i]->accepted)
			return true;
	return false;
}

/* Peers that received a final dot. */
unsigned peers_dots(void)
{
	unsigned n = 0;
	for (size_t i = 0; i < npeers; i++)
		n += peers[i]->got_dot;
	return n;
}

/* Connections to non-documentation addresses. */
unsigned peers_strays(void)
{
	return strays;
}

/* Checks every spec, prints transcripts of failures, frees the peers. */
int peers_end(const char *name, bool verbose)
{
	int failures = 0;
	for (size_t i = 0; specs != NULL && i < SCENARIO_PEERS &&
	                   specs[i].addr != NULL; i++) {
		const struct peer_spec *sp = &specs[i];
		struct peer *p = NULL;
		for (size_t j = 0; j < npeers; j++)
			if (peers[j]->spec == sp)
				p = peers[j];
		char problem[700] = "";
		if (sp->unused && p != NULL)
			snprintf(problem, sizeof problem, "was connected to");
		else if (!sp->unused && p == NULL)
			snprintf(problem, sizeof problem, "was never connected to");
		else if (p != NULL && p->failed)
			snprintf(problem, sizeof problem, "%s", p->why);
		else if (p != NULL && sp->script[p->step] != NULL &&
		         !is_step(sp->script[p->step], "stall") &&
		         !is_step(sp->script[p->step], "drain") &&
		         !is_step(sp->script[p->step], "trickle") &&
		         !is_step(sp->script[p->step], "close") &&
		         !is_step(sp->script[p->step], "reset"))
			snprintf(problem, sizeof problem, "script stopped at \"%s\"",
			         sp->script[p->step]);
		else if (p != NULL && p->accepted != sp->accepts)
			snprintf(problem, sizeof problem, "%s the message",
			         p->accepted ? "accepted" : "did not accept");
		else if (p != NULL && sp->absent != NULL &&
		         in_transcript(p, sp->absent))
			snprintf(problem, sizeof problem, "received \"%s\"",
			         sp->absent);
		if (problem[0] != '\0') {
			failures++;
			fprintf(stderr, "%s: peer %s (#%zu): %s\n", name, sp->addr, i,
			        problem);
		}
		if (p != NULL && (problem[0] != '\0' || verbose))
			fprintf(stderr, "--- transcript of %s (#%zu), %zu bytes:\n%.*s"
			        "%s\n---\n", sp->addr, i, p->received,
			        (int)(p->tlen < 4096 ? p->tlen : 4096), p->transcript,
			        p->tlen > 4096 ? "\n[... cut at 4096 bytes]" : "");
	}
	for (size_t j = 0; j < npeers; j++) {
		peer_close(peers[j]);
		event_free(peers[j]->ev_read);
		event_free(peers[j]->ev_kick);
		event_free(peers[j]->ev_trickle);
		free(peers[j]);
	}
	npeers = 0;
	specs = NULL;
	return failures;
}
