/*
 * escape: makes bytes a remote party controls safe for a terminal, a log,
 * or a JSON document.
 */
#ifndef MXC_ESCAPE_H
#define MXC_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Copies `len` bytes of `in` to `out` (size outlen, always NUL-terminated
 * when outlen > 0): printable ASCII 0x20..0x7e passes except '\', which
 * becomes "\\"; every other byte becomes "\xHH".  A result that does not fit
 * is cut at a whole escape and ends with "...".  Returns strlen(out).
 */
size_t escape_text(const char *in, size_t len, char *out, size_t outlen);

/*
 * Writes `s` to `f` as a JSON string literal, quotes included: '"' and '\'
 * are backslash-escaped, C0 controls and DEL become \u00XX, other bytes
 * pass unchanged.  The result is valid JSON when `s` is valid UTF-8 (the
 * output of escape_text() always is).
 */
void escape_json(FILE *f, const char *s);

#endif
