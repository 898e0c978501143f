/*
 * Unit tests for cred/passhash: every hash in tests/unit/fixtures/hashes.txt
 * (made by htpasswd, openssl passwd and mkpasswd) verifies with its password
 * and fails with a wrong or one-character-different one; NUL bytes, broken
 * and unknown formats never match; made bcrypt hashes round-trip, and Apache's
 * own htpasswd -v accepts them. Run from the repository root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cred/passhash.h"

#define FIXTURES "tests/unit/fixtures/hashes.txt"
#define MAX_ROWS 256

struct row {
    char *tool;
    char *pw;
    char *hash;
    int line;
};

static struct row rows[MAX_ROWS];
static size_t nrows;
static char *fixture_text;

/* Splits the fixture file in place into rows. */
static int load_fixtures(void **state)
{
    FILE *f = fopen(FIXTURES, "rb");
    if (!f)
        return -1;
    fixture_text = calloc(1, 1 << 20);
    size_t n = fread(fixture_text, 1, (1 << 20) - 1, f);
    fclose(f);
    int line = 0;
    for (char *p = fixture_text, *nl; p < fixture_text + n; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl)
            nl = p + strlen(p);
        *nl = '\0';
        line++;
        if (p[0] == '#' || p[0] == '\0')
            continue;
        char *t1 = strchr(p, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2 || nrows == MAX_ROWS)
            return -1;
        *t1 = *t2 = '\0';
        rows[nrows++] = (struct row){p, t1 + 1, t2 + 1, line};
    }
    return 0;
}

static int free_fixtures(void **state)
{
    free(fixture_text);
    return 0;
}

static enum tg_passhash_result check(const char *hash, const char *pw)
{
    return tg_passhash_verify(hash, pw, strlen(pw));
}

/* DES crypt reads only the first 8 password bytes. */
static bool is_des(const char *hash)
{
    return strlen(hash) == 13;
}

static void expect(const struct row *r, const char *pw, enum tg_passhash_result want)
{
    enum tg_passhash_result got = check(r->hash, pw);
    if (got != want)
        fail_msg("%s:%d (%s) with \"%s\": got %d, want %d", FIXTURES, r->line, r->tool, pw, got,
                 want);
}

static void test_fixtures_cover_every_format(void **state)
{
    const char *prefixes[] = {"$2y$", "$2a$", "$2b$", "$apr1$", "{SHA}", "$1$",
                              "$5$",  "$6$",  "$y$",  "$7$",    "$gy$",  "_"};
    assert_true(nrows >= 120);
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++) {
        size_t seen = 0;
        for (size_t j = 0; j < nrows; j++)
            seen += strncmp(rows[j].hash, prefixes[i], strlen(prefixes[i])) == 0;
        if (seen < 5)
            fail_msg("only %zu fixtures start with %s", seen, prefixes[i]);
    }
}

static void test_fixtures_verify_with_their_password(void **state)
{
    for (size_t i = 0; i < nrows; i++)
        expect(&rows[i], rows[i].pw, TG_PASSHASH_MATCH);
}

static void test_fixtures_reject_a_wrong_password(void **state)
{
    for (size_t i = 0; i < nrows; i++) {
        expect(&rows[i], "wrong password", TG_PASSHASH_MISMATCH);
        expect(&rows[i], rows[i].pw[0] ? "" : " ", TG_PASSHASH_MISMATCH);
    }
}

static void test_fixtures_reject_one_character_changes(void **state)
{
    char buf[512];
    for (size_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
        size_t n = strlen(r->pw);
        if (n == 0)
            continue;
        snprintf(buf, sizeof buf, "%s", r->pw);
        buf[0] ^= 1; /* a low bit, which DES keeps */
        expect(r, buf, TG_PASSHASH_MISMATCH);
        snprintf(buf, sizeof buf, "%s", r->pw);
        buf[n - 1] ^= 1;
        expect(r, buf, is_des(r->hash) && n > 8 ? TG_PASSHASH_MATCH : TG_PASSHASH_MISMATCH);
        snprintf(buf, sizeof buf, "%sx", r->pw);
        expect(r, buf, is_des(r->hash) && n >= 8 ? TG_PASSHASH_MATCH : TG_PASSHASH_MISMATCH);
        snprintf(buf, sizeof buf, "%.*s", (int)(n - 1), r->pw);
        expect(r, buf, is_des(r->hash) && n > 8 ? TG_PASSHASH_MATCH : TG_PASSHASH_MISMATCH);
    }
}

/* The fixture for `password` made by `tool`. */
static const char *hash_of(const char *tool, const char *password)
{
    for (size_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].tool, tool) == 0 && strcmp(rows[i].pw, password) == 0)
            return rows[i].hash;
    fail_msg("no fixture %s for %s", tool, password);
    return NULL;
}

static void test_password_with_nul_never_matches(void **state)
{
    const char *tools[] = {"htpasswd -nbB", "htpasswd -nbm", "htpasswd -nbs", "htpasswd -nbd",
                           "openssl passwd -6", "mkpasswd -m yescrypt"};
    for (size_t i = 0; i < sizeof tools / sizeof *tools; i++) {
        const char *h = hash_of(tools[i], "secret");
        assert_int_equal(tg_passhash_verify(h, "secret", 6), TG_PASSHASH_MATCH);
        assert_int_equal(tg_passhash_verify(h, "secret\0", 7), TG_PASSHASH_MISMATCH);
        assert_int_equal(tg_passhash_verify(h, "secret\0junk", 11), TG_PASSHASH_MISMATCH);
        assert_int_equal(tg_passhash_verify(h, "\0secret", 7), TG_PASSHASH_MISMATCH);
    }
}

static void test_password_is_taken_by_length_not_nul(void **state)
{
    const char *h = hash_of("htpasswd -nbm", "secret");
    assert_int_equal(tg_passhash_verify(h, "secretXYZ", 6), TG_PASSHASH_MATCH);
    assert_int_equal(tg_passhash_verify(h, "secretXYZ", 5), TG_PASSHASH_MISMATCH);
}

static void test_unknown_formats_are_unsupported(void **state)
{
    const char *hashes[] = {
        "",
        "secret",
        "plaintext-password",
        "!",
        "*",
        "*0",
        "*1",
        "{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=",
        "{sha}5en6G6MezRroT3XKqkdPOmY/BfQ=",
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
        "$9$abc$def",
        "$2y$99$DMSuiSXNrcz8S3s5TuOFfujR7GDQuyDI0qnIPK1HqoXm.hgHY0B32",
        "7EfbVfH3FcJU!",   /* DES length, character outside the alphabet */
        "7EfbVfH3FcJUQQ",  /* one character too long for DES */
        " 7EfbVfH3FcJUQ",
    };
    for (size_t i = 0; i < sizeof hashes / sizeof *hashes; i++) {
        enum tg_passhash_result r = check(hashes[i], "secret");
        if (r != TG_PASSHASH_UNSUPPORTED)
            fail_msg("\"%s\": got %d", hashes[i], r);
        assert_int_equal(check(hashes[i], ""), TG_PASSHASH_UNSUPPORTED);
    }
    assert_int_equal(tg_passhash_verify(NULL, "x", 1), TG_PASSHASH_UNSUPPORTED);
}

/* crypt_r's failure token must never compare equal to anything stored. */
static void test_broken_hashes_never_match(void **state)
{
    const char *hashes[] = {
        "$6$", "$6$$", "$2y$", "$2y$05$", "$2y$05$short", "$1$", "$y$", "$y$j9T$", "$5$x",
        "$apr1$", "$apr1$$", "$apr1$XEE6bFMh$", "$apr1$XEE6bFMh$o89PyCGXBSASTzO0sOZk6",
        "{SHA}", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ", "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ==",
        "$", "$$", "_", "_J9..", "{SHA}*0", "$apr1$*0",
    };
    const char *pws[] = {"", "secret", "*0", "*"};
    for (size_t i = 0; i < sizeof hashes / sizeof *hashes; i++)
        for (size_t j = 0; j < sizeof pws / sizeof *pws; j++)
            if (check(hashes[i], pws[j]) == TG_PASSHASH_MATCH)
                fail_msg("\"%s\" matched \"%s\"", hashes[i], pws[j]);
}

static void test_long_passwords(void **state)
{
    char pw[2048];
    memset(pw, 'a', sizeof pw);
    /* Past libxcrypt's 512-byte limit: a mismatch, not an unsupported hash. */
    assert_int_equal(tg_passhash_verify(hash_of("openssl passwd -6", "secret"), pw, sizeof pw),
                     TG_PASSHASH_MISMATCH);
    assert_int_equal(tg_passhash_verify(hash_of("htpasswd -nbB", "secret"), pw, sizeof pw),
                     TG_PASSHASH_MISMATCH);
    assert_int_equal(tg_passhash_verify(hash_of("htpasswd -nbm", "secret"), pw, sizeof pw),
                     TG_PASSHASH_MISMATCH);
    assert_int_equal(tg_passhash_verify(hash_of("htpasswd -nbs", "secret"), pw, sizeof pw),
                     TG_PASSHASH_MISMATCH);
}

static void test_make_bcrypt_round_trips(void **state)
{
    const char *pws[] = {"secret", "pa:ss:word", "pässwörd€", "", "x"};
    char h[128], h2[128];
    for (size_t i = 0; i < sizeof pws / sizeof *pws; i++) {
        assert_int_equal(tg_passhash_make_bcrypt(pws[i], 4, h, sizeof h), 0);
        assert_int_equal(strncmp(h, "$2y$04$", 7), 0);
        assert_int_equal(strlen(h), 60);
        assert_int_equal(check(h, pws[i]), TG_PASSHASH_MATCH);
        assert_int_equal(check(h, "wrong"), TG_PASSHASH_MISMATCH);
        assert_int_equal(tg_passhash_make_bcrypt(pws[i], 4, h2, sizeof h2), 0);
        assert_string_not_equal(h, h2); /* fresh salt each time */
    }
    assert_int_equal(tg_passhash_make_bcrypt("secret", 5, h, sizeof h), 0);
    assert_int_equal(strncmp(h, "$2y$05$", 7), 0);
}

static void test_make_bcrypt_rejects_bad_arguments(void **state)
{
    char h[128];
    assert_int_equal(tg_passhash_make_bcrypt("secret", 3, h, sizeof h), -EINVAL);
    assert_int_equal(tg_passhash_make_bcrypt("secret", 32, h, sizeof h), -EINVAL);
    assert_int_equal(tg_passhash_make_bcrypt(NULL, 4, h, sizeof h), -EINVAL);
    assert_int_equal(tg_passhash_make_bcrypt("secret", 4, h, 60), -ENOBUFS);
    assert_int_equal(tg_passhash_make_bcrypt("secret", 4, h, 61), 0);
}

/* Apache's own verifier accepts what we write (skipped without htpasswd). */
static void test_made_bcrypt_verifies_with_apache_htpasswd(void **state)
{
    if (system("command -v htpasswd >/dev/null 2>&1") != 0)
        skip();
    char path[] = "/tmp/tg_passhash_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char h[128], cmd[256];
    assert_int_equal(tg_passhash_make_bcrypt("pa:ss wörd", 5, h, sizeof h), 0);
    dprintf(fd, "alice:%s\n", h);
    close(fd);
    snprintf(cmd, sizeof cmd, "htpasswd -vb %s alice 'pa:ss wörd' >/dev/null 2>&1", path);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "htpasswd -vb %s alice 'pa:ss word' >/dev/null 2>&1", path);
    assert_int_not_equal(system(cmd), 0);
    unlink(path);
}

static void *dummy_thread(void *arg)
{
    return (void *)tg_passhash_dummy();
}

static void test_dummy_is_one_cost_10_bcrypt_hash(void **state)
{
    pthread_t t[4];
    void *got[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, dummy_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], &got[i]), 0);
    const char *d = tg_passhash_dummy();
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(got[i], d);
    assert_int_equal(strncmp(d, "$2y$10$", 7), 0);
    assert_int_equal(strlen(d), 60);
    assert_int_equal(check(d, "secret"), TG_PASSHASH_MISMATCH);
    assert_int_equal(check(d, ""), TG_PASSHASH_MISMATCH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_cover_every_format),
        cmocka_unit_test(test_fixtures_verify_with_their_password),
        cmocka_unit_test(test_fixtures_reject_a_wrong_password),
        cmocka_unit_test(test_fixtures_reject_one_character_changes),
        cmocka_unit_test(test_password_with_nul_never_matches),
        cmocka_unit_test(test_password_is_taken_by_length_not_nul),
        cmocka_unit_test(test_unknown_formats_are_unsupported),
        cmocka_unit_test(test_broken_hashes_never_match),
        cmocka_unit_test(test_long_passwords),
        cmocka_unit_test(test_make_bcrypt_round_trips),
        cmocka_unit_test(test_make_bcrypt_rejects_bad_arguments),
        cmocka_unit_test(test_made_bcrypt_verifies_with_apache_htpasswd),
        cmocka_unit_test(test_dummy_is_one_cost_10_bcrypt_hash),
    };
    return cmocka_run_group_tests(tests, load_fixtures, free_fixtures);
}
