/*
 * sigcheck_driver: feeds replies to sigcheck_reply() for test_sigcheck.py,
 * which signs them with dnspython (an independent implementation of RFC
 * 4034's canonical form) and says what each must come out as.
 *
 * Reads lines from standard input:
 *   key ZONE HEXRDATA            a DNSKEY of ZONE to hold (learnt with the
 *                                next "learn")
 *   learn                        hands the keys given so far to zonekeys,
 *                                as a validated chain would
 *   forget                       drops every held key
 *   check QNAME QTYPE NOW HEXMSG judges one reply; prints "secure" or
 *                                "unsure: WHY"
 * Names are presentation format with a trailing dot and no escapes.
 * Exit 0 when every line was understood, 1 otherwise.
 */
#include "sigcheck.h"
#include "zonekeys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEYS 64
#define LINE_MAX_LEN 200000

/* A key given but not learnt yet. */
struct pending {
	uint8_t owner[255];
	size_t owner_len;
	uint8_t rdata[1100];
	size_t rdata_len;
};

static struct pending keys[MAX_KEYS];
static size_t nkeys;

/* The next space-separated word of *p (NUL-terminated in place), or
 * NULL at the end. */
static char *
next_word(char **p)
{
	char *w = *p + strspn(*p, " ");

	if (*w == '\0')
		return NULL;
	*p = w + strcspn(w, " ");
	if (**p != '\0')
		*(*p)++ = '\0';
	return w;
}

/* Presentation name with a trailing dot to wire format; false if bad. */
static bool
to_wire(const char *text, uint8_t *out, size_t *len)
{
	size_t n = 0;

	if (strcmp(text, ".") == 0) {
		out[0] = 0;
		*len = 1;
		return true;
	}
	while (*text != '\0') {
		size_t l = strcspn(text, ".");

		if (l == 0 || l > 63 || n + l + 2 > 255)
			return false;
		out[n++] = (uint8_t)l;
		memcpy(out + n, text, l);
		n += l;
		text += l;
		if (*text == '.')
			text++;
	}
	out[n++] = 0;
	*len = n;
	return true;
}

/* Hex to bytes; false if odd or not hex, or over max. */
static bool
from_hex(const char *hex, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(hex);

	if (n % 2 != 0 || n / 2 > max)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return false;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return true;
}

/*
 * Learns every pending key as its zone's set: one DNSKEY RRset per zone,
 * with an RRSIG over it by a tag that none of the keys has, so that every
 * key is kept (zonekeys keeps the keys that do not sign the set).
 */
static bool
learn(struct zonekeys *zk)
{
	struct zonekeys_record chain[2 * MAX_KEYS];
	size_t n = 0;
	time_t now = time(NULL);
	uint16_t tag = 1;

	for (bool clash = true; clash; ) {
		clash = false;
		for (size_t i = 0; i < nkeys; i++)
			if (zonekeys_key_tag(keys[i].rdata,
			    keys[i].rdata_len) == tag) {
				tag++;
				clash = true;
			}
	}
	for (size_t i = 0; i < nkeys; i++) {
		chain[n++] = (struct zonekeys_record){ .owner = keys[i].owner,
		    .owner_len = keys[i].owner_len, .type = ZONEKEYS_TYPE_DNSKEY,
		    .ttl = 3600, .rdata = keys[i].rdata,
		    .rdata_len = keys[i].rdata_len };
		chain[n++] = (struct zonekeys_record){ .owner = keys[i].owner,
		    .owner_len = keys[i].owner_len, .type = ZONEKEYS_TYPE_RRSIG,
		    .ttl = 3600, .covered = ZONEKEYS_TYPE_DNSKEY, .key_tag = tag,
		    .original_ttl = 3600,
		    .expiration = (uint32_t)now + 86400 };
	}
	nkeys = 0;
	return zonekeys_learn(zk, chain, n, now, 0);
}

/* Judges one reply and prints the verdict. */
static bool
check(struct zonekeys *zk, char *args)
{
	static uint8_t msg[LINE_MAX_LEN / 2];
	char *qname = next_word(&args), *qtype = next_word(&args);
	char *now = next_word(&args), *hex = next_word(&args);
	uint8_t wire[255];
	size_t wire_len, len;
	const char *why = "";

	if (qname == NULL || qtype == NULL || now == NULL || hex == NULL ||
	    !to_wire(qname, wire, &wire_len) ||
	    !from_hex(hex, msg, sizeof(msg), &len))
		return false;
	if (sigcheck_reply(msg, len, wire, wire_len,
	    (uint16_t)strtoul(qtype, NULL, 10), zk,
	    (uint32_t)strtoull(now, NULL, 10), &why))
		printf("secure\n");
	else
		printf("unsure: %s\n", why);
	return true;
}

int
main(void)
{
	static char line[LINE_MAX_LEN];
	struct zonekeys *zk = zonekeys_new(0);
	int status = 0;

	if (zk == NULL)
		return 1;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "key ", 4) == 0 && nkeys < MAX_KEYS) {
			char *rest = line + 4;
			char *zone = next_word(&rest), *hex = next_word(&rest);
			struct pending *k = &keys[nkeys];

			if (zone == NULL || hex == NULL ||
			    !to_wire(zone, k->owner, &k->owner_len) ||
			    !from_hex(hex, k->rdata, sizeof(k->rdata),
			    &k->rdata_len))
				status = 1;
			else
				nkeys++;
		} else if (strcmp(line, "learn") == 0) {
			if (!learn(zk))
				status = 1;
		} else if (strcmp(line, "forget") == 0)
			(void)zonekeys_forget(zk);
		else if (strncmp(line, "check ", 6) == 0) {
			if (!check(zk, line + 6))
				status = 1;
		} else
			status = 1;
		if (status != 0) {
			fprintf(stderr, "sigcheck_driver: bad line\n");
			break;
		}
		fflush(stdout);
	}
	zonekeys_free(zk);
	return status;
}
