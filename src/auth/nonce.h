/*
 * nonce: self-validating Digest nonces. A nonce is base64url of
 *   issued (8 bytes, big-endian Unix ms) | random (16 bytes) | HMAC-SHA-256
 * of the first 24 bytes under a server secret. Any instance holding the
 * same secret validates it without a shared table (no counter: Apache
 * CVE-2018-1312 was a predictable nonce). Replay of a valid nonce is the
 * replay table's job (auth/replay.h), not this module's.
 */
#ifndef TG_NONCE_H
#define TG_NONCE_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

#define TG_NONCE_SECRET_LEN 32
#define TG_NONCE_ID_LEN 16    /* the random part, used as the replay-table key */
#define TG_NONCE_TEXT_MAX 80  /* base64url text + NUL */

struct tg_nonce_key {
    unsigned char secret[TG_NONCE_SECRET_LEN];
};

enum tg_nonce_status {
    TG_NONCE_VALID = 0,
    TG_NONCE_STALE = 1, /* sealed by us but older than the TTL: answer stale=true */
    TG_NONCE_BAD = 2,   /* not ours, tampered, malformed or from the future */
};

/* A random secret (getrandom). 0 or -1. */
int tg_nonce_key_random(struct tg_nonce_key *k);

/*
 * Loads a secret file: at least 32 bytes of content; the secret is
 * SHA-256 of the whole content, so any long random text works (e.g.
 * `head -c 48 /dev/urandom | base64`). 0 or -1 with a message in err.
 */
int tg_nonce_key_load(struct tg_nonce_key *k, const char *path, char *err, size_t errlen);

/* Writes a fresh NUL-terminated nonce for time now_ms (Unix ms) into out. 0 or -1. */
int tg_nonce_make(const struct tg_nonce_key *k, uint64_t now_ms, char out[TG_NONCE_TEXT_MAX]);

/*
 * Checks a nonce at now_ms against ttl_ms. On VALID and STALE, *issued_ms
 * and id (TG_NONCE_ID_LEN bytes) are filled. A nonce issued more than a
 * small clock skew (5 s) in the future is BAD. The MAC compares in
 * constant time.
 */
enum tg_nonce_status tg_nonce_check(const struct tg_nonce_key *k, struct tg_str nonce,
                                    uint64_t now_ms, uint64_t ttl_ms, uint64_t *issued_ms,
                                    unsigned char id[TG_NONCE_ID_LEN]);

#endif
