/*
 * bounds: checks that a long-running process using the library does not
 * grow.  It runs FIRST deliveries (mixed outcomes, the recipients given
 * used in turn), counts what the process holds, runs THEN more, counts
 * again, and fails if the second count holds more file descriptors or
 * child processes than the first, or more heap or resident memory than a
 * stated allowance above it.
 *
 *   bounds --resolver ADDR --trust-anchor FILE [--first N] [--then N]
 *          [--window N] [--proxy-every N] [--heap-slack BYTES]
 *          [--rss-slack KB] [--leak-fd N] RCPT...
 *   (--log: the engines' log, debug level, on stderr)
 *   bounds --relay HOST PORT       (the proxy command it uses itself)
 *
 * Every --proxy-every'th delivery (default 20: the first recipient given) goes through a second
 * engine whose proxy command is this program in --relay mode, so child
 * processes are made and must be reaped.  --leak-fd N deliberately leaks
 * one descriptor every N completions, to show the check can fail.
 *
 * Counts are taken from /proc/self (fd entries, the children of every
 * thread, VmRSS) and from the allocator: mallinfo2() bytes in use, or
 * under AddressSanitizer (which replaces malloc) the sanitizer's own
 * count.  Before each count the loop idles a moment (until no child is
 * left, at most CHILDREN_GONE_MS) so closes and child exits already under
 * way finish.  Output: "count PHASE fds=N children=N
 * rss_kb=N heap=N", one "outcome RCPT STATUS EXIT N" line per recipient
 * and outcome seen (with its first detail), then "ok bounds" or "FAIL bounds: why".  Exit 0, 1 on
 * a failed check or setup error, 2 on bad usage.
 */
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <malloc.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mxclient.h"
#include "sysexit.h"

/* Bytes the sanitizer allocator has handed out and not taken back; only
 * present when linked with AddressSanitizer (weak: NULL otherwise). */
extern size_t __sanitizer_get_current_allocated_bytes(void)
	__attribute__((weak));

/* Most distinct recipients, and the outcomes counted for each. */
#define RCPT_MAX 32

/* What the process holds at one moment. */
struct holdings {
	long fds;           /* entries of /proc/self/fd */
	long children;      /* child processes, zombies included */
	long rss_kb;        /* VmRSS */
	long long heap;     /* allocator bytes in use */
};

/* Per recipient: how its deliveries ended. */
struct tally {
	const char *rcpt;
	unsigned long delivered, tempfail, permfail;
	int last_exit[3];   /* exit status seen last, per outcome */
	char detail[3][160];/* the first detail seen, per outcome */
};

/* The run's state. */
struct run {
	struct event_base *base;
	struct mxc_engine *direct;     /* plain connections */
	struct mxc_engine *proxied;    /* through the --relay proxy command */
	struct mxc_message *msg;
	struct tally tally[RCPT_MAX];
	size_t nrcpt;
	unsigned long next;            /* deliveries started in all */
	unsigned long started;         /* started in this phase */
	unsigned long phase_total;     /* to start in this phase */
	unsigned long in_flight;
	unsigned long window;          /* most in flight at once */
	unsigned long done;            /* completions in all */
	unsigned long proxy_every;
	unsigned long leak_every;      /* 0: no deliberate leak */
	unsigned long leaked;
	int failed;                    /* a delivery could not be queued */
};

/* Parses a decimal count; false unless all of `s` is one. */
static bool parse_count(const char *s, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
		return false;
	*out = v;
	return true;
}

/* Open file descriptors of this process (the directory's own left out). */
static long count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (dir == NULL)
		return -1;
	long n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;
}

/* Children of every thread, from /proc/self/task/TID/children. */
static long count_children(void)
{
	DIR *dir = opendir("/proc/self/task");
	if (dir == NULL)
		return -1;
	long n = 0;
	for (struct dirent *e; (e = readdir(dir)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char path[300];
		snprintf(path, sizeof path, "/proc/self/task/%s/children",
		         e->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL) {
			n = -1;
			break;
		}
		long pid;
		while (fscanf(f, "%ld", &pid) == 1)
			n++;
		fclose(f);
	}
	closedir(dir);
	return n;
}

/* VmRSS in kB, from /proc/self/status. */
static long count_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	char line[256];
	long kb = -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* Heap bytes in use, from whichever allocator is in charge. */
static long long count_heap(void)
{
	if (__sanitizer_get_current_allocated_bytes != NULL)
		return (long long)__sanitizer_get_current_allocated_bytes();
	struct mallinfo2 mi = mallinfo2();
	return (long long)(mi.uordblks + mi.hblkhd);
}

/* Lets the loop run idle for `ms`, so pending closes and reaping end. */
static void settle(struct event_base *base, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Longest wait for the last proxy commands to go: the engine gives one
 * 2 s after its stream closed, then SIGTERM and 2 s, then SIGKILL. */
#define CHILDREN_GONE_MS 6000

/* Takes the counts and prints them under `phase`. */
static struct holdings take_count(struct run *r, const char *phase)
{
	/* A relay may still be exiting (a loaded machine, an ASan start):
	 * wait for the children to be seen out, as far as the engine's own
	 * deadline allows; one left after that is a leak. */
	long waited = 0;
	do {
		settle(r->base, 250);
		waited += 250;
	} while (count_children() > 0 && waited < CHILDREN_GONE_MS);
	struct holdings h = {
		.fds = count_fds(),
		.children = count_children(),
		.rss_kb = count_rss_kb(),
		.heap = count_heap(),
	};
	printf("count %s deliveries=%lu fds=%ld children=%ld rss_kb=%ld "
	       "heap=%lld\n", phase, r->done, h.fds, h.children, h.rss_kb,
	       h.heap);
	fflush(stdout);
	return h;
}

static void start_more(struct run *r);

/* One delivery ended: tally it, maybe leak on purpose, start the next. */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *res)
{
	struct run *r = arg;
	(void)d;
	for (size_t i = 0; i < r->nrcpt; i++) {
		struct tally *t = &r->tally[i];
		if (strcmp(t->rcpt, res->recipient) != 0)
			continue;
		if (res->outcome == MXC_DELIVERED)
			t->delivered++;
		else if (res->outcome == MXC_TEMPFAIL)
			t->tempfail++;
		else
			t->permfail++;
		t->last_exit[res->outcome] = sysexit_of_result(res); /* as mxclient(1) */
		if (t->detail[res->outcome][0] == '\0')
			snprintf(t->detail[res->outcome],
			         sizeof t->detail[res->outcome], "%s",
			         res->detail);
		break;
	}
	r->in_flight--;
	r->done++;
	if (r->leak_every != 0 && r->done % r->leak_every == 0 &&
	    dup(STDIN_FILENO) >= 0)
		r->leaked++;
	start_more(r);
	if (r->in_flight == 0 && r->started == r->phase_total)
		event_base_loopbreak(r->base);
}

/* Starts deliveries of the phase until the window is full. */
static void start_more(struct run *r)
{
	while (r->in_flight < r->window && r->started < r->phase_total &&
	       !r->failed) {
		const char *rcpt = r->tally[r->next % r->nrcpt].rcpt;
		bool via_proxy = r->proxy_every != 0 &&
		                 r->next % r->proxy_every == 0;
		struct mxc_delivery_params p = {
			.sender = "bounds@sender.example", .recipient = rcpt,
			.message = r->msg, .done = on_done, .arg = r,
		};
		char err[256];
		if (mxc_deliver(via_proxy ? r->proxied : r->direct, &p, err,
		                sizeof err) == NULL) {
			printf("FAIL bounds: cannot queue %s: %s\n", rcpt, err);
			r->failed = 1;
			return;
		}
		r->next++;
		r->started++;
		r->in_flight++;
	}
}

/* Runs `n` deliveries to completion. */
static void run_phase(struct run *r, unsigned long n)
{
	r->started = 0;
	r->phase_total = n;
	start_more(r);
	if (r->in_flight > 0)
		event_base_dispatch(r->base);
}

/* Copies bytes from one descriptor to another; false at EOF or error. */
static bool pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof buf);
	if (n <= 0)
		return false;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w <= 0)
			return false;
		off += w;
	}
	return true;
}

/* --relay HOST PORT: a proxy command relaying stdin/stdout to HOST:PORT. */
static int relay(const char *host, const char *port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	                          .ai_flags = AI_NUMERICHOST }, *ai;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return 1;
	int s = socket(ai->ai_family, SOCK_STREAM, 0);
	if (s < 0 || connect(s, ai->ai_addr, ai->ai_addrlen) != 0) {
		fprintf(stderr, "relay: cannot connect to %s port %s\n", host,
		        port);
		return 1;
	}
	freeaddrinfo(ai);
	struct pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 },
	                         { s, POLLIN, 0 } };
	for (;;) {
		if (poll(fds, 2, -1) < 0)
			return 1;
		if (fds[0].revents != 0 && !pump(STDIN_FILENO, s))
			return 0;
		if (fds[1].revents != 0 && !pump(s, STDOUT_FILENO))
			return 0;
	}
}

/* --log: the engines' log lines on stderr, tagged with the delivery. */
static void on_log(void *arg, const struct mxc_log_context *ctx,
                   enum mxc_log_level level, const char *line)
{
	(void)level;
	fprintf(stderr, "%s %p %s\n", (const char *)arg,
	        (const void *)ctx->delivery, line);
}

/* Makes one engine on the run's loop, with or without the relay. */
static struct mxc_engine *make_engine(struct run *r, const char *const *res,
                                      const char *anchor, const char *cmd,
                                      bool log)
{
	struct mxc_engine_options o = {
		.resolvers = res,
		.trust_anchor_file = anchor,
		/* Through a proxy command "connected" means the MX's first
		 * byte: the sink is slow to greet under this load, so the
		 * scaled connect timeout (30 s * 120/600) must not be tiny.
		 * No outcome in the mix waits for a timeout. */
		.timeout = 120,
		.proxy_command = cmd,
		.log = log ? on_log : NULL,
		.log_arg = cmd != NULL ? "proxied" : "direct",
		.log_level = MXC_LOG_DEBUG,
	};
	char err[256];
	struct mxc_engine *e = mxc_engine_new(r->base, &o, err, sizeof err);
	if (e == NULL)
		printf("FAIL bounds: engine: %s\n", err);
	return e;
}

/* Compares the two counts against the allowances; returns failures. */
static int judge(const struct holdings *a, const struct holdings *b,
                 long long heap_slack, long rss_slack_kb)
{
	int bad = 0;
	if (a->fds < 0 || a->children < 0 || a->rss_kb < 0) {
		printf("FAIL bounds: /proc could not be read\n");
		return 1;
	}
	if (b->fds > a->fds) {
		printf("FAIL bounds: %ld file descriptors, %ld after the first "
		       "phase\n", b->fds, a->fds);
		bad++;
	}
	if (b->children > a->children) {
		printf("FAIL bounds: %ld child processes, %ld after the first "
		       "phase\n", b->children, a->children);
		bad++;
	}
	if (b->heap > a->heap + heap_slack) {
		printf("FAIL bounds: heap %lld bytes, more than %lld + %lld\n",
		       b->heap, a->heap, heap_slack);
		bad++;
	}
	/* The sanitizer's quarantine and shadow memory make RSS meaningless
	 * there; its exact heap count above is checked instead. */
	if (__sanitizer_get_current_allocated_bytes == NULL &&
	    b->rss_kb > a->rss_kb + rss_slack_kb) {
		printf("FAIL bounds: VmRSS %ld kB, more than %ld + %ld kB\n",
		       b->rss_kb, a->rss_kb, rss_slack_kb);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--relay") == 0)
		return relay(argv[2], argv[3]);
	const char *resolvers[2] = { NULL, NULL }, *anchor = NULL;
	unsigned long first = 100, then = 10000, heap_slack = 256 * 1024,
	              rss_slack = 4096;
	struct run r = { .proxy_every = 20, .window = 50 };
	bool log_lines = false;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		const char *opt = argv[i], *val = argv[i + 1];
		bool ok = true;
		if (strcmp(opt, "--log") == 0) {
			log_lines = true;
			i--;   /* no value */
		} else if (strcmp(opt, "--resolver") == 0)
			resolvers[0] = val;
		else if (strcmp(opt, "--trust-anchor") == 0)
			anchor = val;
		else if (strcmp(opt, "--first") == 0)
			ok = parse_count(val, &first);
		else if (strcmp(opt, "--then") == 0)
			ok = parse_count(val, &then);
		else if (strcmp(opt, "--window") == 0)
			ok = parse_count(val, &r.window) && r.window > 0;
		else if (strcmp(opt, "--proxy-every") == 0)
			ok = parse_count(val, &r.proxy_every);
		else if (strcmp(opt, "--heap-slack") == 0)
			ok = parse_count(val, &heap_slack);
		else if (strcmp(opt, "--rss-slack") == 0)
			ok = parse_count(val, &rss_slack);
		else if (strcmp(opt, "--leak-fd") == 0)
			ok = parse_count(val, &r.leak_every);
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "bounds: bad option %s %s\n", opt, val);
			return 2;
		}
	}
	if (i == argc || argc - i > RCPT_MAX) {
		fprintf(stderr, "usage: bounds --resolver ADDR --trust-anchor "
		        "FILE [options] RCPT... (at most %d)\n", RCPT_MAX);
		return 2;
	}
	for (; i < argc; i++)
		r.tally[r.nrcpt++].rcpt = argv[i];

	/* The relay is this very program; /proc/self/exe names it even when
	 * it was started through a relative path. */
	char self[4096], command[4200];
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	if (len <= 0)
		return 1;
	self[len] = '\0';
	snprintf(command, sizeof command, "'%s' --relay %%h %%p", self);

	static const char body[] = "From: bounds@sender.example\n"
	                           "Subject: bounds\n\nbounds\n";
	char err[256];
	r.base = event_base_new();
	r.msg = mxc_message_new(body, sizeof body - 1, err, sizeof err);
	if (r.base == NULL || r.msg == NULL)
		return 1;
	r.direct = make_engine(&r, resolvers, anchor, NULL, log_lines);
	r.proxied = r.direct != NULL ? make_engine(&r, resolvers, anchor,
	                                          command, log_lines) : NULL;
	if (r.proxied == NULL)
		return 1;

	run_phase(&r, first);
	struct holdings a = take_count(&r, "first");
	run_phase(&r, then);
	struct holdings b = take_count(&r, "then");

	for (size_t k = 0; k < r.nrcpt; k++) {
		const struct tally *t = &r.tally[k];
		if (t->delivered)
			printf("outcome %s delivered %d %lu %s\n", t->rcpt,
			       t->last_exit[MXC_DELIVERED], t->delivered,
			       t->detail[MXC_DELIVERED]);
		if (t->tempfail)
			printf("outcome %s tempfail %d %lu %s\n", t->rcpt,
			       t->last_exit[MXC_TEMPFAIL], t->tempfail,
			       t->detail[MXC_TEMPFAIL]);
		if (t->permfail)
			printf("outcome %s permfail %d %lu %s\n", t->rcpt,
			       t->last_exit[MXC_PERMFAIL], t->permfail,
			       t->detail[MXC_PERMFAIL]);
	}
	if (r.leaked)
		printf("leaked %lu descriptors on purpose\n", r.leaked);
	int bad = r.failed + judge(&a, &b, (long long)heap_slack,
	                           (long)rss_slack);
	if (r.done != first + then) {
		printf("FAIL bounds: %lu completions, expected %lu\n", r.done,
		       first + then);
		bad++;
	}
	if (bad == 0)
		printf("ok bounds\n");
	mxc_engine_free(r.proxied);
	mxc_engine_free(r.direct);
	mxc_message_unref(r.msg);
	event_base_free(r.base);
	return bad == 0 ? 0 : 1;
}
