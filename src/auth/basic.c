/*
 * basic: the Basic scheme (RFC 7617) for proxies. Credentials are
 * base64("user:password"), split on the first colon only because passwords
 * may contain colons; UTF-8 is passed through as bytes, matching what the
 * htpasswd tool hashed. Verification goes through the credential cache,
 * then the hashing pool, where requests with the same credentials share
 * one hash (auth/inflight.h). Unknown users cost a dummy hash so response time
 * does not reveal which names exist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/credcache.h"
#include "auth/userdb.h"
#include "base/b64.h"
#include "cred/passhash.h"

static int basic_challenge(const struct tg_auth *auth, int variant, struct tg_buf *out,
                           const struct tg_auth_challenge_ctx *ctx)
{
    const char *error = ctx->error;
    if (error)
        return tg_buf_printf(out,
                             "Proxy-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\", "
                             "error=\"%s\"\r\n",
                             tg_auth_realm(auth), error);
    return tg_buf_printf(out, "Proxy-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n",
                         tg_auth_realm(auth));
}

static void basic_work(struct tg_pool_job *job)
{
    struct tg_auth_attempt *at = tg_container_of(job, struct tg_auth_attempt, job);
    struct tg_userdb_snap *snap = tg_userdb_acquire(tg_auth_userdb(at->auth));
    const struct tg_cred *cred = tg_userdb_lookup(snap, at->secret, at->user_len);
    const char *hash = cred ? cred->basic_hash : NULL;
    const char *pw = at->secret + at->pass_off;
    if (!hash) {
        tg_passhash_verify(tg_passhash_dummy(), pw, at->pass_len);
        at->result = TG_AUTH_FAIL;
        at->reason = "unknown_user";
    } else {
        enum tg_passhash_result r = tg_passhash_verify(hash, pw, at->pass_len);
        at->result = r == TG_PASSHASH_MATCH ? TG_AUTH_OK : TG_AUTH_FAIL;
        at->reason = r == TG_PASSHASH_MATCH      ? "verified"
                     : r == TG_PASSHASH_MISMATCH ? "bad_password"
                                                 : "unsupported_hash";
    }
    tg_userdb_release(snap);
}

/*
 * The leader's line comes first in the auth log, then one per request that
 * waited for its hash; the leader may be freed by its finish, so its
 * verdict is copied first.
 */
static void basic_done(struct tg_pool_job *job)
{
    struct tg_auth_attempt *at = tg_container_of(job, struct tg_auth_attempt, job);
    /* Runs on the worker's loop, so the worker and its cache are still there. */
    if (at->result == TG_AUTH_OK)
        tg_credcache_put(at->cache, at->secret + at->raw_off, at->raw_len, at->now_ms, at->gen,
                         at->user);
    struct tg_inflight_node *n = at->inflight ? tg_inflight_done(at->inflight, &at->inflight_node)
                                              : NULL;
    enum tg_auth_result result = at->result;
    const char *reason = result == TG_AUTH_OK ? "shared" : at->reason;
    char user[sizeof at->user];
    memcpy(user, at->user, sizeof user);
    tg_auth_job_finish(at);
    while (n) {
        struct tg_inflight_node *next = n->next;
        struct tg_auth_attempt *f = tg_container_of(n, struct tg_auth_attempt, inflight_node);
        f->result = result;
        f->reason = reason;
        memcpy(f->user, user, sizeof f->user);
        tg_auth_job_finish(f); /* may free f */
        n = next;
    }
}

static bool is_token68(struct tg_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.p[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '=' || c == '-' || c == '.' || c == '_' || c == '~';
        if (!ok)
            return false;
    }
    return s.len > 0;
}

/* Decodes into at->secret and locates user, password and raw copy. */
static bool decode(struct tg_auth_attempt *at, struct tg_str creds)
{
    size_t cap = creds.len / 4 * 3 + 3;
    at->secret = malloc(cap + creds.len);
    if (!at->secret)
        return false;
    long n = tg_b64_decode(creds.p, creds.len, (unsigned char *)at->secret, cap);
    if (n < 0)
        return false;
    at->secret_len = (size_t)n + creds.len;
    const char *colon = memchr(at->secret, ':', (size_t)n);
    if (!colon || memchr(at->secret, '\0', (size_t)n))
        return false;
    at->user_len = (size_t)(colon - at->secret);
    if (at->user_len == 0 || at->user_len > TG_AUTH_USER_MAX)
        return false;
    at->pass_off = at->user_len + 1;
    at->pass_len = (size_t)n - at->pass_off;
    at->raw_off = (size_t)n;
    at->raw_len = creds.len;
    memcpy(at->secret + at->raw_off, creds.p, creds.len);
    memcpy(at->user, at->secret, at->user_len);
    at->user[at->user_len] = '\0';
    return true;
}

static enum tg_auth_result basic_verify(struct tg_auth_attempt *at, struct tg_str creds)
{
    char cached[TG_CREDCACHE_USER_MAX + 1];
    at->gen = tg_userdb_generation(tg_auth_userdb(at->auth));
    if (!is_token68(creds)) {
        at->reason = "malformed";
        return TG_AUTH_FAIL;
    }
    if (tg_credcache_get(at->cache, creds.p, creds.len, at->now_ms, at->gen, cached)) {
        tg_str_copy(at->user, sizeof at->user, cached);
        at->reason = "cached";
        return TG_AUTH_OK;
    }
    struct tg_inflight_node *leader =
        at->inflight ? tg_inflight_find(at->inflight, creds.p, creds.len) : NULL;
    if (leader) {
        tg_inflight_follow(leader, &at->inflight_node);
        return TG_AUTH_PENDING;
    }
    if (!decode(at, creds)) {
        tg_auth_attempt_fini(at);
        at->reason = "malformed";
        return TG_AUTH_FAIL;
    }
    at->job.work = basic_work;
    at->job.done = basic_done;
    if (tg_auth_submit(at, at->job.loop) < 0) {
        tg_auth_attempt_fini(at);
        at->reason = "busy";
        return TG_AUTH_BUSY;
    }
    if (at->inflight)
        tg_inflight_lead(at->inflight, &at->inflight_node, at->secret + at->raw_off, at->raw_len);
    return TG_AUTH_PENDING;
}

static const char *basic_describe(int variant)
{
    return "Basic";
}

static unsigned basic_needs(int variant)
{
    return TG_AUTH_SERVES_BASIC;
}

const struct tg_auth_scheme tg_basic_scheme = {
    .name = "basic",
    .token = "Basic",
    .challenge = basic_challenge,
    .verify = basic_verify,
    .describe = basic_describe,
    .needs = basic_needs,
};
