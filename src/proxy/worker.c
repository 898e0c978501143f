/*
 * worker: thread body, accept handling, the connection limit, and the
 * two-step shutdown (drain: stop accepting and let requests finish; stop:
 * close everything). Messages from the main thread arrive through the
 * loop's mailbox, so all connection state stays owned by this thread.
 */
#include "proxy/worker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/credcache.h"
#include "base/buf.h"
#include "base/clock.h"
#include "http/resphead.h"
#include "loop/dns.h"
#include "loop/sched.h"
#include "log/accesslog.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "policy/connlimit.h"
#include "proxy/upstream.h"

#define ACCEPTS_PER_EVENT 1
#define BUSY_BODY "Tollgate has too many connections. Retry later.\n"
static const char busy_response[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                    "Content-Type: text/plain; charset=utf-8\r\n"
                                    "Content-Length: 48\r\nConnection: close\r\n\r\n" BUSY_BODY;
_Static_assert(sizeof BUSY_BODY - 1 == 48, "busy_response Content-Length must match its body");

/* Over a limit: a best-effort 503 and a log line, without allocating a connection. */
static void shed(const struct tg_listener *l, int fd, const struct sockaddr *peer,
                 const char *reason)
{
    char addr[TG_SOCK_ADDRSTRLEN];
    ssize_t n = send(fd, busy_response, sizeof busy_response - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    close(fd);
    tg_sock_format(peer, addr, sizeof addr);
    struct tg_access_entry e = {.client = addr,
                                .method = tg_str_c("-"),
                                .target = tg_str_c("-"),
                                .status = 503,
                                .bytes_out = sizeof busy_response - 1,
                                .reason = reason,
                                .listener = l->text};
    tg_accesslog_write(tg_worker_access_log(l->w), &e);
}

static void flush_logs(struct tg_worker *w)
{
    /* Auth lines first: a reader that sees a request's access line finds its auth line too. */
    tg_logfile_flush(&w->srv->auth_log);
    tg_logfile_flush(&w->srv->access_log);
}

/*
 * When lines are written. Light traffic: as soon as the loop runs out of
 * events, so a client rarely sees its response before its log lines.
 * Under load the loop runs out of events between every few requests (its
 * peers are slower than it), and a write(2) per idle moment cost more than
 * everything else the logs do, a tenth of a request. So once idle moments
 * come more often than every TG_WORKER_BUSY_IDLE_US on average, the worker
 * is busy: lines go out once every TG_WORKER_BUSY_FLUSH_MS, by the flush
 * timer, and no idle task is queued (it costs an extra epoll_wait per idle
 * moment). An interval with hardly any lines (TG_WORKER_BUSY_MIN_LINES)
 * ends busy mode. Either way no line waits more than TG_LOGFILE_FLUSH_MS.
 */
static void leave_busy(struct tg_worker *w)
{
    w->log_busy = false;
    w->log_idle_gap_us = TG_WORKER_BUSY_IDLE_US * 8; /* as after a long pause */
}

static void on_log_timer(struct tg_timer *t)
{
    struct tg_worker *w = tg_container_of(t, struct tg_worker, log_timer);
    flush_logs(w);
    /* Busy, the timer runs every interval until one has hardly any lines:
     * after a burst that is the next one, so a pause never finds it busy. */
    if (w->log_busy && w->log_lines <= TG_WORKER_BUSY_MIN_LINES)
        leave_busy(w);
    else if (w->log_busy)
        tg_loop_timer_set(w->loop, &w->log_timer, TG_WORKER_BUSY_FLUSH_MS);
    w->log_lines = 0;
}

static void on_log_idle(struct tg_loop_msg *m)
{
    struct tg_worker *w = tg_container_of(m, struct tg_worker, log_idle_msg);
    uint64_t now = tg_clock_mono_us();
    uint64_t gap = now - w->log_idle_last_us;
    w->log_idle_queued = false;
    w->log_idle_last_us = now;
    w->log_idle_gap_us = (w->log_idle_gap_us * 7 + (gap < UINT32_MAX ? gap : UINT32_MAX)) / 8;
    if (w->log_idle_gap_us < TG_WORKER_BUSY_IDLE_US) {
        w->log_busy = true;
        w->log_lines = 0;
        tg_loop_timer_set(w->loop, &w->log_timer, TG_WORKER_BUSY_FLUSH_MS);
        return;
    }
    flush_logs(w);
    w->log_lines = 0;
    tg_loop_timer_clear(w->loop, &w->log_timer);
}

static struct tg_logfile *arm_log(struct tg_worker *w, struct tg_logfile *lf)
{
    if (!tg_logfile_enabled(lf))
        return lf;
    w->log_lines++;
    if (w->log_busy)
        return lf; /* the busy flush timer is armed */
    if (!tg_timer_armed(&w->log_timer))
        tg_loop_timer_set(w->loop, &w->log_timer, TG_LOGFILE_FLUSH_MS);
    if (!w->log_idle_queued) {
        w->log_idle_queued = true;
        w->log_idle_msg.cb = on_log_idle;
        tg_loop_idle(w->loop, &w->log_idle_msg);
    }
    return lf;
}

struct tg_logfile *tg_worker_access_log(struct tg_worker *w)
{
    return arm_log(w, &w->srv->access_log);
}

struct tg_logfile *tg_worker_auth_log(struct tg_worker *w)
{
    return arm_log(w, &w->srv->auth_log);
}

static void on_accept(struct tg_io *io, uint32_t events)
{
    struct tg_listener *l = tg_container_of(io, struct tg_listener, io);
    struct tg_worker *w = l->w;
    (void)events;
    /* One connection per event: the listener is level-triggered, so any
     * others come with the next epoll_wait, which also carries the other
     * ready sockets; looping until EAGAIN cost a failed accept4 per turn. */
    for (int i = 0; i < ACCEPTS_PER_EVENT && !w->draining; i++) {
        struct sockaddr_storage peer;
        socklen_t len;
        int fd = tg_sock_accept(io->fd, &peer, &len);
        if (fd < 0)
            return; /* EAGAIN, or EMFILE: the listener stays level-triggered */
        const struct sockaddr *sa = (const struct sockaddr *)&peer;
        if (atomic_fetch_add(&w->srv->nconns, 1) >= w->srv->cfg->max_connections) {
            atomic_fetch_sub(&w->srv->nconns, 1);
            shed(l, fd, sa, "max_connections");
            continue;
        }
        if (!tg_connlimit_acquire(w->srv->connlimit, sa)) {
            atomic_fetch_sub(&w->srv->nconns, 1);
            shed(l, fd, sa, "max_connections_per_address");
            continue;
        }
        if (!tg_conn_new(w, fd, sa, l)) {
            close(fd);
            tg_connlimit_release(w->srv->connlimit, sa);
            atomic_fetch_sub(&w->srv->nconns, 1);
        }
    }
}

struct tg_worker *tg_worker_new(int id, struct tg_server *srv, const int *lfds, size_t nl)
{
    struct tg_worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->id = id;
    w->srv = srv;
    w->loop = tg_loop_new();
    w->dns = w->loop ? tg_dns_new(w->loop) : NULL;
    w->scratch = malloc(sizeof *w->scratch);
    w->scratch_resp = malloc(sizeof(struct tg_resphead));
    tg_timer_init(&w->log_timer, on_log_timer);
    leave_busy(w); /* start out as light traffic */
    tg_freelist_init(&w->spare_reqs, sizeof(struct tg_req), TG_WORKER_SPARES);
    tg_freelist_init(&w->spare_attempts, sizeof(struct tg_auth_attempt), TG_WORKER_SPARES);
    if (srv->auth)
        w->cache = tg_credcache_new(srv->cfg->cred_cache_size, srv->cfg->cred_cache_ttl_ms,
                                    tg_auth_cache_key(srv->auth));
    for (size_t i = 0; i < nl; i++) {
        struct tg_listener *l = &w->listeners[w->nlisteners++];
        l->io.fd = lfds[i];
        l->io.cb = on_accept;
        l->w = w;
        l->text = srv->cfg->listen[i].text;
        l->tls = srv->cfg->listen[i].tls;
    }
    if (!w->loop || !w->dns || !w->scratch || !w->scratch_resp) {
        tg_worker_free(w);
        return NULL;
    }
    tg_loop_set_data(w->loop, w);
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (tg_loop_watch(w->loop, &w->listeners[i].io, EPOLLIN) < 0) {
            tg_worker_free(w);
            return NULL;
        }
    }
    return w;
}

static void *thread_main(void *arg)
{
    struct tg_worker *w = arg;
    tg_sched_hint(0, TG_SCHED_SLICE_SHORT_NS);
    tg_loop_run(w->loop);
    flush_logs(w);
    tg_buf_thread_exit();
    atomic_store(&w->finished, true);
    return NULL;
}

int tg_worker_start(struct tg_worker *w)
{
    int rc = pthread_create(&w->thread, NULL, thread_main, w);
    w->started = rc == 0;
    return rc ? -rc : 0;
}

static void close_listeners(struct tg_worker *w)
{
    for (size_t i = 0; i < w->nlisteners; i++) {
        struct tg_listener *l = &w->listeners[i];
        if (l->io.fd < 0)
            continue;
        tg_loop_watch(w->loop, &l->io, 0);
        close(l->io.fd);
        l->io.fd = -1;
    }
}

void tg_worker_conn_gone(struct tg_worker *w)
{
    if (w->draining && w->nconns == 0)
        tg_loop_stop(w->loop);
}

static void on_drain(struct tg_loop_msg *m)
{
    struct tg_worker *w = tg_container_of(m, struct tg_worker, drain_msg);
    w->draining = true;
    close_listeners(w);
    tg_upstream_pool_clear(w);
    struct tg_conn *c = w->conns;
    while (c) {
        struct tg_conn *next = c->next;
        tg_conn_close_if_idle(c);
        c = next;
    }
    tg_worker_conn_gone(w);
}

static void on_stop(struct tg_loop_msg *m)
{
    struct tg_worker *w = tg_container_of(m, struct tg_worker, stop_msg);
    w->draining = true;
    close_listeners(w);
    while (w->conns) {
        if (w->conns->req && !w->conns->req->reason)
            w->conns->req->reason = "shutdown";
        tg_conn_close(w->conns);
    }
    tg_loop_stop(w->loop);
}

void tg_worker_drain(struct tg_worker *w)
{
    w->drain_msg.cb = on_drain;
    tg_loop_post(w->loop, &w->drain_msg);
}

void tg_worker_stop(struct tg_worker *w)
{
    w->stop_msg.cb = on_stop;
    tg_loop_post(w->loop, &w->stop_msg);
}

void tg_worker_join(struct tg_worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

bool tg_worker_finished(struct tg_worker *w)
{
    return atomic_load(&w->finished);
}

void tg_worker_free(struct tg_worker *w)
{
    if (!w)
        return;
    if (w->loop) {
        close_listeners(w);
        while (w->conns)
            tg_conn_close(w->conns);
        tg_upstream_pool_clear(w);
        tg_loop_drain(w->loop);
        tg_loop_timer_clear(w->loop, &w->log_timer);
    }
    flush_logs(w); /* the connections closed above may have logged */
    tg_dns_free(w->dns);
    if (w->loop)
        tg_loop_drain(w->loop);
    tg_credcache_free(w->cache);
    free(w->scratch);
    free(w->scratch_resp);
    tg_freelist_fini(&w->spare_reqs);
    tg_freelist_fini(&w->spare_attempts);
    tg_loop_free(w->loop);
    free(w);
}
