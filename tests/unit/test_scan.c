/*
 * Unit tests for base/scan: the vector scans agree with the byte
 * predicates for every byte value at every position of spans from 0 to 70
 * bytes (inside a block, across blocks, in the tail), and never read past
 * the span (ASan checks the exact-size copies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/scan.h"

static size_t slow(const char *p, size_t n, bool (*in_class)(unsigned char))
{
    size_t i = 0;
    while (i < n && !in_class((unsigned char)p[i]))
        i++;
    return i;
}

static void check_every_byte(size_t (*scan)(const char *, size_t), bool (*in_class)(unsigned char),
                             char filler)
{
    for (size_t n = 0; n <= 70; n++) {
        for (size_t pos = 0; pos < n; pos++) {
            for (int c = 0; c < 256; c++) {
                char *p = malloc(n); /* exact size: a read past it is an ASan error */
                memset(p, filler, n);
                p[pos] = (char)c;
                assert_int_equal(scan(p, n), slow(p, n, in_class));
                free(p);
            }
        }
        char *p = malloc(n ? n : 1);
        memset(p, filler, n);
        assert_int_equal(scan(p, n), n);
        free(p);
    }
}

static void test_ctl_matches_the_predicate(void **state)
{
    check_every_byte(tg_scan_ctl, tg_scan_is_ctl, 'a');
    assert_int_equal(tg_scan_ctl("a\tb \x80\xff", 6), 6); /* HTAB, SP, obs-text are value bytes */
    assert_int_equal(tg_scan_ctl("value\r\n", 7), 5);
    assert_int_equal(tg_scan_ctl("0123456789abcdef0123\x7f", 21), 20);
}

static void test_escaped_matches_the_predicate(void **state)
{
    check_every_byte(tg_scan_escaped, tg_scan_is_escaped, 'x');
    assert_int_equal(tg_scan_escaped("http://example.test/a?b=c", 25), 25);
    assert_int_equal(tg_scan_escaped("/a b", 4), 2);
    assert_int_equal(tg_scan_escaped("0123456789abcdef%", 17), 16);
    assert_int_equal(tg_scan_escaped("0123456789abcdef0\"", 18), 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctl_matches_the_predicate),
        cmocka_unit_test(test_escaped_matches_the_predicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
