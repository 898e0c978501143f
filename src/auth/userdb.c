/*
 * userdb: an htpasswd store behind a reference-counted pointer. The mutex
 * guards only the pointer swap and the count increment; lookups and hashing
 * run without it.
 */
#include "auth/userdb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cred/htpasswd.h"

struct tg_userdb_snap {
    atomic_int refs;
    struct tg_htpasswd *ht; /* owned */
};

struct tg_userdb {
    char *path; /* owned */
    pthread_mutex_t lock;
    struct tg_userdb_snap *cur; /* one reference held by the db */
    atomic_uint_fast64_t gen;
};

static struct tg_userdb_snap *snap_load(const char *path, char *err, size_t errlen)
{
    struct tg_htpasswd *ht = NULL;
    if (tg_htpasswd_load(path, &ht, err, errlen) < 0)
        return NULL;
    struct tg_userdb_snap *s = calloc(1, sizeof *s);
    if (!s) {
        tg_htpasswd_free(ht);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->ht = ht;
    return s;
}

struct tg_userdb *tg_userdb_new(const char *path, char *err, size_t errlen)
{
    struct tg_userdb *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    db->path = strdup(path);
    pthread_mutex_init(&db->lock, NULL);
    db->cur = db->path ? snap_load(path, err, errlen) : NULL;
    if (!db->cur) {
        tg_userdb_free(db);
        return NULL;
    }
    atomic_init(&db->gen, 1);
    return db;
}

void tg_userdb_free(struct tg_userdb *db)
{
    if (!db)
        return;
    tg_userdb_release(db->cur);
    pthread_mutex_destroy(&db->lock);
    free(db->path);
    free(db);
}

int tg_userdb_reload(struct tg_userdb *db, char *err, size_t errlen)
{
    struct tg_userdb_snap *s = snap_load(db->path, err, errlen);
    if (!s)
        return -1;
    pthread_mutex_lock(&db->lock);
    struct tg_userdb_snap *old = db->cur;
    db->cur = s;
    atomic_fetch_add(&db->gen, 1);
    pthread_mutex_unlock(&db->lock);
    tg_userdb_release(old);
    return 0;
}

uint64_t tg_userdb_generation(const struct tg_userdb *db)
{
    return atomic_load(&db->gen);
}

struct tg_userdb_snap *tg_userdb_acquire(struct tg_userdb *db)
{
    pthread_mutex_lock(&db->lock);
    struct tg_userdb_snap *s = db->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&db->lock);
    return s;
}

void tg_userdb_release(struct tg_userdb_snap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        tg_htpasswd_free(s->ht);
        free(s);
    }
}

const char *tg_userdb_lookup(const struct tg_userdb_snap *s, const char *user, size_t userlen)
{
    return tg_htpasswd_lookup(s->ht, user, userlen);
}

size_t tg_userdb_count(struct tg_userdb *db)
{
    struct tg_userdb_snap *s = tg_userdb_acquire(db);
    size_t n = tg_htpasswd_count(s->ht);
    tg_userdb_release(s);
    return n;
}
