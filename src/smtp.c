/*
 * smtp: the client side of one SMTP dialogue (RFC 5321), with STARTTLS
 * (RFC 3207) whenever the server offers it.
 *
 * The session is a state machine over the stages of result.h: entering a
 * stage sends its command and arms its timeout (RFC 5321 4.5.3.2, scaled by
 * the engine's setting); a complete reply is judged by the policy table in
 * result.c and either enters the next stage or concludes.  Replies that
 * conclude are followed by QUIT; lost connections, timeouts and protocol
 * errors conclude at once.  The io layer below owns bytes, TLS and time.
 * The session does not log its conclusion: delivery.c reports it once.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "config.h"
#include "escape.h"
#include "io.h"
#include "iobuf.h"
#include "message.h"
#include "smtp.h"
#include "tls.h"
#include "transport.h"

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
};

struct smtp {
	struct smtp_params p;
	smtp_done_fn *done;
	void *done_arg;
	struct io *io;
	int fd;                    /* the socket io owns, for TLS setup */
	enum stage stage;
	struct reply reply;        /* the reply being assembled */
	struct ehlo_caps caps;     /* from the latest EHLO */
	struct ehlo_caps ehlo_in;  /* read from an EHLO reply's lines as they
	                              arrive: its text may be cut for reports */
	bool concluded;            /* outcome decided, QUIT under way */
	bool finished;             /* done() called */
	struct smtp_outcome outcome;
};

/* Copies a complete reply into one escaped line, lines joined by a space. */
static void reply_line(const struct reply *r, char *out, size_t outlen)
{
	size_t used = 0;
	const char *p = r->text, *end = r->text + r->text_len;
	out[0] = '\0';
	while (p < end && used + 1 < outlen) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (used > 0)
			out[used++] = ' ';
		used += escape_text(p, len, out + used, outlen - used);
		p += len + (nl != NULL);
	}
	out[used < outlen ? used : outlen - 1] = '\0';
}

/* Ends the session: closes the connection and reports, exactly once. */
static void finish(struct smtp *s)
{
	if (s->finished)
		return;
	s->finished = true;
	/* tls_version stays "" unless the handshake completed: an aborted
	 * one (a DANE mismatch) carried nothing. */
	io_free(s->io); /* safe inside io's callback */
	s->io = NULL;
	s->done(s->done_arg, &s->outcome);
}

/* Decides the outcome; text is the detail line (already escaped). */
static void conclude(struct smtp *s, enum verdict v, int exit_status,
                     const char *detail)
{
	s->concluded = true;
	s->outcome.verdict = v;
	s->outcome.exit_status = exit_status;
	s->outcome.stage = s->stage;
	snprintf(s->outcome.detail, sizeof s->outcome.detail, "%s", detail);
}

/*
 * Concludes because the connection can no longer be used: `how` names what
 * happened ("lost connection with"), `why` adds the cause or is NULL.
 */
static void lost(struct smtp *s, const char *how, const char *why)
{
	if (s->concluded) { /* during QUIT: the verdict stands */
		finish(s);
		return;
	}
	int exit_status;
	enum verdict v = result_of_loss(s->stage, &exit_status);
	char detail[700];
	snprintf(detail, sizeof detail, "%s %s[%s] while %s%s%s%s", how,
	         s->p.mx, s->p.address, stage_while(s->stage),
	         why != NULL ? " (" : "", why != NULL ? why : "",
	         why != NULL ? ")" : "");
	conclude(s, v, exit_status, detail);
	s->outcome.tls_failed = s->stage == STAGE_TLS;
	finish(s);
}

/* Queues a command and writes it to the transcript. */
static void send_command(struct smtp *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void send_command(struct smtp *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 2) {
		lost(s, "command too long for", NULL);
		return;
	}
	config_log(s->p.config, s->p.delivery, MXC_LOG_PROTOCOL, ">>> %s", line);
	memcpy(line + n, "\r\n", 2);
	if (io_write(s->io, line, (size_t)n + 2) < 0)
		lost(s, "out of memory talking to", NULL);
}

/* Enters a stage: sends its command and arms its timeout. */
static void enter(struct smtp *s, enum stage next)
{
	static const char *const state_names[STAGE_LAST] = {
		"GREETING", "EHLO", "HELO", "STARTTLS", "TLS", "MAIL",
		"RCPT", "DATA", "BODY", "DOT", "QUIT",
	};
	_Static_assert(sizeof state_names / sizeof state_names[0] == STAGE_LAST,
	               "a name for every stage");
	config_log(s->p.config, s->p.delivery, MXC_LOG_DEBUG, "smtp %s -> %s",
	           state_names[s->stage], state_names[next]);
	s->stage = next;
	reply_init(&s->reply);
	memset(&s->ehlo_in, 0, sizeof s->ehlo_in);
	io_set_timeout(s->io, config_timeout_ms(s->p.config, stage_timeout[next]),
	               next == STAGE_BODY);
	const struct mxc_message *m = s->p.message;
	switch (next) {
	case STAGE_GREETING:
	case STAGE_TLS:
	case STAGE_DOT:
		break; /* nothing to send: wait */
	case STAGE_EHLO:
		send_command(s, "EHLO %s", s->p.config->helo);
		break;
	case STAGE_HELO:
		send_command(s, "HELO %s", s->p.config->helo);
		break;
	case STAGE_STARTTLS:
		send_command(s, "STARTTLS");
		break;
	case STAGE_MAIL: {
		char size[32] = "";
		if (s->caps.size)
			snprintf(size, sizeof size, " SIZE=%" PRIu64, m->size);
		send_command(s, "MAIL FROM:<%s>%s%s%s", s->p.sender, size,
		             m->eightbit && s->caps.eightbitmime ? " BODY=8BITMIME"
		                                                 : "",
		             address_is_utf8(s->p.sender) ||
		                     address_is_utf8(s->p.recipient)
		                 ? " SMTPUTF8" : "");
		break;
	}
	case STAGE_RCPT:
		send_command(s, "RCPT TO:<%s>", s->p.recipient);
		break;
	case STAGE_DATA:
		send_command(s, "DATA");
		break;
	case STAGE_BODY:
		config_log(s->p.config, s->p.delivery, MXC_LOG_PROTOCOL,
		           ">>> [message, %zu bytes, and the final dot]",
		           m->wire_len);
		io_write_ref(s->io, m->wire, m->wire_len);
		break;
	case STAGE_QUIT:
		send_command(s, "QUIT");
		break;
	case STAGE_LAST:
		break;
	}
}

/*
 * Checks what the server advertised against what this message needs before
 * MAIL is sent.  Returns false after concluding when it cannot go.
 */
static bool can_send(struct smtp *s)
{
	char detail[600];
	bool utf8 = address_is_utf8(s->p.sender) ||
	            address_is_utf8(s->p.recipient);
	if (utf8 && !s->caps.smtputf8) {
		snprintf(detail, sizeof detail, "SMTPUTF8 is required, but was "
		         "not offered by host %s[%s]", s->p.mx, s->p.address);
		conclude(s, VERDICT_PERMFAIL, EXIT_UNAVAILABLE, detail);
		return false;
	}
	if (s->caps.size_max > 0 && s->p.message->size > s->caps.size_max) {
		snprintf(detail, sizeof detail, "message size %" PRIu64 " exceeds "
		         "size limit %" PRIu64 " of host %s[%s]",
		         s->p.message->size, s->caps.size_max, s->p.mx,
		         s->p.address);
		conclude(s, VERDICT_PERMFAIL, EXIT_UNAVAILABLE, detail);
		return false;
	}
	return true;
}

/*
 * Authenticates the peer against the TLSA records, inside the handshake
 * and before our Finished: a peer that fails never receives a byte of
 * SMTP (RFC 7672 3.1).
 */
static bool verify_dane(void *arg, const struct tls_chain *chain, char *why,
                        size_t whylen)
{
	struct smtp *s = arg;
	dane_check(s->p.tlsa, s->p.ntlsa, chain, s->p.names, s->p.nnames,
	           &s->outcome.dane);
	s->outcome.dane_checked = true;
	if (s->outcome.dane.authenticated)
		return true;
	snprintf(why, whylen, "DANE authentication failed: %s",
	         s->outcome.dane.why);
	return false;
}

/*
 * Concludes that this host cannot give the TLS required of it: it goes no
 * further than EHLO, in clear, and the next host is tried.
 */
static void tls_refused(struct smtp *s, const char *what)
{
	char text[1024] = "", detail[1280];
	if (s->reply.code >= 400) /* the refusal itself says more */
		reply_line(&s->reply, text, sizeof text);
	snprintf(detail, sizeof detail, "TLS is required, but host %s[%s] %s%s%s",
	         s->p.mx, s->p.address, what, text[0] != '\0' ? ": " : "", text);
	conclude(s, VERDICT_NEXT_HOST, EXIT_TEMPFAIL, detail);
	s->outcome.tls_failed = true;
	enter(s, STAGE_QUIT);
}

/* Whether the session must achieve TLS (else it may go on in clear). */
static bool tls_demanded(const struct smtp *s)
{
	return s->p.tls == SMTP_TLS_REQUIRED || s->p.tls == SMTP_TLS_DANE;
}

/* Starts TLS after the server's 220 to STARTTLS. */
static void begin_tls(struct smtp *s)
{
	/* Bytes after the 220 were sent before the handshake, in clear, by
	 * anyone on the path: executing them later would be command
	 * injection (CVE-2011-0411 and kin). */
	if (iobuf_len(io_input(s->io)) > 0) {
		lost(s, "protocol error with",
		     "data after the STARTTLS reply: command injection?");
		return;
	}
	char err[128];
	bool dane = s->p.tls == SMTP_TLS_DANE;
	struct tls *tls = tls_new(s->p.config->tls, s->fd, s->p.sni,
	                          dane ? verify_dane : NULL, dane ? s : NULL,
	                          err, sizeof err);
	if (tls == NULL) {
		lost(s, "cannot start TLS with", err);
		return;
	}
	enter(s, STAGE_TLS);
	io_start_tls(s->io, tls);
}

/* The server's reply to what the current stage sent. */
static void on_reply(struct smtp *s)
{
	struct reply *r = &s->reply;
	int exit_status;
	enum verdict v = result_of_reply(s->stage, r->code, r->enhanced,
	                                 &exit_status);
	/* 3yz is right only for DATA (354); 354 is wrong everywhere else. */
	bool want_354 = s->stage == STAGE_DATA;
	if (v == VERDICT_CONTINUE && r->code < 400 &&
	    (r->code >= 300) != want_354) {
		lost(s, "protocol error with", "unexpected reply code");
		return;
	}
	if (s->stage == STAGE_QUIT) {
		finish(s);
		return;
	}
	if (v != VERDICT_CONTINUE) {
		char text[1024], detail[1280];
		reply_line(r, text, sizeof text);
		s->outcome.code = r->code;
		snprintf(s->outcome.enhanced, sizeof s->outcome.enhanced, "%s",
		         r->enhanced);
		snprintf(s->outcome.reply, sizeof s->outcome.reply, "%s", text);
		if (v == VERDICT_DELIVERED)
			snprintf(detail, sizeof detail, "delivered to %s[%s]: %s",
			         s->p.mx, s->p.address, text);
		else
			snprintf(detail, sizeof detail,
			         "host %s[%s] said: %s (in reply to %s)", s->p.mx,
			         s->p.address, text, stage_in_reply(s->stage));
		conclude(s, v, exit_status, detail);
		enter(s, STAGE_QUIT);
		return;
	}
	bool ok = r->code < 400;
	switch (s->stage) {
	case STAGE_GREETING:
		enter(s, STAGE_EHLO);
		return;
	case STAGE_EHLO:
		if (!ok && io_tls(s->io) == NULL && tls_demanded(s)) {
			tls_refused(s, "refused EHLO"); /* HELO has no STARTTLS */
			return;
		}
		if (!ok) { /* EHLO refused: RFC 5321 4.1.4 says try HELO */
			enter(s, STAGE_HELO);
			return;
		}
		s->caps = s->ehlo_in;
		if (io_tls(s->io) != NULL)
			break;
		if (s->caps.starttls && s->p.tls != SMTP_TLS_NONE) {
			enter(s, STAGE_STARTTLS);
			return;
		}
		if (tls_demanded(s)) {
			tls_refused(s, "did not offer STARTTLS");
			return;
		}
		break;
	case STAGE_HELO:
		memset(&s->caps, 0, sizeof s->caps);
		break;
	case STAGE_STARTTLS:
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
		config_log(s->p.config, s->p.delivery, MXC_LOG_INFO,
		           "STARTTLS refused by %s[%s]; continuing without TLS",
		           s->p.mx, s->p.address);
		break;
	case STAGE_MAIL:
		enter(s, STAGE_RCPT);
		return;
	case STAGE_RCPT:
		enter(s, STAGE_DATA);
		return;
	case STAGE_DATA:
		enter(s, STAGE_BODY);
		return;
	case STAGE_TLS:
	case STAGE_BODY:
	case STAGE_DOT:
	case STAGE_QUIT:
	case STAGE_LAST:
		/* a 2xx while we are still sending, or never expected */
		lost(s, "protocol error with", "reply out of turn");
		return;
	}
	/* After EHLO, HELO or STARTTLS: the envelope starts. */
	if (!can_send(s)) {
		enter(s, STAGE_QUIT);
		return;
	}
	enter(s, STAGE_MAIL);
}

/* Takes complete reply lines from the input buffer. */
static void on_input(struct smtp *s)
{
	struct iobuf *in = io_input(s->io);
	while (!s->finished) {
		const char *line;
		size_t len;
		enum iobuf_line got = iobuf_getline(in, REPLY_LINE_MAX, &line, &len);
		if (got == IOBUF_NEED_MORE)
			return;
		if (got == IOBUF_TOO_LONG) {
			lost(s, "protocol error with", "reply line too long");
			return;
		}
		if (config_logs(s->p.config, MXC_LOG_PROTOCOL)) {
			char safe[REPLY_LINE_MAX * 4 + 1];
			escape_text(line, len, safe, sizeof safe);
			config_log(s->p.config, s->p.delivery, MXC_LOG_PROTOCOL,
			           "<<< %s", safe);
		}
		enum reply_step step = reply_feed(&s->reply, line, len);
		if (step != REPLY_BAD && s->stage == STAGE_EHLO &&
		    s->reply.nlines > 1)
			ehlo_feed(&s->ehlo_in, line, len);
		switch (step) {
		case REPLY_MORE:
			break;
		case REPLY_BAD:
			lost(s, "protocol error with", "malformed reply");
			return;
		case REPLY_DONE:
			on_reply(s);
			/* Without PIPELINING a server speaks only when spoken
			 * to, and the next command has not even left yet:
			 * whatever follows a complete reply is a second reply
			 * the dialogue would be misread by. */
			if (!s->finished && iobuf_len(in) > 0) {
				lost(s, "protocol error with",
				     "data after a complete reply");
				return;
			}
			break;
		}
	}
}

/* One event from the connection. */
static void on_io(void *arg, struct io *io, enum io_event event)
{
	struct smtp *s = arg;
	(void)io;
	if (s->finished)
		return;
	switch (event) {
	case IO_INPUT:
		on_input(s);
		return;
	case IO_DRAINED:
		if (s->stage == STAGE_BODY)
			enter(s, STAGE_DOT);
		return;
	case IO_TLS_READY: {
		struct tls *tls = io_tls(s->io);
		snprintf(s->outcome.tls_version, sizeof s->outcome.tls_version,
		         "%s", tls_version(tls));
		snprintf(s->outcome.tls_cipher, sizeof s->outcome.tls_cipher,
		         "%s", tls_cipher(tls));
		tls_take_chain(tls, &s->outcome.chain);
		config_log(s->p.config, s->p.delivery, MXC_LOG_INFO,
		           "TLS with %s[%s]: %s %s, %zu certificate(s), %s%s",
		           s->p.mx, s->p.address, s->outcome.tls_version,
		           s->outcome.tls_cipher, s->outcome.chain.count,
		           s->p.tls == SMTP_TLS_DANE ? "DANE verified: "
		           : s->p.tls == SMTP_TLS_REQUIRED
		               ? "required, not authenticated"
		               : "opportunistic, not authenticated",
		           s->p.tls == SMTP_TLS_DANE ? s->outcome.dane.why : "");
		enter(s, STAGE_EHLO);
		return;
	}
	case IO_TIMEOUT:
		lost(s, "conversation timed out with", NULL);
		return;
	case IO_CLOSED:
		lost(s, "lost connection with", NULL);
		return;
	case IO_ERROR:
		if (s->outcome.dane_checked && !s->outcome.dane.authenticated)
			lost(s, "DANE authentication failed for",
			     s->outcome.dane.why);
		else
			lost(s, s->stage == STAGE_TLS ? "TLS failed with"
			                              : "lost connection with",
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
struct smtp *smtp_start(int fd, const struct smtp_params *params,
                        smtp_done_fn *done, void *arg)
{
	struct smtp *s = calloc(1, sizeof *s);
	if (s == NULL) {
		transport_close(params->config->transport, fd);
		return NULL;
	}
	s->p = *params;
	s->done = done;
	s->done_arg = arg;
	s->fd = fd;
	s->io = io_new(params->config->base, fd, close_stream,
	               params->config->transport, on_io, s);
	if (s->io == NULL) {
		transport_close(params->config->transport, fd);
		free(s);
		return NULL;
	}
	s->stage = STAGE_GREETING;
	enter(s, STAGE_GREETING);
	return s;
}

/* Ends a session at once. */
void smtp_free(struct smtp *s)
{
	if (s == NULL)
		return;
	if (s->io != NULL)
		io_free(s->io);
	if (!s->finished) /* else the chain went with the outcome */
		tls_chain_free(&s->outcome.chain);
	free(s);
}
