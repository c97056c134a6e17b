/*
 * fuzz_socks5: the SOCKS5 reply parsers (src/socks5.c), read as the
 * transport reads them: a prefix at a time.
 * Input: one byte choosing the parser (method choice without or with a
 * password offered, RFC 1929 status, CONNECT reply), then the proxy's bytes.
 * Properties, over every prefix length: once a parser gives a verdict it
 * keeps it for longer prefixes (it never needs bytes past the reply, so
 * the stream behind it is never read); SOCKS5_NEED_MORE for CONNECT asks
 * for more bytes than it has; SOCKS5_OK for CONNECT says how many bytes
 * the reply took (10, 22, or 7 + the name's length) and never more than
 * given; a refusal has a printable one-line reason, a success none.
 */
#include <string.h>

#include "fuzz.h"
#include "socks5.h"

/* Longest prefix examined: the longest CONNECT reply is 5 + 255 + 2. */
#define PREFIX_MAX 300

/* Runs the chosen parser on in[0, len). */
static enum socks5_parse
parse(unsigned which, const uint8_t *in, size_t len, size_t *need, char *why,
      size_t whylen)
{
	uint8_t method = 0xee;
	enum socks5_parse r;

	*need = 0;
	switch (which) {
	case 0:
	case 1:
		r = socks5_parse_method(in, len, which == 1, &method, why,
		                        whylen);
		if (r == SOCKS5_OK)
			FUZZ_ASSERT(method == 0x00 || (which == 1 &&
			            method == 0x02), "method %u chosen", method);
		return r;
	case 2:
		return socks5_parse_auth(in, len, why, whylen);
	default:
		return socks5_parse_connect(in, len, need, why, whylen);
	}
}

/* Every prefix of one reply. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum socks5_parse verdict = SOCKS5_NEED_MORE;
	size_t verdict_at = 0, verdict_need = 0, max;
	unsigned which;
	uint8_t *in;

	if (size < 1)
		return 0;
	which = data[0] % 4;
	max = size - 1 < PREFIX_MAX ? size - 1 : PREFIX_MAX;
	for (size_t len = 0; len <= max; len++) {
		char why[128];
		size_t need;
		enum socks5_parse r;

		/* An exact copy, so a read past the prefix is caught. */
		in = malloc(len > 0 ? len : 1);
		FUZZ_ASSERT(in != NULL, "out of memory");
		memcpy(in, data + 1, len);
		memset(why, 'X', sizeof(why));
		r = parse(which, in, len, &need, why, sizeof(why));
		free(in);
		FUZZ_ASSERT(memchr(why, '\0', sizeof(why)) != NULL,
		            "reason not NUL-terminated");
		if (r == SOCKS5_FAIL)
			FUZZ_ASSERT(why[0] != '\0' &&
			            fuzz_printable(why, strlen(why)),
			            "reason \"%s\"", why);
		else
			FUZZ_ASSERT(why[0] == '\0', "reason \"%s\" with %d", why,
			            (int)r);
		if (verdict != SOCKS5_NEED_MORE) {
			FUZZ_ASSERT(r == verdict && (which < 3 ||
			            r != SOCKS5_OK || need == verdict_need),
			            "verdict %d at %zu became %d at %zu",
			            (int)verdict, verdict_at, (int)r, len);
			continue;
		}
		if (r == SOCKS5_NEED_MORE) {
			if (which == 3)
				FUZZ_ASSERT(need > len, "needs %zu with %zu", need,
				            len);
			continue;
		}
		verdict = r;
		verdict_at = len;
		verdict_need = need;
		if (which == 3 && r == SOCKS5_OK) {
			const uint8_t *rep = data + 1;

			FUZZ_ASSERT(need == len, "OK at %zu took %zu", len,
			            need);
			FUZZ_ASSERT((rep[3] == 1 && need == 10) ||
			            (rep[3] == 4 && need == 22) ||
			            (rep[3] == 3 && need == 7u + rep[4]),
			            "type %u took %zu", rep[3], need);
		}
		if (which < 3)
			FUZZ_ASSERT(len == 2, "verdict at %zu bytes", len);
	}
	return 0;
}
