/*
 * logfile: O_APPEND files, the shared line buffer and the dup2 reopen
 * trick. A write that fails (disk full) is dropped: logging must never
 * stall the event loop or take the proxy down. Formatting lines is not
 * here (accesslog.c, authlog.c), nor deciding when to flush beyond "full":
 * only the workers know their loops.
 */
#include "log/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int tg_logfile_open(struct tg_logfile *lf, const char *path)
{
    lf->path = NULL;
    lf->fd = -1;
    lf->len = 0;
    lf->buf = NULL;
    pthread_mutex_init(&lf->lock, NULL);
    if (!path)
        return 0;
    if (!(lf->buf = malloc(TG_LOGFILE_BUF)))
        return -ENOMEM;
    if (strcmp(path, "-") == 0) {
        lf->fd = STDERR_FILENO;
        return 0;
    }
    lf->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (lf->fd < 0)
        return -errno;
    lf->path = strdup(path);
    return 0;
}

bool tg_logfile_enabled(const struct tg_logfile *lf)
{
    return lf->fd >= 0;
}

static void write_out(int fd, const char *p, size_t len)
{
    ssize_t n = write(fd, p, len);
    (void)n;
}

/* Caller holds lf->lock. */
static void flush_locked(struct tg_logfile *lf)
{
    if (lf->len)
        write_out(lf->fd, lf->buf, lf->len);
    lf->len = 0;
}

void tg_logfile_flush(struct tg_logfile *lf)
{
    if (lf->fd < 0)
        return;
    pthread_mutex_lock(&lf->lock);
    flush_locked(lf);
    pthread_mutex_unlock(&lf->lock);
}

int tg_logfile_reopen(struct tg_logfile *lf)
{
    tg_logfile_flush(lf); /* lines logged before the signal stay in the old file */
    if (!lf->path || lf->fd < 0)
        return 0;
    int fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = dup3(fd, lf->fd, O_CLOEXEC) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

void tg_logfile_write(struct tg_logfile *lf, const char *line, size_t len)
{
    if (lf->fd < 0)
        return;
    pthread_mutex_lock(&lf->lock);
    if (len > TG_LOGFILE_BUF - lf->len)
        flush_locked(lf);
    if (len > TG_LOGFILE_BUF) /* cannot happen with today's line limits; still whole */
        write_out(lf->fd, line, len);
    else {
        memcpy(lf->buf + lf->len, line, len);
        lf->len += len;
    }
    pthread_mutex_unlock(&lf->lock);
}

void tg_logfile_close(struct tg_logfile *lf)
{
    tg_logfile_flush(lf);
    if (lf->fd > STDERR_FILENO)
        close(lf->fd);
    lf->fd = -1;
    free(lf->path);
    lf->path = NULL;
    free(lf->buf);
    lf->buf = NULL;
    pthread_mutex_destroy(&lf->lock);
}

void tg_logfile_timestamp(char *out, size_t outlen)
{
    /* gmtime_r and snprintf cost more than the rest of a line: each thread
     * formats the date and time once a second and adds the milliseconds. */
    static _Thread_local time_t sec = -1;
    static _Thread_local char prefix[32];
    static _Thread_local size_t plen;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != sec) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        int n = snprintf(prefix, sizeof prefix, "%04d-%02d-%02dT%02d:%02d:%02d.",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
        plen = n > 0 && (size_t)n < sizeof prefix ? (size_t)n : 0;
        sec = ts.tv_sec;
    }
    long ms = ts.tv_nsec / 1000000;
    if (outlen < plen + 5) {
        if (outlen)
            out[0] = '\0';
        return;
    }
    memcpy(out, prefix, plen);
    out[plen] = (char)('0' + ms / 100);
    out[plen + 1] = (char)('0' + ms / 10 % 10);
    out[plen + 2] = (char)('0' + ms % 10);
    out[plen + 3] = 'Z';
    out[plen + 4] = '\0';
}
