/*
 * test_mxlist: MX ordering on a table of record sets (empty, null MX, root
 * targets among others, duplicates in any case, ties, the MXLIST_MAX and
 * caller bounds) with a scripted random source, the shuffle's uniformity
 * with a real generator, hostile inputs (unterminated names, thousands of
 * records, a random source out of range), and address interleaving.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxlist.h"

#include "check.h"

/* A scripted random source: fixed answers, and a log of the bounds. */
struct script {
	const uint32_t *answers; /* NULL: always `fixed` */
	size_t nanswers;
	uint32_t fixed;          /* used when answers run out; UINT32_MAX
	                            means "bound - 1" (no swaps) */
	size_t calls;
	uint32_t bounds[64];
};

/* Returns the next scripted answer, logging the bound asked for. */
static uint32_t
scripted(void *arg, uint32_t bound)
{
	struct script *s = arg;
	size_t i = s->calls++;

	if (i < sizeof(s->bounds) / sizeof(s->bounds[0]))
		s->bounds[i] = bound;
	if (s->answers != NULL && i < s->nanswers)
		return s->answers[i];
	return s->fixed == UINT32_MAX ? bound - 1 : s->fixed;
}

#define MAX_IN 8
#define NONE UINT32_MAX

/* One ordering case; hosts are given as "pref:name" strings. */
struct order_case {
	const char *in[MAX_IN];     /* NULL-terminated */
	size_t max;
	uint32_t fixed;             /* the random source's answer */
	enum mxlist_kind kind;
	const char *want[MAX_IN];   /* expected "pref:name", NULL-terminated */
	uint32_t bounds[MAX_IN];    /* expected random bounds, 0-terminated */
};

static const struct order_case cases[] = {
	{ { NULL }, 10, 0, MXLIST_HOSTS, { NULL }, { 0 } },
	{ { "0:" }, 10, 0, MXLIST_NULL_MX, { NULL }, { 0 } },
	{ { "10:" }, 10, 0, MXLIST_NULL_MX, { NULL }, { 0 } },
	{ { "10:mx.example" }, 10, 0, MXLIST_HOSTS, { "10:mx.example" },
	  { 0 } },
	/* root targets among others are skipped */
	{ { "0:", "10:mx.example" }, 10, 0, MXLIST_HOSTS, { "10:mx.example" },
	  { 0 } },
	{ { "10:mx.example", "0:" }, 10, 0, MXLIST_HOSTS, { "10:mx.example" },
	  { 0 } },
	{ { "0:", "0:" }, 10, 0, MXLIST_HOSTS, { NULL }, { 0 } },
	/* by preference, stable for distinct preferences */
	{ { "20:b", "10:a", "30:c" }, 10, 0, MXLIST_HOSTS,
	  { "10:a", "20:b", "30:c" }, { 0 } },
	{ { "65535:z", "0:a" }, 10, 0, MXLIST_HOSTS, { "0:a", "65535:z" },
	  { 0 } },
	/* duplicates: the best preference kept, case ignored */
	{ { "10:a", "20:A", "5:b" }, 10, 0, MXLIST_HOSTS, { "5:b", "10:a" },
	  { 0 } },
	{ { "20:MX.example", "10:mx.EXAMPLE" }, 10, 0, MXLIST_HOSTS,
	  { "10:mx.EXAMPLE" }, { 0 } },
	{ { "10:a", "10:a", "10:b" }, 10, NONE, MXLIST_HOSTS, { "10:a", "10:b" },
	  { 2, 0 } },
	{ { "10:a", "10:ab" }, 10, NONE, MXLIST_HOSTS, { "10:a", "10:ab" },
	  { 2, 0 } },
	/* ties: Fisher-Yates per run; answers bound-1 swap nothing */
	{ { "10:a", "10:b", "10:c" }, 10, NONE, MXLIST_HOSTS,
	  { "10:a", "10:b", "10:c" }, { 3, 2, 0 } },
	/* answers 0: swap(2,0) -> c b a, swap(1,0) -> b c a */
	{ { "10:a", "10:b", "10:c" }, 10, 0, MXLIST_HOSTS,
	  { "10:b", "10:c", "10:a" }, { 3, 2, 0 } },
	/* runs are shuffled apart: never across a preference */
	{ { "10:a", "10:b", "20:c", "20:d" }, 10, 0, MXLIST_HOSTS,
	  { "10:b", "10:a", "20:d", "20:c" }, { 2, 2, 0 } },
	{ { "20:c", "10:a", "20:d", "10:b" }, 10, NONE, MXLIST_HOSTS,
	  { "10:a", "10:b", "20:c", "20:d" }, { 2, 2, 0 } },
	/* caller bound */
	{ { "30:c", "20:b", "10:a" }, 2, 0, MXLIST_HOSTS, { "10:a", "20:b" },
	  { 0 } },
	{ { "10:a", "20:b" }, 0, 0, MXLIST_HOSTS, { NULL }, { 0 } },
	{ { "10:a", "10:b", "10:c" }, 1, NONE, MXLIST_HOSTS, { "10:a" },
	  { 3, 2, 0 } },
	{ { "0:" }, 0, 0, MXLIST_NULL_MX, { NULL }, { 0 } },
};

/* Parses "pref:name" into a record. */
static void
parse_record(const char *spec, struct dns_mx *mx)
{
	const char *colon = strchr(spec, ':');

	memset(mx, 0, sizeof(*mx));
	mx->pref = (unsigned)strtoul(spec, NULL, 10);
	snprintf(mx->host, sizeof(mx->host), "%s", colon + 1);
}

/* Runs the ordering table. */
static void
test_order_table(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct order_case *c = &cases[i];
		struct dns_mx in[MAX_IN], out[MAX_IN + 1];
		struct script s = { .fixed = c->fixed };
		size_t n = 0, count = 99, want = 0;
		enum mxlist_kind kind;
		char got[300];

		while (n < MAX_IN && c->in[n] != NULL) {
			parse_record(c->in[n], &in[n]);
			n++;
		}
		memset(out, 0x5a, sizeof(out));
		kind = mxlist_order(in, n, out, c->max, &count, scripted, &s);
		CHECK(kind == c->kind, "case %zu: kind %d", i, (int)kind);
		while (want < MAX_IN && c->want[want] != NULL)
			want++;
		CHECK(count == want, "case %zu: count %zu, want %zu", i, count,
		      want);
		for (k = 0; k < count && k < want; k++) {
			snprintf(got, sizeof(got), "%u:%s", out[k].pref,
			         out[k].host);
			CHECK(strcmp(got, c->want[k]) == 0,
			      "case %zu: out[%zu] is %s, want %s", i, k, got,
			      c->want[k]);
		}
		CHECK(((unsigned char *)&out[count])[0] == 0x5a,
		      "case %zu: wrote past count", i);
		for (k = 0; k < MAX_IN && c->bounds[k] != 0; k++)
			CHECK(k < s.calls && s.bounds[k] == c->bounds[k],
			      "case %zu: random call %zu bound %u, want %u", i,
			      k, k < s.calls ? s.bounds[k] : 0, c->bounds[k]);
		CHECK(s.calls == k, "case %zu: %zu random calls, want %zu", i,
		      s.calls, k);
	}
}

/* MXLIST_MAX bounds the list whatever the caller's room. */
static void
test_max(void)
{
	struct dns_mx in[15], out[20];
	struct script s = { .fixed = UINT32_MAX };
	size_t i, count;

	for (i = 0; i < 15; i++) {
		in[i].pref = (unsigned)(100 - i);
		snprintf(in[i].host, sizeof(in[i].host), "mx%zu.example", i);
	}
	CHECK(mxlist_order(in, 15, out, 20, &count, scripted, &s) ==
	      MXLIST_HOSTS && count == MXLIST_MAX,
	      "15 hosts give MXLIST_MAX, got %zu", count);
	for (i = 0; i < count; i++)
		CHECK(out[i].pref == 86 + i, "out[%zu] pref %u", i,
		      out[i].pref);
}

/* Small deterministic generator so failures reproduce. */
static uint32_t
xorshift(void *arg, uint32_t bound)
{
	uint32_t *state = arg;

	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state % bound;
}

/* With a good random source every order of a tie is about equally likely. */
static void
test_uniform(void)
{
	static const char *names[3] = { "a", "b", "c" };
	struct dns_mx in[4], out[4];
	unsigned seen[6] = { 0 }, first[3] = { 0 };
	uint32_t state = 88172645;
	size_t i, count;
	int round;
	const int rounds = 60000;

	for (i = 0; i < 3; i++) {
		in[i].pref = 10;
		snprintf(in[i].host, sizeof(in[i].host), "%s", names[i]);
	}
	in[3].pref = 5;
	snprintf(in[3].host, sizeof(in[3].host), "best");
	for (round = 0; round < rounds; round++) {
		unsigned code = 0;

		mxlist_order(in, 4, out, 4, &count, xorshift, &state);
		if (count != 4 || strcmp(out[0].host, "best") != 0) {
			CHECK(0, "round %d: the best host is not first", round);
			return;
		}
		/* index the permutation of a, b, c */
		for (i = 1; i < 4; i++)
			code = code * 3 + (unsigned)(out[i].host[0] - 'a');
		switch (code) {
		case 5: seen[0]++; break;  /* a b c */
		case 7: seen[1]++; break;  /* a c b */
		case 11: seen[2]++; break; /* b a c */
		case 15: seen[3]++; break; /* b c a */
		case 19: seen[4]++; break; /* c a b */
		case 21: seen[5]++; break; /* c b a */
		default:
			CHECK(0, "round %d: not a permutation", round);
			return;
		}
		first[out[1].host[0] - 'a']++;
	}
	for (i = 0; i < 6; i++)
		CHECK(seen[i] > rounds / 6 * 95 / 100 &&
		      seen[i] < rounds / 6 * 105 / 100,
		      "permutation %zu seen %u times of %d", i, seen[i], rounds);
	for (i = 0; i < 3; i++)
		CHECK(first[i] > rounds / 3 * 95 / 100 &&
		      first[i] < rounds / 3 * 105 / 100,
		      "host %zu first %u times of %d", i, first[i], rounds);
}

/* Hostile record sets: no NUL, thousands of records, a bad random source. */
static void
test_hostile(void)
{
	static struct dns_mx many[3000];
	struct dns_mx in[3], out[MXLIST_MAX];
	struct script s = { .fixed = 0xfffffff0u };
	size_t i, count;

	/* a name filling the array without a NUL is skipped */
	memset(&in[0], 0, sizeof(in[0]));
	in[0].pref = 1;
	memset(in[0].host, 'x', sizeof(in[0].host));
	parse_record("10:ok.example", &in[1]);
	CHECK(mxlist_order(in, 2, out, MXLIST_MAX, &count, scripted, &s) ==
	      MXLIST_HOSTS && count == 1 &&
	      strcmp(out[0].host, "ok.example") == 0,
	      "an unterminated name is skipped");
	CHECK(mxlist_order(in, 1, out, MXLIST_MAX, &count, scripted, &s) ==
	      MXLIST_HOSTS && count == 0,
	      "a lone unterminated name gives no host");

	/* an out-of-range random answer must not break anything */
	parse_record("10:a", &in[0]);
	parse_record("10:b", &in[1]);
	parse_record("10:c", &in[2]);
	CHECK(mxlist_order(in, 3, out, MXLIST_MAX, &count, scripted, &s) ==
	      MXLIST_HOSTS && count == 3 && out[0].host[0] != out[1].host[0] &&
	      out[1].host[0] != out[2].host[0] &&
	      out[0].host[0] != out[2].host[0],
	      "a random source out of range still gives a permutation");

	/* no random source: ties keep their order */
	CHECK(mxlist_order(in, 3, out, MXLIST_MAX, &count, NULL, NULL) ==
	      MXLIST_HOSTS && count == 3 && out[0].host[0] == 'a' &&
	      out[2].host[0] == 'c', "no random source");

	/* thousands of records, all tied, many duplicates */
	for (i = 0; i < 3000; i++) {
		many[i].pref = 10;
		snprintf(many[i].host, sizeof(many[i].host), "MX%zu.example",
		         i % 700);
	}
	many[2500].pref = 0; /* beyond the records examined */
	snprintf(many[2500].host, sizeof(many[2500].host), "late.example");
	s.fixed = UINT32_MAX;
	s.calls = 0;
	CHECK(mxlist_order(many, 3000, out, MXLIST_MAX, &count, scripted,
	                   &s) == MXLIST_HOSTS && count == MXLIST_MAX,
	      "3000 records give MXLIST_MAX hosts");
	for (i = 0; i < count; i++)
		CHECK(strcmp(out[i].host, "late.example") != 0,
		      "records after the first 1024 are ignored");
	CHECK(s.calls == 699, "700 distinct names shuffled: %zu calls",
	      s.calls);
	for (i = 1; i < count; i++)
		CHECK(strcmp(out[i - 1].host, out[i].host) != 0,
		      "duplicate host in the list");
}

/* Fills a sockaddr_storage from text; port is set to tell copies apart. */
static struct sockaddr_storage
addr(const char *text, unsigned port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, text, &s6->sin6_addr) != 1)
			CHECK(0, "bad test address %s", text);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, text, &s4->sin_addr) != 1)
			CHECK(0, "bad test address %s", text);
	}
	return ss;
}

/* Formats an address for comparison with the table. */
static void
show(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	const void *a = ss->ss_family == AF_INET6 ?
	        (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr :
	        (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (inet_ntop(ss->ss_family, a, out, (socklen_t)outlen) == NULL)
		snprintf(out, outlen, "?");
}

/* One interleaving case: address lists and the expected order. */
struct interleave_case {
	const char *v6[6];
	const char *v4[6];
	const char *want[12];
};

static const struct interleave_case icases[] = {
	{ { NULL }, { NULL }, { NULL } },
	{ { "2001:db8::1" }, { NULL }, { "2001:db8::1" } },
	{ { NULL }, { "192.0.2.1", "192.0.2.2" }, { "192.0.2.1", "192.0.2.2" } },
	{ { "2001:db8::1", "2001:db8::2", "2001:db8::3" }, { "192.0.2.1" },
	  { "2001:db8::1", "192.0.2.1", "2001:db8::2", "2001:db8::3" } },
	{ { "2001:db8::1" }, { "192.0.2.1", "192.0.2.2", "192.0.2.3" },
	  { "2001:db8::1", "192.0.2.1", "192.0.2.2", "192.0.2.3" } },
	{ { "2001:db8::1", "2001:db8::2" }, { "192.0.2.1", "192.0.2.2" },
	  { "2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2" } },
	/* duplicates dropped; the alternation goes on */
	{ { "2001:db8::1", "2001:db8::1", "2001:db8::2" },
	  { "192.0.2.1", "192.0.2.1" },
	  { "2001:db8::1", "192.0.2.1", "2001:db8::2" } },
	{ { "2001:db8::1", "2001:db8::1", "2001:db8::1" }, { NULL },
	  { "2001:db8::1" } },
	{ { "2001:db8::1" }, { "192.0.2.9", "192.0.2.9", "192.0.2.8" },
	  { "2001:db8::1", "192.0.2.9", "192.0.2.8" } },
	/* a mapped v4 address is a v6 address, not a duplicate of the v4 */
	{ { "::ffff:192.0.2.1" }, { "192.0.2.1" },
	  { "::ffff:192.0.2.1", "192.0.2.1" } },
};

/* Runs the interleaving table; ports differ between duplicates. */
static void
test_interleave(void)
{
	size_t i, k;

	for (i = 0; i < sizeof(icases) / sizeof(icases[0]); i++) {
		const struct interleave_case *c = &icases[i];
		struct sockaddr_storage v6[6], v4[6], out[13];
		size_t n6 = 0, n4 = 0, want = 0, count;
		char got[INET6_ADDRSTRLEN];

		while (n6 < 6 && c->v6[n6] != NULL) {
			v6[n6] = addr(c->v6[n6], 25 + (unsigned)n6);
			n6++;
		}
		while (n4 < 6 && c->v4[n4] != NULL) {
			v4[n4] = addr(c->v4[n4], 100 + (unsigned)n4);
			n4++;
		}
		while (want < 12 && c->want[want] != NULL)
			want++;
		memset(out, 0x5a, sizeof(out));
		count = mxlist_interleave(n6 ? v6 : NULL, n6, n4 ? v4 : NULL,
		                          n4, out);
		CHECK(count == want, "interleave %zu: count %zu, want %zu", i,
		      count, want);
		for (k = 0; k < count && k < want; k++) {
			show(&out[k], got, sizeof(got));
			CHECK(strcmp(got, c->want[k]) == 0,
			      "interleave %zu: out[%zu] %s, want %s", i, k, got,
			      c->want[k]);
		}
		CHECK(((unsigned char *)&out[count])[0] == 0x5a,
		      "interleave %zu: wrote past count", i);
	}
}

/* Runs every test; exits non-zero on any failure. */
int
main(void)
{
	test_order_table();
	test_max();
	test_uniform();
	test_hostile();
	test_interleave();
	if (failures > 0) {
		fprintf(stderr, "test_mxlist: %d failure(s)\n", failures);
		return 1;
	}
	printf("test_mxlist: %zu order cases, %zu interleave cases, "
	       "uniformity, hostile sets: ok\n",
	       sizeof(cases) / sizeof(cases[0]),
	       sizeof(icases) / sizeof(icases[0]));
	return 0;
}
