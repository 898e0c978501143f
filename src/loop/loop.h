/*
 * loop: one epoll event loop per worker thread, with a timer heap, tasks
 * deferred to the end of the current turn, and a thread-safe mailbox so
 * other threads (the hashing pool, the main thread) can hand work back.
 *
 * Everything except tg_loop_post and tg_loop_stop must be called from the
 * loop's own thread. The loop does not own the objects it watches.
 */
#ifndef TG_LOOP_H
#define TG_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tg_loop;
struct tg_io;
struct tg_timer;

typedef void (*tg_io_cb)(struct tg_io *io, uint32_t events);
typedef void (*tg_timer_cb)(struct tg_timer *t);

/* A watched file descriptor; embed it and recover the owner with container_of. */
struct tg_io {
    int fd;
    uint32_t events; /* EPOLL* mask currently registered; 0 if not registered */
    tg_io_cb cb;
};

/* A one-shot timer; embed it. heap_index is private (SIZE_MAX when idle). */
struct tg_timer {
    uint64_t deadline_ms;
    size_t heap_index;
    tg_timer_cb cb;
};

/* A message for tg_loop_post / tg_loop_defer; embed it. */
struct tg_loop_msg {
    struct tg_loop_msg *next; /* private */
    void (*cb)(struct tg_loop_msg *m);
};

#define tg_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

/* Creates a loop. Returns NULL on failure (errno set). */
struct tg_loop *tg_loop_new(void);

/* Frees the loop; watched fds are not closed. Accepts NULL. */
void tg_loop_free(struct tg_loop *loop);

/* Runs until tg_loop_stop. Returns 0 or a negative errno. */
int tg_loop_run(struct tg_loop *loop);

/* Runs queued posts and deferred tasks once (teardown, after the loop stopped). */
void tg_loop_drain(struct tg_loop *loop);

/* Makes tg_loop_run return after the current turn. Any thread. */
void tg_loop_stop(struct tg_loop *loop);

/*
 * Registers, modifies or removes (events == 0) interest in io->fd.
 * Level-triggered. Returns 0 or a negative errno.
 */
int tg_loop_watch(struct tg_loop *loop, struct tg_io *io, uint32_t events);

/*
 * For an fd about to be closed: marks io unregistered without a system
 * call, because closing an fd's only descriptor removes it from epoll.
 * Not for fds that were dup()ed or are shared with another process.
 */
void tg_loop_forget(struct tg_loop *loop, struct tg_io *io);

/* Initialises a timer (not armed). */
void tg_timer_init(struct tg_timer *t, tg_timer_cb cb);

/* Arms (or re-arms) t to fire after ms milliseconds. */
void tg_loop_timer_set(struct tg_loop *loop, struct tg_timer *t, uint64_t ms);

/* Disarms t; harmless when not armed. */
void tg_loop_timer_clear(struct tg_loop *loop, struct tg_timer *t);

static inline bool tg_timer_armed(const struct tg_timer *t)
{
    return t->heap_index != SIZE_MAX;
}

/*
 * Queues m->cb to run on the loop's thread. Thread-safe; the message must
 * stay valid until its callback runs.
 */
void tg_loop_post(struct tg_loop *loop, struct tg_loop_msg *m);

/*
 * Runs m->cb after the current batch of events (same thread). Used to
 * close a connection outside its own callbacks.
 */
void tg_loop_defer(struct tg_loop *loop, struct tg_loop_msg *m);

/*
 * Runs m->cb once, the next time the loop finds nothing to do, just before
 * it would block (same thread). For work worth batching under load but
 * not worth delaying when idle, such as writing buffered log lines.
 */
void tg_loop_idle(struct tg_loop *loop, struct tg_loop_msg *m);

/* The loop's cached monotonic time in ms, refreshed once per turn. */
uint64_t tg_loop_now(const struct tg_loop *loop);

/* Arbitrary owner data (the worker). */
void tg_loop_set_data(struct tg_loop *loop, void *data);
void *tg_loop_data(const struct tg_loop *loop);

#endif
