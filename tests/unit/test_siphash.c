/*
 * Unit tests for base/siphash: the paper's 64-bit vectors, and the 128-bit
 * output checked against OpenSSL's independent SipHash MAC for every
 * length from 0 to 64 (each tail length, one and several words).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <string.h>

#include "base/siphash.h"

static unsigned char key[16], msg[64];

static int setup(void **state)
{
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char)i;
    memcpy(key, msg, sizeof key);
    return 0;
}

/* Appendix A of the paper (15 bytes) and the reference vectors for 0, 8 and 63 bytes. */
static void test_paper_vectors(void **state)
{
    assert_int_equal(tg_siphash64(key, msg, 15), 0xa129ca6149be45e5ULL);
    assert_int_equal(tg_siphash64(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    assert_int_equal(tg_siphash64(key, msg, 8), 0x93f5f5799a932462ULL);
    assert_int_equal(tg_siphash64(key, msg, 63), 0x958a324ceb064572ULL);
}

static void openssl_siphash128(const unsigned char *data, size_t len, unsigned char out[16])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    size_t outlen = 0;
    unsigned int size = 16;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_uint(OSSL_MAC_PARAM_SIZE, &size),
        OSSL_PARAM_END,
    };
    assert_non_null(ctx);
    assert_int_equal(EVP_MAC_init(ctx, key, sizeof key, params), 1);
    assert_int_equal(EVP_MAC_update(ctx, data, len), 1);
    assert_int_equal(EVP_MAC_final(ctx, out, &outlen, 16), 1);
    assert_int_equal(outlen, 16);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
}

static void test_128_bit_output_matches_openssl(void **state)
{
    for (size_t len = 0; len <= sizeof msg; len++) {
        unsigned char ours[16], theirs[16];
        tg_siphash128(key, msg, len, ours);
        openssl_siphash128(msg, len, theirs);
        assert_memory_equal(ours, theirs, 16);
    }
}

static void test_128_bit_empty_input_vector(void **state)
{
    static const unsigned char want[16] = {0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
                                           0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
    unsigned char out[16];
    tg_siphash128(key, msg, 0, out);
    assert_memory_equal(out, want, 16);
}

static void test_key_and_every_byte_matter(void **state)
{
    unsigned char base[16], other[16], k2[16];
    tg_siphash128(key, msg, 40, base);
    for (size_t i = 0; i < 40; i++) {
        unsigned char m[40];
        memcpy(m, msg, sizeof m);
        m[i] ^= 1;
        tg_siphash128(key, m, sizeof m, other);
        assert_memory_not_equal(base, other, 16);
    }
    memcpy(k2, key, sizeof k2);
    k2[15] ^= 0x80;
    tg_siphash128(k2, msg, 40, other);
    assert_memory_not_equal(base, other, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_vectors),
        cmocka_unit_test(test_128_bit_output_matches_openssl),
        cmocka_unit_test(test_128_bit_empty_input_vector),
        cmocka_unit_test(test_key_and_every_byte_matter),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
