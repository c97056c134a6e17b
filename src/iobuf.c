/*
 * iobuf: a growable byte buffer with bounded line reads.  The io layer reads
 * into it and writes out of it; the SMTP code takes reply lines from it.  No
 * I/O happens here, so every path can be tested on plain bytes.
 *
 * Unread bytes live in data[start, end).  Space freed at the front is
 * reclaimed by moving the unread bytes down only when the tail runs out of
 * room, so consuming is O(1) and appending is amortised O(1).
 */
#include "iobuf.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Smallest allocation; a typical SMTP reply or command fits. */
#define IOBUF_MIN_CAP 1024

/* Makes an empty buffer without allocating. */
void
iobuf_init(struct iobuf *buf)
{
	buf->data = NULL;
	buf->cap = 0;
	buf->start = 0;
	buf->end = 0;
}

/* Releases the allocation; the buffer stays usable. */
void
iobuf_free(struct iobuf *buf)
{
	free(buf->data);
	iobuf_init(buf);
}

/* Counts the bytes not yet consumed. */
size_t
iobuf_len(const struct iobuf *buf)
{
	return buf->end - buf->start;
}

/* Points at the first unread byte (a static "" while nothing is allocated). */
const char *
iobuf_data(const struct iobuf *buf)
{
	static const char empty[1];

	if (buf->data == NULL)
		return empty;
	return buf->data + buf->start;
}

/* Makes at least `want` bytes free after `end`; -1 when memory runs out. */
static int
make_room(struct iobuf *buf, size_t want)
{
	size_t len = buf->end - buf->start;
	size_t need, cap;
	char *data;

	if (buf->cap - buf->end >= want && buf->data != NULL)
		return 0;
	if (want > SIZE_MAX - len)
		return -1;
	need = len + want;
	if (buf->data != NULL && need <= buf->cap) {
		/* Room exists at the front: slide the unread bytes down. */
		memmove(buf->data, buf->data + buf->start, len);
		buf->start = 0;
		buf->end = len;
		return 0;
	}
	cap = buf->cap < IOBUF_MIN_CAP ? IOBUF_MIN_CAP : buf->cap;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	data = malloc(cap);
	if (data == NULL)
		return -1;
	if (len > 0)
		memcpy(data, buf->data + buf->start, len);
	free(buf->data);
	buf->data = data;
	buf->cap = cap;
	buf->start = 0;
	buf->end = len;
	return 0;
}

/* Appends `len` bytes; the buffer is unchanged when memory runs out. */
int
iobuf_append(struct iobuf *buf, const void *bytes, size_t len)
{
	if (len == 0)
		return 0;
	if (make_room(buf, len) == -1)
		return -1;
	memcpy(buf->data + buf->end, bytes, len);
	buf->end += len;
	return 0;
}

/* Appends printf-formatted text without its terminating NUL. */
int
iobuf_printf(struct iobuf *buf, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t want;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n == 0)
		return 0;
	/* vsnprintf writes a NUL: reserve it, then leave it uncommitted. */
	want = (size_t)n + 1;
	if (make_room(buf, want) == -1)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(buf->data + buf->end, want, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 1 != want)
		return -1;
	buf->end += (size_t)n;
	return 0;
}

/* Gives writable room for at least `want` bytes at the end. */
char *
iobuf_reserve(struct iobuf *buf, size_t want, size_t *got)
{
	if (make_room(buf, want == 0 ? 1 : want) == -1) {
		*got = 0;
		return NULL;
	}
	*got = buf->cap - buf->end;
	return buf->data + buf->end;
}

/* Marks `len` bytes of reserved room as written. */
void
iobuf_commit(struct iobuf *buf, size_t len)
{
	assert(len <= buf->cap - buf->end);
	buf->end += len;
}

/* Drops `len` unread bytes from the front. */
void
iobuf_consume(struct iobuf *buf, size_t len)
{
	assert(len <= buf->end - buf->start);
	buf->start += len;
	if (buf->start == buf->end) {
		buf->start = 0;
		buf->end = 0;
	}
}

/* Takes one LF-terminated line of at most `max` bytes from the front. */
enum iobuf_line
iobuf_getline(struct iobuf *buf, size_t max, const char **line, size_t *len)
{
	size_t avail = iobuf_len(buf);
	size_t limit, scan, linelen;
	const char *p, *lf;

	/* A line of max bytes plus CRLF spans max + 2 bytes: look no further. */
	limit = max > SIZE_MAX - 2 ? SIZE_MAX : max + 2;
	scan = avail < limit ? avail : limit;
	p = iobuf_data(buf);
	lf = scan > 0 ? memchr(p, '\n', scan) : NULL;
	if (lf == NULL)
		return avail >= limit ? IOBUF_TOO_LONG : IOBUF_NEED_MORE;
	linelen = (size_t)(lf - p);
	if (linelen > 0 && p[linelen - 1] == '\r')
		linelen--;
	if (linelen > max)
		return IOBUF_TOO_LONG;
	*line = p;
	*len = linelen;
	iobuf_consume(buf, (size_t)(lf - p) + 1);
	return IOBUF_LINE;
}
