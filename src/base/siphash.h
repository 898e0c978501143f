/*
 * siphash: SipHash-2-4 with its 128-bit output (Aumasson and Bernstein,
 * "SipHash: a fast short-input PRF", 2012). A keyed hash for short inputs
 * that an attacker may choose but cannot predict the output of without the
 * key: what the credential cache needs per request, at a fraction of the
 * cost of SHA-256 through OpenSSL's EVP layer.
 */
#ifndef TG_SIPHASH_H
#define TG_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define TG_SIPHASH_KEY 16
#define TG_SIPHASH_OUT 16

/* out = SipHash-2-4-128(key, data[0..len)), bytes little-endian as in the paper. */
void tg_siphash128(const unsigned char key[TG_SIPHASH_KEY], const void *data, size_t len,
                   unsigned char out[TG_SIPHASH_OUT]);

/* The 64-bit output variant (the paper's test vectors are for this one). */
uint64_t tg_siphash64(const unsigned char key[TG_SIPHASH_KEY], const void *data, size_t len);

#endif
