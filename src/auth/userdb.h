/*
 * userdb: the user database every scheme verifies against, swappable at run
 * time. Readers (pool and loop threads) take a reference to the current
 * snapshot; tg_userdb_reload builds a new one off to the side and swaps it
 * in, so a broken file never replaces good data and readers never see a
 * half-loaded table. A generation number lets caches drop entries made
 * before a reload.
 */
#ifndef TG_USERDB_H
#define TG_USERDB_H

#include <stddef.h>
#include <stdint.h>

#include "cred/credstore.h"

struct tg_userdb;
struct tg_userdb_snap;

/*
 * Loads sources[0..n) (paths are copied) for realm. NULL with a message in
 * err on failure.
 */
struct tg_userdb *tg_userdb_new(const struct tg_credsource *sources, size_t n, const char *realm,
                                char *err, size_t errlen);

/* Frees the database. All snapshots must have been released. Accepts NULL. */
void tg_userdb_free(struct tg_userdb *db);

/*
 * Re-reads the files. On success swaps the data and bumps the generation;
 * on failure keeps the old data. Returns 0 or -1 with a message in err.
 * Any thread; it blocks on file I/O, so never call it from an event loop.
 */
int tg_userdb_reload(struct tg_userdb *db, char *err, size_t errlen);

/* TG_AUTH_SERVES_* bits the configured source kinds can serve. */
unsigned tg_userdb_serves(const struct tg_userdb *db);

/* Current generation; changes on every successful reload. Any thread. */
uint64_t tg_userdb_generation(const struct tg_userdb *db);

/* Takes a reference to the current data. Any thread; never blocks for long. */
struct tg_userdb_snap *tg_userdb_acquire(struct tg_userdb *db);

/* Drops a reference. Accepts NULL. */
void tg_userdb_release(struct tg_userdb_snap *snap);

/* The user's credentials or NULL; borrowed until the snapshot is released. */
const struct tg_cred *tg_userdb_lookup(const struct tg_userdb_snap *snap, const char *user,
                                       size_t userlen);

/* The user whose userhash under alg is hex[0..len), or NULL. */
const struct tg_cred *tg_userdb_lookup_userhash(const struct tg_userdb_snap *snap,
                                                enum tg_digest_alg alg, const char *hex,
                                                size_t len);

/* Number of users in the current data. */
size_t tg_userdb_count(struct tg_userdb *db);

#endif
