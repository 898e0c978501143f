/*
 * pool: a fixed set of threads for work that must never run on an event
 * loop (password hashing, file reloads). A job runs work() on a pool thread
 * and then done() on the loop that submitted it, through tg_loop_post.
 *
 * The queue is bounded: when it is full, submit fails and the caller answers
 * 503 instead of letting an attacker queue unbounded hashing work.
 */
#ifndef TG_POOL_H
#define TG_POOL_H

#include <stddef.h>

#include "loop/loop.h"

struct tg_pool;

struct tg_pool_job {
    struct tg_loop_msg msg; /* private */
    struct tg_pool_job *next; /* private */
    struct tg_loop *loop;   /* where done() runs; set by submit */
    void (*work)(struct tg_pool_job *job); /* pool thread */
    void (*done)(struct tg_pool_job *job); /* loop thread */
};

/* Starts nthreads threads with a queue of at most max_queued jobs. NULL on failure. */
struct tg_pool *tg_pool_new(int nthreads, size_t max_queued);

/* Stops the threads (after the queued jobs ran) and frees the pool. Accepts NULL. */
void tg_pool_free(struct tg_pool *pool);

/*
 * Queues job; job->done will later run on loop. Any thread.
 * Returns 0 or -EAGAIN when the queue is full (job untouched).
 */
int tg_pool_submit(struct tg_pool *pool, struct tg_loop *loop, struct tg_pool_job *job);

#endif
