/*
 * fuzz_anchor: the trust-anchor reader (src/dns.c, through dns_new(): the
 * file the --trust-anchor option names, parsed by getdns_fp2rr_list and
 * filtered to DS and DNSKEY records).  The input is the file's content,
 * handed over as a memfd so nothing touches the disk.  The resolver is
 * created on a private event_base with one documentation-address upstream
 * and freed at once: no query is ever sent.
 * Properties: a resolver is made only from a file holding a DS or DNSKEY
 * record (NUL bytes and parentheses left out, as getdns reads it); a
 * refusal has a one-line printable reason; nothing leaks.
 */
#include <event2/event.h>
#include <strings.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dns.h"
#include "fuzz.h"

/* True when the text has `word` somewhere (ASCII case ignored). */
static bool
has_word(const uint8_t *data, size_t size, const char *word)
{
	size_t n = strlen(word);

	for (size_t i = 0; i + n <= size; i++)
		if (strncasecmp((const char *)data + i, word, n) == 0)
			return true;
	return false;
}

/*
 * True when the text can name a DS or DNSKEY type (or a generic TYPEnn).
 * getdns's zone-file reader skips NUL bytes and the grouping parentheses
 * even inside a word ("DN\0\0SKEY" and "DN((SKEY" read as DNSKEY, fuzzer
 * finds), so they are left out before looking.
 */
static bool
names_ds_or_dnskey(const uint8_t *data, size_t size)
{
	uint8_t *text = malloc(size > 0 ? size : 1);
	size_t n = 0;
	bool found;

	FUZZ_ASSERT(text != NULL, "out of memory");
	for (size_t i = 0; i < size; i++)
		if (data[i] != '\0' && data[i] != '(' && data[i] != ')')
			text[n++] = data[i];
	found = has_word(text, n, "DS") || has_word(text, n, "DNSKEY") ||
	        has_word(text, n, "TYPE");
	free(text);
	return found;
}

/* One trust-anchor file. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static const char *const upstreams[] = { "192.0.2.53", NULL };
	struct dns_config config;
	struct dns *dns;
	char path[64], err[512];
	int fd;

	if (base == NULL)
		FUZZ_ASSERT((base = event_base_new()) != NULL, "event_base_new");
	fd = memfd_create("anchor", MFD_CLOEXEC);
	FUZZ_ASSERT(fd >= 0, "memfd_create");
	FUZZ_ASSERT(size == 0 || write(fd, data, size) == (ssize_t)size,
	            "write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&config, 0, sizeof(config));
	config.base = base;
	config.upstreams = upstreams;
	config.trust_anchor_file = path;
	memset(err, 'X', sizeof(err));
	dns = dns_new(&config, err, sizeof(err));
	close(fd);
	if (dns != NULL) {
		FUZZ_ASSERT(names_ds_or_dnskey(data, size),
		            "resolver made from a file without DS or DNSKEY");
		dns_free(dns);
		return 0;
	}
	FUZZ_ASSERT(memchr(err, '\0', sizeof(err)) != NULL,
	            "reason not NUL-terminated");
	FUZZ_ASSERT(err[0] != '\0' && strchr(err, '\n') == NULL,
	            "reason \"%s\"", err);
	FUZZ_ASSERT(fuzz_printable(err, strlen(err)), "reason \"%s\"", err);
	return 0;
}
