/*
 * authlog: one JSON object per authentication attempt:
 *   {"ts":"...Z","client":"ip:port","user":"alice","scheme":"basic",
 *    "result":"ok|fail|rate_limited|refused","reason":"verified|cached|bad_password|..."}
 * Never a password or a credential string: callers pass only the user name,
 * which is JSON-escaped and truncated.
 */
#ifndef TG_AUTHLOG_H
#define TG_AUTHLOG_H

#include <stdbool.h>

#include "log/logfile.h"

struct tg_auth_entry {
    const char *client;
    const char *user; /* NULL when unknown (malformed) */
    const char *scheme;
    const char *result; /* "ok", "fail", "rate_limited" or "refused" */
    const char *reason;
};

/* Formats the entry and queues the line (tg_logfile_write). Any thread. */
void tg_authlog_write(struct tg_logfile *lf, const struct tg_auth_entry *e);

#endif
