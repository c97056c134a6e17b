/*
 * smtp: the client side of one mail transaction (RFC 5321 3.3).
 *
 *   MAIL -> RCPT -> DATA -> BODY -> DOT
 *
 * Each step sends its command through the session, which matches the reply
 * and keeps the stage's timeout; a complete reply is judged by the policy
 * table in result.c and either sends the next command or concludes.  A lost
 * connection concludes at once.  The transaction does not log its
 * conclusion: delivery.c reports it once.
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
	bool finished;             /* done() called */
	bool mail_accepted;        /* a 250 to MAIL came */
	struct smtp_outcome outcome;
};

/* Concludes (once): records the verdict and tells the owner. */
static void conclude(struct smtp *t, enum verdict v, int exit_status,
                     enum stage stage, const char *detail, bool usable)
{
	if (t->finished)
		return;
	t->finished = true;
	t->outcome.verdict = v;
	t->outcome.exit_status = exit_status;
	t->outcome.stage = stage;
	t->outcome.session_usable = usable;
	t->outcome.open = t->mail_accepted && stage != STAGE_DOT;
	snprintf(t->outcome.detail, sizeof t->outcome.detail, "%s", detail);
	t->done(t->done_arg, &t->outcome);
}

/* The session lost its connection while waiting at `stage`. */
static void on_lost(void *arg, enum stage stage, const char *how,
                    const char *why)
{
	struct smtp *t = arg;
	int exit_status;
	enum verdict v = result_of_loss(stage, &exit_status);
	char detail[700];
	snprintf(detail, sizeof detail, "%s %s[%s] while %s%s%s%s", how,
	         session_mx(t->session), session_address(t->session),
	         stage_while(stage), why != NULL ? " (" : "",
	         why != NULL ? why : "", why != NULL ? ")" : "");
	t->outcome.kind = result_kind_of_loss(how);
	conclude(t, v, exit_status, stage, detail, false);
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
	default:
		return;
	}
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
	int exit_status;
	enum verdict v = result_of_reply(stage, r->code, r->enhanced,
	                                 &exit_status);
	/* 3yz is right only for DATA (354); 354 is wrong everywhere else.
	 * A reply to the body before the dot went out cut it short. */
	bool want_354 = stage == STAGE_DATA;
	if (v == VERDICT_CONTINUE && r->code < 400 &&
	    ((r->code >= 300) != want_354 || stage == STAGE_BODY)) {
		on_lost(t, stage, "protocol error with",
		        stage == STAGE_BODY ? "reply out of turn"
		                            : "unexpected reply code");
		return;
	}
	if (v != VERDICT_CONTINUE) {
		char text[1024], detail[1280];
		reply_line(r, text, sizeof text);
		t->outcome.code = r->code;
		snprintf(t->outcome.enhanced, sizeof t->outcome.enhanced, "%s",
		         r->enhanced);
		snprintf(t->outcome.reply, sizeof t->outcome.reply, "%s", text);
		const char *mx = session_mx(t->session);
		const char *addr = session_address(t->session);
		if (v == VERDICT_DELIVERED)
			snprintf(detail, sizeof detail, "delivered to %s[%s]: %s",
			         mx, addr, text);
		else
			snprintf(detail, sizeof detail,
			         "host %s[%s] said: %s (in reply to %s)", mx, addr,
			         text, stage_in_reply(stage));
		t->outcome.kind = v == VERDICT_DELIVERED ? MXC_FAILURE_NONE
		                                         : MXC_FAILURE_REPLY;
		conclude(t, v, exit_status, stage, detail,
		         result_session_usable(stage, r->code));
		return;
	}
	switch (stage) {
	case STAGE_MAIL:
		t->mail_accepted = true;
		send_stage(t, STAGE_RCPT);
		return;
	case STAGE_RCPT:
		send_stage(t, STAGE_DATA);
		return;
	case STAGE_DATA:
		send_stage(t, STAGE_BODY);
		return;
	default:
		/* a 2xx to anything else was never expected */
		on_lost(t, stage, "protocol error with", "reply out of turn");
		return;
	}
}

static bool can_send(struct smtp *t);

/* The session is ready: check the message against it, then MAIL. */
static void on_go(void *arg)
{
	struct smtp *t = arg;
	if (can_send(t))
		send_stage(t, STAGE_MAIL);
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
		conclude(t, VERDICT_PERMFAIL, EXIT_UNAVAILABLE, STAGE_MAIL,
		         detail, true);
		return false;
	}
	if (caps->size_max > 0 && t->p.message->size > caps->size_max) {
		snprintf(detail, sizeof detail, "message size %" PRIu64 " exceeds "
		         "size limit %" PRIu64 " of host %s[%s]",
		         t->p.message->size, caps->size_max, mx, addr);
		t->outcome.kind = MXC_FAILURE_CAPABILITY;
		conclude(t, VERDICT_PERMFAIL, EXIT_UNAVAILABLE, STAGE_MAIL,
		         detail, true);
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
