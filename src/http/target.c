/*
 * target: splits a request-target into the views a forward proxy needs
 * (RFC 9112 §3.2): host, port and path of an absolute-form http URI
 * (RFC 3986 §3, RFC 9110 §4.2.1), or host and port of a CONNECT
 * authority-form (RFC 9112 §3.2.3). The host is checked byte by byte
 * (reg-name, IPv4 or a bracketed IPv6 literal) because it goes on to a
 * resolver and a connect; userinfo is refused because "http://a@b/" is a
 * classic way to disguise where a request goes. Percent-encoding is
 * validated, never decoded; the path is passed on as sent.
 */
#include "http/target.h"

#include <arpa/inet.h>
#include <string.h>

static const char slash[] = "/";

static int fail(struct tg_http_error *err, const char *reason)
{
    err->status = 400;
    err->reason = reason;
    return -1;
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* strchr() would also match the terminating NUL. */
static bool in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* reg-name (RFC 3986 §3.2.2): unreserved / pct-encoded / sub-delims. */
static bool is_reg_name(struct tg_str h)
{
    for (size_t i = 0; i < h.len; i++) {
        char c = h.p[i];
        if (c == '%') {
            if (i + 2 >= h.len || !is_hex(h.p[i + 1]) || !is_hex(h.p[i + 2]))
                return false;
            i += 2;
        } else if (!is_alpha(c) && !is_digit(c) && !in_set(c, "-._~!$&'()*+,;=")) {
            return false;
        }
    }
    return true;
}

/* IPv6address (RFC 3986 §3.2.2) as inet_pton reads it; zone ids refused. */
static bool is_ipv6(struct tg_str h)
{
    char copy[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    /* inet_pton stops at a NUL, so "::1\0evil" must be refused here. */
    if (h.len == 0 || h.len >= sizeof(copy) || memchr(h.p, '%', h.len) ||
        memchr(h.p, '\0', h.len))
        return false;
    memcpy(copy, h.p, h.len);
    copy[h.len] = '\0';
    return inet_pton(AF_INET6, copy, &addr) == 1;
}

/* port (RFC 3986 §3.2.3), restricted to 1-65535. */
static bool parse_port(struct tg_str s, uint16_t *port)
{
    unsigned v = 0;

    if (s.len == 0 || s.len > 5)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        if (!is_digit(s.p[i]))
            return false;
        v = v * 10 + (unsigned)(s.p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

/* Splits host [ ":" port ]; *port_text stays empty when there is no port. */
static const char *split_host(struct tg_str a, struct tg_target *out, struct tg_str *port_text)
{
    const char *end = a.p + a.len;

    if (a.len > 0 && a.p[0] == '[') {
        const char *close = memchr(a.p, ']', a.len);
        if (!close)
            return "invalid_host";
        out->host = (struct tg_str){a.p + 1, (size_t)(close - a.p - 1)};
        out->host_is_ipv6 = true;
        if (close + 1 < end) {
            if (close[1] != ':')
                return "invalid_host";
            *port_text = (struct tg_str){close + 2, (size_t)(end - close - 2)};
        }
        return is_ipv6(out->host) ? NULL : "invalid_host";
    }
    const char *colon = memchr(a.p, ':', a.len);
    out->host = (struct tg_str){a.p, colon ? (size_t)(colon - a.p) : a.len};
    if (colon)
        *port_text = (struct tg_str){colon + 1, (size_t)(end - colon - 1)};
    if (out->host.len == 0)
        return "empty_host";
    return is_reg_name(out->host) ? NULL : "invalid_host";
}

/*
 * authority without userinfo. An absent or empty port means default_port
 * (0: the port is required). Returns NULL or the reason it is invalid.
 */
static const char *parse_authority(struct tg_str a, uint16_t default_port, struct tg_target *out)
{
    struct tg_str port_text = {"", 0};
    const char *reason = split_host(a, out, &port_text);

    if (reason)
        return reason;
    if (port_text.len == 0) {
        out->port = default_port;
        return default_port ? NULL : "invalid_port";
    }
    return parse_port(port_text, &out->port) ? NULL : "invalid_port";
}

/* scheme (RFC 3986 §3.1): ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool is_scheme_char(char c, bool first)
{
    return is_alpha(c) || (!first && (is_digit(c) || in_set(c, "+-.")));
}

/* "http:" hier-part: the scheme (any case) and "//"; 0 when not http. */
static int parse_scheme(struct tg_str t, size_t *after, struct tg_http_error *err)
{
    size_t i = 0;

    while (i < t.len && is_scheme_char(t.p[i], i == 0))
        i++;
    if (i == 0 || t.len - i < 3 || memcmp(t.p + i, "://", 3) != 0)
        return fail(err, "bad_target");
    if (!tg_str_eq_nocase((struct tg_str){t.p, i}, "http"))
        return fail(err, "unsupported_scheme");
    *after = i + 3;
    return 0;
}

/* path-abempty [ "?" query ], fragment dropped; visible ASCII only. */
static int set_path(struct tg_str rest, struct tg_target *out, struct tg_http_error *err)
{
    const char *hash = memchr(rest.p, '#', rest.len);

    if (hash)
        rest.len = (size_t)(hash - rest.p);
    for (size_t i = 0; i < rest.len; i++) {
        unsigned char c = (unsigned char)rest.p[i];
        if (c <= 0x20 || c >= 0x7f)
            return fail(err, "bad_target");
    }
    out->path = rest.len > 0 ? rest : tg_str_c(slash);
    return 0;
}

static int parse_absolute(struct tg_str t, struct tg_target *out, struct tg_http_error *err)
{
    size_t start = 0;

    if (parse_scheme(t, &start, err) < 0)
        return -1;
    size_t end = start;
    while (end < t.len && t.p[end] != '/' && t.p[end] != '?' && t.p[end] != '#')
        end++;
    struct tg_str authority = {t.p + start, end - start};
    if (memchr(authority.p, '@', authority.len))
        return fail(err, "userinfo_in_target");
    const char *reason = parse_authority(authority, 80, out);
    if (reason)
        return fail(err, reason);
    out->form = TG_TARGET_ABSOLUTE;
    return set_path((struct tg_str){t.p + end, t.len - end}, out, err);
}

int tg_target_parse(struct tg_str target, bool connect, struct tg_target *out,
                    struct tg_http_error *err)
{
    out->form = TG_TARGET_ORIGIN;
    out->host = (struct tg_str){"", 0};
    out->host_is_ipv6 = false;
    out->port = 0;
    out->path = (struct tg_str){"", 0};

    if (connect) {
        /* RFC 9112 §3.2.3: CONNECT takes host:port and nothing else. */
        if (parse_authority(target, 0, out) != NULL)
            return fail(err, "bad_connect_target");
        out->form = TG_TARGET_AUTHORITY;
        return 0;
    }
    if (target.len == 1 && target.p[0] == '*') {
        out->form = TG_TARGET_ASTERISK;
        return 0;
    }
    if (target.len > 0 && target.p[0] == '/') {
        out->path = target;
        return 0;
    }
    return parse_absolute(target, out, err);
}
