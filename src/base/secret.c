/*
 * secret: constant-time comparison, wiping, and random bytes (getrandom(2)).
 */
#include "base/secret.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <sys/random.h>

bool tg_secret_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    return alen == 0 || CRYPTO_memcmp(a, b, alen) == 0;
}

void tg_secret_wipe(void *p, size_t n)
{
    if (p && n)
        OPENSSL_cleanse(p, n);
}

int tg_secret_random(void *p, size_t n)
{
    unsigned char *out = p;
    while (n > 0) {
        ssize_t r = getrandom(out, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        out += r;
        n -= (size_t)r;
    }
    return 0;
}
