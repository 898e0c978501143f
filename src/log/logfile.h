/*
 * logfile: an append-only log destination shared by all worker threads.
 * Each line goes out in a single write(2) on an O_APPEND descriptor, so
 * lines from different threads never interleave. Reopening (SIGUSR1, for
 * logrotate) opens the path anew and dup2()s it over the old descriptor:
 * writers never see a closed or half-swapped fd.
 */
#ifndef TG_LOGFILE_H
#define TG_LOGFILE_H

#include <stddef.h>

struct tg_logfile {
    char *path; /* owned; NULL for stderr */
    int fd;     /* -1 when disabled */
};

/* Opens path ("-" = stderr, NULL = disabled). 0 or a negative errno. */
int tg_logfile_open(struct tg_logfile *lf, const char *path);

/* Reopens a file-backed log in place. 0 or a negative errno (old fd kept). */
int tg_logfile_reopen(struct tg_logfile *lf);

/* Writes one complete line (must end in '\n'). Any thread. */
void tg_logfile_write(const struct tg_logfile *lf, const char *line, size_t len);

void tg_logfile_close(struct tg_logfile *lf);

/* Formats the current UTC time as 2026-11-22T10:00:00.123Z into out (>= 32). */
void tg_logfile_timestamp(char *out, size_t outlen);

#endif
