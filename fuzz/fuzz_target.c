/*
 * fuzz_target: http/target on arbitrary request-targets, each parsed as an
 * ordinary request and as CONNECT. Properties:
 *   - the result is 0, or -1 with status 400 and one of the documented
 *     reasons (CONNECT has exactly one);
 *   - "*" is the asterisk form and "/..." the origin form with the whole
 *     target as its path;
 *   - absolute-form is only ever http (any case) and splits the way it is
 *     re-derived here: the authority runs to the first '/', '?' or '#',
 *     holds no '@', its host is a reg-name or a bracketed IPv6 literal that
 *     inet_pton accepts, and its port is the decimal written after ':' (80
 *     when absent or empty), 1-65535; the path is the rest up to '#',
 *     visible ASCII, or "/" when that is empty;
 *   - CONNECT gives host ':' port with the port always written;
 *   - writing a parsed target back out and parsing it again gives the same
 *     host, port and path.
 * The proxy only hands it targets that reqhead accepted (visible ASCII),
 * so the byte-by-byte host checks run on those; other inputs are checked
 * for memory safety and the result domain only.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const reasons[] = {
    "bad_target",   "unsupported_scheme", "userinfo_in_target",
    "invalid_host", "empty_host",         "invalid_port",
};

static bool inside(struct tg_str v, struct tg_str in)
{
    return v.p >= in.p && v.p <= in.p + in.len && v.len <= (size_t)(in.p + in.len - v.p);
}

static bool same_bytes(struct tg_str a, struct tg_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool is_visible(struct tg_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c <= 0x20 || c >= 0x7f)
            return false;
    }
    return true;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* RFC 3986 reg-name: unreserved / pct-encoded / sub-delims, non-empty. */
static bool is_reg_name(struct tg_str h)
{
    for (size_t i = 0; i < h.len; i++) {
        char c = h.p[i];
        bool alnum = (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
        if (c == '%' && i + 2 < h.len && is_hex(h.p[i + 1]) && is_hex(h.p[i + 2]))
            i += 2;
        else if (!alnum && (c == '\0' || !strchr("-._~!$&'()*+,;=", c)))
            return false;
    }
    return h.len > 0;
}

static bool is_ipv6(struct tg_str h)
{
    char copy[64];
    struct in6_addr addr;
    for (size_t i = 0; i < h.len; i++) {
        if (!is_hex(h.p[i]) && h.p[i] != ':' && h.p[i] != '.')
            return false;
    }
    if (h.len == 0 || h.len >= sizeof copy)
        return false;
    memcpy(copy, h.p, h.len);
    copy[h.len] = '\0';
    return inet_pton(AF_INET6, copy, &addr) == 1;
}

/* Checks host and port against the authority text; false if they differ. */
static bool authority_matches(struct tg_str a, const struct tg_target *t, uint16_t default_port)
{
    const char *p = a.p, *end = a.p + a.len;
    if (t->host_is_ipv6) {
        if (a.len == 0 || *p++ != '[' || t->host.p != p || !is_ipv6(t->host) ||
            (size_t)(end - p) <= t->host.len || p[t->host.len] != ']')
            return false;
        p += t->host.len + 1;
    } else {
        if (t->host.p != p || !is_reg_name(t->host))
            return false;
        p += t->host.len;
    }
    if (p == end || (p[0] == ':' && p + 1 == end && default_port))
        return t->port == default_port && default_port != 0;
    if (*p++ != ':' || end - p > 5)
        return false;
    unsigned v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (unsigned)(*p - '0');
    }
    return v == t->port && v != 0;
}

static void check_absolute(struct tg_str in, const struct tg_target *t)
{
    if (in.len < 7 || strncasecmp(in.p, "http://", 7) != 0)
        abort();
    size_t end = 7;
    while (end < in.len && !strchr("/?#", in.p[end]))
        end++;
    struct tg_str authority = {in.p + 7, end - 7};
    if (memchr(authority.p, '@', authority.len) || !authority_matches(authority, t, 80))
        abort();
    const char *hash = memchr(in.p + end, '#', in.len - end);
    size_t path_end = hash ? (size_t)(hash - in.p) : in.len;
    if (path_end == end) {
        if (t->path.len != 1 || t->path.p[0] != '/')
            abort();
    } else if (t->path.p != in.p + end || t->path.len != path_end - end) {
        abort();
    }
    if (!is_visible(t->path) || (t->path.p[0] != '/' && t->path.p[0] != '?'))
        abort();
}

/* Writes t back out as a target string; returns its length. */
static size_t unparse(const struct tg_target *t, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s%.*s%s:%u%.*s", t->form == TG_TARGET_ABSOLUTE ? "http://" : "",
                     t->host_is_ipv6 ? "[" : "", (int)t->host.len, t->host.p,
                     t->host_is_ipv6 ? "]" : "", t->port, (int)t->path.len, t->path.p);
    if (n < 0 || (size_t)n >= cap)
        abort();
    return (size_t)n;
}

static void check_reparse(const struct tg_target *t, bool connect)
{
    size_t cap = t->host.len + t->path.len + 32;
    char *text = malloc(cap);
    struct tg_str again = {text, unparse(t, text, cap)};
    struct tg_target u;
    struct tg_http_error err = {0, NULL};
    if (tg_target_parse(again, connect, &u, &err) != 0 || u.form != t->form ||
        !same_bytes(u.host, t->host) || u.host_is_ipv6 != t->host_is_ipv6 || u.port != t->port ||
        !same_bytes(u.path, t->path))
        abort();
    free(text);
}

static void check_ok(struct tg_str in, const struct tg_target *t, bool connect)
{
    bool strict = is_visible(in);
    bool has_host = t->form == TG_TARGET_ABSOLUTE || t->form == TG_TARGET_AUTHORITY;
    if (has_host && (!inside(t->host, in) || t->host.len == 0))
        abort();
    if (connect) {
        if (t->form != TG_TARGET_AUTHORITY || t->path.len != 0 || t->port == 0)
            abort();
        if (strict && !authority_matches(in, t, 0))
            abort();
    } else if (t->form == TG_TARGET_ASTERISK) {
        if (in.len != 1 || in.p[0] != '*' || t->host.len != 0 || t->path.len != 0)
            abort();
    } else if (t->form == TG_TARGET_ORIGIN) {
        if (in.len == 0 || in.p[0] != '/' || t->path.p != in.p || t->path.len != in.len)
            abort();
    } else if (t->form == TG_TARGET_ABSOLUTE) {
        if (strict)
            check_absolute(in, t);
    } else {
        abort();
    }
    if (strict && has_host)
        check_reparse(t, connect);
}

static void check_error(const struct tg_http_error *err, bool connect)
{
    if (err->status != 400 || !err->reason)
        abort();
    if (connect) {
        if (strcmp(err->reason, "bad_connect_target") != 0)
            abort();
        return;
    }
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        if (strcmp(err->reason, reasons[i]) == 0)
            return;
    }
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_str in = {(const char *)data, size};
    for (int connect = 0; connect <= 1; connect++) {
        struct tg_target t;
        struct tg_http_error err = {0, NULL};
        int r = tg_target_parse(in, connect, &t, &err);
        if (r == 0)
            check_ok(in, &t, connect);
        else if (r == -1)
            check_error(&err, connect);
        else
            abort();
    }
    return 0;
}
