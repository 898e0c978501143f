/*
 * replay: the table of used nonce counts that makes a captured Digest
 * response worthless (RFC 7616 §3.3 "nc", §5.5 replay attacks). Each nonce
 * keeps the highest count seen and a 64-bit bitmap of the counts just below
 * it, so parallel connections sharing a nonce may arrive out of order while
 * every count is still accepted at most once.
 *
 * Memory is fixed when the table is made: shards of open-addressing slots
 * (linear probing, backward-shift deletion), each under its own mutex.
 * When a shard is full it drops expired nonces, then the oldest issued
 * one, and raises its floor to every issue time it drops; an unknown nonce
 * issued at or before the floor is answered STALE, so forgetting can
 * never turn a replay into FRESH.
 *
 * Deliberately not here: checking that a nonce is genuine (auth/nonce.c)
 * and that the response was right (auth/digest.c); callers do both first.
 */
#include "auth/replay.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 64        /* counts remembered per nonce below the highest: one uint64_t */
#define MAX_SHARDS 64    /* enough that workers rarely wait on the same mutex */
#define MIN_PER_SHARD 16 /* smaller tables use fewer shards, down to one */
#define CACHE_LINE 64

struct entry {
    unsigned char id[TG_NONCE_ID_LEN];
    uint64_t issued_ms;
    uint64_t seen;   /* bit i: count max_nc - i was used */
    uint32_t max_nc; /* highest count used; 0 marks an empty slot (counts start at 1) */
};

struct shard {
    _Alignas(CACHE_LINE) pthread_mutex_t lock; /* guards every field below */
    struct entry *slots;                       /* borrowed from tg_replay.slots */
    size_t mask;                               /* slot count - 1, a power of two */
    size_t count;                              /* occupied slots */
    size_t limit;                              /* at most this many, half the slots */
    uint64_t floor_ms;                         /* meaningful only when floored */
    bool floored;                              /* some nonce was forgotten */
};

struct tg_replay {
    uint64_t ttl_ms;
    size_t nshards;       /* a power of two */
    struct shard *shards; /* owned */
    struct entry *slots;  /* owned, nshards * (mask + 1) */
};

/*
 * Ids are getrandom bytes that only reach us inside a genuine nonce, so no
 * keyed hash is needed; the mixing spreads synthetic ids in tests as well.
 */
static uint64_t id_hash(const unsigned char id[TG_NONCE_ID_LEN])
{
    uint64_t a, b;
    memcpy(&a, id, sizeof a);
    memcpy(&b, id + sizeof a, sizeof b);
    uint64_t h = a ^ (b * 0x9e3779b97f4a7c15u);
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9u;
    return h ^ h >> 29;
}

static size_t home_slot(const struct shard *s, const unsigned char id[TG_NONCE_ID_LEN])
{
    return (size_t)id_hash(id) & s->mask;
}

static bool expired(uint64_t issued_ms, uint64_t now_ms, uint64_t ttl_ms)
{
    return now_ms > issued_ms && now_ms - issued_ms > ttl_ms;
}

/* True and *at = its slot when id is present; else false and *at = where it would go. */
static bool find(const struct shard *s, const unsigned char id[TG_NONCE_ID_LEN], size_t *at)
{
    size_t i = home_slot(s, id);
    while (s->slots[i].max_nc != 0) {
        if (memcmp(s->slots[i].id, id, TG_NONCE_ID_LEN) == 0)
            break;
        i = (i + 1) & s->mask;
    }
    *at = i;
    return s->slots[i].max_nc != 0;
}

/*
 * Empties slot i and remembers its issue time in the floor. Later entries of
 * the probe run move back into the hole when their home slot allows it, so
 * lookups never need tombstones.
 */
static void forget(struct shard *s, size_t i)
{
    if (!s->floored || s->slots[i].issued_ms > s->floor_ms)
        s->floor_ms = s->slots[i].issued_ms;
    s->floored = true;
    for (size_t j = (i + 1) & s->mask; s->slots[j].max_nc != 0; j = (j + 1) & s->mask) {
        size_t home = home_slot(s, s->slots[j].id);
        if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    memset(&s->slots[i], 0, sizeof s->slots[i]);
    s->count--;
}

/* Expired nonces are stale to nonce.c as well, so dropping them costs nothing. */
static void drop_expired(struct shard *s, uint64_t now_ms, uint64_t ttl_ms)
{
    for (size_t i = 0; i <= s->mask; i++) {
        /* forget() may shift a later entry into slot i: look at it again. */
        while (s->slots[i].max_nc != 0 && expired(s->slots[i].issued_ms, now_ms, ttl_ms))
            forget(s, i);
    }
}

/*
 * Frees a slot for a new nonce issued at issued_ms. Returns false when the
 * new nonce is older than everything kept, and so is itself the one to
 * forget (the floor is raised to it).
 */
static bool make_room(struct shard *s, uint64_t issued_ms, uint64_t now_ms, uint64_t ttl_ms)
{
    drop_expired(s, now_ms, ttl_ms);
    if (s->count < s->limit)
        return true;
    size_t oldest = SIZE_MAX;
    for (size_t i = 0; i <= s->mask; i++) {
        if (s->slots[i].max_nc != 0 &&
            (oldest == SIZE_MAX || s->slots[i].issued_ms < s->slots[oldest].issued_ms))
            oldest = i;
    }
    if (issued_ms < s->slots[oldest].issued_ms) {
        if (!s->floored || issued_ms > s->floor_ms)
            s->floor_ms = issued_ms;
        s->floored = true;
        return false;
    }
    forget(s, oldest);
    return true;
}

/* Marks count nc of a known nonce, sliding the window up when nc is above it. */
static enum tg_replay_verdict record(struct entry *e, uint32_t nc)
{
    if (nc > e->max_nc) {
        uint32_t up = nc - e->max_nc;
        e->seen = up >= WINDOW ? 1 : e->seen << up | 1;
        e->max_nc = nc;
        return TG_REPLAY_FRESH;
    }
    uint32_t back = e->max_nc - nc;
    if (back >= WINDOW) /* too old to tell apart from a replay: refuse */
        return TG_REPLAY_SEEN;
    uint64_t bit = (uint64_t)1 << back;
    if (e->seen & bit)
        return TG_REPLAY_SEEN;
    e->seen |= bit;
    return TG_REPLAY_FRESH;
}

static enum tg_replay_verdict use_locked(struct shard *s, const unsigned char id[TG_NONCE_ID_LEN],
                                         uint64_t issued_ms, uint32_t nc, uint64_t now_ms,
                                         uint64_t ttl_ms)
{
    size_t i;
    if (find(s, id, &i))
        return record(&s->slots[i], nc);
    if (s->floored && issued_ms <= s->floor_ms)
        return TG_REPLAY_STALE; /* maybe used and forgotten: only a new nonce is safe */
    if (s->count >= s->limit) {
        if (!make_room(s, issued_ms, now_ms, ttl_ms))
            return TG_REPLAY_STALE;
        find(s, id, &i); /* entries moved: find the free slot again */
    }
    struct entry *e = &s->slots[i];
    memcpy(e->id, id, TG_NONCE_ID_LEN);
    e->issued_ms = issued_ms;
    e->seen = 1;
    e->max_nc = nc;
    s->count++;
    return TG_REPLAY_FRESH;
}

enum tg_replay_verdict tg_replay_use(struct tg_replay *r, const unsigned char id[TG_NONCE_ID_LEN],
                                     uint64_t issued_ms, uint32_t nc, uint64_t now_ms)
{
    if (nc == 0) /* RFC 7616 counts start at 1; 0 is never a first use */
        return TG_REPLAY_SEEN;
    if (expired(issued_ms, now_ms, r->ttl_ms))
        return TG_REPLAY_STALE;
    struct shard *s = &r->shards[(id_hash(id) >> 32) & (r->nshards - 1)];
    pthread_mutex_lock(&s->lock);
    enum tg_replay_verdict v = use_locked(s, id, issued_ms, nc, now_ms, r->ttl_ms);
    pthread_mutex_unlock(&s->lock);
    return v;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

struct tg_replay *tg_replay_new(size_t capacity, uint64_t ttl_ms)
{
    if (capacity == 0)
        capacity = 1;
    if (capacity > SIZE_MAX / 8 / sizeof(struct entry)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t nshards = MAX_SHARDS;
    while (nshards > 1 && nshards * MIN_PER_SHARD > capacity)
        nshards >>= 1;
    size_t limit = (capacity + nshards - 1) / nshards;
    size_t nslots = pow2_at_least(2 * limit); /* load <= 1/2 keeps probe runs short */
    struct tg_replay *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ttl_ms = ttl_ms;
    r->shards = aligned_alloc(CACHE_LINE, nshards * sizeof *r->shards);
    r->slots = calloc(nshards * nslots, sizeof *r->slots);
    if (!r->shards || !r->slots) {
        tg_replay_free(r);
        errno = ENOMEM;
        return NULL;
    }
    for (; r->nshards < nshards; r->nshards++) {
        struct shard *s = &r->shards[r->nshards];
        memset(s, 0, sizeof *s);
        if (pthread_mutex_init(&s->lock, NULL) != 0) {
            tg_replay_free(r);
            errno = ENOMEM;
            return NULL;
        }
        s->slots = r->slots + r->nshards * nslots;
        s->mask = nslots - 1;
        s->limit = limit;
    }
    return r;
}

void tg_replay_free(struct tg_replay *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nshards; i++)
        pthread_mutex_destroy(&r->shards[i].lock);
    free(r->shards);
    r->shards = NULL;
    free(r->slots);
    r->slots = NULL;
    free(r);
}
