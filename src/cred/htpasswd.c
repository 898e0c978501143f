/*
 * htpasswd: an Apache htpasswd file ("user:hash" per line) read into one
 * buffer, split in place, and indexed by a sorted array for binary search.
 * The store is immutable after load. Parsing is strict where Apache is lax
 * (it trims white space, and when a user appears twice the first line
 * silently wins): a line Tollgate could read differently from Apache, or a
 * user defined twice, fails the whole load with its line number. Lines split on the first ':' only;
 * trailing CR, blank lines and '#' comments are accepted. It does not check
 * that hashes are in a known format (passhash answers "unsupported" at
 * verification time), watch the file, or swap stores (auth/userdb does).
 */
#include "cred/htpasswd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"
#include "cred/passhash.h"

/* No real "user:hash" line comes near this; a longer one is corruption. */
#define LINE_MAX_BYTES 4096
/* Millions of users fit; a bigger file is a mistake we should not slurp. */
#define FILE_MAX_BYTES (64u << 20)
/* htpasswd -B's default is 5, too cheap today; 10 is ~50 ms per check. */
#define CREATE_COST 10

struct entry {
    const char *user; /* borrowed from data, NUL-terminated */
    const char *hash; /* borrowed from data, NUL-terminated */
    uint32_t userlen;
    uint32_t line;
};

struct tg_htpasswd {
    char *data; /* owned: the file, split in place; wiped on free */
    size_t datalen;
    struct entry *entries; /* owned, sorted by user */
    size_t count;
    size_t cap;
};

/* Parse state for one load: where errors go and which line we are on. */
struct loader {
    const char *path;
    char *err;
    size_t errlen;
    uint32_t line;
};

__attribute__((format(printf, 2, 3))) static int fail(struct loader *ld, const char *fmt, ...)
{
    if (!ld->err || ld->errlen == 0)
        return -EINVAL;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(ld->err, ld->errlen, "%s:%u: ", ld->path, ld->line);
    if (n >= 0 && (size_t)n < ld->errlen)
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* "PATH: reason" for failures that are not about one line. */
static int fail_errno(struct loader *ld, int e)
{
    if (!ld->err || ld->errlen == 0)
        return -e;
    if (e == EFBIG)
        snprintf(ld->err, ld->errlen, "%s: file larger than %u MiB", ld->path,
                 FILE_MAX_BYTES >> 20);
    else
        snprintf(ld->err, ld->errlen, "%s: %s", ld->path, strerror(e));
    return -e;
}

/* ---- reading the file ---- */

/* Doubles the buffer up to one byte past the limit, wiping the old copy
 * (realloc would leave hashes behind in freed memory). */
static int grow(struct tg_htpasswd *h, size_t *cap)
{
    size_t ncap = *cap * 2 > FILE_MAX_BYTES + 2 ? FILE_MAX_BYTES + 2 : *cap * 2;
    char *p = malloc(ncap);
    if (!p)
        return -ENOMEM;
    memcpy(p, h->data, h->datalen);
    tg_secret_wipe(h->data, h->datalen);
    free(h->data);
    h->data = p;
    *cap = ncap;
    return 0;
}

/* Reads fd whole into h->data, NUL-terminated; the limit is checked as we
 * go because pipes and files being written do not announce their size. */
static int read_all(int fd, struct tg_htpasswd *h)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode) && st.st_size > (off_t)FILE_MAX_BYTES)
        return -EFBIG;
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 2 : 4096;
    h->data = malloc(cap);
    if (!h->data)
        return -ENOMEM;
    for (;;) {
        if (h->datalen > FILE_MAX_BYTES)
            return -EFBIG;
        if (h->datalen + 1 == cap && grow(h, &cap) < 0)
            return -ENOMEM;
        ssize_t r = read(fd, h->data + h->datalen, cap - 1 - h->datalen);
        if (r == 0)
            break;
        if (r < 0 && errno != EINTR)
            return -errno;
        if (r > 0)
            h->datalen += (size_t)r;
    }
    h->data[h->datalen] = '\0';
    return 0;
}

/* ---- parsing ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_control(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f;
}

/* True for lines holding only white space, or a comment. */
static bool is_skipped(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && is_blank(p[i]))
        i++;
    return i == len || p[i] == '#';
}

/* Why the field [p, p+len) is not acceptable, or NULL. User names may
 * hold spaces (RFC 7617 allows them); hashes never do. */
static const char *bad_field(const char *p, size_t len, bool allow_space)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] == '\0')
            return "NUL byte";
        if (is_control(p[i]))
            return "control character";
        if (!allow_space && p[i] == ' ')
            return "white space";
    }
    return NULL;
}

static int add_entry(struct tg_htpasswd *h, char *user, size_t userlen, char *hash, uint32_t line)
{
    if (h->count == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        struct entry *e = realloc(h->entries, ncap * sizeof *e);
        if (!e)
            return -ENOMEM;
        h->entries = e;
        h->cap = ncap;
    }
    user[userlen] = '\0'; /* was the ':' */
    h->entries[h->count++] = (struct entry){user, hash, (uint32_t)userlen, line};
    return 0;
}

/* Checks one line (len bytes, CR and LF removed, NUL-terminated) and adds it. */
static int parse_line(struct tg_htpasswd *h, struct loader *ld, char *p, size_t len)
{
    if (is_skipped(p, len))
        return 0;
    /* Apache trims these; we would not, so the two would disagree on names. */
    if (is_blank(p[0]) || is_blank(p[len - 1]))
        return fail(ld, "leading or trailing white space");
    char *colon = memchr(p, ':', len);
    if (!colon)
        return fail(ld, "missing ':'");
    size_t userlen = (size_t)(colon - p);
    char *hash = colon + 1;
    size_t hashlen = len - userlen - 1;
    const char *why;
    if (userlen == 0)
        return fail(ld, "empty user name");
    if (hashlen == 0)
        return fail(ld, "empty hash");
    if ((why = bad_field(p, userlen, true)))
        return fail(ld, "%s in user name", why);
    if ((why = bad_field(hash, hashlen, false)))
        return fail(ld, "%s in hash", why);
    if (add_entry(h, p, userlen, hash, ld->line) < 0)
        return fail_errno(ld, ENOMEM);
    return 0;
}

static int parse(struct tg_htpasswd *h, struct loader *ld)
{
    char *p = h->data, *end = h->data + h->datalen;
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
        int rc = parse_line(h, ld, p, len);
        if (rc < 0)
            return rc;
        p = eol + 1;
    }
    return 0;
}

/* ---- the index ---- */

static int compare_keys(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

static int compare_entries(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    int c = compare_keys(a->user, a->userlen, b->user, b->userlen);
    if (c)
        return c;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* Sorts, then reports the duplicate whose second definition comes first.
 * Equal users sort in line order, so that pair's first entry is the
 * user's first definition. */
static int index_users(struct tg_htpasswd *h, struct loader *ld)
{
    if (h->count > 1) /* entries may be NULL: qsort must not see it */
        qsort(h->entries, h->count, sizeof *h->entries, compare_entries);
    const struct entry *dup = NULL, *orig = NULL;
    for (size_t i = 1; i < h->count; i++) {
        const struct entry *a = &h->entries[i - 1], *b = &h->entries[i];
        if (a->userlen == b->userlen && memcmp(a->user, b->user, a->userlen) == 0 &&
            (!dup || b->line < dup->line)) {
            dup = b;
            orig = a;
        }
    }
    if (!dup)
        return 0;
    ld->line = dup->line;
    return fail(ld, "duplicate user (first defined on line %u)", orig->line);
}

/* ---- public ---- */

int tg_htpasswd_load(const char *path, struct tg_htpasswd **out, char *err, size_t errlen)
{
    struct loader ld = {path, err, errlen, 0};
    *out = NULL;
    struct tg_htpasswd *h = calloc(1, sizeof *h);
    if (!h)
        return fail_errno(&ld, ENOMEM);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = fd < 0 ? -errno : read_all(fd, h);
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        rc = fail_errno(&ld, -rc);
    else if ((rc = parse(h, &ld)) == 0)
        rc = index_users(h, &ld);
    if (rc < 0) {
        tg_htpasswd_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

size_t tg_htpasswd_count(const struct tg_htpasswd *h)
{
    return h ? h->count : 0;
}

const char *tg_htpasswd_lookup(const struct tg_htpasswd *h, const char *user, size_t userlen)
{
    if (!h)
        return NULL;
    size_t lo = 0, hi = h->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct entry *e = &h->entries[mid];
        int c = compare_keys(user, userlen, e->user, e->userlen);
        if (c == 0)
            return e->hash;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void tg_htpasswd_free(struct tg_htpasswd *h)
{
    if (!h)
        return;
    if (h->data)
        tg_secret_wipe(h->data, h->datalen + 1);
    free(h->data);
    h->data = NULL;
    free(h->entries);
    h->entries = NULL;
    free(h);
}

/* ---- creating a file ---- */

/* Creates path's parent directory (one level, 0700) when it is missing. */
static int make_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char *dir = strndup(path, (size_t)(slash - path));
    if (!dir)
        return -ENOMEM;
    int rc = mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
    free(dir);
    return rc;
}

/* A user name the loader would accept back. */
static bool valid_user(const char *user)
{
    size_t n = strlen(user);
    return n > 0 && n < LINE_MAX_BYTES / 2 && !strchr(user, ':') && !is_blank(user[0]) &&
           !is_blank(user[n - 1]) && user[0] != '#' && !bad_field(user, n, true);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes the line and makes it durable; the caller unlinks on failure. */
static int write_line(int fd, const char *user, const char *hash)
{
    char line[LINE_MAX_BYTES + 2];
    int n = snprintf(line, sizeof line, "%s:%s\n", user, hash);
    int rc = n < 0 || (size_t)n >= sizeof line ? -ENAMETOOLONG : write_all(fd, line, (size_t)n);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    tg_secret_wipe(line, sizeof line);
    return rc;
}

int tg_htpasswd_create(const char *path, const char *user, const char *password)
{
    if (!path || !user || !password || !valid_user(user))
        return -EINVAL;
    char hash[128];
    /* Hash first, so a failure leaves no empty file behind. */
    int rc = tg_passhash_make_bcrypt(password, CREATE_COST, hash, sizeof hash);
    if (rc == 0)
        rc = make_parent(path);
    if (rc == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        rc = fd < 0 ? -errno : write_line(fd, user, hash);
        if (fd >= 0 && close(fd) < 0 && rc == 0)
            rc = -errno;
        if (fd >= 0 && rc < 0)
            unlink(path);
    }
    tg_secret_wipe(hash, sizeof hash);
    return rc;
}
