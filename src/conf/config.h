/*
 * config: every run-time setting, parsed from the command line and from a
 * config file. One table (directive.c) defines each directive once - name,
 * type, default, help - and drives the flag parser, the file parser and
 * --help. A flag "--name VALUE" and a file line "name VALUE" are the same
 * directive. Command-line values override the file; for repeatable
 * directives (listen) the command line replaces the file's list.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define TG_CONFIG_MAX_LISTEN 16
#define TG_CONFIG_MAX_PORT_RANGES 32
#define TG_CONFIG_MAX_SCHEMES 8
#define TG_CONFIG_MAX_RULES 32

#ifndef TG_VERSION
#define TG_VERSION "0.1.0"
#endif

/*
 * Where a repeatable directive's current list came from. The first value
 * from a later source replaces the list instead of appending to it, so the
 * default listen address disappears once a file or flag gives one, and
 * flags replace the file's list.
 */
enum tg_config_origin {
    TG_CONFIG_ORIGIN_DEFAULT = 0,
    TG_CONFIG_ORIGIN_FILE = 1,
    TG_CONFIG_ORIGIN_ARGS = 2,
};

struct tg_listen_addr {
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char text[64]; /* as written, e.g. "[::1]:3128" */
    bool tls;      /* from tls-listen: clients speak TLS to the proxy */
};

/* A repeatable free-text directive's values, in order. */
struct tg_config_list {
    char *item[TG_CONFIG_MAX_RULES]; /* owned */
    size_t n;
};

struct tg_port_range {
    uint16_t lo, hi; /* inclusive */
};

struct tg_config {
    char *config_file; /* owned; NULL if none */
    struct tg_listen_addr listen[TG_CONFIG_MAX_LISTEN];
    size_t nlisten;
    enum tg_config_origin listen_origin; /* internal to conf/: who set listen[] */
    char *htpasswd;   /* owned; NULL if none */
    char *users;      /* owned; Tollgate users file (every scheme); NULL if none */
    char *htdigest;   /* owned; Apache htdigest file (MD5 Digest); NULL if none */
    char *realm;      /* owned */
    char *auth[TG_CONFIG_MAX_SCHEMES]; /* owned; ordered scheme names; none: "auto" */
    size_t nauth;
    struct tg_config_list auth_rules; /* "COND... SCHEMES", first match wins */
    bool no_default_auth_rules;
    char *nonce_secret_file; /* owned; NULL: a random secret per start */
    uint64_t nonce_ttl_ms;
    size_t auth_int_max; /* request body held to check a Digest auth-int answer */

    /* Bearer tokens (auth/bearer.h). */
    char *tokens;        /* owned; NULL if none */
    char *jwt_keys;      /* owned; JWKS file; NULL if none */
    char *jwt_issuer;    /* owned; NULL: not checked */
    char *jwt_audience;  /* owned; NULL: not checked */
    char *jwt_user_claim; /* owned */
    uint64_t jwt_clock_skew_ms;

    /* TLS listeners (net/tls.h). */
    char *tls_cert; /* owned; PEM, full chain */
    char *tls_key;  /* owned; PEM */
    uint64_t tls_handshake_timeout_ms;
    bool basic_on_plaintext; /* offer Basic on plaintext listeners even when TLS ones exist */

    /* Access rules and the SSRF guard (policy/acl.h). */
    struct tg_config_list access_rules; /* "allow|deny COND...", first match wins */
    bool access_default_deny;
    char *groups; /* owned; htgroup file; NULL if none */
    struct tg_config_list allow_destination; /* CIDRs the SSRF guard lets through */

    /* Failed-login limiting (policy/ratelimit.h). */
    unsigned rate_max_failures; /* more than this many failures in the window: penalty */
    uint64_t rate_window_ms;
    uint64_t rate_penalty_ms, rate_penalty_max_ms;
    int rate_ipv6_prefix;
    struct tg_config_list rate_exempt; /* CIDRs never limited */
    int max_connections_per_address; /* 0: no per-address limit */
    size_t preauth_max_header_size;  /* head limit until a connection has authenticated */
    char *access_log; /* owned; "-" is stderr; NULL disables */
    char *auth_log;   /* owned; "-" is stderr; NULL disables */
    int threads;      /* event-loop threads; default: online CPUs */
    int hash_threads; /* password-hashing pool threads; default: online CPUs */
    struct tg_port_range connect_ports[TG_CONFIG_MAX_PORT_RANGES];
    size_t nconnect_ports;
    bool no_auth;

    /* Limits (bytes / counts). */
    size_t max_header_size;  /* whole request head; 431 past it */
    size_t max_headers;      /* fields per head; 431 past it */
    size_t max_request_line; /* 414 past it */
    size_t preauth_body_max; /* body an unauthenticated client may send (discarded) */
    int max_connections;     /* per process; 503 past it */

    /* Timeouts (milliseconds internally; seconds in flags and files). */
    uint64_t header_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t connect_timeout_ms;  /* upstream connect */
    uint64_t response_timeout_ms; /* upstream response head / body inactivity */
    uint64_t tunnel_idle_timeout_ms;
    uint64_t shutdown_grace_ms;

    /* Credential cache and upstream pool. */
    uint64_t cred_cache_ttl_ms;
    size_t cred_cache_size; /* entries per worker */
    size_t upstream_pool_size; /* idle upstream connections kept per worker */
    uint64_t upstream_idle_timeout_ms;
};

/*
 * Fills every field with its default, parsing each default's text with the
 * same code as user input. c's previous contents are overwritten, not
 * freed: call tg_config_fini first when reusing a struct. Returns 0 or
 * -ENOMEM (c is then left zeroed, safe to fini).
 */
int tg_config_defaults(struct tg_config *c);

/*
 * Applies argv (argv[0] is the program name; options start at argv[1]):
 * finds --config first and loads that file, then applies the flags.
 * Returns 0 when the program should run, 1 when --help or --version was
 * handled (already printed to out), or -1 with a one-line message in err
 * ("FILE:LINE: problem" for file errors, "--flag: problem" for flags).
 */
int tg_config_parse_args(struct tg_config *c, int argc, char **argv, FILE *out, char *err,
                         size_t errlen);

/* Loads a config file into c. Returns 0 or -1 with "FILE:LINE: problem" in err. */
int tg_config_load_file(struct tg_config *c, const char *path, char *err, size_t errlen);

/* Checks cross-directive rules (e.g. no credentials and no --no-auth). 0 or -1 + err. */
int tg_config_validate(const struct tg_config *c, char *err, size_t errlen);

/* Prints --help, generated from the directive table. */
void tg_config_print_help(FILE *out);

/* true when port is allowed for CONNECT. */
bool tg_config_connect_port_ok(const struct tg_config *c, uint16_t port);

/* Frees owned strings. Accepts a zeroed struct. */
void tg_config_fini(struct tg_config *c);

/*
 * The directive table, read-only, for tests and documentation: the number
 * of directives (flags included: config, help, version) and the name of
 * the i-th one ("listen", without "--"), or NULL when i >= count.
 * Any thread.
 */
size_t tg_config_directive_count(void);
const char *tg_config_directive_name(size_t i);

/*
 * Prints the directive table as a Markdown table (directive, value,
 * default, meaning); docs/directives.md embeds this output verbatim and
 * test_config checks that it still does.
 */
void tg_config_print_markdown(FILE *out);

#endif
