/*
 * bearer: the Bearer scheme (RFC 6750 §3 semantics, carried in
 * Proxy-Authorization / Proxy-Authenticate as RFC 9110 §11.7 allows) and
 * the tg_bearer object behind it: the current token sources and a cache of
 * verified tokens.
 *
 * Sources live in an immutable, reference-counted snapshot. A reload
 * builds a new one from the files and swaps it in under a mutex, so a
 * verification in flight finishes with the data it started with and a
 * broken file never replaces working data. The cache is keyed by SHA-256
 * of the token and stamped with the snapshot's generation; a reload bumps
 * the generation (so entries made from old data stop matching) and then
 * wipes the table, which is how revoking a token takes effect at once.
 *
 * tg_bearer_verify is synchronous on the calling thread. The scheme runs
 * it on the loop only where that is cheap (a cache hit, an opaque lookup:
 * a hash and a table probe); a JWT signature check costs tens of
 * microseconds to half a millisecond (P-384), so a JWT that misses the
 * cache goes to the worker pool like a password hash. What a token means
 * is decided in tokens.c and jwt.c; this file picks the source, caches,
 * and speaks HTTP.
 */
#include "auth/bearer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/tokens.h"
#include "base/secret.h"

_Static_assert(TG_JWT_USER_MAX == TG_AUTH_USER_MAX && TG_TOKENS_USER_MAX == TG_AUTH_USER_MAX,
               "one user-name limit for every source");

#define CACHE_SHARDS 16                      /* independent mutexes: workers rarely contend */
#define CACHE_SETS 64                        /* per shard */
#define CACHE_WAYS 4                         /* 16 * 64 * 4 = 4096 verified tokens remembered */
#define CACHE_DEFAULT_TTL_MS (5 * 60 * 1000) /* for tokens that carry no expiry */

/* One generation of loaded files; immutable while referenced. */
struct source {
    atomic_uint refs;
    uint64_t gen;
    struct tg_tokens *tokens; /* owned; NULL without --tokens */
    struct tg_jwt_keys *keys; /* owned; NULL without --jwt-keys */
};

struct centry {
    unsigned char digest[TG_TOKENS_DIGEST_LEN];
    uint64_t expires_ms; /* Unix ms; 0 = empty */
    uint64_t gen;
    char user[TG_AUTH_USER_MAX + 1];
};

struct shard {
    pthread_mutex_t lock;
    struct centry e[CACHE_SETS * CACHE_WAYS];
};

struct tg_bearer {
    char *tokens_file;           /* owned; NULL: none */
    char *keys_file;             /* owned; NULL: none */
    char *issuer, *audience;     /* owned; NULL: not checked */
    char *user_claim;            /* owned */
    struct tg_jwt_policy policy; /* borrows the strings above */
    pthread_mutex_t lock;        /* guards cur and next_gen */
    struct source *cur;          /* owned reference */
    uint64_t next_gen;
    atomic_uint_fast64_t gen; /* cur->gen, readable without the lock */
    struct shard *shards;     /* owned; CACHE_SHARDS */
};

/* ---- sources ---- */

static void source_release(struct source *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
        tg_tokens_free(s->tokens);
        tg_jwt_keys_free(s->keys);
        free(s);
    }
}

static struct source *source_acquire(struct tg_bearer *b)
{
    pthread_mutex_lock(&b->lock);
    struct source *s = b->cur;
    atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&b->lock);
    return s;
}

static struct source *source_load(const struct tg_bearer *b, char *err, size_t errlen)
{
    struct source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    bool ok = true;
    if (b->tokens_file)
        ok = (s->tokens = tg_tokens_load(b->tokens_file, err, errlen)) != NULL;
    if (ok && b->keys_file)
        ok = (s->keys = tg_jwt_keys_load(b->keys_file, err, errlen)) != NULL;
    if (!ok) {
        source_release(s);
        return NULL;
    }
    return s;
}

/* ---- the cache ---- */

static struct centry *cache_set(struct tg_bearer *b, const unsigned char *d, struct shard **sh)
{
    *sh = &b->shards[d[0] % CACHE_SHARDS];
    return &(*sh)->e[((size_t)d[1] | (size_t)d[2] << 8) % CACHE_SETS * CACHE_WAYS];
}

static bool cache_get(struct tg_bearer *b, const unsigned char *d, uint64_t now_ms, char *user,
                      size_t userlen)
{
    struct shard *sh;
    struct centry *set = cache_set(b, d, &sh);
    uint64_t gen = atomic_load(&b->gen);
    bool hit = false;
    pthread_mutex_lock(&sh->lock);
    for (size_t w = 0; w < CACHE_WAYS && !hit; w++) {
        const struct centry *e = &set[w];
        hit = e->expires_ms > now_ms && e->gen == gen &&
              tg_secret_equal(e->digest, sizeof e->digest, d, TG_TOKENS_DIGEST_LEN) &&
              strlen(e->user) < userlen;
        if (hit)
            memcpy(user, e->user, strlen(e->user) + 1);
    }
    pthread_mutex_unlock(&sh->lock);
    return hit;
}

/* Takes the way holding d, else an unusable one, else the soonest to expire. */
static void cache_put(struct tg_bearer *b, const unsigned char *d, uint64_t gen, uint64_t now_ms,
                      uint64_t expires_ms, const char *user)
{
    struct shard *sh;
    struct centry *set = cache_set(b, d, &sh);
    uint64_t cur = atomic_load(&b->gen);
    pthread_mutex_lock(&sh->lock);
    struct centry *victim = &set[0];
    for (size_t w = 0; w < CACHE_WAYS; w++) {
        struct centry *e = &set[w];
        if (memcmp(e->digest, d, TG_TOKENS_DIGEST_LEN) == 0 || e->expires_ms <= now_ms ||
            e->gen != cur) {
            victim = e;
            break;
        }
        if (e->expires_ms < victim->expires_ms)
            victim = e;
    }
    memcpy(victim->digest, d, TG_TOKENS_DIGEST_LEN);
    victim->expires_ms = expires_ms;
    victim->gen = gen;
    snprintf(victim->user, sizeof victim->user, "%s", user);
    pthread_mutex_unlock(&sh->lock);
}

static void cache_clear(struct tg_bearer *b)
{
    for (size_t i = 0; i < CACHE_SHARDS; i++) {
        pthread_mutex_lock(&b->shards[i].lock);
        tg_secret_wipe(b->shards[i].e, sizeof b->shards[i].e);
        pthread_mutex_unlock(&b->shards[i].lock);
    }
}

/* ---- the object ---- */

static bool dup_opt(char **dst, const char *src)
{
    *dst = src ? strdup(src) : NULL;
    return !src || *dst;
}

struct tg_bearer *tg_bearer_new(const struct tg_bearer_config *cfg, char *err, size_t errlen)
{
    if (!cfg->tokens_file && !cfg->jwt_keys_file) {
        snprintf(err, errlen, "bearer: no token source (give --tokens or --jwt-keys)");
        return NULL;
    }
    struct tg_bearer *b = calloc(1, sizeof *b);
    bool ok = b && (b->shards = calloc(CACHE_SHARDS, sizeof *b->shards));
    if (ok) {
        pthread_mutex_init(&b->lock, NULL);
        for (size_t i = 0; i < CACHE_SHARDS; i++)
            pthread_mutex_init(&b->shards[i].lock, NULL);
    }
    ok = ok && dup_opt(&b->tokens_file, cfg->tokens_file) &&
         dup_opt(&b->keys_file, cfg->jwt_keys_file) && dup_opt(&b->issuer, cfg->jwt_issuer) &&
         dup_opt(&b->audience, cfg->jwt_audience) &&
         dup_opt(&b->user_claim, cfg->jwt_user_claim ? cfg->jwt_user_claim : "sub");
    if (!ok) {
        snprintf(err, errlen, "bearer: out of memory");
        tg_bearer_free(b);
        return NULL;
    }
    b->policy = (struct tg_jwt_policy){b->issuer, b->audience, b->user_claim, cfg->jwt_skew_ms};
    if (!(b->cur = source_load(b, err, errlen))) {
        tg_bearer_free(b);
        return NULL;
    }
    return b;
}

int tg_bearer_reload(struct tg_bearer *b, char *err, size_t errlen)
{
    struct source *s = source_load(b, err, errlen);
    if (!s)
        return -1;
    pthread_mutex_lock(&b->lock);
    struct source *old = b->cur;
    s->gen = ++b->next_gen;
    b->cur = s;
    atomic_store(&b->gen, s->gen);
    pthread_mutex_unlock(&b->lock);
    source_release(old);
    cache_clear(b);
    return 0;
}

void tg_bearer_free(struct tg_bearer *b)
{
    if (!b)
        return;
    source_release(b->cur);
    b->cur = NULL;
    if (b->shards) {
        pthread_mutex_destroy(&b->lock);
        for (size_t i = 0; i < CACHE_SHARDS; i++)
            pthread_mutex_destroy(&b->shards[i].lock);
        tg_secret_wipe(b->shards, CACHE_SHARDS * sizeof *b->shards);
        free(b->shards);
        b->shards = NULL;
    }
    free(b->tokens_file);
    free(b->keys_file);
    free(b->issuer);
    free(b->audience);
    free(b->user_claim);
    free(b);
}

/* ---- verification ---- */

/* RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool is_b64token(struct tg_str t)
{
    size_t i = 0;
    for (; i < t.len; i++) {
        char c = t.p[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'))
            break;
    }
    if (i == 0)
        return false;
    while (i < t.len && t.p[i] == '=')
        i++;
    return i == t.len;
}

static size_t count_dots(struct tg_str t)
{
    size_t n = 0;
    for (size_t i = 0; i < t.len; i++)
        n += t.p[i] == '.';
    return n;
}

static const char *check_opaque(const struct source *s, const unsigned char *d, uint64_t now_ms,
                                char *user, uint64_t *until_ms)
{
    const char *owner = NULL;
    switch (tg_tokens_lookup(s->tokens, d, now_ms, &owner, until_ms)) {
    case TG_TOKENS_OK:
        tg_str_copy(user, TG_AUTH_USER_MAX + 1, owner);
        return NULL;
    case TG_TOKENS_REVOKED:
        return "revoked";
    case TG_TOKENS_EXPIRED:
        return "expired";
    case TG_TOKENS_UNKNOWN:
        break;
    }
    return "unknown";
}

/* A JWT has exactly two dots; an opaque token may have any number. */
static bool goes_to_jwt(const struct source *s, struct tg_str token)
{
    return s->keys && (count_dots(token) == 2 || !s->tokens);
}

/* NULL and the user, or the reason the token is refused. */
static const char *check(const struct tg_bearer *b, const struct source *s, struct tg_str token,
                         const unsigned char *d, uint64_t now_ms, char *user, uint64_t *until_ms)
{
    if (goes_to_jwt(s, token)) {
        enum tg_jwt_result r =
            tg_jwt_verify(s->keys, &b->policy, token.p, token.len, now_ms, user, until_ms);
        return r == TG_JWT_OK ? NULL : tg_jwt_result_name(r);
    }
    if (s->tokens)
        return check_opaque(s, d, now_ms, user, until_ms);
    return "unknown";
}

int tg_bearer_cached(struct tg_bearer *b, struct tg_str token, uint64_t now_ms, char *user,
                     size_t userlen, const char **reason)
{
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    if (token.len > TG_JWT_TOKEN_MAX || !is_b64token(token)) {
        *reason = "malformed";
        return -1;
    }
    tg_tokens_digest(token.p, token.len, d);
    if (!cache_get(b, d, now_ms, user, userlen))
        return 0;
    *reason = "cached";
    return 1;
}

bool tg_bearer_costly(struct tg_bearer *b, struct tg_str token)
{
    struct source *s = source_acquire(b);
    bool jwt = goes_to_jwt(s, token);
    source_release(s);
    return jwt;
}

int tg_bearer_verify(struct tg_bearer *b, struct tg_str token, uint64_t now_ms, char *user,
                     size_t userlen, const char **reason)
{
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    char found[TG_AUTH_USER_MAX + 1];
    uint64_t until_ms = 0;
    if (token.len > TG_JWT_TOKEN_MAX || !is_b64token(token)) {
        *reason = "malformed";
        return -1;
    }
    tg_tokens_digest(token.p, token.len, d);
    if (cache_get(b, d, now_ms, user, userlen)) {
        *reason = "cached";
        return 0;
    }
    struct source *s = source_acquire(b);
    const char *why = check(b, s, token, d, now_ms, found, &until_ms);
    /* Never truncate a name: a shortened one could be someone else's. */
    if (!why && strlen(found) >= userlen)
        why = "malformed";
    if (!why) {
        memcpy(user, found, strlen(found) + 1);
        cache_put(b, d, s->gen, now_ms, until_ms ? until_ms : now_ms + CACHE_DEFAULT_TTL_MS, found);
    }
    source_release(s);
    *reason = why ? why : "verified";
    return why ? -1 : 0;
}

const char *tg_bearer_describe(const char *reason)
{
    static const char *const text[][2] = {
        {"malformed", "malformed token"},
        {"unknown", "unknown token"},
        {"revoked", "token revoked"},
        {"expired", "token expired"},
        {"not_yet_valid", "token not yet valid"},
        {"bad_signature", "bad token signature"},
        {"wrong_issuer", "token issuer not accepted"},
        {"wrong_audience", "token audience not accepted"},
        {"no_user_claim", "token names no usable user"},
        {"unsupported_algorithm", "token signing algorithm not accepted"},
    };
    for (size_t i = 0; reason && i < sizeof text / sizeof text[0]; i++) {
        if (strcmp(reason, text[i][0]) == 0)
            return text[i][1];
    }
    return "invalid token";
}

/* ---- the scheme ---- */

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* RFC 6750 §3: error and error_description only after a rejected token. */
static int bearer_challenge(const struct tg_auth *auth, int variant, struct tg_buf *out,
                            const struct tg_auth_challenge_ctx *ctx)
{
    const char *realm = tg_auth_realm(auth);
    if (ctx->error && ctx->error_description)
        return tg_buf_printf(out,
                             "Proxy-Authenticate: Bearer realm=\"%s\", error=\"%s\", "
                             "error_description=\"%s\"\r\n",
                             realm, ctx->error, ctx->error_description);
    if (ctx->error)
        return tg_buf_printf(out, "Proxy-Authenticate: Bearer realm=\"%s\", error=\"%s\"\r\n",
                             realm, ctx->error);
    return tg_buf_printf(out, "Proxy-Authenticate: Bearer realm=\"%s\"\r\n", realm);
}

/* The attempt's verdict from tg_bearer_verify's answer. Any thread. */
static enum tg_auth_result settle(struct tg_auth_attempt *at, int rc, const char *reason)
{
    at->reason = reason;
    if (rc >= 0)
        return TG_AUTH_OK;
    at->user[0] = '\0';
    at->error = "invalid_token";
    at->error_description = tg_bearer_describe(reason);
    return TG_AUTH_FAIL;
}

static void bearer_work(struct tg_pool_job *job)
{
    struct tg_auth_attempt *at = tg_container_of(job, struct tg_auth_attempt, job);
    const char *reason = "unknown";
    struct tg_str token = {at->secret, at->secret_len};
    int rc = tg_bearer_verify(tg_auth_bearer(at->auth), token, wall_ms(), at->user,
                              sizeof at->user, &reason);
    at->result = settle(at, rc, reason);
}

static void bearer_done(struct tg_pool_job *job)
{
    tg_auth_job_finish(tg_container_of(job, struct tg_auth_attempt, job));
}

/* A JWT that missed the cache: its signature is checked on the worker pool. */
static enum tg_auth_result submit(struct tg_auth_attempt *at, struct tg_str creds)
{
    if (!(at->secret = malloc(creds.len))) {
        at->reason = "busy";
        return TG_AUTH_BUSY;
    }
    memcpy(at->secret, creds.p, creds.len);
    at->secret_len = creds.len;
    at->job.work = bearer_work;
    at->job.done = bearer_done;
    if (tg_auth_submit(at, at->job.loop) < 0) {
        tg_auth_attempt_fini(at);
        at->reason = "busy";
        return TG_AUTH_BUSY;
    }
    return TG_AUTH_PENDING;
}

static enum tg_auth_result bearer_verify(struct tg_auth_attempt *at, struct tg_str creds)
{
    struct tg_bearer *b = tg_auth_bearer(at->auth);
    const char *reason = "unknown";
    if (creds.len == 0) {
        /* RFC 6750 §3.1: no token at all is answered without an error code. */
        at->reason = "no_credentials";
        return TG_AUTH_CHALLENGE;
    }
    if (!b)
        return settle(at, -1, reason);
    int hit = tg_bearer_cached(b, creds, wall_ms(), at->user, sizeof at->user, &reason);
    if (hit != 0)
        return settle(at, hit, reason);
    if (tg_bearer_costly(b, creds))
        return submit(at, creds);
    int rc = tg_bearer_verify(b, creds, wall_ms(), at->user, sizeof at->user, &reason);
    return settle(at, rc, reason); /* rc first: settle must see the reason verify set */
}

static const char *bearer_describe_variant(int variant)
{
    return "Bearer";
}

static unsigned bearer_needs(int variant)
{
    return TG_AUTH_SERVES_BEARER;
}

const struct tg_auth_scheme tg_bearer_scheme = {
    .name = "bearer",
    .token = "Bearer",
    .challenge = bearer_challenge,
    .verify = bearer_verify,
    .describe = bearer_describe_variant,
    .needs = bearer_needs,
};
