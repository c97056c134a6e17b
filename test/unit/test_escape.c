/*
 * test_escape: escape_text() on a table of inputs and output sizes, then on
 * every byte value and on random inputs cut at random sizes, checking that
 * nothing but printable ASCII ever comes out and that cuts fall between
 * whole escapes; and escape_json() on a table of exact literals.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

#include "check.h"

/* One table case: input bytes, output size and the expected result. */
struct escape_case {
	const char *in;
	size_t len;
	size_t outlen;
	const char *want;
};

#define S(s) s, sizeof(s) - 1

static const struct escape_case cases[] = {
	{ S("hello"), 64, "hello" },
	{ S(""), 64, "" },
	{ S(" ~!\"#"), 64, " ~!\"#" },
	{ S("a\\b"), 64, "a\\\\b" },
	{ S("\x1b[31mred"), 64, "\\x1b[31mred" },
	{ S("\r\n"), 64, "\\x0d\\x0a" },
	{ S("\t"), 64, "\\x09" },
	{ S("\x7f\x80\xff"), 64, "\\x7f\\x80\\xff" },
	{ S("a\0b"), 64, "a\\x00b" },
	{ S("caf\xc3\xa9"), 64, "caf\\xc3\\xa9" },
	/* exact fits */
	{ S("abcd"), 5, "abcd" },
	{ S("\x01"), 5, "\\x01" },
	{ S("\\"), 3, "\\\\" },
	/* cuts: whole escapes, then "..." */
	{ S("abcde"), 5, "a..." },
	{ S("abcdef"), 6, "ab..." },
	{ S("a\x01"), 5, "a..." },
	{ S("\x01\x02"), 8, "\\x01..." },
	{ S("\x01\x02"), 7, "..." },
	{ S("\\\\\\"), 6, "\\\\..." },
	{ S("\\\\\\"), 5, "..." },
	{ S("ab\\cd"), 6, "ab..." },
	/* too small for the whole "..." */
	{ S("abcd"), 4, "..." },
	{ S("abc"), 3, ".." },
	{ S("abc"), 2, "." },
	{ S("abc"), 1, "" },
	{ S("\x01"), 4, "..." },
	{ S(""), 1, "" },
};

/* True when every byte of s is printable ASCII. */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Runs the table. */
static void
test_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct escape_case *c = &cases[i];
		char out[128];
		size_t n;

		memset(out, 'Z', sizeof(out));
		n = escape_text(c->in, c->len, out, c->outlen);
		CHECK(strcmp(out, c->want) == 0,
		      "case %zu: got \"%s\", want \"%s\"", i, out, c->want);
		CHECK(n == strlen(out), "case %zu: returned %zu, strlen %zu",
		      i, n, strlen(out));
		CHECK(out[c->outlen] == 'Z',
		      "case %zu: wrote past outlen %zu", i, c->outlen);
	}
}

/* Edge arguments: outlen 0 writes nothing, NULL input with len 0. */
static void
test_edges(void)
{
	char out[8] = "keep";

	CHECK(escape_text("abc", 3, out, 0) == 0, "outlen 0 must return 0");
	CHECK(strcmp(out, "keep") == 0, "outlen 0 must not write");
	CHECK(escape_text(NULL, 0, out, sizeof(out)) == 0 && out[0] == '\0',
	      "NULL input of length 0 must give \"\"");
}

/* Every single byte escapes to the documented form. */
static void
test_every_byte(void)
{
	unsigned b;

	for (b = 0; b < 256; b++) {
		char in = (char)b, out[8], want[8];

		if (b == '\\')
			snprintf(want, sizeof(want), "\\\\");
		else if (b >= 0x20 && b <= 0x7e)
			snprintf(want, sizeof(want), "%c", (int)b);
		else
			snprintf(want, sizeof(want), "\\x%02x", b);
		escape_text(&in, 1, out, sizeof(out));
		CHECK(strcmp(out, want) == 0, "byte 0x%02x: got \"%s\"", b,
		      out);
	}
}

/* Small deterministic generator so failures reproduce. */
static uint32_t
next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

/* Random inputs and sizes: output printable, a cut is a prefix + "...". */
static void
test_random(void)
{
	uint32_t state = 0x9e3779b9;
	char in[200], full[1024], out[1024];
	int round;

	for (round = 0; round < 20000; round++) {
		size_t len = next_random(&state) % sizeof(in);
		size_t outlen = next_random(&state) % 300;
		size_t i, n, fulln;

		for (i = 0; i < len; i++)
			in[i] = (char)(next_random(&state) & 0xff);
		fulln = escape_text(in, len, full, sizeof(full));
		n = escape_text(in, len, out, outlen);
		if (outlen == 0) {
			CHECK(n == 0, "round %d: outlen 0 gave %zu", round, n);
			continue;
		}
		CHECK(n < outlen && n == strlen(out),
		      "round %d: length %zu for outlen %zu", round, n, outlen);
		CHECK(printable(out), "round %d: unprintable output", round);
		if (fulln < outlen) {
			CHECK(strcmp(out, full) == 0,
			      "round %d: fitting output differs", round);
			continue;
		}
		if (outlen < 4) {
			CHECK(n == outlen - 1 && strspn(out, ".") == n,
			      "round %d: tiny cut \"%s\"", round, out);
			continue;
		}
		CHECK(n >= 3 && strcmp(out + n - 3, "...") == 0,
		      "round %d: cut output lacks \"...\": %s", round, out);
		CHECK(n >= 3 && strncmp(out, full, n - 3) == 0,
		      "round %d: cut output is not a prefix", round);
		/* The cut falls on an escape boundary: re-escaping the same
		 * number of input bytes gives exactly the kept prefix. */
		if (n >= 3) {
			size_t kept = n - 3, used = 0, k = 0;
			char one[8];

			while (used < kept)
				used += escape_text(in + k++, 1, one,
				                    sizeof(one));
			CHECK(used == kept, "round %d: cut inside an escape",
			      round);
			CHECK(kept + 3 + (k < len ? escape_text(in + k, 1,
			      one, sizeof(one)) : 0) > outlen - 1,
			      "round %d: cut earlier than needed", round);
		}
	}
}

/* escape_json(): the exact literal of each input. */
static void
test_json(void)
{
	static const struct { const char *in, *want; } rows[] = {
		{ "", "\"\"" },
		{ "plain text", "\"plain text\"" },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"" },
		{ "\x01x\x1f\x7f", "\"\\u0001x\\u001f\\u007f\"" },
		{ "caf\xc3\xa9 \xff", "\"caf\xc3\xa9 \xff\"" },
		{ "\"\"", "\"\\\"\\\"\"" },
		{ "end\n", "\"end\\u000a\"" },
	};

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		CHECK(f != NULL, "open_memstream");
		if (f == NULL)
			return;
		escape_json(f, rows[i].in);
		fclose(f);
		CHECK(strcmp(buf, rows[i].want) == 0, "row %zu: got %s, want %s",
		    i, buf, rows[i].want);
		free(buf);
	}
}

/* Runs every test; exits non-zero on any failure. */
int
main(void)
{
	test_table();
	test_edges();
	test_every_byte();
	test_random();
	test_json();
	if (failures > 0) {
		fprintf(stderr, "test_escape: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_escape: %zu table cases, 256 bytes, 20000 random: ok\n",
	       sizeof(cases) / sizeof(cases[0]));
	return 0;
}
