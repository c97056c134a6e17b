/*
 * waves: delivers one message in waves through one engine, so that a lab
 * case can change DNS between waves and see what the engine's answer
 * cache makes of it (TTL expiry within one process).
 *
 *   waves --resolver ADDR --trust-anchor FILE SENDER WAVE [WAVE...]
 *
 * A WAVE is a comma-separated list of recipients.  After each wave the
 * program prints one line per delivery ("RCPT OUTCOME ADDRESS"; for a
 * delivery " dane=verified" follows when the server matched
 * DNSSEC-validated TLSA records, else " dane=no"; a failure is followed
 * by "  detail: DETAIL" and "  kind: tempfail|permfail KIND"), then the
 * engine's DNS counters so far as "stats sent=N cached=N coalesced=N
 * retried=N timed_out=N zone_keys=N revalidated=N checked_here=N
 * handed_back=N" (then: zone key sets learned, answers validated again
 * from the root after the zone keys said bogus, answers whose RRSIGs
 * were checked against zone keys by the client itself, answers it handed
 * back to getdns) and "wave N done"; it then reads one line from
 * standard input before the next wave (the case changes DNS meanwhile).
 * Exit 0 when every wave ran, 1 on a setup error, 2 for bad usage.  The
 * message is a fixed small one.
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxclient.h"

/* The run's state. */
struct waves {
	struct event_base *base;
	size_t outstanding;      /* deliveries of this wave not yet done */
};

/* One delivery ended: print it; end the loop after the wave's last. */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *r)
{
	struct waves *w = arg;
	(void)d;
	printf("%s %s %s", r->recipient,
	       r->outcome == MXC_DELIVERED ? "delivered" : "failed",
	       r->address[0] != '\0' ? r->address : "-");
	/* Secure MX, address and TLSA answers show in DANE's verdict. */
	if (r->outcome == MXC_DELIVERED)
		printf(" dane=%s", r->dane == MXC_DANE_VERIFIED ? "verified"
		                                                : "no");
	printf("\n");
	if (r->outcome != MXC_DELIVERED)
		printf("  detail: %s\n  kind: %s %s\n", r->detail,
		       r->outcome == MXC_TEMPFAIL ? "tempfail" : "permfail",
		       mxc_failure_name(r->kind));
	fflush(stdout);
	if (--w->outstanding == 0)
		event_base_loopbreak(w->base);
}

/* Queues every recipient of one comma-separated wave. */
static int start_wave(struct waves *w, struct mxc_engine *e,
                      struct mxc_message *msg, const char *sender,
                      const char *list)
{
	char *copy = strdup(list), *next, err[256];
	if (copy == NULL)
		return -1;
	for (char *r = copy; r != NULL; r = next) {
		if ((next = strchr(r, ',')) != NULL)
			*next++ = '\0';
		if (*r == '\0')
			continue;
		struct mxc_delivery_params p = {
			.sender = sender, .recipient = r, .message = msg,
			.done = on_done, .arg = w,
		};
		if (mxc_deliver(e, &p, err, sizeof err) == NULL) {
			fprintf(stderr, "waves: %s: %s\n", r, err);
			free(copy);
			return -1;
		}
		w->outstanding++;
	}
	free(copy);
	return 0;
}

/* Prints the engine's DNS counters so far in one line. */
static void print_stats(struct mxc_engine *e)
{
	struct mxc_engine_stats st = { .size = sizeof st };
	mxc_engine_get_stats(e, &st);
	printf("stats sent=%llu cached=%llu coalesced=%llu retried=%llu "
	       "timed_out=%llu zone_keys=%llu revalidated=%llu "
	       "checked_here=%llu handed_back=%llu\n",
	       (unsigned long long)st.dns_sent,
	       (unsigned long long)st.dns_cached,
	       (unsigned long long)st.dns_coalesced,
	       (unsigned long long)st.dns_retried,
	       (unsigned long long)st.dns_timed_out,
	       (unsigned long long)st.dns_zone_keys,
	       (unsigned long long)st.dns_revalidated,
	       (unsigned long long)st.dns_checked_here,
	       (unsigned long long)st.dns_handed_back);
}

int main(int argc, char **argv)
{
	const char *resolvers[2] = { NULL, NULL }, *anchor = NULL;
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--resolver") == 0)
			resolvers[0] = argv[i + 1];
		else if (strcmp(argv[i], "--trust-anchor") == 0)
			anchor = argv[i + 1];
		else
			break;
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: waves --resolver ADDR --trust-anchor "
		        "FILE SENDER WAVE...\n");
		return 2;
	}
	const char *sender = argv[i++];
	static const char body[] = "From: waves@sender.example\n"
	                           "Subject: waves\n\nwaves\n";
	char err[256];
	struct waves w = { .base = event_base_new() };
	struct mxc_message *msg = mxc_message_new(body, sizeof body - 1, err,
	                                          sizeof err);
	struct mxc_engine_options o = {
		.resolvers = resolvers[0] != NULL ? resolvers : NULL,
		.trust_anchor_file = anchor,
		.timeout = 30,
	};
	struct mxc_engine *e = w.base != NULL && msg != NULL
	                           ? mxc_engine_new(w.base, &o, err, sizeof err)
	                           : NULL;
	if (e == NULL) {
		fprintf(stderr, "waves: %s\n", err);
		return 1;
	}
	int status = 0;
	for (int n = 1; i < argc; i++, n++) {
		if (start_wave(&w, e, msg, sender, argv[i]) != 0) {
			status = 1;
			break;
		}
		if (w.outstanding > 0)
			event_base_dispatch(w.base);
		print_stats(e);
		printf("wave %d done\n", n);
		fflush(stdout);
		char line[64];
		if (i + 1 < argc && fgets(line, sizeof line, stdin) == NULL)
			break;
	}
	mxc_engine_free(e);
	mxc_message_unref(msg);
	event_base_free(w.base);
	return status;
}
