/*
 * digestcalc: the hash arithmetic of HTTP Digest - H, KD, A1, A2 and the
 * response of RFC 7616 §3.4.1-§3.4.3 (and RFC 2617 §3.2.2, which is the
 * same for MD5), plus the userhash of §3.4.4 - over OpenSSL 3's EVP API.
 *
 * It parses no header, chooses no algorithm and compares nothing: digest.c
 * does that. Colon-joined inputs are fed to one EVP_MD_CTX piece by piece,
 * so no concatenation buffer exists and no input is too long.
 *
 * The three EVP_MD objects are fetched once per process (explicit fetching
 * avoids OpenSSL 3's per-call implicit fetch) and kept for its lifetime.
 * If OpenSSL fails (no memory, or a provider without MD5), the output is
 * all NUL bytes: the empty string, which equals no client's response.
 * Safe from any thread.
 */
#include "auth/digestcalc.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "base/hex.h"
#include "base/secret.h"

static const char *const fetch_names[TG_DIGEST_NALGS] = {"MD5", "SHA2-256", "SHA2-512/256"};
static const char *const names[TG_DIGEST_NALGS][2] = {
    {"MD5", "MD5-sess"},
    {"SHA-256", "SHA-256-sess"},
    {"SHA-512-256", "SHA-512-256-sess"},
};

static EVP_MD *mds[TG_DIGEST_NALGS];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;

static void fetch_mds(void)
{
    for (int i = 0; i < TG_DIGEST_NALGS; i++)
        mds[i] = EVP_MD_fetch(NULL, fetch_names[i], NULL);
}

static const EVP_MD *md_of(enum tg_digest_alg alg)
{
    if ((unsigned)alg >= TG_DIGEST_NALGS)
        return NULL;
    pthread_once(&mds_once, fetch_mds);
    return mds[alg];
}

size_t tg_digest_hexlen(enum tg_digest_alg alg)
{
    return alg == TG_DIGEST_MD5 ? 32 : 64;
}

bool tg_digest_alg_parse(struct tg_str name, enum tg_digest_alg *alg, bool *sess)
{
    for (int i = 0; i < TG_DIGEST_NALGS; i++) {
        for (int s = 0; s < 2; s++) {
            if (tg_str_eq_nocase(name, names[i][s])) {
                *alg = (enum tg_digest_alg)i;
                *sess = s == 1;
                return true;
            }
        }
    }
    return false;
}

const char *tg_digest_alg_name(enum tg_digest_alg alg, bool sess)
{
    if ((unsigned)alg >= TG_DIGEST_NALGS)
        return "unknown";
    return names[alg][sess ? 1 : 0];
}

/*
 * out = hex(H(parts joined by ':')). The raw digest is wiped: for H(A1) it
 * is password-equivalent. EVP_MD_CTX_free cleanses the hash state itself.
 */
static void hash_parts(enum tg_digest_alg alg, const struct tg_str *parts, size_t n, char *out)
{
    const EVP_MD *md = md_of(alg);
    EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, md, NULL);
    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0)
            ok = EVP_DigestUpdate(ctx, ":", 1);
        if (ok && parts[i].len > 0)
            ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len);
    }
    ok = ok && EVP_DigestFinal_ex(ctx, d, &dlen) && dlen * 2 == tg_digest_hexlen(alg);
    EVP_MD_CTX_free(ctx);
    if (ok)
        tg_hex_encode(d, dlen, out);
    else
        memset(out, 0, TG_DIGEST_HEX_MAX);
    tg_secret_wipe(d, sizeof d);
}

void tg_digest_hash(enum tg_digest_alg alg, const void *data, size_t len, char *out)
{
    struct tg_str part = {data, len};
    hash_parts(alg, &part, 1, out);
}

void tg_digest_hash_joined(enum tg_digest_alg alg, const struct tg_str *parts, size_t n, char *out)
{
    hash_parts(alg, parts, n, out);
}

void tg_digest_ha1(enum tg_digest_alg alg, struct tg_str user, struct tg_str realm,
                   struct tg_str password, char *out)
{
    struct tg_str parts[] = {user, realm, password};
    hash_parts(alg, parts, 3, out);
}

/*
 * A NULL hex input (a caller's missing credential) must not hash as "":
 * that H(A1) would be one anybody can compute. It yields the empty result.
 */
static bool hex_part(const char *hex, struct tg_str *part, char *out)
{
    if (hex) {
        *part = tg_str_c(hex);
        return true;
    }
    memset(out, 0, TG_DIGEST_HEX_MAX);
    return false;
}

void tg_digest_ha1_sess(enum tg_digest_alg alg, const char *ha1, struct tg_str nonce,
                        struct tg_str cnonce, char *out)
{
    struct tg_str parts[] = {{NULL, 0}, nonce, cnonce};
    if (hex_part(ha1, &parts[0], out))
        hash_parts(alg, parts, 3, out);
}

void tg_digest_ha2(enum tg_digest_alg alg, struct tg_str method, struct tg_str uri,
                   const char *body_hash, char *out)
{
    struct tg_str parts[] = {method, uri, {NULL, 0}};
    if (body_hash)
        parts[2] = tg_str_c(body_hash);
    hash_parts(alg, parts, body_hash ? 3 : 2, out);
}

/* KD(secret, data) = H(secret ":" data), so the response is one joined hash. */
void tg_digest_response(enum tg_digest_alg alg, const char *ha1, struct tg_str nonce,
                        struct tg_str nc, struct tg_str cnonce, struct tg_str qop, const char *ha2,
                        char *out)
{
    struct tg_str parts[] = {{NULL, 0}, nonce, nc, cnonce, qop, {NULL, 0}};
    if (hex_part(ha1, &parts[0], out) && hex_part(ha2, &parts[5], out))
        hash_parts(alg, parts, 6, out);
}

void tg_digest_userhash(enum tg_digest_alg alg, struct tg_str user, struct tg_str realm, char *out)
{
    struct tg_str parts[] = {user, realm};
    hash_parts(alg, parts, 2, out);
}
