/*
 * Unit tests for auth/credcache: a hit returns the user, and nothing else
 * hits: other credentials, an expired entry, an older database generation,
 * another key; a full bucket evicts without losing the newest entry.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/credcache.h"

static const unsigned char key[32] = {1, 2, 3};

static bool get(struct tg_credcache *c, const char *cred, uint64_t now, uint64_t gen, char *user)
{
    return tg_credcache_get(c, cred, strlen(cred), now, gen, user);
}

static void put(struct tg_credcache *c, const char *cred, uint64_t now, uint64_t gen,
                const char *user)
{
    tg_credcache_put(c, cred, strlen(cred), now, gen, user);
}

static void test_hit_returns_the_user(void **state)
{
    char user[TG_CREDCACHE_USER_MAX + 1] = "";
    struct tg_credcache *c = tg_credcache_new(64, 1000, key);
    assert_false(get(c, "Basic YWxpY2U6cHc=", 10, 1, user));
    put(c, "Basic YWxpY2U6cHc=", 10, 1, "alice");
    assert_true(get(c, "Basic YWxpY2U6cHc=", 500, 1, user));
    assert_string_equal(user, "alice");
    assert_false(get(c, "Basic YWxpY2U6cHc", 500, 1, user));  /* a byte shorter */
    assert_false(get(c, "Basic YWxpY2U6cHd=", 500, 1, user)); /* one byte differs */
    tg_credcache_free(c);
}

static void test_expiry_generation_and_key(void **state)
{
    char user[TG_CREDCACHE_USER_MAX + 1];
    unsigned char other_key[32] = {1, 2, 4};
    struct tg_credcache *c = tg_credcache_new(64, 1000, key);
    struct tg_credcache *d = tg_credcache_new(64, 1000, other_key);
    put(c, "cred", 10, 1, "alice");
    assert_true(get(c, "cred", 1009, 1, user));
    assert_false(get(c, "cred", 1010, 1, user)); /* ttl over */
    put(c, "cred", 2000, 1, "alice");
    assert_false(get(c, "cred", 2001, 2, user)); /* the user database was reloaded */
    assert_false(get(d, "cred", 2001, 1, user)); /* another process's key */
    tg_credcache_free(c);
    tg_credcache_free(d);
}

static void test_full_cache_keeps_newest(void **state)
{
    char cred[32], user[TG_CREDCACHE_USER_MAX + 1];
    struct tg_credcache *c = tg_credcache_new(4, 100000, key); /* one bucket of four */
    for (int i = 0; i < 10; i++) {
        snprintf(cred, sizeof cred, "cred%d", i);
        put(c, cred, 10 + (uint64_t)i, 1, cred);
    }
    int hits = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(cred, sizeof cred, "cred%d", i);
        hits += get(c, cred, 50, 1, user);
    }
    assert_int_equal(hits, 4);
    assert_true(get(c, "cred9", 50, 1, user));
    assert_string_equal(user, "cred9");
    tg_credcache_free(c);
}

static void test_disabled_and_long_names(void **state)
{
    char user[TG_CREDCACHE_USER_MAX + 1], name[TG_CREDCACHE_USER_MAX + 2];
    assert_null(tg_credcache_new(0, 1000, key));
    assert_null(tg_credcache_new(64, 0, key));
    assert_false(tg_credcache_get(NULL, "x", 1, 1, 1, user));
    struct tg_credcache *c = tg_credcache_new(64, 1000, key);
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    put(c, "cred", 10, 1, name); /* too long to keep: verified every time */
    assert_false(get(c, "cred", 20, 1, user));
    tg_credcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_returns_the_user),
        cmocka_unit_test(test_expiry_generation_and_key),
        cmocka_unit_test(test_full_cache_keeps_newest),
        cmocka_unit_test(test_disabled_and_long_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
