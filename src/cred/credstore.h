/*
 * credstore: every user's stored credentials, merged from the files an
 * administrator configures, in one immutable in-memory table that worker
 * threads read without locks (reload builds a new one; see auth/userdb).
 *
 * Sources:
 *   htpasswd  "user:HASH"                       Basic only (any passhash format)
 *   htdigest  "user:realm:MD5-HA1"              MD5 Digest, for the configured realm
 *   users     "user:realm:BCRYPT:MD5-HA1:SHA256-HA1:SHA512-256-HA1"
 *             written by `tollgate passwd`; any hash field may be empty
 * Digest H(A1) values are realm-specific: lines for another realm than the
 * configured one cannot serve Digest and are skipped (counted in
 * `skipped_realm`). A user may appear in several sources; a field given by
 * two sources (two Basic hashes, two MD5 H(A1)s) is an error, as is a
 * user listed twice in one file. Parsing is strict: a bad line fails the
 * whole load with "PATH:LINE: problem", so a broken file never
 * half-replaces good data. Accepted: user names of 1..128 bytes without
 * ':' or control characters; realms of 1..256 bytes, likewise; H(A1)s of
 * exactly 32 (MD5) or 64 hex digits in either case (stored lowercase);
 * htpasswd hashes without ':', white space or control characters; bcrypt
 * fields shaped like "$2y$NN$" + 53 characters; no white space at either
 * end of a line; lines up to 4096 bytes, files up to 64 MiB; '#' comments,
 * blank lines and CRLF endings. Lines for other realms are checked too.
 */
#ifndef TG_CREDSTORE_H
#define TG_CREDSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "auth/digestcalc.h"

enum tg_credsource_kind {
    TG_CREDSOURCE_HTPASSWD = 0,
    TG_CREDSOURCE_HTDIGEST = 1,
    TG_CREDSOURCE_USERS = 2,
};

struct tg_credsource {
    enum tg_credsource_kind kind;
    const char *path;
};

struct tg_cred {
    const char *user;                    /* NUL-terminated */
    size_t user_len;
    const char *basic_hash;              /* NULL when no source gave one */
    const char *ha1[TG_DIGEST_NALGS];    /* lowercase hex for the realm, or NULL */
};

struct tg_credstore;

/*
 * Loads and merges sources[0..n) for `realm` (NUL-terminated, not NULL).
 * Returns 0 and *out (owned by the caller), or -1 with a message in err
 * ("PATH:LINE: problem" or "PATH: strerror"). Also precomputes, for every
 * user with a Digest H(A1), the userhash H(user ":" realm) of each
 * algorithm so userhash lookups are O(1). Blocks on file I/O: call it from
 * a worker or at startup, never from an event loop. A loaded store is
 * immutable: any thread may read it until it is freed.
 */
int tg_credstore_load(const struct tg_credsource *sources, size_t n, const char *realm,
                      struct tg_credstore **out, char *err, size_t errlen);

void tg_credstore_free(struct tg_credstore *s); /* wipes hashes; accepts NULL */

size_t tg_credstore_count(const struct tg_credstore *s);
size_t tg_credstore_skipped_realm(const struct tg_credstore *s);

/* The user named exactly user[0..len) (case-sensitive), or NULL. The
 * result and its strings are borrowed until the store is freed. */
const struct tg_cred *tg_credstore_lookup(const struct tg_credstore *s, const char *user,
                                          size_t len);

/* The user whose H(user ":" realm) under alg is hex[0..len) (any case), or
 * NULL (also for a wrong length or a non-hex digit). The user may lack
 * ha1[alg]: callers check. Borrowed until the store is freed. */
const struct tg_cred *tg_credstore_lookup_userhash(const struct tg_credstore *s,
                                                   enum tg_digest_alg alg, const char *hex,
                                                   size_t len);

#endif
