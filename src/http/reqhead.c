/*
 * reqhead: turns the bytes of a client's request head into a struct
 * tg_reqhead of views, and decides how the request body is framed. It owns
 * the request-line grammar (RFC 9112 §2.2, §3), the limits on the head, and
 * the request rules of RFC 9112 §6.1-§6.3 and RFC 9110 §7.2, §7.6.1,
 * §10.1.1. Field-line syntax is shared with resphead in field.c; the target
 * is interpreted by target.c. The parser is stateless: a caller with a
 * partial head calls again from the start once more bytes have arrived.
 */
#include "http/reqhead.h"

#include <string.h>

#include "http/field.h"

/* What the fields say about framing and the connection. */
struct req_facts {
    struct tg_field_te te;
    int content_lengths;
    bool close;
    bool keep_alive;
};

static int fail(struct tg_http_error *err, int status, const char *reason)
{
    err->status = status;
    err->reason = reason;
    return -1;
}

static void reset(struct tg_reqhead *out)
{
    out->method = (struct tg_str){"", 0};
    out->target = (struct tg_str){"", 0};
    out->minor_version = 0;
    out->nfields = 0;
    out->head_len = 0;
    out->body = TG_BODY_NONE;
    out->content_length = 0;
    out->keep_alive = false;
    out->expect_continue = false;
    out->is_connect = false;
    out->host_index = -1;
    out->proxy_auth_index = -1;
    out->proxy_auth_count = 0;
}

/* Finds the request line and applies the line and head limits to it. */
static int find_request_line(const char *buf, size_t len, const struct tg_reqhead_limits *lim,
                             struct tg_str *line, size_t *next, struct tg_http_error *err)
{
    size_t end = len < lim->max_head ? len : lim->max_head;
    const char *reason = NULL;

    int r = tg_field_start_line(buf, end, line, next, &reason);
    if (r < 0)
        return fail(err, 400, reason);
    /* Checked on partial lines too, so a client cannot make us wait for
     * (and rescan) a line that is already too long. */
    if (line->len > lim->max_request_line)
        return fail(err, 414, "request_line_too_long");
    if (r == 0 && len >= lim->max_head)
        return fail(err, 431, "header_too_large");
    return r;
}

/* request-target bytes: visible ASCII only, so no CTL or SP can split it. */
static bool is_target(struct tg_str t)
{
    if (t.len == 0)
        return false;
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

/* HTTP-version (RFC 9112 §2.3): sets *minor or returns the HTTP status. */
static int parse_version(struct tg_str v, int *minor)
{
    if (v.len != 8 || memcmp(v.p, "HTTP/", 5) != 0 || v.p[6] != '.')
        return 400;
    if (v.p[5] < '0' || v.p[5] > '9' || v.p[7] < '0' || v.p[7] > '9')
        return 400;
    if (v.p[5] != '1' || (v.p[7] != '0' && v.p[7] != '1'))
        return 505;
    *minor = v.p[7] - '0';
    return 0;
}

/* method SP request-target SP HTTP-version, exactly one SP each. */
static int parse_request_line(struct tg_str line, struct tg_reqhead *out, struct tg_http_error *err)
{
    const char *sp1 = memchr(line.p, ' ', line.len);
    if (!sp1)
        return fail(err, 400, "bad_request_line");
    size_t rest_len = line.len - (size_t)(sp1 + 1 - line.p);
    const char *sp2 = memchr(sp1 + 1, ' ', rest_len);
    if (!sp2)
        return fail(err, 400, "bad_request_line");

    struct tg_str method = {line.p, (size_t)(sp1 - line.p)};
    struct tg_str target = {sp1 + 1, (size_t)(sp2 - sp1 - 1)};
    struct tg_str version = {sp2 + 1, line.len - (size_t)(sp2 + 1 - line.p)};
    if (!tg_field_is_token(method) || !is_target(target))
        return fail(err, 400, "bad_request_line");
    int status = parse_version(version, &out->minor_version);
    if (status != 0)
        return fail(err, status, status == 505 ? "bad_version" : "bad_request_line");

    out->method = method;
    out->target = target;
    /* Methods are case-sensitive (RFC 9110 §9.1). */
    out->is_connect = tg_str_eq(method, tg_str_c("CONNECT"));
    return 0;
}

static int check_content_length(struct tg_reqhead *out, struct req_facts *f, struct tg_str value,
                                struct tg_http_error *err)
{
    /* RFC 9110 §8.6 lets a recipient merge identical values; we do not,
     * since every extra copy is a chance for two parsers to disagree. */
    if (++f->content_lengths > 1 || memchr(value.p, ',', value.len))
        return fail(err, 400, "duplicate_content_length");
    if (tg_field_parse_length(value, &out->content_length) < 0)
        return fail(err, 400, "invalid_content_length");
    return 0;
}

static int check_expect(struct tg_reqhead *out, struct tg_str value, struct tg_http_error *err)
{
    if (!tg_str_eq_nocase(value, "100-continue"))
        return fail(err, 417, "unsupported_expectation");
    /* RFC 9110 §10.1.1: ignore 100-continue from an HTTP/1.0 client. */
    out->expect_continue = out->minor_version == 1;
    return 0;
}

/* Records what field i means; fails on the first one that is refused. */
static int check_field(struct tg_reqhead *out, size_t i, struct req_facts *f,
                       struct tg_http_error *err)
{
    struct tg_str name = out->fields[i].name;
    struct tg_str value = out->fields[i].value;

    if (tg_str_eq_nocase(name, "content-length"))
        return check_content_length(out, f, value, err);
    if (tg_str_eq_nocase(name, "transfer-encoding"))
        tg_field_te_add(&f->te, value);
    else if (tg_str_eq_nocase(name, "host")) {
        if (out->host_index >= 0)
            return fail(err, 400, "duplicate_host");
        out->host_index = (int)i;
    } else if (tg_str_eq_nocase(name, "connection") || tg_str_eq_nocase(name, "proxy-connection")) {
        /* Proxy-Connection is what pre-1.1 clients send to a proxy. */
        tg_field_connection(value, &f->close, &f->keep_alive);
    } else if (tg_str_eq_nocase(name, "expect"))
        return check_expect(out, value, err);
    else if (tg_str_eq_nocase(name, "proxy-authorization")) {
        if (out->proxy_auth_count++ == 0)
            out->proxy_auth_index = (int)i;
    }
    return 0;
}

/*
 * Transfer-Encoding in a request (RFC 9112 §6.1, §6.3). With chunked
 * last we can find the end of the body; anything else would leave the
 * next hop guessing, which is how requests get smuggled.
 */
static int check_transfer_encoding(const struct tg_reqhead *out, const struct req_facts *f,
                                   struct tg_http_error *err)
{
    const struct tg_field_te *te = &f->te;

    if (f->content_lengths > 0)
        return fail(err, 400, "cl_te_conflict");
    if (out->minor_version == 0)
        return fail(err, 400, "te_in_http10");
    if (te->invalid)
        return fail(err, 400, "invalid_transfer_encoding");
    if (te->nchunked > 1)
        return fail(err, 400, "te_chunked_twice");
    if (te->nchunked == 1 && !te->chunked_last)
        return fail(err, 400, "te_not_chunked_last");
    if (te->nchunked == 0 || te->other)
        return fail(err, 501, "unsupported_transfer_coding");
    return 0;
}

static int check_fields(struct tg_reqhead *out, struct tg_http_error *err)
{
    struct req_facts f = {0};

    for (size_t i = 0; i < out->nfields; i++) {
        if (check_field(out, i, &f, err) < 0)
            return -1;
    }
    if (f.te.nfields > 0) {
        if (check_transfer_encoding(out, &f, err) < 0)
            return -1;
        out->body = TG_BODY_CHUNKED;
    } else if (f.content_lengths > 0) {
        out->body = TG_BODY_LENGTH;
    }
    /* RFC 9112 §3.2: HTTP/1.1 requires Host. CONNECT is let through
     * without one: its target already names the authority. */
    if (out->minor_version == 1 && out->host_index < 0 && !out->is_connect)
        return fail(err, 400, "missing_host");
    /* RFC 9112 §9.3: persistent by default in 1.1 only; close wins. */
    out->keep_alive = !f.close && (out->minor_version == 1 || f.keep_alive);
    return 0;
}

long tg_reqhead_parse(const char *buf, size_t len, const struct tg_reqhead_limits *lim,
                      struct tg_reqhead *out, struct tg_http_error *err)
{
    struct tg_str line;
    size_t next = 0;

    reset(out);
    int r = find_request_line(buf, len, lim, &line, &next, err);
    if (r <= 0)
        return r;
    if (parse_request_line(line, out, err) < 0)
        return -1;

    struct tg_field_limits flim = {
        .max_head = lim->max_head,
        .max_fields =
            lim->max_fields < TG_REQHEAD_MAX_FIELDS ? lim->max_fields : TG_REQHEAD_MAX_FIELDS,
        .status = 400,
        .limit_status = 431,
        .too_large = "header_too_large",
        .too_many = "too_many_headers",
    };
    long head_len = tg_field_parse_block(buf, len, next, &flim, out->fields, &out->nfields, err);
    if (head_len <= 0)
        return head_len;
    if (check_fields(out, err) < 0)
        return -1;
    out->head_len = (size_t)head_len;
    return head_len;
}

const struct tg_field *tg_reqhead_find(const struct tg_reqhead *h, const char *name)
{
    for (size_t i = 0; i < h->nfields; i++) {
        if (tg_str_eq_nocase(h->fields[i].name, name))
            return &h->fields[i];
    }
    return NULL;
}
