/*
 * test_message: normalisation on a table of messages (LF, CRLF, lone CR and
 * mixed endings, leading dots, a lone "." line, the empty message, 8-bit
 * bytes, smuggling attempts), NUL bytes with their offsets, multi-megabyte
 * inputs, random inputs checked by decoding the wire form back, and the
 * public constructor with its reference counting.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "mxclient.h"

#include "check.h"

#define S(s) s, sizeof(s) - 1

/* One case: input, the exact wire form, the RFC 1870 size, 8-bit flag. */
struct message_case {
	const char *in;
	size_t len;
	const char *wire;
	size_t wire_len;
	uint64_t size;
	bool eightbit;
};

static const struct message_case cases[] = {
	{ S(""), S(".\r\n"), 0, false },
	{ S("a"), S("a\r\n.\r\n"), 3, false },
	{ S("a\n"), S("a\r\n.\r\n"), 3, false },
	{ S("a\r\n"), S("a\r\n.\r\n"), 3, false },
	{ S("a\r"), S("a\r\n.\r\n"), 3, false },
	{ S("\n"), S("\r\n.\r\n"), 2, false },
	{ S("\r"), S("\r\n.\r\n"), 2, false },
	{ S("\r\n"), S("\r\n.\r\n"), 2, false },
	{ S("\n\n"), S("\r\n\r\n.\r\n"), 4, false },
	{ S("\r\r"), S("\r\n\r\n.\r\n"), 4, false },
	{ S("\n\r"), S("\r\n\r\n.\r\n"), 4, false },
	{ S("\r\n\r\n"), S("\r\n\r\n.\r\n"), 4, false },
	{ S("\r\r\n"), S("\r\n\r\n.\r\n"), 4, false },
	{ S("a\rb"), S("a\r\nb\r\n.\r\n"), 6, false },
	{ S("a\r\rb"), S("a\r\n\r\nb\r\n.\r\n"), 8, false },
	{ S("a\n\rb"), S("a\r\n\r\nb\r\n.\r\n"), 8, false },
	{ S("a\r\nb\nc\rd"), S("a\r\nb\r\nc\r\nd\r\n.\r\n"), 12, false },
	{ S("Subject: x\n\nbody\n"), S("Subject: x\r\n\r\nbody\r\n.\r\n"),
	  20, false },
	/* dot-stuffing: the size never counts the added dots */
	{ S("."), S("..\r\n.\r\n"), 3, false },
	{ S(".\n"), S("..\r\n.\r\n"), 3, false },
	{ S(".\r\n"), S("..\r\n.\r\n"), 3, false },
	{ S(".\r"), S("..\r\n.\r\n"), 3, false },
	{ S(".."), S("...\r\n.\r\n"), 4, false },
	{ S("..\n"), S("...\r\n.\r\n"), 4, false },
	{ S(".x\n"), S("..x\r\n.\r\n"), 4, false },
	{ S("a.b\n"), S("a.b\r\n.\r\n"), 5, false },
	{ S(" .x\n"), S(" .x\r\n.\r\n"), 5, false },
	{ S("a\n.b\n"), S("a\r\n..b\r\n.\r\n"), 7, false },
	{ S("a\n.\nb\n"), S("a\r\n..\r\nb\r\n.\r\n"), 9, false },
	{ S("a\r.b"), S("a\r\n..b\r\n.\r\n"), 7, false },
	{ S("\n.\n"), S("\r\n..\r\n.\r\n"), 5, false },
	{ S(".\n.\n"), S("..\r\n..\r\n.\r\n"), 6, false },
	{ S("a\n\r\n.\r\n"), S("a\r\n\r\n..\r\n.\r\n"), 8, false },
	/* smuggling attempts: the peer sees one message, no early end */
	{ S("a\n.\r\nMAIL FROM:<x>\r\n"),
	  S("a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n"), 21, false },
	{ S("a\r\n.\rMAIL"), S("a\r\n..\r\nMAIL\r\n.\r\n"), 12, false },
	{ S("a\r\n.\nMAIL"), S("a\r\n..\r\nMAIL\r\n.\r\n"), 12, false },
	{ S("a\r.\r"), S("a\r\n..\r\n.\r\n"), 6, false },
	{ S("a\n\r.\r\n"), S("a\r\n\r\n..\r\n.\r\n"), 8, false },
	/* 8-bit */
	{ S("caf\xc3\xa9\n"), S("caf\xc3\xa9\r\n.\r\n"), 7, true },
	{ S("\xff"), S("\xff\r\n.\r\n"), 3, true },
	{ S("\x80"), S("\x80\r\n.\r\n"), 3, true },
	{ S("\x7f\x01\t"), S("\x7f\x01\t\r\n.\r\n"), 5, false },
	{ S(".\xe9"), S("..\xe9\r\n.\r\n"), 4, true },
};

/* Checks properties every wire form has, whatever the input. */
static void
check_wire_shape(const struct mxc_message *m, const char *what)
{
	size_t i, dots = 0;
	bool line_start = true;

	CHECK(m->wire_len >= 3 &&
	      memcmp(m->wire + m->wire_len - 3, ".\r\n", 3) == 0,
	      "%s: wire does not end with \".\\r\\n\"", what);
	CHECK(m->wire_len == 3 || (m->wire_len >= 5 &&
	      memcmp(m->wire + m->wire_len - 5, "\r\n", 2) == 0),
	      "%s: the final dot does not follow a CRLF", what);
	for (i = 0; i + 3 < m->wire_len; i++) {
		char c = m->wire[i];

		if (c == '\r')
			CHECK(m->wire[i + 1] == '\n', "%s: bare CR at %zu",
			      what, i);
		if (c == '\n')
			CHECK(i > 0 && m->wire[i - 1] == '\r',
			      "%s: bare LF at %zu", what, i);
		if (line_start && c == '.') {
			CHECK(m->wire[i + 1] == '.', "%s: unstuffed dot at %zu",
			      what, i);
			dots++;
			i++;
		}
		line_start = c == '\n';
	}
	/* No line over 998 octets, a doubled dot counted once. */
	for (i = 0; i < m->wire_len;) {
		const char *crlf = memchr(m->wire + i, '\n', m->wire_len - i);
		size_t end = crlf != NULL ? (size_t)(crlf - m->wire) - 1
		                          : m->wire_len;
		size_t n = end - i - (m->wire[i] == '.' && end > i + 1 &&
		                      m->wire[i + 1] == '.');
		CHECK(n <= MESSAGE_LINE_MAX, "%s: line of %zu octets at %zu",
		      what, n, i);
		i = end + 2;
	}
	CHECK(m->size + dots + 3 == m->wire_len,
	      "%s: size %llu + dots %zu + 3 != wire_len %zu", what,
	      (unsigned long long)m->size, dots, m->wire_len);
}

/*
 * The BDAT chunk is the wire form un-stuffed: every "\r\n.." back to
 * "\r\n.", a leading ".." to ".", the final ".\r\n" gone, `size` bytes.
 * Done here by searching for the stuffed pairs, unlike the module.
 */
static void
check_chunk(const struct mxc_message *m, const char *what)
{
	size_t body = m->wire_len - 3, k = 0, from = 0;
	char *want = malloc(body + 1);

	if (want == NULL)
		return;
	if (body >= 2 && memcmp(m->wire, "..", 2) == 0)
		from = 1; /* the first line's stuffing */
	while (from < body) {
		const char *hit = NULL;
		for (size_t i = from; i + 4 <= body && hit == NULL; i++)
			if (memcmp(m->wire + i, "\r\n..", 4) == 0)
				hit = m->wire + i;
		size_t upto = hit != NULL ? (size_t)(hit - m->wire) + 3 : body;
		memcpy(want + k, m->wire + from, upto - from);
		k += upto - from;
		from = hit != NULL ? upto + 1 : body;
	}
	CHECK(m->chunk != NULL && k == m->size &&
	      memcmp(m->chunk, want, k) == 0,
	      "%s: the BDAT chunk is not the un-stuffed wire form", what);
	CHECK((m->unstuffed != NULL) == (k < body),
	      "%s: a chunk of its own exactly when stuffed", what);
	free(want);
}

/* Runs the table. */
static void
test_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct message_case *c = &cases[i];
		struct mxc_message m;
		char err[128] = "", what[32];
		int rc;

		memset(&m, 0, sizeof(m));
		rc = message_normalise(c->in, c->len, &m, err, sizeof(err));
		CHECK(rc == 0, "case %zu: failed: %s", i, err);
		if (rc != 0)
			continue;
		CHECK(m.wire_len == c->wire_len &&
		      memcmp(m.wire, c->wire, c->wire_len) == 0,
		      "case %zu: wrong wire form (len %zu, want %zu)", i,
		      m.wire_len, c->wire_len);
		CHECK(m.size == c->size, "case %zu: size %llu, want %llu", i,
		      (unsigned long long)m.size,
		      (unsigned long long)c->size);
		CHECK(m.eightbit == c->eightbit, "case %zu: eightbit %d", i,
		      m.eightbit);
		CHECK(m.refs == 0, "case %zu: message_normalise set refs", i);
		snprintf(what, sizeof(what), "case %zu", i);
		check_wire_shape(&m, what);
		check_chunk(&m, what);
		message_clear(&m);
	}
}

/* One NUL case: input and the offset the reason must name. */
struct nul_case {
	const char *in;
	size_t len;
	size_t offset;
};

static const struct nul_case nul_cases[] = {
	{ S("\0"), 0 },
	{ S("a\0b"), 1 },
	{ S("abc\r\n\0"), 5 },
	{ S("\xff\xfe\0\0"), 2 },
	{ S(".\0"), 1 },
};

/* NUL bytes are refused with their offset; nothing is allocated. */
static void
test_nul(void)
{
	static char big[3 * 1024 * 1024];
	size_t i;
	char err[128], want[128];
	struct mxc_message m;

	for (i = 0; i < sizeof(nul_cases) / sizeof(nul_cases[0]); i++) {
		const struct nul_case *c = &nul_cases[i];

		memset(&m, 0, sizeof(m));
		err[0] = '\0';
		CHECK(message_normalise(c->in, c->len, &m, err,
		                        sizeof(err)) == -1,
		      "nul case %zu: accepted", i);
		snprintf(want, sizeof(want),
		         "message has a NUL byte at offset %zu", c->offset);
		CHECK(strcmp(err, want) == 0, "nul case %zu: reason \"%s\"", i,
		      err);
		CHECK(m.wire == NULL, "nul case %zu: wire set", i);
	}

	/* deep inside a large message */
	memset(big, 'x', sizeof(big));
	for (i = 80; i < sizeof(big); i += 80)
		big[i] = '\n';
	big[1234] = '\0';
	CHECK(message_normalise(big, sizeof(big), &m, err, sizeof(err)) == -1 &&
	      strcmp(err, "message has a NUL byte at offset 1234") == 0,
	      "NUL at 1234: \"%s\"", err);
	big[1234] = 'x';
	big[sizeof(big) - 1] = '\0';
	snprintf(want, sizeof(want), "message has a NUL byte at offset %zu",
	         sizeof(big) - 1);
	CHECK(message_normalise(big, sizeof(big), &m, err, sizeof(err)) == -1 &&
	      strcmp(err, want) == 0, "NUL at the last byte: \"%s\"", err);

	/* small and absent error buffers */
	CHECK(message_normalise("a\0", 2, &m, err, 8) == -1 &&
	      strlen(err) == 7, "a short err buffer is cut, NUL-terminated");
	CHECK(message_normalise("a\0", 2, &m, NULL, 0) == -1,
	      "no err buffer");
	CHECK(message_normalise(NULL, 5, &m, err, sizeof(err)) == -1,
	      "NULL data with a length");
}

/* Large inputs: a 1 MB line, 4 MB of empty lines, 2 MB of dot lines. */
static void
test_large(void)
{
	const size_t mb = 1024 * 1024;
	char *in = malloc(4 * mb);
	struct mxc_message m;
	char err[128];
	size_t i;

	if (in == NULL) {
		CHECK(0, "out of memory");
		return;
	}
	memset(in, 'x', mb);
	memset(&m, 0, sizeof(m));
	/* 998 octets, then a fold (CRLF SP) before every further 997. */
	size_t folds = (mb - 998 + 996) / 997;
	CHECK(message_normalise(in, mb, &m, err, sizeof(err)) == 0 &&
	      m.folds == folds && m.wire_len == mb + 3 * folds + 5 &&
	      m.size == mb + 3 * folds + 2 &&
	      memcmp(m.wire + m.wire_len - 5, "\r\n.\r\n", 5) == 0,
	      "1 MB line without an ending: %zu folds", m.folds);
	check_wire_shape(&m, "1 MB line");
	message_clear(&m);

	memset(in, '\n', 4 * mb);
	memset(&m, 0, sizeof(m));
	CHECK(message_normalise(in, 4 * mb, &m, err, sizeof(err)) == 0 &&
	      m.wire_len == 8 * mb + 3 && m.size == 8 * mb,
	      "4 MB of LF");
	check_wire_shape(&m, "4 MB of LF");
	message_clear(&m);

	for (i = 0; i + 1 < 2 * mb; i += 2) {
		in[i] = '.';
		in[i + 1] = '\r';
	}
	memset(&m, 0, sizeof(m));
	CHECK(message_normalise(in, 2 * mb, &m, err, sizeof(err)) == 0 &&
	      m.size == 3 * mb && m.wire_len == 4 * mb + 3,
	      "2 MB of \".\\r\" lines: size %llu wire %zu",
	      (unsigned long long)m.size, m.wire_len);
	check_wire_shape(&m, "dot lines");
	message_clear(&m);
	free(in);
}

/* Lines over 998 octets are folded with CRLF SP, as Postfix does. */
static void
test_fold(void)
{
	static const struct {
		size_t len;      /* line length, no ending */
		char first;      /* its first byte */
		size_t folds;
	} folds[] = {
		{ 997, 'x', 0 }, { 998, 'x', 0 }, { 998, '.', 0 },
		{ 999, 'x', 1 }, { 999, '.', 1 }, { 1995, 'x', 1 },
		{ 1996, 'x', 2 }, { 5000, 'x', 5 },
	};
	char in[5002], err[128];

	for (size_t i = 0; i < sizeof(folds) / sizeof(folds[0]); i++) {
		struct mxc_message m;
		size_t len = folds[i].len;

		memset(in, 'x', len);
		in[0] = folds[i].first;
		in[len] = '\n';
		memset(&m, 0, sizeof(m));
		CHECK(message_normalise(in, len + 1, &m, err, sizeof(err)) == 0,
		      "fold %zu: %s", i, err);
		CHECK(m.folds == folds[i].folds, "fold %zu: %zu folds, want %zu",
		      i, m.folds, folds[i].folds);
		check_wire_shape(&m, "fold");
		check_chunk(&m, "fold");
		/* Taking out every CRLF SP gives back the line. */
		char *p = m.wire + (folds[i].first == '.');
		size_t k = 0;
		bool same = true;
		while (p < m.wire + m.wire_len - 5) {
			if (p[0] == '\r' && p[1] == '\n' && p[2] == ' ') {
				p += 3;
				continue;
			}
			same = same && k < len && *p == in[k];
			k++;
			p++;
		}
		CHECK(same && k == len, "fold %zu: unfolds to another line", i);
		message_clear(&m);
	}
	/* The fold is exact: 999 octets become 998, CRLF, SP and the last. */
	struct mxc_message m;
	memset(in, 'y', 999);
	memset(&m, 0, sizeof(m));
	CHECK(message_normalise(in, 999, &m, err, sizeof(err)) == 0 &&
	      m.wire_len == 998 + 3 + 1 + 5 &&
	      memcmp(m.wire + 998, "\r\n y\r\n.\r\n", 9) == 0 &&
	      m.size == 999 + 3 + 2, "999 octets: one exact fold");
	message_clear(&m);
	/* The public count. */
	struct mxc_message *pm = mxc_message_new(in, 999, err, sizeof(err));
	CHECK(pm != NULL && mxc_message_folds(pm) == 1, "mxc_message_folds");
	mxc_message_unref(pm);
	CHECK(mxc_message_folds(NULL) == 0, "mxc_message_folds(NULL)");
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

/*
 * The input with every CRLF, then every lone CR, turned into LF and a final
 * LF added: what the wire form must decode to.  Written with plain string
 * passes, unlike the module, so the two do not share mistakes.
 */
static size_t
reference_lines(const char *in, size_t len, char *out)
{
	char *tmp = malloc(len + 1);
	size_t i, n = 0, k = 0;

	if (tmp == NULL)
		return 0;
	for (i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue; /* drop the CR of CRLF */
		tmp[n++] = in[i];
	}
	for (i = 0; i < n; i++)
		out[k++] = tmp[i] == '\r' ? '\n' : tmp[i];
	if (k > 0 && out[k - 1] != '\n')
		out[k++] = '\n';
	free(tmp);
	return k;
}

/* Decodes a wire form: drops ".\r\n", un-stuffs dots, CRLF becomes LF. */
static size_t
decode_wire(const struct mxc_message *m, char *out)
{
	size_t i, k = 0, end = m->wire_len - 3;
	bool line_start = true;

	for (i = 0; i < end; i++) {
		if (line_start && m->wire[i] == '.')
			i++;
		if (m->wire[i] == '\r' && i + 1 < end && m->wire[i + 1] == '\n')
			continue;
		out[k++] = m->wire[i];
		line_start = m->wire[i] == '\n';
	}
	return k;
}

/* Counts the LF bytes in s[0, len): each is a CRLF on the wire. */
static size_t
count_lf(const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/* Random messages over a hostile alphabet decode back to their lines. */
static void
test_random(void)
{
	static const char alphabet[] = { 'a', '.', '\r', '\n', ' ', '\xe9' };
	uint32_t state = 2463534242u;
	char in[64], want[160], got[160], err[128];
	int round;

	for (round = 0; round < 50000; round++) {
		size_t len = next_random(&state) % sizeof(in), i, wn, gn;
		struct mxc_message m;
		bool eight = false;

		for (i = 0; i < len; i++) {
			in[i] = alphabet[next_random(&state) % sizeof(alphabet)];
			eight |= in[i] == '\xe9';
		}
		memset(&m, 0, sizeof(m));
		if (message_normalise(in, len, &m, err, sizeof(err)) != 0) {
			CHECK(0, "round %d: failed: %s", round, err);
			continue;
		}
		check_wire_shape(&m, "random");
		check_chunk(&m, "random");
		wn = reference_lines(in, len, want);
		gn = decode_wire(&m, got);
		CHECK(wn == gn && memcmp(want, got, wn) == 0,
		      "round %d: wire does not decode to the input's lines",
		      round);
		CHECK(m.size == wn + count_lf(want, wn),
		      "round %d: size %llu", round, (unsigned long long)m.size);
		CHECK(m.eightbit == eight, "round %d: eightbit", round);
		message_clear(&m);
	}
}

/* mxc_message_new, ref, unref and size. */
static void
test_public(void)
{
	struct mxc_message *m, *r;
	char err[128];

	m = mxc_message_new("Subject: hi\n\n.\n", 15, err, sizeof(err));
	CHECK(m != NULL, "mxc_message_new: %s", err);
	if (m == NULL)
		return;
	CHECK(m->refs == 1, "a new message holds one reference");
	CHECK(mxc_message_size(m) == 18, "size %llu",
	      (unsigned long long)mxc_message_size(m));
	CHECK(m->wire_len == 22 &&
	      memcmp(m->wire, "Subject: hi\r\n\r\n..\r\n.\r\n", 22) == 0,
	      "wire form");
	r = mxc_message_ref(m);
	CHECK(r == m && m->refs == 2, "ref");
	mxc_message_unref(m);
	CHECK(m->refs == 1, "unref");
	mxc_message_unref(m); /* frees: ASan reports a leak or double free */

	m = mxc_message_new(NULL, 0, err, sizeof(err));
	CHECK(m != NULL && m->wire_len == 3 && mxc_message_size(m) == 0,
	      "an empty message");
	mxc_message_unref(m);

	err[0] = '\0';
	m = mxc_message_new("To: a\n\0", 7, err, sizeof(err));
	CHECK(m == NULL &&
	      strcmp(err, "message has a NUL byte at offset 6") == 0,
	      "NUL refused by mxc_message_new: \"%s\"", err);
	mxc_message_unref(NULL);
	CHECK(mxc_message_ref(NULL) == NULL, "ref(NULL)");
	CHECK(mxc_message_size(NULL) == 0, "size(NULL)");
}

/* Runs every test; exits non-zero on any failure. */
int
main(void)
{
	test_table();
	test_nul();
	test_large();
	test_fold();
	test_random();
	test_public();
	if (failures > 0) {
		fprintf(stderr, "test_message: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_message: %zu cases, %zu NUL cases, large and 50000 "
	       "random: ok\n", sizeof(cases) / sizeof(cases[0]),
	       sizeof(nul_cases) / sizeof(nul_cases[0]));
	return 0;
}
