/*
 * message: the shared, read-only, reference-counted message.  Normalised
 * once (CRLF endings, dot-stuffing, terminating ".") so that every delivery
 * sends the very same buffer.
 */
#ifndef MXC_MESSAGE_H
#define MXC_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxclient.h"

/* Longest line sent, CRLF excluded (RFC 5321 4.5.3.1.6): longer ones are
 * folded. */
#define MESSAGE_LINE_MAX 998

struct mxc_message {
	unsigned refs;   /* references held; the last unref frees */
	char *wire;      /* the DATA body as sent: CRLF lines, leading dots
	                    doubled, ending with ".\r\n" after a CRLF */
	size_t wire_len; /* bytes in wire */
	uint64_t size;   /* RFC 1870 size: CRLF lines, no stuffing, no "." */
	/* The message as one BDAT chunk (RFC 3030): CRLF lines, no stuffing,
	 * no final ".", exactly `size` bytes.  Without a line starting with
	 * "." it is the front of `wire` (no memory of its own); otherwise it
	 * is `unstuffed`, made once here and shared like `wire`. */
	const char *chunk;
	char *unstuffed; /* owned: the chunk when it differs from wire */
	bool eightbit;   /* some byte has the high bit set (for BODY=8BITMIME) */
	size_t folds;    /* CRLF SP inserted to keep lines within
	                    MESSAGE_LINE_MAX */
};

/*
 * Normalises `in` into `out` (a zeroed struct; refs is left to the caller):
 * every LF, CRLF or lone CR becomes CRLF, a line longer than
 * MESSAGE_LINE_MAX is folded with CRLF SP, a line starting with "." gets one
 * more, a missing final line ending is added, then ".\r\n"; `chunk` is set.
 * Returns 0, or -1
 * with a reason in err (a NUL byte, with its offset; out of memory).
 */
int message_normalise(const char *in, size_t len, struct mxc_message *out,
                      char *err, size_t errlen);
/* Frees what message_normalise() allocated (not the struct itself). */
void message_clear(struct mxc_message *m);

#endif
