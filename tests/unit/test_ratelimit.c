/*
 * Unit tests for policy/ratelimit: the sixth failure within 60 s starts a
 * 60 s penalty and the fifth does not; the penalty counts down and ends;
 * repeat offences double it up to the cap and good behaviour forgets
 * them; the window slides; IPv6 is grouped by prefix and IPv4-mapped
 * addresses are IPv4; exempt prefixes are never limited; a full table
 * evicts quiet addresses, never one in a penalty; a user name failing
 * from many addresses is delayed, from one is not; and four threads
 * hammering shared addresses leave every address that failed six times
 * blocked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/ratelimit.h"

#define T0 1700000000000u
#define MIN 60000u

static struct tg_ratelimit_config defaults(void)
{
    return (struct tg_ratelimit_config){
        .max_failures = 5,
        .window_ms = 60000,
        .penalty_ms = 60000,
        .penalty_max_ms = 3600000,
        .ipv6_prefix = 64,
        .capacity = 65536,
        .user_addresses = 10,
        .user_delay_ms = 2000,
    };
}

/* A socket address from text: IPv4 if it parses as such, else IPv6. */
static const struct sockaddr *addr(struct sockaddr_storage *ss, const char *text)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return (const struct sockaddr *)ss;
}

/* The IPv4 address 10.x.y.z numbered n, for tables of many addresses. */
static const struct sockaddr *addr_n(struct sockaddr_storage *ss, uint32_t n)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(0x0a000000u | (n & 0xffffffu));
    return (const struct sockaddr *)ss;
}

static uint64_t fail_at(struct tg_ratelimit *rl, const char *text, uint64_t now)
{
    struct sockaddr_storage ss;
    uint64_t delay = 12345;
    uint64_t p = tg_ratelimit_fail(rl, addr(&ss, text), NULL, now, &delay);
    assert_int_equal(delay, 0);
    return p;
}

static uint64_t blocked_at(struct tg_ratelimit *rl, const char *text, uint64_t now)
{
    struct sockaddr_storage ss;
    return tg_ratelimit_blocked(rl, addr(&ss, text), now);
}

/* Five failures at now, each answered 0; the sixth's answer is returned. */
static uint64_t offend(struct tg_ratelimit *rl, const char *text, uint64_t now)
{
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, text, now + (uint64_t)i), 0);
    return fail_at(rl, text, now + 5);
}

static struct tg_ratelimit *make(const struct tg_ratelimit_config *cfg)
{
    struct tg_ratelimit *rl = tg_ratelimit_new(cfg);
    assert_non_null(rl);
    return rl;
}

static void test_sixth_failure_in_window_starts_penalty(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(fail_at(rl, "192.0.2.1", T0 + 1000u * (uint64_t)i), 0);
        assert_int_equal(blocked_at(rl, "192.0.2.1", T0 + 1000u * (uint64_t)i), 0);
    }
    assert_int_equal(fail_at(rl, "192.0.2.1", T0 + 59999), MIN);
    assert_int_equal(blocked_at(rl, "192.0.2.1", T0 + 59999), MIN);
    /* Another address is untouched. */
    assert_int_equal(blocked_at(rl, "192.0.2.2", T0 + 59999), 0);
    /* Failures during the penalty neither count nor extend it. */
    assert_int_equal(fail_at(rl, "192.0.2.1", T0 + 60999), MIN - 1000);
    tg_ratelimit_free(rl);
}

static void test_sixth_failure_just_past_window_does_not(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    assert_int_equal(fail_at(rl, "192.0.2.1", T0), 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(fail_at(rl, "192.0.2.1", T0 + 1000u * (uint64_t)i), 0);
    /* The first failure is exactly window_ms old: out of the window. */
    assert_int_equal(fail_at(rl, "192.0.2.1", T0 + MIN), 0);
    assert_int_equal(blocked_at(rl, "192.0.2.1", T0 + MIN), 0);
    /* The second (at T0 + 1000) is still in: six within 60 s now. */
    assert_int_equal(fail_at(rl, "192.0.2.1", T0 + MIN + 999), MIN);
    tg_ratelimit_free(rl);
}

static void test_blocked_counts_down_and_ends(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    assert_int_equal(offend(rl, "192.0.2.7", T0), MIN);
    uint64_t start = T0 + 5;
    assert_int_equal(blocked_at(rl, "192.0.2.7", start), MIN);
    assert_int_equal(blocked_at(rl, "192.0.2.7", start + 1), MIN - 1);
    assert_int_equal(blocked_at(rl, "192.0.2.7", start + MIN - 1), 1);
    assert_int_equal(blocked_at(rl, "192.0.2.7", start + MIN), 0);
    assert_int_equal(blocked_at(rl, "192.0.2.7", start + 10 * MIN), 0);
    /* After the penalty the count starts afresh: one failure is not a penalty. */
    assert_int_equal(fail_at(rl, "192.0.2.7", start + MIN), 0);
    tg_ratelimit_free(rl);
}

static void test_penalty_shorter_than_window_starts_count_afresh(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.penalty_ms = 10000;
    struct tg_ratelimit *rl = make(&cfg);
    assert_int_equal(offend(rl, "192.0.2.8", T0), 10000);
    /* The six failures are still inside the window, but the penalty paid for them. */
    uint64_t end = T0 + 5 + 10000;
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, "192.0.2.8", end + (uint64_t)i), 0);
    assert_int_equal(fail_at(rl, "192.0.2.8", end + 5), 20000);
    tg_ratelimit_free(rl);
}

static void test_repeat_offences_double_up_to_cap(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.penalty_max_ms = 200000;
    struct tg_ratelimit *rl = make(&cfg);
    const uint64_t expect[] = {60000, 120000, 200000, 200000};
    uint64_t now = T0;
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        assert_int_equal(offend(rl, "2001:db8::1", now), expect[i]);
        now += 5;
        assert_int_equal(blocked_at(rl, "2001:db8::1", now), expect[i]);
        now += expect[i]; /* the penalty ends; offend again at once */
        assert_int_equal(blocked_at(rl, "2001:db8::1", now), 0);
    }
    tg_ratelimit_free(rl);
}

static void test_good_behaviour_forgets_offences(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.penalty_max_ms = 200000;
    struct tg_ratelimit *rl = make(&cfg);
    assert_int_equal(offend(rl, "192.0.2.9", T0), 60000);
    uint64_t end = T0 + 5 + 60000;
    assert_int_equal(offend(rl, "192.0.2.9", end), 120000);
    end += 5 + 120000;
    /* Just under a cap's worth of quiet: still a repeat offender. */
    assert_int_equal(offend(rl, "192.0.2.9", end + 200000 - 6), 200000);
    end += 200000 - 6 + 5 + 200000;
    /* A full cap's worth: back to the first penalty. */
    assert_int_equal(offend(rl, "192.0.2.9", end + 200000), 60000);
    tg_ratelimit_free(rl);
}

static void test_window_slides(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    /* One failure every 12.001 s: never more than five in any 60 s. */
    for (uint64_t i = 0; i < 50; i++)
        assert_int_equal(fail_at(rl, "198.51.100.4", T0 + i * 12001), 0);
    assert_int_equal(blocked_at(rl, "198.51.100.4", T0 + 50 * 12001), 0);
    /* Every 11.999 s: the sixth lands 59.995 s after the first. */
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, "198.51.100.5", T0 + i * 11999), 0);
    assert_int_equal(fail_at(rl, "198.51.100.5", T0 + 5 * 11999), MIN);
    tg_ratelimit_free(rl);
}

static void test_ipv6_grouped_by_64(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    const char *same[] = {"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9",
                          "2001:db8:1:2:8000::", "2001:db8:1:2:1:2:3:4"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, same[i], T0), 0);
    /* The next /64 up and down have their own counters. */
    assert_int_equal(fail_at(rl, "2001:db8:1:3::1", T0), 0);
    assert_int_equal(fail_at(rl, "2001:db8:1:1:ffff:ffff:ffff:ffff", T0), 0);
    assert_int_equal(blocked_at(rl, "2001:db8:1:3::1", T0), 0);
    assert_int_equal(fail_at(rl, "2001:db8:1:2:dead::beef", T0), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:1:2::77", T0), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:1:3::1", T0), 0);
    assert_int_equal(blocked_at(rl, "2001:db8:1:1::1", T0), 0);
    tg_ratelimit_free(rl);
}

static void test_ipv6_prefix_48(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.ipv6_prefix = 48;
    struct tg_ratelimit *rl = make(&cfg);
    const char *same[] = {"2001:db8:1::1", "2001:db8:1:2::1", "2001:db8:1:ffff::1",
                          "2001:db8:1:8000::", "2001:db8:1:42:1:2:3:4"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, same[i], T0), 0);
    assert_int_equal(fail_at(rl, "2001:db8:2::1", T0), 0);
    assert_int_equal(fail_at(rl, "2001:db8:1:9999::1", T0), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:1:abcd::1", T0), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:2::1", T0), 0);
    assert_int_equal(blocked_at(rl, "2001:db8::1", T0), 0);
    tg_ratelimit_free(rl);
}

static void test_odd_prefix_masks_inside_a_byte(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.ipv6_prefix = 60;
    struct tg_ratelimit *rl = make(&cfg);
    /* 2001:db8:0:10::/60 holds ...:10:: to ...:1f::, not ...:20::. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, i % 2 ? "2001:db8:0:1f::1" : "2001:db8:0:10::1", T0), 0);
    assert_int_equal(fail_at(rl, "2001:db8:0:20::1", T0), 0);
    assert_int_equal(fail_at(rl, "2001:db8:0:17::5", T0), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:0:20::1", T0), 0);
    tg_ratelimit_free(rl);
}

static void test_ipv4_mapped_is_ipv4(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.ipv6_prefix = 64; /* ::ffff:0:0/64 would lump all IPv4 together */
    struct tg_ratelimit *rl = make(&cfg);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, i % 2 ? "::ffff:192.0.2.1" : "192.0.2.1", T0), 0);
    /* A neighbour, in either form, is a different address. */
    assert_int_equal(fail_at(rl, "::ffff:192.0.2.2", T0), 0);
    assert_int_equal(blocked_at(rl, "192.0.2.2", T0), 0);
    assert_int_equal(fail_at(rl, "::ffff:192.0.2.1", T0), MIN);
    assert_int_equal(blocked_at(rl, "192.0.2.1", T0), MIN);
    assert_int_equal(blocked_at(rl, "::ffff:192.0.2.1", T0), MIN);
    assert_int_equal(blocked_at(rl, "::ffff:192.0.2.2", T0), 0);
    tg_ratelimit_free(rl);
}

static void test_exempt_never_blocked(void **state)
{
    struct tg_cidr ex[3];
    assert_int_equal(tg_cidr_parse("10.0.0.0/8", &ex[0]), 0);
    assert_int_equal(tg_cidr_parse("2001:db8:aaaa::/48", &ex[1]), 0);
    assert_int_equal(tg_cidr_parse("2001:db8:bbbb::1", &ex[2]), 0);
    struct tg_ratelimit_config cfg = defaults();
    cfg.exempt = ex;
    cfg.nexempt = 3;
    struct tg_ratelimit *rl = make(&cfg);
    struct sockaddr_storage ss;
    for (uint64_t i = 0; i < 50; i++) {
        uint64_t delay = 7;
        assert_int_equal(tg_ratelimit_fail(rl, addr(&ss, "10.1.2.3"), "alice", T0 + i, &delay), 0);
        assert_int_equal(delay, 0);
        assert_int_equal(fail_at(rl, "::ffff:10.9.9.9", T0 + i), 0);
        assert_int_equal(fail_at(rl, "2001:db8:aaaa:1::1", T0 + i), 0);
    }
    assert_int_equal(blocked_at(rl, "10.1.2.3", T0 + 50), 0);
    assert_int_equal(blocked_at(rl, "::ffff:10.9.9.9", T0 + 50), 0);
    assert_int_equal(blocked_at(rl, "2001:db8:aaaa:1::1", T0 + 50), 0);
    /* Just outside the exempt prefixes, the limit holds. */
    assert_int_equal(offend(rl, "11.0.0.1", T0), MIN);
    assert_int_equal(offend(rl, "2001:db8:aaab::1", T0), MIN);
    /* An exempt host inside a penalised /64 still gets through. */
    assert_int_equal(offend(rl, "2001:db8:bbbb::2", T0), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:bbbb::3", T0 + 5), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8:bbbb::1", T0 + 5), 0);
    assert_int_equal(fail_at(rl, "2001:db8:bbbb::1", T0 + 5), 0);
    tg_ratelimit_free(rl);
}

static void test_capacity_pressure_keeps_penalties_and_evicts_quiet(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.capacity = 1024;
    struct tg_ratelimit *rl = make(&cfg);
    struct sockaddr_storage ss;
    /* Offender: in a penalty; suspect: five failures, one short of one. */
    assert_int_equal(offend(rl, "192.0.2.66", T0), MIN);
    for (int i = 0; i < 5; i++)
        assert_int_equal(fail_at(rl, "192.0.2.77", T0), 0);
    /* 100k addresses fail once each, the clock advancing 10 s in all. */
    for (uint32_t n = 0; n < 100000; n++) {
        uint64_t now = T0 + 10 + n / 10;
        uint64_t delay;
        assert_int_equal(tg_ratelimit_fail(rl, addr_n(&ss, n), NULL, now, &delay), 0);
    }
    uint64_t now = T0 + 10010;
    assert_int_equal(blocked_at(rl, "192.0.2.66", now), MIN + 5 - 10010);
    /* The suspect was evicted: its sixth failure counts as a first. */
    assert_int_equal(fail_at(rl, "192.0.2.77", now), 0);
    assert_int_equal(blocked_at(rl, "192.0.2.77", now), 0);
    tg_ratelimit_free(rl);
}

static void test_full_bucket_of_penalties_evicts_soonest_ending(void **state)
{
    /* capacity 8: a single bucket of 8 entries. */
    struct tg_ratelimit_config cfg = defaults();
    cfg.capacity = 8;
    cfg.max_failures = 0; /* the first failure is already too many */
    struct tg_ratelimit *rl = make(&cfg);
    struct sockaddr_storage ss;
    for (uint32_t n = 0; n < 8; n++)
        assert_int_equal(tg_ratelimit_fail(rl, addr_n(&ss, n), NULL, T0 + n, NULL), MIN);
    /* A ninth address evicts the penalty that ends first (address 0). */
    assert_int_equal(tg_ratelimit_fail(rl, addr_n(&ss, 8), NULL, T0 + 8, NULL), MIN);
    assert_int_equal(tg_ratelimit_blocked(rl, addr_n(&ss, 0), T0 + 8), 0);
    for (uint32_t n = 1; n <= 8; n++)
        assert_int_equal(tg_ratelimit_blocked(rl, addr_n(&ss, n), T0 + 8), MIN + n - 8);
    tg_ratelimit_free(rl);
}

static uint64_t user_fail(struct tg_ratelimit *rl, const char *text, const char *user, uint64_t now)
{
    struct sockaddr_storage ss;
    uint64_t delay = 12345;
    tg_ratelimit_fail(rl, addr(&ss, text), user, now, &delay);
    return delay;
}

static void test_user_attacked_from_many_addresses_is_delayed(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    char a[32];
    for (int i = 1; i <= 9; i++) {
        snprintf(a, sizeof a, "203.0.113.%d", i);
        assert_int_equal(user_fail(rl, a, "alice", T0 + (uint64_t)i), 0);
    }
    assert_int_equal(user_fail(rl, "203.0.113.10", "alice", T0 + 10), 2000);
    /* Alice's own typo at home is delayed too, but never refused. */
    assert_int_equal(user_fail(rl, "192.0.2.1", "alice", T0 + 11), 2000);
    assert_int_equal(blocked_at(rl, "192.0.2.1", T0 + 11), 0);
    /* Other names are not affected. */
    assert_int_equal(user_fail(rl, "203.0.113.1", "bob", T0 + 12), 0);
    assert_int_equal(user_fail(rl, "203.0.113.1", "alicf", T0 + 12), 0);
    /* Once the attackers' failures leave the window, the delay ends. */
    assert_int_equal(user_fail(rl, "192.0.2.1", "alice", T0 + 10 + MIN), 0);
    tg_ratelimit_free(rl);
}

static void test_user_failing_from_one_address_is_not_delayed(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    for (uint64_t i = 0; i < 20; i++)
        assert_int_equal(user_fail(rl, "198.51.100.1", "carol", T0 + i), 0);
    /* Ten addresses of one /64 are one address group. */
    char a[64];
    for (int i = 1; i <= 10; i++) {
        snprintf(a, sizeof a, "2001:db8:5:6::%x", i);
        assert_int_equal(user_fail(rl, a, "dave", T0 + 100 + (uint64_t)i), 0);
    }
    tg_ratelimit_free(rl);
}

static void test_user_tracking_off_and_null_user(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    cfg.user_addresses = 0;
    struct tg_ratelimit *rl = make(&cfg);
    char a[32];
    struct sockaddr_storage ss;
    for (int i = 1; i <= 20; i++) {
        snprintf(a, sizeof a, "203.0.113.%d", i);
        assert_int_equal(user_fail(rl, a, "alice", T0), 0);
        uint64_t delay = 1;
        assert_int_equal(tg_ratelimit_fail(rl, addr(&ss, a), NULL, T0, &delay), 0);
        assert_int_equal(delay, 0);
    }
    tg_ratelimit_free(rl);
}

static void test_new_and_free_edge_cases(void **state)
{
    tg_ratelimit_free(NULL);
    struct tg_ratelimit_config bad[8];
    for (int i = 0; i < 8; i++)
        bad[i] = defaults();
    bad[0].max_failures = 101;
    bad[1].window_ms = 0;
    bad[2].penalty_ms = 0;
    bad[3].penalty_max_ms = bad[3].penalty_ms - 1;
    bad[4].ipv6_prefix = 129;
    bad[5].capacity = 0;
    bad[6].user_addresses = 65;
    bad[7].capacity = ((size_t)1 << 24) + 1;
    for (int i = 0; i < 8; i++) {
        errno = 0;
        assert_null(tg_ratelimit_new(&bad[i]));
        assert_int_equal(errno, EINVAL);
    }
    /* The largest accepted values, and a one-entry table. */
    struct tg_ratelimit_config cfg = defaults();
    cfg.max_failures = 100;
    cfg.ipv6_prefix = 128;
    cfg.user_addresses = 64;
    cfg.capacity = 1;
    struct tg_ratelimit *rl = make(&cfg);
    for (uint64_t i = 0; i < 100; i++)
        assert_int_equal(fail_at(rl, "2001:db8::1", T0 + i), 0);
    assert_int_equal(fail_at(rl, "2001:db8::1", T0 + 100), MIN);
    assert_int_equal(blocked_at(rl, "2001:db8::2", T0 + 100), 0);
    /* Families other than IPv4 and IPv6 are never limited. */
    struct sockaddr_storage ss = {.ss_family = AF_UNIX};
    assert_int_equal(tg_ratelimit_fail(rl, (struct sockaddr *)&ss, "x", T0, NULL), 0);
    assert_int_equal(tg_ratelimit_blocked(rl, (struct sockaddr *)&ss, T0), 0);
    tg_ratelimit_free(rl);
}

#define THREADS 4
#define ADDRS 64
#define ROUNDS 20000

struct hammer {
    struct tg_ratelimit *rl;
    unsigned seed;
    atomic_uint *fails; /* per address, across threads */
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    struct sockaddr_storage ss;
    uint32_t x = h->seed;
    for (int i = 0; i < ROUNDS; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t n = (x >> 16) % ADDRS;
        /* Address n fails about n / 8 + 2 times: from n = 32 on, six or more. */
        const struct sockaddr *sa = addr_n(&ss, n);
        uint64_t now = T0 + (uint64_t)(i % 1000);
        if ((x & 0x100) && atomic_load(&h->fails[n]) < n / 8 + 2) {
            atomic_fetch_add(&h->fails[n], 1);
            tg_ratelimit_fail(h->rl, sa, (x & 0x200) ? "root" : NULL, now, NULL);
        } else {
            tg_ratelimit_blocked(h->rl, sa, now);
        }
    }
    return NULL;
}

static void test_threads_share_counts(void **state)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    static atomic_uint fails[ADDRS];
    for (int n = 0; n < ADDRS; n++)
        atomic_init(&fails[n], 0);
    struct hammer h[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        h[t] = (struct hammer){.rl = rl, .seed = 17u * (unsigned)t + 1, .fails = fails};
        assert_int_equal(pthread_create(&th[t], NULL, hammer_main, &h[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    /* All failures fell inside one second: six or more means a penalty. */
    struct sockaddr_storage ss;
    int penalised = 0;
    for (uint32_t n = 0; n < ADDRS; n++) {
        uint64_t left = tg_ratelimit_blocked(rl, addr_n(&ss, n), T0 + 1000);
        unsigned f = atomic_load(&fails[n]);
        if (f >= 6) {
            assert_true(left >= MIN - 1000 && left < MIN);
            penalised++;
        } else {
            assert_int_equal(left, 0);
        }
    }
    assert_true(penalised >= ADDRS / 2); /* the test did exercise penalties */
    tg_ratelimit_free(rl);
}

#define LOCKSTEP 2048

struct lockstep {
    struct tg_ratelimit *rl;
    pthread_barrier_t *start;
    unsigned t;
};

/*
 * Every thread walks the same addresses in the same order, so they meet on
 * each entry at once. Even addresses get 2 + 2 + 1 + 1 = 6 failures, odd
 * ones 2 + 1 + 1 + 1 = 5: a single lost update shows.
 */
static void *lockstep_main(void *arg)
{
    struct lockstep *l = arg;
    struct sockaddr_storage ss;
    pthread_barrier_wait(l->start);
    for (uint32_t k = 0; k < LOCKSTEP; k++) {
        const struct sockaddr *sa = addr_n(&ss, 4096 + k);
        unsigned times = l->t == 0 || (l->t == 1 && k % 2 == 0) ? 2 : 1;
        for (unsigned i = 0; i < times; i++) {
            tg_ratelimit_fail(l->rl, sa, "admin", T0 + k % 1000, NULL);
            tg_ratelimit_blocked(l->rl, sa, T0 + k % 1000);
        }
    }
    return NULL;
}

/* One round on a fresh table, so no address is ever evicted. */
static void lockstep_round(void)
{
    struct tg_ratelimit_config cfg = defaults();
    struct tg_ratelimit *rl = make(&cfg);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    struct lockstep l[THREADS];
    pthread_t th[THREADS];
    for (unsigned t = 0; t < THREADS; t++) {
        l[t] = (struct lockstep){.rl = rl, .start = &start, .t = t};
        assert_int_equal(pthread_create(&th[t], NULL, lockstep_main, &l[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&start);
    struct sockaddr_storage ss;
    for (uint32_t k = 0; k < LOCKSTEP; k++) {
        uint64_t left = tg_ratelimit_blocked(rl, addr_n(&ss, 4096 + k), T0 + 1000);
        if (k % 2)
            assert_int_equal(left, 0);
        else
            assert_true(left >= MIN - 1000 && left < MIN);
    }
    tg_ratelimit_free(rl);
}

static void test_threads_in_lockstep_lose_no_failure(void **state)
{
    /* A lost update needs two threads inside one entry at once: try often. */
    for (int round = 0; round < 16; round++)
        lockstep_round();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sixth_failure_in_window_starts_penalty),
        cmocka_unit_test(test_sixth_failure_just_past_window_does_not),
        cmocka_unit_test(test_blocked_counts_down_and_ends),
        cmocka_unit_test(test_penalty_shorter_than_window_starts_count_afresh),
        cmocka_unit_test(test_repeat_offences_double_up_to_cap),
        cmocka_unit_test(test_good_behaviour_forgets_offences),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_ipv6_grouped_by_64),
        cmocka_unit_test(test_ipv6_prefix_48),
        cmocka_unit_test(test_odd_prefix_masks_inside_a_byte),
        cmocka_unit_test(test_ipv4_mapped_is_ipv4),
        cmocka_unit_test(test_exempt_never_blocked),
        cmocka_unit_test(test_capacity_pressure_keeps_penalties_and_evicts_quiet),
        cmocka_unit_test(test_full_bucket_of_penalties_evicts_soonest_ending),
        cmocka_unit_test(test_user_attacked_from_many_addresses_is_delayed),
        cmocka_unit_test(test_user_failing_from_one_address_is_not_delayed),
        cmocka_unit_test(test_user_tracking_off_and_null_user),
        cmocka_unit_test(test_new_and_free_edge_cases),
        cmocka_unit_test(test_threads_share_counts),
        cmocka_unit_test(test_threads_in_lockstep_lose_no_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
