/*
 * sysexit: the mxclient command's exit status for one delivery's result.
 * The library reports what happened (outcome, failure kind, stage, reply
 * codes); which sysexits.h code a program makes of that is the program's
 * business, decided here alone.
 */
#ifndef MXCLIENT_SYSEXIT_H
#define MXCLIENT_SYSEXIT_H

#include "mxclient.h"

/*
 * The sysexits.h code for a result: 0 delivered; 68 (EX_NOHOST) for a
 * domain that does not exist, has a null MX, no usable MX host or no
 * address; 67 (EX_NOUSER) for a 5.1.x rejection of RCPT; 69
 * (EX_UNAVAILABLE) for any other permanent failure; 71 (EX_OSERR) for a
 * local failure (out of memory); 75 (EX_TEMPFAIL) for any other temporary
 * failure.
 */
int sysexit_of_result(const struct mxc_result *result);

#endif
