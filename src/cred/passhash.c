/*
 * passhash: checks a password against one stored hash, in every format
 * Apache's htpasswd writes and those crypt(3) understands. Three families:
 *   - $apr1$, Apache's md5crypt variant, which libxcrypt lacks: computed here
 *     with OpenSSL's MD5, following the md5crypt algorithm (PHK, FreeBSD)
 *     with the magic string "$apr1$";
 *   - {SHA}, base64 (RFC 4648 §4) of the unsalted SHA-1 of the password;
 *   - everything else shaped like a crypt(3) hash ($id$..., 13-character
 *     DES, _ BSDi DES) is handed to libxcrypt's crypt_r, which rejects what
 *     it does not implement.
 * The computed hash is always compared with the stored one in constant time,
 * and every intermediate buffer holding password-derived bytes is wiped.
 * It does not decide what a failure means for the client (auth/ does), and
 * it never runs on an event loop: a bcrypt check costs milliseconds.
 */
#include "cred/passhash.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"
#include "base/secret.h"

#define APR1_MAGIC "$apr1$"
#define APR1_SALT_MAX 8
#define APR1_ROUNDS 1000
#define SHA_PREFIX "{SHA}"
#define BCRYPT_SALT_BYTES 16
#define DUMMY_COST 10

/* The crypt(3) alphabet, used by DES crypt and by md5crypt's output. */
static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* ---- crypt_r: bcrypt, DES, $1$, $5$, $6$, $y$ and the rest of libxcrypt ---- */

/* crypt_r's state and a NUL-terminated copy of the password, on the heap
 * because struct crypt_data is ~32 KiB, too big for a worker's stack. */
struct scratch {
    struct crypt_data cd;
    size_t pwlen;
    char pw[];
};

static struct scratch *scratch_new(const char *password, size_t pwlen)
{
    struct scratch *s = calloc(1, sizeof *s + pwlen + 1);
    if (!s)
        return NULL;
    s->pwlen = pwlen;
    if (pwlen)
        memcpy(s->pw, password, pwlen);
    return s;
}

static void scratch_free(struct scratch *s)
{
    if (!s)
        return;
    tg_secret_wipe(s, sizeof *s + s->pwlen + 1);
    free(s);
}

/* crypt_r signals failure with NULL or a string starting with '*'. */
static const char *run_crypt(struct scratch *s, const char *setting)
{
    errno = 0;
    const char *out = crypt_r(s->pw, setting, &s->cd);
    if (!out || out[0] == '*')
        return NULL;
    return out;
}

static enum tg_passhash_result verify_crypt(const char *hash, const char *password, size_t pwlen)
{
    struct scratch *s = scratch_new(password, pwlen);
    if (!s)
        return TG_PASSHASH_MISMATCH;
    enum tg_passhash_result r;
    const char *out = run_crypt(s, hash);
    if (out)
        r = tg_secret_equal(out, strlen(out), hash, strlen(hash)) ? TG_PASSHASH_MATCH
                                                                  : TG_PASSHASH_MISMATCH;
    else
        /* ERANGE: a password past CRYPT_MAX_PASSPHRASE_SIZE, not a bad hash. */
        r = errno == ERANGE ? TG_PASSHASH_MISMATCH : TG_PASSHASH_UNSUPPORTED;
    scratch_free(s);
    return r;
}

static bool is_crypt_char(char c)
{
    return c && strchr(itoa64, c) != NULL;
}

/* Classic DES crypt: 2 salt + 11 hash characters; BSDi: '_' + 19. */
static bool is_des_shaped(const char *hash)
{
    size_t n = strlen(hash);
    size_t from = hash[0] == '_' ? 1 : 0;
    if (n != (from ? 20 : 13))
        return false;
    for (size_t i = from; i < n; i++)
        if (!is_crypt_char(hash[i]))
            return false;
    return true;
}

/* ---- $apr1$: md5crypt with Apache's magic ---- */

static bool md5_update(EVP_MD_CTX *c, const void *p, size_t n)
{
    return EVP_DigestUpdate(c, p, n) == 1;
}

/* One MD5 over up to three pieces; a NULL piece is skipped. */
static bool md5_of(EVP_MD_CTX *c, const EVP_MD *md, unsigned char out[16], const void *a,
                   size_t alen, const void *b, size_t blen, const void *d, size_t dlen)
{
    return EVP_DigestInit_ex(c, md, NULL) == 1 && (!a || md5_update(c, a, alen)) &&
           (!b || md5_update(c, b, blen)) && (!d || md5_update(c, d, dlen)) &&
           EVP_DigestFinal_ex(c, out, NULL) == 1;
}

/* The initial digest: password, magic, salt, then bytes of MD5(pw salt pw). */
static bool apr1_initial(EVP_MD_CTX *c, const EVP_MD *md, const char *pw, size_t pwlen,
                         const char *salt, size_t saltlen, unsigned char fin[16])
{
    unsigned char alt[16];
    bool ok = md5_of(c, md, alt, pw, pwlen, salt, saltlen, pw, pwlen) &&
              EVP_DigestInit_ex(c, md, NULL) == 1 && md5_update(c, pw, pwlen) &&
              md5_update(c, APR1_MAGIC, strlen(APR1_MAGIC)) && md5_update(c, salt, saltlen);
    for (size_t left = pwlen; ok && left > 0; left -= left > 16 ? 16 : left)
        ok = md5_update(c, alt, left > 16 ? 16 : left);
    /* The original's quirk, kept for compatibility: for each bit of the
     * length, a NUL byte when set and the first password byte when clear. */
    for (size_t i = pwlen; ok && i; i >>= 1)
        ok = md5_update(c, (i & 1) ? "" : pw, 1);
    ok = ok && EVP_DigestFinal_ex(c, fin, NULL) == 1;
    tg_secret_wipe(alt, sizeof alt);
    return ok;
}

/* The 1000 rounds that make md5crypt (mildly) slow. */
static bool apr1_rounds(EVP_MD_CTX *c, const EVP_MD *md, const char *pw, size_t pwlen,
                        const char *salt, size_t saltlen, unsigned char fin[16])
{
    for (int i = 0; i < APR1_ROUNDS; i++) {
        bool odd = i & 1;
        bool ok = EVP_DigestInit_ex(c, md, NULL) == 1 &&
                  (odd ? md5_update(c, pw, pwlen) : md5_update(c, fin, 16)) &&
                  (i % 3 == 0 || md5_update(c, salt, saltlen)) &&
                  (i % 7 == 0 || md5_update(c, pw, pwlen)) &&
                  (odd ? md5_update(c, fin, 16) : md5_update(c, pw, pwlen)) &&
                  EVP_DigestFinal_ex(c, fin, NULL) == 1;
        if (!ok)
            return false;
    }
    return true;
}

/* Appends n crypt-alphabet characters of v, low 6 bits first. */
static char *to64(char *out, unsigned long v, int n)
{
    while (n-- > 0) {
        *out++ = itoa64[v & 0x3f];
        v >>= 6;
    }
    return out;
}

/* Writes "$apr1$salt$" and the 22-character digest encoding into out (>= 40). */
static void apr1_format(const char *salt, size_t saltlen, const unsigned char f[16], char *out)
{
    /* md5crypt's fixed byte permutation, three bytes per 4 characters. */
    static const unsigned char order[5][3] = {
        {0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}};
    out += sprintf(out, "%s%.*s$", APR1_MAGIC, (int)saltlen, salt);
    for (int i = 0; i < 5; i++)
        out = to64(out, (unsigned long)f[order[i][0]] << 16 | f[order[i][1]] << 8 | f[order[i][2]],
                   4);
    out = to64(out, f[11], 2);
    *out = '\0';
}

static enum tg_passhash_result verify_apr1(const char *hash, const char *password, size_t pwlen)
{
    const char *salt = hash + strlen(APR1_MAGIC);
    size_t saltlen = strcspn(salt, "$");
    if (saltlen > APR1_SALT_MAX)
        saltlen = APR1_SALT_MAX;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_MD *md = EVP_MD_fetch(NULL, "MD5", NULL);
    unsigned char fin[16];
    char out[64];
    enum tg_passhash_result r = TG_PASSHASH_UNSUPPORTED; /* e.g. MD5 off in FIPS mode */
    if (c && md && apr1_initial(c, md, password, pwlen, salt, saltlen, fin) &&
        apr1_rounds(c, md, password, pwlen, salt, saltlen, fin)) {
        apr1_format(salt, saltlen, fin, out);
        r = tg_secret_equal(out, strlen(out), hash, strlen(hash)) ? TG_PASSHASH_MATCH
                                                                  : TG_PASSHASH_MISMATCH;
    }
    tg_secret_wipe(fin, sizeof fin);
    tg_secret_wipe(out, sizeof out);
    EVP_MD_free(md);
    EVP_MD_CTX_free(c); /* cleanses the digest state */
    return r;
}

/* ---- {SHA}: base64(SHA-1(password)) ---- */

static enum tg_passhash_result verify_sha(const char *hash, const char *password, size_t pwlen)
{
    unsigned char md[20];
    char enc[TG_B64_ENCODED_SIZE(sizeof md)];
    unsigned int mdlen = 0;
    enum tg_passhash_result r = TG_PASSHASH_UNSUPPORTED;
    if (EVP_Digest(password, pwlen, md, &mdlen, EVP_sha1(), NULL) == 1 && mdlen == sizeof md) {
        size_t n = tg_b64_encode(md, sizeof md, enc);
        const char *stored = hash + strlen(SHA_PREFIX);
        r = tg_secret_equal(enc, n, stored, strlen(stored)) ? TG_PASSHASH_MATCH
                                                            : TG_PASSHASH_MISMATCH;
    }
    tg_secret_wipe(md, sizeof md);
    tg_secret_wipe(enc, sizeof enc);
    return r;
}

/* ---- dispatch ---- */

enum tg_passhash_result tg_passhash_verify(const char *hash, const char *password, size_t pwlen)
{
    if (!hash)
        return TG_PASSHASH_UNSUPPORTED;
    /* crypt_r and the stored formats cannot represent a NUL; a password
     * holding one would otherwise be checked truncated. */
    if (pwlen && (!password || memchr(password, '\0', pwlen)))
        return TG_PASSHASH_MISMATCH;
    if (!password)
        password = "";
    if (strncmp(hash, APR1_MAGIC, strlen(APR1_MAGIC)) == 0)
        return verify_apr1(hash, password, pwlen);
    if (strncmp(hash, SHA_PREFIX, strlen(SHA_PREFIX)) == 0)
        return verify_sha(hash, password, pwlen);
    if (hash[0] == '$' || is_des_shaped(hash))
        return verify_crypt(hash, password, pwlen);
    return TG_PASSHASH_UNSUPPORTED;
}

/* ---- making bcrypt hashes ---- */

int tg_passhash_make_bcrypt(const char *password, int cost, char *out, size_t outlen)
{
    unsigned char rnd[BCRYPT_SALT_BYTES];
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (!password || !out || cost < 4 || cost > 31)
        return -EINVAL;
    int rc = tg_secret_random(rnd, sizeof rnd);
    if (rc < 0)
        return rc;
    rc = -EINVAL;
    struct scratch *s = scratch_new(password, strlen(password));
    if (!s)
        rc = -ENOMEM;
    else if (crypt_gensalt_rn("$2y$", (unsigned long)cost, (const char *)rnd, sizeof rnd, setting,
                              sizeof setting)) {
        const char *h = run_crypt(s, setting);
        if (h && strlen(h) < outlen) {
            memcpy(out, h, strlen(h) + 1);
            rc = 0;
        } else if (h) {
            rc = -ENOBUFS;
        }
    }
    scratch_free(s);
    tg_secret_wipe(rnd, sizeof rnd);
    return rc;
}

/* ---- the dummy hash for unknown users ---- */

/* Used only if the random one cannot be made: a cost-10 bcrypt hash of a
 * random password nobody kept. It only needs to cost the same time. */
#define DUMMY_FALLBACK "$2y$10$7C30LyxDESDSgthewyELTelwcT1BsnUzuJ7ARQkTDoQonsiu51uuq"

static char dummy[128];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
    unsigned char rnd[24];
    char pw[2 * sizeof rnd + 1];
    if (tg_secret_random(rnd, sizeof rnd) < 0)
        memset(rnd, 0x5a, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
    if (tg_passhash_make_bcrypt(pw, DUMMY_COST, dummy, sizeof dummy) < 0)
        snprintf(dummy, sizeof dummy, "%s", DUMMY_FALLBACK);
    tg_secret_wipe(rnd, sizeof rnd);
    tg_secret_wipe(pw, sizeof pw);
}

const char *tg_passhash_dummy(void)
{
    pthread_once(&dummy_once, dummy_make);
    return dummy;
}
