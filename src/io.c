/*
 * io: one connection's socket, buffers, deadline and TLS session.
 *
 * Two persistent libevent events watch the socket, one for reading (always
 * on while open) and one for writing (on only when something needs the
 * socket writable).  With TLS a read can need the socket writable and a
 * write readable (renegotiation, key updates, partial records): the flags
 * read_wants_write / write_wants_read remember those crossed cases so the
 * right operation is retried on the right event.
 *
 * Nothing is written from inside io_write(): output is queued and the write
 * event does the work, so the owner's callbacks never run inside its own
 * calls into this layer.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io.h"
#include "iobuf.h"
#include "tls.h"

/* Largest single read; also the largest TLS write (one record). */
#define IO_CHUNK (16 * 1024)

struct io {
	struct event_base *base;
	int fd;
	io_close_fn *close_fn;   /* how to close fd */
	void *close_arg;
	struct event *ev_read;   /* persistent, on while the socket is open */
	struct event *ev_write;  /* persistent, on while writability matters */
	struct event *ev_timer;  /* the deadline */
	io_callback *cb;
	void *arg;

	struct iobuf in;         /* received, not yet consumed by the owner */
	struct iobuf out;        /* queued copies, sent first */
	const char *ref;         /* then this borrowed run of bytes */
	size_t ref_len;

	struct tls *tls;         /* NULL while in clear */
	bool handshaking;        /* io_start_tls() called, not finished */
	bool handshake_wants_write;
	bool read_wants_write;   /* TLS read returned WANT_WRITE */
	bool write_wants_read;   /* TLS write returned WANT_READ */
	bool stalled;            /* the last write left bytes queued (TLS
	                            must then be given the same ones again) */

	unsigned timeout_ms;     /* current deadline length, 0: none */
	bool timeout_on_progress;

	unsigned in_callback;    /* depth of owner callbacks on the stack */
	bool freed;              /* io_free() called while in a callback */
	char error[256];
};

static void update_events(struct io *io);

/* Releases everything; the owner is no longer reachable from here. */
static void destroy(struct io *io)
{
	event_free(io->ev_read);
	event_free(io->ev_write);
	event_free(io->ev_timer);
	iobuf_free(&io->in);
	iobuf_free(&io->out);
	free(io);
}

/*
 * Gives the owner one event.  Returns false when the owner freed the io
 * during the callback: the caller must then return at once.
 */
static bool emit(struct io *io, enum io_event event)
{
	io->in_callback++;
	io->cb(io->arg, io, event);
	io->in_callback--;
	if (!io->freed)
		return true;
	if (io->in_callback == 0)
		destroy(io);
	return false;
}

/* Records why the connection failed and tells the owner. */
static bool fail(struct io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool fail(struct io *io, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(io->error, sizeof io->error, fmt, ap);
	va_end(ap);
	event_del(io->ev_read);
	event_del(io->ev_write);
	event_del(io->ev_timer);
	(void)emit(io, IO_ERROR);
	return false;
}

/* (Re)arms the deadline for the current timeout. */
static void arm_timer(struct io *io)
{
	if (io->timeout_ms == 0) {
		event_del(io->ev_timer);
		return;
	}
	struct timeval tv = { .tv_sec = io->timeout_ms / 1000,
	                      .tv_usec = (io->timeout_ms % 1000) * 1000 };
	event_add(io->ev_timer, &tv);
}

/* Advances the TLS handshake. */
static void do_handshake(struct io *io)
{
	switch (tls_handshake(io->tls)) {
	case TLS_OK:
		io->handshaking = false;
		io->handshake_wants_write = false;
		update_events(io);
		(void)emit(io, IO_TLS_READY);
		return;
	case TLS_WANT_READ:
		io->handshake_wants_write = false;
		update_events(io);
		return;
	case TLS_WANT_WRITE:
		io->handshake_wants_write = true;
		update_events(io);
		return;
	case TLS_CLOSED:
		(void)fail(io, "TLS handshake failed: connection closed by peer");
		return;
	case TLS_ERROR:
		(void)fail(io, "TLS handshake failed: %s", tls_error(io->tls));
		return;
	}
}

/* Reads what is available into the input buffer and reports it. */
static void do_read(struct io *io)
{
	bool got = false, eof = false, broken = false;
	io->read_wants_write = false;
	for (;;) {
		if (iobuf_len(&io->in) > IO_INPUT_MAX) {
			(void)fail(io, "server sent more than %d bytes without "
			           "a line end", IO_INPUT_MAX);
			return;
		}
		size_t room;
		char *p = iobuf_reserve(&io->in, IO_CHUNK, &room);
		if (p == NULL) {
			(void)fail(io, "out of memory");
			return;
		}
		if (room > IO_CHUNK)
			room = IO_CHUNK;
		size_t n = 0;
		if (io->tls != NULL) {
			enum tls_status st = tls_read(io->tls, p, room, &n);
			if (st == TLS_WANT_READ)
				break;
			if (st == TLS_WANT_WRITE) {
				io->read_wants_write = true;
				break;
			}
			if (st == TLS_CLOSED) {
				eof = true;
				break;
			}
			if (st == TLS_ERROR) {
				broken = true;
				break;
			}
		} else {
			ssize_t r = read(io->fd, p, room);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				broken = true;
				break;
			}
			if (r == 0) {
				eof = true;
				break;
			}
			n = (size_t)r;
		}
		iobuf_commit(&io->in, n);
		got = true;
	}
	/* What arrived before an error or the end is still the server's
	 * last word: "421 closing" or a 250 to the dot followed at once
	 * by a reset (or, in TLS, a close without close_notify) must be
	 * read before the loss is reported. */
	int saved = errno;
	update_events(io);
	if (got && !emit(io, IO_INPUT))
		return;
	if (broken) {
		if (io->tls != NULL)
			(void)fail(io, "TLS read failed: %s", tls_error(io->tls));
		else
			(void)fail(io, "read failed: %s", strerror(saved));
		return;
	}
	if (eof) {
		event_del(io->ev_read);
		event_del(io->ev_write);
		event_del(io->ev_timer);
		(void)emit(io, IO_CLOSED);
	}
}

/* Writes queued output; reports IO_DRAINED when all of it is gone. */
static void do_write(struct io *io)
{
	bool moved = false;
	io->write_wants_read = false;
	while (iobuf_len(&io->out) > 0 || io->ref_len > 0) {
		const char *p;
		size_t len;
		bool from_out = iobuf_len(&io->out) > 0;
		if (from_out) {
			p = iobuf_data(&io->out);
			len = iobuf_len(&io->out);
		} else {
			p = io->ref;
			len = io->ref_len;
		}
		size_t n = 0;
		if (io->tls != NULL) {
			/* After WANT_WRITE wolfSSL must be called again with the
			 * same bytes: a fixed chunk size at the same front keeps
			 * that true, as the queues only grow at the back. */
			if (len > IO_CHUNK)
				len = IO_CHUNK;
			enum tls_status st = tls_write(io->tls, p, len, &n);
			if (st == TLS_WANT_WRITE)
				break;
			if (st == TLS_WANT_READ) {
				io->write_wants_read = true;
				break;
			}
			if (st != TLS_OK) {
				(void)fail(io, "TLS write failed: %s",
				           st == TLS_CLOSED ? "connection closed by peer"
				                            : tls_error(io->tls));
				return;
			}
		} else {
			ssize_t r = send(io->fd, p, len, MSG_NOSIGNAL);
			if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				break;
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				(void)fail(io, "write failed: %s", strerror(errno));
				return;
			}
			n = (size_t)r;
		}
		if (from_out) {
			iobuf_consume(&io->out, n);
		} else {
			io->ref += n;
			io->ref_len -= n;
		}
		moved = true;
	}
	io->stalled = io_pending(io) > 0;
	if (moved && io->timeout_on_progress)
		arm_timer(io);
	update_events(io);
	if (moved && io_pending(io) == 0)
		(void)emit(io, IO_DRAINED);
}

/* Turns the write event on exactly when writability is awaited. */
static void update_events(struct io *io)
{
	bool want_write;
	if (io->handshaking)
		want_write = io->handshake_wants_write;
	else
		want_write = io->read_wants_write ||
		             (io_pending(io) > 0 && !io->write_wants_read);
	if (want_write)
		event_add(io->ev_write, NULL);
	else
		event_del(io->ev_write);
}

/*
 * Runs `first` and then `then`, unless the owner freed the io during
 * `first` (its callbacks may): the crossed TLS case retried first.
 */
static void in_order(struct io *io, void (*first)(struct io *),
                     void (*then)(struct io *))
{
	io->in_callback++;
	first(io);
	io->in_callback--;
	if (io->freed) {
		if (io->in_callback == 0)
			destroy(io);
		return;
	}
	then(io);
}

/* The socket is readable. */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;
	(void)fd;
	(void)what;
	if (io->handshaking)
		do_handshake(io);
	else if (io->write_wants_read)
		in_order(io, do_write, do_read);
	else
		do_read(io);
}

/* The socket is writable. */
static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;
	(void)fd;
	(void)what;
	if (io->handshaking)
		do_handshake(io);
	else if (io->read_wants_write)
		in_order(io, do_read, do_write);
	else
		do_write(io);
}

/* The deadline passed. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct io *io = arg;
	(void)fd;
	(void)what;
	(void)emit(io, IO_TIMEOUT);
}

/* Wraps a connected socket. */
struct io *io_new(struct event_base *base, int fd, io_close_fn *close_fn,
                  void *close_arg, io_callback *cb, void *arg)
{
	struct io *io = calloc(1, sizeof *io);
	if (io == NULL)
		return NULL;
	io->base = base;
	io->fd = fd;
	io->close_fn = close_fn;
	io->close_arg = close_arg;
	io->cb = cb;
	io->arg = arg;
	iobuf_init(&io->in);
	iobuf_init(&io->out);
	io->ev_read = event_new(base, fd, EV_READ | EV_PERSIST, on_read, io);
	io->ev_write = event_new(base, fd, EV_WRITE | EV_PERSIST, on_write, io);
	io->ev_timer = evtimer_new(base, on_timer, io);
	if (io->ev_read == NULL || io->ev_write == NULL || io->ev_timer == NULL) {
		if (io->ev_read != NULL)
			event_free(io->ev_read);
		if (io->ev_write != NULL)
			event_free(io->ev_write);
		if (io->ev_timer != NULL)
			event_free(io->ev_timer);
		free(io);
		return NULL;
	}
	event_add(io->ev_read, NULL);
	return io;
}

/* Closes the connection; safe from inside the owner's callback. */
void io_free(struct io *io)
{
	if (io == NULL || io->freed)
		return;
	event_del(io->ev_read);
	event_del(io->ev_write);
	event_del(io->ev_timer);
	if (io->tls != NULL) {
		if (!io->handshaking)
			tls_shutdown(io->tls);
		tls_free(io->tls);
		io->tls = NULL;
	}
	io->close_fn(io->close_arg, io->fd);
	io->fd = -1;
	io->freed = true;
	if (io->in_callback == 0)
		destroy(io);
}

/* Received bytes not yet consumed. */
struct iobuf *io_input(struct io *io)
{
	return &io->in;
}

/* Queues a copy of bytes. */
int io_write(struct io *io, const void *bytes, size_t len)
{
	if (iobuf_append(&io->out, bytes, len) < 0)
		return -1;
	update_events(io);
	return 0;
}

/* Gives the read room back while nothing is buffered. */
void io_trim(struct io *io)
{
	if (iobuf_len(&io->in) == 0)
		iobuf_free(&io->in);
}

/* Queues borrowed bytes after the copies. */
void io_write_ref(struct io *io, const char *bytes, size_t len)
{
	/* A short command queued ahead of them (BDAT) takes their start
	 * along: one send (one TLS record) for both, so Nagle's algorithm
	 * never holds the bytes back until the command's segment is
	 * acknowledged, a round trip. */
	size_t queued = iobuf_len(&io->out);
	if (!io->stalled && queued > 0 && queued < IO_CHUNK) {
		size_t n = IO_CHUNK - queued < len ? IO_CHUNK - queued : len;
		if (iobuf_append(&io->out, bytes, n) == 0) {
			bytes += n;
			len -= n;
		}
	}
	io->ref = bytes;
	io->ref_len = len;
	update_events(io);
}

/* Bytes still to send. */
size_t io_pending(const struct io *io)
{
	return iobuf_len(&io->out) + io->ref_len;
}

/* Sets the deadline. */
void io_set_timeout(struct io *io, unsigned ms, bool on_progress)
{
	io->timeout_ms = ms;
	io->timeout_on_progress = on_progress;
	arm_timer(io);
}

/* Begins the TLS handshake on the next writable event. */
void io_start_tls(struct io *io, struct tls *tls)
{
	io->tls = tls;
	io->handshaking = true;
	io->handshake_wants_write = true; /* ClientHello goes first */
	update_events(io);
}

/* The TLS session or NULL. */
struct tls *io_tls(const struct io *io)
{
	return io->tls;
}

/* Why the last IO_ERROR happened. */
const char *io_error(const struct io *io)
{
	return io->error[0] != '\0' ? io->error : "connection error";
}
