/*
 * escape: makes bytes a remote party controls (SMTP replies, DNS names,
 * addresses a caller passed) safe to print on a terminal or write to a log.
 * Everything outside printable ASCII becomes \xHH, so no escape sequence or
 * line break from the peer ever reaches the reader.
 */
#include "escape.h"

#include <stdbool.h>
#include <string.h>

static const char hexdigits[] = "0123456789abcdef";

/* Number of output characters byte `c` needs once escaped. */
static size_t
escaped_width(unsigned char c)
{
	if (c == '\\')
		return 2;
	if (c >= 0x20 && c <= 0x7e)
		return 1;
	return 4;
}

/* Writes the escaped form of `c` at `out` (room checked by the caller). */
static size_t
put_escaped(unsigned char c, char *out)
{
	if (c == '\\') {
		out[0] = '\\';
		out[1] = '\\';
		return 2;
	}
	if (c >= 0x20 && c <= 0x7e) {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hexdigits[c >> 4];
	out[3] = hexdigits[c & 0x0f];
	return 4;
}

/* Escapes `in` into `out`, cutting at a whole escape with "..." if needed. */
size_t
escape_text(const char *in, size_t len, char *out, size_t outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t room, total = 0, pos = 0, i;
	bool fits = true;

	if (outlen == 0)
		return 0;
	room = outlen - 1;
	for (i = 0; i < len; i++) {
		total += escaped_width(p[i]);
		if (total > room) {
			fits = false;
			break;
		}
	}
	if (fits) {
		for (i = 0; i < len; i++)
			pos += put_escaped(p[i], out + pos);
		out[pos] = '\0';
		return pos;
	}

	/* Too long: keep whole escapes while "..." still fits after them. */
	for (i = 0; i < len; i++) {
		size_t w = escaped_width(p[i]);

		if (room < 3 || pos + w > room - 3)
			break;
		pos += put_escaped(p[i], out + pos);
	}
	for (i = 0; i < 3 && pos < room; i++)
		out[pos++] = '.';
	out[pos] = '\0';
	return pos;
}

/*
 * Writes a JSON string literal (input is UTF-8 or escaped ASCII).  Runs of
 * characters that need no escape go out in one write: a result line is
 * written for every delivery, and a call per character was a tenth of
 * the CPU of a delivery on a reused connection.
 */
void
escape_json(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;

	fputc('"', f);
	for (; *p != '\0'; p++) {
		char esc[6] = { '\\', (char)*p, 0, 0, 0, 0 };
		size_t n = 2;

		if (*p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\')
			continue;
		if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hexdigits[*p >> 4];
			esc[5] = hexdigits[*p & 15];
			n = 6;
		}
		fwrite(run, 1, (size_t)(p - run), f);
		fwrite(esc, 1, n, f);
		run = p + 1;
	}
	fwrite(run, 1, (size_t)(p - run), f);
	fputc('"', f);
}
