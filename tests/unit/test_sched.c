/*
 * Unit tests for loop/sched: a thread's nice value and, on kernels that
 * report it (/proc/thread-self/sched "se.slice", Linux 6.12+), its slice.
 * Each case runs in a thread of its own, since the hints are per thread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "loop/sched.h"

/* The calling thread's se.slice in ns, or -1 where the kernel does not show it. */
static long long own_slice(void)
{
    FILE *f = fopen("/proc/thread-self/sched", "r");
    char line[256];
    long long v = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "se.slice", 8) == 0) {
            const char *colon = strchr(line, ':');
            if (colon)
                sscanf(colon + 1, "%lld", &v);
        }
    }
    if (f)
        fclose(f);
    return v;
}

struct outcome {
    int rc, nice;
    long long slice;
};

static void *hint_thread(void *arg)
{
    struct outcome *o = arg;
    int nice = o->nice;
    o->rc = tg_sched_hint(nice, nice ? TG_SCHED_SLICE_LONG_NS : TG_SCHED_SLICE_SHORT_NS);
    errno = 0;
    o->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
    o->slice = own_slice();
    return NULL;
}

static struct outcome run_hint(int nice)
{
    struct outcome o = {.nice = nice};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hint_thread, &o), 0);
    pthread_join(t, NULL);
    return o;
}

static void test_pool_threads_get_nice_19_and_a_long_slice(void **state)
{
    struct outcome o = run_hint(19);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.nice, 19);
    if (o.slice >= 0)
        assert_true(o.slice >= 10000000); /* clamped to the kernel's longest, at least 10 ms */
}

static void test_loop_threads_keep_nice_0_and_get_a_short_slice(void **state)
{
    struct outcome o = run_hint(0);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.nice, 0);
    if (o.slice >= 0)
        assert_true(o.slice <= 100000);
}

int main(void)
{
    if (getpriority(PRIO_PROCESS, 0) != 0) {
        printf("test_sched: the test runs at nice %d, not 0; skipped\n", getpriority(PRIO_PROCESS, 0));
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_threads_get_nice_19_and_a_long_slice),
        cmocka_unit_test(test_loop_threads_keep_nice_0_and_get_a_short_slice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
