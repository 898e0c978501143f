/*
 * target: request-target forms a forward proxy accepts (RFC 9112 §3.2):
 * absolute-form for ordinary requests and authority-form for CONNECT.
 * Origin-form is recognised so the caller can answer it with a friendly 400.
 */
#ifndef TG_TARGET_H
#define TG_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/str.h"
#include "http/error.h"

enum tg_target_form {
    TG_TARGET_ORIGIN = 0,    /* "/path" */
    TG_TARGET_ABSOLUTE = 1,  /* "http://host[:port]/path?query" */
    TG_TARGET_AUTHORITY = 2, /* "host:port" (CONNECT) */
    TG_TARGET_ASTERISK = 3,  /* "*" */
};

struct tg_target {
    enum tg_target_form form;
    struct tg_str host; /* borrowed; IPv6 literal without brackets */
    bool host_is_ipv6;  /* host was a bracketed literal */
    uint16_t port;      /* explicit port or 80 for http */
    /* borrowed (or a static "/"): path + query for absolute-form, the
     * whole target for origin-form, empty otherwise. Starts with '/'
     * except for "http://host?q", where it is "?q": the caller writes
     * "/" before it. A "#fragment" is dropped. */
    struct tg_str path;
};

/*
 * Parses a target. For absolute-form only the "http" scheme (any case) is
 * accepted (anything else is 400 "unsupported_scheme");
 * userinfo ("user@host") is rejected (400, "userinfo_in_target"); an empty
 * or invalid host or port is 400. For CONNECT (connect == true) only
 * authority-form with an explicit port is accepted.
 * Returns 0 or -1 with *err set.
 */
int tg_target_parse(struct tg_str target, bool connect, struct tg_target *out,
                    struct tg_http_error *err);

#endif
