/*
 * jwt: JWK Set loading and JWT verification (RFC 7515 JWS compact form,
 * RFC 7517 JWK, RFC 7518 algorithms, RFC 7519 claims, RFC 8037 EdDSA).
 *
 * JSON is parsed by jansson with duplicate names rejected (RFC 7515 §5.2
 * lets us; a token with two "alg" members is an attack, not a typo).
 * Signatures go through OpenSSL's EVP interface; keys are built from the
 * JWK members with OSSL_PARAM_BLD and EVP_PKEY_fromdata, then checked with
 * EVP_PKEY_public_check (an EC point off its curve is refused at load).
 * The only place a key's bytes meet an algorithm is fits(): an algorithm
 * names the one key kind it may use, so an HS256 token can only reach an
 * "oct" secret and never the bytes of an RSA or EC public key.
 *
 * This file does not fetch keys (jku, x5u and an embedded jwk header are
 * ignored), does not decrypt JWE, does not cache and does not know about
 * HTTP: bearer.c does that.
 */
#include "auth/jwt.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/b64url.h"
#include "base/file.h"
#include "base/secret.h"

enum kind {
    KIND_RSA = 0,
    KIND_P256 = 1,
    KIND_P384 = 2,
    KIND_ED25519 = 3,
    KIND_OCT = 4,
};

struct key {
    enum kind kind;
    char *kid;             /* owned; NULL when the JWK has none */
    char *alg;             /* owned; the JWK's "alg" restriction, or NULL */
    EVP_PKEY *pkey;        /* owned; asymmetric kinds only */
    unsigned char *secret; /* owned, wiped on free; KIND_OCT only */
    size_t secret_len;
};

struct tg_jwt_keys {
    struct key *k; /* owned; n entries */
    size_t n;
};

struct alg {
    const char *name;
    enum kind kind;
    const char *md; /* OpenSSL digest name; NULL for EdDSA */
    bool pss;
    size_t len; /* ES*: bytes per coordinate; HS*: digest size */
};

/* RFC 7518 §3.1 and RFC 8037 §3.1; "none" is deliberately absent. */
static const struct alg algs[] = {
    {"RS256", KIND_RSA, "SHA256", false, 0},   {"RS384", KIND_RSA, "SHA384", false, 0},
    {"RS512", KIND_RSA, "SHA512", false, 0},   {"PS256", KIND_RSA, "SHA256", true, 0},
    {"PS384", KIND_RSA, "SHA384", true, 0},    {"PS512", KIND_RSA, "SHA512", true, 0},
    {"ES256", KIND_P256, "SHA256", false, 32}, {"ES384", KIND_P384, "SHA384", false, 48},
    {"EdDSA", KIND_ED25519, NULL, false, 0},   {"Ed25519", KIND_ED25519, NULL, false, 0},
    {"HS256", KIND_OCT, "SHA256", false, 32},  {"HS384", KIND_OCT, "SHA384", false, 48},
    {"HS512", KIND_OCT, "SHA512", false, 64},
};

#define NALGS (sizeof algs / sizeof algs[0])

/* ---- JWK Set loading ---- */

struct load {
    const char *name;
    size_t index;
    char *err;
    size_t errlen;
};

static bool lfail(struct load *l, const char *why)
{
    snprintf(l->err, l->errlen, "%s: keys[%zu]: %s", l->name, l->index, why);
    return false;
}

static void key_fini(struct key *k)
{
    free(k->kid);
    free(k->alg);
    EVP_PKEY_free(k->pkey);
    if (k->secret)
        tg_secret_wipe(k->secret, k->secret_len);
    free(k->secret);
    memset(k, 0, sizeof *k);
}

/* A member that must be base64url when present; *len 0 and NULL when absent. */
static unsigned char *member_bytes(json_t *jwk, const char *name, size_t *len, bool *bad)
{
    json_t *v = json_object_get(jwk, name);
    *len = 0;
    if (!v)
        return NULL;
    const char *s = json_string_value(v);
    size_t slen = s ? json_string_length(v) : 0;
    unsigned char *out = s ? malloc(slen * 3 / 4 + 1) : NULL;
    long n = out ? tg_b64url_decode(s, slen, out, slen * 3 / 4 + 1) : -1;
    if (n <= 0) {
        free(out);
        *bad = true;
        return NULL;
    }
    *len = (size_t)n;
    return out;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pk = NULL;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pk = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    if (!pk)
        return NULL;
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    bool valid = ctx && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!valid) {
        EVP_PKEY_free(pk);
        return NULL;
    }
    return pk;
}

static bool load_rsa(struct load *l, json_t *jwk, struct key *k)
{
    bool bad = false;
    size_t nlen, elen;
    unsigned char *n = member_bytes(jwk, "n", &nlen, &bad);
    unsigned char *e = member_bytes(jwk, "e", &elen, &bad);
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nlen, NULL) : NULL;
    BIGNUM *be = e ? BN_bin2bn(e, (int)elen, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    bool ok = !bad && bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
              OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be);
    k->kind = KIND_RSA;
    k->pkey = ok ? pkey_fromdata("RSA", bld) : NULL;
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    if (!ok)
        return lfail(l, "RSA key needs base64url members \"n\" and \"e\"");
    if (!k->pkey)
        return lfail(l, "not a valid RSA public key");
    if (EVP_PKEY_get_bits(k->pkey) < TG_JWT_RSA_MIN_BITS)
        return lfail(l, "RSA key shorter than 2048 bits (RFC 7518 §3.3)");
    return true;
}

/* Builds a P-256/P-384 key from the uncompressed point 04 || x || y. */
static bool load_ec(struct load *l, json_t *jwk, struct key *k, const char *group, size_t coord)
{
    bool bad = false;
    size_t xlen, ylen;
    unsigned char point[1 + 2 * 48];
    unsigned char *x = member_bytes(jwk, "x", &xlen, &bad);
    unsigned char *y = member_bytes(jwk, "y", &ylen, &bad);
    /* RFC 7518 §6.2.1.2: each coordinate is exactly the field size. */
    bool ok = !bad && x && y && xlen == coord && ylen == coord;
    if (ok) {
        point[0] = 0x04;
        memcpy(point + 1, x, coord);
        memcpy(point + 1 + coord, y, coord);
    }
    free(x);
    free(y);
    if (!ok)
        return lfail(l, "EC key needs base64url \"x\" and \"y\" of the curve's full size");
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    k->kind = coord == 32 ? KIND_P256 : KIND_P384;
    if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord))
        k->pkey = pkey_fromdata("EC", bld);
    OSSL_PARAM_BLD_free(bld);
    return k->pkey ? true : lfail(l, "not a point on the key's curve");
}

static bool load_okp(struct load *l, json_t *jwk, struct key *k)
{
    bool bad = false;
    size_t xlen;
    unsigned char *x = member_bytes(jwk, "x", &xlen, &bad);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    k->kind = KIND_ED25519;
    if (!bad && x && xlen == 32 && bld &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, x, xlen))
        k->pkey = pkey_fromdata("ED25519", bld);
    OSSL_PARAM_BLD_free(bld);
    free(x);
    return k->pkey ? true : lfail(l, "Ed25519 key needs a 32-byte base64url \"x\"");
}

static bool load_oct(struct load *l, json_t *jwk, struct key *k)
{
    bool bad = false;
    k->kind = KIND_OCT;
    k->secret = member_bytes(jwk, "k", &k->secret_len, &bad);
    if (bad || !k->secret)
        return lfail(l, "oct key needs a base64url \"k\"");
    if (k->secret_len < TG_JWT_HMAC_MIN_BYTES)
        return lfail(l, "oct key shorter than 32 bytes (RFC 7518 §3.2)");
    return true;
}

/* An optional string member: true when absent or a string. */
static bool opt_string(json_t *jwk, const char *name, const char **out)
{
    json_t *v = json_object_get(jwk, name);
    *out = v ? json_string_value(v) : NULL;
    return !v || *out;
}

/* False when "use" or "key_ops" say the key is not for verifying signatures. */
static bool for_verifying(json_t *jwk)
{
    const char *use = json_string_value(json_object_get(jwk, "use"));
    json_t *ops = json_object_get(jwk, "key_ops");
    if (use && strcmp(use, "sig") != 0)
        return false;
    if (!json_is_array(ops))
        return true;
    size_t i;
    json_t *op;
    json_array_foreach(ops, i, op)
    {
        const char *s = json_string_value(op);
        if (s && strcmp(s, "verify") == 0)
            return true;
    }
    return false;
}

/* 1: loaded into k; 0: skipped (a kind this file does not verify); -1: error. */
static int load_key(struct load *l, json_t *jwk, struct key *k)
{
    const char *kty, *crv, *kid, *alg, *use;
    if (!json_is_object(jwk)) {
        lfail(l, "not a JSON object");
        return -1;
    }
    if (!opt_string(jwk, "kty", &kty) || !kty || !opt_string(jwk, "crv", &crv) ||
        !opt_string(jwk, "kid", &kid) || !opt_string(jwk, "alg", &alg) ||
        !opt_string(jwk, "use", &use)) {
        lfail(l, "\"kty\" must be a string, \"crv\", \"kid\", \"alg\" and \"use\" strings");
        return -1;
    }
    if (!for_verifying(jwk))
        return 0;
    bool ok;
    if (strcmp(kty, "RSA") == 0)
        ok = load_rsa(l, jwk, k);
    else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-256") == 0)
        ok = load_ec(l, jwk, k, "prime256v1", 32);
    else if (strcmp(kty, "EC") == 0 && crv && strcmp(crv, "P-384") == 0)
        ok = load_ec(l, jwk, k, "secp384r1", 48);
    else if (strcmp(kty, "OKP") == 0 && crv && strcmp(crv, "Ed25519") == 0)
        ok = load_okp(l, jwk, k);
    else if (strcmp(kty, "oct") == 0)
        ok = load_oct(l, jwk, k);
    else
        return 0;
    if (ok && ((kid && !(k->kid = strdup(kid))) || (alg && !(k->alg = strdup(alg)))))
        ok = lfail(l, "out of memory");
    return ok ? 1 : -1;
}

static bool load_set(struct tg_jwt_keys *ks, struct load *l, json_t *doc)
{
    json_t *arr = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(arr)) {
        snprintf(l->err, l->errlen, "%s: not a JWK Set (an object with a \"keys\" array)", l->name);
        return false;
    }
    if (json_array_size(arr) > TG_JWT_KEYS_MAX) {
        snprintf(l->err, l->errlen, "%s: more than %d keys", l->name, TG_JWT_KEYS_MAX);
        return false;
    }
    ks->k = calloc(json_array_size(arr) + 1, sizeof *ks->k);
    if (!ks->k) {
        snprintf(l->err, l->errlen, "%s: out of memory", l->name);
        return false;
    }
    for (l->index = 0; l->index < json_array_size(arr); l->index++) {
        int rc = load_key(l, json_array_get(arr, l->index), &ks->k[ks->n]);
        if (rc < 0) {
            key_fini(&ks->k[ks->n]);
            return false;
        }
        ks->n += (size_t)rc;
    }
    if (ks->n == 0) {
        snprintf(l->err, l->errlen,
                 "%s: no usable signature key (RSA, EC P-256/P-384, "
                 "Ed25519 or oct)",
                 l->name);
        return false;
    }
    return true;
}

struct tg_jwt_keys *tg_jwt_keys_parse(const char *text, size_t len, const char *name, char *err,
                                      size_t errlen)
{
    json_error_t je;
    struct load l = {.name = name, .err = err, .errlen = errlen};
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "%s:%d:%d: %s", name, je.line, je.column, je.text);
        return NULL;
    }
    struct tg_jwt_keys *ks = calloc(1, sizeof *ks);
    if (!ks)
        snprintf(err, errlen, "%s: out of memory", name);
    if (ks && !load_set(ks, &l, doc)) {
        tg_jwt_keys_free(ks);
        ks = NULL;
    }
    json_decref(doc);
    return ks;
}

/* Reads a file of at most TG_JWT_KEYS_FILE_MAX bytes; NULL with err. */
static char *read_small_file(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    int rc = tg_file_read(path, TG_JWT_KEYS_FILE_MAX, &buf, len);
    if (rc < 0)
        tg_file_error(err, errlen, path, rc, TG_JWT_KEYS_FILE_MAX);
    return buf;
}

struct tg_jwt_keys *tg_jwt_keys_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = read_small_file(path, &len, err, errlen);
    struct tg_jwt_keys *ks = text ? tg_jwt_keys_parse(text, len, path, err, errlen) : NULL;
    free(text);
    return ks;
}

void tg_jwt_keys_free(struct tg_jwt_keys *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; ks->k && i < ks->n; i++)
        key_fini(&ks->k[i]);
    free(ks->k);
    free(ks);
}

size_t tg_jwt_keys_count(const struct tg_jwt_keys *ks)
{
    return ks ? ks->n : 0;
}

/* ---- signatures ---- */

/* The single place an algorithm meets a key: same kind, allowed by the JWK. */
static bool fits(const struct key *k, const struct alg *a)
{
    if (k->kind != a->kind || (k->alg && strcmp(k->alg, a->name) != 0))
        return false;
    /* RFC 7518 §3.2: an HMAC key at least as long as the hash output. */
    return k->kind != KIND_OCT || k->secret_len >= a->len;
}

static bool verify_evp(const struct key *k, const struct alg *a, const unsigned char *msg,
                       size_t mlen, const unsigned char *sig, size_t slen)
{
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    bool ok = mc && EVP_DigestVerifyInit_ex(mc, &pc, a->md, NULL, NULL, k->pkey, NULL) == 1;
    /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
    if (ok && a->pss)
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestVerify(mc, sig, slen, msg, mlen) == 1;
    EVP_MD_CTX_free(mc);
    return ok;
}

/* RFC 7518 §3.4: the JWS value is R || S, fixed width; EVP wants DER. */
static bool verify_ecdsa(const struct key *k, const struct alg *a, const unsigned char *msg,
                         size_t mlen, const unsigned char *sig, size_t slen)
{
    unsigned char der[2 * 48 + 16];
    if (slen != 2 * a->len)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)a->len, NULL);
    BIGNUM *s = BN_bin2bn(sig + a->len, (int)a->len, NULL);
    bool ok = es && r && s && ECDSA_SIG_set0(es, r, s) == 1;
    if (!ok) {
        BN_free(r);
        BN_free(s);
    }
    int dlen = ok ? i2d_ECDSA_SIG(es, NULL) : -1;
    unsigned char *p = der;
    ok = ok && dlen > 0 && (size_t)dlen <= sizeof der && i2d_ECDSA_SIG(es, &p) == dlen;
    ECDSA_SIG_free(es);
    return ok && verify_evp(k, a, msg, mlen, der, (size_t)dlen);
}

static bool verify_hmac(const struct key *k, const struct alg *a, const unsigned char *msg,
                        size_t mlen, const unsigned char *sig, size_t slen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, a->md, NULL, k->secret, k->secret_len, msg, mlen, mac,
                   sizeof mac, &maclen))
        return false;
    bool ok = tg_secret_equal(mac, maclen, sig, slen);
    tg_secret_wipe(mac, sizeof mac);
    return ok;
}

static bool verify_with(const struct key *k, const struct alg *a, const unsigned char *msg,
                        size_t mlen, const unsigned char *sig, size_t slen)
{
    switch (k->kind) {
    case KIND_OCT:
        return verify_hmac(k, a, msg, mlen, sig, slen);
    case KIND_P256:
    case KIND_P384:
        return verify_ecdsa(k, a, msg, mlen, sig, slen);
    case KIND_RSA:
    case KIND_ED25519:
        return verify_evp(k, a, msg, mlen, sig, slen);
    }
    return false;
}

static const struct alg *find_alg(const char *name)
{
    for (size_t i = 0; name && i < NALGS; i++) {
        if (strcmp(algs[i].name, name) == 0)
            return &algs[i];
    }
    return NULL;
}

/* Tries the key named kid, or else every key of the algorithm's kind. */
static enum tg_jwt_result check_signature(const struct tg_jwt_keys *ks, json_t *header,
                                          const unsigned char *msg, size_t mlen,
                                          const unsigned char *sig, size_t slen)
{
    json_t *kidv = json_object_get(header, "kid");
    const char *kid = json_string_value(kidv);
    const struct alg *a = find_alg(json_string_value(json_object_get(header, "alg")));
    /* RFC 7515 §4.1.11: we implement no extension, so any "crit" is fatal. */
    if ((kidv && !kid) || json_object_get(header, "crit"))
        return TG_JWT_MALFORMED;
    if (!a)
        return TG_JWT_UNSUPPORTED_ALG;
    bool named = false, tried = false;
    for (size_t i = 0; i < ks->n; i++) {
        const struct key *k = &ks->k[i];
        if (kid && (!k->kid || strcmp(k->kid, kid) != 0))
            continue;
        named = true;
        if (!fits(k, a))
            continue;
        tried = true;
        if (verify_with(k, a, msg, mlen, sig, slen))
            return TG_JWT_OK;
    }
    if (kid && !named)
        return TG_JWT_UNKNOWN_KEY;
    return tried ? TG_JWT_BAD_SIGNATURE : TG_JWT_UNSUPPORTED_ALG;
}

/* ---- claims (RFC 7519 §4.1) ---- */

/* A NumericDate in ms; false when present but not a sane non-negative number. */
static bool numeric_date(json_t *claims, const char *name, uint64_t *ms)
{
    json_t *v = json_object_get(claims, name);
    *ms = 0;
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0 || d > 253402300799.0)
        return false;
    *ms = (uint64_t)(d * 1000.0); /* d >= 0: truncation is floor */
    return true;
}

static bool audience_matches(json_t *aud, const char *want)
{
    const char *s = json_string_value(aud);
    if (s)
        return strcmp(s, want) == 0;
    size_t i;
    json_t *item;
    json_array_foreach(aud, i, item)
    {
        s = json_string_value(item);
        if (s && strcmp(s, want) == 0)
            return true;
    }
    return false;
}

static bool copy_user(json_t *v, char user[TG_JWT_USER_MAX + 1])
{
    const char *s = json_string_value(v);
    size_t len = s ? json_string_length(v) : 0;
    if (len == 0 || len > TG_JWT_USER_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    memcpy(user, s, len);
    user[len] = '\0';
    return true;
}

static enum tg_jwt_result check_claims(const struct tg_jwt_policy *pol, json_t *claims,
                                       uint64_t now_ms, char user[TG_JWT_USER_MAX + 1],
                                       uint64_t *exp_ms)
{
    uint64_t nbf_ms;
    if (!numeric_date(claims, "exp", exp_ms) || !numeric_date(claims, "nbf", &nbf_ms))
        return TG_JWT_MALFORMED;
    if (json_object_get(claims, "exp") && now_ms >= *exp_ms + pol->skew_ms)
        return TG_JWT_EXPIRED;
    if (nbf_ms && now_ms + pol->skew_ms < nbf_ms)
        return TG_JWT_NOT_YET_VALID;
    if (pol->issuer) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, pol->issuer) != 0)
            return TG_JWT_WRONG_ISSUER;
    }
    if (pol->audience && !audience_matches(json_object_get(claims, "aud"), pol->audience))
        return TG_JWT_WRONG_AUDIENCE;
    json_t *u = json_object_get(claims, pol->user_claim ? pol->user_claim : "sub");
    return copy_user(u, user) ? TG_JWT_OK : TG_JWT_NO_USER_CLAIM;
}

/* ---- the token ---- */

#define PART_MAX (TG_JWT_TOKEN_MAX / 4 * 3 + 3)

/* Decodes a base64url part that must hold a JSON object. */
static json_t *decode_object(const char *p, size_t len, unsigned char *buf)
{
    long n = tg_b64url_decode(p, len, buf, PART_MAX);
    json_t *v =
        n > 0 ? json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (v && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

enum tg_jwt_result tg_jwt_verify(const struct tg_jwt_keys *ks, const struct tg_jwt_policy *pol,
                                 const char *token, size_t len, uint64_t now_ms,
                                 char user[TG_JWT_USER_MAX + 1], uint64_t *exp_ms)
{
    unsigned char *buf = len <= TG_JWT_TOKEN_MAX ? malloc(2 * PART_MAX) : NULL;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!buf || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        free(buf);
        return TG_JWT_MALFORMED;
    }
    json_t *header = decode_object(token, (size_t)(d1 - token), buf);
    json_t *claims = header ? decode_object(d1 + 1, (size_t)(d2 - d1 - 1), buf) : NULL;
    unsigned char *sig = buf + PART_MAX;
    long slen = tg_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), sig, PART_MAX);
    enum tg_jwt_result r = TG_JWT_MALFORMED;
    if (claims && slen >= 0)
        r = check_signature(ks, header, (const unsigned char *)token, (size_t)(d2 - token), sig,
                            (size_t)slen);
    if (r == TG_JWT_OK)
        r = check_claims(pol, claims, now_ms, user, exp_ms);
    json_decref(header);
    json_decref(claims);
    free(buf);
    return r;
}

const char *tg_jwt_result_name(enum tg_jwt_result r)
{
    static const char *const names[] = {
        [TG_JWT_OK] = "verified",
        [TG_JWT_MALFORMED] = "malformed",
        [TG_JWT_UNKNOWN_KEY] = "unknown",
        [TG_JWT_UNSUPPORTED_ALG] = "unsupported_algorithm",
        [TG_JWT_BAD_SIGNATURE] = "bad_signature",
        [TG_JWT_EXPIRED] = "expired",
        [TG_JWT_NOT_YET_VALID] = "not_yet_valid",
        [TG_JWT_WRONG_ISSUER] = "wrong_issuer",
        [TG_JWT_WRONG_AUDIENCE] = "wrong_audience",
        [TG_JWT_NO_USER_CLAIM] = "no_user_claim",
    };
    return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "malformed";
}
