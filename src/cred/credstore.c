/*
 * credstore: the merged credential table (formats in cred/credstore.h).
 * Each source file is read whole into one buffer and split in place; the
 * table's strings point into those buffers, which are wiped when the store
 * is freed. Users are found through an open-addressing hash table keyed by
 * name, and through one table per Digest algorithm keyed by the binary
 * userhash (RFC 7616 §3.4.4), so a client's hex in either case finds them.
 *
 * Parsing is stricter than Apache's: a line Apache could read differently
 * (surrounding white space, which it trims; a third field after an
 * htpasswd hash, which it ignores) fails the load with its line number.
 * It does not verify passwords (cred/passhash), compute responses
 * (auth/digestcalc), watch files or swap stores (auth/userdb).
 */
#include "cred/credstore.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/hex.h"
#include "base/secret.h"

/* Longer names are typos or garbage, not people. */
#define USER_MAX 128
/* Realms are short human-readable strings; this bounds what we compare. */
#define REALM_MAX 256
/* A users line is at most ~620 bytes; anything longer is corruption. */
#define LINE_MAX_BYTES 4096
/* Millions of users fit; a bigger file is a mistake we should not slurp. */
#define FILE_MAX_BYTES (64u << 20)
/* Bytes of the longest H() output (SHA-256, SHA-512/256). */
#define DIGEST_MAX 32
/* Fields of a line: the Basic hash, then one H(A1) per algorithm. */
#define NFIELDS (1 + TG_DIGEST_NALGS)
/* "user:realm:BCRYPT:MD5:SHA256:SHA512-256" */
#define USERS_COLUMNS 6

/* Where a value came from: source index and 1-based line (0: nowhere). */
struct origin {
    uint32_t src;
    uint32_t line;
};

struct entry {
    struct tg_cred cred;                           /* strings borrowed from the buffers */
    struct origin from[NFIELDS];                   /* who gave each field, for conflict errors */
    struct origin last;                            /* the latest line naming this user */
    unsigned char uh[TG_DIGEST_NALGS][DIGEST_MAX]; /* binary H(user ":" realm) */
};

/* Open addressing with linear probing; a slot holds entry index + 1. */
struct table {
    uint32_t *slot; /* owned; NULL while empty */
    size_t mask;    /* capacity - 1, capacity a power of two */
};

struct buffer {
    char *p; /* owned: one source file, split in place, NUL-terminated */
    size_t len;
};

struct tg_credstore {
    struct buffer *bufs; /* owned, one per source */
    size_t nbufs;
    struct entry *entries; /* owned */
    size_t count;
    size_t cap;
    size_t skipped_realm;
    struct table names;
    struct table userhash[TG_DIGEST_NALGS];
};

/* One load: the store being built, the sources, and where errors go. */
struct loader {
    struct tg_credstore *s;
    const struct tg_credsource *sources;
    struct tg_str realm;
    uint32_t src;
    uint32_t line;
    char *err;
    size_t errlen;
};

/* One parsed line; hash[0] is the Basic hash, hash[1 + alg] an H(A1). */
struct line {
    const char *user;
    size_t userlen;
    struct tg_str realm; /* p is NULL for htpasswd lines */
    const char *hash[NFIELDS];
};

__attribute__((format(printf, 2, 3))) static int fail(struct loader *ld, const char *fmt, ...)
{
    if (!ld->err || ld->errlen == 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(ld->err, ld->errlen, "%s:%u: ", ld->sources[ld->src].path, ld->line);
    if (n >= 0 && (size_t)n < ld->errlen)
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* "PATH: reason" for failures that are not about one line. */
static int fail_errno(struct loader *ld, int e)
{
    if (!ld->err || ld->errlen == 0)
        return -1;
    const char *path = ld->sources[ld->src].path;
    if (e == EFBIG)
        snprintf(ld->err, ld->errlen, "%s: file larger than %u MiB", path, FILE_MAX_BYTES >> 20);
    else
        snprintf(ld->err, ld->errlen, "%s: %s", path, strerror(e));
    return -1;
}

/* ---- checking fields ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_control(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f;
}

static bool has_control(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (is_control(p[i]))
            return true;
    }
    return false;
}

/* Blank lines and comments ('#' after optional white space). */
static bool is_skipped(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && is_blank(p[i]))
        i++;
    return i == len || p[i] == '#';
}

static int check_user(struct loader *ld, const char *p, size_t len)
{
    if (len == 0)
        return fail(ld, "empty user name");
    if (len > USER_MAX)
        return fail(ld, "user name longer than %d bytes", USER_MAX);
    if (has_control(p, len))
        return fail(ld, "control character in user name");
    return 0;
}

static int check_realm(struct loader *ld, const char *p, size_t len)
{
    if (len == 0)
        return fail(ld, "empty realm");
    if (len > REALM_MAX)
        return fail(ld, "realm longer than %d bytes", REALM_MAX);
    if (has_control(p, len))
        return fail(ld, "control character in realm");
    return 0;
}

/* An htpasswd hash: any format passhash may know, but no white space or
 * control characters, which no format produces. */
static int check_basic(struct loader *ld, const char *p, size_t len)
{
    if (len == 0)
        return fail(ld, "empty hash");
    for (size_t i = 0; i < len; i++) {
        if (is_control(p[i]))
            return fail(ld, "control character in hash");
        if (p[i] == ' ')
            return fail(ld, "white space in hash");
    }
    return 0;
}

static bool is_bcrypt_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/';
}

/* "$2a$", "$2b$" or "$2y$", a two-digit cost 04..31, '$', then 22
 * characters of salt and 31 of hash: exactly what crypt_r writes. */
static int check_bcrypt(struct loader *ld, const char *p, size_t len)
{
    bool ok = len == 60 && p[0] == '$' && p[1] == '2' && p[2] && strchr("aby", p[2]) &&
              p[3] == '$' && p[4] >= '0' && p[4] <= '3' && p[5] >= '0' && p[5] <= '9' &&
              p[6] == '$';
    int cost = ok ? (p[4] - '0') * 10 + (p[5] - '0') : 0;
    for (size_t i = 7; ok && i < len; i++)
        ok = is_bcrypt_char(p[i]);
    if (!ok || cost < 4 || cost > 31)
        return fail(ld, "malformed bcrypt hash");
    return 0;
}

/* An H(A1): exactly the algorithm's number of hex digits, lowercased in
 * place so the table holds one spelling. */
static int check_ha1(struct loader *ld, enum tg_digest_alg alg, char *p, size_t len)
{
    size_t want = tg_digest_hexlen(alg);
    if (len != want)
        return fail(ld, "%s H(A1) must be %zu hex digits, not %zu", tg_digest_alg_name(alg, false),
                    want, len);
    for (size_t i = 0; i < len; i++) {
        if (tg_hex_digit(p[i]) < 0)
            return fail(ld, "non-hex character in %s H(A1)", tg_digest_alg_name(alg, false));
        if (p[i] >= 'A' && p[i] <= 'F')
            p[i] = (char)(p[i] + ('a' - 'A'));
    }
    return 0;
}

/* ---- parsing a line ---- */

/* Splits p[0..len) on ':' into exactly `want` NUL-terminated fields. */
static int split(struct loader *ld, char *p, size_t len, char **f, size_t *flen, size_t want)
{
    size_t n = 0;
    char *start = p, *end = p + len;
    for (char *q = p; q <= end; q++) {
        if (q < end && *q != ':')
            continue;
        if (n < want) {
            f[n] = start;
            flen[n] = (size_t)(q - start);
        }
        n++;
        *q = '\0';
        start = q + 1;
    }
    if (n != want)
        return fail(ld, "expected %zu ':'-separated fields, found %zu", want, n);
    return 0;
}

static int parse_htpasswd(struct loader *ld, char *p, size_t len, struct line *l)
{
    char *f[2];
    size_t fl[2];
    if (split(ld, p, len, f, fl, 2) < 0 || check_user(ld, f[0], fl[0]) < 0 ||
        check_basic(ld, f[1], fl[1]) < 0)
        return -1;
    *l = (struct line){.user = f[0], .userlen = fl[0]};
    l->hash[0] = f[1];
    return 0;
}

static int parse_htdigest(struct loader *ld, char *p, size_t len, struct line *l)
{
    char *f[3];
    size_t fl[3];
    if (split(ld, p, len, f, fl, 3) < 0 || check_user(ld, f[0], fl[0]) < 0 ||
        check_realm(ld, f[1], fl[1]) < 0 || check_ha1(ld, TG_DIGEST_MD5, f[2], fl[2]) < 0)
        return -1;
    *l = (struct line){.user = f[0], .userlen = fl[0], .realm = {f[1], fl[1]}};
    l->hash[1 + TG_DIGEST_MD5] = f[2];
    return 0;
}

static int parse_users(struct loader *ld, char *p, size_t len, struct line *l)
{
    char *f[USERS_COLUMNS];
    size_t fl[USERS_COLUMNS];
    if (split(ld, p, len, f, fl, USERS_COLUMNS) < 0 || check_user(ld, f[0], fl[0]) < 0 ||
        check_realm(ld, f[1], fl[1]) < 0 || (fl[2] && check_bcrypt(ld, f[2], fl[2]) < 0))
        return -1;
    *l = (struct line){.user = f[0], .userlen = fl[0], .realm = {f[1], fl[1]}};
    l->hash[0] = fl[2] ? f[2] : NULL;
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        if (fl[3 + alg] == 0)
            continue;
        if (check_ha1(ld, (enum tg_digest_alg)alg, f[3 + alg], fl[3 + alg]) < 0)
            return -1;
        l->hash[1 + alg] = f[3 + alg];
    }
    return 0;
}

/* ---- the name table ---- */

/* FNV-1a. The keys come from the administrator's files, not from clients,
 * so nobody hostile chooses what collides. */
static uint64_t hash_name(const char *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3u;
    }
    return h ^ (h >> 29);
}

static size_t name_slot(const struct tg_credstore *s, const char *user, size_t len)
{
    size_t i = hash_name(user, len) & s->names.mask;
    for (;; i = (i + 1) & s->names.mask) {
        uint32_t v = s->names.slot[i];
        if (v == 0)
            return i;
        const struct tg_cred *c = &s->entries[v - 1].cred;
        if (c->user_len == len && memcmp(c->user, user, len) == 0)
            return i;
    }
}

/* Re-indexes every entry into a table twice as large as needed, so
 * probes stay short (load factor at most 1/2). */
static int names_grow(struct tg_credstore *s)
{
    size_t cap = 16;
    while (cap < 2 * (s->count + 1))
        cap *= 2;
    uint32_t *slot = calloc(cap, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    free(s->names.slot);
    s->names.slot = slot;
    s->names.mask = cap - 1;
    for (size_t k = 0; k < s->count; k++) {
        const struct tg_cred *c = &s->entries[k].cred;
        slot[name_slot(s, c->user, c->user_len)] = (uint32_t)(k + 1);
    }
    return 0;
}

/* The entry for l's user, added empty if new; NULL when out of memory. */
static struct entry *find_or_add(struct tg_credstore *s, const struct line *l)
{
    if (s->names.slot) {
        uint32_t v = s->names.slot[name_slot(s, l->user, l->userlen)];
        if (v)
            return &s->entries[v - 1];
    }
    if (s->count >= UINT32_MAX - 1)
        return NULL;
    if (s->count == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct entry *e = realloc(s->entries, ncap * sizeof *e);
        if (!e)
            return NULL;
        s->entries = e;
        s->cap = ncap;
    }
    if (2 * (s->count + 1) > s->names.mask + 1 && names_grow(s) < 0)
        return NULL;
    struct entry *e = &s->entries[s->count];
    *e = (struct entry){.cred = {.user = l->user, .user_len = l->userlen}};
    s->names.slot[name_slot(s, l->user, l->userlen)] = (uint32_t)(++s->count);
    return e;
}

/* ---- merging ---- */

static const char *field_name(int f, char *buf, size_t len)
{
    if (f == 0)
        return "Basic hash";
    snprintf(buf, len, "%s H(A1)", tg_digest_alg_name((enum tg_digest_alg)(f - 1), false));
    return buf;
}

/* Adds l's fields to its user. Each field may come from one line only, so
 * which file wins never depends on the order the sources are listed in. */
static int merge(struct loader *ld, const struct line *l)
{
    struct entry *e = find_or_add(ld->s, l);
    if (!e)
        return fail_errno(ld, ENOMEM);
    if (e->last.line && e->last.src == ld->src)
        return fail(ld, "duplicate user (first defined on line %u)", e->last.line);
    for (int f = 0; f < NFIELDS; f++) {
        if (!l->hash[f])
            continue;
        const char **dst = f == 0 ? &e->cred.basic_hash : &e->cred.ha1[f - 1];
        if (*dst) {
            char name[32];
            return fail(ld, "%s for this user already given by %s:%u",
                        field_name(f, name, sizeof name), ld->sources[e->from[f].src].path,
                        e->from[f].line);
        }
        *dst = l->hash[f];
        e->from[f] = (struct origin){ld->src, ld->line};
    }
    e->last = (struct origin){ld->src, ld->line};
    return 0;
}

/* Checks one line (len bytes, CR and LF removed, NUL-terminated) and, when
 * it is for our realm, merges it. Lines for other realms are checked too,
 * so a typo is caught before the realm is switched to theirs. */
static int parse_line(struct loader *ld, enum tg_credsource_kind kind, char *p, size_t len)
{
    if (is_skipped(p, len))
        return 0;
    /* Apache trims these; we would not, so the two would disagree. */
    if (is_blank(p[0]) || is_blank(p[len - 1]))
        return fail(ld, "leading or trailing white space");
    struct line l;
    int rc = kind == TG_CREDSOURCE_HTPASSWD   ? parse_htpasswd(ld, p, len, &l)
             : kind == TG_CREDSOURCE_HTDIGEST ? parse_htdigest(ld, p, len, &l)
                                              : parse_users(ld, p, len, &l);
    if (rc < 0)
        return rc;
    if (l.realm.p && !tg_str_eq(l.realm, ld->realm)) {
        ld->s->skipped_realm++;
        return 0;
    }
    return merge(ld, &l);
}

static int parse_source(struct loader *ld, enum tg_credsource_kind kind, struct buffer *b)
{
    char *p = b->p, *end = b->p + b->len;
    ld->line = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *eol = nl ? nl : end;
        size_t len = (size_t)(eol - p);
        ld->line++;
        if (len > LINE_MAX_BYTES)
            return fail(ld, "line longer than %d bytes", LINE_MAX_BYTES);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        p[len] = '\0';
        if (parse_line(ld, kind, p, len) < 0)
            return -1;
        p = eol + 1;
    }
    return 0;
}

static int load_source(struct loader *ld)
{
    const struct tg_credsource *src = &ld->sources[ld->src];
    if (src->kind != TG_CREDSOURCE_HTPASSWD && src->kind != TG_CREDSOURCE_HTDIGEST &&
        src->kind != TG_CREDSOURCE_USERS) {
        if (ld->err && ld->errlen)
            snprintf(ld->err, ld->errlen, "%s: unknown source kind %d", src->path, (int)src->kind);
        return -1;
    }
    struct buffer *b = &ld->s->bufs[ld->src];
    int rc = tg_file_read(src->path, FILE_MAX_BYTES, &b->p, &b->len);
    ld->s->nbufs++; /* owned now (NULL on failure): free wipes it */
    if (rc < 0)
        return fail_errno(ld, -rc);
    return parse_source(ld, src->kind, b);
}

/* ---- the userhash tables ---- */

/* A digest is uniformly distributed: its first bytes are a hash already. */
static size_t digest_home(const unsigned char *d, size_t mask)
{
    uint64_t h;
    memcpy(&h, d, sizeof h);
    return (size_t)h & mask;
}

static bool has_ha1(const struct tg_cred *c)
{
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        if (c->ha1[alg])
            return true;
    }
    return false;
}

/* Indexes e (index k) under alg. Should two users ever share a userhash,
 * the first keeps it: the second can still authenticate by name. */
static void userhash_insert(struct tg_credstore *s, enum tg_digest_alg alg, size_t k)
{
    struct table *t = &s->userhash[alg];
    size_t n = tg_digest_hexlen(alg) / 2;
    const unsigned char *d = s->entries[k].uh[alg];
    for (size_t i = digest_home(d, t->mask);; i = (i + 1) & t->mask) {
        uint32_t v = t->slot[i];
        if (v == 0) {
            t->slot[i] = (uint32_t)(k + 1);
            return;
        }
        if (memcmp(s->entries[v - 1].uh[alg], d, n) == 0)
            return;
    }
}

/* Computes H(user ":" realm) of every algorithm for each user with a
 * Digest credential, so userhash lookups cost one probe, not a scan. */
static int index_userhashes(struct tg_credstore *s, struct tg_str realm)
{
    size_t cap = 16, users = 0;
    for (size_t k = 0; k < s->count; k++)
        users += has_ha1(&s->entries[k].cred);
    while (cap < 2 * users)
        cap *= 2;
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        if (!(s->userhash[alg].slot = calloc(cap, sizeof(uint32_t))))
            return -ENOMEM;
        s->userhash[alg].mask = cap - 1;
    }
    for (size_t k = 0; k < s->count; k++) {
        struct entry *e = &s->entries[k];
        if (!has_ha1(&e->cred))
            continue;
        struct tg_str user = {e->cred.user, e->cred.user_len};
        for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
            char hex[TG_DIGEST_HEX_MAX];
            tg_digest_userhash((enum tg_digest_alg)alg, user, realm, hex);
            tg_hex_decode(hex, tg_digest_hexlen((enum tg_digest_alg)alg), e->uh[alg]);
            userhash_insert(s, (enum tg_digest_alg)alg, k);
        }
    }
    return 0;
}

/* ---- public ---- */

int tg_credstore_load(const struct tg_credsource *sources, size_t n, const char *realm,
                      struct tg_credstore **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    struct tg_credstore *s = calloc(1, sizeof *s);
    if (s && n && !(s->bufs = calloc(n, sizeof *s->bufs))) {
        free(s);
        s = NULL;
    }
    if (!s) {
        if (err && errlen)
            snprintf(err, errlen, "credentials: %s", strerror(ENOMEM));
        return -1;
    }
    struct loader ld = {s, sources, tg_str_c(realm), 0, 0, err, errlen};
    int rc = 0;
    for (ld.src = 0; ld.src < n && rc == 0; ld.src++)
        rc = load_source(&ld);
    if (rc == 0 && index_userhashes(s, ld.realm) < 0) {
        if (err && errlen)
            snprintf(err, errlen, "credentials: %s", strerror(ENOMEM));
        rc = -1;
    }
    if (rc < 0) {
        tg_credstore_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void tg_credstore_free(struct tg_credstore *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nbufs; i++) {
        if (s->bufs[i].p)
            tg_secret_wipe(s->bufs[i].p, s->bufs[i].len + 1);
        free(s->bufs[i].p);
        s->bufs[i].p = NULL;
    }
    free(s->bufs);
    s->bufs = NULL;
    free(s->entries);
    s->entries = NULL;
    free(s->names.slot);
    s->names.slot = NULL;
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        free(s->userhash[alg].slot);
        s->userhash[alg].slot = NULL;
    }
    free(s);
}

size_t tg_credstore_count(const struct tg_credstore *s)
{
    return s ? s->count : 0;
}

size_t tg_credstore_skipped_realm(const struct tg_credstore *s)
{
    return s ? s->skipped_realm : 0;
}

const struct tg_cred *tg_credstore_lookup(const struct tg_credstore *s, const char *user,
                                          size_t len)
{
    if (!s || !s->names.slot)
        return NULL;
    uint32_t v = s->names.slot[name_slot(s, user, len)];
    return v ? &s->entries[v - 1].cred : NULL;
}

const struct tg_cred *tg_credstore_lookup_userhash(const struct tg_credstore *s,
                                                   enum tg_digest_alg alg, const char *hex,
                                                   size_t len)
{
    if (!s || (unsigned)alg >= TG_DIGEST_NALGS || len != tg_digest_hexlen(alg))
        return NULL;
    unsigned char d[DIGEST_MAX];
    if (!tg_hex_decode(hex, len, d))
        return NULL;
    const struct table *t = &s->userhash[alg];
    for (size_t i = digest_home(d, t->mask);; i = (i + 1) & t->mask) {
        uint32_t v = t->slot[i];
        if (v == 0)
            return NULL;
        if (memcmp(s->entries[v - 1].uh[alg], d, len / 2) == 0)
            return &s->entries[v - 1].cred;
    }
}
