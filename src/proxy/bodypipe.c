/*
 * bodypipe: the pipe and the two splices of a fixed-length body. Deciding
 * when a body may be spliced, timers and logging stay in forward.c.
 */
#include "proxy/bodypipe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define PIPE_DEFAULT 65536    /* the kernel's default pipe size */
#define PIPE_BIG 1048576      /* for bodies this large: fewer, larger splices */

struct tg_bodypipe {
    int fd[2];     /* [0] read end, [1] write end */
    size_t cap;    /* the pipe's size */
    size_t queued; /* bytes in the pipe */
    bool stalled;  /* a fill found no room (pipe slots, not bytes, may run out) */
};

struct tg_bodypipe *tg_bodypipe_new(uint64_t left)
{
    struct tg_bodypipe *p = malloc(sizeof *p);
    if (!p)
        return NULL;
    if (pipe2(p->fd, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(p);
        return NULL;
    }
    p->cap = PIPE_DEFAULT;
    p->queued = 0;
    p->stalled = false;
    if (left >= PIPE_BIG) { /* refused (per-user pipe limits): the default pipe works too */
        int size = fcntl(p->fd[1], F_SETPIPE_SZ, PIPE_BIG);
        if (size > 0 && (size_t)size > p->cap)
            p->cap = (size_t)size;
    }
    return p;
}

void tg_bodypipe_free(struct tg_bodypipe *p)
{
    if (!p)
        return;
    close(p->fd[0]);
    close(p->fd[1]);
    free(p);
}

size_t tg_bodypipe_queued(const struct tg_bodypipe *p)
{
    return p ? p->queued : 0;
}

bool tg_bodypipe_has_room(const struct tg_bodypipe *p)
{
    return p->queued < p->cap && !(p->stalled && p->queued > 0);
}

ssize_t tg_bodypipe_fill(struct tg_bodypipe *p, int src, uint64_t *left)
{
    size_t want = p->cap - p->queued;
    if (want > *left)
        want = (size_t)*left;
    ssize_t n = splice(src, NULL, p->fd[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0) {
        /* EAGAIN is an empty socket or a full pipe; with bytes queued, assume the pipe. */
        p->stalled = errno == EAGAIN;
        return errno == EINTR ? -EAGAIN : -errno;
    }
    p->queued += (size_t)n;
    *left -= (uint64_t)n;
    return n;
}

ssize_t tg_bodypipe_drain(struct tg_bodypipe *p, int dst)
{
    if (p->queued == 0)
        return 0;
    ssize_t n = splice(p->fd[0], NULL, dst, NULL, p->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0)
        return errno == EINTR ? -EAGAIN : -errno;
    p->queued -= (size_t)n;
    p->stalled = false;
    return n;
}
