/*
 * connlimit: linear-probing tables with backward-shift deletion, so an
 * address leaves no tombstone when its last connection closes. Addresses
 * are keyed as 16 bytes (IPv4 in its mapped IPv6 form).
 */
#include "policy/connlimit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NSHARDS 16

struct slot {
    uint8_t key[16];
    unsigned count; /* 0: empty */
};

struct shard {
    pthread_mutex_t lock;
    struct slot *slots;
    size_t mask; /* size - 1, size a power of two */
};

struct tg_connlimit {
    unsigned per_address;
    struct shard shards[NSHARDS];
};

static void key_of(const struct sockaddr *sa, uint8_t key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    }
}

static size_t hash_of(const uint8_t key[16])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a: addresses are not attacker-chosen keys here */
    for (int i = 0; i < 16; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

struct tg_connlimit *tg_connlimit_new(size_t max_connections, unsigned per_address)
{
    struct tg_connlimit *cl = calloc(1, sizeof *cl);
    if (!cl)
        return NULL;
    cl->per_address = per_address;
    /* Every open connection may come from a different address: room for all, half full. */
    size_t size = 64;
    while (size < 2 * (max_connections / NSHARDS + 1))
        size *= 2;
    for (int i = 0; i < NSHARDS; i++) {
        pthread_mutex_init(&cl->shards[i].lock, NULL);
        cl->shards[i].slots = calloc(size, sizeof(struct slot));
        cl->shards[i].mask = size - 1;
        if (!cl->shards[i].slots) {
            tg_connlimit_free(cl);
            return NULL;
        }
    }
    return cl;
}

void tg_connlimit_free(struct tg_connlimit *cl)
{
    if (!cl)
        return;
    for (int i = 0; i < NSHARDS; i++) {
        free(cl->shards[i].slots);
        pthread_mutex_destroy(&cl->shards[i].lock);
    }
    free(cl);
}

/* The slot holding key, or the empty slot where it would go; NULL when full. */
static struct slot *find(struct shard *s, const uint8_t key[16], size_t h)
{
    for (size_t i = 0; i <= s->mask; i++) {
        struct slot *sl = &s->slots[(h + i) & s->mask];
        if (sl->count == 0 || memcmp(sl->key, key, 16) == 0)
            return sl;
    }
    return NULL;
}

bool tg_connlimit_acquire(struct tg_connlimit *cl, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (cl->per_address == 0)
        return true;
    key_of(sa, key);
    size_t h = hash_of(key);
    struct shard *s = &cl->shards[h % NSHARDS];
    bool ok = false;
    pthread_mutex_lock(&s->lock);
    struct slot *sl = find(s, key, h / NSHARDS);
    if (sl && sl->count < cl->per_address) {
        memcpy(sl->key, key, 16);
        sl->count++;
        ok = true;
    }
    pthread_mutex_unlock(&s->lock);
    return ok;
}

/* Backward-shift deletion keeps every remaining key reachable from its home slot. */
static void erase(struct shard *s, size_t pos)
{
    size_t hole = pos;
    for (size_t i = 1; i <= s->mask; i++) {
        size_t cur = (pos + i) & s->mask;
        struct slot *sl = &s->slots[cur];
        if (sl->count == 0)
            break;
        size_t home = (hash_of(sl->key) / NSHARDS) & s->mask;
        /* Move it into the hole unless its home lies cyclically in (hole, cur]. */
        bool stays = hole <= cur ? (home > hole && home <= cur) : (home > hole || home <= cur);
        if (!stays) {
            s->slots[hole] = *sl;
            hole = cur;
        }
    }
    memset(&s->slots[hole], 0, sizeof s->slots[hole]);
}

void tg_connlimit_release(struct tg_connlimit *cl, const struct sockaddr *sa)
{
    uint8_t key[16];
    if (cl->per_address == 0)
        return;
    key_of(sa, key);
    size_t h = hash_of(key);
    struct shard *s = &cl->shards[h % NSHARDS];
    pthread_mutex_lock(&s->lock);
    struct slot *sl = find(s, key, h / NSHARDS);
    if (sl && sl->count > 0 && --sl->count == 0)
        erase(s, (size_t)(sl - s->slots));
    pthread_mutex_unlock(&s->lock);
}
