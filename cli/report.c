/*
 * report: the command's result output.  Every string a server or the DNS
 * controls was escaped by the library already; escape_json() makes it a
 * JSON string, so the output stays valid JSON whatever a server says.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "escape.h"
#include "report.h"

/* Whether any attempt got as far as an SMTP session (past the TCP
 * connection). */
static bool reached(const struct mxc_result *r)
{
	for (size_t i = 0; i < r->attempt_count; i++)
		if (r->attempts[i].address[0] != '\0' &&
		    r->attempts[i].stage > MXC_STAGE_CONNECT)
			return true;
	return false;
}

/* The JSON word for the DANE state. */
const char *report_dane_word(const struct mxc_result *r)
{
	static const char *const words[] = { "none", "verified", "unusable",
	                                     "failed" };
	if (r->dane == MXC_DANE_NONE && !reached(r))
		return "unreached";
	return (unsigned)r->dane < sizeof words / sizeof words[0]
	       ? words[r->dane] : "none";
}

/* Writes a wall-clock time as an RFC 3339 UTC string, or null for 0. */
static void put_time(FILE *f, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (ms <= 0 || gmtime_r(&t, &tm) == NULL) {
		fputs("null", f);
		return;
	}
	fprintf(f, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900,
	        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	        (int)(ms % 1000));
}

/* Writes bytes as lower-case hex (a buffer at a time, not a call per
 * byte: every result carries its TLSA records). */
static void put_hex(FILE *f, const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char buf[128];
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		buf[n++] = digits[p[i] >> 4];
		buf[n++] = digits[p[i] & 15];
		if (n == sizeof buf) {
			fwrite(buf, 1, n, f);
			n = 0;
		}
	}
	fwrite(buf, 1, n, f);
}

/* Writes one TLSA record as a JSON object, or null. */
static void put_tlsa(FILE *f, const struct mxc_tlsa *t)
{
	if (t == NULL) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"usage\":%u,\"selector\":%u,\"mtype\":%u,\"data\":\"",
	        t->usage, t->selector, t->mtype);
	put_hex(f, t->data, t->len);
	fputs("\"}", f);
}

/* Writes a string member: ,"name":"value". */
static void put_str(FILE *f, const char *name, const char *value)
{
	fprintf(f, ",\"%s\":", name);
	escape_json(f, value);
}

/* Prints one result as a JSON object on one line. */
void report_json(FILE *f, const struct mxc_result *r, int exit_status)
{
	static const char *const status[] = { "delivered", "tempfail",
	                                      "permfail" };
	fputs("{\"recipient\":", f);
	escape_json(f, r->recipient);
	put_str(f, "sender", r->sender);
	fprintf(f, ",\"status\":\"%s\",\"exit\":%d,\"kind\":\"%s\","
	        "\"stage\":\"%s\",\"tlsrpt\":",
	        (unsigned)r->outcome < 3 ? status[r->outcome] : "?",
	        exit_status, mxc_failure_name(r->kind),
	        mxc_stage_name(r->stage));
	const char *tlsrpt = mxc_failure_tlsrpt(r->kind);
	if (tlsrpt != NULL)
		fprintf(f, "\"%s\"", tlsrpt);
	else
		fputs("null", f);
	put_str(f, "mx", r->mx);
	put_str(f, "address", r->address);
	fputs(",\"tls\":", f);
	if (r->tls_version[0] != '\0')
		escape_json(f, r->tls_version);
	else
		fputs("false", f);
	put_str(f, "cipher", r->tls_cipher);
	put_str(f, "group", r->tls_group);
	fprintf(f, ",\"dane\":\"%s\",\"dnssec\":{\"mx\":\"%s\","
	        "\"address\":\"%s\"}", report_dane_word(r),
	        mxc_dnssec_name(r->mx_dnssec),
	        mxc_dnssec_name(r->address_dnssec));
	fputs(",\"tlsa\":[", f);
	for (size_t i = 0; i < r->tlsa_count; i++) {
		if (i > 0)
			fputc(',', f);
		put_tlsa(f, &r->tlsa[i]);
	}
	fputs("],\"tlsa_matched\":", f);
	put_tlsa(f, r->tlsa_matched);
	fprintf(f, ",\"tlsa_matched_depth\":%d,\"certificate\":",
	        r->tlsa_matched_depth);
	if (r->peer_chain_count == 0) {
		fputs("null", f);
	} else {
		fputs("{\"subject\":", f);
		escape_json(f, r->peer_subject);
		put_str(f, "issuer", r->peer_issuer);
		put_str(f, "sha256", r->peer_cert_sha256);
		put_str(f, "pkey_sha256", r->peer_pkey_sha256);
		fprintf(f, ",\"chain_length\":%zu}", r->peer_chain_count);
	}
	fprintf(f, ",\"reply_code\":%d", r->reply_code);
	put_str(f, "enhanced", r->enhanced);
	put_str(f, "reply", r->reply);
	put_str(f, "detail", r->detail);
	fputs(",\"attempts\":[", f);
	for (size_t i = 0; i < r->attempt_count; i++) {
		const struct mxc_attempt *a = &r->attempts[i];
		fputs(i > 0 ? ",{\"mx\":" : "{\"mx\":", f);
		escape_json(f, a->mx);
		put_str(f, "address", a->address);
		fprintf(f, ",\"kind\":\"%s\",\"stage\":\"%s\",\"reply_code\":%d",
		        mxc_failure_name(a->kind), mxc_stage_name(a->stage),
		        a->reply_code);
		put_str(f, "detail", a->detail);
		fprintf(f, ",\"reused\":%s}", a->reused ? "true" : "false");
	}
	fprintf(f, "],\"elapsed_ms\":%" PRIu64 ",\"queue_ms\":%" PRIu64
	        ",\"delivery_ms\":%" PRIu64 ",\"transfer_ms\":%" PRIu64
	        ",\"queued_at\":", r->elapsed_ms, r->queue_ms, r->delivery_ms,
	        r->transfer_ms);
	put_time(f, r->queued_at_ms);
	fputs(",\"started_at\":", f);
	put_time(f, r->started_at_ms);
	fputs(",\"ended_at\":", f);
	put_time(f, r->ended_at_ms);
	fputs("}\n", f);
}

/* Writes a lower-case hex fingerprint as posttls-finger does: upper case,
 * a colon between bytes. */
static void put_fingerprint(FILE *f, const char *hex)
{
	for (size_t i = 0; hex[i] != '\0' && hex[i + 1] != '\0'; i += 2)
		fprintf(f, "%s%c%c", i > 0 ? ":" : "",
		        hex[i] >= 'a' ? hex[i] - 'a' + 'A' : hex[i],
		        hex[i + 1] >= 'a' ? hex[i + 1] - 'a' + 'A' : hex[i + 1]);
}

/* Writes one TLSA record in zone-file presentation, data in full. */
static void put_tlsa_line(FILE *f, const struct mxc_tlsa *t)
{
	fprintf(f, "%u %u %u ", t->usage, t->selector, t->mtype);
	put_hex(f, t->data, t->len);
}

/* Prints the TLS evidence of a result, posttls-finger style. */
void report_evidence(FILE *f, const struct mxc_result *r)
{
	const char *who = r->recipient;
	if (r->tls_version[0] == '\0' && r->peer_chain_count == 0)
		return;
	if (r->tls_version[0] != '\0')
		fprintf(f, "%s: %s[%s]: %s with cipher %s, key exchange %s\n",
		        who, r->mx, r->address, r->tls_version, r->tls_cipher,
		        r->tls_group[0] != '\0' ? r->tls_group : "unknown");
	else /* the handshake failed after the peer's certificate came */
		fprintf(f, "%s: %s[%s]: TLS handshake failed\n", who, r->mx,
		        r->address);
	if (r->peer_chain_count > 0) {
		fprintf(f, "%s: %s[%s]: subject=%s\n", who, r->mx, r->address,
		        r->peer_subject);
		fprintf(f, "%s: %s[%s]: issuer=%s\n", who, r->mx, r->address,
		        r->peer_issuer);
		fprintf(f, "%s: %s[%s]: cert_fingerprint=", who, r->mx,
		        r->address);
		put_fingerprint(f, r->peer_cert_sha256);
		fputs(", pkey_fingerprint=", f);
		put_fingerprint(f, r->peer_pkey_sha256);
		fputs(" (sha256)\n", f);
	}
	for (size_t i = 0; i < r->tlsa_count; i++) {
		fprintf(f, "%s: %s[%s]: TLSA record: ", who, r->mx, r->address);
		put_tlsa_line(f, &r->tlsa[i]);
		fputc('\n', f);
	}
	if (r->tlsa_matched != NULL) {
		fprintf(f, "%s: %s[%s]: DANE matched at depth %d: ", who, r->mx,
		        r->address, r->tlsa_matched_depth);
		put_tlsa_line(f, r->tlsa_matched);
		fputc('\n', f);
	}
	fprintf(f, "%s: %s[%s]: DNSSEC: MX %s, address %s; DANE %s\n", who,
	        r->mx, r->address, mxc_dnssec_name(r->mx_dnssec),
	        mxc_dnssec_name(r->address_dnssec), report_dane_word(r));
}
