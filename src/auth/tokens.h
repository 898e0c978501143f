/*
 * tokens: opaque Bearer tokens and the file that lists them (`--tokens`).
 *
 * A token is any RFC 6750 b64token; `tollgate token` mints 32 random bytes
 * written as base64url without padding. The file never holds a token, only
 * its SHA-256, so reading the file does not let anyone in:
 *
 *     # comment
 *     SHA256-HEX USER [EXPIRY] [revoked]
 *
 * SHA256-HEX is 64 hex digits (either case) of SHA-256 over the token's
 * bytes as sent; USER is 1..TG_TOKENS_USER_MAX bytes without white space or
 * control characters; EXPIRY is Unix seconds (the token is refused from
 * that second on) or "-" for none; the literal word "revoked" keeps a
 * token listed but refused. Fields are separated by spaces or tabs; blank
 * lines and lines whose first non-blank character is '#' are ignored. Any
 * other line is an error reported as "PATH:LINE: problem", and the whole
 * file is refused (a half-read token file would silently lock people out
 * or, worse, let a revoked token back in).
 */
#ifndef TG_TOKENS_H
#define TG_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_TOKENS_DIGEST_LEN 32        /* SHA-256 */
#define TG_TOKENS_USER_MAX 128         /* = TG_AUTH_USER_MAX: longer names never authenticate */
#define TG_TOKENS_LINE_MAX 1024        /* a valid line is < 250 bytes; more is not a token file */
#define TG_TOKENS_FILE_MAX (64u << 20) /* ~300k tokens; refuses to slurp a wrong path */
#define TG_TOKENS_MINT_BYTES 32        /* 256 bits of randomness per minted token */
#define TG_TOKENS_MINTED_LEN 43        /* base64url of 32 bytes, no padding */
#define TG_TOKENS_EXPIRY_MAX 253402300799ull /* 9999-12-31T23:59:59Z */

/* A parsed token file; immutable once loaded, so readers need no lock. */
struct tg_tokens;

enum tg_tokens_result {
    TG_TOKENS_OK = 0,      /* listed, not revoked, not expired */
    TG_TOKENS_UNKNOWN = 1, /* no line has this digest */
    TG_TOKENS_REVOKED = 2, /* listed with "revoked" */
    TG_TOKENS_EXPIRED = 3, /* listed, EXPIRY has passed */
};

/*
 * Parses a token file's text (len bytes, need not be NUL-terminated);
 * name is used in messages. NULL with "NAME:LINE: problem" (or "NAME:
 * problem") in err. Any thread.
 */
struct tg_tokens *tg_tokens_parse(const char *text, size_t len, const char *name, char *err,
                                  size_t errlen);

/* Reads and parses path (at most TG_TOKENS_FILE_MAX bytes). Blocks (file I/O). */
struct tg_tokens *tg_tokens_load(const char *path, char *err, size_t errlen);

/* Accepts NULL. */
void tg_tokens_free(struct tg_tokens *t);

/* Number of lines that name a token (revoked ones included). */
size_t tg_tokens_count(const struct tg_tokens *t);

/*
 * Looks a token up by its SHA-256. Stored digests are compared in
 * constant time. On TG_TOKENS_OK, *user (borrowed, valid until
 * tg_tokens_free) is the owner and *expiry_ms the Unix time in ms at
 * which the token stops working, or 0 for never. now_ms is Unix time in
 * ms. Any thread.
 */
enum tg_tokens_result tg_tokens_lookup(const struct tg_tokens *t,
                                       const unsigned char digest[TG_TOKENS_DIGEST_LEN],
                                       uint64_t now_ms, const char **user, uint64_t *expiry_ms);

/* SHA-256 of len bytes at p into digest. */
void tg_tokens_digest(const void *p, size_t len, unsigned char digest[TG_TOKENS_DIGEST_LEN]);

/*
 * Mints a token: TG_TOKENS_MINT_BYTES from getrandom(2) as base64url
 * without padding, NUL-terminated into token (TG_TOKENS_MINTED_LEN + 1
 * bytes), and its SHA-256 into digest. 0 or a negative errno.
 */
int tg_tokens_mint(char token[TG_TOKENS_MINTED_LEN + 1],
                   unsigned char digest[TG_TOKENS_DIGEST_LEN]);

/* Why user cannot be written as a token file's USER field (static text), or NULL. */
const char *tg_tokens_bad_user(const char *user);

/*
 * Appends "SHA256-HEX USER[ EXPIRY]\n" to path with one write(2), creating
 * the file with mode 0600 (and first adding a newline when the file does
 * not end with one). expiry_s is Unix seconds, 0 for none. 0 or -1 with
 * "PATH: problem" in err. Blocks (file I/O).
 */
int tg_tokens_append(const char *path, const unsigned char digest[TG_TOKENS_DIGEST_LEN],
                     const char *user, uint64_t expiry_s, char *err, size_t errlen);

#endif
