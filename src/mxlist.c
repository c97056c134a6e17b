/*
 * mxlist: decides which MX hosts to try and in which order (RFC 5321 5.1:
 * by preference, equal preferences in random order; RFC 7505 null MX), and
 * in which order to try one host's addresses (RFC 8305 4: alternate the
 * families, IPv6 first).  Pure and allocation-free: the records come from a
 * DNS answer the peer controls, so the work is bounded by MXLIST_SCAN, and
 * randomness comes from the caller so tests can fix it.
 */
#include "mxlist.h"

#include <netinet/in.h>
#include <string.h>

/*
 * Most MX records examined; later ones in the answer are ignored.  A DNS
 * message holds at most about 4400 MX records; real domains publish a few.
 */
#define MXLIST_SCAN 1024

_Static_assert(MXLIST_SCAN <= UINT16_MAX + 1,
               "record indexes are kept in uint16_t");

/* Length of a host name, or sizeof(host) when it has no terminating NUL. */
static size_t
host_len(const struct dns_mx *mx)
{
	return strnlen(mx->host, sizeof(mx->host));
}

/* Lower-cases one ASCII letter; other bytes pass unchanged. */
static unsigned char
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* True when two NUL-terminated host names are equal ignoring ASCII case. */
static bool
same_host(const char *a, const char *b)
{
	const unsigned char *x = (const unsigned char *)a;
	const unsigned char *y = (const unsigned char *)b;

	for (; *x != '\0' || *y != '\0'; x++, y++)
		if (ascii_lower(*x) != ascii_lower(*y))
			return false;
	return true;
}

/* Shuffles idx[0, n) with Fisher-Yates, drawing from rnd. */
static void
shuffle(uint16_t *idx, size_t n, mxlist_random_fn *rnd, void *rnd_arg)
{
	size_t i, j;
	uint16_t tmp;

	for (i = n; i > 1; i--) {
		j = rnd(rnd_arg, (uint32_t)i);
		if (j >= i)
			j %= i; /* a misbehaving rnd must not index out of range */
		tmp = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = tmp;
	}
}

/* Orders MX records by preference, shuffles ties, drops duplicates. */
enum mxlist_kind
mxlist_order(const struct dns_mx *mx, size_t n, struct dns_mx *out,
             size_t max, size_t *count, mxlist_random_fn *rnd, void *rnd_arg)
{
	uint16_t idx[MXLIST_SCAN];
	size_t kept = 0, i, j, run, placed = 0;

	*count = 0;
	if (n == 1 && mx[0].host[0] == '\0')
		return MXLIST_NULL_MX;
	if (n > MXLIST_SCAN)
		n = MXLIST_SCAN;
	if (max > MXLIST_MAX)
		max = MXLIST_MAX;

	/* Usable records, stably sorted by preference (insertion sort:
	 * n is bounded and the answer is usually sorted already). */
	for (i = 0; i < n; i++) {
		size_t len = host_len(&mx[i]);

		if (len == 0 || len >= sizeof(mx[i].host))
			continue; /* root target among others, or no NUL */
		for (j = kept; j > 0 && mx[idx[j - 1]].pref > mx[i].pref; j--)
			idx[j] = idx[j - 1];
		idx[j] = (uint16_t)i;
		kept++;
	}

	/* Keep each name's first (best preference) record only. */
	run = 0;
	for (i = 0; i < kept; i++) {
		for (j = 0; j < run; j++)
			if (same_host(mx[idx[j]].host, mx[idx[i]].host))
				break;
		if (j == run)
			idx[run++] = idx[i];
	}
	kept = run;

	/* Shuffle each run of equal preference, then copy out. */
	for (i = 0; i < kept && placed < max; i = j) {
		for (j = i + 1; j < kept && mx[idx[j]].pref == mx[idx[i]].pref;
		     j++)
			;
		if (rnd != NULL)
			shuffle(idx + i, j - i, rnd, rnd_arg);
		for (run = i; run < j && placed < max; run++)
			out[placed++] = mx[idx[run]];
	}
	*count = placed;
	return MXLIST_HOSTS;
}

/* True when two socket addresses have the same family and address. */
static bool
same_address(const struct sockaddr_storage *a,
             const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return memcmp(&x->sin_addr, &y->sin_addr,
		              sizeof(x->sin_addr)) == 0;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return memcmp(&x->sin6_addr, &y->sin6_addr,
		              sizeof(x->sin6_addr)) == 0;
	}
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* True when `addr` is among out[0, n). */
static bool
already_listed(const struct sockaddr_storage *out, size_t n,
               const struct sockaddr_storage *addr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same_address(&out[i], addr))
			return true;
	return false;
}

/* Appends the next address of `from` not yet in out; false when none left. */
static bool
take_next(const struct sockaddr_storage *from, size_t n, size_t *pos,
          struct sockaddr_storage *out, size_t *count)
{
	while (*pos < n) {
		const struct sockaddr_storage *addr = &from[(*pos)++];

		if (!already_listed(out, *count, addr)) {
			out[(*count)++] = *addr;
			return true;
		}
	}
	return false;
}

/* Alternates IPv6 and IPv4 addresses, IPv6 first, without duplicates. */
size_t
mxlist_interleave(const struct sockaddr_storage *v6, size_t n6,
                  const struct sockaddr_storage *v4, size_t n4,
                  struct sockaddr_storage *out)
{
	size_t i6 = 0, i4 = 0, count = 0;

	while (i6 < n6 || i4 < n4) {
		take_next(v6, n6, &i6, out, &count);
		take_next(v4, n4, &i4, out, &count);
	}
	return count;
}
