/*
 * Unit tests for auth/nonce: a sealed nonce round-trips; a change to any
 * character (time, random id or MAC), another secret, or any malformed text
 * is BAD; ageing gives STALE one millisecond after the TTL; the tolerated
 * clock skew ends at exactly 5 s; and secret files load as SHA-256 of their
 * whole content, refusing short, huge and missing files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/nonce.h"

#define T0 1700000000000u /* an ordinary wall-clock time in ms */
#define TTL 300000u
#define TEXT_LEN 75 /* unpadded base64url of 8 + 16 + 32 bytes */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void key_fill(struct tg_nonce_key *k, unsigned char seed)
{
    for (size_t i = 0; i < sizeof k->secret; i++)
        k->secret[i] = (unsigned char)(seed + i * 13);
}

static enum tg_nonce_status check_at(const struct tg_nonce_key *k, const char *text, size_t len,
                                     uint64_t now)
{
    struct tg_str s = {text, len};
    uint64_t issued = 0;
    unsigned char id[TG_NONCE_ID_LEN];
    return tg_nonce_check(k, s, now, TTL, &issued, id);
}

static void test_made_nonce_checks_valid_with_its_time_and_id(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 1);
    char a[TG_NONCE_TEXT_MAX], b[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, a), 0);
    assert_int_equal(tg_nonce_make(&k, T0, b), 0);
    assert_int_equal(strlen(a), TEXT_LEN);
    assert_int_equal(strspn(a, alphabet), TEXT_LEN);
    assert_string_not_equal(a, b); /* same time, fresh random bits */

    uint64_t issued = 0;
    unsigned char id_a[TG_NONCE_ID_LEN], id_a2[TG_NONCE_ID_LEN], id_b[TG_NONCE_ID_LEN];
    assert_int_equal(tg_nonce_check(&k, tg_str_c(a), T0, TTL, &issued, id_a), TG_NONCE_VALID);
    assert_int_equal(issued, T0);
    issued = 0;
    assert_int_equal(tg_nonce_check(&k, tg_str_c(a), T0 + 1000, TTL, &issued, id_a2),
                     TG_NONCE_VALID);
    assert_int_equal(issued, T0);
    assert_memory_equal(id_a, id_a2, TG_NONCE_ID_LEN);
    assert_int_equal(tg_nonce_check(&k, tg_str_c(b), T0, TTL, &issued, id_b), TG_NONCE_VALID);
    assert_memory_not_equal(id_a, id_b, TG_NONCE_ID_LEN);
}

/* Decodes unpadded base64url the slow, obvious way (test oracle). */
static size_t oracle_decode(const char *text, unsigned char *out)
{
    size_t bits = 0, o = 0;
    unsigned acc = 0;
    for (const char *c = text; *c; c++) {
        acc = (acc << 6 | (unsigned)(strchr(alphabet, *c) - alphabet)) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}

/* The layout nonce.h promises: time (big-endian ms) | id | HMAC-SHA-256 of both. */
static void test_layout_is_time_id_and_mac(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 12);
    const uint64_t t = 0x0000018bcfe56800u;
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, t, n), 0);
    unsigned char raw[64];
    assert_int_equal(oracle_decode(n, raw), 56);
    const unsigned char when[8] = {0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00};
    assert_memory_equal(raw, when, 8);
    unsigned char mac[32];
    unsigned int maclen = 0;
    assert_non_null(HMAC(EVP_sha256(), k.secret, sizeof k.secret, raw, 24, mac, &maclen));
    assert_int_equal(maclen, 32);
    assert_memory_equal(raw + 24, mac, 32);
    uint64_t issued = 0;
    unsigned char id[TG_NONCE_ID_LEN];
    assert_int_equal(tg_nonce_check(&k, tg_str_c(n), t, TTL, &issued, id), TG_NONCE_VALID);
    assert_memory_equal(id, raw + 8, TG_NONCE_ID_LEN);
}

static void test_extreme_times_round_trip(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 2);
    const uint64_t times[] = {0, 1, 0x0102030405060708u, UINT64_MAX - 10000};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        char n[TG_NONCE_TEXT_MAX];
        uint64_t issued = 0;
        unsigned char id[TG_NONCE_ID_LEN];
        assert_int_equal(tg_nonce_make(&k, times[i], n), 0);
        assert_int_equal(tg_nonce_check(&k, tg_str_c(n), times[i], TTL, &issued, id),
                         TG_NONCE_VALID);
        assert_int_equal(issued, times[i]);
    }
}

/* Characters 0-10 carry the time, 10-32 the random id, 32-74 the MAC. */
static void test_changing_any_character_makes_it_bad(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 3);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, n), 0);
    for (size_t pos = 0; pos < TEXT_LEN; pos++) {
        for (const char *c = alphabet; *c; c++) {
            char t[TG_NONCE_TEXT_MAX];
            memcpy(t, n, sizeof t);
            if (t[pos] == *c)
                continue;
            t[pos] = *c;
            enum tg_nonce_status st = check_at(&k, t, TEXT_LEN, T0);
            if (st != TG_NONCE_BAD)
                fail_msg("char %zu set to '%c' gave status %d", pos, *c, (int)st);
        }
    }
}

/* A tampered time must not come back STALE (or VALID) on an unchecked time. */
static void test_tampered_time_is_bad_not_stale(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 4);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, n), 0);
    n[3] = n[3] == 'A' ? 'B' : 'A';
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0 + 10 * (uint64_t)TTL), TG_NONCE_BAD);
}

static void test_other_secret_is_bad(void **state)
{
    struct tg_nonce_key k, other;
    key_fill(&k, 5);
    key_fill(&other, 6);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, n), 0);
    assert_int_equal(check_at(&other, n, TEXT_LEN, T0), TG_NONCE_BAD);
    other = k;
    other.secret[31] ^= 1;
    assert_int_equal(check_at(&other, n, TEXT_LEN, T0), TG_NONCE_BAD);
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0), TG_NONCE_VALID);
}

static void test_stale_one_millisecond_after_ttl(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 7);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, n), 0);
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0 + TTL), TG_NONCE_VALID);
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0 + TTL + 1), TG_NONCE_STALE);
    assert_int_equal(check_at(&k, n, TEXT_LEN, UINT64_MAX), TG_NONCE_STALE);

    /* STALE still reports what the replay table and the log need. */
    uint64_t issued = 0;
    unsigned char id[TG_NONCE_ID_LEN], id_valid[TG_NONCE_ID_LEN];
    assert_int_equal(tg_nonce_check(&k, tg_str_c(n), T0, TTL, &issued, id_valid), TG_NONCE_VALID);
    assert_int_equal(tg_nonce_check(&k, tg_str_c(n), T0 + TTL + 1, TTL, &issued, id),
                     TG_NONCE_STALE);
    assert_int_equal(issued, T0);
    assert_memory_equal(id, id_valid, TG_NONCE_ID_LEN);
}

static void test_future_beyond_five_seconds_is_bad(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 8);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0 + 5000, n), 0);
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0), TG_NONCE_VALID);
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0 - 1), TG_NONCE_BAD);
    assert_int_equal(check_at(&k, n, TEXT_LEN, 0), TG_NONCE_BAD);
}

static void expect_bad(const struct tg_nonce_key *k, const char *text, size_t len)
{
    enum tg_nonce_status st = check_at(k, text, len, T0);
    if (st != TG_NONCE_BAD)
        fail_msg("\"%.*s\" (%zu bytes) gave status %d", (int)len, text ? text : "", len, (int)st);
}

static void test_malformed_text_is_bad(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 9);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, n), 0);
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0), TG_NONCE_VALID);

    expect_bad(&k, NULL, 0);
    expect_bad(&k, "", 0);
    expect_bad(&k, "x", 1);
    expect_bad(&k, n, TEXT_LEN - 1); /* truncated */

    char longer[TEXT_LEN + 8];
    memcpy(longer, n, TEXT_LEN);
    memcpy(longer + TEXT_LEN, "A=", 2);
    expect_bad(&k, longer, TEXT_LEN + 1); /* one more character */
    longer[TEXT_LEN] = '=';
    expect_bad(&k, longer, TEXT_LEN + 1); /* padded */

    static char big[4096];
    memset(big, 'A', sizeof big);
    expect_bad(&k, big, sizeof big);
    expect_bad(&k, big, TEXT_LEN); /* right length, right alphabet, no MAC */

    /* Characters outside base64url, including the standard alphabet's + and /. */
    const char bad[] = "+/= .\"\\\t\r\n\x7f\x80\xff";
    for (size_t b = 0; b < sizeof bad; b++) { /* sizeof includes the NUL */
        for (size_t pos = 0; pos < TEXT_LEN; pos += 37) {
            char t[TG_NONCE_TEXT_MAX];
            memcpy(t, n, sizeof t);
            t[pos] = bad[b];
            expect_bad(&k, t, TEXT_LEN);
        }
    }
}

static void swap_chars(char *s, char from, char to)
{
    for (; *s; s++)
        if (*s == from)
            *s = to;
}

/* The same bytes in the standard alphabet (+ for -, / for _) are not ours. */
static void test_standard_base64_spelling_is_bad(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 11);
    char n[TG_NONCE_TEXT_MAX], t[TG_NONCE_TEXT_MAX];
    int tries = 0;
    do { /* about half of all nonces contain both - and _ */
        assert_int_equal(tg_nonce_make(&k, T0, n), 0);
        assert_true(++tries < 200);
    } while (!strchr(n, '-') || !strchr(n, '_'));
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0), TG_NONCE_VALID);
    memcpy(t, n, sizeof t);
    swap_chars(t, '-', '+');
    expect_bad(&k, t, TEXT_LEN);
    memcpy(t, n, sizeof t);
    swap_chars(t, '_', '/');
    expect_bad(&k, t, TEXT_LEN);
}

/* The last character holds 4 bits of data and 2 unused ones, which must be 0. */
static void test_unused_trailing_bits_are_bad(void **state)
{
    struct tg_nonce_key k;
    key_fill(&k, 10);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&k, T0, n), 0);
    const char *p = strchr(alphabet, n[TEXT_LEN - 1]);
    assert_non_null(p);
    int v = (int)(p - alphabet);
    assert_int_equal(v & 3, 0);
    for (int low = 1; low < 4; low++) {
        n[TEXT_LEN - 1] = alphabet[v | low];
        expect_bad(&k, n, TEXT_LEN);
    }
    n[TEXT_LEN - 1] = alphabet[v];
    assert_int_equal(check_at(&k, n, TEXT_LEN, T0), TG_NONCE_VALID);
}

static void test_random_keys_differ(void **state)
{
    struct tg_nonce_key a, b;
    assert_int_equal(tg_nonce_key_random(&a), 0);
    assert_int_equal(tg_nonce_key_random(&b), 0);
    assert_memory_not_equal(a.secret, b.secret, TG_NONCE_SECRET_LEN);
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&a, T0, n), 0);
    assert_int_equal(check_at(&a, n, TEXT_LEN, T0), TG_NONCE_VALID);
    assert_int_equal(check_at(&b, n, TEXT_LEN, T0), TG_NONCE_BAD);
}

/* Writes len bytes of content to a new temporary file; returns its path (static per slot). */
static const char *temp_file(int slot, const char *content, size_t len)
{
    static char paths[4][64];
    snprintf(paths[slot], sizeof paths[slot], "/tmp/tg_test_nonce_XXXXXX");
    int fd = mkstemp(paths[slot]);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, content + off, len - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    close(fd);
    return paths[slot];
}

static const char key_text[] = "c2VjcmV0IHRoYXQgaXMgbG9uZyBlbm91Z2ggdG8gdXNlIGFzIGEga2V5Cg==\n";

static void test_key_file_is_sha256_of_its_content(void **state)
{
    size_t len = strlen(key_text);
    const char *p1 = temp_file(0, key_text, len);
    const char *p2 = temp_file(1, key_text, len);
    struct tg_nonce_key a, b;
    char err[256] = "";
    memset(&a, 0, sizeof a);
    memset(&b, 0xff, sizeof b);
    assert_int_equal(tg_nonce_key_load(&a, p1, err, sizeof err), 0);
    assert_int_equal(tg_nonce_key_load(&b, p2, err, sizeof err), 0);
    assert_memory_equal(a.secret, b.secret, TG_NONCE_SECRET_LEN);
    unsigned char want[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key_text, len, want);
    assert_memory_equal(a.secret, want, TG_NONCE_SECRET_LEN);

    /* Two instances sharing the file accept each other's nonces. */
    char n[TG_NONCE_TEXT_MAX];
    assert_int_equal(tg_nonce_make(&a, T0, n), 0);
    assert_int_equal(check_at(&b, n, TEXT_LEN, T0), TG_NONCE_VALID);

    /* Every byte counts, the trailing newline included. */
    const char *p3 = temp_file(2, key_text, len - 1);
    assert_int_equal(tg_nonce_key_load(&b, p3, err, sizeof err), 0);
    assert_memory_not_equal(a.secret, b.secret, TG_NONCE_SECRET_LEN);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}

static void test_key_file_of_32_bytes_loads_31_does_not(void **state)
{
    struct tg_nonce_key k;
    char err[256] = "";
    const char *ok = temp_file(0, key_text, 32);
    assert_int_equal(tg_nonce_key_load(&k, ok, err, sizeof err), 0);

    const char *shorter = temp_file(1, key_text, 31);
    assert_int_equal(tg_nonce_key_load(&k, shorter, err, sizeof err), -1);
    assert_memory_equal(err, shorter, strlen(shorter));
    assert_string_equal(err + strlen(shorter), ": 31 bytes, a secret needs at least 32");

    const char *empty = temp_file(2, "", 0);
    assert_int_equal(tg_nonce_key_load(&k, empty, err, sizeof err), -1);
    assert_memory_equal(err, empty, strlen(empty));
    assert_non_null(strstr(err, ": 0 bytes"));
    unlink(ok);
    unlink(shorter);
    unlink(empty);
}

static void test_key_file_over_64_kib_or_missing_is_refused(void **state)
{
    struct tg_nonce_key k;
    char err[256] = "";
    static char big[65537];
    memset(big, 'k', sizeof big);
    const char *at_limit = temp_file(0, big, 65536);
    assert_int_equal(tg_nonce_key_load(&k, at_limit, err, sizeof err), 0);
    const char *over = temp_file(1, big, sizeof big);
    assert_int_equal(tg_nonce_key_load(&k, over, err, sizeof err), -1);
    assert_memory_equal(err, over, strlen(over));
    assert_non_null(strstr(err, ": larger than 65536 bytes"));
    unlink(at_limit);
    unlink(over);

    assert_int_equal(tg_nonce_key_load(&k, "/nonexistent/tg-secret", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/tg-secret: No such file or directory");
    assert_int_equal(tg_nonce_key_load(&k, "/tmp", err, sizeof err), -1); /* a directory */
    assert_string_equal(err, "/tmp: Is a directory");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_made_nonce_checks_valid_with_its_time_and_id),
        cmocka_unit_test(test_layout_is_time_id_and_mac),
        cmocka_unit_test(test_extreme_times_round_trip),
        cmocka_unit_test(test_changing_any_character_makes_it_bad),
        cmocka_unit_test(test_tampered_time_is_bad_not_stale),
        cmocka_unit_test(test_other_secret_is_bad),
        cmocka_unit_test(test_stale_one_millisecond_after_ttl),
        cmocka_unit_test(test_future_beyond_five_seconds_is_bad),
        cmocka_unit_test(test_malformed_text_is_bad),
        cmocka_unit_test(test_standard_base64_spelling_is_bad),
        cmocka_unit_test(test_unused_trailing_bits_are_bad),
        cmocka_unit_test(test_random_keys_differ),
        cmocka_unit_test(test_key_file_is_sha256_of_its_content),
        cmocka_unit_test(test_key_file_of_32_bytes_loads_31_does_not),
        cmocka_unit_test(test_key_file_over_64_kib_or_missing_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
