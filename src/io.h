/*
 * io: one connection's bytes.  Owns the socket, its libevent events, the
 * input and output buffers, the deadline and (after STARTTLS) the TLS
 * session.  The SMTP code above never calls read, write or wolfSSL: it sees
 * buffered input, queues output and receives one event kind at a time.
 */
#ifndef MXC_IO_H
#define MXC_IO_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct iobuf;
struct tls;
struct io;

/* Most input buffered before the owner consumes it; a peer that sends more
 * without a line end is misbehaving. */
#define IO_INPUT_MAX (64 * 1024)

/* What happened; the owner gets one per callback. */
enum io_event {
	IO_INPUT,     /* new bytes are in io_input() */
	IO_DRAINED,   /* everything queued has been written */
	IO_TLS_READY, /* the handshake started by io_start_tls() finished */
	IO_TIMEOUT,   /* the deadline passed */
	IO_CLOSED,    /* the peer closed the connection */
	IO_ERROR      /* a socket or TLS error: io_error() says which */
};

/*
 * Receives an event.  The owner may call io_free() from inside it; the io
 * layer touches nothing of the connection afterwards.
 */
typedef void io_callback(void *arg, struct io *io, enum io_event event);

/* Closes a stream's fd (the transport may have a proxy process to see out). */
typedef void io_close_fn(void *arg, int fd);

/*
 * Wraps a connected non-blocking socket, taken over: io_free() closes it
 * with close_fn(close_arg, fd).  NULL when memory runs out (the fd is then
 * still the caller's).
 */
struct io *io_new(struct event_base *base, int fd, io_close_fn *close_fn,
                  void *close_arg, io_callback *cb, void *arg);
/* Closes the socket (and TLS session) and frees everything. */
void io_free(struct io *io);

/* Bytes received and not yet consumed; the owner consumes what it uses. */
struct iobuf *io_input(struct io *io);
/* Queues a copy of bytes to send; returns 0, or -1 when memory runs out. */
int io_write(struct io *io, const void *bytes, size_t len);
/*
 * Queues bytes to send without copying them (the shared message body).  They
 * are sent after whatever io_write() queued before; they must stay valid
 * until IO_DRAINED, and nothing more may be queued until then.
 */
void io_write_ref(struct io *io, const char *bytes, size_t len);
/* Frees the input buffer if it holds nothing (16 KB an idle connection
 * need not keep; the next read allocates it again). */
void io_trim(struct io *io);
/* Bytes queued and not yet written. */
size_t io_pending(const struct io *io);

/*
 * Sets the deadline: IO_TIMEOUT `ms` from now.  When `on_progress` is true
 * every write that moves bytes restarts it (RFC 5321's data block timeout);
 * otherwise it is a hard deadline for the whole wait.  0 ms: none.
 */
void io_set_timeout(struct io *io, unsigned ms, bool on_progress);

/*
 * Starts a TLS handshake on the connection with a session made by the
 * owner (taken over).  Ends in IO_TLS_READY or IO_ERROR.  Input already
 * buffered must have been checked by the owner first (injection).
 */
void io_start_tls(struct io *io, struct tls *tls);
/* The TLS session, NULL while in clear. */
struct tls *io_tls(const struct io *io);

/* Why the last IO_ERROR happened, one line. */
const char *io_error(const struct io *io);

#endif
