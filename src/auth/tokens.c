/*
 * tokens: the opaque token file (format in tokens.h), its lookup table and
 * the two halves of minting: making a token and appending its hash.
 *
 * The table is open addressing keyed by the first 8 bytes of the digest.
 * Stored digests are SHA-256 of random tokens, so their bits are already
 * uniform; a client controls only the digest it presents, which selects a
 * probe sequence but learns nothing about stored values because every
 * probed slot is compared with CRYPTO_memcmp. The file is parsed whole and
 * strictly; this module does not decide what a failed lookup means to the
 * client (bearer.c does) and does not cache.
 */
#include "auth/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/b64url.h"
#include "base/file.h"
#include "base/hex.h"
#include "base/secret.h"

struct entry {
    unsigned char digest[TG_TOKENS_DIGEST_LEN];
    uint64_t expiry_ms; /* meaningful when expires */
    bool expires;
    size_t user_off;    /* into names */
    unsigned line;
    bool revoked;
};

struct tg_tokens {
    struct entry *e; /* owned; n entries */
    size_t n, cap;
    char *names; /* owned; NUL-terminated user names back to back */
    size_t names_len, names_cap;
    uint32_t *slots; /* owned; index + 1 into e, 0 when empty; nslots a power of two */
    size_t nslots;
};

/* ---- parsing ---- */

struct parse {
    const char *name;
    unsigned line;
    char *err;
    size_t errlen;
};

static bool fail(struct parse *p, const char *why)
{
    snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, why);
    return false;
}

/* Decimal Unix seconds, no sign, no leading zeros beyond "0", <= EXPIRY_MAX. */
static bool parse_expiry(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 12 || (s[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > TG_TOKENS_EXPIRY_MAX)
        return false;
    *out = v;
    return true;
}

const char *tg_tokens_bad_user(const char *user)
{
    size_t len = strlen(user);
    if (len == 0)
        return "user name is empty";
    if (len > TG_TOKENS_USER_MAX)
        return "user name is longer than 128 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)user[i];
        if (c <= 0x20 || c == 0x7f)
            return "user name contains white space or a control character";
    }
    return NULL;
}

static bool add_name(struct tg_tokens *t, const char *s, size_t len, size_t *off)
{
    if (t->names_len + len + 1 > t->names_cap) {
        size_t cap = t->names_cap ? t->names_cap * 2 : 4096;
        while (cap < t->names_len + len + 1)
            cap *= 2;
        char *p = realloc(t->names, cap);
        if (!p)
            return false;
        t->names = p;
        t->names_cap = cap;
    }
    memcpy(t->names + t->names_len, s, len);
    t->names[t->names_len + len] = '\0';
    *off = t->names_len;
    t->names_len += len + 1;
    return true;
}

static struct entry *new_entry(struct tg_tokens *t)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct entry *e = realloc(t->e, cap * sizeof *e);
        if (!e)
            return NULL;
        t->e = e;
        t->cap = cap;
    }
    return memset(&t->e[t->n++], 0, sizeof *t->e);
}

#define MAX_FIELDS 5 /* one more than allowed, to report "too many fields" */

/* Splits on runs of spaces and tabs; returns the number of fields found. */
static size_t split(const char *s, size_t len, const char **f, size_t *flen)
{
    size_t n = 0, i = 0;
    while (i < len && n < MAX_FIELDS) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == len)
            break;
        f[n] = s + i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        flen[n] = (size_t)(s + i - f[n]);
        n++;
    }
    return n;
}

static bool field_is(const char *f, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(f, word, len) == 0;
}

/* One non-blank, non-comment line (without its line end). */
static bool parse_line(struct tg_tokens *t, struct parse *p, const char *s, size_t len)
{
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t n = split(s, len, f, fl);
    if (n < 2)
        return fail(p, "expected 'SHA256-HEX USER [EXPIRY] [revoked]'");
    if (n > 4)
        return fail(p, "too many fields (expected 'SHA256-HEX USER [EXPIRY] [revoked]')");
    struct entry *e = new_entry(t);
    if (!e)
        return fail(p, "out of memory");
    e->line = p->line;
    if (fl[0] != 2 * TG_TOKENS_DIGEST_LEN || !tg_hex_decode(f[0], fl[0], e->digest))
        return fail(p, "the first field must be 64 hex digits (SHA-256 of the token)");
    if (fl[1] > TG_TOKENS_USER_MAX)
        return fail(p, "user name is longer than 128 bytes");
    for (size_t i = 0; i < fl[1]; i++) {
        unsigned char c = (unsigned char)f[1][i];
        if (c < 0x20 || c == 0x7f)
            return fail(p, "user name contains a control character");
    }
    size_t next = 2;
    if (n > next && !field_is(f[next], fl[next], "revoked")) {
        uint64_t sec = 0;
        bool never = field_is(f[next], fl[next], "-");
        if (!never && !parse_expiry(f[next], fl[next], &sec))
            return fail(p, "expiry must be Unix seconds (at most 253402300799) or '-'");
        e->expires = !never; /* a flag, not expiry 0: second 0 is a real (long past) time */
        e->expiry_ms = sec * 1000;
        next++;
    }
    if (n > next) {
        if (!field_is(f[next], fl[next], "revoked"))
            return fail(p, "the last field must be 'revoked'");
        e->revoked = true;
        next++;
    }
    if (n > next)
        return fail(p, "too many fields (expected 'SHA256-HEX USER [EXPIRY] [revoked]')");
    if (!add_name(t, f[1], fl[1], &e->user_off))
        return fail(p, "out of memory");
    return true;
}

static bool parse_text(struct tg_tokens *t, struct parse *p, const char *text, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        size_t n = end - pos;
        const char *s = text + pos;
        p->line++;
        pos = nl ? end + 1 : len;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n > TG_TOKENS_LINE_MAX)
            return fail(p, "line too long");
        if (memchr(s, '\0', n) || memchr(s, '\r', n))
            return fail(p, "NUL or CR inside a line");
        size_t i = 0;
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n || s[i] == '#')
            continue;
        if (!parse_line(t, p, s, n))
            return false;
    }
    return true;
}

/* ---- the table ---- */

static size_t slot_of(const unsigned char *d, size_t mask)
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return (size_t)h & mask;
}

static bool build_table(struct tg_tokens *t, struct parse *p)
{
    if (t->n >= UINT32_MAX / 4) {
        snprintf(p->err, p->errlen, "%s: too many tokens", p->name);
        return false;
    }
    t->nslots = 16;
    while (t->nslots < t->n * 2)
        t->nslots *= 2;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots) {
        snprintf(p->err, p->errlen, "%s: out of memory", p->name);
        return false;
    }
    size_t mask = t->nslots - 1;
    for (size_t i = 0; i < t->n; i++) {
        size_t s = slot_of(t->e[i].digest, mask);
        for (; t->slots[s]; s = (s + 1) & mask) {
            const struct entry *o = &t->e[t->slots[s] - 1];
            if (memcmp(o->digest, t->e[i].digest, TG_TOKENS_DIGEST_LEN) == 0) {
                snprintf(p->err, p->errlen, "%s:%u: the same token is already on line %u", p->name,
                         t->e[i].line, o->line);
                return false;
            }
        }
        t->slots[s] = (uint32_t)(i + 1);
    }
    return true;
}

struct tg_tokens *tg_tokens_parse(const char *text, size_t len, const char *name, char *err,
                                  size_t errlen)
{
    struct parse p = {.name = name, .err = err, .errlen = errlen};
    struct tg_tokens *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    if (!parse_text(t, &p, text, len) || !build_table(t, &p)) {
        tg_tokens_free(t);
        return NULL;
    }
    return t;
}

static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = NULL;
    int rc = tg_file_read(path, TG_TOKENS_FILE_MAX, &buf, len);
    if (rc < 0)
        tg_file_error(err, errlen, path, rc, TG_TOKENS_FILE_MAX);
    return buf;
}

struct tg_tokens *tg_tokens_load(const char *path, char *err, size_t errlen)
{
    size_t len = 0;
    char *text = read_file(path, &len, err, errlen);
    if (!text)
        return NULL;
    struct tg_tokens *t = tg_tokens_parse(text, len, path, err, errlen);
    free(text);
    return t;
}

void tg_tokens_free(struct tg_tokens *t)
{
    if (!t)
        return;
    free(t->e);
    free(t->names);
    free(t->slots);
    free(t);
}

size_t tg_tokens_count(const struct tg_tokens *t)
{
    return t ? t->n : 0;
}

enum tg_tokens_result tg_tokens_lookup(const struct tg_tokens *t,
                                       const unsigned char digest[TG_TOKENS_DIGEST_LEN],
                                       uint64_t now_ms, const char **user, uint64_t *expiry_ms)
{
    size_t mask = t->nslots - 1;
    for (size_t s = slot_of(digest, mask); t->slots[s]; s = (s + 1) & mask) {
        const struct entry *e = &t->e[t->slots[s] - 1];
        if (!tg_secret_equal(e->digest, sizeof e->digest, digest, TG_TOKENS_DIGEST_LEN))
            continue;
        if (e->revoked)
            return TG_TOKENS_REVOKED;
        if (e->expires && now_ms >= e->expiry_ms)
            return TG_TOKENS_EXPIRED;
        *user = t->names + e->user_off;
        *expiry_ms = e->expiry_ms;
        return TG_TOKENS_OK;
    }
    return TG_TOKENS_UNKNOWN;
}

/* ---- minting ---- */

void tg_tokens_digest(const void *p, size_t len, unsigned char digest[TG_TOKENS_DIGEST_LEN])
{
    unsigned int n = 0;
    if (EVP_Digest(p, len, digest, &n, EVP_sha256(), NULL) != 1 || n != TG_TOKENS_DIGEST_LEN)
        abort(); /* SHA-256 cannot fail short of a broken libcrypto */
}

int tg_tokens_mint(char token[TG_TOKENS_MINTED_LEN + 1], unsigned char digest[TG_TOKENS_DIGEST_LEN])
{
    unsigned char raw[TG_TOKENS_MINT_BYTES];
    int rc = tg_secret_random(raw, sizeof raw);
    if (rc < 0)
        return rc;
    tg_b64url_encode(raw, sizeof raw, token);
    tg_secret_wipe(raw, sizeof raw);
    tg_tokens_digest(token, TG_TOKENS_MINTED_LEN, digest);
    return 0;
}

/* True when fd's file is non-empty and its last byte is not '\n'. */
static bool lacks_final_newline(int fd)
{
    struct stat st;
    char c;
    if (fstat(fd, &st) < 0 || st.st_size == 0)
        return false;
    return pread(fd, &c, 1, st.st_size - 1) == 1 && c != '\n';
}

int tg_tokens_append(const char *path, const unsigned char digest[TG_TOKENS_DIGEST_LEN],
                     const char *user, uint64_t expiry_s, char *err, size_t errlen)
{
    char line[2 * TG_TOKENS_DIGEST_LEN + TG_TOKENS_USER_MAX + 32];
    const char *bad = tg_tokens_bad_user(user);
    if (bad || expiry_s > TG_TOKENS_EXPIRY_MAX) {
        snprintf(err, errlen, "%s: %s", path, bad ? bad : "expiry too far in the future");
        return -1;
    }
    /* Read access too: lacks_final_newline() looks at the last byte. */
    int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = lacks_final_newline(fd) ? 1 : 0;
    line[0] = '\n';
    for (size_t i = 0; i < TG_TOKENS_DIGEST_LEN; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, "%02x", digest[i]);
    n += (size_t)snprintf(line + n, sizeof line - n, " %s", user);
    if (expiry_s)
        n += (size_t)snprintf(line + n, sizeof line - n, " %llu", (unsigned long long)expiry_s);
    line[n++] = '\n';
    /* One write with O_APPEND: concurrent minting never interleaves lines. */
    ssize_t w = write(fd, line, n);
    int saved = w < 0 ? errno : EIO;
    bool ok = w == (ssize_t)n && fsync(fd) == 0;
    if (!ok && w == (ssize_t)n)
        saved = errno;
    if (close(fd) < 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok)
        snprintf(err, errlen, "%s: %s", path, strerror(saved));
    return ok ? 0 : -1;
}
