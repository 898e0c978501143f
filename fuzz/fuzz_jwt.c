/*
 * fuzz_jwt: auth/jwt on arbitrary JWK Sets and tokens. The input is split
 * at its first NUL into a JWK Set document, parsed with tg_jwt_keys_parse
 * (name "jwks.json"), and a compact token; with no NUL the whole input is
 * the token. The token is verified against the fuzzed set when it loaded
 * and against a fixed set: the rsa1, ec256, ed1 and hmac1 keys of
 * tests/unit/fixtures/jwt, so the fixtures' tokens are valid seeds. To reach
 * the claims past the signature, the token's "header.payload" is signed
 * again with the fixed private key its header's alg names (hmac1 for HS*,
 * ec256 for ES256, ed1 for EdDSA, else HS256) and verified too. Policy: the
 * fixtures' issuer, audience, "sub" and 60 s skew, or nothing at all, at
 * 2026-06-01. Properties:
 *   - a refused set leaves a non-empty, terminated message that starts with
 *     the name; a loaded one has 1..TG_JWT_KEYS_MAX keys;
 *   - every result is one of the enum's values with a non-empty name;
 *   - on TG_JWT_OK the user is NUL-terminated, 1..TG_JWT_USER_MAX bytes
 *     without control bytes; the header's alg is one jwt.h lists (never
 *     "none"); now is before exp + skew, the token is still accepted (same
 *     user, same exp) 1 ms before exp + skew and expired from then on, and
 *     with no exp it is accepted in any year;
 *   - an accepted token with its signature altered (one character changed,
 *     one dropped, one added, the signature emptied) is never OK;
 *   - the token's payload under {"alg":"none"} (unsigned, or with the
 *     token's own signature part) is never OK, nor under HS256 keyed with
 *     the ec256 public key's point or PEM (algorithm confusion);
 *   - nothing leaks.
 */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "base/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "jwks.json"
#define NOW_MS 1780272000000ull  /* 2026-06-01, as tests/unit/test_jwt.c */
#define FAR_MS 32503680000000ull /* the year 3000 */
#define SKEW_MS 60000ull
#define SIG_MAX 128
#define HMAC1_K                                                                                    \
    "OMuJ1xzwYjfpvNDwgJQ5hhu80E3l6AfYwc7DCVFamCQY_AvWXbA_C6oIOlvsI0xmHHj47qmg2kBudf58wTtIgw"

static const char fixed_jwks[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"use\":\"sig\",\"e\":\"AQAB\",\"n\":\""
    "1m71JGdjpkd81Ijwma1QAstZq20Fzy5yLIGSgeyTbv4Oyfsnv_wN6rRwWDSb4DIBRApWekyneNzc86NbOdBZWGYr"
    "SD4a1LBV95MLnq8wKnJp5GezrPFU9KXVEn0arVEDQsjkzz9UHZyMgOBi35SE-Z5Kyyx6pv-2YiDgVUKBYzslPvBn"
    "aUknGWrZD7PsXBsavVd79-TXWO-kbhAaF18m-aFGq47fdBGKLKAkKU0681nrL5hkaJJSK0CrviEMKKnUh3b_QxVB"
    "SrAJvt_0pSz3YFIw_N9T-xbn9kptdDed3-ts9gb3HJqh-blwOQMn89TEO0H1dqHhYbmMQHFSlzRrxw\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec256\","
    "\"x\":\"vgXiPm2_2Y56XQk-lOKK8mfDSMsz1XvJ8dkSC62zOPY\","
    "\"y\":\"XS7X1_W6xwWLcdhNOzdCXT5PAPZxbnDxFyaeZWAfqgg\"},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed1\","
    "\"x\":\"ncM0Lp_UtMflk_1h10F5gVKPHiz4fZljnBv4WMAMYp8\"},"
    "{\"kty\":\"oct\",\"kid\":\"hmac1\",\"k\":\"" HMAC1_K "\"}]}";

/* The private halves (tests/unit/fixtures/jwt/keys: test-only keys). */
static const char ec256_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgQ8MXuFONYq30wccn\n"
                                "nU8sMrl1sRvt1MKDuXTAXCJtFy6hRANCAAS+BeI+bb/ZjnpdCT6U4oryZ8NIyzPV\n"
                                "e8nx2RILrbM49l0u19f1uscFi3HYTTs3Ql0+TwD2cW5w8RcmnmVgH6oI\n"
                                "-----END PRIVATE KEY-----\n";
static const char ed1_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MC4CAQAwBQYDK2VwBCIEIFB6azHfb47/Evxkqk/zi1A5IxFYpdvVVjso6ADRfcF7\n"
                              "-----END PRIVATE KEY-----\n";

static const char *const supported[] = {"RS256", "RS384", "RS512", "PS256", "PS384",
                                        "PS512", "ES256", "ES384", "EdDSA", "Ed25519",
                                        "HS256", "HS384", "HS512"};

static const struct tg_jwt_policy strict = {"https://issuer.tollgate.test", "tollgate-proxy", "sub",
                                            SKEW_MS};
static const struct tg_jwt_policy loose = {NULL, NULL, NULL, 0};

/* Built once and kept: reachable, so never reported as leaks. */
static struct {
    struct tg_jwt_keys *keys;
    EVP_PKEY *ec, *ed;
    unsigned char hmac[64];
    unsigned char point[65]; /* ec256's public point, 04 || x || y */
    char pem[256];           /* ec256's public key as PEM */
    size_t pem_len;
} fx;

/* A token and its three parts; a part missing is empty. */
struct token {
    const char *p;
    size_t len;
    size_t d1, d2; /* offsets of the first two dots, or len */
};

static struct token token_of(const char *p, size_t len)
{
    const char *a = memchr(p, '.', len);
    size_t d1 = a ? (size_t)(a - p) : len;
    const char *b = d1 < len ? memchr(p + d1 + 1, '.', len - d1 - 1) : NULL;
    return (struct token){p, len, d1, b ? (size_t)(b - p) : len};
}

static EVP_PKEY *private_key(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!k)
        abort();
    return k;
}

static void public_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *p;
    long n = b && PEM_write_bio_PUBKEY(b, k) == 1 ? BIO_get_mem_data(b, &p) : 0;
    if (n <= 0 || (size_t)n > sizeof fx.pem)
        abort();
    memcpy(fx.pem, p, (size_t)n);
    fx.pem_len = (size_t)n;
    BIO_free(b);
}

static void init_fixed(void)
{
    char err[256];
    size_t n = 0;
    if (fx.keys)
        return;
    fx.keys = tg_jwt_keys_parse(fixed_jwks, sizeof fixed_jwks - 1, "fixed", err, sizeof err);
    if (!fx.keys || tg_jwt_keys_count(fx.keys) != 4)
        abort();
    fx.ec = private_key(ec256_pem);
    fx.ed = private_key(ed1_pem);
    if (tg_b64url_decode(HMAC1_K, strlen(HMAC1_K), fx.hmac, sizeof fx.hmac) != sizeof fx.hmac ||
        EVP_PKEY_get_octet_string_param(fx.ec, OSSL_PKEY_PARAM_PUB_KEY, fx.point, sizeof fx.point,
                                        &n) != 1 ||
        n != sizeof fx.point)
        abort();
    public_pem(fx.ec);
}

/* ---- signing ---- */

static size_t sign_hmac(const char *md, const void *key, size_t klen, const char *msg, size_t mlen,
                        unsigned char sig[SIG_MAX])
{
    size_t n = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, klen, (const unsigned char *)msg, mlen, sig,
                   SIG_MAX, &n))
        abort();
    return n;
}

/* ES256 (RFC 7518 §3.4): the DER signature becomes R || S, 32 bytes each. */
static size_t sign_es256(const char *msg, size_t mlen, unsigned char sig[SIG_MAX])
{
    unsigned char der[80];
    size_t dlen = sizeof der;
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    if (!mc || EVP_DigestSignInit(mc, NULL, EVP_sha256(), NULL, fx.ec) != 1 ||
        EVP_DigestSign(mc, der, &dlen, (const unsigned char *)msg, mlen) != 1)
        abort();
    EVP_MD_CTX_free(mc);
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
        abort();
    ECDSA_SIG_free(es);
    return 64;
}

static size_t sign_ed25519(const char *msg, size_t mlen, unsigned char sig[SIG_MAX])
{
    size_t n = SIG_MAX;
    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    if (!mc || EVP_DigestSignInit(mc, NULL, NULL, NULL, fx.ed) != 1 ||
        EVP_DigestSign(mc, sig, &n, (const unsigned char *)msg, mlen) != 1)
        abort();
    EVP_MD_CTX_free(mc);
    return n;
}

/* Signs msg with the fixed key that alg names (HS256 with hmac1 when none does). */
static size_t sign(const char *alg, const char *msg, size_t mlen, unsigned char sig[SIG_MAX])
{
    if (strcmp(alg, "ES256") == 0)
        return sign_es256(msg, mlen, sig);
    if (strcmp(alg, "EdDSA") == 0 || strcmp(alg, "Ed25519") == 0)
        return sign_ed25519(msg, mlen, sig);
    const char *md = strcmp(alg, "HS384") == 0   ? "SHA384"
                     : strcmp(alg, "HS512") == 0 ? "SHA512"
                                                 : "SHA256";
    return sign_hmac(md, fx.hmac, sizeof fx.hmac, msg, mlen, sig);
}

/* "A.B" with B the base64url of sig (malloc'd; the caller frees it). */
static char *join(const char *a, size_t alen, const unsigned char *sig, size_t slen, size_t *len)
{
    char *p = malloc(alen + 1 + TG_B64URL_LEN(slen) + 1);
    if (!p)
        abort();
    memcpy(p, a, alen);
    p[alen] = '.';
    *len = alen + 1 + tg_b64url_encode(sig, slen, p + alen + 1);
    return p;
}

/* "H.P.S" from a header JSON text and two base64url parts (malloc'd). */
static char *with_header(const char *hjson, const char *pay, size_t plen, const char *s,
                         size_t slen, size_t *len)
{
    size_t hlen = strlen(hjson), n = TG_B64URL_LEN(hlen);
    char *p = malloc(n + 1 + plen + 1 + slen + 1);
    if (!p)
        abort();
    tg_b64url_encode((const unsigned char *)hjson, hlen, p);
    p[n] = '.';
    memcpy(p + n + 1, pay, plen);
    p[n + 1 + plen] = '.';
    memcpy(p + n + 2 + plen, s, slen);
    *len = n + 2 + plen + slen;
    return p;
}

/* ---- checks ---- */

/* The header's alg copied into alg (empty when absent, not a string or too long). */
static void header_alg(const struct token *t, char alg[16])
{
    unsigned char *buf = malloc(t->d1 + 1);
    long n = buf ? tg_b64url_decode(t->p, t->d1, buf, t->d1 + 1) : -1;
    json_t *h =
        n > 0 ? json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *s = json_string_value(json_object_get(h, "alg"));
    alg[0] = '\0';
    if (s && strlen(s) < 16)
        strcpy(alg, s);
    json_decref(h);
    free(buf);
}

static bool is_supported(const char *alg)
{
    for (size_t i = 0; i < sizeof supported / sizeof supported[0]; i++) {
        if (strcmp(alg, supported[i]) == 0)
            return true;
    }
    return false;
}

static void check_user(const char user[TG_JWT_USER_MAX + 1])
{
    size_t len = strnlen(user, TG_JWT_USER_MAX + 1);
    if (len == 0 || len > TG_JWT_USER_MAX)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)user[i];
        if (c < 0x20 || c == 0x7f)
            abort();
    }
}

/* Verifies and checks what any answer must satisfy. */
static enum tg_jwt_result verify(const struct tg_jwt_keys *k, const struct tg_jwt_policy *pol,
                                 const char *p, size_t len, uint64_t now,
                                 char user[TG_JWT_USER_MAX + 1], uint64_t *exp)
{
    memset(user, 0x55, TG_JWT_USER_MAX + 1);
    enum tg_jwt_result r = tg_jwt_verify(k, pol, p, len, now, user, exp);
    const char *name = tg_jwt_result_name(r);
    if ((unsigned)r > TG_JWT_NO_USER_CLAIM || !name || !name[0])
        abort();
    if (r == TG_JWT_OK)
        check_user(user);
    return r;
}

static void refused(const struct tg_jwt_keys *k, const struct tg_jwt_policy *pol, const char *p,
                    size_t len)
{
    char user[TG_JWT_USER_MAX + 1];
    uint64_t exp;
    if (verify(k, pol, p, len, NOW_MS, user, &exp) == TG_JWT_OK)
        abort();
}

/* Accepted until exp + skew (same user, same exp), expired from then on. */
static void check_expiry(const struct tg_jwt_keys *k, const struct tg_jwt_policy *pol,
                         const struct token *t, const char *user, uint64_t exp)
{
    char u[TG_JWT_USER_MAX + 1];
    uint64_t e;
    if (exp == 0) {
        /* No exp claim (an exp of 0 would already have expired at NOW_MS). */
        if (verify(k, pol, t->p, t->len, FAR_MS, u, &e) != TG_JWT_OK || strcmp(u, user) != 0 ||
            e != 0)
            abort();
        return;
    }
    if (NOW_MS >= exp + pol->skew_ms)
        abort();
    if (verify(k, pol, t->p, t->len, exp + pol->skew_ms - 1, u, &e) != TG_JWT_OK ||
        strcmp(u, user) != 0 || e != exp)
        abort();
    if (verify(k, pol, t->p, t->len, exp + pol->skew_ms, u, &e) != TG_JWT_EXPIRED)
        abort();
}

/* One character changed, one dropped, one added, the signature emptied. */
static void check_altered(const struct tg_jwt_keys *k, const struct tg_jwt_policy *pol,
                          const struct token *t, unsigned pick)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t s = t->d2 + 1, slen = t->len - s;
    char *m = malloc(t->len + 1);
    if (!m)
        abort();
    memcpy(m, t->p, t->len);
    if (slen > 0) {
        size_t i = s + pick % slen;
        const char *at = memchr(abc, m[i], 64);
        size_t idx = at ? (size_t)(at - abc) : 0;
        m[i] = abc[(idx + 1 + pick % 63) % 64];
        refused(k, pol, m, t->len);
        refused(k, pol, t->p, t->len - 1);
    }
    memcpy(m, t->p, t->len);
    m[t->len] = abc[pick % 64];
    refused(k, pol, m, t->len + 1);
    refused(k, pol, t->p, s);
    free(m);
}

/* Verifies t; when accepted, checks the alg, the expiry and alterations. */
static void verify_token(const struct tg_jwt_keys *k, const struct tg_jwt_policy *pol,
                         const struct token *t, unsigned pick)
{
    char user[TG_JWT_USER_MAX + 1], alg[16];
    uint64_t exp;
    if (verify(k, pol, t->p, t->len, NOW_MS, user, &exp) != TG_JWT_OK)
        return;
    header_alg(t, alg);
    if (!is_supported(alg))
        abort();
    check_expiry(k, pol, t, user, exp);
    check_altered(k, pol, t, pick);
}

/* The token's header.payload signed with the fixed key its alg names. */
static void verify_resigned(const struct tg_jwt_keys *fuzzed, const struct token *t, unsigned pick)
{
    unsigned char sig[SIG_MAX];
    char alg[16];
    size_t len;
    header_alg(t, alg);
    char *p = join(t->p, t->d2, sig, sign(alg, t->p, t->d2, sig), &len);
    struct token r = token_of(p, len);
    verify_token(fx.keys, &strict, &r, pick);
    verify_token(fx.keys, &loose, &r, pick);
    if (fuzzed)
        verify_token(fuzzed, &strict, &r, pick);
    free(p);
}

/* The payload under alg none, and under HS256 keyed with public key bytes. */
static void check_forged(const struct tg_jwt_keys *fuzzed, const struct token *t)
{
    static const char *const none[] = {"{\"alg\":\"none\"}",
                                       "{\"alg\":\"none\",\"kid\":\"hmac1\"}"};
    static const char *const hs[] = {"{\"alg\":\"HS256\"}",
                                     "{\"alg\":\"HS256\",\"kid\":\"ec256\"}"};
    const char *pay = t->d1 < t->len ? t->p + t->d1 + 1 : "";
    size_t plen = t->d1 < t->len ? t->d2 - t->d1 - 1 : 0, len;
    const char *s = t->d2 < t->len ? t->p + t->d2 + 1 : "";
    size_t slen = t->d2 < t->len ? t->len - t->d2 - 1 : 0;
    for (size_t i = 0; i < 2; i++) {
        char *p = with_header(none[i], pay, plen, s, slen, &len);
        refused(fx.keys, &loose, p, len);
        refused(fx.keys, &loose, p, len - slen);
        if (fuzzed)
            refused(fuzzed, &loose, p, len - slen);
        free(p);
    }
    for (size_t i = 0; i < 2; i++) {
        unsigned char sig[SIG_MAX];
        size_t hlen;
        char *h = with_header(hs[i], pay, plen, "", 0, &hlen);
        size_t n = i ? sign_hmac("SHA256", fx.point, sizeof fx.point, h, hlen - 1, sig)
                     : sign_hmac("SHA256", fx.pem, fx.pem_len, h, hlen - 1, sig);
        char *p = join(h, hlen - 1, sig, n, &len);
        refused(fx.keys, &loose, p, len);
        free(p);
        free(h);
    }
}

/* A refused set leaves "jwks.json..." in err; a loaded one has usable keys. */
static struct tg_jwt_keys *parse_keys(const uint8_t *data, size_t size)
{
    char err[512];
    memset(err, 'x', sizeof err);
    struct tg_jwt_keys *k = tg_jwt_keys_parse((const char *)data, size, NAME, err, sizeof err);
    size_t n = tg_jwt_keys_count(k);
    if (k && (n == 0 || n > TG_JWT_KEYS_MAX))
        abort();
    if (!k) {
        size_t len = strnlen(err, sizeof err);
        if (len == 0 || len == sizeof err || strncmp(err, NAME, strlen(NAME)) != 0)
            abort();
    }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_fixed();
    const uint8_t *nul = memchr(data, '\0', size);
    struct tg_jwt_keys *fuzzed = nul ? parse_keys(data, (size_t)(nul - data)) : NULL;
    size_t off = nul ? (size_t)(nul - data) + 1 : 0;
    struct token t = token_of((const char *)data + off, size - off);
    unsigned pick = (unsigned)size * 31u + (size ? data[size - 1] : 0u);
    if (fuzzed)
        verify_token(fuzzed, &strict, &t, pick);
    verify_token(fx.keys, &strict, &t, pick);
    verify_token(fx.keys, &loose, &t, pick);
    verify_resigned(fuzzed, &t, pick);
    check_forged(fuzzed, &t);
    tg_jwt_keys_free(fuzzed);
    return 0;
}
