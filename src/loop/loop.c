/*
 * loop: epoll(7), a binary min-heap of timers, a deferred-task list run at
 * the end of each turn, and an eventfd-backed mailbox for other threads.
 * Level-triggered epoll keeps handlers simple: a handler that stops early
 * because a buffer is full is called again when it makes sense.
 */
#include "loop/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"

#define MAX_EVENTS 256

struct tg_loop {
    int epfd;
    struct tg_io wake; /* eventfd for posts and stop */
    atomic_bool stopping;
    uint64_t now;

    struct tg_timer **heap; /* owned array of borrowed timers */
    size_t nheap, capheap;

    struct tg_loop_msg *deferred, *deferred_tail; /* FIFO, run at end of turn */
    struct tg_loop_msg *idle;                      /* run before the loop blocks */

    pthread_mutex_t mbox_lock;
    struct tg_loop_msg *mbox_head, *mbox_tail;
    atomic_bool mbox_pending; /* set after a post: the loop skips the lock until then */

    void *data;
};

static void heap_swap(struct tg_loop *l, size_t a, size_t b)
{
    struct tg_timer *t = l->heap[a];
    l->heap[a] = l->heap[b];
    l->heap[b] = t;
    l->heap[a]->heap_index = a;
    l->heap[b]->heap_index = b;
}

static void heap_up(struct tg_loop *l, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (l->heap[p]->deadline_ms <= l->heap[i]->deadline_ms)
            break;
        heap_swap(l, i, p);
        i = p;
    }
}

static void heap_down(struct tg_loop *l, size_t i)
{
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;
        if (a < l->nheap && l->heap[a]->deadline_ms < l->heap[m]->deadline_ms)
            m = a;
        if (b < l->nheap && l->heap[b]->deadline_ms < l->heap[m]->deadline_ms)
            m = b;
        if (m == i)
            return;
        heap_swap(l, i, m);
        i = m;
    }
}

void tg_timer_init(struct tg_timer *t, tg_timer_cb cb)
{
    t->deadline_ms = 0;
    t->heap_index = SIZE_MAX;
    t->cb = cb;
}

void tg_loop_timer_clear(struct tg_loop *l, struct tg_timer *t)
{
    size_t i = t->heap_index;
    if (i == SIZE_MAX)
        return;
    t->heap_index = SIZE_MAX;
    l->nheap--;
    if (i == l->nheap)
        return;
    l->heap[i] = l->heap[l->nheap];
    l->heap[i]->heap_index = i;
    heap_up(l, i);
    heap_down(l, l->heap[i]->heap_index);
}

void tg_loop_timer_set(struct tg_loop *l, struct tg_timer *t, uint64_t ms)
{
    tg_loop_timer_clear(l, t);
    if (l->nheap == l->capheap) {
        size_t cap = l->capheap ? l->capheap * 2 : 64;
        struct tg_timer **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            abort(); /* a timer we cannot arm would hang a connection forever */
        l->heap = h;
        l->capheap = cap;
    }
    t->deadline_ms = l->now + ms;
    t->heap_index = l->nheap;
    l->heap[l->nheap++] = t;
    heap_up(l, t->heap_index);
}

static void on_wake(struct tg_io *io, uint32_t events)
{
    uint64_t v;
    (void)events;
    while (read(io->fd, &v, sizeof v) > 0)
        ;
}

struct tg_loop *tg_loop_new(void)
{
    struct tg_loop *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->wake.cb = on_wake;
    pthread_mutex_init(&l->mbox_lock, NULL);
    l->now = tg_clock_mono_ms();
    if (l->epfd < 0 || l->wake.fd < 0 || tg_loop_watch(l, &l->wake, EPOLLIN) < 0) {
        tg_loop_free(l);
        return NULL;
    }
    return l;
}

void tg_loop_free(struct tg_loop *l)
{
    if (!l)
        return;
    if (l->epfd >= 0)
        close(l->epfd);
    if (l->wake.fd >= 0)
        close(l->wake.fd);
    pthread_mutex_destroy(&l->mbox_lock);
    free(l->heap);
    free(l);
}

int tg_loop_watch(struct tg_loop *l, struct tg_io *io, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};
    int op = io->events == 0 ? EPOLL_CTL_ADD : (events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
    if (io->events == events)
        return 0;
    if (epoll_ctl(l->epfd, op, io->fd, &ev) < 0)
        return -errno;
    io->events = events;
    return 0;
}

void tg_loop_forget(struct tg_loop *l, struct tg_io *io)
{
    (void)l;
    io->events = 0;
}

void tg_loop_post(struct tg_loop *l, struct tg_loop_msg *m)
{
    uint64_t one = 1;
    m->next = NULL;
    pthread_mutex_lock(&l->mbox_lock);
    if (l->mbox_tail)
        l->mbox_tail->next = m;
    else
        l->mbox_head = m;
    l->mbox_tail = m;
    pthread_mutex_unlock(&l->mbox_lock);
    atomic_store(&l->mbox_pending, true);
    if (write(l->wake.fd, &one, sizeof one) < 0) {
        /* EAGAIN means the counter is already non-zero: the loop wakes anyway. */
    }
}

void tg_loop_defer(struct tg_loop *l, struct tg_loop_msg *m)
{
    /* FIFO: a connection's free, deferred after its other tasks, runs last. */
    m->next = NULL;
    if (l->deferred_tail)
        l->deferred_tail->next = m;
    else
        l->deferred = m;
    l->deferred_tail = m;
}

void tg_loop_idle(struct tg_loop *l, struct tg_loop_msg *m)
{
    m->next = l->idle;
    l->idle = m;
}

static void run_idle(struct tg_loop *l)
{
    struct tg_loop_msg *m = l->idle;
    l->idle = NULL;
    while (m) {
        struct tg_loop_msg *next = m->next;
        m->cb(m);
        m = next;
    }
}

void tg_loop_stop(struct tg_loop *l)
{
    uint64_t one = 1;
    atomic_store(&l->stopping, true);
    if (write(l->wake.fd, &one, sizeof one) < 0) {
        /* see tg_loop_post */
    }
}

uint64_t tg_loop_now(const struct tg_loop *l)
{
    return l->now;
}

void tg_loop_set_data(struct tg_loop *l, void *data)
{
    l->data = data;
}

void *tg_loop_data(const struct tg_loop *l)
{
    return l->data;
}

static void run_mailbox(struct tg_loop *l)
{
    /* Every turn comes here, posts are rare: no lock unless one was made.
     * A post after the exchange sets the flag again for the next turn. */
    if (!atomic_exchange(&l->mbox_pending, false))
        return;
    pthread_mutex_lock(&l->mbox_lock);
    struct tg_loop_msg *m = l->mbox_head;
    l->mbox_head = l->mbox_tail = NULL;
    pthread_mutex_unlock(&l->mbox_lock);
    while (m) {
        struct tg_loop_msg *next = m->next;
        m->cb(m);
        m = next;
    }
}

static void run_deferred(struct tg_loop *l)
{
    while (l->deferred) {
        struct tg_loop_msg *m = l->deferred;
        l->deferred = m->next;
        if (!l->deferred)
            l->deferred_tail = NULL;
        m->cb(m);
    }
}

static void run_timers(struct tg_loop *l)
{
    while (l->nheap > 0 && l->heap[0]->deadline_ms <= l->now) {
        struct tg_timer *t = l->heap[0];
        tg_loop_timer_clear(l, t);
        t->cb(t);
    }
}

static int next_timeout(const struct tg_loop *l)
{
    if (l->deferred)
        return 0;
    if (l->nheap == 0)
        return -1;
    uint64_t d = l->heap[0]->deadline_ms;
    if (d <= l->now)
        return 0;
    return d - l->now > 60000 ? 60000 : (int)(d - l->now);
}

/* Waits for events; idle tasks run first if there are none right now. */
static int wait_events(struct tg_loop *l, struct epoll_event *evs)
{
    int timeout = next_timeout(l);
    if (!l->idle || timeout == 0)
        return epoll_wait(l->epfd, evs, MAX_EVENTS, timeout);
    int n = epoll_wait(l->epfd, evs, MAX_EVENTS, 0);
    if (n != 0)
        return n;
    run_idle(l);
    return epoll_wait(l->epfd, evs, MAX_EVENTS, next_timeout(l));
}

void tg_loop_drain(struct tg_loop *l)
{
    run_mailbox(l);
    run_deferred(l);
    run_idle(l);
}

int tg_loop_run(struct tg_loop *l)
{
    struct epoll_event evs[MAX_EVENTS];
    while (!atomic_load(&l->stopping)) {
        int n = wait_events(l, evs);
        if (n < 0 && errno != EINTR)
            return -errno;
        l->now = tg_clock_mono_ms();
        for (int i = 0; i < n; i++) {
            struct tg_io *io = evs[i].data.ptr;
            io->cb(io, evs[i].events);
        }
        run_mailbox(l);
        run_timers(l);
        run_deferred(l);
    }
    return 0;
}
