/* b64: base64 (RFC 4648 §4) for Basic credentials and {SHA} hashes. */
#ifndef TG_B64_H
#define TG_B64_H

#include <stddef.h>

/* Bytes needed to encode n bytes, including the terminating NUL. */
#define TG_B64_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)

/*
 * Decodes strict padded base64 (no whitespace, padding required when the
 * length is not a multiple of 4). Returns the decoded length, or -1 when the
 * input is not valid base64 or out (of size outcap) is too small.
 */
long tg_b64_decode(const char *in, size_t len, unsigned char *out, size_t outcap);

/* Encodes n bytes into out (TG_B64_ENCODED_SIZE(n) bytes); returns the length. */
size_t tg_b64_encode(const unsigned char *in, size_t n, char *out);

#endif
