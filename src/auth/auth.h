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

#include "auth/inflight.h"
#include "base/buf.h"
#include "base/str.h"
#include "loop/pool.h"

struct sockaddr;
struct tg_nonce_key;
struct tg_bearer;

#define TG_AUTH_USER_MAX 128 /* longer names are rejected as malformed */
#define TG_AUTH_CRED_MAX 4096 /* longest credential string accepted */

struct tg_auth;
struct tg_credcache;
struct tg_userdb;
struct tg_replay;

enum tg_auth_result {
    TG_AUTH_OK = 0,        /* authenticated; attempt->user set */
    TG_AUTH_CHALLENGE = 1, /* no (usable) credentials: plain 407 */
    TG_AUTH_FAIL = 2,      /* wrong credentials: 407 with error= */
    TG_AUTH_PENDING = 3,   /* on_done will be called on the loop */
    TG_AUTH_BUSY = 4,      /* hashing queue full: answer 503 */
    TG_AUTH_REJECT = 5,    /* credentials that cannot belong to this request: 400 */
    TG_AUTH_NEED_BODY = 6, /* Digest auth-int: start again with rq->body_hash filled */
};

struct tg_auth_scheme;

/* What a scheme may need to know about the request it authenticates. */
struct tg_auth_request {
    struct tg_str method;
    struct tg_str target; /* request-target as sent */
    bool is_connect;
    bool no_basic; /* plaintext listener while TLS ones exist: Basic is neither offered nor taken */
    const char *body_hash[3]; /* auth-int: hex H(body) per Digest algorithm, or NULL */
};

#define TG_AUTH_INFO_MAX 512

/*
 * One verification. Owned by the connection; while PENDING, the pool
 * thread owns the work fields. If the connection goes away meanwhile it
 * sets `orphaned` and the attempt frees itself when the work completes.
 */
struct tg_auth_attempt {
    struct tg_pool_job job;     /* private */
    struct tg_auth *auth;       /* borrowed */
    struct tg_credcache *cache; /* borrowed: the worker's cache */
    struct tg_inflight *inflight; /* borrowed: the worker's; NULL: every request hashes */
    struct tg_inflight_node inflight_node; /* private */
    const struct tg_auth_scheme *scheme;
    const struct tg_auth_request *rq; /* borrowed; valid until tg_auth_start returns */
    void (*on_done)(struct tg_auth_attempt *at); /* loop thread */
    void *owner;   /* the connection */
    bool orphaned; /* loop thread only */

    enum tg_auth_result result;
    bool presented;     /* a Proxy-Authorization value was sent: the attempt is logged */
    const char *reason; /* static token: verified, cached, bad_password, ... */
    char user[TG_AUTH_USER_MAX + 1];
    bool stale; /* Digest: right answer, expired nonce: challenge with stale=true */
    const char *error; /* the challenge's error= on FAIL; NULL: "invalid_credentials" */
    const char *error_description; /* Bearer: static text, or NULL */
    /* On OK: a whole header line to add to the response (Proxy-Authentication-Info) or "". */
    char info[TG_AUTH_INFO_MAX];

    /* Scheme-private scratch for the pool job; wiped after use. */
    char *secret;      /* owned: decoded credentials, then the raw value */
    size_t secret_len; /* bytes in secret */
    size_t user_len;   /* user name is secret[0..user_len) */
    size_t pass_off, pass_len; /* password within secret */
    size_t raw_off, raw_len;   /* the raw credential string (cache key) */
    uint64_t gen;
    uint64_t now_ms;
};

/* What to say in a challenge beyond the scheme's fixed parameters. */
struct tg_auth_challenge_ctx {
    const char *error; /* e.g. "invalid_credentials", or NULL */
    const char *error_description; /* Bearer: why the token was refused, or NULL */
    bool stale;
};

struct tg_auth_scheme {
    const char *name;  /* as configured: "basic", "digest" */
    const char *token; /* as on the wire: "Basic" */
    /* The variant a configuration name selects ("digest-md5"), or false; may be NULL. */
    bool (*parse_variant)(const char *name, int *variant);
    /* The variants the bare name offers, in order ("digest": SHA-256, MD5); NULL: {0}. */
    const int *defaults;
    size_t ndefaults;
    /* Appends the Proxy-Authenticate line for variant, CRLF-terminated. 0 or -ENOBUFS. */
    int (*challenge)(const struct tg_auth *auth, int variant, struct tg_buf *out,
                     const struct tg_auth_challenge_ctx *ctx);
    /* Verifies the credentials after the scheme token (OWS trimmed). */
    enum tg_auth_result (*verify)(struct tg_auth_attempt *at, struct tg_str creds);
    /* "Digest MD5": names a variant in messages. */
    const char *(*describe)(int variant);
    /* The credential capability variant needs from the user database (TG_AUTH_SERVES_*). */
    unsigned (*needs)(int variant);
};

#define TG_AUTH_MAX_OFFER 8
#define TG_AUTH_MAX_RULES 32

struct tg_auth_offer_item {
    const struct tg_auth_scheme *scheme;
    int variant;
};

/* An ordered list of challenges: one Proxy-Authenticate line each. */
struct tg_auth_offer {
    struct tg_auth_offer_item item[TG_AUTH_MAX_OFFER];
    size_t n;
};

struct tg_auth_config {
    const char *realm;
    const char *const *schemes; /* ordered names: basic, digest, digest-md5, ... */
    size_t nschemes;
    const char *const *rules; /* "COND... SCHEMES" strings, first match wins */
    size_t nrules;
    struct tg_userdb *userdb; /* borrowed; NULL only with no schemes needing it */
    struct tg_pool *pool;     /* borrowed */
    unsigned serves;          /* TG_AUTH_SERVES_* the credential sources can serve */
    bool no_default_rules;    /* leave out the shipped rules (see auth.c) */
    struct tg_bearer *bearer; /* borrowed; NULL without a token source */
    const char *nonce_secret_file; /* NULL: a random secret per start */
    uint64_t nonce_ttl_ms;
};

/* Process-wide state. NULL with a message in err on failure (unknown scheme). */
struct tg_auth *tg_auth_new(const struct tg_auth_config *cfg, char *err, size_t errlen);
void tg_auth_free(struct tg_auth *auth);

/* The per-process key for credential caches (32 bytes). */
const unsigned char *tg_auth_cache_key(const struct tg_auth *auth);

const char *tg_auth_realm(const struct tg_auth *auth);
struct tg_userdb *tg_auth_userdb(const struct tg_auth *auth);
struct tg_pool *tg_auth_pool(const struct tg_auth *auth);
const struct tg_nonce_key *tg_auth_nonce_key(const struct tg_auth *auth);
struct tg_replay *tg_auth_replay(const struct tg_auth *auth);
uint64_t tg_auth_nonce_ttl(const struct tg_auth *auth);
struct tg_bearer *tg_auth_bearer(const struct tg_auth *auth);

/*
 * The offer for a client: the first rule whose conditions all match the
 * User-Agent (ua.p may be NULL) and client address, else the default.
 */
const struct tg_auth_offer *tg_auth_select(const struct tg_auth *auth, struct tg_str ua,
                                           const struct sockaddr *client);

/*
 * Appends every challenge of offer, in order. ctx->error and ctx->stale
 * apply to the challenges of `failed`, the scheme whose credentials were
 * rejected. 0 or -ENOBUFS.
 */
int tg_auth_challenges(const struct tg_auth *auth, const struct tg_auth_offer *offer,
                       struct tg_buf *out, const struct tg_auth_scheme *failed,
                       const struct tg_auth_challenge_ctx *ctx, bool no_basic);

/* True when the default offer or a rule offers scheme s. */
/* Whether some client would be offered Basic alone (default or a rule). */
bool tg_auth_some_offer_basic_only(const struct tg_auth *a);
bool tg_auth_offers(const struct tg_auth *auth, const struct tg_auth_scheme *s);

/*
 * Starts authenticating a request whose Proxy-Authorization value is
 * `value` (value.p == NULL when absent). at must be zeroed except owner,
 * cache, on_done. Any offered-anywhere scheme's credentials are accepted
 * (a client that answers another rule's challenge is still right).
 * Returns OK/CHALLENGE/FAIL/BUSY/REJECT (done, on_done not called) or
 * PENDING (on_done called later on `loop`). Loop thread.
 */
enum tg_auth_result tg_auth_start(struct tg_auth *auth, struct tg_loop *loop,
                                  struct tg_auth_attempt *at, const struct tg_auth_request *rq,
                                  struct tg_str value, uint64_t now_ms);

/* Frees an attempt's scratch, wiping secrets. Does not free at. */
void tg_auth_attempt_fini(struct tg_auth_attempt *at);

/*
 * The end of a scheme's pool job, on the loop thread: wipes the scratch,
 * then frees an orphaned attempt (its connection is gone) or hands the
 * verdict to on_done.
 */
void tg_auth_job_finish(struct tg_auth_attempt *at);

/* Submits at->job to the pool; used by schemes. 0 or -EAGAIN. */
int tg_auth_submit(struct tg_auth_attempt *at, struct tg_loop *loop);

/* Credential capabilities a scheme needs from the user database. */
#define TG_AUTH_SERVES_BASIC 1u
#define TG_AUTH_SERVES_DIGEST_MD5 2u
#define TG_AUTH_SERVES_DIGEST_SHA 4u
#define TG_AUTH_SERVES_BEARER 8u

extern const struct tg_auth_scheme tg_basic_scheme;
extern const struct tg_auth_scheme tg_digest_scheme;
extern const struct tg_auth_scheme tg_bearer_scheme;

#endif
