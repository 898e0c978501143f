/*
 * userfile: adds, replaces and removes lines of a Tollgate users file
 * ("user:realm:BCRYPT:MD5-HA1:SHA256-HA1:SHA512-256-HA1", RFC 7616 §3.4.2
 * for the H(A1)s). Every other byte of the file (comments, other users,
 * even lines the loader would reject) is kept as it was. Changes go to a
 * temporary file in the same directory that is fsynced and renamed over
 * the original, so a crash leaves the old file or the new one, never half
 * of each; symbolic links are followed so the link itself survives.
 * It does not parse the rest of the file (cred/credstore does), and it
 * does not lock: two editors running at once may lose one's change.
 */
#include "cred/userfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/digestcalc.h"
#include "base/secret.h"
#include "cred/passhash.h"

/* The loader's limits (cred/credstore.c): names it would refuse to read. */
#define USER_MAX 128
#define REALM_MAX 256
/* Same bound as the loader's; a bigger file is not ours to rewrite. */
#define FILE_MAX_BYTES (64u << 20)
/* ~50 ms per check today; htpasswd -B's default of 5 is too cheap. */
#define BCRYPT_COST 10
/* bcrypt ignores bytes past 72: longer passwords would be half-checked. */
#define BCRYPT_PW_MAX 72
/* A line: user, realm, bcrypt (60) and three H(A1)s, with separators. */
#define LINE_BYTES (USER_MAX + REALM_MAX + 128 + 3 * TG_DIGEST_HEX_MAX + 8)

/* The file being edited, read whole. */
struct file {
    const char *name; /* borrowed: the path as given, for messages */
    char *path;       /* owned: where to write (symbolic links resolved) */
    char *data;       /* owned, NUL-terminated; wiped on free */
    size_t len;
    bool exists;
    struct stat st; /* valid when exists */
};

static int fail(char *err, size_t errlen, const char *name, const char *why)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", name, why);
    return -1;
}

static void file_fini(struct file *f)
{
    if (f->data)
        tg_secret_wipe(f->data, f->len + 1);
    free(f->data);
    f->data = NULL;
    free(f->path);
    f->path = NULL;
}

/* ---- reading ---- */

/* Reads exactly what fstat announced, then checks nothing was appended
 * meanwhile (the rewrite would drop it). */
static int read_fd(int fd, struct file *f)
{
    if (fstat(fd, &f->st) < 0)
        return -errno;
    if (!S_ISREG(f->st.st_mode))
        return -EINVAL;
    if (f->st.st_size > (off_t)FILE_MAX_BYTES)
        return -EFBIG;
    size_t want = (size_t)f->st.st_size;
    if (!(f->data = malloc(want + 1)))
        return -ENOMEM;
    char extra;
    for (;;) {
        bool full = f->len == want;
        ssize_t r = full ? read(fd, &extra, 1) : read(fd, f->data + f->len, want - f->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        if (full)
            return -EAGAIN;
        f->len += (size_t)r;
    }
    f->data[f->len] = '\0';
    return 0;
}

/* Opens and reads name; a missing file is an empty one (exists false). */
static int file_read(struct file *f, const char *name, char *err, size_t errlen)
{
    *f = (struct file){.name = name};
    f->path = realpath(name, NULL);
    if (!f->path && errno != ENOENT)
        return fail(err, errlen, name, strerror(errno));
    if (!f->path) {
        if (!(f->path = strdup(name)) || !(f->data = calloc(1, 1)))
            return fail(err, errlen, name, strerror(ENOMEM));
        return 0;
    }
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, errlen, name, strerror(errno));
    f->exists = true;
    int rc = read_fd(fd, f);
    close(fd);
    if (rc == -EINVAL)
        return fail(err, errlen, name, "not a regular file");
    if (rc == -EFBIG)
        return fail(err, errlen, name, "file larger than 64 MiB");
    if (rc == -EAGAIN)
        return fail(err, errlen, name, "file changed while being read; try again");
    if (rc < 0)
        return fail(err, errlen, name, strerror(-rc));
    return 0;
}

/* ---- rewriting ---- */

/* Whether [p, p+len) is user's line. User names never start with '#' or
 * white space (tg_userfile_bad_name), so comments never match. */
static bool is_users_line(const char *p, size_t len, const char *user, size_t ulen)
{
    return len > ulen && p[ulen] == ':' && memcmp(p, user, ulen) == 0;
}

static void put(char *out, size_t *n, const char *p, size_t len)
{
    memcpy(out + *n, p, len);
    *n += len;
}

static void put_eol(char *out, size_t *n, bool crlf)
{
    put(out, n, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
}

/*
 * Copies f's bytes into a new buffer (*outlen bytes, owned by the caller),
 * putting line (NULL: nothing) where user's first line was, or at the end,
 * and dropping any other line of user. The new line ends like the one it
 * replaces, or like the file's first line when appended. *found counts
 * user's lines. NULL when out of memory.
 */
static char *rewrite(const struct file *f, const char *user, const char *line, size_t *outlen,
                     size_t *found)
{
    size_t ulen = strlen(user), llen = line ? strlen(line) : 0, n = 0;
    char *out = malloc(f->len + llen + 5);
    if (!out)
        return NULL;
    const char *first_nl = memchr(f->data, '\n', f->len);
    bool crlf = first_nl && first_nl > f->data && first_nl[-1] == '\r';
    *found = 0;
    for (const char *p = f->data, *end = f->data + f->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = nl ? nl + 1 : end;
        size_t len = (size_t)((nl ? nl : end) - p);
        if (!is_users_line(p, len, user, ulen)) {
            put(out, &n, p, (size_t)(next - p));
        } else if ((*found)++ == 0 && line) {
            put(out, &n, line, llen);
            put_eol(out, &n, len && p[len - 1] == '\r');
        }
        p = next;
    }
    if (!*found && line) {
        if (n && out[n - 1] != '\n')
            put_eol(out, &n, crlf);
        put(out, &n, line, llen);
        put_eol(out, &n, crlf);
    }
    *outlen = n;
    return out;
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

/* Makes the rename durable; failure here leaves a correct file that a
 * crash might roll back, which is not worth failing the command for. */
static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Fills the temporary file: the old file's mode and, when we may, owner
 * (the proxy's user must still be able to read it), or 0600 when new. */
static int fill_temp(int fd, const struct file *f, const char *data, size_t len)
{
    mode_t mode = f->exists ? f->st.st_mode & 07777 : 0600;
    if (fchmod(fd, mode) < 0)
        return -errno;
    if (f->exists && (f->st.st_uid != geteuid() || f->st.st_gid != getegid()) &&
        fchown(fd, f->st.st_uid, f->st.st_gid) < 0 && errno != EPERM)
        return -errno;
    int rc = write_all(fd, data, len);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    return rc;
}

/* Replaces f's file with data: temporary file beside it, fsync, rename. */
static int replace_file(const struct file *f, const char *data, size_t len, char *err,
                        size_t errlen)
{
    const char *slash = strrchr(f->path, '/');
    size_t dirlen = slash ? (size_t)(slash - f->path) + 1 : 0;
    size_t tlen = strlen(f->path) + 16;
    char *tmp = malloc(tlen), *dir = strndup(f->path, dirlen ? dirlen : 1);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return fail(err, errlen, f->name, strerror(ENOMEM));
    }
    if (!dirlen)
        dir[0] = '.';
    snprintf(tmp, tlen, "%.*s.%s.XXXXXX", (int)dirlen, f->path, f->path + dirlen);
    int fd = mkostemp(tmp, O_CLOEXEC);
    int rc = fd < 0 ? -errno : fill_temp(fd, f, data, len);
    if (fd >= 0 && close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && rename(tmp, f->path) < 0)
        rc = -errno;
    if (rc < 0 && fd >= 0)
        unlink(tmp);
    if (rc == 0)
        sync_dir(dir);
    free(tmp);
    free(dir);
    return rc < 0 ? fail(err, errlen, f->name, strerror(-rc)) : 0;
}

/* Rewrites f with user's line set to line (NULL: removed). Returns the
 * number of user's lines the file held, or -1 with err. The file is not
 * touched when there is nothing to remove. */
static long edit(const struct file *f, const char *user, const char *line, char *err, size_t errlen)
{
    size_t outlen = 0, found = 0;
    char *out = rewrite(f, user, line, &outlen, &found);
    if (!out)
        return fail(err, errlen, f->name, strerror(ENOMEM));
    int rc = line || found ? replace_file(f, out, outlen, err, errlen) : 0;
    tg_secret_wipe(out, outlen);
    free(out);
    return rc < 0 ? -1 : (long)found;
}

/* ---- the new line ---- */

static const char *bad_password(const char *password, size_t pwlen)
{
    if (pwlen == 0)
        return "empty password";
    if (memchr(password, '\0', pwlen))
        return "NUL byte in password";
    if (pwlen > BCRYPT_PW_MAX)
        return "password longer than 72 bytes (bcrypt ignores the rest)";
    return NULL;
}

/* Formats "user:realm:BCRYPT:MD5:SHA256:SHA512-256" into line. */
static int make_line(const char *user, const char *realm, const char *password, size_t pwlen,
                     char line[LINE_BYTES])
{
    char bcrypt[128], ha1[TG_DIGEST_NALGS][TG_DIGEST_HEX_MAX];
    char *pw = strndup(password, pwlen); /* bcrypt wants it NUL-terminated */
    if (!pw)
        return -ENOMEM;
    int rc = tg_passhash_make_bcrypt(pw, BCRYPT_COST, bcrypt, sizeof bcrypt);
    tg_secret_wipe(pw, pwlen);
    free(pw);
    struct tg_str u = tg_str_c(user), r = tg_str_c(realm), p = {password, pwlen};
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++)
        tg_digest_ha1((enum tg_digest_alg)alg, u, r, p, ha1[alg]);
    if (rc == 0)
        snprintf(line, LINE_BYTES, "%s:%s:%s:%s:%s:%s", user, realm, bcrypt, ha1[0], ha1[1],
                 ha1[2]);
    tg_secret_wipe(bcrypt, sizeof bcrypt);
    tg_secret_wipe(ha1, sizeof ha1);
    return rc;
}

/* ---- public ---- */

static bool has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    }
    return false;
}

const char *tg_userfile_bad_name(const char *user, const char *realm)
{
    size_t n = strlen(user);
    if (n == 0)
        return "empty user name";
    if (n > USER_MAX)
        return "user name longer than 128 bytes";
    if (strchr(user, ':'))
        return "':' in user name";
    if (has_control(user))
        return "control character in user name";
    if (user[0] == ' ' || user[0] == '\t' || user[n - 1] == ' ' || user[n - 1] == '\t')
        return "white space at the start or end of the user name";
    if (user[0] == '#')
        return "user name starting with '#'";
    if (!realm)
        return NULL;
    n = strlen(realm);
    if (n == 0)
        return "empty realm";
    if (n > REALM_MAX)
        return "realm longer than 256 bytes";
    if (strchr(realm, ':'))
        return "':' in realm";
    if (has_control(realm))
        return "control character in realm";
    return NULL;
}

int tg_userfile_has(const char *path, const char *user, char *err, size_t errlen)
{
    const char *why = tg_userfile_bad_name(user, NULL);
    if (why)
        return fail(err, errlen, path, why);
    struct file f;
    int rc = file_read(&f, path, err, errlen);
    size_t ulen = strlen(user);
    for (const char *p = f.data, *end = p + f.len; rc == 0 && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (is_users_line(p, (size_t)((nl ? nl : end) - p), user, ulen))
            rc = 1;
        p = nl ? nl + 1 : end;
    }
    file_fini(&f);
    return rc;
}

int tg_userfile_set(const char *path, const char *user, const char *realm, const char *password,
                    size_t pwlen, char *err, size_t errlen)
{
    const char *why = tg_userfile_bad_name(user, realm);
    if (!why)
        why = bad_password(password, pwlen);
    if (why)
        return fail(err, errlen, path, why);
    struct file f;
    if (file_read(&f, path, err, errlen) < 0) {
        file_fini(&f);
        return -1;
    }
    char line[LINE_BYTES];
    int rc = make_line(user, realm, password, pwlen, line);
    if (rc < 0)
        fail(err, errlen, path, rc == -ENOMEM ? strerror(ENOMEM) : "cannot make a bcrypt hash");
    else if (edit(&f, user, line, err, errlen) < 0)
        rc = -1;
    tg_secret_wipe(line, sizeof line);
    file_fini(&f);
    return rc < 0 ? -1 : 0;
}

int tg_userfile_delete(const char *path, const char *user, char *err, size_t errlen)
{
    const char *why = tg_userfile_bad_name(user, NULL);
    if (why)
        return fail(err, errlen, path, why);
    struct file f;
    long found = file_read(&f, path, err, errlen);
    if (found == 0 && !f.exists)
        found = fail(err, errlen, path, strerror(ENOENT));
    if (found == 0)
        found = edit(&f, user, NULL, err, errlen);
    file_fini(&f);
    return found < 0 ? -1 : found == 0 ? 1 : 0;
}

int tg_userfile_check_mode(const char *path, char *warn, size_t warnlen)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return fail(warn, warnlen, path, strerror(errno));
    mode_t mode = st.st_mode & 07777;
    bool r = mode & 044, w = mode & 022;
    if (!r && !w)
        return 0;
    const char *what = !w ? "readable" : r ? "readable and writable" : "writable";
    if (warn && warnlen)
        snprintf(warn, warnlen,
                 "%s is %s by group/others (mode %04o); it holds password-equivalent hashes: "
                 "chmod 600 %s",
                 path, what, (unsigned)mode, path);
    return 1;
}
