/* Unit tests for src/http/resphead.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/resphead.h"

static struct tg_resphead resp;
static struct tg_http_error err;

static long parse_as(const char *s, bool head)
{
    err.status = 0;
    err.reason = NULL;
    return tg_resphead_parse(s, strlen(s), 16384, head, &resp, &err);
}

static long parse(const char *s)
{
    return parse_as(s, false);
}

static void assert_rejected(const char *s, const char *reason)
{
    assert_int_equal(parse(s), -1);
    assert_int_equal(err.status, 502);
    assert_string_equal(err.reason, reason);
}

static void assert_view(struct tg_str v, const char *want)
{
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.p, want, v.len);
}

static void test_ok_with_content_length(void **state)
{
    const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nServer: x\r\n\r\nhello world!";
    assert_int_equal(parse(s), (long)strlen(s) - 12);
    assert_int_equal(resp.status, 200);
    assert_int_equal(resp.minor_version, 1);
    assert_view(resp.reason, "OK");
    assert_int_equal(resp.nfields, 2);
    assert_int_equal(resp.body, TG_BODY_LENGTH);
    assert_int_equal(resp.content_length, 12);
    assert_true(resp.keep_alive);
    assert_int_equal(resp.head_len, strlen(s) - 12);
}

static void test_every_prefix_needs_more(void **state)
{
    const char *s = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX: y\r\n\r\n";
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tg_resphead_parse(s, i, 16384, false, &resp, &err), 0);
    assert_int_equal(tg_resphead_parse(s, n, 16384, false, &resp, &err), (long)n);
}

static void test_status_line_forms(void **state)
{
    assert_true(parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n") > 0);
    assert_int_equal(resp.reason.len, 0);
    assert_true(parse("HTTP/1.0 200 \r\n\r\n") > 0);
    assert_int_equal(resp.reason.len, 0);
    assert_true(parse("HTTP/1.1 599 Some Thing\t(x)\r\n\r\n") > 0);
    assert_view(resp.reason, "Some Thing\t(x)");
    assert_true(parse("\r\nHTTP/1.1 100 Continue\r\n\r\n") > 0);
    assert_int_equal(resp.status, 100);
}

static void test_bad_status_lines(void **state)
{
    const char *bad[] = {
        "HTTP/1.1 099 x\r\n\r\n",   "HTTP/1.1 600 x\r\n\r\n",     "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n",     "HTTP/2.0 200 OK\r\n\r\n",
        "HTTP/1.2 200 OK\r\n\r\n",  "http/1.1 200 OK\r\n\r\n",    "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\n\r\n",  "HTTP/1.1 200 O\x01K\r\n\r\n", "ICY 200 OK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_rejected(bad[i], "bad_status_line");
}

static void test_no_body_statuses_and_head(void **state)
{
    assert_true(parse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_NONE);
    assert_true(resp.keep_alive);
    assert_true(parse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
                      "Content-Length: 10\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_NONE);
    assert_true(parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_NONE);
    assert_true(parse_as("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true) > 0);
    assert_int_equal(resp.body, TG_BODY_NONE);
    assert_true(resp.keep_alive);
}

static void test_transfer_encoding(void **state)
{
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_CHUNKED);
    assert_true(resp.keep_alive);
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
                      "Transfer-Encoding: CHUNKED\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_CHUNKED);
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_CLOSE);
    assert_false(resp.keep_alive);
    assert_true(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_CLOSE);
    assert_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
                    "upstream_cl_te_conflict");
    assert_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                    "te_chunked_twice");
    assert_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n\r\n", "invalid_transfer_encoding");
    assert_rejected("HTTP/1.1 200 OK\r\nTransfer-Encoding: a b\r\n\r\n",
                    "invalid_transfer_encoding");
}

static void test_content_length_duplicates(void **state)
{
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_LENGTH);
    assert_int_equal(resp.content_length, 5);
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n") > 0);
    assert_int_equal(resp.content_length, 7);
    assert_rejected("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                    "duplicate_content_length");
    assert_rejected("HTTP/1.1 200 OK\r\nContent-Length: 5, 50\r\n\r\n",
                    "duplicate_content_length");
    assert_rejected("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", "invalid_content_length");
    assert_rejected("HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n", "invalid_content_length");
    assert_rejected("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                    "invalid_content_length");
}

static void test_close_delimited_and_keep_alive(void **state)
{
    assert_true(parse("HTTP/1.1 200 OK\r\n\r\n") > 0);
    assert_int_equal(resp.body, TG_BODY_CLOSE);
    assert_false(resp.keep_alive);
    assert_true(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n") > 0);
    assert_false(resp.keep_alive);
    assert_true(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n") > 0);
    assert_true(resp.keep_alive);
    assert_true(parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n") > 0);
    assert_false(resp.keep_alive);
}

static void test_field_strictness_is_a_502(void **state)
{
    assert_rejected("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", "bare_lf");
    assert_rejected("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "obs_fold");
    assert_rejected("HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n", "space_before_colon");
    assert_rejected("HTTP/1.1 200 OK\r\n: x\r\n\r\n", "invalid_field_name");
    assert_rejected("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare_cr");
    assert_rejected("HTTP/1.1 200 OK\r\nX: a\x7f\r\n\r\n", "invalid_field_value");
}

static void test_limits(void **state)
{
    const char *s = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n"; /* 25 bytes */
    assert_int_equal(tg_resphead_parse(s, 25, 25, false, &resp, &err), 25);
    assert_int_equal(tg_resphead_parse(s, 25, 24, false, &resp, &err), -1);
    assert_string_equal(err.reason, "upstream_header_too_large");
    assert_int_equal(tg_resphead_parse(s, 10, 10, false, &resp, &err), -1);
    assert_string_equal(err.reason, "upstream_header_too_large");

    char buf[4096];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 200 OK\r\n");
    for (int i = 0; i <= TG_REQHEAD_MAX_FIELDS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X%d: v\r\n", i);
    snprintf(buf + n, sizeof(buf) - n, "\r\n");
    assert_rejected(buf, "upstream_too_many_headers");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_with_content_length),
        cmocka_unit_test(test_every_prefix_needs_more),
        cmocka_unit_test(test_status_line_forms),
        cmocka_unit_test(test_bad_status_lines),
        cmocka_unit_test(test_no_body_statuses_and_head),
        cmocka_unit_test(test_transfer_encoding),
        cmocka_unit_test(test_content_length_duplicates),
        cmocka_unit_test(test_close_delimited_and_keep_alive),
        cmocka_unit_test(test_field_strictness_is_a_502),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
