/*
 * Unit tests for net/sock: accepted client sockets have Nagle off (they
 * inherit TCP_NODELAY from the listener instead of a setsockopt each),
 * outgoing sockets set it themselves, and the unsent-bytes cap sticks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/sock.h"

static int nodelay(int fd)
{
    int v = -1;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
    return v;
}

static void test_socket_options(void **state)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int lfd = tg_sock_listen((struct sockaddr *)&a, sizeof a, 16);
    assert_true(lfd >= 0);
    socklen_t alen = sizeof a;
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    int cfd = tg_sock_connect((struct sockaddr *)&a, sizeof a);
    assert_true(cfd >= 0);
    assert_int_equal(nodelay(cfd), 1);
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    struct sockaddr_storage peer;
    socklen_t plen;
    int afd = tg_sock_accept(lfd, &peer, &plen);
    assert_true(afd >= 0);
    assert_int_not_equal(nodelay(afd), 0);
    tg_sock_limit_unsent(afd, TG_SOCK_UNSENT_SPLICE);
    int lowat = 0;
    socklen_t llen = sizeof lowat;
    assert_int_equal(getsockopt(afd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, &llen), 0);
    assert_int_equal(lowat, TG_SOCK_UNSENT_SPLICE);
    close(afd);
    close(cfd);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_socket_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
