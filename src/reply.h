/*
 * reply: the SMTP reply parser (RFC 5321 4.2, RFC 3463 enhanced codes) and
 * the EHLO keyword reader.  Pure: it sees only lines a server sent, so it is
 * bounded everywhere and fuzzed.
 */
#ifndef MXC_REPLY_H
#define MXC_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest reply line accepted, CRLF excluded.  RFC 5321 4.5.3.1.5 says 512;
 * real servers send longer ones, so allow four times that. */
#define REPLY_LINE_MAX 2048
/* Most lines in one reply (EHLO replies run to ~20). */
#define REPLY_LINES_MAX 100
/* Reply text kept for reports; the rest is dropped (truncated = true). */
#define REPLY_TEXT_MAX 4096

/* One (possibly multi-line) reply being assembled. */
struct reply {
	int code;             /* 200..599; 0 until the first line */
	char enhanced[12];    /* "x.y.z" (RFC 3463) from the first line, or "" */
	unsigned nlines;      /* lines taken so far */
	size_t text_len;      /* bytes used in text */
	bool truncated;       /* text was cut at REPLY_TEXT_MAX */
	/* The lines as received, codes included, joined by '\n', raw bytes,
	 * NUL-terminated (no NUL inside: such a line is rejected). */
	char text[REPLY_TEXT_MAX + 1];
};

/* Result of reply_feed(). */
enum reply_step {
	REPLY_MORE, /* a continuation line ("250-..."): feed the next one */
	REPLY_DONE, /* the last line ("250 ..." or "250"): reply complete */
	REPLY_BAD   /* not an SMTP reply line, too long, too many lines, a NUL,
	               or a code differing from the first line's */
};

/* Writes a complete reply as one escaped line, its lines joined by a
 * space, into `out` (always NUL-terminated), for reports. */
void reply_line(const struct reply *reply, char *out, size_t outlen);

/* Clears a reply for the next one. */
void reply_init(struct reply *reply);
/* Takes one line (without CRLF) of a reply. */
enum reply_step reply_feed(struct reply *reply, const char *line, size_t len);

/* SMTP service extensions an EHLO reply advertised (RFC 5321 4.1.1.1). */
struct ehlo_caps {
	bool starttls;     /* STARTTLS (RFC 3207) */
	bool pipelining;   /* PIPELINING (RFC 2920) */
	bool eightbitmime; /* 8BITMIME (RFC 6152) */
	bool smtputf8;     /* SMTPUTF8 (RFC 6531) */
	bool enhanced;     /* ENHANCEDSTATUSCODES (RFC 2034) */
	bool size;         /* SIZE (RFC 1870) */
	uint64_t size_max; /* SIZE's limit, 0 when none was given */
	bool chunking;     /* CHUNKING: BDAT (RFC 3030) */
};

/*
 * Reads the keyword of one line of an EHLO reply ("250-PIPELINING", code
 * included), adding it to `caps`; keywords are case-insensitive.  The
 * first line names the server and must not be given.  Line by line, as
 * the lines arrive, so capabilities never depend on how much reply text
 * is kept (REPLY_TEXT_MAX).
 */
void ehlo_feed(struct ehlo_caps *caps, const char *line, size_t len);

#endif
