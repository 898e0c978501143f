/*
 * auth: proxy authentication (RFC 9110 §11, RFC 7235) behind one small
 * interface. Each scheme is a `struct tg_auth_scheme` registered in one
 * array (auth.c); the configured list decides which are offered and in what
 * order (one Proxy-Authenticate line each, strongest first).
 *
 * Verification may complete later: a scheme that must hash hands the work
 * to the pool and the attempt's on_done runs on the connection's loop.
 * This module decides and computes; it does not write responses or logs.
 */
#ifndef TG_AUTH_H
#define TG_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/str.h"
#include "loop/pool.h"

#define TG_AUTH_USER_MAX 128 /* longer names are rejected as malformed */
#define TG_AUTH_CRED_MAX 4096 /* longest credential string accepted */

struct tg_auth;
struct tg_credcache;
struct tg_userdb;

enum tg_auth_result {
    TG_AUTH_OK = 0,        /* authenticated; attempt->user set */
    TG_AUTH_CHALLENGE = 1, /* no (usable) credentials: plain 407 */
    TG_AUTH_FAIL = 2,      /* wrong credentials: 407 with error= */
    TG_AUTH_PENDING = 3,   /* on_done will be called on the loop */
    TG_AUTH_BUSY = 4,      /* hashing queue full: answer 503 */
};

struct tg_auth_scheme;

/*
 * One verification. Owned by the connection; while PENDING, the pool
 * thread owns the work fields. If the connection goes away meanwhile it
 * sets `orphaned` and the attempt frees itself when the work completes.
 */
struct tg_auth_attempt {
    struct tg_pool_job job;     /* private */
    struct tg_auth *auth;       /* borrowed */
    struct tg_credcache *cache; /* borrowed: the worker's cache */
    const struct tg_auth_scheme *scheme;
    void (*on_done)(struct tg_auth_attempt *at); /* loop thread */
    void *owner;   /* the connection */
    bool orphaned; /* loop thread only */

    enum tg_auth_result result;
    const char *reason; /* static token: verified, cached, bad_password, ... */
    char user[TG_AUTH_USER_MAX + 1];

    /* Scheme-private scratch for the pool job; wiped after use. */
    char *secret;      /* owned: decoded credentials, then the raw value */
    size_t secret_len; /* bytes in secret */
    size_t user_len;   /* user name is secret[0..user_len) */
    size_t pass_off, pass_len; /* password within secret */
    size_t raw_off, raw_len;   /* the raw credential string (cache key) */
    uint64_t gen;
    uint64_t now_ms;
};

struct tg_auth_scheme {
    const char *name;  /* as configured: "basic" */
    const char *token; /* as on the wire: "Basic" */
    /* Appends the full Proxy-Authenticate line(s), CRLF-terminated. 0 or -ENOBUFS. */
    int (*challenge)(const struct tg_auth *auth, struct tg_buf *out, const char *error);
    /* Verifies the credentials after the scheme token (OWS trimmed). */
    enum tg_auth_result (*verify)(struct tg_auth_attempt *at, struct tg_str creds);
};

struct tg_auth_config {
    const char *realm;
    const char *const *schemes; /* ordered names */
    size_t nschemes;
    struct tg_userdb *userdb;   /* borrowed; NULL only with no schemes needing it */
    struct tg_pool *pool;       /* borrowed */
};

/* Process-wide state. NULL with a message in err on failure (unknown scheme). */
struct tg_auth *tg_auth_new(const struct tg_auth_config *cfg, char *err, size_t errlen);
void tg_auth_free(struct tg_auth *auth);

/* The per-process key for credential caches (32 bytes). */
const unsigned char *tg_auth_cache_key(const struct tg_auth *auth);

const char *tg_auth_realm(const struct tg_auth *auth);
struct tg_userdb *tg_auth_userdb(const struct tg_auth *auth);
struct tg_pool *tg_auth_pool(const struct tg_auth *auth);

/*
 * Appends every offered challenge, in order. `error` (e.g.
 * "invalid_credentials") is added to the challenge of `failed`, the scheme
 * whose credentials were rejected. 0 or -ENOBUFS.
 */
int tg_auth_challenges(const struct tg_auth *auth, struct tg_buf *out,
                       const struct tg_auth_scheme *failed, const char *error);

/*
 * Starts authenticating a request whose Proxy-Authorization value is
 * `value` (value.p == NULL when absent). at must be zeroed except owner,
 * cache, on_done. Returns OK/CHALLENGE/FAIL/BUSY (done, on_done not
 * called) or PENDING (on_done called later on `loop`). Loop thread.
 */
enum tg_auth_result tg_auth_start(struct tg_auth *auth, struct tg_loop *loop,
                                  struct tg_auth_attempt *at, struct tg_str value,
                                  uint64_t now_ms);

/* Frees an attempt's scratch, wiping secrets. Does not free at. */
void tg_auth_attempt_fini(struct tg_auth_attempt *at);

/* Submits at->job to the pool; used by schemes. 0 or -EAGAIN. */
int tg_auth_submit(struct tg_auth_attempt *at, struct tg_loop *loop);

extern const struct tg_auth_scheme tg_basic_scheme;

#endif
