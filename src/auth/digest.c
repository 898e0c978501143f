/*
 * digest: the Digest scheme (RFC 7616) for proxies. Verification is cheap
 * (a few hashes over stored H(A1) values), so it runs on the loop; what
 * makes it safe is the order of checks:
 *   parameters -> realm, algorithm, opaque -> uri names this request ->
 *   response correct -> nonce fresh -> this nc never used before.
 * The replay table is touched only after the response proved knowledge of
 * the password, so nobody can burn another client's counts.
 * Variants are the algorithms (enum tg_digest_alg); "digest" offers
 * SHA-256 then MD5 (curl takes the first, see INTEROP.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/authparam.h"
#include "auth/digestcalc.h"
#include "auth/nonce.h"
#include "auth/replay.h"
#include "auth/userdb.h"
#include "base/hex.h"
#include "base/secret.h"
#include "http/target.h"

#define OPAQUE_HEX 32

static const int digest_defaults[] = {TG_DIGEST_SHA256, TG_DIGEST_MD5};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Derived from the nonce secret, so instances sharing it share the opaque. */
static void make_opaque(const struct tg_auth *auth, char out[TG_DIGEST_HEX_MAX])
{
    const struct tg_nonce_key *k = tg_auth_nonce_key(auth);
    struct tg_str parts[2] = {{(const char *)k->secret, sizeof k->secret}, tg_str_c("opaque")};
    tg_digest_hash_joined(TG_DIGEST_SHA256, parts, 2, out);
    out[OPAQUE_HEX] = '\0';
}

static int digest_challenge(const struct tg_auth *auth, int variant, struct tg_buf *out,
                            const struct tg_auth_challenge_ctx *ctx)
{
    char nonce[TG_NONCE_TEXT_MAX], opaque[TG_DIGEST_HEX_MAX];
    if (tg_nonce_make(tg_auth_nonce_key(auth), wall_ms(), nonce) < 0)
        return -1;
    make_opaque(auth, opaque);
    int rc = tg_buf_printf(out,
                           "Proxy-Authenticate: Digest realm=\"%s\", qop=\"auth,auth-int\", "
                           "algorithm=%s, nonce=\"%s\", opaque=\"%s\", charset=UTF-8, "
                           "userhash=true",
                           tg_auth_realm(auth), tg_digest_alg_name(variant, false), nonce, opaque);
    if (rc == 0 && ctx->stale)
        rc = tg_buf_append(out, ", stale=true", 12);
    if (rc == 0 && ctx->error)
        rc = tg_buf_printf(out, ", error=\"%s\"", ctx->error);
    return rc ? rc : tg_buf_append(out, "\r\n", 2);
}

/* The parameters of one answer, as views into the parsed list. */
struct answer {
    struct tg_str user, realm, nonce, uri, response, cnonce, nc, qop, opaque;
    enum tg_digest_alg alg;
    bool sess, userhash, extended_user;
    uint32_t ncount;
};

static struct tg_str param(const struct tg_authparams *ps, const char *name)
{
    const struct tg_authparam *p = tg_authparam_get(ps, name);
    struct tg_str none = {NULL, 0};
    return p ? p->value : none;
}

static bool parse_nc(struct tg_str nc, uint32_t *out)
{
    uint32_t v = 0;
    if (nc.len != 8)
        return false;
    for (size_t i = 0; i < 8; i++) {
        char c = nc.p[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return v != 0;
}

/* username* (RFC 8187 ext-value): UTF-8'[lang]'pct-encoded, into out. */
static bool decode_ext_value(struct tg_str v, char *out, size_t cap, size_t *outlen)
{
    if (v.len < 7 || strncasecmp(v.p, "UTF-8'", 6) != 0)
        return false;
    const char *q = memchr(v.p + 6, '\'', v.len - 6);
    if (!q)
        return false;
    size_t n = 0;
    for (const char *p = q + 1, *end = v.p + v.len; p < end; p++) {
        int c = (unsigned char)*p;
        if (c == '%') {
            if (end - p < 3 || tg_hex_digit(p[1]) < 0 || tg_hex_digit(p[2]) < 0)
                return false;
            c = tg_hex_digit(p[1]) << 4 | tg_hex_digit(p[2]);
            p += 2;
        }
        if (n + 1 >= cap || c == 0)
            return false;
        out[n++] = (char)c;
    }
    *outlen = n;
    return n > 0;
}

/* Fills a from the parameter list; a reason token on failure. */
static const char *read_answer(const struct tg_authparams *ps, struct answer *a, char *xuser,
                               size_t xcap)
{
    memset(a, 0, sizeof *a);
    a->user = param(ps, "username");
    struct tg_str ext = param(ps, "username*");
    a->realm = param(ps, "realm");
    a->nonce = param(ps, "nonce");
    a->uri = param(ps, "uri");
    a->response = param(ps, "response");
    a->cnonce = param(ps, "cnonce");
    a->nc = param(ps, "nc");
    a->qop = param(ps, "qop");
    a->opaque = param(ps, "opaque");
    struct tg_str alg = param(ps, "algorithm");
    struct tg_str uh = param(ps, "userhash");
    if (ext.p) {
        const struct tg_authparam *xp = tg_authparam_get(ps, "username*");
        if (a->user.p || xp->quoted || !decode_ext_value(ext, xuser, xcap, &a->user.len))
            return "malformed";
        a->user.p = xuser;
        a->extended_user = true;
    }
    if (!a->user.p || !a->user.len || !a->realm.p || !a->nonce.p || !a->uri.p || !a->response.p ||
        !a->qop.p || !a->cnonce.p || !a->nc.p || !parse_nc(a->nc, &a->ncount))
        return "malformed";
    if (!tg_str_eq(a->qop, tg_str_c("auth")) && !tg_str_eq(a->qop, tg_str_c("auth-int")))
        return "malformed";
    if (!alg.p)
        a->alg = TG_DIGEST_MD5; /* RFC 7616 §3.3: absent means MD5 */
    else if (!tg_digest_alg_parse(alg, &a->alg, &a->sess))
        return "unsupported_algorithm";
    if (uh.p && !tg_str_eq_nocase(uh, "true") && !tg_str_eq_nocase(uh, "false"))
        return "malformed";
    a->userhash = uh.p && tg_str_eq_nocase(uh, "true");
    if (a->response.len != tg_digest_hexlen(a->alg))
        return "malformed";
    return NULL;
}

/* The request's authority, lowercased host, for comparisons. */
static bool same_authority(const struct tg_target *a, const struct tg_target *b)
{
    if (a->port != b->port || a->host.len != b->host.len)
        return false;
    return strncasecmp(a->host.p, b->host.p, a->host.len) == 0;
}

static struct tg_str origin_path(const struct tg_target *t, char *buf, size_t cap)
{
    if (t->path.len && t->path.p[0] == '/')
        return t->path;
    /* "" or "?q": the request line carries "/" in front (see http/target.h). */
    int n = snprintf(buf, cap, "/%.*s", (int)t->path.len, t->path.p);
    struct tg_str s = {buf, n > 0 && (size_t)n < cap ? (size_t)n : 0};
    return s;
}

/*
 * uri must designate this request (RFC 7616 §3.4.6): for CONNECT the same
 * authority; otherwise the absolute URI or its path-and-query. Hosts
 * compare without case, ports numerically, paths byte for byte.
 */
static bool uri_matches(const struct tg_auth_request *rq, struct tg_str uri)
{
    struct tg_target want, got;
    struct tg_http_error err;
    char b1[4096], b2[4096];
    if (tg_str_eq(uri, rq->target))
        return true;
    if (tg_target_parse(rq->target, rq->is_connect, &want, &err) < 0)
        return false;
    if (rq->is_connect)
        return tg_target_parse(uri, true, &got, &err) == 0 && same_authority(&want, &got);
    struct tg_str wpath = origin_path(&want, b1, sizeof b1);
    if (uri.len && uri.p[0] == '/')
        return tg_str_eq(uri, wpath);
    if (tg_target_parse(uri, false, &got, &err) < 0 || got.form != TG_TARGET_ABSOLUTE)
        return false;
    return same_authority(&want, &got) && tg_str_eq(origin_path(&got, b2, sizeof b2), wpath);
}

static void expected_response(const struct answer *a, const char *stored_ha1,
                              const struct tg_auth_request *rq, char *out)
{
    char ha1[TG_DIGEST_HEX_MAX], ha2[TG_DIGEST_HEX_MAX];
    bool integrity = tg_str_eq(a->qop, tg_str_c("auth-int"));
    if (a->sess)
        tg_digest_ha1_sess(a->alg, stored_ha1, a->nonce, a->cnonce, ha1);
    else
        snprintf(ha1, sizeof ha1, "%s", stored_ha1);
    tg_digest_ha2(a->alg, rq->method, a->uri, integrity ? rq->body_hash[a->alg] : NULL, ha2);
    tg_digest_response(a->alg, ha1, a->nonce, a->nc, a->cnonce, a->qop, ha2, out);
    tg_secret_wipe(ha1, sizeof ha1);
}

/* Proxy-Authentication-Info (RFC 7616 §3.5): rspauth and, late in a nonce's life, nextnonce. */
static void write_info(struct tg_auth_attempt *at, const struct answer *a, const char *stored_ha1,
                       uint64_t issued_ms, uint64_t now)
{
    char ha1[TG_DIGEST_HEX_MAX], ha2[TG_DIGEST_HEX_MAX], rsp[TG_DIGEST_HEX_MAX] = "";
    char next[TG_NONCE_TEXT_MAX + 16] = "";
    uint64_t ttl = tg_auth_nonce_ttl(at->auth);
    if (tg_str_eq(a->qop, tg_str_c("auth"))) {
        if (a->sess)
            tg_digest_ha1_sess(a->alg, stored_ha1, a->nonce, a->cnonce, ha1);
        else
            snprintf(ha1, sizeof ha1, "%s", stored_ha1);
        tg_digest_ha2(a->alg, tg_str_c(""), a->uri, NULL, ha2);
        tg_digest_response(a->alg, ha1, a->nonce, a->nc, a->cnonce, a->qop, ha2, rsp);
        tg_secret_wipe(ha1, sizeof ha1);
    }
    char fresh[TG_NONCE_TEXT_MAX];
    if (now - issued_ms > ttl * 2 / 3 && tg_nonce_make(tg_auth_nonce_key(at->auth), now, fresh) == 0)
        snprintf(next, sizeof next, ", nextnonce=\"%s\"", fresh);
    snprintf(at->info, sizeof at->info,
             "Proxy-Authentication-Info: %s%s%sqop=%.*s, nc=%.*s, cnonce=\"%.*s\"%s\r\n",
             rsp[0] ? "rspauth=\"" : "", rsp, rsp[0] ? "\", " : "", (int)a->qop.len, a->qop.p,
             (int)a->nc.len, a->nc.p, (int)a->cnonce.len, a->cnonce.p, next);
}

static enum tg_auth_result fail(struct tg_auth_attempt *at, const char *reason)
{
    at->reason = reason;
    return TG_AUTH_FAIL;
}

static enum tg_auth_result stale(struct tg_auth_attempt *at)
{
    at->reason = "stale_nonce";
    at->stale = true;
    return TG_AUTH_FAIL;
}

static const struct tg_cred *find_user(const struct tg_userdb_snap *snap, const struct answer *a)
{
    if (a->userhash)
        return tg_userdb_lookup_userhash(snap, a->alg, a->user.p, a->user.len);
    return tg_userdb_lookup(snap, a->user.p, a->user.len);
}

/* Steps after the request-independent checks: the user's answer itself. */
static enum tg_auth_result check_answer(struct tg_auth_attempt *at, const struct answer *a,
                                        const struct tg_cred *cred)
{
    char want[TG_DIGEST_HEX_MAX], got[TG_DIGEST_HEX_MAX];
    if (!cred)
        return fail(at, "unknown_user");
    tg_str_copy(at->user, sizeof at->user, cred->user); /* the name, not its userhash */
    if (!cred->ha1[a->alg])
        return fail(at, "unsupported_algorithm");
    if (tg_str_eq(a->qop, tg_str_c("auth-int")) && !at->rq->body_hash[a->alg]) {
        at->reason = "need_body";
        return TG_AUTH_NEED_BODY;
    }
    expected_response(a, cred->ha1[a->alg], at->rq, want);
    for (size_t i = 0; i < a->response.len; i++) /* clients may send upper-case hex */
        got[i] = (char)(a->response.p[i] >= 'A' && a->response.p[i] <= 'F' ? a->response.p[i] + 32
                                                                           : a->response.p[i]);
    if (!tg_secret_equal(want, strlen(want), got, a->response.len))
        return fail(at, "bad_response");
    uint64_t now = wall_ms(), issued;
    unsigned char id[TG_NONCE_ID_LEN];
    enum tg_nonce_status ns = tg_nonce_check(tg_auth_nonce_key(at->auth), a->nonce, now,
                                             tg_auth_nonce_ttl(at->auth), &issued, id);
    if (ns != TG_NONCE_VALID) /* right password, old or foreign nonce: retry silently */
        return stale(at);
    switch (tg_replay_use(tg_auth_replay(at->auth), id, issued, a->ncount, now)) {
    case TG_REPLAY_FRESH:
        break;
    case TG_REPLAY_SEEN:
        return fail(at, "replayed_nonce");
    case TG_REPLAY_STALE:
        return stale(at);
    }
    write_info(at, a, cred->ha1[a->alg], issued, now);
    at->reason = "verified";
    return TG_AUTH_OK;
}

static enum tg_auth_result digest_verify(struct tg_auth_attempt *at, struct tg_str creds)
{
    struct tg_authparams params;
    struct tg_authparams *pp = &params;
    struct answer a;
    char xuser[TG_AUTH_USER_MAX + 1], opaque[TG_DIGEST_HEX_MAX];
    const char *why;
    if (tg_authparam_parse(creds, pp, &why) < 0)
        return fail(at, "malformed");
    if ((why = read_answer(pp, &a, xuser, sizeof xuser)))
        return fail(at, why);
    snprintf(at->user, sizeof at->user, "%.*s", (int)a.user.len, a.user.p);
    if (!tg_str_eq(a.realm, tg_str_c(tg_auth_realm(at->auth))))
        return fail(at, "realm_mismatch");
    make_opaque(at->auth, opaque);
    if (!a.opaque.p || !tg_str_eq(a.opaque, tg_str_c(opaque)))
        return fail(at, "opaque_mismatch");
    if (!uri_matches(at->rq, a.uri)) {
        at->reason = "uri_mismatch";
        return TG_AUTH_REJECT;
    }
    struct tg_userdb_snap *snap = tg_userdb_acquire(tg_auth_userdb(at->auth));
    enum tg_auth_result r = check_answer(at, &a, find_user(snap, &a));
    tg_userdb_release(snap);
    return r;
}

static bool digest_parse_variant(const char *name, int *variant)
{
    static const struct {
        const char *name;
        enum tg_digest_alg alg;
    } names[] = {
        {"digest-md5", TG_DIGEST_MD5},
        {"digest-sha256", TG_DIGEST_SHA256},
        {"digest-sha512-256", TG_DIGEST_SHA512_256},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *variant = (int)names[i].alg;
            return true;
        }
    }
    return false;
}

static const char *digest_describe(int variant)
{
    static const char *const names[] = {"Digest MD5", "Digest SHA-256", "Digest SHA-512-256"};
    return names[variant];
}

static unsigned digest_needs(int variant)
{
    return variant == TG_DIGEST_MD5 ? TG_AUTH_SERVES_DIGEST_MD5 : TG_AUTH_SERVES_DIGEST_SHA;
}

const struct tg_auth_scheme tg_digest_scheme = {
    .name = "digest",
    .token = "Digest",
    .parse_variant = digest_parse_variant,
    .defaults = digest_defaults,
    .ndefaults = sizeof digest_defaults / sizeof digest_defaults[0],
    .challenge = digest_challenge,
    .verify = digest_verify,
    .describe = digest_describe,
    .needs = digest_needs,
};
