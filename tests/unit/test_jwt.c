/*
 * Unit tests for auth/jwt: every case of tests/unit/fixtures/jwt/tokens.txt
 * (made by gen.py there with `openssl genpkey`, `openssl dgst -sign` and
 * `openssl pkeyutl`) verifies to its expected result against jwks.json:
 * each key type and algorithm, and each failure (expired, not yet valid,
 * bad signature, wrong iss/aud, missing claim, alg none, alg/key mismatch,
 * the HMAC-with-a-public-key confusion attack, unknown kid, malformed).
 * Then key selection without kid, the clock skew edges, the policy knobs,
 * sets that must not load, and single-character mutations of a good token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"

#define DIR "tests/unit/fixtures/jwt/"
#define ISSUER "https://issuer.tollgate.test"
#define AUDIENCE "tollgate-proxy"
#define NOW_MS 1780272000000ull /* 2026-06-01 */
#define EXP_FUTURE_MS 4102444800000ull
#define EXP_PAST_MS 1000000000000ull
#define NBF_FUTURE_MS 4070908800000ull
#define SKEW_MS 60000ull
#define MAX_CASES 256

struct jcase {
    char name[64];
    char expect[32];
    char user[160];
    char *token; /* owned */
};

static struct jcase cases[MAX_CASES];
static size_t ncases;

static const struct tg_jwt_policy policy = {ISSUER, AUDIENCE, "sub", SKEW_MS};

static int load_cases(void **state)
{
    FILE *f = fopen(DIR "tokens.txt", "r");
    if (!f)
        return -1;
    static char line[16384];
    while (fgets(line, sizeof line, f) && ncases < MAX_CASES) {
        if (line[0] == '#')
            continue;
        line[strcspn(line, "\n")] = '\0';
        struct jcase *c = &cases[ncases];
        char *tok = calloc(1, strlen(line) + 1);
        if (!tok || sscanf(line, "%63s %31s %159s %s", c->name, c->expect, c->user, tok) != 4) {
            free(tok);
            fclose(f);
            return -1;
        }
        c->token = tok;
        ncases++;
    }
    fclose(f);
    return ncases > 50 ? 0 : -1;
}

static int free_cases(void **state)
{
    for (size_t i = 0; i < ncases; i++)
        free(cases[i].token);
    return 0;
}

static const struct jcase *find(const char *name)
{
    for (size_t i = 0; i < ncases; i++) {
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    }
    fail_msg("no fixture %s", name);
    return NULL;
}

static struct tg_jwt_keys *load(const char *file)
{
    char err[512] = "";
    struct tg_jwt_keys *k = tg_jwt_keys_load(file, err, sizeof err);
    if (!k)
        fail_msg("%s: %s", file, err);
    return k;
}

static enum tg_jwt_result verify_at(const struct tg_jwt_keys *k, const struct tg_jwt_policy *p,
                                    const char *token, uint64_t now, char *user, uint64_t *exp)
{
    uint64_t dummy;
    return tg_jwt_verify(k, p, token, strlen(token), now, user, exp ? exp : &dummy);
}

static const char *reason_of(const struct tg_jwt_keys *k, const char *name, char *user)
{
    return tg_jwt_result_name(verify_at(k, &policy, find(name)->token, NOW_MS, user, NULL));
}

/* ---- the fixture table ---- */

static void test_every_fixture_gives_its_expected_result(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    for (size_t i = 0; i < ncases; i++) {
        char user[TG_JWT_USER_MAX + 1] = "";
        enum tg_jwt_result r = verify_at(k, &policy, cases[i].token, NOW_MS, user, NULL);
        if (strcmp(tg_jwt_result_name(r), cases[i].expect) != 0)
            fail_msg("%s: got %s, want %s", cases[i].name, tg_jwt_result_name(r), cases[i].expect);
        if (r == TG_JWT_OK && strcmp(user, cases[i].user) != 0)
            fail_msg("%s: user %s, want %s", cases[i].name, user, cases[i].user);
    }
    tg_jwt_keys_free(k);
}

static void test_fixtures_cover_every_algorithm_and_failure(void **state)
{
    static const char *const must[] = {"ok-rs256",
                                       "ok-rs384",
                                       "ok-rs512",
                                       "ok-ps256",
                                       "ok-ps384",
                                       "ok-ps512",
                                       "ok-es256",
                                       "ok-es384",
                                       "ok-eddsa",
                                       "ok-hs256",
                                       "ok-hs384",
                                       "ok-hs512",
                                       "expired",
                                       "nbf-future",
                                       "bad-signature-flipped",
                                       "wrong-issuer",
                                       "wrong-audience",
                                       "missing-sub",
                                       "alg-none",
                                       "alg-key-mismatch-es256-on-rsa",
                                       "confusion-hs256-rsa-pem-kid",
                                       "confusion-hs256-rsa-der-nokid",
                                       "confusion-hs256-rsa-n-kid",
                                       "unknown-kid",
                                       "malformed-two-parts"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        assert_non_null(find(must[i]));
}

static void test_the_set_skips_encryption_keys_and_other_curves(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    /* rsa1 rsa2 ec256 ec384 ed1 hmac1 hmac-short; not "use":"enc", not X25519. */
    assert_int_equal(tg_jwt_keys_count(k), 7);
    tg_jwt_keys_free(k);
}

/* ---- algorithm confusion ---- */

static void test_hmac_with_public_key_bytes_fails_without_an_oct_key(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks-rsa-only.json");
    char user[TG_JWT_USER_MAX + 1];
    static const char *const names[] = {
        "confusion-hs256-rsa-pem-kid",   "confusion-hs256-rsa-pem-nokid",
        "confusion-hs256-rsa-der-kid",   "confusion-hs256-rsa-der-nokid",
        "confusion-hs256-rsa-n-kid",     "confusion-hs256-rsa-n-nokid",
        "confusion-hs256-rsa-jwk-n-kid", "confusion-hs256-rsa-jwk-n-nokid"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_string_equal(reason_of(k, names[i], user), "unsupported_algorithm");
    assert_string_equal(reason_of(k, "ok-rs256", user), "verified");
    assert_string_equal(reason_of(k, "ok-hs256", user), "unknown");
    tg_jwt_keys_free(k);
}

/* ---- key selection ---- */

static void test_keys_without_kid_are_chosen_by_type(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks-nokid.json");
    char user[TG_JWT_USER_MAX + 1];
    assert_string_equal(reason_of(k, "ok-nokid-es256", user), "verified");
    assert_string_equal(user, "nokid");
    assert_string_equal(reason_of(k, "ok-nokid-eddsa", user), "verified");
    /* A kid the set does not have is unknown, even if a key would verify. */
    assert_string_equal(reason_of(k, "ok-es256", user), "unknown");
    assert_string_equal(reason_of(k, "ok-rs256", user), "unknown");
    assert_string_equal(reason_of(k, "ok-es384", user), "unknown");
    tg_jwt_keys_free(k);
}

/* ---- time ---- */

static void test_exp_and_nbf_honour_the_skew_to_the_millisecond(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    char user[TG_JWT_USER_MAX + 1];
    const char *ok = find("ok-es256")->token;
    const char *expired = find("expired")->token;
    const char *later = find("nbf-future")->token;
    uint64_t exp = 0;
    assert_int_equal(verify_at(k, &policy, ok, NOW_MS, user, &exp), TG_JWT_OK);
    assert_int_equal(exp, EXP_FUTURE_MS);
    assert_int_equal(verify_at(k, &policy, ok, EXP_FUTURE_MS + SKEW_MS - 1, user, NULL), TG_JWT_OK);
    assert_int_equal(verify_at(k, &policy, ok, EXP_FUTURE_MS + SKEW_MS, user, NULL),
                     TG_JWT_EXPIRED);
    assert_int_equal(verify_at(k, &policy, expired, EXP_PAST_MS + SKEW_MS - 1, user, NULL),
                     TG_JWT_OK);
    assert_int_equal(verify_at(k, &policy, later, NBF_FUTURE_MS - SKEW_MS - 1, user, NULL),
                     TG_JWT_NOT_YET_VALID);
    assert_int_equal(verify_at(k, &policy, later, NBF_FUTURE_MS - SKEW_MS, user, NULL), TG_JWT_OK);
    struct tg_jwt_policy strict = policy;
    strict.skew_ms = 0;
    assert_int_equal(verify_at(k, &strict, ok, EXP_FUTURE_MS, user, NULL), TG_JWT_EXPIRED);
    assert_int_equal(verify_at(k, &strict, ok, EXP_FUTURE_MS - 1, user, NULL), TG_JWT_OK);
    tg_jwt_keys_free(k);
}

static void test_exp_is_reported_in_ms_or_zero(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    char user[TG_JWT_USER_MAX + 1];
    uint64_t exp = 1;
    assert_int_equal(verify_at(k, &policy, find("ok-no-exp")->token, NOW_MS, user, &exp),
                     TG_JWT_OK);
    assert_int_equal(exp, 0);
    assert_int_equal(verify_at(k, &policy, find("ok-fractional-dates")->token, NOW_MS, user, &exp),
                     TG_JWT_OK);
    assert_int_equal(exp, EXP_FUTURE_MS + 500);
    tg_jwt_keys_free(k);
}

/* ---- policy ---- */

static void test_unset_issuer_and_audience_are_not_checked(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    char user[TG_JWT_USER_MAX + 1];
    struct tg_jwt_policy open = {NULL, NULL, NULL, SKEW_MS};
    static const char *const names[] = {"wrong-issuer", "missing-issuer", "wrong-audience",
                                        "missing-audience", "wrong-audience-array"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_int_equal(verify_at(k, &open, find(names[i])->token, NOW_MS, user, NULL), TG_JWT_OK);
        assert_string_equal(user, "alice");
    }
    tg_jwt_keys_free(k);
}

static void test_the_user_claim_is_configurable(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    char user[TG_JWT_USER_MAX + 1];
    struct tg_jwt_policy email = policy;
    email.user_claim = "email";
    assert_int_equal(verify_at(k, &email, find("ok-email-claim")->token, NOW_MS, user, NULL),
                     TG_JWT_OK);
    assert_string_equal(user, "carol@example.test");
    assert_int_equal(verify_at(k, &email, find("ok-rs256")->token, NOW_MS, user, NULL),
                     TG_JWT_NO_USER_CLAIM);
    email.user_claim = "iat"; /* a number is not a user name */
    assert_int_equal(verify_at(k, &email, find("ok-rs256")->token, NOW_MS, user, NULL),
                     TG_JWT_NO_USER_CLAIM);
    tg_jwt_keys_free(k);
}

/* ---- robustness ---- */

static void test_every_one_character_change_is_refused(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const char *names[] = {"ok-es256", "ok-hs256", "ok-eddsa"};
    for (size_t n = 0; n < 3; n++) {
        char *t = strdup(find(names[n])->token);
        size_t len = strlen(t);
        for (size_t i = 0; i < len; i++) {
            char saved = t[i], user[TG_JWT_USER_MAX + 1];
            t[i] = saved == '.' ? 'A' : abc[(strchr(abc, saved) - abc + 1 + (int)(i % 7)) % 64];
            if (verify_at(k, &policy, t, NOW_MS, user, NULL) == TG_JWT_OK)
                fail_msg("%s with position %zu changed still verifies", names[n], i);
            t[i] = saved;
        }
        free(t);
    }
    tg_jwt_keys_free(k);
}

static void test_oversized_and_empty_tokens_are_malformed(void **state)
{
    struct tg_jwt_keys *k = load(DIR "jwks.json");
    char user[TG_JWT_USER_MAX + 1], *big = malloc(TG_JWT_TOKEN_MAX + 2);
    uint64_t exp;
    memset(big, 'A', TG_JWT_TOKEN_MAX + 1);
    big[100] = big[200] = '.';
    assert_int_equal(tg_jwt_verify(k, &policy, big, TG_JWT_TOKEN_MAX + 1, NOW_MS, user, &exp),
                     TG_JWT_MALFORMED);
    assert_int_equal(tg_jwt_verify(k, &policy, "", 0, NOW_MS, user, &exp), TG_JWT_MALFORMED);
    assert_int_equal(tg_jwt_verify(k, &policy, "..", 2, NOW_MS, user, &exp), TG_JWT_MALFORMED);
    /* Not NUL-terminated: only len bytes are read. */
    const char *ok = find("ok-es256")->token;
    assert_int_equal(tg_jwt_verify(k, &policy, ok, strlen(ok) - 1, NOW_MS, user, &exp),
                     TG_JWT_MALFORMED);
    free(big);
    tg_jwt_keys_free(k);
}

/* ---- loading ---- */

static void expect_load_error(const char *text, const char *needle)
{
    char err[512] = "";
    struct tg_jwt_keys *k = tg_jwt_keys_parse(text, strlen(text), "keys.json", err, sizeof err);
    if (k)
        fail_msg("loaded: %s", text);
    if (!strstr(err, needle))
        fail_msg("error '%s' lacks '%s' for %s", err, needle, text);
}

static void test_sets_that_must_not_load(void **state)
{
    char err[512] = "";
    assert_null(tg_jwt_keys_load(DIR "jwks-rsa1024.json", err, sizeof err));
    assert_non_null(strstr(err, "2048"));
    assert_null(tg_jwt_keys_load(DIR "jwks-offcurve.json", err, sizeof err));
    assert_non_null(strstr(err, "keys[0]"));
    assert_null(tg_jwt_keys_load(DIR "no-such-file.json", err, sizeof err));
    assert_non_null(strstr(err, "no-such-file.json: No such file"));
    assert_null(tg_jwt_keys_load(DIR, err, sizeof err));

    expect_load_error("{\"keys\": [", "keys.json:1:");
    expect_load_error("[]", "not a JWK Set");
    expect_load_error("{\"keys\": {}}", "not a JWK Set");
    expect_load_error("{\"keys\": []}", "no usable");
    expect_load_error("{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"X448\", \"x\": \"AA\"}]}",
                      "no usable");
    expect_load_error("{\"keys\": [1]}", "keys[0]: not a JSON object");
    expect_load_error("{\"keys\": [{\"kty\": 1}]}", "keys[0]");
    expect_load_error("{\"keys\": [{\"kty\": \"oct\", \"kid\": 5, \"k\": \"AA\"}]}", "keys[0]");
    expect_load_error("{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2hvcnQ\"}]}", "shorter than 32");
    expect_load_error("{\"keys\": [{\"kty\": \"oct\", \"k\": \"a+b/\"}]}", "base64url");
    expect_load_error("{\"keys\": [{\"kty\": \"oct\", \"k\": 3}]}", "base64url");
    expect_load_error("{\"keys\": [{\"kty\": \"RSA\", \"n\": \"AQAB\"}]}", "\"n\" and \"e\"");
    expect_load_error("{\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-256\", \"x\": \"AQAB\", "
                      "\"y\": \"AQAB\"}]}",
                      "full size");
    expect_load_error("{\"keys\": [{\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": \"AQAB\"}]}",
                      "32-byte");
    expect_load_error("{\"keys\": [], \"keys\": []}", "duplicate");
    /* Too many keys. */
    char big[80 * (TG_JWT_KEYS_MAX + 2)];
    size_t n = (size_t)snprintf(big, sizeof big, "{\"keys\": [");
    for (int i = 0; i <= TG_JWT_KEYS_MAX; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s{\"kty\": \"x\"}", i ? "," : "");
    snprintf(big + n, sizeof big - n, "]}");
    expect_load_error(big, "more than 64 keys");
}

static void test_result_names_match_the_bearer_reasons(void **state)
{
    assert_string_equal(tg_jwt_result_name(TG_JWT_OK), "verified");
    assert_string_equal(tg_jwt_result_name(TG_JWT_UNKNOWN_KEY), "unknown");
    assert_string_equal(tg_jwt_result_name(TG_JWT_NO_USER_CLAIM), "no_user_claim");
    assert_string_equal(tg_jwt_result_name((enum tg_jwt_result)99), "malformed");
    tg_jwt_keys_free(NULL);
    assert_int_equal(tg_jwt_keys_count(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fixture_gives_its_expected_result),
        cmocka_unit_test(test_fixtures_cover_every_algorithm_and_failure),
        cmocka_unit_test(test_the_set_skips_encryption_keys_and_other_curves),
        cmocka_unit_test(test_hmac_with_public_key_bytes_fails_without_an_oct_key),
        cmocka_unit_test(test_keys_without_kid_are_chosen_by_type),
        cmocka_unit_test(test_exp_and_nbf_honour_the_skew_to_the_millisecond),
        cmocka_unit_test(test_exp_is_reported_in_ms_or_zero),
        cmocka_unit_test(test_unset_issuer_and_audience_are_not_checked),
        cmocka_unit_test(test_the_user_claim_is_configurable),
        cmocka_unit_test(test_every_one_character_change_is_refused),
        cmocka_unit_test(test_oversized_and_empty_tokens_are_malformed),
        cmocka_unit_test(test_sets_that_must_not_load),
        cmocka_unit_test(test_result_names_match_the_bearer_reasons),
    };
    return cmocka_run_group_tests(tests, load_cases, free_cases);
}
