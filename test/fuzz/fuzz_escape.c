/*
 * fuzz_escape: the escaping of remote text (src/escape.c), into a log line
 * and into the CLI's JSON output.
 * Input: two bytes giving the output buffer size (0..1023), then the text.
 * Properties of escape_text(): the result is printable ASCII, NUL-terminated
 * within the buffer, its length is the return value; when everything fits
 * it un-escapes to the input, else it is a whole-escape prefix of the full
 * escape followed by "..." (when there is room for that).
 * Properties of escape_json(): on escape_text()'s output, and on any input
 * without NUL that is valid UTF-8, the literal is valid JSON (RFC 8259:
 * quoted, no control character, valid escapes, valid UTF-8) and decodes
 * back to its input.
 */
#include <string.h>

#include "escape.h"
#include "fuzz.h"

/* Un-escapes escape_text() output; returns the length or -1 if malformed. */
static long
unescape(const char *s, size_t len, uint8_t *out)
{
	size_t i = 0, n = 0;

	while (i < len) {
		if (s[i] != '\\') {
			out[n++] = (uint8_t)s[i++];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\\') {
			out[n++] = '\\';
			i += 2;
			continue;
		}
		if (i + 3 >= len || s[i + 1] != 'x')
			return -1;
		unsigned v = 0;
		for (size_t k = 2; k < 4; k++) {
			char c = s[i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return -1;
		}
		out[n++] = (uint8_t)v;
		i += 4;
	}
	return (long)n;
}

/* Length of a valid UTF-8 sequence at s (RFC 3629), 0 if invalid. */
static size_t
utf8_len(const uint8_t *s, size_t left)
{
	uint8_t c = s[0];
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else
		return 0;
	if (left < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return n;
}

/* True when s[0, len) is valid UTF-8. */
static bool
valid_utf8(const uint8_t *s, size_t len)
{
	for (size_t i = 0, n; i < len; i += n)
		if ((n = utf8_len(s + i, len - i)) == 0)
			return false;
	return true;
}

/*
 * Validates a JSON string literal and decodes it into out (only \u00XX
 * escapes are expected from escape_json, others are still valid JSON).
 * Returns the decoded length, or -1 when it is not valid JSON.
 */
static long
json_decode(const char *j, size_t len, uint8_t *out)
{
	size_t i = 1, n = 0;

	if (len < 2 || j[0] != '"' || j[len - 1] != '"')
		return -1;
	if (!valid_utf8((const uint8_t *)j, len))
		return -1;
	while (i < len - 1) {
		unsigned char c = (unsigned char)j[i];

		if (c < 0x20 || c == '"')
			return -1;
		if (c != '\\') {
			out[n++] = c;
			i++;
			continue;
		}
		if (i + 1 >= len - 1)
			return -1;
		switch (j[i + 1]) {
		case '"': case '\\': case '/':
			out[n++] = (uint8_t)j[i + 1];
			i += 2;
			continue;
		case 'u': {
			unsigned v = 0;

			if (i + 5 > len - 2)
				return -1;
			for (size_t k = 2; k < 6; k++) {
				char h = j[i + k];

				v <<= 4;
				if (h >= '0' && h <= '9')
					v |= (unsigned)(h - '0');
				else if (h >= 'a' && h <= 'f')
					v |= (unsigned)(h - 'a' + 10);
				else if (h >= 'A' && h <= 'F')
					v |= (unsigned)(h - 'A' + 10);
				else
					return -1;
			}
			if (v >= 0x80)
				return -2; /* valid JSON, not what escape_json makes */
			out[n++] = (uint8_t)v;
			i += 6;
			continue;
		}
		default:
			return -1;
		}
	}
	return (long)n;
}

/* Writes s through escape_json and checks the literal decodes to s. */
static void
check_json(const char *s, size_t len)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	uint8_t *dec;
	long n;

	FUZZ_ASSERT(f != NULL, "open_memstream");
	escape_json(f, s);
	FUZZ_ASSERT(fclose(f) == 0, "fclose");
	dec = malloc(blen + 1);
	FUZZ_ASSERT(dec != NULL, "out of memory");
	n = json_decode(buf, blen, dec);
	FUZZ_ASSERT(n >= 0, "not valid JSON: %s", buf);
	FUZZ_ASSERT((size_t)n == len && memcmp(dec, s, len) == 0,
	            "JSON decodes to something else: %s", buf);
	free(dec);
	free(buf);
}

/* One text, one buffer size. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen, len, ret, full_len;
	const char *text;
	char *out, *full;
	uint8_t *back;
	long n;

	if (size < 2)
		return 0;
	outlen = ((size_t)data[0] << 8 | data[1]) % 1024;
	text = (const char *)data + 2;
	len = size - 2;
	out = malloc(outlen > 0 ? outlen : 1);
	full = malloc(4 * len + 1);
	back = malloc(len + 1);
	FUZZ_ASSERT(out != NULL && full != NULL && back != NULL, "memory");

	full_len = escape_text(text, len, full, 4 * len + 1);
	FUZZ_ASSERT(full_len == strlen(full), "return %zu", full_len);
	FUZZ_ASSERT(fuzz_printable(full, full_len), "not printable: %s", full);
	n = unescape(full, full_len, back);
	FUZZ_ASSERT(n == (long)len && memcmp(back, text, len) == 0,
	            "does not un-escape to the input");
	check_json(full, full_len);

	ret = escape_text(text, len, out, outlen);
	if (outlen == 0) {
		FUZZ_ASSERT(ret == 0, "wrote %zu into nothing", ret);
	} else {
		FUZZ_ASSERT(ret < outlen && strlen(out) == ret,
		            "%zu bytes in a buffer of %zu", ret, outlen);
		FUZZ_ASSERT(fuzz_printable(out, ret), "not printable: %s", out);
		if (full_len < outlen) {
			FUZZ_ASSERT(ret == full_len &&
			            memcmp(out, full, ret) == 0,
			            "fits but differs: %s", out);
		} else {
			size_t keep = ret >= 3 ? ret - 3 : 0;

			FUZZ_ASSERT(memcmp(out, full, keep) == 0,
			            "cut text is not a prefix: %s", out);
			FUZZ_ASSERT(outlen - 1 < 3 ||
			            (ret >= 3 && memcmp(out + keep, "...", 3) == 0),
			            "cut text does not end with ...: %s", out);
			/* Cut at a whole escape: the kept part un-escapes. */
			FUZZ_ASSERT(unescape(out, keep, back) >= 0,
			            "escape cut in the middle: %s", out);
		}
		check_json(out, ret);
	}
	/* Raw text in JSON: valid whenever the text is UTF-8 without NUL. */
	if (memchr(text, '\0', len) == NULL &&
	    valid_utf8((const uint8_t *)text, len)) {
		char *raw = malloc(len + 1);

		FUZZ_ASSERT(raw != NULL, "memory");
		memcpy(raw, text, len);
		raw[len] = '\0';
		check_json(raw, len);
		free(raw);
	}
	free(out);
	free(full);
	free(back);
	return 0;
}
