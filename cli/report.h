/*
 * report: how the mxclient command prints one delivery's result: as one
 * JSON object per line (--json; the schema is in mxclient(1)), and as
 * posttls-finger-style evidence lines (-v).
 */
#ifndef MXCLIENT_REPORT_H
#define MXCLIENT_REPORT_H

#include <stdio.h>

#include "mxclient.h"

/* Writes `r` to `f` as one JSON object and a newline; `exit_status` is the
 * command's status for it (sysexit_of_result()). */
void report_json(FILE *f, const struct mxc_result *r, int exit_status);

/* The word "dane" has in the JSON: "none", "verified", "unusable",
 * "failed", or "unreached" when no SMTP server was ever talked to (null
 * MX, no such domain, DNS failures, no connection). */
const char *report_dane_word(const struct mxc_result *r);

/* Writes the TLS evidence of `r` to `f`, each line prefixed with
 * "RECIPIENT: ": protocol, cipher and group, the certificate's subject,
 * issuer and fingerprints, every TLSA record and the one that matched in
 * full.  Also after a handshake that failed once the peer's certificate
 * came (a DANE mismatch).  Nothing without either. */
void report_evidence(FILE *f, const struct mxc_result *r);

#endif
