/*
 * dns: asynchronous name resolution on an event loop, through c-ares, so
 * a slow resolver never stalls other connections. One resolver per loop.
 * Results are always delivered from the loop (never from inside
 * tg_dns_resolve), in the order the resolver ranks them (IPv6 and IPv4).
 */
#ifndef TG_DNS_H
#define TG_DNS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "loop/loop.h"

#define TG_DNS_MAX_ADDRS 8

struct tg_dns;
struct tg_dns_query;

struct tg_dns_result {
    int status; /* 0, or -EHOSTUNREACH (no such name / no address), -ETIMEDOUT, -EIO */
    size_t naddrs;
    struct sockaddr_storage addrs[TG_DNS_MAX_ADDRS]; /* port already set */
};

/* Called on the loop thread; res is borrowed for the call. */
typedef void (*tg_dns_cb)(void *arg, const struct tg_dns_result *res);

/* Process-wide c-ares setup/teardown (main thread, once). 0 or -1. */
int tg_dns_global_init(void);
void tg_dns_global_fini(void);

/* A resolver bound to loop; NULL on failure. */
struct tg_dns *tg_dns_new(struct tg_loop *loop);

/* Frees the resolver; pending queries are dropped without callbacks. Accepts NULL. */
void tg_dns_free(struct tg_dns *dns);

/*
 * Starts resolving host (NUL-terminated; IP literals short-cut the
 * resolver) for port. Returns a handle to cancel with, or NULL when the
 * query could not be started (cb is then never called).
 */
struct tg_dns_query *tg_dns_resolve(struct tg_dns *dns, const char *host, uint16_t port,
                                    tg_dns_cb cb, void *arg);

/* Guarantees cb will not be called for q. q is invalid afterwards. */
void tg_dns_cancel(struct tg_dns_query *q);

#endif
