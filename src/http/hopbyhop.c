/*
 * hopbyhop: decides which fields of a request or response head a proxy
 * passes on (RFC 9110 §7.6.1). It knows the fixed hop-by-hop names and
 * reads the Connection option lists; it does not edit heads or decide what
 * the proxy writes in their place.
 */
#include "http/hopbyhop.h"

static bool is(struct tg_str name, const char *lower)
{
    return tg_str_same_nocase(name.p, lower, name.len);
}

/*
 * Never forwarded: connection management (RFC 9110 §7.6.1, RFC 9112 §9),
 * the proxy's own authentication (RFC 9110 §11.7), and body framing,
 * which the proxy rewrites (RFC 9112 §6). Proxy-Connection is the
 * pre-standard spelling old clients still send to proxies.
 */
static bool is_fixed(struct tg_str name)
{
    /* Switched on the length: every field of every head comes here. */
    switch (name.len) {
    case 2:
        return is(name, "te");
    case 7:
        return is(name, "trailer") || is(name, "upgrade");
    case 10:
        return is(name, "connection") || is(name, "keep-alive");
    case 14:
        return is(name, "content-length");
    case 16:
        return is(name, "proxy-connection");
    case 17:
        return is(name, "transfer-encoding");
    case 18:
        return is(name, "proxy-authenticate");
    case 19:
        return is(name, "proxy-authorization");
    default:
        return false;
    }
}

/* Every field named by an option in this Connection value stops here. */
static void mark_listed(const struct tg_field *fields, size_t n, struct tg_str value, bool *forward)
{
    struct tg_str rest = value, option;

    while (tg_str_next_token(&rest, &option)) {
        for (size_t i = 0; i < n; i++) {
            if (fields[i].name.len == option.len &&
                tg_str_same_nocase(fields[i].name.p, option.p, option.len))
                forward[i] = false;
        }
    }
}

void tg_hopbyhop_mark(const struct tg_field *fields, size_t n, bool *forward)
{
    for (size_t i = 0; i < n; i++)
        forward[i] = !is_fixed(fields[i].name);
    for (size_t i = 0; i < n; i++) {
        if (tg_str_eq_nocase(fields[i].name, "connection"))
            mark_listed(fields, n, fields[i].value, forward);
    }
}
