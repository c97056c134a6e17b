/*
 * message: turns the caller's raw message into the exact DATA body every
 * delivery sends (RFC 5321 4.1.1.4, 4.5.2): CRLF line endings, leading dots
 * doubled, a final CRLF, then ".\r\n".  It is done once per message, in two
 * linear passes (measure, then fill one exact allocation), because messages
 * run to many megabytes and are shared by every delivery.
 *
 * A lone CR counts as a line break and becomes CRLF: passing a bare CR on
 * would let a message smuggle a second SMTP transaction past servers that
 * read lines differently ("SMTP smuggling").
 *
 * A line longer than RFC 5321 4.5.3.1.6 allows (998 octets before the CRLF,
 * the dot added by stuffing not counted) is folded as Postfix does with its
 * default smtp_line_length_limit: CRLF and a space are inserted after every
 * 998 octets.  The space keeps a MIME header a continuation of its field; a
 * receiver that refuses or truncates long lines would damage the message
 * worse.
 */
#include "message.h"

#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the measuring pass found. */
struct measure {
	size_t content; /* bytes that are not line endings (fold spaces too) */
	size_t breaks;  /* line endings in the output, the added final one and
	                   the folds' too */
	size_t dots;    /* dots added by stuffing */
	size_t folds;   /* CRLF SP inserted into over-long lines */
	bool eightbit;  /* some byte >= 0x80 */
};

/* Writes a reason into err when the caller gave room for one. */
static void
set_error(char *err, size_t errlen, const char *what, size_t offset,
          bool with_offset)
{
	if (err == NULL || errlen == 0)
		return;
	if (with_offset)
		snprintf(err, errlen, "%s at offset %zu", what, offset);
	else
		snprintf(err, errlen, "%s", what);
}

/* Counts what the normalised form of in[0, len) holds. */
static void
measure(const unsigned char *in, size_t len, struct measure *m)
{
	bool line_start = true;
	size_t i, column = 0;

	memset(m, 0, sizeof(*m));
	for (i = 0; i < len; i++) {
		unsigned char c = in[i];

		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			m->breaks++;
			line_start = true;
			column = 0;
			continue;
		}
		if (column == MESSAGE_LINE_MAX) {
			m->folds++;
			m->breaks++;
			m->content++; /* the space */
			column = 1;
		}
		column++;
		if (line_start && c == '.')
			m->dots++;
		if (c >= 0x80)
			m->eightbit = true;
		m->content++;
		line_start = false;
	}
	if (!line_start)
		m->breaks++;
}

/* Writes the normalised form of in[0, len) to out; returns bytes written. */
static size_t
fill(const unsigned char *in, size_t len, char *out)
{
	bool line_start = true;
	size_t i, pos = 0, column = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = in[i];

		if (c == '\r' || c == '\n') {
			if (c == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			out[pos++] = '\r';
			out[pos++] = '\n';
			line_start = true;
			column = 0;
			continue;
		}
		if (column == MESSAGE_LINE_MAX) {
			memcpy(out + pos, "\r\n ", 3);
			pos += 3;
			column = 1;
		}
		column++;
		if (line_start && c == '.')
			out[pos++] = '.';
		out[pos++] = (char)c;
		line_start = false;
	}
	if (!line_start) {
		out[pos++] = '\r';
		out[pos++] = '\n';
	}
	memcpy(out + pos, ".\r\n", 3);
	return pos + 3;
}

/*
 * Writes the BDAT chunk of a wire form to out (room for wire_len - 3
 * bytes): the final ".\r\n" dropped and the dot that stuffing added at
 * the start of a line taken out again.  Returns bytes written.
 */
static size_t
unstuff(const char *wire, size_t wire_len, char *out)
{
	size_t i, pos = 0, end = wire_len - 3;

	for (i = 0; i < end; i++) {
		if (wire[i] == '.' && (i == 0 || wire[i - 1] == '\n'))
			i++; /* stuffing doubled it: a dot always follows */
		out[pos++] = wire[i];
	}
	return pos;
}

/* Normalises `in` into the wire form, its RFC 1870 size and 8-bit flag. */
int
message_normalise(const char *in, size_t len, struct mxc_message *out,
                  char *err, size_t errlen)
{
	const unsigned char *bytes = (const unsigned char *)in;
	const unsigned char *nul;
	struct measure m;
	size_t wire_len, written;
	char *wire;

	if (len > 0 && in == NULL) {
		set_error(err, errlen, "message data is missing", 0, false);
		return -1;
	}
	nul = len > 0 ? memchr(bytes, '\0', len) : NULL;
	if (nul != NULL) {
		set_error(err, errlen, "message has a NUL byte",
		          (size_t)(nul - bytes), true);
		return -1;
	}
	/* Each input byte yields at most two output bytes (a fold adds three
	 * per 998), plus the final CRLF and ".\r\n": refuse sizes where that
	 * sum could overflow. */
	if (len > (SIZE_MAX - 5) / 3) {
		set_error(err, errlen, "message is too large", 0, false);
		return -1;
	}
	measure(bytes, len, &m);
	wire_len = m.content + 2 * m.breaks + m.dots + 3;
	wire = malloc(wire_len);
	if (wire == NULL) {
		set_error(err, errlen, "out of memory for the message", 0,
		          false);
		return -1;
	}
	written = fill(bytes, len, wire);
	assert(written == wire_len);
	(void)written;
	out->wire = wire;
	out->wire_len = wire_len;
	out->size = (uint64_t)m.content + 2 * (uint64_t)m.breaks;
	/* BDAT sends the lines without stuffing: the same bytes unless a
	 * line starts with a dot, and then one more copy, made once. */
	out->unstuffed = NULL;
	out->chunk = wire;
	if (m.dots > 0) {
		out->unstuffed = malloc(wire_len - 3);
		if (out->unstuffed == NULL) {
			free(wire);
			out->wire = NULL;
			set_error(err, errlen, "out of memory for the message", 0,
			          false);
			return -1;
		}
		written = unstuff(wire, wire_len, out->unstuffed);
		assert(written == out->size);
		out->chunk = out->unstuffed;
	}
	out->eightbit = m.eightbit;
	out->folds = m.folds;
	return 0;
}

/* Builds a shared message from raw bytes; the caller holds one reference. */
struct mxc_message *
mxc_message_new(const void *data, size_t len, char *err, size_t errlen)
{
	struct mxc_message *message;

	message = calloc(1, sizeof(*message));
	if (message == NULL) {
		set_error(err, errlen, "out of memory for the message", 0,
		          false);
		return NULL;
	}
	if (message_normalise(data, len, message, err, errlen) == -1) {
		free(message);
		return NULL;
	}
	message->refs = 1;
	return message;
}

/* Adds a reference to a message. */
struct mxc_message *
mxc_message_ref(struct mxc_message *message)
{
	if (message == NULL)
		return NULL;
	assert(message->refs > 0 && message->refs < UINT_MAX);
	message->refs++;
	return message;
}

/* Drops a reference; the last one frees the body and the message. */
void
mxc_message_unref(struct mxc_message *message)
{
	if (message == NULL)
		return;
	assert(message->refs > 0);
	if (--message->refs > 0)
		return;
	message_clear(message);
	free(message);
}

/* Frees the forms message_normalise() made. */
void
message_clear(struct mxc_message *m)
{
	free(m->wire);
	free(m->unstuffed);
	m->wire = NULL;
	m->unstuffed = NULL;
	m->chunk = NULL;
}

/* How many times over-long lines were folded (0 for NULL). */
size_t
mxc_message_folds(const struct mxc_message *message)
{
	return message == NULL ? 0 : message->folds;
}

/* The RFC 1870 size of a message (0 for NULL). */
uint64_t
mxc_message_size(const struct mxc_message *message)
{
	return message == NULL ? 0 : message->size;
}
