/*
 * mxclient: the command.  Reads the message from standard input, delivers
 * it to every recipient directly at its domain's MX through the library,
 * reports each result and exits with a sysexits status.  It uses the public
 * API only: whatever it does, an embedding program can do too.
 */
#include <ctype.h>
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
#include <strings.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mxclient.h"
#include "escape.h"
#include "report.h"
#include "sysexit.h"

/* Most --resolver and --rcpt-file options. */
#define MAX_RESOLVERS 8
#define MAX_RCPT_FILES 64

/* Runs with at least this many recipients show progress as they go. */
#define PROGRESS_MIN_RCPTS 5
/* How often progress is shown: on a terminal, off one (stderr), ms. */
#define PROGRESS_TTY_MS 1000
#define PROGRESS_LOG_MS 10000

struct run;

/* One recipient and what became of it. */
struct rcpt {
	char *address;
	struct run *run;               /* back, for the completion callback */
	struct mxc_delivery *delivery; /* while in flight */
	bool ended;
	int exit_status;
};

/*
 * The recipients already given, for removing duplicates in one pass:
 * open addressing over indexes into run->rcpts, hashed on the address with
 * its domain lowercased (domains are case-insensitive, local parts are
 * not, RFC 5321 2.4).
 */
struct rcpt_set {
	size_t *slots;   /* index + 1, 0 empty */
	size_t nslots;   /* a power of two, at most half full */
	uint64_t probes; /* slots looked at, for the figure with -vv */
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
	const char *rcpt_files[MAX_RCPT_FILES];
	size_t nrcpt_files;
	unsigned reuse;               /* transactions per connection, 0 dflt */
	unsigned per_dest;            /* in flight per domain, 0 default */
	unsigned idle_ms;             /* idle connection kept, 0 default */
	bool no_bdat;                 /* --no-bdat: DATA even with CHUNKING */
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
	struct rcpt_set seen;         /* for duplicates */
	const char *sender;           /* the envelope sender in use */
	/* Counts by outcome, for progress and the summary. */
	size_t delivered, deferred, bounced;
	struct timespec started;      /* when the first delivery went out */
	struct event *ticker;         /* progress timer, or NULL */
	bool live;                    /* progress as a live terminal line */
	bool live_shown;              /* that line is on the screen now */
	int output_errno;             /* first failed write of a result, 0 */
	char host_warning[700];       /* about a bare EHLO or sender name */
};

static const char usage_text[] =
	"usage: mxclient [-f SENDER] [-F NAME] [-i] [-oOPT] [options] "
	"RECIPIENT... < message\n"
	"\n"
	"Delivers the message on standard input directly to each recipient's MX.\n"
	"Options come before the recipients.  A recipient user@[192.0.2.25] or\n"
	"user@[IPv6:2001:db8::25] goes to that address: no MX, no DANE.\n"
	"\n"
	"  -f SENDER            envelope sender (\"\" for the null sender <>;\n"
	"                       default: you at this host's full name)\n"
	"  -F NAME, -i, -oOPT   accepted for sendmail compatibility, ignored\n"
	"  --helo NAME          name to give in EHLO/HELO (default: host name)\n"
	"  --trust-anchor FILE  DNSSEC trust anchor, DS/DNSKEY zone-file lines\n"
	"                       (default: /usr/share/dns/root.key)\n"
	"  --resolver ADDR[#PORT]  recursive resolver to use; repeat it for\n"
	"                       failover: a query that times out moves on to\n"
	"                       the next (default: /etc/resolv.conf's)\n"
	"  --dnssec MODE        local (default): validate DNSSEC here;\n"
	"                       resolver: trust the AD bit of the resolvers,\n"
	"                       which must all be on this machine\n"
	"  --port N             SMTP port (default 25)\n"
	"  -j, --jobs N         deliveries in flight at once (default 100)\n"
	"  --rcpt-file FILE     more recipients, one a line ('#' comments);\n"
	"                       repeatable; duplicates are delivered once\n"
	"  --json               one JSON object per recipient on stdout;\n"
	"                       progress goes to stderr\n"
	"  --timeout SEC        longest single wait; RFC 5321 timeouts are\n"
	"                       scaled by SEC/600, none below 5 s (or SEC)\n"
	"                       (default: unscaled)\n"
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
	"  --no-bdat            send with DATA even where the server offers\n"
	"                       CHUNKING (BDAT, RFC 3030)\n"
	"  -v                   show the SMTP transcript and each result's\n"
	"                       TLS evidence (-vv: debug)\n"
	"  -q, --quiet          show failures and the summary only\n"
	"  -h, --help, --version\n"
	"\n"
	"Exit status: 0 all delivered, 75 temporary failure (try again later),\n"
	"64 usage, 65 bad address or message, 66 unreadable file, 67 unknown\n"
	"user, 68 no such domain or null MX, 69 other permanent failure or a\n"
	"proxy command not found, 74 results not written,\n"
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

/*
 * What the user typed, made safe for a terminal as server text is (control
 * and non-ASCII bytes as \xHH, see escape_text()), so a bad argument cannot
 * drive the terminal.  Two static buffers used in turn: at most two calls
 * per message.
 */
static const char *visible(const char *s)
{
	static char bufs[2][600];
	static unsigned next;
	char *out = bufs[next++ % 2];
	escape_text(s, strlen(s), out, sizeof bufs[0]);
	return out;
}

/* Where `addr`'s domain starts (after its last '@'), or its end. */
static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at != NULL ? at + 1 : addr + strlen(addr);
}

/* FNV-1a of the address with its domain lowercased. */
static uint64_t rcpt_hash(const char *addr)
{
	const char *domain = domain_of(addr);
	uint64_t h = 14695981039346656037ull;
	for (const char *p = addr; *p; p++) {
		unsigned char c = (unsigned char)*p;
		h = (h ^ (p >= domain ? (unsigned char)tolower(c) : c)) *
		    1099511628211ull;
	}
	return h;
}

/* Same mailbox: same local part, domains equal but for case. */
static bool rcpt_same(const char *a, const char *b)
{
	const char *da = domain_of(a), *db = domain_of(b);
	return da - a == db - b && memcmp(a, b, (size_t)(da - a)) == 0 &&
	       strcasecmp(da, db) == 0;
}

/* Finds `addr` among the recipients, or the empty slot for it. */
static size_t *rcpt_slot(struct run *run, const char *addr)
{
	struct rcpt_set *s = &run->seen;
	size_t mask = s->nslots - 1;
	for (size_t i = (size_t)rcpt_hash(addr) & mask;; i = (i + 1) & mask) {
		s->probes++;
		if (s->slots[i] == 0 ||
		    rcpt_same(run->rcpts[s->slots[i] - 1].address, addr))
			return &s->slots[i];
	}
}

/* Keeps the set at most half full: doubles it and re-enters every
 * recipient.  False when memory runs out. */
static bool rcpt_set_grow(struct run *run)
{
	struct rcpt_set *s = &run->seen;
	if (s->nslots != 0 && (run->nrcpts + 1) * 2 <= s->nslots)
		return true;
	size_t n = s->nslots ? s->nslots * 2 : 64;
	size_t *slots = calloc(n, sizeof *slots);
	if (slots == NULL)
		return false;
	free(s->slots);
	s->slots = slots;
	s->nslots = n;
	for (size_t i = 0; i < run->nrcpts; i++)
		*rcpt_slot(run, run->rcpts[i].address) = i + 1;
	return true;
}

/* Adds a recipient after checking it; exits 65 on a bad one.  A
 * recipient given twice (in any source) is kept once. */
static void add_rcpt(struct run *run, const char *given)
{
	char *copy = strdup(given);
	if (copy == NULL || !rcpt_set_grow(run)) {
		fputs("mxclient: out of memory\n", stderr);
		exit(EX_TEMPFAIL);
	}
	char *addr = strip_brackets(copy);
	char why[256];
	if (mxc_address_check(addr, 0, why, sizeof why) < 0) {
		fprintf(stderr, "mxclient: bad recipient address \"%s\": %s\n",
		        visible(addr), why);
		free(copy);
		exit(EX_DATAERR);
	}
	size_t *slot = rcpt_slot(run, addr);
	if (*slot != 0) {
		free(copy); /* each recipient gets one copy */
		return;
	}
	if (run->nrcpts == run->cap) {
		size_t cap = run->cap ? run->cap * 2 : 16;
		struct rcpt *p = realloc(run->rcpts, cap * sizeof *p);
		if (p == NULL) {
			fputs("mxclient: out of memory\n", stderr);
			exit(EX_TEMPFAIL);
		}
		run->rcpts = p;
		run->cap = cap;
	}
	memmove(copy, addr, strlen(addr) + 1);
	run->rcpts[run->nrcpts++] = (struct rcpt){ .address = copy, .run = run };
	*slot = run->nrcpts;
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
			exit(EX_TEMPFAIL);
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

/* Splits `line` in place at blanks into at most `max` words; a '#' ends
 * the line.  Returns the count. */
static size_t split_words(char *line, char **words, size_t max)
{
	size_t n = 0;
	char *p = line;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p == '\0' || *p == '#' || n == max)
			return n;
		words[n++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			p++;
		if (*p == '\0')
			return n;
		*p++ = '\0';
	}
}

/*
 * A fully qualified name for `host` from /etc/hosts: on a line naming it,
 * the first name with a dot ("127.0.1.1 mail.example.org mail").  Files
 * only: asking DNS for our own name could send a query nobody asked for.
 */
static bool fqdn_from_hosts(const char *host, char *out, size_t outlen)
{
	FILE *f = fopen("/etc/hosts", "r");
	if (f == NULL)
		return false;
	char line[1024];
	bool found = false;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		char *names[32];
		size_t n = split_words(line, names, 32);
		bool named = false;
		for (size_t i = 1; i < n; i++)
			named |= strcasecmp(names[i], host) == 0;
		for (size_t i = 1; named && i < n && !found; i++)
			if (strchr(names[i], '.') != NULL &&
			    strncasecmp(names[i], host, strlen(host)) == 0 &&
			    names[i][strlen(host)] == '.') {
				snprintf(out, outlen, "%s", names[i]);
				found = true;
			}
	}
	fclose(f);
	return found;
}

/* The "domain" (else the first "search") domain of /etc/resolv.conf. */
static bool resolv_domain(char *out, size_t outlen)
{
	FILE *f = fopen("/etc/resolv.conf", "r");
	if (f == NULL)
		return false;
	char line[1024], domain[256] = "", search[256] = "";
	while (fgets(line, sizeof line, f) != NULL) {
		char *w[2];
		if (split_words(line, w, 2) < 2 || strchr(w[1], '.') == NULL)
			continue;
		const char *key = w[0], *value = w[1];
		if (strcmp(key, "domain") == 0)
			snprintf(domain, sizeof domain, "%s", value);
		else if (strcmp(key, "search") == 0 && search[0] == '\0')
			snprintf(search, sizeof search, "%s", value);
	}
	fclose(f);
	snprintf(out, outlen, "%s", domain[0] ? domain : search);
	return out[0] != '\0';
}

/*
 * This machine's name for EHLO and the default sender: the host name when
 * it is fully qualified, else the FQDN /etc/hosts gives it, else the host
 * name with resolv.conf's domain, else the bare host name (the caller
 * warns).  Returns whether the result has a dot.
 */
static bool this_host(char *out, size_t outlen)
{
	char host[256], domain[256];
	if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(out, outlen, "%s", host);
	if (strchr(host, '.') != NULL || fqdn_from_hosts(host, out, outlen))
		return true;
	if (resolv_domain(domain, sizeof domain)) {
		int n = snprintf(out, outlen, "%s.%s", host, domain);
		if (n > 0 && (size_t)n < outlen)
			return true;
		snprintf(out, outlen, "%s", host); /* too long: the bare name */
	}
	return false;
}

/* The sender when -f is not given: the user at `host`. */
static char *default_sender(const char *host)
{
	const struct passwd *pw = getpwuid(getuid());
	char *s = NULL;
	if (pw == NULL || asprintf(&s, "%s@%s", pw->pw_name, host) < 0)
		return NULL;
	return s;
}

/* Reports what getopt refused (`word` is the argument it stopped at) and
 * exits 64, with what was typed made visible. */
static void option_error(const char *word, const char *shortopts)
	__attribute__((noreturn));
static void option_error(const char *word, const char *shortopts)
{
	if (optopt == 0) /* a long option nobody knows */
		usage_error("unknown option %s", visible(word));
	if (optopt >= 256) { /* a known long option, its value wrong */
		char name[64];
		size_t n = strcspn(word, "=");
		snprintf(name, sizeof name, "%.*s", n < 60 ? (int)n : 60, word);
		if (word[n] == '=')
			usage_error("option %s takes no value", visible(name));
		usage_error("option %s needs a value", visible(name));
	}
	char opt[3] = { '-', (char)optopt, '\0' };
	const char *known = strchr(shortopts + 1, optopt);
	if (known != NULL && known[1] == ':')
		usage_error("option %s needs a value", visible(opt));
	usage_error("unknown option %s", visible(opt));
}

/*
 * Checks the trust anchor before any DNS and exits if it is bad: a file
 * the user named that cannot be read is EX_NOINPUT (66); a file that is
 * not a trust anchor, or a default one that is missing (install
 * dns-root-data), is EX_CONFIG (78).
 */
static void check_trust_anchor(const char *given)
{
	const char *path = given != NULL ? given : "/usr/share/dns/root.key";
	char why[512];
	if (mxc_trust_anchor_check(path, why, sizeof why) == 0)
		return;
	int unreadable = access(path, R_OK) != 0;
	fprintf(stderr, "mxclient: %s\n", visible(why));
	exit(given != NULL && unreadable ? EX_NOINPUT : EX_CONFIG);
}

/* Parses the command line into run->opt and the recipients. */
static void parse_args(struct run *run, int argc, char **argv)
{
	enum { OPT_HELO = 256, OPT_TA, OPT_RESOLVER, OPT_PORT, OPT_RCPT_FILE,
	       OPT_JSON, OPT_TIMEOUT, OPT_TLS_LEVEL, OPT_PROXY, OPT_PROXY_COMMAND,
	       OPT_DNSSEC, OPT_REUSE, OPT_IDLE, OPT_NO_BDAT, OPT_PER_DEST, OPT_HELP, OPT_VERSION };
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
		{ "no-bdat", no_argument, NULL, OPT_NO_BDAT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	struct options *o = &run->opt;
	int c;
	opterr = 0;
	/* '+': stop at the first recipient, as sendmail does. */
	static const char shortopts[] = "+f:F:io:b:j:vqth";
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
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
				            "not -b%s", visible(optarg));
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
				usage_error("--resolver: %s", visible(why));
			o->resolvers[o->nresolvers++] = optarg;
			break;
		case OPT_PORT:
			o->port = parse_number(optarg, 1, 65535, "--port");
			break;
		case OPT_RCPT_FILE: /* each one adds */
			if (o->nrcpt_files == MAX_RCPT_FILES)
				usage_error("at most %d --rcpt-file options",
				            MAX_RCPT_FILES);
			o->rcpt_files[o->nrcpt_files++] = optarg;
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
		case OPT_NO_BDAT:
			o->no_bdat = true;
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
				            "not \"%s\"", visible(optarg));
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			exit(EX_OK);
		case OPT_VERSION:
			printf("mxclient %s: %s\n", MXCLIENT_VERSION, mxc_versions());
			exit(EX_OK);
		default:
			option_error(argv[optind - 1], shortopts);
		}
	}
	if (o->proxy != NULL && o->proxy_command != NULL)
		usage_error("%s", "--proxy and --proxy-command exclude each other");
	for (int i = optind; i < argc; i++) {
		/* getopt stopped at the first recipient, as sendmail does: an
		 * option further on is a mistake, not an address. */
		if (argv[i][0] == '-' && strchr(argv[i], '@') == NULL)
			usage_error("%s after the first recipient: options come "
			            "before the recipients", visible(argv[i]));
		add_rcpt(run, argv[i]);
	}
	for (size_t i = 0; i < o->nrcpt_files; i++)
		read_rcpt_file(run, o->rcpt_files[i]);
	if (run->nrcpts == 0)
		usage_error("%s", "no recipients given");
	check_trust_anchor(o->trust_anchor);
}

/* Every idle connection said goodbye: the run is over. */
static void on_drained(void *arg)
{
	struct run *run = arg;
	event_base_loopbreak(run->base);
}

/* Seconds since the first delivery went out. */
static double run_seconds(const struct run *run)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - run->started.tv_sec) +
	       (double)(now.tv_nsec - run->started.tv_nsec) / 1e9;
}

/* Notes a failed write of results; the run goes on (deliveries in flight
 * are never abandoned) and ends EX_IOERR. */
static void check_output(struct run *run, FILE *f)
{
	if (f != stdout) /* stderr carries no results of its own */
		return;
	if (run->output_errno == 0 && (fflush(f) != 0 || ferror(f)))
		run->output_errno = errno != 0 ? errno : EIO;
}

/* Takes the live progress line off the terminal before other output. */
static void clear_live(struct run *run)
{
	if (run->live_shown) {
		fputs("\r\033[K", stderr);
		run->live_shown = false;
	}
}

/* Progress so far in one line: counts, rate and (with some done) ETA. */
static void format_progress(const struct run *run, char *out, size_t outlen)
{
	size_t done = run->delivered + run->deferred + run->bounced;
	double secs = run_seconds(run);
	double rate = secs > 0 ? (double)done / secs : 0;
	int n = snprintf(out, outlen, "%zu delivered, %zu deferred, %zu bounced, "
	                 "%zu in flight of %zu; %.1f/s", run->delivered,
	                 run->deferred, run->bounced, run->pending, run->nrcpts,
	                 rate);
	if (n > 0 && (size_t)n < outlen && rate > 0 && done < run->nrcpts)
		snprintf(out + n, outlen - (size_t)n, ", ETA %.0f s",
		         (double)(run->nrcpts - done) / rate);
}

/* The progress timer: redraws the live line, or logs a count line. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *run = arg;
	(void)fd;
	(void)what;
	char line[256];
	format_progress(run, line, sizeof line);
	if (run->live) {
		fprintf(stderr, "\r\033[K%s", line);
		run->live_shown = true;
	} else {
		fprintf(stderr, "mxclient: progress: %s\n", line);
	}
	fflush(stderr);
}

/*
 * One line per result in the words Postfix logs (and its users grep):
 * "RCPT: 2026-12-04T12:00:00Z to=<RCPT>, relay=mx.example[192.0.2.1]:25,
 * delay=1.2, delays=0/0/1.1/0.1, dsn=2.0.0, status=sent (250 2.0.0 ok),
 * tls=TLSv1.3 TLS_AES_128_GCM_SHA256, dane=verified".  delays= is
 * Postfix's a/b/c/d: nothing before the queue (0), the wait for a --jobs
 * slot, setting up (DNS, connection, EHLO, TLS) and the transaction.  A
 * delivery that went in clear says so.
 */
static void print_result_line(struct run *run, const struct mxc_result *r)
{
	static const char *const status[] = { "sent", "deferred", "bounced" };
	static const char *const dsn[] = { "2.0.0", "4.0.0", "5.0.0" };
	static const char *const dane[] = { "none", "verified", "unusable",
	                                    "failed" };
	FILE *f = run->progress;
	char when[40];
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char relay[600];
	if (r->address[0] != '\0')
		snprintf(relay, sizeof relay, "%s[%s]:%u",
		         r->mx[0] && r->mx[0] != '[' ? r->mx : r->address,
		         r->address,
		         run->opt.port ? run->opt.port : 25);
	else
		snprintf(relay, sizeof relay, "none");
	clear_live(run);
	fprintf(f, "%s: %s to=<%s>, relay=%s, delay=%.2f, delays=0/%.2f/%.2f/"
	        "%.2f, dsn=%s, status=%s (%s), tls=%s%s%s, dane=%s\n",
	        r->recipient, when, r->recipient, relay,
	        (double)r->elapsed_ms / 1000, (double)r->queue_ms / 1000,
	        (double)(r->delivery_ms - r->transfer_ms) / 1000,
	        (double)r->transfer_ms / 1000,
	        r->enhanced[0] ? r->enhanced : dsn[r->outcome],
	        status[r->outcome], r->reply[0] ? r->reply : r->detail,
	        r->tls_version[0] ? r->tls_version : "none",
	        r->tls_cipher[0] ? " " : "", r->tls_cipher, dane[r->dane]);
	if (r->outcome == MXC_DELIVERED && r->tls_version[0] == '\0')
		fprintf(f, "%s: warning: sent in clear text (no TLS) to %s\n",
		        r->recipient, relay);
	check_output(run, f);
}

/* A delivery ended: record it against its recipient (its `arg`). */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *r)
{
	struct rcpt *rc = arg;
	struct run *run = rc->run;
	(void)d;
	rc->ended = true;
	rc->exit_status = sysexit_of_result(r);
	rc->delivery = NULL;
	run->pending--;
	if (r->outcome == MXC_DELIVERED)
		run->delivered++;
	else if (r->outcome == MXC_TEMPFAIL)
		run->deferred++;
	else
		run->bounced++;
	if (!run->opt.quiet || r->outcome != MXC_DELIVERED)
		print_result_line(run, r);
	if (run->opt.verbose > 0)
		report_evidence(run->progress, r);
	if (run->opt.json) {
		report_json(stdout, r, sysexit_of_result(r));
		check_output(run, stdout);
	}
	if (run->pending == 0) { /* say goodbye to idle connections */
		if (run->ticker != NULL)
			event_del(run->ticker);
		mxc_engine_drain(run->engine, on_drained, run);
	}
}

/* Prints a progress line, prefixed with its recipient. */
static void on_log(void *arg, const struct mxc_log_context *ctx,
                   enum mxc_log_level level, const char *line)
{
	struct run *run = arg;
	(void)level;
	clear_live(run);
	if (ctx->delivery != NULL)
		fprintf(run->progress, "%s: %s\n",
		        mxc_delivery_recipient(ctx->delivery), line);
	else if (ctx->session_id != 0)
		fprintf(run->progress, "session %" PRIu64 ": %s\n",
		        ctx->session_id, line);
	else
		fprintf(run->progress, "mxclient: %s\n", line);
	check_output(run, run->progress);
}

/* SIGINT/SIGTERM: cancel everything; each delivery still reports. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct run *run = arg;
	(void)what;
	clear_live(run);
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
	fprintf(stderr, "dnssec: %llu zone key sets learned, %llu answers "
	        "validated again from the root, %llu checked against zone "
	        "keys here, %llu handed back to getdns\n",
	        (unsigned long long)st.dns_zone_keys,
	        (unsigned long long)st.dns_revalidated,
	        (unsigned long long)st.dns_checked_here,
	        (unsigned long long)st.dns_handed_back);
	fprintf(stderr, "smtp: %llu connections, %llu deliveries on a reused "
	        "connection, %llu TLS resumptions, %llu round trips setting "
	        "up, %llu in %llu transactions\n",
	        (unsigned long long)st.connections,
	        (unsigned long long)st.reused,
	        (unsigned long long)st.tls_resumed,
	        (unsigned long long)st.turns_setup,
	        (unsigned long long)st.turns_transactions,
	        (unsigned long long)st.transactions);
}

/* The last line: counts by outcome, wall time, rate. */
static void print_summary(const struct run *run)
{
	double secs = run_seconds(run);
	size_t done = run->delivered + run->deferred + run->bounced;
	fprintf(stderr, "mxclient: %zu recipient%s: %zu delivered, %zu "
	        "deferred, %zu bounced in %.2f s (%.1f deliveries/s)\n",
	        run->nrcpts, run->nrcpts == 1 ? "" : "s", run->delivered,
	        run->deferred, run->bounced, secs,
	        secs > 0 ? (double)done / secs : 0.0);
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
		return EX_TEMPFAIL;
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
		.no_chunking = o->no_bdat,
		.log = on_log,
		.log_arg = run,
		.log_level = level,
	};
	struct mxc_engine *engine = mxc_engine_new(run->base, &eo, err,
	                                           sizeof err);
	if (engine == NULL) {
		int why = errno;
		fprintf(stderr, "mxclient: %s\n", visible(err));
		event_base_free(run->base);
		/* Nothing was sent.  None of these passes by itself, so none
		 * is 75 (a queue runner would retry it for ever), but out of
		 * memory, which does. */
		switch (why) {
		case EINVAL: /* an option's value (proxy syntax ...) */
			return EX_USAGE;
		case ENOENT: /* the proxy command is not installed */
			return EX_UNAVAILABLE;
		case ENOMEM:
			return EX_TEMPFAIL;
		default: /* EPERM: --dnssec resolver with a remote resolver;
		          * EIO: getdns or wolfSSL cannot be set up here */
			return EX_CONFIG;
		}
	}
	run->engine = engine;
	if (run->host_warning[0] != '\0')
		fprintf(stderr, "mxclient: warning: %s\n", run->host_warning);
	struct event *sigint = evsignal_new(run->base, SIGINT, on_signal, run);
	struct event *sigterm = evsignal_new(run->base, SIGTERM, on_signal, run);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);

	clock_gettime(CLOCK_MONOTONIC, &run->started);
	if (run->nrcpts >= PROGRESS_MIN_RCPTS && !o->quiet) {
		run->live = isatty(STDERR_FILENO) == 1;
		unsigned ms = run->live ? PROGRESS_TTY_MS : PROGRESS_LOG_MS;
		struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
		run->ticker = event_new(run->base, -1, EV_PERSIST, on_tick, run);
		if (run->ticker != NULL)
			event_add(run->ticker, &tv);
	}
	for (size_t i = 0; i < run->nrcpts; i++) {
		struct mxc_delivery_params p = {
			.sender = from,
			.recipient = run->rcpts[i].address,
			.message = msg,
			.done = on_done,
			.arg = &run->rcpts[i],
		};
		run->rcpts[i].delivery = mxc_deliver(engine, &p, err, sizeof err);
		if (run->rcpts[i].delivery == NULL) {
			/* addresses were checked above: this is memory */
			fprintf(stderr, "mxclient: %s: %s\n", run->rcpts[i].address,
			        err);
			run->rcpts[i].ended = true;
			run->rcpts[i].exit_status = EX_TEMPFAIL;
			run->deferred++;
			continue;
		}
		run->pending++;
	}
	if (run->pending > 0)
		event_base_dispatch(run->base);

	int status = overall_status(run);
	clear_live(run);
	if (!o->quiet)
		print_stats(engine);
	print_summary(run);
	mxc_engine_free(engine);
	if (run->ticker != NULL)
		event_free(run->ticker);
	event_free(sigint);
	event_free(sigterm);
	event_base_free(run->base);
	return status;
}

/* Checks the sender, reads the message, delivers; returns the status. */
static int run_command(struct run *run)
{
	struct options *o = &run->opt;
	/* Without --helo or -f, this host's full name stands in; a bare
	 * name is sent only with a warning (many receivers refuse it). */
	static char host[256];
	bool qualified = true;
	if (o->helo == NULL || o->sender == NULL)
		qualified = this_host(host, sizeof host);
	if (o->helo == NULL && mxc_helo_check(host, NULL, 0) == 0)
		o->helo = host;
	char *sender = o->sender != NULL ? strdup(o->sender)
	                                 : default_sender(o->helo != NULL
	                                                  ? o->helo : host);
	/* Said once the engine is up, so a configuration error stays the
	 * only line. */
	if (!qualified && o->helo == host)
		snprintf(run->host_warning, sizeof run->host_warning, "EHLO name "
		         "%s is not a fully qualified domain name and many "
		         "receivers refuse it: give --helo%s", visible(host),
		         o->sender == NULL ? " and -f" : "");
	else if (!qualified && o->sender == NULL &&
	         strchr(domain_of(sender != NULL ? sender : ""), '.') == NULL)
		snprintf(run->host_warning, sizeof run->host_warning, "sender %s "
		         "has no fully qualified domain: give -f",
		         visible(sender != NULL ? sender : ""));
	if (o->verbose >= 1)
		fprintf(stderr, "mxclient: sender <%s>, EHLO %s\n",
		        visible(sender != NULL ? sender : ""),
		        visible(o->helo != NULL ? o->helo : host));
	if (sender == NULL) {
		fputs("mxclient: cannot make a sender address: give one with "
		      "-f\n", stderr);
		return EX_USAGE;
	}
	char *from = strip_brackets(sender);
	char why[256];
	if (mxc_address_check(from, 1, why, sizeof why) < 0) {
		fprintf(stderr, "mxclient: bad sender address \"%s\": %s%s\n",
		        visible(from), why,
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
		fprintf(stderr, "mxclient: warning: the message is empty (nothing "
		        "was read from standard input)\n");
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
	if (run.opt.verbose >= 2) /* the duplicate check's cost, in figures */
		fprintf(stderr, "mxclient: %zu recipients, %" PRIu64 " lookups in "
		        "the duplicate table\n", run.nrcpts, run.seen.probes);
	fit_jobs_to_fd_limit(&run);
	run.progress = run.opt.json ? stderr : stdout;
	int status = run_command(&run);
	/* Every delivery has ended: only now may lost results decide. */
	check_output(&run, stdout);
	if (run.output_errno != 0) {
		fprintf(stderr, "mxclient: results were not all written to "
		        "standard output: %s\n", strerror(run.output_errno));
		status = EX_IOERR;
	}
	for (size_t i = 0; i < run.nrcpts; i++)
		free(run.rcpts[i].address);
	free(run.rcpts);
	free(run.seen.slots);
	return status;
}
