/*
 * authlog: JSON line formatting with RFC 8259 string escaping.
 */
#include "log/authlog.h"

#include <stdio.h>
#include <string.h>

#define USER_MAX 128

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
    if (s[0] >= 0xf5)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return n;
}

/*
 * A JSON string (RFC 8259): valid UTF-8 passes through so names read as
 * written; control bytes, quotes and backslashes are escaped; a byte that
 * is not part of valid UTF-8 becomes U+FFFD, so the line stays valid JSON.
 */
static size_t put_json_string(char *out, size_t room, const char *s)
{
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; s && s[i] && i < USER_MAX && n + 8 < room;) {
        const unsigned char *c = (const unsigned char *)s + i;
        size_t ulen = c[0] >= 0x80 ? utf8_len(c) : 0;
        if (c[0] == '"' || c[0] == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c[0];
        } else if (c[0] < 0x20 || c[0] == 0x7f) {
            n += (size_t)snprintf(out + n, room - n, "\\u%04x", c[0]);
        } else if (c[0] >= 0x80 && ulen == 0) {
            n += (size_t)snprintf(out + n, room - n, "\\ufffd");
        } else if (ulen) {
            memcpy(out + n, c, ulen);
            n += ulen;
            i += ulen;
            continue;
        } else {
            out[n++] = (char)c[0];
        }
        i++;
    }
    out[n++] = '"';
    return n;
}

/*
 * Appends nparts strings at line + *n as snprintf("%s...") would: at most
 * size - 1 bytes stored, *n counting all of them, NULL as "(null)". Every
 * authentication writes a line; printf cost more than the rest of it.
 */
static void put_all(char *line, size_t size, size_t *n, const char *const *parts, size_t nparts)
{
    for (size_t i = 0; i < nparts; i++) {
        const char *s = parts[i] ? parts[i] : "(null)";
        size_t len = strlen(s);
        if (*n + 1 < size)
            memcpy(line + *n, s, len < size - 1 - *n ? len : size - 1 - *n);
        *n += len;
    }
}

#define PUT_ALL(line, n, ...)                                                                      \
    put_all(line, sizeof line, n, (const char *const[]){__VA_ARGS__},                              \
            sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

void tg_authlog_write(struct tg_logfile *lf, const struct tg_auth_entry *e)
{
    char line[1024], ts[40];
    size_t n = 0;
    if (!tg_logfile_enabled(lf))
        return;
    tg_logfile_timestamp(ts, sizeof ts);
    PUT_ALL(line, &n, "{\"ts\":\"", ts, "\",\"client\":\"", e->client, "\",\"user\":");
    if (e->user)
        n += put_json_string(line + n, sizeof line - n - 200, e->user);
    else
        PUT_ALL(line, &n, "null");
    PUT_ALL(line, &n, ",\"scheme\":\"", e->scheme, "\",\"result\":\"", e->result,
            "\",\"reason\":\"", e->reason, "\"}\n");
    tg_logfile_write(lf, line, n < sizeof line ? n : sizeof line - 1);
}
