/*
 * digestcalc: the hash arithmetic of HTTP Digest (RFC 7616 §3.4, RFC 2617
 * §3.2.2) for MD5, SHA-256 and SHA-512/256, as lowercase hex strings.
 * Pure functions over OpenSSL's EVP interface; no parsing, no policy.
 * Every output buffer must hold TG_DIGEST_HEX_MAX bytes (hex + NUL).
 */
#ifndef TG_DIGESTCALC_H
#define TG_DIGESTCALC_H

#include <stdbool.h>
#include <stddef.h>

#include "base/str.h"

#define TG_DIGEST_HEX_MAX 65 /* 64 hex digits + NUL */

enum tg_digest_alg {
    TG_DIGEST_MD5 = 0,
    TG_DIGEST_SHA256 = 1,
    TG_DIGEST_SHA512_256 = 2,
};
#define TG_DIGEST_NALGS 3

/* Hex digits in an H() result: 32 for MD5, 64 otherwise. */
size_t tg_digest_hexlen(enum tg_digest_alg alg);

/*
 * Parses an `algorithm` value, case-insensitively: MD5, SHA-256,
 * SHA-512-256, each optionally with "-sess". false for anything else.
 */
bool tg_digest_alg_parse(struct tg_str name, enum tg_digest_alg *alg, bool *sess);

/* "MD5", "SHA-256", "SHA-512-256" (sess: with "-sess"). */
const char *tg_digest_alg_name(enum tg_digest_alg alg, bool sess);

/* out = hex(H(data)). */
void tg_digest_hash(enum tg_digest_alg alg, const void *data, size_t len, char *out);

/* out = hex(H(parts[0] ":" parts[1] ":" ... parts[n-1])). */
void tg_digest_hash_joined(enum tg_digest_alg alg, const struct tg_str *parts, size_t n,
                           char *out);

/* out = H(user ":" realm ":" password): the stored, password-equivalent H(A1). */
void tg_digest_ha1(enum tg_digest_alg alg, struct tg_str user, struct tg_str realm,
                   struct tg_str password, char *out);

/* out = H(ha1 ":" nonce ":" cnonce): H(A1) of the -sess variants. */
void tg_digest_ha1_sess(enum tg_digest_alg alg, const char *ha1, struct tg_str nonce,
                        struct tg_str cnonce, char *out);

/*
 * out = H(method ":" uri) for qop=auth (body_hash NULL), or
 * H(method ":" uri ":" body_hash) for qop=auth-int (body_hash = hex H(body)).
 */
void tg_digest_ha2(enum tg_digest_alg alg, struct tg_str method, struct tg_str uri,
                   const char *body_hash, char *out);

/* out = KD(ha1, nonce ":" nc ":" cnonce ":" qop ":" ha2) (RFC 7616 §3.4.1). */
void tg_digest_response(enum tg_digest_alg alg, const char *ha1, struct tg_str nonce,
                        struct tg_str nc, struct tg_str cnonce, struct tg_str qop,
                        const char *ha2, char *out);

/* out = H(user ":" realm): the name a client sends with userhash=true (§3.4.4). */
void tg_digest_userhash(enum tg_digest_alg alg, struct tg_str user, struct tg_str realm,
                        char *out);

#endif
