/*
 * test_resume: TLS session resumption across deliveries of one engine, and
 * the DANE guard that keeps a resumed session (which shows no certificate)
 * to the policy it was authenticated under.
 *
 * Each case runs several deliveries one after the other on one engine (one
 * transaction per connection, so every delivery makes its own connection
 * and handshake), with the DNS table of each delivery its own: a TLSA set
 * that changes between two deliveries is a new policy, whose first
 * connection must make a full handshake and run the DANE check again.
 * Resumption is counted on both sides: the engine's stats and the peers'
 * wolfSSL server.  A peer script whose handshake is "tls-fail" fails the
 * case if the client resumed instead of refusing the certificate.
 * Exits 77 (skipped) when the wolfSSL build cannot resume.
 */
#include <event2/event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "policy.h"
#include "tls.h"
#include "tlscache.h"

#define PEER_SPKI "91bc9dd0e128b66aa2b0310199888e08ca9cb93e5d4f1765de669cf42f59afcc"
#define WRONG_SPKI "00bc9dd0e128b66aa2b0310199888e08ca9cb93e5d4f1765de669cf42f59afcc"

/* Deliveries a case makes at most. */
#define RUNS 3
/* Loop rounds one delivery may take. */
#define ROUNDS_MAX 100000ul

#define ZONE_HEAD                                                          \
	{ "example.com", DNS_MX, .sec = SEC_SECURE,                        \
	  .data = "10 mx1.example.com" },                                  \
	{ "mx1.example.com", DNS_A, .sec = SEC_SECURE, .data = "192.0.2.1" }, \
	{ "mx1.example.com", DNS_AAAA, .result = DNS_NODATA,               \
	  .sec = SEC_SECURE }

/* The TLSA record matches the peer. */
static const struct dns_row dane_match[] = {
	ZONE_HEAD,
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .sec = SEC_SECURE,
	  .data = "3 1 1 " PEER_SPKI },
	{ .name = NULL },
};

/* Another TLSA set (so another policy) that still matches. */
static const struct dns_row dane_match_two[] = {
	ZONE_HEAD,
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .sec = SEC_SECURE,
	  .data = "3 1 1 " PEER_SPKI ", 3 1 1 " WRONG_SPKI },
	{ .name = NULL },
};

/* The TLSA record changed to one the peer does not match. */
static const struct dns_row dane_mismatch[] = {
	ZONE_HEAD,
	{ "_25._tcp.mx1.example.com", DNS_TLSA, .sec = SEC_SECURE,
	  .data = "3 1 1 " WRONG_SPKI },
	{ .name = NULL },
};

/* Unsigned: opportunistic TLS. */
static const struct dns_row plain[] = {
	{ "example.com", DNS_MX, .data = "10 mx1.example.com" },
	{ "mx1.example.com", DNS_A, .data = "192.0.2.1" },
	{ .name = NULL },
};

/* One delivery's expectations. */
struct want {
	enum mxc_outcome outcome;
	enum mxc_dane dane;
	const char *detail;     /* words that must appear, NULL: none */
};

struct resume_case {
	const char *name;
	enum mxc_tls_level level;
	const struct dns_row *dns[RUNS]; /* per delivery; NULL ends */
	/* After the first delivery, the kept session is marked as not
	 * authenticated, as a broken store rule would leave it. */
	bool unauthenticate;
	uint64_t pause_ms;     /* fake time between deliveries */
	struct peer_spec peers[RUNS + 1];
	struct want want[RUNS];
	unsigned resumed;      /* handshakes resumed, both sides' count */
	/* ... except when the client hangs up after its Finished: the
	 * server's handshake then fails sending its tickets. */
	bool client_hangs_up;
	const char *log;       /* words the log must have, NULL: none */
};

static const struct resume_case cases[] = {
	/* The second and third connections resume, and are still DANE
	 * verified (on the word of the first one's check). */
	{ "resume-dane", MXC_TLS_DANE, { dane_match, dane_match, dane_match },
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL } },
	  .resumed = 2, .log = "TLSv1.3 TLS_|, resumed, 1 certificate(s), "
	                       "DANE verified" },
	/* Opportunistic TLS resumes too. */
	{ "resume-opportunistic", MXC_TLS_MAY, { plain, plain },
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { { MXC_DELIVERED, MXC_DANE_NONE, NULL },
	            { MXC_DELIVERED, MXC_DANE_NONE, NULL } },
	  .resumed = 1, .log = ", resumed" },
	/* The TLSA set changed, to one the peer does not match: no
	 * resumption into the old session, a full handshake whose check
	 * fails, and the mail waits. */
	{ "resume-tlsa-changed-mismatch", MXC_TLS_DANE,
	  { dane_match, dane_mismatch },
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_refused, .absent = "MAIL" } },
	  .want = { { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_TEMPFAIL, MXC_DANE_FAILED,
	              "DANE authentication failed|no TLSA record matched" } },
	  .resumed = 0 },
	/* The TLSA set changed and still matches: a full handshake all the
	 * same (another policy), delivered; the next one resumes. */
	{ "resume-tlsa-changed-match", MXC_TLS_DANE,
	  { dane_match, dane_match_two, dane_match_two },
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL } },
	  .resumed = 1 },
	/* A session kept under an opportunistic policy is not offered to a
	 * DANE one on the same host and address. */
	{ "resume-not-across-levels", MXC_TLS_DANE, { plain, dane_mismatch },
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_refused, .absent = "MAIL" } },
	  .want = { { MXC_DELIVERED, MXC_DANE_NONE, NULL },
	            { MXC_TEMPFAIL, MXC_DANE_FAILED,
	              "DANE authentication failed" } },
	  .resumed = 0 },
	/* A kept session is used for an hour at most, whatever the
	 * ticket's lifetime (Postfix's and wolfSSL's: two hours or more). */
	{ "resume-expired", MXC_TLS_DANE, { dane_match, dane_match, dane_match },
	  .pause_ms = 3601 * 1000,
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_ok, .accepts = true } },
	  .want = { { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL } },
	  .resumed = 0 },
	/* The guard: the server resumes a session whose cache entry does not
	 * say it was authenticated; no certificate was checked on this
	 * connection, so not a byte of mail goes. */
	{ "guard-resumed-unauthenticated", MXC_TLS_DANE,
	  { dane_match, dane_match }, .unauthenticate = true,
	  .peers = { { "192.0.2.1", script_tls_ok, .accepts = true },
	             { "192.0.2.1", script_tls_refused, .absent = "MAIL" } },
	  .want = { { MXC_DELIVERED, MXC_DANE_VERIFIED, NULL },
	            { MXC_TEMPFAIL, MXC_DANE_FAILED,
	              "resumed from one not authenticated under this DANE "
	              "policy" } },
	  .resumed = 1, .client_hangs_up = true,
	  .log = ", resumed: refused" },
};

/* The log of the running case. */
static char logbuf[1 << 18];
static size_t loglen;
static bool verbose;

/* Keeps every log line. */
static void on_log(void *arg, const struct mxc_log_context *ctx,
                   enum mxc_log_level level, const char *line)
{
	(void)arg;
	(void)ctx;
	(void)level;
	if (loglen < sizeof logbuf)
		loglen += (size_t)snprintf(logbuf + loglen, sizeof logbuf - loglen,
		                           "[%llu] %s\n",
		                           (unsigned long long)fakeclock_ms(), line);
	if (loglen >= sizeof logbuf)
		loglen = sizeof logbuf - 1;
}

/* One delivery's result, copied out of the completion. */
struct got {
	int calls;
	enum mxc_outcome outcome;
	enum mxc_dane dane;
	char detail[2048];
	size_t chain;          /* certificates of the peer's chain */
};

/* The completion. */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *r)
{
	struct got *g = arg;
	(void)d;
	g->calls++;
	g->outcome = r->outcome;
	g->dane = r->dane;
	g->chain = r->peer_chain_count;
	snprintf(g->detail, sizeof g->detail, "%s", r->detail);
}

/* Every "|"-separated word of `words` is in `text`. */
static bool has_words(const char *text, const char *words)
{
	while (*words != '\0') {
		size_t n = strcspn(words, "|");
		char one[200];
		snprintf(one, sizeof one, "%.*s", (int)n, words);
		if (strstr(text, one) == NULL)
			return false;
		words += n + (words[n] == '|');
	}
	return true;
}

/* Runs one delivery to its completion. */
static void deliver(struct event_base *base, struct mxc_engine *e,
                    const struct dns_row *dns, struct got *g)
{
	static const char text[] = "From: sender@example.org\nTo: "
	                           "rcpt@example.com\nSubject: resume\n\nHi.\n";
	char err[300];
	fakedns_set_table(dns);
	struct mxc_message *m = mxc_message_new(text, sizeof text - 1, err,
	                                        sizeof err);
	struct mxc_delivery_params p = {
		.sender = "sender@example.org", .recipient = "rcpt@example.com",
		.message = m, .done = on_done, .arg = g,
	};
	if (m == NULL || mxc_deliver(e, &p, err, sizeof err) == NULL) {
		fprintf(stderr, "cannot deliver: %s\n", err);
		exit(1);
	}
	mxc_message_unref(m);
	unsigned long rounds = 0;
	while (g->calls == 0 && !fakeclock_stuck() && rounds++ < ROUNDS_MAX)
		event_base_loop(base, EVLOOP_ONCE);
	/* Let the QUIT go and the peer see the close. */
	for (int i = 0; i < 8; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Converts hex to bytes. */
static size_t unhex(const char *hex, unsigned char *out, size_t max)
{
	size_t n = 0;
	for (; hex[0] != '\0' && hex[1] != '\0' && n < max; hex += 2) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
	}
	return n;
}

/*
 * Replaces the kept session of mx1 under the dane_match policy (as
 * delivery.c makes it) by the same session marked not authenticated.
 */
static bool unauthenticate(struct mxc_engine *e)
{
	unsigned char spki[32];
	struct dane_tlsa rec = { 3, 1, 1, unhex(PEER_SPKI, spki, sizeof spki),
	                         spki };
	struct policy_params pp = {
		.need = POLICY_TLS_DANE, .tlsa_present = true, .tlsa = &rec,
		.ntlsa = 1, .base = "mx1.example.com", .mx = "mx1.example.com",
		.nexthop = "example.com", .nexthop_cname = "",
	};
	struct policy *pol = policy_new(&pp);
	struct tlscache *cache = engine_tlscache(e);
	struct tlscache_key key = { "mx1.example.com", "192.0.2.1", 25, pol };
	struct tlscache_hit hit;
	bool found = pol != NULL && tlscache_get(cache, &key, &hit);
	if (found)
		tlscache_put(cache, &key, tls_saved_copy(hit.saved), NULL);
	policy_free(pol);
	return found;
}

/* Counts and prints one failed check. */
#define EXPECT(cond, ...)                                                 \
	do {                                                              \
		if (!(cond)) {                                            \
			fails++;                                          \
			fprintf(stderr, "%s: ", c->name);                 \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

/* Runs one case on a fresh engine. */
static int run_case(const struct resume_case *c)
{
	int fails = 0;
	loglen = 0;
	logbuf[0] = '\0';
	struct event_base *base = event_base_new();
	fakeclock_watch(base);
	peers_begin(base, c->peers);
	struct mxc_engine_options opt = {
		.helo_name = "client.example",
		.tls_level = c->level,
		.log = on_log,
		.log_level = MXC_LOG_DEBUG,
		.reuse_limit = 1, /* a connection, so a handshake, each */
	};
	char err[300];
	struct mxc_engine *e = mxc_engine_new(base, &opt, err, sizeof err);
	if (e == NULL) {
		fprintf(stderr, "%s: cannot make the engine: %s\n", c->name, err);
		exit(1);
	}
	for (int i = 0; i < RUNS && c->dns[i] != NULL; i++) {
		struct got g = { 0 };
		if (i > 0)
			fakeclock_advance_ms(c->pause_ms);
		deliver(base, e, c->dns[i], &g);
		const struct want *w = &c->want[i];
		EXPECT(g.calls == 1, "delivery %d: %d completions", i + 1,
		       g.calls);
		EXPECT(g.outcome == w->outcome, "delivery %d: outcome %d, "
		       "expected %d (%s)", i + 1, (int)g.outcome,
		       (int)w->outcome, g.detail);
		EXPECT(g.dane == w->dane, "delivery %d: dane %d, expected %d",
		       i + 1, (int)g.dane, (int)w->dane);
		/* A resumed session reports the chain saved with it. */
		EXPECT(w->outcome != MXC_DELIVERED || g.chain == 1,
		       "delivery %d: %zu certificates in the peer chain, "
		       "expected 1", i + 1, g.chain);
		if (w->detail != NULL)
			EXPECT(has_words(g.detail, w->detail), "delivery %d: "
			       "detail \"%s\" lacks \"%s\"", i + 1, g.detail,
			       w->detail);
		if (i == 0 && c->unauthenticate)
			EXPECT(unauthenticate(e), "no kept session to mark");
	}
	struct mxc_engine_stats st = { .size = sizeof st };
	mxc_engine_get_stats(e, &st);
	EXPECT(st.tls_resumed == c->resumed, "the client counted %llu "
	       "resumptions, expected %u", (unsigned long long)st.tls_resumed,
	       c->resumed);
	unsigned peer_want = c->client_hangs_up ? 0 : c->resumed;
	EXPECT(peers_resumed() == peer_want, "the peers saw %u resumptions, "
	       "expected %u", peers_resumed(), peer_want);
	if (c->log != NULL)
		EXPECT(has_words(logbuf, c->log), "log lacks \"%s\"", c->log);
	EXPECT(peers_strays() == 0, "connections outside the documentation "
	       "ranges");
	mxc_engine_free(e);
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	fails += peers_end(c->name, verbose);
	event_base_free(base);
	if (fails != 0 || verbose)
		fprintf(stderr, "--- log of %s:\n%s---\n", c->name, logbuf);
	printf("%s %s\n", fails ? "FAIL" : "ok  ", c->name);
	return fails;
}

/* argv[1]: the data directory; "-v": logs; a further word: only cases
 * whose names contain it. */
int main(int argc, char **argv)
{
	const char *only = NULL;
	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (i == 1)
			peer_set_data_dir(argv[i]);
		else
			only = argv[i];
	}
	if (!tls_can_resume()) {
		printf("skip: this wolfSSL build has no TLS 1.3 session "
		       "tickets, so nothing resumes\n");
		return 77;
	}
	int failed = 0, ran = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (only != NULL && strstr(cases[i].name, only) == NULL)
			continue;
		ran++;
		failed += run_case(&cases[i]) != 0;
	}
	printf("%d cases, %d failed\n", ran, failed);
	return failed != 0;
}
