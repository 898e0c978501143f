/*
 * userdb: the user database every scheme verifies against, swappable at run
 * time. Readers (pool threads) take a reference to the current snapshot;
 * tg_userdb_reload builds a new one off to the side and swaps it in, so a
 * broken file never replaces good data and readers never see a half-loaded
 * table. A generation number lets caches drop entries made before a reload.
 */
#ifndef TG_USERDB_H
#define TG_USERDB_H

#include <stddef.h>
#include <stdint.h>

struct tg_userdb;
struct tg_userdb_snap;

/* Loads path (htpasswd format). NULL with a message in err on failure. */
struct tg_userdb *tg_userdb_new(const char *path, char *err, size_t errlen);

/* Frees the database. All snapshots must have been released. Accepts NULL. */
void tg_userdb_free(struct tg_userdb *db);

/*
 * Re-reads the file. On success swaps the data and bumps the generation;
 * on failure keeps the old data. Returns 0 or -1 with a message in err.
 * Any thread; it blocks on file I/O, so never call it from an event loop.
 */
int tg_userdb_reload(struct tg_userdb *db, char *err, size_t errlen);

/* Current generation; changes on every successful reload. Any thread. */
uint64_t tg_userdb_generation(const struct tg_userdb *db);

/* Takes a reference to the current data. Any thread; never blocks for long. */
struct tg_userdb_snap *tg_userdb_acquire(struct tg_userdb *db);

/* Drops a reference. Accepts NULL. */
void tg_userdb_release(struct tg_userdb_snap *snap);

/* Stored hash of user or NULL; borrowed until the snapshot is released. */
const char *tg_userdb_lookup(const struct tg_userdb_snap *snap, const char *user, size_t userlen);

/* Number of users in the current data. */
size_t tg_userdb_count(struct tg_userdb *db);

#endif
