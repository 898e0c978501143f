/*
 * bearer: Bearer tokens (RFC 6750 semantics) on Proxy-Authorization, from
 * two sources, either or both:
 *   - opaque tokens: `--tokens FILE`, lines "SHA256-HEX USER [EXPIRY] [revoked]",
 *     so the file holds no usable secret (`tollgate token` mints them);
 *   - JWTs: `--jwt-keys FILE` (a JWKS: RSA, EC P-256/P-384, Ed25519, oct),
 *     with issuer, audience, user claim and clock skew checks. The
 *     algorithm is tied to the key type; "none" is never accepted and an
 *     RSA/EC key is never used as an HMAC secret.
 * A verified token is cached until its expiry. Reload swaps both sources
 * atomically; a broken file keeps the old data.
 */
#ifndef TG_BEARER_H
#define TG_BEARER_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

struct tg_bearer_config {
    const char *tokens_file;   /* NULL: none */
    const char *jwt_keys_file; /* NULL: none */
    const char *jwt_issuer;    /* NULL: not checked */
    const char *jwt_audience;  /* NULL: not checked */
    const char *jwt_user_claim; /* "sub" by default */
    uint64_t jwt_skew_ms;      /* allowed clock skew for exp/nbf */
};

struct tg_bearer;

/* Loads the sources. NULL with a message ("PATH: problem") in err. Blocks on file I/O. */
struct tg_bearer *tg_bearer_new(const struct tg_bearer_config *cfg, char *err, size_t errlen);

/* Re-reads both sources; on failure keeps the old data. 0 or -1 with err. Any thread. */
int tg_bearer_reload(struct tg_bearer *b, char *err, size_t errlen);

void tg_bearer_free(struct tg_bearer *b);

/*
 * Verifies a token (the credentials after "Bearer "). Returns 0 and the
 * user name NUL-terminated in user[0..userlen) with *reason "verified" or
 * "cached", or -1 with *reason one of "malformed", "unknown" (also: a JWT
 * whose kid no key has), "revoked", "expired", "not_yet_valid",
 * "bad_signature", "wrong_issuer", "wrong_audience", "no_user_claim",
 * "unsupported_algorithm" (also: no key of the algorithm's type). Reasons
 * are static strings. A name that does not fit userlen is refused, never
 * truncated. A token with exactly two dots goes to the JWT keys (when
 * configured), any other to the token file. now_ms is Unix time in ms.
 * Thread-safe; cheap on a cache hit.
 */
int tg_bearer_verify(struct tg_bearer *b, struct tg_str token, uint64_t now_ms, char *user,
                     size_t userlen, const char **reason);

/*
 * The loop's cheap first look: 1 (cache hit: user set, *reason "cached"),
 * -1 (*reason "malformed") or 0 (not cached: tg_bearer_verify decides).
 */
int tg_bearer_cached(struct tg_bearer *b, struct tg_str token, uint64_t now_ms, char *user,
                     size_t userlen, const char **reason);

/* Whether verifying token means a JWT signature check (worth the worker pool). */
bool tg_bearer_costly(struct tg_bearer *b, struct tg_str token);

/* A human text for an error_description, e.g. "token expired"; static,
 * never holds token or key bytes, and is safe inside a quoted-string. */
const char *tg_bearer_describe(const char *reason);

#endif
