/*
 * fuzz_ehlo: the EHLO capabilities.  The input's lines become the keyword
 * lines of a 250 EHLO reply ("250-" before each, "250 " before the last,
 * after a greeting line); each line goes through reply_feed() and, as
 * smtp.c does from the second line on, ehlo_feed().
 *
 * Property: every extension whose keyword starts a line of the reply is
 * found, whatever else the reply holds and however long it is (a lost
 * STARTTLS means mail in clear), no extension is found that no line
 * names, and SIZE's limit is that of the last SIZE line.
 */
#include <string.h>

#include "fuzz.h"
#include "reply.h"

/* Case-insensitive comparison of word[0, len) with a lower-case keyword. */
static bool
same_word(const char *word, size_t len, const char *keyword)
{
	if (strlen(keyword) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = word[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != keyword[i])
			return false;
	}
	return true;
}

/* SIZE's argument as RFC 1870 reads it: digits, else 0; 0 on overflow. */
static uint64_t
size_arg(const char *p, size_t len)
{
	uint64_t v = 0;

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return 0;
		if (v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v;
}

/* Applies one keyword line (after "250-") to the reference. */
static void
expect_line(struct ehlo_caps *c, const char *t, size_t len)
{
	size_t w = 0, a, alen = 0;

	while (w < len && t[w] != ' ')
		w++;
	if (same_word(t, w, "starttls"))
		c->starttls = true;
	else if (same_word(t, w, "pipelining"))
		c->pipelining = true;
	else if (same_word(t, w, "8bitmime"))
		c->eightbitmime = true;
	else if (same_word(t, w, "smtputf8"))
		c->smtputf8 = true;
	else if (same_word(t, w, "enhancedstatuscodes"))
		c->enhanced = true;
	else if (same_word(t, w, "size")) {
		c->size = true;
		for (a = w; a < len && t[a] == ' '; a++)
			;
		while (a + alen < len && t[a + alen] != ' ')
			alen++;
		c->size_max = size_arg(t + a, alen);
	}
}

/* Builds the reply from the input's lines and compares the readings. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char line[REPLY_LINE_MAX + 8];
	struct reply reply;
	struct ehlo_caps want, got;
	const char *p = (const char *)data, *end = p + size;
	enum reply_step step;

	memset(&want, 0, sizeof(want));
	memset(&got, 0, sizeof(got));
	reply_init(&reply);
	step = reply_feed(&reply, "250-mx.example.net greets you", 29);
	FUZZ_ASSERT(step == REPLY_MORE, "greeting line refused");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		bool last = nl == NULL || nl + 1 == end;

		if (len > REPLY_LINE_MAX - 4)
			len = REPLY_LINE_MAX - 4;
		memcpy(line, last ? "250 " : "250-", 4);
		memcpy(line + 4, p, len);
		step = reply_feed(&reply, line, len + 4);
		if (step == REPLY_BAD)
			return 0; /* a NUL or too many lines: the session ends */
		if (reply.nlines > 1)
			ehlo_feed(&got, line, len + 4);
		expect_line(&want, p, len);
		FUZZ_ASSERT(step == (last ? REPLY_DONE : REPLY_MORE),
		            "line taken as %d", (int)step);
		if (last)
			break;
		p = nl + 1;
	}
	if (step != REPLY_DONE)
		return 0;
	FUZZ_ASSERT(got.starttls == want.starttls, "STARTTLS %d, expected %d",
	            got.starttls, want.starttls);
	FUZZ_ASSERT(got.pipelining == want.pipelining, "PIPELINING %d",
	            got.pipelining);
	FUZZ_ASSERT(got.eightbitmime == want.eightbitmime, "8BITMIME %d",
	            got.eightbitmime);
	FUZZ_ASSERT(got.smtputf8 == want.smtputf8, "SMTPUTF8 %d", got.smtputf8);
	FUZZ_ASSERT(got.enhanced == want.enhanced, "ENHANCEDSTATUSCODES %d",
	            got.enhanced);
	FUZZ_ASSERT(got.size == want.size && got.size_max == want.size_max,
	            "SIZE %d %llu, expected %d %llu", got.size,
	            (unsigned long long)got.size_max, want.size,
	            (unsigned long long)want.size_max);
	return 0;
}
