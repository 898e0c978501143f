/*
 * nonce: seals and checks the server nonces of Digest authentication
 * (RFC 7616 §3.3 leaves the nonce's content to the server; §5.4-5.5 ask for
 * a value a client cannot predict and the server can age). The sealed
 * bytes are issued time | random id | HMAC-SHA-256 of both, written as
 * unpadded base64url (RFC 4648 §5), which needs no escaping inside a
 * quoted-string. Also loads the shared secret from a file.
 *
 * Deliberately not here: remembering which nonces and counts were used
 * (auth/replay.c), and choosing a TTL (configuration).
 */
#include "auth/nonce.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/b64url.h"
#include "base/secret.h"

#define TIME_LEN 8
#define SEALED_LEN (TIME_LEN + TG_NONCE_ID_LEN) /* the bytes the MAC covers */
#define MAC_LEN 32                              /* SHA-256 output */
#define RAW_LEN (SEALED_LEN + MAC_LEN)
#define TEXT_LEN ((RAW_LEN * 8 + 5) / 6) /* unpadded base64url: 75 characters */
#define FUTURE_SKEW_MS 5000              /* tolerated clock difference between instances */
#define KEY_FILE_MIN 32                  /* below this a secret file is probably a mistake */
#define KEY_FILE_MAX 65536               /* a secret, not a data file: refuse to read more */

_Static_assert(TEXT_LEN + 1 <= TG_NONCE_TEXT_MAX, "nonce text does not fit TG_NONCE_TEXT_MAX");

/* Exactly TEXT_LEN characters decoding to RAW_LEN bytes: one spelling per nonce. */
static bool decode_raw(struct tg_str t, unsigned char out[RAW_LEN])
{
    return t.p && t.len == TEXT_LEN && tg_b64url_decode(t.p, t.len, out, RAW_LEN) == RAW_LEN;
}

static bool seal(const struct tg_nonce_key *k, const unsigned char sealed[SEALED_LEN],
                 unsigned char mac[MAC_LEN])
{
    unsigned int maclen = 0;
    return HMAC(EVP_sha256(), k->secret, sizeof k->secret, sealed, SEALED_LEN, mac, &maclen) &&
           maclen == MAC_LEN;
}

int tg_nonce_key_random(struct tg_nonce_key *k)
{
    return tg_secret_random(k->secret, sizeof k->secret) == 0 ? 0 : -1;
}

/* Reads at most KEY_FILE_MAX + 1 bytes of fd into buf; returns the count or -errno. */
static long read_bounded(int fd, unsigned char *buf)
{
    size_t got = 0;
    while (got <= KEY_FILE_MAX) {
        ssize_t r = read(fd, buf + got, KEY_FILE_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

int tg_nonce_key_load(struct tg_nonce_key *k, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* On the heap: key reloads may run on a worker thread with a small stack. */
    unsigned char *buf = malloc(KEY_FILE_MAX + 1);
    long n = buf ? read_bounded(fd, buf) : -ENOMEM;
    close(fd);
    int rc = -1;
    if (n < 0)
        snprintf(err, errlen, "%s: %s", path, strerror((int)-n));
    else if (n > KEY_FILE_MAX)
        snprintf(err, errlen, "%s: larger than %d bytes, not a secret file", path, KEY_FILE_MAX);
    else if (n < KEY_FILE_MIN)
        snprintf(err, errlen, "%s: %ld bytes, a secret needs at least %d", path, n, KEY_FILE_MIN);
    else if (!SHA256(buf, (size_t)n, k->secret))
        snprintf(err, errlen, "%s: cannot hash the secret", path);
    else
        rc = 0;
    if (buf)
        tg_secret_wipe(buf, KEY_FILE_MAX + 1);
    free(buf);
    return rc;
}

int tg_nonce_make(const struct tg_nonce_key *k, uint64_t now_ms, char out[TG_NONCE_TEXT_MAX])
{
    unsigned char raw[RAW_LEN];
    for (int i = 0; i < TIME_LEN; i++)
        raw[i] = (unsigned char)(now_ms >> (8 * (TIME_LEN - 1 - i)));
    if (tg_secret_random(raw + TIME_LEN, TG_NONCE_ID_LEN) != 0 || !seal(k, raw, raw + SEALED_LEN))
        return -1;
    tg_b64url_encode(raw, RAW_LEN, out);
    return 0;
}

enum tg_nonce_status tg_nonce_check(const struct tg_nonce_key *k, struct tg_str nonce,
                                    uint64_t now_ms, uint64_t ttl_ms, uint64_t *issued_ms,
                                    unsigned char id[TG_NONCE_ID_LEN])
{
    unsigned char raw[RAW_LEN], mac[MAC_LEN];
    if (!decode_raw(nonce, raw) || !seal(k, raw, mac))
        return TG_NONCE_BAD;
    /* The MAC first: an unauthenticated time must not decide STALE vs BAD. */
    if (!tg_secret_equal(mac, MAC_LEN, raw + SEALED_LEN, MAC_LEN))
        return TG_NONCE_BAD;
    uint64_t issued = 0;
    for (int i = 0; i < TIME_LEN; i++)
        issued = issued << 8 | raw[i];
    /* Sealed by an instance whose clock runs ahead (or with a leaked key): it
     * cannot be aged honestly, and accepting it would stretch its lifetime. */
    if (issued > now_ms && issued - now_ms > FUTURE_SKEW_MS)
        return TG_NONCE_BAD;
    if (issued_ms)
        *issued_ms = issued;
    if (id)
        memcpy(id, raw + TIME_LEN, TG_NONCE_ID_LEN);
    return now_ms > issued && now_ms - issued > ttl_ms ? TG_NONCE_STALE : TG_NONCE_VALID;
}
