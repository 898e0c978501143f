/*
 * Unit tests for auth/inflight: a second request with the same credentials
 * finds the first one's verification, different credentials (same length
 * or a prefix) do not, and followers come back in arrival order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "auth/inflight.h"

static void test_same_key_finds_leader_other_keys_do_not(void **state)
{
    struct tg_inflight f = {0};
    struct tg_inflight_node a = {0}, b = {0};
    const char ka[] = "dTAwMDA6cGFzcw==", kb[] = "dTAwMDE6cGFzcw==";
    tg_inflight_lead(&f, &a, ka, strlen(ka));
    tg_inflight_lead(&f, &b, kb, strlen(kb));
    char copy[sizeof ka];
    memcpy(copy, ka, sizeof ka); /* equal bytes, other storage */
    assert_ptr_equal(tg_inflight_find(&f, copy, strlen(copy)), &a);
    assert_ptr_equal(tg_inflight_find(&f, kb, strlen(kb)), &b);
    assert_null(tg_inflight_find(&f, ka, strlen(ka) - 1)); /* a prefix */
    assert_null(tg_inflight_find(&f, "dTAwMDI6cGFzcw==", 16));
    assert_null(tg_inflight_find(&f, "", 0));
    assert_null(tg_inflight_done(&f, &a)); /* no followers */
    assert_null(tg_inflight_find(&f, ka, strlen(ka)));
    assert_ptr_equal(tg_inflight_find(&f, kb, strlen(kb)), &b);
    assert_null(tg_inflight_done(&f, &b));
    assert_null(f.leaders);
}

static void test_followers_return_in_arrival_order(void **state)
{
    struct tg_inflight f = {0};
    struct tg_inflight_node lead = {0}, w[3] = {{0}};
    tg_inflight_lead(&f, &lead, "key", 3);
    for (int i = 0; i < 3; i++)
        tg_inflight_follow(tg_inflight_find(&f, "key", 3), &w[i]);
    struct tg_inflight_node *n = tg_inflight_done(&f, &lead);
    for (int i = 0; i < 3; i++, n = n->next)
        assert_ptr_equal(n, &w[i]);
    assert_null(n);
    assert_null(tg_inflight_find(&f, "key", 3));
}

static void test_unregistered_leader_has_no_followers(void **state)
{
    struct tg_inflight f = {0};
    struct tg_inflight_node other = {0}, never = {0};
    tg_inflight_lead(&f, &other, "k1", 2);
    assert_null(tg_inflight_done(&f, &never));
    assert_ptr_equal(tg_inflight_find(&f, "k1", 2), &other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_key_finds_leader_other_keys_do_not),
        cmocka_unit_test(test_followers_return_in_arrival_order),
        cmocka_unit_test(test_unregistered_leader_has_no_followers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
