/*
 * test_iobuf: line splitting on a table of inputs and limits (CRLF, bare
 * LF, stray CR, empty lines, NUL bytes, lines at and past the limit), the
 * same inputs fed a byte at a time, a 1 MB line, reserve/commit/consume
 * against a reference model, and printf.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iobuf.h"

#include "check.h"

#define S(s) s, sizeof(s) - 1
#define MAX_LINES 4

/*
 * One getline case: the buffer holds `in`; getline(max) is called until it
 * stops giving lines; the lines taken, the final result and the bytes left
 * must match.
 */
struct line_case {
	const char *in;
	size_t len;
	size_t max;
	const char *lines[MAX_LINES]; /* expected lines, NULL-terminated */
	size_t lens[MAX_LINES];       /* their lengths (for NUL bytes) */
	enum iobuf_line last;         /* IOBUF_NEED_MORE or IOBUF_TOO_LONG */
	size_t left;                  /* bytes left buffered */
};

static const struct line_case line_cases[] = {
	{ S("abc\r\n"), 10, { "abc" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("abc\n"), 10, { "abc" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("\r\n"), 10, { "" }, { 0 }, IOBUF_NEED_MORE, 0 },
	{ S("\n\n"), 10, { "", "" }, { 0, 0 }, IOBUF_NEED_MORE, 0 },
	{ S("a\r\r\n"), 10, { "a\r" }, { 2 }, IOBUF_NEED_MORE, 0 },
	{ S("a\rb\n"), 10, { "a\rb" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("\r\r\n"), 1, { "\r" }, { 1 }, IOBUF_NEED_MORE, 0 },
	{ S("a\0b\n"), 10, { "a\0b" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("250-a\r\n250 b\r\n"), 10, { "250-a", "250 b" }, { 5, 5 },
	  IOBUF_NEED_MORE, 0 },
	{ S("250-a\r\n250 b"), 10, { "250-a" }, { 5 }, IOBUF_NEED_MORE, 5 },
	{ S(""), 10, { NULL }, { 0 }, IOBUF_NEED_MORE, 0 },
	{ S("abc"), 10, { NULL }, { 0 }, IOBUF_NEED_MORE, 3 },
	{ S("abc\r"), 10, { NULL }, { 0 }, IOBUF_NEED_MORE, 4 },
	/* at the limit */
	{ S("abc\r\n"), 3, { "abc" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("abc\n"), 3, { "abc" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("abc"), 3, { NULL }, { 0 }, IOBUF_NEED_MORE, 3 },
	{ S("abc\r"), 3, { NULL }, { 0 }, IOBUF_NEED_MORE, 4 },
	{ S("abcd"), 3, { NULL }, { 0 }, IOBUF_NEED_MORE, 4 },
	/* past the limit: nothing is consumed */
	{ S("abcd\n"), 3, { NULL }, { 0 }, IOBUF_TOO_LONG, 5 },
	{ S("abcd\r\n"), 3, { NULL }, { 0 }, IOBUF_TOO_LONG, 6 },
	{ S("abcde"), 3, { NULL }, { 0 }, IOBUF_TOO_LONG, 5 },
	{ S("abc\rx"), 3, { NULL }, { 0 }, IOBUF_TOO_LONG, 5 },
	{ S("abc\r\r\n"), 3, { NULL }, { 0 }, IOBUF_TOO_LONG, 6 },
	{ S("ok\nabcdef\n"), 3, { "ok" }, { 2 }, IOBUF_TOO_LONG, 7 },
	/* max 0: only empty lines */
	{ S("\r\n\n"), 0, { "", "" }, { 0, 0 }, IOBUF_NEED_MORE, 0 },
	{ S("a"), 0, { NULL }, { 0 }, IOBUF_NEED_MORE, 1 },
	{ S("a\n"), 0, { NULL }, { 0 }, IOBUF_TOO_LONG, 2 },
	{ S("ab"), 0, { NULL }, { 0 }, IOBUF_TOO_LONG, 2 },
	/* a huge max must not overflow max + 2 */
	{ S("abc\r\n"), SIZE_MAX, { "abc" }, { 3 }, IOBUF_NEED_MORE, 0 },
	{ S("abc"), SIZE_MAX - 1, { NULL }, { 0 }, IOBUF_NEED_MORE, 3 },
};

/* Takes lines until none is left, checking them against case c. */
static void
drain(struct iobuf *buf, const struct line_case *c, size_t ci,
      const char *how)
{
	enum iobuf_line r;
	const char *line;
	size_t len, n = 0;

	while ((r = iobuf_getline(buf, c->max, &line, &len)) == IOBUF_LINE) {
		if (n >= MAX_LINES || c->lines[n] == NULL) {
			CHECK(0, "case %zu (%s): unexpected line %zu", ci, how,
			      n);
			return;
		}
		CHECK(len == c->lens[n] && memcmp(line, c->lines[n], len) == 0,
		      "case %zu (%s): line %zu differs (len %zu)", ci, how, n,
		      len);
		n++;
	}
	CHECK(n == MAX_LINES || c->lines[n] == NULL,
	      "case %zu (%s): only %zu lines", ci, how, n);
	CHECK(r == c->last, "case %zu (%s): result %d, want %d", ci, how,
	      (int)r, (int)c->last);
	CHECK(iobuf_len(buf) == c->left, "case %zu (%s): %zu left, want %zu",
	      ci, how, iobuf_len(buf), c->left);
}

/* Runs the line table with the input appended at once. */
static void
test_line_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		struct iobuf buf;

		iobuf_init(&buf);
		CHECK(iobuf_append(&buf, c->in, c->len) == 0, "append");
		drain(&buf, c, i, "whole");
		iobuf_free(&buf);
	}
}

/* Feeds each NEED_MORE case a byte at a time: the same lines come out. */
static void
test_line_table_bytewise(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
		const struct line_case *c = &line_cases[i];
		struct iobuf buf;
		const char *line;
		size_t len, n = 0;
		enum iobuf_line r = IOBUF_NEED_MORE;

		if (c->last != IOBUF_NEED_MORE)
			continue;
		iobuf_init(&buf);
		for (k = 0; k < c->len; k++) {
			CHECK(iobuf_append(&buf, c->in + k, 1) == 0, "append");
			while ((r = iobuf_getline(&buf, c->max, &line,
			                          &len)) == IOBUF_LINE) {
				CHECK(n < MAX_LINES && c->lines[n] != NULL &&
				      len == c->lens[n] &&
				      memcmp(line, c->lines[n], len) == 0,
				      "case %zu bytewise: line %zu", i, n);
				n++;
			}
			CHECK(r == IOBUF_NEED_MORE,
			      "case %zu bytewise: result %d at byte %zu", i,
			      (int)r, k);
		}
		CHECK(n == MAX_LINES || c->lines[n] == NULL,
		      "case %zu bytewise: only %zu lines", i, n);
		CHECK(iobuf_len(&buf) == c->left, "case %zu bytewise: left %zu",
		      i, iobuf_len(&buf));
		iobuf_free(&buf);
	}
}

/* A 1 MB line is refused at a small limit and taken at a large one. */
static void
test_megabyte_line(void)
{
	const size_t mb = 1024 * 1024;
	struct iobuf buf;
	char chunk[4096];
	const char *line;
	size_t len, i;

	memset(chunk, 'x', sizeof(chunk));
	iobuf_init(&buf);
	for (i = 0; i < mb / sizeof(chunk); i++)
		CHECK(iobuf_append(&buf, chunk, sizeof(chunk)) == 0, "append");
	CHECK(iobuf_getline(&buf, 2048, &line, &len) == IOBUF_TOO_LONG,
	      "1 MB without LF at max 2048 must be TOO_LONG");
	CHECK(iobuf_getline(&buf, mb, &line, &len) == IOBUF_NEED_MORE,
	      "1 MB without LF at max 1 MB must be NEED_MORE");
	CHECK(iobuf_append(&buf, "\r\nnext", 6) == 0, "append");
	CHECK(iobuf_getline(&buf, mb - 1, &line, &len) == IOBUF_TOO_LONG,
	      "1 MB line at max 1 MB - 1 must be TOO_LONG");
	CHECK(iobuf_len(&buf) == mb + 6, "TOO_LONG must consume nothing");
	CHECK(iobuf_getline(&buf, mb, &line, &len) == IOBUF_LINE &&
	      len == mb && line[0] == 'x' && line[mb - 1] == 'x',
	      "1 MB line at max 1 MB must be taken whole");
	CHECK(iobuf_len(&buf) == 4 && memcmp(iobuf_data(&buf), "next", 4) == 0,
	      "bytes after the line must stay");
	iobuf_free(&buf);
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

/* Random appends, reserves and consumes agree with a flat reference copy. */
static void
test_model(void)
{
	uint32_t state = 12345;
	size_t ref_cap = 8 * 1024 * 1024, ref_start = 0, ref_end = 0;
	unsigned char *ref = malloc(ref_cap);
	unsigned char chunk[5000];
	struct iobuf buf;
	int step;

	if (ref == NULL) {
		CHECK(0, "out of memory");
		return;
	}
	iobuf_init(&buf);
	for (step = 0; step < 20000 && !failures; step++) {
		uint32_t op = next_random(&state) % 3;
		size_t n = next_random(&state) % sizeof(chunk), i, got;

		for (i = 0; i < n; i++)
			chunk[i] = (unsigned char)next_random(&state);
		if (ref_start > ref_cap / 2) {
			memmove(ref, ref + ref_start, ref_end - ref_start);
			ref_end -= ref_start;
			ref_start = 0;
		}
		if (op == 0 && ref_end + n <= ref_cap) {
			CHECK(iobuf_append(&buf, chunk, n) == 0, "append");
			memcpy(ref + ref_end, chunk, n);
			ref_end += n;
		} else if (op == 1 && ref_end + n <= ref_cap) {
			char *room = iobuf_reserve(&buf, n, &got);
			size_t use;

			CHECK(room != NULL && got >= n && got >= 1,
			      "reserve %zu gave %zu", n, got);
			if (room == NULL)
				break;
			use = n == 0 ? 0 : next_random(&state) % (n + 1);
			memcpy(room, chunk, use);
			iobuf_commit(&buf, use);
			memcpy(ref + ref_end, chunk, use);
			ref_end += use;
		} else {
			size_t have = ref_end - ref_start;

			n = have == 0 ? 0 : next_random(&state) % (have + 1);
			iobuf_consume(&buf, n);
			ref_start += n;
		}
		CHECK(iobuf_len(&buf) == ref_end - ref_start,
		      "step %d: length %zu, want %zu", step, iobuf_len(&buf),
		      ref_end - ref_start);
		CHECK(memcmp(iobuf_data(&buf), ref + ref_start,
		             ref_end - ref_start) == 0,
		      "step %d: contents differ", step);
		CHECK(buf.start <= buf.end && buf.end <= buf.cap,
		      "step %d: offsets out of order", step);
	}
	iobuf_free(&buf);
	free(ref);
}

/* Init, empty state, consume to empty, free and reuse. */
static void
test_basics(void)
{
	struct iobuf buf;
	const char *line;
	size_t len, got;
	char *room;

	iobuf_init(&buf);
	CHECK(iobuf_len(&buf) == 0 && buf.data == NULL,
	      "a new buffer is empty and unallocated");
	CHECK(iobuf_data(&buf) != NULL, "iobuf_data never returns NULL");
	CHECK(iobuf_getline(&buf, 10, &line, &len) == IOBUF_NEED_MORE,
	      "an empty buffer needs more");
	CHECK(iobuf_append(&buf, "", 0) == 0 && iobuf_len(&buf) == 0,
	      "appending nothing");
	iobuf_consume(&buf, 0);
	room = iobuf_reserve(&buf, 0, &got);
	CHECK(room != NULL && got >= 1, "reserve 0 still gives room");
	iobuf_commit(&buf, 0);
	CHECK(iobuf_append(&buf, "hello", 5) == 0 && iobuf_len(&buf) == 5 &&
	      memcmp(iobuf_data(&buf), "hello", 5) == 0, "append hello");
	iobuf_consume(&buf, 5);
	CHECK(iobuf_len(&buf) == 0, "consumed to empty");
	iobuf_free(&buf);
	CHECK(buf.data == NULL && iobuf_len(&buf) == 0, "free empties");
	CHECK(iobuf_append(&buf, "again\n", 6) == 0 &&
	      iobuf_getline(&buf, 10, &line, &len) == IOBUF_LINE &&
	      len == 5 && memcmp(line, "again", 5) == 0, "reuse after free");
	iobuf_free(&buf);
	iobuf_free(&buf);
}

/* Formatted appends, including an empty result and a long one. */
static void
test_printf(void)
{
	static const char mail[] = "MAIL FROM:<a@b>\r\n";
	const size_t ml = sizeof(mail) - 1;
	struct iobuf buf;
	const char *p;
	size_t i;

	iobuf_init(&buf);
	CHECK(iobuf_printf(&buf, "MAIL FROM:<%s>%s", "a@b", "\r\n") == 0,
	      "printf");
	CHECK(iobuf_len(&buf) == ml && memcmp(iobuf_data(&buf), mail, ml) == 0,
	      "printf text");
	CHECK(iobuf_printf(&buf, "%s", "") == 0 && iobuf_len(&buf) == ml,
	      "empty printf adds nothing");
	CHECK(iobuf_printf(&buf, "%d|%zu", -7, (size_t)42) == 0 &&
	      iobuf_len(&buf) == ml + 5 &&
	      memcmp(iobuf_data(&buf) + ml, "-7|42", 5) == 0,
	      "printf numbers, no NUL kept");
	CHECK(iobuf_printf(&buf, "%*s", 10000, "end") == 0 &&
	      iobuf_len(&buf) == ml + 5 + 10000, "long printf");
	p = iobuf_data(&buf) + ml + 5;
	for (i = 0; i < 9997 && iobuf_len(&buf) == ml + 10005; i++)
		if (p[i] != ' ')
			break;
	CHECK(i == 9997 && memcmp(p + 9997, "end", 3) == 0,
	      "long printf text");
	iobuf_free(&buf);
}

/* Runs every test; exits non-zero on any failure. */
int
main(void)
{
	test_basics();
	test_line_table();
	test_line_table_bytewise();
	test_megabyte_line();
	test_printf();
	test_model();
	if (failures > 0) {
		fprintf(stderr, "test_iobuf: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_iobuf: %zu line cases, model and 1 MB line: ok\n",
	       sizeof(line_cases) / sizeof(line_cases[0]));
	return 0;
}
