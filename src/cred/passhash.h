/*
 * passhash: verification of every password hash format Apache's htpasswd
 * writes, plus the crypt(3) formats of openssl passwd / mkpasswd:
 *   $2y$/$2a$/$2b$ bcrypt, $apr1$ (Apache MD5), {SHA} (base64 SHA-1),
 *   13-character DES crypt, $5$ SHA-256-crypt, $6$ SHA-512-crypt, $1$ MD5-crypt,
 *   and whatever else libxcrypt's crypt_r understands (yescrypt $y$).
 * Deliberately slow functions: call only from the worker pool, never from an
 * event loop. Comparisons are constant-time.
 */
#ifndef TG_PASSHASH_H
#define TG_PASSHASH_H

#include <stddef.h>

enum tg_passhash_result {
    TG_PASSHASH_MATCH = 0,
    TG_PASSHASH_MISMATCH = 1,
    TG_PASSHASH_UNSUPPORTED = 2, /* hash format not recognised */
};

/*
 * Verifies password (pwlen bytes, may contain ':' and UTF-8, not NUL) against
 * a stored hash (NUL-terminated). Thread-safe (uses crypt_r).
 */
enum tg_passhash_result tg_passhash_verify(const char *hash, const char *password, size_t pwlen);

/*
 * Writes a bcrypt ($2y$, cost `cost`) hash of password into out (outlen
 * >= 128). Returns 0 or a negative errno.
 */
int tg_passhash_make_bcrypt(const char *password, int cost, char *out, size_t outlen);

/*
 * A valid bcrypt hash of a random password, used to spend the same time on
 * unknown users as on known ones so timing does not reveal which exist.
 */
const char *tg_passhash_dummy(void);

#endif
