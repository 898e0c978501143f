/*
 * sock: thin wrappers over socket(2) calls. No logging here: callers decide
 * what a failure means.
 */
#include "net/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

socklen_t tg_sock_len(const struct sockaddr *addr)
{
    return addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int tg_sock_listen(const struct sockaddr *addr, socklen_t len, int backlog)
{
    int one = 1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Accepted sockets inherit it: one system call fewer per connection. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        (addr->sa_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
        bind(fd, addr, len) < 0 || listen(fd, backlog) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

int tg_sock_probe_free(const struct sockaddr *addr, socklen_t len)
{
    int one = 1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    int rc = bind(fd, addr, len) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

int tg_sock_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len)
{
    *len = sizeof *peer;
    int fd = accept4(lfd, (struct sockaddr *)peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return fd < 0 ? -errno : fd; /* TCP_NODELAY comes from the listener */
}

int tg_sock_connect(const struct sockaddr *addr, socklen_t len)
{
    int one = 1;
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, addr, len) < 0 && errno != EINPROGRESS) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}

void tg_sock_limit_unsent(int fd, int bytes)
{
    if (setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &bytes, sizeof bytes) < 0) {
        /* older kernels: the default (unlimited) queue still works */
    }
}

int tg_sock_error(int fd)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return errno;
    return err;
}

/* Appends v in decimal at out + n; returns the new length. */
static size_t put_dec(char *out, size_t n, unsigned v)
{
    char d[10];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out + n, d + i, sizeof d - i);
    return n + sizeof d - i;
}

/* "a.b.c.d:port" as inet_ntop and snprintf("%s:%u") make it: every accept formats one. */
static void format_in4(const struct sockaddr_in *s4, char *out, size_t outlen)
{
    char tmp[32];
    const unsigned char *b = (const unsigned char *)&s4->sin_addr;
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        n = put_dec(tmp, n, b[i]);
        tmp[n++] = i < 3 ? '.' : ':';
    }
    n = put_dec(tmp, n, ntohs(s4->sin_port));
    if (outlen == 0)
        return;
    if (n > outlen - 1)
        n = outlen - 1;
    memcpy(out, tmp, n);
    out[n] = '\0';
}

void tg_sock_format(const struct sockaddr *addr, char *out, size_t outlen)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
        snprintf(out, outlen, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else if (addr->sa_family == AF_INET) {
        format_in4((const struct sockaddr_in *)addr, out, outlen);
    } else {
        snprintf(out, outlen, "-");
    }
}

int tg_sock_local(int fd, struct sockaddr_storage *out, socklen_t *len)
{
    *len = sizeof *out;
    return getsockname(fd, (struct sockaddr *)out, len) < 0 ? -errno : 0;
}

uint16_t tg_sock_port(const struct sockaddr *addr)
{
    if (addr->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)addr)->sin_port);
}

void tg_sock_set_port(struct sockaddr *addr, uint16_t port)
{
    if (addr->sa_family == AF_INET6)
        ((struct sockaddr_in6 *)addr)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)addr)->sin_port = htons(port);
}
