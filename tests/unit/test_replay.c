/*
 * Unit tests for auth/replay: each count of a nonce is FRESH once; counts
 * may arrive out of order inside the 64-count window; counts below it are
 * SEEN; large jumps slide the window; a full table forgets expired nonces
 * first, then the oldest, and answers what it forgot STALE, never FRESH;
 * and four threads sharing one nonce get each count FRESH exactly once.
 *
 * Tables of fewer than 32 nonces have a single shard (replay.c), which
 * the eviction tests rely on to know exactly when the table is full.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/replay.h"

#define T0 1700000000000u
#define TTL 300000u

/* A deterministic, well-spread id for nonce number n. */
static void make_id(uint64_t n, unsigned char id[TG_NONCE_ID_LEN])
{
    for (int half = 0; half < 2; half++) {
        uint64_t z = n * 2 + (uint64_t)half + 0x9e3779b97f4a7c15u;
        z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9u;
        z = (z ^ z >> 27) * 0x94d049bb133111ebu;
        z ^= z >> 31;
        memcpy(id + 8 * half, &z, 8);
    }
}

static enum tg_replay_verdict use(struct tg_replay *r, uint64_t n, uint64_t issued, uint32_t nc,
                                  uint64_t now)
{
    unsigned char id[TG_NONCE_ID_LEN];
    make_id(n, id);
    return tg_replay_use(r, id, issued, nc, now);
}

static void test_first_use_is_fresh_and_exact_replay_is_seen(void **state)
{
    struct tg_replay *r = tg_replay_new(1024, TTL);
    assert_non_null(r);
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 1, T0, 1, T0 + 1000), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 1, T0, 2, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 1, T0, 2, T0), TG_REPLAY_SEEN);
    /* Another nonce has its own counts, even with an id one bit away. */
    assert_int_equal(use(r, 2, T0, 1, T0), TG_REPLAY_FRESH);
    unsigned char id[TG_NONCE_ID_LEN];
    make_id(1, id);
    id[15] ^= 1;
    assert_int_equal(tg_replay_use(r, id, T0, 1, T0), TG_REPLAY_FRESH);
    assert_int_equal(tg_replay_use(r, id, T0, 1, T0), TG_REPLAY_SEEN);
    tg_replay_free(r);
}

static void test_count_zero_is_never_fresh(void **state)
{
    struct tg_replay *r = tg_replay_new(1024, TTL);
    assert_non_null(r);
    assert_int_equal(use(r, 1, T0, 0, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_FRESH); /* 0 recorded nothing */
    assert_int_equal(use(r, 1, T0, 0, T0), TG_REPLAY_SEEN);
    tg_replay_free(r);
}

static void test_out_of_order_counts_inside_window_are_fresh_once(void **state)
{
    struct tg_replay *r = tg_replay_new(1024, TTL);
    assert_non_null(r);
    assert_int_equal(use(r, 7, T0, 5, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 7, T0, 3, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 7, T0, 3, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 7, T0, 1, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 7, T0, 4, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 7, T0, 2, T0), TG_REPLAY_FRESH);
    for (uint32_t nc = 1; nc <= 5; nc++)
        assert_int_equal(use(r, 7, T0, nc, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 7, T0, 6, T0), TG_REPLAY_FRESH);
    /* The oldest slot of the window still remembers. */
    assert_int_equal(use(r, 7, T0, 68, T0), TG_REPLAY_FRESH); /* 5 is now 63 below */
    assert_int_equal(use(r, 7, T0, 5, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 7, T0, 67, T0), TG_REPLAY_FRESH);
    tg_replay_free(r);
}

static void test_counts_below_window_are_seen(void **state)
{
    struct tg_replay *r = tg_replay_new(1024, TTL);
    assert_non_null(r);
    assert_int_equal(use(r, 3, T0, 100, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 3, T0, 36, T0), TG_REPLAY_SEEN); /* 64 below, never used */
    assert_int_equal(use(r, 3, T0, 1, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 3, T0, 37, T0), TG_REPLAY_FRESH); /* 63 below */
    assert_int_equal(use(r, 3, T0, 37, T0), TG_REPLAY_SEEN);
    tg_replay_free(r);
}

static void test_big_jump_slides_window(void **state)
{
    struct tg_replay *r = tg_replay_new(1024, TTL);
    assert_non_null(r);
    /* A jump of exactly 63 keeps the old count inside the window. */
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 1, T0, 64, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 1, T0, 2, T0), TG_REPLAY_FRESH);

    /* A jump of exactly 64 pushes it out. */
    assert_int_equal(use(r, 2, T0, 1, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, 65, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, 1, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 2, T0, 2, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, 65, T0), TG_REPLAY_SEEN);

    /* A far jump forgets the old bitmap entirely. */
    assert_int_equal(use(r, 2, T0, 1000000, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, 1000000, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 2, T0, 999937, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, 999936, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 2, T0, 65, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 2, T0, 999999, T0), TG_REPLAY_FRESH);

    assert_int_equal(use(r, 2, T0, UINT32_MAX, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, UINT32_MAX, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 2, T0, UINT32_MAX - 63, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 2, T0, UINT32_MAX - 64, T0), TG_REPLAY_SEEN);
    tg_replay_free(r);
}

static void test_expired_nonce_is_stale(void **state)
{
    struct tg_replay *r = tg_replay_new(1024, TTL);
    assert_non_null(r);
    assert_int_equal(use(r, 1, T0, 1, T0 + TTL), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 1, T0, 2, T0 + TTL + 1), TG_REPLAY_STALE);
    assert_int_equal(use(r, 2, T0, 1, T0 + TTL + 1), TG_REPLAY_STALE);
    /* A nonce a little ahead of this instance's clock is not expired. */
    assert_int_equal(use(r, 3, T0 + 4000, 1, T0), TG_REPLAY_FRESH);
    tg_replay_free(r);
}

/* Many more nonces than the table holds: a forgotten one is never FRESH again. */
static void test_capacity_pressure_never_turns_replay_fresh(void **state)
{
    enum { CAP = 256, MANY = 20000 };
    struct tg_replay *r = tg_replay_new(CAP, 10 * (uint64_t)MANY);
    assert_non_null(r);
    for (uint64_t n = 0; n < MANY; n++)
        assert_int_equal(use(r, n, T0 + n, 1, T0 + n), TG_REPLAY_FRESH);

    size_t seen = 0, stale = 0;
    for (uint64_t n = 0; n < MANY; n++) {
        enum tg_replay_verdict v = use(r, n, T0 + n, 1, T0 + MANY);
        if (v == TG_REPLAY_FRESH)
            fail_msg("replay of nonce %llu (issued %llu of %d) was FRESH", (unsigned long long)n,
                     (unsigned long long)n, MANY);
        seen += v == TG_REPLAY_SEEN;
        stale += v == TG_REPLAY_STALE;
    }
    assert_int_equal(use(r, 0, T0, 1, T0 + MANY), TG_REPLAY_STALE); /* the oldest went first */
    assert_int_equal(use(r, MANY - 1, T0 + MANY - 1, 1, T0 + MANY), TG_REPLAY_SEEN);
    /* Bounded: about CAP remembered, not MANY (shards may round up a little). */
    assert_in_range(seen, CAP / 2, CAP + 64);
    assert_int_equal(seen + stale, MANY);
    /* Forgotten nonces also refuse counts they never used. */
    assert_int_equal(use(r, 0, T0, 2, T0 + MANY), TG_REPLAY_STALE);
    /* And the table keeps accepting new nonces. */
    assert_int_equal(use(r, MANY, T0 + MANY, 1, T0 + MANY), TG_REPLAY_FRESH);
    assert_int_equal(use(r, MANY, T0 + MANY, 1, T0 + MANY), TG_REPLAY_SEEN);
    tg_replay_free(r);
}

/*
 * Expired nonces go before live ones, whatever their last use: the
 * expired ones here were used most recently, so an LRU would keep them.
 */
static void test_full_table_drops_expired_nonces_first(void **state)
{
    enum { CAP = 16, HALF = CAP / 2, TTL_S = 1000 };
    struct tg_replay *r = tg_replay_new(CAP, TTL_S);
    assert_non_null(r);
    for (uint64_t n = 0; n < HALF; n++) /* old, issued at 0 */
        assert_int_equal(use(r, 100 + n, 0, 1, 0), TG_REPLAY_FRESH);
    for (uint64_t n = 0; n < HALF; n++) /* live, issued at 500 */
        assert_int_equal(use(r, 200 + n, 500, 1, 500), TG_REPLAY_FRESH);
    for (uint64_t n = 0; n < HALF; n++) /* the old ones, used last */
        assert_int_equal(use(r, 100 + n, 0, 2, 900), TG_REPLAY_FRESH);
    for (uint64_t n = 0; n < HALF; n++) /* at 1200 the old ones have expired */
        assert_int_equal(use(r, 300 + n, 1200, 1, 1200), TG_REPLAY_FRESH);
    for (uint64_t n = 0; n < HALF; n++) {
        assert_int_equal(use(r, 200 + n, 500, 1, 1200), TG_REPLAY_SEEN);
        assert_int_equal(use(r, 200 + n, 500, 2, 1200), TG_REPLAY_FRESH);
        assert_int_equal(use(r, 300 + n, 1200, 1, 1200), TG_REPLAY_SEEN);
        assert_int_equal(use(r, 100 + n, 0, 3, 1200), TG_REPLAY_STALE);
    }
    tg_replay_free(r);
}

/* Without expired entries the oldest issued goes, and the floor follows it. */
static void test_full_table_forgets_oldest_and_floors_it(void **state)
{
    enum { CAP = 16 };
    struct tg_replay *r = tg_replay_new(CAP, TTL);
    assert_non_null(r);
    for (uint64_t n = 1; n <= CAP; n++) /* issued 10, 20, ..., 160 */
        assert_int_equal(use(r, n, T0 + 10 * n, 1, T0 + 200), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 17, T0 + 170, 1, T0 + 200), TG_REPLAY_FRESH); /* forgets 10 */
    assert_int_equal(use(r, 1, T0 + 10, 2, T0 + 200), TG_REPLAY_STALE);
    assert_int_equal(use(r, 1, T0 + 10, 1, T0 + 200), TG_REPLAY_STALE);
    assert_int_equal(use(r, 99, T0 + 10, 1, T0 + 200), TG_REPLAY_STALE); /* at the floor */
    assert_int_equal(use(r, 98, T0 + 5, 1, T0 + 200), TG_REPLAY_STALE);  /* below it */
    /* Above the floor but older than all kept: the newcomer is the one to forget. */
    assert_int_equal(use(r, 97, T0 + 15, 1, T0 + 200), TG_REPLAY_STALE);
    assert_int_equal(use(r, 97, T0 + 15, 1, T0 + 200), TG_REPLAY_STALE);
    for (uint64_t n = 2; n <= CAP + 1; n++) { /* everything kept still works */
        assert_int_equal(use(r, n, T0 + 10 * n, 1, T0 + 200), TG_REPLAY_SEEN);
        assert_int_equal(use(r, n, T0 + 10 * n, 2, T0 + 200), TG_REPLAY_FRESH);
    }
    assert_int_equal(use(r, 18, T0 + 180, 1, T0 + 200), TG_REPLAY_FRESH); /* forgets 20 */
    assert_int_equal(use(r, 2, T0 + 20, 3, T0 + 200), TG_REPLAY_STALE);
    assert_int_equal(use(r, 3, T0 + 30, 3, T0 + 200), TG_REPLAY_FRESH);
    tg_replay_free(r);
}

/*
 * The wall clock can step back (NTP). Nonces dropped as expired must not
 * come back FRESH when they look young again: the floor covers them too.
 */
static void test_clock_stepping_back_does_not_revive_forgotten_nonces(void **state)
{
    enum { CAP = 16, TTL_S = 1000 };
    struct tg_replay *r = tg_replay_new(CAP, TTL_S);
    assert_non_null(r);
    for (uint64_t n = 0; n < CAP; n++) /* issued 100..115 */
        assert_int_equal(use(r, n, 100 + n, 1, 120), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 16, 116, 1, 120), TG_REPLAY_FRESH); /* forgets 100 */
    /* At 1110 the nonces issued 101..109 have expired; making room drops them all. */
    assert_int_equal(use(r, 17, 1110, 1, 1110), TG_REPLAY_FRESH);
    /* The clock steps back to 500, where all of them would be young. */
    assert_int_equal(use(r, 5, 105, 2, 500), TG_REPLAY_STALE);
    assert_int_equal(use(r, 9, 109, 2, 500), TG_REPLAY_STALE); /* exactly the floor */
    assert_int_equal(use(r, 0, 100, 2, 500), TG_REPLAY_STALE);
    assert_int_equal(use(r, 99, 109, 1, 500), TG_REPLAY_STALE);
    assert_int_equal(use(r, 10, 110, 1, 500), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 10, 110, 2, 500), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 18, 500, 1, 500), TG_REPLAY_FRESH);
    tg_replay_free(r);
}

static void test_new_and_free_edge_cases(void **state)
{
    tg_replay_free(NULL);
    struct tg_replay *r = tg_replay_new(0, 0);
    assert_non_null(r);
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_FRESH);
    assert_int_equal(use(r, 1, T0, 1, T0), TG_REPLAY_SEEN);
    assert_int_equal(use(r, 1, T0, 2, T0 + 1), TG_REPLAY_STALE); /* TTL 0 */
    tg_replay_free(r);
    assert_null(tg_replay_new(SIZE_MAX, TTL));
}

enum { THREADS = 4, COUNTS = 20000, BLOCK = 32 };
_Static_assert(COUNTS % BLOCK == 0, "the block order must stay within 1..COUNTS");

struct hammer {
    struct tg_replay *r;
    int order;         /* 0: ascending; 1: each block of 32 descending */
    atomic_int *fresh; /* shared, indexed by count */
};

static void *hammer_main(void *arg)
{
    const struct hammer *h = arg;
    unsigned char id[TG_NONCE_ID_LEN];
    make_id(42, id);
    for (uint32_t i = 0; i < COUNTS; i++) {
        /* Descending inside a block stays within the window: a count is only
         * pushed out by one 64 above, whose thread has used it already. */
        uint32_t nc = h->order ? (i / BLOCK) * BLOCK + (BLOCK - 1 - i % BLOCK) + 1 : i + 1;
        if (tg_replay_use(h->r, id, T0, nc, T0) == TG_REPLAY_FRESH)
            atomic_fetch_add(&h->fresh[nc], 1);
    }
    return NULL;
}

static void test_threads_sharing_a_nonce_get_each_count_once(void **state)
{
    struct tg_replay *r = tg_replay_new(65536, TTL);
    assert_non_null(r);
    atomic_int *fresh = calloc(COUNTS + 1, sizeof *fresh);
    assert_non_null(fresh);
    pthread_t th[THREADS];
    struct hammer h[THREADS];
    for (int t = 0; t < THREADS; t++) {
        h[t] = (struct hammer){r, t % 2, fresh};
        assert_int_equal(pthread_create(&th[t], NULL, hammer_main, &h[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (uint32_t nc = 1; nc <= COUNTS; nc++) {
        int n = atomic_load(&fresh[nc]);
        if (n != 1)
            fail_msg("count %u was FRESH %d times", nc, n);
    }
    free(fresh);
    tg_replay_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_use_is_fresh_and_exact_replay_is_seen),
        cmocka_unit_test(test_count_zero_is_never_fresh),
        cmocka_unit_test(test_out_of_order_counts_inside_window_are_fresh_once),
        cmocka_unit_test(test_counts_below_window_are_seen),
        cmocka_unit_test(test_big_jump_slides_window),
        cmocka_unit_test(test_expired_nonce_is_stale),
        cmocka_unit_test(test_capacity_pressure_never_turns_replay_fresh),
        cmocka_unit_test(test_full_table_drops_expired_nonces_first),
        cmocka_unit_test(test_full_table_forgets_oldest_and_floors_it),
        cmocka_unit_test(test_clock_stepping_back_does_not_revive_forgotten_nonces),
        cmocka_unit_test(test_new_and_free_edge_cases),
        cmocka_unit_test(test_threads_sharing_a_nonce_get_each_count_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
