/*
 * test_dane: the DANE core on the fixed PKI in test/unit/data/dane (see its
 * README.txt).  First the x509 helpers against digests and a key computed
 * with the openssl CLI when the fixtures were made, so a broken helper
 * cannot agree with itself; then host-name matching, record usability,
 * description and copying on tables; then dane_check() on a table of record
 * sets and chains: every usage/selector/matching type that must match and
 * the same with a wrong digest, unusable and malformed records, trust
 * anchors at each depth, bare keys, names and wildcards, dates, foreign and
 * broken chains.
 *
 * Usage: test-dane DIR, DIR holding the fixtures; TEST_VERBOSE=1 in the
 * environment prints every dane_check() reason.
 */
#include <wolfssl/options.h> /* first: the package's build flags live here */
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/asn_public.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dane.h"
#include "x509.h"

#include "check.h"

/* Largest fixture certificate in DER. */
#define DER_MAX 2048

/* One certificate loaded from the fixtures, or made up. */
struct fixture {
	const char *name;           /* file name without ".pem" */
	unsigned char der[DER_MAX]; /* its DER */
	size_t len;
};

static struct fixture fixtures[] = {
	{ .name = "root" },       { .name = "int" },
	{ .name = "leaf" },       { .name = "cnonly" },
	{ .name = "self" },       { .name = "expired" },
	{ .name = "future" },     { .name = "int-expired" },
	{ .name = "root-expired" }, { .name = "other-root" },
	{ .name = "other-leaf" }, { .name = "sub" },
	/* more.sh: path length and name constraints */
	{ .name = "pl-root" },    { .name = "pl-ca1" },
	{ .name = "pl-ca2" },     { .name = "pl-leaf" },
	{ .name = "pl-leaf1" },   { .name = "nc-root" },
	{ .name = "nc-int" },     { .name = "nc-leaf" },
	{ .name = "nc-bad" },     { .name = "nc-root2" },
	{ .name = "nc-int2" },    { .name = "nc-leaf2" },
	/* made up by load_fixtures(): not certificates */
	{ .name = "junk" },       { .name = "trunc" },
	{ .name = "empty" },
};
#define NFIXTURES (sizeof fixtures / sizeof fixtures[0])

/* Values computed with the openssl CLI (commands in data/dane/README.txt). */
static const char leaf_cert_sha256[] =
	"04ba46fc000a18e9cab0116c5d8afbf0853206b5edd7eaacb4c1f2514d68651c";
static const char leaf_spki_sha256[] =
	"6d306ecbeb196ae93cf2a6acde2dd24ebb6cb70003da0426f1111284715957ee";
static const char int_cert_sha512[] =
	"299a65236e6a3ea65769d4b59a520d54d8d118aadf7020c2dfab053454322f54"
	"f7fcfbdc29d8051353a3d39ecc50040f1b3d71a25e893bc4de4cfbe12fb6289b";
static const char root_spki_sha512[] =
	"3f8e33ff6e16f366053a9ff20adff6b174483c7ad563275fb226303f34183415"
	"bc2dd4456504b5b409d22c0d7ba533d40a9c2721d13ffafb9c558dcba0d32223";
static const char root_spki[] =
	"3059301306072a8648ce3d020106082a8648ce3d03010703420004cecf544441"
	"e77c3a47b594ab996bf82ab723d0f5d5a699e918db98ea9e08fca2d29629c963"
	"b63b28fd426bd0cc7a012e1594502498b14b42efcec6bf3a52bb3a";

/* Finds a fixture by name; exits if there is none (a broken table). */
static struct fixture *fixture(const char *name, size_t len)
{
	for (size_t i = 0; i < NFIXTURES; i++)
		if (strlen(fixtures[i].name) == len &&
		    memcmp(fixtures[i].name, name, len) == 0)
			return &fixtures[i];
	fprintf(stderr, "no fixture %.*s\n", (int)len, name);
	exit(1);
}

/* Loads every PEM fixture from dir, and makes up the broken ones. */
static void load_fixtures(const char *dir)
{
	static unsigned char pem[8192];
	for (size_t i = 0; i < NFIXTURES; i++) {
		struct fixture *f = &fixtures[i];
		if (strcmp(f->name, "junk") == 0) {
			/* a DER SEQUENCE header promising more than is there */
			for (size_t j = 0; j < 64; j++)
				f->der[j] = (unsigned char)(j * 37 + 11);
			f->der[0] = 0x30;
			f->der[1] = 0x82;
			f->len = 64;
			continue;
		}
		if (strcmp(f->name, "trunc") == 0 ||
		    strcmp(f->name, "empty") == 0)
			continue; /* made from leaf after the loop */
		char path[4096];
		snprintf(path, sizeof path, "%s/%s.pem", dir, f->name);
		FILE *fp = fopen(path, "rb");
		if (fp == NULL) {
			perror(path);
			exit(1);
		}
		size_t n = fread(pem, 1, sizeof pem, fp);
		fclose(fp);
		int len = wc_CertPemToDer(pem, (int)n, f->der, DER_MAX,
		                          CERT_TYPE);
		if (len <= 0) {
			fprintf(stderr, "%s: not a PEM certificate (%d)\n",
			        path, len);
			exit(1);
		}
		f->len = (size_t)len;
	}
	struct fixture *leaf = fixture("leaf", 4);
	struct fixture *trunc = fixture("trunc", 5);
	memcpy(trunc->der, leaf->der, leaf->len / 2);
	trunc->len = leaf->len / 2;
	fixture("empty", 5)->len = 0;
}

/* Decodes hex into out (room bytes); returns the length. */
static size_t unhex(const char *hex, unsigned char *out, size_t room)
{
	size_t n = 0;
	for (; hex[0] != '\0' && hex[1] != '\0' && n < room; hex += 2) {
		unsigned v;
		if (sscanf(hex, "%2x", &v) != 1)
			break;
		out[n++] = (unsigned char)v;
	}
	return n;
}

/* Whether bytes equal the hex string. */
static bool equals_hex(const unsigned char *p, size_t len, const char *hex)
{
	unsigned char want[X509_SPKI_MAX];
	size_t n = unhex(hex, want, sizeof want);
	return n == len && n * 2 == strlen(hex) && memcmp(p, want, n) == 0;
}

/* Makes a chain from fixture names separated by spaces, leaf first. */
static void make_chain(struct tls_chain *chain, const char *spec)
{
	memset(chain, 0, sizeof *chain);
	const char *p = spec;
	while (*p != '\0' && chain->count < TLS_CHAIN_MAX) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len == 0)
			break;
		struct fixture *f = fixture(p, len);
		chain->certs[chain->count].der = f->der;
		chain->certs[chain->count].len = f->len;
		chain->count++;
		p += len;
	}
}

/* Storage for the data of the records of one case. */
#define RECS_MAX (DANE_TLSA_MAX + 1)
static unsigned char recdata[RECS_MAX][X509_SPKI_MAX + 16];

/*
 * Makes record `i` from "U S M SOURCE": SOURCE is a fixture name whose
 * selected part is digested as the record says, optionally computed as
 * another selector and matching type ("@S.M"), then changed: "~" flips a
 * byte in the middle, "<N" drops N bytes, ">N" appends N zero bytes.
 * "=HEX" gives the data itself; "none" gives no data.
 */
static void make_record(struct dane_tlsa *rec, size_t i, const char *spec)
{
	unsigned u, s, m;
	char src[256];
	if (sscanf(spec, "%u %u %u %255s", &u, &s, &m, src) != 4) {
		fprintf(stderr, "bad record spec %s\n", spec);
		exit(1);
	}
	unsigned char *data = recdata[i];
	rec->usage = (uint8_t)u;
	rec->selector = (uint8_t)s;
	rec->mtype = (uint8_t)m;
	rec->data = data;
	if (src[0] == '=') {
		rec->len = unhex(src + 1, data, X509_SPKI_MAX);
		return;
	}
	if (strcmp(src, "none") == 0) {
		rec->data = NULL;
		rec->len = 0;
		return;
	}
	size_t namelen = strcspn(src, "@~<>");
	const char *mod = src + namelen;
	if (*mod == '@') {
		if (sscanf(mod, "@%u.%u", &s, &m) != 2) {
			fprintf(stderr, "bad override in %s\n", spec);
			exit(1);
		}
		mod += 4;
	}
	struct fixture *f = fixture(src, namelen);
	struct tls_cert cert = { f->der, f->len };
	unsigned char spki[X509_SPKI_MAX];
	const unsigned char *sel = f->der;
	size_t sellen = f->len;
	if (s == 1) {
		if (!x509_spki(&cert, spki, sizeof spki, &sellen, NULL, 0)) {
			fprintf(stderr, "no key in %s\n", spec);
			exit(1);
		}
		sel = spki;
	}
	if (!x509_digest(m, sel, sellen, data, X509_SPKI_MAX, &rec->len, NULL,
	                 0)) {
		fprintf(stderr, "cannot digest for %s\n", spec);
		exit(1);
	}
	unsigned n = 0;
	if (*mod == '~') {
		data[rec->len / 2] ^= 0x01;
	} else if (*mod == '<' && sscanf(mod + 1, "%u", &n) == 1) {
		rec->len = n < rec->len ? rec->len - n : 0;
	} else if (*mod == '>' && sscanf(mod + 1, "%u", &n) == 1 &&
	           rec->len + n <= X509_SPKI_MAX) {
		memset(data + rec->len, 0, n);
		rec->len += n;
	}
}

/* The helpers against values the openssl CLI computed. */
static void test_x509_against_openssl(void)
{
	struct fixture *leaf = fixture("leaf", 4);
	struct fixture *in = fixture("int", 3);
	struct fixture *root = fixture("root", 4);
	struct tls_cert leafc = { leaf->der, leaf->len };
	struct tls_cert rootc = { root->der, root->len };
	unsigned char spki[X509_SPKI_MAX], d[X509_DIGEST_MAX];
	size_t spkilen = 0, dlen = 0;
	char why[128];

	CHECK(x509_spki(&rootc, spki, sizeof spki, &spkilen, why, sizeof why),
	      "root SPKI: %s", why);
	CHECK(equals_hex(spki, spkilen, root_spki),
	      "root SPKI differs from openssl's (%zu bytes)", spkilen);
	CHECK(x509_digest(2, spki, spkilen, d, sizeof d, &dlen, why,
	                  sizeof why) &&
	              equals_hex(d, dlen, root_spki_sha512),
	      "root SPKI SHA-512 differs from openssl's");

	CHECK(x509_digest(1, leaf->der, leaf->len, d, sizeof d, &dlen, why,
	                  sizeof why) &&
	              equals_hex(d, dlen, leaf_cert_sha256),
	      "leaf certificate SHA-256 differs from openssl's");
	CHECK(x509_spki(&leafc, spki, sizeof spki, &spkilen, why, sizeof why) &&
	              x509_digest(1, spki, spkilen, d, sizeof d, &dlen, why,
	                          sizeof why) &&
	              equals_hex(d, dlen, leaf_spki_sha256),
	      "leaf SPKI SHA-256 differs from openssl's");
	CHECK(x509_digest(2, in->der, in->len, d, sizeof d, &dlen, why,
	                  sizeof why) &&
	              equals_hex(d, dlen, int_cert_sha512),
	      "intermediate certificate SHA-512 differs from openssl's");

	/* the edges of the helpers */
	CHECK(x509_digest(0, in->der, in->len, spki, sizeof spki, &dlen, why,
	                  sizeof why) &&
	              dlen == in->len && memcmp(spki, in->der, dlen) == 0,
	      "matching type 0 is not the bytes themselves");
	CHECK(!x509_digest(0, in->der, in->len, d, sizeof d, &dlen, why,
	                   sizeof why),
	      "matching type 0 overflowed a small buffer");
	CHECK(!x509_digest(2, in->der, in->len, d, 32, &dlen, why, sizeof why),
	      "SHA-512 written into 32 bytes");
	CHECK(!x509_digest(3, in->der, in->len, d, sizeof d, &dlen, why,
	                   sizeof why) &&
	              strstr(why, "unknown") != NULL,
	      "matching type 3 accepted: %s", why);
	CHECK(!x509_spki(&rootc, spki, 40, &spkilen, why, sizeof why),
	      "SPKI copied into a too small buffer");
	struct fixture *junk = fixture("junk", 4);
	struct tls_cert junkc = { junk->der, junk->len };
	CHECK(!x509_spki(&junkc, spki, sizeof spki, &spkilen, why, sizeof why),
	      "junk DER has a key");
	struct tls_cert nothing = { NULL, 0 };
	CHECK(!x509_spki(&nothing, spki, sizeof spki, &spkilen, why,
	                 sizeof why),
	      "an empty certificate has a key");
}

/* Chain verification and bare-key signatures, directly. */
static void test_x509_chain(void)
{
	struct tls_chain chain;
	char why[160];

	make_chain(&chain, "leaf int root");
	for (size_t k = 0; k < 3; k++)
		CHECK(x509_chain_verify(&chain, k, why, sizeof why),
		      "leaf int root up to %zu: %s", k, why);
	CHECK(!x509_chain_verify(&chain, 3, why, sizeof why),
	      "verified up to a depth beyond the chain");
	make_chain(&chain, "expired int root");
	CHECK(!x509_chain_verify(&chain, 0, why, sizeof why) &&
	              strstr(why, "depth 0 has expired") != NULL,
	      "expired leaf alone: %s", why);
	make_chain(&chain, "future int");
	CHECK(!x509_chain_verify(&chain, 1, why, sizeof why) &&
	              strstr(why, "depth 0 is not yet valid") != NULL,
	      "future leaf: %s", why);
	make_chain(&chain, "leaf root");
	CHECK(!x509_chain_verify(&chain, 1, why, sizeof why) &&
	              strstr(why, "depth 0 is not issued by") != NULL,
	      "leaf straight under root: %s", why);
	make_chain(&chain, "sub leaf int");
	CHECK(!x509_chain_verify(&chain, 2, why, sizeof why) &&
	              strstr(why, "depth 1 is not a CA") != NULL,
	      "a leaf acting as an issuer: %s", why);
	make_chain(&chain, "leaf int root-expired");
	CHECK(!x509_chain_verify(&chain, 2, why, sizeof why) &&
	              strstr(why, "depth 2 has expired") != NULL,
	      "expired anchor: %s", why);
	CHECK(x509_chain_verify(&chain, 1, why, sizeof why),
	      "leaf int, ignoring the expired root above: %s", why);

	struct fixture *root = fixture("root", 4);
	struct fixture *other = fixture("other-root", 10);
	unsigned char key[X509_SPKI_MAX], okey[X509_SPKI_MAX];
	size_t keylen = 0, okeylen = 0;
	struct tls_cert rootc = { root->der, root->len };
	struct tls_cert otherc = { other->der, other->len };
	x509_spki(&rootc, key, sizeof key, &keylen, NULL, 0);
	x509_spki(&otherc, okey, sizeof okey, &okeylen, NULL, 0);
	make_chain(&chain, "leaf int root junk");
	CHECK(x509_signed_by_key(&chain.certs[1], key, keylen, why, sizeof why),
	      "int not signed by the root key: %s", why);
	CHECK(x509_signed_by_key(&chain.certs[2], key, keylen, why, sizeof why),
	      "root not signed by its own key: %s", why);
	CHECK(!x509_signed_by_key(&chain.certs[0], key, keylen, why,
	                          sizeof why),
	      "leaf signed by the root key");
	CHECK(!x509_signed_by_key(&chain.certs[1], okey, okeylen, why,
	                          sizeof why),
	      "int signed by an unrelated key");
	CHECK(!x509_signed_by_key(&chain.certs[3], key, keylen, why,
	                          sizeof why),
	      "junk signed by the root key");
	CHECK(!x509_signed_by_key(&chain.certs[1], key, keylen - 1, why,
	                          sizeof why),
	      "a truncated key verifies");
	CHECK(!x509_signed_by_key(&chain.certs[1], root->der, root->len, why,
	                          sizeof why),
	      "a certificate taken for a key verifies");
}

/* One host-name matching case. */
struct host_case {
	const char *pattern; /* from a certificate */
	const char *host;    /* reference name */
	bool match;
};

static const struct host_case host_cases[] = {
	{ "mx1.example.net", "mx1.example.net", true },
	{ "mx1.example.net", "MX1.Example.NET", true },
	{ "MX1.EXAMPLE.NET", "mx1.example.net", true },
	{ "mx1.example.net", "mx1.example.net.", true },
	{ "mx1.example.net.", "mx1.example.net", true },
	{ "mx1.example.net", "mx2.example.net", false },
	{ "mx1.example.net", "example.net", false },
	{ "mx1.example.net", "x.mx1.example.net", false },
	{ "mx1.example.net", "mx1.example.ne", false },
	{ "mx1.example.net", "", false },
	{ "mx1.example.net", ".", false },
	{ "", "mx1.example.net", false },
	{ ".", ".", false },
	{ "*.wild.example.net", "a.wild.example.net", true },
	{ "*.wild.example.net", "A.WILD.EXAMPLE.NET.", true },
	{ "*.wild.example.net", "a.b.wild.example.net", false },
	{ "*.wild.example.net", "wild.example.net", false },
	{ "*.wild.example.net", ".wild.example.net", false },
	{ "*.wild.example.net", "a.wild.example.org", false },
	{ "*.example.net", "mx1.example.net", true },
	{ "*.net", "example.net", false },
	{ "*.", "a.", false },
	{ "*", "net", false },
	{ "**.example.net", "a.example.net", false },
	{ "*a.example.net", "ba.example.net", false },
	{ "a*.example.net", "ab.example.net", false },
	{ "mx.*.example.net", "mx.a.example.net", false },
	{ "*.*.example.net", "a.b.example.net", false },
	{ "*..example.net", "a..example.net", false },
	{ "*.wild.example.net", "*.wild.example.net", false },
	{ "mx*.example.net", "mx*.example.net", false },
};

/* Host-name matching on its table, then an embedded NUL. */
static void test_host_match(void)
{
	for (size_t i = 0; i < sizeof host_cases / sizeof host_cases[0]; i++) {
		const struct host_case *t = &host_cases[i];
		bool got = x509_host_match(t->pattern, strlen(t->pattern),
		                           t->host);
		CHECK(got == t->match, "pattern \"%s\" host \"%s\": %s",
		      t->pattern, t->host, got ? "matched" : "did not match");
	}
	static const char nul[] = "mx1.example.net\0.evil.example";
	CHECK(!x509_host_match(nul, sizeof nul - 1, "mx1.example.net"),
	      "a name with a NUL byte matched");
	CHECK(x509_host_match(nul, strlen(nul), "mx1.example.net"),
	      "the part before the NUL did not match by itself");
}

/* Names of real certificates: SAN before CN, CN only without SAN. */
static void test_leaf_names(void)
{
	struct tls_cert leaf = { fixture("leaf", 4)->der,
		                 fixture("leaf", 4)->len };
	struct tls_cert cnonly = { fixture("cnonly", 6)->der,
		                   fixture("cnonly", 6)->len };
	struct tls_cert junk = { fixture("junk", 4)->der,
		                 fixture("junk", 4)->len };
	const char *two[] = { "example.net", "mx1.example.net" };
	const char *cn[] = { "leaf-cn.example.net" };
	const char *mxcn[] = { "nothing.example.net", "MX-CN.example.net." };
	char why[200];

	CHECK(x509_leaf_names(&leaf, two, 2, why, sizeof why) == 1,
	      "leaf does not name mx1.example.net: %s", why);
	CHECK(x509_leaf_names(&leaf, cn, 1, why, sizeof why) == -1 &&
	              strstr(why, "does not name leaf-cn.example.net") &&
	              strstr(why, "mx1.example.net, *.wild.example.net"),
	      "the CN counted beside a SAN: %s", why);
	CHECK(x509_leaf_names(&leaf, two, 1, why, sizeof why) == -1,
	      "leaf names example.net");
	CHECK(x509_leaf_names(&cnonly, mxcn, 2, why, sizeof why) == 1,
	      "CN-only certificate: %s", why);
	CHECK(x509_leaf_names(&cnonly, two, 2, why, sizeof why) == -1 &&
	              strstr(why, "names neither example.net nor "
	                          "mx1.example.net (it names CN "
	                          "mx-cn.example.net)"),
	      "CN-only certificate, wrong names: %s", why);
	CHECK(x509_leaf_names(&leaf, two, 0, why, sizeof why) == -1 &&
	              strstr(why, "no host name"),
	      "no names: %s", why);
	CHECK(x509_leaf_names(&junk, two, 2, why, sizeof why) == -1 &&
	              strstr(why, "does not parse"),
	      "junk: %s", why);
	const char *three[] = { "a.example", "b.example", "c.example" };
	CHECK(x509_leaf_names(&leaf, three, 3, why, sizeof why) == -1 &&
	              strstr(why, "names none of a.example, b.example, "
	                          "c.example"),
	      "three names: %s", why);
	const char *evil[] = { "a\nb.example" };
	CHECK(x509_leaf_names(&leaf, evil, 1, why, sizeof why) == -1 &&
	              strchr(why, '\n') == NULL,
	      "a control character reached the reason");
}

/* One usability case. */
struct usable_case {
	const char *rec;   /* as for make_record() */
	const char *why;   /* substring of the reason, NULL: usable */
};

static const struct usable_case usable_cases[] = {
	{ "3 1 1 leaf", NULL },
	{ "3 0 2 leaf", NULL },
	{ "2 0 0 root", NULL },
	{ "2 1 0 root", NULL },
	{ "0 0 1 root", "PKIX-TA" },
	{ "1 1 1 leaf", "PKIX-EE" },
	{ "4 1 1 leaf", "usage" },
	{ "255 1 1 leaf", "usage" },
	{ "3 2 1 leaf@1.1", "selector" },
	{ "3 255 1 leaf@1.1", "selector" },
	{ "3 1 3 leaf@1.1", "matching type" },
	{ "3 1 255 leaf@1.2", "matching type" },
	{ "3 1 1 leaf<1", "32 bytes" },
	{ "3 1 1 leaf>1", "32 bytes" },
	{ "3 1 1 leaf@1.2", "32 bytes" },
	{ "3 1 2 leaf<1", "64 bytes" },
	{ "3 1 2 leaf>1", "64 bytes" },
	{ "3 1 2 leaf@1.1", "64 bytes" },
	{ "3 1 1 =", "empty" },
	{ "3 1 0 none", "empty" },
	{ "2 0 0 =00", NULL },
};

/* Record usability, description and copying. */
static void test_records(void)
{
	for (size_t i = 0; i < sizeof usable_cases / sizeof usable_cases[0];
	     i++) {
		const struct usable_case *t = &usable_cases[i];
		struct dane_tlsa rec;
		make_record(&rec, 0, t->rec);
		const char *why = dane_tlsa_unusable(&rec);
		if (t->why == NULL)
			CHECK(why == NULL && dane_tlsa_usable(&rec),
			      "%s: unusable (%s)", t->rec, why);
		else
			CHECK(why != NULL && strstr(why, t->why) &&
			              !dane_tlsa_usable(&rec),
			      "%s: %s, wanted \"%s\"", t->rec,
			      why ? why : "usable", t->why);
	}

	/* description */
	struct dane_tlsa rec;
	char buf[DANE_DESCRIBE_MAX];
	make_record(&rec, 0,
	            "3 1 1 =0102030405060708090a0b0c0d0e0f10111213141516171819"
	            "1a1b1c1d1e1f20");
	CHECK(strcmp(dane_tlsa_describe(&rec, buf, sizeof buf),
	             "3 1 1 010203040506...1f20") == 0,
	      "description \"%s\"", buf);
	make_record(&rec, 0, "2 0 0 =abcd");
	CHECK(strcmp(dane_tlsa_describe(&rec, buf, sizeof buf),
	             "2 0 0 abcd") == 0,
	      "short description \"%s\"", buf);
	make_record(&rec, 0, "255 255 255 =0102030405060708");
	CHECK(strcmp(dane_tlsa_describe(&rec, buf, sizeof buf),
	             "255 255 255 0102030405060708") == 0,
	      "eight bytes \"%s\"", buf);
	make_record(&rec, 0, "3 1 0 none");
	CHECK(strcmp(dane_tlsa_describe(&rec, buf, sizeof buf), "3 1 0 -") ==
	              0,
	      "empty description \"%s\"", buf);
	make_record(&rec, 0, "3 1 2 leaf");
	char small[12];
	dane_tlsa_describe(&rec, small, sizeof small);
	CHECK(strlen(small) < sizeof small && strncmp(small, "3 1 2 ", 6) == 0,
	      "cut description \"%s\"", small);

	/* copies survive their source */
	struct dane_tlsa recs[3];
	make_record(&recs[0], 0, "3 1 1 leaf");
	make_record(&recs[1], 1, "2 0 0 root");
	make_record(&recs[2], 2, "3 1 0 none");
	struct dane_tlsa *copy = dane_tlsa_dup(recs, 3);
	CHECK(copy != NULL, "dup failed");
	if (copy != NULL) {
		unsigned char want[X509_SPKI_MAX];
		memcpy(want, recs[1].data, recs[1].len);
		memset(recdata[1], 0xee, sizeof recdata[1]);
		CHECK(copy[1].len == recs[1].len &&
		              copy[1].data != recs[1].data &&
		              memcmp(copy[1].data, want, copy[1].len) == 0,
		      "the copy changed with its source");
		CHECK(copy[0].usage == 3 && copy[0].selector == 1 &&
		              copy[0].mtype == 1 && copy[0].len == 32,
		      "copied fields differ");
		CHECK(copy[2].len == 0 && copy[2].data == NULL,
		      "empty data copied as something");
		dane_tlsa_free(copy);
	}
	copy = dane_tlsa_dup(NULL, 0);
	CHECK(copy != NULL, "dup of nothing failed");
	dane_tlsa_free(copy);
	dane_tlsa_free(NULL);
}

/* Default reference names: the TLSA base domain, then the MX host. */
#define NAMES_DEFAULT "mx1.example.net example.net"

/* One dane_check() case. */
struct check_case {
	const char *what;
	const char *chain;       /* fixture names, leaf first */
	const char *recs[8];     /* record specs, NULL-terminated */
	const char *names;       /* reference names, NULL: NAMES_DEFAULT */
	bool auth;               /* authenticated? */
	int record;              /* expected record index when auth */
	int depth;               /* expected depth when auth */
	bool bare;               /* expected bare_key when auth */
	int name;                /* expected name index when auth */
	const char *why;         /* substring of the reason, NULL: any */
};

static const struct check_case check_cases[] = {
	/* unusable records that would match */
	{ "PKIX-TA root", "leaf int root", { "0 0 1 root" }, NULL, false, 0,
	  0, false, 0, "none of the 1 TLSA records is usable" },
	{ "PKIX-EE leaf", "leaf int root", { "1 1 1 leaf" }, NULL, false, 0,
	  0, false, 0, "is usable" },
	{ "PKIX both", "leaf int root", { "1 0 1 leaf", "0 1 2 int" }, NULL,
	  false, 0, 0, false, 0, "none of the 2" },
	{ "unknown usage", "leaf int root", { "4 1 1 leaf@1.1" }, NULL, false,
	  0, 0, false, 0, "usable" },
	{ "unknown selector", "leaf int root", { "3 2 1 leaf@0.1" }, NULL,
	  false, 0, 0, false, 0, "usable" },
	{ "unknown matching type", "leaf int root", { "3 1 3 leaf@1.1" },
	  NULL, false, 0, 0, false, 0, "usable" },
	{ "SHA-256 short", "leaf int root", { "3 1 1 leaf<1" }, NULL, false,
	  0, 0, false, 0, "usable" },
	{ "SHA-256 long", "leaf int root", { "3 1 1 leaf>1" }, NULL, false, 0,
	  0, false, 0, "usable" },
	{ "SHA-512 short", "leaf int root", { "3 0 2 leaf<32" }, NULL, false,
	  0, 0, false, 0, "usable" },
	{ "SHA-512 long", "leaf int root", { "2 1 2 int>1" }, NULL, false, 0,
	  0, false, 0, "usable" },
	{ "SHA-512 as SHA-256", "leaf int root", { "3 1 1 leaf@1.2" }, NULL,
	  false, 0, 0, false, 0, "usable" },
	{ "full data cut", "leaf int root", { "3 0 0 leaf<1" }, NULL, false,
	  0, 0, false, 0, "no TLSA record matched" },
	{ "full data grown", "leaf int root", { "2 1 0 int>1" }, NULL, false,
	  0, 0, false, 0, "no TLSA record matched" },
	{ "empty data", "leaf int root", { "3 1 0 none" }, NULL, false, 0, 0,
	  false, 0, "usable" },
	{ "no records", "leaf int root", { NULL }, NULL, false, 0, 0, false,
	  0, "no TLSA records" },

	/* mixed sets */
	{ "unusable then EE", "leaf int root", { "0 1 1 leaf", "3 1 1 leaf" },
	  NULL, true, 1, 0, false, -1, "DANE-EE record 1" },
	{ "wrong EE then TA", "leaf int root", { "3 1 1 leaf~", "2 0 1 root" },
	  NULL, true, 1, 2, false, 0, NULL },
	{ "junk records then TA", "leaf int root",
	  { "3 1 1 leaf<1", "4 0 1 leaf@0.1", "1 1 1 leaf", "3 1 3 leaf@1.1",
	    "2 1 2 int" },
	  NULL, true, 4, 1, false, 0, NULL },
	{ "failing TA then EE", "expired int root",
	  { "2 0 1 root", "3 0 1 expired" }, NULL, true, 1, 0, false, -1,
	  NULL },

	/* trust anchors at each depth */
	{ "TA root in chain, SAN", "leaf int root", { "2 0 1 root" },
	  "example.net mx1.example.net", true, 0, 2, false, 1, "depth 2" },
	{ "TA int", "leaf int", { "2 1 1 int" }, NULL, true, 0, 1, false, 0,
	  NULL },
	{ "TA never the leaf (cert)", "leaf int root", { "2 0 1 leaf" }, NULL,
	  false, 0, 0, false, 0, "no TLSA record matched" },
	{ "TA never the leaf (key digest)", "self", { "2 1 1 self" }, NULL,
	  false, 0, 0, false, 0, "no TLSA record matched" },
	{ "TA never the leaf (self cert)", "self", { "2 0 0 self" },
	  "self.example.net", false, 0, 0, false, 0, "no TLSA record" },
	{ "missing intermediate", "leaf root", { "2 0 1 root" }, NULL, false,
	  0, 0, false, 0, "depth 0 is not issued by" },
	{ "missing intermediate, two records", "leaf root",
	  { "2 0 1 int", "2 1 1 root" }, NULL, false, 0, 0, false, 0,
	  "chain does not verify" },
	{ "non-CA issuer", "sub leaf int root", { "2 0 1 root" }, NULL, false,
	  0, 0, false, 0, "depth 1 is not a CA" },
	{ "non-CA issuer as TA", "sub leaf int", { "2 0 1 leaf" }, NULL,
	  false, 0, 0, false, 0, "depth 1 is not a CA" },
	{ "extra certificate above the TA", "leaf int root other-root",
	  { "2 0 1 int" }, NULL, true, 0, 1, false, 0, NULL },

	/* names */
	{ "wrong name", "leaf int root", { "2 0 1 root" },
	  "mx2.example.net example.net", false, 0, 0, false, 0,
	  "names neither mx2.example.net nor example.net" },
	{ "CN does not count beside a SAN", "leaf int root", { "2 0 1 int" },
	  "leaf-cn.example.net", false, 0, 0, false, 0, "does not name" },
	{ "CN-only leaf", "cnonly int root", { "2 0 1 root" },
	  "example.net mx-cn.example.net", true, 0, 2, false, 1, NULL },
	{ "CN-only leaf, wrong name", "cnonly int root", { "2 0 1 root" },
	  NULL, false, 0, 0, false, 0, "it names CN mx-cn.example.net" },
	{ "wildcard, one label", "leaf int root", { "2 0 1 root" },
	  "a.wild.example.net", true, 0, 2, false, 0, NULL },
	{ "wildcard, second name", "leaf int root", { "2 1 2 int" },
	  "example.org X.Wild.Example.Net.", true, 0, 1, false, 1, NULL },
	{ "wildcard, two labels", "leaf int root", { "2 0 1 root" },
	  "a.b.wild.example.net", false, 0, 0, false, 0, "does not name" },
	{ "wildcard, no label", "leaf int root", { "2 0 1 root" },
	  "wild.example.net", false, 0, 0, false, 0, "does not name" },
	{ "no reference names", "leaf int root", { "2 0 1 root" }, "", false,
	  0, 0, false, 0, "no host name" },
	{ "EE ignores names", "leaf int root", { "3 1 1 leaf" },
	  "mx2.example.net", true, 0, 0, false, -1, NULL },
	{ "EE ignores names, no names", "leaf", { "3 0 1 leaf" }, "", true, 0,
	  0, false, -1, NULL },

	/* dates */
	{ "TA, expired leaf", "expired int root", { "2 0 1 root" }, NULL,
	  false, 0, 0, false, 0, "certificate at depth 0 has expired" },
	{ "EE, expired leaf", "expired int root", { "3 1 1 expired" }, NULL,
	  true, 0, 0, false, -1, NULL },
	{ "TA, future leaf", "future int root", { "2 1 1 int" }, NULL, false,
	  0, 0, false, 0, "depth 0 is not yet valid" },
	{ "EE, future leaf", "future int", { "3 0 2 future" }, NULL, true, 0,
	  0, false, -1, NULL },
	{ "TA, expired intermediate", "leaf int-expired root",
	  { "2 0 1 root" }, NULL, false, 0, 0, false, 0,
	  "depth 1 has expired" },
	{ "TA is the expired intermediate", "leaf int-expired root",
	  { "2 0 1 int-expired" }, NULL, false, 0, 0, false, 0,
	  "depth 1 has expired" },
	{ "TA is the expired root", "leaf int root-expired",
	  { "2 0 1 root-expired" }, NULL, false, 0, 0, false, 0,
	  "depth 2 has expired" },
	{ "TA key in an expired root", "leaf int root-expired",
	  { "2 1 1 root" }, NULL, false, 0, 0, false, 0,
	  "depth 2 has expired" },
	{ "TA key, expired root above a good one", "leaf int root-expired",
	  { "2 1 1 int" }, NULL, true, 0, 1, false, 0, NULL },

	/* DANE-EE */
	{ "EE self-signed", "self", { "3 0 1 self" }, NULL, true, 0, 0, false,
	  -1, NULL },
	{ "EE self-signed key", "self", { "3 1 2 self" }, NULL, true, 0, 0,
	  false, -1, NULL },
	{ "EE on an intermediate", "leaf int root", { "3 1 1 int" }, NULL,
	  false, 0, 0, false, 0, "no TLSA record matched" },
	{ "EE, unrelated leaf", "other-leaf other-root", { "3 1 1 leaf" },
	  NULL, false, 0, 0, false, 0, "no TLSA record matched" },

	/* bare trust-anchor keys (2 1 0 not in the chain) */
	{ "bare root key", "leaf int", { "2 1 0 root" }, NULL, true, 0, 1,
	  true, 0, "is the key that signed" },
	{ "bare intermediate key", "leaf", { "2 1 0 int" }, NULL, true, 0, 0,
	  true, 0, NULL },
	{ "bare key of a self-signed leaf", "self", { "2 1 0 self" },
	  "self.example.net", true, 0, 0, true, 0, NULL },
	{ "bare key, self-signed leaf, wrong name", "self", { "2 1 0 self" },
	  NULL, false, 0, 0, false, 0, "names neither" },
	{ "bare key in the chain is not bare", "leaf int root",
	  { "2 1 0 root" }, NULL, true, 0, 2, false, 0, NULL },
	{ "bare key, missing intermediate", "leaf", { "2 1 0 root" }, NULL,
	  false, 0, 0, false, 0, "no TLSA record matched" },
	{ "bare unrelated key", "leaf int", { "2 1 0 other-root" }, NULL,
	  false, 0, 0, false, 0, "no TLSA record matched" },
	{ "bare key digest is not a key", "leaf int", { "2 1 1 root" }, NULL,
	  false, 0, 0, false, 0, "no TLSA record matched" },
	{ "bare key, damaged", "leaf int", { "2 1 0 root~" }, NULL, false, 0,
	  0, false, 0, "no TLSA record matched" },
	{ "bare key, expired leaf", "expired int", { "2 1 0 root" }, NULL,
	  false, 0, 0, false, 0, "depth 0 has expired" },
	{ "bare key, expired intermediate", "leaf int-expired",
	  { "2 1 0 root" }, NULL, false, 0, 0, false, 0,
	  "depth 1 has expired" },
	{ "bare key, wrong name", "leaf int", { "2 1 0 root" },
	  "mx2.example.net", false, 0, 0, false, 0, "does not name" },

	/* RFC 5280 path length below the anchor (issue 12, item 2):
	 * pl-ca1 has pathlen 0, so no CA may follow it */
	{ "pathlen 0 CA above a CA, TA root", "pl-leaf pl-ca2 pl-ca1 pl-root",
	  { "2 0 1 pl-root" }, NULL, false, 0, 0, false, 0,
	  "path length" },
	{ "pathlen 0 CA above a CA, TA root key", "pl-leaf pl-ca2 pl-ca1",
	  { "2 1 0 pl-root" }, NULL, false, 0, 0, false, 0, "path length" },
	{ "pathlen 0 CA above a CA, TA the pathlen CA",
	  "pl-leaf pl-ca2 pl-ca1 pl-root", { "2 1 1 pl-ca1" }, NULL, false, 0,
	  0, false, 0, "path length" },
	{ "pathlen 0 CA above a CA, TA not sent",
	  "pl-leaf pl-ca2 pl-ca1", { "2 0 0 pl-root" }, NULL, false, 0, 0,
	  false, 0, "path length" },
	{ "pathlen 0 CA out of the path", "pl-leaf pl-ca2 pl-ca1 pl-root",
	  { "2 0 1 pl-ca2" }, NULL, true, 0, 1, false, 0, NULL },
	{ "pathlen 0 CA, leaf right below", "pl-leaf1 pl-ca1 pl-root",
	  { "2 0 1 pl-root" }, NULL, true, 0, 2, false, 0, NULL },

	/* a "2 0 0" anchor the server does not send (item 3) */
	{ "full TA certificate not sent", "leaf int", { "2 0 0 root" }, NULL,
	  true, 0, 1, true, 0, "not in the chain" },
	{ "full TA certificate not sent, leaf below", "leaf", { "2 0 0 int" },
	  NULL, true, 0, 0, true, 0, NULL },
	{ "full TA certificate not sent, unrelated", "leaf int",
	  { "2 0 0 other-root" }, NULL, false, 0, 0, false, 0,
	  "no TLSA record matched" },
	{ "full TA certificate not sent, expired", "leaf int",
	  { "2 0 0 root-expired" }, NULL, false, 0, 0, false, 0,
	  "has expired" },
	{ "full TA certificate not sent, not a CA", "sub", { "2 0 0 leaf" },
	  NULL, false, 0, 0, false, 0, "not a CA" },
	{ "full TA certificate not sent, wrong name", "leaf int",
	  { "2 0 0 root" }, "mx2.example.net", false, 0, 0, false, 0,
	  "does not name" },
	{ "full TA certificate digest is no anchor", "leaf int",
	  { "2 0 1 root" }, NULL, false, 0, 0, false, 0,
	  "no TLSA record matched" },

	/* name constraints bind DNS names only (item 5) */
	{ "constrained root, intermediate CN no DNS name",
	  "nc-leaf nc-int nc-root", { "2 0 1 nc-root" }, NULL, true, 0, 2,
	  false, 0, NULL },
	{ "constrained intermediate, its CN no DNS name",
	  "nc-leaf2 nc-int2 nc-root2", { "2 0 1 nc-root2" }, NULL, true, 0,
	  2, false, 0, NULL },
	{ "constrained intermediate as TA", "nc-leaf2 nc-int2",
	  { "2 1 1 nc-int2" }, NULL, true, 0, 1, false, 0, NULL },
	{ "name outside the constraint", "nc-bad nc-int nc-root",
	  { "2 0 1 nc-root" }, "mx1.example.org", false, 0, 0, false, 0,
	  "depth 0" },

	/* digest agility (RFC 7671 9): per usage and selector only the
	 * strongest matching type present counts */
	{ "agility: wrong SHA-512 beats right SHA-256", "leaf int root",
	  { "3 1 1 leaf", "3 1 2 leaf~" }, NULL, false, 0, 0, false, 0,
	  "no TLSA record matched" },
	{ "agility: wrong SHA-256 beats right full", "leaf int root",
	  { "3 0 0 leaf", "3 0 1 leaf~" }, NULL, false, 0, 0, false, 0,
	  "no TLSA record matched" },
	{ "agility: TA SHA-512 over SHA-256", "leaf int root",
	  { "2 0 1 root", "2 0 2 root~" }, NULL, false, 0, 0, false, 0,
	  "no TLSA record matched" },
	{ "agility: right SHA-512, wrong SHA-256", "leaf int root",
	  { "3 1 1 leaf~", "3 1 2 leaf" }, NULL, true, 1, 0, false, -1,
	  NULL },
	{ "agility: other selector unaffected", "leaf int root",
	  { "3 1 1 leaf", "3 0 2 leaf~" }, NULL, true, 0, 0, false, -1,
	  NULL },
	{ "agility: other usage unaffected", "leaf int root",
	  { "3 1 1 leaf", "2 1 2 int~" }, NULL, true, 0, 0, false, -1,
	  NULL },
	{ "agility: unusable stronger record ignored", "leaf int root",
	  { "3 1 1 leaf", "3 1 2 leaf<1" }, NULL, true, 0, 0, false, -1,
	  NULL },

	/* the same name twice is reported once (item 4) */
	{ "same name twice", "leaf int root", { "2 0 1 root" },
	  "mx2.example.net MX2.example.net.", false, 0, 0, false, 0,
	  "does not name mx2.example.net (it names" },

	/* foreign and broken chains */
	{ "unrelated CA vs our root", "other-leaf other-root", { "2 0 1 root" },
	  NULL, false, 0, 0, false, 0, "no TLSA record matched" },
	{ "unrelated leaf under our root", "other-leaf root", { "2 0 1 root" },
	  NULL, false, 0, 0, false, 0, "not issued by" },
	{ "unrelated leaf under our int", "other-leaf int root",
	  { "2 1 1 int" }, NULL, false, 0, 0, false, 0, "not issued by" },
	{ "reversed chain", "root int leaf", { "2 0 1 root" }, NULL, false, 0,
	  0, false, 0, "no TLSA record matched" },
	{ "reversed chain, TA leaf", "root int leaf", { "2 0 1 leaf" }, NULL,
	  false, 0, 0, false, 0, NULL },
	{ "intermediates swapped", "leaf root int", { "2 0 1 int" }, NULL,
	  false, 0, 0, false, 0, "not issued by" },
	{ "junk leaf", "junk int root", { "2 0 1 root" }, NULL, false, 0, 0,
	  false, 0, "depth 0" },
	{ "junk leaf, EE on its bytes", "junk", { "3 0 1 junk" }, NULL, false,
	  0, 0, false, 0, "does not parse" },
	{ "truncated leaf, EE on its bytes", "trunc int", { "3 0 2 trunc" },
	  NULL, false, 0, 0, false, 0, "does not parse" },
	{ "truncated leaf, TA", "trunc int root", { "2 0 1 root" }, NULL,
	  false, 0, 0, false, 0, NULL },
	{ "junk intermediate", "leaf junk root", { "2 0 1 root" }, NULL, false,
	  0, 0, false, 0, "depth 1" },
	{ "junk as TA", "leaf junk", { "2 0 1 junk" }, NULL, false, 0, 0,
	  false, 0, "depth 1" },
	{ "junk above", "leaf int junk", { "2 1 1 int", "2 1 0 root" }, NULL,
	  true, 0, 1, false, 0, NULL },
	{ "empty leaf", "empty int", { "3 0 1 leaf" }, NULL, false, 0, 0,
	  false, 0, "no certificate presented" },
	{ "empty intermediate", "leaf empty root", { "2 0 1 root" }, NULL,
	  false, 0, 0, false, 0, "depth 1" },
	{ "empty chain", "", { "3 0 1 leaf" }, NULL, false, 0, 0, false, 0,
	  "no certificate presented" },
};

/* Splits names separated by spaces into ptrs (pointing into buf). */
static size_t split_names(const char *spec, char *buf, size_t buflen,
                          const char **ptrs, size_t max)
{
	size_t n = 0;
	snprintf(buf, buflen, "%s", spec);
	char *p = buf;
	while (*p != '\0' && n < max) {
		while (*p == ' ')
			*p++ = '\0';
		if (*p == '\0')
			break;
		ptrs[n++] = p;
		p += strcspn(p, " ");
	}
	return n;
}

/* Runs dane_check() on one case and checks every result field. */
static void run_case(const struct check_case *t)
{
	struct tls_chain chain;
	struct dane_tlsa recs[RECS_MAX];
	size_t nrecs = 0;
	char namebuf[256];
	const char *names[8];
	struct dane_result res;

	make_chain(&chain, t->chain);
	while (nrecs < 8 && t->recs[nrecs] != NULL) {
		make_record(&recs[nrecs], nrecs, t->recs[nrecs]);
		nrecs++;
	}
	size_t nnames = split_names(t->names ? t->names : NAMES_DEFAULT,
	                            namebuf, sizeof namebuf, names, 8);
	dane_check(recs, nrecs, &chain, names, nnames, &res);
	if (getenv("TEST_VERBOSE") != NULL)
		printf("%-40s %s\n", t->what, res.why);

	CHECK(res.authenticated == t->auth, "%s: %s (%s)", t->what,
	      res.authenticated ? "authenticated" : "not authenticated",
	      res.why);
	CHECK(t->why == NULL || strstr(res.why, t->why) != NULL,
	      "%s: reason \"%s\", wanted \"%s\"", t->what, res.why, t->why);
	CHECK(res.why[0] != '\0' && strchr(res.why, '\n') == NULL,
	      "%s: no one-line reason", t->what);
	if (t->auth && res.authenticated) {
		CHECK(res.record == t->record && res.depth == t->depth &&
		              res.bare_key == t->bare && res.name == t->name,
		      "%s: record %d depth %d bare %d name %d, wanted %d %d "
		      "%d %d (%s)",
		      t->what, res.record, res.depth, res.bare_key, res.name,
		      t->record, t->depth, t->bare, t->name, res.why);
		const struct dane_tlsa *r = &recs[res.record];
		CHECK(res.usage == r->usage && res.selector == r->selector &&
		              res.mtype == r->mtype,
		      "%s: fields of the matching record differ", t->what);
	} else if (!res.authenticated) {
		CHECK(res.record == -1 && res.depth == -1,
		      "%s: failure names record %d depth %d", t->what,
		      res.record, res.depth);
	}
}

/* Where each usage must match in the combination test. */
struct target {
	unsigned usage;     /* 2 or 3 */
	const char *source; /* the fixture the record is made from */
	const char *chain;  /* the chain presented */
	int depth;          /* where the record must match */
};

static const struct target targets[] = {
	{ 3, "leaf", "leaf int root", 0 },
	{ 3, "self", "self", 0 },
	{ 2, "int", "leaf int root", 1 },
	{ 2, "root", "leaf int root", 2 },
};
#define NTARGETS (sizeof targets / sizeof targets[0])

/* Runs one record of selector s and matching type m, right or wrong. */
static void run_combination(const struct target *t, unsigned s, unsigned m,
                            bool wrong)
{
	char rec[64], what[96];
	snprintf(rec, sizeof rec, "%u %u %u %s%s", t->usage, s, m, t->source,
	         wrong ? "~" : "");
	snprintf(what, sizeof what, "%s on %s", rec, t->chain);
	struct check_case c = {
		.what = what,
		.chain = t->chain,
		.recs = { rec },
		.auth = !wrong,
		.record = 0,
		.depth = t->depth,
		.name = t->usage == 3 ? -1 : 0,
		.why = wrong ? "no TLSA record matched" : NULL,
	};
	run_case(&c);
}

/*
 * Every usage 2/3 x selector 0/1 x matching type 0/1/2 that must match, at
 * the depth it must match, and the same with one byte wrong.
 */
static void test_all_combinations(void)
{
	for (size_t t = 0; t < NTARGETS; t++)
		for (unsigned s = 0; s <= 1; s++)
			for (unsigned m = 0; m <= 2; m++) {
				run_combination(&targets[t], s, m, false);
				run_combination(&targets[t], s, m, true);
			}
}

/* Record-count bounds and missing arguments. */
static void test_bounds(void)
{
	struct tls_chain chain;
	static struct dane_tlsa recs[DANE_TLSA_MAX + 1];
	const char *names[] = { "mx1.example.net" };
	struct dane_result res;

	make_chain(&chain, "leaf int root");
	for (size_t i = 0; i < DANE_TLSA_MAX; i++)
		make_record(&recs[i], i, "3 1 1 leaf~");
	make_record(&recs[DANE_TLSA_MAX - 1], DANE_TLSA_MAX - 1, "2 0 2 root");
	dane_check(recs, DANE_TLSA_MAX, &chain, names, 1, &res);
	CHECK(res.authenticated && res.record == DANE_TLSA_MAX - 1 &&
	              res.usable == DANE_TLSA_MAX,
	      "the last of %d records: %s", DANE_TLSA_MAX, res.why);

	make_record(&recs[DANE_TLSA_MAX], DANE_TLSA_MAX, "3 1 1 leaf");
	dane_check(recs, DANE_TLSA_MAX + 1, &chain, names, 1, &res);
	CHECK(!res.authenticated && strstr(res.why, "too many"),
	      "%d records accepted: %s", DANE_TLSA_MAX + 1, res.why);

	dane_check(NULL, 0, &chain, names, 1, &res);
	CHECK(!res.authenticated && res.usable == 0, "no records: %s",
	      res.why);
	dane_check(recs, 1, NULL, names, 1, &res);
	CHECK(!res.authenticated, "no chain authenticated");
	make_record(&recs[0], 0, "2 0 1 root");
	dane_check(recs, 1, &chain, NULL, 3, &res);
	CHECK(!res.authenticated && strstr(res.why, "no host name"),
	      "NULL names: %s", res.why);

	/* a chain longer than TLS_CHAIN_MAX is looked at up to the bound */
	chain.count = TLS_CHAIN_MAX + 5;
	for (size_t i = 3; i < TLS_CHAIN_MAX; i++)
		chain.certs[i] = chain.certs[2];
	make_record(&recs[0], 0, "2 0 1 int");
	dane_check(recs, 1, &chain, names, 1, &res);
	CHECK(res.authenticated && res.depth == 1,
	      "long chain, TA int: %s", res.why);
}

/* Runs every group; exits 1 if any check failed. */
int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIXTURE-DIR\n", argv[0]);
		return 1;
	}
	if (wolfSSL_Init() != WOLFSSL_SUCCESS) {
		fprintf(stderr, "wolfSSL_Init failed\n");
		return 1;
	}
	load_fixtures(argv[1]);

	test_x509_against_openssl();
	test_x509_chain();
	test_host_match();
	test_leaf_names();
	test_records();
	for (size_t i = 0; i < sizeof check_cases / sizeof check_cases[0]; i++)
		run_case(&check_cases[i]);
	test_all_combinations();
	test_bounds();

	wolfSSL_Cleanup();
	printf("test_dane: %d checks (%zu dane_check cases + %zu "
	       "combinations), %d failed\n",
	       checks, sizeof check_cases / sizeof check_cases[0],
	       NTARGETS * 12, failures);
	return failures == 0 ? 0 : 1;
}
