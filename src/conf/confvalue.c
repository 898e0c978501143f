/*
 * confvalue: turns one directive's value text into the fields of struct
 * tg_config, with one small parser and one setter per kind (sizes,
 * seconds, ports, listen addresses, scheme lists, rates, penalties...).
 * Parsers take a whole string and say yes or no: no sign, blanks, base
 * prefixes or exponents slip through, so what is stored is what was
 * written. A setter checks the whole value before it stores any of it,
 * so a bad value leaves the field as it was.
 *
 * This file does not know where text came from (config.c adds "--name:"
 * or "FILE:LINE:"), does not open the files values name, and does not know
 * what a scheme does. The realm rule follows RFC 9110 §11.6.1.
 */
#include "conf/confvalue.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Schemes the auth layer implements; a new scheme is one more name here. */
static const char *const known_schemes[] = {"basic",      "digest",           "digest-sha256",
                                            "digest-md5", "digest-sha512-256", "bearer"};

#define NKNOWN_SCHEMES (sizeof known_schemes / sizeof known_schemes[0])
_Static_assert(NKNOWN_SCHEMES <= TG_CONFIG_MAX_SCHEMES, "auth[] cannot hold every scheme");

/* ---- small parsers: they take a whole string and say yes or no ---- */

bool tg_confvalue_is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Decimal digits only: no sign, blanks or base prefix, which strtoull would allow. */
static bool parse_digits(const char *s, size_t len, unsigned long long *out)
{
    unsigned long long v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (~0ull - 9) / 10)
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

/* "16384", "16k", "1M": binary multiples, as sizes in this field usually are. */
static bool parse_bytes(const char *s, unsigned long long *out)
{
    size_t len = strlen(s);
    unsigned long long mult = 1;
    if (len > 0 && strchr("kK", s[len - 1]))
        mult = 1024;
    else if (len > 0 && strchr("mM", s[len - 1]))
        mult = 1024 * 1024;
    if (mult > 1)
        len--;
    if (!parse_digits(s, len, out) || *out > ~0ull / mult)
        return false;
    *out *= mult;
    return true;
}

/*
 * "10", "0.5", "2.25" -> milliseconds. Parsed by hand rather than with
 * strtod so that the stored value is exact and "1e3", "inf" and "0x10" are
 * refused. More than 3 decimals would be finer than the timer wheel.
 */
static bool parse_seconds(const char *s, unsigned long long *ms)
{
    const char *dot = strchr(s, '.');
    size_t ilen = dot ? (size_t)(dot - s) : strlen(s);
    unsigned long long whole, frac = 0;
    if (!parse_digits(s, ilen, &whole) || whole > TG_DIRECTIVE_SECONDS_MAX_MS)
        return false;
    if (dot) {
        size_t flen = strlen(dot + 1);
        if (flen > 3 || !parse_digits(dot + 1, flen, &frac))
            return false;
        for (; flen < 3; flen++)
            frac *= 10;
    }
    *ms = whole * 1000 + frac;
    return true;
}

/* A port number of len bytes at s, in min..65535. */
static bool parse_port(const char *s, size_t len, unsigned min, unsigned *out)
{
    unsigned long long v;
    if (!parse_digits(s, len, &v) || v < min || v > 65535)
        return false;
    *out = (unsigned)v;
    return true;
}

/*
 * Splits "a, b,c" at commas: sets *item and *len to the next element without
 * surrounding blanks (possibly empty, so callers can reject "a,,b") and
 * advances *rest. Returns false when the list is exhausted.
 */
static bool next_item(const char **rest, const char **item, size_t *len)
{
    if (!*rest)
        return false;
    const char *s = *rest, *comma = strchr(s, ',');
    const char *end = comma ? comma : s + strlen(s);
    *rest = comma ? comma + 1 : NULL;
    while (s < end && tg_confvalue_is_blank(*s))
        s++;
    while (end > s && tg_confvalue_is_blank(end[-1]))
        end--;
    *item = s;
    *len = (size_t)(end - s);
    return true;
}

/* ---- one setter per kind: 0, or -1 with the problem (no prefix) in why ---- */

static void *field(struct tg_config *c, const struct tg_directive *d)
{
    return (char *)c + d->offset;
}

static int replace_string(char **slot, const char *v, char *why, size_t whylen)
{
    char *dup = NULL;
    if (v && !(dup = strdup(v))) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    free(*slot);
    *slot = dup;
    return 0;
}

static int set_log(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                   size_t whylen)
{
    /* A file literally named "off" can still be written as ./off. */
    return replace_string(field(c, d), strcmp(v, "off") == 0 ? NULL : v, why, whylen);
}

/* The realm goes into realm="..." (RFC 9110 §11.6.1), so it must need no escaping. */
static int set_realm(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                     size_t whylen)
{
    size_t len = strlen(v);
    if (len > TG_CONFVALUE_REALM_MAX) {
        snprintf(why, whylen, "longer than %d bytes", TG_CONFVALUE_REALM_MAX);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
            snprintf(why, whylen, "only printable ASCII without '\"' or '\\' is allowed");
            return -1;
        }
    }
    return replace_string(field(c, d), v, why, whylen);
}

static bool parse_listen(const char *v, struct tg_listen_addr *out)
{
    char host[sizeof out->text];
    const char *colon = strrchr(v, ':');
    unsigned port;
    memset(out, 0, sizeof *out);
    if (strlen(v) >= sizeof out->text || !colon || !parse_port(colon + 1, strlen(colon + 1), 0, &port))
        return false;
    size_t hlen = (size_t)(colon - v);
    if (v[0] == '[') {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&out->addr;
        if (hlen < 2 || v[hlen - 1] != ']')
            return false;
        memcpy(host, v + 1, hlen - 2);
        host[hlen - 2] = '\0';
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        out->addrlen = sizeof *a6;
        if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
            return false;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&out->addr;
        memcpy(host, v, hlen);
        host[hlen] = '\0';
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        out->addrlen = sizeof *a4;
        if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
            return false;
    }
    memcpy(out->text, v, strlen(v) + 1);
    return true;
}

/*
 * Appends to listen[], first emptying it when the value comes from a later
 * source than the current list. listen and tls-listen share that list, so
 * giving either replaces the default plaintext address. Duplicates are
 * refused: with SO_REUSEPORT a second bind of the same address would
 * succeed silently.
 */
static int set_listen(struct tg_config *c, const char *v, enum tg_config_origin src, bool tls,
                      char *why, size_t whylen)
{
    struct tg_listen_addr a;
    if (!parse_listen(v, &a)) {
        snprintf(why, whylen, "invalid address '%.80s' (expected ADDR:PORT or [V6]:PORT)", v);
        return -1;
    }
    a.tls = tls;
    if (c->listen_origin != src) {
        c->nlisten = 0;
        c->listen_origin = src;
    }
    for (size_t i = 0; i < c->nlisten; i++) {
        if (c->listen[i].addrlen == a.addrlen && memcmp(&c->listen[i].addr, &a.addr, a.addrlen) == 0) {
            snprintf(why, whylen, "'%s' is given twice", v);
            return -1;
        }
    }
    if (c->nlisten == TG_CONFIG_MAX_LISTEN) {
        snprintf(why, whylen, "too many addresses (at most %d)", TG_CONFIG_MAX_LISTEN);
        return -1;
    }
    c->listen[c->nlisten++] = a;
    return 0;
}

/* Index of the known scheme named s[0..len) in any case, or -1. */
static int find_scheme(const char *s, size_t len)
{
    for (size_t i = 0; i < NKNOWN_SCHEMES; i++) {
        if (strlen(known_schemes[i]) == len && strncasecmp(known_schemes[i], s, len) == 0)
            return (int)i;
    }
    return -1;
}

void tg_confvalue_format_schemes(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NKNOWN_SCHEMES && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", known_schemes[i]);
}

/* Empties auth[] only: auth-rule lines are a separate directive and stay. */
static void clear_schemes(struct tg_config *c)
{
    for (size_t i = 0; i < c->nauth; i++) {
        free(c->auth[i]);
        c->auth[i] = NULL;
    }
    c->nauth = 0;
}

/* "a, b" into indexes of known_schemes[]: each named once, none empty or unknown. */
static int parse_schemes(const char *v, int idx[NKNOWN_SCHEMES], size_t *nidx, char *why,
                         size_t whylen)
{
    size_t n = 0, len;
    const char *rest = v, *item;
    char known[128];
    while (next_item(&rest, &item, &len)) {
        int k = find_scheme(item, len);
        tg_confvalue_format_schemes(known, sizeof known);
        if (len == 0) {
            snprintf(why, whylen, "empty scheme name in '%.80s'", v);
            return -1;
        }
        if (k < 0) {
            snprintf(why, whylen, "unknown scheme '%.*s' (known: %s)", (int)(len < 40 ? len : 40),
                     item, known);
            return -1;
        }
        for (size_t j = 0; j < n; j++) {
            if (idx[j] == k) {
                snprintf(why, whylen, "scheme '%s' is listed twice", known_schemes[k]);
                return -1;
            }
        }
        idx[n++] = k;
    }
    *nidx = n;
    return 0;
}

/* Parses the whole list before touching c, so a bad list leaves the old one. */
static int set_schemes(struct tg_config *c, const char *v, char *why, size_t whylen)
{
    int idx[NKNOWN_SCHEMES];
    size_t n;
    if (strcmp(v, "auto") == 0) {
        clear_schemes(c);
        return 0;
    }
    if (parse_schemes(v, idx, &n, why, whylen) < 0)
        return -1;
    clear_schemes(c);
    for (size_t i = 0; i < n; i++) {
        if (replace_string(&c->auth[i], known_schemes[idx[i]], why, whylen) < 0)
            return -1;
        c->nauth = i + 1;
    }
    return 0;
}

/* Appends to a list directive after the directive's own check. */
static int add_list(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                    size_t whylen)
{
    struct tg_config_list *l = field(c, d);
    if (l->n == TG_CONFIG_MAX_RULES) {
        snprintf(why, whylen, "at most %d values", TG_CONFIG_MAX_RULES);
        return -1;
    }
    if (d->validate && d->validate(v, why, whylen) < 0)
        return -1;
    if (replace_string(&l->item[l->n], v, why, whylen) < 0)
        return -1;
    l->n++;
    return 0;
}

/* "N/SECONDS": N failures allowed per window. */
static int set_rate(struct tg_config *c, const char *v, char *why, size_t whylen)
{
    const char *slash = strchr(v, '/');
    unsigned long long ms, n = 0;
    if (!slash || !parse_digits(v, (size_t)(slash - v), &n) || n < 1 || n > 100 ||
        !parse_seconds(slash + 1, &ms) || ms < 1000 || ms > TG_DIRECTIVE_SECONDS_MAX_MS) {
        snprintf(why, whylen, "expected N/SECONDS like 5/60 (N 1..100, 1..86400 s), got '%.80s'",
                 v);
        return -1;
    }
    c->rate_max_failures = (unsigned)n;
    c->rate_window_ms = ms;
    return 0;
}

/* "SECONDS[:MAX]": the first penalty and the cap of its doubling. */
static int set_penalty(struct tg_config *c, const char *v, char *why, size_t whylen)
{
    char first[32];
    const char *colon = strchr(v, ':');
    size_t len = colon ? (size_t)(colon - v) : strlen(v);
    unsigned long long ms, max;
    bool ok = len < sizeof first;
    if (ok) {
        memcpy(first, v, len);
        first[len] = '\0';
        ok = parse_seconds(first, &ms) && ms >= 1000 && ms <= TG_DIRECTIVE_SECONDS_MAX_MS;
    }
    max = ok ? ms : 0;
    if (ok && colon)
        ok = parse_seconds(colon + 1, &max) && max >= ms && max <= TG_DIRECTIVE_SECONDS_MAX_MS;
    if (!ok) {
        snprintf(why, whylen, "expected SECONDS[:MAX] like 60:3600 (1..86400 s, MAX >= SECONDS), "
                              "got '%.80s'", v);
        return -1;
    }
    c->rate_penalty_ms = ms;
    c->rate_penalty_max_ms = max;
    return 0;
}

static int set_access_default(struct tg_config *c, const char *v, char *why, size_t whylen)
{
    if (strcmp(v, "allow") != 0 && strcmp(v, "deny") != 0) {
        snprintf(why, whylen, "expected allow or deny, got '%.80s'", v);
        return -1;
    }
    c->access_default_deny = strcmp(v, "deny") == 0;
    return 0;
}

/* One "PORT" or "LO-HI" element of connect-ports. */
static bool parse_port_range(const char *s, size_t len, struct tg_port_range *r)
{
    const char *dash = memchr(s, '-', len);
    unsigned lo, hi;
    if (!dash) {
        if (!parse_port(s, len, 1, &lo))
            return false;
        hi = lo;
    } else if (!parse_port(s, (size_t)(dash - s), 1, &lo) ||
               !parse_port(dash + 1, len - (size_t)(dash - s) - 1, 1, &hi) || lo > hi) {
        return false;
    }
    r->lo = (uint16_t)lo;
    r->hi = (uint16_t)hi;
    return true;
}

static int set_ports(struct tg_config *c, const char *v, char *why, size_t whylen)
{
    struct tg_port_range r[TG_CONFIG_MAX_PORT_RANGES];
    size_t n = 0, len;
    const char *rest = strcmp(v, "none") == 0 ? NULL : v, *item;
    while (next_item(&rest, &item, &len)) {
        if (n == TG_CONFIG_MAX_PORT_RANGES) {
            snprintf(why, whylen, "too many entries (at most %d)", TG_CONFIG_MAX_PORT_RANGES);
            return -1;
        }
        if (!parse_port_range(item, len, &r[n++])) {
            snprintf(why, whylen, "invalid port or range '%.*s' (expected PORT or LO-HI, 1..65535)",
                     (int)(len < 40 ? len : 40), item);
            return -1;
        }
    }
    memcpy(c->connect_ports, r, n * sizeof r[0]);
    c->nconnect_ports = n;
    return 0;
}

static long online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}

/* TG_DIRECTIVE_INT and TG_DIRECTIVE_COUNT: the same text, stored as int or size_t. */
static int set_integer(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                       size_t whylen)
{
    unsigned long long n;
    if ((d->flags & TG_DIRECTIVE_CPUS) && strcmp(v, "auto") == 0) {
        n = (unsigned long long)online_cpus();
        n = n > d->max ? d->max : n;
    } else if (!parse_digits(v, strlen(v), &n) || n < d->min || n > d->max) {
        snprintf(why, whylen, "expected an integer %llu..%llu, got '%.80s'", d->min, d->max, v);
        return -1;
    }
    if (d->kind == TG_DIRECTIVE_INT)
        *(int *)field(c, d) = (int)n;
    else
        *(size_t *)field(c, d) = (size_t)n;
    return 0;
}

static int set_bytes(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                     size_t whylen)
{
    unsigned long long n;
    if (!parse_bytes(v, &n) || n < d->min || n > d->max) {
        snprintf(why, whylen, "expected a size %llu..%llu bytes (suffix k or m allowed), got '%.80s'",
                 d->min, d->max, v);
        return -1;
    }
    *(size_t *)field(c, d) = (size_t)n;
    return 0;
}

/* Milliseconds as the shortest decimal seconds: 1 -> "0.001", 86400000 -> "86400". */
void tg_confvalue_format_seconds(unsigned long long ms, char *buf, size_t len)
{
    if (ms % 1000 == 0)
        snprintf(buf, len, "%llu", ms / 1000);
    else if (ms % 100 == 0)
        snprintf(buf, len, "%llu.%llu", ms / 1000, ms % 1000 / 100);
    else if (ms % 10 == 0)
        snprintf(buf, len, "%llu.%02llu", ms / 1000, ms % 1000 / 10);
    else
        snprintf(buf, len, "%llu.%03llu", ms / 1000, ms % 1000);
}

static int set_seconds(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                       size_t whylen)
{
    unsigned long long ms;
    char lo[32], hi[32];
    if (!parse_seconds(v, &ms) || ms < d->min || ms > d->max) {
        tg_confvalue_format_seconds(d->min, lo, sizeof lo);
        tg_confvalue_format_seconds(d->max, hi, sizeof hi);
        snprintf(why, whylen, "expected seconds %s..%s (up to 3 decimals), got '%.80s'", lo, hi, v);
        return -1;
    }
    *(uint64_t *)field(c, d) = ms;
    return 0;
}

/* No value (a bare flag or a bare file line) means yes. */
static int set_bool(struct tg_config *c, const struct tg_directive *d, const char *v, char *why,
                    size_t whylen)
{
    static const char *const yes[] = {"yes", "true", "on"}, *const no[] = {"no", "false", "off"};
    bool *b = field(c, d);
    for (size_t i = 0; i < 3; i++) {
        if (!v || strcasecmp(v, yes[i]) == 0) {
            *b = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *b = false;
            return 0;
        }
    }
    snprintf(why, whylen, "expected yes or no (or true/false, on/off), got '%.80s'", v);
    return -1;
}

int tg_confvalue_set(struct tg_config *c, const struct tg_directive *d, const char *v,
               enum tg_config_origin src, char *why, size_t whylen)
{
    switch (d->kind) {
    case TG_DIRECTIVE_PATH:
    case TG_DIRECTIVE_TEXT:
    case TG_DIRECTIVE_CONFIG:
        return replace_string(field(c, d), v, why, whylen);
    case TG_DIRECTIVE_LOG:
        return set_log(c, d, v, why, whylen);
    case TG_DIRECTIVE_REALM:
        return set_realm(c, d, v, why, whylen);
    case TG_DIRECTIVE_LISTEN:
        return set_listen(c, v, src, (d->flags & TG_DIRECTIVE_TLS) != 0, why, whylen);
    case TG_DIRECTIVE_SCHEMES:
        return set_schemes(c, v, why, whylen);
    case TG_DIRECTIVE_LIST:
        return add_list(c, d, v, why, whylen);
    case TG_DIRECTIVE_RATE:
        return set_rate(c, v, why, whylen);
    case TG_DIRECTIVE_PENALTY:
        return set_penalty(c, v, why, whylen);
    case TG_DIRECTIVE_ACCESS_DEFAULT:
        return set_access_default(c, v, why, whylen);
    case TG_DIRECTIVE_PORTS:
        return set_ports(c, v, why, whylen);
    case TG_DIRECTIVE_INT:
    case TG_DIRECTIVE_COUNT:
        return set_integer(c, d, v, why, whylen);
    case TG_DIRECTIVE_BYTES:
        return set_bytes(c, d, v, why, whylen);
    case TG_DIRECTIVE_SECONDS:
        return set_seconds(c, d, v, why, whylen);
    case TG_DIRECTIVE_BOOL:
        return set_bool(c, d, v, why, whylen);
    case TG_DIRECTIVE_HELP:
    case TG_DIRECTIVE_VERSION:
        break;
    }
    return 0;
}
