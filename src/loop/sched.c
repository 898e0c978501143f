/*
 * sched: sched_setattr(2) for SCHED_OTHER threads. Since Linux 6.12 the
 * fair class reads sched_runtime as the thread's requested slice; EEVDF
 * lets a running thread finish its slice before a woken one runs unless the
 * woken one asked for a shorter slice. Nice alone therefore does not keep a
 * loop's latency low next to a busy hashing thread on the same core.
 */
#include "loop/sched.h"

#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* sched_setattr(2)'s argument (first version); glibc before 2.41 lacks it. */
struct sched_args {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
};

int tg_sched_hint(int nice, uint64_t slice_ns)
{
    errno = 0;
    int now = getpriority(PRIO_PROCESS, (id_t)gettid());
    if (now == -1 && errno)
        now = 0;
    struct sched_args attr = {
        .size = sizeof attr,
        .policy = SCHED_OTHER,
        .nice = nice > now ? nice : now,
        .runtime = slice_ns, /* clamped by the kernel to its shortest and longest slice */
    };
    if (syscall(SYS_sched_setattr, 0, &attr, 0) == 0)
        return 0;
    int err = errno;
    if (attr.nice != now && setpriority(PRIO_PROCESS, (id_t)gettid(), attr.nice) < 0)
        return -errno;
    return -err;
}
