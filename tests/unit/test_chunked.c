/* Unit tests for src/http/chunked.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/chunked.h"

/* What decoding one input gave. */
struct outcome {
    enum tg_chunked_result last;
    char data[8192];
    size_t ndata;
    size_t used; /* input bytes consumed in total */
    struct tg_http_error err;
};

/* Feeds in[0..len) to c until it is all consumed or the decoder stops. */
static enum tg_chunked_result feed(struct tg_chunked *c, const char *in, size_t len,
                                   struct outcome *o)
{
    size_t off = 0;
    for (;;) {
        size_t used = 0;
        struct tg_str data = {NULL, 0};
        enum tg_chunked_result r = tg_chunked_step(c, in + off, len - off, &used, &data, &o->err);
        assert_true(used <= len - off);
        off += used;
        o->used += used;
        o->last = r;
        if (r != TG_CHUNKED_DATA)
            return r;
        assert_true(data.len > 0);
        assert_true(data.p >= in && data.p + data.len <= in + len);
        assert_true(o->ndata + data.len <= sizeof(o->data));
        memcpy(o->data + o->ndata, data.p, data.len);
        o->ndata += data.len;
    }
}

/* Decodes s cut at the given offsets (ascending, ncuts of them). */
static void decode_cut(const char *s, size_t len, const size_t *cuts, size_t ncuts,
                       struct outcome *o)
{
    struct tg_chunked c;
    size_t from = 0;
    memset(o, 0, sizeof(*o));
    tg_chunked_init(&c);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        if (feed(&c, s + from, to - from, o) != TG_CHUNKED_NEED_MORE)
            return;
        from = to;
    }
}

static struct outcome result;

static enum tg_chunked_result decode(const char *s)
{
    decode_cut(s, strlen(s), NULL, 0, &result);
    return result.last;
}

static void assert_decodes_to(const char *s, const char *want)
{
    assert_int_equal(decode(s), TG_CHUNKED_DONE);
    assert_int_equal(result.ndata, strlen(want));
    assert_memory_equal(result.data, want, result.ndata);
    assert_int_equal(result.used, strlen(s));
}

static void assert_fails(const char *s, int status, const char *reason)
{
    assert_int_equal(decode(s), TG_CHUNKED_ERROR);
    assert_int_equal(result.err.status, status);
    assert_string_equal(result.err.reason, reason);
}

static const char sample[] = "5\r\nhello\r\n1;a=b;c=\"q;\\\"x\"\r\n \r\nA \t;ext\r\n0123456789\r\n"
                             "000\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n";
static const char sample_data[] = "hello 0123456789";

static void test_decodes_data_extensions_and_trailers(void **state)
{
    assert_decodes_to(sample, sample_data);
    assert_decodes_to("0\r\n\r\n", "");
    assert_decodes_to("00005\r\nabcde\r\n0\r\n\r\n", "abcde");
    assert_decodes_to("f\r\n0123456789abcde\r\nF\r\n0123456789ABCDE\r\n0\r\n\r\n",
                      "0123456789abcde0123456789ABCDE");
}

static void test_same_output_wherever_the_input_is_split(void **state)
{
    size_t len = strlen(sample);
    struct outcome o;
    for (size_t i = 0; i <= len; i++) {
        decode_cut(sample, len, &i, 1, &o);
        assert_int_equal(o.last, TG_CHUNKED_DONE);
        assert_int_equal(o.ndata, strlen(sample_data));
        assert_memory_equal(o.data, sample_data, o.ndata);
        for (size_t j = i; j <= len; j++) {
            size_t cuts[2] = {i, j};
            decode_cut(sample, len, cuts, 2, &o);
            assert_int_equal(o.last, TG_CHUNKED_DONE);
            assert_int_equal(o.used, len);
            assert_memory_equal(o.data, sample_data, strlen(sample_data));
        }
    }
}

static void test_byte_by_byte(void **state)
{
    size_t len = strlen(sample);
    size_t cuts[sizeof(sample)];
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    struct outcome o;
    decode_cut(sample, len, cuts, len - 1, &o);
    assert_int_equal(o.last, TG_CHUNKED_DONE);
    assert_int_equal(o.ndata, strlen(sample_data));
    assert_memory_equal(o.data, sample_data, o.ndata);
}

static void test_stops_at_the_end_of_the_body(void **state)
{
    const char *s = "3\r\nabc\r\n0\r\n\r\nGET http://next/ HTTP/1.1\r\n";
    assert_int_equal(decode(s), TG_CHUNKED_DONE);
    assert_int_equal(result.used, strlen("3\r\nabc\r\n0\r\n\r\n"));

    struct tg_chunked c;
    size_t used = 99;
    struct tg_str data;
    struct tg_http_error err;
    tg_chunked_init(&c);
    assert_int_equal(tg_chunked_step(&c, "0\r\n\r\n", 5, &used, &data, &err), TG_CHUNKED_DONE);
    assert_int_equal(tg_chunked_step(&c, "xyz", 3, &used, &data, &err), TG_CHUNKED_DONE);
    assert_int_equal(used, 0);
}

static void test_need_more_consumes_everything(void **state)
{
    assert_int_equal(decode("1f;name=val"), TG_CHUNKED_NEED_MORE);
    assert_int_equal(result.used, 11);
    assert_int_equal(decode("10\r\n0123"), TG_CHUNKED_NEED_MORE);
    assert_int_equal(result.ndata, 4);
    assert_int_equal(decode(""), TG_CHUNKED_NEED_MORE);
}

static void test_size_line_errors(void **state)
{
    assert_fails("5\nhello\r\n0\r\n\r\n", 400, "chunked_bare_lf");
    assert_fails("5;x\nhello\r\n0\r\n\r\n", 400, "chunked_bare_lf");
    assert_fails("\n", 400, "chunked_bare_lf");
    assert_fails("5\rhello", 400, "chunked_bare_cr");
    assert_fails(" 5\r\nhello\r\n", 400, "invalid_chunk_size");
    assert_fails("5 5\r\n", 400, "invalid_chunk_size");
    assert_fails("5 \r\n", 400, "invalid_chunk_size");
    assert_fails("\r\n", 400, "invalid_chunk_size");
    assert_fails("-5\r\n", 400, "invalid_chunk_size");
    assert_fails("0x5\r\n", 400, "invalid_chunk_size");
    assert_fails("g\r\n", 400, "invalid_chunk_size");
    assert_fails("5;a\x01\r\n", 400, "invalid_chunk_ext");
    assert_fails("5;a=\"x\r\n\"\r\n", 400, "invalid_chunk_ext");
    assert_fails("5;a=\"x\n", 400, "chunked_bare_lf");
}

static void test_size_overflow(void **state)
{
    /* 15 digits is the most we read; 16 is refused even as zeros. */
    assert_int_equal(decode("fffffffffffffff\r\nab"), TG_CHUNKED_NEED_MORE);
    assert_fails("1000000000000000\r\n", 400, "chunk_size_overflow");
    assert_fails("0000000000000000\r\n", 400, "chunk_size_overflow");
    assert_fails("ffffffffffffffffffffffff\r\n", 400, "chunk_size_overflow");
}

static void test_extension_length_is_bounded(void **state)
{
    char buf[5000];
    memset(buf, 'a', sizeof(buf));
    buf[0] = '1';
    buf[1] = ';';
    memcpy(buf + 4094, "\r\nx\r\n0\r\n\r\n", 11); /* size line of 4095 bytes with CR */
    assert_int_equal(decode(buf), TG_CHUNKED_DONE);
    memset(buf, 'a', sizeof(buf));
    buf[0] = '1';
    buf[1] = ';';
    memcpy(buf + 4096, "\r\nx\r\n0\r\n\r\n", 11); /* 4097 bytes with CR */
    assert_fails(buf, 400, "chunk_ext_too_long");
}

static void test_data_must_end_with_crlf(void **state)
{
    assert_fails("5\r\nhelloX\r\n0\r\n\r\n", 400, "chunked_missing_crlf");
    assert_fails("5\r\nhello\rX", 400, "chunked_missing_crlf");
    assert_fails("5\r\nhello\n0\r\n\r\n", 400, "chunked_missing_crlf");
    /* Squid CVE-2023-46846: a short chunk must not swallow the next line. */
    assert_fails("3\r\nhello\r\n0\r\n\r\n", 400, "chunked_missing_crlf");
}

static void test_trailer_errors(void **state)
{
    assert_fails("0\r\nX: y\n\r\n", 400, "chunked_bare_lf");
    assert_fails("0\r\n\n", 400, "chunked_bare_lf");
    assert_fails("0\r\n\rx", 400, "chunked_bare_cr");
    assert_fails("0\r\nX: y\rz\r\n\r\n", 400, "chunked_bare_cr");

    static const char nul[] = "0\r\nX: \0\r\n\r\n";
    struct outcome o;
    decode_cut(nul, sizeof(nul) - 1, NULL, 0, &o);
    assert_int_equal(o.last, TG_CHUNKED_ERROR);
    assert_string_equal(o.err.reason, "invalid_trailer");
}

static void test_trailer_size_is_bounded(void **state)
{
    static char buf[20000];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "0\r\n");
    while (n < 16384)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-Trailer: 0123456789\r\n");
    snprintf(buf + n, sizeof(buf) - n, "\r\n");
    assert_fails(buf, 431, "trailer_too_large");
}

static void test_error_is_sticky(void **state)
{
    struct tg_chunked c;
    size_t used;
    struct tg_str data;
    struct tg_http_error err;
    tg_chunked_init(&c);
    assert_int_equal(tg_chunked_step(&c, "z", 1, &used, &data, &err), TG_CHUNKED_ERROR);
    assert_int_equal(tg_chunked_step(&c, "0\r\n\r\n", 5, &used, &data, &err), TG_CHUNKED_ERROR);
    assert_int_equal(used, 0);
    assert_int_equal(err.status, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decodes_data_extensions_and_trailers),
        cmocka_unit_test(test_same_output_wherever_the_input_is_split),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_stops_at_the_end_of_the_body),
        cmocka_unit_test(test_need_more_consumes_everything),
        cmocka_unit_test(test_size_line_errors),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_extension_length_is_bounded),
        cmocka_unit_test(test_data_must_end_with_crlf),
        cmocka_unit_test(test_trailer_errors),
        cmocka_unit_test(test_trailer_size_is_bounded),
        cmocka_unit_test(test_error_is_sticky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
