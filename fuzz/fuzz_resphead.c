/*
 * fuzz_resphead: http/resphead on arbitrary bytes, with the proxy's 64k
 * head limit and a tight 256-byte one, each as the response to a GET and
 * to a HEAD. Properties:
 *   - the result is the head length, 0 (only while the input is shorter
 *     than max_head) or -1 with status 502 and one of the documented
 *     reasons;
 *   - a parsed head lies inside the input and max_head, uses CRLF only,
 *     ends in an empty line, and its views tile it exactly: optional empty
 *     lines, HTTP/1.x SP 3DIGIT [SP reason], then one field per line with
 *     the name right before the colon and the value trimmed of OWS;
 *   - the body framing and keep-alive agree with RFC 9112 §6.3 and §9.3
 *     applied by hand to the fields: no body for HEAD, 1xx, 204 and 304;
 *     otherwise chunked only when chunked is the last coding, every
 *     Content-Length member equal, and a body delimited by close never
 *     keeps the connection;
 *   - HEAD only relaxes: a head that parses for GET parses identically for
 *     HEAD, and one refused for HEAD is refused for GET for the same reason;
 *   - the parse is stable as bytes arrive (see fuzz_reqhead), and a tighter
 *     limit never turns a refusal into a success.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/resphead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WIDE 65536
#define TIGHT 256

/* Each struct holds 128 fields: static, off the fuzzer's stack. */
static struct tg_resphead whole, other;

static const char *const reasons[] = {
    "nul_byte",
    "bare_lf",
    "bare_cr",
    "bad_status_line",
    "obs_fold",
    "invalid_field_line",
    "space_before_colon",
    "invalid_field_name",
    "invalid_field_value",
    "upstream_header_too_large",
    "upstream_too_many_headers",
    "invalid_content_length",
    "duplicate_content_length",
    "upstream_cl_te_conflict",
    "invalid_transfer_encoding",
    "te_chunked_twice",
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

/* No control byte but HTAB: field values and reason phrases. */
static bool is_text(struct tg_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
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

static void check_error(size_t size, size_t max_head, const struct tg_http_error *err)
{
    size_t i = 0;
    while (i < sizeof reasons / sizeof reasons[0] &&
           (!err->reason || strcmp(err->reason, reasons[i]) != 0))
        i++;
    if (i == sizeof reasons / sizeof reasons[0] || err->status != 502)
        abort();
    if (!strcmp(err->reason, "upstream_header_too_large") && size < max_head)
        abort();
}

/* ---- the shape of a parsed head ---- */

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

/* [CRLF...] HTTP/1.x SP 3DIGIT [SP reason] CRLF; returns where fields start. */
static const char *check_status_line(const char *buf, const struct tg_resphead *h)
{
    const char *p = buf, *end = buf + h->head_len;
    while (p + 1 < end && p[0] == '\r')
        p += 2;
    if (end - p < 14 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        abort();
    if ((h->minor_version != 0 && h->minor_version != 1) || p[7] != '0' + h->minor_version)
        abort();
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            abort();
        status = status * 10 + (p[i] - '0');
    }
    if (status != h->status || status < 100 || status > 599)
        abort();
    if (!inside(h->reason, buf, h->head_len) || !is_text(h->reason))
        abort();
    /* "HTTP/1.1 200" with no SP is the one form whose reason starts at 12. */
    if (h->reason.p != p + (p[12] == '\r' ? 12 : 13) || (p[12] != '\r' && p[12] != ' '))
        abort();
    p = h->reason.p + h->reason.len;
    if (end - p < 2 || memcmp(p, "\r\n", 2) != 0)
        abort();
    return p + 2;
}

/* One field per line, name:OWS value OWS CRLF, then the empty line. */
static void check_field_lines(const char *buf, const struct tg_resphead *h, const char *p)
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
        if (f->value.p != p || !inside(f->value, buf, h->head_len) || !is_text(f->value))
            abort();
        if (f->value.len > 0 && (is_ows(p[0]) || is_ows(p[f->value.len - 1])))
            abort();
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

/* ---- RFC 9112 §6.3 and §9.3 by hand ---- */

struct facts {
    int te_fields, chunked, cl_members, codings;
    bool te_empty, te_bad, cl_bad, cl_differ, close, keep_alive;
    bool last_chunked; /* the last coding seen so far is chunked */
    uint64_t length;
};

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

static void on_length(struct tg_str e, void *arg)
{
    struct facts *f = arg;
    uint64_t n = 0;
    if (decimal(e, &n) < 0)
        f->cl_bad = true;
    else if (f->cl_members > 0 && n != f->length)
        f->cl_differ = true;
    f->length = n;
    f->cl_members++;
}

static void on_coding(struct tg_str e, void *arg)
{
    struct facts *f = arg;
    f->codings++;
    f->last_chunked = same_nocase(e, "chunked");
    f->chunked += f->last_chunked;
    f->te_bad |= !is_token(e);
}

static void on_connection_option(struct tg_str e, void *arg)
{
    struct facts *f = arg;
    f->close |= same_nocase(e, "close");
    f->keep_alive |= same_nocase(e, "keep-alive");
}

static void read_fields(const struct tg_resphead *h, struct facts *f)
{
    for (size_t i = 0; i < h->nfields; i++) {
        const struct tg_field *fl = &h->fields[i];
        if (same_nocase(fl->name, "content-length")) {
            int before = f->cl_members;
            each_element(fl->value, on_length, f);
            f->cl_bad |= f->cl_members == before;
        } else if (same_nocase(fl->name, "transfer-encoding")) {
            int before = f->codings;
            f->te_fields++;
            each_element(fl->value, on_coding, f);
            f->te_empty |= f->codings == before;
        } else if (same_nocase(fl->name, "connection")) {
            each_element(fl->value, on_connection_option, f);
        }
    }
}

static enum tg_body_kind expected_body(const struct tg_resphead *h, bool head_request,
                                       const struct facts *f)
{
    if (head_request || h->status < 200 || h->status == 204 || h->status == 304)
        return TG_BODY_NONE;
    if (f->te_fields > 0) {
        /* Anything else must have been refused. */
        if (f->cl_members > 0 || f->te_empty || f->te_bad || f->chunked > 1)
            abort();
        return f->last_chunked ? TG_BODY_CHUNKED : TG_BODY_CLOSE;
    }
    if (f->cl_members == 0)
        return TG_BODY_CLOSE;
    if (f->cl_bad || f->cl_differ || h->content_length != f->length)
        abort();
    return TG_BODY_LENGTH;
}

static void check_facts(const struct tg_resphead *h, bool head_request)
{
    struct facts f = {0};
    read_fields(h, &f);
    if (h->body != expected_body(h, head_request, &f))
        abort();
    /* RFC 9112 §6.1: HTTP/1.0 with Transfer-Encoding is faulty framing: close after. */
    bool keep = !f.close && (h->minor_version == 1 || f.keep_alive) &&
                !(h->minor_version == 0 && f.te_fields > 0);
    if (h->keep_alive != (keep && h->body != TG_BODY_CLOSE))
        abort();
}

static void check_outcome(const char *buf, size_t size, size_t max_head, bool head_request, long r,
                          const struct tg_resphead *h, const struct tg_http_error *err)
{
    if (r > 0) {
        if ((size_t)r > size || (size_t)r > max_head || h->head_len != (size_t)r)
            abort();
        if (h->nfields > TG_REQHEAD_MAX_FIELDS)
            abort();
        check_lines(buf, h->head_len);
        check_field_lines(buf, h, check_status_line(buf, h));
        check_facts(h, head_request);
    } else if (r == 0 && size >= max_head) {
        abort();
    } else if (r == -1) {
        check_error(size, max_head, err);
    } else if (r != 0) {
        abort();
    }
}

/* ---- relations between parses ---- */

static bool same_str(struct tg_str a, struct tg_str b)
{
    return a.p == b.p && a.len == b.len;
}

/* Same head; body framing is compared by the caller when it must match. */
static bool same_head(const struct tg_resphead *a, const struct tg_resphead *b)
{
    if (a->minor_version != b->minor_version || a->status != b->status ||
        !same_str(a->reason, b->reason) || a->nfields != b->nfields || a->head_len != b->head_len)
        return false;
    for (size_t i = 0; i < a->nfields; i++) {
        if (!same_str(a->fields[i].name, b->fields[i].name) ||
            !same_str(a->fields[i].value, b->fields[i].value))
            return false;
    }
    return true;
}

static bool same_framing(const struct tg_resphead *a, const struct tg_resphead *b)
{
    return a->body == b->body && a->keep_alive == b->keep_alive &&
           (a->body != TG_BODY_LENGTH || a->content_length == b->content_length);
}

/* The same bytes as a response to HEAD: only the framing may differ. */
static void check_head_request(const char *buf, size_t size, long r,
                               const struct tg_http_error *err)
{
    struct tg_http_error e = {0, NULL};
    long rh = tg_resphead_parse(buf, size, WIDE, true, &other, &e);
    check_outcome(buf, size, WIDE, true, rh, &other, &e);
    if (r > 0 && (rh != r || !same_head(&other, &whole)))
        abort();
    if (rh == -1 && (r != -1 || strcmp(e.reason, err->reason) != 0))
        abort();
    if (r == 0 && rh != 0)
        abort();
}

/* Parses the first k bytes, as if the rest had not arrived yet. */
static void check_prefix(const char *buf, size_t k, long r)
{
    struct tg_http_error e = {0, NULL};
    long rk = tg_resphead_parse(buf, k, WIDE, false, &other, &e);
    check_outcome(buf, k, WIDE, false, rk, &other, &e);
    if ((r == 0 && rk != 0) || (rk < 0 && r >= 0))
        abort();
    if (rk > 0 && (rk != r || !same_head(&other, &whole) || !same_framing(&other, &whole)))
        abort();
}

static void check_tight(const char *buf, size_t size, long r)
{
    struct tg_http_error e = {0, NULL};
    long rt = tg_resphead_parse(buf, size, TIGHT, false, &other, &e);
    check_outcome(buf, size, TIGHT, false, rt, &other, &e);
    if (rt > 0 && (rt != r || !same_head(&other, &whole) || !same_framing(&other, &whole)))
        abort();
    if (r > 0 && whole.head_len <= TIGHT && rt != r)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct tg_http_error err = {0, NULL};
    long r = tg_resphead_parse(buf, size, WIDE, false, &whole, &err);
    check_outcome(buf, size, WIDE, false, r, &whole, &err);

    check_head_request(buf, size, r, &err);
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
