/*
 * fuzz_address: envelope address syntax (src/address.c).
 * Input: one flag byte (bit 0: null_ok; the rest picks the size of the
 * reason buffer), then the address (up to its first NUL).
 * Properties: the reason is always one line of printable ASCII within its
 * buffer (reasons quote the address, escaped); an accepted address is ""
 * only with null_ok, else at most ADDRESS_MAX octets with no control byte,
 * a local part of 1..64 octets and an LDH domain of at most 253 octets
 * after its last '@'; address_domain() and address_is_utf8() agree.
 * The same text as an EHLO name (address_check_helo()): accepted only as
 * an LDH host name or a bracketed literal of printable ASCII without a
 * space, so nothing can end the EHLO command early.
 */
#include <string.h>

#include "address.h"
#include "fuzz.h"

/* Checks the syntax of an accepted domain: LDH labels of 1..63 octets. */
static void
check_domain(const char *d)
{
	size_t len = strlen(d), label = 0;

	FUZZ_ASSERT(len >= 1 && len <= 253, "domain of %zu octets", len);
	for (size_t i = 0; i < len; i++) {
		char c = d[i];

		if (c == '.') {
			FUZZ_ASSERT(label > 0 && d[i - 1] != '-', "bad label end");
			label = 0;
			continue;
		}
		FUZZ_ASSERT((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		            (c >= '0' && c <= '9') || c == '-',
		            "byte 0x%02x in the domain", (unsigned char)c);
		FUZZ_ASSERT(label > 0 || c != '-', "label starts with '-'");
		FUZZ_ASSERT(++label <= 63, "label longer than 63");
	}
	FUZZ_ASSERT(label > 0 && d[len - 1] != '-', "bad last label");
}

/* One address. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *addr, *why;
	size_t whylen, len;
	bool null_ok, utf8 = false;
	int r;

	if (size < 1)
		return 0;
	null_ok = data[0] & 1;
	whylen = (size_t)(data[0] >> 1) * 4; /* 0..508 */
	addr = malloc(size);
	why = malloc(whylen > 0 ? whylen : 1);
	FUZZ_ASSERT(addr != NULL && why != NULL, "out of memory");
	memcpy(addr, data + 1, size - 1);
	addr[size - 1] = '\0';
	len = strlen(addr);
	if (whylen > 0)
		why[0] = '\0';
	r = address_check(addr, null_ok, why, whylen);
	if (r != 0) {
		FUZZ_ASSERT(r == -1, "returned %d", r);
		if (whylen > 0) {
			size_t wl = strnlen(why, whylen);

			FUZZ_ASSERT(wl < whylen, "reason not NUL-terminated");
			FUZZ_ASSERT(wl > 0 || whylen == 1, "empty reason");
			FUZZ_ASSERT(fuzz_printable(why, wl), "reason \"%s\"", why);
		}
	} else if (len == 0) {
		FUZZ_ASSERT(null_ok, "\"\" accepted without null_ok");
	} else {
		const char *at = strrchr(addr, '@');

		FUZZ_ASSERT(len <= ADDRESS_MAX, "%zu octets accepted", len);
		FUZZ_ASSERT(at != NULL, "no @ in an accepted address");
		FUZZ_ASSERT(at - addr >= 1 && at - addr <= 64,
		            "local part of %td octets", at - addr);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)addr[i];

			FUZZ_ASSERT(c >= 0x20 && c != 0x7f, "control byte 0x%02x",
			            c);
			utf8 |= c >= 0x80;
		}
		FUZZ_ASSERT(address_domain(addr) == at + 1,
		            "address_domain() is not after the last @");
		if (at[1] == '[') /* a domain literal: one address inside */
			FUZZ_ASSERT(addr[len - 1] == ']' && strlen(at + 1) >= 3 &&
			            strpbrk(at + 1, " @\\\"") == NULL,
			            "domain literal \"%s\"", at + 1);
		else
			check_domain(at + 1);
		FUZZ_ASSERT(address_is_utf8(addr) == utf8, "utf8 flag");
	}
	if (whylen > 0)
		why[0] = '\0';
	if (address_check_helo(addr, why, whylen) == 0) {
		FUZZ_ASSERT(len > 0 && fuzz_printable(addr, len) &&
		            strchr(addr, ' ') == NULL, "EHLO name accepted");
		if (addr[0] == '[')
			FUZZ_ASSERT(addr[len - 1] == ']' && len >= 3,
			            "EHLO literal \"%s\"", addr);
		else
			check_domain(addr);
	} else if (whylen > 0) {
		size_t wl = strnlen(why, whylen);

		FUZZ_ASSERT(wl < whylen && fuzz_printable(why, wl),
		            "EHLO reason \"%s\"", why);
	}
	free(addr);
	free(why);
	return 0;
}
