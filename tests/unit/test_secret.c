/*
 * Unit tests for base/secret: equality over equal and different lengths and
 * every difference position, wiping, and random bytes that look random.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/secret.h"

static void test_equal_bytes_are_equal(void **state)
{
    assert_true(tg_secret_equal("secret", 6, "secret", 6));
    assert_true(tg_secret_equal("a\0b", 3, "a\0b", 3)); /* NULs are ordinary bytes */
    assert_true(tg_secret_equal("", 0, "", 0));
    assert_true(tg_secret_equal(NULL, 0, NULL, 0));
    assert_true(tg_secret_equal("x", 0, "y", 0));
}

static void test_a_difference_anywhere_is_found(void **state)
{
    unsigned char a[64], b[64];
    memset(a, 0x41, sizeof a);
    for (size_t i = 0; i < sizeof a; i++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(b, a, sizeof b);
            b[i] ^= (unsigned char)(1u << bit);
            assert_false(tg_secret_equal(a, sizeof a, b, sizeof b));
        }
    assert_false(tg_secret_equal("a\0b", 3, "a\0c", 3));
}

static void test_different_lengths_are_never_equal(void **state)
{
    assert_false(tg_secret_equal("secret", 6, "secret!", 7));
    assert_false(tg_secret_equal("secret!", 7, "secret", 6));
    assert_false(tg_secret_equal("secret", 6, "", 0));
    assert_false(tg_secret_equal("", 0, "secret", 6));
    assert_false(tg_secret_equal("secret", 5, "secret", 6)); /* a prefix is not enough */
}

static void test_wipe_zeroes_exactly_n_bytes(void **state)
{
    unsigned char buf[32];
    memset(buf, 0xa5, sizeof buf);
    tg_secret_wipe(buf + 4, 20);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], i >= 4 && i < 24 ? 0 : 0xa5);
    tg_secret_wipe(NULL, 10); /* accepted, does nothing */
    tg_secret_wipe(buf, 0);
    assert_int_equal(buf[0], 0xa5);
}

static void test_random_fills_and_differs(void **state)
{
    unsigned char a[4096], b[4096];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(tg_secret_random(a, sizeof a), 0);
    assert_int_equal(tg_secret_random(b, sizeof b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    /* 4096 random bytes miss any byte value with p ~ 1e-7; 250 of 256 never flakes. */
    int seen[256] = {0};
    for (size_t i = 0; i < sizeof a; i++)
        seen[a[i]] = 1;
    int distinct = 0;
    for (int i = 0; i < 256; i++)
        distinct += seen[i];
    assert_true(distinct >= 250);
    assert_int_equal(tg_secret_random(a, 0), 0);
}

static void test_random_handles_large_requests(void **state)
{
    /* getrandom returns at most 32 MiB - 1 per call; the loop must continue. */
    static unsigned char big[40 << 20];
    assert_int_equal(tg_secret_random(big, sizeof big), 0);
    size_t zeros = 0;
    for (size_t i = sizeof big - 4096; i < sizeof big; i++)
        zeros += big[i] == 0;
    assert_true(zeros < 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_bytes_are_equal),
        cmocka_unit_test(test_a_difference_anywhere_is_found),
        cmocka_unit_test(test_different_lengths_are_never_equal),
        cmocka_unit_test(test_wipe_zeroes_exactly_n_bytes),
        cmocka_unit_test(test_random_fills_and_differs),
        cmocka_unit_test(test_random_handles_large_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
