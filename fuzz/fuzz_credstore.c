/*
 * fuzz_credstore: cred/credstore on arbitrary file contents. The input is
 * written to a memfd and loaded through /proc/self/fd/N, realm "tollgate",
 * as an htpasswd, an htdigest and a users file in turn, then split at NUL
 * bytes into up to three files loaded together (htpasswd, htdigest, users)
 * so merging and cross-file conflicts are reached too. Loading never hashes
 * a password, so no input is slow. Properties:
 *   - the result is 0 with a store, or -1 with no store and a terminated
 *     message that starts with one of the paths;
 *   - a store holds at most one user per line; every user is found by its
 *     own name and is NUL-terminated, 1..128 bytes, free of ':' and control
 *     bytes; a Basic hash has no blank or control byte and comes only from
 *     htpasswd or users files; an H(A1) is lowercase hex of the algorithm's
 *     length and comes only from a users file or (MD5) an htdigest file;
 *   - a user with any H(A1) is found by H(user ":" realm) of every
 *     algorithm, written in lower and in upper case;
 *   - looking up names and hex strings cut from the input (the first field
 *     of each line, the input's first 32 and 64 bytes) never misbehaves,
 *     and a name found is that name.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cred/credstore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REALM "tollgate"
#define MAX_FILES 3

/* One input file behind a memfd, and its path. */
struct file {
    int fd;
    char path[64];
};

static int file_open(struct file *f, const uint8_t *data, size_t size)
{
    f->fd = memfd_create("credstore", MFD_CLOEXEC);
    if (f->fd < 0)
        return -1;
    snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
    if (size > 0 && write(f->fd, data, size) != (ssize_t)size) {
        close(f->fd);
        return -1;
    }
    return 0;
}

static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n;
}

static void check_message(const char *err, size_t errlen, const struct tg_credsource *src,
                          size_t n)
{
    size_t len = strnlen(err, errlen);
    if (len == 0 || len == errlen)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (strncmp(err, src[i].path, strlen(src[i].path)) == 0)
            return;
    }
    abort();
}

static bool is_lower_hex(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    }
    return p[len] == '\0';
}

static void check_user_name(const struct tg_cred *c)
{
    if (!c->user || c->user_len == 0 || c->user_len > 128 || strlen(c->user) != c->user_len)
        abort();
    for (size_t i = 0; i < c->user_len; i++) {
        unsigned char ch = (unsigned char)c->user[i];
        if (ch == ':' || ch < 0x20 || ch == 0x7f)
            abort();
    }
}

static void check_basic(const struct tg_cred *c, bool allowed)
{
    if (!c->basic_hash)
        return;
    if (!allowed || c->basic_hash[0] == '\0')
        abort();
    for (const char *p = c->basic_hash; *p; p++) {
        if (*p == ' ' || *p == ':' || (unsigned char)*p < 0x20 || *p == 0x7f)
            abort();
    }
}

/* H(user ":" realm) of alg, as lower and as upper case hex, finds c. */
static void check_userhash(const struct tg_credstore *s, const struct tg_cred *c,
                           enum tg_digest_alg alg)
{
    char hex[TG_DIGEST_HEX_MAX];
    size_t len = tg_digest_hexlen(alg);
    tg_digest_userhash(alg, (struct tg_str){c->user, c->user_len}, tg_str_c(REALM), hex);
    if (tg_credstore_lookup_userhash(s, alg, hex, len) != c)
        abort();
    for (size_t i = 0; i < len; i++)
        hex[i] = (char)toupper((unsigned char)hex[i]);
    if (tg_credstore_lookup_userhash(s, alg, hex, len) != c)
        abort();
    if (tg_credstore_lookup_userhash(s, alg, hex, len - 1) != NULL)
        abort();
}

/* Checks one stored user against the store and the file formats. */
static void check_cred(const struct tg_credstore *s, const struct tg_cred *c, bool basic_ok,
                       bool ha1_ok, bool md5_only)
{
    check_user_name(c);
    if (tg_credstore_lookup(s, c->user, c->user_len) != c)
        abort();
    check_basic(c, basic_ok);
    bool any = false;
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        const char *h = c->ha1[alg];
        if (!h)
            continue;
        if (!ha1_ok || (md5_only && alg != TG_DIGEST_MD5) ||
            !is_lower_hex(h, tg_digest_hexlen((enum tg_digest_alg)alg)))
            abort();
        any = true;
    }
    for (int alg = 0; any && alg < TG_DIGEST_NALGS; alg++)
        check_userhash(s, c, (enum tg_digest_alg)alg);
}

/* Looks up the first ':'-separated field of every line of the input. */
static size_t lookup_lines(const struct tg_credstore *s, const uint8_t *data, size_t size,
                           bool basic_ok, bool ha1_ok, bool md5_only)
{
    size_t found = 0;
    for (size_t start = 0; start < size;) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        const uint8_t *colon = memchr(data + start, ':', end - start);
        size_t len = colon ? (size_t)(colon - data) - start : end - start;
        const struct tg_cred *c = tg_credstore_lookup(s, (const char *)data + start, len);
        if (c) {
            if (c->user_len != len || memcmp(c->user, data + start, len) != 0)
                abort();
            check_cred(s, c, basic_ok, ha1_ok, md5_only);
            found++;
        }
        start = end + 1;
    }
    return found;
}

/* Raw input bytes as a userhash: any answer is fine, no crash is the point. */
static void lookup_raw(const struct tg_credstore *s, const uint8_t *data, size_t size)
{
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        size_t len = tg_digest_hexlen((enum tg_digest_alg)alg);
        if (size >= len) {
            const struct tg_cred *c =
                tg_credstore_lookup_userhash(s, (enum tg_digest_alg)alg, (const char *)data, len);
            if (c)
                check_user_name(c);
        }
    }
}

/* Loads n files; on success checks the store against the inputs' lines. */
static void load(const struct tg_credsource *src, size_t n, const uint8_t *const *part,
                 const size_t *partlen)
{
    struct tg_credstore *s = (struct tg_credstore *)1;
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = tg_credstore_load(src, n, REALM, &s, err, sizeof err);
    if (rc == -1) {
        if (s)
            abort();
        check_message(err, sizeof err, src, n);
        return;
    }
    if (rc != 0 || !s)
        abort();
    size_t lines = 0, found = 0;
    bool basic_ok = false, ha1_ok = false, md5_only = true;
    for (size_t i = 0; i < n; i++) {
        lines += count_lines(part[i], partlen[i]);
        basic_ok |= src[i].kind != TG_CREDSOURCE_HTDIGEST;
        ha1_ok |= src[i].kind != TG_CREDSOURCE_HTPASSWD;
        md5_only &= src[i].kind != TG_CREDSOURCE_USERS;
    }
    if (tg_credstore_count(s) + tg_credstore_skipped_realm(s) > lines)
        abort();
    for (size_t i = 0; i < n; i++) {
        found += lookup_lines(s, part[i], partlen[i], basic_ok, ha1_ok, md5_only);
        lookup_raw(s, part[i], partlen[i]);
    }
    if (found < tg_credstore_count(s))
        abort();
    tg_credstore_free(s);
}

/* Splits the input at NUL bytes into up to MAX_FILES files, loaded together. */
static void load_split(const uint8_t *data, size_t size)
{
    static const enum tg_credsource_kind kinds[MAX_FILES] = {
        TG_CREDSOURCE_HTPASSWD, TG_CREDSOURCE_HTDIGEST, TG_CREDSOURCE_USERS};
    struct file f[MAX_FILES];
    struct tg_credsource src[MAX_FILES];
    const uint8_t *part[MAX_FILES];
    size_t partlen[MAX_FILES], n = 0, start = 0;
    while (n < MAX_FILES && start <= size) {
        const uint8_t *nul = n + 1 < MAX_FILES ? memchr(data + start, '\0', size - start) : NULL;
        size_t len = nul ? (size_t)(nul - data) - start : size - start;
        if (file_open(&f[n], data + start, len) < 0)
            break;
        src[n] = (struct tg_credsource){kinds[n], f[n].path};
        part[n] = data + start;
        partlen[n] = len;
        n++;
        start += len + 1;
        if (!nul)
            break;
    }
    if (n > 1)
        load(src, n, part, partlen);
    for (size_t i = 0; i < n; i++)
        close(f[i].fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum tg_credsource_kind kinds[] = {TG_CREDSOURCE_HTPASSWD,
                                                    TG_CREDSOURCE_HTDIGEST, TG_CREDSOURCE_USERS};
    struct file f;
    if (file_open(&f, data, size) < 0)
        return 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        struct tg_credsource src = {kinds[k], f.path};
        load(&src, 1, &data, &size);
    }
    close(f.fd);
    load_split(data, size);
    return 0;
}
