/*
 * accesslog: one line per request, space-separated:
 *   TIME CLIENT USER METHOD TARGET STATUS BYTES_IN BYTES_OUT DURATION_MS UPSTREAM REASON
 *   LISTENER TLS
 * Fields that are absent are "-". Bytes that could break the format
 * (spaces, controls, non-ASCII) are written as %XX, so a hostile target or
 * user name cannot forge a log line.
 */
#ifndef TG_ACCESSLOG_H
#define TG_ACCESSLOG_H

#include <stdint.h>

#include "base/str.h"
#include "log/logfile.h"

struct tg_access_entry {
    const char *client;   /* "ip:port" */
    struct tg_str user;   /* empty = "-" */
    struct tg_str method;
    struct tg_str target;
    int status;
    uint64_t bytes_in, bytes_out;
    uint64_t duration_us;
    const char *upstream; /* NULL = "-" */
    const char *reason;   /* static token or NULL */
    const char *listener; /* "ADDR:PORT" as configured, NULL = "-" */
    const char *tls;      /* "TLSv1.3", ..., NULL = "-" (plaintext, or no handshake yet) */
};

/* Formats the entry and queues the line (tg_logfile_write). Any thread. */
void tg_accesslog_write(struct tg_logfile *lf, const struct tg_access_entry *e);

#endif
