/*
 * fuzz_chunked: http/chunked on arbitrary bodies. The first byte seeds the
 * sizes of the pieces the rest is fed in (0 feeds one byte at a time, as a
 * slow client would), so the same body is decoded once whole and once cut
 * the way reads might cut it. Properties:
 *   - each step consumes at most what it was given; NEED_MORE consumes all
 *     of it; a DATA span is non-empty and is the last thing consumed; DONE
 *     and ERROR are final and consume nothing more; errors carry one of the
 *     documented status/reason pairs;
 *   - the decoded bytes never outnumber the input bytes;
 *   - cutting the input changes nothing: same outcome, same bytes consumed,
 *     same decoded data, same error;
 *   - a body the decoder accepts reads the same to a naive decoder (take
 *     the hex size, skip to CRLF, take that many bytes, CRLF; after size 0
 *     skip lines to the empty one): no two readers of an accepted body can
 *     disagree on where it ends, which is what request smuggling needs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
    int status;
    const char *reason;
} reasons[] = {
    {400, "chunked_bare_lf"},      {400, "chunked_bare_cr"},   {400, "invalid_chunk_size"},
    {400, "chunk_size_overflow"},  {400, "invalid_chunk_ext"}, {400, "chunk_ext_too_long"},
    {400, "chunked_missing_crlf"}, {400, "invalid_trailer"},   {431, "trailer_too_large"},
};

struct run {
    enum tg_chunked_result last;
    size_t used; /* input bytes consumed in total */
    char *out;   /* decoded bytes; owned, as large as the input */
    size_t nout;
    struct tg_http_error err;
};

static void check_error(const struct tg_http_error *err)
{
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (err->reason && strcmp(err->reason, reasons[i].reason) == 0 &&
            err->status == reasons[i].status)
            return;
    }
    abort();
}

/* A decoder that stopped must stay stopped, whatever it is fed. */
static void check_final(struct tg_chunked *c, enum tg_chunked_result r)
{
    size_t used = 1;
    struct tg_str d = {NULL, 0};
    struct tg_http_error err = {0, NULL};
    if (tg_chunked_step(c, "0\r\n\r\n", 5, &used, &d, &err) != r || used != 0)
        abort();
}

/* Feeds in[0..len) until it is consumed or the decoder stops. */
static void feed(struct tg_chunked *c, const char *in, size_t len, struct run *run, size_t cap)
{
    size_t off = 0;
    do {
        size_t used = len + 1;
        struct tg_str d = {NULL, 0};
        run->last = tg_chunked_step(c, in + off, len - off, &used, &d, &run->err);
        if (used > len - off)
            abort();
        if (run->last == TG_CHUNKED_DATA) {
            if (d.len == 0 || d.p < in + off || d.p + d.len != in + off + used)
                abort();
            if (run->nout + d.len > cap)
                abort();
            memcpy(run->out + run->nout, d.p, d.len);
            run->nout += d.len;
        }
        if (run->last == TG_CHUNKED_NEED_MORE && used != len - off)
            abort();
        off += used;
        run->used += used;
    } while (run->last == TG_CHUNKED_DATA);
    if (run->last == TG_CHUNKED_ERROR)
        check_error(&run->err);
    if (run->last == TG_CHUNKED_DONE || run->last == TG_CHUNKED_ERROR)
        check_final(c, run->last);
}

/* Piece sizes 1..(seed % 64 + 1) from a small LCG; seed 0 is byte by byte. */
static size_t next_piece(uint32_t *state, uint8_t seed)
{
    if (seed == 0)
        return 1;
    *state = *state * 1103515245u + 12345u;
    return 1 + (*state >> 16) % ((size_t)(seed % 64) + 1);
}

static void decode(const char *in, size_t len, uint8_t seed, bool whole, struct run *run)
{
    struct tg_chunked c;
    uint32_t state = seed;
    size_t off = 0;

    tg_chunked_init(&c);
    run->last = TG_CHUNKED_NEED_MORE;
    do {
        size_t n = whole ? len : next_piece(&state, seed);
        if (n > len - off)
            n = len - off;
        feed(&c, in + off, n, run, len);
        off += n;
    } while (run->last == TG_CHUNKED_NEED_MORE && off < len);
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
        return (ch | 0x20) - 'a' + 10;
    return -1;
}

/* Skips to just past the next CRLF, or returns len. */
static size_t past_crlf(const char *in, size_t len, size_t pos)
{
    while (pos + 1 < len && !(in[pos] == '\r' && in[pos + 1] == '\n'))
        pos++;
    return pos + 1 < len ? pos + 2 : len;
}

/* The naive reading of a body the decoder accepted (in[0..len), DONE). */
static void check_naive(const char *in, size_t len, const struct run *run)
{
    size_t pos = 0, nout = 0;
    for (;;) {
        uint64_t n = 0;
        while (pos < len && hex_value(in[pos]) >= 0)
            n = n * 16 + (uint64_t)hex_value(in[pos++]);
        pos = past_crlf(in, len, pos);
        if (n == 0)
            break;
        if (n > len - pos || n > run->nout - nout || memcmp(in + pos, run->out + nout, n) != 0)
            abort();
        pos += n;
        nout += n;
        if (len - pos < 2 || in[pos] != '\r' || in[pos + 1] != '\n')
            abort();
        pos += 2;
    }
    while (pos + 1 < len && !(in[pos] == '\r' && in[pos + 1] == '\n'))
        pos = past_crlf(in, len, pos);
    if (nout != run->nout || pos + 2 != len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    struct run a = {.out = malloc(len + 1)}, b = {.out = malloc(len + 1)};

    decode(in, len, data[0], true, &a);
    decode(in, len, data[0], false, &b);
    if (a.last != b.last || a.used != b.used || a.nout != b.nout ||
        memcmp(a.out, b.out, a.nout) != 0)
        abort();
    if (a.last == TG_CHUNKED_ERROR &&
        (a.err.status != b.err.status || strcmp(a.err.reason, b.err.reason) != 0))
        abort();
    if (a.last == TG_CHUNKED_DONE)
        check_naive(in, a.used, &a);
    free(a.out);
    free(b.out);
    return 0;
}
