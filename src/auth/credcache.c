/*
 * credcache: set-associative table of (keyed digest -> user). The digest is
 * SipHash-2-4-128 of the credential string under a per-process random key:
 * a PRF, so without the key nobody can aim two credentials at one entry,
 * and the entry gives nothing to invert. It replaced SHA-256 through
 * OpenSSL's EVP calls, which cost more than the rest of a cache hit.
 * Lookups compare digests in constant time.
 */
#include "auth/credcache.h"

#include <stdlib.h>
#include <string.h>

#include "base/secret.h"
#include "base/siphash.h"

#define WAYS 4
#define DIGEST TG_SIPHASH_OUT

struct entry {
    unsigned char digest[DIGEST];
    uint64_t expires_ms; /* 0 = empty */
    uint64_t gen;
    char user[TG_CREDCACHE_USER_MAX + 1];
};

struct tg_credcache {
    size_t nbuckets; /* power of two */
    uint64_t ttl_ms;
    unsigned char key[TG_SIPHASH_KEY];
    struct entry *entries; /* owned; nbuckets * WAYS */
};

struct tg_credcache *tg_credcache_new(size_t n, uint64_t ttl_ms, const unsigned char key[32])
{
    if (n == 0 || ttl_ms == 0)
        return NULL;
    struct tg_credcache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nbuckets = 1;
    while (c->nbuckets * WAYS < n)
        c->nbuckets *= 2;
    c->ttl_ms = ttl_ms;
    memcpy(c->key, key, sizeof c->key); /* the first half of the caller's 32 bytes */
    c->entries = calloc(c->nbuckets * WAYS, sizeof *c->entries);
    if (!c->entries) {
        tg_credcache_free(c);
        return NULL;
    }
    return c;
}

void tg_credcache_free(struct tg_credcache *c)
{
    if (!c)
        return;
    if (c->entries)
        tg_secret_wipe(c->entries, c->nbuckets * WAYS * sizeof *c->entries);
    free(c->entries);
    tg_secret_wipe(c->key, sizeof c->key);
    free(c);
}

static struct entry *bucket(struct tg_credcache *c, const unsigned char *d)
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return &c->entries[(h & (c->nbuckets - 1)) * WAYS];
}

bool tg_credcache_get(struct tg_credcache *c, const void *cred, size_t len, uint64_t now_ms,
                      uint64_t gen, char *user)
{
    unsigned char d[DIGEST];
    if (!c)
        return false;
    tg_siphash128(c->key, cred, len, d);
    struct entry *b = bucket(c, d);
    for (int i = 0; i < WAYS; i++) {
        struct entry *e = &b[i];
        if (e->expires_ms > now_ms && e->gen == gen &&
            tg_secret_equal(e->digest, DIGEST, d, DIGEST)) {
            memcpy(user, e->user, sizeof e->user);
            return true;
        }
    }
    return false;
}

void tg_credcache_put(struct tg_credcache *c, const void *cred, size_t len, uint64_t now_ms,
                      uint64_t gen, const char *user)
{
    unsigned char d[DIGEST];
    size_t ulen = strlen(user);
    if (!c || ulen > TG_CREDCACHE_USER_MAX)
        return;
    tg_siphash128(c->key, cred, len, d);
    struct entry *b = bucket(c, d), *victim = &b[0];
    for (int i = 0; i < WAYS; i++) {
        struct entry *e = &b[i];
        if (memcmp(e->digest, d, DIGEST) == 0 || e->expires_ms <= now_ms || e->gen != gen) {
            victim = e;
            break;
        }
        if (e->expires_ms < victim->expires_ms)
            victim = e;
    }
    memcpy(victim->digest, d, DIGEST);
    victim->expires_ms = now_ms + c->ttl_ms;
    victim->gen = gen;
    memcpy(victim->user, user, ulen + 1);
}
