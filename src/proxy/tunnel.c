/*
 * tunnel: the byte relay behind CONNECT (RFC 9110 §9.3.6). Bytes move with
 * splice(2) through one pipe per direction, so they never cross user
 * space. Each direction ends independently: EOF from one side becomes
 * shutdown(SHUT_WR) on the other once the pipe is empty (half-close), and
 * the tunnel ends when both directions have. An idle timeout bounds
 * tunnels nobody uses.
 *
 * A client on a TLS listener cannot be spliced: its bytes must be
 * decrypted. Those tunnels relay through the connection's two buffers
 * instead (TLS inside TLS for HTTPS through an HTTPS proxy), with the same
 * half-close rules; close_notify stands for the client-side shutdown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/tls.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "proxy/worker.h"

#define PIPE_CAP 65536         /* the kernel's default pipe size */
#define PIPE_BULK_CAP 1048576  /* a bulk direction's pipe: fewer, larger splices */

struct direction {
    int pipe[2];   /* [0] read end, [1] write end */
    size_t cap;    /* the pipe's size */
    bool grown;    /* a larger pipe was asked for (once) */
    size_t queued; /* bytes in the pipe */
    /* Readiness as last seen, so a pump skips splices bound to fail: a
     * short or failed splice clears it, an epoll event sets it again. */
    bool src_ready, dst_ready;
    bool stalled;  /* no room though bytes < cap: pipe slots ran out */
    bool src_eof;
    bool dst_shut;
    uint64_t bytes;
};

struct tg_tunnel {
    struct direction up;   /* client -> origin */
    struct direction down; /* origin -> client */
    uint64_t last_active_ms;
};

void tg_tunnel_free(struct tg_tunnel *t)
{
    if (!t)
        return;
    close(t->up.pipe[0]);
    close(t->up.pipe[1]);
    close(t->down.pipe[0]);
    close(t->down.pipe[1]);
    free(t);
}

/*
 * A direction that filled its pipe carries bulk data: a larger pipe moves
 * it with a fraction of the splices and wakeups. Only then, because pipe
 * pages count against a per-user limit (fs.pipe-user-pages-soft) that many
 * interactive tunnels would otherwise exhaust. Refused: the pipe stays.
 */
static void grow(struct direction *d)
{
    d->grown = true;
    int size = fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_BULK_CAP);
    if (size > 0 && (size_t)size > d->cap)
        d->cap = (size_t)size;
}

/* Moves what it can from src through the pipe to dst. -1 on a hard error, else progress. */
static int move(struct direction *d, int src, int dst)
{
    int progress = 0;
    if (d->src_ready && !d->src_eof && d->queued < d->cap && !d->stalled) {
        size_t want = d->cap - d->queued;
        ssize_t n = splice(src, NULL, d->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        d->src_ready = n > 0 && (size_t)n == want; /* a short read emptied the socket */
        if (n > 0) {
            d->queued += (size_t)n;
            progress = 1;
            if (d->queued == d->cap && !d->grown)
                grow(d);
        } else if (n == 0) {
            d->src_eof = true;
            progress = 1;
        } else if (errno != EAGAIN && errno != EINTR) {
            return -1;
        } else {
            d->stalled = d->queued > 0; /* the socket said readable: the pipe is full */
        }
    }
    if (d->queued > 0 && d->dst_ready) {
        size_t want = d->queued;
        ssize_t n = splice(d->pipe[0], NULL, dst, NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        d->dst_ready = n > 0 && (size_t)n == want; /* a short write filled the socket */
        if (n > 0) {
            d->queued -= (size_t)n;
            d->bytes += (uint64_t)n;
            d->stalled = false;
            progress = 1;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            return -1;
        }
    }
    if (d->src_eof && d->queued == 0 && !d->dst_shut) {
        shutdown(dst, SHUT_WR);
        d->dst_shut = true;
    }
    return progress;
}

static uint32_t interest(const struct direction *in, const struct direction *out)
{
    uint32_t ev = 0;
    if (!in->src_eof && in->queued < in->cap && !in->stalled)
        ev |= EPOLLIN | EPOLLRDHUP;
    if (out->queued > 0)
        ev |= EPOLLOUT;
    return ev;
}

static void finish(struct tg_conn *c)
{
    struct tg_tunnel *t = c->tun;
    c->req->bytes_in += t->up.bytes;
    c->req->bytes_out += t->down.bytes;
    if (!c->req->reason)
        c->req->reason = "tunnel_closed";
    c->close_after = true;
    tg_conn_close(c);
}

/* Client -> origin for a TLS client: decrypt into c->in, send on. */
static int relay_up(struct tg_conn *c, struct direction *d)
{
    int progress = 0, ufd = c->up->io.fd;
    char *tail;
    size_t space;
    while (!d->src_eof && (space = tg_buf_space(&c->in, &tail)) > 0) {
        ssize_t n = tg_conn_recv(c, tail, space);
        if (n == -EAGAIN)
            break;
        if (n < 0)
            return -1;
        if (n == 0)
            d->src_eof = true;
        tg_buf_produce(&c->in, (size_t)n);
        progress = 1;
    }
    while (tg_buf_len(&c->in)) {
        ssize_t n = send(ufd, tg_buf_head(&c->in), tg_buf_len(&c->in), MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0)
            return -1;
        d->bytes += (uint64_t)n;
        tg_buf_consume(&c->in, (size_t)n);
        progress = 1;
    }
    if (d->src_eof && tg_buf_len(&c->in) == 0 && !d->dst_shut) {
        shutdown(ufd, SHUT_WR);
        d->dst_shut = true;
    }
    return progress;
}

/* Origin -> TLS client: read into c->out, encrypt on. */
static int relay_down(struct tg_conn *c, struct direction *d)
{
    int progress = 0, ufd = c->up->io.fd;
    char *tail;
    size_t space;
    while (!d->src_eof && (space = tg_buf_space(&c->out, &tail)) > 0) {
        ssize_t n = recv(ufd, tail, space, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0)
            return -1;
        if (n == 0)
            d->src_eof = true;
        tg_buf_produce(&c->out, (size_t)n);
        progress = 1;
        if (n == 0)
            break;
    }
    while (tg_buf_len(&c->out)) {
        ssize_t n = tg_conn_send(c, tg_buf_head(&c->out), tg_buf_len(&c->out));
        if (n == -EAGAIN)
            break;
        if (n <= 0)
            return -1;
        d->bytes += (uint64_t)n;
        tg_buf_consume(&c->out, (size_t)n);
        progress = 1;
    }
    if (d->src_eof && tg_buf_len(&c->out) == 0 && !d->dst_shut) {
        tg_tls_notify_close(c->ssl);
        shutdown(c->io.fd, SHUT_WR);
        d->dst_shut = true;
    }
    return progress;
}

static void pump_tls(struct tg_conn *c)
{
    struct tg_tunnel *t = c->tun;
    int a, b;
    do {
        a = relay_up(c, &t->up);
        b = relay_down(c, &t->down);
        if (a < 0 || b < 0) {
            c->req->reason = "tunnel_error";
            finish(c);
            return;
        }
        if (a > 0 || b > 0)
            t->last_active_ms = tg_loop_now(c->w->loop);
    } while ((a > 0 || b > 0) && !(t->up.dst_shut && t->down.dst_shut));
    if (t->up.dst_shut && t->down.dst_shut) {
        finish(c);
        return;
    }
    uint32_t cev = c->tls_want, uev = 0;
    if (!t->up.src_eof && tg_buf_len(&c->in) < c->in.cap)
        cev |= EPOLLIN | EPOLLRDHUP;
    if (tg_buf_len(&c->out))
        cev |= EPOLLOUT;
    if (!t->down.src_eof && tg_buf_len(&c->out) < c->out.cap)
        uev |= EPOLLIN | EPOLLRDHUP;
    if (tg_buf_len(&c->in))
        uev |= EPOLLOUT;
    tg_loop_watch(c->w->loop, &c->io, cev);
    tg_upstream_watch(c->up, uev);
}

/* What an epoll event on fd says about the direction reading from it (in) and writing to it (out). */
static void note_event(struct direction *in, struct direction *out, uint32_t events)
{
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        in->src_ready = true;
    if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
        out->dst_ready = true;
}

void tg_tunnel_pump(struct tg_conn *c, int fd, uint32_t events)
{
    struct tg_tunnel *t = c->tun;
    if (c->ssl) {
        pump_tls(c);
        return;
    }
    int cfd = c->io.fd, ufd = c->up->io.fd;
    int a, b;
    if (fd == cfd)
        note_event(&t->up, &t->down, events);
    else if (fd == ufd)
        note_event(&t->down, &t->up, events);
    do {
        a = move(&t->up, cfd, ufd);
        b = move(&t->down, ufd, cfd);
        if (a < 0 || b < 0) {
            c->req->reason = "tunnel_error";
            finish(c);
            return;
        }
        if (a > 0 || b > 0)
            t->last_active_ms = tg_loop_now(c->w->loop);
    } while (a > 0 || b > 0);
    if (t->up.dst_shut && t->down.dst_shut) {
        finish(c);
        return;
    }
    tg_loop_watch(c->w->loop, &c->io, interest(&t->up, &t->down));
    tg_upstream_watch(c->up, interest(&t->down, &t->up));
}

/* Bytes the client sent right after its CONNECT head go to the origin first. */
static bool send_early_bytes(struct tg_conn *c)
{
    while (tg_buf_len(&c->in)) {
        ssize_t n = send(c->up->io.fd, tg_buf_head(&c->in), tg_buf_len(&c->in), MSG_NOSIGNAL);
        if (n <= 0)
            return false; /* a fresh socket accepts a few KiB; anything else is an error */
        c->tun->up.bytes += (uint64_t)n;
        tg_buf_consume(&c->in, (size_t)n);
    }
    return true;
}

void tg_tunnel_start(struct tg_conn *c)
{
    struct tg_tunnel *t = calloc(1, sizeof *t);
    if (!t || pipe2(t->up.pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(t);
        tg_conn_close(c);
        return;
    }
    if (pipe2(t->down.pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
        close(t->up.pipe[0]);
        close(t->up.pipe[1]);
        free(t);
        tg_conn_close(c);
        return;
    }
    t->up.cap = t->down.cap = PIPE_CAP;
    c->tun = t;
    c->state = TG_CONN_TUNNEL;
    t->last_active_ms = tg_loop_now(c->w->loop);
    tg_conn_set_timer(c, c->w->srv->cfg->tunnel_idle_timeout_ms);
    t->up.src_ready = t->up.dst_ready = t->down.src_ready = t->down.dst_ready = true;
    if (c->ssl) { /* the relay uses both buffers; early bytes in c->in go first */
        tg_tunnel_pump(c, -1, 0);
        return;
    }
    tg_buf_fini(&c->out);
    if (!send_early_bytes(c)) {
        finish(c);
        return;
    }
    tg_buf_fini(&c->in);
    tg_tunnel_pump(c, -1, 0);
}

void tg_tunnel_on_timeout(struct tg_conn *c)
{
    struct tg_tunnel *t = c->tun;
    uint64_t idle = c->w->srv->cfg->tunnel_idle_timeout_ms;
    uint64_t now = tg_loop_now(c->w->loop);
    if (now - t->last_active_ms < idle) {
        tg_conn_set_timer(c, idle - (now - t->last_active_ms));
        return;
    }
    c->req->reason = "tunnel_idle_timeout";
    finish(c);
}
