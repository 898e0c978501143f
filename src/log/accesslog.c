/*
 * accesslog: formatting of access-log lines into a stack buffer; fields
 * are truncated rather than allowed to overflow it.
 */
#include "log/accesslog.h"

#include <inttypes.h>
#include <stdio.h>

#define LINE_MAX_LEN 4096
#define FIELD_MAX 1500

/* Appends s, %-escaping bytes outside printable ASCII and space/%. */
static size_t put_field(char *out, size_t room, struct tg_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    if (s.len == 0 && room > 1) {
        out[n++] = '-';
        return n;
    }
    for (size_t i = 0; i < s.len && i < FIELD_MAX && n + 4 < room; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c <= ' ' || c >= 0x7f || c == '%' || c == '"') {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

void tg_accesslog_write(struct tg_logfile *lf, const struct tg_access_entry *e)
{
    char line[LINE_MAX_LEN], ts[40];
    if (!tg_logfile_enabled(lf))
        return;
    tg_logfile_timestamp(ts, sizeof ts);
    size_t n = (size_t)snprintf(line, sizeof line, "%s %s ", ts, e->client);
    n += put_field(line + n, sizeof line - n - 200, e->user);
    line[n++] = ' ';
    n += put_field(line + n, sizeof line - n - 200, e->method);
    line[n++] = ' ';
    n += put_field(line + n, sizeof line - n - 200, e->target);
    n += (size_t)snprintf(line + n, sizeof line - n, " %d %" PRIu64 " %" PRIu64 " %.3f %s %s\n",
                          e->status, e->bytes_in, e->bytes_out, (double)e->duration_us / 1000.0,
                          e->upstream ? e->upstream : "-", e->reason ? e->reason : "-");
    if (n >= sizeof line)
        n = sizeof line - 1, line[n - 1] = '\n';
    tg_logfile_write(lf, line, n);
}
