/*
 * config: helpers every module shares: scaled timeouts and log lines.
 */
#include <stdarg.h>
#include <stdio.h>

#include "config.h"

/* The longest RFC 5321 4.5.3.2 timeout: the final reply, 10 minutes. */
#define LONGEST_RFC_WAIT 600
/* The shortest a scaled stage may get, ms, unless --timeout is shorter. */
#define STAGE_FLOOR_MS 5000

/* A stage's timeout, scaled by the configured longest wait. */
unsigned config_timeout_ms(const struct config *config, unsigned rfc_seconds)
{
	if (config->timeout == 0)
		return rfc_seconds * 1000u;
	unsigned long long ms = (unsigned long long)rfc_seconds * 1000u *
	                        config->timeout / LONGEST_RFC_WAIT;
	/* Scaling 30 s of connect by 10/600 would leave half a second: keep
	 * every stage at a sane floor unless the user's whole wait is less. */
	unsigned long long floor = (unsigned long long)config->timeout * 1000u;
	if (floor > STAGE_FLOOR_MS)
		floor = STAGE_FLOOR_MS;
	if (ms < floor)
		ms = floor;
	if (ms > 24ull * 3600 * 1000)
		ms = 24ull * 3600 * 1000;
	return (unsigned)ms;
}

/* Formats and emits one log line. */
void config_log(const struct config *config, const struct logctx *ctx,
                enum mxc_log_level level, const char *fmt, ...)
{
	if (!config_logs(config, level))
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	struct mxc_log_context c = { 0 };
	if (ctx != NULL) {
		c.delivery_id = ctx->delivery;
		c.session_id = ctx->session;
		if (ctx->delivery != 0 && config->find_delivery != NULL)
			c.delivery = config->find_delivery(config->engine,
			                                   ctx->delivery);
	}
	config->log(config->log_arg, &c, level, line);
}
