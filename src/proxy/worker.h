/*
 * worker: one event-loop thread with its own listening sockets
 * (SO_REUSEPORT), resolver, credential cache and upstream pool. Nothing on
 * the request path is shared between workers except the hashing pool and
 * log descriptors, so throughput scales with cores and no lock is taken per
 * request.
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth/inflight.h"
#include "conf/config.h"
#include "base/freelist.h"
#include "log/logfile.h"
#include "loop/loop.h"

struct tg_server;
struct tg_conn;
struct tg_dns;
struct tg_credcache;
struct tg_upstream;

/* Log flushing under load (see leave_busy in worker.c). */
#define TG_WORKER_BUSY_IDLE_US 200  /* idle moments this close together: busy */
#define TG_WORKER_BUSY_FLUSH_MS 5   /* a busy worker's flush interval */
#define TG_WORKER_BUSY_MIN_LINES 4  /* this few lines in an interval: no longer busy */

/* Requests (2,000 bytes) and attempts (896) kept per worker for reuse. */
#define TG_WORKER_SPARES 64

struct tg_listener {
    struct tg_io io;
    struct tg_worker *w;
    const char *text; /* borrowed: "ADDR:PORT" as configured */
    bool tls;
};

struct tg_worker {
    int id;
    struct tg_server *srv; /* borrowed */
    struct tg_loop *loop;  /* owned */
    struct tg_dns *dns;    /* owned */
    struct tg_credcache *cache; /* owned */
    struct tg_inflight inflight; /* Basic verifications under way; NULL leaders if none */
    struct tg_listener listeners[TG_CONFIG_MAX_LISTEN];
    size_t nlisteners;
    struct tg_conn *conns; /* owned: doubly linked list of live connections */
    size_t nconns;
    struct tg_upstream *idle; /* owned: pool of idle upstream connections (MRU first) */
    size_t nidle;
    bool draining;
    pthread_t thread;
    bool started;
    atomic_bool finished;
    struct tg_loop_msg drain_msg, stop_msg;
    struct tg_reqhead *scratch; /* owned: parse target reused for every request head */
    void *scratch_resp;         /* owned: struct tg_resphead */
    /* Freed requests and attempts, reused: a loop turn may start dozens of
     * requests. Bounded (TG_WORKER_SPARES each); an idle worker's are a
     * constant, not a cost per connection. */
    struct tg_freelist spare_reqs;
    struct tg_freelist spare_attempts;
    struct tg_timer log_timer; /* armed from a logged line until a flush; busy: every interval */
    struct tg_loop_msg log_idle_msg; /* flushes the logs when the loop runs idle */
    bool log_idle_queued;
    uint64_t log_idle_last_us; /* when the loop last ran idle with lines to write */
    uint64_t log_idle_gap_us;  /* moving average of the time between those moments */
    bool log_busy;             /* lines wait for the busy flush timer (worker.c) */
    size_t log_lines;          /* lines logged since the last flush */
};

/*
 * Creates a worker whose listeners are the already-bound fds in lfds
 * (nl of them; ownership passes to the worker). NULL on failure.
 */
struct tg_worker *tg_worker_new(int id, struct tg_server *srv, const int *lfds, size_t nl);

/* Starts the thread. 0 or a negative errno. */
int tg_worker_start(struct tg_worker *w);

/* From any thread: stop accepting, finish in-flight requests, then exit the loop. */
void tg_worker_drain(struct tg_worker *w);

/* From any thread: close everything now and exit the loop. */
void tg_worker_stop(struct tg_worker *w);

/* True once the worker's loop has returned. Any thread. */
bool tg_worker_finished(struct tg_worker *w);

/* Waits for the thread to end. */
void tg_worker_join(struct tg_worker *w);

/*
 * Frees the worker and whatever connections remain. Call after every
 * thread that could post to it (workers, hashing pool) has been joined.
 */
void tg_worker_free(struct tg_worker *w);

/*
 * The access (auth) log, with the worker's flush timer armed: lines
 * written to it reach the file within TG_LOGFILE_FLUSH_MS. Loop thread.
 */
struct tg_logfile *tg_worker_access_log(struct tg_worker *w);
struct tg_logfile *tg_worker_auth_log(struct tg_worker *w);

/* Called by connections when they go away (loop thread). */
void tg_worker_conn_gone(struct tg_worker *w);

#endif
