/*
 * session: one SMTP connection (RFC 5321), with STARTTLS (RFC 3207) and the
 * DANE check (RFC 7672) its policy demands.
 *
 *   GREETING -> EHLO [-> HELO] [-> STARTTLS -> TLS -> EHLO] -> READY
 *   READY <-> BUSY (a transaction) [-> RSET] ... -> QUIT -> CLOSED
 *
 * Setup is a state machine: entering a state sends its command and arms its
 * timeout (RFC 5321 4.5.3.2, scaled by the engine's setting); a complete
 * reply enters the next state or ends the setup with a failure, which the
 * owner hears once.  While BUSY, the replies belong to the transaction:
 * each one is matched to the oldest command still waiting, and timeouts
 * are those of that command's stage.  The io layer below owns bytes, TLS
 * and time.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "escape.h"
#include "io.h"
#include "iobuf.h"
#include "message.h"
#include "session.h"
#include "tlscache.h"
#include "transport.h"
#include "x509.h"

/* Timeouts per stage in seconds (RFC 5321 4.5.3.2; Postfix's for the rest). */
static const unsigned stage_timeout[STAGE_LAST] = {
	[STAGE_GREETING] = 300, /* 4.5.3.2.1 initial 220 */
	[STAGE_EHLO] = 300,
	[STAGE_HELO] = 300,
	[STAGE_STARTTLS] = 300,
	[STAGE_TLS] = 300,      /* Postfix smtp_starttls_timeout */
	[STAGE_MAIL] = 300,     /* 4.5.3.2.2 */
	[STAGE_RCPT] = 300,     /* 4.5.3.2.3 */
	[STAGE_DATA] = 120,     /* 4.5.3.2.4 DATA initiation */
	[STAGE_BODY] = 180,     /* 4.5.3.2.5 per data block: on progress */
	[STAGE_DOT] = 600,      /* 4.5.3.2.6 DATA termination */
	[STAGE_QUIT] = 30,      /* the verdict is known: do not linger */
	[STAGE_RSET] = 20,      /* Postfix smtp_rset_timeout */
	[STAGE_BDAT] = 600,     /* as the final dot: the whole message is in */
};

static const char *const state_names[SESSION_LAST] = {
	"GREETING", "EHLO", "HELO", "STARTTLS", "TLS", "READY", "BUSY", "RSET",
	"QUIT", "CLOSED",
};
_Static_assert(sizeof state_names / sizeof state_names[0] == SESSION_LAST,
               "a name for every session state");

/* Replies a transaction may wait for at once (MAIL, RCPT, DATA piped). */
#define EXPECT_MAX 8

struct session {
	struct session_params p;
	char mx[256];
	char address[INET6_ADDRSTRLEN];
	struct io *io;
	int fd;                     /* the socket io owns, for TLS setup */
	enum session_state state;
	struct reply reply;         /* the reply being assembled */
	struct ehlo_caps ehlo_in;   /* read from an EHLO reply's lines as they
	                               arrive: its text may be cut for reports */
	struct session_info info;
	struct session_failure failure;
	struct session_leaf leaf;   /* session_leaf(), once known */
	bool leaf_known;
	size_t leaf_of;             /* the chain's length it was taken from */
	bool reported;              /* ready() was called */
	bool quitting;              /* session_quit(): free at the end */
	session_closed_fn *closed;  /* ... after telling this */
	void *closed_arg;

	/* Stages whose replies are awaited, oldest first. */
	enum stage expect[EXPECT_MAX];
	size_t nexpect;
	bool body;                  /* the body is being written */
	bool body_dot;              /* ... DATA's: the dot's reply is awaited
	                               once it has left (BDAT's already is) */
	bool message_sent;          /* the whole message has left: the server
	                               may have it, whatever else is awaited */
	struct mxc_message *body_ref; /* held while its bytes are in io: a
	                               transaction may end before they are */

	/* Round trips: `wrote` says the client wrote since the last complete
	 * reply, so the next reply ends a turn. */
	bool wrote;
	unsigned txn_turns;         /* turns of the current transaction */

	/* The transaction while BUSY. */
	uint64_t delivery_id;
	unsigned transactions;      /* attached so far */
	uint64_t started_ms;        /* monotonic, at session_start() */
	bool needs_rset;            /* the last transaction was left open */
	const struct session_txn_ops *ops;
	void *txn_arg;

	/* The kept TLS session offered in the handshake (resumed.saved is
	 * not kept: the cache may drop it) and what the connection it came
	 * from established: the guard's evidence if the server resumes. */
	bool resume_offered;
	struct tlscache_hit resumed;
	bool dane_checked_here;     /* verify_dane ran on this connection */
};

static void enter(struct session *s, enum session_state next);

/* Formats a log line with this session's ids. */
static void vlog(const struct session *s, enum mxc_log_level level,
                 const char *fmt,
                 va_list ap)
{
	if (!config_logs(s->p.config, level))
		return;
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	struct logctx ctx = { s->delivery_id, s->p.id };
	config_log(s->p.config, &ctx, level, "%s", line);
}

/* Logs a line about the session. */
void session_log(const struct session *s, enum mxc_log_level level,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(s, level, fmt, ap);
	va_end(ap);
}

/* The body's bytes have left io (or io is gone): the message may go. */
static void release_body(struct session *s)
{
	if (s->body_ref != NULL)
		mxc_message_unref(s->body_ref);
	s->body_ref = NULL;
}

/* Closes the connection; the session stays for its owner to free. */
static void close_connection(struct session *s)
{
	io_free(s->io); /* safe inside io's callback */
	s->io = NULL;
	release_body(s);
	s->nexpect = 0;
	s->body = false;
	s->state = SESSION_CLOSED;
}

/* A quitting session ends: tells its owner, then frees itself. */
static void quit_done(struct session *s)
{
	close_connection(s);
	if (s->closed != NULL)
		s->closed(s->closed_arg);
	session_free(s);
}

/* Tells the owner the setup failed (once); the connection stays as it is. */
static void setup_failed(struct session *s)
{
	if (s->reported)
		return;
	s->reported = true;
	s->p.ready(s->p.arg, s, &s->failure);
}

/* Fills the failure record from `stage` and a detail line. */
static void set_failure(struct session *s, enum stage stage,
                        const char *detail, bool tls_failed)
{
	s->failure.stage = stage;
	s->failure.tls_failed = tls_failed;
	/* cut to fit: the reply inside is already cut for reports */
	snprintf(s->failure.detail, sizeof s->failure.detail, "%.*s",
	         (int)sizeof s->failure.detail - 1, detail);
}

/* The setup failed and the owner has not yet said what to do (quit or
 * free): nothing more is read. */
static bool setup_failed_already(const struct session *s)
{
	return s->reported && s->state < SESSION_READY;
}

/* The setup stage a state waits in. */
static enum stage setup_stage(enum session_state st)
{
	static const enum stage stages[SESSION_LAST] = {
		[SESSION_GREETING] = STAGE_GREETING, [SESSION_EHLO] = STAGE_EHLO,
		[SESSION_HELO] = STAGE_HELO, [SESSION_STARTTLS] = STAGE_STARTTLS,
		[SESSION_TLS] = STAGE_TLS, [SESSION_READY] = STAGE_MAIL,
		[SESSION_BUSY] = STAGE_MAIL, [SESSION_RSET] = STAGE_RSET,
		[SESSION_QUIT] = STAGE_QUIT,
		[SESSION_CLOSED] = STAGE_QUIT,
	};
	return st < SESSION_LAST ? stages[st] : STAGE_QUIT;
}

/* The stage whose reply comes next (BUSY: the oldest command's). */
static enum stage waiting_stage(const struct session *s)
{
	if (s->state == SESSION_QUIT && s->body_ref != NULL)
		return STAGE_BODY; /* QUIT waits for the final dot */
	if (s->state != SESSION_BUSY)
		return setup_stage(s->state);
	if (s->nexpect == 0)
		return s->body ? STAGE_BODY : STAGE_MAIL;
	/* Once the whole message has left the server may have taken it,
	 * even while replies to the commands piped ahead of it (RFC 2920)
	 * are still missing: waiting is for the final reply. */
	if (s->message_sent)
		return s->expect[s->nexpect - 1];
	/* BDAT's reply is awaited as its chunk goes out: until all of it
	 * has, the server cannot have the message. */
	if (s->body && result_final(s->expect[0]))
		return STAGE_BODY;
	return s->expect[0];
}

/*
 * The connection is gone or unusable: `loss` says what happened, `why` adds
 * the cause or is NULL.  Whoever waits hears of it: the transaction, the
 * owner of a session in setup, or nobody.
 */
static void lost(struct session *s, enum loss loss, const char *why)
{
	enum stage stage = waiting_stage(s);
	enum session_state was = s->state;
	/* A handshake that failed (DANE above all) still shows what the
	 * peer presented, for the report. */
	if (was == SESSION_TLS && s->io != NULL && io_tls(s->io) != NULL &&
	    s->info.chain.count == 0)
		tls_take_chain(io_tls(s->io), &s->info.chain);
	close_connection(s);
	if (s->quitting) {
		quit_done(s);
		return;
	}
	if (was == SESSION_BUSY || (was == SESSION_RSET && s->ops != NULL)) {
		/* A transaction waiting for RSET (or with RSET piped ahead of
		 * it) has had nothing answered: as if MAIL had gone
		 * unanswered. */
		if (was == SESSION_RSET || stage == STAGE_RSET)
			stage = STAGE_MAIL;
		s->ops->lost(s->txn_arg, stage, loss, why);
		return;
	}
	if (was == SESSION_READY || was == SESSION_QUIT || s->reported)
		return; /* nobody waits: the owner sees CLOSED */
	/* Through a proxy the fault may be the proxy's (a command that
	 * writes garbage looks like an MX's malformed greeting): name it. */
	const struct transport *t = s->p.config->transport;
	char detail[1400];
	loss_detail(detail, sizeof detail, loss, s->mx, s->address,
	            transport_direct(t) ? NULL : transport_name(t), stage, why);
	s->failure.kind = loss_kind(loss);
	set_failure(s, stage, detail, stage == STAGE_TLS);
	setup_failed(s);
}

/* Writes one command line to the connection and the transcript. */
static bool send_line(struct session *s, const char *fmt, va_list ap)
{
	char line[1024];
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	if (n < 0 || (size_t)n >= sizeof line - 2) {
		lost(s, LOSS_TOO_LONG, NULL);
		return false;
	}
	session_log(s, MXC_LOG_PROTOCOL, ">>> %s", line);
	memcpy(line + n, "\r\n", 2);
	if (io_write(s->io, line, (size_t)n + 2) < 0) {
		lost(s, LOSS_NO_MEMORY, NULL);
		return false;
	}
	s->wrote = true;
	return true;
}

/* Sends a setup command. */
static bool setup_command(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool setup_command(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bool ok = send_line(s, fmt, ap);
	va_end(ap);
	return ok;
}

/* Arms the timeout of the stage that is now awaited. */
static void arm_timeout(struct session *s)
{
	if (s->io == NULL)
		return;
	if (s->state == SESSION_READY) {
		io_set_timeout(s->io, 0, false);
		return;
	}
	/* While a body goes out, whatever else is awaited, the deadline is
	 * the data block's, restarted by progress (RFC 5321 4.5.3.2.5). */
	bool writing = s->body_ref != NULL &&
	               (s->body || s->state == SESSION_QUIT);
	enum stage st = writing ? STAGE_BODY : waiting_stage(s);
	io_set_timeout(s->io, config_timeout_ms(s->p.config, stage_timeout[st]),
	               writing);
}

/* Enters a state: sends its command and arms its timeout. */
static void enter(struct session *s, enum session_state next)
{
	session_log(s, MXC_LOG_DEBUG, "session %s -> %s", state_names[s->state],
	            state_names[next]);
	s->state = next;
	reply_init(&s->reply);
	memset(&s->ehlo_in, 0, sizeof s->ehlo_in);
	arm_timeout(s);
	switch (next) {
	case SESSION_EHLO:
		setup_command(s, "EHLO %s", s->p.config->helo);
		break;
	case SESSION_HELO:
		setup_command(s, "HELO %s", s->p.config->helo);
		break;
	case SESSION_STARTTLS:
		setup_command(s, "STARTTLS");
		break;
	case SESSION_QUIT:
		/* Never inside a message: after its final dot (on_io). */
		if (s->body_ref == NULL)
			setup_command(s, "QUIT");
		break;
	case SESSION_RSET:
		setup_command(s, "RSET");
		break;
	case SESSION_READY:
		if (!s->reported) {
			s->reported = true;
			s->p.ready(s->p.arg, s, NULL);
		}
		break;
	case SESSION_GREETING:
	case SESSION_TLS:
	case SESSION_BUSY:
	case SESSION_CLOSED:
	case SESSION_LAST:
		break; /* nothing to send */
	}
}

/* Whether the policy demands TLS (else the session may go on in clear). */
static bool tls_demanded(const struct session *s)
{
	return s->p.policy->need == POLICY_TLS_REQUIRED ||
	       s->p.policy->need == POLICY_TLS_DANE;
}

/*
 * The setup ends because this host cannot give the TLS required of it: it
 * goes no further than EHLO, in clear.
 */
static void tls_refused(struct session *s, const char *what)
{
	char text[1024] = "", detail[1600];
	if (s->reply.code >= 400) /* the refusal itself says more */
		reply_line(&s->reply, text, sizeof text);
	snprintf(detail, sizeof detail, "TLS is required, but host %s[%s] %s%s%s",
	         s->mx, s->address, what, text[0] != '\0' ? ": " : "", text);
	s->failure.kind = MXC_FAILURE_STARTTLS;
	set_failure(s, setup_stage(s->state), detail, true);
	setup_failed(s);
}

/*
 * Authenticates the peer against the TLSA records, inside the handshake
 * and before our Finished: a peer that fails never receives a byte of
 * SMTP (RFC 7672 3.1).
 */
static bool verify_dane(void *arg, const struct tls_chain *chain, char *why,
                        size_t whylen)
{
	struct session *s = arg;
	const struct policy *p = s->p.policy;
	dane_check(p->tlsa, p->ntlsa, chain, p->names, p->nnames,
	           &s->info.dane);
	s->info.dane_checked = true;
	s->dane_checked_here = true;
	if (s->info.dane.authenticated)
		return true;
	snprintf(why, whylen, "DANE authentication failed: %s",
	         s->info.dane.why);
	return false;
}

/* Where this session's TLS sessions are kept in the engine's cache. */
static struct tlscache_key cache_key(const struct session *s)
{
	return (struct tlscache_key){ s->mx, s->address, s->p.config->port,
	                              s->p.policy };
}

/* Offers the TLS session kept from an earlier connection to the same
 * host, address and policy, if there is one. */
static void offer_kept_session(struct session *s, struct tls *tls)
{
	struct tlscache *cache = s->p.config->tlscache;
	struct tlscache_key key = cache_key(s);
	if (cache == NULL || !tlscache_get(cache, &key, &s->resumed))
		return;
	s->resume_offered = tls_offer(tls, s->resumed.saved);
	s->resumed.saved = NULL;
	if (!s->resume_offered) /* expired or unreadable */
		tlscache_drop(cache, &key);
}

/*
 * Keeps the TLS session for the next connection, after the first read in
 * TLS (the EHLO reply): TLS 1.3 tickets arrive after the handshake.  Only
 * a connection authenticated as its policy demands gives one, and under
 * DANE the entry says so, for the guard of the connection that resumes.
 */
static void keep_tls_session(struct session *s)
{
	struct tlscache *cache = s->p.config->tlscache;
	const struct policy *p = s->p.policy;
	bool dane = p->need == POLICY_TLS_DANE;
	bool authenticated = s->dane_checked_here && s->info.dane.authenticated;
	if (cache == NULL || (dane && !authenticated))
		return;
	/* A resumed connection keeps the entry it came from: the session
	 * wolfSSL 5.5.4 holds after a resumption gives a PSK binder that
	 * OpenSSL (Postfix) refuses ("binder does not verify", lab
	 * reuse-tls-resume), which would fail the handshake after next. */
	if (s->info.tls_resumed)
		return;
	struct tls_saved *saved = tls_save(io_tls(s->io));
	if (saved == NULL)
		return;
	struct tlscache_key key = cache_key(s);
	tlscache_put(cache, &key, saved, dane ? &s->info.dane : NULL);
}

/* Starts TLS after the server's 220 to STARTTLS. */
static void begin_tls(struct session *s)
{
	/* Bytes after the 220 were sent before the handshake, in clear, by
	 * anyone on the path: executing them later would be command
	 * injection (CVE-2011-0411 and kin). */
	if (iobuf_len(io_input(s->io)) > 0) {
		lost(s, LOSS_PROTOCOL,
		     "data after the STARTTLS reply: command injection?");
		return;
	}
	char err[128];
	bool dane = s->p.policy->need == POLICY_TLS_DANE;
	struct tls *tls = tls_new(s->p.config->tls, s->fd, s->p.policy->sni,
	                          dane ? verify_dane : NULL, dane ? s : NULL,
	                          err, sizeof err);
	if (tls == NULL) {
		lost(s, LOSS_TLS_SETUP, err);
		return;
	}
	offer_kept_session(s, tls);
	/* A handshake ends with two small writes of ours, Finished then
	 * EHLO.  After a resumed one Nagle held EHLO until Postfix's delayed
	 * ACK: 40 ms per connection (lab, 200 deliveries one at a time:
	 * 11.9 s instead of 2.8 s).  io writes whole buffers, so Nagle saves
	 * nothing here.  Not a TCP socket (a proxy command's): the call
	 * fails, nothing to do. */
	int one = 1;
	(void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	enter(s, SESSION_TLS);
	io_start_tls(s->io, tls);
}

/* A reply during setup: the next state, or the end of the setup. */
static void setup_reply(struct session *s)
{
	struct reply *r = &s->reply;
	enum stage stage = setup_stage(s->state);
	enum verdict v = result_of_reply(stage, r->code);
	if (v == VERDICT_CONTINUE && r->code >= 300 && r->code < 400) {
		lost(s, LOSS_PROTOCOL, "unexpected reply code");
		return;
	}
	if (v != VERDICT_CONTINUE) {
		char text[1024], detail[1600];
		reply_line(r, text, sizeof text);
		s->failure.code = r->code;
		snprintf(s->failure.enhanced, sizeof s->failure.enhanced, "%s",
		         r->enhanced);
		snprintf(s->failure.reply, sizeof s->failure.reply, "%s", text);
		snprintf(detail, sizeof detail, "host %s[%s] said: %s (in reply "
		         "to %s)", s->mx, s->address, text, stage_in_reply(stage));
		s->failure.kind = MXC_FAILURE_REPLY;
		set_failure(s, stage, detail, false);
		setup_failed(s);
		return;
	}
	bool ok = r->code < 400;
	switch (s->state) {
	case SESSION_GREETING:
		enter(s, SESSION_EHLO);
		return;
	case SESSION_EHLO:
		if (!ok && io_tls(s->io) == NULL && tls_demanded(s)) {
			tls_refused(s, "refused EHLO"); /* HELO has no STARTTLS */
			return;
		}
		if (!ok) { /* EHLO refused: RFC 5321 4.1.4 says try HELO */
			enter(s, SESSION_HELO);
			return;
		}
		s->info.caps = s->ehlo_in;
		if (io_tls(s->io) != NULL) {
			keep_tls_session(s);
			break;
		}
		if (s->info.caps.starttls &&
		    s->p.policy->need != POLICY_TLS_NONE) {
			enter(s, SESSION_STARTTLS);
			return;
		}
		if (tls_demanded(s)) {
			tls_refused(s, "did not offer STARTTLS");
			return;
		}
		break;
	case SESSION_HELO:
		memset(&s->info.caps, 0, sizeof s->info.caps);
		break;
	case SESSION_STARTTLS:
		if (ok) {
			begin_tls(s);
			return;
		}
		if (tls_demanded(s)) {
			tls_refused(s, "refused STARTTLS");
			return;
		}
		/* Opportunistic: a refused STARTTLS leaves the session as it
		 * was (RFC 3207 4.1); go on in clear. */
		session_log(s, MXC_LOG_INFO, "STARTTLS refused by %s[%s]; "
		            "continuing without TLS", s->mx, s->address);
		break;
	case SESSION_QUIT:
		quit_done(s);
		return;
	case SESSION_RSET:
		if (!ok) {
			lost(s, LOSS_RSET, NULL);
			return;
		}
		if (s->ops != NULL) { /* a transaction waited for it */
			enter(s, SESSION_BUSY);
			s->ops->go(s->txn_arg);
			return;
		}
		break; /* clean again: READY */
	case SESSION_TLS:
	case SESSION_READY:
	case SESSION_BUSY:
	case SESSION_CLOSED:
	case SESSION_LAST:
		lost(s, LOSS_PROTOCOL, "reply out of turn");
		return;
	}
	enter(s, SESSION_READY);
}

/*
 * A complete reply came: if the client wrote since the last one, it had to
 * wait for this one, which ends a round trip (the greeting too: the
 * client waited for it).  Counted for the engine's stats: setup and
 * transactions apart, QUIT not at all (no delivery waits for it).
 */
static void count_turn(struct session *s)
{
	if (!s->wrote && s->state != SESSION_GREETING)
		return;
	s->wrote = false;
	struct config_turns *t = s->p.config->turns;
	if (s->state == SESSION_BUSY || s->state == SESSION_RSET) {
		s->txn_turns++;
		if (t != NULL)
			t->transactions++;
	} else if (s->state != SESSION_QUIT && t != NULL) {
		t->setup++;
	}
}

/* A reply while BUSY: the transaction's, for its oldest command. */
static void txn_reply(struct session *s)
{
	enum stage stage;
	if (s->nexpect > 0) {
		stage = s->expect[0];
		memmove(s->expect, s->expect + 1,
		        --s->nexpect * sizeof s->expect[0]);
		if (result_final(stage) && s->body)
			stage = STAGE_BODY; /* BDAT answered before its chunk
			                       was all sent: cut short */
	} else if (s->body) {
		stage = STAGE_BODY; /* the server cut the message short */
	} else {
		lost(s, LOSS_PROTOCOL, "reply out of turn");
		return;
	}
	if (stage == STAGE_RSET) { /* piped ahead of MAIL: the session's */
		if (s->reply.code < 200 || s->reply.code >= 300) {
			lost(s, LOSS_RSET, NULL);
			return;
		}
		arm_timeout(s);
		reply_init(&s->reply);
		return;
	}
	arm_timeout(s);
	s->ops->reply(s->txn_arg, stage, &s->reply);
	reply_init(&s->reply);
}

/* Takes complete reply lines from the input buffer. */
static void on_input(struct session *s)
{
	struct iobuf *in = io_input(s->io);
	for (;;) {
		const char *line;
		size_t len;
		enum iobuf_line got = iobuf_getline(in, REPLY_LINE_MAX, &line, &len);
		if (got == IOBUF_NEED_MORE)
			return;
		if (got == IOBUF_TOO_LONG) {
			lost(s, LOSS_PROTOCOL, "reply line too long");
			return;
		}
		if (config_logs(s->p.config, MXC_LOG_PROTOCOL)) {
			char safe[REPLY_LINE_MAX * 4 + 1];
			escape_text(line, len, safe, sizeof safe);
			session_log(s, MXC_LOG_PROTOCOL, "<<< %s", safe);
		}
		enum reply_step step = reply_feed(&s->reply, line, len);
		if (step != REPLY_BAD && s->state == SESSION_EHLO &&
		    s->reply.nlines > 1)
			ehlo_feed(&s->ehlo_in, line, len);
		if (step == REPLY_MORE)
			continue;
		if (step == REPLY_BAD) {
			lost(s, LOSS_PROTOCOL, "malformed reply");
			return;
		}
		/* A complete reply.  Whoever handles it may end the
		 * connection, or (QUIT) the session: look again after. */
		if (s->state == SESSION_READY) {
			lost(s, LOSS_PROTOCOL, "reply out of turn");
			return;
		}
		count_turn(s);
		bool quit = s->state == SESSION_QUIT;
		/* Only replies to commands already sent may follow this
		 * one: a server speaks only when spoken to, and the next
		 * command has not even left yet. */
		bool more = s->state == SESSION_BUSY && s->nexpect > 1;
		if (s->state == SESSION_BUSY)
			txn_reply(s);
		else
			setup_reply(s);
		if (quit || s->io == NULL)
			return; /* freed, or the connection is gone */
		if (!more && iobuf_len(in) > 0 && !setup_failed_already(s)) {
			lost(s, LOSS_PROTOCOL, "data after a complete reply");
			return;
		}
		if (!more)
			return;
	}
}

/* The handshake finished: the DANE guard, then EHLO again. */
static void tls_ready(struct session *s)
{
	struct tls *tls = io_tls(s->io);
	const struct policy *p = s->p.policy;
	snprintf(s->info.tls_version, sizeof s->info.tls_version, "%s",
	         tls_version(tls));
	snprintf(s->info.tls_cipher, sizeof s->info.tls_cipher, "%s",
	         tls_cipher(tls));
	snprintf(s->info.tls_group, sizeof s->info.tls_group, "%s",
	         tls_group(tls));
	tls_take_chain(tls, &s->info.chain);
	bool resumed = s->resume_offered && tls_resumed(tls);
	/* Whatever the TLS library did or skipped (a resumed session calls
	 * no verify callback), mail goes only where the policy allows: a
	 * resumed session only on the word of the cache entry it came from. */
	struct policy_tls_state st = {
		.encrypted = true,
		.dane_checked = s->dane_checked_here,
		.authenticated = s->dane_checked_here &&
		                 s->info.dane.authenticated,
		.resumed = resumed,
		.resumed_digest = resumed && s->resumed.authenticated
		                      ? s->resumed.digest : NULL,
	};
	if (resumed) {
		s->info.tls_resumed = true;
		tlscache_resumed(s->p.config->tlscache);
	}
	const char *refused = policy_guard(p, &st);
	if (refused != NULL) {
		if (resumed)
			session_log(s, MXC_LOG_INFO, "TLS with %s[%s]: %s, resumed: "
			            "refused", s->mx, s->address,
			            s->info.tls_version);
		lost(s, LOSS_DANE, refused);
		return;
	}
	if (resumed && !s->dane_checked_here && s->resumed.authenticated) {
		/* The check that authenticated the ticket's connection, for
		 * reports. */
		s->info.dane = s->resumed.dane;
		s->info.dane_checked = true;
	}
	session_log(s, MXC_LOG_INFO,
	            "TLS with %s[%s]: %s %s%s, %zu certificate(s), %s%s", s->mx,
	            s->address, s->info.tls_version, s->info.tls_cipher,
	            resumed ? ", resumed" : "", s->info.chain.count,
	            p->need == POLICY_TLS_DANE ? "DANE verified: "
	            : p->need == POLICY_TLS_REQUIRED
	                ? "required, not authenticated"
	                : "opportunistic, not authenticated",
	            p->need == POLICY_TLS_DANE ? s->info.dane.why : "");
	enter(s, SESSION_EHLO);
}

/* One event from the connection. */
static void on_io(void *arg, struct io *io, enum io_event event)
{
	struct session *s = arg;
	(void)io;
	switch (event) {
	case IO_INPUT:
		if (!setup_failed_already(s))
			on_input(s);
		return;
	case IO_DRAINED:
		if (s->body_ref == NULL && s->state == SESSION_QUIT)
			return; /* QUIT itself went out */
		release_body(s);
		if (s->state == SESSION_QUIT) { /* the body's dot went out */
			arm_timeout(s);
			setup_command(s, "QUIT");
			return;
		}
		if (s->state == SESSION_BUSY && s->body) {
			s->body = false;
			s->message_sent = true;
			if (s->body_dot) /* (room: nothing else is awaited) */
				s->expect[s->nexpect++] = STAGE_DOT;
			arm_timeout(s);
			s->ops->drained(s->txn_arg);
		}
		return;
	case IO_TLS_READY:
		/* The handshake's round trips, as its protocol's full
		 * handshake takes them (they happen inside the TLS library). */
		if (s->p.config->turns != NULL)
			s->p.config->turns->setup +=
				strcmp(tls_version(io_tls(s->io)), "TLSv1.3") == 0 ? 1
				                                                   : 2;
		tls_ready(s);
		return;
	case IO_TIMEOUT:
		lost(s, LOSS_TIMEOUT, NULL);
		return;
	case IO_CLOSED:
		lost(s, LOSS_CLOSED, NULL);
		return;
	case IO_ERROR:
		if (s->info.dane_checked && !s->info.dane.authenticated)
			lost(s, LOSS_DANE, s->info.dane.why);
		else
			lost(s, s->state == SESSION_TLS ? LOSS_TLS : LOSS_CLOSED,
			     io_error(s->io));
		return;
	}
}

/* Closes the stream through the transport that made it. */
static void close_stream(void *arg, int fd)
{
	transport_close(arg, fd);
}

/* Starts a session on a connected socket. */
struct session *session_start(int fd, const struct session_params *params)
{
	struct session *s = calloc(1, sizeof *s);
	if (s == NULL) {
		transport_close(params->config->transport, fd);
		policy_free(params->policy);
		return NULL;
	}
	s->p = *params;
	snprintf(s->mx, sizeof s->mx, "%s", params->mx);
	snprintf(s->address, sizeof s->address, "%s", params->address);
	s->p.mx = s->mx;
	s->p.address = s->address;
	s->fd = fd;
	s->delivery_id = params->delivery_id;
	s->started_ms = clock_ms();
	s->io = io_new(params->config->base, fd, close_stream,
	               params->config->transport, on_io, s);
	if (s->io == NULL) {
		transport_close(params->config->transport, fd);
		policy_free(params->policy);
		free(s);
		return NULL;
	}
	s->state = SESSION_GREETING;
	enter(s, SESSION_GREETING);
	return s;
}

/* Closes at once and frees. */
void session_free(struct session *s)
{
	if (s == NULL)
		return;
	if (s->io != NULL)
		io_free(s->io);
	release_body(s);
	tls_chain_free(&s->info.chain);
	policy_free(s->p.policy);
	free(s);
}

/* QUIT, then close and free. */
void session_quit(struct session *s, session_closed_fn *closed, void *arg)
{
	s->quitting = true;
	s->closed = closed;
	s->closed_arg = arg;
	if (s->state == SESSION_CLOSED || s->io == NULL) {
		quit_done(s);
		return;
	}
	s->nexpect = 0;
	s->body = false;
	s->reported = true;
	enter(s, SESSION_QUIT);
}

/* Lower-case hex of `len` bytes into `out` (room for 2 * len + 1). */
static void hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* Fills `f` from the leaf of `chain` (all "" without one). */
static void leaf_facts(const struct tls_chain *chain, struct session_leaf *f)
{
	*f = (struct session_leaf){ 0 };
	if (chain->count == 0)
		return;
	const struct tls_cert *leaf = &chain->certs[0];
	unsigned char md[X509_DIGEST_MAX], spki[X509_SPKI_MAX];
	size_t mdlen, spkilen;
	x509_names(leaf, f->subject, sizeof f->subject, f->issuer,
	           sizeof f->issuer);
	if (x509_digest(X509_MTYPE_SHA256, leaf->der, leaf->len, md, sizeof md,
	                &mdlen, NULL, 0) && mdlen == 32)
		hex(md, mdlen, f->cert_sha256);
	if (x509_spki(leaf, spki, sizeof spki, &spkilen, NULL, 0) &&
	    x509_digest(X509_MTYPE_SHA256, spki, spkilen, md, sizeof md, &mdlen,
	                NULL, 0) && mdlen == 32)
		hex(md, mdlen, f->pkey_sha256);
}

/* The leaf's evidence, worked out once per connection: every delivery on
 * it reports the same, and parsing and hashing the certificate for each
 * was a fifth of a reused delivery's CPU. */
const struct session_leaf *session_leaf(struct session *s)
{
	if (!s->leaf_known || s->leaf_of != s->info.chain.count) {
		leaf_facts(&s->info.chain, &s->leaf);
		s->leaf_known = true;
		s->leaf_of = s->info.chain.count;
	}
	return &s->leaf;
}

/* Accessors. */
enum session_state session_state(const struct session *s)
{
	return s->state;
}

const struct session_info *session_info(const struct session *s)
{
	return &s->info;
}

unsigned session_transactions(const struct session *s)
{
	return s->transactions;
}

bool session_usable(const struct session *s)
{
	return (s->state == SESSION_READY || s->state == SESSION_RSET) &&
	       s->io != NULL;
}

uint64_t session_age_ms(const struct session *s)
{
	return clock_ms() - s->started_ms;
}

const struct policy *session_policy(const struct session *s)
{
	return s->p.policy;
}

const char *session_mx(const struct session *s)
{
	return s->mx;
}

const char *session_address(const struct session *s)
{
	return s->address;
}

uint64_t session_id(const struct session *s)
{
	return s->p.id;
}

/* A transaction takes the session. */
void session_attach(struct session *s, uint64_t delivery_id,
                    const struct session_txn_ops *ops, void *arg)
{
	s->delivery_id = delivery_id;
	s->ops = ops;
	s->txn_arg = arg;
	s->nexpect = 0;
	s->body = false;
	s->message_sent = false;
	s->txn_turns = 0;
	s->transactions++;
	if (s->p.config->turns != NULL)
		s->p.config->turns->carried++;
	if (s->needs_rset && s->state == SESSION_READY) {
		s->needs_rset = false;
		if (s->info.caps.pipelining) {
			/* RFC 2920 3.1: RSET may go in the same write as the
			 * MAIL that follows it; its reply is the session's. */
			enter(s, SESSION_BUSY);
			if (session_command(s, STAGE_RSET, "RSET"))
				ops->go(arg);
			return;
		}
		enter(s, SESSION_RSET);
	}
	if (s->state == SESSION_RSET)
		return; /* go() when RSET is answered */
	enter(s, SESSION_BUSY);
	ops->go(arg);
}

/* The transaction is over. */
void session_detach(struct session *s, bool open)
{
	session_log(s, MXC_LOG_DEBUG, "transaction %u took %u round trip(s)",
	            s->transactions, s->txn_turns);
	s->ops = NULL;
	s->txn_arg = NULL;
	/* RSET waits for the next transaction: a session that is ended
	 * instead needs none, QUIT is enough. */
	s->needs_rset = open;
	if (s->state == SESSION_BUSY)
		enter(s, SESSION_READY);
	/* Its lines stay the last delivery's until another attaches: a
	 * delivery that ended is found by no id, so none is ever named
	 * after it is freed. */
}

/* Idle in the pool: only the buffers a read or write needs again. */
void session_park(struct session *s)
{
	if (s->io != NULL)
		io_trim(s->io);
}

/* Sends a transaction's command. */
bool session_command(struct session *s, enum stage stage, const char *fmt,
                     ...)
{
	if (s->nexpect >= EXPECT_MAX) {
		lost(s, LOSS_TOO_MANY, NULL);
		return false;
	}
	va_list ap;
	va_start(ap, fmt);
	bool ok = send_line(s, fmt, ap);
	va_end(ap);
	if (!ok)
		return false;
	s->expect[s->nexpect++] = stage;
	arm_timeout(s);
	return true;
}

/* Writes `len` bytes of message `m` by reference, holding the message
 * until they have left. */
static void write_message(struct session *s, const struct mxc_message *m,
                          const char *bytes, size_t len)
{
	s->body = true;
	s->wrote = true;
	/* The reference is only ever dropped: the message stays unchanged. */
	s->body_ref = mxc_message_ref((struct mxc_message *)m);
	arm_timeout(s);
	io_write_ref(s->io, bytes, len);
}

/* Sends the body by reference, holding the message until it has left. */
void session_body(struct session *s, const struct mxc_message *m)
{
	session_log(s, MXC_LOG_PROTOCOL,
	            ">>> [message, %zu bytes, and the final dot]", m->wire_len);
	s->body_dot = true;
	write_message(s, m, m->wire, m->wire_len);
}

/* Sends BDAT LAST and the message as its one chunk. */
bool session_bdat(struct session *s, const struct mxc_message *m)
{
	if (!session_command(s, STAGE_BDAT, "BDAT %" PRIu64 " LAST", m->size))
		return false;
	session_log(s, MXC_LOG_PROTOCOL, ">>> [message, %" PRIu64 " bytes]",
	            m->size);
	s->body_dot = false;
	write_message(s, m, m->chunk, (size_t)m->size);
	return true;
}

/* Replies still awaited by the transaction. */
size_t session_awaiting(const struct session *s)
{
	return s->nexpect + (s->body && s->body_dot);
}
