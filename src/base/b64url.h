/*
 * b64url: unpadded base64url (RFC 4648 §5) for nonces, minted tokens and
 * JWTs. Decoding is strict: only the url-safe alphabet, no padding, and the
 * unused low bits of the last character must be zero, so every byte string
 * has exactly one spelling.
 */
#ifndef TG_B64URL_H
#define TG_B64URL_H

#include <stddef.h>

/* Characters needed to encode n bytes, without the terminating NUL. */
#define TG_B64URL_LEN(n) (((n) * 8 + 5) / 6)

/* Encodes n bytes into out (TG_B64URL_LEN(n) + 1 bytes, NUL-terminated); returns the length. */
size_t tg_b64url_encode(const unsigned char *in, size_t n, char *out);

/* Decodes into out (cap bytes). Returns the byte count, or -1 on bad input or overflow. */
long tg_b64url_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
