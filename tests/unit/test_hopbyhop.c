/*
 * Unit tests for src/http/hopbyhop.c. Each head is written as "Name: value"
 * lines; the fields and the verdicts live in arrays of exactly that many
 * elements on the heap, so AddressSanitizer catches a read or write past n.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/hopbyhop.h"

/* Marks the fields of lines[0..n) and compares with want ("1" forward, "0" drop). */
static void assert_marks(const char *const *lines, size_t n, const char *want)
{
    assert_true(n < 64);
    struct tg_field *fields = malloc(n * sizeof(*fields));
    bool *forward = malloc(n * sizeof(*forward));
    assert_true(n == 0 || (fields && forward));
    for (size_t i = 0; i < n; i++) {
        const char *colon = strchr(lines[i], ':');
        assert_non_null(colon);
        fields[i].name = (struct tg_str){lines[i], (size_t)(colon - lines[i])};
        fields[i].value = tg_str_trim(tg_str_c(colon + 1));
        /* The opposite of the answer, so an unwritten verdict shows. */
        forward[i] = want[i] == '0';
    }
    tg_hopbyhop_mark(fields, n, forward);
    char got[64];
    for (size_t i = 0; i < n; i++)
        got[i] = forward[i] ? '1' : '0';
    got[n] = '\0';
    free(fields);
    free(forward);
    assert_string_equal(got, want);
}

#define MARKS(want, ...)                                                                           \
    do {                                                                                           \
        static const char *const lines_[] = {__VA_ARGS__};                                         \
        assert_int_equal(strlen(want), sizeof(lines_) / sizeof(lines_[0]));                        \
        assert_marks(lines_, sizeof(lines_) / sizeof(lines_[0]), want);                            \
    } while (0)

static void test_fixed_hop_by_hop_fields_are_dropped(void **state)
{
    MARKS("0000000000", "Connection: close", "Proxy-Connection: keep-alive",
          "Keep-Alive: timeout=5", "TE: trailers", "Trailer: Expires", "Upgrade: websocket",
          "Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authenticate: Basic realm=\"x\"",
          "Transfer-Encoding: chunked", "Content-Length: 5");
}

static void test_end_to_end_fields_are_forwarded(void **state)
{
    MARKS("111111111", "Host: example.com", "Authorization: Bearer abc",
          "WWW-Authenticate: Basic realm=\"origin\"", "Accept: */*", "Cookie: a=b",
          "Content-Type: text/plain", "Via: 1.1 other", "Expect: 100-continue",
          "Authentication-Info: rspauth=\"x\"");
}

static void test_auth_fields_are_told_apart(void **state)
{
    /* Proxy credentials stop here (RFC 9110 §11.7); the origin's pass. */
    MARKS("0101", "Proxy-Authorization: Basic eA==", "Authorization: Basic eQ==",
          "Proxy-Authenticate: Digest realm=\"p\"", "WWW-Authenticate: Digest realm=\"o\"");
}

static void test_fixed_names_match_in_any_case(void **state)
{
    MARKS("0000000001", "CONNECTION: close", "proxy-connection: close", "KEEP-alive: max=1",
          "te: trailers", "TRAILER: x", "uPgRaDe: h2c",
          "PROXY-AUTHORIZATION: Basic eA==", "proxy-authenticate: Basic",
          "transfer-ENCODING: chunked", "AUTHORIZATION: Basic eA==");
}

static void test_near_misses_of_fixed_names_are_forwarded(void **state)
{
    MARKS("1111111", "Connections: x", "Keep-Alive-X: 1", "TE2: x", "T: x",
          "Proxy-Authorization2: x", "X-Upgrade: 1", "Trailers: x");
}

static void test_fields_listed_in_connection_are_dropped(void **state)
{
    MARKS("101001", "Host: h", "Connection: X-Hop, Close", "X-End: 1", "X-Hop: 2", "x-hop: 3",
          "X-Hop-Not: 4");
}

static void test_connection_options_match_in_any_case(void **state)
{
    MARKS("0001", "X-FOO: 1", "Connection: x-foo, X-BAR", "x-bar: 2", "X-Baz: 3");
}

static void test_listed_fields_before_the_connection_field_are_dropped_too(void **state)
{
    MARKS("0011", "X-Early: 1", "Connection: x-early", "X-Late: 2", "Host: h");
}

static void test_connection_lists_with_odd_whitespace(void **state)
{
    MARKS("000101", "Connection: \t, ,X-A\t,\t X-B ,,  ", "X-A: 1", "X-B: 2", "X-C: 3",
          "Connection: ,,,", "X-D: 4");
    /* OWS trims around each element; an element with inner space matches nothing. */
    MARKS("0110", "Connection: X-A X-B", "X-A: 1", "X-B: 2", "Connection:");
}

static void test_every_connection_field_is_read(void **state)
{
    MARKS("00001", "Connection: X-One", "X-One: 1", "Connection: X-Two", "X-Two: 2", "X-Three: 3");
}

static void test_option_must_match_the_whole_name(void **state)
{
    /* "X-A;q=1" is not a token: it names no field. */
    MARKS("01101", "Connection: X-A;q=1, \"X-B\", X-", "X-A: 1", "X-B: 2", "X-: 3", "X-AB: 4");
}

static void test_connection_may_drop_an_end_to_end_field(void **state)
{
    /* RFC 9110 §7.6.1 applies to every listed name, not only known hop ones. */
    MARKS("0010", "Connection: Authorization", "Authorization: Basic eA==", "Host: h",
          "Keep-Alive: 1");
}

static void test_proxy_connection_lists_nothing(void **state)
{
    /* Only Connection names options; the legacy spelling is just dropped. */
    MARKS("01", "Proxy-Connection: X-Legacy", "X-Legacy: 1");
}

static void test_no_fields(void **state)
{
    assert_marks(NULL, 0, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_hop_by_hop_fields_are_dropped),
        cmocka_unit_test(test_end_to_end_fields_are_forwarded),
        cmocka_unit_test(test_auth_fields_are_told_apart),
        cmocka_unit_test(test_fixed_names_match_in_any_case),
        cmocka_unit_test(test_near_misses_of_fixed_names_are_forwarded),
        cmocka_unit_test(test_fields_listed_in_connection_are_dropped),
        cmocka_unit_test(test_connection_options_match_in_any_case),
        cmocka_unit_test(test_listed_fields_before_the_connection_field_are_dropped_too),
        cmocka_unit_test(test_connection_lists_with_odd_whitespace),
        cmocka_unit_test(test_every_connection_field_is_read),
        cmocka_unit_test(test_option_must_match_the_whole_name),
        cmocka_unit_test(test_connection_may_drop_an_end_to_end_field),
        cmocka_unit_test(test_proxy_connection_lists_nothing),
        cmocka_unit_test(test_no_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
