/*
 * resphead: turns the bytes of an origin's response head into a struct
 * tg_resphead of views and decides how its body is framed. It owns the
 * status-line grammar (RFC 9112 §4) and the response rules of RFC 9112
 * §6.1-§6.3 and §9.3. Field-line syntax is shared with reqhead in field.c,
 * and every refusal is a 502 for the client: the origin is at fault.
 * Responses to CONNECT never come through here (the proxy opens the tunnel
 * itself), so the 2xx-to-CONNECT rule of §6.3 is not applied.
 */
#include "http/resphead.h"

#include <string.h>

#include "http/field.h"

struct resp_facts {
    struct tg_field_te te;
    int content_lengths;
    bool close;
    bool keep_alive;
};

static int fail(struct tg_http_error *err, const char *reason)
{
    err->status = 502;
    err->reason = reason;
    return -1;
}

static void reset(struct tg_resphead *out)
{
    out->minor_version = 0;
    out->status = 0;
    out->reason = (struct tg_str){"", 0};
    out->nfields = 0;
    out->head_len = 0;
    out->body = TG_BODY_CLOSE;
    out->content_length = 0;
    out->keep_alive = false;
}

/* HTTP-version SP 3DIGIT SP reason-phrase; the last SP may be missing. */
static int parse_status_line(struct tg_str line, struct tg_resphead *out)
{
    const char *p = line.p;

    if (line.len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1'))
        return -1;
    if (p[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
    }
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (status < 100 || status > 599)
        return -1;
    struct tg_str reason = {p + 12, 0};
    if (line.len > 12) {
        if (p[12] != ' ')
            return -1;
        reason = (struct tg_str){p + 13, line.len - 13};
    }
    if (!tg_field_is_value(reason))
        return -1;
    out->minor_version = p[7] - '0';
    out->status = status;
    out->reason = reason;
    return 0;
}

/*
 * RFC 9110 §8.6: a recipient may accept several Content-Length fields or a
 * list when every member is the same number; any difference is fatal.
 */
static int check_content_length(struct tg_resphead *out, struct resp_facts *f, struct tg_str value,
                                struct tg_http_error *err)
{
    struct tg_str rest = value, member;
    bool any = false;

    while (tg_str_next_token(&rest, &member)) {
        uint64_t n;
        any = true;
        if (tg_field_parse_length(member, &n) < 0)
            return fail(err, "invalid_content_length");
        if (f->content_lengths++ > 0 && n != out->content_length)
            return fail(err, "duplicate_content_length");
        out->content_length = n;
    }
    return any ? 0 : fail(err, "invalid_content_length");
}

static int check_fields(struct tg_resphead *out, bool has_body, struct resp_facts *f,
                        struct tg_http_error *err)
{
    for (size_t i = 0; i < out->nfields; i++) {
        struct tg_str name = out->fields[i].name;
        struct tg_str value = out->fields[i].value;
        /* Without a body (§6.3 rule 1) the framing fields only describe
         * the representation, so they are not held against the origin. */
        if (has_body && tg_str_eq_nocase(name, "content-length")) {
            if (check_content_length(out, f, value, err) < 0)
                return -1;
        } else if (tg_str_eq_nocase(name, "transfer-encoding")) {
            tg_field_te_add(&f->te, value);
        } else if (tg_str_eq_nocase(name, "connection")) {
            tg_field_connection(value, &f->close, &f->keep_alive);
        }
    }
    return 0;
}

/* RFC 9112 §6.3 rules 3-7, for a response that may have a body. */
static int decide_body(struct tg_resphead *out, const struct resp_facts *f,
                       struct tg_http_error *err)
{
    const struct tg_field_te *te = &f->te;

    if (te->nfields == 0) {
        out->body = f->content_lengths > 0 ? TG_BODY_LENGTH : TG_BODY_CLOSE;
        return 0;
    }
    /* §6.3 rule 3 says Transfer-Encoding wins, but a message with both is
     * exactly what smuggling attacks send; we do not guess. */
    if (f->content_lengths > 0)
        return fail(err, "upstream_cl_te_conflict");
    if (te->invalid)
        return fail(err, "invalid_transfer_encoding");
    if (te->nchunked > 1)
        return fail(err, "te_chunked_twice");
    /* §6.3 rule 4: chunked not last means the body ends at close. */
    out->body = te->chunked_last ? TG_BODY_CHUNKED : TG_BODY_CLOSE;
    return 0;
}

static bool may_have_body(int status, bool request_was_head)
{
    return !request_was_head && status >= 200 && status != 204 && status != 304;
}

long tg_resphead_parse(const char *buf, size_t len, size_t max_head, bool request_was_head,
                       struct tg_resphead *out, struct tg_http_error *err)
{
    size_t end = len < max_head ? len : max_head;
    struct tg_str line;
    size_t next = 0;
    const char *reason = NULL;

    reset(out);
    int r = tg_field_start_line(buf, end, &line, &next, &reason);
    if (r < 0)
        return fail(err, reason);
    if (r == 0)
        return len >= max_head ? fail(err, "upstream_header_too_large") : 0;
    if (parse_status_line(line, out) < 0)
        return fail(err, "bad_status_line");

    struct tg_field_limits flim = {
        .max_head = max_head,
        .max_fields = TG_REQHEAD_MAX_FIELDS,
        .status = 502,
        .limit_status = 502,
        .too_large = "upstream_header_too_large",
        .too_many = "upstream_too_many_headers",
    };
    long head_len = tg_field_parse_block(buf, len, next, &flim, out->fields, &out->nfields, err);
    if (head_len <= 0)
        return head_len;

    struct resp_facts f = {0};
    bool has_body = may_have_body(out->status, request_was_head);
    if (check_fields(out, has_body, &f, err) < 0)
        return -1;
    out->body = TG_BODY_NONE;
    if (has_body && decide_body(out, &f, err) < 0)
        return -1;
    /* RFC 9112 §9.3; a body delimited by close ends the connection, and an
     * HTTP/1.0 message with Transfer-Encoding has faulty framing (§6.1). */
    bool faulty = out->minor_version == 0 && f.te.nfields > 0;
    out->keep_alive = !f.close && (out->minor_version == 1 || f.keep_alive) &&
                      out->body != TG_BODY_CLOSE && !faulty;
    out->head_len = (size_t)head_len;
    return head_len;
}
