/*
 * Unit tests for src/http/reqhead.c, plus a replay of every raw case in
 * tests/cases (directory from argv[1], default "tests/cases", run from the
 * repository root). See tests/cases/README.md for the naming convention.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/reqhead.h"

static const char *cases_dir = "tests/cases";

static const struct tg_reqhead_limits defaults = {
    .max_request_line = 8192,
    .max_head = 16384,
    .max_fields = 100,
};

static struct tg_reqhead head;
static struct tg_http_error err;

static long parse_lim(const char *s, const struct tg_reqhead_limits *lim)
{
    err.status = 0;
    err.reason = NULL;
    return tg_reqhead_parse(s, strlen(s), lim, &head, &err);
}

static long parse(const char *s)
{
    return parse_lim(s, &defaults);
}

static void assert_rejected(const char *s, int status, const char *reason)
{
    assert_int_equal(parse(s), -1);
    assert_int_equal(err.status, status);
    assert_string_equal(err.reason, reason);
}

static void assert_view(struct tg_str v, const char *want)
{
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.p, want, v.len);
}

static void test_simple_get_gives_views_into_the_buffer(void **state)
{
    const char *s = "GET http://example.com/a?b HTTP/1.1\r\nHost: example.com\r\n"
                    "User-Agent:  curl/8 \t\r\n\r\n";
    assert_int_equal(parse(s), (long)strlen(s));
    assert_view(head.method, "GET");
    assert_view(head.target, "http://example.com/a?b");
    assert_true(head.target.p == s + 4);
    assert_int_equal(head.minor_version, 1);
    assert_int_equal(head.nfields, 2);
    assert_view(head.fields[1].name, "User-Agent");
    assert_view(head.fields[1].value, "curl/8");
    assert_int_equal(head.host_index, 0);
    assert_int_equal(head.proxy_auth_index, -1);
    assert_int_equal(head.proxy_auth_count, 0);
    assert_int_equal(head.body, TG_BODY_NONE);
    assert_true(head.keep_alive);
    assert_false(head.is_connect);
    assert_false(head.expect_continue);
    assert_int_equal(head.head_len, strlen(s));
}

static void test_every_prefix_of_a_valid_head_needs_more(void **state)
{
    const char *s = "\r\nPOST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tg_reqhead_parse(s, i, &defaults, &head, &err), 0);
    assert_int_equal(tg_reqhead_parse(s, n, &defaults, &head, &err), (long)n);
}

static void test_head_len_excludes_the_body_and_counts_leading_crlf(void **state)
{
    const char *s = "\r\n\r\nPOST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    assert_int_equal(parse(s), (long)strlen(s) - 3);
    assert_int_equal(head.body, TG_BODY_LENGTH);
    assert_int_equal(head.content_length, 3);
}

static void test_keep_alive_follows_version_and_connection(void **state)
{
    assert_true(parse("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n") > 0);
    assert_true(head.keep_alive);
    assert_true(parse("GET http://h/ HTTP/1.1\r\nHost: h\r\nConnection: x, Close\r\n\r\n") > 0);
    assert_false(head.keep_alive);
    assert_true(parse("GET http://h/ HTTP/1.0\r\n\r\n") > 0);
    assert_false(head.keep_alive);
    assert_true(parse("GET http://h/ HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n") > 0);
    assert_true(head.keep_alive);
    assert_true(parse("GET http://h/ HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n") > 0);
    assert_true(head.keep_alive);
    assert_true(parse("GET http://h/ HTTP/1.0\r\nConnection: keep-alive\r\n"
                      "Proxy-Connection: close\r\n\r\n") > 0);
    assert_false(head.keep_alive);
    assert_true(parse("GET http://h/ HTTP/1.1\r\nHost: h\r\nProxy-Connection: close\r\n\r\n") > 0);
    assert_false(head.keep_alive);
}

static void test_expect_continue(void **state)
{
    assert_true(parse("PUT http://h/ HTTP/1.1\r\nHost: h\r\nExpect: 100-CONTINUE\r\n"
                      "Content-Length: 1\r\n\r\n") > 0);
    assert_true(head.expect_continue);
    /* RFC 9110 §10.1.1: ignored from HTTP/1.0 clients. */
    assert_true(parse("PUT http://h/ HTTP/1.0\r\nExpect: 100-continue\r\n\r\n") > 0);
    assert_false(head.expect_continue);
    assert_rejected("GET http://h/ HTTP/1.1\r\nHost: h\r\nExpect: 100-continue, x\r\n\r\n", 417,
                    "unsupported_expectation");
}

static void test_connect_is_case_sensitive_and_may_omit_host(void **state)
{
    assert_true(parse("CONNECT h:443 HTTP/1.1\r\n\r\n") > 0);
    assert_true(head.is_connect);
    assert_int_equal(head.host_index, -1);
    assert_rejected("connect h:443 HTTP/1.1\r\n\r\n", 400, "missing_host");
}

static void test_proxy_authorization_first_index_and_count(void **state)
{
    assert_true(parse("GET http://h/ HTTP/1.1\r\nA: 1\r\nProxy-Authorization: Basic x\r\n"
                      "Host: h\r\nproxy-authorization: Basic y\r\n\r\n") > 0);
    assert_int_equal(head.proxy_auth_index, 1);
    assert_int_equal(head.proxy_auth_count, 2);
    assert_int_equal(head.host_index, 2);
    assert_view(head.fields[head.proxy_auth_index].value, "Basic x");
}

static void test_find_is_case_insensitive(void **state)
{
    assert_true(parse("GET http://h/ HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n") > 0);
    const struct tg_field *f = tg_reqhead_find(&head, "X-a");
    assert_non_null(f);
    assert_view(f->value, "1");
    assert_null(tg_reqhead_find(&head, "X-B"));
}

static void test_content_length_bounds(void **state)
{
    assert_true(parse("POST http://h/ HTTP/1.1\r\nHost: h\r\n"
                      "Content-Length: 9223372036854775807\r\n\r\n") > 0);
    assert_true(head.content_length == INT64_MAX);
    assert_true(parse("POST http://h/ HTTP/1.1\r\nHost: h\r\nContent-Length: 0005\r\n\r\n") > 0);
    assert_int_equal(head.content_length, 5);
    assert_rejected("POST http://h/ HTTP/1.1\r\nHost: h\r\n"
                    "Content-Length: 00000000000000000005\r\n\r\n",
                    400, "invalid_content_length");
}

static void test_chunked_request(void **state)
{
    assert_true(parse("POST http://h/ HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n") >
                0);
    assert_int_equal(head.body, TG_BODY_CHUNKED);
}

static void test_request_line_limit(void **state)
{
    struct tg_reqhead_limits lim = {.max_request_line = 20, .max_head = 100, .max_fields = 10};
    assert_true(parse_lim("GET /abcde HTTP/1.0\r\n\r\n", &lim) > 0); /* 19 bytes */
    assert_true(parse_lim("GET /abcdef HTTP/1.0\r\n\r\n", &lim) > 0); /* 20: the limit */
    assert_int_equal(parse_lim("GET /abcdefg HTTP/1.0\r\n\r\n", &lim), -1);
    assert_int_equal(err.status, 414);
    /* An unfinished line is refused as soon as it is too long. */
    assert_int_equal(parse_lim("GET /abcdef HTTP/1.0", &lim), 0);
    assert_int_equal(parse_lim("GET /abcdef HTTP/1.0\r", &lim), 0);
    assert_int_equal(parse_lim("GET /abcdefg HTTP/1.0", &lim), -1);
    assert_string_equal(err.reason, "request_line_too_long");
}

static void test_head_limit_is_exact(void **state)
{
    const char *s = "GET /x HTTP/1.0\r\nA: b\r\n\r\n"; /* 25 bytes */
    struct tg_reqhead_limits lim = {.max_request_line = 100, .max_head = 25, .max_fields = 10};
    assert_int_equal(parse_lim(s, &lim), 25);
    lim.max_head = 24;
    assert_int_equal(parse_lim(s, &lim), -1);
    assert_int_equal(err.status, 431);
    assert_string_equal(err.reason, "header_too_large");
    /* A full buffer without the end of the head can never complete. */
    assert_int_equal(tg_reqhead_parse(s, 24, &lim, &head, &err), -1);
    assert_int_equal(tg_reqhead_parse(s, 23, &lim, &head, &err), 0);
}

static void test_field_count_limit(void **state)
{
    struct tg_reqhead_limits lim = {.max_request_line = 100, .max_head = 1000, .max_fields = 2};
    assert_true(parse_lim("GET /x HTTP/1.0\r\nA: 1\r\nB: 2\r\n\r\n", &lim) > 0);
    assert_int_equal(parse_lim("GET /x HTTP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", &lim), -1);
    assert_int_equal(err.status, 431);
    assert_string_equal(err.reason, "too_many_headers");
    /* A configured limit above the array size is clamped, not trusted. */
    lim.max_fields = 100000;
    char buf[8192];
    size_t n = (size_t)snprintf(buf, sizeof(buf), "GET /x HTTP/1.0\r\n");
    for (int i = 0; i <= TG_REQHEAD_MAX_FIELDS; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X%d: v\r\n", i);
    snprintf(buf + n, sizeof(buf) - n, "\r\n");
    lim.max_head = sizeof(buf);
    assert_int_equal(parse_lim(buf, &lim), -1);
    assert_string_equal(err.reason, "too_many_headers");
}

static void test_errors_are_found_before_the_head_ends(void **state)
{
    static const char nul[] = "GET http://h/ HTTP/1.1\r\nX: a\0";
    assert_int_equal(tg_reqhead_parse(nul, sizeof(nul) - 1, &defaults, &head, &err), -1);
    assert_string_equal(err.reason, "nul_byte");
    assert_rejected("GET http://h/ HTTP/1.1\r\nX: a\rb", 400, "bare_cr");
    assert_rejected("GET http://h/ HTTP/1.1\nX", 400, "bare_lf");
    assert_rejected("GET http://h/ HTTP/9.9\r\n", 505, "bad_version");
    assert_rejected("GET http://h/ HTTP/1.1\r\nX : y\r\n", 400, "space_before_colon");
}

static void test_lone_cr_at_the_end_needs_more(void **state)
{
    assert_int_equal(parse("GET http://h/ HTTP/1.1\r"), 0);
    assert_int_equal(parse("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r"), 0);
    assert_int_equal(parse("\r"), 0);
    assert_int_equal(parse(""), 0);
}

/* ---- tests/cases replay ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* "bad-431-too_many_headers-x.http" -> 431, "too_many_headers". */
static int expected_error(const char *name, int *status, char *reason, size_t cap)
{
    const char *p = name + 4;
    char *end;
    long st = strtol(p, &end, 10);
    if (end == p || *end != '-')
        return -1;
    p = end + 1;
    size_t n = strcspn(p, "-.");
    if (n == 0 || n >= cap)
        return -1;
    memcpy(reason, p, n);
    reason[n] = '\0';
    *status = (int)st;
    return 0;
}

static int check_ok(const char *name, const char *buf, size_t len)
{
    long r = tg_reqhead_parse(buf, len, &defaults, &head, &err);
    if (r <= 0 || (size_t)r > len) {
        print_error("%s: parse returned %ld (%d %s)\n", name, r, err.status,
                    r < 0 ? err.reason : "");
        return 1;
    }
    /* Every shorter prefix must ask for more, never fail. */
    size_t step = r > 2048 ? 97 : 1;
    for (size_t i = 0; i < (size_t)r; i += step) {
        if (tg_reqhead_parse(buf, i, &defaults, &head, &err) != 0) {
            print_error("%s: prefix of %zu bytes did not need more\n", name, i);
            return 1;
        }
    }
    return 0;
}

static int check_bad(const char *name, const char *buf, size_t len)
{
    int status;
    char reason[64];
    if (expected_error(name, &status, reason, sizeof(reason)) < 0) {
        print_error("%s: name does not follow bad-STATUS-reason\n", name);
        return 1;
    }
    long r = tg_reqhead_parse(buf, len, &defaults, &head, &err);
    if (r != -1 || err.status != status || strcmp(err.reason, reason) != 0) {
        print_error("%s: got %ld %d %s\n", name, r, r < 0 ? err.status : 0,
                    r < 0 ? err.reason : "");
        return 1;
    }
    /* A prefix may need more, but must not fail for another reason. */
    size_t step = len > 2048 ? 97 : 1;
    for (size_t i = 0; i < len; i += step) {
        r = tg_reqhead_parse(buf, i, &defaults, &head, &err);
        if (r > 0 || (r < 0 && strcmp(err.reason, reason) != 0)) {
            print_error("%s: prefix of %zu bytes gave %ld\n", name, i, r);
            return 1;
        }
    }
    return 0;
}

static void test_raw_cases(void **state)
{
    DIR *d = opendir(cases_dir);
    assert_non_null(d);
    int failures = 0, ok = 0, bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".http") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", cases_dir, e->d_name);
        size_t len;
        char *buf = read_file(path, &len);
        if (strncmp(e->d_name, "ok-", 3) == 0) {
            failures += check_ok(e->d_name, buf, len);
            ok++;
        } else if (strncmp(e->d_name, "bad-", 4) == 0) {
            failures += check_bad(e->d_name, buf, len);
            bad++;
        } else {
            print_error("%s: name starts with neither ok- nor bad-\n", e->d_name);
            failures++;
        }
        free(buf);
    }
    closedir(d);
    print_message("%d ok cases, %d bad cases\n", ok, bad);
    assert_true(ok > 0 && bad > 0);
    assert_int_equal(failures, 0);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        cases_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_get_gives_views_into_the_buffer),
        cmocka_unit_test(test_every_prefix_of_a_valid_head_needs_more),
        cmocka_unit_test(test_head_len_excludes_the_body_and_counts_leading_crlf),
        cmocka_unit_test(test_keep_alive_follows_version_and_connection),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_connect_is_case_sensitive_and_may_omit_host),
        cmocka_unit_test(test_proxy_authorization_first_index_and_count),
        cmocka_unit_test(test_find_is_case_insensitive),
        cmocka_unit_test(test_content_length_bounds),
        cmocka_unit_test(test_chunked_request),
        cmocka_unit_test(test_request_line_limit),
        cmocka_unit_test(test_head_limit_is_exact),
        cmocka_unit_test(test_field_count_limit),
        cmocka_unit_test(test_errors_are_found_before_the_head_ends),
        cmocka_unit_test(test_lone_cr_at_the_end_needs_more),
        cmocka_unit_test(test_raw_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
