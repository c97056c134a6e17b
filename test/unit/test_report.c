/*
 * Tests the result vocabulary (result.c's public names and TLS-RPT types)
 * and the command's use of it (cli/sysexit.c, cli/report.c): the exit
 * status of each kind of result, written out by hand a second time, and
 * JSON that stays valid whatever bytes a server sent.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mxclient.h"
#include "report.h"
#include "sysexit.h"

/* ---- a small JSON checker (RFC 8259 syntax, no semantics) ---- */

static bool json_value(const char **p);

/* Skips JSON white space. */
static void ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

/* A string: no raw control bytes, only the escapes JSON knows. */
static bool json_string(const char **p)
{
	if (**p != '"')
		return false;
	for ((*p)++; **p != '"'; (*p)++) {
		unsigned char c = (unsigned char)**p;
		if (c < 0x20)
			return false;
		if (c == '\\') {
			(*p)++;
			if (**p == 'u') {
				for (int i = 0; i < 4; i++)
					if (strchr("0123456789abcdefABCDEF",
					           (*p)[1 + i]) == NULL ||
					    (*p)[1 + i] == '\0')
						return false;
				*p += 4;
			} else if (strchr("\"\\/bfnrt", **p) == NULL ||
			           **p == '\0') {
				return false;
			}
		}
	}
	(*p)++;
	return true;
}

/* An object, an array, a string, a number or a literal. */
static bool json_value(const char **p)
{
	ws(p);
	if (**p == '{' || **p == '[') {
		char close = **p == '{' ? '}' : ']';
		bool object = **p == '{';
		(*p)++;
		ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		for (;;) {
			if (object) {
				ws(p);
				if (!json_string(p))
					return false;
				ws(p);
				if (*(*p)++ != ':')
					return false;
			}
			if (!json_value(p))
				return false;
			ws(p);
			if (**p == ',') {
				(*p)++;
				continue;
			}
			if (**p != close)
				return false;
			(*p)++;
			return true;
		}
	}
	if (**p == '"')
		return json_string(p);
	if (strncmp(*p, "true", 4) == 0 || strncmp(*p, "null", 4) == 0) {
		*p += 4;
		return true;
	}
	if (strncmp(*p, "false", 5) == 0) {
		*p += 5;
		return true;
	}
	const char *start = *p;
	if (**p == '-')
		(*p)++;
	while ((**p >= '0' && **p <= '9') || **p == '.')
		(*p)++;
	return *p > start;
}

/* Whether `text` is exactly one JSON object and a newline. */
static bool json_line(const char *text)
{
	const char *p = text;
	if (*p != '{' || !json_value(&p))
		return false;
	return strcmp(p, "\n") == 0;
}

/* ---- the exit status of each kind of result ---- */

struct exit_case {
	enum mxc_outcome outcome;
	enum mxc_failure kind;
	enum mxc_stage stage;
	const char *enhanced;
	int exit_status;
};

static const struct exit_case exit_cases[] = {
	{ MXC_DELIVERED, MXC_FAILURE_NONE, MXC_STAGE_DOT, "2.0.0", 0 },
	{ MXC_PERMFAIL, MXC_FAILURE_NO_DOMAIN, MXC_STAGE_DNS, "", 68 },
	{ MXC_PERMFAIL, MXC_FAILURE_NULL_MX, MXC_STAGE_DNS, "", 68 },
	{ MXC_PERMFAIL, MXC_FAILURE_NO_MX_HOST, MXC_STAGE_DNS, "", 68 },
	{ MXC_PERMFAIL, MXC_FAILURE_NO_ADDRESS, MXC_STAGE_DNS, "", 68 },
	{ MXC_PERMFAIL, MXC_FAILURE_REPLY, MXC_STAGE_RCPT, "5.1.1", 67 },
	{ MXC_PERMFAIL, MXC_FAILURE_REPLY, MXC_STAGE_RCPT, "5.7.1", 69 },
	/* 5.1.x to MAIL is the sender's address, not a user unknown. */
	{ MXC_PERMFAIL, MXC_FAILURE_REPLY, MXC_STAGE_MAIL, "5.1.8", 69 },
	{ MXC_PERMFAIL, MXC_FAILURE_REPLY, MXC_STAGE_DOT, "5.7.1", 69 },
	{ MXC_PERMFAIL, MXC_FAILURE_CAPABILITY, MXC_STAGE_MAIL, "", 69 },
	{ MXC_TEMPFAIL, MXC_FAILURE_REPLY, MXC_STAGE_RCPT, "4.2.2", 75 },
	{ MXC_TEMPFAIL, MXC_FAILURE_DNS, MXC_STAGE_DNS, "", 75 },
	{ MXC_TEMPFAIL, MXC_FAILURE_DANE, MXC_STAGE_TLS, "", 75 },
	{ MXC_TEMPFAIL, MXC_FAILURE_CANCELLED, MXC_STAGE_NONE, "", 75 },
	{ MXC_TEMPFAIL, MXC_FAILURE_LOST, MXC_STAGE_DOT, "", 75 },
	{ MXC_TEMPFAIL, MXC_FAILURE_LOCAL, MXC_STAGE_CONNECT, "", 75 },
};

/* An empty result with every string "" and nothing tried. */
static struct mxc_result blank(void)
{
	return (struct mxc_result){
		.recipient = "", .sender = "", .detail = "", .enhanced = "",
		.reply = "", .mx = "", .address = "", .tls_version = "",
		.tls_cipher = "", .tls_group = "", .peer_subject = "",
		.peer_issuer = "", .peer_cert_sha256 = "",
		.peer_pkey_sha256 = "", .tlsa_matched_depth = -1,
	};
}

static void test_exit_status(void)
{
	for (size_t i = 0; i < sizeof exit_cases / sizeof exit_cases[0]; i++) {
		const struct exit_case *c = &exit_cases[i];
		struct mxc_result r = blank();
		r.outcome = c->outcome;
		r.kind = c->kind;
		r.stage = c->stage;
		r.enhanced = c->enhanced;
		int got = sysexit_of_result(&r);
		CHECK(got == c->exit_status, "case %zu (%s at %s, %s): exit %d, "
		      "expected %d", i, mxc_failure_name(c->kind),
		      mxc_stage_name(c->stage), c->enhanced, got, c->exit_status);
	}
}

/* ---- names ---- */

static void test_names(void)
{
	/* Every kind has a distinct name; TLS failures have TLS-RPT types. */
	for (int k = 0; k < MXC_FAILURE_LAST; k++) {
		CHECK(strcmp(mxc_failure_name((enum mxc_failure)k), "?") != 0,
		      "kind %d has no name", k);
		for (int j = 0; j < k; j++)
			CHECK(strcmp(mxc_failure_name((enum mxc_failure)k),
			             mxc_failure_name((enum mxc_failure)j)) != 0,
			      "kinds %d and %d share a name", j, k);
	}
	CHECK(strcmp(mxc_failure_name(MXC_FAILURE_LAST), "?") == 0,
	      "out of range");
	static const struct {
		enum mxc_failure kind;
		const char *tlsrpt;
	} rpt[] = {
		{ MXC_FAILURE_STARTTLS, "starttls-not-supported" },
		{ MXC_FAILURE_DANE, "validation-failure" },
		{ MXC_FAILURE_TLS, "validation-failure" },
		{ MXC_FAILURE_DNSSEC, "dnssec-invalid" },
		{ MXC_FAILURE_DANE_REQUIRED, "dane-required" },
		{ MXC_FAILURE_TLSA_INVALID, "tlsa-invalid" },
		{ MXC_FAILURE_REPLY, NULL },
		{ MXC_FAILURE_CONNECT, NULL },
		{ MXC_FAILURE_NONE, NULL },
		{ MXC_FAILURE_LAST, NULL },
	};
	for (size_t i = 0; i < sizeof rpt / sizeof rpt[0]; i++) {
		const char *got = mxc_failure_tlsrpt(rpt[i].kind);
		CHECK((got == NULL && rpt[i].tlsrpt == NULL) ||
		      (got != NULL && rpt[i].tlsrpt != NULL &&
		       strcmp(got, rpt[i].tlsrpt) == 0),
		      "kind %s: TLS-RPT %s, expected %s",
		      mxc_failure_name(rpt[i].kind), got ? got : "NULL",
		      rpt[i].tlsrpt ? rpt[i].tlsrpt : "NULL");
	}
	CHECK(strcmp(mxc_stage_name(MXC_STAGE_RCPT), "rcpt") == 0, "rcpt");
	CHECK(strcmp(mxc_stage_name(MXC_STAGE_LAST), "?") == 0, "stage range");
	CHECK(strcmp(mxc_dnssec_name(MXC_DNSSEC_BOGUS), "bogus") == 0, "bogus");
}

/* ---- JSON ---- */

/* Prints `r` as JSON into a string the caller frees. */
static char *json_of(const struct mxc_result *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (f == NULL)
		abort();
	report_json(f, r, sysexit_of_result(r));
	fclose(f);
	return buf;
}

static void test_json(void)
{
	/* Never reached: "unreached", and valid JSON. */
	struct mxc_result r = blank();
	r.outcome = MXC_PERMFAIL;
	r.kind = MXC_FAILURE_NULL_MX;
	r.stage = MXC_STAGE_DNS;
	r.recipient = "user@example.com";
	char *j = json_of(&r);
	CHECK(json_line(j), "invalid JSON: %s", j);
	CHECK(strstr(j, "\"dane\":\"unreached\"") != NULL, "not unreached: %s", j);
	CHECK(strstr(j, "\"exit\":68") != NULL, "exit: %s", j);
	CHECK(strstr(j, "\"kind\":\"null-mx\"") != NULL, "kind: %s", j);
	CHECK(strstr(j, "\"certificate\":null") != NULL, "certificate: %s", j);
	free(j);

	/* Hostile text everywhere a server or DNS writes, and full evidence. */
	static const unsigned char data[] = { 0xde, 0xad, 0xbe, 0xef };
	struct mxc_tlsa tlsa[2] = { { 3, 1, 1, data, sizeof data },
	                            { 2, 0, 1, data, 2 } };
	struct mxc_attempt att[2] = {
		{ "mx1\"\\.example", "192.0.2.1", MXC_FAILURE_DANE, MXC_STAGE_TLS,
		  0, "DANE \x01\x7f\"}{", 0 },
		{ "mx2.example", "192.0.2.2", MXC_FAILURE_NONE, MXC_STAGE_DOT,
		  250, "delivered \xff\xfe", 1 },
	};
	r = blank();
	r.outcome = MXC_DELIVERED;
	r.stage = MXC_STAGE_DOT;
	r.recipient = "a\"b@example.com";
	r.sender = "\\\"\n\t";
	r.reply = "250 ok \"\x1b[31m\\";
	r.detail = "}\",\"status\":\"permfail";
	r.mx = "mx2.example";
	r.address = "192.0.2.2";
	r.tls_version = "TLSv1.3";
	r.tls_cipher = "TLS_AES_128_GCM_SHA256";
	r.tls_group = "X25519";
	r.dane = MXC_DANE_VERIFIED;
	r.peer_chain_count = 1;
	r.peer_subject = "/CN=\"evil\\";
	r.peer_issuer = "/O=\x05";
	r.peer_cert_sha256 = "00ff";
	r.tlsa = tlsa;
	r.tlsa_count = 2;
	r.tlsa_matched = &tlsa[0];
	r.tlsa_matched_depth = 0;
	r.attempts = att;
	r.attempt_count = 2;
	r.queued_at_ms = 1764849600123; /* 2025-12-04T12:00:00.123Z */
	r.ended_at_ms = 1764849601000;
	j = json_of(&r);
	CHECK(json_line(j), "invalid JSON: %s", j);
	CHECK(strstr(j, "\"tlsa_matched\":{\"usage\":3,\"selector\":1,"
	                "\"mtype\":1,\"data\":\"deadbeef\"}") != NULL,
	      "matched TLSA: %s", j);
	CHECK(strstr(j, "\"dane\":\"verified\"") != NULL, "dane: %s", j);
	CHECK(strstr(j, "\"queued_at\":\"2025-12-04T12:00:00.123Z\"") != NULL,
	      "time: %s", j);
	CHECK(strstr(j, "\"started_at\":null") != NULL, "started: %s", j);
	CHECK(strstr(j, "\"status\":\"delivered\"") != NULL &&
	      strstr(j, "\"status\":\"permfail\"") == NULL, "injected: %s", j);
	free(j);
}

int main(void)
{
	test_exit_status();
	test_names();
	test_json();
	return check_report();
}
