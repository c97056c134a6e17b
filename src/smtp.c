/*
 * smtp: the client side of one mail transaction (RFC 5321 3.3).
 *
 *   MAIL -> RCPT -> DATA -> BODY -> DOT
 *   MAIL -> RCPT -> BDAT n LAST + the message        (CHUNKING, RFC 3030)
 *
 * Each step sends its command through the session, which matches the reply
 * and keeps the stage's timeout; a complete reply is judged by the policy
 * table in result.c and either sends the next command or concludes.  Where
 * the server offers PIPELINING (RFC 2920) MAIL, RCPT and DATA (or BDAT and
 * the message) go in one write; the replies come back in order, the first
 * failure is kept as the verdict, and the transaction concludes once the
 * rest are read (a 354 after a failed RCPT gets the lone dot, RFC 2920
 * 3.1).  A lost connection concludes at once.  The transaction does not
 * log its conclusion: delivery.c reports it once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "config.h"
#include "escape.h"
#include "message.h"
#include "session.h"
#include "smtp.h"

struct smtp {
	struct smtp_params p;
	struct session *session;
	smtp_done_fn *done;
	void *done_arg;
	bool pipelining;           /* commands go in groups (RFC 2920) */
	bool bdat;                 /* the message goes as BDAT LAST (RFC 3030) */
	bool finished;             /* done() called */
	bool open;                 /* MAIL was accepted and no final reply
	                              closed the transaction on the server */
	bool decided;              /* the verdict is kept in `outcome`; the
	                              replies still awaited are read first */
	bool usable;               /* no reply so far spoilt the session */
	bool lone_dot;             /* "." sent after a 354 that came although
	                              no recipient was accepted */
	struct smtp_outcome outcome;
};

/* Tells the owner (once) what `outcome` says. */
static void finish(struct smtp *t, bool usable)
{
	if (t->finished)
		return;
	t->finished = true;
	t->outcome.session_usable = usable;
	t->outcome.open = t->open;
	t->done(t->done_arg, &t->outcome);
}

/* Concludes (once): records the verdict and tells the owner. */
static void conclude(struct smtp *t, enum verdict v, enum stage stage,
                     const char *detail, bool usable)
{
	if (t->finished)
		return;
	t->outcome.verdict = v;
	t->outcome.stage = stage;
	snprintf(t->outcome.detail, sizeof t->outcome.detail, "%s", detail);
	finish(t, usable);
}

/* The session lost its connection while waiting at `stage`. */
static void on_lost(void *arg, enum stage stage, enum loss loss,
                    const char *why)
{
	struct smtp *t = arg;
	if (t->decided) { /* the verdict came before the loss */
		finish(t, false);
		return;
	}
	enum verdict v = result_of_loss(stage);
	char detail[700];
	loss_detail(detail, sizeof detail, loss, session_mx(t->session),
	            session_address(t->session), NULL, stage, why);
	t->outcome.kind = loss_kind(loss);
	conclude(t, v, stage, detail, false);
}

/* Sends the command of `stage`. */
static void send_stage(struct smtp *t, enum stage stage)
{
	const struct mxc_message *m = t->p.message;
	const struct ehlo_caps *caps = &session_info(t->session)->caps;
	switch (stage) {
	case STAGE_MAIL: {
		char size[32] = "";
		if (caps->size)
			snprintf(size, sizeof size, " SIZE=%" PRIu64, m->size);
		session_command(t->session, STAGE_MAIL, "MAIL FROM:<%s>%s%s%s",
		                t->p.sender, size,
		                m->eightbit && caps->eightbitmime
		                    ? " BODY=8BITMIME" : "",
		                address_is_utf8(t->p.sender) ||
		                        address_is_utf8(t->p.recipient)
		                    ? " SMTPUTF8" : "");
		return;
	}
	case STAGE_RCPT:
		session_command(t->session, STAGE_RCPT, "RCPT TO:<%s>",
		                t->p.recipient);
		return;
	case STAGE_DATA:
		session_command(t->session, STAGE_DATA, "DATA");
		return;
	case STAGE_BODY:
		session_body(t->session, m);
		return;
	case STAGE_BDAT:
		session_bdat(t->session, m);
		return;
	default:
		return;
	}
}

/* Sends what carries the message: DATA, or BDAT LAST and the message. */
static void send_data(struct smtp *t)
{
	send_stage(t, t->bdat ? STAGE_BDAT : STAGE_DATA);
}

/*
 * Keeps the first failure (or the delivery) as the verdict, in the words of
 * the reply that made it, whatever the replies to commands piped after it
 * say.
 */
static void keep_verdict(struct smtp *t, enum stage stage,
                         const struct reply *r, enum verdict v)
{
	t->usable = t->usable && result_session_usable(stage, r->code);
	if (t->decided)
		return;
	t->decided = true;
	char text[1024];
	reply_line(r, text, sizeof text);
	t->outcome.verdict = v;
	t->outcome.kind = v == VERDICT_DELIVERED ? MXC_FAILURE_NONE
	                                         : MXC_FAILURE_REPLY;
	t->outcome.stage = stage;
	t->outcome.code = r->code;
	snprintf(t->outcome.enhanced, sizeof t->outcome.enhanced, "%s",
	         r->enhanced);
	snprintf(t->outcome.reply, sizeof t->outcome.reply, "%s", text);
	const char *mx = session_mx(t->session);
	const char *addr = session_address(t->session);
	if (v == VERDICT_DELIVERED)
		snprintf(t->outcome.detail, sizeof t->outcome.detail,
		         "delivered to %s[%s]: %s", mx, addr, text);
	else
		snprintf(t->outcome.detail, sizeof t->outcome.detail,
		         "host %s[%s] said: %s (in reply to %s)", mx, addr, text,
		         stage_in_reply(stage));
}

/* The message body has left: the final dot's reply comes next. */
static void on_drained(void *arg)
{
	(void)arg; /* the session now waits for STAGE_DOT */
}

/* A reply to the command of `stage`. */
static void on_reply(void *arg, enum stage stage, const struct reply *r)
{
	struct smtp *t = arg;
	if (t->finished)
		return;
	enum verdict v = result_of_reply(stage, r->code);
	if (t->lone_dot && stage == STAGE_DOT) {
		/* Whatever it says, the transaction is closed: the verdict
		 * is the failure that came before. */
		t->open = false;
		finish(t, t->usable && r->code != 421);
		return;
	}
	/* 3yz is right only for DATA (354); 354 is wrong everywhere else.
	 * A reply to the body before the dot went out cut it short. */
	bool want_354 = stage == STAGE_DATA;
	if (v == VERDICT_CONTINUE && r->code < 400 &&
	    ((r->code >= 300) != want_354 || stage == STAGE_BODY)) {
		on_lost(t, stage, LOSS_PROTOCOL,
		        stage == STAGE_BODY ? "reply out of turn"
		                            : "unexpected reply code");
		return;
	}
	if (result_final(stage))
		t->open = t->open && stage == STAGE_BDAT && r->code >= 300;
	if (v == VERDICT_DELIVERED && t->decided) {
		/* The message was taken after all (a server that failed a
		 * command piped before it): delivered it is, never resent. */
		session_log(t->session, MXC_LOG_ERROR, "the message was "
		            "accepted after an earlier command had failed");
		t->decided = false;
	}
	if (v != VERDICT_CONTINUE) {
		keep_verdict(t, stage, r, v);
		/* (a reply that cut the message short is the last word) */
		if (stage == STAGE_BODY || session_awaiting(t->session) == 0)
			finish(t, t->usable);
		return;
	}
	if (t->decided) {
		/* Only a 354 needs an answer: no recipient was accepted, so
		 * end the data at once (RFC 2920 3.1), the lone dot. */
		if (stage == STAGE_DATA) {
			t->lone_dot = true;
			session_command(t->session, STAGE_DOT, ".");
		} else if (session_awaiting(t->session) == 0) {
			finish(t, t->usable);
		}
		return;
	}
	switch (stage) {
	case STAGE_MAIL:
		t->open = true;
		if (!t->pipelining)
			send_stage(t, STAGE_RCPT);
		return;
	case STAGE_RCPT:
		if (!t->pipelining)
			send_data(t);
		return;
	case STAGE_DATA:
		send_stage(t, STAGE_BODY);
		return;
	default:
		/* a 2xx to anything else was never expected */
		on_lost(t, stage, LOSS_PROTOCOL, "reply out of turn");
		return;
	}
}

static bool can_send(struct smtp *t);

/* The session is ready: check the message against it, then MAIL (with
 * RCPT and DATA or BDAT in the same write where PIPELINING allows). */
static void on_go(void *arg)
{
	struct smtp *t = arg;
	if (!can_send(t))
		return;
	send_stage(t, STAGE_MAIL);
	if (!t->pipelining || t->finished)
		return;
	send_stage(t, STAGE_RCPT);
	if (!t->finished)
		send_data(t);
}

static const struct session_txn_ops txn_ops = {
	.go = on_go,
	.reply = on_reply,
	.drained = on_drained,
	.lost = on_lost,
};

/*
 * Checks what the server advertised against what this message needs before
 * MAIL is sent.  Returns false after concluding when it cannot go.
 */
static bool can_send(struct smtp *t)
{
	char detail[600];
	const struct ehlo_caps *caps = &session_info(t->session)->caps;
	const char *mx = session_mx(t->session);
	const char *addr = session_address(t->session);
	bool utf8 = address_is_utf8(t->p.sender) ||
	            address_is_utf8(t->p.recipient);
	if (utf8 && !caps->smtputf8) {
		snprintf(detail, sizeof detail, "SMTPUTF8 is required, but was "
		         "not offered by host %s[%s]", mx, addr);
		t->outcome.kind = MXC_FAILURE_CAPABILITY;
		conclude(t, VERDICT_PERMFAIL, STAGE_MAIL, detail, true);
		return false;
	}
	if (caps->size_max > 0 && t->p.message->size > caps->size_max) {
		snprintf(detail, sizeof detail, "message size %" PRIu64 " exceeds "
		         "size limit %" PRIu64 " of host %s[%s]",
		         t->p.message->size, caps->size_max, mx, addr);
		t->outcome.kind = MXC_FAILURE_CAPABILITY;
		conclude(t, VERDICT_PERMFAIL, STAGE_MAIL, detail, true);
		return false;
	}
	return true;
}

/* Starts a transaction on a ready session. */
struct smtp *smtp_start(struct session *session, const struct smtp_params *p,
                        smtp_done_fn *done, void *arg)
{
	struct smtp *t = calloc(1, sizeof *t);
	if (t == NULL)
		return NULL;
	t->p = *p;
	t->session = session;
	t->done = done;
	t->done_arg = arg;
	t->usable = true;
	const struct ehlo_caps *caps = &session_info(session)->caps;
	t->pipelining = caps->pipelining;
	t->bdat = caps->chunking && p->config->chunking;
	session_attach(session, p->delivery_id, &txn_ops, t);
	return t;
}

/* Detaches and frees. */
void smtp_free(struct smtp *t)
{
	if (t == NULL)
		return;
	session_detach(t->session, t->outcome.open);
	free(t);
}
