/*
 * clientio: bytes to and from the client, over plain TCP or TLS, behind
 * two calls with the socket conventions (count, 0 for EOF, -EAGAIN), plus
 * the TLS handshake that precedes a TLS connection's first request. What
 * TLS wants next (to read while writing, or the reverse) is remembered in
 * c->tls_want so tg_conn_update can ask epoll for it.
 */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log/accesslog.h"
#include "net/tls.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "proxy/worker.h"

static ssize_t tls_result(struct tg_conn *c, enum tg_tls_io r, size_t n)
{
    c->tls_want = 0;
    switch (r) {
    case TG_TLS_DONE:
        return (ssize_t)n;
    case TG_TLS_WANT_READ:
        c->tls_want = EPOLLIN;
        return -EAGAIN;
    case TG_TLS_WANT_WRITE:
        c->tls_want = EPOLLOUT;
        return -EAGAIN;
    case TG_TLS_EOF:
        return 0;
    case TG_TLS_ERROR:
        break;
    }
    return -EIO;
}

ssize_t tg_conn_recv(struct tg_conn *c, void *buf, size_t len)
{
    if (c->ssl) {
        size_t n = 0;
        enum tg_tls_io r = tg_tls_read(c->ssl, buf, len, &n); /* before n is read */
        return tls_result(c, r, n);
    }
    ssize_t n = recv(c->io.fd, buf, len, 0);
    return n >= 0 ? n : (errno == EAGAIN || errno == EINTR) ? -EAGAIN : -errno;
}

ssize_t tg_conn_send(struct tg_conn *c, const void *buf, size_t len)
{
    if (c->ssl) {
        size_t n = 0;
        enum tg_tls_io r = tg_tls_write(c->ssl, buf, len, &n); /* before n is read */
        ssize_t rc = tls_result(c, r, n);
        return rc == 0 ? -EPIPE : rc; /* EOF while writing: the peer is gone */
    }
    ssize_t n = send(c->io.fd, buf, len, MSG_NOSIGNAL);
    return n >= 0 ? n : (errno == EAGAIN || errno == EINTR) ? -EAGAIN : -errno;
}

bool tg_conn_pending(const struct tg_conn *c)
{
    return c->ssl && tg_tls_pending(c->ssl);
}

/* A handshake that failed leaves an access-log line: bad input is never silent. */
static void log_handshake_failure(struct tg_conn *c, const char *reason)
{
    struct tg_access_entry e = {
        .client = c->peer,
        .method = tg_str_c("-"),
        .target = tg_str_c("-"),
        .status = 0,
        .reason = reason,
        .listener = c->listener,
    };
    tg_accesslog_write(tg_worker_access_log(c->w), &e);
}

void tg_conn_handshake(struct tg_conn *c)
{
    size_t unused = 0;
    ssize_t rc = tls_result(c, tg_tls_handshake(c->ssl), unused);
    if (rc == -EAGAIN) {
        tg_loop_watch(c->w->loop, &c->io, c->tls_want);
        return;
    }
    if (rc < 0 || c->closed) {
        log_handshake_failure(c, "tls_handshake_failed");
        tg_conn_close(c);
        return;
    }
    c->state = TG_CONN_HEAD;
    tg_conn_set_timer(c, c->w->srv->cfg->header_timeout_ms);
    tg_conn_update(c);
    if (tg_conn_pending(c))
        tg_conn_kick_read(c);
}

void tg_conn_handshake_timeout(struct tg_conn *c)
{
    log_handshake_failure(c, "tls_handshake_timeout");
    tg_conn_close(c);
}
