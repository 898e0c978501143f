/*
 * dns: c-ares driven by the loop. c-ares tells us which sockets to watch
 * (sock_state_cb); we feed readiness back with ares_process_fd and keep one
 * timer armed for its retransmissions. Because c-ares may invoke a
 * completion synchronously, results are parked on the query and delivered
 * through tg_loop_defer, so callers never see re-entrant callbacks.
 */
#include "loop/dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define MAX_SOCKS 16

struct dns_sock {
    struct tg_io io;
    struct tg_dns *dns;
};

struct tg_dns {
    struct tg_loop *loop;
    ares_channel channel;
    struct tg_timer timer;
    struct dns_sock socks[MAX_SOCKS];
};

struct tg_dns_query {
    struct tg_dns *dns;
    tg_dns_cb cb; /* NULL once cancelled */
    void *arg;
    uint16_t port;
    bool answered;   /* c-ares is done with it */
    bool delivered;  /* the deferred message ran or is not needed */
    struct tg_loop_msg msg;
    struct tg_dns_result res;
};

int tg_dns_global_init(void)
{
    return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

void tg_dns_global_fini(void)
{
    ares_library_cleanup();
}

static void rearm_timer(struct tg_dns *dns)
{
    struct timeval tv, *tvp = ares_timeout(dns->channel, NULL, &tv);
    if (!tvp) {
        tg_loop_timer_clear(dns->loop, &dns->timer);
        return;
    }
    uint64_t ms = (uint64_t)tvp->tv_sec * 1000 + (uint64_t)tvp->tv_usec / 1000;
    tg_loop_timer_set(dns->loop, &dns->timer, ms ? ms : 1);
}

static void on_timer(struct tg_timer *t)
{
    struct tg_dns *dns = tg_container_of(t, struct tg_dns, timer);
    ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    rearm_timer(dns);
}

static void on_sock(struct tg_io *io, uint32_t events)
{
    struct dns_sock *s = tg_container_of(io, struct dns_sock, io);
    struct tg_dns *dns = s->dns;
    int fd = io->fd;
    ares_socket_t r = (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ? fd : ARES_SOCKET_BAD;
    ares_socket_t w = (events & EPOLLOUT) ? fd : ARES_SOCKET_BAD;
    ares_process_fd(dns->channel, r, w);
    rearm_timer(dns);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    struct tg_dns *dns = data;
    struct dns_sock *slot = NULL, *free_slot = NULL;
    for (int i = 0; i < MAX_SOCKS; i++) {
        if (dns->socks[i].io.fd == fd && dns->socks[i].io.events)
            slot = &dns->socks[i];
        else if (!free_slot && dns->socks[i].io.events == 0)
            free_slot = &dns->socks[i];
    }
    uint32_t ev = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);
    if (!slot) {
        if (!ev || !free_slot)
            return; /* c-ares times the query out if we cannot watch it */
        slot = free_slot;
        slot->io.fd = fd;
        slot->io.events = 0;
    }
    tg_loop_watch(dns->loop, &slot->io, ev);
}

struct tg_dns *tg_dns_new(struct tg_loop *loop)
{
    struct tg_dns *dns = calloc(1, sizeof *dns);
    if (!dns)
        return NULL;
    dns->loop = loop;
    tg_timer_init(&dns->timer, on_timer);
    for (int i = 0; i < MAX_SOCKS; i++) {
        dns->socks[i].io.fd = -1;
        dns->socks[i].io.cb = on_sock;
        dns->socks[i].dns = dns;
    }
    struct ares_options opts = {0};
    opts.sock_state_cb = on_sock_state;
    opts.sock_state_cb_data = dns;
    opts.timeout = 2000; /* ms per try */
    opts.tries = 2;
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
    if (ares_init_options(&dns->channel, &opts, mask) != ARES_SUCCESS) {
        free(dns);
        return NULL;
    }
    return dns;
}

void tg_dns_free(struct tg_dns *dns)
{
    if (!dns)
        return;
    ares_destroy(dns->channel); /* completes pending queries with ARES_EDESTRUCTION */
    tg_loop_timer_clear(dns->loop, &dns->timer);
    free(dns);
}

static void on_deliver(struct tg_loop_msg *m)
{
    struct tg_dns_query *q = tg_container_of(m, struct tg_dns_query, msg);
    q->delivered = true;
    if (q->cb)
        q->cb(q->arg, &q->res);
    free(q);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void fill_result(struct tg_dns_query *q, int status, struct ares_addrinfo *ai)
{
    q->res.naddrs = 0;
    if (status == ARES_ETIMEOUT)
        q->res.status = -ETIMEDOUT;
    else if (status == ARES_ENOTFOUND || status == ARES_ENODATA || status == ARES_ENONAME)
        q->res.status = -EHOSTUNREACH;
    else if (status != ARES_SUCCESS)
        q->res.status = -EIO;
    for (struct ares_addrinfo_node *n = ai ? ai->nodes : NULL;
         n && q->res.naddrs < TG_DNS_MAX_ADDRS; n = n->ai_next) {
        if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
            continue;
        struct sockaddr_storage *ss = &q->res.addrs[q->res.naddrs++];
        memcpy(ss, n->ai_addr, (size_t)n->ai_addrlen);
        set_port(ss, q->port);
    }
    if (status == ARES_SUCCESS)
        q->res.status = q->res.naddrs ? 0 : -EHOSTUNREACH;
}

static void on_ares_done(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
    struct tg_dns_query *q = arg;
    (void)timeouts;
    q->answered = true;
    if (status == ARES_EDESTRUCTION || !q->cb) {
        /* Channel torn down or caller gone: nobody will deliver, free here. */
        if (ai)
            ares_freeaddrinfo(ai);
        free(q);
        return;
    }
    fill_result(q, status, ai);
    if (ai)
        ares_freeaddrinfo(ai);
    q->msg.cb = on_deliver;
    tg_loop_defer(q->dns->loop, &q->msg);
}

static bool parse_literal(const char *host, uint16_t port, struct sockaddr_storage *ss)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        return true;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        return true;
    }
    return false;
}

struct tg_dns_query *tg_dns_resolve(struct tg_dns *dns, const char *host, uint16_t port,
                                    tg_dns_cb cb, void *arg)
{
    struct tg_dns_query *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->dns = dns;
    q->cb = cb;
    q->arg = arg;
    q->port = port;
    if (parse_literal(host, port, &q->res.addrs[0])) {
        q->answered = true;
        q->res.naddrs = 1;
        q->msg.cb = on_deliver;
        tg_loop_defer(dns->loop, &q->msg);
        return q;
    }
    struct ares_addrinfo_hints hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    ares_getaddrinfo(dns->channel, host, NULL, &hints, on_ares_done, q);
    rearm_timer(dns);
    return q;
}

void tg_dns_cancel(struct tg_dns_query *q)
{
    /*
     * Either c-ares still holds q (it frees q when it completes, seeing
     * cb == NULL) or the deferred delivery is queued (it frees q, skipping
     * the callback). Both paths only need cb cleared.
     */
    q->cb = NULL;
}
