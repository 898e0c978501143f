/*
 * logfile: an append-only log destination shared by all worker threads.
 * A write(2) per line cost more than formatting it, so lines collect in one
 * buffer per file and go out together: when the buffer is full, when a
 * worker's flush timer fires (TG_LOGFILE_FLUSH_MS after it logged), at
 * reopen and at close. One buffer for all threads, under a lock held only
 * to copy a line, keeps lines in the order they were logged; each flush
 * is whole lines in a single write(2) on an O_APPEND descriptor. A crash
 * loses at most the buffer (TG_LOGFILE_BUF bytes, or TG_LOGFILE_FLUSH_MS of
 * lines). Reopening (SIGUSR1, for logrotate) flushes, opens the path anew
 * and dup2()s it over the old descriptor: writers never see a closed or
 * half-swapped fd.
 */
#ifndef TG_LOGFILE_H
#define TG_LOGFILE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define TG_LOGFILE_BUF 32768     /* one write per ~200 access-log lines */
#define TG_LOGFILE_FLUSH_MS 50   /* how stale a buffered line may get */

struct tg_logfile {
    char *path; /* owned; NULL for stderr */
    int fd;     /* -1 when disabled */
    pthread_mutex_t lock; /* guards len and buf */
    size_t len;
    char *buf;  /* owned: TG_LOGFILE_BUF bytes of unwritten lines */
};

/* Opens path ("-" = stderr, NULL = disabled). 0 or a negative errno. */
int tg_logfile_open(struct tg_logfile *lf, const char *path);

/* Flushes, then reopens a file-backed log in place. 0 or a negative errno (old fd kept). */
int tg_logfile_reopen(struct tg_logfile *lf);

/* False when the log is disabled: callers may skip formatting. Any thread. */
bool tg_logfile_enabled(const struct tg_logfile *lf);

/*
 * Queues one complete line (must end in '\n'); it reaches the file at the
 * next flush. Any thread; whoever logs must see that tg_logfile_flush runs
 * within TG_LOGFILE_FLUSH_MS (the worker's timer does).
 */
void tg_logfile_write(struct tg_logfile *lf, const char *line, size_t len);

/* Writes out the buffered lines (a failed write drops them). Any thread. */
void tg_logfile_flush(struct tg_logfile *lf);

/* Flushes and closes. Accepts a log that was never opened (zeroed). */
void tg_logfile_close(struct tg_logfile *lf);

/* Formats the current UTC time as 2026-11-22T10:00:00.123Z into out (>= 32). */
void tg_logfile_timestamp(char *out, size_t outlen);

#endif
