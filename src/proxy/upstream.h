/*
 * upstream: a connection from a worker to an origin, and the worker's pool
 * of idle ones (keep-alive reuse, RFC 9112 §9.3). Idle connections are
 * watched: if the origin closes one or sends anything unsolicited, it is
 * dropped at once rather than handed to the next request. The pool is
 * bounded per worker and each idle connection has an idle timeout.
 */
#ifndef TG_UPSTREAM_H
#define TG_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "loop/loop.h"
#include "net/sock.h"

struct tg_worker;
struct tg_conn;

struct tg_upstream {
    struct tg_io io;
    struct tg_timer idle_timer;
    struct tg_worker *w;    /* borrowed */
    struct tg_conn *owner;  /* borrowed while in use; NULL when idle */
    struct tg_upstream *prev, *next; /* idle list */
    char key[264];          /* "host:port" as requested */
    char addr[TG_SOCK_ADDRSTRLEN];
    struct sockaddr_storage sa; /* the address connected to: access rules judge reuse by it */
    bool connected;
    bool reused; /* came from the pool for this request */
    bool eof;
    struct tg_buf in;  /* origin -> proxy */
    struct tg_buf out; /* proxy -> origin */
    struct tg_loop_msg free_msg; /* the free, deferred past this turn's events */
};

/* Takes an idle connection for key from the pool, or NULL. */
struct tg_upstream *tg_upstream_take(struct tg_worker *w, const char *key);

/* Starts connecting to addr for owner. NULL with *err set on immediate failure. */
struct tg_upstream *tg_upstream_connect(struct tg_worker *w, struct tg_conn *owner,
                                        const char *key, const struct sockaddr *addr, int *err);

/* Returns a clean connection to the pool (or closes it when the pool is full). */
void tg_upstream_release(struct tg_upstream *u);

/*
 * Closes now and frees at the end of the loop turn: an event for it may
 * still wait in this turn's batch (it is then ignored). Accepts NULL.
 */
void tg_upstream_close(struct tg_upstream *u);

/* Updates epoll interest. */
void tg_upstream_watch(struct tg_upstream *u, uint32_t events);

/* Closes every idle pooled connection (shutdown). */
void tg_upstream_pool_clear(struct tg_worker *w);

#endif
