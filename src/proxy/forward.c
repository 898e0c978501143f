/*
 * forward: relaying an absolute-form request to its origin and the
 * response back (RFC 9112 §6-§7, RFC 9110 §7.6): resolution, connecting
 * (trying each address in turn), reuse of pooled connections, streaming of
 * both bodies through bounded buffers with re-framing, interim 1xx
 * responses, and the 502/504 answers when the origin fails.
 *
 * Bodies are decoded from their framing on one side and re-encoded on the
 * other: the origin never sees the client's framing bytes and vice versa,
 * which is what keeps a smuggled second request from crossing the proxy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "http/hopbyhop.h"
#include "http/resphead.h"
#include "net/sock.h"
#include "policy/acl.h"
#include "proxy/bodypipe.h"
#include "proxy/conn.h"
#include "proxy/errpage.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

#define MAX_RESPONSE_HEAD 65536
#define CHUNK_OVERHEAD 32 /* "ffffffffffffffff\r\n" + "\r\n" + slack */
#define SPLICE_MIN 65536  /* smaller bodies: a pipe costs more system calls than copying */

static void start_connect(struct tg_conn *c, bool allow_pool);
static void process_response(struct tg_conn *c);

static const struct tg_config *cfg_of(const struct tg_conn *c)
{
    return c->w->srv->cfg;
}

/* "host:port", as snprintf("%s:%u") would truncate it (not per request: printf is slow). */
static void key_of(const struct tg_req *r, char *key, size_t len)
{
    char port[8];
    size_t hl = strlen(r->host), pl = 0, i = sizeof port;
    unsigned v = r->port;
    do {
        port[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    port[--i] = ':';
    pl = sizeof port - i;
    if (len == 0)
        return;
    size_t n = hl < len - 1 ? hl : len - 1;
    memcpy(key, r->host, n);
    size_t m = pl < len - 1 - n ? pl : len - 1 - n;
    memcpy(key + n, port + i, m);
    key[n + m] = '\0';
}

static void update_up(struct tg_conn *c)
{
    struct tg_upstream *u = c->up;
    uint32_t ev = 0;
    if (!u)
        return;
    if (!u->connected) {
        ev = EPOLLOUT;
    } else {
        const struct tg_req *r = c->req;
        bool room = r->bodypipe ? r->body_up.left && tg_bodypipe_has_room(r->bodypipe)
                                : tg_buf_len(&u->in) < u->in.cap;
        if (!u->eof && !r->resp_done && room)
            ev |= EPOLLIN | EPOLLRDHUP;
        if (tg_buf_len(&u->out))
            ev |= EPOLLOUT;
    }
    tg_upstream_watch(u, ev);
}

/* The origin failed before any response byte reached the client. */
static void fail(struct tg_conn *c, int status, const char *reason)
{
    tg_upstream_close(c->up);
    c->up = NULL;
    if (c->req->resp_started) {
        c->req->reason = reason;
        tg_conn_close(c);
        return;
    }
    tg_conn_respond(c, status, reason, NULL, tg_errpage_body(status));
}

void tg_forward_abort(struct tg_conn *c)
{
    fail(c, 502, "upstream_error");
}

static void on_resolved(void *arg, const struct tg_dns_result *res)
{
    struct tg_conn *c = arg;
    struct tg_req *r = c->req;
    c->dnsq = NULL;
    if (res->status < 0 || res->naddrs == 0) {
        fail(c, 502, res->status == -ETIMEDOUT ? "dns_timeout" : "dns_failed");
        return;
    }
    r->addrs = *res;
    r->addr_next = 0;
    start_connect(c, false);
}

/* The access-log reason naming the rule that denied (0: the default). */
static const char *rule_reason(struct tg_conn *c, size_t rule)
{
    static _Thread_local char reason[48];
    if (rule == 0)
        return "access_default_deny";
    if (rule > cfg_of(c)->access_rules.n) /* the rules main adds for --connect-ports */
        return "connect_port_denied";
    snprintf(reason, sizeof reason, "access_rule_%zu", rule);
    return reason;
}

/*
 * Access rules and the SSRF guard judge each address actually about to be
 * connected (sa NULL: before resolution, only what needs no address), so a name resolving to a guarded address is caught. Returns
 * NULL when allowed, else the log reason.
 */
static const char *denied(struct tg_conn *c, const struct sockaddr *sa)
{
    struct tg_req *r = c->req;
    struct tg_acl_request rq = {
        .user = r->user[0] ? r->user : NULL,
        .host = r->host,
        .port = r->port,
        .is_connect = r->is_connect,
        .client = &c->peer_sa.sa,
        .dest = sa,
    };
    size_t rule = 0;
    if (!sa)
        return tg_acl_denied_early(c->w->srv->acl, &rq, &rule) ? rule_reason(c, rule) : NULL;
    switch (tg_acl_check(c->w->srv->acl, &rq, &rule)) {
    case TG_ACL_ALLOW:
        return NULL;
    case TG_ACL_DENY_SSRF:
        return "ssrf_guard";
    case TG_ACL_DENY_RULE:
        break;
    }
    return rule_reason(c, rule);
}

/* Opens a connection to the next allowed resolved address; 403 or 502 when none is left. */
static void connect_next(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    char key[300];
    int err = -ECONNREFUSED;
    const char *refusal = NULL;
    bool tried = false;
    key_of(r, key, sizeof key);
    while (r->addr_next < r->addrs.naddrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&r->addrs.addrs[r->addr_next++];
        const char *why = denied(c, sa);
        if (why) {
            refusal = why;
            continue;
        }
        tried = true;
        c->up = tg_upstream_connect(c->w, c, key, sa, &err);
        if (c->up) {
            c->state = TG_CONN_CONNECT;
            update_up(c);
            return;
        }
    }
    if (refusal && !tried)
        fail(c, 403, refusal);
    else
        fail(c, 502, err == -ENETUNREACH ? "upstream_unreachable" : "upstream_refused");
}

static void send_request(struct tg_conn *c);

static void start_connect(struct tg_conn *c, bool allow_pool)
{
    struct tg_req *r = c->req;
    char key[300];
    key_of(r, key, sizeof key);
    const char *early = r->addrs.naddrs ? NULL : denied(c, NULL);
    if (early) {
        fail(c, 403, early);
        return;
    }
    if (allow_pool && !r->is_connect && (c->up = tg_upstream_take(c->w, key)) != NULL) {
        /* Pooled for someone else: this user must be allowed to that address too. */
        const char *why = denied(c, (const struct sockaddr *)&c->up->sa);
        if (why) {
            fail(c, 403, why);
            return;
        }
        c->up->owner = c;
        send_request(c);
        return;
    }
    if (!r->addrs.naddrs) {
        c->state = TG_CONN_RESOLVE;
        tg_conn_set_timer(c, cfg_of(c)->connect_timeout_ms);
        c->dnsq = tg_dns_resolve(c->w->dns, r->host, r->port, on_resolved, c);
        if (!c->dnsq)
            fail(c, 502, "dns_failed");
        return;
    }
    connect_next(c);
}

void tg_forward_start(struct tg_conn *c)
{
    start_connect(c, true);
}

static void reply_connect_established(struct tg_conn *c)
{
    static const char ok[] = "HTTP/1.1 200 Connection established\r\n";
    struct tg_req *r = c->req;
    r->status = 200;
    r->tunnel_pending = true;
    c->state = TG_CONN_RESPOND;
    tg_upstream_watch(c->up, 0);
    int rc = tg_buf_append(&c->out, ok, sizeof ok - 1);
    if (rc == 0 && r->auth_info)
        rc = tg_buf_append(&c->out, r->auth_info, strlen(r->auth_info));
    if (rc < 0 || tg_buf_append(&c->out, "\r\n", 2) < 0) {
        tg_conn_close(c);
        return;
    }
    tg_conn_flush(c);
}

static void on_connected(struct tg_conn *c)
{
    struct tg_upstream *u = c->up;
    int err = tg_sock_error(u->io.fd);
    if (err) {
        tg_upstream_close(u);
        c->up = NULL;
        connect_next(c);
        return;
    }
    u->connected = true;
    tg_str_copy(c->req->upstream_addr, sizeof c->req->upstream_addr, u->addr);
    if (c->req->is_connect)
        reply_connect_established(c);
    else
        send_request(c);
}

static bool flush_up(struct tg_conn *c)
{
    struct tg_upstream *u = c->up;
    while (tg_buf_len(&u->out)) {
        ssize_t n = send(u->io.fd, tg_buf_head(&u->out), tg_buf_len(&u->out), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            fail(c, 502, "upstream_write_failed");
            return false;
        }
        tg_buf_consume(&u->out, (size_t)n);
    }
    return true;
}

/* Room left in a buffer after compaction. */
static size_t room_of(struct tg_buf *b)
{
    char *tail;
    return tg_buf_space(b, &tail);
}

/* Moves request-body bytes from the client buffer to the origin buffer. */
static bool pump_request_body(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_framing *f = &r->body_in;
    struct tg_buf *dst = &c->up->out;
    uint64_t before = r->bytes_in;
    while (!f->done && tg_buf_len(&c->in)) {
        size_t room = room_of(dst), len = tg_buf_len(&c->in), used = 0;
        if (room <= CHUNK_OVERHEAD)
            break;
        if (f->kind == TG_BODY_LENGTH) {
            used = len < f->left ? len : (size_t)f->left;
            used = used < room ? used : room;
            tg_buf_append(dst, tg_buf_head(&c->in), used);
            f->left -= used;
            f->done = f->left == 0;
        } else {
            struct tg_str data = {NULL, 0};
            struct tg_http_error err;
            size_t feed = len < room - CHUNK_OVERHEAD ? len : room - CHUNK_OVERHEAD;
            enum tg_chunked_result cr =
                tg_chunked_step(&f->dec, tg_buf_head(&c->in), feed, &used, &data, &err);
            if (cr == TG_CHUNKED_ERROR) {
                c->close_after = true;
                fail(c, err.status, err.reason);
                return false;
            }
            if (cr == TG_CHUNKED_DATA && data.len) {
                tg_buf_printf(dst, "%zx\r\n", data.len);
                tg_buf_append(dst, data.p, data.len);
                tg_buf_append(dst, "\r\n", 2);
            }
            if (cr == TG_CHUNKED_DONE) {
                tg_buf_append(dst, "0\r\n\r\n", 5);
                f->done = true;
            }
        }
        r->bytes_in += used;
        tg_buf_consume(&c->in, used);
    }
    /* A long upload is not a slow origin: the wait restarts with each step. */
    if (r->bytes_in != before)
        tg_conn_set_timer(c, cfg_of(c)->response_timeout_ms);
    return true;
}

/*
 * Pumps and flushes until the origin stops taking bytes or the client
 * buffer is empty. A held body (auth-int) can be larger than the origin
 * buffer, and no client event will come for bytes already read.
 */
static bool relay_request_body(struct tg_conn *c)
{
    for (;;) {
        size_t before = tg_buf_len(&c->in);
        if (!pump_request_body(c) || !c->up || !flush_up(c))
            return false;
        if (tg_buf_len(&c->in) == before || tg_buf_len(&c->up->out) > 0)
            return true;
    }
}

static void send_request(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_upstream *u = c->up;
    c->state = TG_CONN_FORWARD;
    if (!r->upstream_addr[0])
        tg_str_copy(r->upstream_addr, sizeof r->upstream_addr, u->addr);
    if (tg_buf_append(&u->out, tg_buf_head(&r->uphead), tg_buf_len(&r->uphead)) < 0) {
        fail(c, 431, "header_too_large");
        return;
    }
    tg_conn_set_timer(c, cfg_of(c)->response_timeout_ms);
    if (relay_request_body(c)) {
        update_up(c);
        tg_conn_update(c);
    }
}

void tg_forward_on_client(struct tg_conn *c)
{
    if (!c->up || !c->up->connected)
        return;
    if (relay_request_body(c)) {
        update_up(c);
        tg_conn_update(c);
    }
}

static int append_fields(struct tg_buf *b, const struct tg_resphead *h)
{
    bool fwd[TG_REQHEAD_MAX_FIELDS];
    int rc = 0;
    tg_hopbyhop_mark(h->fields, h->nfields, fwd);
    for (size_t i = 0; rc == 0 && i < h->nfields; i++) {
        const struct tg_field *f = &h->fields[i];
        if (fwd[i])
            rc = tg_buf_append_field(b, f->name.p, f->name.len, f->value.p, f->value.len);
    }
    return rc;
}

static const char *status_phrase(const struct tg_resphead *h, char *tmp, size_t len)
{
    if (h->reason.len == 0)
        return tg_errpage_phrase(h->status);
    snprintf(tmp, len, "%.*s", (int)h->reason.len, h->reason.p);
    return tmp;
}

/* "HTTP/1.1 %d %s\r\n" with status_phrase, without printf: every response has one. */
static int append_status_line(struct tg_buf *b, const struct tg_resphead *h)
{
    struct tg_str phrase = h->reason;
    if (phrase.len == 0)
        phrase = tg_str_c(tg_errpage_phrase(h->status));
    else if (phrase.len > 255) /* as status_phrase's 256-byte copy */
        phrase.len = 255;
    int rc = tg_buf_append(b, "HTTP/1.1 ", 9);
    rc = rc ? rc : tg_buf_append_u64(b, (uint64_t)h->status);
    rc = rc ? rc : tg_buf_append(b, " ", 1);
    rc = rc ? rc : tg_buf_append(b, phrase.p, phrase.len);
    return rc ? rc : tg_buf_append(b, "\r\n", 2);
}

/* An interim response (RFC 9110 §15.2); HTTP/1.0 clients cannot take them. */
static int write_interim(struct tg_conn *c, const struct tg_resphead *h)
{
    char phrase[256];
    if (c->req->http10)
        return 0;
    int rc = tg_buf_printf(&c->out, "HTTP/1.1 %d %s\r\n", h->status,
                           status_phrase(h, phrase, sizeof phrase));
    rc = rc ? rc : append_fields(&c->out, h);
    return rc ? rc : tg_buf_append(&c->out, "\r\n", 2);
}

/* Chooses the client-side framing and writes the final response head. */
static int write_final_head(struct tg_conn *c, const struct tg_resphead *h)
{
    struct tg_req *r = c->req;
    enum tg_body_kind k = h->body;
    if (k == TG_BODY_CHUNKED || k == TG_BODY_CLOSE)
        k = r->http10 ? TG_BODY_CLOSE : TG_BODY_CHUNKED;
    r->client_framing = k;
    if (k == TG_BODY_CLOSE || !r->body_in.done)
        c->close_after = true;
    bool keep = r->keep_alive && !c->close_after && !c->w->draining;
    c->close_after = !keep;
    int rc = append_status_line(&c->out, h);
    rc = rc ? rc : append_fields(&c->out, h);
    rc = rc ? rc : tg_buf_append(&c->out, "Via: 1.1 tollgate\r\n", 19);
    if (rc == 0 && r->auth_info)
        rc = tg_buf_append(&c->out, r->auth_info, strlen(r->auth_info));
    const struct tg_field *cl = NULL;
    for (size_t i = 0; i < h->nfields; i++) {
        if (tg_str_eq_nocase(h->fields[i].name, "Content-Length"))
            cl = &h->fields[i];
    }
    if (rc == 0 && k == TG_BODY_LENGTH) {
        rc = tg_buf_append(&c->out, "Content-Length: ", 16);
        rc = rc ? rc : tg_buf_append_u64(&c->out, h->content_length);
        rc = rc ? rc : tg_buf_append(&c->out, "\r\n", 2);
    } else if (rc == 0 && k == TG_BODY_NONE && cl && (r->is_head || h->status == 304))
        rc = tg_buf_printf(&c->out, "Content-Length: %.*s\r\n", (int)cl->value.len, cl->value.p);
    if (rc == 0 && k == TG_BODY_CHUNKED)
        rc = tg_buf_append(&c->out, "Transfer-Encoding: chunked\r\n", 28);
    if (rc == 0 && !keep)
        rc = tg_buf_append(&c->out, "Connection: close\r\n", 19);
    else if (rc == 0 && r->http10)
        rc = tg_buf_append(&c->out, "Connection: keep-alive\r\n", 24);
    rc = rc ? rc : tg_buf_append(&c->out, "\r\n", 2);
    r->status = h->status;
    r->resp_started = true;
    r->resp_head_done = true;
    r->body_up.kind = h->body;
    r->body_up.left = h->content_length;
    tg_chunked_init(&r->body_up.dec);
    r->body_up.done = h->body == TG_BODY_NONE || (h->body == TG_BODY_LENGTH && !h->content_length);
    return rc;
}

/* Appends a span of response body in the client's framing. */
static void emit(struct tg_conn *c, const char *p, size_t n)
{
    if (n == 0)
        return;
    if (c->req->client_framing == TG_BODY_CHUNKED) {
        tg_buf_printf(&c->out, "%zx\r\n", n);
        tg_buf_append(&c->out, p, n);
        tg_buf_append(&c->out, "\r\n", 2);
    } else {
        tg_buf_append(&c->out, p, n);
    }
}

/* Moves response-body bytes from the origin buffer to the client buffer. */
static bool pump_response_body(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_upstream *u = c->up;
    struct tg_framing *f = &r->body_up;
    if (r->bodypipe)
        return true; /* splice_body moves this body */
    while (!f->done && tg_buf_len(&u->in)) {
        size_t room = room_of(&c->out), len = tg_buf_len(&u->in), used;
        if (room <= CHUNK_OVERHEAD)
            break;
        room -= CHUNK_OVERHEAD;
        if (f->kind == TG_BODY_CHUNKED) {
            struct tg_str data = {NULL, 0};
            struct tg_http_error err;
            enum tg_chunked_result cr = tg_chunked_step(&f->dec, tg_buf_head(&u->in),
                                                        len < room ? len : room, &used, &data, &err);
            if (cr == TG_CHUNKED_ERROR) {
                fail(c, 502, "upstream_bad_chunked");
                return false;
            }
            if (cr == TG_CHUNKED_DATA)
                emit(c, data.p, data.len);
            f->done = cr == TG_CHUNKED_DONE;
        } else {
            used = len < room ? len : room;
            if (f->kind == TG_BODY_LENGTH && used > f->left)
                used = (size_t)f->left;
            emit(c, tg_buf_head(&u->in), used);
            if (f->kind == TG_BODY_LENGTH) {
                f->left -= used;
                f->done = f->left == 0;
            }
        }
        tg_buf_consume(&u->in, used);
    }
    if (!f->done && u->eof && tg_buf_len(&u->in) == 0) {
        if (f->kind != TG_BODY_CLOSE) {
            r->reason = "upstream_truncated";
            tg_conn_flush(c);
            if (!c->closed)
                tg_conn_close(c);
            return false;
        }
        f->done = true;
    }
    return true;
}

/* The response is complete on the origin side: end the client framing, free the origin. */
static void finish_response(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_upstream *u = c->up;
    if (r->client_framing == TG_BODY_CHUNKED)
        tg_buf_append(&c->out, "0\r\n\r\n", 5);
    r->resp_done = true;
    bool reusable = r->resp_keep && r->body_up.kind != TG_BODY_CLOSE && r->body_in.done && !u->eof &&
                    tg_buf_len(&u->in) == 0 && tg_buf_len(&u->out) == 0;
    c->up = NULL;
    u->owner = NULL;
    if (reusable)
        tg_upstream_release(u);
    else
        tg_upstream_close(u);
}

/* Retrying is safe only on a pooled connection the origin closed before answering. */
static bool should_retry(const struct tg_conn *c)
{
    const struct tg_req *r = c->req;
    return c->up->reused && !r->retried && !r->resp_started && r->body_in.kind == TG_BODY_NONE;
}

static void retry_fresh(struct tg_conn *c)
{
    tg_upstream_close(c->up);
    c->up = NULL;
    c->req->retried = true;
    start_connect(c, false);
}

/* Parses interim and final heads; false when the exchange ended or failed. */
static bool parse_heads(struct tg_conn *c, struct tg_resphead *h)
{
    struct tg_upstream *u = c->up;
    struct tg_http_error err;
    while (!c->req->resp_head_done) {
        long rc = tg_resphead_parse(tg_buf_head(&u->in), tg_buf_len(&u->in), MAX_RESPONSE_HEAD,
                                    c->req->is_head, h, &err);
        if (rc == 0) {
            if (!u->eof)
                return true;
            if (tg_buf_len(&u->in) == 0 && should_retry(c))
                retry_fresh(c);
            else
                fail(c, 502, "upstream_closed");
            return false;
        }
        if (rc < 0 || h->status == 101) {
            fail(c, 502, rc < 0 ? err.reason : "upstream_upgrade");
            return false;
        }
        int wrc = h->status < 200 ? write_interim(c, h) : write_final_head(c, h);
        if (wrc < 0) {
            fail(c, 502, "upstream_header_too_large");
            return false;
        }
        if (h->status >= 200)
            c->req->resp_keep = h->keep_alive;
        else if (h->status == 100)
            c->req->expect_continue = false; /* met: the body is the client's to send */
        tg_buf_consume(&u->in, (size_t)rc);
    }
    return true;
}

static void process_response(struct tg_conn *c)
{
    struct tg_resphead *h = c->w->scratch_resp;
    if (!c->req->resp_head_done && !parse_heads(c, h))
        return;
    if (c->req->resp_head_done && !pump_response_body(c))
        return;
    if (c->req->resp_head_done && c->req->body_up.done && !c->req->resp_done)
        finish_response(c);
    if (!tg_conn_flush(c))
        return;
    update_up(c);
}

static void read_upstream(struct tg_conn *c)
{
    struct tg_upstream *u = c->up;
    char *tail;
    if (c->req->bodypipe)
        return; /* splice_body reads */
    size_t space = tg_buf_space(&u->in, &tail);
    if (space == 0)
        return;
    ssize_t n = recv(u->io.fd, tail, space, 0);
    if (n > 0) {
        tg_buf_produce(&u->in, (size_t)n);
        tg_conn_set_timer(c, cfg_of(c)->response_timeout_ms);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        u->eof = true;
    }
    tg_buf_release_if_empty(&u->in);
}

void tg_forward_on_upstream(struct tg_conn *c, uint32_t events)
{
    if (c->state == TG_CONN_CONNECT) {
        on_connected(c);
        return;
    }
    if (c->state != TG_CONN_FORWARD || !c->up)
        return;
    if ((events & EPOLLOUT) && !flush_up(c))
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        read_upstream(c);
    /* The client side may have been waiting for room in the origin buffer. */
    if (!relay_request_body(c))
        return;
    process_response(c);
    if (!c->closed)
        tg_conn_update(c);
}

/* A fixed-length body, plaintext both ways, nothing of it buffered: splice it. */
static bool can_splice(const struct tg_conn *c)
{
    const struct tg_req *r = c->req;
    const struct tg_framing *f = &r->body_up;
    return !c->ssl && c->up && r->resp_head_done && !f->done && f->kind == TG_BODY_LENGTH &&
           r->client_framing == TG_BODY_LENGTH && f->left >= SPLICE_MIN &&
           tg_buf_len(&c->up->in) == 0 && tg_buf_len(&c->out) == 0;
}

/* Moves body bytes origin -> pipe -> client until both would block. False once c is closed. */
static bool splice_body(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    struct tg_upstream *u = c->up;
    struct tg_framing *f = &r->body_up;
    ssize_t in, out;
    do {
        in = -EAGAIN;
        if (!u->eof && f->left && tg_bodypipe_has_room(r->bodypipe)) {
            in = tg_bodypipe_fill(r->bodypipe, u->io.fd, &f->left);
            if (in > 0)
                tg_conn_set_timer(c, cfg_of(c)->response_timeout_ms);
            else if (in != -EAGAIN)
                u->eof = true; /* as read_upstream: an error ends the body too */
        }
        out = tg_bodypipe_drain(r->bodypipe, c->io.fd);
        if (out < 0 && out != -EAGAIN) {
            tg_conn_close(c);
            return false;
        }
        if (out > 0)
            r->bytes_out += (uint64_t)out;
    } while (in > 0 || out > 0);
    if (tg_bodypipe_queued(r->bodypipe))
        return true;
    if (f->left && u->eof) { /* all that came is sent: the origin cut the body short */
        r->reason = "upstream_truncated";
        tg_conn_close(c);
        return false;
    }
    if (f->left == 0) {
        f->done = true;
        tg_bodypipe_free(r->bodypipe);
        r->bodypipe = NULL;
    }
    return true;
}

void tg_forward_on_out_drained(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    if (r->resp_done) {
        tg_conn_finish_request(c);
        return;
    }
    if (!r->bodypipe && can_splice(c)) {
        r->bodypipe = tg_bodypipe_new(r->body_up.left); /* NULL: copy as usual */
        if (r->bodypipe)
            tg_sock_limit_unsent(c->io.fd, TG_SOCK_UNSENT_SPLICE);
    }
    if (r->bodypipe) {
        if (!splice_body(c))
            return;
        if (r->body_up.done)
            finish_response(c);
        if (r->resp_done) {
            tg_conn_finish_request(c);
            return;
        }
        update_up(c);
        return;
    }
    if (c->up && r->resp_head_done && tg_buf_len(&c->up->in)) {
        if (!pump_response_body(c))
            return;
        if (r->body_up.done && !r->resp_done)
            finish_response(c);
    }
    if (r->resp_done && tg_buf_len(&c->out) == 0) {
        tg_conn_finish_request(c);
        return;
    }
    update_up(c);
}

void tg_forward_on_timeout(struct tg_conn *c)
{
    if (c->state == TG_CONN_RESOLVE || c->state == TG_CONN_CONNECT) {
        if (c->dnsq) {
            tg_dns_cancel(c->dnsq);
            c->dnsq = NULL;
        }
        fail(c, 504, "upstream_connect_timeout");
        return;
    }
    struct tg_req *r = c->req;
    if (c->state == TG_CONN_FORWARD && c->up && !r->body_in.done && !r->resp_started &&
        !r->expect_continue && tg_buf_len(&c->up->out) == 0) {
        /* Everything the client sent is with the origin: the client stalled.
         * (After Expect: 100-continue it may be waiting for the origin's word.) */
        c->close_after = true; /* not worth waiting for the rest to discard it */
        fail(c, 408, "client_body_timeout");
        return;
    }
    fail(c, 504, "upstream_timeout");
}
