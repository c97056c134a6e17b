/*
 * reply: assembles SMTP replies line by line (RFC 5321 4.2), picks out the
 * RFC 3463 enhanced status code, and reads the extensions an EHLO reply
 * advertises.  Every line comes from the server, so each is checked in full
 * (length, NUL, code, separator) before the reply is changed at all: a
 * rejected line leaves the reply as it was.
 */
#include "escape.h"
#include "reply.h"

#include <stdint.h>
#include <string.h>

/* Clears a reply so the next one can be fed. */
void
reply_init(struct reply *reply)
{
	memset(reply, 0, sizeof(*reply));
}

/* True for an ASCII decimal digit (no locale involved). */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Counts up to 3 digits at text[*pos], advancing *pos past them. */
static size_t
take_digits(const char *text, size_t len, size_t *pos)
{
	size_t n = 0;

	while (*pos < len && is_digit(text[*pos]) && n < 3) {
		(*pos)++;
		n++;
	}
	return n;
}

/*
 * Copies an enhanced code "C.SSS.DDD" from the start of `text` into `out`
 * when one is there, its class matches the reply class and a space or the
 * end of the line follows; otherwise leaves `out` empty.
 */
static void
parse_enhanced(const char *text, size_t len, char reply_class,
               char out[12])
{
	size_t pos, n;

	out[0] = '\0';
	if (len < 5 || text[0] != reply_class)
		return;
	if (reply_class != '2' && reply_class != '4' && reply_class != '5')
		return;
	if (text[1] != '.')
		return;
	pos = 2;
	/* A fourth digit fails the '.' or ' ' check that follows. */
	n = take_digits(text, len, &pos);
	if (n == 0 || pos >= len || text[pos] != '.')
		return;
	pos++;
	n = take_digits(text, len, &pos);
	if (n == 0)
		return;
	if (pos < len && text[pos] != ' ')
		return;
	/* At most 1 + 1 + 3 + 1 + 3 = 9 bytes: fits out[12]. */
	memcpy(out, text, pos);
	out[pos] = '\0';
}

/* Appends `len` bytes to the reply text, cutting at REPLY_TEXT_MAX. */
static void
append_text(struct reply *reply, const char *bytes, size_t len)
{
	size_t room = REPLY_TEXT_MAX - reply->text_len;

	if (reply->truncated)
		return;
	if (len > room) {
		len = room;
		reply->truncated = true;
	}
	memcpy(reply->text + reply->text_len, bytes, len);
	reply->text_len += len;
	reply->text[reply->text_len] = '\0';
}

/* Checks one reply line and adds it to the reply. */
enum reply_step
reply_feed(struct reply *reply, const char *line, size_t len)
{
	bool last;
	int code;

	if (len > REPLY_LINE_MAX || reply->nlines >= REPLY_LINES_MAX)
		return REPLY_BAD;
	if (len < 3 || memchr(line, '\0', len) != NULL)
		return REPLY_BAD;
	if (line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return REPLY_BAD;
	if (len == 3 || line[3] == ' ')
		last = true;
	else if (line[3] == '-')
		last = false;
	else
		return REPLY_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (reply->nlines > 0 && code != reply->code)
		return REPLY_BAD;

	if (reply->nlines == 0) {
		reply->code = code;
		if (len > 4)
			parse_enhanced(line + 4, len - 4, line[0],
			               reply->enhanced);
		else
			reply->enhanced[0] = '\0';
	} else {
		append_text(reply, "\n", 1);
	}
	append_text(reply, line, len);
	reply->nlines++;
	return last ? REPLY_DONE : REPLY_MORE;
}

/* Lower-cases one ASCII letter; other bytes pass unchanged. */
static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* True when word[0, len) equals the lower-case `keyword`, ignoring case. */
static bool
keyword_is(const char *word, size_t len, const char *keyword)
{
	size_t i;

	if (strlen(keyword) != len)
		return false;
	for (i = 0; i < len; i++)
		if (ascii_lower(word[i]) != keyword[i])
			return false;
	return true;
}

/* Reads SIZE's decimal argument; 0 when absent, malformed or too big. */
static uint64_t
parse_size(const char *arg, size_t len)
{
	uint64_t value = 0;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned digit;

		if (!is_digit(arg[i]))
			return 0;
		digit = (unsigned)(arg[i] - '0');
		if (value > (UINT64_MAX - digit) / 10)
			return 0;
		value = value * 10 + digit;
	}
	return value;
}

/* Records the extension named by one EHLO line's text (code stripped). */
static void
ehlo_keyword(const char *text, size_t len, struct ehlo_caps *caps)
{
	size_t wlen = 0, arg, alen;

	while (wlen < len && text[wlen] != ' ')
		wlen++;
	if (keyword_is(text, wlen, "starttls"))
		caps->starttls = true;
	else if (keyword_is(text, wlen, "pipelining"))
		caps->pipelining = true;
	else if (keyword_is(text, wlen, "chunking"))
		caps->chunking = true;
	else if (keyword_is(text, wlen, "8bitmime"))
		caps->eightbitmime = true;
	else if (keyword_is(text, wlen, "smtputf8"))
		caps->smtputf8 = true;
	else if (keyword_is(text, wlen, "enhancedstatuscodes"))
		caps->enhanced = true;
	else if (keyword_is(text, wlen, "size")) {
		caps->size = true;
		arg = wlen;
		while (arg < len && text[arg] == ' ')
			arg++;
		alen = 0;
		while (arg + alen < len && text[arg + alen] != ' ')
			alen++;
		caps->size_max = parse_size(text + arg, alen);
	}
}

/* Reads the keyword of one EHLO reply line after the first. */
void
ehlo_feed(struct ehlo_caps *caps, const char *line, size_t len)
{
	if (len > 4)
		ehlo_keyword(line + 4, len - 4, caps);
}

/* One escaped line for reports. */
void reply_line(const struct reply *r, char *out, size_t outlen)
{
	size_t used = 0;
	const char *p = r->text, *end = r->text + r->text_len;
	out[0] = '\0';
	while (p < end && used + 1 < outlen) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (used > 0)
			out[used++] = ' ';
		used += escape_text(p, len, out + used, outlen - used);
		p += len + (nl != NULL);
	}
	out[used < outlen ? used : outlen - 1] = '\0';
}
