/*
 * mxc-sink: the benchmark's SMTP receiver.  It accepts mail as fast as one
 * thread can, with STARTTLS (wolfSSL), PIPELINING and CHUNKING, and keeps
 * per recipient a delivery count and the SHA-256 of every distinct message,
 * so a run can prove that each message arrived exactly once.  It stores
 * nothing else: the message content only passes through the hash.
 *
 * It shares two cores with the client being measured, so it spends as
 * little as it can: one libevent loop, non-blocking sockets, wolfSSL driven
 * on the raw fd, reads into one 16 KB buffer shared by all connections,
 * replies gathered into one shared buffer and written once per round.  A
 * connection owns heap memory only when it must keep something between
 * rounds: a partial command line, output a full socket refused, TLS bytes
 * left after a round that stopped early, and its WOLFSSL object from
 * STARTTLS to the end.
 *
 * Round trips (--delay-ms N).  These machines have no `tc netem`, so the
 * sink emulates a round-trip time by processing every client flight N ms
 * after it arrives:
 *   - on accept it waits N ms before the greeting (the SYN/SYN-ACK trip);
 *   - whenever the socket becomes readable it stops watching it, waits N ms,
 *     then reads and processes everything that is there by then (TLS
 *     handshake records included, so each handshake flight of the client
 *     costs one more delayed turn, as a real RTT would);
 *   - replies are written at once after that processing.
 * A client therefore sees about N ms between sending a flight and reading
 * the answer.  Bytes that arrive while a flight waits join it, and a
 * message too large to be in the socket by the time its flight is read
 * costs another N ms for the rest: both err towards fewer, longer turns.
 * With N = 0 no delay timer is ever armed (only the idle timeout, one
 * libevent common timeout shared by all connections).
 *
 * wolfSSL works on the connection's fd through our own I/O callbacks:
 * they read from the round's shared buffer, so a round costs one recv()
 * rather than one per TLS record header and body, and they count bytes and
 * turns.
 *
 * Counters (--stats FILE, written on SIGTERM or SIGINT, and on SIGUSR1
 * without exiting): see write_stats() for the JSON schema.  "turns" counts
 * the rounds in which the sink sent bytes in answer to a client flight (the
 * greeting included): with N > 0 it is the number of round trips; with
 * N = 0 a flight that reaches the sink in two pieces may count twice.
 *
 * Everything a peer sends is bounded: command lines (4096 bytes), replies
 * queued per round, recipients per transaction, recipients remembered,
 * error replies per connection, and idle time (300 s).
 */
#include <wolfssl/options.h> /* first: the build flags of the wolfSSL we link */
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>
#include <wolfssl/wolfio.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Bytes asked of one recv(): the shared raw buffer. */
#define RAW_SIZE (16 * 1024)
/* Bytes asked of one wolfSSL_read(): a full TLS record. */
#define APP_SIZE (16 * 1024)
/* Bytes read in one round before yielding to other connections. */
#define ROUND_MAX (256 * 1024)
/* Reply bytes one round may queue; more means a peer flooding commands. */
#define OUT_MAX (1024 * 1024)
/* Longest command line, CRLF excluded (RFC 5321 asks for 512). */
#define CMD_LINE_MAX 4096
/* The SIZE we advertise; larger messages are refused at their end. */
#define MSG_MAX 104857600ULL
/* Largest BDAT chunk we try to follow; beyond it we cannot resync. */
#define BDAT_CHUNK_MAX 1000000000000ULL
/* Recipients in one transaction (RFC 5321 asks for at least 100). */
#define RCPT_PER_TXN_MAX 1000
/* Longest recipient address kept. */
#define RCPT_ADDR_MAX 512
/* Distinct recipients remembered over the run. */
#define RCPT_TABLE_MAX 2000000
/* Distinct message digests kept per recipient. */
#define DIGESTS_MAX 64
/* Error replies one connection may provoke before it is dropped. */
#define ERRORS_PER_CONN_MAX 100
/* Seconds a connection may sit without a byte in either direction. */
#define IDLE_SECONDS 300
/* Lifetime of TLS sessions and tickets: at most half the life of wolfSSL's
 * built-in ticket keys (an hour), else a ticket cannot be issued once the
 * first key is a second old and the handshake fails (BAD_STATE_E). */
#define SESSION_SECONDS 1800
/* listen() backlog: load tests open thousands of connections at once. */
#define BACKLOG 4096
/* Connections accepted per listener event, to stay fair to the others. */
#define ACCEPT_BURST 128
/* --listen options taken. */
#define LISTEN_MAX 16
/* Longest --hostname. */
#define HOSTNAME_MAX 255
/* Key-exchange groups counted by name (there are few). */
#define GROUPS_MAX 16

/* Counters reported in the stats file. */
struct stats {
	uint64_t connections;    /* accepted */
	uint64_t tls_full;       /* handshakes completed without resumption */
	uint64_t tls_resumed;    /* handshakes completed by resumption */
	uint64_t tls_failed;     /* STARTTLS sessions that never completed */
	uint64_t transactions;   /* DATA or BDAT LAST answered 250 */
	uint64_t rcpts;          /* RCPT answered 250 */
	uint64_t turns;          /* rounds that answered a client flight */
	uint64_t bytes_in;       /* bytes read off the sockets (TLS included) */
	uint64_t errors;         /* 4xx/5xx replies, injections, lost peers */
	uint64_t current;        /* connections open now */
	uint64_t max_concurrent; /* most connections open at once */
	struct {
		char name[24];   /* wolfSSL's name, e.g. X25519, SECP256R1 */
		uint64_t count;  /* handshakes that used it */
	} groups[GROUPS_MAX];    /* key exchange of completed handshakes */
	size_t ngroups;          /* entries used in groups */
};

/* One accepted recipient address and what it received. */
struct rcpt {
	uint64_t count;               /* deliveries completed */
	uint64_t hash;                /* of addr, kept for table growth */
	unsigned char (*digest)[32];  /* distinct SHA-256 of its messages */
	uint32_t ndigest;             /* entries used in digest */
	uint32_t digest_cap;          /* entries allocated in digest */
	bool digest_dropped;          /* more than DIGESTS_MAX distinct */
	size_t len;                   /* of addr */
	char addr[];                  /* lower-cased, NUL-terminated */
};

/* Open-addressing table of recipients; entries never move or die. */
struct rcpt_table {
	struct rcpt **slot; /* cap entries, NULL if free */
	size_t cap;         /* a power of two */
	size_t used;        /* entries in use */
};

/* What a connection waits for: exactly one of its events is armed. */
enum conn_wait {
	WAIT_NONE,  /* nothing armed (inside a callback, or closing) */
	WAIT_READ,  /* ev_read: the next client flight */
	WAIT_WRITE, /* ev_write: room for blocked output */
	WAIT_DELAY, /* ev_delay: the emulated round trip */
};

/* Where a connection is with TLS. */
enum conn_tls {
	TLS_OFF,       /* plaintext */
	TLS_HANDSHAKE, /* STARTTLS answered, wolfSSL_accept under way */
	TLS_ON,        /* handshake done: application data */
};

/* What the next input bytes of a connection are. */
enum smtp_state {
	SMTP_CMD,  /* command lines */
	SMTP_DATA, /* message text after 354, dot-stuffed */
	SMTP_BDAT, /* bdat_left raw octets of a chunk */
};

/* Where DATA's dot-unstuffing is at a line start. */
enum dot_state {
	DOT_NONE, /* no dot pending */
	DOT_SEEN, /* a '.' opened the line: stuffing or the end */
	DOT_CR,   /* ".\r" opened the line: the end if '\n' follows */
};

struct sink;

/* One client connection. */
struct conn {
	struct sink *sink;        /* the receiver this belongs to */
	struct conn *prev, *next; /* in sink->conns, for the final cleanup */
	int fd;                   /* the accepted socket, non-blocking */
	struct event ev_read;     /* persistent read, with the idle timeout */
	struct event ev_write;    /* persistent write, while output is blocked */
	struct event ev_delay;    /* the emulated RTT before a round */
	enum conn_wait waiting;   /* which event is armed */
	WOLFSSL *ssl;             /* from STARTTLS to the end, else NULL */
	enum conn_tls tls;        /* plaintext, handshake or TLS */
	bool greeted;             /* the greeting went out */
	bool dead;                /* close now, dropping any output */
	bool closing;             /* close once the output is out */
	bool starttls;            /* STARTTLS answered 220: TLS starts next */
	bool want_write;          /* a wolfSSL read or handshake awaits room */
	bool out_want_read;       /* the blocked wolfSSL_write awaits input */
	bool sent;                /* this round produced bytes for the peer */
	unsigned errors;          /* error replies on this connection */
	unsigned char *stash;     /* raw TLS input left by a round, or NULL */
	size_t stash_len;         /* bytes in stash */
	size_t stash_off;         /* bytes of stash already given to wolfSSL */
	unsigned char *out;       /* output a full socket refused, or NULL */
	size_t out_len;           /* bytes in out */
	char *line;               /* partial command line (CMD_LINE_MAX+1) */
	size_t line_len;          /* bytes in line */
	bool line_long;           /* the partial line overflowed: drop it */
	/* SMTP session and transaction */
	enum smtp_state state;    /* what the next input bytes are */
	bool helo;                /* EHLO/HELO seen (since STARTTLS) */
	bool mail;                /* MAIL accepted: a transaction is open */
	bool hashing;             /* sha is initialised */
	wc_Sha256 sha;            /* running hash of the message content */
	uint64_t msg_size;        /* content bytes so far */
	bool too_big;             /* content passed MSG_MAX */
	enum dot_state dot;       /* DATA: dot at a line start */
	bool bol;                 /* DATA: next byte starts a line */
	uint64_t bdat_left;       /* BDAT: octets of this chunk to come */
	bool bdat_last;           /* BDAT: this chunk is LAST */
	bool bdat_used;           /* BDAT began in this transaction */
	bool bdat_ok;             /* BDAT: the transaction may take this chunk */
	struct rcpt **rcpt;       /* recipients of the open transaction */
	size_t nrcpt;             /* entries used in rcpt */
	size_t rcpt_cap;          /* entries allocated in rcpt */
};

/* A listening socket. */
struct listener {
	struct sink *sink; /* the receiver to hand connections to */
	int fd;            /* bound, listening, non-blocking */
	struct event ev;  /* persistent read: connections to accept */
	char name[80];    /* as given, for messages */
};

/* The whole receiver: configuration, counters, shared buffers. */
struct sink {
	struct event_base *base;        /* the one loop */
	WOLFSSL_CTX *tls;               /* NULL: STARTTLS not offered */
	const char *hostname;           /* in the greeting and EHLO */
	const char *stats_path;         /* NULL: no stats file */
	unsigned delay_ms;              /* emulated RTT, 0 for none */
	bool tls_required;              /* MAIL needs TLS first */
	const struct timeval *idle_tv;  /* common timeout: IDLE_SECONDS */
	const struct timeval *delay_tv; /* common timeout: delay_ms */
	struct listener listeners[LISTEN_MAX]; /* the --listen sockets */
	size_t nlisteners;              /* entries used in listeners */
	struct event pause_ev;          /* resumes accepting after EMFILE */
	struct event sig_ev[3];         /* SIGTERM, SIGINT, SIGUSR1 */
	bool signals_on;                /* sig_ev are assigned */
	int exit_code;                  /* of the process, set on a signal */
	struct conn *conns;             /* every open connection */
	struct stats st;                /* what --stats reports */
	struct rcpt_table rcpts;        /* every accepted recipient */
	char ehlo[512];                 /* EHLO reply offering STARTTLS */
	char ehlo_tls[512];             /* EHLO reply without it */
	/* One round's scratch, shared: one connection runs at a time. */
	struct conn *raw_owner;         /* connection whose bytes raw holds */
	unsigned char raw[RAW_SIZE];    /* the last recv() */
	size_t raw_len;                 /* bytes in raw */
	size_t raw_off;                 /* bytes of raw consumed */
	bool raw_more;                  /* the socket may hold more */
	size_t round_in;                /* bytes read this round */
	unsigned char app[APP_SIZE];    /* decrypted input */
	unsigned char *out;             /* replies of this round */
	size_t out_len;                 /* bytes in out */
	size_t out_cap;                 /* bytes allocated in out */
};

static void conn_round(struct conn *c);
static void conn_settle(struct conn *c);
static void tls_io_begin(struct conn *c);
static void tls_io_end(struct conn *c);

/* ---- recipients ---- */

/* FNV-1a: good enough spreading for addresses, and cheap. */
static uint64_t addr_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Doubles the table; false if out of memory. */
static bool rcpt_grow(struct rcpt_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	struct rcpt **slot = calloc(cap, sizeof *slot);
	if (slot == NULL)
		return false;
	for (size_t i = 0; i < t->cap; i++) {
		struct rcpt *r = t->slot[i];
		if (r == NULL)
			continue;
		size_t j = (size_t)r->hash & (cap - 1);
		while (slot[j] != NULL)
			j = (j + 1) & (cap - 1);
		slot[j] = r;
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return true;
}

/* The entry of a lower-cased address, created if new; NULL when full. */
static struct rcpt *rcpt_get(struct rcpt_table *t, const char *addr,
                             size_t len)
{
	uint64_t h = addr_hash(addr, len);
	if (t->cap > 0) {
		for (size_t j = (size_t)h & (t->cap - 1); t->slot[j] != NULL;
		     j = (j + 1) & (t->cap - 1)) {
			struct rcpt *r = t->slot[j];
			if (r->hash == h && r->len == len &&
			    memcmp(r->addr, addr, len) == 0)
				return r;
		}
	}
	if (t->used >= RCPT_TABLE_MAX)
		return NULL;
	/* Keep the load under 70% so probes stay short. */
	if ((t->used + 1) * 10 > t->cap * 7 && !rcpt_grow(t))
		return NULL;
	struct rcpt *r = calloc(1, sizeof *r + len + 1);
	if (r == NULL)
		return NULL;
	r->hash = h;
	r->len = len;
	memcpy(r->addr, addr, len);
	size_t j = (size_t)h & (t->cap - 1);
	while (t->slot[j] != NULL)
		j = (j + 1) & (t->cap - 1);
	t->slot[j] = r;
	t->used++;
	return r;
}

/* Records one delivery of a message with this digest. */
static void rcpt_delivered(struct rcpt *r, const unsigned char digest[32])
{
	r->count++;
	for (uint32_t i = 0; i < r->ndigest; i++)
		if (memcmp(r->digest[i], digest, 32) == 0)
			return;
	if (r->ndigest >= DIGESTS_MAX) {
		r->digest_dropped = true;
		return;
	}
	if (r->ndigest == r->digest_cap) {
		uint32_t cap = r->digest_cap ? r->digest_cap * 2 : 1;
		unsigned char(*d)[32] = realloc(r->digest, cap * sizeof *d);
		if (d == NULL) {
			r->digest_dropped = true;
			return;
		}
		r->digest = d;
		r->digest_cap = cap;
	}
	memcpy(r->digest[r->ndigest++], digest, 32);
}

/* Frees the table and its entries. */
static void rcpt_table_free(struct rcpt_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slot[i] != NULL) {
			free(t->slot[i]->digest);
			free(t->slot[i]);
		}
	}
	free(t->slot);
	memset(t, 0, sizeof *t);
}

/* ---- stats ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t min, cp;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * Writes a JSON string.  Addresses are test data, but the file must parse
 * whatever a peer sent: control characters are escaped, and a byte that is
 * not part of valid UTF-8 is written as the code point of the same value.
 */
static void json_string(FILE *f, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', f);
	for (size_t i = 0; i < n;) {
		unsigned char ch = p[i];
		if (ch == '"' || ch == '\\') {
			fputc('\\', f);
			fputc(ch, f);
			i++;
		} else if (ch < 0x20 || ch == 0x7f) {
			fprintf(f, "\\u%04x", ch);
			i++;
		} else {
			size_t len = utf8_len(p + i, n - i);
			if (len == 0) {
				fprintf(f, "\\u%04x", ch);
				i++;
			} else {
				fwrite(p + i, 1, len, f);
				i += len;
			}
		}
	}
	fputc('"', f);
}

/*
 * Writes the stats file (to FILE.tmp, then renamed, so a reader never sees
 * half of it).  Schema, all numbers integers unless said:
 *   connections, tls_full, tls_resumed, tls_failed, transactions,
 *   messages (= transactions), rcpts, turns, bytes_in, errors,
 *   max_concurrent, cpu_user_s and cpu_sys_s (floats, getrusage self),
 *   tls_groups: { "<wolfSSL group name>": handshakes }, e.g. "X25519",
 *   "SECP256R1" ("none": no key exchange, as in a TLS 1.2 resumption),
 *   recipients: { "<address>": { "count": n, "sha256": ["<hex>", ...] } }
 * with "sha256_truncated": true in an entry that had more than DIGESTS_MAX
 * distinct messages.  A recipient accepted by RCPT whose transaction never
 * completed appears with count 0.  "errors" counts 4xx/5xx replies,
 * STARTTLS injections, flooding peers, and peers that vanished inside a
 * transaction.  "bytes_in" is bytes off the sockets, TLS records included.
 */
static bool write_stats(struct sink *s)
{
	if (s->stats_path == NULL)
		return true;
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", s->stats_path) >=
	    (int)sizeof tmp) {
		fprintf(stderr, "mxc-sink: stats path too long\n");
		return false;
	}
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		fprintf(stderr, "mxc-sink: %s: %s\n", tmp, strerror(errno));
		return false;
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	const struct stats *st = &s->st;
	fprintf(f,
	        "{\"connections\": %llu, \"tls_full\": %llu, "
	        "\"tls_resumed\": %llu, \"tls_failed\": %llu, "
	        "\"transactions\": %llu, \"messages\": %llu, \"rcpts\": %llu, "
	        "\"turns\": %llu, \"bytes_in\": %llu, \"errors\": %llu, "
	        "\"max_concurrent\": %llu, \"cpu_user_s\": %.3f, "
	        "\"cpu_sys_s\": %.3f, \"tls_groups\": {",
	        (unsigned long long)st->connections,
	        (unsigned long long)st->tls_full,
	        (unsigned long long)st->tls_resumed,
	        (unsigned long long)st->tls_failed,
	        (unsigned long long)st->transactions,
	        (unsigned long long)st->transactions,
	        (unsigned long long)st->rcpts, (unsigned long long)st->turns,
	        (unsigned long long)st->bytes_in,
	        (unsigned long long)st->errors,
	        (unsigned long long)st->max_concurrent,
	        (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	        (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	for (size_t i = 0; i < st->ngroups; i++) {
		fputs(i ? ", " : "", f);
		json_string(f, st->groups[i].name, strlen(st->groups[i].name));
		fprintf(f, ": %llu", (unsigned long long)st->groups[i].count);
	}
	fputs("},\n\"recipients\": {", f);
	const char *sep = "\n";
	for (size_t i = 0; i < s->rcpts.cap; i++) {
		const struct rcpt *r = s->rcpts.slot[i];
		if (r == NULL)
			continue;
		fputs(sep, f);
		sep = ",\n";
		json_string(f, r->addr, r->len);
		fprintf(f, ": {\"count\": %llu, \"sha256\": [",
		        (unsigned long long)r->count);
		for (uint32_t k = 0; k < r->ndigest; k++) {
			fputs(k ? ", \"" : "\"", f);
			for (int b = 0; b < 32; b++)
				fprintf(f, "%02x", r->digest[k][b]);
			fputc('"', f);
		}
		fputc(']', f);
		if (r->digest_dropped)
			fputs(", \"sha256_truncated\": true", f);
		fputc('}', f);
	}
	fputs("}}\n", f);
	bool ok = !ferror(f);
	if (fclose(f) != 0)
		ok = false;
	if (!ok || rename(tmp, s->stats_path) != 0) {
		fprintf(stderr, "mxc-sink: cannot write %s\n", s->stats_path);
		unlink(tmp);
		return false;
	}
	return true;
}

/* ---- events and output ---- */

/* Arms exactly the event a connection now waits for. */
static void conn_wait(struct conn *c, enum conn_wait w)
{
	if (c->waiting == w)
		return;
	switch (c->waiting) {
	case WAIT_READ:
		event_del(&c->ev_read);
		break;
	case WAIT_WRITE:
		event_del(&c->ev_write);
		break;
	case WAIT_DELAY:
		event_del(&c->ev_delay);
		break;
	case WAIT_NONE:
		break;
	}
	struct sink *s = c->sink;
	switch (w) {
	case WAIT_READ:
		event_add(&c->ev_read, s->idle_tv);
		break;
	case WAIT_WRITE:
		event_add(&c->ev_write, s->idle_tv);
		break;
	case WAIT_DELAY:
		event_add(&c->ev_delay, s->delay_tv);
		break;
	case WAIT_NONE:
		break;
	}
	c->waiting = w;
}

/* Ends the open transaction, if any, and forgets its recipients. */
static void txn_reset(struct conn *c)
{
	if (c->hashing)
		wc_Sha256Free(&c->sha);
	c->hashing = false;
	c->mail = false;
	c->nrcpt = 0;
	c->msg_size = 0;
	c->too_big = false;
	c->bdat_used = false;
	c->state = SMTP_CMD;
}

/* Closes a connection and frees everything it holds. */
static void conn_close(struct conn *c)
{
	struct sink *s = c->sink;
	conn_wait(c, WAIT_NONE);
	if (c->ssl != NULL) {
		/* A polite close_notify after QUIT; never waited for. */
		if (c->tls == TLS_ON && c->closing && !c->dead)
			(void)wolfSSL_shutdown(c->ssl);
		wolfSSL_free(c->ssl);
	}
	if (c->tls == TLS_HANDSHAKE)
		s->st.tls_failed++;
	/* A peer gone in the middle of a transaction is a protocol error. */
	if (c->mail && !c->closing)
		s->st.errors++;
	close(c->fd);
	txn_reset(c);
	if (s->raw_owner == c)
		s->raw_owner = NULL;
	free(c->stash);
	free(c->out);
	free(c->line);
	free(c->rcpt);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	s->st.current--;
	free(c);
}

/* Queues reply text in the round's shared output. */
static void say(struct conn *c, const char *text)
{
	struct sink *s = c->sink;
	size_t len = strlen(text);
	if (text[0] == '4' || text[0] == '5') {
		s->st.errors++;
		c->errors++;
	}
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap * 2;
		while (cap < s->out_len + len)
			cap *= 2;
		unsigned char *p = cap <= OUT_MAX ? realloc(s->out, cap) : NULL;
		if (p == NULL) {
			/* Only a peer flooding us with commands gets here. */
			s->st.errors++;
			c->dead = true;
			return;
		}
		s->out = p;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, text, len);
	s->out_len += len;
}

/* Keeps output that the socket (or wolfSSL) could not take yet. */
static void conn_keep_output(struct conn *c, const unsigned char *p,
                             size_t len)
{
	c->out = malloc(len);
	if (c->out == NULL) {
		c->dead = true;
		return;
	}
	memcpy(c->out, p, len);
	c->out_len = len;
}

/*
 * Writes plaintext; returns the bytes taken (possibly 0) or -1 if the peer
 * is gone.
 */
static ssize_t plain_write(struct conn *c, const unsigned char *p, size_t len)
{
	for (;;) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return -1;
	}
}

/*
 * Writes bytes through TLS; returns 1 when all is taken, 0 when wolfSSL
 * must be called again with the same bytes (setting out_want_read if it
 * waits for input rather than room), -1 on failure.
 */
static int tls_write(struct conn *c, const unsigned char *p, size_t len)
{
	int n = wolfSSL_write(c->ssl, p, (int)len);
	if (n > 0)
		return 1;
	switch (wolfSSL_get_error(c->ssl, n)) {
	case WOLFSSL_ERROR_WANT_WRITE:
		c->out_want_read = false;
		return 0;
	case WOLFSSL_ERROR_WANT_READ:
		/* Not seen without renegotiation, which this build refuses,
		 * but handled: wait for input, then write again. */
		c->out_want_read = true;
		return 0;
	default:
		return -1;
	}
}

/* Writes the round's replies; what the peer cannot take yet is kept. */
static void conn_output(struct conn *c)
{
	struct sink *s = c->sink;
	if (s->out_len == 0 || c->dead)
		return;
	c->sent = true;
	if (c->tls != TLS_ON) {
		ssize_t n = plain_write(c, s->out, s->out_len);
		if (n < 0)
			c->dead = true;
		else if ((size_t)n < s->out_len)
			conn_keep_output(c, s->out + n, s->out_len - (size_t)n);
		return;
	}
	/* wolfSSL wants the same bytes again after WANT_WRITE: keep them. */
	int r = tls_write(c, s->out, s->out_len);
	if (r < 0)
		c->dead = true;
	else if (r == 0)
		conn_keep_output(c, s->out, s->out_len);
}

/* Retries output kept from an earlier round; false if the peer is gone. */
static bool conn_flush_kept(struct conn *c)
{
	if (c->out_len == 0)
		return true;
	if (c->tls != TLS_ON) {
		ssize_t n = plain_write(c, c->out, c->out_len);
		if (n < 0)
			return false;
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	} else {
		/* The write may have waited for input: let it read. */
		tls_io_begin(c);
		int r = tls_write(c, c->out, c->out_len);
		tls_io_end(c);
		if (r < 0)
			return false;
		if (r == 1)
			c->out_len = 0;
	}
	if (c->out_len == 0) {
		free(c->out);
		c->out = NULL;
		c->out_want_read = false;
	}
	return true;
}

/* ---- TLS I/O callbacks: wolfSSL's view of the socket ---- */

/*
 * wolfSSL's receive callback.  It serves bytes a previous round left over,
 * then the round's shared recv() buffer, and calls recv() only when that is
 * empty and the socket may hold more: a round costs one recv() in the
 * usual case, not one per record header and body.
 */
static int tls_recv_cb(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct conn *c = arg;
	struct sink *s = c->sink;
	size_t want = sz > 0 ? (size_t)sz : 0;
	if (c->stash != NULL) {
		size_t n = c->stash_len - c->stash_off;
		if (n > want)
			n = want;
		memcpy(buf, c->stash + c->stash_off, n);
		c->stash_off += n;
		if (c->stash_off == c->stash_len) {
			free(c->stash);
			c->stash = NULL;
		}
		return (int)n;
	}
	if (s->raw_owner != c)
		return WOLFSSL_CBIO_ERR_WANT_READ; /* not inside a round */
	if (s->raw_off == s->raw_len) {
		if (!s->raw_more || s->round_in >= ROUND_MAX)
			return WOLFSSL_CBIO_ERR_WANT_READ;
		ssize_t n;
		do
			n = recv(c->fd, s->raw, sizeof s->raw, 0);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		if (n < 0) {
			s->raw_more = false;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return WOLFSSL_CBIO_ERR_WANT_READ;
			return WOLFSSL_CBIO_ERR_CONN_RST;
		}
		s->st.bytes_in += (uint64_t)n;
		s->round_in += (size_t)n;
		s->raw_len = (size_t)n;
		s->raw_off = 0;
		/* A short read drained the socket: don't pay for an EAGAIN. */
		s->raw_more = (size_t)n == sizeof s->raw;
	}
	size_t n = s->raw_len - s->raw_off;
	if (n > want)
		n = want;
	memcpy(buf, s->raw + s->raw_off, n);
	s->raw_off += n;
	return (int)n;
}

/* wolfSSL's send callback: one send() per call, never blocking. */
static int tls_send_cb(WOLFSSL *ssl, char *buf, int sz, void *arg)
{
	(void)ssl;
	struct conn *c = arg;
	c->sent = true;
	for (;;) {
		ssize_t n = send(c->fd, buf, sz > 0 ? (size_t)sz : 0,
		                 MSG_NOSIGNAL);
		if (n >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return WOLFSSL_CBIO_ERR_WANT_WRITE;
		if (errno == EPIPE)
			return WOLFSSL_CBIO_ERR_CONN_CLOSE;
		return WOLFSSL_CBIO_ERR_CONN_RST;
	}
}

/* ---- SMTP ---- */

/* True if the verb of a command line (vlen bytes) is `verb`. */
static bool verb_is(const char *line, size_t vlen, const char *verb)
{
	return vlen == strlen(verb) && strncasecmp(line, verb, vlen) == 0;
}

/*
 * Finds "<path>" after optional spaces, followed by the end or a space
 * (parameters, ignored).  Sets *start and *len to the inside.
 */
static bool parse_path(const char *s, const char **start, size_t *len)
{
	while (*s == ' ')
		s++;
	if (*s != '<')
		return false;
	const char *close = strchr(s + 1, '>');
	if (close == NULL || (close[1] != '\0' && close[1] != ' '))
		return false;
	*start = s + 1;
	*len = (size_t)(close - s - 1);
	return true;
}

/* Starts hashing a new message. */
static void msg_begin(struct conn *c)
{
	if (!c->hashing) {
		wc_InitSha256(&c->sha);
		c->hashing = true;
	}
	c->msg_size = 0;
	c->too_big = false;
}

/* Feeds message content to the running hash, bounded by MSG_MAX. */
static void msg_hash(struct conn *c, const unsigned char *p, size_t len)
{
	if (len == 0 || c->too_big)
		return;
	c->msg_size += len;
	if (c->msg_size > MSG_MAX) {
		c->too_big = true;
		return;
	}
	wc_Sha256Update(&c->sha, p, (word32)len);
}

/* Ends a message: counts it for each recipient, or refuses it. */
static void msg_end(struct conn *c)
{
	struct sink *s = c->sink;
	if (c->too_big) {
		say(c, "552 5.3.4 Error: message size exceeds fixed limit\r\n");
		txn_reset(c);
		return;
	}
	unsigned char digest[32];
	wc_Sha256Final(&c->sha, digest);
	for (size_t i = 0; i < c->nrcpt; i++)
		rcpt_delivered(c->rcpt[i], digest);
	s->st.transactions++;
	say(c, "250 2.0.0 Ok: queued\r\n");
	txn_reset(c);
}

/* EHLO and HELO. */
static void cmd_hello(struct conn *c, const char *arg, bool extended)
{
	struct sink *s = c->sink;
	while (*arg == ' ')
		arg++;
	if (*arg == '\0') {
		say(c, extended ? "501 5.5.4 Syntax: EHLO hostname\r\n"
		                : "501 5.5.4 Syntax: HELO hostname\r\n");
		return;
	}
	txn_reset(c);
	c->helo = true;
	if (!extended) {
		char buf[HOSTNAME_MAX + 16];
		snprintf(buf, sizeof buf, "250 %s\r\n", s->hostname);
		say(c, buf);
		return;
	}
	/* STARTTLS is offered only before TLS and only with a certificate. */
	say(c, c->tls == TLS_OFF && s->tls != NULL ? s->ehlo : s->ehlo_tls);
}

/* MAIL FROM:<path> [parameters]. */
static void cmd_mail(struct conn *c, const char *arg)
{
	const char *path;
	size_t len;
	if (!c->helo) {
		say(c, "503 5.5.1 Error: send HELO/EHLO first\r\n");
	} else if (c->sink->tls_required && c->tls != TLS_ON) {
		say(c, "530 5.7.0 Must issue a STARTTLS command first\r\n");
	} else if (c->mail) {
		say(c, "503 5.5.1 Error: nested MAIL command\r\n");
	} else if (strncasecmp(arg, "FROM:", 5) != 0 ||
	           !parse_path(arg + 5, &path, &len)) {
		say(c, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
	} else {
		c->mail = true;
		say(c, "250 2.1.0 Ok\r\n");
	}
}

/* RCPT TO:<path> [parameters]. */
static void cmd_rcpt(struct conn *c, const char *arg)
{
	struct sink *s = c->sink;
	const char *path;
	size_t len;
	if (!c->mail) {
		say(c, "503 5.5.1 Error: need MAIL command\r\n");
		return;
	}
	if (strncasecmp(arg, "TO:", 3) != 0 ||
	    !parse_path(arg + 3, &path, &len)) {
		say(c, "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
		return;
	}
	char addr[RCPT_ADDR_MAX];
	bool bad = len == 0 || len > sizeof addr;
	for (size_t i = 0; !bad && i < len; i++) {
		unsigned char ch = (unsigned char)path[i];
		if (ch < 0x20 || ch == 0x7f)
			bad = true;
		else
			addr[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	if (bad) {
		say(c, "501 5.1.3 Bad recipient address syntax\r\n");
		return;
	}
	if (c->nrcpt >= RCPT_PER_TXN_MAX) {
		say(c, "452 4.5.3 Error: too many recipients\r\n");
		return;
	}
	if (c->nrcpt == c->rcpt_cap) {
		size_t cap = c->rcpt_cap ? c->rcpt_cap * 2 : 8;
		struct rcpt **p = realloc(c->rcpt, cap * sizeof *p);
		if (p == NULL) {
			say(c, "452 4.3.1 Insufficient system storage\r\n");
			return;
		}
		c->rcpt = p;
		c->rcpt_cap = cap;
	}
	struct rcpt *r = rcpt_get(&s->rcpts, addr, len);
	if (r == NULL) {
		say(c, "452 4.3.1 Insufficient system storage\r\n");
		return;
	}
	c->rcpt[c->nrcpt++] = r;
	s->st.rcpts++;
	say(c, "250 2.1.5 Ok\r\n");
}

/* DATA. */
static void cmd_data(struct conn *c, const char *arg)
{
	if (!c->mail) {
		say(c, "503 5.5.1 Error: need MAIL command\r\n");
	} else if (c->nrcpt == 0) {
		say(c, "554 5.5.1 Error: no valid recipients\r\n");
	} else if (c->bdat_used) {
		say(c, "503 5.5.1 Error: DATA after BDAT\r\n");
	} else if (*arg != '\0') {
		say(c, "501 5.5.4 Syntax: DATA\r\n");
	} else {
		msg_begin(c);
		c->state = SMTP_DATA;
		c->bol = true;
		c->dot = DOT_NONE;
		say(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	}
}

/* Answers a BDAT chunk once all of its octets are in. */
static void bdat_done(struct conn *c)
{
	c->state = SMTP_CMD;
	if (!c->bdat_ok) {
		say(c, !c->mail ? "503 5.5.1 Error: need MAIL command\r\n"
		                : "554 5.5.1 Error: no valid recipients\r\n");
		return;
	}
	if (c->bdat_last) {
		msg_end(c);
		return;
	}
	if (c->too_big) {
		/* Refuse now; the client must start again. */
		say(c, "552 5.3.4 Error: message size exceeds fixed limit\r\n");
		txn_reset(c);
		return;
	}
	say(c, "250 2.0.0 Ok: chunk received\r\n");
}

/* BDAT size [LAST]. */
static void cmd_bdat(struct conn *c, const char *arg)
{
	uint64_t n = 0;
	size_t digits = 0;
	while (*arg == ' ')
		arg++;
	for (; arg[digits] >= '0' && arg[digits] <= '9'; digits++) {
		n = n * 10 + (uint64_t)(arg[digits] - '0');
		if (n > BDAT_CHUNK_MAX)
			break;
	}
	const char *rest = arg + digits;
	while (*rest == ' ')
		rest++;
	bool last = strcasecmp(rest, "LAST") == 0;
	if (digits == 0 || n > BDAT_CHUNK_MAX || (*rest != '\0' && !last)) {
		/* Without a size the octets that follow cannot be skipped. */
		say(c, "501 5.5.4 Syntax: BDAT size [LAST]\r\n");
		c->closing = true;
		return;
	}
	c->bdat_ok = c->mail && c->nrcpt > 0;
	if (c->bdat_ok && !c->bdat_used) {
		msg_begin(c);
		c->bdat_used = true;
	}
	c->bdat_left = n;
	c->bdat_last = last;
	c->state = SMTP_BDAT;
	if (n == 0)
		bdat_done(c);
}

/* STARTTLS. */
static void cmd_starttls(struct conn *c, const char *arg)
{
	if (c->tls != TLS_OFF) {
		say(c, "503 5.5.1 Error: TLS already active\r\n");
	} else if (c->sink->tls == NULL) {
		say(c, "454 4.7.0 TLS not available\r\n");
	} else if (*arg != '\0') {
		say(c, "501 5.5.4 Syntax: STARTTLS\r\n");
	} else {
		/* RFC 3207: the session starts again after TLS. */
		txn_reset(c);
		c->helo = false;
		c->starttls = true;
		say(c, "220 2.0.0 Ready to start TLS\r\n");
	}
}

/* Runs one complete command line (NUL-terminated, CRLF stripped). */
static void smtp_command(struct conn *c, char *line, size_t len)
{
	size_t vlen = 0;
	while (vlen < len && line[vlen] != ' ')
		vlen++;
	const char *arg = vlen < len ? line + vlen + 1 : line + len;
	if (memchr(line, '\0', len) != NULL)
		say(c, "500 5.5.2 Error: bad syntax\r\n");
	else if (verb_is(line, vlen, "EHLO"))
		cmd_hello(c, arg, true);
	else if (verb_is(line, vlen, "HELO"))
		cmd_hello(c, arg, false);
	else if (verb_is(line, vlen, "MAIL"))
		cmd_mail(c, arg);
	else if (verb_is(line, vlen, "RCPT"))
		cmd_rcpt(c, arg);
	else if (verb_is(line, vlen, "DATA"))
		cmd_data(c, arg);
	else if (verb_is(line, vlen, "BDAT"))
		cmd_bdat(c, arg);
	else if (verb_is(line, vlen, "RSET")) {
		txn_reset(c);
		say(c, "250 2.0.0 Ok\r\n");
	} else if (verb_is(line, vlen, "NOOP"))
		say(c, "250 2.0.0 Ok\r\n");
	else if (verb_is(line, vlen, "QUIT")) {
		say(c, "221 2.0.0 Bye\r\n");
		c->closing = true;
	} else if (verb_is(line, vlen, "STARTTLS"))
		cmd_starttls(c, arg);
	else
		say(c, "502 5.5.2 Error: command not recognized\r\n");
	if (c->errors > ERRORS_PER_CONN_MAX && !c->closing) {
		say(c, "421 4.7.0 Error: too many errors\r\n");
		c->closing = true;
	}
}

/* Runs a line held in a buffer of at least len+1 bytes. */
static void smtp_line(struct conn *c, char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	line[len] = '\0';
	smtp_command(c, line, len);
}

/* Consumes command bytes up to and including one LF. */
static const unsigned char *feed_command(struct conn *c,
                                         const unsigned char *p,
                                         const unsigned char *end)
{
	const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
	size_t take = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
	if (c->line_len == 0 && !c->line_long && lf != NULL &&
	    take <= CMD_LINE_MAX) {
		/* The usual case: a whole line in the buffer. */
		char line[CMD_LINE_MAX + 1];
		memcpy(line, p, take);
		smtp_line(c, line, take);
		return lf + 1;
	}
	/* A line split across rounds: keep the piece. */
	if (!c->line_long) {
		if (c->line == NULL) {
			c->line = malloc(CMD_LINE_MAX + 1);
			if (c->line == NULL) {
				c->dead = true;
				return end;
			}
		}
		if (c->line_len + take > CMD_LINE_MAX) {
			c->line_long = true;
		} else {
			memcpy(c->line + c->line_len, p, take);
			c->line_len += take;
		}
	}
	if (lf == NULL)
		return end;
	if (c->line_long)
		say(c, "500 5.5.2 Error: line too long\r\n");
	else
		smtp_line(c, c->line, c->line_len);
	c->line_len = 0;
	c->line_long = false;
	return lf + 1;
}

/*
 * Consumes DATA content: undoes dot-stuffing, hashes the text, and stops
 * after the ending "<CRLF>.<CRLF>" (whose ".\r\n" is not content).  Works on
 * spans between line feeds, not byte by byte.
 */
static const unsigned char *feed_data(struct conn *c, const unsigned char *p,
                                      const unsigned char *end)
{
	while (p < end) {
		if (c->dot == DOT_SEEN) {
			if (*p == '\r') {
				c->dot = DOT_CR;
				p++;
				continue;
			}
			c->dot = DOT_NONE; /* a stuffed dot: dropped */
			c->bol = false;
			continue;
		}
		if (c->dot == DOT_CR) {
			if (*p == '\n') {
				msg_end(c);
				return p + 1;
			}
			c->dot = DOT_NONE; /* stuffed dot dropped, CR kept */
			c->bol = false;
			msg_hash(c, (const unsigned char *)"\r", 1);
			continue;
		}
		if (c->bol) {
			c->bol = false;
			if (*p == '.') {
				c->dot = DOT_SEEN;
				p++;
				continue;
			}
		}
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		const unsigned char *stop = lf != NULL ? lf + 1 : end;
		msg_hash(c, p, (size_t)(stop - p));
		c->bol = lf != NULL;
		p = stop;
	}
	return p;
}

/* Consumes BDAT chunk octets. */
static const unsigned char *feed_bdat(struct conn *c, const unsigned char *p,
                                      const unsigned char *end)
{
	size_t take = (size_t)(end - p);
	if (take > c->bdat_left)
		take = (size_t)c->bdat_left;
	if (c->bdat_ok)
		msg_hash(c, p, take);
	c->bdat_left -= take;
	if (c->bdat_left == 0)
		bdat_done(c);
	return p + take;
}

/* Runs input through the SMTP state machine, in order. */
static void smtp_feed(struct conn *c, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n;
	while (p < end && !c->dead && !c->closing) {
		if (c->starttls) {
			/* Bytes sent before TLS could start: command
			 * injection (RFC 3207 5).  Answer what came before,
			 * then hang up. */
			c->sink->st.errors++;
			c->closing = true;
			return;
		}
		switch (c->state) {
		case SMTP_CMD:
			p = feed_command(c, p, end);
			break;
		case SMTP_DATA:
			p = feed_data(c, p, end);
			break;
		case SMTP_BDAT:
			p = feed_bdat(c, p, end);
			break;
		}
	}
}

/* ---- rounds ---- */

/* Reads plaintext input and runs it, up to ROUND_MAX bytes. */
static void plain_input(struct conn *c)
{
	struct sink *s = c->sink;
	size_t total = 0;
	while (total < ROUND_MAX) {
		ssize_t n = recv(c->fd, s->raw, sizeof s->raw, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			c->dead = true;
			return;
		}
		s->st.bytes_in += (uint64_t)n;
		total += (size_t)n;
		smtp_feed(c, s->raw, (size_t)n);
		/* After STARTTLS the next bytes are TLS: stop here. */
		if (c->dead || c->closing || c->starttls ||
		    (size_t)n < sizeof s->raw)
			return;
	}
}

/* Counts a handshake under its key-exchange group (NULL: none). */
static void count_group(struct stats *st, const char *name)
{
	if (name == NULL)
		name = "none";
	for (size_t i = 0; i < st->ngroups; i++) {
		if (strcmp(st->groups[i].name, name) == 0) {
			st->groups[i].count++;
			return;
		}
	}
	/* More groups than wolfSSL implements cannot occur; if the table is
	 * full anyway, the handshake is still in tls_full/tls_resumed. */
	if (st->ngroups == GROUPS_MAX)
		return;
	snprintf(st->groups[st->ngroups].name,
	         sizeof st->groups[st->ngroups].name, "%s", name);
	st->groups[st->ngroups++].count = 1;
}

/* Advances the handshake, then reads and runs decrypted input. */
static void tls_input(struct conn *c)
{
	struct sink *s = c->sink;
	if (c->tls == TLS_HANDSHAKE) {
		int r = wolfSSL_accept(c->ssl);
		if (r != WOLFSSL_SUCCESS) {
			int e = wolfSSL_get_error(c->ssl, r);
			if (e == WOLFSSL_ERROR_WANT_WRITE)
				c->want_write = true;
			else if (e != WOLFSSL_ERROR_WANT_READ)
				c->dead = true; /* counted as failed on close */
			return;
		}
		/* wolfSSL_accept may finish in one call: go on reading. */
		c->tls = TLS_ON;
		if (wolfSSL_session_reused(c->ssl))
			s->st.tls_resumed++;
		else
			s->st.tls_full++;
		count_group(&s->st, wolfSSL_get_curve_name(c->ssl));
	}
	while (!c->dead && !c->closing) {
		int n = wolfSSL_read(c->ssl, s->app, sizeof s->app);
		if (n > 0) {
			smtp_feed(c, s->app, (size_t)n);
			continue;
		}
		int e = wolfSSL_get_error(c->ssl, n);
		if (e == WOLFSSL_ERROR_WANT_WRITE)
			c->want_write = true;
		else if (e != WOLFSSL_ERROR_WANT_READ)
			c->dead = true; /* close_notify, reset, bad record */
		return;
	}
}

/* Hands the shared raw buffer to a connection about to call wolfSSL. */
static void tls_io_begin(struct conn *c)
{
	struct sink *s = c->sink;
	s->raw_owner = c;
	s->raw_len = s->raw_off = 0;
	s->raw_more = true;
	s->round_in = 0;
}

/*
 * Takes the shared raw buffer back.  A round that stopped before wolfSSL
 * wanted more input (closing aside) keeps its unread TLS bytes.
 */
static void tls_io_end(struct conn *c)
{
	struct sink *s = c->sink;
	if (s->raw_owner == c && s->raw_off < s->raw_len && !c->dead &&
	    !c->closing) {
		size_t left = s->raw_len - s->raw_off;
		size_t old = c->stash != NULL ? c->stash_len - c->stash_off : 0;
		unsigned char *p = malloc(old + left);
		if (p == NULL) {
			c->dead = true;
		} else {
			if (old > 0)
				memcpy(p, c->stash + c->stash_off, old);
			free(c->stash);
			memcpy(p + old, s->raw + s->raw_off, left);
			c->stash = p;
			c->stash_len = old + left;
			c->stash_off = 0;
		}
	}
	s->raw_owner = NULL;
}

/*
 * One round: read what the peer sent, run it, write all replies at once.
 * Only called with no output kept from an earlier round.
 */
static void conn_round(struct conn *c)
{
	struct sink *s = c->sink;
	s->out_len = 0;
	c->sent = false;
	c->want_write = false;
	if (c->tls == TLS_OFF) {
		plain_input(c);
		conn_output(c);
	} else {
		tls_io_begin(c);
		tls_input(c);
		conn_output(c);
		tls_io_end(c);
	}
	if (c->sent)
		s->st.turns++;
	conn_settle(c);
}

/* Decides what a connection waits for next, or closes it. */
static void conn_settle(struct conn *c)
{
	struct sink *s = c->sink;
	if (c->dead) {
		conn_close(c);
		return;
	}
	if (c->out_len > 0) {
		conn_wait(c, c->out_want_read ? WAIT_READ : WAIT_WRITE);
		return;
	}
	if (c->want_write) {
		conn_wait(c, WAIT_WRITE);
		return;
	}
	if (c->closing) {
		conn_close(c);
		return;
	}
	if (c->starttls) {
		/* The 220 is out: only now may TLS bytes flow. */
		c->starttls = false;
		c->ssl = wolfSSL_new(s->tls);
		if (c->ssl == NULL || wolfSSL_set_fd(c->ssl, c->fd) !=
		                          WOLFSSL_SUCCESS) {
			conn_close(c);
			return;
		}
		/* Our callbacks still use this fd; they add the shared
		 * buffer and the byte and turn counts. */
		wolfSSL_SetIOReadCtx(c->ssl, c);
		wolfSSL_SetIOWriteCtx(c->ssl, c);
		c->tls = TLS_HANDSHAKE;
	}
	conn_wait(c, WAIT_READ);
}

/* Sends the greeting (one turn: the answer to the TCP handshake). */
static void conn_greet(struct conn *c)
{
	struct sink *s = c->sink;
	char buf[HOSTNAME_MAX + 32];
	c->greeted = true;
	s->out_len = 0;
	c->sent = false;
	snprintf(buf, sizeof buf, "220 %s ESMTP mxc-sink\r\n", s->hostname);
	say(c, buf);
	conn_output(c);
	if (c->sent)
		s->st.turns++;
	conn_settle(c);
}

/* The socket is readable: a flight arrived (or the idle time ran out). */
static void on_read(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct conn *c = arg;
	if (what & EV_TIMEOUT) {
		conn_close(c);
		return;
	}
	if (c->out_len > 0) {
		/* A write that waited for input (see tls_write). */
		if (!conn_flush_kept(c))
			c->dead = true;
		conn_settle(c);
		return;
	}
	if (c->sink->delay_ms > 0) {
		conn_wait(c, WAIT_DELAY);
		return;
	}
	conn_round(c);
}

/* The emulated round trip is over: greet or run the flight. */
static void on_delay(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	c->waiting = WAIT_NONE; /* a one-shot timer: no longer armed */
	if (!c->greeted)
		conn_greet(c);
	else
		conn_round(c);
}

/* The socket has room: finish kept output, or resume a wolfSSL call. */
static void on_write(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct conn *c = arg;
	if (what & EV_TIMEOUT) {
		conn_close(c);
		return;
	}
	if (!conn_flush_kept(c)) {
		conn_close(c);
		return;
	}
	if (c->out_len > 0)
		return; /* still blocked: keep waiting */
	if (c->want_write) {
		/* A handshake or read step stopped for room: redo it now. */
		conn_round(c);
		return;
	}
	conn_settle(c);
}

/* Sets up a freshly accepted connection. */
static void conn_new(struct sink *s, int fd)
{
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL) {
		close(fd);
		return;
	}
	c->sink = s;
	c->fd = fd;
	event_assign(&c->ev_read, s->base, fd, EV_READ | EV_PERSIST, on_read,
	             c);
	event_assign(&c->ev_write, s->base, fd, EV_WRITE | EV_PERSIST,
	             on_write, c);
	evtimer_assign(&c->ev_delay, s->base, on_delay, c);
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	s->st.connections++;
	if (++s->st.current > s->st.max_concurrent)
		s->st.max_concurrent = s->st.current;
	if (s->delay_ms > 0)
		conn_wait(c, WAIT_DELAY); /* the SYN/SYN-ACK round trip */
	else
		conn_greet(c);
}

/* ---- listening ---- */

/* Stops accepting for a moment: out of descriptors or memory. */
static void listeners_pause(struct sink *s)
{
	for (size_t i = 0; i < s->nlisteners; i++)
		event_del(&s->listeners[i].ev);
	struct timeval tv = {0, 100 * 1000};
	evtimer_add(&s->pause_ev, &tv);
}

/* Resumes accepting after a pause. */
static void on_pause_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct sink *s = arg;
	for (size_t i = 0; i < s->nlisteners; i++)
		event_add(&s->listeners[i].ev, NULL);
}

/* A listening socket is readable: accept a burst of connections. */
static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct listener *l = arg;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM)
				listeners_pause(l->sink);
			return;
		}
		/* Replies go out once per round: Nagle would only delay the
		 * second write of a round (e.g. the TLS flight's tail). */
		int one = 1;
		setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		conn_new(l->sink, cfd);
	}
}

/*
 * Parses "ADDR:PORT" or "[ADDR]:PORT" (numeric only) into a socket
 * address; false if malformed.
 */
static bool parse_listen(const char *spec, struct sockaddr_storage *ss,
                         socklen_t *sslen)
{
	char host[128];
	const char *port;
	size_t hlen;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL || close[1] != ':')
			return false;
		hlen = (size_t)(close - spec - 1);
		port = close + 2;
		spec++;
	} else {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL || memchr(spec, ':', (size_t)(colon - spec)))
			return false; /* an IPv6 address needs brackets */
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen == 0 || hlen >= sizeof host || *port == '\0' ||
	    strspn(port, "0123456789") != strlen(port))
		return false;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	struct addrinfo hints = {0}, *ai;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return false;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*sslen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return true;
}

/* Opens one listening socket; false (with a message) if it cannot. */
static bool listener_open(struct sink *s, const char *spec, bool quiet_v6)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (s->nlisteners >= LISTEN_MAX) {
		fprintf(stderr, "mxc-sink: at most %d --listen\n", LISTEN_MAX);
		return false;
	}
	if (!parse_listen(spec, &ss, &sslen)) {
		fprintf(stderr, "mxc-sink: bad --listen %s (ADDR:PORT or "
		                "[ADDR]:PORT)\n", spec);
		return false;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	                SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (!(quiet_v6 && errno == EAFNOSUPPORT))
			fprintf(stderr, "mxc-sink: %s: %s\n", spec,
			        strerror(errno));
		return false;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* [::] must not also take the IPv4 port that 0.0.0.0 holds. */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    listen(fd, BACKLOG) != 0) {
		if (!(quiet_v6 && errno == EADDRNOTAVAIL))
			fprintf(stderr, "mxc-sink: %s: %s\n", spec,
			        strerror(errno));
		close(fd);
		return false;
	}
	struct listener *l = &s->listeners[s->nlisteners++];
	l->sink = s;
	l->fd = fd;
	snprintf(l->name, sizeof l->name, "%s", spec);
	event_assign(&l->ev, s->base, fd, EV_READ | EV_PERSIST, on_accept, l);
	event_add(&l->ev, NULL);
	fprintf(stderr, "mxc-sink: listening on %s\n", l->name);
	return true;
}

/* ---- setup ---- */

/* SIGTERM/SIGINT: write the stats and stop; SIGUSR1: write them only. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct sink *s = arg;
	bool ok = write_stats(s);
	if (sig == SIGUSR1)
		return;
	s->exit_code = ok ? 0 : 1;
	event_base_loopbreak(s->base);
}

/* Builds the TLS server context; NULL (with a message) on failure. */
static WOLFSSL_CTX *tls_setup(const char *cert, const char *key)
{
	WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
	if (ctx == NULL) {
		fprintf(stderr, "mxc-sink: cannot create a TLS context\n");
		return NULL;
	}
	/* TLS 1.2 and 1.3; X25519 first: it is the cheaper key share. */
	int groups[] = {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1};
	if (wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_certificate_chain_file(ctx, cert) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(ctx, key, WOLFSSL_FILETYPE_PEM) !=
	        WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_set_groups(ctx, groups, 2) != WOLFSSL_SUCCESS) {
		fprintf(stderr, "mxc-sink: cannot load %s / %s\n", cert, key);
		wolfSSL_CTX_free(ctx);
		return NULL;
	}
	/* Tickets for TLS 1.2 too; TLS 1.3 servers send them by default
	 * (wolfSSL's built-in ticket key), so clients can resume.  Longer
	 * than wolfSSL's default 300 s, so a long run resumes throughout. */
	wolfSSL_CTX_UseSessionTicket(ctx);
	if (wolfSSL_CTX_set_TicketHint(ctx, SESSION_SECONDS) != WOLFSSL_SUCCESS)
		fprintf(stderr, "mxc-sink: cannot set the ticket lifetime\n");
	/* Its result is the old timeout with OPENSSL_EXTRA, else a status:
	 * nothing to check. */
	(void)wolfSSL_CTX_set_timeout(ctx, SESSION_SECONDS);
	wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
	wolfSSL_CTX_SetIORecv(ctx, tls_recv_cb);
	wolfSSL_CTX_SetIOSend(ctx, tls_send_cb);
	return ctx;
}

/* Writes an EHLO reply advertising the first `next` extensions. */
static void ehlo_reply(char *buf, size_t size, const char *host, size_t next)
{
	static const char *const ext[] = {
		"PIPELINING", "SIZE 104857600", "8BITMIME", "SMTPUTF8",
		"ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS",
	};
	size_t len = 0;
	if (next > sizeof ext / sizeof ext[0])
		next = sizeof ext / sizeof ext[0];
	/* The last line of a reply says "250 ", the others "250-". */
	len += (size_t)snprintf(buf, size, "250%c%s\r\n", next ? '-' : ' ',
	                        host);
	for (size_t i = 0; i < next && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "250%c%s\r\n",
		                        i + 1 < next ? '-' : ' ', ext[i]);
}

/* Prebuilds the two EHLO replies: before TLS, and once TLS is on. */
static void build_ehlo(struct sink *s)
{
	/* The host name is at most HOSTNAME_MAX: both fit in 512 bytes. */
	ehlo_reply(s->ehlo, sizeof s->ehlo, s->hostname, 7);
	ehlo_reply(s->ehlo_tls, sizeof s->ehlo_tls, s->hostname, 6);
}

/* Lets the process hold as many connections as the hard limit allows. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			fprintf(stderr, "mxc-sink: cannot raise RLIMIT_NOFILE: "
			                "%s\n", strerror(errno));
	}
}

/* Prints the usage. */
static void usage(FILE *f)
{
	fprintf(f,
	        "usage: mxc-sink [--listen ADDR:PORT|[ADDR]:PORT]... "
	        "[--cert FILE --key FILE]\n"
	        "                [--hostname NAME] [--delay-ms N] "
	        "[--stats FILE] [--tls-required]\n"
	        "  --listen      repeatable; default 0.0.0.0:25 and [::]:25\n"
	        "  --cert/--key  PEM leaf (+chain) and key: offer STARTTLS\n"
	        "  --hostname    in the greeting and EHLO (sink.example)\n"
	        "  --delay-ms    emulated round-trip time per client flight\n"
	        "  --stats       JSON counters written on SIGTERM/SIGINT "
	        "(exit 0) and SIGUSR1\n"
	        "  --tls-required  refuse MAIL before STARTTLS (530)\n");
}

/* Frees everything (so a sanitizer run can see leaks of our own). */
static void sink_free(struct sink *s)
{
	while (s->conns != NULL)
		conn_close(s->conns);
	for (size_t i = 0; i < s->nlisteners; i++) {
		event_del(&s->listeners[i].ev);
		close(s->listeners[i].fd);
	}
	for (size_t i = 0; s->signals_on && i < sizeof s->sig_ev /
	                                        sizeof s->sig_ev[0]; i++)
		event_del(&s->sig_ev[i]);
	event_del(&s->pause_ev);
	rcpt_table_free(&s->rcpts);
	free(s->out);
	if (s->tls != NULL) {
		wolfSSL_CTX_free(s->tls);
		wolfSSL_Cleanup();
	}
	event_base_free(s->base);
	free(s);
}

/* Parses the options, listens, serves until SIGTERM/SIGINT. */
int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"cert", required_argument, NULL, 'c'},
		{"key", required_argument, NULL, 'k'},
		{"hostname", required_argument, NULL, 'n'},
		{"delay-ms", required_argument, NULL, 'd'},
		{"stats", required_argument, NULL, 's'},
		{"tls-required", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *listen_spec[LISTEN_MAX];
	size_t nlisten = 0;
	const char *cert = NULL, *key = NULL;
	/* Heap, not stack: the shared buffers make it ~50 KB. */
	struct sink *s = calloc(1, sizeof *s);
	if (s == NULL)
		return 1;
	s->hostname = "sink.example";
	int opt;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (nlisten == LISTEN_MAX) {
				fprintf(stderr, "mxc-sink: at most %d --listen\n",
				        LISTEN_MAX);
				free(s);
				return 2;
			}
			listen_spec[nlisten++] = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			s->hostname = optarg;
			break;
		case 'd': {
			char *end;
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg ||
			    optarg[0] == '-' || v > 600000) {
				fprintf(stderr, "mxc-sink: bad --delay-ms\n");
				free(s);
				return 2;
			}
			s->delay_ms = (unsigned)v;
			break;
		}
		case 's':
			s->stats_path = optarg;
			break;
		case 't':
			s->tls_required = true;
			break;
		case 'h':
			usage(stdout);
			free(s);
			return 0;
		default:
			usage(stderr);
			free(s);
			return 2;
		}
	}
	size_t hlen = strlen(s->hostname);
	if (optind != argc || (cert == NULL) != (key == NULL) ||
	    (s->tls_required && cert == NULL) || hlen == 0 ||
	    hlen > HOSTNAME_MAX ||
	    strcspn(s->hostname, " \r\n") != hlen) {
		usage(stderr);
		free(s);
		return 2;
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	/* Each TLS connection allocates and frees ~100 KB in wolfSSL.  By
	 * default glibc hands freed heap back to the kernel and faults it in
	 * again for the next connections, which cost more CPU than the
	 * handshake itself under load: keep what was once needed. */
	mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	build_ehlo(s);
	s->out_cap = 64 * 1024;
	s->out = malloc(s->out_cap);
	s->base = event_base_new();
	if (s->out == NULL || s->base == NULL) {
		fprintf(stderr, "mxc-sink: out of memory\n");
		return 1;
	}
	evtimer_assign(&s->pause_ev, s->base, on_pause_end, s);
	if (cert != NULL) {
		wolfSSL_Init();
		s->tls = tls_setup(cert, key);
		if (s->tls == NULL) {
			wolfSSL_Cleanup();
			s->tls = NULL;
			sink_free(s);
			return 1;
		}
	}
	/* Common timeouts keep thousands of equal timers O(1). */
	struct timeval idle = {IDLE_SECONDS, 0};
	s->idle_tv = event_base_init_common_timeout(s->base, &idle);
	if (s->delay_ms > 0) {
		struct timeval delay = {(time_t)(s->delay_ms / 1000),
		                        (suseconds_t)(s->delay_ms % 1000) * 1000};
		s->delay_tv = event_base_init_common_timeout(s->base, &delay);
	}
	if (nlisten == 0) {
		bool v4 = listener_open(s, "0.0.0.0:25", false);
		bool v6 = listener_open(s, "[::]:25", true);
		if (!v4 && !v6) {
			sink_free(s);
			return 1;
		}
	}
	for (size_t i = 0; i < nlisten; i++) {
		if (!listener_open(s, listen_spec[i], false)) {
			sink_free(s);
			return 1;
		}
	}
	const int sigs[] = {SIGTERM, SIGINT, SIGUSR1};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		evsignal_assign(&s->sig_ev[i], s->base, sigs[i], on_signal, s);
		evsignal_add(&s->sig_ev[i], NULL);
	}
	s->signals_on = true;
	event_base_dispatch(s->base);
	int code = s->exit_code;
	sink_free(s);
	return code;
}
