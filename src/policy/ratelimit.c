/*
 * ratelimit: the failed-login tables behind `--rate-limit`,
 * `--rate-penalty` and `--rate-ipv6-prefix`.
 *
 * Two tables of fixed size, each split into shards under their own mutex
 * and, inside a shard, into buckets of WAYS entries (set-associative): a
 * key hashes to one bucket, and a new key takes a free entry of that
 * bucket or evicts one of its WAYS entries. Eviction prefers the least
 * recently failing entry not in a penalty, and only when the whole bucket
 * is in a penalty the one whose penalty ends first, so churn through many
 * addresses cannot wash an attacker out of its penalty. Keys are hashed
 * with SipHash-2-4 under a random key: client addresses and user names are
 * chosen by the attacker, who must not be able to aim at one bucket.
 *
 * Addresses: IPv4 per /32 (an IPv4-mapped IPv6 address is its IPv4
 * address), IPv6 per prefix. Each entry keeps its last max_failures + 1
 * failure times in a ring, so "more than max_failures within window_ms"
 * is exact: the ring is full and its oldest time is inside the window.
 *
 * Users: each name keeps, for its last user_addresses distinct failing
 * address groups, the time of the last failure; when all of them are in
 * the window the name is under attack. Only a delay comes of it, never a
 * refusal, so its owner at their usual address still gets in.
 *
 * The success path: `horizon_ms` is a time after which no address is in a
 * penalty (the latest penalty end ever set), so while nobody is penalised
 * tg_ratelimit_blocked costs one relaxed atomic load, and it recovers by
 * itself when penalties run out, with no sweeping.
 *
 * Deliberately not here: the 429 response and its Retry-After, sleeping
 * for the delay, logging, and parsing the directives (conf/confvalue.c).
 */
#include "policy/ratelimit.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/secret.h"

#define WAYS 8        /* entries per bucket: the eviction choice */
#define MAX_SHARDS 64 /* enough that workers rarely wait on one mutex */
#define CACHE_LINE 64
#define MAX_FAILURES_LIMIT 100    /* ring of 101 times: 808 bytes per address */
#define USER_ADDRESSES_LIMIT 64   /* slots per user name, 16 bytes each */
#define USER_SHARE 4              /* user names tracked: capacity / USER_SHARE */
#define CAPACITY_LIMIT (1u << 24) /* 16M addresses: 142 bytes each at the defaults, 2.4 GB */

struct shard {
    _Alignas(CACHE_LINE) pthread_mutex_t lock; /* guards the entries of its buckets */
};

/* Geometry shared by both tables: nshards * nbuckets buckets of WAYS entries. */
struct table {
    size_t nshards;       /* a power of two */
    size_t nbuckets;      /* per shard */
    struct shard *shards; /* owned */
};

struct addr_entry {
    uint8_t key[16];         /* the address group, IPv4 in its mapped form */
    uint64_t touched_ms;     /* last failure: the LRU order */
    uint64_t penalty_end_ms; /* in a penalty while now < this */
    uint32_t offences;       /* penalties so far, forgotten after penalty_max_ms quiet */
    uint16_t ring_next;      /* where the next failure time goes */
    uint16_t ring_len;       /* failure times held, up to ring_size */
    bool used;
};

struct user_entry {
    uint64_t key;        /* keyed hash of the name */
    uint64_t touched_ms; /* last failure: the LRU order */
    uint16_t naddrs;     /* user_addr slots in use */
    bool used;
};

struct user_addr {
    uint64_t group;   /* keyed hash of the address group */
    uint64_t last_ms; /* its last failure for this name */
};

struct tg_ratelimit {
    /* Read on every request and written only when a penalty starts. */
    _Alignas(CACHE_LINE) _Atomic uint64_t horizon_ms;
    _Alignas(CACHE_LINE) struct tg_ratelimit_config cfg; /* exempt borrowed */
    uint64_t addr_key[2], user_key[2];                   /* SipHash keys, wiped on free */
    size_t ring_size;                                    /* max_failures + 1 */
    struct table addrs, users;
    struct addr_entry *aent; /* owned, one per address entry */
    uint64_t *times;         /* owned, ring_size per address entry */
    struct user_entry *uent; /* owned, one per user entry */
    struct user_addr *uaddr; /* owned, user_addresses per user entry */
};

/* SipHash-2-4 (Aumasson and Bernstein, 2012), written from the paper. */
static uint64_t rotl(uint64_t x, unsigned b)
{
    return x << b | x >> (64 - b);
}

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13) ^ v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17) ^ v[2];
    v[2] = rotl(v[2], 32);
}

static void sip_absorb(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

static uint64_t siphash(const uint64_t key[2], const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575u, key[1] ^ 0x646f72616e646f6du,
                     key[0] ^ 0x6c7967656e657261u, key[1] ^ 0x7465646279746573u};
    size_t full = len - len % 8;
    for (size_t i = 0; i < full; i += 8) {
        uint64_t m = 0;
        for (unsigned b = 0; b < 8; b++)
            m |= (uint64_t)p[i + b] << (8 * b);
        sip_absorb(v, m);
    }
    uint64_t last = (uint64_t)len << 56;
    for (size_t b = 0; b < len % 8; b++)
        last |= (uint64_t)p[full + b] << (8 * b);
    sip_absorb(v, last);
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* Zeroed memory on a cache line of its own; size is a multiple of CACHE_LINE. */
static void *zalloc_lines(size_t size)
{
    void *p = aligned_alloc(CACHE_LINE, size);
    if (p)
        memset(p, 0, size);
    return p;
}

static int table_init(struct table *t, size_t capacity)
{
    size_t buckets = capacity / WAYS + (capacity % WAYS != 0);
    t->nshards = 1;
    while (t->nshards < MAX_SHARDS && t->nshards * 2 <= buckets)
        t->nshards *= 2;
    t->nbuckets = buckets / t->nshards + (buckets % t->nshards != 0);
    t->shards = zalloc_lines(t->nshards * sizeof *t->shards);
    if (!t->shards)
        return -ENOMEM;
    for (size_t i = 0; i < t->nshards; i++)
        pthread_mutex_init(&t->shards[i].lock, NULL);
    return 0;
}

static void table_fini(struct table *t)
{
    if (!t->shards)
        return;
    for (size_t i = 0; i < t->nshards; i++)
        pthread_mutex_destroy(&t->shards[i].lock);
    free(t->shards);
    t->shards = NULL;
}

static size_t table_entries(const struct table *t)
{
    return t->nshards * t->nbuckets * WAYS;
}

/* Index of the first entry of h's bucket; *lock gets the mutex guarding it. */
static size_t bucket_of(const struct table *t, uint64_t h, pthread_mutex_t **lock)
{
    size_t shard = (size_t)h & (t->nshards - 1);
    size_t bucket = (size_t)(h >> 32) % t->nbuckets;
    *lock = &t->shards[shard].lock;
    return (shard * t->nbuckets + bucket) * WAYS;
}

/* A failure at t counts at now; t after now is another thread's clock, not the past. */
static bool within(uint64_t t, uint64_t now_ms, uint64_t window_ms)
{
    return t >= now_ms || now_ms - t < window_ms;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ---- Addresses ---- */

struct group {
    uint8_t key[16];
    uint64_t hash;
};

/* False for families that are never limited. */
static bool group_of(const struct tg_ratelimit *rl, const struct sockaddr *sa, struct group *g)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    memset(g->key, 0, sizeof g->key);
    if (sa->sa_family == AF_INET) {
        memcpy(g->key, mapped, sizeof mapped);
        memcpy(g->key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        /* A dual-stack listener reports IPv4 clients as ::ffff:a.b.c.d. */
        unsigned bits = memcmp(a, mapped, sizeof mapped) == 0 ? 128 : rl->cfg.ipv6_prefix;
        memcpy(g->key, a, bits / 8);
        if (bits % 8)
            g->key[bits / 8] = a[bits / 8] & (uint8_t)(0xffu << (8 - bits % 8));
    } else {
        return false;
    }
    g->hash = siphash(rl->addr_key, g->key, sizeof g->key);
    return true;
}

static bool exempt(const struct tg_ratelimit *rl, const struct sockaddr *sa)
{
    for (size_t i = 0; i < rl->cfg.nexempt; i++) {
        if (tg_cidr_match(&rl->cfg.exempt[i], sa))
            return true;
    }
    return false;
}

static uint64_t penalty_left(const struct addr_entry *e, uint64_t now_ms)
{
    return now_ms < e->penalty_end_ms ? e->penalty_end_ms - now_ms : 0;
}

/* Which of two entries to evict first: outside a penalty before in one. */
static bool evict_before(const struct addr_entry *a, const struct addr_entry *b, uint64_t now_ms)
{
    bool pa = now_ms < a->penalty_end_ms, pb = now_ms < b->penalty_end_ms;
    if (pa != pb)
        return pb;
    return pa ? a->penalty_end_ms < b->penalty_end_ms : a->touched_ms < b->touched_ms;
}

/* The entry of key in the bucket at base, taking one over when it is absent. */
static struct addr_entry *find_addr(struct tg_ratelimit *rl, size_t base, const uint8_t key[16],
                                    uint64_t now_ms, bool create)
{
    struct addr_entry *victim = &rl->aent[base];
    for (size_t i = base; i < base + WAYS; i++) {
        struct addr_entry *e = &rl->aent[i];
        if (e->used && memcmp(e->key, key, sizeof e->key) == 0)
            return e;
        if (victim->used && (!e->used || evict_before(e, victim, now_ms)))
            victim = e;
    }
    if (!create)
        return NULL;
    memset(victim, 0, sizeof *victim);
    memcpy(victim->key, key, sizeof victim->key);
    victim->used = true;
    return victim;
}

/* penalty_ms doubled per earlier offence, capped at penalty_max_ms. */
static uint64_t penalty_for(const struct tg_ratelimit_config *cfg, uint32_t offences)
{
    uint64_t d = cfg->penalty_ms;
    for (uint32_t n = offences; n > 0 && d < cfg->penalty_max_ms; n--)
        d = d > cfg->penalty_max_ms / 2 ? cfg->penalty_max_ms : d * 2;
    return d; /* penalty_ms <= penalty_max_ms (config_valid), so d never passes it */
}

/* Keeps the latest penalty end; blocked() skips every table below it. */
static void raise_horizon(struct tg_ratelimit *rl, uint64_t end_ms)
{
    uint64_t cur = atomic_load_explicit(&rl->horizon_ms, memory_order_relaxed);
    while (cur < end_ms &&
           !atomic_compare_exchange_weak_explicit(&rl->horizon_ms, &cur, end_ms,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* Adds a failure to an entry outside a penalty; returns the penalty it starts, or 0. */
static uint64_t count_failure(struct tg_ratelimit *rl, struct addr_entry *e, uint64_t now_ms)
{
    uint64_t *ring = rl->times + (size_t)(e - rl->aent) * rl->ring_size;
    if (e->offences && now_ms - e->penalty_end_ms >= rl->cfg.penalty_max_ms)
        e->offences = 0; /* a full cap of good behaviour since the last penalty */
    ring[e->ring_next] = now_ms;
    e->ring_next = (uint16_t)((e->ring_next + 1) % rl->ring_size);
    if (e->ring_len < rl->ring_size)
        e->ring_len++;
    /* Full ring: ring[ring_next] is the oldest of the last max_failures + 1. */
    if (e->ring_len < rl->ring_size || !within(ring[e->ring_next], now_ms, rl->cfg.window_ms))
        return 0;
    uint64_t d = penalty_for(&rl->cfg, e->offences);
    if (e->offences < UINT32_MAX)
        e->offences++;
    e->penalty_end_ms = add_sat(now_ms, d);
    e->ring_len = 0; /* the penalty paid for these failures */
    e->ring_next = 0;
    raise_horizon(rl, e->penalty_end_ms);
    return d;
}

static uint64_t record_address(struct tg_ratelimit *rl, const struct group *g, uint64_t now_ms)
{
    pthread_mutex_t *lock;
    size_t base = bucket_of(&rl->addrs, g->hash, &lock);
    pthread_mutex_lock(lock);
    struct addr_entry *e = find_addr(rl, base, g->key, now_ms, true);
    e->touched_ms = now_ms;
    uint64_t left = penalty_left(e, now_ms);
    if (left == 0)
        left = count_failure(rl, e, now_ms);
    pthread_mutex_unlock(lock);
    return left;
}

/* ---- Users ---- */

static struct user_entry *find_user(struct tg_ratelimit *rl, size_t base, uint64_t key)
{
    struct user_entry *victim = &rl->uent[base];
    for (size_t i = base; i < base + WAYS; i++) {
        struct user_entry *e = &rl->uent[i];
        if (e->used && e->key == key)
            return e;
        if (victim->used && (!e->used || e->touched_ms < victim->touched_ms))
            victim = e;
    }
    memset(victim, 0, sizeof *victim);
    victim->key = key;
    victim->used = true;
    return victim;
}

/* Notes a failure from group; returns how many slots failed within the window. */
static unsigned note_group(struct tg_ratelimit *rl, struct user_entry *e, uint64_t group,
                           uint64_t now_ms)
{
    struct user_addr *a = rl->uaddr + (size_t)(e - rl->uent) * rl->cfg.user_addresses;
    size_t slot = e->naddrs;
    for (size_t i = 0; i < e->naddrs; i++) {
        if (a[i].group == group) {
            slot = i;
            break;
        }
    }
    if (slot == e->naddrs && e->naddrs == rl->cfg.user_addresses) {
        slot = 0; /* full: the group that failed longest ago makes room */
        for (size_t i = 1; i < e->naddrs; i++) {
            if (a[i].last_ms < a[slot].last_ms)
                slot = i;
        }
    } else if (slot == e->naddrs) {
        e->naddrs++;
    }
    a[slot].group = group;
    a[slot].last_ms = now_ms;
    unsigned live = 0;
    for (size_t i = 0; i < e->naddrs; i++)
        live += within(a[i].last_ms, now_ms, rl->cfg.window_ms);
    return live;
}

static uint64_t record_user(struct tg_ratelimit *rl, const char *user, uint64_t group,
                            uint64_t now_ms)
{
    if (rl->cfg.user_addresses == 0)
        return 0;
    uint64_t key = siphash(rl->user_key, user, strlen(user));
    pthread_mutex_t *lock;
    size_t base = bucket_of(&rl->users, key, &lock);
    pthread_mutex_lock(lock);
    struct user_entry *e = find_user(rl, base, key);
    e->touched_ms = now_ms;
    unsigned live = note_group(rl, e, group, now_ms);
    pthread_mutex_unlock(lock);
    return live >= rl->cfg.user_addresses ? rl->cfg.user_delay_ms : 0;
}

/* ---- Public ---- */

static bool config_valid(const struct tg_ratelimit_config *cfg)
{
    return cfg->max_failures <= MAX_FAILURES_LIMIT && cfg->window_ms > 0 && cfg->penalty_ms > 0 &&
           cfg->penalty_max_ms >= cfg->penalty_ms && cfg->ipv6_prefix >= 1 &&
           cfg->ipv6_prefix <= 128 && cfg->capacity > 0 && cfg->capacity <= CAPACITY_LIMIT &&
           cfg->user_addresses <= USER_ADDRESSES_LIMIT && (cfg->nexempt == 0 || cfg->exempt);
}

static int alloc_tables(struct tg_ratelimit *rl)
{
    size_t users = rl->cfg.capacity / USER_SHARE;
    if (table_init(&rl->addrs, rl->cfg.capacity) != 0 ||
        table_init(&rl->users, users > WAYS ? users : WAYS) != 0)
        return -ENOMEM;
    size_t na = table_entries(&rl->addrs), nu = table_entries(&rl->users);
    if (na > SIZE_MAX / rl->ring_size)
        return -ENOMEM;
    rl->aent = calloc(na, sizeof *rl->aent);
    rl->times = calloc(na * rl->ring_size, sizeof *rl->times);
    rl->uent = calloc(nu, sizeof *rl->uent);
    if (rl->cfg.user_addresses)
        rl->uaddr = calloc(nu, rl->cfg.user_addresses * sizeof *rl->uaddr);
    if (!rl->aent || !rl->times || !rl->uent || (rl->cfg.user_addresses && !rl->uaddr))
        return -ENOMEM;
    return 0;
}

struct tg_ratelimit *tg_ratelimit_new(const struct tg_ratelimit_config *cfg)
{
    if (!cfg || !config_valid(cfg)) {
        errno = EINVAL;
        return NULL;
    }
    struct tg_ratelimit *rl = zalloc_lines(sizeof *rl);
    if (!rl) {
        errno = ENOMEM;
        return NULL;
    }
    rl->cfg = *cfg;
    rl->ring_size = (size_t)cfg->max_failures + 1;
    atomic_init(&rl->horizon_ms, 0);
    int err = alloc_tables(rl);
    if (err == 0)
        err = tg_secret_random(rl->addr_key, sizeof rl->addr_key);
    if (err == 0)
        err = tg_secret_random(rl->user_key, sizeof rl->user_key);
    if (err != 0) {
        tg_ratelimit_free(rl);
        errno = -err;
        return NULL;
    }
    return rl;
}

void tg_ratelimit_free(struct tg_ratelimit *rl)
{
    if (!rl)
        return;
    table_fini(&rl->addrs);
    table_fini(&rl->users);
    free(rl->aent);
    free(rl->times);
    free(rl->uent);
    free(rl->uaddr);
    tg_secret_wipe(rl, sizeof *rl);
    free(rl);
}

uint64_t tg_ratelimit_blocked(struct tg_ratelimit *rl, const struct sockaddr *client,
                              uint64_t now_ms)
{
    /* The success path: nobody is in a penalty past the horizon. */
    if (now_ms >= atomic_load_explicit(&rl->horizon_ms, memory_order_relaxed))
        return 0;
    struct group g;
    /* An exempt address may share a penalised group (a /128 inside a /64). */
    if (!group_of(rl, client, &g) || exempt(rl, client))
        return 0;
    pthread_mutex_t *lock;
    size_t base = bucket_of(&rl->addrs, g.hash, &lock);
    pthread_mutex_lock(lock);
    const struct addr_entry *e = find_addr(rl, base, g.key, now_ms, false);
    uint64_t left = e ? penalty_left(e, now_ms) : 0;
    pthread_mutex_unlock(lock);
    return left;
}

uint64_t tg_ratelimit_fail(struct tg_ratelimit *rl, const struct sockaddr *client, const char *user,
                           uint64_t now_ms, uint64_t *delay_ms)
{
    if (delay_ms)
        *delay_ms = 0;
    struct group g;
    if (!group_of(rl, client, &g) || exempt(rl, client))
        return 0;
    /* One lock at a time: the address shard, then the user shard. */
    uint64_t left = record_address(rl, &g, now_ms);
    if (user) {
        uint64_t delay = record_user(rl, user, g.hash, now_ms);
        if (delay_ms)
            *delay_ms = delay;
    }
    return left;
}
