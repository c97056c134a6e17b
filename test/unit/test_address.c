/*
 * test_address: envelope address syntax on a table of good and bad
 * addresses (dot-strings, quoted strings, UTF-8 local parts, malformed
 * UTF-8, control characters, literals, U-label domains, hyphens, dots),
 * the length limits built at run time (64/65-octet local parts, 63/64-octet
 * labels, 254/255-octet addresses), every single byte as a local part, and
 * the helpers address_domain() and address_is_utf8().
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "mxclient.h"

#include "check.h"

/* One case: address, null_ok, and NULL (valid) or a reason fragment. */
struct address_case {
	const char *addr;
	bool null_ok;
	const char *why; /* NULL: must pass; otherwise a substring of why */
};

static const struct address_case cases[] = {
	/* valid */
	{ "user@example.com", false, NULL },
	{ "a@b", false, NULL },
	{ "first.last@example.com", false, NULL },
	{ "x+tag@example.com", false, NULL },
	{ "a.b.c.d@example.com", false, NULL },
	{ "!#$%&'*+-/=?^_`{|}~@example.com", false, NULL },
	{ "USER@EXAMPLE.COM", false, NULL },
	{ "a@x-y.example", false, NULL },
	{ "a@x--y.example", false, NULL },
	{ "a@xn--bcher-kva.example", false, NULL },
	{ "a@0.example", false, NULL },
	{ "a@123.example", false, NULL },
	{ "\"a b\"@example.com", false, NULL },
	{ "\"a@b\"@example.com", false, NULL },
	{ "\"a\\\"b\"@example.com", false, NULL },
	{ "\"a\\\\b\"@example.com", false, NULL },
	{ "\"a\\ b\"@example.com", false, NULL },
	{ "\"\"@example.com", false, NULL },
	{ "\"a..b\"@example.com", false, NULL },
	{ "\".a\"@example.com", false, NULL },
	{ "\"(x)<y>[z]:;,\"@example.com", false, NULL },
	{ "\"caf\xc3\xa9 x\"@example.com", false, NULL },
	{ "caf\xc3\xa9@example.com", false, NULL },
	{ "\xe7\x94\xa8\xe6\x88\xb7@example.com", false, NULL },
	{ "\xf0\x9f\x98\x80@example.com", false, NULL },
	{ "\xc3\xa9.\xc3\xa9@example.com", false, NULL },
	{ "\xef\xbf\xbd@example.com", false, NULL },
	{ "\xf4\x8f\xbf\xbf@example.com", false, NULL },
	{ "\xc2\xa0@example.com", false, NULL },
	{ "", true, NULL },

	/* empty, missing parts, @ */
	{ "", false, "address is empty" },
	{ "userexample.com", false, "address has no @" },
	{ "user", false, "address has no @" },
	{ "@example.com", false, "empty local part" },
	{ "@", false, "empty local part" },
	{ "user@", false, "no domain" },
	{ "a@b@example.com", false, "more than one @" },
	{ "a@@example.com", false, "more than one @" },
	{ "@a@example.com", false, "more than one @" },
	/* dot-string */
	{ "a..b@x.example", false, "two dots in a row" },
	{ ".a@x.example", false, "starts with a dot" },
	{ "a.@x.example", false, "ends with a dot" },
	{ ".@x.example", false, "starts with a dot" },
	{ "a b@x.example", false, "must be quoted: ' '" },
	{ "a\"b@x.example", false, "must be quoted: '\"'" },
	{ "a\"@x.example", false, "must be quoted" },
	{ "(comment)a@x.example", false, "must be quoted: '('" },
	{ "<a@x.example>", false, "must be quoted: '<'" },
	{ "a,b@x.example", false, "must be quoted: ','" },
	{ "a\\b@x.example", false, "must be quoted: '\\\\'" },
	{ "a:b@x.example", false, "must be quoted" },
	{ "a[b]@x.example", false, "must be quoted" },
	/* quoted string */
	{ "\"a b@x.example", false, "not closed" },
	{ "\"@x.example", false, "not closed" },
	{ "\"a\"b@x.example", false, "after the closing quote" },
	{ "\"a\".b@x.example", false, "after the closing quote" },
	{ "\"a\"\"@x.example", false, "after the closing quote" },
	{ "\"a\\\"@x.example", false, "not closed" },
	{ "\"a\\@x.example", false, "ends with a backslash" },
	{ "\"a\\\xc3\xa9\"@x.example", false, "not printable ASCII" },
	/* control characters, never echoed raw */
	{ "a\n@x.example", false, "control character (\\x0a at offset 1)" },
	{ "a@x.example\r\nRCPT TO:<b@y>", false, "control character" },
	{ "a\t@x.example", false, "control character" },
	{ "a\x7f@x.example", false, "control character (\\x7f" },
	{ "\x1b[31ma@x.example", false, "control character (\\x1b" },
	{ "\"a\nb\"@x.example", false, "control character" },
	{ "\"a\\\nb\"@x.example", false, "control character" },
	{ "\xc2\x85@x.example", false, "control character (U+0085" },
	{ "a\xc2\x9f@x.example", false, "control character (U+009F" },
	/* malformed UTF-8 */
	{ "\xff@x.example", false, "not valid UTF-8" },
	{ "\xfe@x.example", false, "not valid UTF-8" },
	{ "\x80@x.example", false, "not valid UTF-8" },
	{ "\xbf@x.example", false, "not valid UTF-8" },
	{ "\xc3@x.example", false, "not valid UTF-8" },
	{ "a\xc3", false, "not valid UTF-8" },
	{ "\xc0\xaf@x.example", false, "not valid UTF-8" },
	{ "\xc1\xbf@x.example", false, "not valid UTF-8" },
	{ "\xe0\x80\xaf@x.example", false, "not valid UTF-8" },
	{ "\xe2\x82@x.example", false, "not valid UTF-8" },
	{ "\xed\xa0\x80@x.example", false, "not valid UTF-8" },
	{ "\xed\xbf\xbf@x.example", false, "not valid UTF-8" },
	{ "\xf0\x80\x80\xaf@x.example", false, "not valid UTF-8" },
	{ "\xf4\x90\x80\x80@x.example", false, "not valid UTF-8" },
	{ "\xf5\x80\x80\x80@x.example", false, "not valid UTF-8" },
	{ "\xf0\x9f\x98@x.example", false, "not valid UTF-8" },
	{ "\"\xff\"@x.example", false, "not valid UTF-8" },
	{ "a@\xff.example", false, "not valid UTF-8" },
	/* domains */
	/* RFC 5321 4.1.3 domain literals: one address, nothing else. */
	{ "a@[192.0.2.1]", false, NULL },
	{ "a@[IPv6:2001:db8::1]", false, NULL },
	{ "a@[192.0.2.300]", false, "address literal is malformed" },
	{ "a@[2001:db8::1]", false, "address literal is malformed" },
	{ "a@[IPv6:192.0.2.1]", false, "address literal is malformed" },
	{ "a@[tag:content]", false, "address literal is malformed" },
	{ "a@[192.0.2.1", false, "address literal is malformed" },
	{ "a@[]", false, "address literal is malformed" },
	{ "a@b\xc3\xbc" "cher.example", false,
	  "non-ASCII domain: use its A-label (xn--) form" },
	{ "a@\xe4\xbe\x8b.\xe6\xb5\x8b\xe8\xaf\x95", false, "non-ASCII domain" },
	{ "a@-x.example", false, "starts or ends with a hyphen" },
	{ "a@x-.example", false, "starts or ends with a hyphen" },
	{ "a@x.-", false, "starts or ends with a hyphen" },
	{ "a@-", false, "starts or ends with a hyphen" },
	{ "a@x.example.", false, "ends with a dot in \"x.example.\"" },
	{ "a@.", false, "ends with a dot" },
	{ "a@.example", false, "empty label in \".example\"" },
	{ "a@x..example", false, "empty label" },
	{ "a@x_y.example", false, "invalid character '_' in \"x_y.example\"" },
	{ "a@x y.example", false, "invalid character ' '" },
	{ "a@x.example:25", false, "invalid character ':'" },
	{ "a@x\\.example", false, "invalid character '\\\\'" },
	{ "a@x/y", false, "invalid character '/'" },
	{ "a@\"x\"", false, "invalid character '\"'" },
	{ "a@*.example", false, "invalid character '*'" },
};

/* True when every byte of s is printable ASCII (a reason must be). */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Checks one address against an expectation. */
static void
expect(const char *what, const char *addr, bool null_ok, const char *why)
{
	char reason[512] = "";
	int rc = address_check(addr, null_ok, reason, sizeof(reason));
	int pub = mxc_address_check(addr, null_ok, NULL, 0);

	CHECK(rc == pub, "%s: mxc_address_check disagrees", what);
	if (why == NULL) {
		CHECK(rc == 0, "%s: refused: %s", what, reason);
		return;
	}
	CHECK(rc == -1, "%s: accepted, want \"%s\"", what, why);
	if (rc != -1)
		return;
	CHECK(strstr(reason, why) != NULL, "%s: reason \"%s\", want \"%s\"",
	      what, reason, why);
	CHECK(reason[0] != '\0' && printable(reason),
	      "%s: reason empty or not printable", what);
}

/* Runs the table. */
static void
test_table(void)
{
	size_t i;
	char what[32];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "case %zu", i);
		expect(what, cases[i].addr, cases[i].null_ok, cases[i].why);
	}
}

/* Writes `n` copies of c at p; returns the end. */
static char *
fill(char *p, char c, size_t n)
{
	memset(p, c, n);
	return p + n;
}

/* Limits: local part 64, label 63, address 254, and far beyond. */
static void
test_lengths(void)
{
	static char huge[100000];
	char a[600], *p;

	/* 64-octet local part passes, 65 fails */
	p = fill(a, 'l', 64);
	memcpy(p, "@x.example", 11);
	expect("local 64", a, false, NULL);
	p = fill(a, 'l', 65);
	memcpy(p, "@x.example", 11);
	expect("local 65", a, false, "local part is longer than 64 octets");

	/* 64 octets of two-byte UTF-8 (32 characters) pass, 66 do not */
	p = a;
	for (int i = 0; i < 32; i++) {
		memcpy(p, "\xc3\xa9", 2);
		p += 2;
	}
	memcpy(p, "@x.example", 11);
	expect("local 64 UTF-8 octets", a, false, NULL);
	p = a;
	for (int i = 0; i < 33; i++) {
		memcpy(p, "\xc3\xa9", 2);
		p += 2;
	}
	memcpy(p, "@x.example", 11);
	expect("local 66 UTF-8 octets", a, false, "longer than 64 octets");

	/* quoted: 64 octets with the quotes */
	a[0] = '"';
	p = fill(a + 1, 'q', 62);
	memcpy(p, "\"@x.example", 12);
	expect("quoted 64", a, false, NULL);
	a[0] = '"';
	p = fill(a + 1, 'q', 63);
	memcpy(p, "\"@x.example", 12);
	expect("quoted 65", a, false, "longer than 64 octets");

	/* a 63-octet label passes, 64 fails */
	p = fill(a, 'l', 2);
	*p++ = '@';
	p = fill(p, 'd', 63);
	memcpy(p, ".example", 9);
	expect("label 63", a, false, NULL);
	p = fill(a, 'l', 2);
	*p++ = '@';
	p = fill(p, 'd', 64);
	memcpy(p, ".example", 9);
	expect("label 64", a, false, "domain label too long in \"ddd");
	p = fill(a, 'l', 2);
	*p++ = '@';
	p = fill(p, 'd', 64);
	*p = '\0';
	expect("single label 64", a, false, "domain label too long");

	/* 254 octets in all pass (64 + 1 + 189), 255 fail */
	p = fill(a, 'l', 64);
	*p++ = '@';
	p = fill(p, 'a', 63);
	*p++ = '.';
	p = fill(p, 'b', 63);
	*p++ = '.';
	p = fill(p, 'c', 61);
	*p = '\0';
	CHECK(strlen(a) == 254, "setup: %zu", strlen(a));
	expect("address 254", a, false, NULL);
	p[0] = 'c';
	p[1] = '\0';
	expect("address 255", a, false, "address is longer than 254 octets");

	/* the longest domain that fits in 254: 252 octets */
	p = fill(a, 'l', 1);
	*p++ = '@';
	for (int i = 0; i < 4; i++) {
		p = fill(p, (char)('a' + i), i < 3 ? 62 : 63);
		if (i < 3)
			*p++ = '.';
	}
	*p = '\0';
	CHECK(strlen(a) == 254, "setup: %zu", strlen(a));
	expect("domain 252", a, false, NULL);

	/* 100 kB: refused on length without reading it all */
	memset(huge, 'x', sizeof(huge) - 1);
	huge[50] = '@';
	expect("100 kB", huge, false, "longer than 254 octets");
}

/* Every byte as a one-byte local part, and as a domain character. */
static void
test_every_byte(void)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	unsigned b;

	for (b = 1; b < 256; b++) {
		char a[32], what[32];
		bool alnum = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') ||
		             (b >= '0' && b <= '9');
		bool ok = alnum || (b < 0x80 && strchr(atext, (int)b) != NULL);
		char reason[256];
		int rc;

		snprintf(a, sizeof(a), "%cz@x.example", (int)b);
		snprintf(what, sizeof(what), "local byte 0x%02x", b);
		rc = address_check(a, false, reason, sizeof(reason));
		CHECK(rc == (ok ? 0 : -1), "%s: rc %d (%s)", what, rc, reason);
		if (rc == -1)
			CHECK(printable(reason), "%s: reason not printable",
			      what);

		snprintf(a, sizeof(a), "z@x%cy.example", (int)b);
		snprintf(what, sizeof(what), "domain byte 0x%02x", b);
		ok = alnum || b == '-' || b == '.';
		rc = address_check(a, false, reason, sizeof(reason));
		if (b == '@')
			ok = false; /* local part "z@x": two @ */
		CHECK(rc == (ok ? 0 : -1), "%s: rc %d (%s)", what, rc, reason);
		if (rc == -1)
			CHECK(printable(reason), "%s: reason not printable",
			      what);
	}
}

/* NULL address, short or absent reason buffers, null_ok through the API. */
static void
test_arguments(void)
{
	char why[8];

	CHECK(address_check(NULL, true, why, sizeof(why)) == -1,
	      "NULL is refused");
	CHECK(address_check("bad", false, NULL, 0) == -1, "no reason buffer");
	memset(why, 'Z', sizeof(why));
	CHECK(address_check("bad", false, why, sizeof(why)) == -1 &&
	      strlen(why) == sizeof(why) - 1,
	      "a short reason buffer is cut and NUL-terminated");
	CHECK(address_check("bad", false, why, 1) == -1 && why[0] == '\0',
	      "a one-byte reason buffer");
	CHECK(mxc_address_check("", 1, NULL, 0) == 0 &&
	      mxc_address_check("", 0, NULL, 0) == -1 &&
	      mxc_address_check("", 42, NULL, 0) == 0,
	      "mxc_address_check null_ok");
}

/* address_domain() and address_is_utf8(). */
static void
test_helpers(void)
{
	CHECK(strcmp(address_domain("a@example.com"), "example.com") == 0,
	      "domain");
	CHECK(strcmp(address_domain("\"a@b\"@x.example"), "x.example") == 0,
	      "domain after a quoted @");
	CHECK(strcmp(address_domain(""), "") == 0, "domain of \"\"");
	CHECK(!address_is_utf8("a@example.com") && !address_is_utf8(""),
	      "ASCII is not UTF-8");
	CHECK(address_is_utf8("caf\xc3\xa9@example.com"), "UTF-8 local part");
	CHECK(address_is_utf8("\"\xc3\xa9\"@example.com"), "UTF-8 quoted");
}

/* EHLO names: host names and address literals only. */
static void
test_helo(void)
{
	static const struct {
		const char *name;
		int want;
	} helo_cases[] = {
		{ "mail.example.com", 0 }, { "localhost", 0 },
		{ "[192.0.2.1]", 0 }, { "[IPv6:2001:db8::1]", 0 },
		{ "[IPv6:::1]", 0 },
		{ "a\r\nRSET", -1 }, { "a\nb", -1 }, { "a\rb", -1 },
		{ "a b", -1 }, { "", -1 }, { "mail.example.com.", -1 },
		{ "-bad.example", -1 }, { "bad_name.example", -1 },
		{ "caf\xc3\xa9.example", -1 }, { "[192.0.2.256]", -1 },
		{ "[2001:db8::1]", -1 }, { "[IPv6:192.0.2.1]", -1 },
		{ "[192.0.2.1", -1 }, { "192.0.2.1]", -1 }, { "[]", -1 },
		{ "[ 192.0.2.1]", -1 }, { "[192.0.2.1]x", -1 },
	};
	char why[200];

	for (size_t i = 0; i < sizeof(helo_cases) / sizeof(helo_cases[0]); i++) {
		why[0] = '\0';
		int got = address_check_helo(helo_cases[i].name, why, sizeof(why));
		CHECK(got == helo_cases[i].want, "helo case %zu: got %d, want %d (%s)",
		      i, got, helo_cases[i].want, why);
		CHECK(got == 0 || (why[0] != '\0' && !strchr(why, '\r') &&
		                   !strchr(why, '\n')),
		      "helo case %zu: reason missing or not one line", i);
	}
	CHECK(address_check_helo(NULL, why, sizeof(why)) == -1, "NULL");
	/* Longer than any host name may be. */
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(address_check_helo(longname, why, sizeof(why)) == -1, "long");
}

/* Runs every test; exits non-zero on any failure. */
int
main(void)
{
	test_table();
	test_lengths();
	test_every_byte();
	test_arguments();
	test_helpers();
	test_helo();
	if (failures > 0) {
		fprintf(stderr, "test_address: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_address: %zu table cases, lengths, every byte: ok\n",
	       sizeof(cases) / sizeof(cases[0]));
	return 0;
}
