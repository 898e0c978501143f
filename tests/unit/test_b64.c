/*
 * Unit tests for base/b64: the RFC 4648 §10 test vectors both ways, the
 * strictness rules (alphabet, padding, leftover bits, no white space),
 * output capacity, and a round trip over every length and byte value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"

static const struct {
    const char *plain;
    const char *enc;
} vectors[] = {
    /* RFC 4648 §10 */
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
    /* RFC 7617 §2 */
    {"Aladdin:open sesame", "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
    {"test:123\xc2\xa3", "dGVzdDoxMjPCow=="},
};

static void test_rfc_vectors_encode(void **state)
{
    char out[64];
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        size_t n = strlen(vectors[i].plain);
        assert_int_equal(tg_b64_encode((const unsigned char *)vectors[i].plain, n, out),
                         strlen(vectors[i].enc));
        assert_string_equal(out, vectors[i].enc);
        assert_true(strlen(out) + 1 <= TG_B64_ENCODED_SIZE(n));
    }
}

static void test_rfc_vectors_decode(void **state)
{
    unsigned char out[64];
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) {
        const char *e = vectors[i].enc;
        long n = tg_b64_decode(e, strlen(e), out, sizeof out);
        assert_int_equal(n, strlen(vectors[i].plain));
        assert_memory_equal(out, vectors[i].plain, (size_t)n);
    }
}

static void test_all_bytes_round_trip_at_every_length(void **state)
{
    unsigned char in[300], back[300];
    char enc[TG_B64_ENCODED_SIZE(300)];
    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof in; n++) {
        size_t elen = tg_b64_encode(in, n, enc);
        assert_int_equal(elen, (n + 2) / 3 * 4);
        assert_int_equal(enc[elen], '\0');
        /* Exactly n bytes of room is enough. */
        assert_int_equal(tg_b64_decode(enc, elen, back, n), n);
        assert_memory_equal(back, in, n);
    }
}

static void expect_invalid(const char *s)
{
    unsigned char out[64];
    long n = tg_b64_decode(s, strlen(s), out, sizeof out);
    if (n != -1)
        fail_msg("\"%s\" decoded to %ld bytes", s, n);
}

static void test_bad_length_or_padding_is_rejected(void **state)
{
    const char *bad[] = {
        "Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zg===", /* length not a multiple of 4 */
        "====", "Z===", "=Zg=", "Z=g=", "Zg=A",   /* padding in the wrong place */
        "Zg==Zg==", "Zm8=Zm8=",                   /* padding before the end */
        "Zm9vYmFy====",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_invalid(bad[i]);
}

static void test_characters_outside_the_alphabet_are_rejected(void **state)
{
    const char *bad[] = {
        "Zm9v\n", "Zm9 v", " Zm9v", "Zm9v ", "Zm\r\n9v", "Zm9\t", /* no white space */
        "Zm-v", "Zm_v",                                          /* URL-safe alphabet */
        "Zm.v", "Zm9\x80", "Zm9\xff", "Zm9*",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        expect_invalid(bad[i]);
    unsigned char out[8];
    assert_int_equal(tg_b64_decode("Zm\0v", 4, out, sizeof out), -1);
}

/* RFC 4648 §3.5: "Zh==" would also decode to "f"; only "Zg==" is canonical. */
static void test_nonzero_leftover_bits_are_rejected(void **state)
{
    expect_invalid("Zh==");
    expect_invalid("Zv==");
    expect_invalid("Zm9=");
    expect_invalid("Zm/=");
    unsigned char out[4];
    assert_int_equal(tg_b64_decode("Zg==", 4, out, sizeof out), 1);
    assert_int_equal(tg_b64_decode("Zm8=", 4, out, sizeof out), 2);
}

static void test_small_output_buffer_is_rejected(void **state)
{
    unsigned char out[8];
    memset(out, 0xaa, sizeof out);
    assert_int_equal(tg_b64_decode("Zm9vYmFy", 8, out, 5), -1);
    assert_int_equal(tg_b64_decode("Zm9vYmE=", 8, out, 4), -1);
    assert_int_equal(tg_b64_decode("Zm9vYmE=", 8, out, 5), 5);
    assert_int_equal(tg_b64_decode("", 0, out, 0), 0);
    assert_int_equal(tg_b64_decode("Zg==", 4, out, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc_vectors_encode),
        cmocka_unit_test(test_rfc_vectors_decode),
        cmocka_unit_test(test_all_bytes_round_trip_at_every_length),
        cmocka_unit_test(test_bad_length_or_padding_is_rejected),
        cmocka_unit_test(test_characters_outside_the_alphabet_are_rejected),
        cmocka_unit_test(test_nonzero_leftover_bits_are_rejected),
        cmocka_unit_test(test_small_output_buffer_is_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
