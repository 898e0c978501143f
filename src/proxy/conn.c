/*
 * conn: the client side of a connection (RFC 9112 §9): reading and parsing
 * request heads, responses the proxy writes itself (authentication is in
 * connauth.c),
 * persistent connections and pipelining (one request at a time, in order;
 * the next head is parsed only after the previous response is written).
 *
 * Invalid framing closes the connection after the error response, because
 * after a smuggling attempt nothing that follows can be trusted. A request
 * refused before its body was read keeps the connection only when the body
 * is small enough to read and drop (the pre-authentication limit).
 */
#include "proxy/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth.h"
#include "base/clock.h"
#include "http/hopbyhop.h"
#include "http/target.h"
#include "log/accesslog.h"
#include "policy/connlimit.h"
#include "policy/ratelimit.h"
#include "proxy/bodypipe.h"
#include "proxy/connauth.h"
#include "proxy/errpage.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

#define OUT_BUF 65536
#define MIN_IN_BUF 16384
/* Unread input is drained before close until the client is quiet this long... */
#define LINGER_IDLE_MS 2000
/* ...or this long in all: a large upload refused early can finish, not forever. */
#define LINGER_MAX_MS 30000
#define LINGER_READS 8 /* reads of a 16 KiB sink per event: other clients wait meanwhile */

static const struct tg_config *cfg_of(const struct tg_conn *c)
{
    return c->w->srv->cfg;
}

static void on_free(struct tg_loop_msg *m)
{
    struct tg_conn *c = tg_container_of(m, struct tg_conn, free_msg);
    free(c);
}

static void read_client(struct tg_conn *c);

static void on_kick_read(struct tg_loop_msg *m)
{
    struct tg_conn *c = tg_container_of(m, struct tg_conn, read_msg);
    c->read_queued = false;
    if (!c->closed)
        read_client(c);
}

void tg_conn_kick_read(struct tg_conn *c)
{
    if (c->read_queued || c->closed)
        return;
    c->read_queued = true;
    c->read_msg.cb = on_kick_read;
    tg_loop_defer(c->w->loop, &c->read_msg);
}

static void on_process(struct tg_loop_msg *m)
{
    struct tg_conn *c = tg_container_of(m, struct tg_conn, process_msg);
    c->process_queued = false;
    if (!c->closed)
        tg_conn_process(c);
}

static void queue_process(struct tg_conn *c)
{
    if (c->process_queued || c->closed)
        return;
    c->process_queued = true;
    c->process_msg.cb = on_process;
    tg_loop_defer(c->w->loop, &c->process_msg);
}

static void req_free(struct tg_worker *w, struct tg_req *r)
{
    if (!r)
        return;
    free(r->target);
    free(r->auth_info);
    free(r->held_cred);
    tg_buf_fini(&r->uphead);
    tg_bodypipe_free(r->bodypipe);
    tg_freelist_give(&w->spare_reqs, r);
}

static void log_access(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_access_entry e = {
        .client = c->peer,
        .user = tg_str_c(r->user),
        .method = tg_str_c(r->method),
        .target = tg_str_c(r->target ? r->target : "-"),
        .status = r->status,
        .bytes_in = r->bytes_in,
        .bytes_out = r->bytes_out,
        .duration_us = tg_clock_mono_us() - r->start_us,
        .upstream = r->upstream_addr[0] ? r->upstream_addr : NULL,
        .reason = r->reason,
        .listener = c->listener,
        .tls = c->ssl ? tg_tls_version(c->ssl) : NULL,
    };
    tg_accesslog_write(tg_worker_access_log(c->w), &e);
}

/* The client buffer's normal limit: one request head. */
static size_t base_in_cap(const struct tg_conn *c)
{
    size_t cap = c->w->srv->cfg->max_header_size;
    return cap > MIN_IN_BUF ? cap : MIN_IN_BUF;
}

void tg_conn_free_attempt(struct tg_conn *c)
{
    if (!c->at)
        return;
    if (c->state == TG_CONN_AUTH) {
        c->at->orphaned = true; /* the pool job frees it */
    } else {
        tg_auth_attempt_fini(c->at);
        tg_freelist_give(&c->w->spare_attempts, c->at);
    }
    c->at = NULL;
}

void tg_conn_close(struct tg_conn *c)
{
    struct tg_worker *w = c->w;
    if (c->closed)
        return;
    c->closed = true;
    if (c->dnsq) {
        tg_dns_cancel(c->dnsq);
        c->dnsq = NULL;
    }
    tg_conn_free_attempt(c);
    tg_tunnel_free(c->tun);
    c->tun = NULL;
    tg_upstream_close(c->up);
    c->up = NULL;
    if (c->req) {
        if (!c->req->reason)
            c->req->reason = "client_closed";
        log_access(c);
        req_free(c->w, c->req);
        c->req = NULL;
    }
    tg_loop_timer_clear(w->loop, &c->timer);
    tg_loop_forget(w->loop, &c->io); /* close() below unregisters it */
    tg_tls_close(c->ssl);
    c->ssl = NULL;
    close(c->io.fd);
    tg_buf_fini(&c->in);
    tg_buf_fini(&c->out);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    tg_connlimit_release(w->srv->connlimit, &c->peer_sa.sa);
    atomic_fetch_sub(&w->srv->nconns, 1);
    c->free_msg.cb = on_free;
    tg_loop_defer(w->loop, &c->free_msg);
    tg_worker_conn_gone(w);
}

bool tg_conn_close_if_idle(struct tg_conn *c)
{
    if (c->req || c->state != TG_CONN_HEAD || tg_buf_len(&c->in))
        return false;
    tg_conn_close(c);
    return true;
}

void tg_conn_set_timer(struct tg_conn *c, uint64_t ms)
{
    tg_loop_timer_set(c->w->loop, &c->timer, ms);
}

/* Whether the current state reads from the client, room in the buffer aside. */
static bool wants_input(const struct tg_conn *c)
{
    bool reading = false;
    switch (c->state) {
    case TG_CONN_HEAD:
        reading = !c->process_queued;
        break;
    case TG_CONN_FORWARD:
        reading = !c->req->body_in.done;
        break;
    case TG_CONN_RESPOND:
        reading = c->req->discard && !c->req->body_in.done;
        break;
    case TG_CONN_BODYWAIT:
        reading = true;
        break;
    default:
        break;
    }
    return reading;
}

void tg_conn_update(struct tg_conn *c)
{
    uint32_t ev = 0;
    if (c->closed || c->state == TG_CONN_TUNNEL || c->state == TG_CONN_LINGER)
        return;
    bool reading = wants_input(c);
    /* Level-triggered: never ask for input there is no room for. */
    bool room = !c->client_eof && tg_buf_len(&c->in) < c->in.cap;
    if (reading && room) {
        ev |= EPOLLIN | EPOLLRDHUP;
        c->in_unwanted = false;
    } else if (room && !c->in_unwanted) {
        /* Read interest stays registered while the origin or the hash pool
         * answers: dropping and restoring it cost two epoll_ctl per request.
         * Input that arrives meanwhile drops it (on_client_io). */
        ev |= c->io.events & (EPOLLIN | EPOLLRDHUP);
    }
    if (tg_buf_len(&c->out) || (c->req && tg_bodypipe_queued(c->req->bodypipe)))
        ev |= EPOLLOUT;
    ev |= c->tls_want;
    if (reading && room && tg_conn_pending(c))
        tg_conn_kick_read(c);
    tg_loop_watch(c->w->loop, &c->io, ev);
}

static struct tg_req *req_new(struct tg_conn *c)
{
    struct tg_req *r = tg_freelist_take(&c->w->spare_reqs);
    if (!r)
        return NULL;
    r->start_us = tg_clock_mono_us();
    r->method[0] = '-';
    return r;
}

/* The body of the refused request can be read and dropped to keep the connection. */
static bool can_discard_body(const struct tg_conn *c)
{
    const struct tg_req *r = c->req;
    if (r->body_in.done || r->body_in.kind == TG_BODY_NONE)
        return true;
    if (r->expect_continue) /* the client may never send it */
        return false;
    if (r->body_in.kind == TG_BODY_LENGTH)
        return r->body_in.left <= cfg_of(c)->preauth_body_max;
    return r->body_in.kind == TG_BODY_CHUNKED;
}

void tg_conn_respond(struct tg_conn *c, int status, const char *reason, const char *extra,
                     const char *body)
{
    struct tg_req *r = c->req;
    size_t blen = strlen(body);
    bool keep = r->keep_alive && !c->close_after && !c->w->draining && can_discard_body(c);
    r->status = status;
    r->reason = reason;
    r->discard = keep && !r->body_in.done && r->body_in.kind != TG_BODY_NONE;
    c->close_after = !keep;
    const char *conn_hdr = !keep ? "Connection: close\r\n"
                           : r->http10 ? "Connection: keep-alive\r\n"
                                       : "";
    int rc = tg_buf_printf(&c->out,
                           "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Length: %zu\r\n%s%s\r\n",
                           status, tg_errpage_phrase(status), blen, extra ? extra : "", conn_hdr);
    if (rc == 0 && !r->is_head)
        rc = tg_buf_append(&c->out, body, blen);
    if (rc < 0) {
        tg_conn_close(c);
        return;
    }
    c->state = TG_CONN_RESPOND;
    tg_conn_set_timer(c, cfg_of(c)->idle_timeout_ms);
    bool discard = r->discard; /* r may be gone once the flush finishes the request */
    if (tg_conn_flush(c) && discard)
        tg_conn_process(c);
}

/*
 * Closing right after a response while the client is still sending would
 * make the kernel answer with RST and the client could lose the response
 * (RFC 9112 §9.6). So the write side is shut first and input drained for a
 * bounded time.
 */
static void linger(struct tg_conn *c)
{
    if (c->ssl) { /* close_notify first, so the client knows the response is complete */
        tg_tls_close(c->ssl);
        c->ssl = NULL;
    }
    if (c->client_eof || shutdown(c->io.fd, SHUT_WR) < 0) {
        tg_conn_close(c);
        return;
    }
    c->state = TG_CONN_LINGER;
    tg_buf_fini(&c->in);
    tg_buf_fini(&c->out);
    c->linger_end_ms = tg_loop_now(c->w->loop) + LINGER_MAX_MS;
    tg_conn_set_timer(c, LINGER_IDLE_MS);
    tg_loop_watch(c->w->loop, &c->io, EPOLLIN | EPOLLRDHUP);
}

/*
 * Reads and drops what the client still sends. Closing with unread bytes
 * would send RST, and the client could lose the response it has not read
 * yet; so a busy sender is given the next event rather than a close.
 */
static void drain_lingering(struct tg_conn *c)
{
    char sink[16384];
    uint64_t now = tg_loop_now(c->w->loop);
    bool got = false;
    for (int i = 0; i < LINGER_READS; i++) {
        ssize_t n = recv(c->io.fd, sink, sizeof sink, 0);
        got |= n > 0;
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        tg_conn_close(c); /* the client's FIN (or an error): nothing more to protect */
        return;
    }
    if (now >= c->linger_end_ms) {
        tg_conn_close(c);
        return;
    }
    if (!got)
        return;
    uint64_t left = c->linger_end_ms - now;
    tg_conn_set_timer(c, left < LINGER_IDLE_MS ? left : LINGER_IDLE_MS);
}

/*
 * Nothing left to drain: the request was read to its end and nothing
 * followed it, so closing cannot provoke the RST that linger() avoids.
 * Saves a client that sent "Connection: close" (one request per
 * connection) the shutdown, the wait and the extra wake-up.
 */
static bool nothing_to_drain(struct tg_conn *c, const struct tg_req *r)
{
    char byte;
    if (!r || !r->body_in.done || tg_buf_len(&c->in) || c->ssl)
        return false;
    /* 0: the client's FIN is already here (it read the response and closed). */
    return recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

void tg_conn_finish_request(struct tg_conn *c)
{
    log_access(c);
    bool closing = c->close_after || c->w->draining || c->client_eof;
    bool drained = closing && !c->client_eof && nothing_to_drain(c, c->req);
    req_free(c->w, c->req);
    c->req = NULL;
    tg_conn_free_attempt(c);
    if (drained) {
        tg_conn_close(c);
        return;
    }
    if (closing) {
        linger(c);
        return;
    }
    c->state = TG_CONN_HEAD;
    c->head_started = false;
    if (c->in.cap != base_in_cap(c)) { /* a body was held: back to the normal limit */
        size_t len = tg_buf_len(&c->in);
        tg_buf_set_cap(&c->in, len > base_in_cap(c) ? len : base_in_cap(c));
    }
    tg_buf_release_if_empty(&c->in);
    tg_conn_set_timer(c, cfg_of(c)->idle_timeout_ms);
    if (tg_buf_len(&c->in))
        queue_process(c);
    tg_conn_update(c);
}

static void on_out_drained(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    switch (c->state) {
    case TG_CONN_RESPOND:
        if (r->tunnel_pending) {
            r->tunnel_pending = false;
            tg_tunnel_start(c);
        } else if (!r->discard || r->body_in.done) {
            tg_conn_finish_request(c);
        }
        break;
    case TG_CONN_FORWARD:
        tg_forward_on_out_drained(c);
        break;
    default:
        break;
    }
}

bool tg_conn_flush(struct tg_conn *c)
{
    while (tg_buf_len(&c->out)) {
        ssize_t n = tg_conn_send(c, tg_buf_head(&c->out), tg_buf_len(&c->out));
        if (n == -EAGAIN)
            break;
        if (n <= 0) {
            tg_conn_close(c);
            return false;
        }
        if (c->req)
            c->req->bytes_out += (uint64_t)n;
        tg_buf_consume(&c->out, (size_t)n);
    }
    if (tg_buf_len(&c->out) == 0)
        on_out_drained(c);
    if (c->closed)
        return false;
    tg_conn_update(c);
    return true;
}

/* Drops body bytes of a refused request (RFC 9112 §9.6 would otherwise force a close). */
static void discard_body(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_framing *f = &r->body_in;
    while (!f->done && tg_buf_len(&c->in)) {
        size_t len = tg_buf_len(&c->in), used = len;
        if (f->kind == TG_BODY_LENGTH) {
            used = len < f->left ? len : (size_t)f->left;
            f->left -= used;
            f->done = f->left == 0;
        } else {
            struct tg_str data;
            struct tg_http_error err;
            enum tg_chunked_result cr = tg_chunked_step(&f->dec, tg_buf_head(&c->in), len, &used,
                                                        &data, &err);
            if (cr == TG_CHUNKED_ERROR) {
                tg_conn_close(c);
                return;
            }
            f->done = cr == TG_CHUNKED_DONE;
        }
        r->bytes_in += used;
        r->discarded += used;
        tg_buf_consume(&c->in, used);
        if (r->discarded > cfg_of(c)->preauth_body_max + 65536) {
            tg_conn_close(c);
            return;
        }
    }
    if (f->done && tg_buf_len(&c->out) == 0)
        tg_conn_finish_request(c);
    else
        tg_conn_update(c);
}

static int append_authority(struct tg_buf *b, const struct tg_req *r, bool v6)
{
    int rc = v6 ? tg_buf_append(b, "[", 1) : 0;
    rc = rc ? rc : tg_buf_append(b, r->host, strlen(r->host));
    rc = rc || !v6 ? rc : tg_buf_append(b, "]", 1);
    if (rc == 0 && r->port != 80)
        rc = tg_buf_append(b, ":", 1) ? -ENOBUFS : tg_buf_append_u64(b, r->port);
    return rc;
}

/*
 * The head sent to the origin: origin-form target, Host rebuilt from the
 * absolute-form target (RFC 9112 §3.2.2 says the received Host is
 * ignored), hop-by-hop fields removed, Via added, framing rewritten.
 */
static bool build_uphead(struct tg_conn *c, const struct tg_reqhead *h, const struct tg_target *t)
{
    struct tg_req *r = c->req;
    bool fwd[TG_REQHEAD_MAX_FIELDS];
    struct tg_buf *b = &r->uphead;
    tg_buf_init(b, tg_buf_size_class(h->head_len + 1024));
    tg_hopbyhop_mark(h->fields, h->nfields, fwd);
    int rc = tg_buf_append(b, r->method, strlen(r->method));
    rc = rc ? rc : tg_buf_append(b, " ", 1);
    if (rc == 0 && (t->path.len == 0 || t->path.p[0] != '/'))
        rc = tg_buf_append(b, "/", 1);
    rc = rc ? rc : tg_buf_append(b, t->path.p, t->path.len);
    rc = rc ? rc : tg_buf_append(b, " HTTP/1.1\r\nHost: ", 17);
    rc = rc ? rc : append_authority(b, r, t->host_is_ipv6);
    rc = rc ? rc : tg_buf_append(b, "\r\n", 2);
    for (size_t i = 0; rc == 0 && i < h->nfields; i++) {
        const struct tg_field *f = &h->fields[i];
        if (fwd[i] && !tg_str_eq_nocase(f->name, "Host"))
            rc = tg_buf_append_field(b, f->name.p, f->name.len, f->value.p, f->value.len);
    }
    rc = rc ? rc : tg_buf_append(b, "Via: 1.1 tollgate\r\n", 19);
    if (rc == 0 && h->body == TG_BODY_LENGTH) {
        rc = tg_buf_append(b, "Content-Length: ", 16);
        rc = rc ? rc : tg_buf_append_u64(b, h->content_length);
        rc = rc ? rc : tg_buf_append(b, "\r\n", 2);
    }
    if (rc == 0 && h->body == TG_BODY_CHUNKED)
        rc = tg_buf_append(b, "Transfer-Encoding: chunked\r\n", 28);
    rc = rc ? rc : tg_buf_append(b, "\r\n", 2);
    return rc == 0; /* on failure req_free releases the buffer */
}

static void fill_req(struct tg_req *r, const struct tg_reqhead *h, size_t head_len)
{
    size_t mlen = h->method.len < sizeof r->method - 1 ? h->method.len : sizeof r->method - 1;
    memcpy(r->method, h->method.p, mlen);
    r->method[mlen] = '\0';
    r->target = strndup(h->target.p, h->target.len);
    r->is_connect = h->is_connect;
    r->is_head = tg_str_eq(h->method, tg_str_c("HEAD"));
    r->http10 = h->minor_version == 0;
    r->keep_alive = h->keep_alive;
    r->expect_continue = h->expect_continue;
    r->body_in.kind = h->body;
    r->body_in.left = h->content_length;
    tg_chunked_init(&r->body_in.dec);
    r->body_in.done = h->body == TG_BODY_NONE || (h->body == TG_BODY_LENGTH && h->content_length == 0);
    r->bytes_in = head_len;
}

struct refusal {
    int status;
    const char *reason;
    const char *body;
};

static bool refuse(struct refusal *rf, int status, const char *reason, const char *body)
{
    rf->status = status;
    rf->reason = reason;
    rf->body = body ? body : tg_errpage_body(status);
    return false;
}

/* Validates the target and copies host and port; false with *rf set if refused. */
static bool check_target(struct tg_conn *c, const struct tg_reqhead *h, struct tg_target *t,
                         struct refusal *rf)
{
    struct tg_req *r = c->req;
    struct tg_http_error err;
    if (tg_target_parse(h->target, h->is_connect, t, &err) < 0)
        return refuse(rf, err.status, err.reason, NULL);
    if (t->form == TG_TARGET_ORIGIN || t->form == TG_TARGET_ASTERISK)
        return refuse(rf, 400, "not_a_proxy_request", tg_errpage_not_a_server);
    if (t->host.len >= sizeof r->host)
        return refuse(rf, 400, "host_too_long", NULL);
    memcpy(r->host, t->host.p, t->host.len);
    r->host[t->host.len] = '\0';
    r->port = t->port;
    if (h->proxy_auth_count > 1)
        return refuse(rf, 400, "duplicate_proxy_authorization", NULL);
    if (!h->is_connect && !build_uphead(c, h, t))
        return refuse(rf, 431, "header_too_large", NULL);
    return true;
}

/* Copies the Proxy-Authorization value (it must outlive the head's buffer). */
static struct tg_str copy_credentials(const struct tg_reqhead *h, char *cred, size_t cap)
{
    struct tg_str value = {NULL, 0};
    if (h->proxy_auth_index < 0)
        return value;
    struct tg_str v = h->fields[h->proxy_auth_index].value;
    value.len = v.len < cap ? v.len : cap; /* longer than the limit: rejected by auth */
    memcpy(cred, v.p, value.len);
    value.p = cred;
    return value;
}

static struct tg_str user_agent(const struct tg_reqhead *h)
{
    struct tg_str none = {NULL, 0};
    for (size_t i = 0; i < h->nfields; i++) {
        if (tg_str_eq_nocase(h->fields[i].name, "User-Agent"))
            return h->fields[i].value;
    }
    return none;
}

static void handle_head(struct tg_conn *c, const struct tg_reqhead *h, size_t head_len)
{
    char cred[TG_AUTH_CRED_MAX + 1];
    struct tg_target t;
    struct refusal rf;
    struct tg_req *r = c->req = req_new(c);
    if (!r) {
        tg_conn_close(c);
        return;
    }
    fill_req(r, h, head_len);
    bool ok = check_target(c, h, &t, &rf);
    struct tg_str value = copy_credentials(h, cred, sizeof cred);
    if (c->w->srv->auth)
        r->offer = tg_auth_select(c->w->srv->auth, user_agent(h), &c->peer_sa.sa);
    /* Everything needed is copied: the head's bytes can go. */
    tg_buf_consume(&c->in, head_len);
    if (!ok) {
        tg_conn_respond(c, rf.status, rf.reason, NULL, rf.body);
        return;
    }
    tg_loop_timer_clear(c->w->loop, &c->timer);
    uint64_t left = c->w->srv->rl ? tg_ratelimit_blocked(c->w->srv->rl, &c->peer_sa.sa,
                                                         tg_clock_mono_ms())
                                  : 0;
    if (left)
        tg_connauth_respond_429(c, left, NULL);
    else if (c->w->srv->auth)
        tg_connauth_start(c, value);
    else
        tg_forward_start(c); /* access rules are judged per resolved address there */
}

static void try_head(struct tg_conn *c)
{
    size_t len = tg_buf_len(&c->in);
    struct tg_http_error err;
    if (len == 0) {
        if (c->client_eof)
            tg_conn_close(c);
        return;
    }
    if (!c->head_started) {
        c->head_started = true;
        tg_conn_set_timer(c, cfg_of(c)->header_timeout_ms);
    }
    /* Until a connection has authenticated it gets the smaller head limit (as Redis does). */
    struct tg_reqhead_limits lim = c->w->srv->limits;
    if (!c->authed && lim.max_head > cfg_of(c)->preauth_max_header_size)
        lim.max_head = cfg_of(c)->preauth_max_header_size;
    long rc = tg_reqhead_parse(tg_buf_head(&c->in), len, &lim, c->w->scratch, &err);
    if (rc == 0) {
        if (c->client_eof) {
            tg_conn_close(c); /* half a head and no more to come */
            return;
        } else if (len >= c->in.cap) {
            err.status = 431;
            err.reason = "header_too_large";
            rc = -1;
        } else {
            tg_conn_update(c);
            return;
        }
    }
    if (rc < 0) {
        if (!(c->req = req_new(c))) {
            tg_conn_close(c);
            return;
        }
        c->close_after = true; /* after invalid framing nothing that follows is trusted */
        tg_conn_respond(c, err.status, err.reason, NULL, tg_errpage_body(err.status));
        return;
    }
    handle_head(c, c->w->scratch, (size_t)rc);
}

void tg_conn_process(struct tg_conn *c)
{
    switch (c->state) {
    case TG_CONN_HEAD:
        try_head(c);
        break;
    case TG_CONN_FORWARD:
        tg_forward_on_client(c);
        break;
    case TG_CONN_RESPOND:
        if (c->req->discard)
            discard_body(c);
        break;
    case TG_CONN_BODYWAIT:
        tg_connauth_check_held_body(c);
        break;
    default:
        break;
    }
}

static void read_client(struct tg_conn *c)
{
    char *tail;
    size_t space;
    /* TLS may hold more decrypted bytes than one read returns; epoll will not say so. */
    while (!c->client_eof && (space = tg_buf_space(&c->in, &tail)) > 0) {
        ssize_t n = tg_conn_recv(c, tail, space);
        if (n > 0) {
            tg_buf_produce(&c->in, (size_t)n);
        } else if (n == 0) {
            c->client_eof = true;
        } else if (n != -EAGAIN) {
            tg_conn_close(c);
            return;
        }
        if (n <= 0 || !tg_conn_pending(c))
            break;
    }
    tg_buf_release_if_empty(&c->in);
    tg_conn_process(c);
    if (!c->closed && c->client_eof && c->state != TG_CONN_HEAD && c->req &&
        !c->req->body_in.done) {
        c->req->reason = "client_closed";
        tg_conn_close(c); /* the client gave up mid-request */
    }
}

static void on_client_io(struct tg_io *io, uint32_t events)
{
    struct tg_conn *c = tg_container_of(io, struct tg_conn, io);
    if (c->closed)
        return;
    if (c->state == TG_CONN_TUNNEL) {
        tg_tunnel_pump(c, io->fd, events);
        return;
    }
    if (c->state == TG_CONN_LINGER) {
        drain_lingering(c);
        return;
    }
    if (c->state == TG_CONN_HANDSHAKE) {
        tg_conn_handshake(c);
        return;
    }
    /* TLS may need the other direction to make progress: try both then. */
    bool both = c->tls_want != 0;
    if ((events & EPOLLOUT || both) && !tg_conn_flush(c))
        return;
    if (!both && !wants_input(c) && (events & (EPOLLIN | EPOLLRDHUP))) {
        /* Input nobody asked for (tg_conn_update kept the interest): now drop it. */
        c->in_unwanted = true;
        tg_conn_update(c);
        if (!(events & (EPOLLHUP | EPOLLERR)) || c->io.events == 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR) || both)
        read_client(c);
}

void tg_conn_on_upstream(struct tg_conn *c, uint32_t events)
{
    if (c->closed)
        return;
    if (c->state == TG_CONN_TUNNEL)
        tg_tunnel_pump(c, c->up->io.fd, events);
    else
        tg_forward_on_upstream(c, events);
}

static void on_timer(struct tg_timer *t)
{
    struct tg_conn *c = tg_container_of(t, struct tg_conn, timer);
    switch (c->state) {
    case TG_CONN_HEAD:
        if (!c->head_started || !(c->req = req_new(c))) {
            tg_conn_close(c);
            return;
        }
        c->close_after = true;
        tg_conn_respond(c, 408, "header_timeout", NULL, tg_errpage_body(408));
        break;
    case TG_CONN_RESOLVE:
    case TG_CONN_CONNECT:
    case TG_CONN_FORWARD:
        tg_forward_on_timeout(c);
        break;
    case TG_CONN_TUNNEL:
        tg_tunnel_on_timeout(c);
        break;
    case TG_CONN_DELAY:
        tg_connauth_respond_407(c, c->at, true);
        break;
    case TG_CONN_HANDSHAKE:
        tg_conn_handshake_timeout(c);
        break;
    default:
        if (c->req && !c->req->reason)
            c->req->reason = "client_timeout";
        tg_conn_close(c);
        break;
    }
}

struct tg_conn *tg_conn_new(struct tg_worker *w, int fd, const struct sockaddr *peer,
                            const struct tg_listener *l)
{
    struct tg_tls *tls = l->tls ? w->srv->tls : NULL;
    struct tg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->w = w;
    c->authed = !w->srv->auth; /* an open proxy has no pre-authentication phase */
    c->io.fd = fd;
    c->io.cb = on_client_io;
    tg_timer_init(&c->timer, on_timer);
    tg_sock_format(peer, c->peer, sizeof c->peer);
    memcpy(&c->peer_sa, peer, peer->sa_family == AF_INET6 ? sizeof c->peer_sa.in6
                                                          : sizeof c->peer_sa.in);
    tg_buf_init(&c->in, base_in_cap(c));
    tg_buf_init(&c->out, OUT_BUF);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    /* A fresh connection that never speaks is held no longer than a slow
     * head would be: idle keep-alive time is earned by a first request. */
    tg_conn_set_timer(c, w->srv->cfg->header_timeout_ms);
    c->tls_listener_exists = w->srv->tls != NULL;
    c->listener = l->text;
    if (tls) {
        c->state = TG_CONN_HANDSHAKE;
        tg_conn_set_timer(c, w->srv->cfg->tls_handshake_timeout_ms);
        if (!(c->ssl = tg_tls_accept(tls, fd))) {
            tg_conn_close(c); /* from here on, closing the connection releases everything */
            return c;
        }
    }
    if (tg_loop_watch(w->loop, &c->io, EPOLLIN | EPOLLRDHUP) < 0)
        tg_conn_close(c);
    return c;
}
