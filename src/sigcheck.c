/*
 * sigcheck: RRSIG checks of a reply against held zone keys (sigcheck.h
 * says which replies qualify).
 *
 * Why: getdns 1.6 builds a new key object for every signature it checks
 * and, even with a zone's keys installed as a trust anchor, checks a
 * NODATA answer's SOA and NSEC (and the NSEC twice): 8 checks of about
 * 100 us for each new domain a delivery meets.  Here a positive answer or
 * a NODATA costs one check, about 20 us with the subproject's wolfSSL
 * (an NSEC3 denial adds its hash: SHA-1, iterations + 1 times).
 *
 * Reading the reply: names are decompressed with every pointer bounded
 * (it must point before itself, and at most 127 are followed), every
 * length is checked against the message, and only the records the
 * answer is made of are kept (offsets into the message).  The signed
 * data is built as RFC 4034 3.1.8.1 and 6.2-6.3 say: the RRSIG RDATA
 * without its signature, then each record in canonical form (owner and
 * the MX exchange in lower case and uncompressed, the RRSIG's original
 * TTL), sorted by RDATA, duplicates dropped.
 *
 * The signer: any held zone that encloses the owner.  Held keys are keys
 * getdns authenticated from the configured anchor down, and a zone's key
 * holder can delegate any name below it anyway, so a signature by an
 * enclosing held zone proves what a validator walking the chain would.
 *
 * Caching: dnsttl bounds the TTL of a positive answer by the RRSIGs'
 * original TTL and expiry, and of a NODATA by the NSEC's (or NSEC3's)
 * and its RRSIG's;
 * the SOA beside it is not checked here (getdns checks it), and can only
 * lower that bound.
 */
#include "sigcheck.h"
#include "dnssig.h"
#include "wirename.h"
#include "zonekeys.h"

#include <stdlib.h>
#include <string.h>

#define TYPE_NS 2
#define TYPE_SOA 6
#define TYPE_CNAME 5
#define TYPE_A 1
#define TYPE_MX 15
#define TYPE_AAAA 28
#define TYPE_OPT 41
#define TYPE_RRSIG 46
#define TYPE_NSEC 47
#define TYPE_NSEC3 50
#define TYPE_TLSA 52
#define CLASS_IN 1
#define HEADER_LEN 12
#define NAME_MAX_WIRE 255
/* Compression pointers followed in one name, at most. */
#define MAX_HOPS 127
/* Records in one RRset and RRSIGs tried over it, at most; beyond: unsure. */
#define MAX_RRS 100
#define MAX_SIGS 8
/* RRSIG RDATA before the signer's name. */
#define RRSIG_FIXED 18
/* NSEC3 iterations beyond which the hash is not computed here (RFC 9276
 * 3.2 lets validators treat such zones as insecure; getdns decides). */
#define NSEC3_MAX_ITERATIONS 150
/* An NSEC3 owner's first label: the SHA-1 hash in base32hex. */
#define NSEC3_LABEL_LEN 32
/* DNSKEY flags (RFC 4034 2.1.1, RFC 5011 3) and protocol. */
#define FLAG_ZONE 0x0100
#define FLAG_REVOKE 0x0080
#define DNSKEY_PROTOCOL 3

/* One record kept from the reply: where its RDATA is. */
struct rec {
	size_t at;                /* offset of the RDATA in the message */
	size_t len;               /* RDLENGTH */
};

/* A record's RDATA in canonical form, in the RRset's buffer. */
struct canon {
	size_t at;                /* offset in struct rrset's buf */
	size_t len;
};

/* The RRset being checked and the RRSIGs over it. */
struct rrset {
	const uint8_t *msg;       /* the reply */
	size_t msg_len;
	const uint8_t *owner;     /* the name asked, wire, lower case */
	size_t owner_len;
	uint16_t type;
	struct rec rrs[MAX_RRS];
	size_t nrrs;
	struct rec sigs[MAX_SIGS];
	size_t nsigs;
	/* Built by canonicalize(): */
	uint8_t *buf;             /* the canonical RDATA, malloc'd */
	struct canon canon[MAX_RRS];
	size_t ncanon;            /* after dropping duplicates */
};

/* The header fields and section counts of a reply. */
struct header {
	uint16_t flags;
	uint16_t count[4];        /* question, answer, authority, additional */
};

/* One resource record's fixed fields; RDATA at rdata, rdlen octets. */
struct rr {
	uint8_t owner[NAME_MAX_WIRE];  /* lower case, uncompressed */
	size_t owner_len;
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	size_t rdata;
	size_t rdlen;
};

/* Sets *why (when asked) and says "not secure". */
static bool
unsure(const char **why, const char *reason)
{
	if (why != NULL)
		*why = reason;
	return false;
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Reads the name at *pos into out, lower case and uncompressed, and moves
 * *pos past it.  Compression pointers are followed only when `compress`
 * (RFC 4034 forbids them in the names of RRSIG and NSEC RDATA); each must
 * point before itself and at most MAX_HOPS are followed, so a hostile
 * loop ends.
 */
static bool
read_name(const uint8_t *m, size_t len, size_t *pos, bool compress,
    uint8_t out[NAME_MAX_WIRE], size_t *out_len)
{
	size_t at = *pos, n = 0, end = 0;
	bool jumped = false;
	int hops = 0;

	for (;;) {
		uint8_t c;

		if (at >= len)
			return false;
		c = m[at];
		if ((c & 0xC0) == 0xC0) {
			size_t to;

			if (!compress || at + 1 >= len || ++hops > MAX_HOPS)
				return false;
			to = (size_t)(c & 0x3F) << 8 | m[at + 1];
			if (to >= at)
				return false;
			if (!jumped)
				end = at + 2;
			jumped = true;
			at = to;
			continue;
		}
		if (c > 63 || n + (size_t)c + 1 > NAME_MAX_WIRE ||
		    at + 1 + (size_t)c > len)
			return false;
		out[n++] = c;
		if (c == 0)
			break;
		for (size_t i = 0; i < c; i++)
			out[n++] = wirename_lower(m[at + 1 + i]);
		at += (size_t)c + 1;
	}
	*pos = jumped ? end : at + 1;
	*out_len = n;
	return true;
}

/* Reads one resource record at *pos; false when it does not fit. */
static bool
read_rr(const uint8_t *m, size_t len, size_t *pos, struct rr *rr)
{
	if (!read_name(m, len, pos, true, rr->owner, &rr->owner_len) ||
	    len - *pos < 10)
		return false;
	rr->type = get16(m + *pos);
	rr->rclass = get16(m + *pos + 2);
	rr->ttl = get32(m + *pos + 4);
	rr->rdlen = get16(m + *pos + 8);
	rr->rdata = *pos + 10;
	if (len - rr->rdata < rr->rdlen)
		return false;
	*pos = rr->rdata + rr->rdlen;
	return true;
}

/* Whether a record is owned by the name asked. */
static bool
owned(const struct rr *rr, const uint8_t *qname, size_t qname_len)
{
	return rr->owner_len == qname_len &&
	    memcmp(rr->owner, qname, qname_len) == 0;
}

/* The type an RRSIG covers, or 0 for a malformed one. */
static uint16_t
covered(const uint8_t *m, const struct rr *rr)
{
	return rr->rdlen > RRSIG_FIXED ? get16(m + rr->rdata) : 0;
}

/* Adds a record's RDATA place to a bounded list. */
static bool
keep(struct rec *list, size_t *n, size_t max, const struct rr *rr)
{
	if (*n == max)
		return false;
	list[*n].at = rr->rdata;
	list[*n].len = rr->rdlen;
	(*n)++;
	return true;
}

/*
 * Writes record r's RDATA in canonical form to out (room for at least
 * r->len + NAME_MAX_WIRE octets); returns its length, 0 when malformed.
 */
static size_t
canonical_rdata(const struct rrset *s, const struct rec *r, uint8_t *out)
{
	const uint8_t *rd = s->msg + r->at;
	size_t pos, n;

	switch (s->type) {
	case TYPE_A:
		return r->len == 4 ? (memcpy(out, rd, 4), 4) : 0;
	case TYPE_AAAA:
		return r->len == 16 ? (memcpy(out, rd, 16), 16) : 0;
	case TYPE_TLSA:
		return r->len >= 3 ? (memcpy(out, rd, r->len), r->len) : 0;
	case TYPE_MX:
		/* The exchange may be compressed: decompressed, lower case. */
		pos = r->at + 2;
		if (r->len < 3 || !read_name(s->msg, s->msg_len, &pos, true,
		    out + 2, &n) || pos != r->at + r->len)
			return 0;
		memcpy(out, rd, 2);
		return n + 2;
	case TYPE_NSEC3:
		/* No names inside: the RDATA as it came (parsed by
		 * nsec3_params before it is kept). */
		memcpy(out, rd, r->len);
		return r->len;
	case TYPE_NSEC:
		/* Never compressed, and its next name keeps its case (RFC
		 * 6840 5.1): the RDATA as it came, once it parses. */
		pos = r->at;
		if (!read_name(s->msg, s->msg_len, &pos, false, out, &n) ||
		    pos > r->at + r->len)
			return 0;
		memcpy(out, rd, r->len);
		return r->len;
	}
	return 0;
}

/* Orders canonical RDATA as RFC 4034 6.3 does: octet by octet, a
 * shorter prefix first. */
static int
canon_cmp(const uint8_t *buf, const struct canon *a, const struct canon *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(buf + a->at, buf + b->at, n);

	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/*
 * Puts every record's canonical RDATA in s->buf, sorted, without
 * duplicates.  False when a record is malformed or memory runs out.
 */
static bool
canonicalize(struct rrset *s)
{
	size_t cap = 0, used = 0;

	for (size_t i = 0; i < s->nrrs; i++)
		cap += s->rrs[i].len + NAME_MAX_WIRE;
	if ((s->buf = malloc(cap)) == NULL)
		return false;
	s->ncanon = 0;
	for (size_t i = 0; i < s->nrrs; i++) {
		struct canon c = { used, canonical_rdata(s, &s->rrs[i],
		    s->buf + used) };
		size_t k;

		if (c.len == 0)
			return false;
		used += c.len;
		/* Insertion into the sorted list; a duplicate is dropped. */
		for (k = 0; k < s->ncanon && canon_cmp(s->buf, &s->canon[k],
		    &c) < 0; k++)
			;
		if (k < s->ncanon && canon_cmp(s->buf, &s->canon[k], &c) == 0)
			continue;
		memmove(&s->canon[k + 1], &s->canon[k],
		    (s->ncanon - k) * sizeof(c));
		s->canon[k] = c;
		s->ncanon++;
	}
	return true;
}

/*
 * The data an RRSIG signs (RFC 4034 3.1.8.1): its RDATA up to the
 * signature with the signer in lower case, then the RRset in canonical
 * order with the original TTL.  malloc'd; NULL when out of memory.
 */
static uint8_t *
signed_data(const struct rrset *s, const uint8_t *rrsig, const uint8_t *signer,
    size_t signer_len, size_t *len)
{
	size_t cap = RRSIG_FIXED + signer_len, at;
	uint8_t *d;

	for (size_t i = 0; i < s->ncanon; i++)
		cap += s->owner_len + 10 + s->canon[i].len;
	if ((d = malloc(cap)) == NULL)
		return NULL;
	memcpy(d, rrsig, RRSIG_FIXED);
	memcpy(d + RRSIG_FIXED, signer, signer_len);
	at = RRSIG_FIXED + signer_len;
	for (size_t i = 0; i < s->ncanon; i++) {
		const struct canon *c = &s->canon[i];

		memcpy(d + at, s->owner, s->owner_len);
		at += s->owner_len;
		put16(d + at, s->type);
		put16(d + at + 2, CLASS_IN);
		memcpy(d + at + 4, rrsig + 4, 4);   /* the original TTL */
		put16(d + at + 8, (uint16_t)c->len);
		memcpy(d + at + 10, s->buf + c->at, c->len);
		at += 10 + c->len;
	}
	*len = at;
	return d;
}

/* Whether one held key can have made a signature of this algorithm and
 * key tag. */
static bool
key_matches(const struct zonekeys_key *k, uint8_t algorithm, uint16_t tag)
{
	uint16_t flags;

	if (k->rdata_len < 5)
		return false;
	flags = get16(k->rdata);
	return (flags & FLAG_ZONE) != 0 && (flags & FLAG_REVOKE) == 0 &&
	    k->rdata[2] == DNSKEY_PROTOCOL && k->rdata[3] == algorithm &&
	    zonekeys_key_tag(k->rdata, k->rdata_len) == tag;
}

/*
 * Whether one RRSIG over the RRset is good (RFC 4035 5.3.1): it covers the
 * type, its algorithm is checked here, its labels are the owner's (no
 * wildcard), its signer is a held zone enclosing the owner, `now` lies
 * within its dates (serial arithmetic, RFC 4034 3.1.5), and a held key
 * of that algorithm and tag verifies it.
 */
static bool
sig_good(const struct rrset *s, const struct rec *sig,
    const struct zonekeys *zk, uint32_t now)
{
	const uint8_t *rd = s->msg + sig->at;
	uint8_t signer[NAME_MAX_WIRE];
	size_t signer_len, pos = sig->at + RRSIG_FIXED, nkeys, data_len;
	const struct zonekeys_key *keys;
	uint8_t algorithm = rd[2];
	uint16_t tag = get16(rd + 16);
	uint8_t *data = NULL;
	bool good = false;

	if (get16(rd) != s->type || !dnssig_supported(algorithm) ||
	    rd[3] != wirename_labels(s->owner, s->owner_len) ||
	    (int32_t)(now - get32(rd + 12)) < 0 ||
	    (int32_t)(get32(rd + 8) - now) < 0 ||
	    !read_name(s->msg, sig->at + sig->len, &pos, false, signer,
	    &signer_len) || pos >= sig->at + sig->len ||
	    !wirename_encloses(signer, signer_len, s->owner, s->owner_len) ||
	    /* An NSEC3 lives right below its zone's apex (RFC 5155 7.1). */
	    (s->type == TYPE_NSEC3 &&
	    signer_len != s->owner_len - s->owner[0] - 1u) ||
	    (keys = zonekeys_zone(zk, signer, signer_len, &nkeys)) == NULL)
		return false;
	for (size_t i = 0; i < nkeys && !good; i++) {
		if (!key_matches(&keys[i], algorithm, tag))
			continue;
		if (data == NULL && (data = signed_data(s, rd, signer,
		    signer_len, &data_len)) == NULL)
			break;
		good = dnssig_verify(algorithm, keys[i].rdata + 4,
		    keys[i].rdata_len - 4, data, data_len,
		    s->msg + pos, sig->at + sig->len - pos);
	}
	free(data);
	return good;
}

/* Whether any RRSIG over the RRset is good. */
static bool
rrset_secure(struct rrset *s, const struct zonekeys *zk, uint32_t now)
{
	bool good = false;

	if (s->nrrs == 0 || s->nsigs == 0 || !canonicalize(s))
		good = false;
	else
		for (size_t i = 0; i < s->nsigs && !good; i++)
			good = sig_good(s, &s->sigs[i], zk, now);
	free(s->buf);
	s->buf = NULL;
	return good;
}

/*
 * Whether an NSEC type bitmap (RFC 4034 4.1.2) lists a type; false also
 * sets *bad when the bitmap is malformed.
 */
static bool
bitmap_has(const uint8_t *p, size_t len, uint16_t type, bool *bad)
{
	int last = -1;

	while (len > 0) {
		unsigned window, n;

		if (len < 2 || (int)(window = p[0]) <= last ||
		    (n = p[1]) == 0 || n > 32 || len - 2 < n) {
			*bad = true;
			return false;
		}
		if (window == (unsigned)(type >> 8)) {
			unsigned bit = type & 0xFF;

			return bit / 8 < n &&
			    (p[2 + bit / 8] & (0x80 >> (bit % 8))) != 0;
		}
		last = (int)window;
		p += 2 + n;
		len -= 2 + n;
	}
	return false;
}

/*
 * Whether the type bitmap of the NSEC or NSEC3 matching the name asked
 * denies the type asked (and a CNAME, which would have been answered
 * instead), and is not the parent's at a delegation point (NS without
 * SOA), which proves nothing about the child's data (RFC 4035 5.4, RFC
 * 5155 8.5, RFC 6840 4.4).
 */
static bool
bitmap_denies(const uint8_t *bm, size_t len, uint16_t qtype,
    const char **why)
{
	bool bad = false, has_type, has_cname, has_ns, has_soa;

	has_type = bitmap_has(bm, len, qtype, &bad);
	has_cname = bitmap_has(bm, len, TYPE_CNAME, &bad);
	has_ns = bitmap_has(bm, len, TYPE_NS, &bad);
	has_soa = bitmap_has(bm, len, TYPE_SOA, &bad);
	if (bad)
		return unsure(why, "malformed type bitmap");
	if (has_type || has_cname)
		return unsure(why, "the denial lists the type asked or CNAME");
	if (has_ns && !has_soa)
		return unsure(why, "denial from the parent side of a delegation");
	return true;
}

/* The NSEC owned by the name asked denies the type asked. */
static bool
nsec_denies(const struct rrset *s, uint16_t qtype, const char **why)
{
	uint8_t next[NAME_MAX_WIRE];
	size_t pos = s->rrs[0].at, n, end = s->rrs[0].at + s->rrs[0].len;

	if (!read_name(s->msg, end, &pos, false, next, &n))
		return unsure(why, "malformed NSEC");
	return bitmap_denies(s->msg + pos, end - pos, qtype, why);
}

/* An NSEC3's RDATA, as far as a NODATA proof reads it. */
struct nsec3 {
	uint8_t algorithm;
	unsigned iterations;
	const uint8_t *salt;
	size_t salt_len;
	const uint8_t *bitmap;
	size_t bitmap_len;
};

/*
 * Parses an NSEC3's RDATA; false when malformed, or when RFC 5155 8.2
 * says to ignore it (unknown flags) or it is not for here (a hash other
 * than SHA-1, more iterations than NSEC3_MAX_ITERATIONS).
 */
static bool
nsec3_params(const uint8_t *rd, size_t len, struct nsec3 *p)
{
	size_t hash_at;

	if (len < 5 || rd[0] != 1 || rd[1] > 1)
		return false;
	p->algorithm = rd[0];
	p->iterations = get16(rd + 2);
	p->salt_len = rd[4];
	p->salt = rd + 5;
	hash_at = 5 + p->salt_len;
	if (p->iterations > NSEC3_MAX_ITERATIONS || len < hash_at + 1 ||
	    rd[hash_at] != DNSSIG_NSEC3_HASH_LEN ||
	    len < hash_at + 1 + DNSSIG_NSEC3_HASH_LEN)
		return false;
	p->bitmap = rd + hash_at + 1 + DNSSIG_NSEC3_HASH_LEN;
	p->bitmap_len = len - (hash_at + 1 + DNSSIG_NSEC3_HASH_LEN);
	return true;
}

/* Decodes a base32hex label (RFC 4648 7, either case) of
 * NSEC3_LABEL_LEN characters into a hash; false if it is not one. */
static bool
base32hex_hash(const uint8_t *label, uint8_t out[DNSSIG_NSEC3_HASH_LEN])
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;

	for (size_t i = 0; i < NSEC3_LABEL_LEN; i++) {
		uint8_t c = wirename_lower(label[i]);
		unsigned v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'v')
			v = c - 'a' + 10;
		else
			return false;
		acc = (acc << 5 | v) & 0xFFFF;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return n == DNSSIG_NSEC3_HASH_LEN;
}

/*
 * Whether an NSEC3 owner (lower case) matches the name asked: its first
 * label is the hash of the name, with the NSEC3's own parameters, and the
 * rest is a zone at or above the name.
 */
static bool
nsec3_matches(const uint8_t *owner, size_t owner_len, const struct nsec3 *p,
    const uint8_t *qname, size_t qname_len)
{
	uint8_t want[DNSSIG_NSEC3_HASH_LEN], got[DNSSIG_NSEC3_HASH_LEN];

	return owner[0] == NSEC3_LABEL_LEN &&
	    owner_len > NSEC3_LABEL_LEN + 1 &&
	    wirename_encloses(owner + NSEC3_LABEL_LEN + 1,
	    owner_len - NSEC3_LABEL_LEN - 1, qname, qname_len) &&
	    base32hex_hash(owner + 1, got) &&
	    dnssig_nsec3_hash(p->algorithm, p->salt, p->salt_len,
	    p->iterations, qname, qname_len, want) &&
	    memcmp(want, got, sizeof(want)) == 0;
}

/*
 * Finds in the authority section (`count` records from `pos`) the NSEC3
 * matching the name asked and the RRSIGs over it, into s (its owner in
 * owner[]).  False when there is none or more than one.
 */
static bool
find_nsec3(const uint8_t *m, size_t len, size_t pos, unsigned count,
    const uint8_t *qname, size_t qname_len, struct rrset *s,
    uint8_t owner[NAME_MAX_WIRE])
{
	size_t start = pos;
	struct nsec3 p;
	struct rr rr;

	for (unsigned i = 0; i < count; i++) {
		if (!read_rr(m, len, &pos, &rr))
			return false;
		if (rr.type != TYPE_NSEC3 || rr.rclass != CLASS_IN ||
		    !nsec3_params(m + rr.rdata, rr.rdlen, &p) ||
		    !nsec3_matches(rr.owner, rr.owner_len, &p, qname,
		    qname_len))
			continue;
		if (!keep(s->rrs, &s->nrrs, 1, &rr))
			return false;
		memcpy(owner, rr.owner, rr.owner_len);
		s->owner = owner;
		s->owner_len = rr.owner_len;
	}
	if (s->nrrs == 0)
		return false;
	pos = start;
	for (unsigned i = 0; i < count; i++) {
		if (!read_rr(m, len, &pos, &rr))
			return false;
		if (rr.type == TYPE_RRSIG && rr.rclass == CLASS_IN &&
		    covered(m, &rr) == TYPE_NSEC3 &&
		    owned(&rr, s->owner, s->owner_len))
			(void)keep(s->sigs, &s->nsigs, MAX_SIGS, &rr);
	}
	return true;
}

/* The NSEC3 matching the name asked denies the type asked. */
static bool
nsec3_denies(const struct rrset *s, uint16_t qtype, const char **why)
{
	struct nsec3 p;

	if (!nsec3_params(s->msg + s->rrs[0].at, s->rrs[0].len, &p))
		return unsure(why, "malformed NSEC3");
	return bitmap_denies(p.bitmap, p.bitmap_len, qtype, why);
}

/* Reads the header and checks it is a NOERROR reply to one question. */
static bool
read_header(const uint8_t *m, size_t len, struct header *h)
{
	if (len < HEADER_LEN)
		return false;
	h->flags = get16(m + 2);
	for (int i = 0; i < 4; i++)
		h->count[i] = get16(m + 4 + 2 * i);
	/* QR set, opcode QUERY, not truncated, rcode NOERROR, one question. */
	return (h->flags & 0x8000) != 0 && (h->flags & 0x7800) == 0 &&
	    (h->flags & 0x0200) == 0 && (h->flags & 0x000F) == 0 &&
	    h->count[0] == 1;
}

/* Checks the question is the one asked; *pos moves past it. */
static bool
question_is(const uint8_t *m, size_t len, size_t *pos, const uint8_t *qname,
    size_t qname_len, uint16_t qtype)
{
	uint8_t name[NAME_MAX_WIRE];
	size_t n;

	return read_name(m, len, pos, true, name, &n) && n == qname_len &&
	    memcmp(name, qname, n) == 0 && len - *pos >= 4 &&
	    get16(m + *pos) == qtype && get16(m + *pos + 2) == CLASS_IN &&
	    (*pos += 4, true);
}

/* The whole check (sigcheck.h). */
bool
sigcheck_reply(const uint8_t *msg, size_t len, const uint8_t *qname,
    size_t qname_len, uint16_t qtype, const struct zonekeys *zk,
    uint32_t now, const char **why)
{
	struct rrset answer, nsec, nsec3;   /* set once the header is read */
	uint8_t nsec3_owner[NAME_MAX_WIRE];
	struct header h;
	struct rr rr;
	size_t pos = HEADER_LEN, authority;
	bool others = false;

	if (msg == NULL || qname == NULL || zk == NULL)
		return unsure(why, "nothing to check");
	if (qtype != TYPE_A && qtype != TYPE_AAAA && qtype != TYPE_MX &&
	    qtype != TYPE_TLSA)
		return unsure(why, "type not checked here");
	if (!read_header(msg, len, &h))
		return unsure(why, "not a NOERROR reply to one question");
	if (!question_is(msg, len, &pos, qname, qname_len, qtype))
		return unsure(why, "not the question asked");
	answer = (struct rrset){ .msg = msg, .msg_len = len, .owner = qname,
	    .owner_len = qname_len, .type = qtype };
	nsec = (struct rrset){ .msg = msg, .msg_len = len, .owner = qname,
	    .owner_len = qname_len, .type = TYPE_NSEC };
	nsec3 = (struct rrset){ .msg = msg, .msg_len = len,
	    .type = TYPE_NSEC3 };
	for (unsigned i = 0; i < h.count[1]; i++) {
		if (!read_rr(msg, len, &pos, &rr))
			return unsure(why, "malformed answer section");
		if (rr.rclass != CLASS_IN || !owned(&rr, qname, qname_len))
			others = true;
		else if (rr.type == qtype) {
			if (!keep(answer.rrs, &answer.nrrs, MAX_RRS, &rr))
				return unsure(why, "too many records");
		} else if (rr.type == TYPE_RRSIG && covered(msg, &rr) == qtype)
			(void)keep(answer.sigs, &answer.nsigs, MAX_SIGS, &rr);
		else
			others = true;
	}
	if (others)
		return unsure(why, "answer section holds other records");
	authority = pos;
	for (unsigned i = 0; i < h.count[2]; i++) {
		if (!read_rr(msg, len, &pos, &rr))
			return unsure(why, "malformed authority section");
		if (rr.rclass != CLASS_IN || !owned(&rr, qname, qname_len))
			continue;
		if (rr.type == TYPE_NSEC) {
			if (!keep(nsec.rrs, &nsec.nrrs, 1, &rr))
				return unsure(why, "more than one NSEC");
		} else if (rr.type == TYPE_RRSIG &&
		    covered(msg, &rr) == TYPE_NSEC)
			(void)keep(nsec.sigs, &nsec.nsigs, MAX_SIGS, &rr);
	}
	for (unsigned i = 0; i < h.count[3]; i++) {
		if (!read_rr(msg, len, &pos, &rr))
			return unsure(why, "malformed additional section");
		/* An extended rcode (EDNS) other than NOERROR. */
		if (rr.type == TYPE_OPT && (rr.ttl >> 24) != 0)
			return unsure(why, "extended rcode");
	}
	if (answer.nrrs > 0) {
		if (!rrset_secure(&answer, zk, now))
			return unsure(why, "no RRSIG verified by a held key");
		return true;
	}
	if (answer.nsigs > 0)
		return unsure(why, "RRSIG without records");
	if (nsec.nrrs > 0) {
		if (!nsec_denies(&nsec, qtype, why))
			return false;
		if (!rrset_secure(&nsec, zk, now))
			return unsure(why, "NSEC not verified by a held key");
		return true;
	}
	if (!find_nsec3(msg, len, authority, h.count[2], qname, qname_len,
	    &nsec3, nsec3_owner))
		return unsure(why, "no NSEC or NSEC3 matching the name asked");
	if (!nsec3_denies(&nsec3, qtype, why))
		return false;
	if (!rrset_secure(&nsec3, zk, now))
		return unsure(why, "NSEC3 not verified by a held key");
	return true;
}
