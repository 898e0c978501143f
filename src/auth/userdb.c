/*
 * userdb: a credential store behind a reference-counted pointer. The mutex
 * guards only the pointer swap and the count increment; lookups and hashing
 * run without it.
 */
#include "auth/userdb.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

#define MAX_SOURCES 8

struct tg_userdb_snap {
    atomic_int refs;
    struct tg_credstore *store; /* owned */
};

struct tg_userdb {
    struct tg_credsource sources[MAX_SOURCES]; /* paths owned */
    size_t nsources;
    char *realm; /* owned */
    pthread_mutex_t lock;
    struct tg_userdb_snap *cur; /* one reference held by the db */
    atomic_uint_fast64_t gen;
};

static struct tg_userdb_snap *snap_load(const struct tg_userdb *db, char *err, size_t errlen)
{
    struct tg_credstore *store = NULL;
    if (tg_credstore_load(db->sources, db->nsources, db->realm, &store, err, errlen) < 0)
        return NULL;
    struct tg_userdb_snap *s = calloc(1, sizeof *s);
    if (!s) {
        tg_credstore_free(store);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->store = store;
    return s;
}

struct tg_userdb *tg_userdb_new(const struct tg_credsource *sources, size_t n, const char *realm,
                                char *err, size_t errlen)
{
    struct tg_userdb *db = calloc(1, sizeof *db);
    if (!db || n > MAX_SOURCES || !(db->realm = strdup(realm))) {
        snprintf(err, errlen, n > MAX_SOURCES ? "too many credential files" : "out of memory");
        free(db);
        return NULL;
    }
    pthread_mutex_init(&db->lock, NULL);
    atomic_init(&db->gen, 1);
    for (size_t i = 0; i < n; i++) {
        db->sources[i].kind = sources[i].kind;
        db->sources[i].path = strdup(sources[i].path);
        db->nsources++;
        if (!db->sources[i].path) {
            tg_userdb_free(db);
            return NULL;
        }
    }
    db->cur = snap_load(db, err, errlen);
    if (!db->cur) {
        tg_userdb_free(db);
        return NULL;
    }
    return db;
}

void tg_userdb_free(struct tg_userdb *db)
{
    if (!db)
        return;
    tg_userdb_release(db->cur);
    pthread_mutex_destroy(&db->lock);
    for (size_t i = 0; i < db->nsources; i++)
        free((char *)db->sources[i].path);
    free(db->realm);
    free(db);
}

int tg_userdb_reload(struct tg_userdb *db, char *err, size_t errlen)
{
    struct tg_userdb_snap *s = snap_load(db, err, errlen);
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

unsigned tg_userdb_serves(const struct tg_userdb *db)
{
    unsigned serves = 0;
    for (size_t i = 0; i < db->nsources; i++) {
        switch (db->sources[i].kind) {
        case TG_CREDSOURCE_HTPASSWD:
            serves |= TG_AUTH_SERVES_BASIC;
            break;
        case TG_CREDSOURCE_HTDIGEST:
            serves |= TG_AUTH_SERVES_DIGEST_MD5;
            break;
        case TG_CREDSOURCE_USERS:
            serves |= TG_AUTH_SERVES_BASIC | TG_AUTH_SERVES_DIGEST_MD5 | TG_AUTH_SERVES_DIGEST_SHA;
            break;
        }
    }
    return serves;
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
        tg_credstore_free(s->store);
        free(s);
    }
}

const struct tg_cred *tg_userdb_lookup(const struct tg_userdb_snap *s, const char *user,
                                       size_t userlen)
{
    return tg_credstore_lookup(s->store, user, userlen);
}

const struct tg_cred *tg_userdb_lookup_userhash(const struct tg_userdb_snap *s,
                                                enum tg_digest_alg alg, const char *hex,
                                                size_t len)
{
    return tg_credstore_lookup_userhash(s->store, alg, hex, len);
}

size_t tg_userdb_count(struct tg_userdb *db)
{
    struct tg_userdb_snap *s = tg_userdb_acquire(db);
    size_t n = tg_credstore_count(s->store);
    tg_userdb_release(s);
    return n;
}
