/*
 * dnssig: one DNSSEC signature check (RFC 4034 3.1.8.1 data, RFC 5702,
 * 6605, 8080 algorithms) and the NSEC3 hash, with wolfCrypt.  sigcheck.c
 * builds the data and chooses the key; this is the only DNSSEC code of
 * ours that does cryptography.
 */
#ifndef MXC_DNSSIG_H
#define MXC_DNSSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether this build checks signatures of a DNSSEC algorithm number. */
bool dnssig_supported(uint8_t algorithm);
/*
 * Whether `sig` (RRSIG signature field) is a good signature over `data`
 * by the DNSKEY public key `key` (the DNSKEY RDATA after its first four
 * octets) of `algorithm`.  False for anything malformed or unsupported.
 */
bool dnssig_verify(uint8_t algorithm, const uint8_t *key, size_t key_len,
                   const uint8_t *data, size_t data_len,
                   const uint8_t *sig, size_t sig_len);

/* Length of an NSEC3 SHA-1 hash. */
#define DNSSIG_NSEC3_HASH_LEN 20
/*
 * The NSEC3 hash (RFC 5155 5) of a wire name in canonical (lower) case:
 * SHA-1, hash algorithm 1, applied iterations + 1 times with the salt.
 * False for another hash algorithm or when wolfCrypt fails.
 */
bool dnssig_nsec3_hash(uint8_t algorithm, const uint8_t *salt,
                       size_t salt_len, unsigned iterations,
                       const uint8_t *name, size_t name_len,
                       uint8_t out[DNSSIG_NSEC3_HASH_LEN]);

#endif
