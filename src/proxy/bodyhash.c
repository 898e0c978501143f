/*
 * bodyhash: one pass over the buffered body feeding three EVP contexts.
 */
#include "proxy/bodyhash.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>

static const EVP_MD *md_of(int alg)
{
    return alg == TG_DIGEST_MD5 ? EVP_md5() : alg == TG_DIGEST_SHA256 ? EVP_sha256()
                                                                      : EVP_sha512_256();
}

struct hashers {
    EVP_MD_CTX *ctx[TG_DIGEST_NALGS];
};

static bool hashers_init(struct hashers *h)
{
    bool ok = true;
    for (int i = 0; i < TG_DIGEST_NALGS; i++) {
        h->ctx[i] = EVP_MD_CTX_new();
        ok = ok && h->ctx[i] && EVP_DigestInit_ex(h->ctx[i], md_of(i), NULL) == 1;
    }
    return ok;
}

static void hashers_update(struct hashers *h, const char *p, size_t n)
{
    for (int i = 0; i < TG_DIGEST_NALGS; i++)
        EVP_DigestUpdate(h->ctx[i], p, n);
}

static void hashers_final(struct hashers *h, char hex[TG_DIGEST_NALGS][TG_DIGEST_HEX_MAX])
{
    for (int i = 0; i < TG_DIGEST_NALGS; i++) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(h->ctx[i], md, &n);
        for (unsigned k = 0; k < n; k++)
            snprintf(&hex[i][k * 2], 3, "%02x", md[k]);
    }
}

static void hashers_free(struct hashers *h)
{
    for (int i = 0; i < TG_DIGEST_NALGS; i++)
        EVP_MD_CTX_free(h->ctx[i]);
}

static enum tg_bodyhash_result hash_chunked(struct hashers *h, const char *data, size_t len)
{
    struct tg_chunked dec;
    tg_chunked_init(&dec);
    for (;;) {
        size_t used;
        struct tg_str span;
        struct tg_http_error err;
        enum tg_chunked_result r = tg_chunked_step(&dec, data, len, &used, &span, &err);
        data += used;
        len -= used;
        if (r == TG_CHUNKED_DATA)
            hashers_update(h, span.p, span.len);
        else if (r == TG_CHUNKED_DONE)
            return TG_BODYHASH_DONE;
        else if (r == TG_CHUNKED_ERROR)
            return TG_BODYHASH_INVALID;
        else
            return TG_BODYHASH_MORE;
    }
}

enum tg_bodyhash_result tg_bodyhash(const char *data, size_t len, int chunked, uint64_t length,
                                    char hex[TG_DIGEST_NALGS][TG_DIGEST_HEX_MAX])
{
    if (!chunked && len < length)
        return TG_BODYHASH_MORE;
    struct hashers h;
    enum tg_bodyhash_result r = TG_BODYHASH_INVALID;
    if (hashers_init(&h)) {
        if (chunked) {
            r = hash_chunked(&h, data, len);
        } else {
            hashers_update(&h, data, (size_t)length);
            r = TG_BODYHASH_DONE;
        }
        if (r == TG_BODYHASH_DONE)
            hashers_final(&h, hex);
    }
    hashers_free(&h);
    return r;
}
