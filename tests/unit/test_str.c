/*
 * Unit tests for base/str: case-insensitive equality against a byte-wise
 * reference for every pair of byte values at positions inside and after
 * the eight-byte blocks; copying as snprintf("%s") would; trimming and
 * token lists.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/str.h"

static bool ref_same(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        x = x >= 'A' && x <= 'Z' ? x + 32 : x;
        y = y >= 'A' && y <= 'Z' ? y + 32 : y;
        if (x != y)
            return false;
    }
    return true;
}

static void test_same_nocase_matches_reference_for_every_byte_pair(void **state)
{
    char a[20], b[20];
    const size_t positions[] = {0, 3, 7, 8, 12, 15, 16, 18};
    for (size_t k = 0; k < sizeof positions / sizeof positions[0]; k++) {
        size_t pos = positions[k];
        for (int x = 0; x < 256; x++) {
            for (int y = 0; y < 256; y++) {
                memcpy(a, "Proxy-Connection-X", 19);
                memcpy(b, "proxy-connection-x", 19);
                a[pos] = (char)x;
                b[pos] = (char)y;
                assert_int_equal(tg_str_same_nocase(a, b, 19), ref_same(a, b, 19));
            }
        }
    }
}

static void test_same_nocase_examples(void **state)
{
    assert_true(tg_str_same_nocase("Content-Length", "content-length", 14));
    assert_true(tg_str_same_nocase("PROXY-AUTHORIZATION", "proxy-authorization", 19));
    assert_false(tg_str_same_nocase("Content-Lengti", "content-length", 14));
    assert_false(tg_str_same_nocase("@", "`", 1));       /* 0x40 and 0x60 differ only in the case bit */
    assert_false(tg_str_same_nocase("[\\]^_", "{|}~\x7f", 5)); /* likewise, not letters */
    assert_false(tg_str_same_nocase("\xc1\xc1\xc1\xc1\xc1\xc1\xc1\xc1", "\xe1\xe1\xe1\xe1\xe1\xe1\xe1\xe1", 8));
    assert_true(tg_str_same_nocase("", "", 0));
    assert_true(tg_str_eq_nocase(tg_str_c("Host"), "host"));
    assert_false(tg_str_eq_nocase(tg_str_c("Hosts"), "host"));
}

static void test_copy_truncates_and_terminates(void **state)
{
    char d[6];
    memset(d, 'z', sizeof d);
    tg_str_copy(d, sizeof d, "abc");
    assert_string_equal(d, "abc");
    tg_str_copy(d, sizeof d, "abcdefgh");
    assert_string_equal(d, "abcde");
    tg_str_copy(d, 1, "abc");
    assert_string_equal(d, "");
    d[0] = 'q';
    tg_str_copy(d, 0, "abc"); /* nothing written */
    assert_int_equal(d[0], 'q');
}

static void test_trim_and_tokens(void **state)
{
    struct tg_str t = tg_str_trim(tg_str_c(" \t value \t"));
    assert_int_equal(t.len, 5);
    assert_memory_equal(t.p, "value", 5);
    struct tg_str rest = tg_str_c(" close ,, keep-alive,"), item;
    assert_true(tg_str_next_token(&rest, &item));
    assert_true(tg_str_eq(item, tg_str_c("close")));
    assert_true(tg_str_next_token(&rest, &item));
    assert_true(tg_str_eq(item, tg_str_c("keep-alive")));
    assert_false(tg_str_next_token(&rest, &item));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_nocase_matches_reference_for_every_byte_pair),
        cmocka_unit_test(test_same_nocase_examples),
        cmocka_unit_test(test_copy_truncates_and_terminates),
        cmocka_unit_test(test_trim_and_tokens),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
