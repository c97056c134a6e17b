/*
 * fuzz_reply: the SMTP reply parser as the session drives it (smtp.c's
 * on_input): server bytes arrive in chunks of random sizes, lines are taken
 * from an iobuf with REPLY_LINE_MAX and fed to reply_feed().
 *
 * Input: one byte seeding the chunk sizes, then the server's byte stream.
 * Properties: every completed reply is well formed (code 200..599, text
 * NUL-terminated at text_len within REPLY_TEXT_MAX, at most REPLY_LINES_MAX
 * lines, an enhanced code of the reply's class or none), and the outcome
 * does not depend on how the stream was cut into chunks.
 */
#include <string.h>

#include "fuzz.h"
#include "iobuf.h"
#include "reply.h"

/* A digest of everything a run produced, to compare two runs. */
struct outcome {
	uint64_t hash;   /* FNV-1a over the events */
	unsigned events; /* replies completed, plus the final state */
};

/* Mixes bytes into the digest. */
static void
mix(struct outcome *o, const void *bytes, size_t len)
{
	const unsigned char *p = bytes;

	for (size_t i = 0; i < len; i++)
		o->hash = (o->hash ^ p[i]) * 0x100000001b3ULL;
}

/* Checks what the reply module promises about a completed reply. */
static void
check_reply(const struct reply *r)
{
	size_t elen = strlen(r->enhanced);

	FUZZ_ASSERT(r->code >= 200 && r->code <= 599, "code %d", r->code);
	FUZZ_ASSERT(r->nlines >= 1 && r->nlines <= REPLY_LINES_MAX,
	            "%u lines", r->nlines);
	FUZZ_ASSERT(r->text_len <= REPLY_TEXT_MAX, "text_len %zu",
	            r->text_len);
	FUZZ_ASSERT(strlen(r->text) == r->text_len, "text not cut at text_len");
	FUZZ_ASSERT(elen == 0 || (elen >= 5 && elen <= 9 &&
	            r->enhanced[0] == '0' + r->code / 100 &&
	            r->enhanced[1] == '.'), "enhanced \"%s\" for %d",
	            r->enhanced, r->code);
}

/* Records one completed reply in the digest. */
static void
record_reply(struct outcome *o, const struct reply *r)
{
	check_reply(r);
	mix(o, &r->code, sizeof(r->code));
	mix(o, r->enhanced, strlen(r->enhanced));
	mix(o, r->text, r->text_len);
	mix(o, &r->truncated, sizeof(r->truncated));
	o->events++;
}

/* Next chunk size from a small xorshift generator: mostly short chunks. */
static size_t
next_chunk(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	if ((x & 7) == 0)
		return 1 + (x >> 8) % 4096;
	return 1 + (x >> 8) % 16;
}

/*
 * Feeds `stream` as the session would, in chunks (seed 0: all at once), and
 * returns the digest of the replies and of how the stream ended.
 */
static struct outcome
run(const uint8_t *stream, size_t len, uint32_t seed)
{
	struct outcome o = { 0xcbf29ce484222325ULL, 0 };
	struct iobuf in;
	struct reply reply;
	size_t pos = 0;
	int end = 0; /* 0 stream used up, 1 malformed reply, 2 line too long */

	iobuf_init(&in);
	reply_init(&reply);
	while (pos < len && end == 0) {
		size_t chunk = seed == 0 ? len - pos : next_chunk(&seed);

		if (chunk > len - pos)
			chunk = len - pos;
		FUZZ_ASSERT(iobuf_append(&in, stream + pos, chunk) == 0,
		            "append of %zu bytes failed", chunk);
		pos += chunk;
		for (;;) {
			const char *line;
			size_t llen;
			enum iobuf_line got;

			got = iobuf_getline(&in, REPLY_LINE_MAX, &line, &llen);
			if (got == IOBUF_NEED_MORE)
				break;
			if (got == IOBUF_TOO_LONG) {
				end = 2;
				break;
			}
			FUZZ_ASSERT(llen <= REPLY_LINE_MAX, "line of %zu", llen);
			enum reply_step step = reply_feed(&reply, line, llen);
			if (step == REPLY_BAD) {
				end = 1;
				break;
			}
			if (step == REPLY_DONE) {
				record_reply(&o, &reply);
				reply_init(&reply);
			}
		}
	}
	/* What is left over is part of the outcome too. */
	mix(&o, &end, sizeof(end));
	mix(&o, &reply.nlines, sizeof(reply.nlines));
	if (end == 0) {
		size_t left = iobuf_len(&in);

		mix(&o, &left, sizeof(left));
	}
	iobuf_free(&in);
	return o;
}

/* One input: the stream whole, then cut by the seed; both must agree. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome whole, cut;

	if (size < 1)
		return 0;
	whole = run(data + 1, size - 1, 0);
	cut = run(data + 1, size - 1, 0x9e3779b9u ^ data[0]);
	FUZZ_ASSERT(whole.hash == cut.hash && whole.events == cut.events,
	            "chunking changed the outcome (%u vs %u replies)",
	            whole.events, cut.events);
	return 0;
}
