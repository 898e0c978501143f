/*
 * auth: the scheme registry, the offers (which challenges, in what order,
 * for which client), challenge assembly, and dispatch of a
 * Proxy-Authorization value to the scheme it names (RFC 9110 §11.6.2,
 * §11.7.2). Scheme names compare case-insensitively (RFC 9110 §11.1).
 */
#include "auth/auth.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/digestcalc.h"
#include "auth/nonce.h"
#include "auth/replay.h"
#include "base/secret.h"
#include "net/cidr.h"

/* Every scheme Tollgate knows, in one explicit array. */
static const struct tg_auth_scheme *const known_schemes[] = {
    &tg_basic_scheme,
    &tg_digest_scheme,
    &tg_bearer_scheme,
};

#define NKNOWN (sizeof known_schemes / sizeof known_schemes[0])
#define REPLAY_CAPACITY 65536
#define UA_GLOB_MAX 256

/* A rule: all present conditions must match. */
struct rule {
    char ua_glob[UA_GLOB_MAX]; /* "" when absent */
    struct tg_cidr client;
    bool has_client;
    struct tg_auth_offer offer;
};

struct tg_auth {
    char *realm; /* owned */
    struct tg_auth_offer dflt;
    struct rule rules[TG_AUTH_MAX_RULES];
    size_t nrules;
    struct tg_userdb *userdb; /* borrowed */
    struct tg_pool *pool;     /* borrowed */
    unsigned char cache_key[32];
    struct tg_nonce_key nonce_key;
    uint64_t nonce_ttl_ms;
    struct tg_replay *replay; /* owned */
    struct tg_bearer *bearer; /* borrowed */
};

static int append_item(struct tg_auth_offer *o, const struct tg_auth_scheme *s, int variant)
{
    if (o->n == TG_AUTH_MAX_OFFER)
        return -1;
    o->item[o->n].scheme = s;
    o->item[o->n].variant = variant;
    o->n++;
    return 0;
}

/*
 * Adds the challenges a configured name stands for: a scheme's bare name
 * expands to its default variants ("digest" -> SHA-256 then MD5); a
 * variant name ("digest-md5") selects one.
 */
static int add_offer(struct tg_auth_offer *o, const char *name)
{
    for (size_t i = 0; i < NKNOWN; i++) {
        const struct tg_auth_scheme *s = known_schemes[i];
        int variant;
        if (strcmp(name, s->name) == 0) {
            if (!s->defaults)
                return append_item(o, s, 0);
            for (size_t k = 0; k < s->ndefaults; k++) {
                if (append_item(o, s, s->defaults[k]) < 0)
                    return -1;
            }
            return 0;
        }
        if (s->parse_variant && s->parse_variant(name, &variant))
            return append_item(o, s, variant);
    }
    return -1;
}

static int parse_offer_names(struct tg_auth_offer *o, const char *const *names, size_t n,
                             char *err, size_t errlen)
{
    o->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (add_offer(o, names[i]) < 0) {
            snprintf(err, errlen, "auth: unknown scheme '%s' (known: basic, digest, "
                                  "digest-sha256, digest-md5, digest-sha512-256, bearer)",
                     names[i]);
            return -1;
        }
    }
    if (o->n == 0) {
        snprintf(err, errlen, "auth: empty scheme list");
        return -1;
    }
    return 0;
}

/* "a,b,c" into the offer. */
static int parse_offer(struct tg_auth_offer *o, const char *list, char *err, size_t errlen)
{
    char buf[256];
    const char *names[TG_AUTH_MAX_OFFER];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < TG_AUTH_MAX_OFFER;
         tok = strtok_r(NULL, ",", &save))
        names[n++] = tok;
    return parse_offer_names(o, names, n, err, errlen);
}

/* "user-agent=GLOB client=CIDR SCHEMES": conditions, then the scheme list. */
static int parse_rule(struct rule *r, const char *text, char *err, size_t errlen)
{
    char buf[512];
    char *words[8];
    size_t n = 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w && n < 8;
         w = strtok_r(NULL, " \t", &save))
        words[n++] = w;
    if (n < 2) {
        snprintf(err, errlen, "auth-rule '%s': want CONDITION... SCHEMES", text);
        return -1;
    }
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i + 1 < n; i++) {
        if (strncmp(words[i], "user-agent=", 11) == 0 && strlen(words[i] + 11) < UA_GLOB_MAX) {
            snprintf(r->ua_glob, sizeof r->ua_glob, "%s", words[i] + 11);
        } else if (strncmp(words[i], "client=", 7) == 0 &&
                   tg_cidr_parse(words[i] + 7, &r->client) == 0) {
            r->has_client = true;
        } else {
            snprintf(err, errlen, "auth-rule '%s': bad condition '%s' (user-agent=GLOB or "
                                  "client=CIDR)", text, words[i]);
            return -1;
        }
    }
    return parse_offer(&r->offer, words[n - 1], err, errlen);
}

/* Every offered challenge must have a credential source able to serve it. */
static int check_served(const struct tg_auth_offer *o, unsigned serves, char *err, size_t errlen)
{
    for (size_t i = 0; i < o->n; i++) {
        const struct tg_auth_scheme *s = o->item[i].scheme;
        unsigned need = s->needs(o->item[i].variant);
        if (!(serves & need)) {
            snprintf(err, errlen, "auth: %s is offered but no credential source can serve it "
                                  "(%s)", s->describe(o->item[i].variant),
                     need == TG_AUTH_SERVES_BEARER  ? "give --tokens or --jwt-keys"
                     : need == TG_AUTH_SERVES_BASIC ? "give --htpasswd or --users"
                         : need == TG_AUTH_SERVES_DIGEST_MD5 ? "give --users or --htdigest"
                                                             : "give --users");
            return -1;
        }
    }
    return 0;
}

static int setup_nonces(struct tg_auth *a, const struct tg_auth_config *cfg, char *err,
                        size_t errlen)
{
    a->nonce_ttl_ms = cfg->nonce_ttl_ms ? cfg->nonce_ttl_ms : 300000;
    int rc = cfg->nonce_secret_file
                 ? tg_nonce_key_load(&a->nonce_key, cfg->nonce_secret_file, err, errlen)
                 : tg_nonce_key_random(&a->nonce_key);
    if (rc < 0) {
        if (!cfg->nonce_secret_file)
            snprintf(err, errlen, "getrandom failed");
        return -1;
    }
    a->replay = tg_replay_new(REPLAY_CAPACITY, a->nonce_ttl_ms);
    if (!a->replay) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/*
 * Python's urllib Digest handler reads only the first Proxy-Authenticate
 * line and raises on algorithm=SHA-256 instead of moving on (INTEROP.md),
 * so for it the MD5 Digest challenge goes first. Other clients are
 * unaffected; an administrator's own rules come before this one.
 */
static void add_shipped_rules(struct tg_auth *a)
{
    struct rule r = {.ua_glob = "Python-urllib/*"};
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < a->dflt.n; i++) {
            const struct tg_auth_offer_item *it = &a->dflt.item[i];
            bool md5 = it->scheme == &tg_digest_scheme && it->variant == TG_DIGEST_MD5;
            if (md5 == (pass == 0))
                append_item(&r.offer, it->scheme, it->variant);
        }
    }
    if (a->nrules < TG_AUTH_MAX_RULES && r.offer.item[0].scheme == &tg_digest_scheme &&
        r.offer.item[0].variant == TG_DIGEST_MD5)
        a->rules[a->nrules++] = r;
}

struct tg_auth *tg_auth_new(const struct tg_auth_config *cfg, char *err, size_t errlen)
{
    struct tg_auth *a = calloc(1, sizeof *a);
    if (!a || !(a->realm = strdup(cfg->realm))) {
        free(a);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->userdb = cfg->userdb;
    a->pool = cfg->pool;
    a->bearer = cfg->bearer;
    unsigned serves = cfg->serves;
    bool ok = true;
    ok = parse_offer_names(&a->dflt, cfg->schemes, cfg->nschemes, err, errlen) == 0;
    ok = ok && check_served(&a->dflt, serves, err, errlen) == 0;
    for (size_t i = 0; ok && i < cfg->nrules; i++) {
        if (a->nrules == TG_AUTH_MAX_RULES) {
            snprintf(err, errlen, "auth-rule: at most %d rules", TG_AUTH_MAX_RULES);
            ok = false;
            break;
        }
        struct rule *r = &a->rules[a->nrules++];
        ok = parse_rule(r, cfg->rules[i], err, errlen) == 0 &&
             check_served(&r->offer, serves, err, errlen) == 0;
    }
    if (ok && !cfg->no_default_rules)
        add_shipped_rules(a);
    ok = ok && setup_nonces(a, cfg, err, errlen) == 0;
    ok = ok && tg_secret_random(a->cache_key, sizeof a->cache_key) == 0;
    if (!ok) {
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
    tg_secret_wipe(&a->nonce_key, sizeof a->nonce_key);
    tg_replay_free(a->replay);
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

const struct tg_nonce_key *tg_auth_nonce_key(const struct tg_auth *a)
{
    return &a->nonce_key;
}

struct tg_replay *tg_auth_replay(const struct tg_auth *a)
{
    return a->replay;
}

uint64_t tg_auth_nonce_ttl(const struct tg_auth *a)
{
    return a->nonce_ttl_ms;
}

struct tg_bearer *tg_auth_bearer(const struct tg_auth *a)
{
    return a->bearer;
}

static bool rule_matches(const struct rule *r, struct tg_str ua, const struct sockaddr *client)
{
    if (r->has_client && (!client || !tg_cidr_match(&r->client, client)))
        return false;
    if (r->ua_glob[0]) {
        char text[UA_GLOB_MAX * 2];
        if (!ua.p || ua.len >= sizeof text)
            return false;
        memcpy(text, ua.p, ua.len);
        text[ua.len] = '\0';
        if (fnmatch(r->ua_glob, text, FNM_CASEFOLD) != 0)
            return false;
    }
    return true;
}

const struct tg_auth_offer *tg_auth_select(const struct tg_auth *a, struct tg_str ua,
                                           const struct sockaddr *client)
{
    for (size_t i = 0; i < a->nrules; i++) {
        if (rule_matches(&a->rules[i], ua, client))
            return &a->rules[i].offer;
    }
    return &a->dflt;
}

int tg_auth_challenges(const struct tg_auth *a, const struct tg_auth_offer *offer,
                       struct tg_buf *out, const struct tg_auth_scheme *failed,
                       const struct tg_auth_challenge_ctx *ctx, bool no_basic)
{
    static const struct tg_auth_challenge_ctx plain = {0};
    for (size_t i = 0; i < offer->n; i++) {
        const struct tg_auth_offer_item *it = &offer->item[i];
        if (no_basic && it->scheme == &tg_basic_scheme)
            continue;
        int rc = it->scheme->challenge(a, it->variant, out, it->scheme == failed ? ctx : &plain);
        if (rc < 0)
            return rc;
    }
    return 0;
}

bool tg_auth_offers(const struct tg_auth *a, const struct tg_auth_scheme *s)
{
    for (size_t i = 0; i < a->dflt.n; i++) {
        if (a->dflt.item[i].scheme == s)
            return true;
    }
    for (size_t r = 0; r < a->nrules; r++) {
        for (size_t i = 0; i < a->rules[r].offer.n; i++) {
            if (a->rules[r].offer.item[i].scheme == s)
                return true;
        }
    }
    return false;
}

static bool offer_basic_only(const struct tg_auth_offer *o)
{
    for (size_t i = 0; i < o->n; i++) {
        if (o->item[i].scheme != &tg_basic_scheme)
            return false;
    }
    return o->n > 0;
}

bool tg_auth_some_offer_basic_only(const struct tg_auth *a)
{
    bool only = offer_basic_only(&a->dflt);
    for (size_t r = 0; r < a->nrules; r++)
        only = only || offer_basic_only(&a->rules[r].offer);
    return only;
}

/* Any scheme some offer names: a client may answer any challenge it was given. */
static const struct tg_auth_scheme *offered_scheme(const struct tg_auth *a, struct tg_str token)
{
    const struct tg_auth_offer *lists[TG_AUTH_MAX_RULES + 1];
    size_t n = 0;
    lists[n++] = &a->dflt;
    for (size_t i = 0; i < a->nrules; i++)
        lists[n++] = &a->rules[i].offer;
    for (size_t l = 0; l < n; l++) {
        for (size_t i = 0; i < lists[l]->n; i++) {
            if (tg_str_eq_nocase(token, lists[l]->item[i].scheme->token))
                return lists[l]->item[i].scheme;
        }
    }
    return NULL;
}

enum tg_auth_result tg_auth_start(struct tg_auth *a, struct tg_loop *loop,
                                  struct tg_auth_attempt *at, const struct tg_auth_request *rq,
                                  struct tg_str value, uint64_t now_ms)
{
    at->auth = a;
    at->rq = rq;
    at->now_ms = now_ms;
    at->job.loop = loop;
    if (!value.p) {
        at->reason = "no_credentials";
        return at->result = TG_AUTH_CHALLENGE;
    }
    at->presented = true;
    value = tg_str_trim(value);
    if (value.len == 0) {
        at->reason = "empty_credentials";
        return at->result = TG_AUTH_CHALLENGE;
    }
    const char *sp = memchr(value.p, ' ', value.len);
    struct tg_str token = {value.p, sp ? (size_t)(sp - value.p) : value.len};
    struct tg_str rest = {sp ? sp + 1 : value.p + value.len, sp ? value.len - token.len - 1 : 0};
    at->scheme = offered_scheme(a, token);
    if (at->scheme == &tg_basic_scheme && rq->no_basic) {
        at->reason = "basic_on_plaintext_refused";
        return at->result = TG_AUTH_CHALLENGE;
    }
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

void tg_auth_job_finish(struct tg_auth_attempt *at)
{
    tg_auth_attempt_fini(at);
    if (at->orphaned) {
        free(at);
        return;
    }
    at->on_done(at);
}

int tg_auth_submit(struct tg_auth_attempt *at, struct tg_loop *loop)
{
    return tg_pool_submit(at->auth->pool, loop, &at->job);
}
