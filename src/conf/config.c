/*
 * config: the directive table and the three things it drives - the
 * command-line parser, the config-file parser and --help (plus the
 * Markdown table in docs/directives.md). Each directive is one row below:
 * its name, how its value is parsed and stored, its default as text, and
 * one line of help. Defaults are parsed by the same code as user input, so
 * a default can never be a value the user could not write.
 *
 * This file only turns text into a struct tg_config. It does not open the
 * files it names (htpasswd, logs), bind the listen addresses, or know what
 * an authentication scheme does; those checks happen where the value is
 * used, and their errors name the directive there.
 */
#include "conf/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/cidr.h"
#include "policy/acl.h"

/* How a directive's value is parsed, and the type of the field it fills. */
enum kind {
    KIND_PATH = 0, /* char *: any non-empty text */
    KIND_LOG,      /* char *: FILE, "-" (stderr) or "off" (NULL) */
    KIND_REALM,    /* char *: text that is safe inside a quoted header value */
    KIND_LISTEN,   /* listen[]: ADDR:PORT or [V6]:PORT, appended */
    KIND_SCHEMES,  /* auth[]: comma list of known scheme names, or "auto" */
    KIND_LIST,     /* struct tg_config_list: free text, appended; optional validate */
    KIND_RATE,     /* rate_max_failures + rate_window_ms: "N/SECONDS" */
    KIND_PENALTY,  /* rate_penalty_ms [+ rate_penalty_max_ms]: "SECONDS[:MAX]" */
    KIND_ACCESS_DEFAULT, /* access_default_deny: "allow" or "deny" */
    KIND_PORTS,    /* connect_ports[]: comma list of PORT or LO-HI, or "none" */
    KIND_INT,      /* int: decimal integer in min..max */
    KIND_COUNT,    /* size_t: decimal integer in min..max */
    KIND_BYTES,    /* size_t: integer with optional k/m suffix, in min..max */
    KIND_SECONDS,  /* uint64_t milliseconds: seconds with up to 3 decimals */
    KIND_BOOL,     /* bool: no value on the command line */
    KIND_CONFIG,   /* char *: the config file itself, loaded before other flags */
    KIND_HELP,     /* prints --help; stores nothing */
    KIND_VERSION,  /* prints the version; stores nothing */
};

enum {
    FLAG_REPEATABLE = 1 << 0, /* each occurrence appends (see enum tg_config_origin) */
    FLAG_ARGS_ONLY = 1 << 1,  /* command line only; an error inside a config file */
    FLAG_CPUS = 1 << 2,       /* "auto" means one per online CPU, clamped to max */
    FLAG_TLS = 1 << 3,        /* KIND_LISTEN: the addresses speak TLS */
};

struct directive {
    const char *name;          /* "--name" on the command line, "name" in a file */
    enum kind kind;
    size_t offset;             /* offsetof(struct tg_config, field) */
    const char *default_value; /* parsed like user input; NULL: none */
    const char *metavar;       /* NULL for kinds that take no value */
    const char *help;          /* one line, lower case, no final period */
    unsigned flags;
    unsigned long long min, max; /* numeric kinds, in the stored unit (seconds: ms) */
    /* KIND_LIST: checks one value (0, or -1 with why); NULL accepts any text. */
    int (*validate)(const char *v, char *why, size_t whylen);
    const char *valuedoc; /* KIND_LIST: the Value column of the docs */
};

static int check_cidr(const char *v, char *why, size_t whylen);
static int check_access_rule(const char *v, char *why, size_t whylen);

#define FIELD(f) offsetof(struct tg_config, f)
#define SECONDS_MAX_MS 86400000ull /* a day: longer is a typo, not a timeout */
#define REALM_MAX 128

/* Every directive, in --help order. Limits carry a line of why in their help. */
static const struct directive directives[] = {
    {.name = "config", .kind = KIND_CONFIG, .offset = FIELD(config_file), .metavar = "FILE",
     .flags = FLAG_ARGS_ONLY,
     .help = "read directives from FILE first; flags given here override it"},
    {.name = "listen", .kind = KIND_LISTEN, .offset = FIELD(listen),
     .default_value = "127.0.0.1:3128", .metavar = "ADDR:PORT", .flags = FLAG_REPEATABLE,
     .help = "accept clients on ADDR:PORT or [V6ADDR]:PORT (port 0: any free); repeatable"},
    {.name = "tls-listen", .kind = KIND_LISTEN, .offset = FIELD(listen), .metavar = "ADDR:PORT",
     .flags = FLAG_REPEATABLE | FLAG_TLS,
     .help = "accept clients over TLS (an HTTPS proxy) on ADDR:PORT; needs tls-cert and tls-key"},
    {.name = "tls-cert", .kind = KIND_PATH, .offset = FIELD(tls_cert), .metavar = "FILE",
     .help = "PEM certificate chain of the TLS listeners; reloaded on SIGHUP"},
    {.name = "tls-key", .kind = KIND_PATH, .offset = FIELD(tls_key), .metavar = "FILE",
     .help = "PEM private key of the TLS listeners; reloaded on SIGHUP"},
    {.name = "tls-handshake-timeout", .kind = KIND_SECONDS,
     .offset = FIELD(tls_handshake_timeout_ms), .default_value = "10", .metavar = "SECONDS",
     .min = 1, .max = SECONDS_MAX_MS, .help = "time a client has to complete the TLS handshake"},
    {.name = "basic-on-plaintext", .kind = KIND_BOOL, .offset = FIELD(basic_on_plaintext),
     .default_value = "off",
     .help = "offer Basic on plaintext listeners even when a TLS listener exists"},
    {.name = "htpasswd", .kind = KIND_PATH, .offset = FIELD(htpasswd), .metavar = "FILE",
     .help = "user:hash credentials file (bcrypt, sha-crypt, apr1, {SHA}); reloaded on SIGHUP"},
    {.name = "users", .kind = KIND_PATH, .offset = FIELD(users), .metavar = "FILE",
     .help = "Tollgate users file (tollgate passwd): serves Basic and every Digest algorithm"},
    {.name = "htdigest", .kind = KIND_PATH, .offset = FIELD(htdigest), .metavar = "FILE",
     .help = "Apache htdigest file: serves MD5 Digest for the realm; reloaded on SIGHUP"},
    {.name = "tokens", .kind = KIND_PATH, .offset = FIELD(tokens), .metavar = "FILE",
     .help = "Bearer tokens: lines 'SHA256-HEX USER [EXPIRY] [revoked]' (tollgate token)"},
    {.name = "jwt-keys", .kind = KIND_PATH, .offset = FIELD(jwt_keys), .metavar = "FILE",
     .help = "JWKS document whose keys verify Bearer JWTs; reloaded on SIGHUP"},
    {.name = "jwt-issuer", .kind = KIND_PATH, .offset = FIELD(jwt_issuer), .metavar = "ISS",
     .help = "required iss claim of Bearer JWTs"},
    {.name = "jwt-audience", .kind = KIND_PATH, .offset = FIELD(jwt_audience), .metavar = "AUD",
     .help = "required aud claim of Bearer JWTs"},
    {.name = "jwt-user-claim", .kind = KIND_PATH, .offset = FIELD(jwt_user_claim),
     .default_value = "sub", .metavar = "CLAIM", .help = "JWT claim that names the user"},
    {.name = "jwt-clock-skew", .kind = KIND_SECONDS, .offset = FIELD(jwt_clock_skew_ms),
     .default_value = "60", .metavar = "SECONDS", .min = 0, .max = SECONDS_MAX_MS,
     .help = "clock difference tolerated when checking JWT exp and nbf"},
    {.name = "realm", .kind = KIND_REALM, .offset = FIELD(realm), .default_value = "tollgate",
     .metavar = "STRING", .help = "realm named in the login prompt (printable ASCII, no \" or \\)"},
    {.name = "auth", .kind = KIND_SCHEMES, .offset = FIELD(auth), .default_value = "auto",
     .metavar = "LIST",
     .help = "challenges offered, in order; auto: digest,basic as far as the user files serve them"},
    {.name = "auth-rule", .kind = KIND_LIST, .offset = FIELD(auth_rules),
     .metavar = "\"COND... LIST\"", .flags = FLAG_REPEATABLE,
     .valuedoc = "`user-agent=GLOB` and/or `client=CIDR`, then a scheme list",
     .help = "per-client offer: user-agent=GLOB and/or client=CIDR, then a scheme list; first "
             "match wins"},
    {.name = "no-default-auth-rules", .kind = KIND_BOOL, .offset = FIELD(no_default_auth_rules),
     .default_value = "off",
     .help = "drop the shipped rule that gives Python-urllib the MD5 Digest challenge first"},
    {.name = "nonce-ttl", .kind = KIND_SECONDS, .offset = FIELD(nonce_ttl_ms),
     .default_value = "300", .metavar = "SECONDS", .min = 1, .max = SECONDS_MAX_MS,
     .help = "Digest nonce lifetime; an older nonce gets stale=true and the client retries"},
    {.name = "nonce-secret-file", .kind = KIND_PATH, .offset = FIELD(nonce_secret_file),
     .metavar = "FILE",
     .help = "key sealing Digest nonces (>= 32 bytes); share it so instances accept each "
             "other's nonces"},
    {.name = "auth-int-max", .kind = KIND_BYTES, .offset = FIELD(auth_int_max),
     .default_value = "1m", .metavar = "BYTES", .min = 0, .max = 64 * 1024 * 1024,
     .help = "request body held in memory to check a Digest auth-int answer (413 past it)"},
    {.name = "access-log", .kind = KIND_LOG, .offset = FIELD(access_log), .default_value = "-",
     .metavar = "FILE|-|off", .help = "one line per request; - is stderr, off disables"},
    {.name = "auth-log", .kind = KIND_LOG, .offset = FIELD(auth_log), .default_value = "-",
     .metavar = "FILE|-|off", .help = "one JSON line per authentication attempt; - is stderr"},
    {.name = "threads", .kind = KIND_INT, .offset = FIELD(threads), .default_value = "auto",
     .metavar = "N", .flags = FLAG_CPUS, .min = 1, .max = 256,
     .help = "event-loop threads; auto is one per online CPU"},
    {.name = "hash-threads", .kind = KIND_INT, .offset = FIELD(hash_threads),
     .default_value = "auto", .metavar = "N", .flags = FLAG_CPUS, .min = 1, .max = 64,
     .help = "password-hashing threads, so slow hashes never block the event loop"},
    {.name = "connect-ports", .kind = KIND_PORTS, .offset = FIELD(connect_ports),
     .default_value = "443", .metavar = "LIST",
     .help = "ports CONNECT may reach: PORT or LO-HI, comma-separated, or none"},
    {.name = "no-auth", .kind = KIND_BOOL, .offset = FIELD(no_auth), .default_value = "off",
     .help = "run an open proxy with no authentication (not recommended)"},
    {.name = "access-rule", .kind = KIND_LIST, .offset = FIELD(access_rules),
     .metavar = "\"allow|deny COND...\"", .flags = FLAG_REPEATABLE,
     .validate = check_access_rule,
     .valuedoc = "`allow` or `deny`, then conditions `user=` `group=` `host=` `dest=` `port=` "
                 "`method=` `client=`",
     .help = "who may go where, after authentication; first match wins; repeatable"},
    {.name = "access-default", .kind = KIND_ACCESS_DEFAULT, .offset = FIELD(access_default_deny),
     .default_value = "allow", .metavar = "allow|deny",
     .help = "what happens to a request no access-rule matches"},
    {.name = "groups", .kind = KIND_PATH, .offset = FIELD(groups), .metavar = "FILE",
     .help = "Apache htgroup file (group: user user...) for access-rule group=; reloaded on SIGHUP"},
    {.name = "allow-destination", .kind = KIND_LIST, .offset = FIELD(allow_destination),
     .metavar = "CIDR", .flags = FLAG_REPEATABLE, .validate = check_cidr,
     .valuedoc = "address prefix, `10.0.0.0/8` or `fd00::/8`",
     .help = "let the SSRF guard pass these loopback/link-local/private-use destinations; "
             "repeatable"},
    {.name = "rate-limit", .kind = KIND_RATE, .offset = FIELD(rate_max_failures),
     .default_value = "5/60", .metavar = "N/SECONDS",
     .help = "more than N failed logins from one address within SECONDS: 429 for a while"},
    {.name = "rate-penalty", .kind = KIND_PENALTY, .offset = FIELD(rate_penalty_ms),
     .default_value = "60:3600", .metavar = "SECONDS[:MAX]",
     .help = "first 429 period; doubled on each repeat offence up to MAX"},
    {.name = "rate-ipv6-prefix", .kind = KIND_INT, .offset = FIELD(rate_ipv6_prefix),
     .default_value = "64", .metavar = "BITS", .min = 1, .max = 128,
     .help = "IPv6 clients are counted per prefix of this length (one host owns a /64)"},
    {.name = "rate-exempt", .kind = KIND_LIST, .offset = FIELD(rate_exempt), .metavar = "CIDR",
     .flags = FLAG_REPEATABLE, .validate = check_cidr,
     .valuedoc = "address prefix, `10.0.0.0/8` or `fd00::/8`",
     .help = "addresses never rate limited (monitoring, NAT gateways you trust); repeatable"},
    {.name = "max-connections-per-address", .kind = KIND_INT,
     .offset = FIELD(max_connections_per_address), .default_value = "256", .metavar = "N",
     .min = 0, .max = 1000000,
     .help = "open connections one client address may hold (503 past it); 0: no limit"},
    {.name = "preauth-max-header-size", .kind = KIND_BYTES, .offset = FIELD(preauth_max_header_size),
     .default_value = "12k", .metavar = "BYTES", .min = 1024, .max = 1024 * 1024,
     .help = "request head limit until a connection has authenticated (431 past it)"},
    {.name = "max-header-size", .kind = KIND_BYTES, .offset = FIELD(max_header_size),
     .default_value = "16k", .metavar = "BYTES", .min = 1024, .max = 1024 * 1024,
     .help = "largest request head a client may send (431 past it): bounds memory per client"},
    {.name = "max-headers", .kind = KIND_COUNT, .offset = FIELD(max_headers),
     .default_value = "100", .metavar = "N", .min = 1, .max = 128,
     .help = "most header fields in a request head (431 past it)"},
    {.name = "max-request-line", .kind = KIND_BYTES, .offset = FIELD(max_request_line),
     .default_value = "8k", .metavar = "BYTES", .min = 256, .max = 64 * 1024,
     .help = "longest request line (414 past it)"},
    {.name = "preauth-body-max", .kind = KIND_BYTES, .offset = FIELD(preauth_body_max),
     .default_value = "64k", .metavar = "BYTES", .min = 0, .max = 16 * 1024 * 1024,
     .help = "body an unauthenticated client may send, read and discarded; past it, close"},
    {.name = "max-connections", .kind = KIND_INT, .offset = FIELD(max_connections),
     .default_value = "10000", .metavar = "N", .min = 1, .max = 1000000,
     .help = "open client connections per process (503 past it): bounds file descriptors"},
    {.name = "header-timeout", .kind = KIND_SECONDS, .offset = FIELD(header_timeout_ms),
     .default_value = "10", .metavar = "SECONDS", .min = 1, .max = SECONDS_MAX_MS,
     .help = "time a client has to send a whole request head: stops slow-header attacks"},
    {.name = "idle-timeout", .kind = KIND_SECONDS, .offset = FIELD(idle_timeout_ms),
     .default_value = "60", .metavar = "SECONDS", .min = 1, .max = SECONDS_MAX_MS,
     .help = "time a kept-alive client connection may wait for its next request"},
    {.name = "connect-timeout", .kind = KIND_SECONDS, .offset = FIELD(connect_timeout_ms),
     .default_value = "10", .metavar = "SECONDS", .min = 1, .max = SECONDS_MAX_MS,
     .help = "time to connect to an upstream server (504 past it)"},
    {.name = "response-timeout", .kind = KIND_SECONDS, .offset = FIELD(response_timeout_ms),
     .default_value = "60", .metavar = "SECONDS", .min = 1, .max = SECONDS_MAX_MS,
     .help = "time to wait for an upstream response head, and between body reads"},
    {.name = "tunnel-idle-timeout", .kind = KIND_SECONDS,
     .offset = FIELD(tunnel_idle_timeout_ms), .default_value = "300", .metavar = "SECONDS",
     .min = 1, .max = SECONDS_MAX_MS, .help = "time a CONNECT tunnel may carry no data"},
    {.name = "shutdown-grace", .kind = KIND_SECONDS, .offset = FIELD(shutdown_grace_ms),
     .default_value = "10", .metavar = "SECONDS", .min = 1, .max = SECONDS_MAX_MS,
     .help = "time open requests get to finish after SIGTERM or SIGINT"},
    {.name = "cred-cache-ttl", .kind = KIND_SECONDS, .offset = FIELD(cred_cache_ttl_ms),
     .default_value = "300", .metavar = "SECONDS", .min = 0, .max = SECONDS_MAX_MS,
     .help = "how long a verified password is trusted without rehashing; 0 disables"},
    {.name = "cred-cache-size", .kind = KIND_COUNT, .offset = FIELD(cred_cache_size),
     .default_value = "4096", .metavar = "N", .min = 0, .max = 1000000,
     .help = "verified credentials cached per thread; 0 disables"},
    {.name = "upstream-pool-size", .kind = KIND_COUNT, .offset = FIELD(upstream_pool_size),
     .default_value = "64", .metavar = "N", .min = 0, .max = 10000,
     .help = "idle upstream connections kept per thread for reuse; 0 disables"},
    {.name = "upstream-idle-timeout", .kind = KIND_SECONDS,
     .offset = FIELD(upstream_idle_timeout_ms), .default_value = "30", .metavar = "SECONDS",
     .min = 1, .max = SECONDS_MAX_MS, .help = "time an idle pooled upstream connection is kept"},
    {.name = "help", .kind = KIND_HELP, .flags = FLAG_ARGS_ONLY, .help = "print this help"},
    {.name = "version", .kind = KIND_VERSION, .flags = FLAG_ARGS_ONLY,
     .help = "print the version"},
};

#define NDIRECTIVES (sizeof directives / sizeof directives[0])

/* Schemes the auth layer implements; a new scheme is one more name here. */
static const char *const known_schemes[] = {"basic",      "digest",           "digest-sha256",
                                            "digest-md5", "digest-sha512-256", "bearer"};

#define NKNOWN_SCHEMES (sizeof known_schemes / sizeof known_schemes[0])
_Static_assert(NKNOWN_SCHEMES <= TG_CONFIG_MAX_SCHEMES, "auth[] cannot hold every scheme");

/* Where a value came from, for error messages and for list replacement. */
struct origin {
    enum tg_config_origin src;
    const char *file; /* borrowed; FILE only */
    size_t line;      /* FILE only, 1-based */
};

/* ---- small parsers: they take a whole string and say yes or no ---- */

static bool is_blank(char ch)
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
    if (!parse_digits(s, ilen, &whole) || whole > SECONDS_MAX_MS)
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
    while (s < end && is_blank(*s))
        s++;
    while (end > s && is_blank(end[-1]))
        end--;
    *item = s;
    *len = (size_t)(end - s);
    return true;
}

/* ---- one setter per kind: 0, or -1 with the problem (no prefix) in why ---- */

static void *field(struct tg_config *c, const struct directive *d)
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

static int set_log(struct tg_config *c, const struct directive *d, const char *v, char *why,
                   size_t whylen)
{
    /* A file literally named "off" can still be written as ./off. */
    return replace_string(field(c, d), strcmp(v, "off") == 0 ? NULL : v, why, whylen);
}

/* The realm goes into realm="..." (RFC 9110 §11.6.1), so it must need no escaping. */
static int set_realm(struct tg_config *c, const struct directive *d, const char *v, char *why,
                     size_t whylen)
{
    size_t len = strlen(v);
    if (len > REALM_MAX) {
        snprintf(why, whylen, "longer than %d bytes", REALM_MAX);
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
 * source than the current list. Duplicates are refused: with SO_REUSEPORT
 * a second bind of the same address would succeed silently.
 */
/* listen and tls-listen share one list: giving either replaces the default plaintext address. */
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

static void format_known_schemes(char *buf, size_t len)
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

/* Parses the whole list before touching c, so a bad list leaves the old one. */
static int set_schemes(struct tg_config *c, const char *v, char *why, size_t whylen)
{
    if (strcmp(v, "auto") == 0) {
        clear_schemes(c);
        return 0;
    }
    int idx[NKNOWN_SCHEMES];
    size_t n = 0, len;
    const char *rest = v, *item;
    char known[128];
    while (next_item(&rest, &item, &len)) {
        int k = find_scheme(item, len);
        format_known_schemes(known, sizeof known);
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
    clear_schemes(c);
    for (size_t i = 0; i < n; i++) {
        if (replace_string(&c->auth[i], known_schemes[idx[i]], why, whylen) < 0)
            return -1;
        c->nauth = i + 1;
    }
    return 0;
}

static int check_cidr(const char *v, char *why, size_t whylen)
{
    struct tg_cidr p;
    if (tg_cidr_parse(v, &p) == 0)
        return 0;
    snprintf(why, whylen, "expected an address prefix like 10.0.0.0/8 or fd00::/8, got '%.80s'", v);
    return -1;
}

/* The acl module owns the syntax; a scratch acl checks it so errors get a file and line. */
static int check_access_rule(const char *v, char *why, size_t whylen)
{
    struct tg_acl *acl = tg_acl_new();
    if (!acl) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    int rc = tg_acl_add_rule(acl, v, why, whylen);
    tg_acl_free(acl);
    return rc;
}

/* Appends to a list directive after the directive's own check. */
static int add_list(struct tg_config *c, const struct directive *d, const char *v, char *why,
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
        !parse_seconds(slash + 1, &ms) || ms < 1000 || ms > SECONDS_MAX_MS) {
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
        ok = parse_seconds(first, &ms) && ms >= 1000 && ms <= SECONDS_MAX_MS;
    }
    max = ok ? ms : 0;
    if (ok && colon)
        ok = parse_seconds(colon + 1, &max) && max >= ms && max <= SECONDS_MAX_MS;
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

/* KIND_INT and KIND_COUNT: the same text, stored as int or size_t. */
static int set_integer(struct tg_config *c, const struct directive *d, const char *v, char *why,
                       size_t whylen)
{
    unsigned long long n;
    if ((d->flags & FLAG_CPUS) && strcmp(v, "auto") == 0) {
        n = (unsigned long long)online_cpus();
        n = n > d->max ? d->max : n;
    } else if (!parse_digits(v, strlen(v), &n) || n < d->min || n > d->max) {
        snprintf(why, whylen, "expected an integer %llu..%llu, got '%.80s'", d->min, d->max, v);
        return -1;
    }
    if (d->kind == KIND_INT)
        *(int *)field(c, d) = (int)n;
    else
        *(size_t *)field(c, d) = (size_t)n;
    return 0;
}

static int set_bytes(struct tg_config *c, const struct directive *d, const char *v, char *why,
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
static void format_seconds(unsigned long long ms, char *buf, size_t len)
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

static int set_seconds(struct tg_config *c, const struct directive *d, const char *v, char *why,
                       size_t whylen)
{
    unsigned long long ms;
    char lo[32], hi[32];
    if (!parse_seconds(v, &ms) || ms < d->min || ms > d->max) {
        format_seconds(d->min, lo, sizeof lo);
        format_seconds(d->max, hi, sizeof hi);
        snprintf(why, whylen, "expected seconds %s..%s (up to 3 decimals), got '%.80s'", lo, hi, v);
        return -1;
    }
    *(uint64_t *)field(c, d) = ms;
    return 0;
}

/* No value (a bare flag or a bare file line) means yes. */
static int set_bool(struct tg_config *c, const struct directive *d, const char *v, char *why,
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

static int set(struct tg_config *c, const struct directive *d, const char *v,
               enum tg_config_origin src, char *why, size_t whylen)
{
    switch (d->kind) {
    case KIND_PATH:
    case KIND_CONFIG:
        return replace_string(field(c, d), v, why, whylen);
    case KIND_LOG:
        return set_log(c, d, v, why, whylen);
    case KIND_REALM:
        return set_realm(c, d, v, why, whylen);
    case KIND_LISTEN:
        return set_listen(c, v, src, (d->flags & FLAG_TLS) != 0, why, whylen);
    case KIND_SCHEMES:
        return set_schemes(c, v, why, whylen);
    case KIND_LIST:
        return add_list(c, d, v, why, whylen);
    case KIND_RATE:
        return set_rate(c, v, why, whylen);
    case KIND_PENALTY:
        return set_penalty(c, v, why, whylen);
    case KIND_ACCESS_DEFAULT:
        return set_access_default(c, v, why, whylen);
    case KIND_PORTS:
        return set_ports(c, v, why, whylen);
    case KIND_INT:
    case KIND_COUNT:
        return set_integer(c, d, v, why, whylen);
    case KIND_BYTES:
        return set_bytes(c, d, v, why, whylen);
    case KIND_SECONDS:
        return set_seconds(c, d, v, why, whylen);
    case KIND_BOOL:
        return set_bool(c, d, v, why, whylen);
    case KIND_HELP:
    case KIND_VERSION:
        break;
    }
    return 0;
}

/* ---- errors, lookup, apply ---- */

/* Writes "FILE:LINE: name: why", "--name: why" or, without a name, the bare location + why. */
static int fail(const struct origin *o, const char *name, const char *why, char *err,
                size_t errlen)
{
    if (o->src == TG_CONFIG_ORIGIN_FILE && name)
        snprintf(err, errlen, "%s:%zu: %s: %s", o->file, o->line, name, why);
    else if (o->src == TG_CONFIG_ORIGIN_FILE)
        snprintf(err, errlen, "%s:%zu: %s", o->file, o->line, why);
    else if (name)
        snprintf(err, errlen, "--%s: %s", name, why);
    else
        snprintf(err, errlen, "%s", why);
    return -1;
}

static const struct directive *find(const char *name, size_t len)
{
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (strlen(directives[i].name) == len && memcmp(directives[i].name, name, len) == 0)
            return &directives[i];
    }
    return NULL;
}

static bool takes_value(const struct directive *d)
{
    return d->kind != KIND_BOOL && d->kind != KIND_HELP && d->kind != KIND_VERSION;
}

static int apply(struct tg_config *c, const struct directive *d, const char *v,
                 const struct origin *o, char *err, size_t errlen)
{
    char why[256];
    if (set(c, d, v, o->src, why, sizeof why) < 0)
        return fail(o, d->name, why, err, errlen);
    return 0;
}

/* ---- config file ---- */

/* Cuts a comment: '#' at the start or after a blank, so "a#b" stays a value. */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || is_blank(p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

/* One line: "name", "name VALUE", blank or comment. line is modified. */
static int parse_line(struct tg_config *c, char *line, const struct origin *o, char *err,
                      size_t errlen)
{
    char *end, *name = line, *value;
    strip_comment(line);
    for (end = line + strlen(line); end > line && is_blank(end[-1]); end--)
        end[-1] = '\0';
    while (is_blank(*name))
        name++;
    if (*name == '\0')
        return 0;
    for (value = name; *value && !is_blank(*value); value++)
        ;
    const struct directive *d = find(name, (size_t)(value - name));
    while (is_blank(*value))
        *value++ = '\0';
    char why[128];
    if (!d) {
        snprintf(why, sizeof why, "unknown directive '%.80s'", name);
        return fail(o, NULL, why, err, errlen);
    }
    if (d->flags & FLAG_ARGS_ONLY)
        return fail(o, d->name, "not allowed inside a config file", err, errlen);
    if (takes_value(d) && *value == '\0')
        return fail(o, d->name, "missing value", err, errlen);
    return apply(c, d, *value ? value : NULL, o, err, errlen);
}

int tg_config_load_file(struct tg_config *c, const char *path, char *err, size_t errlen)
{
    struct origin o = {TG_CONFIG_ORIGIN_FILE, path, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        o.line++;
        if (memchr(line, '\0', (size_t)n))
            rc = fail(&o, NULL, "NUL byte in line", err, errlen);
        else
            rc = parse_line(c, line, &o, err, errlen);
    }
    /* fopen succeeds on a directory; the read then fails with EISDIR. */
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- command line ---- */

/*
 * Reads the option at argv[*i] into its directive and value (NULL when it
 * takes none), advancing *i past both. "--name VALUE" and "--name=VALUE".
 */
static int next_flag(int argc, char **argv, int *i, const struct directive **d,
                     const char **value, char *err, size_t errlen)
{
    const char *arg = argv[(*i)++], *name = arg + 2, *eq;
    if (strncmp(arg, "--", 2) != 0 || *name == '\0') {
        snprintf(err, errlen, "unexpected argument '%.80s' (options start with --; see --help)", arg);
        return -1;
    }
    eq = strchr(name, '=');
    *d = find(name, eq ? (size_t)(eq - name) : strlen(name));
    if (!*d) {
        snprintf(err, errlen, "unknown option '--%.*s' (see --help)",
                 (int)(eq ? eq - name : (ptrdiff_t)strlen(name)), name);
        return -1;
    }
    *value = NULL;
    if (!takes_value(*d)) {
        if (eq)
            snprintf(err, errlen, "--%s: takes no value", (*d)->name);
        return eq ? -1 : 0;
    }
    if (eq)
        *value = eq + 1;
    else if (*i < argc)
        *value = argv[(*i)++];
    if (!*value || **value == '\0') {
        snprintf(err, errlen, "--%s: missing value", (*d)->name);
        return -1;
    }
    return 0;
}

/*
 * First pass: checks every argument, handles --help and --version, and
 * finds --config, whose file must load before the other flags override it.
 */
static int scan_args(int argc, char **argv, FILE *out, const char **config, char *err,
                     size_t errlen)
{
    const struct directive *d;
    const char *v;
    *config = NULL;
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &d, &v, err, errlen) < 0)
            return -1;
        if (d->kind == KIND_HELP) {
            tg_config_print_help(out);
            return 1;
        }
        if (d->kind == KIND_VERSION) {
            fprintf(out, "tollgate %s\n", TG_VERSION);
            return 1;
        }
        if (d->kind == KIND_CONFIG && *config) {
            snprintf(err, errlen, "--config: given more than once");
            return -1;
        }
        if (d->kind == KIND_CONFIG)
            *config = v;
    }
    return 0;
}

int tg_config_parse_args(struct tg_config *c, int argc, char **argv, FILE *out, char *err,
                         size_t errlen)
{
    struct origin o = {TG_CONFIG_ORIGIN_ARGS, NULL, 0};
    const struct directive *d;
    const char *v;
    int rc = scan_args(argc, argv, out, &v, err, errlen);
    if (rc != 0)
        return rc;
    if (v && (apply(c, find("config", 6), v, &o, err, errlen) < 0 ||
              tg_config_load_file(c, v, err, errlen) < 0))
        return -1;
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &d, &v, err, errlen) < 0)
            return -1;
        if (d->kind != KIND_CONFIG && apply(c, d, v, &o, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---- help and documentation ---- */

/* "--name METAVAR" as --help shows it. */
static int flag_text(const struct directive *d, char *buf, size_t len)
{
    return snprintf(buf, len, "--%s%s%s", d->name, d->metavar ? " " : "",
                    d->metavar ? d->metavar : "");
}

void tg_config_print_help(FILE *out)
{
    char buf[64];
    int width = 0;
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        int n = flag_text(&directives[i], buf, sizeof buf);
        width = n > width ? n : width;
    }
    fprintf(out, "usage: tollgate [--config FILE] [--OPTION VALUE]...\n"
                 "An authenticating HTTP/1.1 forward proxy. Every option except config, help and\n"
                 "version can also be a config-file line \"name VALUE\"; flags override the file.\n\n");
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        flag_text(d, buf, sizeof buf);
        fprintf(out, "  %-*s  %s", width, buf, d->help);
        if (d->default_value)
            fprintf(out, " (default: %s)", d->default_value);
        fputc('\n', out);
    }
}

/*
 * A Markdown table cell: '|' would end the cell and a backslash would
 * escape the character after it, so both are written escaped.
 */
static void put_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* The "Value" column: what a directive accepts, ranges included. */
static void print_value_doc(FILE *out, const struct directive *d)
{
    char lo[32], hi[32];
    switch (d->kind) {
    case KIND_PATH:
    case KIND_CONFIG:
        fprintf(out, "path");
        break;
    case KIND_LOG:
        fprintf(out, "path, `-` (stderr) or `off`");
        break;
    case KIND_REALM:
        fprintf(out, "text, at most %d printable ASCII bytes, no `\"` or `\\`", REALM_MAX);
        break;
    case KIND_LISTEN:
        fprintf(out, "`ADDR:PORT` or `[V6ADDR]:PORT`, port 0..65535");
        break;
    case KIND_SCHEMES: {
        char known[128];
        format_known_schemes(known, sizeof known);
        fprintf(out, "`auto`, or a comma list of: %s", known);
        break;
    }
    case KIND_LIST:
        fprintf(out, "%s", d->valuedoc ? d->valuedoc : "text");
        break;
    case KIND_RATE:
        fprintf(out, "`N/SECONDS`, N 1..100, SECONDS 1..86400");
        break;
    case KIND_PENALTY:
        fprintf(out, "`SECONDS` or `SECONDS:MAX`, 1..86400, MAX >= SECONDS");
        break;
    case KIND_ACCESS_DEFAULT:
        fprintf(out, "`allow` or `deny`");
        break;
    case KIND_PORTS:
        fprintf(out, "comma list of `PORT` or `LO-HI` (1..65535), or `none`");
        break;
    case KIND_INT:
    case KIND_COUNT:
        fprintf(out, "integer %llu..%llu%s", d->min, d->max,
                (d->flags & FLAG_CPUS) ? " or `auto`" : "");
        break;
    case KIND_BYTES:
        fprintf(out, "bytes %llu..%llu, suffix `k` or `m` allowed", d->min, d->max);
        break;
    case KIND_SECONDS:
        format_seconds(d->min, lo, sizeof lo);
        format_seconds(d->max, hi, sizeof hi);
        fprintf(out, "seconds %s..%s, up to 3 decimals", lo, hi);
        break;
    case KIND_BOOL:
        fprintf(out, "none on the command line; in a file optional `yes`/`no`");
        break;
    case KIND_HELP:
    case KIND_VERSION:
        fprintf(out, "none");
        break;
    }
}

void tg_config_print_markdown(FILE *out)
{
    fprintf(out, "| Directive | Value | Default | Meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        fprintf(out, "| `%s` | ", d->name);
        print_value_doc(out, d);
        if (d->flags & FLAG_REPEATABLE)
            fprintf(out, "; repeatable");
        if (d->flags & FLAG_ARGS_ONLY)
            fprintf(out, "; command line only");
        fprintf(out, " | ");
        if (d->default_value)
            fprintf(out, "`%s`", d->default_value);
        else
            fprintf(out, "none");
        fprintf(out, " | ");
        put_cell(out, d->help);
        fprintf(out, " |\n");
    }
}

size_t tg_config_directive_count(void)
{
    return NDIRECTIVES;
}

const char *tg_config_directive_name(size_t i)
{
    return i < NDIRECTIVES ? directives[i].name : NULL;
}

/* ---- the rest of the interface ---- */

/*
 * A default that fails to parse is a bug that test_config catches; at run
 * time the only possible failure is strdup running out of memory.
 */
int tg_config_defaults(struct tg_config *c)
{
    struct origin o = {TG_CONFIG_ORIGIN_DEFAULT, NULL, 0};
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->default_value && apply(c, d, d->default_value, &o, err, sizeof err) < 0) {
            tg_config_fini(c);
            memset(c, 0, sizeof *c);
            return -ENOMEM;
        }
    }
    return 0;
}

int tg_config_validate(const struct tg_config *c, char *err, size_t errlen)
{
    bool creds = c->htpasswd || c->users || c->htdigest || c->tokens || c->jwt_keys;
    bool tls = false;
    for (size_t i = 0; i < c->nlisten; i++)
        tls = tls || c->listen[i].tls;
    if (tls && (!c->tls_cert || !c->tls_key)) {
        snprintf(err, errlen, "--tls-listen needs --tls-cert and --tls-key");
        return -1;
    }
    if (c->no_auth && creds) {
        snprintf(err, errlen, "--no-auth and a credentials file (--htpasswd, --users, "
                              "--htdigest) are mutually exclusive");
        return -1;
    }
    if (!c->no_auth && !creds) {
        snprintf(err, errlen, "no credentials configured: give --htpasswd FILE (or --users, "
                              "--htdigest), or --no-auth to run an open proxy (not recommended)");
        return -1;
    }
    return 0;
}

bool tg_config_connect_port_ok(const struct tg_config *c, uint16_t port)
{
    for (size_t i = 0; i < c->nconnect_ports; i++) {
        if (port >= c->connect_ports[i].lo && port <= c->connect_ports[i].hi)
            return true;
    }
    return false;
}

void tg_config_fini(struct tg_config *c)
{
    if (!c)
        return;
    char **owned[] = {&c->config_file, &c->htpasswd, &c->users,    &c->htdigest,
                      &c->realm,       &c->access_log, &c->auth_log, &c->nonce_secret_file,
                      &c->groups,      &c->tokens,     &c->jwt_keys, &c->jwt_issuer,
                      &c->jwt_audience, &c->jwt_user_claim, &c->tls_cert, &c->tls_key};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        free(*owned[i]);
        *owned[i] = NULL;
    }
    for (size_t i = 0; i < c->nauth; i++) {
        free(c->auth[i]);
        c->auth[i] = NULL;
    }
    c->nauth = 0;
    struct tg_config_list *lists[] = {&c->auth_rules, &c->access_rules, &c->allow_destination,
                                      &c->rate_exempt};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        for (size_t i = 0; i < lists[k]->n; i++) {
            free(lists[k]->item[i]);
            lists[k]->item[i] = NULL;
        }
        lists[k]->n = 0;
    }
}
