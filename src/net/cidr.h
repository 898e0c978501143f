/*
 * cidr: address prefixes ("10.0.0.0/8", "::1", "fe80::/10") and matching
 * a socket address against them. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) matches IPv4 prefixes, as a dual-stack listener
 * reports IPv4 clients that way.
 */
#ifndef TG_CIDR_H
#define TG_CIDR_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

struct tg_cidr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t addr[16];
    unsigned bits;
};

/* Parses "ADDR" or "ADDR/BITS" (no brackets). 0 or -1. */
int tg_cidr_parse(const char *text, struct tg_cidr *out);

bool tg_cidr_match(const struct tg_cidr *c, const struct sockaddr *sa);

#endif
