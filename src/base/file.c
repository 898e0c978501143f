/*
 * file: see file.h. A regular file's size sizes the buffer (plus a byte to
 * see EOF); the limit is still checked while reading, since a file being
 * written can outgrow what fstat said.
 */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/secret.h"

/* Doubles the buffer up to one byte past the limit, wiping the old copy. */
static int grow(char **p, size_t len, size_t *cap, size_t max)
{
    size_t ncap = *cap * 2 > max + 2 ? max + 2 : *cap * 2;
    char *n = malloc(ncap);
    if (!n)
        return -ENOMEM;
    memcpy(n, *p, len);
    tg_secret_wipe(*p, len);
    free(*p);
    *p = n;
    *cap = ncap;
    return 0;
}

static int read_fd(int fd, size_t max, char **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > max)
        return -EFBIG;
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 2 : 4096;
    char *p = malloc(cap);
    size_t n = 0;
    int rc = p ? 0 : -ENOMEM;
    while (rc == 0) {
        if (n > max) {
            rc = -EFBIG;
        } else if (n + 1 == cap) {
            rc = grow(&p, n, &cap, max);
        } else {
            ssize_t r = read(fd, p + n, cap - 1 - n);
            if (r == 0)
                break;
            if (r < 0 && errno != EINTR)
                rc = -errno;
            else if (r > 0)
                n += (size_t)r;
        }
    }
    if (rc < 0) {
        if (p)
            tg_secret_wipe(p, n);
        free(p);
        return rc;
    }
    p[n] = '\0';
    *out = p;
    *len = n;
    return 0;
}

int tg_file_read(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = read_fd(fd, max, out, len);
    close(fd);
    return rc;
}

void tg_file_error(char *err, size_t errlen, const char *path, int neg_errno, size_t max)
{
    if (!err || errlen == 0)
        return;
    if (neg_errno == -EFBIG)
        snprintf(err, errlen, "%s: file larger than %zu bytes", path, max);
    else
        snprintf(err, errlen, "%s: %s", path, strerror(-neg_errno));
}
