/*
 * credcache: verified credentials, so a keep-alive client whose password is
 * stored as bcrypt pays the hash once, not per request. One cache per worker
 * thread (no locks on the request path). Keys are a keyed hash of the whole
 * credential string, so the cache never holds a usable secret; entries
 * expire after a TTL and are ignored after a user-database reload.
 * Bounded: a fixed number of 4-way buckets, oldest entry evicted.
 */
#ifndef TG_CREDCACHE_H
#define TG_CREDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TG_CREDCACHE_USER_MAX 95 /* longer names are verified every time */

struct tg_credcache;

/* A cache with room for about `entries` credentials (0 disables caching). */
struct tg_credcache *tg_credcache_new(size_t entries, uint64_t ttl_ms, const unsigned char key[32]);

/* Frees the cache, wiping keys. Accepts NULL. */
void tg_credcache_free(struct tg_credcache *c);

/*
 * Looks up the credential bytes cred[0..len) (scheme-prefixed by the
 * caller) at time now_ms for database generation gen. On a hit copies the
 * user name (NUL-terminated) into user (size >= TG_CREDCACHE_USER_MAX + 1)
 * and returns true.
 */
bool tg_credcache_get(struct tg_credcache *c, const void *cred, size_t len, uint64_t now_ms,
                      uint64_t gen, char *user);

/* Remembers that cred verified as user. Silently skips over-long names. */
void tg_credcache_put(struct tg_credcache *c, const void *cred, size_t len, uint64_t now_ms,
                      uint64_t gen, const char *user);

#endif
