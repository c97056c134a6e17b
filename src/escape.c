/*
 * escape: makes bytes a remote party controls (SMTP replies, DNS names,
 * addresses a caller passed) safe to print on a terminal or write to a log.
 * Everything outside printable ASCII becomes \xHH, so no escape sequence or
 * line break from the peer ever reaches the reader.
 */
#include "escape.h"

#include <stdbool.h>

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

/* Writes a JSON string literal (input is UTF-8 or escaped ASCII). */
void
escape_json(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}
