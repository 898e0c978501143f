/*
 * accesslog: formatting of access-log lines into a stack buffer; fields
 * are truncated rather than allowed to overflow it.
 */
#include "log/accesslog.h"

#include <inttypes.h>
#include <string.h>

#include "base/scan.h"

#define LINE_MAX_LEN 4096
#define FIELD_MAX 1500
/* Kept free while writing the client-controlled fields: the numbers, upstream
 * address, reason, listener and TLS version after them fit in far less. */
#define TAIL_ROOM 400

/* Appends s, %-escaping bytes outside printable ASCII and space/%. */
static size_t put_field(char *out, size_t room, struct tg_str s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0, i = 0, len = s.len < FIELD_MAX ? s.len : FIELD_MAX;
    if (s.len == 0 && room > 1) {
        out[n++] = '-';
        return n;
    }
    while (i < len && n + 4 < room) {
        /* A run of bytes that pass unchanged, then one escaped byte. */
        size_t run = tg_scan_escaped(s.p + i, len - i);
        if (run > room - 4 - n)
            run = room - 4 - n;
        memcpy(out + n, s.p + i, run);
        n += run;
        i += run;
        if (i == len || n + 4 >= room)
            break;
        unsigned char c = (unsigned char)s.p[i++];
        out[n++] = '%';
        out[n++] = hex[c >> 4];
        out[n++] = hex[c & 15];
    }
    return n;
}

/*
 * A line under construction. Like snprintf, at most cap - 1 bytes are
 * stored while len counts all that was asked for; printf formatting cost
 * more than the rest of the request's logging.
 */
struct sink {
    char *p;
    size_t len, cap;
};

static void put(struct sink *s, const char *p, size_t n)
{
    if (s->len + 1 < s->cap) {
        size_t room = s->cap - 1 - s->len;
        memcpy(s->p + s->len, p, n < room ? n : room);
    }
    s->len += n;
}

static void put_s(struct sink *s, const char *str)
{
    put(s, str, strlen(str));
}

/* Decimal digits of v, with at least min_digits (zero-padded). */
static void put_u64(struct sink *s, uint64_t v, int min_digits)
{
    char d[24];
    int i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v || (int)sizeof d - i < min_digits);
    put(s, d + i, sizeof d - (size_t)i);
}

/*
 * " STATUS BYTES_IN BYTES_OUT DURATION_MS UPSTREAM REASON LISTENER TLS\n",
 * as "%d %llu %llu %.3f %s %s %s %s" would print them.
 */
static size_t put_tail(char *out, size_t room, const struct tg_access_entry *e)
{
    struct sink s = {out, 0, room};
    put(&s, " ", 1);
    if (e->status < 0)
        put(&s, "-", 1);
    put_u64(&s, e->status < 0 ? -(uint64_t)(int64_t)e->status : (uint64_t)e->status, 1);
    put(&s, " ", 1);
    put_u64(&s, e->bytes_in, 1);
    put(&s, " ", 1);
    put_u64(&s, e->bytes_out, 1);
    put(&s, " ", 1);
    put_u64(&s, e->duration_us / 1000, 1);
    put(&s, ".", 1);
    put_u64(&s, e->duration_us % 1000, 3);
    put(&s, " ", 1);
    put_s(&s, e->upstream ? e->upstream : "-");
    put(&s, " ", 1);
    put_s(&s, e->reason ? e->reason : "-");
    put(&s, " ", 1);
    if (s.len + 16 < s.cap)
        s.len += put_field(s.p + s.len, s.cap - s.len - 16, tg_str_c(e->listener ? e->listener : ""));
    put(&s, " ", 1);
    put_s(&s, e->tls ? e->tls : "-");
    put(&s, "\n", 1);
    return s.len;
}

void tg_accesslog_write(struct tg_logfile *lf, const struct tg_access_entry *e)
{
    char line[LINE_MAX_LEN], ts[40];
    if (!tg_logfile_enabled(lf))
        return;
    tg_logfile_timestamp(ts, sizeof ts);
    struct sink head = {line, 0, sizeof line};
    put_s(&head, ts);
    put(&head, " ", 1);
    put_s(&head, e->client);
    put(&head, " ", 1);
    size_t n = head.len;
    n += put_field(line + n, sizeof line - n - TAIL_ROOM, e->user);
    line[n++] = ' ';
    n += put_field(line + n, sizeof line - n - TAIL_ROOM, e->method);
    line[n++] = ' ';
    n += put_field(line + n, sizeof line - n - TAIL_ROOM, e->target);
    n += put_tail(line + n, sizeof line - n, e);
    /* Never reached with the room kept above; still, every line ends in exactly one '\n'. */
    if (n >= sizeof line)
        n = sizeof line - 1, line[n - 1] = '\n';
    tg_logfile_write(lf, line, n);
}
