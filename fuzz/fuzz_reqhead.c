/*
 * fuzz_reqhead: http/reqhead on arbitrary bytes, under the limits the proxy
 * ships with (8k request line, 16k head, 100 fields) and under a tight set
 * (64, 512, 8) that the fuzzer can actually reach. Properties:
 *   - the result is the head length, 0 (only while the input is shorter
 *     than max_head) or -1 with one of the documented status/reason pairs,
 *     and a byte-level reason (nul_byte, bare_lf, bare_cr, 414, 431) is
 *     backed by the input;
 *   - a parsed head lies inside the input and max_head, uses CRLF only, ends
 *     in an empty line, and its views tile it exactly: optional empty lines,
 *     method SP target SP HTTP/1.x, then one field per line with the name
 *     right before the colon and the value trimmed of OWS;
 *   - what the parser derives (framing, Content-Length, Host, Expect,
 *     Proxy-Authorization, keep-alive, CONNECT, tg_reqhead_find) agrees
 *     with a plain re-reading of the fields written here;
 *   - the parse is stable as bytes arrive: a prefix of a head that needs
 *     more also needs more, a prefix that parses parses identically on the
 *     whole input, and a prefix that fails means the whole fails;
 *   - tighter limits never turn a refusal into a success, and a head that
 *     fits them parses identically under them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/reqhead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tg_reqhead_limits wide = {
    .max_request_line = 8192,
    .max_head = 16384,
    .max_fields = 100,
};
static const struct tg_reqhead_limits tight = {
    .max_request_line = 64,
    .max_head = 512,
    .max_fields = 8,
};

/* Each struct holds 128 fields: static, off the fuzzer's stack. */
static struct tg_reqhead whole, other;

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {400, "nul_byte"},
    {400, "bare_lf"},
    {400, "bare_cr"},
    {400, "bad_request_line"},
    {400, "obs_fold"},
    {400, "invalid_field_line"},
    {400, "space_before_colon"},
    {400, "invalid_field_name"},
    {400, "invalid_field_value"},
    {400, "duplicate_content_length"},
    {400, "invalid_content_length"},
    {400, "duplicate_host"},
    {400, "missing_host"},
    {400, "cl_te_conflict"},
    {400, "te_in_http10"},
    {400, "invalid_transfer_encoding"},
    {400, "te_chunked_twice"},
    {400, "te_not_chunked_last"},
    {414, "request_line_too_long"},
    {417, "unsupported_expectation"},
    {431, "header_too_large"},
    {431, "too_many_headers"},
    {501, "unsupported_transfer_coding"},
    {505, "bad_version"},
};

static bool inside(struct tg_str v, const char *lo, size_t n)
{
    return v.p >= lo && v.p <= lo + n && v.len <= (size_t)(lo + n - v.p);
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_token(struct tg_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (c == '\0' || !strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return s.len > 0;
}

static bool same_nocase(struct tg_str a, const char *b)
{
    if (a.len != strlen(b))
        return false;
    for (size_t i = 0; i < a.len; i++) {
        char x = a.p[i];
        if (x >= 'A' && x <= 'Z')
            x = (char)(x - 'A' + 'a');
        if (x != b[i])
            return false;
    }
    return true;
}

/* Calls fn on each non-empty OWS-trimmed element of a comma list. */
static void each_element(struct tg_str v, void (*fn)(struct tg_str, void *), void *arg)
{
    size_t start = 0;
    for (size_t i = 0; i <= v.len; i++) {
        if (i < v.len && v.p[i] != ',')
            continue;
        struct tg_str e = {v.p + start, i - start};
        while (e.len > 0 && is_ows(e.p[0])) {
            e.p++;
            e.len--;
        }
        while (e.len > 0 && is_ows(e.p[e.len - 1]))
            e.len--;
        if (e.len > 0)
            fn(e, arg);
        start = i + 1;
    }
}

/* ---- what the input itself shows ---- */

static bool has_bare_lf(const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            return true;
    }
    return false;
}

static bool has_bare_cr(const char *buf, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (buf[i] == '\r' && buf[i + 1] != '\n')
            return true;
    }
    return false;
}

/* Length of the (maybe partial) request line after any empty lines. */
static size_t first_line_len(const char *buf, size_t n)
{
    size_t p = 0;
    while (p + 1 < n && buf[p] == '\r' && buf[p + 1] == '\n')
        p += 2;
    size_t q = p;
    while (q < n && buf[q] != '\r')
        q++;
    return q - p;
}

static void check_error(const char *buf, size_t size, const struct tg_reqhead_limits *lim,
                        const struct tg_http_error *err)
{
    size_t seen = size < lim->max_head ? size : lim->max_head;
    size_t i = 0;
    while (i < sizeof reasons / sizeof reasons[0] &&
           (!err->reason || strcmp(err->reason, reasons[i].reason) != 0))
        i++;
    if (i == sizeof reasons / sizeof reasons[0] || err->status != reasons[i].status)
        abort();
    if ((!strcmp(err->reason, "nul_byte") && !memchr(buf, '\0', seen)) ||
        (!strcmp(err->reason, "bare_lf") && !has_bare_lf(buf, seen)) ||
        (!strcmp(err->reason, "bare_cr") && !has_bare_cr(buf, seen)) ||
        (err->status == 414 && first_line_len(buf, seen) <= lim->max_request_line) ||
        (!strcmp(err->reason, "header_too_large") && size < lim->max_head))
        abort();
}

/* ---- the shape of a parsed head ---- */

/* CRLF is the only line ending, no NUL, and the head ends in CRLF CRLF. */
static void check_lines(const char *buf, size_t h)
{
    if (h < 4 || memcmp(buf + h - 4, "\r\n\r\n", 4) != 0)
        abort();
    for (size_t i = 0; i < h; i++) {
        if (buf[i] == '\0' || (buf[i] == '\r' && buf[i + 1] != '\n') ||
            (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
            abort();
    }
}

/* [CRLF...] method SP target SP HTTP/1.x CRLF; returns where fields start. */
static const char *check_request_line(const char *buf, const struct tg_reqhead *h,
                                      const struct tg_reqhead_limits *lim)
{
    const char *p = buf, *end = buf + h->head_len;
    while (p + 1 < end && p[0] == '\r')
        p += 2;
    if (h->method.p != p || !inside(h->method, buf, h->head_len) || !is_token(h->method))
        abort();
    if (h->target.p != h->method.p + h->method.len + 1 || h->method.p[h->method.len] != ' ')
        abort();
    if (!inside(h->target, buf, h->head_len) || h->target.len == 0)
        abort();
    for (size_t i = 0; i < h->target.len; i++) {
        unsigned char c = (unsigned char)h->target.p[i];
        if (c <= 0x20 || c >= 0x7f)
            abort();
    }
    const char *v = h->target.p + h->target.len;
    if (end - v < 11 || memcmp(v, " HTTP/1.", 8) != 0 || memcmp(v + 9, "\r\n", 2) != 0)
        abort();
    if ((h->minor_version != 0 && h->minor_version != 1) || v[8] != '0' + h->minor_version)
        abort();
    if ((size_t)(v + 9 - h->method.p) > lim->max_request_line)
        abort();
    return v + 11;
}

/* One field per line, name:OWS value OWS CRLF, then the empty line. */
static void check_field_lines(const char *buf, const struct tg_reqhead *h, const char *p)
{
    const char *end = buf + h->head_len;
    for (size_t i = 0; i < h->nfields; i++) {
        const struct tg_field *f = &h->fields[i];
        if (f->name.p != p || !inside(f->name, buf, h->head_len) || !is_token(f->name))
            abort();
        p += f->name.len;
        if (*p++ != ':')
            abort();
        while (is_ows(*p) && p < f->value.p)
            p++;
        if (f->value.p != p || !inside(f->value, buf, h->head_len))
            abort();
        if (f->value.len > 0 && (is_ows(p[0]) || is_ows(p[f->value.len - 1])))
            abort();
        for (size_t k = 0; k < f->value.len; k++) {
            unsigned char c = (unsigned char)p[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                abort();
        }
        p += f->value.len;
        while (p < end && is_ows(*p))
            p++;
        if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
            abort();
        p += 2;
    }
    if (p + 2 != end || memcmp(p, "\r\n", 2) != 0)
        abort();
}

/* ---- what a plain re-reading of the fields says ---- */

struct facts {
    int cl, te, hosts, pauth, host_first, pauth_first;
    struct tg_str cl_value, te_value;
    bool expect, close, keep_alive;
    int codings;
    bool only_chunked;
};

static void on_connection_option(struct tg_str e, void *arg)
{
    struct facts *f = arg;
    f->close |= same_nocase(e, "close");
    f->keep_alive |= same_nocase(e, "keep-alive");
}

static void on_coding(struct tg_str e, void *arg)
{
    struct facts *f = arg;
    f->codings++;
    f->only_chunked &= same_nocase(e, "chunked");
}

static void read_field(const struct tg_field *fl, int i, struct facts *f)
{
    if (same_nocase(fl->name, "content-length")) {
        f->cl++;
        f->cl_value = fl->value;
    } else if (same_nocase(fl->name, "transfer-encoding")) {
        f->te++;
        f->te_value = fl->value;
    } else if (same_nocase(fl->name, "host")) {
        if (f->hosts++ == 0)
            f->host_first = i;
    } else if (same_nocase(fl->name, "proxy-authorization")) {
        if (f->pauth++ == 0)
            f->pauth_first = i;
    } else if (same_nocase(fl->name, "connection") || same_nocase(fl->name, "proxy-connection")) {
        each_element(fl->value, on_connection_option, f);
    } else if (same_nocase(fl->name, "expect")) {
        /* Anything but 100-continue must have been refused with 417. */
        if (!same_nocase(fl->value, "100-continue"))
            abort();
        f->expect = true;
    }
}

/* 1*19DIGIT up to INT64_MAX, or -1. */
static int decimal(struct tg_str s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0 || s.len > 19)
        return -1;
    for (size_t i = 0; i < s.len; i++) {
        if (s.p[i] < '0' || s.p[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s.p[i] - '0');
    }
    *out = v;
    return v <= (uint64_t)INT64_MAX ? 0 : -1;
}

static void check_framing(const struct tg_reqhead *h, struct facts *f)
{
    uint64_t n = 0;
    if (f->cl > 1)
        abort();
    if (f->te > 0) {
        /* The only framing accepted: one field listing exactly "chunked". */
        f->only_chunked = true;
        each_element(f->te_value, on_coding, f);
        if (h->body != TG_BODY_CHUNKED || f->cl != 0 || h->minor_version != 1 || f->te != 1 ||
            f->codings != 1 || !f->only_chunked)
            abort();
    } else if (f->cl == 1) {
        if (h->body != TG_BODY_LENGTH || decimal(f->cl_value, &n) < 0 || n != h->content_length)
            abort();
    } else if (h->body != TG_BODY_NONE) {
        abort();
    }
}

static void check_facts(const struct tg_reqhead *h)
{
    struct facts f = {.host_first = -1, .pauth_first = -1};
    for (size_t i = 0; i < h->nfields; i++)
        read_field(&h->fields[i], (int)i, &f);
    check_framing(h, &f);
    bool connect = h->method.len == 7 && memcmp(h->method.p, "CONNECT", 7) == 0;
    if (h->is_connect != connect || f.hosts > 1 || h->host_index != f.host_first)
        abort();
    if (h->minor_version == 1 && !connect && f.hosts != 1)
        abort();
    if (h->proxy_auth_count != f.pauth || h->proxy_auth_index != f.pauth_first)
        abort();
    if (h->expect_continue != (f.expect && h->minor_version == 1))
        abort();
    if (h->keep_alive != (!f.close && (h->minor_version == 1 || f.keep_alive)))
        abort();
}

/* tg_reqhead_find returns the first field of each name, any case. */
static void check_find(const struct tg_reqhead *h)
{
    static char name[16384 + 1];
    for (size_t i = 0; i < h->nfields; i++) {
        struct tg_str n = h->fields[i].name;
        memcpy(name, n.p, n.len);
        name[n.len] = '\0';
        size_t first = 0;
        while (!(h->fields[first].name.len == n.len &&
                 strncasecmp(h->fields[first].name.p, name, n.len) == 0))
            first++;
        if (tg_reqhead_find(h, name) != &h->fields[first])
            abort();
    }
}

static void check_head(const char *buf, size_t size, long r, const struct tg_reqhead *h,
                       const struct tg_reqhead_limits *lim)
{
    if ((size_t)r > size || (size_t)r > lim->max_head || h->head_len != (size_t)r)
        abort();
    if (h->nfields > lim->max_fields)
        abort();
    check_lines(buf, h->head_len);
    check_field_lines(buf, h, check_request_line(buf, h, lim));
    check_facts(h);
    check_find(h);
}

static void check_outcome(const char *buf, size_t size, const struct tg_reqhead_limits *lim, long r,
                          const struct tg_reqhead *h, const struct tg_http_error *err)
{
    if (r > 0)
        check_head(buf, size, r, h, lim);
    else if (r == 0 && size >= lim->max_head)
        abort();
    else if (r == -1)
        check_error(buf, size, lim, err);
    else if (r != 0)
        abort();
}

/* ---- stability ---- */

static bool same_str(struct tg_str a, struct tg_str b)
{
    return a.p == b.p && a.len == b.len;
}

static bool same_head(const struct tg_reqhead *a, const struct tg_reqhead *b)
{
    if (!same_str(a->method, b->method) || !same_str(a->target, b->target) ||
        a->minor_version != b->minor_version || a->nfields != b->nfields ||
        a->head_len != b->head_len || a->body != b->body ||
        a->content_length != b->content_length || a->keep_alive != b->keep_alive ||
        a->expect_continue != b->expect_continue || a->is_connect != b->is_connect ||
        a->host_index != b->host_index || a->proxy_auth_index != b->proxy_auth_index ||
        a->proxy_auth_count != b->proxy_auth_count)
        return false;
    for (size_t i = 0; i < a->nfields; i++) {
        if (!same_str(a->fields[i].name, b->fields[i].name) ||
            !same_str(a->fields[i].value, b->fields[i].value))
            return false;
    }
    return true;
}

/* Parses the first k bytes, as if the rest had not arrived yet. */
static void check_prefix(const char *buf, size_t k, long r)
{
    struct tg_http_error err = {0, NULL};
    long rk = tg_reqhead_parse(buf, k, &wide, &other, &err);
    check_outcome(buf, k, &wide, rk, &other, &err);
    if ((r == 0 && rk != 0) || (rk < 0 && r >= 0))
        abort();
    if (rk > 0 && (rk != r || !same_head(&other, &whole)))
        abort();
}

static bool fits(const struct tg_reqhead *h, const struct tg_reqhead_limits *lim)
{
    size_t line = (size_t)(h->target.p + h->target.len + 9 - h->method.p);
    return h->head_len <= lim->max_head && h->nfields <= lim->max_fields &&
           line <= lim->max_request_line;
}

static void check_tight(const char *buf, size_t size, long r)
{
    struct tg_http_error err = {0, NULL};
    long rt = tg_reqhead_parse(buf, size, &tight, &other, &err);
    check_outcome(buf, size, &tight, rt, &other, &err);
    if (rt > 0 && (rt != r || !same_head(&other, &whole)))
        abort();
    if (r > 0 && fits(&whole, &tight) && rt != r)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct tg_http_error err = {0, NULL};
    long r = tg_reqhead_parse(buf, size, &wide, &whole, &err);
    check_outcome(buf, size, &wide, r, &whole, &err);

    /* A few cut points: every one would make each run quadratic. */
    for (size_t j = 0; j < 8; j++)
        check_prefix(buf, size * j / 8, r);
    if (size > 0)
        check_prefix(buf, size - 1, r);
    if (r > 0) {
        check_prefix(buf, (size_t)r - 1, r);
        check_prefix(buf, (size_t)r, r);
    }
    check_tight(buf, size, r);
    return 0;
}
