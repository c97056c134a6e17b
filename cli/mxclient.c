/*
 * mxclient: the command.  Reads the message from standard input, delivers
 * it to every recipient directly at its domain's MX through the library,
 * reports each result and exits with a sysexits status.  It uses the public
 * API only: whatever it does, an embedding program can do too.
 */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "mxclient.h"
#include "escape.h"
#include "report.h"
#include "sysexit.h"

/* Most --resolver options. */
#define MAX_RESOLVERS 8

/* One recipient and what became of it. */
struct rcpt {
	char *address;
	struct mxc_delivery *delivery; /* while in flight */
	bool ended;
	int exit_status;
};

/* Everything the command line sets. */
struct options {
	const char *sender;           /* NULL: user@host */
	const char *helo;
	const char *trust_anchor;
	const char *resolvers[MAX_RESOLVERS + 1];
	size_t nresolvers;
	unsigned port;
	unsigned jobs;
	unsigned timeout;
	enum mxc_tls_level tls_level;
	enum mxc_dnssec_mode dnssec;
	const char *proxy;
	const char *proxy_command;
	const char *rcpt_file;
	unsigned reuse;               /* transactions per connection, 0 dflt */
	unsigned per_dest;            /* in flight per domain, 0 default */
	unsigned idle_ms;             /* idle connection kept, 0 default */
	bool json;
	int verbose;                  /* -v count */
	bool quiet;
};

/* The run's state, shared with the callbacks. */
struct run {
	struct options opt;
	struct rcpt *rcpts;
	size_t nrcpts, cap;
	size_t pending;               /* deliveries not yet ended */
	struct event_base *base;
	struct mxc_engine *engine;
	FILE *progress;               /* stdout, or stderr with --json */
};

static const char usage_text[] =
	"usage: mxclient [-f SENDER] [-F NAME] [-i] [-oOPT] [options] "
	"RECIPIENT... < message\n"
	"\n"
	"Delivers the message on standard input directly to each recipient's MX.\n"
	"\n"
	"  -f SENDER            envelope sender (\"\" for the null sender <>)\n"
	"  -F NAME, -i, -oOPT   accepted for sendmail compatibility, ignored\n"
	"  --helo NAME          name to give in EHLO/HELO (default: host name)\n"
	"  --trust-anchor FILE  DNSSEC trust anchor, DS/DNSKEY zone-file lines\n"
	"                       (default: /usr/share/dns/root.key)\n"
	"  --resolver ADDR[#PORT]  recursive resolver to use, repeatable\n"
	"                       (default: the nameservers of /etc/resolv.conf)\n"
	"  --dnssec MODE        local (default): validate DNSSEC here;\n"
	"                       resolver: trust the AD bit of the resolvers,\n"
	"                       which must all be on this machine\n"
	"  --port N             SMTP port (default 25)\n"
	"  -j, --jobs N         deliveries in flight at once (default 100)\n"
	"  --rcpt-file FILE     more recipients, one a line ('#' comments)\n"
	"  --json               one JSON object per recipient on stdout;\n"
	"                       progress goes to stderr\n"
	"  --timeout SEC        longest single wait; RFC 5321 timeouts are\n"
	"                       scaled by SEC/600 (default: unscaled)\n"
	"  --tls-level LEVEL    may: opportunistic TLS, no DANE;\n"
	"                       encrypt: TLS required, any certificate;\n"
	"                       dane (default): DANE where published (RFC 7672),\n"
	"                       else opportunistic; dane-only: DANE required\n"
	"  --proxy socks5://[USER:PASS@]IP:PORT\n"
	"                       connect through a SOCKS5 proxy (given IP\n"
	"                       addresses only; TLS and DANE stay local)\n"
	"  --proxy-command CMD  connect through a command per attempt, e.g.\n"
	"                       'ssh -W %h:%p relay' (%h address, %n MX name,\n"
	"                       %p port)\n"
	"  --per-domain N       deliveries in flight at once per recipient\n"
	"                       domain (default 20)\n"
	"  --reuse N            deliveries per connection (default 100; 1: a\n"
	"                       new connection for each)\n"
	"  --idle-time MS       keep an unused connection open this long for\n"
	"                       the next delivery (default 5000)\n"
	"  -v                   show the SMTP transcript and each result's\n"
	"                       TLS evidence (-vv: debug)\n"
	"  -q                   show failures only\n"
	"  --help, --version\n"
	"\n"
	"Exit status: 0 all delivered, 75 temporary failure (try again later),\n"
	"64 usage, 65 bad address or message, 66 unreadable file, 67 unknown\n"
	"user, 68 no such domain or null MX, 69 other permanent failure,\n"
	"78 bad configuration (trust anchor, --dnssec resolver elsewhere).\n";

/* Prints a usage error and exits 64. */
static void usage_error(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
static void usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mxclient: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see mxclient --help)\n", stderr);
	exit(EX_USAGE);
}

/* Parses a number in [min, max] or exits with a usage error. */
static unsigned parse_number(const char *s, unsigned min, unsigned max,
                             const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
	    v > max) {
		fprintf(stderr, "mxclient: %s must be a number from %u to %u, "
		        "not \"%s\"\n", what, min, max, s);
		exit(EX_USAGE);
	}
	return (unsigned)v;
}

/* Parses --tls-level (Postfix's names) or exits with a usage error. */
static enum mxc_tls_level parse_tls_level(const char *s)
{
	static const struct {
		const char *name;
		enum mxc_tls_level level;
	} levels[] = {
		{ "may", MXC_TLS_MAY },
		{ "encrypt", MXC_TLS_ENCRYPT },
		{ "dane", MXC_TLS_DANE },
		{ "dane-only", MXC_TLS_DANE_ONLY },
	};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
		if (strcmp(s, levels[i].name) == 0)
			return levels[i].level;
	usage_error("--tls-level must be may, encrypt, dane or dane-only, "
	            "not \"%s\"", s);
}

/* Strips one pair of angle brackets: "<a@b>" -> "a@b". */
static char *strip_brackets(char *s)
{
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		s[n - 1] = '\0';
		return s + 1;
	}
	return s;
}

/* Prints what the user typed with control bytes shown as '?', so a bad
 * argument cannot drive the terminal. */
static void print_visible(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

/* Adds a recipient after checking it; exits 65 on a bad one. */
static void add_rcpt(struct run *run, const char *given)
{
	char *copy = strdup(given);
	if (copy == NULL) {
		fputs("mxclient: out of memory\n", stderr);
		exit(EX_OSERR);
	}
	char *addr = strip_brackets(copy);
	char why[256];
	if (mxc_address_check(addr, 0, why, sizeof why) < 0) {
		fprintf(stderr, "mxclient: bad recipient address \"");
		print_visible(stderr, addr);
		fprintf(stderr, "\": %s\n", why);
		free(copy);
		exit(EX_DATAERR);
	}
	for (size_t i = 0; i < run->nrcpts; i++)
		if (strcmp(run->rcpts[i].address, addr) == 0) {
			free(copy); /* each recipient gets one copy */
			return;
		}
	if (run->nrcpts == run->cap) {
		size_t cap = run->cap ? run->cap * 2 : 16;
		struct rcpt *p = realloc(run->rcpts, cap * sizeof *p);
		if (p == NULL) {
			fputs("mxclient: out of memory\n", stderr);
			exit(EX_OSERR);
		}
		run->rcpts = p;
		run->cap = cap;
	}
	memmove(copy, addr, strlen(addr) + 1);
	run->rcpts[run->nrcpts++] = (struct rcpt){ .address = copy };
}

/* Reads recipients from a file, one a line; exits 66 if unreadable. */
static void read_rcpt_file(struct run *run, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "mxclient: cannot open recipient file %s: %s\n",
		        path, strerror(errno));
		exit(EX_NOINPUT);
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		                 line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != '#')
			add_rcpt(run, p);
	}
	bool failed = ferror(f);
	free(line);
	fclose(f);
	if (failed) {
		fprintf(stderr, "mxclient: cannot read recipient file %s\n", path);
		exit(EX_NOINPUT);
	}
}

/* Reads standard input to EOF; exits 74 on a read error. */
static char *read_message(size_t *len)
{
	size_t cap = 64 * 1024, used = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (buf == NULL) {
			fputs("mxclient: out of memory reading the message\n", stderr);
			exit(EX_OSERR);
		}
		ssize_t n = read(STDIN_FILENO, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "mxclient: cannot read the message: %s\n",
			        strerror(errno));
			exit(EX_IOERR);
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == cap) {
			cap *= 2;
			char *p = realloc(buf, cap);
			if (p == NULL)
				free(buf);
			buf = p;
		}
	}
	*len = used;
	return buf;
}

/* The sender when -f is not given: the user at this host. */
static char *default_sender(const char *helo)
{
	const struct passwd *pw = getpwuid(getuid());
	char host[256];
	if (helo != NULL)
		snprintf(host, sizeof host, "%s", helo);
	else if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	char *s = NULL;
	if (pw == NULL || asprintf(&s, "%s@%s", pw->pw_name, host) < 0)
		return NULL;
	return s;
}

/* Parses the command line into run->opt and the recipients. */
static void parse_args(struct run *run, int argc, char **argv)
{
	enum { OPT_HELO = 256, OPT_TA, OPT_RESOLVER, OPT_PORT, OPT_RCPT_FILE,
	       OPT_JSON, OPT_TIMEOUT, OPT_TLS_LEVEL, OPT_PROXY, OPT_PROXY_COMMAND,
	       OPT_DNSSEC, OPT_REUSE, OPT_IDLE, OPT_PER_DEST, OPT_HELP, OPT_VERSION };
	static const struct option longopts[] = {
		{ "helo", required_argument, NULL, OPT_HELO },
		{ "trust-anchor", required_argument, NULL, OPT_TA },
		{ "resolver", required_argument, NULL, OPT_RESOLVER },
		{ "port", required_argument, NULL, OPT_PORT },
		{ "jobs", required_argument, NULL, 'j' },
		{ "rcpt-file", required_argument, NULL, OPT_RCPT_FILE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "tls-level", required_argument, NULL, OPT_TLS_LEVEL },
		{ "proxy", required_argument, NULL, OPT_PROXY },
		{ "proxy-command", required_argument, NULL, OPT_PROXY_COMMAND },
		{ "dnssec", required_argument, NULL, OPT_DNSSEC },
		{ "reuse", required_argument, NULL, OPT_REUSE },
		{ "per-domain", required_argument, NULL, OPT_PER_DEST },
		{ "idle-time", required_argument, NULL, OPT_IDLE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct options *o = &run->opt;
	int c;
	opterr = 0;
	/* '+': stop at the first recipient, as sendmail does. */
	while ((c = getopt_long(argc, argv, "+f:F:io:b:j:vqt", longopts,
	                        NULL)) != -1) {
		switch (c) {
		case 'f':
			o->sender = optarg;
			break;
		case 'F': /* full name: we write no headers */
		case 'i': /* a lone "." never ends input here anyway */
		case 'o': /* sendmail -oOPT settings have no meaning here */
			break;
		case 'b':
			if (strcmp(optarg, "m") != 0)
				usage_error("only -bm (deliver mail) is supported, "
				            "not -b%s", optarg);
			break;
		case 't':
			usage_error("%s", "-t (recipients from headers) is not "
			            "supported: name the recipients");
		case 'j':
			o->jobs = parse_number(optarg, 1, 100000, "--jobs");
			break;
		case 'v':
			o->verbose++;
			break;
		case 'q':
			o->quiet = true;
			break;
		case OPT_HELO: {
			char why[200];
			if (mxc_helo_check(optarg, why, sizeof why) < 0)
				usage_error("bad --helo: %s", why);
			o->helo = optarg;
			break;
		}
		case OPT_TA:
			o->trust_anchor = optarg;
			break;
		case OPT_RESOLVER:
			if (o->nresolvers == MAX_RESOLVERS)
				usage_error("at most %s resolvers", "8");
			char why[256];
			if (mxc_resolver_check(optarg, why, sizeof why) < 0)
				usage_error("--resolver: %s", why);
			o->resolvers[o->nresolvers++] = optarg;
			break;
		case OPT_PORT:
			o->port = parse_number(optarg, 1, 65535, "--port");
			break;
		case OPT_RCPT_FILE:
			o->rcpt_file = optarg;
			break;
		case OPT_REUSE:
			o->reuse = parse_number(optarg, 1, 100000, "--reuse");
			break;
		case OPT_PER_DEST:
			o->per_dest = parse_number(optarg, 1, 100000, "--per-domain");
			break;
		case OPT_IDLE:
			o->idle_ms = parse_number(optarg, 1, 3600000, "--idle-time");
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_TIMEOUT:
			o->timeout = parse_number(optarg, 1, 86400, "--timeout");
			break;
		case OPT_PROXY:
			o->proxy = optarg;
			break;
		case OPT_PROXY_COMMAND:
			o->proxy_command = optarg;
			break;
		case OPT_TLS_LEVEL:
			o->tls_level = parse_tls_level(optarg);
			break;
		case OPT_DNSSEC:
			if (strcmp(optarg, "local") == 0)
				o->dnssec = MXC_DNSSEC_LOCAL;
			else if (strcmp(optarg, "resolver") == 0)
				o->dnssec = MXC_DNSSEC_RESOLVER;
			else
				usage_error("--dnssec must be local or resolver, "
				            "not \"%s\"", optarg);
			break;
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(EX_OK);
		case OPT_VERSION:
			printf("mxclient %s (libevent %s)\n", MXCLIENT_VERSION,
			       event_get_version());
			exit(EX_OK);
		default: {
			char opt[64];
			if (optopt != 0)
				snprintf(opt, sizeof opt, "-%c", optopt);
			else
				snprintf(opt, sizeof opt, "%s", argv[optind - 1]);
			bool missing = optopt != 0 && strchr("fFobj", optopt) != NULL;
			if (missing)
				usage_error("option %s needs a value", opt);
			usage_error("unknown option %s", opt);
		}
		}
	}
	if (o->proxy != NULL && o->proxy_command != NULL)
		usage_error("%s", "--proxy and --proxy-command exclude each other");
	for (int i = optind; i < argc; i++)
		add_rcpt(run, argv[i]);
	if (o->rcpt_file != NULL)
		read_rcpt_file(run, o->rcpt_file);
	if (run->nrcpts == 0)
		usage_error("%s", "no recipients given");
	/* A bad trust anchor is a configuration error, before any DNS. */
	char why[512];
	if (mxc_trust_anchor_check(o->trust_anchor != NULL
	                               ? o->trust_anchor
	                               : "/usr/share/dns/root.key",
	                           why, sizeof why) < 0) {
		fprintf(stderr, "mxclient: %s\n", why);
		exit(EX_CONFIG);
	}
}

/* Every idle connection said goodbye: the run is over. */
static void on_drained(void *arg)
{
	struct run *run = arg;
	event_base_loopbreak(run->base);
}

/* A delivery ended. */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *r)
{
	struct run *run = arg;
	(void)d;
	for (size_t i = 0; i < run->nrcpts; i++) {
		struct rcpt *rc = &run->rcpts[i];
		if (rc->delivery == d) {
			rc->ended = true;
			rc->exit_status = sysexit_of_result(r);
			rc->delivery = NULL;
		}
	}
	if (run->opt.verbose > 0)
		report_evidence(run->progress, r);
	if (run->opt.json) {
		report_json(stdout, r, sysexit_of_result(r));
		fflush(stdout);
	}
	if (--run->pending == 0) /* say goodbye to idle connections */
		mxc_engine_drain(run->engine, on_drained, run);
}

/* Prints a progress line, prefixed with its recipient. */
static void on_log(void *arg, const struct mxc_log_context *ctx,
                   enum mxc_log_level level, const char *line)
{
	struct run *run = arg;
	(void)level;
	if (ctx->delivery != NULL)
		fprintf(run->progress, "%s: %s\n",
		        mxc_delivery_recipient(ctx->delivery), line);
	else if (ctx->session_id != 0)
		fprintf(run->progress, "session %" PRIu64 ": %s\n",
		        ctx->session_id, line);
	else
		fprintf(run->progress, "mxclient: %s\n", line);
	fflush(run->progress);
}

/* SIGINT/SIGTERM: cancel everything; each delivery still reports. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *run = arg;
	(void)what;
	fprintf(stderr, "mxclient: signal %d: cancelling the deliveries in "
	        "flight\n", (int)sig);
	for (size_t i = 0; i < run->nrcpts; i++)
		if (run->rcpts[i].delivery != NULL)
			mxc_delivery_cancel(run->rcpts[i].delivery);
}

/* The overall exit status: all delivered, else any temporary, else the
 * first permanent failure in recipient order. */
static int overall_status(const struct run *run)
{
	int first_perm = 0;
	for (size_t i = 0; i < run->nrcpts; i++) {
		int s = run->rcpts[i].ended ? run->rcpts[i].exit_status
		                            : EX_TEMPFAIL;
		if (s == EX_TEMPFAIL)
			return EX_TEMPFAIL;
		if (s != 0 && first_perm == 0)
			first_perm = s;
	}
	return first_perm;
}

/* Prints the engine's DNS counters in one stderr line (for benchmarks and
 * for seeing what the cache saved). */
static void print_stats(const struct mxc_engine *engine)
{
	struct mxc_engine_stats st = { .size = sizeof st };
	mxc_engine_get_stats(engine, &st);
	fprintf(stderr, "dns: %llu queries sent, %llu from cache, %llu "
	        "coalesced, %llu retried, %llu timed out\n",
	        (unsigned long long)st.dns_sent,
	        (unsigned long long)st.dns_cached,
	        (unsigned long long)st.dns_coalesced,
	        (unsigned long long)st.dns_retried,
	        (unsigned long long)st.dns_timed_out);
	fprintf(stderr, "smtp: %llu connections, %llu deliveries on a reused "
	        "connection\n", (unsigned long long)st.connections,
	        (unsigned long long)st.reused);
}

/* Sets up the engine on a new loop, runs every delivery, returns the
 * overall status.  The message reference is the caller's. */
static int deliver_all(struct run *run, const char *from,
                       struct mxc_message *msg)
{
	const struct options *o = &run->opt;
	char err[256];
	run->base = event_base_new();
	if (run->base == NULL) {
		fputs("mxclient: cannot create the event loop\n", stderr);
		return EX_OSERR;
	}
	enum mxc_log_level level = o->quiet ? MXC_LOG_ERROR
	                         : o->verbose >= 2 ? MXC_LOG_DEBUG
	                         : o->verbose == 1 ? MXC_LOG_PROTOCOL
	                                           : MXC_LOG_INFO;
	struct mxc_engine_options eo = {
		.helo_name = o->helo,
		.resolvers = o->nresolvers ? o->resolvers : NULL,
		.trust_anchor_file = o->trust_anchor,
		.port = o->port,
		.timeout = o->timeout,
		.tls_level = o->tls_level,
		.dnssec = o->dnssec,
		.proxy = o->proxy,
		.proxy_command = o->proxy_command,
		.max_concurrent = o->jobs,
		.reuse_limit = o->reuse,
		.max_per_destination = o->per_dest,
		.idle_ms = o->idle_ms,
		.log = on_log,
		.log_arg = run,
		.log_level = level,
	};
	struct mxc_engine *engine = mxc_engine_new(run->base, &eo, err,
	                                           sizeof err);
	if (engine == NULL) {
		int bad_option = errno == EINVAL;
		int refused = errno == EPERM;
		fprintf(stderr, "mxclient: %s\n", err);
		event_base_free(run->base);
		/* A bad option is the user's (resolvers and the trust anchor
		 * were checked above); a TLS setup or memory failure may
		 * pass: nothing was sent either way. */
		if (refused) /* --dnssec resolver with a remote resolver */
			return EX_CONFIG;
		return bad_option ? EX_USAGE : EX_TEMPFAIL;
	}
	run->engine = engine;
	struct event *sigint = evsignal_new(run->base, SIGINT, on_signal, run);
	struct event *sigterm = evsignal_new(run->base, SIGTERM, on_signal, run);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);

	for (size_t i = 0; i < run->nrcpts; i++) {
		struct mxc_delivery_params p = {
			.sender = from,
			.recipient = run->rcpts[i].address,
			.message = msg,
			.done = on_done,
			.arg = run,
		};
		run->rcpts[i].delivery = mxc_deliver(engine, &p, err, sizeof err);
		if (run->rcpts[i].delivery == NULL) {
			/* addresses were checked above: this is memory */
			fprintf(stderr, "mxclient: %s: %s\n", run->rcpts[i].address,
			        err);
			run->rcpts[i].ended = true;
			run->rcpts[i].exit_status = EX_TEMPFAIL;
			continue;
		}
		run->pending++;
	}
	if (run->pending > 0)
		event_base_dispatch(run->base);

	int status = overall_status(run);
	print_stats(engine);
	mxc_engine_free(engine);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(run->base);
	return status;
}

/* Checks the sender, reads the message, delivers; returns the status. */
static int run_command(struct run *run)
{
	const struct options *o = &run->opt;
	char *sender = o->sender != NULL ? strdup(o->sender)
	                                 : default_sender(o->helo);
	if (sender == NULL) {
		fputs("mxclient: cannot make a sender address: give one with "
		      "-f\n", stderr);
		return EX_USAGE;
	}
	char *from = strip_brackets(sender);
	char why[256];
	if (mxc_address_check(from, 1, why, sizeof why) < 0) {
		fprintf(stderr, "mxclient: bad sender address \"");
		print_visible(stderr, from);
		fprintf(stderr, "\": %s%s\n", why,
		        o->sender == NULL ? " (give one with -f)" : "");
		free(sender);
		return o->sender == NULL ? EX_USAGE : EX_DATAERR;
	}

	size_t len;
	char *data = read_message(&len);
	char err[256];
	struct mxc_message *msg = mxc_message_new(data, len, err, sizeof err);
	free(data);
	if (msg == NULL) {
		fprintf(stderr, "mxclient: bad message: %s\n", err);
		free(sender);
		return EX_DATAERR;
	}
	if (mxc_message_size(msg) == 0)
		fprintf(stderr, "mxclient: warning: the message is empty\n");
	if (mxc_message_folds(msg) > 0)
		fprintf(stderr, "mxclient: warning: lines over 998 octets were "
		        "folded %zu time(s) (RFC 5321 4.5.3.1.6)\n",
		        mxc_message_folds(msg));
	int status = deliver_all(run, from, msg);
	mxc_message_unref(msg);
	free(sender);
	return status;
}

/*
 * Makes room for --jobs: every delivery in flight holds up to two sockets
 * (happy eyeballs overlaps attempts), or five with a proxy command (socket
 * pair, stderr pipe, pidfd); the resolver keeps up to 100 more.  Raises the
 * soft RLIMIT_NOFILE as far as the hard one allows, else lowers --jobs and
 * says so: running out of descriptors mid-batch would defer deliveries.
 */
static void fit_jobs_to_fd_limit(struct run *run)
{
	struct options *o = &run->opt;
	unsigned jobs = o->jobs ? o->jobs : 100; /* the library's default */
	if (run->nrcpts < jobs)
		jobs = run->nrcpts > 0 ? (unsigned)run->nrcpts : 1;
	rlim_t per = o->proxy_command != NULL ? 5 : 2, reserve = 100 + 32;
	rlim_t need = (rlim_t)jobs * per + reserve;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
		return;
	rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
	                  ? need : rl.rlim_max;
	struct rlimit raised = { want, rl.rlim_max };
	if (setrlimit(RLIMIT_NOFILE, &raised) == 0)
		rl.rlim_cur = want;
	if (rl.rlim_cur >= need)
		return;
	unsigned fit = rl.rlim_cur > reserve + per
	                   ? (unsigned)((rl.rlim_cur - reserve) / per) : 1;
	fprintf(stderr, "mxclient: warning: --jobs lowered from %u to %u: "
	        "only %llu file descriptors are allowed (ulimit -n)\n", jobs,
	        fit, (unsigned long long)rl.rlim_cur);
	o->jobs = fit;
}

int main(int argc, char **argv)
{
	struct run run = { 0 };
	signal(SIGPIPE, SIG_IGN);
	parse_args(&run, argc, argv);
	fit_jobs_to_fd_limit(&run);
	run.progress = run.opt.json ? stderr : stdout;
	int status = run_command(&run);
	for (size_t i = 0; i < run.nrcpts; i++)
		free(run.rcpts[i].address);
	free(run.rcpts);
	return status;
}
