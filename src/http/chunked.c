/*
 * chunked: a byte-at-a-time state machine for the chunked transfer coding
 * (RFC 9112 §7.1). Framing bytes are consumed one by one, so a size line or
 * trailer split across reads needs no buffering and gives the same result
 * wherever the split falls; data bytes are handed back as views in one
 * piece. It is strict where parsers have disagreed and been exploited
 * (Squid CVE-2023-46846): no bare LF or lone CR, no whitespace inside or
 * before the size, at most 15 hex digits, bounded extensions with balanced
 * quotes, CRLF required after data, bounded trailers. It does not interpret
 * extensions or trailers (RFC 9112 §7.1.1-§7.1.2 let a proxy drop them).
 * Errors are 400 (431 for trailers); a caller decoding an origin's body
 * answers 502 instead.
 */
#include "http/chunked.h"

#include <stdbool.h>

/* 15 hex digits stay below 2^60: no overflow, and far past any real body. */
#define MAX_SIZE_DIGITS 15
/* A size line with extensions; longer ones are an attack, not a client. */
#define MAX_SIZE_LINE 4096
/* All trailer lines together, like a small head. */
#define MAX_TRAILER 16384

enum {
    S_SIZE_START = 0, /* first byte of a size line: a hex digit */
    S_SIZE,           /* more hex digits */
    S_BWS,            /* whitespace after the size, before ';' */
    S_EXT,            /* inside chunk extensions */
    S_EXT_QUOTED,     /* inside a quoted-string in an extension */
    S_EXT_ESCAPE,     /* after a backslash in a quoted-string */
    S_SIZE_LF,        /* after the CR that ends a size line */
    S_DATA,           /* chunk data; c->remaining bytes to go */
    S_DATA_CR,        /* the CR after chunk data */
    S_DATA_LF,        /* the LF after chunk data */
    S_TRAILER_START,  /* start of a trailer line or of the final CRLF */
    S_TRAILER,        /* inside a trailer line */
    S_TRAILER_LF,     /* after the CR that ends a trailer line */
    S_END_LF,         /* after the CR of the final CRLF */
    S_DONE,
    S_ERROR,
};

struct fault {
    int status;
    const char *reason;
};

void tg_chunked_init(struct tg_chunked *c)
{
    c->state = S_SIZE_START;
    c->remaining = 0;
    c->line_len = 0;
    c->trailer_len = 0;
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static bool bad(struct fault *f, int status, const char *reason)
{
    f->status = status;
    f->reason = reason;
    return false;
}

/* The CR that ends a size line; any other control byte is refused. */
static bool line_end_or_ctl(struct tg_chunked *c, char ch, struct fault *f)
{
    if (ch == '\r') {
        c->state = S_SIZE_LF;
        return true;
    }
    if (ch == '\n')
        return bad(f, 400, "chunked_bare_lf");
    return bad(f, 400, "invalid_chunk_ext");
}

/* chunk-ext (RFC 9112 §7.1.1), read loosely but with quotes balanced so a
 * CRLF can never hide inside a quoted-string. */
static bool ext_byte(struct tg_chunked *c, char ch, struct fault *f)
{
    unsigned char u = (unsigned char)ch;
    bool ctl = (u < 0x20 && ch != '\t') || u == 0x7f;

    if (c->state == S_EXT_ESCAPE) {
        c->state = S_EXT_QUOTED;
        return ctl ? bad(f, 400, "invalid_chunk_ext") : true;
    }
    if (ctl && c->state == S_EXT)
        return line_end_or_ctl(c, ch, f);
    if (ctl)
        return bad(f, 400, ch == '\n' ? "chunked_bare_lf" : "invalid_chunk_ext");
    if (ch == '"')
        c->state = c->state == S_EXT ? S_EXT_QUOTED : S_EXT;
    else if (ch == '\\' && c->state == S_EXT_QUOTED)
        c->state = S_EXT_ESCAPE;
    return true;
}

/* chunk-size [ chunk-ext ] CRLF; whitespace only as BWS before ';'. */
static bool size_byte(struct tg_chunked *c, char ch, struct fault *f)
{
    int v = hex_value(ch);

    if (++c->line_len > MAX_SIZE_LINE)
        return bad(f, 400, "chunk_ext_too_long");
    if (c->state == S_SIZE_START || (c->state == S_SIZE && v >= 0)) {
        if (v < 0)
            return bad(f, 400, ch == '\n' ? "chunked_bare_lf" : "invalid_chunk_size");
        if (c->line_len > MAX_SIZE_DIGITS)
            return bad(f, 400, "chunk_size_overflow");
        c->remaining = c->remaining * 16 + (uint64_t)v;
        c->state = S_SIZE;
        return true;
    }
    if (c->state == S_SIZE || c->state == S_BWS) {
        if (ch == ' ' || ch == '\t')
            c->state = S_BWS;
        else if (ch == ';')
            c->state = S_EXT;
        else if (c->state == S_SIZE && (ch == '\r' || ch == '\n'))
            return line_end_or_ctl(c, ch, f);
        else
            return bad(f, 400, "invalid_chunk_size");
        return true;
    }
    return ext_byte(c, ch, f);
}

/* The LF after a size line: a zero size starts the trailer section. */
static bool size_lf(struct tg_chunked *c, char ch, struct fault *f)
{
    if (ch != '\n')
        return bad(f, 400, "chunked_bare_cr");
    c->line_len = 0;
    c->state = c->remaining == 0 ? S_TRAILER_START : S_DATA;
    return true;
}

/* trailer-section CRLF (RFC 9112 §7.1.2): field lines are only checked
 * for what could desynchronise framing, since they are dropped. */
static bool trailer_byte(struct tg_chunked *c, char ch, struct fault *f)
{
    if (++c->trailer_len > MAX_TRAILER)
        return bad(f, 431, "trailer_too_large");
    if (ch == '\n' && c->state != S_TRAILER_LF && c->state != S_END_LF)
        return bad(f, 400, "chunked_bare_lf");
    if (ch == '\0')
        return bad(f, 400, "invalid_trailer");
    switch (c->state) {
    case S_TRAILER_START:
        c->state = ch == '\r' ? S_END_LF : S_TRAILER;
        return true;
    case S_TRAILER:
        if (ch == '\r')
            c->state = S_TRAILER_LF;
        return true;
    default: /* S_TRAILER_LF, S_END_LF */
        if (ch != '\n')
            return bad(f, 400, "chunked_bare_cr");
        c->state = c->state == S_END_LF ? S_DONE : S_TRAILER_START;
        return true;
    }
}

/* Feeds one framing byte (any state but S_DATA, S_DONE, S_ERROR). */
static bool framing_byte(struct tg_chunked *c, char ch, struct fault *f)
{
    switch (c->state) {
    case S_SIZE_LF:
        return size_lf(c, ch, f);
    case S_DATA_CR:
    case S_DATA_LF:
        if (ch != (c->state == S_DATA_CR ? '\r' : '\n'))
            return bad(f, 400, "chunked_missing_crlf");
        c->state = c->state == S_DATA_CR ? S_DATA_LF : S_SIZE_START;
        c->remaining = 0;
        return true;
    case S_TRAILER_START:
    case S_TRAILER:
    case S_TRAILER_LF:
    case S_END_LF:
        return trailer_byte(c, ch, f);
    default:
        return size_byte(c, ch, f);
    }
}

static enum tg_chunked_result data_span(struct tg_chunked *c, const char *in, size_t len,
                                        size_t *consumed, struct tg_str *data)
{
    size_t n = len - *consumed;
    if ((uint64_t)n > c->remaining)
        n = (size_t)c->remaining;
    data->p = in + *consumed;
    data->len = n;
    c->remaining -= n;
    *consumed += n;
    if (c->remaining == 0)
        c->state = S_DATA_CR;
    return TG_CHUNKED_DATA;
}

enum tg_chunked_result tg_chunked_step(struct tg_chunked *c, const char *in, size_t len,
                                       size_t *consumed, struct tg_str *data,
                                       struct tg_http_error *err)
{
    struct fault f = {400, "chunked_after_error"};

    *consumed = 0;
    if (c->state == S_DONE)
        return TG_CHUNKED_DONE;
    while (c->state != S_ERROR && *consumed < len) {
        if (c->state == S_DATA)
            return data_span(c, in, len, consumed, data);
        if (!framing_byte(c, in[(*consumed)++], &f)) {
            c->state = S_ERROR;
            break;
        }
        if (c->state == S_DONE)
            return TG_CHUNKED_DONE;
    }
    if (c->state != S_ERROR)
        return TG_CHUNKED_NEED_MORE;
    err->status = f.status;
    err->reason = f.reason;
    return TG_CHUNKED_ERROR;
}
