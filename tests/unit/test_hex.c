/*
 * Unit tests for base/hex: digits of both cases, exact-length decoding
 * that refuses odd lengths and non-digits, and lowercase encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/hex.h"

static void test_digits(void **state)
{
    assert_int_equal(tg_hex_digit('0'), 0);
    assert_int_equal(tg_hex_digit('9'), 9);
    assert_int_equal(tg_hex_digit('a'), 10);
    assert_int_equal(tg_hex_digit('F'), 15);
    assert_int_equal(tg_hex_digit('g'), -1);
    assert_int_equal(tg_hex_digit('/'), -1);
    assert_int_equal(tg_hex_digit('\0'), -1);
}

static void test_decode_and_encode_round_trip(void **state)
{
    unsigned char d[4] = {0};
    char out[9];
    assert_true(tg_hex_decode("00Ff7a10", 8, d));
    assert_memory_equal(d, "\x00\xff\x7a\x10", 4);
    tg_hex_encode(d, 4, out);
    assert_string_equal(out, "00ff7a10");
    assert_false(tg_hex_decode("0ff", 3, d));     /* odd length */
    assert_false(tg_hex_decode("0x10", 4, d));    /* not a digit */
    assert_false(tg_hex_decode("1 23", 4, d));
    assert_true(tg_hex_decode("", 0, d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_digits),
        cmocka_unit_test(test_decode_and_encode_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
