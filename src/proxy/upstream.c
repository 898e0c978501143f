/*
 * upstream: origin connections and the per-worker idle pool. The pool is a
 * most-recently-used list searched linearly: it is small (bounded by
 * upstream-pool-size) and a linear scan of a few dozen keys is cheaper than
 * maintaining a hash table on every request.
 */
#include "proxy/upstream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "proxy/conn.h"
#include "proxy/server.h"
#include "proxy/worker.h"

#define UP_BUF 65536

void tg_conn_on_upstream(struct tg_conn *c, uint32_t events);

static void unlink_idle(struct tg_upstream *u)
{
    struct tg_worker *w = u->w;
    if (u->prev)
        u->prev->next = u->next;
    else if (w->idle == u)
        w->idle = u->next;
    if (u->next)
        u->next->prev = u->prev;
    u->prev = u->next = NULL;
    w->nidle--;
}

static void on_io(struct tg_io *io, uint32_t events)
{
    struct tg_upstream *u = tg_container_of(io, struct tg_upstream, io);
    if (u->owner) {
        tg_conn_on_upstream(u->owner, events);
        return;
    }
    /* Idle: any event means the origin closed it or misbehaved. */
    unlink_idle(u);
    tg_upstream_close(u);
}

static void on_closed_io(struct tg_io *io, uint32_t events)
{
    (void)io;
    (void)events;
}

static void on_free(struct tg_loop_msg *m)
{
    free(tg_container_of(m, struct tg_upstream, free_msg));
}

static void on_idle_timeout(struct tg_timer *t)
{
    struct tg_upstream *u = tg_container_of(t, struct tg_upstream, idle_timer);
    unlink_idle(u);
    tg_upstream_close(u);
}

struct tg_upstream *tg_upstream_take(struct tg_worker *w, const char *key)
{
    for (struct tg_upstream *u = w->idle; u; u = u->next) {
        if (strcmp(u->key, key) == 0) {
            unlink_idle(u);
            tg_loop_timer_clear(w->loop, &u->idle_timer);
            u->reused = true;
            return u;
        }
    }
    return NULL;
}

struct tg_upstream *tg_upstream_connect(struct tg_worker *w, struct tg_conn *owner,
                                        const char *key, const struct sockaddr *addr, int *err)
{
    int fd = tg_sock_connect(addr, tg_sock_len(addr));
    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    struct tg_upstream *u = calloc(1, sizeof *u);
    if (!u) {
        close(fd);
        *err = -ENOMEM;
        return NULL;
    }
    u->w = w;
    u->owner = owner;
    u->io.fd = fd;
    u->io.cb = on_io;
    tg_timer_init(&u->idle_timer, on_idle_timeout);
    tg_str_copy(u->key, sizeof u->key, key);
    tg_sock_format(addr, u->addr, sizeof u->addr);
    memcpy(&u->sa, addr, tg_sock_len(addr));
    tg_buf_init(&u->in, UP_BUF);
    tg_buf_init(&u->out, UP_BUF);
    return u;
}

void tg_upstream_watch(struct tg_upstream *u, uint32_t events)
{
    tg_loop_watch(u->w->loop, &u->io, events);
}

void tg_upstream_close(struct tg_upstream *u)
{
    if (!u)
        return;
    tg_loop_timer_clear(u->w->loop, &u->idle_timer);
    tg_loop_forget(u->w->loop, &u->io); /* close() below unregisters it */
    close(u->io.fd);
    tg_buf_fini(&u->in);
    tg_buf_fini(&u->out);
    u->io.cb = on_closed_io;
    u->free_msg.cb = on_free;
    tg_loop_defer(u->w->loop, &u->free_msg);
}

void tg_upstream_release(struct tg_upstream *u)
{
    struct tg_worker *w = u->w;
    const struct tg_config *cfg = w->srv->cfg;
    if (w->draining || cfg->upstream_pool_size == 0 || tg_buf_len(&u->in) || tg_buf_len(&u->out) ||
        u->eof) {
        tg_upstream_close(u);
        return;
    }
    if (w->nidle >= cfg->upstream_pool_size) {
        /* Evict the least recently used (the tail). */
        struct tg_upstream *last = w->idle;
        while (last->next)
            last = last->next;
        unlink_idle(last);
        tg_upstream_close(last);
    }
    u->owner = NULL;
    u->reused = false;
    tg_buf_fini(&u->in);
    tg_buf_fini(&u->out);
    u->next = w->idle;
    u->prev = NULL;
    if (w->idle)
        w->idle->prev = u;
    w->idle = u;
    w->nidle++;
    tg_loop_watch(w->loop, &u->io, EPOLLIN | EPOLLRDHUP);
    tg_loop_timer_set(w->loop, &u->idle_timer, cfg->upstream_idle_timeout_ms);
}

void tg_upstream_pool_clear(struct tg_worker *w)
{
    while (w->idle) {
        struct tg_upstream *u = w->idle;
        unlink_idle(u);
        tg_upstream_close(u);
    }
}
