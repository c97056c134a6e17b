/*
 * fnv: the FNV-1a hash of the hash tables (tlscache, dnscache): short
 * keys, no adversary who can choose collisions cheaply enough to matter
 * (the tables stay bounded either way).
 */
#ifndef MXC_FNV_H
#define MXC_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT 2166136261u

/* FNV-1a over bytes, continuing from h (FNV1A_INIT to start). */
static inline uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

#endif
