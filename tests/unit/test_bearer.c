/*
 * Unit tests for auth/tokens and auth/bearer: the token file's grammar and
 * its PATH:LINE errors, lookups (ok, unknown, revoked, expired), minting
 * and appending, the mint -> file -> verify round trip, the cache (hits,
 * expiry, cleared by reload), reload keeping old data on a broken file,
 * which source a token goes to, JWTs through the bearer object, the
 * error_description texts, and the scheme as the proxy drives it
 * (tg_auth_start, then the challenge line with error="invalid_token").
 * Files live in a fresh temporary directory per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/bearer.h"
#include "auth/tokens.h"

#define JWT_DIR "tests/unit/fixtures/jwt/"
#define ISSUER "https://issuer.tollgate.test"
#define AUDIENCE "tollgate-proxy"
#define NOW_MS 1780272000000ull /* 2026-06-01 */
#define EXP_FUTURE_MS 4102444800000ull
/* sha256("hello") and sha256("world") */
#define H_HELLO "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
#define H_WORLD "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"

struct tmp {
    char dir[64];
    char path[128];
    char err[1024];
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tg_bearer_XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    char dir[sizeof t->dir];
    memcpy(dir, t->dir, sizeof dir);
    snprintf(t->path, sizeof t->path, "%s/tokens", dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void digest_hex(const char *hex, unsigned char d[TG_TOKENS_DIGEST_LEN])
{
    for (size_t i = 0; i < TG_TOKENS_DIGEST_LEN; i++)
        assert_int_equal(sscanf(hex + 2 * i, "%2hhx", &d[i]), 1);
}

static struct tg_tokens *parse(const char *text, char *err, size_t errlen)
{
    return tg_tokens_parse(text, strlen(text), "t", err, errlen);
}

static enum tg_tokens_result lookup(const struct tg_tokens *t, const char *token, uint64_t now,
                                    const char **user, uint64_t *exp)
{
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    tg_tokens_digest(token, strlen(token), d);
    return tg_tokens_lookup(t, d, now, user, exp);
}

/* ---- the token file ---- */

static void test_a_token_file_with_every_feature_parses(void **state)
{
    char err[256];
    const char *text =
        "# tokens\n"
        "\n"
        "   # indented comment\n" H_HELLO " alice\n" H_WORLD "\tbob \t 4102444800  \r\n"
        "FA64EA1E82E1206F828AB2A02917C7E92ACCB98E3B95881A1B4AD52B914B66E3 carol "
        "1000000000\n"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa dave - "
        "revoked\n"
        "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb erin revoked";
    struct tg_tokens *t = parse(text, err, sizeof err);
    if (!t)
        fail_msg("%s", err);
    assert_int_equal(tg_tokens_count(t), 5);
    const char *user = NULL;
    uint64_t exp = 1;
    assert_int_equal(lookup(t, "hello", NOW_MS, &user, &exp), TG_TOKENS_OK);
    assert_string_equal(user, "alice");
    assert_int_equal(exp, 0);
    assert_int_equal(lookup(t, "world", NOW_MS, &user, &exp), TG_TOKENS_OK);
    assert_string_equal(user, "bob");
    assert_int_equal(exp, EXP_FUTURE_MS);
    assert_int_equal(lookup(t, "world", EXP_FUTURE_MS - 1, &user, &exp), TG_TOKENS_OK);
    assert_int_equal(lookup(t, "world", EXP_FUTURE_MS, &user, &exp), TG_TOKENS_EXPIRED);
    assert_int_equal(lookup(t, "expired", NOW_MS, &user, &exp), TG_TOKENS_EXPIRED);
    assert_int_equal(lookup(t, "nobody", NOW_MS, &user, &exp), TG_TOKENS_UNKNOWN);
    assert_int_equal(lookup(t, "Hello", NOW_MS, &user, &exp), TG_TOKENS_UNKNOWN);
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    memset(d, 0xaa, sizeof d);
    assert_int_equal(tg_tokens_lookup(t, d, NOW_MS, &user, &exp), TG_TOKENS_REVOKED);
    memset(d, 0xbb, sizeof d);
    assert_int_equal(tg_tokens_lookup(t, d, NOW_MS, &user, &exp), TG_TOKENS_REVOKED);
    tg_tokens_free(t);
}

static void test_an_empty_file_knows_no_token(void **state)
{
    char err[256];
    struct tg_tokens *t = parse("# nothing yet\n", err, sizeof err);
    const char *user;
    uint64_t exp;
    assert_non_null(t);
    assert_int_equal(tg_tokens_count(t), 0);
    assert_int_equal(lookup(t, "hello", NOW_MS, &user, &exp), TG_TOKENS_UNKNOWN);
    tg_tokens_free(t);
    tg_tokens_free(NULL);
}

static void expect_error(const char *text, const char *want)
{
    char err[256] = "";
    struct tg_tokens *t = parse(text, err, sizeof err);
    if (t)
        fail_msg("parsed: %s", text);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, want);
}

static void test_bad_lines_are_reported_with_file_and_line(void **state)
{
    expect_error("# c\n" H_HELLO "\n", "t:2: expected 'SHA256-HEX USER");
    expect_error(H_HELLO " alice\n" H_WORLD " bob 1 revoked extra\n", "t:2: too many fields");
    expect_error("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982 alice\n",
                 "t:1: the first field must be 64 hex");
    expect_error("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982g alice\n",
                 "t:1: the first field must be 64 hex");
    expect_error(H_HELLO " alice 12x\n", "t:1: expiry must be");
    expect_error(H_HELLO " alice -5\n", "t:1: expiry must be");
    expect_error(H_HELLO " alice +5\n", "t:1: expiry must be");
    expect_error(H_HELLO " alice 0123\n", "t:1: expiry must be");
    expect_error(H_HELLO " alice 253402300800\n", "t:1: expiry must be");
    expect_error(H_HELLO " alice 5 revokd\n", "t:1: the last field must be 'revoked'");
    expect_error(H_HELLO " alice revoked revoked\n", "t:1: too many fields");
    expect_error("\n\n" H_HELLO " alice\n# x\n" H_HELLO " bob\n",
                 "t:5: the same token is already on line 3");
    expect_error("\n" H_HELLO " alice\n" H_WORLD " bob\n2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1F"
                 "A7425E73043362938B9824 carol\n",
                 "t:4: the same token is already on line 2");
    expect_error(H_HELLO " al\x01ice\n", "t:1: user name contains a control character");
    char line[400];
    snprintf(line, sizeof line, H_HELLO " %0129d\n", 0);
    expect_error(line, "t:1: user name is longer than 128 bytes");
    char nul[] = H_HELLO " alice\n" H_WORLD " b\0b\n";
    char err[256];
    assert_null(tg_tokens_parse(nul, sizeof nul - 1, "t", err, sizeof err));
    assert_string_equal(err, "t:2: NUL or CR inside a line");
    char *longline = malloc(TG_TOKENS_LINE_MAX + 100);
    memset(longline, ' ', TG_TOKENS_LINE_MAX + 99);
    longline[TG_TOKENS_LINE_MAX + 99] = '\0';
    expect_error(longline, "t:1: line too long");
    free(longline);
}

static void test_loading_reports_missing_files_and_directories(void **state)
{
    struct tmp *t = *state;
    assert_null(tg_tokens_load(t->path, t->err, sizeof t->err));
    assert_non_null(strstr(t->err, "tokens: No such file"));
    assert_null(tg_tokens_load(t->dir, t->err, sizeof t->err));
    assert_non_null(strstr(t->err, "Is a directory"));
    write_file(t->path, H_HELLO " alice\nbad\n");
    assert_null(tg_tokens_load(t->path, t->err, sizeof t->err));
    char want[200];
    snprintf(want, sizeof want, "%s:2: ", t->path);
    assert_memory_equal(t->err, want, strlen(want));
}

/* ---- minting ---- */

static bool is_b64url(const char *s)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
           strlen(s);
}

static void test_minted_tokens_are_random_base64url_with_their_digest(void **state)
{
    char a[TG_TOKENS_MINTED_LEN + 1], b[TG_TOKENS_MINTED_LEN + 1];
    unsigned char da[TG_TOKENS_DIGEST_LEN], db[TG_TOKENS_DIGEST_LEN], check[TG_TOKENS_DIGEST_LEN];
    assert_int_equal(tg_tokens_mint(a, da), 0);
    assert_int_equal(tg_tokens_mint(b, db), 0);
    assert_int_equal(strlen(a), 43);
    assert_true(is_b64url(a));
    assert_string_not_equal(a, b);
    tg_tokens_digest(a, strlen(a), check);
    assert_memory_equal(da, check, sizeof check);
    assert_memory_not_equal(da, db, sizeof db);
    /* The known-answer digest: sha256("hello"). */
    unsigned char hello[TG_TOKENS_DIGEST_LEN];
    digest_hex(H_HELLO, hello);
    tg_tokens_digest("hello", 5, check);
    assert_memory_equal(hello, check, sizeof check);
}

static void test_append_creates_a_private_file_and_adds_lines(void **state)
{
    struct tmp *t = *state;
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    digest_hex(H_HELLO, d);
    assert_int_equal(tg_tokens_append(t->path, d, "alice", 0, t->err, sizeof t->err), 0);
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    digest_hex(H_WORLD, d);
    assert_int_equal(tg_tokens_append(t->path, d, "bob", 4102444800ull, t->err, sizeof t->err), 0);
    assert_string_equal(read_all(t->path), H_HELLO " alice\n" H_WORLD " bob 4102444800\n");
}

static void test_append_ends_an_unterminated_last_line_first(void **state)
{
    struct tmp *t = *state;
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    write_file(t->path, "# hand-edited\n" H_HELLO " alice");
    chmod(t->path, 0640);
    digest_hex(H_WORLD, d);
    assert_int_equal(tg_tokens_append(t->path, d, "bob", 0, t->err, sizeof t->err), 0);
    assert_string_equal(read_all(t->path), "# hand-edited\n" H_HELLO " alice\n" H_WORLD " bob\n");
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640); /* an existing file keeps its mode */
}

static void test_append_refuses_names_the_file_cannot_hold(void **state)
{
    struct tmp *t = *state;
    unsigned char d[TG_TOKENS_DIGEST_LEN] = {0};
    static const char *const bad[] = {"", "two words", "tab\there", "nl\n", "del\x7f"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_non_null(tg_tokens_bad_user(bad[i]));
        assert_int_equal(tg_tokens_append(t->path, d, bad[i], 0, t->err, sizeof t->err), -1);
    }
    char longname[TG_TOKENS_USER_MAX + 2];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_non_null(tg_tokens_bad_user(longname));
    longname[TG_TOKENS_USER_MAX] = '\0';
    assert_null(tg_tokens_bad_user(longname));
    assert_null(tg_tokens_bad_user("jos\xc3\xa9@example.test"));
    assert_int_equal(access(t->path, F_OK), -1);
}

/* ---- the bearer object: opaque tokens ---- */

static struct tg_bearer *bearer_tokens(struct tmp *t)
{
    struct tg_bearer_config cfg = {.tokens_file = t->path, .jwt_user_claim = "sub"};
    struct tg_bearer *b = tg_bearer_new(&cfg, t->err, sizeof t->err);
    if (!b)
        fail_msg("%s", t->err);
    return b;
}

static int verify(struct tg_bearer *b, const char *token, uint64_t now, char *user,
                  const char **reason)
{
    return tg_bearer_verify(b, tg_str_c(token), now, user, TG_AUTH_USER_MAX + 1, reason);
}

static void test_a_minted_token_verifies_then_comes_from_the_cache(void **state)
{
    struct tmp *t = *state;
    char token[TG_TOKENS_MINTED_LEN + 1], user[TG_AUTH_USER_MAX + 1];
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    const char *reason;
    assert_int_equal(tg_tokens_mint(token, d), 0);
    assert_int_equal(tg_tokens_append(t->path, d, "alice", 0, t->err, sizeof t->err), 0);
    struct tg_bearer *b = bearer_tokens(t);
    assert_int_equal(verify(b, token, NOW_MS, user, &reason), 0);
    assert_string_equal(user, "alice");
    assert_string_equal(reason, "verified");
    memset(user, 0, sizeof user);
    assert_int_equal(verify(b, token, NOW_MS, user, &reason), 0);
    assert_string_equal(user, "alice");
    assert_string_equal(reason, "cached");
    /* No expiry: remembered for the default 5 minutes, then looked up again. */
    assert_int_equal(verify(b, token, NOW_MS + 300000, user, &reason), 0);
    assert_string_equal(reason, "verified");
    tg_bearer_free(b);
}

static void test_expired_revoked_and_unknown_tokens_are_refused(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    write_file(t->path, H_HELLO " alice 1780272060\n" H_WORLD " bob - revoked\n");
    struct tg_bearer *b = bearer_tokens(t);
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), 0);
    assert_string_equal(reason, "verified");
    /* Cached only until the token's own expiry. */
    assert_int_equal(verify(b, "hello", NOW_MS + 59999, user, &reason), 0);
    assert_string_equal(reason, "cached");
    assert_int_equal(verify(b, "hello", NOW_MS + 60000, user, &reason), -1);
    assert_string_equal(reason, "expired");
    assert_int_equal(verify(b, "world", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "revoked");
    assert_int_equal(verify(b, "nobody", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "unknown");
    /* A JWT-shaped token with no JWT keys configured is just unknown. */
    assert_int_equal(verify(b, "a.b.c", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "unknown");
    tg_bearer_free(b);
}

/* Expiry 0 is the epoch, long past, not "never" (found by fuzz_tokens). */
static void test_expiry_zero_is_expired_not_never(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    write_file(t->path, H_HELLO " alice 0\n" H_WORLD " bob -\n");
    struct tg_bearer *b = bearer_tokens(t);
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "expired");
    assert_int_equal(verify(b, "world", NOW_MS, user, &reason), 0);
    tg_bearer_free(b);
}

static void test_malformed_credentials_are_refused_before_any_lookup(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    write_file(t->path, "");
    struct tg_bearer *b = bearer_tokens(t);
    static const char *const bad[] = {"",      "two words", "a=b",    "=",
                                      "tab\t", "quote\"",   "comma,", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(verify(b, bad[i], NOW_MS, user, &reason), -1);
        assert_string_equal(reason, "malformed");
    }
    char *big = malloc(8194);
    memset(big, 'a', 8193);
    big[8193] = '\0';
    assert_int_equal(verify(b, big, NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "malformed");
    big[8192] = '\0';
    assert_int_equal(verify(b, big, NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "unknown");
    free(big);
    /* b64token allows these characters and trailing '='. */
    assert_int_equal(verify(b, "aZ09-._~+/==", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "unknown");
    tg_bearer_free(b);
}

static void test_a_name_longer_than_the_buffer_is_refused_not_truncated(void **state)
{
    struct tmp *t = *state;
    char user[8];
    const char *reason;
    write_file(t->path, H_HELLO " alexander-the-great\n");
    struct tg_bearer *b = bearer_tokens(t);
    assert_int_equal(tg_bearer_verify(b, tg_str_c("hello"), NOW_MS, user, sizeof user, &reason),
                     -1);
    assert_string_equal(reason, "malformed");
    char full[TG_AUTH_USER_MAX + 1];
    assert_int_equal(verify(b, "hello", NOW_MS, full, &reason), 0);
    assert_int_equal(tg_bearer_verify(b, tg_str_c("hello"), NOW_MS, user, sizeof user, &reason),
                     -1); /* not from the cache either */
    tg_bearer_free(b);
}

static void test_reload_revokes_at_once_and_a_broken_file_keeps_the_old_tokens(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    write_file(t->path, H_HELLO " alice\n" H_WORLD " bob\n");
    struct tg_bearer *b = bearer_tokens(t);
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), 0);
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), 0);
    assert_string_equal(reason, "cached");

    write_file(t->path, H_HELLO " alice revoked\n" H_WORLD " bob\n");
    assert_int_equal(tg_bearer_reload(b, t->err, sizeof t->err), 0);
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "revoked");
    assert_int_equal(verify(b, "world", NOW_MS, user, &reason), 0);

    write_file(t->path, H_HELLO " alice\nnot a token line at all\n");
    assert_int_equal(tg_bearer_reload(b, t->err, sizeof t->err), -1);
    assert_non_null(strstr(t->err, ":2: "));
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "revoked");
    assert_int_equal(verify(b, "world", NOW_MS, user, &reason), 0);
    assert_string_equal(user, "bob");

    unlink(t->path);
    assert_int_equal(tg_bearer_reload(b, t->err, sizeof t->err), -1);
    assert_int_equal(verify(b, "world", NOW_MS, user, &reason), 0);
    tg_bearer_free(b);
}

static void test_new_refuses_no_source_and_broken_files(void **state)
{
    struct tmp *t = *state;
    struct tg_bearer_config cfg = {0};
    assert_null(tg_bearer_new(&cfg, t->err, sizeof t->err));
    assert_non_null(strstr(t->err, "--tokens or --jwt-keys"));
    cfg.tokens_file = t->path;
    assert_null(tg_bearer_new(&cfg, t->err, sizeof t->err));
    assert_non_null(strstr(t->err, "No such file"));
    write_file(t->path, "");
    cfg.jwt_keys_file = JWT_DIR "jwks-rsa1024.json";
    assert_null(tg_bearer_new(&cfg, t->err, sizeof t->err));
    assert_non_null(strstr(t->err, "jwks-rsa1024.json: keys[0]"));
    tg_bearer_free(NULL);
}

/* ---- the bearer object: JWTs ---- */

static char *fixture_token(const char *name)
{
    static char line[16384], token[16384];
    char n[64], expect[32], user[160];
    FILE *f = fopen(JWT_DIR "tokens.txt", "r");
    assert_non_null(f);
    token[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "%63s %31s %159s %16383s", n, expect, user, token) == 4 &&
            strcmp(n, name) == 0)
            break;
        token[0] = '\0';
    }
    fclose(f);
    if (!token[0])
        fail_msg("no fixture %s", name);
    return token;
}

static struct tg_bearer *bearer_jwt(struct tmp *t, const char *tokens_file)
{
    struct tg_bearer_config cfg = {
        .tokens_file = tokens_file,
        .jwt_keys_file = JWT_DIR "jwks.json",
        .jwt_issuer = ISSUER,
        .jwt_audience = AUDIENCE,
        .jwt_user_claim = "sub",
        .jwt_skew_ms = 60000,
    };
    struct tg_bearer *b = tg_bearer_new(&cfg, t->err, sizeof t->err);
    if (!b)
        fail_msg("%s", t->err);
    return b;
}

static void test_jwts_verify_and_are_cached_until_exp(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    struct tg_bearer *b = bearer_jwt(t, NULL);
    const char *ok = fixture_token("ok-es384");
    assert_int_equal(verify(b, ok, NOW_MS, user, &reason), 0);
    assert_string_equal(reason, "verified");
    assert_string_equal(user, "user-es384");
    assert_int_equal(verify(b, ok, EXP_FUTURE_MS - 1, user, &reason), 0);
    assert_string_equal(reason, "cached");
    /* Past exp the cache no longer answers; the skew still lets it through... */
    assert_int_equal(verify(b, ok, EXP_FUTURE_MS, user, &reason), 0);
    assert_string_equal(reason, "verified");
    /* ...until exp + skew. */
    assert_int_equal(verify(b, ok, EXP_FUTURE_MS + 60000, user, &reason), -1);
    assert_string_equal(reason, "expired");
    tg_bearer_free(b);
}

static void test_jwt_failures_carry_their_reason(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    struct tg_bearer *b = bearer_jwt(t, NULL);
    static const char *const cases[][2] = {
        {"expired", "expired"},
        {"nbf-future", "not_yet_valid"},
        {"bad-signature-flipped", "bad_signature"},
        {"wrong-issuer", "wrong_issuer"},
        {"wrong-audience", "wrong_audience"},
        {"missing-sub", "no_user_claim"},
        {"alg-none", "unsupported_algorithm"},
        {"confusion-hs256-rsa-pem-kid", "unsupported_algorithm"},
        {"unknown-kid", "unknown"},
        {"malformed-four-parts", "malformed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* Twice: failures are never cached. */
        for (int round = 0; round < 2; round++) {
            assert_int_equal(verify(b, fixture_token(cases[i][0]), NOW_MS, user, &reason), -1);
            assert_string_equal(reason, cases[i][1]);
        }
    }
    /* With only JWT keys, anything that is not a JWT is malformed. */
    assert_int_equal(verify(b, "opaque-token", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "malformed");
    tg_bearer_free(b);
}

static void test_both_sources_route_by_shape(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    write_file(t->path, H_HELLO " alice\n");
    struct tg_bearer *b = bearer_jwt(t, t->path);
    assert_int_equal(verify(b, "hello", NOW_MS, user, &reason), 0);
    assert_string_equal(user, "alice");
    assert_int_equal(verify(b, fixture_token("ok-eddsa"), NOW_MS, user, &reason), 0);
    assert_string_equal(user, "user-eddsa");
    assert_int_equal(verify(b, "one.dot", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "unknown");
    assert_int_equal(verify(b, "a.b.c", NOW_MS, user, &reason), -1);
    assert_string_equal(reason, "malformed");
    tg_bearer_free(b);
}

/* ---- threads ---- */

struct hammer {
    struct tg_bearer *b;
    const char *jwt;
    int failures;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason;
    for (int i = 0; i < 3000; i++) {
        const char *tok = i % 3 == 0 ? h->jwt : i % 3 == 1 ? "hello" : "world";
        if (verify(h->b, tok, NOW_MS + (uint64_t)i, user, &reason) != 0 ||
            strcmp(user, i % 3 == 0   ? "user-es256"
                         : i % 3 == 1 ? "alice"
                                      : "bob") != 0)
            h->failures++;
    }
    return NULL;
}

static void test_verification_is_safe_while_another_thread_reloads(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, H_HELLO " alice\n" H_WORLD " bob\n");
    struct tg_bearer *b = bearer_jwt(t, t->path);
    struct hammer h[4];
    pthread_t th[4];
    char *jwt = strdup(fixture_token("ok-es256"));
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){b, jwt, 0};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_run, &h[i]), 0);
    }
    for (int i = 0; i < 40; i++)
        assert_int_equal(tg_bearer_reload(b, t->err, sizeof t->err), 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(h[i].failures, 0);
    }
    free(jwt);
    tg_bearer_free(b);
}

/* ---- texts ---- */

static void test_descriptions_are_plain_and_say_why(void **state)
{
    static const char *const reasons[] = {"malformed",      "unknown",
                                          "revoked",        "expired",
                                          "not_yet_valid",  "bad_signature",
                                          "wrong_issuer",   "wrong_audience",
                                          "no_user_claim",  "unsupported_algorithm",
                                          "something-else", NULL};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        const char *d = tg_bearer_describe(reasons[i]);
        assert_non_null(d);
        for (const char *p = d; *p; p++)
            assert_true(*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\');
    }
    assert_string_equal(tg_bearer_describe("expired"), "token expired");
    assert_string_equal(tg_bearer_describe("revoked"), "token revoked");
    assert_string_equal(tg_bearer_describe("not_yet_valid"), "token not yet valid");
    assert_string_equal(tg_bearer_describe("bad_signature"), "bad token signature");
    assert_string_equal(tg_bearer_describe("unknown"), "unknown token");
    assert_string_equal(tg_bearer_describe("something-else"), "invalid token");
}

/* ---- the scheme, as the proxy drives it ---- */

static struct tg_auth *auth_for(struct tg_bearer *b, char *err, size_t errlen)
{
    static const char *const schemes[] = {"bearer"};
    struct tg_auth_config ac = {
        .realm = "corp",
        .schemes = schemes,
        .nschemes = 1,
        .serves = TG_AUTH_SERVES_BEARER,
        .bearer = b,
        .no_default_rules = true,
    };
    struct tg_auth *a = tg_auth_new(&ac, err, errlen);
    if (!a)
        fail_msg("%s", err);
    return a;
}

static enum tg_auth_result start(struct tg_auth *a, struct tg_auth_attempt *at, const char *value)
{
    static const struct tg_auth_request rq = {.method = {"GET", 3},
                                              .target = {"http://example.com/", 19}};
    memset(at, 0, sizeof *at);
    struct tg_str v = value ? tg_str_c(value) : (struct tg_str){NULL, 0};
    return tg_auth_start(a, NULL, at, &rq, v, 0);
}

static char *challenge(struct tg_auth *a, const struct tg_auth_attempt *at, bool failed)
{
    static char line[512];
    struct tg_buf out;
    struct tg_auth_challenge_ctx ctx = {
        .error = failed ? at->error : NULL,
        .error_description = failed ? at->error_description : NULL,
    };
    tg_buf_init(&out, sizeof line);
    const struct tg_auth_offer *offer = tg_auth_select(a, (struct tg_str){NULL, 0}, NULL);
    assert_int_equal(tg_auth_challenges(a, offer, &out, failed ? at->scheme : NULL, &ctx, false),
                     0);
    snprintf(line, sizeof line, "%.*s", (int)tg_buf_len(&out), tg_buf_head(&out));
    tg_buf_fini(&out);
    return line;
}

static void test_the_scheme_accepts_refuses_and_challenges(void **state)
{
    struct tmp *t = *state;
    struct tg_auth_attempt at;
    write_file(t->path, H_HELLO " alice\n" H_WORLD " bob 1000000000\n");
    struct tg_bearer *b = bearer_tokens(t);
    struct tg_auth *a = auth_for(b, t->err, sizeof t->err);

    assert_int_equal(start(a, &at, "Bearer hello"), TG_AUTH_OK);
    assert_string_equal(at.user, "alice");
    assert_string_equal(at.reason, "verified");
    assert_string_equal(at.scheme->name, "bearer");
    assert_int_equal(start(a, &at, "bearer   hello  "), TG_AUTH_OK);
    assert_string_equal(at.reason, "cached");

    assert_int_equal(start(a, &at, NULL), TG_AUTH_CHALLENGE);
    assert_string_equal(challenge(a, &at, false), "Proxy-Authenticate: Bearer realm=\"corp\"\r\n");
    assert_int_equal(start(a, &at, "Bearer"), TG_AUTH_CHALLENGE);
    assert_null(at.error);

    assert_int_equal(start(a, &at, "Bearer world"), TG_AUTH_FAIL);
    assert_string_equal(at.reason, "expired");
    assert_string_equal(at.user, "");
    assert_string_equal(challenge(a, &at, true),
                        "Proxy-Authenticate: Bearer realm=\"corp\", error=\"invalid_token\", "
                        "error_description=\"token expired\"\r\n");
    assert_int_equal(start(a, &at, "Bearer nobody"), TG_AUTH_FAIL);
    assert_string_equal(at.reason, "unknown");
    assert_string_equal(at.error_description, "unknown token");
    assert_int_equal(start(a, &at, "Bearer not,a token"), TG_AUTH_FAIL);
    assert_string_equal(at.reason, "malformed");
    assert_string_equal(tg_bearer_scheme.describe(0), "Bearer");
    assert_int_equal(tg_bearer_scheme.needs(0), TG_AUTH_SERVES_BEARER);
    tg_auth_free(a);
    tg_bearer_free(b);
}

/* The loop answers hits and opaque tokens itself; a JWT miss is costly (pool). */
static void test_only_a_jwt_signature_check_is_costly(void **state)
{
    struct tmp *t = *state;
    char user[TG_AUTH_USER_MAX + 1];
    const char *reason = NULL;
    write_file(t->path, H_HELLO " alice\n");
    struct tg_bearer *b = bearer_jwt(t, t->path);
    struct tg_str jwt = tg_str_c(fixture_token("ok-es384"));
    assert_true(tg_bearer_costly(b, jwt));
    assert_false(tg_bearer_costly(b, tg_str_c("hello")));
    assert_int_equal(tg_bearer_cached(b, jwt, NOW_MS, user, sizeof user, &reason), 0);
    assert_int_equal(tg_bearer_cached(b, tg_str_c("not,a token"), NOW_MS, user, sizeof user,
                                      &reason),
                     -1);
    assert_string_equal(reason, "malformed");
    assert_int_equal(tg_bearer_verify(b, jwt, NOW_MS, user, sizeof user, &reason), 0);
    assert_int_equal(tg_bearer_cached(b, jwt, NOW_MS, user, sizeof user, &reason), 1);
    assert_string_equal(reason, "cached");
    assert_string_equal(user, "user-es384");
    tg_bearer_free(b);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_a_token_file_with_every_feature_parses),
        T(test_an_empty_file_knows_no_token),
        T(test_bad_lines_are_reported_with_file_and_line),
        T(test_loading_reports_missing_files_and_directories),
        T(test_minted_tokens_are_random_base64url_with_their_digest),
        T(test_append_creates_a_private_file_and_adds_lines),
        T(test_append_ends_an_unterminated_last_line_first),
        T(test_append_refuses_names_the_file_cannot_hold),
        T(test_a_minted_token_verifies_then_comes_from_the_cache),
        T(test_expired_revoked_and_unknown_tokens_are_refused),
        T(test_expiry_zero_is_expired_not_never),
        T(test_malformed_credentials_are_refused_before_any_lookup),
        T(test_a_name_longer_than_the_buffer_is_refused_not_truncated),
        T(test_reload_revokes_at_once_and_a_broken_file_keeps_the_old_tokens),
        T(test_new_refuses_no_source_and_broken_files),
        T(test_jwts_verify_and_are_cached_until_exp),
        T(test_jwt_failures_carry_their_reason),
        T(test_both_sources_route_by_shape),
        T(test_verification_is_safe_while_another_thread_reloads),
        T(test_descriptions_are_plain_and_say_why),
        T(test_the_scheme_accepts_refuses_and_challenges),
        T(test_only_a_jwt_signature_check_is_costly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
