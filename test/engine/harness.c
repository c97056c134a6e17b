/*
 * harness: runs a scenario through the public API and judges the result.
 *
 * Each scenario gets a fresh event_base and engine, the DNS table and peers
 * it names, and one delivery; the loop runs until the completion callback
 * has run, with the fake clock jumping over idle waits.  Besides the
 * scenario's own expectations, every run checks the rules no scenario may
 * break: delivered only after a peer said 2xx to the final dot, no
 * permanent failure for a message a peer accepted, a temporary failure when
 * a dot went unanswered, the final dot sent to one peer at most, no
 * connection outside the documentation ranges, and one completion.
 */
#include <dirent.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "sysexit.h"

/* Fake time a scenario may take before it is declared hung. */
#define SCENARIO_MAX_MS (4ull * 3600 * 1000)
/* Loop rounds a scenario may take (a busy loop that never lets fake time
 * pass would otherwise hang the test). */
#define ROUNDS_MAX 100000ul

/* The log of the running scenario, printed when it fails. */
static char logbuf[1 << 18];
static size_t loglen;
static bool verbose;

/* What the scenario's timers act on. */
struct actors {
	struct mxc_engine *engine;     /* NULL once freed */
	struct mxc_delivery *delivery; /* NULL once completed */
	bool freed;                    /* free_after_ms fired */
};

/* The completion, copied out of the callback. */
struct outcome {
	struct actors *actors;     /* told when the delivery completes */
	int calls;
	enum mxc_outcome outcome;
	int exit_status;
	int reply_code;
	char enhanced[16];
	char detail[2048];
	char mx[256];
	char address[64];
	char tls_version[32];
	enum mxc_dane dane;
	uint64_t elapsed_ms;
	uint64_t queue_ms, delivery_ms, transfer_ms;
	enum mxc_failure kind;
	enum mxc_stage stage;
	size_t chain;              /* peer_chain_count */
	char attempts[1024];       /* "kind@stage,..." */
	size_t nattempts;
	bool last_attempt_matches; /* the last attempt with an address is
	                              the result's server */
	bool tlsrpt_consistent;    /* a TLS failure kind has a TLS-RPT type */
	bool evidence_consistent;  /* DANE, TLSA, DNSSEC and certificate
	                              fields agree with each other */
	char evidence[200];        /* what did not agree */
};

/* Keeps every log line of the scenario. */
static void on_log(void *arg, const struct mxc_log_context *ctx,
                   enum mxc_log_level level, const char *line)
{
	(void)arg;
	(void)level;
	/* The header allows the read-only getters here: under ASan this
	 * shows the delivery a line names is alive (engine teardown too). */
	if (ctx->delivery != NULL &&
	    (mxc_delivery_id(ctx->delivery) != ctx->delivery_id ||
	     mxc_delivery_recipient(ctx->delivery)[0] == '\0' ||
	     mxc_delivery_arg(ctx->delivery) == NULL)) {
		fprintf(stderr, "log line for a delivery that is not itself\n");
		abort();
	}
	if (loglen < sizeof logbuf)
		loglen += (size_t)snprintf(logbuf + loglen, sizeof logbuf - loglen,
		                           "[%llu] %s\n",
		                           (unsigned long long)fakeclock_ms(), line);
	if (loglen >= sizeof logbuf)
		loglen = sizeof logbuf - 1;
}

/* Copies the result out. */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *r)
{
	struct outcome *o = arg;
	(void)d;
	o->calls++;
	if (o->actors != NULL)
		o->actors->delivery = NULL;
	o->outcome = r->outcome;
	o->exit_status = sysexit_of_result(r);
	o->kind = r->kind;
	o->stage = r->stage;
	o->chain = r->peer_chain_count;
	o->queue_ms = r->queue_ms;
	o->delivery_ms = r->delivery_ms;
	o->transfer_ms = r->transfer_ms;
	o->nattempts = r->attempt_count;
	size_t used = 0;
	o->attempts[0] = '\0';
	const struct mxc_attempt *last = NULL;
	for (size_t i = 0; i < r->attempt_count; i++) {
		const struct mxc_attempt *a = &r->attempts[i];
		if (used < sizeof o->attempts)
			used += (size_t)snprintf(o->attempts + used,
			                         sizeof o->attempts - used, "%s%s@%s",
			                         i ? "," : "", mxc_failure_name(a->kind),
			                         mxc_stage_name(a->stage));
		if (a->address[0] != '\0')
			last = a;
	}
	o->last_attempt_matches = last == NULL ||
	                          (strcmp(last->address, r->address) == 0 &&
	                           strcmp(last->mx, r->mx) == 0);
	o->evidence_consistent = true;
	o->evidence[0] = '\0';
	bool matched_listed = false;
	for (size_t i = 0; i < r->tlsa_count; i++)
		matched_listed |= r->tlsa_matched == &r->tlsa[i];
	if (r->dane == MXC_DANE_VERIFIED &&
	    (!matched_listed || r->tlsa_matched_depth < 0 ||
	     r->mx_dnssec != MXC_DNSSEC_SECURE ||
	     r->address_dnssec != MXC_DNSSEC_SECURE))
		snprintf(o->evidence, sizeof o->evidence, "verified without a "
		         "listed match (%zu records, depth %d) or secure DNS "
		         "(%s, %s)", r->tlsa_count, r->tlsa_matched_depth,
		         mxc_dnssec_name(r->mx_dnssec),
		         mxc_dnssec_name(r->address_dnssec));
	else if (r->dane != MXC_DANE_VERIFIED && r->tlsa_matched != NULL)
		snprintf(o->evidence, sizeof o->evidence, "a matched record, "
		         "but dane %d", (int)r->dane);
	else if (r->peer_chain_count > 0 &&
	         (strlen(r->peer_cert_sha256) != 64 ||
	          strlen(r->peer_pkey_sha256) != 64 ||
	          r->peer_subject[0] == '\0' || r->peer_issuer[0] == '\0'))
		snprintf(o->evidence, sizeof o->evidence, "certificate without "
		         "names or fingerprints");
	else if (r->tls_version[0] != '\0' &&
	         (r->tls_cipher[0] == '\0' || r->tls_group[0] == '\0'))
		snprintf(o->evidence, sizeof o->evidence, "TLS without cipher "
		         "or group");
	o->evidence_consistent = o->evidence[0] == '\0';
	switch (r->kind) {
	case MXC_FAILURE_STARTTLS:
	case MXC_FAILURE_TLS:
	case MXC_FAILURE_DANE:
	case MXC_FAILURE_DANE_REQUIRED:
	case MXC_FAILURE_TLSA_INVALID:
	case MXC_FAILURE_DNSSEC:
		o->tlsrpt_consistent = mxc_failure_tlsrpt(r->kind) != NULL;
		break;
	default:
		o->tlsrpt_consistent = mxc_failure_tlsrpt(r->kind) == NULL;
	}
	o->reply_code = r->reply_code;
	snprintf(o->enhanced, sizeof o->enhanced, "%s", r->enhanced);
	snprintf(o->detail, sizeof o->detail, "%s", r->detail);
	snprintf(o->mx, sizeof o->mx, "%s", r->mx);
	snprintf(o->address, sizeof o->address, "%s", r->address);
	snprintf(o->tls_version, sizeof o->tls_version, "%s", r->tls_version);
	o->dane = r->dane;
	o->elapsed_ms = r->elapsed_ms;
}

/* cancel_after_ms: cancels the delivery if it is still out. */
static void on_cancel(evutil_socket_t fd, short what, void *arg)
{
	struct actors *a = arg;
	(void)fd;
	(void)what;
	if (a->delivery != NULL)
		mxc_delivery_cancel(a->delivery);
}

/* free_after_ms: frees the engine with the delivery in flight. */
static void on_free(evutil_socket_t fd, short what, void *arg)
{
	struct actors *a = arg;
	(void)fd;
	(void)what;
	if (a->engine != NULL && a->delivery != NULL) {
		mxc_engine_free(a->engine);
		a->engine = NULL;
		a->freed = true;
	}
}

/* The message of a scenario: its text, or `big` bytes of lines. */
static struct mxc_message *make_message(const struct scenario *sc)
{
	char err[200];
	if (sc->big_message == 0) {
		const char *text = sc->message != NULL ? sc->message
			: "From: sender@example.org\nTo: rcpt@example.com\n"
			  "Subject: engine test\n\nHello.\n";
		return mxc_message_new(text, strlen(text), err, sizeof err);
	}
	char *buf = malloc(sc->big_message);
	if (buf == NULL)
		return NULL;
	for (size_t i = 0; i < sc->big_message; i++)
		buf[i] = i % 72 == 71 ? '\n' : (char)('a' + i % 26);
	struct mxc_message *m = mxc_message_new(buf, sc->big_message, err,
	                                        sizeof err);
	free(buf);
	return m;
}

static const char *const outcome_names[] = { "DELIVERED", "TEMPFAIL",
                                             "PERMFAIL" };

/* Every "|"-separated word of `words` occurs in `text`. */
static bool has_words(const char *text, const char *words, char *missing,
                      size_t mlen)
{
	while (*words != '\0') {
		size_t n = strcspn(words, "|");
		char one[200];
		snprintf(one, sizeof one, "%.*s", (int)n, words);
		if (strstr(text, one) == NULL) {
			snprintf(missing, mlen, "%s", one);
			return false;
		}
		words += n + (words[n] == '|');
	}
	return true;
}

/* mx1 offers STARTTLS and delivers inside TLS. */
const char *const script_tls_ok[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls",
	"> EHLO client.example",
	"< 250 mx1.example.com",
	"> MAIL FROM:<sender@example.org>",
	"< 250 2.1.0 ok",
	"> RCPT TO:<rcpt@example.com>",
	"< 250 2.1.5 ok",
	"> DATA",
	"< 354 go ahead",
	"> .",
	"< 250 2.0.0 queued",
	"> QUIT",
	"< 221 2.0.0 bye",
	NULL,
};

/* mx1 offers STARTTLS; the client must abort the handshake. */
const char *const script_tls_refused[] = {
	"< 220 mx1.example.com ESMTP",
	"> EHLO client.example",
	"< 250-mx1.example.com\n250 STARTTLS",
	"> STARTTLS",
	"< 220 2.0.0 go ahead",
	"tls-fail",
	NULL,
};

/* Open file descriptors of this process. */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL)
		return -1;
	int n = 0;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

/* Counts and prints one failed check of a scenario. */
#define EXPECT(cond, ...)                                                 \
	do {                                                              \
		if (!(cond)) {                                            \
			fails++;                                          \
			fprintf(stderr, "%s: ", sc->name);                \
			fprintf(stderr, __VA_ARGS__);                     \
			fputc('\n', stderr);                              \
		}                                                         \
	} while (0)

/* Runs one scenario. */
int scenario_run(const struct scenario *sc)
{
	int fails = 0;
	int fds_before = open_fds();
	loglen = 0;
	logbuf[0] = '\0';
	struct event_base *base = event_base_new();
	if (base == NULL || strcmp(event_base_get_method(base), "epoll") != 0) {
		fprintf(stderr, "%s: needs libevent's epoll backend (the fake "
		        "clock interposes epoll_wait)\n", sc->name);
		if (base != NULL)
			event_base_free(base);
		return 1;
	}
	fakeclock_watch(base);
	fakedns_set_table(sc->dns);
	peers_begin(base, sc->peers);

	struct mxc_engine_options opt = {
		.helo_name = "client.example",
		.tls_level = sc->level,
		.timeout = sc->timeout,
		.no_chunking = sc->no_chunking,
		.log = on_log,
		/* one transaction per connection, ended with QUIT: the
		 * scenarios are about one delivery; reuse has its lab cases */
		.reuse_limit = 1,
		.log_level = MXC_LOG_DEBUG,
	};
	char err[300];
	struct mxc_engine *e = mxc_engine_new(base, &opt, err, sizeof err);
	struct mxc_message *m = make_message(sc);
	struct outcome o = { 0 };
	if (e == NULL || m == NULL) {
		fprintf(stderr, "%s: cannot set up: %s\n", sc->name,
		        e == NULL ? err : "message");
		exit(1);
	}
	struct mxc_delivery_params p = {
		.sender = sc->sender != NULL ? sc->sender : "sender@example.org",
		.recipient = sc->recipient != NULL ? sc->recipient
		                                   : "rcpt@example.com",
		.message = m,
		.done = on_done,
		.arg = &o,
	};
	uint64_t t0 = fakeclock_ms();
	struct actors act = { .engine = e };
	o.actors = &act;
	act.delivery = mxc_deliver(e, &p, err, sizeof err);
	if (act.delivery == NULL) {
		fprintf(stderr, "%s: mxc_deliver: %s\n", sc->name, err);
		exit(1);
	}
	mxc_message_unref(m);
	struct event *ev_cancel = evtimer_new(base, on_cancel, &act);
	struct event *ev_free = evtimer_new(base, on_free, &act);
	if (sc->cancel_after_ms != 0) {
		struct timeval tv = { sc->cancel_after_ms / 1000,
		                      (sc->cancel_after_ms % 1000) * 1000 };
		event_add(ev_cancel, &tv);
	}
	if (sc->free_after_ms != 0) {
		struct timeval tv = { sc->free_after_ms / 1000,
		                      (sc->free_after_ms % 1000) * 1000 };
		event_add(ev_free, &tv);
	}
	unsigned long rounds = 0;
	while (o.calls == 0 && !act.freed && !fakeclock_stuck() &&
	       fakeclock_ms() - t0 < SCENARIO_MAX_MS && rounds++ < ROUNDS_MAX)
		event_base_loop(base, EVLOOP_ONCE);
	EXPECT(!fakeclock_stuck(), "the loop stuck: nothing ready, no timer");
	EXPECT(rounds <= ROUNDS_MAX, "the loop spins: %lu rounds", rounds);
	EXPECT(fakeclock_ms() - t0 < SCENARIO_MAX_MS, "no end after %llu s of "
	       "fake time", SCENARIO_MAX_MS / 1000);
	EXPECT(o.calls == 1, "completion called %d times", o.calls);
	/* Let the peers see what followed (QUIT, the close). */
	for (int i = 0; i < 8; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	event_free(ev_cancel);
	event_free(ev_free);
	struct mxc_engine_stats st = { .size = sizeof st };
	if (act.engine != NULL)
		mxc_engine_get_stats(act.engine, &st);
	if (act.engine != NULL)
		mxc_engine_free(act.engine);
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);

	const struct expect *w = &sc->want;
	if (o.calls == 1) {
		char missing[200];
		EXPECT(o.outcome == w->outcome, "outcome %s, expected %s",
		       outcome_names[o.outcome], outcome_names[w->outcome]);
		EXPECT(o.exit_status == w->exit_status, "exit status %d, expected %d",
		       o.exit_status, w->exit_status);
		if (w->reply_code != 0)
			EXPECT(o.reply_code == (w->reply_code < 0 ? 0 : w->reply_code),
			       "reply code %d, expected %d", o.reply_code,
			       w->reply_code);
		if (w->enhanced != NULL)
			EXPECT(strcmp(o.enhanced, w->enhanced) == 0,
			       "enhanced code \"%s\", expected \"%s\"", o.enhanced,
			       w->enhanced);
		if (w->detail != NULL)
			EXPECT(has_words(o.detail, w->detail, missing, sizeof missing),
			       "detail \"%s\" lacks \"%s\"", o.detail, missing);
		if (w->log != NULL)
			EXPECT(has_words(logbuf, w->log, missing, sizeof missing),
			       "log lacks \"%s\"", missing);
		if (w->mx != NULL)
			EXPECT(strcmp(o.mx, w->mx) == 0, "mx \"%s\", expected \"%s\"",
			       o.mx, w->mx);
		if (w->kind != NULL)
			EXPECT(strcmp(mxc_failure_name(o.kind), w->kind) == 0,
			       "kind %s, expected %s", mxc_failure_name(o.kind),
			       w->kind);
		if (w->stage != NULL)
			EXPECT(strcmp(mxc_stage_name(o.stage), w->stage) == 0,
			       "stage %s, expected %s", mxc_stage_name(o.stage),
			       w->stage);
		if (w->chain != 0)
			EXPECT(o.chain == (w->chain < 0 ? 0 : (size_t)w->chain),
			       "%zu certificates shown, expected %d", o.chain,
			       w->chain);
		if (w->attempts != NULL)
			EXPECT(strcmp(o.attempts, w->attempts) == 0,
			       "attempts \"%s\", expected \"%s\"", o.attempts,
			       w->attempts);
		if (w->check_dane)
			EXPECT(o.dane == w->dane, "dane %d, expected %d", (int)o.dane,
			       (int)w->dane);
		if (w->check_tls)
			EXPECT((o.tls_version[0] != '\0') == w->tls,
			       "tls \"%s\", expected %s", o.tls_version,
			       w->tls ? "some" : "none");
		EXPECT(o.elapsed_ms >= w->min_elapsed_ms,
		       "took %llu ms of fake time, expected at least %llu",
		       (unsigned long long)o.elapsed_ms,
		       (unsigned long long)w->min_elapsed_ms);
		if (w->max_elapsed_ms != 0)
			EXPECT(o.elapsed_ms <= w->max_elapsed_ms,
			       "took %llu ms of fake time, expected at most %llu",
			       (unsigned long long)o.elapsed_ms,
			       (unsigned long long)w->max_elapsed_ms);
		if (w->turns_setup != 0)
			EXPECT(st.turns_setup == w->turns_setup, "%llu round trips "
			       "in setup, expected %u",
			       (unsigned long long)st.turns_setup, w->turns_setup);
		if (w->turns_txn != 0)
			EXPECT(st.turns_transactions == w->turns_txn, "%llu round "
			       "trips in the transaction, expected %u",
			       (unsigned long long)st.turns_transactions,
			       w->turns_txn);
		/* The rules every scenario obeys. */
		EXPECT(o.outcome != MXC_DELIVERED || peers_any_accepted(),
		       "RULE: delivered, but no peer said 2xx after the final dot");
		EXPECT(o.outcome != MXC_PERMFAIL || !peers_any_accepted(),
		       "RULE: permanent failure of a message a peer accepted");
		EXPECT((o.outcome == MXC_DELIVERED) == (o.exit_status == 0),
		       "RULE: exit status %d with outcome %s", o.exit_status,
		       outcome_names[o.outcome]);
		EXPECT(o.outcome != MXC_TEMPFAIL || o.exit_status == 75,
		       "RULE: temporary failure with exit status %d", o.exit_status);
		EXPECT(o.outcome != MXC_PERMFAIL ||
		       (o.exit_status >= 64 && o.exit_status != 75),
		       "RULE: permanent failure with exit status %d", o.exit_status);
		EXPECT((o.outcome == MXC_DELIVERED) == (o.kind == MXC_FAILURE_NONE),
		       "RULE: kind %s with outcome %s", mxc_failure_name(o.kind),
		       outcome_names[o.outcome]);
		EXPECT(o.kind != MXC_FAILURE_REPLY || o.reply_code >= 400,
		       "RULE: kind reply with reply code %d", o.reply_code);
		EXPECT(o.outcome != MXC_DELIVERED || o.stage == MXC_STAGE_DOT ||
		       o.stage == MXC_STAGE_BDAT,
		       "RULE: delivered at stage %s", mxc_stage_name(o.stage));
		EXPECT(o.queue_ms + o.delivery_ms == o.elapsed_ms,
		       "RULE: queue %llu + delivery %llu ms != elapsed %llu ms",
		       (unsigned long long)o.queue_ms,
		       (unsigned long long)o.delivery_ms,
		       (unsigned long long)o.elapsed_ms);
		/* DNS and connections take no fake time here: a timeout in a
		 * transaction is all transfer, one before MAIL none of it. */
		bool in_txn = o.stage >= MXC_STAGE_MAIL &&
		              o.stage != MXC_STAGE_QUIT;
		EXPECT(o.transfer_ms <= o.delivery_ms,
		       "RULE: transfer %llu ms > delivery %llu ms",
		       (unsigned long long)o.transfer_ms,
		       (unsigned long long)o.delivery_ms);
		EXPECT(o.kind != MXC_FAILURE_TIMEOUT || !in_txn ||
		       o.transfer_ms >= sc->want.min_elapsed_ms,
		       "RULE: timeout at %s after %llu ms of transfer, want %llu",
		       mxc_stage_name(o.stage),
		       (unsigned long long)o.transfer_ms,
		       (unsigned long long)sc->want.min_elapsed_ms);
		EXPECT(o.nattempts > 1 || o.stage == MXC_STAGE_NONE || in_txn ||
		       o.transfer_ms == 0,
		       "RULE: %llu ms of transfer without a transaction",
		       (unsigned long long)o.transfer_ms);
		EXPECT(o.last_attempt_matches,
		       "RULE: the last attempt is not the result's server (%s)",
		       o.attempts);
		EXPECT(o.mx[0] == '\0' || o.kind == MXC_FAILURE_CANCELLED ||
		       o.nattempts > 0,
		       "RULE: server %s talked to, but no attempt listed", o.mx);
		EXPECT(o.tlsrpt_consistent, "RULE: kind %s and its TLS-RPT type",
		       mxc_failure_name(o.kind));
		EXPECT(o.evidence_consistent, "RULE: evidence: %s", o.evidence);
	}
	EXPECT(peers_dots() <= 1, "RULE: the final dot went to %u peers",
	       peers_dots());
	EXPECT(peers_strays() == 0, "RULE: %u connections outside the "
	       "documentation ranges", peers_strays());
	fails += peers_end(sc->name, verbose);
	event_base_free(base);
	EXPECT(open_fds() == fds_before, "RULE: %d file descriptors open "
	       "after the scenario, %d before", open_fds(), fds_before);
	if (fails != 0 || verbose) {
		fprintf(stderr, "%s: %s %d %s@%s, %s (reply %d %s) via %s[%s], "
		        "%llu ms fake, attempts %s\n", sc->name,
		        o.calls ? outcome_names[o.outcome] : "NO RESULT",
		        o.exit_status, mxc_failure_name(o.kind),
		        mxc_stage_name(o.stage), o.detail, o.reply_code, o.enhanced,
		        o.mx, o.address, (unsigned long long)o.elapsed_ms,
		        o.attempts);
		fprintf(stderr, "--- DNS lookups:\n%s--- log:\n%s---\n",
		        fakedns_asked(), logbuf);
	}
	if (sc->known_bug != NULL) {
		/* Expected to fail until the bug is fixed; passing means the
		 * flag must go, so that the scenario guards the fix. */
		printf("%s %s (known bug: %s)\n", fails ? "bug " : "FAIL",
		       sc->name, sc->known_bug);
		if (fails == 0)
			fprintf(stderr, "%s: passes now: remove its known_bug\n",
			        sc->name);
		return fails == 0;
	}
	printf("%s %s\n", fails ? "FAIL" : "ok  ", sc->name);
	return fails;
}

/*
 * Runs a table: argv[1] is the data directory (peer.pem, peer.key);
 * "-v" prints every transcript and log; a further argument runs only the
 * scenarios whose names contain it.
 */
int scenario_main(int argc, char **argv, const struct scenario *table,
                  size_t n)
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
	int failed = 0, ran = 0;
	clock_t c0 = clock();
	for (size_t i = 0; i < n; i++) {
		if (only != NULL && strstr(table[i].name, only) == NULL)
			continue;
		ran++;
		failed += scenario_run(&table[i]) != 0;
	}
	printf("%d scenarios, %d failed, %.3f s CPU, %llu clock jumps\n", ran,
	       failed, (double)(clock() - c0) / CLOCKS_PER_SEC,
	       (unsigned long long)fakeclock_jumps());
	return failed != 0;
}
