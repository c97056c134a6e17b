/*
 * sysexit: maps a delivery's result (data) to the command's exit status,
 * as sendmail-compatible programs report it (sysexits.h).  Pure, so a
 * table test and the engine scenarios check it.
 */
#include <string.h>
#include <sysexits.h>

#include "sysexit.h"

/* The exit status of one result. */
int sysexit_of_result(const struct mxc_result *r)
{
	if (r->outcome == MXC_DELIVERED)
		return EX_OK;
	/* Every temporary failure is 75, a local one (out of memory, TLS
	 * that cannot be set up) too: callers read any other non-zero status
	 * as permanent, and the message would be bounced for a passing
	 * shortage. */
	if (r->outcome != MXC_PERMFAIL)
		return EX_TEMPFAIL;
	switch (r->kind) {
	case MXC_FAILURE_NO_DOMAIN:
	case MXC_FAILURE_NULL_MX:
	case MXC_FAILURE_NO_MX_HOST:
	case MXC_FAILURE_NO_ADDRESS:
		return EX_NOHOST;
	default:
		break;
	}
	/* RFC 3463 5.1.x: a bad destination mailbox address. */
	if (r->stage == MXC_STAGE_RCPT && strncmp(r->enhanced, "5.1.", 4) == 0)
		return EX_NOUSER;
	return EX_UNAVAILABLE;
}
