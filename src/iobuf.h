/*
 * iobuf: a growable byte buffer with bounded line reads.  Pure: no I/O, so
 * the parsers above it can be tested and fuzzed on plain bytes.
 */
#ifndef MXC_IOBUF_H
#define MXC_IOBUF_H

#include <stddef.h>

struct iobuf {
	char *data;   /* the allocation, NULL until the first append */
	size_t cap;   /* bytes allocated */
	size_t start; /* offset of the first unread byte */
	size_t end;   /* offset one past the last written byte */
};

/* Result of iobuf_getline(). */
enum iobuf_line {
	IOBUF_LINE,      /* a whole line was taken */
	IOBUF_NEED_MORE, /* no line feed yet, and fewer than max bytes buffered */
	IOBUF_TOO_LONG   /* no line feed within the first max+2 bytes */
};

/* Makes an empty buffer (no allocation). */
void iobuf_init(struct iobuf *buf);
/* Frees the allocation and leaves the buffer empty and reusable. */
void iobuf_free(struct iobuf *buf);
/* Bytes buffered and not yet consumed. */
size_t iobuf_len(const struct iobuf *buf);
/* The first unread byte (valid until the next append, reserve or free). */
const char *iobuf_data(const struct iobuf *buf);
/* Appends bytes; returns 0, or -1 when memory runs out (buffer unchanged). */
int iobuf_append(struct iobuf *buf, const void *bytes, size_t len);
/* Appends formatted text (no NUL); returns 0 or -1 as iobuf_append(). */
int iobuf_printf(struct iobuf *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Returns room for at least `want` bytes at the end (for read(2) to fill);
 * *got receives the room available.  NULL when memory runs out.
 */
char *iobuf_reserve(struct iobuf *buf, size_t want, size_t *got);
/* Marks `len` reserved bytes as written. */
void iobuf_commit(struct iobuf *buf, size_t len);
/* Drops `len` bytes from the front (at most iobuf_len()). */
void iobuf_consume(struct iobuf *buf, size_t len);
/*
 * Takes one line from the front.  A line ends at LF; a CR just before the LF
 * is not part of it.  On IOBUF_LINE, *line and *len give the line without its
 * ending (valid until the next append, reserve or free) and the line and its
 * ending are consumed.  A line longer than `max` bytes (ending excluded)
 * gives IOBUF_TOO_LONG and consumes nothing.
 */
enum iobuf_line iobuf_getline(struct iobuf *buf, size_t max,
                              const char **line, size_t *len);

#endif
