/*
 * jwt: JSON Web Tokens (RFC 7519) signed as JWS compact serialisation
 * (RFC 7515 §7.1), verified against the public keys and shared secrets of
 * a JWK Set (RFC 7517 §5) read from a file.
 *
 * Supported keys and the algorithms each may verify (RFC 7518 §3, RFC 8037):
 *   kty RSA (>= 2048 bits)        RS256 RS384 RS512 PS256 PS384 PS512
 *   kty EC  crv P-256             ES256
 *   kty EC  crv P-384             ES384
 *   kty OKP crv Ed25519           EdDSA (also spelled Ed25519)
 *   kty oct (>= 32 bytes)         HS256 HS384 HS512 (key >= the hash size)
 * An algorithm is only ever tried with a key of its own type, so an RSA or
 * EC public key can never serve as an HMAC secret (the algorithm-confusion
 * attack), and "none" is not an algorithm here at all. Keys of other types
 * or curves, and keys whose "use" is not "sig" or whose "key_ops" lacks
 * "verify", are skipped; a set with no usable key is an error.
 */
#ifndef TG_JWT_H
#define TG_JWT_H

#include <stddef.h>
#include <stdint.h>

#define TG_JWT_TOKEN_MAX 8192           /* longest compact JWT accepted (RSA-4096 + claims fit) */
#define TG_JWT_USER_MAX 128             /* = TG_AUTH_USER_MAX */
#define TG_JWT_KEYS_FILE_MAX (1u << 20) /* a JWKS is a few kB; refuses a wrong path */
#define TG_JWT_KEYS_MAX 64              /* keys in one set; rotation needs two or three */
#define TG_JWT_RSA_MIN_BITS 2048        /* RFC 7518 §3.3 */
#define TG_JWT_HMAC_MIN_BYTES 32        /* RFC 7518 §3.2: at least the HS256 hash size */

/* A loaded JWK Set; immutable, so any thread may verify with it. */
struct tg_jwt_keys;

/* What a token must say besides being correctly signed. */
struct tg_jwt_policy {
    const char *issuer;     /* borrowed; NULL: iss not checked */
    const char *audience;   /* borrowed; NULL: aud not checked */
    const char *user_claim; /* borrowed; NULL means "sub" */
    uint64_t skew_ms;       /* tolerance for exp and nbf */
};

enum tg_jwt_result {
    TG_JWT_OK = 0,
    TG_JWT_MALFORMED = 1,       /* not three strict base64url parts of JSON objects; crit */
    TG_JWT_UNKNOWN_KEY = 2,     /* a kid that no key in the set has */
    TG_JWT_UNSUPPORTED_ALG = 3, /* none, unknown, or no key of the alg's type (confusion) */
    TG_JWT_BAD_SIGNATURE = 4,
    TG_JWT_EXPIRED = 5,       /* now >= exp + skew */
    TG_JWT_NOT_YET_VALID = 6, /* now + skew < nbf */
    TG_JWT_WRONG_ISSUER = 7,
    TG_JWT_WRONG_AUDIENCE = 8, /* aud neither the audience nor an array holding it */
    TG_JWT_NO_USER_CLAIM = 9,  /* the user claim is absent, not a string, empty, longer
                                  than TG_JWT_USER_MAX, or holds control characters */
};

/*
 * Parses a JWK Set document {"keys": [...]} (len bytes of text; name for
 * messages). NULL with "NAME: problem" or "NAME: keys[I]: problem" in err.
 * Any thread.
 */
struct tg_jwt_keys *tg_jwt_keys_parse(const char *text, size_t len, const char *name, char *err,
                                      size_t errlen);

/* Reads and parses path (at most TG_JWT_KEYS_FILE_MAX bytes). Blocks (file I/O). */
struct tg_jwt_keys *tg_jwt_keys_load(const char *path, char *err, size_t errlen);

/* Accepts NULL. */
void tg_jwt_keys_free(struct tg_jwt_keys *k);

/* Number of usable keys in the set. */
size_t tg_jwt_keys_count(const struct tg_jwt_keys *k);

/*
 * Verifies the compact JWT token[0..len): the signature first (with the
 * key named by kid, or else every key of the algorithm's type), then exp,
 * nbf, iss, aud and the user claim. now_ms is Unix time in ms. On TG_JWT_OK
 * the user claim is copied NUL-terminated into user and *exp_ms is exp in
 * Unix ms (0 when the token has no exp). Any thread; does not block.
 */
enum tg_jwt_result tg_jwt_verify(const struct tg_jwt_keys *k, const struct tg_jwt_policy *pol,
                                 const char *token, size_t len, uint64_t now_ms,
                                 char user[TG_JWT_USER_MAX + 1], uint64_t *exp_ms);

/* The bearer reason token for r: "verified", "malformed", "unknown", ... (static). */
const char *tg_jwt_result_name(enum tg_jwt_result r);

#endif
