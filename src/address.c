/*
 * address: envelope address syntax, checked before anything is sent
 * (RFC 5321 4.1.2 Mailbox, RFC 6531 3.3 for UTF-8 local parts).  The domain
 * must be an ASCII host name or an IPv4/IPv6 address literal; U-label
 * domains are refused with a reason that says what to do instead.  Reasons may quote the
 * address, so they pass it through escape_text() first.
 */
#include "address.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "mxclient.h"

/* Longest local part (RFC 5321 4.5.3.1.1). */
#define LOCAL_MAX 64
/* Longest domain (RFC 5321 4.5.3.1.2 less the trailing dot). */
#define DOMAIN_MAX 253
/* Longest label (RFC 1035 2.3.4). */
#define LABEL_MAX 63
/* Room for an escaped domain quoted in a reason. */
#define QUOTE_MAX 300

static int fail(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Formats a one-line reason into why (if any room); always returns -1. */
static int
fail(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* True for RFC 5322 atext in ASCII: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static bool
is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* True for a host name character: letter, digit or hyphen. */
static bool
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* True when b[0] is a UTF-8 continuation byte within [lo, hi]. */
static bool
cont_in(const unsigned char *b, unsigned char lo, unsigned char hi)
{
	return b[0] >= lo && b[0] <= hi;
}

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) starting at s[0] >= 0x80 with `left`
 * bytes available; 0 when it is not one.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];

	if (c >= 0xc2 && c <= 0xdf)
		return left >= 2 && cont_in(s + 1, 0x80, 0xbf) ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
		unsigned char hi = c == 0xed ? 0x9f : 0xbf;

		return left >= 3 && cont_in(s + 1, lo, hi) &&
		       cont_in(s + 2, 0x80, 0xbf) ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
		unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;

		return left >= 4 && cont_in(s + 1, lo, hi) &&
		       cont_in(s + 2, 0x80, 0xbf) &&
		       cont_in(s + 3, 0x80, 0xbf) ? 4 : 0;
	}
	return 0;
}

/* Rejects control characters (C0, DEL, C1) and malformed UTF-8. */
static int
check_bytes(const unsigned char *s, size_t len, char *why, size_t whylen)
{
	size_t i = 0, n;

	while (i < len) {
		if (s[i] < 0x20 || s[i] == 0x7f)
			return fail(why, whylen, "address has a control "
			            "character (\\x%02x at offset %zu)", s[i], i);
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq_len(s + i, len - i);
		if (n == 0)
			return fail(why, whylen, "address is not valid UTF-8 "
			            "(\\x%02x at offset %zu)", s[i], i);
		/* U+0080..U+009F are the C1 control characters. */
		if (s[i] == 0xc2 && s[i + 1] <= 0x9f)
			return fail(why, whylen, "address has a control "
			            "character (U+%04X at offset %zu)",
			            (unsigned)s[i + 1], i);
		i += n;
	}
	return 0;
}

/* Checks an unquoted local part: atoms of atext or UTF-8 joined by dots. */
static int
check_dot_string(const unsigned char *s, size_t len, char *why,
                 size_t whylen)
{
	char shown[8];
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (i == 0)
				return fail(why, whylen,
				            "local part starts with a dot");
			if (s[i - 1] == '.')
				return fail(why, whylen,
				            "local part has two dots in a row");
			continue;
		}
		if (s[i] >= 0x80 || is_atext(s[i]))
			continue;
		if (s[i] == '@')
			return fail(why, whylen, "address has more than one @");
		escape_text((const char *)s + i, 1, shown, sizeof(shown));
		return fail(why, whylen, "local part has a character that "
		            "must be quoted: '%s'", shown);
	}
	if (s[len - 1] == '.')
		return fail(why, whylen, "local part ends with a dot");
	return 0;
}

/* Checks a quoted local part: "..." of qtext, quoted pairs and UTF-8. */
static int
check_quoted(const unsigned char *s, size_t len, char *why, size_t whylen)
{
	size_t i = 1;

	while (i < len) {
		if (s[i] == '\\') {
			if (i + 1 >= len)
				return fail(why, whylen, "quoted local part "
				            "ends with a backslash");
			if (s[i + 1] < 0x20 || s[i + 1] > 0x7e)
				return fail(why, whylen, "quoted local part "
				            "escapes a byte that is not printable "
				            "ASCII");
			i += 2;
			continue;
		}
		if (s[i] == '"') {
			if (i != len - 1)
				return fail(why, whylen, "quoted local part has "
				            "text after the closing quote");
			return 0;
		}
		/* Control bytes were refused earlier; the rest is qtext. */
		i++;
	}
	return fail(why, whylen, "quoted local part is not closed");
}

/* Whether `s` (len octets) is an address literal RFC 5321 4.1.3 allows
 * us: "[192.0.2.1]" or "[IPv6:2001:db8::1]", one address, nothing else. */
static bool
is_address_literal(const char *s, size_t len)
{
	unsigned char buf[16];
	char inner[INET6_ADDRSTRLEN + 8];

	if (len < 3 || s[0] != '[' || s[len - 1] != ']' ||
	    len - 2 >= sizeof(inner))
		return false;
	memcpy(inner, s + 1, len - 2);
	inner[len - 2] = '\0';
	if (strncmp(inner, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, inner + 5, buf) == 1;
	return inet_pton(AF_INET, inner, buf) == 1;
}

/* Checks the domain: LDH labels, no trailing dot, ASCII only; or an
 * address literal. */
static int
check_domain(const char *domain, char *why, size_t whylen)
{
	const unsigned char *d = (const unsigned char *)domain;
	size_t len = strlen(domain), i, start, n;
	char shown[QUOTE_MAX], c[8];

	if (len == 0)
		return fail(why, whylen, "address has no domain after the @");
	if (d[0] == '[') {
		if (is_address_literal(domain, len))
			return 0;
		return fail(why, whylen, "address literal is malformed: use "
		            "[192.0.2.1] or [IPv6:2001:db8::1]");
	}
	for (i = 0; i < len; i++)
		if (d[i] >= 0x80)
			return fail(why, whylen, "non-ASCII domain: use its "
			            "A-label (xn--) form");
	escape_text(domain, len, shown, sizeof(shown));
	if (len > DOMAIN_MAX)
		return fail(why, whylen, "domain is longer than %d octets",
		            DOMAIN_MAX);
	if (d[len - 1] == '.')
		return fail(why, whylen, "domain ends with a dot in \"%s\"",
		            shown);
	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && d[i] != '.'; i++)
			;
		n = i - start;
		if (n == 0)
			return fail(why, whylen, "domain has an empty label in "
			            "\"%s\"", shown);
		if (n > LABEL_MAX)
			return fail(why, whylen, "domain label too long in "
			            "\"%s\"", shown);
		for (size_t j = start; j < i; j++) {
			if (is_ldh(d[j]))
				continue;
			escape_text(domain + j, 1, c, sizeof(c));
			return fail(why, whylen, "domain has an invalid "
			            "character '%s' in \"%s\"", c, shown);
		}
		if (d[start] == '-' || d[i - 1] == '-')
			return fail(why, whylen, "domain label starts or ends "
			            "with a hyphen in \"%s\"", shown);
	}
	return 0;
}

/* Checks an envelope address; "" passes only when null_ok. */
int
address_check(const char *addr, bool null_ok, char *why, size_t whylen)
{
	const unsigned char *s = (const unsigned char *)addr;
	const char *at;
	size_t len, local_len;

	if (addr == NULL)
		return fail(why, whylen, "address is missing");
	len = strnlen(addr, ADDRESS_MAX + 1);
	if (len == 0) {
		if (null_ok)
			return 0;
		return fail(why, whylen, "address is empty");
	}
	if (len > ADDRESS_MAX)
		return fail(why, whylen, "address is longer than %d octets",
		            ADDRESS_MAX);
	if (check_bytes(s, len, why, whylen) == -1)
		return -1;
	at = strrchr(addr, '@');
	if (at == NULL)
		return fail(why, whylen, "address has no @");
	local_len = (size_t)(at - addr);
	if (local_len == 0)
		return fail(why, whylen, "address has an empty local part");
	if (local_len > LOCAL_MAX)
		return fail(why, whylen, "local part is longer than %d octets",
		            LOCAL_MAX);
	if (s[0] == '"') {
		if (check_quoted(s, local_len, why, whylen) == -1)
			return -1;
	} else if (check_dot_string(s, local_len, why, whylen) == -1) {
		return -1;
	}
	return check_domain(at + 1, why, whylen);
}

/* Checks an EHLO name: a host name or an address literal. */
int
address_check_helo(const char *name, char *why, size_t whylen)
{
	size_t len;

	if (name == NULL || name[0] == '\0')
		return fail(why, whylen, "EHLO name is empty");
	len = strnlen(name, DOMAIN_MAX + 1);
	if (len > DOMAIN_MAX)
		return fail(why, whylen, "EHLO name is longer than %d octets",
		            DOMAIN_MAX);
	if (name[0] != '[')
		return check_domain(name, why, whylen);
	/* An address literal: the brackets must hold exactly one address. */
	if (is_address_literal(name, len))
		return 0;
	return fail(why, whylen, "EHLO address literal is malformed");
}

/* Points at the domain of a checked address ("" when it has no '@'). */
const char *
address_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');

	return at != NULL ? at + 1 : addr + strlen(addr);
}

/* True when an address has a byte above 0x7f. */
bool
address_is_utf8(const char *addr)
{
	const unsigned char *s = (const unsigned char *)addr;

	for (; *s != '\0'; s++)
		if (*s >= 0x80)
			return true;
	return false;
}

/* Public wrapper: checks an address as mxc_deliver() will. */
int
mxc_address_check(const char *address, int null_ok, char *err,
                  size_t errlen)
{
	return address_check(address, null_ok != 0, err, errlen);
}

/* Public wrapper: checks an EHLO name as mxc_engine_new() will. */
int
mxc_helo_check(const char *name, char *err, size_t errlen)
{
	return address_check_helo(name, err, errlen);
}
