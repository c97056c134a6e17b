/*
 * mxc-daemon-example: how a daemon embeds mxclient in its own event loop.
 *
 * The program owns its event_base and keeps doing its own work on it (here
 * a heartbeat timer standing in for a daemon's real duties) while the
 * library delivers one message to a few recipients on the same loop.  When
 * every completion has arrived it stops its loop and exits 0 if all were
 * delivered.
 *
 *   mxc-daemon-example [--resolver ADDR] [--trust-anchor FILE] [--port N]
 *                      SENDER RECIPIENT... < message
 */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxclient.h"

/* The daemon's own state. */
struct daemon {
	struct event_base *base;
	struct event *heartbeat;
	unsigned beats;
	size_t outstanding; /* deliveries not yet completed */
	int failures;
};

/* The daemon's own periodic work, to show the loop is shared. */
static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *dm = arg;
	(void)fd;
	(void)what;
	dm->beats++;
}

/* One delivery finished: the library calls this from the daemon's loop. */
static void on_done(void *arg, struct mxc_delivery *d,
                    const struct mxc_result *r)
{
	struct daemon *dm = arg;
	(void)d;
	/* The result is data: what failed and where, not only words. */
	printf("%s: %s (%s at %s, %zu attempt(s), dane %s) via %s[%s] %s\n",
	       r->recipient,
	       r->outcome == MXC_DELIVERED ? "delivered" : "not delivered",
	       mxc_failure_name(r->kind), mxc_stage_name(r->stage),
	       r->attempt_count, r->tlsa_matched != NULL ? "verified" : "no",
	       r->mx, r->address, r->detail);
	if (r->outcome != MXC_DELIVERED)
		dm->failures++;
	if (--dm->outstanding == 0)
		event_base_loopexit(dm->base, NULL);
}

/* Reads standard input to EOF. */
static char *slurp(size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap);
	ssize_t n;
	while (buf != NULL && (n = read(0, buf + used, cap - used)) > 0) {
		used += (size_t)n;
		if (used == cap) {
			char *p = realloc(buf, cap *= 2);
			if (p == NULL)
				free(buf);
			buf = p;
		}
	}
	*len = used;
	return buf;
}

int main(int argc, char **argv)
{
	const char *resolvers[2] = { NULL, NULL };
	struct mxc_engine_options opt = { .log_level = MXC_LOG_ERROR };
	int i = 1;
	for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (strcmp(argv[i], "--resolver") == 0) {
			resolvers[0] = argv[i + 1];
			opt.resolvers = resolvers;
		} else if (strcmp(argv[i], "--trust-anchor") == 0) {
			opt.trust_anchor_file = argv[i + 1];
		} else if (strcmp(argv[i], "--port") == 0) {
			opt.port = (unsigned)strtoul(argv[i + 1], NULL, 10);
		} else {
			break;
		}
	}
	if (argc - i < 2) {
		fprintf(stderr, "usage: %s [--resolver ADDR] [--trust-anchor FILE] "
		        "[--port N] SENDER RECIPIENT... < message\n", argv[0]);
		return 64;
	}

	struct daemon dm = { .base = event_base_new() };
	dm.heartbeat = event_new(dm.base, -1, EV_PERSIST, on_heartbeat, &dm);
	struct timeval second = { 1, 0 };
	event_add(dm.heartbeat, &second);

	char err[256];
	struct mxc_engine *engine = mxc_engine_new(dm.base, &opt, err, sizeof err);
	if (engine == NULL) {
		fprintf(stderr, "engine: %s\n", err);
		return 75;
	}
	size_t len;
	char *data = slurp(&len);
	if (data == NULL) {
		fprintf(stderr, "message: out of memory\n");
		return 71;
	}
	struct mxc_message *msg = mxc_message_new(data, len, err, sizeof err);
	free(data);
	if (msg == NULL) {
		fprintf(stderr, "message: %s\n", err);
		return 65;
	}
	for (int r = i + 1; r < argc; r++) {
		struct mxc_delivery_params p = {
			.sender = argv[i],
			.recipient = argv[r],
			.message = msg,
			.done = on_done,
			.arg = &dm,
		};
		if (mxc_deliver(engine, &p, err, sizeof err) == NULL) {
			fprintf(stderr, "%s: %s\n", argv[r], err);
			dm.failures++;
			continue;
		}
		dm.outstanding++;
	}
	mxc_message_unref(msg); /* the deliveries hold their own references */

	if (dm.outstanding > 0)
		event_base_dispatch(dm.base);

	printf("heartbeats while delivering: %u\n", dm.beats);
	mxc_engine_free(engine);
	event_free(dm.heartbeat);
	event_base_free(dm.base);
	return dm.failures == 0 ? 0 : 75;
}
