/*
 * config: the engine-wide settings and shared objects every delivery and
 * SMTP session reads.  Owned by the engine; the others only borrow it.
 */
#ifndef MXC_CONFIG_H
#define MXC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mxclient.h"

struct event_base;
struct dns;
struct dnscache;
struct tls_ctx;
struct tlscache;
struct transport;
struct pool;

/* Round trips ("turns": the client wrote and then waited for the server),
 * summed over every session of the engine, for its stats. */
struct config_turns {
	uint64_t setup;        /* greeting to READY, TLS handshake included */
	uint64_t transactions; /* RSET, MAIL to the final reply */
	uint64_t carried;      /* transactions those were counted over */
};

struct config {
	struct mxc_engine *engine; /* the owner */
	/* The live delivery with an id, or NULL (ended, or none): log lines
	 * carry ids, the log callback gets the delivery.  NULL: none. */
	struct mxc_delivery *(*find_delivery)(const struct mxc_engine *engine,
	                                      uint64_t id);
	struct event_base *base;  /* the caller's loop */
	struct dns *dns;          /* the resolver (attempts) */
	struct dnscache *dnscache; /* answers shared by every delivery: the
	                             only way deliveries look names up */
	struct tls_ctx *tls;      /* the TLS context */
	struct tlscache *tlscache; /* TLS sessions to resume */
	struct transport *transport; /* direct, SOCKS5 or proxy command */
	struct pool *pool;        /* sessions kept for reuse or ending */
	char helo[256];           /* EHLO/HELO name */
	unsigned port;            /* SMTP port */
	enum mxc_tls_level tls_level; /* what TLS every delivery requires */
	unsigned timeout;         /* 0: RFC 5321 timeouts; else the longest
	                             single wait in seconds (see timeout_ms) */
	bool chunking;            /* BDAT where CHUNKING is offered */
	struct config_turns *turns; /* the engine's, counted by sessions */
	mxc_log_fn *log;          /* NULL: no logging */
	void *log_arg;
	enum mxc_log_level log_level;
};

/*
 * A stage's timeout in ms: its RFC value, or scaled so the longest RFC wait
 * (10 minutes, the final reply) becomes config->timeout, never below 1 s.
 */
unsigned config_timeout_ms(const struct config *config, unsigned rfc_seconds);

/* True when a line at `level` would reach the log callback. */
#define config_logs(config, level) \
	((config)->log != NULL && (level) <= (config)->log_level)

/*
 * Who a log line is about, by id (0: nobody): never an object pointer,
 * because a session outlives the deliveries it carries.
 */
struct logctx {
	uint64_t delivery;
	uint64_t session;
};

/*
 * Formats one log line about `ctx` (NULL: the engine) and hands it to the
 * log callback.  Text from outside must already be escaped.
 */
void config_log(const struct config *config, const struct logctx *ctx,
                enum mxc_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
