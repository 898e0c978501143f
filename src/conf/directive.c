/*
 * directive: the table of every directive - name, kind of value, field,
 * default, help - and lookup by name. Adding a directive is one row here
 * (plus a setter in confvalue.c if it needs a new kind); the flag parser,
 * the file parser, the defaults and the docs pick it up from the table.
 *
 * This file only describes directives. It does not parse values
 * (confvalue.c), read files or argv (config.c) or print help (confdoc.c).
 * The two list validators live here because only table rows name them.
 */
#include "conf/directive.h"

#include <stdio.h>
#include <string.h>

#include "conf/config.h"
#include "net/cidr.h"
#include "policy/acl.h"

#define FIELD(f) offsetof(struct tg_config, f)

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

/* Every directive, in --help order. Limits carry a line of why in their help. */
static const struct tg_directive directives[] = {
    {.name = "config", .kind = TG_DIRECTIVE_CONFIG, .offset = FIELD(config_file), .metavar = "FILE",
     .flags = TG_DIRECTIVE_ARGS_ONLY,
     .help = "read directives from FILE first; flags given here override it"},
    {.name = "listen", .kind = TG_DIRECTIVE_LISTEN, .offset = FIELD(listen),
     .default_value = "127.0.0.1:3128", .metavar = "ADDR:PORT", .flags = TG_DIRECTIVE_REPEATABLE,
     .help = "accept clients on ADDR:PORT or [V6ADDR]:PORT (port 0: any free); repeatable"},
    {.name = "tls-listen", .kind = TG_DIRECTIVE_LISTEN, .offset = FIELD(listen),
     .metavar = "ADDR:PORT",
     .flags = TG_DIRECTIVE_REPEATABLE | TG_DIRECTIVE_TLS,
     .help = "accept clients over TLS (an HTTPS proxy) on ADDR:PORT; needs tls-cert and tls-key"},
    {.name = "tls-cert", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(tls_cert), .metavar = "FILE",
     .help = "PEM certificate chain of the TLS listeners; reloaded on SIGHUP"},
    {.name = "tls-key", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(tls_key), .metavar = "FILE",
     .help = "PEM private key of the TLS listeners; reloaded on SIGHUP"},
    {.name = "tls-handshake-timeout", .kind = TG_DIRECTIVE_SECONDS,
     .offset = FIELD(tls_handshake_timeout_ms), .default_value = "10", .metavar = "SECONDS",
     .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time a client has to complete the TLS handshake"},
    {.name = "basic-on-plaintext", .kind = TG_DIRECTIVE_BOOL, .offset = FIELD(basic_on_plaintext),
     .default_value = "off",
     .help = "offer Basic on plaintext listeners even when a TLS listener exists"},
    {.name = "htpasswd", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(htpasswd), .metavar = "FILE",
     .help = "user:hash credentials file (bcrypt, sha-crypt, apr1, {SHA}); reloaded on SIGHUP"},
    {.name = "users", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(users), .metavar = "FILE",
     .help = "Tollgate users file (tollgate passwd): serves Basic and every Digest algorithm"},
    {.name = "htdigest", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(htdigest), .metavar = "FILE",
     .help = "Apache htdigest file: serves MD5 Digest for the realm; reloaded on SIGHUP"},
    {.name = "tokens", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(tokens), .metavar = "FILE",
     .help = "Bearer tokens: lines 'SHA256-HEX USER [EXPIRY] [revoked]' (tollgate token)"},
    {.name = "jwt-keys", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(jwt_keys), .metavar = "FILE",
     .help = "JWKS document whose keys verify Bearer JWTs; reloaded on SIGHUP"},
    {.name = "jwt-issuer", .kind = TG_DIRECTIVE_TEXT, .offset = FIELD(jwt_issuer), .metavar = "ISS",
     .help = "required iss claim of Bearer JWTs"},
    {.name = "jwt-audience", .kind = TG_DIRECTIVE_TEXT, .offset = FIELD(jwt_audience),
     .metavar = "AUD",
     .help = "required aud claim of Bearer JWTs"},
    {.name = "jwt-user-claim", .kind = TG_DIRECTIVE_TEXT, .offset = FIELD(jwt_user_claim),
     .default_value = "sub", .metavar = "CLAIM", .help = "JWT claim that names the user"},
    {.name = "jwt-clock-skew", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(jwt_clock_skew_ms),
     .default_value = "60", .metavar = "SECONDS", .min = 0, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "clock difference tolerated when checking JWT exp and nbf"},
    {.name = "realm", .kind = TG_DIRECTIVE_REALM, .offset = FIELD(realm),
     .default_value = "tollgate", .metavar = "STRING",
     .help = "realm named in the login prompt (printable ASCII, no \" or \\)"},
    {.name = "auth", .kind = TG_DIRECTIVE_SCHEMES, .offset = FIELD(auth), .default_value = "auto",
     .metavar = "LIST",
     .help = "challenges offered, in order; auto: digest,basic as far as the user files serve them"},
    {.name = "auth-rule", .kind = TG_DIRECTIVE_LIST, .offset = FIELD(auth_rules),
     .metavar = "\"COND... LIST\"", .flags = TG_DIRECTIVE_REPEATABLE,
     .valuedoc = "`user-agent=GLOB` and/or `client=CIDR`, then a scheme list",
     .help = "per-client offer: user-agent=GLOB and/or client=CIDR, then a scheme list; first "
             "match wins"},
    {.name = "no-default-auth-rules", .kind = TG_DIRECTIVE_BOOL,
     .offset = FIELD(no_default_auth_rules),
     .default_value = "off",
     .help = "drop the shipped rule that gives Python-urllib the MD5 Digest challenge first"},
    {.name = "nonce-ttl", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(nonce_ttl_ms),
     .default_value = "300", .metavar = "SECONDS", .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "Digest nonce lifetime; an older nonce gets stale=true and the client retries"},
    {.name = "nonce-secret-file", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(nonce_secret_file),
     .metavar = "FILE",
     .help = "key sealing Digest nonces (>= 32 bytes); share it so instances accept each "
             "other's nonces"},
    {.name = "auth-int-max", .kind = TG_DIRECTIVE_BYTES, .offset = FIELD(auth_int_max),
     .default_value = "1m", .metavar = "BYTES", .min = 0, .max = 64 * 1024 * 1024,
     .help = "request body held in memory to check a Digest auth-int answer (413 past it)"},
    {.name = "access-log", .kind = TG_DIRECTIVE_LOG, .offset = FIELD(access_log),
     .default_value = "-",
     .metavar = "FILE|-|off", .help = "one line per request; - is stderr, off disables"},
    {.name = "auth-log", .kind = TG_DIRECTIVE_LOG, .offset = FIELD(auth_log), .default_value = "-",
     .metavar = "FILE|-|off", .help = "one JSON line per authentication attempt; - is stderr"},
    {.name = "threads", .kind = TG_DIRECTIVE_INT, .offset = FIELD(threads), .default_value = "auto",
     .metavar = "N", .flags = TG_DIRECTIVE_CPUS, .min = 1, .max = 256,
     .help = "event-loop threads; auto is one per online CPU"},
    {.name = "hash-threads", .kind = TG_DIRECTIVE_INT, .offset = FIELD(hash_threads),
     .default_value = "auto", .metavar = "N", .flags = TG_DIRECTIVE_CPUS, .min = 1, .max = 64,
     .help = "password-hashing threads, so slow hashes never block the event loop"},
    {.name = "connect-ports", .kind = TG_DIRECTIVE_PORTS, .offset = FIELD(connect_ports),
     .default_value = "443", .metavar = "LIST",
     .help = "ports CONNECT may reach: PORT or LO-HI, comma-separated, or none"},
    {.name = "no-auth", .kind = TG_DIRECTIVE_BOOL, .offset = FIELD(no_auth), .default_value = "off",
     .help = "run an open proxy with no authentication (not recommended)"},
    {.name = "access-rule", .kind = TG_DIRECTIVE_LIST, .offset = FIELD(access_rules),
     .metavar = "\"allow|deny COND...\"", .flags = TG_DIRECTIVE_REPEATABLE,
     .validate = check_access_rule,
     .valuedoc = "`allow` or `deny`, then conditions `user=` `group=` `host=` `dest=` `port=` "
                 "`method=` `client=`",
     .help = "who may go where, after authentication; first match wins; repeatable"},
    {.name = "access-default", .kind = TG_DIRECTIVE_ACCESS_DEFAULT,
     .offset = FIELD(access_default_deny),
     .default_value = "allow", .metavar = "allow|deny",
     .help = "what happens to a request no access-rule matches"},
    {.name = "groups", .kind = TG_DIRECTIVE_PATH, .offset = FIELD(groups), .metavar = "FILE",
     .help = "Apache htgroup file (group: user user...) for access-rule group=; reloaded on SIGHUP"},
    {.name = "allow-destination", .kind = TG_DIRECTIVE_LIST, .offset = FIELD(allow_destination),
     .metavar = "CIDR", .flags = TG_DIRECTIVE_REPEATABLE, .validate = check_cidr,
     .valuedoc = "address prefix, `10.0.0.0/8` or `fd00::/8`",
     .help = "let the SSRF guard pass these loopback/link-local/private-use destinations; "
             "repeatable"},
    {.name = "rate-limit", .kind = TG_DIRECTIVE_RATE, .offset = FIELD(rate_max_failures),
     .default_value = "5/60", .metavar = "N/SECONDS",
     .help = "more than N failed logins from one address within SECONDS: 429 for a while"},
    {.name = "rate-penalty", .kind = TG_DIRECTIVE_PENALTY, .offset = FIELD(rate_penalty_ms),
     .default_value = "60:3600", .metavar = "SECONDS[:MAX]",
     .help = "first 429 period; doubled on each repeat offence up to MAX"},
    {.name = "rate-ipv6-prefix", .kind = TG_DIRECTIVE_INT, .offset = FIELD(rate_ipv6_prefix),
     .default_value = "64", .metavar = "BITS", .min = 1, .max = 128,
     .help = "IPv6 clients are counted per prefix of this length (one host owns a /64)"},
    {.name = "rate-exempt", .kind = TG_DIRECTIVE_LIST, .offset = FIELD(rate_exempt),
     .metavar = "CIDR",
     .flags = TG_DIRECTIVE_REPEATABLE, .validate = check_cidr,
     .valuedoc = "address prefix, `10.0.0.0/8` or `fd00::/8`",
     .help = "addresses never rate limited (monitoring, NAT gateways you trust); repeatable"},
    {.name = "max-connections-per-address", .kind = TG_DIRECTIVE_INT,
     .offset = FIELD(max_connections_per_address), .default_value = "256", .metavar = "N",
     .min = 0, .max = 1000000,
     .help = "open connections one client address may hold (503 past it); 0: no limit"},
    {.name = "preauth-max-header-size", .kind = TG_DIRECTIVE_BYTES,
     .offset = FIELD(preauth_max_header_size),
     .default_value = "12k", .metavar = "BYTES", .min = 1024, .max = 1024 * 1024,
     .help = "request head limit until a connection has authenticated (431 past it)"},
    {.name = "max-header-size", .kind = TG_DIRECTIVE_BYTES, .offset = FIELD(max_header_size),
     .default_value = "16k", .metavar = "BYTES", .min = 1024, .max = 1024 * 1024,
     .help = "largest request head a client may send (431 past it): bounds memory per client"},
    {.name = "max-headers", .kind = TG_DIRECTIVE_COUNT, .offset = FIELD(max_headers),
     .default_value = "100", .metavar = "N", .min = 1, .max = 128,
     .help = "most header fields in a request head (431 past it)"},
    {.name = "max-request-line", .kind = TG_DIRECTIVE_BYTES, .offset = FIELD(max_request_line),
     .default_value = "8k", .metavar = "BYTES", .min = 256, .max = 64 * 1024,
     .help = "longest request line (414 past it)"},
    {.name = "preauth-body-max", .kind = TG_DIRECTIVE_BYTES, .offset = FIELD(preauth_body_max),
     .default_value = "64k", .metavar = "BYTES", .min = 0, .max = 16 * 1024 * 1024,
     .help = "body an unauthenticated client may send, read and discarded; past it, close"},
    {.name = "max-connections", .kind = TG_DIRECTIVE_INT, .offset = FIELD(max_connections),
     .default_value = "10000", .metavar = "N", .min = 1, .max = 1000000,
     .help = "open client connections per process (503 past it): bounds file descriptors"},
    {.name = "header-timeout", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(header_timeout_ms),
     .default_value = "10", .metavar = "SECONDS", .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time a client has to send a whole request head: stops slow-header attacks"},
    {.name = "idle-timeout", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(idle_timeout_ms),
     .default_value = "60", .metavar = "SECONDS", .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time a kept-alive client connection may wait for its next request"},
    {.name = "connect-timeout", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(connect_timeout_ms),
     .default_value = "10", .metavar = "SECONDS", .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time to connect to an upstream server (504 past it)"},
    {.name = "response-timeout", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(response_timeout_ms),
     .default_value = "60", .metavar = "SECONDS", .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time forwarding may make no progress: request body, response head, response body"},
    {.name = "tunnel-idle-timeout", .kind = TG_DIRECTIVE_SECONDS,
     .offset = FIELD(tunnel_idle_timeout_ms), .default_value = "300", .metavar = "SECONDS",
     .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time a CONNECT tunnel may carry no data"},
    {.name = "shutdown-grace", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(shutdown_grace_ms),
     .default_value = "10", .metavar = "SECONDS", .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time open requests get to finish after SIGTERM or SIGINT"},
    {.name = "cred-cache-ttl", .kind = TG_DIRECTIVE_SECONDS, .offset = FIELD(cred_cache_ttl_ms),
     .default_value = "300", .metavar = "SECONDS", .min = 0, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "how long a verified password is trusted without rehashing; 0 disables"},
    {.name = "cred-cache-size", .kind = TG_DIRECTIVE_COUNT, .offset = FIELD(cred_cache_size),
     .default_value = "4096", .metavar = "N", .min = 0, .max = 1000000,
     .help = "verified credentials cached per thread; 0 disables"},
    {.name = "upstream-pool-size", .kind = TG_DIRECTIVE_COUNT, .offset = FIELD(upstream_pool_size),
     .default_value = "64", .metavar = "N", .min = 0, .max = 10000,
     .help = "idle upstream connections kept per thread for reuse; 0 disables"},
    {.name = "upstream-idle-timeout", .kind = TG_DIRECTIVE_SECONDS,
     .offset = FIELD(upstream_idle_timeout_ms), .default_value = "30", .metavar = "SECONDS",
     .min = 1, .max = TG_DIRECTIVE_SECONDS_MAX_MS,
     .help = "time an idle pooled upstream connection is kept"},
    {.name = "help", .kind = TG_DIRECTIVE_HELP, .flags = TG_DIRECTIVE_ARGS_ONLY,
     .help = "print this help"},
    {.name = "version", .kind = TG_DIRECTIVE_VERSION, .flags = TG_DIRECTIVE_ARGS_ONLY,
     .help = "print the version"},
};

#define NDIRECTIVES (sizeof directives / sizeof directives[0])

size_t tg_directive_count(void)
{
    return NDIRECTIVES;
}

const struct tg_directive *tg_directive_at(size_t i)
{
    return i < NDIRECTIVES ? &directives[i] : NULL;
}

const struct tg_directive *tg_directive_find(const char *name, size_t len)
{
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        if (strlen(directives[i].name) == len && memcmp(directives[i].name, name, len) == 0)
            return &directives[i];
    }
    return NULL;
}

bool tg_directive_takes_value(const struct tg_directive *d)
{
    return d->kind != TG_DIRECTIVE_BOOL && d->kind != TG_DIRECTIVE_HELP &&
           d->kind != TG_DIRECTIVE_VERSION;
}
