/*
 * socks5: the SOCKS5 client messages (RFC 1928 CONNECT, RFC 1929
 * username/password), built and parsed without I/O.  The proxy is told an
 * IP address, never a name, so no DNS question ever reaches it.
 */
#ifndef MXC_SOCKS5_H
#define MXC_SOCKS5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* RFC 1929: user name and password are 1..255 octets each. */
#define SOCKS5_CRED_MAX 255
/* Longest message we build (the RFC 1929 request: 3 + 255 + 255). */
#define SOCKS5_MSG_MAX 513

/* Outcome of parsing a reply that may still be incomplete. */
enum socks5_parse {
	SOCKS5_NEED_MORE, /* `need` says how many bytes the reply has in all */
	SOCKS5_OK,        /* complete and successful */
	SOCKS5_FAIL       /* complete and refusing, or malformed: see why */
};

/*
 * Builds the method-selection greeting: "no authentication", plus
 * "username/password" when with_password.  Returns its length.
 */
size_t socks5_greeting(bool with_password, uint8_t *out);

/*
 * Parses the server's method choice (2 bytes).  *method receives the chosen
 * method (0x00 none, 0x02 username/password).  A method we did not offer,
 * 0xFF ("no acceptable methods") or a wrong version is SOCKS5_FAIL.
 */
enum socks5_parse socks5_parse_method(const uint8_t *in, size_t len,
                                      bool with_password, uint8_t *method,
                                      char *why, size_t whylen);

/*
 * Builds the RFC 1929 request.  Returns its length, or 0 when a credential
 * is empty or longer than SOCKS5_CRED_MAX.
 */
size_t socks5_auth_request(const char *user, const char *password,
                           uint8_t *out);

/* Parses the RFC 1929 reply (2 bytes); status 0 is success. */
enum socks5_parse socks5_parse_auth(const uint8_t *in, size_t len,
                                    char *why, size_t whylen);

/*
 * Builds CONNECT to an IPv4 or IPv6 address and port (ATYP 1 or 4; never a
 * domain name).  Returns its length, or 0 for another address family.
 */
size_t socks5_connect_request(const struct sockaddr_storage *addr,
                              uint16_t port, uint8_t *out);

/*
 * Parses the CONNECT reply.  Its length depends on the address type, so
 * with fewer bytes than that it returns SOCKS5_NEED_MORE and sets *need to
 * the total length known so far (at least 5), so the caller reads exactly
 * the reply and nothing of the stream behind it.  A non-zero REP code gives
 * SOCKS5_FAIL with the RFC 1928 meaning in `why` ("connection refused",
 * "host unreachable" ...).
 */
enum socks5_parse socks5_parse_connect(const uint8_t *in, size_t len,
                                       size_t *need, char *why,
                                       size_t whylen);

#endif
