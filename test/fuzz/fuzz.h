/*
 * fuzz: what every fuzz target shares.  A target is one file defining
 * LLVMFuzzerTestOneInput(); it is linked either with libFuzzer (clang,
 * -Dfuzzing=true) or with replay.c, a plain main() that runs the committed
 * corpora through the same function in the normal test suite.  A property
 * that does not hold aborts, so both drivers report it as a crash.
 */
#ifndef MXC_FUZZ_H
#define MXC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The entry point each target defines (libFuzzer's name and signature). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with where and why when a property does not hold. */
#define FUZZ_ASSERT(cond, ...)                                            \
	do {                                                              \
		if (!(cond)) {                                            \
			fprintf(stderr, "%s:%d: property failed: %s: ",   \
			        __FILE__, __LINE__, #cond);               \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
			abort();                                          \
		}                                                         \
	} while (0)

/* True when s[0, len) is printable ASCII (0x20..0x7e) only. */
static inline bool
fuzz_printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

/* Reads input bytes one at a time; past the end every byte reads 0. */
struct fuzz_in {
	const uint8_t *data; /* the input */
	size_t size;         /* its length */
	size_t pos;          /* next byte to read */
};

/* Takes the next byte (0 once the input is used up). */
static inline uint8_t
fuzz_byte(struct fuzz_in *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

/* Takes up to `want` bytes; *got receives how many there were. */
static inline const uint8_t *
fuzz_bytes(struct fuzz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->data + in->pos;
	size_t left = in->size - in->pos;

	*got = want < left ? want : left;
	in->pos += *got;
	return p;
}

#endif
