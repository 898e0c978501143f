/*
 * cidr: prefix parsing and matching. Host bits set in the address part are
 * refused ("10.0.0.1/8" is almost always a typo for a host or a prefix).
 */
#include "net/cidr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static bool host_bits_clear(const struct tg_cidr *c)
{
    unsigned total = c->family == AF_INET ? 32 : 128;
    for (unsigned b = c->bits; b < total; b++) {
        if (c->addr[b / 8] & (0x80u >> (b % 8)))
            return false;
    }
    return true;
}

int tg_cidr_parse(const char *text, struct tg_cidr *out)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    if (alen == 0 || alen >= sizeof addr)
        return -1;
    memcpy(addr, text, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = AF_INET6;
    else
        return -1;
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->bits = max;
    if (slash) {
        char *end;
        const char *digits = slash + 1;
        if (*digits < '0' || *digits > '9')
            return -1;
        unsigned long b = strtoul(digits, &end, 10);
        if (*end || b > max)
            return -1;
        out->bits = (unsigned)b;
    }
    return host_bits_clear(out) ? 0 : -1;
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

bool tg_cidr_match(const struct tg_cidr *c, const struct sockaddr *sa)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return c->family == AF_INET && prefix_equal((const uint8_t *)&in->sin_addr, c->addr, c->bits);
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const uint8_t *a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (c->family == AF_INET6)
        return prefix_equal(a6, c->addr, c->bits);
    return memcmp(a6, mapped, sizeof mapped) == 0 && prefix_equal(a6 + 12, c->addr, c->bits);
}
