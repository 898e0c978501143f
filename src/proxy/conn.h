/*
 * conn: a client connection and the request it is working on. This header
 * is private to the proxy layer: conn.c runs the client side (reading and
 * parsing heads, authentication, proxy-generated responses, keep-alive and
 * pipelining), forward.c relays an absolute-form request to its origin,
 * tunnel.c runs CONNECT, upstream.c owns origin connections and the pool.
 *
 * Memory: an idle keep-alive connection is just this struct; buffers and
 * the request are allocated while a request is in flight and released
 * after it.
 */
#ifndef TG_CONN_H
#define TG_CONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/digestcalc.h"
#include "base/buf.h"
#include "http/chunked.h"
#include "http/reqhead.h"
#include "loop/dns.h"
#include "loop/loop.h"
#include "net/sock.h"
#include "net/tls.h"

struct tg_worker;
struct tg_listener;
struct tg_upstream;
struct tg_tunnel;
struct tg_auth_attempt;

enum tg_conn_state {
    TG_CONN_HEAD = 0,    /* waiting for / reading a request head */
    TG_CONN_AUTH = 1,    /* credentials being verified off the loop */
    TG_CONN_RESOLVE = 2, /* origin name being resolved */
    TG_CONN_CONNECT = 3, /* origin connection being opened */
    TG_CONN_FORWARD = 4, /* request/response relayed */
    TG_CONN_TUNNEL = 5,  /* CONNECT tunnel (after the 200 is flushed) */
    TG_CONN_RESPOND = 6, /* a proxy-generated response is being written */
    TG_CONN_LINGER = 7,  /* response sent, write side shut, draining input before close */
    TG_CONN_BODYWAIT = 8, /* Digest auth-int: holding the whole body before verifying */
    TG_CONN_DELAY = 9,    /* a failure answer held back (user under attack) */
    TG_CONN_HANDSHAKE = 10, /* TLS listener: handshake before the first request */
};

/* How a body is framed on one side of the proxy. */
struct tg_framing {
    enum tg_body_kind kind; /* NONE, LENGTH, CHUNKED, CLOSE */
    uint64_t left;          /* LENGTH: bytes still to come */
    struct tg_chunked dec;  /* CHUNKED: decoder state */
    bool done;
};

struct tg_bodypipe;

struct tg_req {
    uint64_t start_us;
    char method[24];
    char *target; /* owned: as sent, for logs */
    char host[256];
    uint16_t port;
    bool is_connect, is_head, http10, keep_alive, expect_continue;
    int status;         /* of the final response, for the log */
    const char *reason; /* log token or NULL */
    char user[129];
    char *auth_info; /* owned: Proxy-Authentication-Info line for the response, or NULL */
    const struct tg_auth_offer *offer; /* borrowed: the challenges this client gets */
    char *held_cred; /* owned: Proxy-Authorization kept while the body is held (auth-int) */
    bool have_body_hash;
    char body_hash[TG_DIGEST_NALGS][TG_DIGEST_HEX_MAX];
    uint64_t bytes_in, bytes_out;
    char upstream_addr[TG_SOCK_ADDRSTRLEN];

    struct tg_framing body_in; /* request body from the client */
    bool body_chunked_out;     /* re-encode the request body as chunked */
    struct tg_buf uphead;      /* owned: head for the origin (kept for a retry) */

    struct tg_dns_result addrs; /* the origin's addresses; naddrs is 0 until resolved */
    size_t addr_next;
    bool retried;

    /* Response side (forward.c). */
    bool resp_head_done;
    bool resp_started; /* any byte of a response went to the client */
    struct tg_framing body_up;   /* response body from the origin */
    struct tg_bodypipe *bodypipe; /* owned: splicing body_up to the client, or NULL */
    enum tg_body_kind client_framing;
    bool resp_done;
    bool resp_keep; /* the origin will keep its connection open */
    bool discard;        /* the request body is being read and dropped */
    uint64_t discarded;  /* bytes dropped so far */
    bool tunnel_pending; /* switch to the tunnel once the 200 is flushed */
};

struct tg_conn {
    struct tg_worker *w; /* borrowed */
    struct tg_io io;     /* client socket */
    struct tg_timer timer;
    struct tg_loop_msg free_msg;
    struct tg_loop_msg process_msg;
    bool process_queued;
    struct tg_loop_msg read_msg; /* TLS: decrypted bytes epoll cannot announce */
    bool read_queued;
    SSL *ssl;          /* owned; NULL on a plaintext listener */
    uint32_t tls_want; /* EPOLLIN/EPOLLOUT the TLS layer waits for, or 0 */
    bool tls_listener_exists; /* Basic is then refused on plaintext (unless configured) */
    const char *listener;     /* borrowed from the config: "ADDR:PORT" accepted on */
    struct tg_conn *prev, *next; /* worker's list */
    enum tg_conn_state state;
    bool closed;      /* teardown started; ignore further events */
    bool close_after; /* close once the current response is written */
    bool client_eof;
    bool in_unwanted;  /* input came while none was wanted: read interest off till wanted */
    bool head_started; /* some bytes of the next head have arrived */
    bool authed;       /* a request on this connection authenticated: post-auth limits */
    char peer[TG_SOCK_ADDRSTRLEN];
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer_sa; /* for address rules */
    struct tg_buf in;  /* client -> proxy */
    struct tg_buf out; /* proxy -> client */
    struct tg_req *req;             /* owned; NULL between requests */
    struct tg_auth_attempt *at;     /* owned (see auth.h for orphaning) */
    struct tg_upstream *up;         /* owned while forwarding or tunnelling */
    struct tg_dns_query *dnsq;      /* pending resolution, cancel on close */
    struct tg_tunnel *tun;          /* owned while tunnelling */
    uint64_t linger_end_ms;         /* loop time at which lingering stops in any case */
};

/*
 * Creates a connection for an accepted fd (ownership passes), a TLS one
 * when tls is given. NULL only when nothing was taken over (out of memory);
 * otherwise the connection owns fd and its counts, even if already closing.
 */
struct tg_conn *tg_conn_new(struct tg_worker *w, int fd, const struct sockaddr *peer,
                            const struct tg_listener *l);

/* Client I/O (clientio.c): socket conventions over TCP or TLS: count, 0 EOF, -EAGAIN, -errno. */
ssize_t tg_conn_recv(struct tg_conn *c, void *buf, size_t len);
ssize_t tg_conn_send(struct tg_conn *c, const void *buf, size_t len);
bool tg_conn_pending(const struct tg_conn *c); /* TLS bytes buffered past epoll's view */
void tg_conn_handshake(struct tg_conn *c);
void tg_conn_handshake_timeout(struct tg_conn *c);

/* Schedules a read on the next loop turn (TLS data already buffered). */
void tg_conn_kick_read(struct tg_conn *c);

/* Starts closing: fds closed now, memory freed at the end of the turn. */
void tg_conn_close(struct tg_conn *c);

/* Drops the request's authentication attempt (a pending pool job frees it itself). */
void tg_conn_free_attempt(struct tg_conn *c);

/* Closes an idle connection (no request in flight); used when draining. */
bool tg_conn_close_if_idle(struct tg_conn *c);

/*
 * Queues a proxy-generated response (status line, headers, short text
 * body) for the current request and records status/reason for the log.
 * extra: additional header lines (CRLF-terminated) or NULL.
 */
void tg_conn_respond(struct tg_conn *c, int status, const char *reason, const char *extra,
                     const char *body);

/* Writes pending output; handles completion. Returns false if the conn closed. */
bool tg_conn_flush(struct tg_conn *c);

/* Recomputes epoll interest for the client socket. */
void tg_conn_update(struct tg_conn *c);

/* The current request is finished (response fully written): log, reset, next. */
void tg_conn_finish_request(struct tg_conn *c);

/* Sets the connection's single deadline. */
void tg_conn_set_timer(struct tg_conn *c, uint64_t ms);

/* Lets buffered client bytes be parsed again (after a response completes). */
void tg_conn_process(struct tg_conn *c);

/* Dispatches an event on the request's upstream socket. */
void tg_conn_on_upstream(struct tg_conn *c, uint32_t events);

/* forward.c */
void tg_forward_start(struct tg_conn *c);
void tg_forward_on_client(struct tg_conn *c);
void tg_forward_on_upstream(struct tg_conn *c, uint32_t events);
void tg_forward_on_timeout(struct tg_conn *c);
void tg_forward_on_out_drained(struct tg_conn *c);
void tg_forward_abort(struct tg_conn *c);

/* tunnel.c */
void tg_tunnel_start(struct tg_conn *c);
void tg_tunnel_pump(struct tg_conn *c, int fd, uint32_t events); /* fd reported events; -1: none */
void tg_tunnel_free(struct tg_tunnel *t);
void tg_tunnel_on_timeout(struct tg_conn *c);

#endif
