/*
 * authlog: JSON line formatting with RFC 8259 string escaping.
 */
#include "log/authlog.h"

#include <stdio.h>
#include <string.h>

#define USER_MAX 128

static size_t put_json_string(char *out, size_t room, const char *s)
{
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; s && s[i] && i < USER_MAX && n + 8 < room; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            n += (size_t)snprintf(out + n, room - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    return n;
}

void tg_authlog_write(const struct tg_logfile *lf, const struct tg_auth_entry *e)
{
    char line[1024], ts[40];
    if (lf->fd < 0)
        return;
    tg_logfile_timestamp(ts, sizeof ts);
    size_t n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"client\":\"%s\",\"user\":", ts,
                                e->client);
    if (e->user)
        n += put_json_string(line + n, sizeof line - n - 200, e->user);
    else
        n += (size_t)snprintf(line + n, sizeof line - n, "null");
    n += (size_t)snprintf(line + n, sizeof line - n,
                          ",\"scheme\":\"%s\",\"result\":\"%s\",\"reason\":\"%s\"}\n", e->scheme,
                          e->ok ? "ok" : "fail", e->reason);
    tg_logfile_write(lf, line, n < sizeof line ? n : sizeof line - 1);
}
