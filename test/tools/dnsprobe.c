/*
 * dnsprobe: runs DNS lookups through src/dns.c, all at once on one
 * event_base, and prints one line per answer with its records below it.
 * The lab tests drive it to check classification (found / nodata /
 * nxdomain / fail), DNSSEC status and teardown against real servers.
 *
 *   dnsprobe --resolver ADDR[#PORT] [--resolver ...] --trust-anchor FILE
 *            [--timeout MS] [--max-outstanding N] [--free-after MS] [--tcp]
 *            [--cname-links on|off]
 *            [--free-in-callback] TYPE NAME [TYPE NAME...]
 *
 * Each CNAME link followed prints "  cname OWNER STATUS" (its own RRset's
 * DNSSEC status with --cname-links on, else the reply's), then
 * "  records STATUS" for the records at the end.
 * TYPE is mx, a, aaaa or tlsa.  --free-after frees the resolver after MS
 * milliseconds even with lookups outstanding (a teardown test) and then
 * prints "freed outstanding=N"; the loop then runs until no event is left.
 * --free-in-callback does the same from inside the first answer's callback.
 * Exit 0 when the run completes, 1 when the
 * resolver cannot be created, 2 for bad usage.
 *
 * Burst mode measures transports (doc/dns.md):
 *
 *   dnsprobe --resolver ... --trust-anchor FILE --burst N --zone ZONE
 *            [--max-outstanding N] [--tcp] [--via-cache]
 *
 * looks up A of hN.ZONE for N distinct names at once (a wildcard zone
 * answers them), straight through dns.c with one 10 s attempt each, or
 * --via-cache through dnscache (1 s attempts doubling, retries; with
 * --tcp every attempt over TCP), and prints one line: "burst n=N found=N
 * failed=N elapsed_ms=N cpu_ms=N sent=N retried=N timed_out=N".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>

#include <sys/resource.h>
#include <time.h>

#include "dns.h"
#include "dnscache.h"

#define MAX_RESOLVERS 8

/* One lookup the user asked for. */
struct probe {
	struct dnsprobe *run;
	struct dns_query *query;  /* NULL once answered */
	enum dns_type type;
	const char *name;
};

/* The whole run. */
struct dnsprobe {
	struct event_base *base;
	struct dns *dns;
	struct probe *probes;
	size_t nprobes;
	size_t outstanding;       /* lookups whose callback has not run */
	bool in_lookup;           /* inside dns_lookup(): callbacks forbidden */
	bool free_in_callback;    /* dns_free() from the first callback */
};

/* Prints the usage line and exits 2. */
static void
usage(void)
{
	fprintf(stderr, "usage: dnsprobe --resolver ADDR[#PORT] "
	    "--trust-anchor FILE [--timeout MS] [--max-outstanding N] "
	    "[--cname-links on|off] [--free-after MS] [--free-in-callback] "
	    "TYPE NAME [TYPE NAME...]\n");
	exit(2);
}

/* Parses a decimal number in [min, max] or exits with usage. */
static unsigned
parse_number(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	if (*s < '0' || *s > '9')
		usage();
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		usage();
	return (unsigned)v;
}

/* Parses a record type word; returns false when unknown. */
static bool
parse_type(const char *s, enum dns_type *type)
{
	if (strcasecmp(s, "mx") == 0)
		*type = DNS_MX;
	else if (strcasecmp(s, "a") == 0)
		*type = DNS_A;
	else if (strcasecmp(s, "aaaa") == 0)
		*type = DNS_AAAA;
	else if (strcasecmp(s, "tlsa") == 0)
		*type = DNS_TLSA;
	else
		return false;
	return true;
}

/* Returns the upper-case name of a record type. */
static const char *
type_name(enum dns_type type)
{
	switch (type) {
	case DNS_MX:
		return "MX";
	case DNS_A:
		return "A";
	case DNS_AAAA:
		return "AAAA";
	case DNS_TLSA:
		return "TLSA";
	}
	return "?";
}

/* Returns the word for a lookup result. */
static const char *
result_name(enum dns_result result)
{
	switch (result) {
	case DNS_FOUND:
		return "found";
	case DNS_NODATA:
		return "nodata";
	case DNS_NXDOMAIN:
		return "nxdomain";
	case DNS_FAIL:
		return "fail";
	}
	return "?";
}

/* Prints the records of an answer, one per indented line. */
static void
print_records(const struct dns_answer *a)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i, j;

	for (i = 0; i < a->count; i++) {
		switch (a->type) {
		case DNS_MX:
			printf("  mx %u %s\n", a->mx[i].pref,
			    a->mx[i].host[0] != '\0' ? a->mx[i].host : ".");
			break;
		case DNS_A:
		case DNS_AAAA: {
			const struct sockaddr_storage *ss = &a->addr[i];
			const void *src = ss->ss_family == AF_INET ?
			    (const void *)&((const struct sockaddr_in *)
			    ss)->sin_addr :
			    (const void *)&((const struct sockaddr_in6 *)
			    ss)->sin6_addr;

			if (inet_ntop(ss->ss_family, src, buf, sizeof(buf)) ==
			    NULL)
				(void)snprintf(buf, sizeof(buf), "?");
			printf("  addr %s\n", buf);
			break;
		}
		case DNS_TLSA:
			printf("  tlsa %u %u %u ", a->tlsa[i].usage,
			    a->tlsa[i].selector, a->tlsa[i].mtype);
			for (j = 0; j < a->tlsa[i].len; j++)
				printf("%02x", a->tlsa[i].data[j]);
			printf("\n");
			break;
		}
	}
}

/* Prints one answer; ends the loop after the last one. */
static void
answer_cb(void *arg, const struct dns_answer *a)
{
	struct probe *p = arg;
	struct dnsprobe *run = p->run;

	if (run->in_lookup) {
		fprintf(stderr, "dnsprobe: callback ran inside dns_lookup\n");
		abort();
	}
	p->query = NULL;
	printf("%s %s result=%s dnssec=%s canonical=%s error=\"%s\" "
	    "ttl=%u records: %zu\n", a->name, type_name(a->type),
	    result_name(a->result), dnssec_status_name(a->dnssec),
	    a->canonical, a->error, (unsigned)a->ttl, a->count);
	print_records(a);
	for (size_t i = 0; i < a->cname_count; i++)
		printf("  cname %s %s\n", a->cname[i].owner,
		    dnssec_status_name(a->cname[i].dnssec));
	if (a->cname_count > 0)
		printf("  records %s\n", dnssec_status_name(a->records_dnssec));
	if (--run->outstanding == 0)
		event_base_loopbreak(run->base);
	else if (run->free_in_callback) {
		dns_free(run->dns);
		run->dns = NULL;
		printf("freed in callback outstanding=%zu\n", run->outstanding);
	}
}

/* Frees the resolver with lookups still outstanding (--free-after). */
static void
free_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dnsprobe *run = arg;

	dns_free(run->dns);
	run->dns = NULL;
	printf("freed outstanding=%zu\n", run->outstanding);
	fflush(stdout);
	/* No loopbreak: the loop now ends only when the resolver left no
	 * event behind in the base (one that fired would be a use after
	 * free). */
}

/* A burst's tally. */
struct burst {
	struct event_base *base;
	size_t outstanding;
	size_t found, failed;
};

/* Counts one burst answer; ends the loop after the last. */
static void
burst_cb(void *arg, const struct dns_answer *a)
{
	struct burst *b = arg;

	if (a->result == DNS_FOUND)
		b->found++;
	else
		b->failed++;
	if (--b->outstanding == 0)
		event_base_loopbreak(b->base);
}

/* Milliseconds of CPU this process used so far. */
static long
cpu_ms(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	    (long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

/* Runs `n` lookups of distinct names at once and prints the tally. */
static int
run_burst(struct dns *dns, struct event_base *base, const char *zone,
    size_t n, bool tcp, bool via_cache)
{
	struct dns_attempt how = { 0, tcp, 10000 };
	struct dnscache_config cc;
	struct dnscache_stats st;
	struct dnscache *cache = NULL;
	struct burst b = { base, 0, 0, 0 };
	struct timespec t0, t1;
	char err[256], name[300];
	long cpu0 = cpu_ms();

	memset(&st, 0, sizeof(st));
	memset(&cc, 0, sizeof(cc));
	cc.base = base;
	cc.dns = dns;
	cc.tcp_only = tcp;
	cc.max_entries = (unsigned)n + 16;
	if (via_cache && (cache = dnscache_new(&cc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "dnsprobe: %s\n", err);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < n; i++) {
		bool ok;

		(void)snprintf(name, sizeof(name), "h%zu.%s", i, zone);
		if (cache != NULL)
			ok = dnscache_lookup(cache, name, DNS_A, burst_cb, &b) !=
			    NULL;
		else
			ok = dns_lookup(dns, name, DNS_A, &how, burst_cb, &b) !=
			    NULL;
		if (ok)
			b.outstanding++;
		else
			b.failed++;
	}
	if (b.outstanding > 0)
		event_base_dispatch(base);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (cache != NULL) {
		dnscache_stats(cache, &st);
		dnscache_free(cache);
	} else {
		st.sent = n;
	}
	printf("burst n=%zu found=%zu failed=%zu elapsed_ms=%ld cpu_ms=%ld "
	    "sent=%llu retried=%llu timed_out=%llu\n", n, b.found, b.failed,
	    (long)(t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000, cpu_ms() - cpu0,
	    (unsigned long long)st.sent, (unsigned long long)st.retried,
	    (unsigned long long)st.timed_out);
	fflush(stdout);
	return 0;
}

/* Parses the arguments, runs every lookup, prints the answers. */
int
main(int argc, char **argv)
{
	const char *resolvers[MAX_RESOLVERS + 1] = { NULL };
	size_t nresolvers = 0, i;
	struct dns_config config;
	struct dns_attempt how = { 0, false, 0 };
	struct dnsprobe run;
	struct event *free_ev = NULL;
	unsigned free_after = 0;
	bool free_set = false, via_cache = false;
	size_t burst = 0;
	const char *zone = NULL;
	char err[256];
	int arg;

	memset(&config, 0, sizeof(config));
	memset(&run, 0, sizeof(run));
	for (arg = 1; arg < argc && strncmp(argv[arg], "--", 2) == 0; arg++) {
		const char *opt = argv[arg];

		if (strcmp(opt, "--") == 0) {
			arg++;
			break;
		}
		if (strcmp(opt, "--tcp") == 0) {
			how.tcp = true;
			continue;
		}
		if (strcmp(opt, "--via-cache") == 0) {
			via_cache = true;
			continue;
		}
		if (strcmp(opt, "--free-in-callback") == 0) {
			run.free_in_callback = true;
			continue;
		}
		if (arg + 1 >= argc)
			usage();
		if (strcmp(opt, "--resolver") == 0) {
			if (nresolvers == MAX_RESOLVERS)
				usage();
			resolvers[nresolvers++] = argv[++arg];
		} else if (strcmp(opt, "--cname-links") == 0) {
			config.cname_links = strcmp(argv[++arg], "on") == 0;
		} else if (strcmp(opt, "--trust-anchor") == 0) {
			config.trust_anchor_file = argv[++arg];
		} else if (strcmp(opt, "--timeout") == 0) {
			how.timeout_ms = parse_number(argv[++arg], 1,
			    3600000);
		} else if (strcmp(opt, "--max-outstanding") == 0) {
			config.max_outstanding = parse_number(argv[++arg], 1,
			    65535);
		} else if (strcmp(opt, "--burst") == 0) {
			burst = parse_number(argv[++arg], 1, 1000000);
		} else if (strcmp(opt, "--zone") == 0) {
			zone = argv[++arg];
		} else if (strcmp(opt, "--free-after") == 0) {
			free_after = parse_number(argv[++arg], 0, 3600000);
			free_set = true;
		} else {
			usage();
		}
	}
	if (burst > 0 && zone != NULL) {
		int status;

		if ((run.base = event_base_new()) == NULL)
			return 1;
		config.base = run.base;
		config.upstreams = nresolvers > 0 ? resolvers : NULL;
		if ((run.dns = dns_new(&config, err, sizeof(err))) == NULL) {
			fprintf(stderr, "dnsprobe: %s\n", err);
			return 1;
		}
		status = run_burst(run.dns, run.base, zone, burst, how.tcp,
		    via_cache);
		dns_free(run.dns);
		event_base_free(run.base);
		return status;
	}
	if (arg >= argc || (argc - arg) % 2 != 0)
		usage();
	run.nprobes = (size_t)(argc - arg) / 2;
	if ((run.probes = calloc(run.nprobes, sizeof(*run.probes))) == NULL) {
		fprintf(stderr, "dnsprobe: out of memory\n");
		return 1;
	}
	for (i = 0; i < run.nprobes; i++) {
		struct probe *p = &run.probes[i];

		if (!parse_type(argv[arg + 2 * i], &p->type)) {
			fprintf(stderr, "dnsprobe: unknown type %s\n",
			    argv[arg + 2 * i]);
			usage();
		}
		p->name = argv[arg + 2 * i + 1];
		p->run = &run;
	}

	if ((run.base = event_base_new()) == NULL) {
		fprintf(stderr, "dnsprobe: cannot create event_base\n");
		return 1;
	}
	config.base = run.base;
	config.upstreams = nresolvers > 0 ? resolvers : NULL;
	if ((run.dns = dns_new(&config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dnsprobe: %s\n", err);
		event_base_free(run.base);
		free(run.probes);
		return 1;
	}
	for (i = 0; i < run.nprobes; i++) {
		struct probe *p = &run.probes[i];

		run.in_lookup = true;
		p->query = dns_lookup(run.dns, p->name, p->type, &how,
		    answer_cb, p);
		run.in_lookup = false;
		if (p->query == NULL)
			printf("%s %s refused (bad name or no memory)\n",
			    p->name, type_name(p->type));
		else
			run.outstanding++;
	}
	if (free_set) {
		struct timeval tv = { free_after / 1000,
			(free_after % 1000) * 1000 };

		free_ev = evtimer_new(run.base, free_cb, &run);
		if (free_ev == NULL || evtimer_add(free_ev, &tv) != 0) {
			fprintf(stderr, "dnsprobe: cannot set timer\n");
			return 1;
		}
	}
	if (run.outstanding > 0 || free_set)
		event_base_dispatch(run.base);
	if (free_ev != NULL)
		event_free(free_ev);
	dns_free(run.dns);
	event_base_free(run.base);
	free(run.probes);
	fflush(stdout);
	return 0;
}
