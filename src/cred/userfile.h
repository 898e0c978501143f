/*
 * userfile: edits a Tollgate users file (format in cred/credstore.h), the
 * one file that serves Basic and every Digest algorithm. Each line holds a
 * bcrypt hash and the H(A1) of each Digest algorithm; an H(A1) is
 * password-equivalent for its realm, so files are created 0600 and
 * rewritten atomically (temporary file in the same directory, fsync,
 * rename) keeping their mode.
 */
#ifndef TG_USERFILE_H
#define TG_USERFILE_H

#include <stddef.h>

/*
 * Why user (and realm, unless NULL) cannot be written to a users file so
 * that cred/credstore reads it back, as a static string; NULL when they
 * can. User names: 1..128 bytes, no ':' or control characters, no white
 * space at either end, not starting with '#'. Realms: 1..256 bytes, no ':'
 * or control characters. Any thread.
 */
const char *tg_userfile_bad_name(const char *user, const char *realm);

/*
 * 1 when path has a line for user, 0 when not (or path does not exist),
 * -1 with a message in err. Blocks (file I/O).
 */
int tg_userfile_has(const char *path, const char *user, char *err, size_t errlen);

/*
 * Adds user or replaces their line (whatever its realm), creating path if
 * needed; every other line is kept byte for byte. The password (pwlen
 * bytes: 1..72, bcrypt's limit, no NUL) is hashed with bcrypt (cost 10)
 * and each Digest algorithm for realm. Returns 0 or -1 with a message
 * "PATH: problem" in err. Blocks (bcrypt, file I/O).
 */
int tg_userfile_set(const char *path, const char *user, const char *realm, const char *password,
                    size_t pwlen, char *err, size_t errlen);

/*
 * Removes user's line(s). Returns 0, 1 when the user was not there (the
 * file is left untouched), or -1 with err (also when path does not exist).
 */
int tg_userfile_delete(const char *path, const char *user, char *err, size_t errlen);

/*
 * A warning (into warn, returns 1) when path is readable or writable by
 * group or others, else 0. -1 when it cannot be checked ("PATH: strerror"
 * in warn).
 */
int tg_userfile_check_mode(const char *path, char *warn, size_t warnlen);

#endif
