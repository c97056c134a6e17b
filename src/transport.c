/*
 * transport: direct TCP, SOCKS5 and proxy commands behind one interface.
 *
 * An attempt is a small state machine on one non-blocking socket:
 *
 *   direct:  CONNECTING -> done
 *   SOCKS5:  CONNECTING -> METHOD -> [AUTH] -> CONNECT -> done
 *   command: FIRST_BYTE -> done
 *
 * Each SOCKS5 step sends one message and reads exactly the reply's length
 * (never a byte of the SMTP stream behind it).  A proxy command is spawned
 * without a shell (its template is split into words here, and %h/%n/%p
 * substituted per word, so nothing from DNS can become shell syntax); the
 * attempt succeeds when the far side's first byte (the SMTP greeting)
 * arrives, and fails if the command closes the stream first.  Children are
 * watched through a pidfd (or, where the kernel or valgrind lacks
 * pidfd_open, polled with waitpid), so no SIGCHLD handler is needed and
 * every one is reaped; one whose stream was closed gets a moment, then
 * SIGTERM, then SIGKILL.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "connect.h"
#include "escape.h"
#include "socks5.h"
#include "transport.h"

extern char **environ;

/* Most words in a proxy command template. */
#define COMMAND_WORDS_MAX 64
/* The initial 220's timeout before scaling, seconds (RFC 5321 4.5.3.2.1). */
#define GREETING_TIMEOUT 300
/* Grace a proxy command gets after its stream closes, then per signal. */
#define CHILD_GRACE_MS 2000
/* How often a child without a pidfd is checked for its exit. */
#define CHILD_POLL_MS 100

enum transport_kind { KIND_DIRECT, KIND_SOCKS5, KIND_COMMAND };

/* One proxy command process. */
struct child {
	LIST_ENTRY(child) link;
	struct transport *t;
	pid_t pid;
	int pidfd;                 /* readable when the process has exited;
	                              -1: polled every CHILD_POLL_MS */
	struct event *ev_exit;
	int err_fd;                /* its stderr, -1 once at EOF */
	struct event *ev_err;
	char errline[512];         /* the stderr line being assembled */
	size_t errlen;
	char lastline[512];        /* the last complete stderr line */
	int stream_fd;             /* our end of the socketpair, -1 closed */
	struct event *ev_kill;     /* grace timer once the stream closed */
	int signals_sent;          /* 0, then SIGTERM, then SIGKILL */
	bool exited;
	const struct config *config;          /* for log lines */
	uint64_t owner;                       /* its delivery's id for log
	                                         lines, 0 once the stream closed */
};

struct transport {
	struct event_base *base;
	enum transport_kind kind;
	struct sockaddr_storage proxy; /* SOCKS5 */
	socklen_t proxylen;
	bool auth;
	char user[SOCKS5_CRED_MAX + 1];
	char password[SOCKS5_CRED_MAX + 1];
	char *words[COMMAND_WORDS_MAX + 1]; /* command template, split */
	size_t nwords;
	char name[560];
	LIST_HEAD(, child) children;
};

enum step {
	STEP_CONNECTING,  /* TCP connect in progress */
	STEP_METHOD,      /* SOCKS5 greeting out, method choice awaited */
	STEP_AUTH,        /* RFC 1929 request out, status awaited */
	STEP_CONNECT,     /* CONNECT out, reply awaited */
	STEP_FIRST_BYTE   /* proxy command running, far side's first byte */
};

struct transport_attempt {
	struct transport *t;
	const struct config *config;
	uint64_t delivery_id;      /* for log lines */
	transport_done_fn *done;
	void *arg;
	enum step step;
	int fd;
	struct child *child;       /* command kind */
	struct event *ev_io;       /* readiness of fd */
	struct event *ev_timeout;
	struct event *ev_fail;     /* reports an immediate failure */
	struct sockaddr_storage target;
	unsigned port;
	uint8_t out[SOCKS5_MSG_MAX]; /* the SOCKS5 message being sent */
	size_t outlen, outsent;
	uint8_t in[300];           /* the SOCKS5 reply being read */
	size_t inlen, need;
	char why[900];
};

static void child_release(struct child *c, bool now);
static void drain_stderr(struct child *c);

/* ---- proxy command children ---- */

/* Frees a child that has exited and whose stream is closed. */
static void child_free(struct child *c)
{
	drain_stderr(c); /* its last words */
	LIST_REMOVE(c, link);
	event_free(c->ev_exit);
	event_free(c->ev_err);
	event_free(c->ev_kill);
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->err_fd >= 0)
		close(c->err_fd);
	free(c);
}

/* The process exited: reap it. */
static void on_child_exit(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	(void)fd;
	(void)what;
	int status;
	if (waitpid(c->pid, &status, WNOHANG) != c->pid)
		return;
	c->exited = true;
	event_del(c->ev_exit);
	if (c->stream_fd < 0)
		child_free(c);
}

/* Logs one complete stderr line of the child, escaped, without its CR. */
static void child_line(struct child *c)
{
	size_t len = c->errlen;
	if (len > 0 && c->errline[len - 1] == '\r')
		len--;
	c->errlen = 0;
	if (len == 0)
		return;
	escape_text(c->errline, len, c->lastline, sizeof c->lastline);
	config_log(c->config, &(struct logctx){ c->owner, 0 }, MXC_LOG_INFO,
	           "proxy command [%d]: %s",
	           (int)c->pid, c->lastline);
}

/*
 * Reads whatever the child has written to stderr, line by line, until the
 * pipe is empty.  Called on every stderr event and, before anything is
 * reported or freed, once more: the line that says why a command failed
 * is usually its last, written just before it exits.
 */
static void drain_stderr(struct child *c)
{
	char buf[4096];
	/* Bounded, so a command that never stops talking cannot hold the
	 * loop: the rest waits for the next event. */
	for (int round = 0; round < 64 && c->err_fd >= 0; round++) {
		ssize_t n = read(c->err_fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) { /* EOF or error: the pipe is done */
			child_line(c); /* a last line without its newline */
			event_del(c->ev_err);
			close(c->err_fd);
			c->err_fd = -1;
			return;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n')
				child_line(c);
			else if (c->errlen < sizeof c->errline)
				c->errline[c->errlen++] = buf[i];
			/* else: an overlong line, the rest of it is dropped */
		}
	}
}

/* The child wrote to stderr. */
static void on_child_stderr(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_stderr(arg);
}

/* Grace over: ask the child to go, then force it. */
static void on_child_kill(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	(void)fd;
	(void)what;
	if (c->exited)
		return;
	kill(c->pid, c->signals_sent == 0 ? SIGTERM : SIGKILL);
	if (c->signals_sent++ == 0) {
		struct timeval tv = { CHILD_GRACE_MS / 1000,
		                      (CHILD_GRACE_MS % 1000) * 1000 };
		event_add(c->ev_kill, &tv);
	}
}

/*
 * Our side of the child's stream is done: close it and see the child out,
 * at once (a cancelled attempt) or after a grace period.
 */
static void child_release(struct child *c, bool now)
{
	if (c->stream_fd >= 0) {
		close(c->stream_fd);
		c->stream_fd = -1;
	}
	c->owner = 0;
	if (c->exited) {
		child_free(c);
		return;
	}
	if (now) {
		on_child_kill(-1, 0, c);
		return;
	}
	struct timeval tv = { CHILD_GRACE_MS / 1000,
	                      (CHILD_GRACE_MS % 1000) * 1000 };
	event_add(c->ev_kill, &tv);
}

/*
 * Expands one template word: %h the address, %p the port, %n the MX host
 * name, %% a percent.  Returns false if the result does not fit.
 */
static bool expand_word(const char *word, const char *h, const char *p,
                        const char *n, char *out, size_t outlen)
{
	size_t used = 0;
	for (const char *s = word; *s != '\0'; s++) {
		const char *put = NULL;
		char one[2] = { *s, '\0' };
		if (*s == '%') {
			s++;
			put = *s == 'h' ? h : *s == 'p' ? p : *s == 'n' ? n
			    : *s == '%' ? "%" : NULL;
			if (put == NULL)
				return false; /* checked at transport_new */
		} else {
			put = one;
		}
		size_t len = strlen(put);
		if (used + len >= outlen)
			return false;
		memcpy(out + used, put, len);
		used += len;
	}
	out[used] = '\0';
	return true;
}

/* True when a host name is plain LDH text (safe to hand to a command). */
static bool plain_hostname(const char *s)
{
	if (*s == '\0' || *s == '-' || *s == '.')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

/*
 * Spawns the proxy command for one attempt; returns our end of its stream,
 * or -1 with a reason in why.
 */
static int spawn_command(struct transport_attempt *a, const char *addr,
                         const char *mx)
{
	struct transport *t = a->t;
	char port[8], *argv[COMMAND_WORDS_MAX + 1];
	char words[COMMAND_WORDS_MAX][512];
	snprintf(port, sizeof port, "%u", a->port);
	if (!plain_hostname(mx))
		mx = addr; /* never hand odd DNS bytes to a command */
	for (size_t i = 0; i < t->nwords; i++) {
		if (!expand_word(t->words[i], addr, port, mx, words[i],
		                 sizeof words[i])) {
			snprintf(a->why, sizeof a->why, "proxy command word too long");
			return -1;
		}
		argv[i] = words[i];
	}
	argv[t->nwords] = NULL;

	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(ep, O_CLOEXEC) < 0) {
		snprintf(a->why, sizeof a->why, "proxy command: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (sv[i] >= 0)
				close(sv[i]);
			if (ep[i] >= 0)
				close(ep[i]);
		}
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, sv[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, ep[1], STDERR_FILENO);
	pid_t pid;
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(sv[1]);
	close(ep[1]);
	if (rc != 0) {
		snprintf(a->why, sizeof a->why, "proxy command %s: %s", argv[0],
		         strerror(rc));
		close(sv[0]);
		close(ep[0]);
		return -1;
	}
	int pidfd = pidfd_open(pid, 0);
	int pidfd_errno = errno;
	struct child *c = calloc(1, sizeof *c);
	if (c == NULL) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		if (pidfd >= 0)
			close(pidfd);
		close(sv[0]);
		close(ep[0]);
		snprintf(a->why, sizeof a->why, "out of memory");
		return -1;
	}
	c->t = t;
	c->pid = pid;
	c->pidfd = pidfd;
	c->err_fd = ep[0];
	c->stream_fd = sv[0];
	c->config = a->config;
	c->owner = a->delivery_id;
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(ep[0], F_SETFL, O_NONBLOCK);
	/* Without a pidfd, a persistent timeout: the same callback finds
	 * out with waitpid(WNOHANG) whether the child has exited. */
	c->ev_exit = event_new(t->base, pidfd, (pidfd >= 0 ? EV_READ : 0) |
	                       EV_PERSIST, on_child_exit, c);
	c->ev_err = event_new(t->base, ep[0], EV_READ | EV_PERSIST,
	                      on_child_stderr, c);
	c->ev_kill = evtimer_new(t->base, on_child_kill, c);
	LIST_INSERT_HEAD(&t->children, c, link);
	struct timeval poll = { 0, CHILD_POLL_MS * 1000 };
	event_add(c->ev_exit, pidfd >= 0 ? NULL : &poll);
	event_add(c->ev_err, NULL);
	a->child = c;
	if (pidfd < 0)
		config_log(a->config, &(struct logctx){ a->delivery_id, 0 },
		           MXC_LOG_DEBUG, "proxy command [%d]: no pidfd (%s): "
		           "its exit is polled", (int)pid, strerror(pidfd_errno));
	config_log(a->config, &(struct logctx){ a->delivery_id, 0 }, MXC_LOG_DEBUG,
	           "proxy command [%d] started for %s:%u", (int)pid, addr, a->port);
	return sv[0];
}

/* ---- attempts ---- */

/* Frees an attempt's events (not its fd or child). */
static void attempt_free(struct transport_attempt *a)
{
	if (a->ev_io != NULL)
		event_free(a->ev_io);
	if (a->ev_timeout != NULL)
		event_free(a->ev_timeout);
	if (a->ev_fail != NULL)
		event_free(a->ev_fail);
	free(a);
}

/* Ends an attempt: hands the stream over, or cleans up and reports why. */
static void attempt_end(struct transport_attempt *a, bool ok)
{
	transport_done_fn *done = a->done;
	void *arg = a->arg;
	int fd = -1;
	char why[sizeof a->why];
	snprintf(why, sizeof why, "%s", a->why);
	if (ok) {
		fd = a->fd;
	} else if (a->child != NULL) {
		drain_stderr(a->child);
		if (a->child->lastline[0] != '\0') { /* the command said why */
			size_t len = strlen(why);
			snprintf(why + len, sizeof why - len, " (%.300s)",
			         a->child->lastline);
		}
		child_release(a->child, true);
	} else if (a->fd >= 0) {
		close(a->fd);
	}
	attempt_free(a);
	done(arg, fd, why); /* last: the owner may start another attempt */
}

/* Records why an attempt failed, naming the proxy, and ends it. */
static void attempt_fail(struct transport_attempt *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void attempt_fail(struct transport_attempt *a, const char *fmt, ...)
{
	char what[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (a->t->kind == KIND_DIRECT)
		snprintf(a->why, sizeof a->why, "%s", what);
	else
		snprintf(a->why, sizeof a->why, "%.500s: %.290s", a->t->name,
		         what);
	attempt_end(a, false);
}

/* Queues a SOCKS5 message and moves to the step awaiting its reply. */
static void socks_send(struct transport_attempt *a, enum step next,
                       size_t len)
{
	a->step = next;
	a->outlen = len;
	a->outsent = 0;
	a->inlen = 0;
	a->need = next == STEP_CONNECT ? 5 : 2;
}

/*
 * The SOCKS5 reply for the current step is complete: act on it.  Returns
 * false when that ended the attempt (`a` is then gone).
 */
static bool socks_reply(struct transport_attempt *a)
{
	char why[200];
	uint8_t method;
	switch (a->step) {
	case STEP_METHOD:
		if (socks5_parse_method(a->in, a->inlen, a->t->auth, &method, why,
		                        sizeof why) != SOCKS5_OK) {
			attempt_fail(a, "%s", why);
			return false;
		}
		if (method == 0x02) {
			socks_send(a, STEP_AUTH, socks5_auth_request(
				a->t->user, a->t->password, a->out));
			return true;
		}
		socks_send(a, STEP_CONNECT,
		           socks5_connect_request(&a->target, (uint16_t)a->port,
		                                  a->out));
		return true;
	case STEP_AUTH:
		if (socks5_parse_auth(a->in, a->inlen, why, sizeof why) !=
		    SOCKS5_OK) {
			attempt_fail(a, "%s", why);
			return false;
		}
		socks_send(a, STEP_CONNECT,
		           socks5_connect_request(&a->target, (uint16_t)a->port,
		                                  a->out));
		return true;
	case STEP_CONNECT:
		switch (socks5_parse_connect(a->in, a->inlen, &a->need, why,
		                             sizeof why)) {
		case SOCKS5_NEED_MORE:
			return true; /* the reply is longer than we knew */
		case SOCKS5_FAIL: {
			char t[INET6_ADDRSTRLEN];
			he_addr_text(&a->target, t, sizeof t);
			attempt_fail(a, "cannot reach %s port %u: %s", t, a->port, why);
			return false;
		}
		case SOCKS5_OK:
			attempt_end(a, true);
			return false;
		}
		return false;
	case STEP_CONNECTING:
	case STEP_FIRST_BYTE:
		break;
	}
	return true;
}

/*
 * The socket is ready: one step of whatever the attempt is doing.  Each
 * branch either re-arms the event or ends the attempt.
 */
static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct transport_attempt *a = arg;
	(void)what;
	if (a->step == STEP_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			attempt_fail(a, "connect: %s", strerror(err));
			return;
		}
		if (a->t->kind == KIND_DIRECT) {
			attempt_end(a, true);
			return;
		}
		socks_send(a, STEP_METHOD, socks5_greeting(a->t->auth, a->out));
	} else if (a->step == STEP_FIRST_BYTE) {
		char c;
		ssize_t n = recv(fd, &c, 1, MSG_PEEK);
		if (n > 0) {
			attempt_end(a, true); /* the byte stays for SMTP */
			return;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			event_add(a->ev_io, NULL);
			return;
		}
		attempt_fail(a, "the command closed the connection%s",
		             n < 0 ? " with an error" : "");
		return;
	} else if (a->outsent < a->outlen) {
		ssize_t n = send(fd, a->out + a->outsent, a->outlen - a->outsent,
		                 MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			attempt_fail(a, "send: %s", strerror(errno));
			return;
		}
		if (n > 0)
			a->outsent += (size_t)n;
	} else {
		ssize_t n = recv(fd, a->in + a->inlen, a->need - a->inlen, 0);
		if (n == 0) {
			attempt_fail(a, "closed the connection during negotiation");
			return;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			attempt_fail(a, "recv: %s", strerror(errno));
			return;
		}
		if (n > 0)
			a->inlen += (size_t)n;
		if (a->inlen == a->need && !socks_reply(a))
			return; /* ended: `a` is gone */
	}
	event_assign(a->ev_io, a->t->base, a->fd,
	             a->outsent < a->outlen ? EV_WRITE : EV_READ, on_ready, a);
	event_add(a->ev_io, NULL);
}

/* The attempt took too long. */
static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	attempt_fail(arg, "timed out");
}

/* Reports a failure found inside transport_connect(), from the loop. */
static void on_fail(evutil_socket_t fd, short what, void *arg)
{
	struct transport_attempt *a = arg;
	(void)fd;
	(void)what;
	attempt_end(a, false);
}

/* Starts an attempt. */
struct transport_attempt *transport_connect(struct transport *t,
                                            const struct config *config,
                                            uint64_t delivery_id,
                                            const struct sockaddr_storage *addr,
                                            unsigned port, const char *mx,
                                            unsigned timeout_ms,
                                            transport_done_fn *done,
                                            void *arg)
{
	struct transport_attempt *a = calloc(1, sizeof *a);
	if (a == NULL)
		return NULL;
	a->t = t;
	a->config = config;
	a->delivery_id = delivery_id;
	a->done = done;
	a->arg = arg;
	a->fd = -1;
	a->target = *addr;
	a->port = port;
	a->ev_io = event_new(t->base, -1, 0, on_ready, a);
	a->ev_timeout = evtimer_new(t->base, on_timeout, a);
	a->ev_fail = event_new(t->base, -1, 0, on_fail, a);
	if (a->ev_io == NULL || a->ev_timeout == NULL || a->ev_fail == NULL) {
		attempt_free(a);
		return NULL;
	}
	/* Through a command the attempt ends only at the server's first
	 * byte, so it gets the greeting's time (RFC 5321 4.5.3.2.1). */
	if (t->kind == KIND_COMMAND)
		timeout_ms = config_timeout_ms(config, GREETING_TIMEOUT);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	event_add(a->ev_timeout, &tv);

	if (t->kind == KIND_COMMAND) {
		char text[INET6_ADDRSTRLEN];
		he_addr_text(addr, text, sizeof text);
		a->step = STEP_FIRST_BYTE;
		a->fd = spawn_command(a, text, mx);
	} else {
		struct sockaddr_storage to = t->kind == KIND_SOCKS5 ? t->proxy
		                                                     : *addr;
		socklen_t tolen = to.ss_family == AF_INET6
			? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		if (t->kind == KIND_DIRECT) {
			if (to.ss_family == AF_INET6)
				((struct sockaddr_in6 *)&to)->sin6_port = htons((uint16_t)port);
			else
				((struct sockaddr_in *)&to)->sin_port = htons((uint16_t)port);
		}
		a->step = STEP_CONNECTING;
		a->fd = socket(to.ss_family,
		               SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (a->fd >= 0 && connect(a->fd, (struct sockaddr *)&to, tolen) < 0 &&
		    errno != EINPROGRESS) {
			snprintf(a->why, sizeof a->why, "%s%sconnect: %s",
			         t->kind == KIND_SOCKS5 ? t->name : "",
			         t->kind == KIND_SOCKS5 ? ": " : "", strerror(errno));
			close(a->fd);
			a->fd = -1;
		} else if (a->fd < 0) {
			snprintf(a->why, sizeof a->why, "socket: %s", strerror(errno));
		}
	}
	if (a->fd < 0) {
		event_active(a->ev_fail, EV_TIMEOUT, 0);
		return a;
	}
	/* Even an immediate connect reports through the event: the owner
	 * always hears from the loop. */
	event_assign(a->ev_io, t->base, a->fd,
	             a->step == STEP_CONNECTING ? EV_WRITE : EV_READ, on_ready, a);
	event_add(a->ev_io, NULL);
	return a;
}

/* Abandons an attempt. */
void transport_cancel(struct transport_attempt *a)
{
	if (a == NULL)
		return;
	if (a->child != NULL)
		child_release(a->child, true);
	else if (a->fd >= 0)
		close(a->fd);
	attempt_free(a);
}

/* Closes a stream; its proxy command, if any, is seen out. */
void transport_close(struct transport *t, int fd)
{
	struct child *c;
	LIST_FOREACH(c, &t->children, link)
		if (c->stream_fd == fd) {
			child_release(c, false);
			return;
		}
	close(fd);
}

/* ---- configuration ---- */

/* Decodes %XX escapes in place (user names and passwords in a URL). */
static bool percent_decode(char *s)
{
	char *out = s;
	for (; *s != '\0'; s++) {
		if (*s != '%') {
			*out++ = *s;
			continue;
		}
		unsigned v;
		if (sscanf(s + 1, "%2x", &v) != 1 || s[1] == '\0' || s[2] == '\0')
			return false;
		*out++ = (char)v;
		s += 2;
	}
	*out = '\0';
	return true;
}

/* Parses "socks5://[USER:PASS@]IP:PORT" (IPv6 in brackets). */
static bool parse_proxy(struct transport *t, const char *url, char *err,
                        size_t errlen)
{
	static const char scheme[] = "socks5://";
	if (strncmp(url, "socks5h://", 10) == 0) {
		snprintf(err, errlen, "socks5h:// would have the proxy resolve "
		         "names (a DNS leak): use socks5://");
		return false;
	}
	if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
		snprintf(err, errlen, "proxy must be socks5://[USER:PASS@]IP:PORT");
		return false;
	}
	char buf[600];
	snprintf(buf, sizeof buf, "%s", url + sizeof scheme - 1);
	char *host = buf, *at = strrchr(buf, '@');
	if (at != NULL) {
		*at = '\0';
		host = at + 1;
		char *colon = strchr(buf, ':');
		if (colon == NULL) {
			snprintf(err, errlen, "proxy credentials must be USER:PASS");
			return false;
		}
		*colon = '\0';
		if (!percent_decode(buf) || !percent_decode(colon + 1) ||
		    buf[0] == '\0' || colon[1] == '\0' ||
		    strlen(buf) > SOCKS5_CRED_MAX ||
		    strlen(colon + 1) > SOCKS5_CRED_MAX) {
			snprintf(err, errlen, "proxy user name and password must be "
			         "1 to 255 bytes");
			return false;
		}
		snprintf(t->user, sizeof t->user, "%s", buf);
		snprintf(t->password, sizeof t->password, "%s", colon + 1);
		t->auth = true;
	}
	char *port = NULL;
	if (host[0] == '[') {
		char *close_br = strchr(host, ']');
		if (close_br != NULL && close_br[1] == ':') {
			*close_br = '\0';
			port = close_br + 2;
		}
		host++;
	} else {
		port = strrchr(host, ':');
		if (port != NULL)
			*port++ = '\0';
	}
	char *end = NULL;
	unsigned long p = port != NULL ? strtoul(port, &end, 10) : 0;
	if (port == NULL || *port == '\0' || *end != '\0' || p == 0 || p > 65535) {
		snprintf(err, errlen, "proxy needs a port: socks5://IP:PORT");
		return false;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)&t->proxy;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->proxy;
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)p);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)p);
	} else {
		snprintf(err, errlen, "proxy host must be an IP address, not "
		         "\"%.100s\"", host);
		return false;
	}
	snprintf(t->name, sizeof t->name, "SOCKS5 proxy %s%s%s:%lu",
	         t->proxy.ss_family == AF_INET6 ? "[" : "", host,
	         t->proxy.ss_family == AF_INET6 ? "]" : "", p);
	return true;
}

/*
 * Splits a command template into words as a shell would, without any
 * expansion: blanks separate, '...' is literal, "..." allows \" and \\,
 * a backslash outside quotes takes the next character.  Then checks that
 * every % is %h, %n, %p or %%.
 */
/* Whether `name` can be run as posix_spawnp() would find it: a path with
 * a slash as it is, else the first executable file of that name in $PATH.
 * errno is EACCES when one exists but cannot be run. */
static bool program_found(const char *name)
{
	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0;
	const char *path = getenv("PATH");
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	bool exists = false;
	for (const char *p = path;; ) {
		const char *end = strchr(p, ':');
		size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
		char full[1024];
		int len = snprintf(full, sizeof full, "%.*s%s%s", (int)n, p,
		                   n ? "/" : "", name);
		if (len > 0 && (size_t)len < sizeof full) {
			if (access(full, X_OK) == 0)
				return true;
			exists |= access(full, F_OK) == 0;
		}
		if (end == NULL)
			break;
		p = end + 1;
	}
	errno = exists ? EACCES : ENOENT;
	return false;
}

static bool parse_command(struct transport *t, const char *cmd, char *err,
                          size_t errlen)
{
	char word[512];
	size_t len = 0;
	bool in_word = false;
	char quote = 0;
	for (const char *s = cmd;; s++) {
		char c = *s;
		if (c == '\0' || (!quote && (c == ' ' || c == '\t'))) {
			if (c == '\0' && quote) {
				snprintf(err, errlen, "proxy command: unterminated %c",
				         quote);
				return false;
			}
			if (in_word) {
				if (t->nwords == COMMAND_WORDS_MAX) {
					snprintf(err, errlen, "proxy command: too many words");
					return false;
				}
				word[len] = '\0';
				t->words[t->nwords] = strdup(word);
				if (t->words[t->nwords++] == NULL) {
					snprintf(err, errlen, "out of memory");
					return false;
				}
				len = 0;
				in_word = false;
			}
			if (c == '\0')
				break;
			continue;
		}
		in_word = true;
		if (!quote && (c == '\'' || c == '"')) {
			quote = c;
			continue;
		}
		if (quote && c == quote) {
			quote = 0;
			continue;
		}
		if (c == '\\' && quote != '\'' && s[1] != '\0' &&
		    (!quote || s[1] == '"' || s[1] == '\\'))
			c = *++s;
		if (len + 1 >= sizeof word) {
			snprintf(err, errlen, "proxy command: word too long");
			return false;
		}
		word[len++] = c;
	}
	if (t->nwords == 0) {
		snprintf(err, errlen, "proxy command is empty");
		return false;
	}
	for (size_t i = 0; i < t->nwords; i++)
		for (const char *p = strchr(t->words[i], '%'); p != NULL;
		     p = strchr(p + 2, '%'))
			if (p[1] != 'h' && p[1] != 'n' && p[1] != 'p' && p[1] != '%') {
				snprintf(err, errlen, "proxy command: unknown %%%c (use "
				         "%%h, %%n, %%p or %%%%)", p[1] ? p[1] : ' ');
				return false;
			}
	if (strchr(t->words[0], '%') == NULL && !program_found(t->words[0])) {
		/* Found now rather than as a failure of every attempt, which
		 * would read as "try again later". */
		snprintf(err, errlen, "proxy command: %.200s: %s", t->words[0],
		         errno == EACCES ? "not executable" : "command not found");
		errno = ENOENT;
		return false;
	}
	snprintf(t->name, sizeof t->name, "proxy command %.500s", cmd);
	return true;
}

/* Creates the transport. */
struct transport *transport_new(struct event_base *base, const char *proxy,
                                const char *command, char *err,
                                size_t errlen)
{
	struct transport *t = calloc(1, sizeof *t);
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->base = base;
	LIST_INIT(&t->children);
	snprintf(t->name, sizeof t->name, "direct");
	if (proxy != NULL && command != NULL) {
		snprintf(err, errlen, "give a proxy or a proxy command, not both");
		free(t);
		return NULL;
	}
	bool ok = true;
	if (proxy != NULL) {
		t->kind = KIND_SOCKS5;
		ok = parse_proxy(t, proxy, err, errlen);
	} else if (command != NULL) {
		t->kind = KIND_COMMAND;
		ok = parse_command(t, command, err, errlen);
	}
	if (!ok) {
		transport_free(t);
		return NULL;
	}
	return t;
}

/* Kills and reaps every child; frees. */
void transport_free(struct transport *t)
{
	if (t == NULL)
		return;
	struct child *c;
	while ((c = LIST_FIRST(&t->children)) != NULL) {
		if (c->stream_fd >= 0) {
			close(c->stream_fd);
			c->stream_fd = -1;
		}
		if (!c->exited) {
			kill(c->pid, SIGKILL);
			waitpid(c->pid, NULL, 0); /* prompt after SIGKILL */
			c->exited = true;
		}
		child_free(c);
	}
	for (size_t i = 0; i < t->nwords; i++)
		free(t->words[i]);
	memset(t->password, 0, sizeof t->password);
	free(t);
}

/* A name for reports. */
const char *transport_name(const struct transport *t)
{
	return t->name;
}

bool transport_direct(const struct transport *t)
{
	return t->kind == KIND_DIRECT;
}
