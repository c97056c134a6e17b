/*
 * Tests result.c: the delivery policy for each stage and reply class (the
 * sysexits codes are the CLI's, tested in test_report.c).  The table below
 * is the policy written out a second time, by hand, so that a change to
 * either shows.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "result.h"

struct reply_case {
	enum stage stage;
	int code;
	const char *enhanced;
	enum verdict verdict;
};

static const struct reply_case reply_cases[] = {
	/* Greeting: any refusal is the host's; try the next MX. */
	{ STAGE_GREETING, 220, "", VERDICT_CONTINUE },
	{ STAGE_GREETING, 421, "4.3.2", VERDICT_NEXT_HOST },
	{ STAGE_GREETING, 554, "5.7.1", VERDICT_NEXT_HOST },
	/* EHLO 5xx falls back to HELO (CONTINUE); 4xx is the host's. */
	{ STAGE_EHLO, 250, "", VERDICT_CONTINUE },
	{ STAGE_EHLO, 502, "5.5.1", VERDICT_CONTINUE },
	{ STAGE_EHLO, 421, "", VERDICT_NEXT_HOST },
	{ STAGE_HELO, 250, "", VERDICT_CONTINUE },
	{ STAGE_HELO, 501, "", VERDICT_NEXT_HOST },
	/* STARTTLS refused: carry on in clear (opportunistic). */
	{ STAGE_STARTTLS, 220, "", VERDICT_CONTINUE },
	{ STAGE_STARTTLS, 454, "4.7.0", VERDICT_CONTINUE },
	{ STAGE_STARTTLS, 502, "", VERDICT_CONTINUE },
	/* MAIL: 4xx next host, 5xx permanent. */
	{ STAGE_MAIL, 250, "2.1.0", VERDICT_CONTINUE },
	{ STAGE_MAIL, 451, "4.3.0", VERDICT_NEXT_HOST },
	{ STAGE_MAIL, 553, "5.1.8", VERDICT_PERMFAIL },
	/* RCPT: 4xx stops (greylisting would repeat), 5xx permanent. */
	{ STAGE_RCPT, 250, "2.1.5", VERDICT_CONTINUE },
	{ STAGE_RCPT, 251, "", VERDICT_CONTINUE },
	{ STAGE_RCPT, 450, "4.2.0", VERDICT_TEMPFAIL },
	{ STAGE_RCPT, 550, "5.1.1", VERDICT_PERMFAIL },
	{ STAGE_RCPT, 553, "5.1.3", VERDICT_PERMFAIL },
	{ STAGE_RCPT, 550, "5.7.1", VERDICT_PERMFAIL },
	{ STAGE_RCPT, 550, "", VERDICT_PERMFAIL },
	{ STAGE_RCPT, 550, "5.10.1", VERDICT_PERMFAIL },
	/* DATA: 354 goes on, 4xx next host, 5xx permanent. */
	{ STAGE_DATA, 354, "", VERDICT_CONTINUE },
	{ STAGE_DATA, 451, "", VERDICT_NEXT_HOST },
	{ STAGE_DATA, 554, "5.5.1", VERDICT_PERMFAIL },
	{ STAGE_DATA, 550, "5.1.1", VERDICT_PERMFAIL },
	/* A reply while the body is still going out. */
	{ STAGE_BODY, 452, "", VERDICT_TEMPFAIL },
	{ STAGE_BODY, 554, "", VERDICT_PERMFAIL },
	/* The final reply: only 2xx is delivered. */
	{ STAGE_DOT, 250, "2.0.0", VERDICT_DELIVERED },
	{ STAGE_DOT, 452, "4.3.1", VERDICT_TEMPFAIL },
	{ STAGE_DOT, 554, "5.7.1", VERDICT_PERMFAIL },
	{ STAGE_DOT, 354, "", VERDICT_CONTINUE }, /* session: protocol error */
	/* BDAT LAST's reply is the final one, like the dot's. */
	{ STAGE_BDAT, 250, "2.0.0", VERDICT_DELIVERED },
	{ STAGE_BDAT, 452, "4.3.1", VERDICT_TEMPFAIL },
	{ STAGE_BDAT, 554, "5.7.1", VERDICT_PERMFAIL },
	/* QUIT cannot change a verdict. */
	{ STAGE_QUIT, 221, "", VERDICT_CONTINUE },
	{ STAGE_QUIT, 421, "", VERDICT_CONTINUE },
	{ STAGE_QUIT, 554, "", VERDICT_CONTINUE },
};

struct loss_case {
	enum stage stage;
	enum verdict verdict;
};

/* Before the dot: another host; after it: temporary, never redelivered. */
static const struct loss_case loss_cases[] = {
	{ STAGE_GREETING, VERDICT_NEXT_HOST },
	{ STAGE_EHLO, VERDICT_NEXT_HOST },
	{ STAGE_HELO, VERDICT_NEXT_HOST },
	{ STAGE_STARTTLS, VERDICT_NEXT_HOST },
	{ STAGE_TLS, VERDICT_NEXT_HOST },
	{ STAGE_MAIL, VERDICT_NEXT_HOST },
	{ STAGE_RCPT, VERDICT_NEXT_HOST },
	{ STAGE_DATA, VERDICT_NEXT_HOST },
	{ STAGE_BODY, VERDICT_NEXT_HOST },
	{ STAGE_DOT, VERDICT_TEMPFAIL },
	{ STAGE_BDAT, VERDICT_TEMPFAIL }, /* never resent after LAST */
	{ STAGE_QUIT, VERDICT_CONTINUE },
};

/* Whether a session can carry the next transaction after a reply. */
struct usable_case {
	enum stage stage;
	int code;
	bool usable;
};

static const struct usable_case usable_cases[] = {
	{ STAGE_DOT, 250, true },    /* delivered: the session goes on */
	{ STAGE_DOT, 451, true },
	{ STAGE_DOT, 554, true },
	{ STAGE_DOT, 421, false },   /* the server is closing */
	{ STAGE_BDAT, 250, true },
	{ STAGE_BDAT, 554, true },
	{ STAGE_BDAT, 421, false },
	{ STAGE_MAIL, 451, true },
	{ STAGE_MAIL, 553, true },
	{ STAGE_RCPT, 450, true },
	{ STAGE_RCPT, 550, true },
	{ STAGE_RCPT, 421, false },
	{ STAGE_DATA, 554, true },
	{ STAGE_BODY, 554, false },  /* cut the message short */
	{ STAGE_GREETING, 554, false },
	{ STAGE_EHLO, 451, false },
	{ STAGE_TLS, 0, false },
	{ STAGE_QUIT, 221, false },
	{ STAGE_LAST, 250, false },
};

int main(void)
{
	for (size_t i = 0; i < sizeof usable_cases / sizeof usable_cases[0];
	     i++) {
		const struct usable_case *c = &usable_cases[i];
		CHECK(result_session_usable(c->stage, c->code) == c->usable,
		      "session usable after %s %d: want %d",
		      stage_name(c->stage), c->code, c->usable);
	}
	for (size_t i = 0; i < sizeof reply_cases / sizeof reply_cases[0]; i++) {
		const struct reply_case *c = &reply_cases[i];
		enum verdict v = result_of_reply(c->stage, c->code);
		CHECK(v == c->verdict, "reply %s %d %s: verdict %d, want %d",
		      stage_name(c->stage), c->code, c->enhanced, v, c->verdict);
	}
	for (size_t i = 0; i < sizeof loss_cases / sizeof loss_cases[0]; i++) {
		const struct loss_case *c = &loss_cases[i];
		enum verdict v = result_of_loss(c->stage);
		CHECK(v == c->verdict, "loss %s: verdict %d, want %d",
		      stage_name(c->stage), v, c->verdict);
	}
	/* Every stage has report wording. */
	for (int s = 0; s < STAGE_LAST; s++)
		CHECK(strlen(stage_while((enum stage)s)) > 0 &&
		      strlen(stage_in_reply((enum stage)s)) > 0,
		      "stage %d has no wording", s);
	CHECK(strstr(stage_while(STAGE_RCPT), "RCPT TO") != NULL,
	      "RCPT wording: %s", stage_while(STAGE_RCPT));
	/* Losses: their report line and their failure kind. */
	static const struct {
		enum loss loss;
		const char *via, *why, *want;
		enum mxc_failure kind;
	} losses[] = {
		{ LOSS_CLOSED, NULL, NULL, "lost connection with mx.example"
		  "[192.0.2.1] while sending RCPT TO", MXC_FAILURE_LOST },
		{ LOSS_TIMEOUT, NULL, NULL, "conversation timed out with "
		  "mx.example[192.0.2.1] while sending RCPT TO",
		  MXC_FAILURE_TIMEOUT },
		{ LOSS_PROTOCOL, "proxy command nc", "malformed reply",
		  "protocol error with mx.example[192.0.2.1] via proxy command "
		  "nc while sending RCPT TO (malformed reply)",
		  MXC_FAILURE_PROTOCOL },
		{ LOSS_TLS, NULL, NULL, "TLS failed with", MXC_FAILURE_TLS },
		{ LOSS_TLS_SETUP, NULL, NULL, "cannot start TLS with",
		  MXC_FAILURE_LOCAL },
		{ LOSS_DANE, NULL, NULL, "DANE authentication failed for",
		  MXC_FAILURE_DANE },
		{ LOSS_RSET, NULL, NULL, "RSET refused by", MXC_FAILURE_REPLY },
		{ LOSS_TOO_LONG, NULL, NULL, "command too long for",
		  MXC_FAILURE_LOCAL },
		{ LOSS_NO_MEMORY, NULL, NULL, "out of memory talking to",
		  MXC_FAILURE_LOCAL },
		{ LOSS_TOO_MANY, NULL, NULL, "too many commands in flight to",
		  MXC_FAILURE_LOCAL },
	};
	CHECK(sizeof losses / sizeof losses[0] == LOSS_LAST,
	      "%zu losses tested of %d", sizeof losses / sizeof losses[0],
	      (int)LOSS_LAST);
	for (size_t i = 0; i < sizeof losses / sizeof losses[0]; i++) {
		char line[400];
		loss_detail(line, sizeof line, losses[i].loss, "mx.example",
		            "192.0.2.1", losses[i].via, STAGE_RCPT, losses[i].why);
		CHECK(strncmp(line, losses[i].want, strlen(losses[i].want)) == 0,
		      "loss %d: \"%s\", want \"%s\"", (int)losses[i].loss, line,
		      losses[i].want);
		CHECK(loss_kind(losses[i].loss) == losses[i].kind,
		      "loss %d: kind %s", (int)losses[i].loss,
		      mxc_failure_name(loss_kind(losses[i].loss)));
	}
	return check_report();
}
