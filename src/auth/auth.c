/*
 * auth: the scheme registry, challenge assembly, and dispatch of a
 * Proxy-Authorization value to the scheme it names (RFC 9110 §11.6.2,
 * §11.7.2). Scheme names compare case-insensitively (RFC 9110 §11.1).
 */
#include "auth/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/secret.h"

/* Every scheme Tollgate knows, in one explicit array. */
static const struct tg_auth_scheme *const known_schemes[] = {
    &tg_basic_scheme,
};

#define NKNOWN (sizeof known_schemes / sizeof known_schemes[0])

struct tg_auth {
    char *realm; /* owned */
    const struct tg_auth_scheme *offered[NKNOWN + 1];
    size_t noffered;
    struct tg_userdb *userdb; /* borrowed */
    struct tg_pool *pool;     /* borrowed */
    unsigned char cache_key[32];
};

static const struct tg_auth_scheme *find_scheme(const char *name)
{
    for (size_t i = 0; i < NKNOWN; i++) {
        if (strcmp(known_schemes[i]->name, name) == 0)
            return known_schemes[i];
    }
    return NULL;
}

struct tg_auth *tg_auth_new(const struct tg_auth_config *cfg, char *err, size_t errlen)
{
    struct tg_auth *a = calloc(1, sizeof *a);
    if (!a || !(a->realm = strdup(cfg->realm))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->nschemes && a->noffered < NKNOWN; i++) {
        const struct tg_auth_scheme *s = find_scheme(cfg->schemes[i]);
        if (!s) {
            snprintf(err, errlen, "auth: unknown scheme '%s'", cfg->schemes[i]);
            tg_auth_free(a);
            return NULL;
        }
        a->offered[a->noffered++] = s;
    }
    a->userdb = cfg->userdb;
    a->pool = cfg->pool;
    if (tg_secret_random(a->cache_key, sizeof a->cache_key) < 0) {
        snprintf(err, errlen, "getrandom failed");
        tg_auth_free(a);
        return NULL;
    }
    return a;
}

void tg_auth_free(struct tg_auth *a)
{
    if (!a)
        return;
    tg_secret_wipe(a->cache_key, sizeof a->cache_key);
    free(a->realm);
    free(a);
}

const unsigned char *tg_auth_cache_key(const struct tg_auth *a)
{
    return a->cache_key;
}

const char *tg_auth_realm(const struct tg_auth *a)
{
    return a->realm;
}

struct tg_userdb *tg_auth_userdb(const struct tg_auth *a)
{
    return a->userdb;
}

struct tg_pool *tg_auth_pool(const struct tg_auth *a)
{
    return a->pool;
}

int tg_auth_challenges(const struct tg_auth *a, struct tg_buf *out,
                       const struct tg_auth_scheme *failed, const char *error)
{
    for (size_t i = 0; i < a->noffered; i++) {
        const struct tg_auth_scheme *s = a->offered[i];
        int rc = s->challenge(a, out, s == failed ? error : NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const struct tg_auth_scheme *offered_scheme(const struct tg_auth *a, struct tg_str token)
{
    for (size_t i = 0; i < a->noffered; i++) {
        if (tg_str_eq_nocase(token, a->offered[i]->token))
            return a->offered[i];
    }
    return NULL;
}

enum tg_auth_result tg_auth_start(struct tg_auth *a, struct tg_loop *loop,
                                  struct tg_auth_attempt *at, struct tg_str value,
                                  uint64_t now_ms)
{
    at->auth = a;
    at->now_ms = now_ms;
    at->job.loop = loop;
    if (!value.p) {
        at->reason = "no_credentials";
        return at->result = TG_AUTH_CHALLENGE;
    }
    value = tg_str_trim(value);
    const char *sp = memchr(value.p, ' ', value.len);
    struct tg_str token = {value.p, sp ? (size_t)(sp - value.p) : value.len};
    struct tg_str rest = {sp ? sp + 1 : value.p + value.len, sp ? value.len - token.len - 1 : 0};
    at->scheme = offered_scheme(a, token);
    if (!at->scheme) {
        at->reason = "unsupported_scheme";
        return at->result = TG_AUTH_CHALLENGE;
    }
    if (value.len > TG_AUTH_CRED_MAX) {
        at->reason = "malformed";
        return at->result = TG_AUTH_FAIL;
    }
    /* Once a job is submitted the pool thread owns at->result: writing
     * PENDING here would race with, and could overwrite, its verdict. */
    enum tg_auth_result r = at->scheme->verify(at, tg_str_trim(rest));
    if (r != TG_AUTH_PENDING)
        at->result = r;
    return r;
}

void tg_auth_attempt_fini(struct tg_auth_attempt *at)
{
    if (at->secret) {
        tg_secret_wipe(at->secret, at->secret_len);
        free(at->secret);
        at->secret = NULL;
    }
    at->secret_len = 0;
}

int tg_auth_submit(struct tg_auth_attempt *at, struct tg_loop *loop)
{
    return tg_pool_submit(at->auth->pool, loop, &at->job);
}
