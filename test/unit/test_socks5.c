/*
 * test_socks5: the SOCKS5 messages against hand-written bytes.  Greetings,
 * RFC 1929 requests and CONNECT requests are compared byte for byte; the
 * three reply parsers run on tables of replies (every REP code, every
 * address type, wrong versions and reserved octets) and on every prefix of
 * each reply, each copied into a buffer of exactly its size so the address
 * sanitizer catches a read past what the proxy has sent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "socks5.h"

#include "check.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* Fills output buffers so bytes a builder should not touch can be seen. */
#define POISON 0xa5
/* Room for any reason the parsers write. */
#define WHY_MAX 128

/* Copies len bytes into a heap block of exactly len bytes (ASan-checked). */
static uint8_t *
exact_copy(const uint8_t *in, size_t len)
{
	uint8_t *p = malloc(len == 0 ? 1 : len);

	if (p == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	if (len > 0)
		memcpy(p, in, len);
	return p;
}

/* True when why holds a NUL within its whylen bytes. */
static bool
terminated(const char *why, size_t whylen)
{
	return memchr(why, '\0', whylen) != NULL;
}

/* Name of a parse result, for messages. */
static const char *
result_name(enum socks5_parse r)
{
	switch (r) {
	case SOCKS5_NEED_MORE:
		return "NEED_MORE";
	case SOCKS5_OK:
		return "OK";
	case SOCKS5_FAIL:
		return "FAIL";
	}
	return "?";
}

/* --- greeting ----------------------------------------------------------- */

/* One greeting case: the flag and the exact bytes expected. */
struct greeting_case {
	bool with_password;
	size_t len;
	uint8_t want[4];
};

static const struct greeting_case greeting_cases[] = {
	{ false, 3, { 0x05, 0x01, 0x00 } },
	{ true, 4, { 0x05, 0x02, 0x00, 0x02 } },
};

/* Greetings byte for byte, and nothing written past them. */
static void
test_greeting(void)
{
	size_t i, j;

	for (i = 0; i < COUNT(greeting_cases); i++) {
		const struct greeting_case *c = &greeting_cases[i];
		uint8_t out[SOCKS5_MSG_MAX];
		size_t n;

		memset(out, POISON, sizeof(out));
		n = socks5_greeting(c->with_password, out);
		CHECK(n == c->len, "greeting(%d): length %zu, want %zu",
		      c->with_password, n, c->len);
		CHECK(memcmp(out, c->want, c->len) == 0,
		      "greeting(%d): wrong bytes", c->with_password);
		for (j = c->len; j < sizeof(out); j++)
			if (out[j] != POISON)
				break;
		CHECK(j == sizeof(out), "greeting(%d): wrote byte %zu",
		      c->with_password, j);
	}
}

/* --- method selection --------------------------------------------------- */

/* One method reply: bytes, whether we offered a password, the outcome. */
struct method_case {
	uint8_t in[2];
	size_t len;
	bool with_password;
	enum socks5_parse want;
	uint8_t method;        /* when SOCKS5_OK */
	const char *why;       /* substring expected when SOCKS5_FAIL */
};

static const struct method_case method_cases[] = {
	/* incomplete */
	{ { 0 }, 0, false, SOCKS5_NEED_MORE, 0, NULL },
	{ { 0 }, 0, true, SOCKS5_NEED_MORE, 0, NULL },
	{ { 0x05 }, 1, false, SOCKS5_NEED_MORE, 0, NULL },
	{ { 0x05 }, 1, true, SOCKS5_NEED_MORE, 0, NULL },
	/* offered "none" only */
	{ { 0x05, 0x00 }, 2, false, SOCKS5_OK, 0x00, NULL },
	{ { 0x05, 0x02 }, 2, false, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0x01 }, 2, false, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0x03 }, 2, false, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0x80 }, 2, false, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0xfe }, 2, false, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0xff }, 2, false, SOCKS5_FAIL, 0,
	  "proxy accepts none of our authentication methods" },
	/* offered "none" and "username/password" */
	{ { 0x05, 0x00 }, 2, true, SOCKS5_OK, 0x00, NULL },
	{ { 0x05, 0x02 }, 2, true, SOCKS5_OK, 0x02, NULL },
	{ { 0x05, 0x01 }, 2, true, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0x03 }, 2, true, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0xfe }, 2, true, SOCKS5_FAIL, 0, "did not offer" },
	{ { 0x05, 0xff }, 2, true, SOCKS5_FAIL, 0,
	  "proxy accepts none of our authentication methods" },
	/* wrong version, even with an acceptable method */
	{ { 0x04, 0x00 }, 2, false, SOCKS5_FAIL, 0, "malformed reply" },
	{ { 0x04, 0x02 }, 2, true, SOCKS5_FAIL, 0, "malformed reply" },
	{ { 0x00, 0x00 }, 2, false, SOCKS5_FAIL, 0, "malformed reply" },
	{ { 0x01, 0x00 }, 2, true, SOCKS5_FAIL, 0, "malformed reply" },
	{ { 0x06, 0x00 }, 2, false, SOCKS5_FAIL, 0, "malformed reply" },
	{ { 0xff, 0x00 }, 2, true, SOCKS5_FAIL, 0, "malformed reply" },
	{ { 'H', 'T' }, 2, false, SOCKS5_FAIL, 0, "malformed reply" },
};

/* The method table, each reply also tried one byte short. */
static void
test_method_table(void)
{
	size_t i;

	for (i = 0; i < COUNT(method_cases); i++) {
		const struct method_case *c = &method_cases[i];
		uint8_t *in = exact_copy(c->in, c->len);
		uint8_t method = 0x77;
		char why[WHY_MAX];
		enum socks5_parse r;

		memset(why, 'X', sizeof(why));
		r = socks5_parse_method(in, c->len, c->with_password, &method,
		                        why, sizeof(why));
		CHECK(r == c->want, "method case %zu: %s, want %s", i,
		      result_name(r), result_name(c->want));
		CHECK(terminated(why, sizeof(why)),
		      "method case %zu: why not terminated", i);
		if (c->want == SOCKS5_OK)
			CHECK(method == c->method,
			      "method case %zu: method %u, want %u", i,
			      (unsigned)method, (unsigned)c->method);
		if (c->want == SOCKS5_FAIL && terminated(why, sizeof(why)))
			CHECK(strstr(why, c->why) != NULL,
			      "method case %zu: why \"%s\" lacks \"%s\"", i, why,
			      c->why);
		if (c->len == 2) {
			r = socks5_parse_method(in, 1, c->with_password,
			                        &method, why, sizeof(why));
			CHECK(r == SOCKS5_NEED_MORE,
			      "method case %zu cut to 1: %s", i,
			      result_name(r));
		}
		free(in);
	}
}

/* Every method octet under both offers: only what we offered passes. */
static void
test_method_sweep(void)
{
	unsigned m;
	int pw;

	for (pw = 0; pw <= 1; pw++) {
		for (m = 0; m <= 0xff; m++) {
			uint8_t in[2] = { 0x05, (uint8_t)m };
			bool offered = m == 0x00 || (pw && m == 0x02);
			uint8_t method = 0x77;
			char why[WHY_MAX];
			enum socks5_parse r;

			r = socks5_parse_method(in, 2, pw, &method, why,
			                        sizeof(why));
			CHECK(r == (offered ? SOCKS5_OK : SOCKS5_FAIL),
			      "method 0x%02x (password %d): %s", m, pw,
			      result_name(r));
			if (offered)
				CHECK(method == m && why[0] == '\0',
				      "method 0x%02x: got %u, why \"%s\"", m,
				      (unsigned)method, why);
			else
				CHECK(why[0] != '\0',
				      "method 0x%02x: no reason", m);
		}
	}
}

/* --- RFC 1929 request --------------------------------------------------- */

/* One credential-length case: lengths of user and password, the result. */
struct cred_case {
	size_t ulen;
	size_t plen;
	bool ok;
};

static const struct cred_case cred_cases[] = {
	{ 0, 0, false },     { 0, 1, false },     { 1, 0, false },
	{ 1, 1, true },      { 1, 255, true },    { 255, 1, true },
	{ 255, 255, true },  { 256, 1, false },   { 1, 256, false },
	{ 256, 256, false }, { 0, 255, false },   { 255, 0, false },
	{ 255, 256, false }, { 256, 255, false }, { 1000, 1, false },
	{ 17, 42, true },
};

/* Credential lengths at and around the bounds, layout checked in full. */
static void
test_auth_lengths(void)
{
	size_t i, j;

	for (i = 0; i < COUNT(cred_cases); i++) {
		const struct cred_case *c = &cred_cases[i];
		char user[1001], password[1001];
		uint8_t out[SOCKS5_MSG_MAX + 16];
		size_t n, want = c->ok ? 3 + c->ulen + c->plen : 0;

		memset(user, 'u', c->ulen);
		user[c->ulen] = '\0';
		memset(password, 'p', c->plen);
		password[c->plen] = '\0';
		memset(out, POISON, sizeof(out));
		n = socks5_auth_request(user, password, out);
		CHECK(n == want, "auth %zu/%zu: length %zu, want %zu",
		      c->ulen, c->plen, n, want);
		CHECK(n <= SOCKS5_MSG_MAX, "auth %zu/%zu: %zu > MSG_MAX",
		      c->ulen, c->plen, n);
		if (!c->ok || n != want)
			continue;
		CHECK(out[0] == 0x01 && out[1] == c->ulen &&
		      out[2 + c->ulen] == c->plen,
		      "auth %zu/%zu: wrong header octets", c->ulen, c->plen);
		for (j = 0; j < c->ulen; j++)
			if (out[2 + j] != 'u')
				break;
		CHECK(j == c->ulen, "auth %zu/%zu: user bytes", c->ulen,
		      c->plen);
		for (j = 0; j < c->plen; j++)
			if (out[3 + c->ulen + j] != 'p')
				break;
		CHECK(j == c->plen, "auth %zu/%zu: password bytes", c->ulen,
		      c->plen);
		for (j = n; j < sizeof(out); j++)
			if (out[j] != POISON)
				break;
		CHECK(j == sizeof(out), "auth %zu/%zu: wrote byte %zu",
		      c->ulen, c->plen, j);
	}
}

/* Small requests byte for byte, and NULL credentials refused. */
static void
test_auth_bytes(void)
{
	static const uint8_t want1[] = { 0x01, 0x01, 'u', 0x02, 'p', 'w' };
	static const uint8_t want2[] = {
		0x01, 0x05, 'a', 'l', 'i', 'c', 'e',
		0x07, 's', '3', 'c', 'r', 'e', 't', '!',
	};
	uint8_t out[SOCKS5_MSG_MAX];
	size_t n;

	n = socks5_auth_request("u", "pw", out);
	CHECK(n == sizeof(want1) && memcmp(out, want1, n) == 0,
	      "auth u/pw: wrong bytes (length %zu)", n);
	n = socks5_auth_request("alice", "s3cret!", out);
	CHECK(n == sizeof(want2) && memcmp(out, want2, n) == 0,
	      "auth alice: wrong bytes (length %zu)", n);
	CHECK(socks5_auth_request(NULL, "pw", out) == 0, "NULL user taken");
	CHECK(socks5_auth_request("u", NULL, out) == 0,
	      "NULL password taken");
}

/* --- RFC 1929 reply ----------------------------------------------------- */

/* One RFC 1929 reply and its outcome. */
struct auth_case {
	uint8_t in[2];
	size_t len;
	enum socks5_parse want;
	const char *why;
};

static const struct auth_case auth_cases[] = {
	{ { 0 }, 0, SOCKS5_NEED_MORE, NULL },
	{ { 0x01 }, 1, SOCKS5_NEED_MORE, NULL },
	{ { 0x05 }, 1, SOCKS5_NEED_MORE, NULL },
	{ { 0x01, 0x00 }, 2, SOCKS5_OK, NULL },
	{ { 0x05, 0x00 }, 2, SOCKS5_OK, NULL }, /* servers that say 5 */
	{ { 0x01, 0x01 }, 2, SOCKS5_FAIL,
	  "proxy refused the user name or password" },
	{ { 0x01, 0xff }, 2, SOCKS5_FAIL,
	  "proxy refused the user name or password" },
	{ { 0x05, 0x02 }, 2, SOCKS5_FAIL,
	  "proxy refused the user name or password" },
	{ { 0x00, 0x00 }, 2, SOCKS5_FAIL, "malformed reply" },
	{ { 0x02, 0x00 }, 2, SOCKS5_FAIL, "malformed reply" },
	{ { 0x04, 0x00 }, 2, SOCKS5_FAIL, "malformed reply" },
	{ { 0xff, 0x00 }, 2, SOCKS5_FAIL, "malformed reply" },
};

/* The RFC 1929 reply table. */
static void
test_auth_reply(void)
{
	size_t i;

	for (i = 0; i < COUNT(auth_cases); i++) {
		const struct auth_case *c = &auth_cases[i];
		uint8_t *in = exact_copy(c->in, c->len);
		char why[WHY_MAX];
		enum socks5_parse r;

		memset(why, 'X', sizeof(why));
		r = socks5_parse_auth(in, c->len, why, sizeof(why));
		CHECK(r == c->want, "auth reply %zu: %s, want %s", i,
		      result_name(r), result_name(c->want));
		CHECK(terminated(why, sizeof(why)),
		      "auth reply %zu: why not terminated", i);
		if (c->want != SOCKS5_FAIL)
			CHECK(why[0] == '\0', "auth reply %zu: why \"%s\"", i,
			      why);
		else if (terminated(why, sizeof(why)))
			CHECK(strstr(why, c->why) != NULL,
			      "auth reply %zu: why \"%s\" lacks \"%s\"", i, why,
			      c->why);
		free(in);
	}
}

/* --- CONNECT request ---------------------------------------------------- */

/* One CONNECT request: family, address text, port, the exact bytes. */
struct request_case {
	int family;
	const char *addr;
	uint16_t port;
	size_t len;
	uint8_t want[22];
};

static const struct request_case request_cases[] = {
	{ AF_INET, "192.0.2.1", 25, 10,
	  { 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x00, 0x19 } },
	{ AF_INET, "192.0.2.1", 1, 10,
	  { 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0x00, 0x01 } },
	{ AF_INET, "192.0.2.1", 65535, 10,
	  { 0x05, 0x01, 0x00, 0x01, 192, 0, 2, 1, 0xff, 0xff } },
	{ AF_INET, "0.0.0.0", 25, 10,
	  { 0x05, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0x00, 0x19 } },
	{ AF_INET, "255.254.253.252", 587, 10,
	  { 0x05, 0x01, 0x00, 0x01, 255, 254, 253, 252, 0x02, 0x4b } },
	{ AF_INET6, "2001:db8::1", 25, 22,
	  { 0x05, 0x01, 0x00, 0x04,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	    0x00, 0x19 } },
	{ AF_INET6, "2001:db8::1", 1, 22,
	  { 0x05, 0x01, 0x00, 0x04,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	    0x00, 0x01 } },
	{ AF_INET6, "2001:db8::1", 65535, 22,
	  { 0x05, 0x01, 0x00, 0x04,
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	    0xff, 0xff } },
	{ AF_INET6, "fe80:1:2:3:4:5:6:7", 465, 22,
	  { 0x05, 0x01, 0x00, 0x04,
	    0xfe, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x03,
	    0x00, 0x04, 0x00, 0x05, 0x00, 0x06, 0x00, 0x07,
	    0x01, 0xd1 } },
	{ AF_INET6, "::ffff:192.0.2.1", 25, 22,
	  { 0x05, 0x01, 0x00, 0x04,
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1,
	    0x00, 0x19 } },
};

/* CONNECT requests byte for byte, nothing written past them. */
static void
test_connect_request(void)
{
	size_t i, j;

	for (i = 0; i < COUNT(request_cases); i++) {
		const struct request_case *c = &request_cases[i];
		struct sockaddr_storage ss;
		uint8_t out[SOCKS5_MSG_MAX];
		size_t n;
		int ok;

		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)c->family;
		if (c->family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_port = htons(9); /* must be ignored */
			ok = inet_pton(AF_INET, c->addr, &sin->sin_addr);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_port = htons(9);
			ok = inet_pton(AF_INET6, c->addr, &sin6->sin6_addr);
		}
		CHECK(ok == 1, "request %zu: bad test address %s", i, c->addr);
		memset(out, POISON, sizeof(out));
		n = socks5_connect_request(&ss, c->port, out);
		CHECK(n == c->len, "request %s port %u: length %zu, want %zu",
		      c->addr, (unsigned)c->port, n, c->len);
		for (j = 0; j < c->len; j++)
			if (out[j] != c->want[j])
				break;
		CHECK(j == c->len,
		      "request %s port %u: byte %zu is 0x%02x, want 0x%02x",
		      c->addr, (unsigned)c->port, j,
		      j < c->len ? out[j] : 0, j < c->len ? c->want[j] : 0);
		for (j = c->len; j < sizeof(out); j++)
			if (out[j] != POISON)
				break;
		CHECK(j == sizeof(out), "request %s: wrote byte %zu", c->addr,
		      j);
	}
}

/* Families other than IPv4 and IPv6 build nothing. */
static void
test_connect_request_family(void)
{
	static const int families[] = { AF_UNSPEC, AF_UNIX, AF_APPLETALK };
	struct sockaddr_storage ss;
	uint8_t out[SOCKS5_MSG_MAX];
	size_t i, j;

	for (i = 0; i < COUNT(families); i++) {
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = (sa_family_t)families[i];
		memset(out, POISON, sizeof(out));
		CHECK(socks5_connect_request(&ss, 25, out) == 0,
		      "family %d accepted", families[i]);
		for (j = 0; j < sizeof(out); j++)
			if (out[j] != POISON)
				break;
		CHECK(j == sizeof(out), "family %d: wrote byte %zu",
		      families[i], j);
	}
	CHECK(socks5_connect_request(NULL, 25, out) == 0,
	      "NULL address accepted");
}

/* --- CONNECT reply ------------------------------------------------------ */

/* Longest reply: a 255-octet domain. */
#define REPLY_MAX (5 + 255 + 2)

/* One complete, well-formed CONNECT reply of some address type. */
struct shape_case {
	const char *name;
	uint8_t atyp;
	size_t domain_len;    /* ATYP 3 only */
	size_t full;          /* length of the whole reply */
	size_t need_at_4;     /* `need` once VER REP RSV ATYP are known */
};

static const struct shape_case shape_cases[] = {
	{ "IPv4", 0x01, 0, 10, 10 },
	{ "IPv6", 0x04, 0, 22, 22 },
	{ "domain 0", 0x03, 0, 7, 5 },
	{ "domain 1", 0x03, 1, 8, 5 },
	{ "domain 5", 0x03, 5, 12, 5 },
	{ "domain 11", 0x03, 11, 18, 5 },
	{ "domain 15", 0x03, 15, 22, 5 },
	{ "domain 254", 0x03, 254, 261, 5 },
	{ "domain 255", 0x03, 255, 262, 5 },
};

/* Fills `out` with a reply of the given shape and REP code; its length. */
static size_t
make_reply(const struct shape_case *s, uint8_t rep, uint8_t *out)
{
	size_t n = 0, i;

	out[n++] = 0x05;
	out[n++] = rep;
	out[n++] = 0x00;
	out[n++] = s->atyp;
	if (s->atyp == 0x01) {
		for (i = 0; i < 4; i++)
			out[n++] = (uint8_t)(10 + i);
	} else if (s->atyp == 0x04) {
		for (i = 0; i < 16; i++)
			out[n++] = (uint8_t)(0x20 + i);
	} else {
		out[n++] = (uint8_t)s->domain_len;
		for (i = 0; i < s->domain_len; i++)
			out[n++] = (uint8_t)('a' + i % 26);
	}
	out[n++] = 0x04; /* BND.PORT 1080 */
	out[n++] = 0x38;
	return n;
}

/* The `need` a prefix of `len` bytes of this shape must give. */
static size_t
want_need(const struct shape_case *s, size_t len)
{
	if (len < 4)
		return 5;
	if (len == 4)
		return s->need_at_4;
	return s->full;
}

/*
 * Every prefix of every shape: NEED_MORE with the right `need`, which is
 * always past what we have and never past the reply; then the whole reply,
 * alone and with the SMTP greeting behind it.
 */
static void
test_connect_prefixes(void)
{
	static const uint8_t behind[] = "220 mx.example ESMTP\r\n";
	size_t i, len;

	for (i = 0; i < COUNT(shape_cases); i++) {
		const struct shape_case *s = &shape_cases[i];
		uint8_t reply[REPLY_MAX + sizeof(behind)];
		size_t full = make_reply(s, 0x00, reply);

		CHECK(full == s->full, "%s: built %zu bytes, table says %zu",
		      s->name, full, s->full);
		for (len = 0; len < full; len++) {
			uint8_t *in = exact_copy(reply, len);
			size_t need = 12345;
			char why[WHY_MAX];
			enum socks5_parse r;

			memset(why, 'X', sizeof(why));
			r = socks5_parse_connect(in, len, &need, why,
			                         sizeof(why));
			CHECK(r == SOCKS5_NEED_MORE, "%s cut to %zu: %s",
			      s->name, len, result_name(r));
			CHECK(need == want_need(s, len),
			      "%s cut to %zu: need %zu, want %zu", s->name, len,
			      need, want_need(s, len));
			CHECK(need > len && need <= full,
			      "%s cut to %zu: need %zu outside (%zu, %zu]",
			      s->name, len, need, len, full);
			CHECK(why[0] == '\0', "%s cut to %zu: why set",
			      s->name, len);
			free(in);
		}

		/* Complete, exactly. */
		{
			uint8_t *in = exact_copy(reply, full);
			size_t need = 12345;
			char why[WHY_MAX];
			enum socks5_parse r;

			memset(why, 'X', sizeof(why));
			r = socks5_parse_connect(in, full, &need, why,
			                         sizeof(why));
			CHECK(r == SOCKS5_OK, "%s whole: %s", s->name,
			      result_name(r));
			CHECK(need == full, "%s whole: need %zu, want %zu",
			      s->name, need, full);
			CHECK(why[0] == '\0', "%s whole: why set", s->name);
			free(in);
		}

		/* Complete, with the next protocol's bytes behind it. */
		{
			size_t total = full + sizeof(behind) - 1;
			uint8_t *in;
			size_t need = 12345;
			enum socks5_parse r;

			memcpy(reply + full, behind, sizeof(behind) - 1);
			in = exact_copy(reply, total);
			r = socks5_parse_connect(in, total, &need, NULL, 0);
			CHECK(r == SOCKS5_OK, "%s + greeting: %s", s->name,
			      result_name(r));
			CHECK(need == full, "%s + greeting: need %zu, want %zu",
			      s->name, need, full);
			free(in);
		}
	}
}

/* One REP code and the reason it must give. */
struct rep_case {
	uint8_t rep;
	enum socks5_parse want;
	const char *why;
};

static const struct rep_case rep_cases[] = {
	{ 0, SOCKS5_OK, "" },
	{ 1, SOCKS5_FAIL, "general SOCKS server failure (SOCKS reply 1)" },
	{ 2, SOCKS5_FAIL,
	  "connection not allowed by ruleset (SOCKS reply 2)" },
	{ 3, SOCKS5_FAIL, "network unreachable (SOCKS reply 3)" },
	{ 4, SOCKS5_FAIL, "host unreachable (SOCKS reply 4)" },
	{ 5, SOCKS5_FAIL, "connection refused (SOCKS reply 5)" },
	{ 6, SOCKS5_FAIL, "TTL expired (SOCKS reply 6)" },
	{ 7, SOCKS5_FAIL, "command not supported (SOCKS reply 7)" },
	{ 8, SOCKS5_FAIL, "address type not supported (SOCKS reply 8)" },
	{ 9, SOCKS5_FAIL, "unknown reply code 9" },
	{ 10, SOCKS5_FAIL, "unknown reply code 10" },
	{ 0x7f, SOCKS5_FAIL, "unknown reply code 127" },
	{ 0x80, SOCKS5_FAIL, "unknown reply code 128" },
	{ 0xff, SOCKS5_FAIL, "unknown reply code 255" },
};

/*
 * Every REP code in the table, under every address shape: the exact reason,
 * and no verdict before the reply is complete.
 */
static void
test_connect_rep(void)
{
	size_t i, k, len;

	for (i = 0; i < COUNT(rep_cases); i++) {
		const struct rep_case *c = &rep_cases[i];

		for (k = 0; k < COUNT(shape_cases); k++) {
			const struct shape_case *s = &shape_cases[k];
			uint8_t reply[REPLY_MAX];
			size_t full = make_reply(s, c->rep, reply);
			uint8_t *in = exact_copy(reply, full);
			size_t need = 12345;
			char why[WHY_MAX];
			enum socks5_parse r;

			memset(why, 'X', sizeof(why));
			r = socks5_parse_connect(in, full, &need, why,
			                         sizeof(why));
			CHECK(r == c->want, "REP %u %s: %s, want %s",
			      (unsigned)c->rep, s->name, result_name(r),
			      result_name(c->want));
			CHECK(terminated(why, sizeof(why)) &&
			      strcmp(why, c->why) == 0,
			      "REP %u %s: why \"%.*s\", want \"%s\"",
			      (unsigned)c->rep, s->name, (int)sizeof(why), why,
			      c->why);
			CHECK(need == full, "REP %u %s: need %zu, want %zu",
			      (unsigned)c->rep, s->name, need, full);
			free(in);
			for (len = 0; len < full; len++) {
				r = socks5_parse_connect(reply, len, &need,
				                         NULL, 0);
				CHECK(r == SOCKS5_NEED_MORE,
				      "REP %u %s cut to %zu: %s",
				      (unsigned)c->rep, s->name, len,
				      result_name(r));
			}
		}
	}
}

/* All 256 REP octets: only 0 succeeds; each reason carries its number. */
static void
test_connect_rep_sweep(void)
{
	static const struct shape_case *s = &shape_cases[0];
	unsigned rep;

	for (rep = 0; rep <= 0xff; rep++) {
		uint8_t reply[REPLY_MAX];
		size_t full = make_reply(s, (uint8_t)rep, reply), need;
		char why[WHY_MAX], num[8];
		enum socks5_parse r;

		r = socks5_parse_connect(reply, full, &need, why, sizeof(why));
		snprintf(num, sizeof(num), "%u", rep);
		CHECK(r == (rep == 0 ? SOCKS5_OK : SOCKS5_FAIL),
		      "REP %u: %s", rep, result_name(r));
		if (rep != 0)
			CHECK(strstr(why, num) != NULL,
			      "REP %u: why \"%s\" lacks the code", rep, why);
	}
}

/* A malformed reply: bytes, and how soon it must be refused. */
struct malformed_case {
	const char *name;
	uint8_t in[10];
	size_t fail_at;       /* shortest prefix that is already FAIL */
	const char *why;
};

static const struct malformed_case malformed_cases[] = {
	{ "VER 4", { 0x04, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 25 }, 1,
	  "malformed reply (version 4)" },
	{ "VER 0", { 0x00, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 25 }, 1,
	  "malformed reply (version 0)" },
	{ "VER 6", { 0x06, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 25 }, 1,
	  "malformed reply (version 6)" },
	{ "VER 255", { 0xff, 0x00, 0x00, 0x01, 1, 2, 3, 4, 0, 25 }, 1,
	  "malformed reply (version 255)" },
	{ "VER 'H'", { 'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', '4' },
	  1, "malformed reply (version 72)" },
	{ "VER 4 REP 5", { 0x04, 0x05, 0x00, 0x01, 1, 2, 3, 4, 0, 25 }, 1,
	  "malformed reply (version 4)" },
	{ "RSV 1", { 0x05, 0x00, 0x01, 0x01, 1, 2, 3, 4, 0, 25 }, 3,
	  "malformed reply (reserved octet 1)" },
	{ "RSV 255", { 0x05, 0x00, 0xff, 0x01, 1, 2, 3, 4, 0, 25 }, 3,
	  "malformed reply (reserved octet 255)" },
	{ "RSV 1 REP 5", { 0x05, 0x05, 0x01, 0x01, 1, 2, 3, 4, 0, 25 }, 3,
	  "malformed reply (reserved octet 1)" },
	{ "ATYP 0", { 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 0, 25 }, 4,
	  "malformed reply (address type 0)" },
	{ "ATYP 2", { 0x05, 0x00, 0x00, 0x02, 1, 2, 3, 4, 0, 25 }, 4,
	  "malformed reply (address type 2)" },
	{ "ATYP 5", { 0x05, 0x00, 0x00, 0x05, 1, 2, 3, 4, 0, 25 }, 4,
	  "malformed reply (address type 5)" },
	{ "ATYP 255", { 0x05, 0x00, 0x00, 0xff, 1, 2, 3, 4, 0, 25 }, 4,
	  "malformed reply (address type 255)" },
	{ "ATYP 2 REP 5", { 0x05, 0x05, 0x00, 0x02, 1, 2, 3, 4, 0, 25 }, 4,
	  "malformed reply (address type 2)" },
};

/*
 * Malformed replies: NEED_MORE (need 5) until the bad octet arrives, FAIL
 * with the reason from then on, up to and past a full IPv4 reply's length.
 */
static void
test_connect_malformed(void)
{
	size_t i, len;

	for (i = 0; i < COUNT(malformed_cases); i++) {
		const struct malformed_case *c = &malformed_cases[i];

		for (len = 0; len <= sizeof(c->in); len++) {
			uint8_t *in = exact_copy(c->in, len);
			size_t need = 12345;
			char why[WHY_MAX];
			enum socks5_parse r;
			enum socks5_parse want = len < c->fail_at ?
				SOCKS5_NEED_MORE : SOCKS5_FAIL;

			memset(why, 'X', sizeof(why));
			r = socks5_parse_connect(in, len, &need, why,
			                         sizeof(why));
			CHECK(r == want, "%s at %zu: %s, want %s", c->name,
			      len, result_name(r), result_name(want));
			CHECK(terminated(why, sizeof(why)),
			      "%s at %zu: why not terminated", c->name, len);
			if (want == SOCKS5_NEED_MORE)
				CHECK(need == 5, "%s at %zu: need %zu", c->name,
				      len, need);
			else if (terminated(why, sizeof(why)))
				CHECK(strcmp(why, c->why) == 0,
				      "%s at %zu: why \"%s\", want \"%s\"",
				      c->name, len, why, c->why);
			free(in);
		}
	}
}

/* Short and absent reason buffers: still terminated, never overrun. */
static void
test_why_sizes(void)
{
	static const uint8_t refused[] = {
		0x05, 0x05, 0x00, 0x01, 192, 0, 2, 1, 0, 25,
	};
	static const uint8_t bad_method[] = { 0x05, 0xff };
	static const uint8_t bad_auth[] = { 0x01, 0x01 };
	size_t whylen;

	for (whylen = 1; whylen <= 12; whylen++) {
		char *why = malloc(whylen);
		size_t need;

		if (why == NULL)
			exit(2);
		memset(why, 'X', whylen);
		CHECK(socks5_parse_connect(refused, sizeof(refused), &need,
		                           why, whylen) == SOCKS5_FAIL,
		      "connect whylen %zu: not FAIL", whylen);
		CHECK(terminated(why, whylen) &&
		      strncmp(why, "connection refused", whylen - 1) == 0,
		      "connect whylen %zu: bad reason", whylen);
		memset(why, 'X', whylen);
		CHECK(socks5_parse_method(bad_method, 2, true, NULL, why,
		                          whylen) == SOCKS5_FAIL,
		      "method whylen %zu: not FAIL", whylen);
		CHECK(terminated(why, whylen), "method whylen %zu", whylen);
		memset(why, 'X', whylen);
		CHECK(socks5_parse_auth(bad_auth, 2, why, whylen) ==
		      SOCKS5_FAIL, "auth whylen %zu: not FAIL", whylen);
		CHECK(terminated(why, whylen), "auth whylen %zu", whylen);
		free(why);
	}
	/* NULL with length 0, for every parser and outcome. */
	CHECK(socks5_parse_connect(refused, sizeof(refused), NULL, NULL, 0) ==
	      SOCKS5_FAIL, "connect, no why: not FAIL");
	CHECK(socks5_parse_connect(refused, 3, NULL, NULL, 0) ==
	      SOCKS5_NEED_MORE, "connect cut, no why: not NEED_MORE");
	CHECK(socks5_parse_method(bad_method, 2, false, NULL, NULL, 0) ==
	      SOCKS5_FAIL, "method, no why: not FAIL");
	CHECK(socks5_parse_auth(bad_auth, 2, NULL, 0) == SOCKS5_FAIL,
	      "auth, no why: not FAIL");
}

/* A whole exchange as transport.c would run it, bytes in and out. */
static void
test_exchange(void)
{
	static const uint8_t server[] = {
		0x05, 0x02,                                 /* method */
		0x01, 0x00,                                 /* auth ok */
		0x05, 0x00, 0x00, 0x03, 0x03, 'p', 'x', 'y', 0x04, 0x38,
		'2', '2', '0', ' ',                         /* SMTP begins */
	};
	uint8_t out[SOCKS5_MSG_MAX], method = 0;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	size_t pos = 0, have, need = 0;
	char why[WHY_MAX];

	CHECK(socks5_greeting(true, out) == 4, "exchange: greeting");
	CHECK(socks5_parse_method(server, 2, true, &method, why,
	                          sizeof(why)) == SOCKS5_OK && method == 0x02,
	      "exchange: method");
	pos += 2;
	CHECK(socks5_auth_request("user", "pass", out) == 11,
	      "exchange: auth request");
	CHECK(socks5_parse_auth(server + pos, 2, why, sizeof(why)) ==
	      SOCKS5_OK, "exchange: auth reply");
	pos += 2;
	memset(&ss, 0, sizeof(ss));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0xc0000201);
	CHECK(socks5_connect_request(&ss, 25, out) == 10,
	      "exchange: connect request");
	/* Read exactly what `need` asks for, as the transport will. */
	have = 0;
	while (socks5_parse_connect(server + pos, have, &need, why,
	                            sizeof(why)) == SOCKS5_NEED_MORE) {
		CHECK(need > have && pos + need <= sizeof(server),
		      "exchange: need %zu at %zu", need, have);
		if (need <= have || pos + need > sizeof(server))
			return;
		have = need;
	}
	CHECK(have == 10 && need == 10, "exchange: reply took %zu/%zu", have,
	      need);
	if (have != 10)
		return;
	CHECK(memcmp(server + pos + have, "220 ", 4) == 0,
	      "exchange: SMTP bytes not left behind");
}

/* Runs every table; the exit status says whether all checks held. */
int
main(void)
{
	test_greeting();
	test_method_table();
	test_method_sweep();
	test_auth_lengths();
	test_auth_bytes();
	test_auth_reply();
	test_connect_request();
	test_connect_request_family();
	test_connect_prefixes();
	test_connect_rep();
	test_connect_rep_sweep();
	test_connect_malformed();
	test_why_sizes();
	test_exchange();
	return check_report();
}
