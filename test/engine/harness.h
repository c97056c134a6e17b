/*
 * harness: the engine tests' shared declarations.  A scenario is data: the
 * DNS table the engine resolves against, one script per connection a peer
 * address accepts, and the result expected of the one delivery it makes
 * (see README.md).  harness.c runs it on a fresh engine through the public
 * API only; fakedns.c, peer.c and fakeclock.c are the three seams.
 */
#ifndef MXC_TEST_ENGINE_HARNESS_H
#define MXC_TEST_ENGINE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxclient.h"
#include "dns.h"

struct event_base;

/* ---- the DNS table (fakedns.c) ---- */

/* DNSSEC status of a row; zero is "insecure", the common case. */
enum row_sec {
	SEC_INSECURE,
	SEC_SECURE,
	SEC_BOGUS,
	SEC_INDETERMINATE
};

/*
 * One answer.  A lookup no row matches gets NODATA, insecure (so only the
 * rows a scenario cares about need writing: AAAA for an IPv4-only host).
 */
struct dns_row {
	const char *name;         /* as asked, no trailing dot; NULL ends */
	enum dns_type type;
	enum dns_result result;   /* DNS_FOUND (zero), NODATA, NXDOMAIN, FAIL */
	enum row_sec sec;
	/* Records, comma separated: MX "10 mx1.example.com" ("0 ." is a
	 * null MX), A/AAAA "192.0.2.1", TLSA "3 1 1 HEX". */
	const char *data;
	const char *canonical;    /* owner after CNAMEs; NULL: the name */
	unsigned delay_ms;        /* fake-clock delay of the answer */
	bool never;               /* never answers */
};

/* Installs the table the next lookups read (borrowed). */
void fakedns_set_table(const struct dns_row *rows);
/* Lookups made since the table was set, each "NAME/TYPE" on a line. */
const char *fakedns_asked(void);

/* ---- the scripted SMTP peers (peer.c) ---- */

/*
 * A peer's script: steps run in order, each one string.
 *   "< TEXT"      send TEXT, each "\n" as CRLF, and a final CRLF
 *   "<raw TEXT"   send TEXT exactly (no CRLF added)
 *   "> LINE"      expect exactly LINE and CRLF from the client
 *   ">> LINE"     the same, and it must be here already, sent in the same
 *                 write as the line before (PIPELINING)
 *   "=> LINE"     the same, and none of it came before the reply sent just
 *                 before this step (one command at a time)
 *   "> BDAT"      expect "BDAT <n> LAST" and n bytes ending in CRLF: the
 *                 message, counted as its final dot (">> BDAT": piped)
 *   "> ."         expect the message: 354's data through CRLF.CRLF
 *   "> ..."       expect part of the message (at least 16 KiB of it)
 *   "tls"         TLS handshake as server (wolfSSL, data/peer.pem)
 *   "tls-garbage" read the ClientHello, answer with non-TLS bytes
 *   "tls-alert"   read the ClientHello, answer with a fatal alert
 *   "tls-fail"    TLS handshake as server that the client must abort
 *   "drain"       read and drop whatever comes until the client closes
 *   "close"       close the connection (FIN)
 *   "reset"       close with unread input, so the client sees a reset
 *   "stall"       do nothing more (the client must time out)
 *   "trickle"     send "2" every 100 s of fake time, for ever
 * After the last step, any byte from the client is a failure.
 */
struct peer_spec {
	const char *addr;              /* "192.0.2.1" or "2001:db8::1"; NULL
	                                  ends the list */
	const char *const *script;     /* NULL-terminated steps */
	/* What must have happened to this peer. */
	bool unused;                   /* never connected to */
	bool accepts;                  /* answered 2xx after the final dot */
	const char *absent;            /* text the client must never have
	                                  sent it (e.g. "MAIL"), or NULL */
};

/* Path of the directory holding peer.pem and peer.key. */
void peer_set_data_dir(const char *dir);
/* Installs the peers for the next scenario (borrowed). */
void peers_begin(struct event_base *base, const struct peer_spec *specs);
/* Checks every peer against its spec; prints failures with `name`;
 * closes them all.  Returns the number of failures. */
int peers_end(const char *name, bool verbose);
/* Whether some peer answered 2xx after the final dot / got a final dot. */
bool peers_any_accepted(void);
unsigned peers_dots(void);
/* Connections made to addresses no peer had a script for. */
unsigned peers_strays(void);
/* TLS handshakes the peers completed by resuming a session. */
unsigned peers_resumed(void);

/* ---- the fake clock (fakeclock.c) ---- */

uint64_t fakeclock_ms(void);
void fakeclock_advance_ms(uint64_t ms);
void fakeclock_watch(struct event_base *base);
bool fakeclock_stuck(void);
uint64_t fakeclock_jumps(void);

/* ---- scenarios (harness.c) ---- */

/* Peer scripts a scenario may have. */
#define SCENARIO_PEERS 6

/* What the delivery must end with; a NULL/zero field is not checked,
 * except outcome and exit_status (the mxclient command's, computed from
 * the result by cli/sysexit.c), which always are. */
struct expect {
	enum mxc_outcome outcome;
	int exit_status;
	int reply_code;            /* 0: not checked; -1: must be 0 */
	const char *enhanced;      /* NULL: not checked */
	const char *detail;        /* words that must all appear, "|" between */
	const char *log;           /* words that must all appear in the log
	                              (e.g. why the first host failed) */
	const char *mx;            /* MX host of the last server, NULL: any */
	enum mxc_dane dane;        /* checked when check_dane */
	bool check_dane;
	bool tls;                  /* the last session had TLS (checked when
	                              check_tls) */
	bool check_tls;
	const char *kind;          /* mxc_failure_name() of the result, NULL:
	                              not checked */
	const char *stage;         /* mxc_stage_name() of the result */
	const char *attempts;      /* every attempt as "kind@stage", comma
	                              separated, e.g. "lost@rcpt,none@dot" */
	int chain;                 /* certificates the result shows from the
	                              last server (0: not checked, -1: none) */
	uint64_t min_elapsed_ms;   /* fake time the delivery took, at least */
	uint64_t max_elapsed_ms;   /* ... and at most (0: not checked) */
	/* Round trips the engine's stats counted: greeting to ready, and
	 * in the transaction (0: not checked). */
	unsigned turns_setup;
	unsigned turns_txn;
};

struct scenario {
	const char *name;
	enum mxc_tls_level level;  /* 0: dane */
	const char *recipient;     /* NULL: "rcpt@example.com" */
	const char *sender;        /* NULL: "sender@example.org" */
	const char *message;       /* NULL: a short message */
	size_t big_message;        /* >0: a message of this many bytes */
	unsigned timeout;          /* mxc_engine_options.timeout (0: RFC) */
	bool no_chunking;          /* mxc_engine_options.no_chunking */
	/* At this fake time after mxc_deliver(): mxc_delivery_cancel() (the
	 * completion must still come, TEMPFAIL "cancelled"), or
	 * mxc_engine_free() (the completion comes from inside that call,
	 * TEMPFAIL "cancelled", and everything must be released).
	 * 0: never. */
	unsigned cancel_after_ms;
	unsigned free_after_ms;
	/* A bug in src/ this scenario shows: it must fail (and is then not
	 * counted) until the bug is fixed, and then the field must go. */
	const char *known_bug;
	const struct dns_row *dns;
	/* Scripts in the order connections get them; the entry after the
	 * last used one stays zero (the array has room for it). */
	struct peer_spec peers[SCENARIO_PEERS + 1];
	struct expect want;
};

/* Scripts several suites share: mx1 offers STARTTLS and delivers inside
 * TLS (then QUIT); mx1 offers STARTTLS and the client aborts the handshake
 * (a DANE mismatch). */
extern const char *const script_tls_ok[];
extern const char *const script_tls_refused[];

/* Runs one scenario; returns the number of failed checks. */
int scenario_run(const struct scenario *sc);
/* Runs a NULL-name-terminated table; main()'s exit status. */
int scenario_main(int argc, char **argv, const struct scenario *table,
                  size_t n);

#endif
