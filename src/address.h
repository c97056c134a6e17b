/*
 * address: envelope address syntax (RFC 5321 4.1.2 Mailbox, RFC 6531 for
 * UTF-8 local parts).  Pure.
 */
#ifndef MXC_ADDRESS_H
#define MXC_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Longest accepted address: RFC 5321 4.5.3.1.3 path limit minus "<>". */
#define ADDRESS_MAX 254

/*
 * Checks `addr` (local@domain; no angle brackets, no comments).  The local
 * part is a dot-string or a quoted string, at most 64 octets, and may hold
 * valid UTF-8 (needs SMTPUTF8); the domain is an ASCII host name of LDH
 * labels (at most 63 octets each, 253 in all, no trailing dot), or an
 * address literal (RFC 5321 4.1.3: "[192.0.2.1]", "[IPv6:2001:db8::1]").
 * Other literals and non-ASCII domains are refused with a reason saying
 * so.  "" is accepted only when null_ok (the null reverse-path).
 * Returns 0, or -1 with a one-line reason in why.
 */
int address_check(const char *addr, bool null_ok, char *why, size_t whylen);

/*
 * Checks a name for EHLO/HELO (RFC 5321 4.1.1.1, 4.1.3): an ASCII host name
 * as in address_check(), or an address literal "[192.0.2.1]" or
 * "[IPv6:2001:db8::1]".  Anything else, CR and LF above all (they would
 * end the command and start another), is refused.
 * Returns 0, or -1 with a one-line reason in why.
 */
int address_check_helo(const char *name, char *why, size_t whylen);

/* The domain part of a checked address (after the last '@'). */
const char *address_domain(const char *addr);

/* True when a checked address has bytes above 0x7f (needs SMTPUTF8). */
bool address_is_utf8(const char *addr);

#endif
