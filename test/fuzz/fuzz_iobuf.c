/*
 * fuzz_iobuf: the line buffer (src/iobuf.c) against a model.  The input is
 * a script of operations (append, printf, reserve + commit, consume,
 * getline, free); after each, the buffer must hold exactly the bytes a
 * plain array holds, and getline must give what a straightforward reading
 * of that array gives (LF ends a line, one CR before it is dropped, a line
 * longer than max is IOBUF_TOO_LONG, no LF within max + 2 bytes is too).
 */
#include <string.h>

#include "fuzz.h"
#include "iobuf.h"

/* Most bytes the model holds; scripts that would grow past it stop. */
#define MODEL_MAX (1u << 20)

/* The reference: unread bytes in a plain array. */
struct model {
	unsigned char *bytes; /* MODEL_MAX bytes */
	size_t len;           /* bytes held */
};

/* Checks that the buffer holds exactly the model's bytes. */
static void
same(const struct iobuf *buf, const struct model *m)
{
	FUZZ_ASSERT(iobuf_len(buf) == m->len, "len %zu, model %zu",
	            iobuf_len(buf), m->len);
	FUZZ_ASSERT(m->len == 0 || memcmp(iobuf_data(buf), m->bytes,
	            m->len) == 0, "contents differ");
}

/* The reference getline; returns the iobuf_line value expected. */
static enum iobuf_line
model_getline(const struct model *m, size_t max, size_t *linelen,
              size_t *taken)
{
	size_t limit = max + 2, scan = m->len < limit ? m->len : limit;
	const unsigned char *lf = memchr(m->bytes, '\n', scan);

	if (lf == NULL)
		return m->len >= limit ? IOBUF_TOO_LONG : IOBUF_NEED_MORE;
	*taken = (size_t)(lf - m->bytes) + 1;
	*linelen = *taken - 1;
	if (*linelen > 0 && m->bytes[*linelen - 1] == '\r')
		(*linelen)--;
	return *linelen > max ? IOBUF_TOO_LONG : IOBUF_LINE;
}

/* Drops n bytes from the model's front. */
static void
model_consume(struct model *m, size_t n)
{
	memmove(m->bytes, m->bytes + n, m->len - n);
	m->len -= n;
}

/* Runs the script. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char storage[MODEL_MAX];
	struct fuzz_in in = { data, size, 0 };
	struct model m = { storage, 0 };
	struct iobuf buf;

	iobuf_init(&buf);
	same(&buf, &m);
	while (in.pos < in.size) {
		uint8_t op = fuzz_byte(&in), arg = fuzz_byte(&in);
		const uint8_t *bytes;
		size_t n, got, want, linelen = 0, taken = 0;

		switch (op % 6) {
		case 0: /* append `arg` bytes of the input */
			bytes = fuzz_bytes(&in, arg, &n);
			if (m.len + n > MODEL_MAX)
				goto out;
			FUZZ_ASSERT(iobuf_append(&buf, bytes, n) == 0, "append");
			memcpy(m.bytes + m.len, bytes, n);
			m.len += n;
			break;
		case 1: { /* printf a number and up to `arg` bytes as %.*s */
			char text[300];
			int tn;

			bytes = fuzz_bytes(&in, arg, &n);
			tn = snprintf(text, sizeof(text), "%u:%.*s", arg, (int)n,
			              (const char *)bytes);
			FUZZ_ASSERT(tn >= 0 && (size_t)tn < sizeof(text), "snprintf");
			if (m.len + (size_t)tn > MODEL_MAX)
				goto out;
			FUZZ_ASSERT(iobuf_printf(&buf, "%u:%.*s", arg, (int)n,
			            (const char *)bytes) == 0, "printf");
			memcpy(m.bytes + m.len, text, (size_t)tn);
			m.len += (size_t)tn;
			break;
		}
		case 2: { /* reserve arg*16 bytes, write some, commit them */
			char *room;

			want = (size_t)arg * 16;
			room = iobuf_reserve(&buf, want, &got);
			FUZZ_ASSERT(room != NULL && got >= (want ? want : 1),
			            "reserve %zu gave %zu", want, got);
			n = fuzz_byte(&in) % (got < 256 ? got + 1 : 256);
			if (m.len + n > MODEL_MAX)
				goto out;
			for (size_t i = 0; i < n; i++)
				room[i] = (char)('a' + (i + arg) % 26);
			iobuf_commit(&buf, n);
			memcpy(m.bytes + m.len, room, n);
			m.len += n;
			break;
		}
		case 3: /* consume up to arg bytes */
			n = arg < m.len ? arg : m.len;
			iobuf_consume(&buf, n);
			model_consume(&m, n);
			break;
		case 4: { /* getline with max = arg * 4 */
			const char *line = NULL;
			size_t len = 0;
			enum iobuf_line r, e;

			e = model_getline(&m, (size_t)arg * 4, &linelen, &taken);
			r = iobuf_getline(&buf, (size_t)arg * 4, &line, &len);
			FUZZ_ASSERT(r == e, "getline %d, model %d", (int)r, (int)e);
			if (r == IOBUF_LINE) {
				FUZZ_ASSERT(len == linelen &&
				            memcmp(line, m.bytes, len) == 0,
				            "line of %zu, model %zu", len, linelen);
				model_consume(&m, taken);
			}
			break;
		}
		case 5: /* free, then reuse */
			iobuf_free(&buf);
			m.len = 0;
			break;
		}
		same(&buf, &m);
	}
out:
	iobuf_free(&buf);
	return 0;
}
