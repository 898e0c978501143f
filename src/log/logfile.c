/*
 * logfile: O_APPEND files and the dup2 reopen trick. A write that fails
 * (disk full) is dropped: logging must never stall the event loop or take
 * the proxy down.
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
    if (!path)
        return 0;
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

int tg_logfile_reopen(struct tg_logfile *lf)
{
    if (!lf->path || lf->fd < 0)
        return 0;
    int fd = open(lf->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0)
        return -errno;
    int rc = dup3(fd, lf->fd, O_CLOEXEC) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

void tg_logfile_write(const struct tg_logfile *lf, const char *line, size_t len)
{
    if (lf->fd < 0)
        return;
    ssize_t n = write(lf->fd, line, len);
    (void)n;
}

void tg_logfile_close(struct tg_logfile *lf)
{
    if (lf->fd > STDERR_FILENO)
        close(lf->fd);
    lf->fd = -1;
    free(lf->path);
    lf->path = NULL;
}

void tg_logfile_timestamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             ts.tv_nsec / 1000000);
}
