/*
 * sock: the socket system calls Tollgate needs, with the options it always
 * wants (non-blocking, close-on-exec, TCP_NODELAY), and address formatting
 * for logs. Returns follow the setup idiom: an fd or a negative errno.
 */
#ifndef TG_SOCK_H
#define TG_SOCK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text tg_sock_format writes, "[v6]:port" with NUL. */
#define TG_SOCK_ADDRSTRLEN 64

/*
 * A listening socket on addr with SO_REUSEADDR and SO_REUSEPORT (so each
 * worker can own one) and TCP_NODELAY, which accepted sockets inherit.
 * Returns the fd or a negative errno.
 */
int tg_sock_listen(const struct sockaddr *addr, socklen_t len, int backlog);

/*
 * Binds and closes a socket without SO_REUSEPORT: -EADDRINUSE when some
 * other socket (another Tollgate too, which SO_REUSEPORT would otherwise
 * let share the port silently) already holds addr. 0 or -errno.
 */
int tg_sock_probe_free(const struct sockaddr *addr, socklen_t len);

/* Accepts one connection (non-blocking, cloexec, Nagle off). fd or negative errno. */
int tg_sock_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len);

/* Starts a non-blocking connect. fd (connect in progress or done) or negative errno. */
int tg_sock_connect(const struct sockaddr *addr, socklen_t len);

/*
 * Caps the bytes a socket holds that TCP has not sent yet (TCP_NOTSENT_LOWAT;
 * writes and splices then stop early and EPOLLOUT waits for the queue to
 * drain). Best effort. Used where whole pipes are spliced into a socket:
 * with a deep unsent queue the kernel sends most of it later, from the
 * peer's ACKs, on whichever CPU the peer runs; a short queue keeps that
 * work on the proxy's own thread. Not used for tunnels: there the same
 * cap bought ~5% throughput (already above 0.9 of direct) for ~25% more
 * proxy CPU per GiB (make bench, December 2026).
 */
#define TG_SOCK_UNSENT_SPLICE 65536
void tg_sock_limit_unsent(int fd, int bytes);

/* The pending error of a socket after a non-blocking connect (0 if connected). */
int tg_sock_error(int fd);

/* Length of the sockaddr for its family. */
socklen_t tg_sock_len(const struct sockaddr *addr);

/* Writes "ip:port" or "[ip6]:port" into out (TG_SOCK_ADDRSTRLEN). */
void tg_sock_format(const struct sockaddr *addr, char *out, size_t outlen);

/* The local address of fd; 0 or negative errno. */
int tg_sock_local(int fd, struct sockaddr_storage *out, socklen_t *len);

/* Port of an AF_INET/AF_INET6 address. */
uint16_t tg_sock_port(const struct sockaddr *addr);
void tg_sock_set_port(struct sockaddr *addr, uint16_t port);

#endif
