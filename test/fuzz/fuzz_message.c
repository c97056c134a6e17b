/*
 * fuzz_message: the message normaliser (src/message.c).
 * Properties: a NUL byte is refused with its offset; otherwise the wire form
 * ends with ".\r\n", has only CRLF line endings, holds no CRLF.CRLF before
 * that terminator (no early end of DATA), no line longer than
 * MESSAGE_LINE_MAX octets (not counting a dot doubled for transparency,
 * RFC 5321 4.5.3.1.6), and un-stuffing it (dropping the terminator and one
 * leading dot per line) gives back the input with every LF, CRLF or lone
 * CR made CRLF, lines longer than MESSAGE_LINE_MAX folded with CRLF SP
 * every MESSAGE_LINE_MAX octets, and a final CRLF added; size, folds and
 * the 8-bit flag agree with that.
 */
#include <string.h>

#include "fuzz.h"
#include "message.h"

/*
 * Normalises line endings and folds long lines: the reference for what
 * un-stuffing gives.  *folds receives the folds made.
 */
static size_t
reference(const uint8_t *in, size_t len, char *out, size_t *folds)
{
	size_t pos = 0, column = 0;
	bool line_start = true;

	*folds = 0;
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
				i++;
			out[pos++] = '\r';
			out[pos++] = '\n';
			line_start = true;
			column = 0;
			continue;
		}
		if (column == MESSAGE_LINE_MAX) {
			/* The fold's space starts the next line. */
			memcpy(out + pos, "\r\n ", 3);
			pos += 3;
			column = 1;
			(*folds)++;
		}
		out[pos++] = (char)in[i];
		column++;
		line_start = false;
	}
	if (!line_start) {
		out[pos++] = '\r';
		out[pos++] = '\n';
	}
	return pos;
}

/* Removes the dot-stuffing of a body: one leading '.' per line. */
static size_t
unstuff(const char *body, size_t len, char *out)
{
	size_t pos = 0;
	bool line_start = true;

	for (size_t i = 0; i < len; i++) {
		if (line_start && body[i] == '.') {
			line_start = false;
			continue;
		}
		out[pos++] = body[i];
		line_start = body[i] == '\n';
	}
	return pos;
}

/* One message. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mxc_message msg;
	char err[128];
	const uint8_t *nul = memchr(data, '\0', size);
	char *ref, *plain;
	size_t ref_len, body_len, plain_len, folds;
	bool eightbit = false;

	memset(&msg, 0, sizeof(msg));
	err[0] = '\0';
	if (message_normalise((const char *)data, size, &msg, err,
	                      sizeof(err)) != 0) {
		char want[64];

		FUZZ_ASSERT(nul != NULL, "refused without a NUL: %s", err);
		snprintf(want, sizeof(want), "at offset %zu",
		         (size_t)(nul - data));
		FUZZ_ASSERT(strstr(err, want) != NULL, "reason \"%s\"", err);
		return 0;
	}
	FUZZ_ASSERT(nul == NULL, "a NUL byte was accepted");
	FUZZ_ASSERT(msg.wire_len >= 3 &&
	            memcmp(msg.wire + msg.wire_len - 3, ".\r\n", 3) == 0,
	            "no terminator");
	body_len = msg.wire_len - 3;
	FUZZ_ASSERT(body_len == 0 || (body_len >= 2 &&
	            memcmp(msg.wire + body_len - 2, "\r\n", 2) == 0),
	            "body does not end with CRLF");
	for (size_t i = 0, start = 0; i < body_len; i++) {
		if (msg.wire[i] == '\n') {
			size_t octets = i - 1 - start;

			if (octets > 0 && msg.wire[start] == '.')
				octets--; /* the doubled dot does not count */
			FUZZ_ASSERT(octets <= MESSAGE_LINE_MAX,
			            "line of %zu octets at %zu", octets, start);
			start = i + 1;
		}
		if (msg.wire[i] == '\r')
			FUZZ_ASSERT(i + 1 < body_len && msg.wire[i + 1] == '\n',
			            "bare CR at %zu", i);
		if (msg.wire[i] == '\n')
			FUZZ_ASSERT(i > 0 && msg.wire[i - 1] == '\r',
			            "bare LF at %zu", i);
		/* A line that is a lone "." ends DATA early. */
		if ((i == 0 || msg.wire[i - 1] == '\n') && msg.wire[i] == '.')
			FUZZ_ASSERT(i + 1 < body_len && msg.wire[i + 1] == '.',
			            "unstuffed dot at %zu", i);
	}
	/* Every input byte gives at most 2 bytes, each fold 3 more. */
	ref = malloc(2 * size + 3 * (size / MESSAGE_LINE_MAX) + 3);
	plain = malloc(body_len + 1);
	FUZZ_ASSERT(ref != NULL && plain != NULL, "out of memory");
	ref_len = reference(data, size, ref, &folds);
	plain_len = unstuff(msg.wire, body_len, plain);
	FUZZ_ASSERT(plain_len == ref_len && memcmp(plain, ref, ref_len) == 0,
	            "un-stuffing gives %zu bytes, expected %zu", plain_len,
	            ref_len);
	FUZZ_ASSERT(msg.size == ref_len, "size %llu, expected %zu",
	            (unsigned long long)msg.size, ref_len);
	FUZZ_ASSERT(msg.chunk != NULL && memcmp(msg.chunk, plain, plain_len) == 0,
	            "the BDAT chunk is not the un-stuffed wire form");
	FUZZ_ASSERT(msg.folds == folds, "%zu folds, expected %zu", msg.folds,
	            folds);
	for (size_t i = 0; i < size; i++)
		eightbit |= data[i] >= 0x80;
	FUZZ_ASSERT(msg.eightbit == eightbit, "8-bit flag %d", msg.eightbit);
	free(ref);
	free(plain);
	message_clear(&msg);
	return 0;
}
