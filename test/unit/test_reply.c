/*
 * test_reply: the reply parser on a table of single- and multi-line replies
 * (good ones, malformed codes, separators, enhanced codes, codes differing
 * between lines, NUL bytes), the bounds (line length, line count, text
 * size), and the EHLO keyword reader on a table of capability lists.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "reply.h"

#include "check.h"

#define MAX_LINES 5

/*
 * One parser case: every line but the last must give REPLY_MORE; the last
 * gives `step`.  For DONE the code, enhanced code and text are checked; for
 * BAD the reply must be as it was before the bad line.
 */
struct reply_case {
	const char *lines[MAX_LINES]; /* NULL-terminated */
	size_t len0;                  /* length of lines[0] when it has a NUL */
	enum reply_step step;
	int code;
	const char *enhanced;
	const char *text;
};

static const struct reply_case cases[] = {
	/* good single lines */
	{ { "250 OK" }, 0, REPLY_DONE, 250, "", "250 OK" },
	{ { "250" }, 0, REPLY_DONE, 250, "", "250" },
	{ { "250 " }, 0, REPLY_DONE, 250, "", "250 " },
	{ { "200 x" }, 0, REPLY_DONE, 200, "", "200 x" },
	{ { "599 x" }, 0, REPLY_DONE, 599, "", "599 x" },
	{ { "354 End data with <CR><LF>.<CR><LF>" }, 0, REPLY_DONE, 354, "",
	  "354 End data with <CR><LF>.<CR><LF>" },
	{ { "220 mx.example ESMTP\r" }, 0, REPLY_DONE, 220, "",
	  "220 mx.example ESMTP\r" },
	{ { "250 caf\xc3\xa9 \x1b[0m" }, 0, REPLY_DONE, 250, "",
	  "250 caf\xc3\xa9 \x1b[0m" },
	/* enhanced codes */
	{ { "250 2.0.0 OK" }, 0, REPLY_DONE, 250, "2.0.0", "250 2.0.0 OK" },
	{ { "550 5.1.1 User unknown" }, 0, REPLY_DONE, 550, "5.1.1",
	  "550 5.1.1 User unknown" },
	{ { "550 5.1.1" }, 0, REPLY_DONE, 550, "5.1.1", "550 5.1.1" },
	{ { "451 4.7.1 try later" }, 0, REPLY_DONE, 451, "4.7.1",
	  "451 4.7.1 try later" },
	{ { "550 5.123.456 x" }, 0, REPLY_DONE, 550, "5.123.456",
	  "550 5.123.456 x" },
	{ { "550 4.1.1 class differs" }, 0, REPLY_DONE, 550, "",
	  "550 4.1.1 class differs" },
	{ { "550 5.1.1x" }, 0, REPLY_DONE, 550, "", "550 5.1.1x" },
	{ { "550 5.1.1.1 x" }, 0, REPLY_DONE, 550, "", "550 5.1.1.1 x" },
	{ { "550 5.1234.1 x" }, 0, REPLY_DONE, 550, "", "550 5.1234.1 x" },
	{ { "550 5.1.1234 x" }, 0, REPLY_DONE, 550, "", "550 5.1.1234 x" },
	{ { "550 5..1 x" }, 0, REPLY_DONE, 550, "", "550 5..1 x" },
	{ { "550 5.1. x" }, 0, REPLY_DONE, 550, "", "550 5.1. x" },
	{ { "550 5.1" }, 0, REPLY_DONE, 550, "", "550 5.1" },
	{ { "550 5.a.1 x" }, 0, REPLY_DONE, 550, "", "550 5.a.1 x" },
	{ { "550 51.1.1 x" }, 0, REPLY_DONE, 550, "", "550 51.1.1 x" },
	{ { "550  5.1.1 x" }, 0, REPLY_DONE, 550, "", "550  5.1.1 x" },
	{ { "550 5.1.1\tx" }, 0, REPLY_DONE, 550, "", "550 5.1.1\tx" },
	{ { "354 3.0.0 go" }, 0, REPLY_DONE, 354, "", "354 3.0.0 go" },
	{ { "250 2.0" }, 0, REPLY_DONE, 250, "", "250 2.0" },
	{ { "250-2.1.0 first", "250 last" }, 0, REPLY_DONE, 250, "2.1.0",
	  "250-2.1.0 first\n250 last" },
	{ { "250-first", "250 2.0.0 last" }, 0, REPLY_DONE, 250, "",
	  "250-first\n250 2.0.0 last" },
	/* multi-line */
	{ { "250-a", "250-b", "250 c" }, 0, REPLY_DONE, 250, "",
	  "250-a\n250-b\n250 c" },
	{ { "250-a", "250" }, 0, REPLY_DONE, 250, "", "250-a\n250" },
	{ { "250-", "250-", "250 " }, 0, REPLY_DONE, 250, "",
	  "250-\n250-\n250 " },
	{ { "250-a" }, 0, REPLY_MORE, 250, "", "250-a" },
	/* bad first lines */
	{ { "" }, 0, REPLY_BAD, 0, "", "" },
	{ { "2" }, 0, REPLY_BAD, 0, "", "" },
	{ { "25" }, 0, REPLY_BAD, 0, "", "" },
	{ { "2500" }, 0, REPLY_BAD, 0, "", "" },
	{ { "2500 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "250x" }, 0, REPLY_BAD, 0, "", "" },
	{ { "250\tok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "250_ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "150 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "199 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "600 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "650 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "050 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "950 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "25a ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "2a0 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "a50 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { " 250 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "+OK" }, 0, REPLY_BAD, 0, "", "" },
	{ { "HTTP/1.1 400 Bad Request" }, 0, REPLY_BAD, 0, "", "" },
	{ { "\xb2\x35\x30 ok" }, 0, REPLY_BAD, 0, "", "" },
	{ { "250 a\0b" }, 7, REPLY_BAD, 0, "", "" },
	{ { "\0" "250 ok" }, 7, REPLY_BAD, 0, "", "" },
	{ { "250\0" }, 4, REPLY_BAD, 0, "", "" },
	/* bad continuation lines leave the reply as it was */
	{ { "250-a", "251 b" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-a", "550 b" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-2.0.0 a", "251-b" }, 0, REPLY_BAD, 250, "2.0.0",
	  "250-2.0.0 a" },
	{ { "250-a", "25" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-a", "" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-a", "250+b" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-a", "b" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-a", "150 b" }, 0, REPLY_BAD, 250, "", "250-a" },
	{ { "250-a", "250-b", "250x" }, 0, REPLY_BAD, 250, "",
	  "250-a\n250-b" },
};

/* Runs one case and checks it. */
static void
run_case(size_t ci, const struct reply_case *c)
{
	struct reply r, before;
	enum reply_step step = REPLY_BAD;
	size_t i, len;

	reply_init(&r);
	for (i = 0; i < MAX_LINES && c->lines[i] != NULL; i++) {
		len = i == 0 && c->len0 > 0 ? c->len0 : strlen(c->lines[i]);
		memcpy(&before, &r, sizeof(r));
		step = reply_feed(&r, c->lines[i], len);
		if (i + 1 < MAX_LINES && c->lines[i + 1] != NULL) {
			CHECK(step == REPLY_MORE, "case %zu line %zu: step %d, "
			      "want MORE", ci, i, (int)step);
			if (step != REPLY_MORE)
				return;
		}
	}
	CHECK(step == c->step, "case %zu: step %d, want %d", ci, (int)step,
	      (int)c->step);
	if (step == REPLY_BAD)
		CHECK(memcmp(&r, &before, sizeof(r)) == 0,
		      "case %zu: a bad line changed the reply", ci);
	CHECK(r.code == c->code, "case %zu: code %d, want %d", ci, r.code,
	      c->code);
	CHECK(strcmp(r.enhanced, c->enhanced) == 0,
	      "case %zu: enhanced \"%s\", want \"%s\"", ci, r.enhanced,
	      c->enhanced);
	CHECK(r.text_len == strlen(c->text) && strcmp(r.text, c->text) == 0,
	      "case %zu: text \"%s\", want \"%s\"", ci, r.text, c->text);
	CHECK(!r.truncated, "case %zu: truncated", ci);
}

/* Runs the parser table. */
static void
test_table(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(i, &cases[i]);
}

/* Builds "CCC" + sep + fill up to `len` bytes in buf (len >= 4). */
static void
make_line(char *buf, size_t len, const char *code, char sep, char fill)
{
	memcpy(buf, code, 3);
	buf[3] = sep;
	memset(buf + 4, fill, len - 4);
}

/* Line length, line count and the text bound. */
static void
test_bounds(void)
{
	static char line[2 * 1024 * 1024];
	struct reply r;
	size_t i;
	enum reply_step step;
	char expect[3 * REPLY_LINE_MAX];

	/* longest line accepted, one more refused */
	make_line(line, REPLY_LINE_MAX, "250", ' ', 'x');
	reply_init(&r);
	CHECK(reply_feed(&r, line, REPLY_LINE_MAX) == REPLY_DONE,
	      "a line of REPLY_LINE_MAX bytes is accepted");
	CHECK(r.text_len == REPLY_LINE_MAX && !r.truncated,
	      "a maximal line is kept whole");
	reply_init(&r);
	make_line(line, REPLY_LINE_MAX + 1, "250", ' ', 'x');
	CHECK(reply_feed(&r, line, REPLY_LINE_MAX + 1) == REPLY_BAD,
	      "a line of REPLY_LINE_MAX + 1 bytes is refused");
	CHECK(r.code == 0 && r.nlines == 0, "refused line left no trace");
	make_line(line, sizeof(line), "250", ' ', 'x');
	CHECK(reply_feed(&r, line, sizeof(line)) == REPLY_BAD,
	      "a 2 MB line is refused");

	/* REPLY_LINES_MAX lines are fine, one more is not */
	reply_init(&r);
	for (i = 0; i + 1 < REPLY_LINES_MAX; i++)
		CHECK(reply_feed(&r, "250-x", 5) == REPLY_MORE, "line %zu", i);
	CHECK(reply_feed(&r, "250 y", 5) == REPLY_DONE,
	      "line REPLY_LINES_MAX ends the reply");
	CHECK(r.nlines == REPLY_LINES_MAX, "nlines %u", r.nlines);
	reply_init(&r);
	for (i = 0; i < REPLY_LINES_MAX; i++)
		CHECK(reply_feed(&r, "250-x", 5) == REPLY_MORE, "line %zu", i);
	CHECK(reply_feed(&r, "250 y", 5) == REPLY_BAD,
	      "line REPLY_LINES_MAX + 1 is refused");
	CHECK(reply_feed(&r, "250-y", 5) == REPLY_BAD,
	      "and stays refused");

	/* text: exactly REPLY_TEXT_MAX fits; more is cut, still DONE */
	reply_init(&r);
	make_line(line, 2047, "250", '-', 'a');
	CHECK(reply_feed(&r, line, 2047) == REPLY_MORE, "text line 1");
	make_line(line, 2048, "250", ' ', 'b');
	CHECK(reply_feed(&r, line, 2048) == REPLY_DONE, "text line 2");
	CHECK(r.text_len == REPLY_TEXT_MAX && !r.truncated &&
	      r.text[REPLY_TEXT_MAX] == '\0' && r.text[2047] == '\n' &&
	      r.text[REPLY_TEXT_MAX - 1] == 'b',
	      "exactly REPLY_TEXT_MAX bytes are kept whole (len %zu)",
	      r.text_len);

	reply_init(&r);
	make_line(line, 2048, "451", '-', 'a');
	make_line(expect, 2048, "451", '-', 'a');
	expect[2048] = '\n';
	CHECK(reply_feed(&r, line, 2048) == REPLY_MORE, "cut line 1");
	make_line(line, 2048, "451", '-', 'b');
	make_line(expect + 2049, 2048, "451", '-', 'b');
	CHECK(reply_feed(&r, line, 2048) == REPLY_MORE, "cut line 2");
	CHECK(r.truncated && r.text_len == REPLY_TEXT_MAX &&
	      memcmp(r.text, expect, REPLY_TEXT_MAX) == 0 &&
	      r.text[REPLY_TEXT_MAX] == '\0', "text cut at REPLY_TEXT_MAX");
	step = reply_feed(&r, "451 4.3.0 end", 13);
	CHECK(step == REPLY_DONE && r.truncated && r.nlines == 3 &&
	      r.text_len == REPLY_TEXT_MAX && r.code == 451,
	      "a cut reply still completes");
	CHECK(reply_feed(&r, "452 x", 5) == REPLY_BAD,
	      "a cut reply still checks codes");

	/* reply_init clears everything for the next reply */
	reply_init(&r);
	CHECK(r.code == 0 && r.nlines == 0 && r.text_len == 0 &&
	      !r.truncated && r.text[0] == '\0' && r.enhanced[0] == '\0',
	      "reply_init clears");
	CHECK(reply_feed(&r, "221 2.0.0 bye", 13) == REPLY_DONE &&
	      r.code == 221 && strcmp(r.enhanced, "2.0.0") == 0,
	      "reuse after reply_init");
}

/* Every first byte and separator byte: only the documented ones pass. */
static void
test_every_byte(void)
{
	unsigned b;

	for (b = 0; b < 256; b++) {
		struct reply r;
		char line[8] = "250 ok";
		enum reply_step step, want;

		line[0] = (char)b;
		reply_init(&r);
		step = reply_feed(&r, line, 6);
		want = b >= '2' && b <= '5' ? REPLY_DONE : REPLY_BAD;
		CHECK(step == want, "first byte 0x%02x: step %d", b, (int)step);

		memcpy(line, "250 ok", 6);
		line[3] = (char)b;
		reply_init(&r);
		step = reply_feed(&r, line, 6);
		want = b == ' ' ? REPLY_DONE : b == '-' ? REPLY_MORE :
		       REPLY_BAD;
		CHECK(step == want, "separator 0x%02x: step %d", b,
		      (int)step);

		memcpy(line, "250 ok", 6);
		line[2] = (char)b;
		reply_init(&r);
		step = reply_feed(&r, line, 6);
		want = b >= '0' && b <= '9' ? REPLY_DONE : REPLY_BAD;
		CHECK(step == want, "third byte 0x%02x: step %d", b,
		      (int)step);
	}
}

/* One EHLO case: the reply's lines and the capabilities expected. */
struct ehlo_case {
	const char *lines[10];
	struct ehlo_caps want;
};

static const struct ehlo_case ehlo_cases[] = {
	{ { "250-mx.example Hello", "250-PIPELINING", "250-SIZE 10240000",
	    "250-8BITMIME", "250-STARTTLS", "250-ENHANCEDSTATUSCODES",
	    "250 SMTPUTF8" },
	  { true, true, true, true, true, true, 10240000, false } },
	{ { "250 mx.example" }, { 0 } },
	{ { "250" }, { 0 } },
	/* the first line is the server name, never a keyword */
	{ { "250-STARTTLS", "250 PIPELINING" },
	  { .pipelining = true } },
	{ { "250 STARTTLS" }, { 0 } },
	/* case-insensitive */
	{ { "250-x", "250-starttls", "250-Pipelining", "250 8bitMIME" },
	  { .starttls = true, .pipelining = true, .eightbitmime = true } },
	{ { "250-x", "250-smtputf8", "250 enhancedstatuscodes" },
	  { .smtputf8 = true, .enhanced = true } },
	/* CHUNKING (RFC 3030), as Postfix and Exim advertise it */
	{ { "250-mx.example", "250-PIPELINING", "250-CHUNKING", "250 SMTPUTF8" },
	  { .pipelining = true, .chunking = true, .smtputf8 = true } },
	{ { "250-x", "250 chunking" }, { .chunking = true } },
	{ { "250-x", "250-CHUNKINGX", "250-BDAT", "250 CHUNK" }, { 0 } },
	/* whole keywords only */
	{ { "250-x", "250-STARTTLSX", "250-XSTARTTLS", "250-STARTTL",
	    "250-8BITMIMEX", "250-SIZEX 10", "250 PIPELINING2" }, { 0 } },
	{ { "250-x", "250 STARTTLS extra words" }, { .starttls = true } },
	{ { "250-x", "250 AUTH PLAIN LOGIN STARTTLS" }, { 0 } },
	{ { "250-x", "250  STARTTLS" }, { 0 } },
	{ { "250-x", "250-", "250 " }, { 0 } },
	/* SIZE */
	{ { "250-x", "250 SIZE" }, { .size = true } },
	{ { "250-x", "250 SIZE " }, { .size = true } },
	{ { "250-x", "250 SIZE 0" }, { .size = true } },
	{ { "250-x", "250 size 52428800" },
	  { .size = true, .size_max = 52428800 } },
	{ { "250-x", "250 SIZE  2000" }, { .size = true, .size_max = 2000 } },
	{ { "250-x", "250 SIZE 1000 extra" },
	  { .size = true, .size_max = 1000 } },
	{ { "250-x", "250 SIZE abc" }, { .size = true } },
	{ { "250-x", "250 SIZE 12ab" }, { .size = true } },
	{ { "250-x", "250 SIZE -1" }, { .size = true } },
	{ { "250-x", "250 SIZE +5" }, { .size = true } },
	{ { "250-x", "250 SIZE 0x10" }, { .size = true } },
	{ { "250-x", "250 SIZE 18446744073709551615" },
	  { .size = true, .size_max = UINT64_MAX } },
	{ { "250-x", "250 SIZE 18446744073709551616" }, { .size = true } },
	{ { "250-x", "250 SIZE 99999999999999999999999" }, { .size = true } },
	{ { "250-x", "250 SIZE 000123" }, { .size = true, .size_max = 123 } },
	/* a later SIZE line wins */
	{ { "250-x", "250-SIZE 10", "250 SIZE 20" },
	  { .size = true, .size_max = 20 } },
};

/* Runs the EHLO table. */
static void
test_ehlo(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
		const struct ehlo_case *c = &ehlo_cases[i];
		struct reply r;
		struct ehlo_caps caps;
		enum reply_step step = REPLY_BAD;

		reply_init(&r);
		memset(&caps, 0, sizeof(caps));
		for (k = 0; k < 10 && c->lines[k] != NULL; k++) {
			step = reply_feed(&r, c->lines[k],
			                  strlen(c->lines[k]));
			if (k > 0)
				ehlo_feed(&caps, c->lines[k],
				          strlen(c->lines[k]));
		}
		CHECK(step == REPLY_DONE, "ehlo case %zu: reply not DONE", i);
		CHECK(caps.starttls == c->want.starttls &&
		      caps.pipelining == c->want.pipelining &&
		      caps.eightbitmime == c->want.eightbitmime &&
		      caps.smtputf8 == c->want.smtputf8 &&
		      caps.enhanced == c->want.enhanced &&
		      caps.size == c->want.size &&
		      caps.size_max == c->want.size_max &&
		      caps.chunking == c->want.chunking,
		      "ehlo case %zu: got tls %d pipe %d 8bit %d utf8 %d "
		      "enh %d size %d/%llu chunking %d", i, caps.starttls,
		      caps.pipelining, caps.eightbitmime, caps.smtputf8,
		      caps.enhanced, caps.size, (unsigned long long)caps.size_max,
		      caps.chunking);
	}
}

/*
 * Capabilities come from every line of a long EHLO reply, whatever text is
 * kept for reports: STARTTLS and SIZE past REPLY_TEXT_MAX, and a SIZE line
 * that the kept text cuts in the middle, are read whole.
 */
static void
test_ehlo_long(void)
{
	char line[REPLY_LINE_MAX];
	struct reply r;
	struct ehlo_caps caps;
	size_t pad;

	/* "250-x" pad ... "250-PIPELINING", more pad, then "250 SIZE 123456"
	 * cut after "250 SIZE 123" in the kept text, and STARTTLS after the
	 * text is full. */
	reply_init(&r);
	memset(&caps, 0, sizeof(caps));
	CHECK(reply_feed(&r, "250-mx.example", 14) == REPLY_MORE, "name");
	make_line(line, REPLY_LINE_MAX, "250", '-', 'p');
	CHECK(reply_feed(&r, line, REPLY_LINE_MAX) == REPLY_MORE, "pad 1");
	ehlo_feed(&caps, line, REPLY_LINE_MAX);
	CHECK(reply_feed(&r, "250-PIPELINING", 14) == REPLY_MORE, "pipe");
	ehlo_feed(&caps, "250-PIPELINING", 14);
	/* The SIZE line must start at REPLY_TEXT_MAX - 12 so that only
	 * "250 SIZE 123" fits; two '\n' separators come before it. */
	pad = REPLY_TEXT_MAX - 12 - r.text_len - 2;
	make_line(line, pad, "250", '-', 'q');
	CHECK(reply_feed(&r, line, pad) == REPLY_MORE, "pad 2");
	ehlo_feed(&caps, line, pad);
	CHECK(reply_feed(&r, "250-SIZE 123456", 15) == REPLY_MORE, "size");
	ehlo_feed(&caps, "250-SIZE 123456", 15);
	CHECK(reply_feed(&r, "250 STARTTLS", 12) == REPLY_DONE, "starttls");
	ehlo_feed(&caps, "250 STARTTLS", 12);
	CHECK(r.truncated && r.text_len == REPLY_TEXT_MAX &&
	      memcmp(r.text + REPLY_TEXT_MAX - 12, "250-SIZE 123", 12) == 0,
	      "setup: the kept text ends inside the SIZE line");
	CHECK(caps.pipelining && caps.starttls,
	      "keywords before and after the cut count");
	CHECK(caps.size && caps.size_max == 123456,
	      "SIZE is read from its whole line (got %llu)",
	      (unsigned long long)caps.size_max);
}

/*
 * A bare CR does not end a reply line (only LF does, as in Postfix): it
 * stays in the line's text, and escape_text() shows it as \x0d, so it
 * can neither split a reply nor reach a terminal raw.
 */
static void
test_bare_cr(void)
{
	struct reply r;
	char shown[64];

	reply_init(&r);
	CHECK(reply_feed(&r, "250-a\rb", 7) == REPLY_MORE, "CR in a line");
	CHECK(reply_feed(&r, "250 c\r", 6) == REPLY_DONE, "CR at the end");
	CHECK(r.nlines == 2 && strcmp(r.text, "250-a\rb\n250 c\r") == 0,
	      "bare CRs are kept as text");
	escape_text(r.text, r.text_len, shown, sizeof(shown));
	CHECK(strchr(shown, '\r') == NULL &&
	      strstr(shown, "a\\x0db") != NULL,
	      "bare CR escaped: %s", shown);
}

/* Runs every test; exits non-zero on any failure. */
int
main(void)
{
	test_table();
	test_bounds();
	test_every_byte();
	test_ehlo();
	test_ehlo_long();
	test_bare_cr();
	if (failures > 0) {
		fprintf(stderr, "test_reply: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_reply: %zu reply cases, %zu EHLO cases, bounds, "
	       "every byte: ok\n", sizeof(cases) / sizeof(cases[0]),
	       sizeof(ehlo_cases) / sizeof(ehlo_cases[0]));
	return 0;
}
