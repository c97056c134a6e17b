/*
 * socks5: builds the SOCKS5 client messages and parses the proxy's answers
 * (RFC 1928 method selection and CONNECT, RFC 1929 username/password).  No
 * I/O and no allocation: the transport layer moves the bytes, this file only
 * says what they are.  Every reply comes from the network, so each byte is
 * checked before it is believed, and the CONNECT reply's length is worked out
 * step by step so the caller never reads past it into the SMTP stream.
 */
#include "socks5.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SOCKS5_VERSION 0x05
/* RFC 1929 2: the version of the username/password subnegotiation. */
#define SOCKS5_AUTH_VERSION 0x01

#define SOCKS5_METHOD_NONE 0x00
#define SOCKS5_METHOD_PASSWORD 0x02
#define SOCKS5_METHOD_UNACCEPTABLE 0xff

#define SOCKS5_CMD_CONNECT 0x01

#define SOCKS5_ATYP_IPV4 0x01
#define SOCKS5_ATYP_DOMAIN 0x03
#define SOCKS5_ATYP_IPV6 0x04

/* VER REP RSV ATYP, then the address, then a 2-byte port. */
#define SOCKS5_REPLY_HEAD 4
/* The head plus the domain length octet: enough to know any reply's size. */
#define SOCKS5_REPLY_PROBE 5

/* RFC 1928 6: the meaning of each REP code, by code (0 is success). */
static const char *const reply_text[] = {
	NULL,
	"general SOCKS server failure",
	"connection not allowed by ruleset",
	"network unreachable",
	"host unreachable",
	"connection refused",
	"TTL expired",
	"command not supported",
	"address type not supported",
};

static void set_why(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Formats a one-line reason into why when there is room for any. */
static void
set_why(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why == NULL || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

/* Empties why so a caller never finds a stale or unterminated reason. */
static void
clear_why(char *why, size_t whylen)
{
	if (why != NULL && whylen > 0)
		why[0] = '\0';
}

/* Writes a 16-bit value in network byte order at out. */
static void
put_u16(uint8_t *out, uint16_t value)
{
	out[0] = (uint8_t)(value >> 8);
	out[1] = (uint8_t)(value & 0xff);
}

/* Builds the method-selection greeting (RFC 1928 3); returns its length. */
size_t
socks5_greeting(bool with_password, uint8_t *out)
{
	size_t n = 0;

	out[n++] = SOCKS5_VERSION;
	out[n++] = with_password ? 2 : 1;
	/* "No authentication" first: we prefer it when the proxy allows it. */
	out[n++] = SOCKS5_METHOD_NONE;
	if (with_password)
		out[n++] = SOCKS5_METHOD_PASSWORD;
	return n;
}

/* Parses the method-selection reply; the method must be one we offered. */
enum socks5_parse
socks5_parse_method(const uint8_t *in, size_t len, bool with_password,
                    uint8_t *method, char *why, size_t whylen)
{
	clear_why(why, whylen);
	if (len < 2)
		return SOCKS5_NEED_MORE;
	if (in[0] != SOCKS5_VERSION) {
		set_why(why, whylen, "malformed reply (version %u)",
		        (unsigned)in[0]);
		return SOCKS5_FAIL;
	}
	if (in[1] == SOCKS5_METHOD_UNACCEPTABLE) {
		set_why(why, whylen,
		        "proxy accepts none of our authentication methods");
		return SOCKS5_FAIL;
	}
	/* With a password offered, "none" is still fine: nothing to send. */
	if (in[1] != SOCKS5_METHOD_NONE &&
	    !(with_password && in[1] == SOCKS5_METHOD_PASSWORD)) {
		set_why(why, whylen,
		        "proxy chose authentication method 0x%02x, which we "
		        "did not offer", (unsigned)in[1]);
		return SOCKS5_FAIL;
	}
	if (method != NULL)
		*method = in[1];
	return SOCKS5_OK;
}

/* Builds the RFC 1929 request; 0 when a credential is empty or too long. */
size_t
socks5_auth_request(const char *user, const char *password, uint8_t *out)
{
	size_t ulen, plen, n = 0;

	if (user == NULL || password == NULL)
		return 0;
	/* strnlen: a caller's runaway string costs at most 256 bytes. */
	ulen = strnlen(user, SOCKS5_CRED_MAX + 1);
	plen = strnlen(password, SOCKS5_CRED_MAX + 1);
	if (ulen == 0 || ulen > SOCKS5_CRED_MAX || plen == 0 ||
	    plen > SOCKS5_CRED_MAX)
		return 0;
	out[n++] = SOCKS5_AUTH_VERSION;
	out[n++] = (uint8_t)ulen;
	memcpy(out + n, user, ulen);
	n += ulen;
	out[n++] = (uint8_t)plen;
	memcpy(out + n, password, plen);
	n += plen;
	return n;
}

/* Parses the RFC 1929 reply: VER then STATUS, 0 meaning success. */
enum socks5_parse
socks5_parse_auth(const uint8_t *in, size_t len, char *why, size_t whylen)
{
	clear_why(why, whylen);
	if (len < 2)
		return SOCKS5_NEED_MORE;
	/*
	 * RFC 1929 says VER is 1, but some servers answer with the SOCKS
	 * version 5 instead; the status octet means the same either way.
	 */
	if (in[0] != SOCKS5_AUTH_VERSION && in[0] != SOCKS5_VERSION) {
		set_why(why, whylen, "malformed reply (version %u)",
		        (unsigned)in[0]);
		return SOCKS5_FAIL;
	}
	if (in[1] != 0) {
		set_why(why, whylen,
		        "proxy refused the user name or password (status %u)",
		        (unsigned)in[1]);
		return SOCKS5_FAIL;
	}
	return SOCKS5_OK;
}

/* Builds CONNECT to an IPv4 or IPv6 address; 0 for any other family. */
size_t
socks5_connect_request(const struct sockaddr_storage *addr, uint16_t port,
                       uint8_t *out)
{
	size_t n = 0;

	if (addr == NULL)
		return 0;
	if (addr->ss_family != AF_INET && addr->ss_family != AF_INET6)
		return 0;
	out[n++] = SOCKS5_VERSION;
	out[n++] = SOCKS5_CMD_CONNECT;
	out[n++] = 0x00; /* RSV */
	if (addr->ss_family == AF_INET) {
		const struct sockaddr_in *sin =
			(const struct sockaddr_in *)addr;

		out[n++] = SOCKS5_ATYP_IPV4;
		/* sin_addr is already in network order. */
		memcpy(out + n, &sin->sin_addr, 4);
		n += 4;
	} else {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)addr;

		out[n++] = SOCKS5_ATYP_IPV6;
		memcpy(out + n, &sin6->sin6_addr, 16);
		n += 16;
	}
	put_u16(out + n, port);
	n += 2;
	return n;
}

/*
 * Checks the CONNECT reply (RFC 1928 6) in `in`, setting *total to as much
 * of its length as the bytes so far tell.  The layout is checked byte by
 * byte as it arrives, so a reply that is already wrong (not version 5, RSV
 * not 0, an address type that does not exist) fails without waiting for the
 * rest.  The REP code is judged only once the reply is complete, as the
 * header promises.
 *
 * How *total grows: no reply is shorter than 7 bytes (a domain of length 0),
 * so asking for 5 before the address type is known never reads too far.  At
 * 4 bytes the type gives the length for IPv4 (10) and IPv6 (22); a domain
 * needs byte 4, its length, so we ask for 5 and then for 5 + len + 2.
 */
static enum socks5_parse
check_connect(const uint8_t *in, size_t len, size_t *total, char *why,
              size_t whylen)
{
	*total = SOCKS5_REPLY_PROBE;
	if (len >= 1 && in[0] != SOCKS5_VERSION) {
		set_why(why, whylen, "malformed reply (version %u)",
		        (unsigned)in[0]);
		return SOCKS5_FAIL;
	}
	if (len >= 3 && in[2] != 0x00) {
		set_why(why, whylen, "malformed reply (reserved octet %u)",
		        (unsigned)in[2]);
		return SOCKS5_FAIL;
	}
	if (len < SOCKS5_REPLY_HEAD)
		return SOCKS5_NEED_MORE;
	switch (in[3]) {
	case SOCKS5_ATYP_IPV4:
		*total = SOCKS5_REPLY_HEAD + 4 + 2;
		break;
	case SOCKS5_ATYP_IPV6:
		*total = SOCKS5_REPLY_HEAD + 16 + 2;
		break;
	case SOCKS5_ATYP_DOMAIN:
		/* A server may name its bound address; we only skip it. */
		if (len >= SOCKS5_REPLY_PROBE)
			*total = SOCKS5_REPLY_PROBE + (size_t)in[4] + 2;
		break;
	default:
		set_why(why, whylen, "malformed reply (address type %u)",
		        (unsigned)in[3]);
		return SOCKS5_FAIL;
	}
	if (len < *total)
		return SOCKS5_NEED_MORE;
	if (in[1] == 0x00)
		return SOCKS5_OK;
	if (in[1] < sizeof(reply_text) / sizeof(reply_text[0]))
		set_why(why, whylen, "%s (SOCKS reply %u)", reply_text[in[1]],
		        (unsigned)in[1]);
	else
		set_why(why, whylen, "unknown reply code %u", (unsigned)in[1]);
	return SOCKS5_FAIL;
}

/*
 * Parses the CONNECT reply.  *need is set whatever the outcome: with
 * SOCKS5_NEED_MORE it is the length to read up to, with SOCKS5_OK the number
 * of bytes of `in` the reply took (anything after them is the next
 * protocol's), with SOCKS5_FAIL as much of the length as was known.
 */
enum socks5_parse
socks5_parse_connect(const uint8_t *in, size_t len, size_t *need, char *why,
                     size_t whylen)
{
	size_t total;
	enum socks5_parse result;

	clear_why(why, whylen);
	result = check_connect(in, len, &total, why, whylen);
	if (need != NULL)
		*need = total;
	return result;
}
