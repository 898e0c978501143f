/*
 * field: field-line syntax and the framing fields both head parsers read.
 * It splits a head into CRLF-terminated lines, refusing every line ending
 * another parser might read differently (bare LF, lone CR, NUL; RFC 9112
 * §2.2), and parses each field line strictly (RFC 9112 §5.1-§5.2, RFC 9110
 * §5.5-§5.6): no obs-fold, no whitespace before the colon, token names,
 * no control characters in values. It also reads Content-Length
 * (RFC 9110 §8.6), Transfer-Encoding (RFC 9112 §6.1) and Connection
 * (RFC 9110 §7.6.1) values; deciding what they mean for a request or a
 * response is left to reqhead and resphead.
 */
#include "http/field.h"

#include <string.h>

#include "base/scan.h"

/* RFC 9110 §5.6.2 tchar, as a table: names are checked byte by byte on every request. */
#define T(c) [c] = true
static const bool tchar[256] = {
    T('!'), T('#'), T('$'), T('%'), T('&'), T('\''), T('*'), T('+'), T('-'), T('.'), T('^'),
    T('_'), T('`'), T('|'), T('~'), T('0'), T('1'), T('2'), T('3'), T('4'), T('5'), T('6'),
    T('7'), T('8'), T('9'), T('A'), T('B'), T('C'), T('D'), T('E'), T('F'), T('G'), T('H'),
    T('I'), T('J'), T('K'), T('L'), T('M'), T('N'), T('O'), T('P'), T('Q'), T('R'), T('S'),
    T('T'), T('U'), T('V'), T('W'), T('X'), T('Y'), T('Z'), T('a'), T('b'), T('c'), T('d'),
    T('e'), T('f'), T('g'), T('h'), T('i'), T('j'), T('k'), T('l'), T('m'), T('n'), T('o'),
    T('p'), T('q'), T('r'), T('s'), T('t'), T('u'), T('v'), T('w'), T('x'), T('y'), T('z'),
};
#undef T

bool tg_field_is_tchar(unsigned char c)
{
    return tchar[c];
}

bool tg_field_is_token(struct tg_str s)
{
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!tg_field_is_tchar((unsigned char)s.p[i]))
            return false;
    }
    return true;
}

/* memchr, which scans a word at a time, but also for an empty (maybe NULL) span. */
static const char *find(const char *p, char c, size_t n)
{
    return n ? memchr(p, c, n) : NULL;
}

/* The first of c1 and c2 in [p, p + n), or NULL. */
static const char *first_of(const char *p, size_t n, char c1, char c2)
{
    const char *a = find(p, c1, n);
    const char *b = find(p, c2, a ? (size_t)(a - p) : n);
    return b ? b : a;
}

int tg_field_next_line(const char *buf, size_t len, size_t pos, struct tg_str *line, size_t *next,
                       const char **reason)
{
    size_t rest = len > pos ? len - pos : 0;
    const char *cr = find(buf + pos, '\r', rest);
    size_t i = cr ? (size_t)(cr - buf) : pos + rest;
    /* A CR consumes its LF below, so any LF before the CR is bare. */
    const char *bad = first_of(buf + pos, i - pos, '\0', '\n');
    if (bad) {
        *reason = *bad == '\0' ? "nul_byte" : "bare_lf";
        return -1;
    }
    line->p = buf + pos;
    line->len = i - pos;
    if (!cr || i + 1 == len)
        return 0;
    if (buf[i + 1] != '\n') {
        *reason = "bare_cr";
        return -1;
    }
    *next = i + 2;
    return 1;
}

int tg_field_start_line(const char *buf, size_t len, struct tg_str *line, size_t *next,
                        const char **reason)
{
    size_t pos = 0;

    for (;;) {
        int r = tg_field_next_line(buf, len, pos, line, next, reason);
        if (r != 1 || line->len > 0)
            return r;
        pos = *next;
    }
}

bool tg_field_is_value(struct tg_str v)
{
    return tg_scan_ctl(v.p, v.len) == v.len;
}

/* Parses one non-empty field line; returns NULL or the reason it is invalid. */
static const char *parse_line(struct tg_str line, struct tg_field *f)
{
    /* obs-fold (RFC 9112 §5.2) lets a value hide a second field from
     * parsers that unfold differently; a server may reject it. */
    if (line.p[0] == ' ' || line.p[0] == '\t')
        return "obs_fold";
    const char *colon = memchr(line.p, ':', line.len);
    if (!colon)
        return "invalid_field_line";
    struct tg_str name = {line.p, (size_t)(colon - line.p)};
    /* RFC 9112 §5.1: a server MUST reject whitespace before the colon. */
    if (name.len > 0 && (name.p[name.len - 1] == ' ' || name.p[name.len - 1] == '\t'))
        return "space_before_colon";
    /* Empty names confused HAProxy (CVE-2023-25725). */
    if (!tg_field_is_token(name))
        return "invalid_field_name";
    struct tg_str value = {colon + 1, line.len - name.len - 1};
    value = tg_str_trim(value);
    if (!tg_field_is_value(value))
        return "invalid_field_value";
    f->name = name;
    f->value = value;
    return NULL;
}

/*
 * The common case in one pass: a complete, valid field line at buf[pos]
 * ("name:" OWS value OWS CRLF, all before end). Fills *f and returns the
 * offset after the CRLF; returns 0 for anything else, which the careful
 * path below then reads (and names the fault of) exactly as before. A
 * valid line is accepted by both: the name is the run of tchars before
 * the first colon, and every byte up to the CR is one a value may hold.
 */
static size_t quick_line(const char *buf, size_t end, size_t pos, struct tg_field *f)
{
    size_t i = pos;
    while (i < end && tchar[(unsigned char)buf[i]])
        i++;
    if (i == pos || i >= end || buf[i] != ':')
        return 0;
    f->name = (struct tg_str){buf + pos, i - pos};
    i++;
    while (i < end && (buf[i] == ' ' || buf[i] == '\t'))
        i++;
    size_t vstart = i;
    i += tg_scan_ctl(buf + i, end - i); /* stops at the CR, or at a byte no value may hold */
    if (i + 1 >= end || buf[i] != '\r' || buf[i + 1] != '\n')
        return 0;
    size_t vend = i;
    while (vend > vstart && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
        vend--;
    f->value = (struct tg_str){buf + vstart, vend - vstart};
    return i + 2;
}

static long fail(struct tg_http_error *err, int status, const char *reason)
{
    err->status = status;
    err->reason = reason;
    return -1;
}

long tg_field_parse_block(const char *buf, size_t len, size_t pos,
                          const struct tg_field_limits *lim, struct tg_field *fields,
                          size_t *nfields, struct tg_http_error *err)
{
    /* Never look past max_head: a head that does not end by then is
     * refused whatever follows. */
    size_t end = len < lim->max_head ? len : lim->max_head;
    size_t n = 0;

    *nfields = 0;
    for (;;) {
        if (pos + 1 < end && buf[pos] == '\r' && buf[pos + 1] == '\n') {
            *nfields = n;
            return (long)(pos + 2);
        }
        size_t quick = n < lim->max_fields ? quick_line(buf, end, pos, &fields[n]) : 0;
        if (quick) {
            n++;
            pos = quick;
            continue;
        }
        struct tg_str line;
        size_t next = 0;
        const char *reason = NULL;
        int r = tg_field_next_line(buf, end, pos, &line, &next, &reason);
        if (r < 0)
            return fail(err, lim->status, reason);
        if (r == 0)
            return len >= lim->max_head ? fail(err, lim->limit_status, lim->too_large) : 0;
        if (line.len == 0) {
            *nfields = n;
            return (long)next;
        }
        if (n >= lim->max_fields)
            return fail(err, lim->limit_status, lim->too_many);
        reason = parse_line(line, &fields[n]);
        if (reason)
            return fail(err, lim->status, reason);
        n++;
        pos = next;
    }
}

int tg_field_parse_length(struct tg_str s, uint64_t *out)
{
    /* 19 digits hold any value up to INT64_MAX; longer strings are refused
     * before they can overflow, even when they are all leading zeros. */
    if (s.len == 0 || s.len > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    if (v > (uint64_t)TG_FIELD_MAX_LENGTH)
        return -1;
    *out = v;
    return 0;
}

void tg_field_te_add(struct tg_field_te *te, struct tg_str value)
{
    struct tg_str rest = value, coding;
    bool any = false;

    te->nfields++;
    while (tg_str_next_token(&rest, &coding)) {
        any = true;
        bool chunked = tg_str_eq_nocase(coding, "chunked");
        if (!tg_field_is_token(coding))
            te->invalid = true;
        te->nchunked += chunked;
        te->other |= !chunked;
        te->chunked_last = chunked;
    }
    /* An empty Transfer-Encoding still claims the body is coded. */
    if (!any)
        te->invalid = true;
}

void tg_field_connection(struct tg_str value, bool *close, bool *keep_alive)
{
    struct tg_str rest = value, opt;

    while (tg_str_next_token(&rest, &opt)) {
        if (tg_str_eq_nocase(opt, "close"))
            *close = true;
        else if (tg_str_eq_nocase(opt, "keep-alive"))
            *keep_alive = true;
    }
}
