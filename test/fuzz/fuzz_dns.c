/*
 * fuzz_dns: the classification of DNS answers (src/dns.c, dns_classify()),
 * which turns what getdns hands a lookup's callback into found / no data /
 * no such name / failed, with its DNSSEC status.
 *
 * Input: a byte choosing the type asked (MX, A, AAAA, TLSA), a byte giving
 * the DNSSEC status getdns would report and bending the shape of the
 * response (fields left out or of the wrong kind), then a DNS message in
 * wire format.  The message is NOT parsed by getdns: getdns_wire2msg_dict()
 * and the name decompression behind it read past the end of malformed
 * messages (see README.md), so this file parses the wire itself, with
 * bounds checks, and builds the dict in the shape getdns 1.6 gives a
 * callback (replies_tree/0: header, question, answer, canonical_name,
 * dnssec_status).
 *
 * Properties: a reply whose rcode is neither NOERROR nor NXDOMAIN, a bogus
 * one, or one without a usable status is DNS_FAIL, never "no records" (a
 * DANE downgrade); NXDOMAIN only from rcode 3; found means 1..100 records of
 * the type asked, owned by the canonical name, as many as the message
 * holds (up to 100); the error text is set exactly for DNS_FAIL; names come
 * out printable (escaped presentation format), lower case, without the
 * trailing dot.
 */
#include <getdns/getdns.h>
#include <getdns/getdns_extra.h>

#include <ctype.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"

/* Most answer records put in the dict (dns.c takes at most 100). */
#define FUZZ_DNS_RR_MAX 200

/* The wire message being read. */
struct wire {
	const uint8_t *p; /* the message */
	size_t len;       /* its length */
};

/* What the harness knows, for the callback's checks. */
struct expect {
	enum dns_type type;   /* asked */
	bool reply;           /* a reply dict is in replies_tree */
	bool has_header;      /* with its header (and so its rcode) */
	bool has_status;      /* dnssec_status is there and valid */
	uint32_t rcode;       /* header rcode */
	uint32_t status;      /* dnssec_status given */
	bool bent;            /* some field was left out or made wrong */
	size_t owned;         /* records of the type owned by the canonical
	                         name, as a careful reader counts them */
	bool called;          /* the callback ran */
};

/*
 * Reads the (possibly compressed) name at *off into out (wire form,
 * uncompressed, at most 255 bytes) and advances *off past it.  Returns the
 * name's length, or 0 when it is malformed or runs past the message.
 */
static size_t
read_name(const struct wire *w, size_t *off, uint8_t out[256])
{
	size_t pos = *off, n = 0, jumps = 0;
	bool jumped = false;

	for (;;) {
		uint8_t c;

		if (pos >= w->len)
			return 0;
		c = w->p[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= w->len || ++jumps > 64)
				return 0;
			if (!jumped)
				*off = pos + 2;
			jumped = true;
			pos = (size_t)(c & 0x3f) << 8 | w->p[pos + 1];
			continue;
		}
		if ((c & 0xc0) != 0)
			return 0;
		if (pos + 1 + c > w->len || n + 1 + c > 255)
			return 0;
		memcpy(out + n, w->p + pos, 1 + (size_t)c);
		n += 1 + (size_t)c;
		pos += 1 + (size_t)c;
		if (c == 0)
			break;
	}
	if (!jumped)
		*off = pos;
	return n;
}

/* Case-insensitive equality of two wire names. */
static bool
name_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (tolower(a[i]) != tolower(b[i]))
			return false;
	return true;
}

/* Reads a 16-bit big-endian number. */
static uint16_t
u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Sets a bindata field. */
static void
set_bin(getdns_dict *d, const char *key, const uint8_t *p, size_t len)
{
	getdns_bindata bd = { len, (uint8_t *)(uintptr_t)p };

	(void)getdns_dict_set_bindata(d, key, &bd);
}

/* One parsed answer record. */
struct rr {
	uint8_t owner[256]; /* its owner name, wire form, uncompressed */
	size_t owner_len;   /* bytes in owner */
	uint16_t type;      /* its RR type */
	getdns_dict *dict;  /* the record as getdns would give it (built,
	                       copied into the answer list, then freed) */
};

/* Builds the rdata dict of one record from its wire rdata. */
static getdns_dict *
rdata_dict(const struct wire *w, uint16_t type, size_t off, size_t rdlen,
           uint8_t shape)
{
	getdns_dict *rd = getdns_dict_create();
	const uint8_t *p = w->p + off;
	uint8_t name[256];
	size_t at, nlen;

	FUZZ_ASSERT(rd != NULL, "out of memory");
	set_bin(rd, "rdata_raw", p, rdlen);
	switch (type) {
	case GETDNS_RRTYPE_MX:
		if (rdlen >= 2)
			(void)getdns_dict_set_int(rd, "preference", u16(p));
		at = off + 2;
		if (rdlen >= 3 && (nlen = read_name(w, &at, name)) > 0 &&
		    !(shape & 0x40))
			set_bin(rd, "exchange", name, nlen);
		break;
	case GETDNS_RRTYPE_CNAME:
		at = off;
		if ((nlen = read_name(w, &at, name)) > 0)
			set_bin(rd, "cname", name, nlen);
		break;
	case GETDNS_RRTYPE_A:
		set_bin(rd, "ipv4_address", p, rdlen);
		break;
	case GETDNS_RRTYPE_AAAA:
		set_bin(rd, "ipv6_address", p, rdlen);
		break;
	case GETDNS_RRTYPE_TLSA:
		if (rdlen < 3)
			break;
		(void)getdns_dict_set_int(rd, "certificate_usage", p[0]);
		(void)getdns_dict_set_int(rd, "selector", p[1]);
		(void)getdns_dict_set_int(rd, "matching_type",
		                          shape & 0x40 ? 256u + p[2] : p[2]);
		set_bin(rd, "certificate_association_data", p + 3, rdlen - 3);
		break;
	}
	return rd;
}

/* Checks the answer against what the message holds. */
static void
check_answer(void *arg, const struct dns_answer *a)
{
	struct expect *e = arg;

	e->called = true;
	FUZZ_ASSERT(a->type == e->type, "type changed");
	FUZZ_ASSERT(a->error != NULL && a->canonical != NULL, "NULL strings");
	FUZZ_ASSERT((a->result == DNS_FAIL) == (a->error[0] != '\0'),
	            "result %d with error \"%s\"", (int)a->result, a->error);
	FUZZ_ASSERT(strlen(a->canonical) < 256, "canonical name too long");
	for (const char *c = a->canonical; *c != '\0'; c++)
		FUZZ_ASSERT(!isupper((unsigned char)*c), "upper case: %s",
		            a->canonical);
	/* getdns writes names in presentation format: bytes outside
	 * printable ASCII, and dots inside labels, come escaped (\DDD, \.),
	 * so a final '.' can only be an escaped one. */
	FUZZ_ASSERT(fuzz_printable(a->canonical, strlen(a->canonical)),
	            "canonical name not printable");
	FUZZ_ASSERT(a->canonical[0] == '\0' ||
	            a->canonical[strlen(a->canonical) - 1] != '.' ||
	            strchr(a->canonical, '\\') != NULL,
	            "trailing dot: %s", a->canonical);
	if (a->result == DNS_FOUND) {
		FUZZ_ASSERT(a->count >= 1 && a->count <= 100, "count %zu",
		            a->count);
		FUZZ_ASSERT((a->mx != NULL) == (e->type == DNS_MX) &&
		            (a->addr != NULL) == (e->type == DNS_A ||
		            e->type == DNS_AAAA) &&
		            (a->tlsa != NULL) == (e->type == DNS_TLSA),
		            "record arrays do not match the type");
	} else {
		FUZZ_ASSERT(a->count == 0 && a->mx == NULL && a->addr == NULL &&
		            a->tlsa == NULL, "records with result %d",
		            (int)a->result);
	}
	if (!e->reply) {
		FUZZ_ASSERT(a->result == DNS_FAIL, "no reply, result %d",
		            (int)a->result);
		return;
	}
	if (e->rcode != 0 && e->rcode != 3)
		FUZZ_ASSERT(a->result == DNS_FAIL, "rcode %u gave result %d",
		            e->rcode, (int)a->result);
	if (a->result == DNS_NXDOMAIN)
		FUZZ_ASSERT(e->rcode == 3, "NXDOMAIN from rcode %u", e->rcode);
	if (a->result == DNS_FOUND || a->result == DNS_NODATA)
		FUZZ_ASSERT(e->rcode == 0, "records from rcode %u", e->rcode);
	if (!e->has_status || e->status == GETDNS_DNSSEC_BOGUS)
		FUZZ_ASSERT(a->result == DNS_FAIL, "status %u gave result %d",
		            e->status, (int)a->result);
	/* The rcode is judged first: a bogus SERVFAIL is a SERVFAIL. */
	if (e->has_status && e->status == GETDNS_DNSSEC_BOGUS &&
	    e->has_header && (e->rcode == 0 || e->rcode == 3))
		FUZZ_ASSERT(a->dnssec == DNSSEC_BOGUS, "bogus reported as %s",
		            dnssec_status_name(a->dnssec));
	if (a->result != DNS_FAIL) {
		if (!e->bent && a->result != DNS_NXDOMAIN)
			FUZZ_ASSERT(a->count == (e->owned < 100 ? e->owned : 100),
			            "%zu records, the message owns %zu", a->count,
			            e->owned);
		FUZZ_ASSERT(a->dnssec != DNSSEC_BOGUS, "bogus but not failed");
	}
	for (size_t i = 0; i < a->count && e->type == DNS_MX; i++) {
		FUZZ_ASSERT(strlen(a->mx[i].host) < sizeof(a->mx[i].host) &&
		            a->mx[i].pref <= 65535, "MX record %zu", i);
		FUZZ_ASSERT(fuzz_printable(a->mx[i].host,
		            strlen(a->mx[i].host)), "MX host not printable");
		for (const char *c = a->mx[i].host; *c != '\0'; c++)
			FUZZ_ASSERT(!isupper((unsigned char)*c), "MX host %s",
			            a->mx[i].host);
	}
	for (size_t i = 0; i < a->count && e->type == DNS_TLSA; i++)
		FUZZ_ASSERT(a->tlsa[i].len == 0 || a->tlsa[i].data != NULL,
		            "TLSA record %zu without data", i);
	for (size_t i = 0; i < a->count && e->type == DNS_A; i++)
		FUZZ_ASSERT(a->addr[i].ss_family == AF_INET, "A family");
	for (size_t i = 0; i < a->count && e->type == DNS_AAAA; i++)
		FUZZ_ASSERT(a->addr[i].ss_family == AF_INET6, "AAAA family");
}

/* Builds the response dict from the message and classifies it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t rrtypes[] = { GETDNS_RRTYPE_MX, GETDNS_RRTYPE_A,
		GETDNS_RRTYPE_AAAA, GETDNS_RRTYPE_TLSA };
	static struct rr rrs[FUZZ_DNS_RR_MAX];
	struct expect e;
	struct wire w;
	getdns_dict *response, *reply, *header, *question;
	getdns_list *replies, *answer;
	uint8_t qname[256], canon[256], shape;
	size_t off, qlen = 0, clen, nrr = 0, i;
	unsigned an;

	if (size < 2)
		return 0;
	memset(&e, 0, sizeof(e));
	e.type = (enum dns_type)(data[0] % 4);
	shape = data[1];
	w.p = data + 2;
	w.len = size - 2;

	response = getdns_dict_create();
	replies = getdns_list_create();
	FUZZ_ASSERT(response != NULL && replies != NULL, "out of memory");
	(void)getdns_dict_set_int(response, "status", GETDNS_RESPSTATUS_GOOD);
	if (w.len >= 12 && !(shape & 0x80 && shape & 0x20)) {
		e.reply = true;
		e.rcode = w.p[3] & 0x0f;
		reply = getdns_dict_create();
		header = getdns_dict_create();
		question = getdns_dict_create();
		answer = getdns_list_create();
		FUZZ_ASSERT(reply && header && question && answer, "memory");
		(void)getdns_dict_set_int(header, "id", u16(w.p));
		(void)getdns_dict_set_int(header, "rcode", e.rcode);
		(void)getdns_dict_set_int(header, "ancount", u16(w.p + 6));
		if (!(shape & 0x10)) {
			(void)getdns_dict_set_dict(reply, "header", header);
			e.has_header = true;
		} else {
			e.bent = true;
		}
		off = 12;
		if (u16(w.p + 4) > 0 && (qlen = read_name(&w, &off, qname)) &&
		    off + 4 <= w.len) {
			set_bin(question, "qname", qname, qlen);
			(void)getdns_dict_set_int(question, "qtype",
			                          u16(w.p + off));
			off += 4;
			(void)getdns_dict_set_dict(reply, "question", question);
		} else {
			qlen = 0;
		}
		for (an = 0; an < u16(w.p + 6) && nrr < FUZZ_DNS_RR_MAX; an++) {
			struct rr *r = &rrs[nrr];
			size_t rdlen;

			if ((r->owner_len = read_name(&w, &off, r->owner)) == 0 ||
			    off + 10 > w.len)
				break;
			r->type = u16(w.p + off);
			rdlen = u16(w.p + off + 8);
			off += 10;
			if (off + rdlen > w.len)
				break;
			r->dict = getdns_dict_create();
			FUZZ_ASSERT(r->dict != NULL, "memory");
			set_bin(r->dict, "name", r->owner, r->owner_len);
			(void)getdns_dict_set_int(r->dict, "type", r->type);
			(void)getdns_dict_set_int(r->dict, "class", 1);
			(void)getdns_dict_set_int(r->dict, "ttl", 300);
			getdns_dict *rd = rdata_dict(&w, r->type, off, rdlen, shape);
			(void)getdns_dict_set_dict(r->dict, "rdata", rd);
			getdns_dict_destroy(rd);
			(void)getdns_list_set_dict(answer, nrr, r->dict);
			getdns_dict_destroy(r->dict);
			off += rdlen;
			nrr++;
		}
		/* The canonical name: the qname with CNAMEs followed, as
		 * getdns works it out. */
		memcpy(canon, qname, qlen);
		clen = qlen;
		for (unsigned hop = 0; hop < 8 && clen > 0; hop++) {
			bool moved = false;

			for (i = 0; i < nrr && !moved; i++) {
				getdns_dict *rr, *rd;
				getdns_bindata *bd;

				if (rrs[i].type != GETDNS_RRTYPE_CNAME ||
				    !name_eq(rrs[i].owner, rrs[i].owner_len,
				             canon, clen))
					continue;
				/* The target as the dict holds it. */
				if (getdns_list_get_dict(answer, i, &rr) ||
				    getdns_dict_get_dict(rr, "rdata", &rd) ||
				    getdns_dict_get_bindata(rd, "cname", &bd))
					continue;
				memcpy(canon, bd->data, bd->size);
				clen = bd->size;
				moved = true;
			}
			if (!moved)
				break;
		}
		if (clen > 0 && !(shape & 0x08))
			set_bin(reply, "canonical_name", canon, clen);
		else
			e.bent = true; /* dns.c falls back to the qname */
		for (i = 0; i < nrr; i++)
			if (rrs[i].type == rrtypes[e.type] &&
			    name_eq(rrs[i].owner, rrs[i].owner_len, canon, clen))
				e.owned++;
		(void)getdns_dict_set_list(reply, "answer", answer);
		e.status = 400u + (shape & 3);
		if (shape & 0x04) {
			e.bent = true;
			if (shape & 0x80)
				(void)getdns_dict_set_int(reply, "dnssec_status",
				                          399);
		} else {
			e.has_status = true;
			(void)getdns_dict_set_int(reply, "dnssec_status",
			                          e.status);
		}
		if (shape & 0x40)
			e.bent = true;
		(void)getdns_list_set_dict(replies, 0, reply);
		getdns_dict_destroy(reply);
		getdns_dict_destroy(header);
		getdns_dict_destroy(question);
		getdns_list_destroy(answer);
	}
	(void)getdns_dict_set_list(response, "replies_tree", replies);
	getdns_list_destroy(replies);

	FUZZ_ASSERT(dns_classify(e.type, "example.net", response, check_answer,
	                         &e), "dns_classify refused the name");
	FUZZ_ASSERT(e.called, "callback not called");
	getdns_dict_destroy(response);
	return 0;
}
