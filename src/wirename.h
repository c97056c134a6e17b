/*
 * wirename: DNS names in wire format (RFC 1035 3.1), the few operations
 * the modules that read them without getdns share (dns.c, zonekeys.c,
 * sigcheck.c).  Case is ASCII only (RFC 4343), whatever the locale.
 */
#ifndef MXC_WIRENAME_H
#define MXC_WIRENAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII lower case of one octet; length octets (< 64) stay as they are. */
static inline uint8_t
wirename_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* Labels of a well-formed name (0 for the root), or -1 when a label is
 * over 63 octets or the name does not end exactly at len. */
static inline int
wirename_labels(const uint8_t *name, size_t len)
{
	int labels = 0;
	size_t pos = 0;

	while (pos < len && name[pos] != 0) {
		if (name[pos] > 63)
			return -1;
		pos += (size_t)name[pos] + 1;
		labels++;
	}
	return pos + 1 == len ? labels : -1;
}

/* Whether two names are equal, ignoring case. */
static inline bool
wirename_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (wirename_lower(a[i]) != wirename_lower(b[i]))
			return false;
	return true;
}

/* Whether `zone` is `name` or one of its parents, ignoring case
 * (`name` well-formed). */
static inline bool
wirename_encloses(const uint8_t *zone, size_t zone_len, const uint8_t *name,
    size_t name_len)
{
	for (size_t at = 0; at < name_len; at += name[at] + 1u) {
		if (wirename_equal(name + at, name_len - at, zone, zone_len))
			return true;
		if (name[at] == 0)
			break;
	}
	return false;
}

#endif
