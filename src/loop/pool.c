/*
 * pool: mutex + condition variable queue feeding worker threads. The lock is
 * held only to link or unlink a job, never while work runs, so the request
 * path never waits on hashing.
 *
 * Pool threads run at nice 19 with the longest time slice the scheduler
 * grants (loop/sched.h): on a core shared with an event loop, a burst of
 * password hashing must not delay answers to clients whose credentials are
 * already cached, and idle cores still run them at full speed.
 * Not SCHED_IDLE: the scheduler counts a core running only such threads as
 * idle and piles the whole pool onto it.
 */
#include "loop/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdint.h>

#include "base/buf.h"
#include "loop/sched.h"

struct tg_pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct tg_pool_job *head, *tail;
    size_t queued, max_queued;
    bool stopping;
    int nthreads;
    pthread_t *threads; /* owned */
};

static void on_job_done(struct tg_loop_msg *m)
{
    struct tg_pool_job *job = tg_container_of(m, struct tg_pool_job, msg);
    job->done(job);
}

static struct tg_pool_job *take(struct tg_pool *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->head && !p->stopping)
        pthread_cond_wait(&p->cond, &p->lock);
    struct tg_pool_job *job = p->head;
    if (job) {
        p->head = job->next;
        if (!p->head)
            p->tail = NULL;
        p->queued--;
    }
    pthread_mutex_unlock(&p->lock);
    return job;
}

static void *worker_main(void *arg)
{
    struct tg_pool *p = arg;
    struct tg_pool_job *job;
    tg_sched_hint(19, TG_SCHED_SLICE_LONG_NS);
    while ((job = take(p)) != NULL) {
        job->work(job);
        job->msg.cb = on_job_done;
        tg_loop_post(job->loop, &job->msg);
    }
    tg_buf_thread_exit();
    return NULL;
}

struct tg_pool *tg_pool_new(int nthreads, size_t max_queued)
{
    struct tg_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc((size_t)nthreads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->max_queued = max_queued;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            break;
        p->nthreads++;
    }
    if (p->nthreads == 0) {
        tg_pool_free(p);
        return NULL;
    }
    return p;
}

void tg_pool_free(struct tg_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
    free(p->threads);
    free(p);
}

int tg_pool_submit(struct tg_pool *p, struct tg_loop *loop, struct tg_pool_job *job)
{
    job->loop = loop;
    job->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->queued >= p->max_queued || p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -EAGAIN;
    }
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->queued++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}
