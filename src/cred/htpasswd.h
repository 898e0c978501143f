/*
 * htpasswd: an Apache htpasswd file loaded into memory ("user:hash" lines).
 * A loaded store is immutable, so worker threads may read it concurrently
 * without locks; reload builds a new store and swaps it (see auth/).
 * The file is parsed strictly: a bad line fails the whole load with its
 * line number, so a broken file never half-replaces good data.
 */
#ifndef TG_HTPASSWD_H
#define TG_HTPASSWD_H

#include <stddef.h>

struct tg_htpasswd;

/*
 * Loads path. Returns 0 and *out (owned by the caller, free with
 * tg_htpasswd_free), or a negative errno with a message "PATH:LINE: problem"
 * (or "PATH: strerror") in err. Blank lines and lines starting with '#' are
 * skipped. Duplicate users are an error. User names are case-sensitive.
 */
int tg_htpasswd_load(const char *path, struct tg_htpasswd **out, char *err, size_t errlen);

/* Number of users. */
size_t tg_htpasswd_count(const struct tg_htpasswd *h);

/*
 * Returns the stored hash for user (userlen bytes, not NUL-terminated) or
 * NULL. The pointer is borrowed until the store is freed. O(log n) or O(1).
 */
const char *tg_htpasswd_lookup(const struct tg_htpasswd *h, const char *user, size_t userlen);

/* Frees the store, wiping hashes. Accepts NULL. */
void tg_htpasswd_free(struct tg_htpasswd *h);

/*
 * Creates a new file at path (mode 0600, fails with -EEXIST if it exists)
 * holding one user with a bcrypt hash of password. Returns 0 or -errno.
 */
int tg_htpasswd_create(const char *path, const char *user, const char *password);

#endif
