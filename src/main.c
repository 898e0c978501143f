/*
 * main: process start-up and the signal loop. Parses the configuration,
 * opens logs and the user database, binds one listening socket per
 * listener per worker (SO_REUSEPORT spreads connections across them),
 * starts the workers and then waits for signals:
 *   SIGTERM/SIGINT  drain (stop accepting, finish in-flight requests for at
 *                   most shutdown-grace seconds), then exit 0
 *   SIGHUP          re-read credential files; a broken file keeps old data
 *   SIGUSR1         reopen log files (logrotate)
 * Subcommands: `passwd` (cli/passwd.h), `token` (cli/token.h), `demo-user FILE` (make run) and
 * `directives` (the directive table as Markdown, for the docs).
 * Exit status: 0 clean exit, 1 run-time failure (cannot bind, out of
 * memory), 2 usage or configuration error.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/bearer.h"
#include "auth/userdb.h"
#include "base/b64.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/secret.h"
#include "conf/config.h"
#include "cli/passwd.h"
#include "cli/token.h"
#include "cred/userfile.h"
#include "loop/dns.h"
#include "loop/pool.h"
#include "net/cidr.h"
#include "net/sock.h"
#include "net/tls.h"
#include "policy/acl.h"
#include "policy/connlimit.h"
#include "policy/ratelimit.h"
#include "proxy/server.h"
#include "proxy/worker.h"

#define EXIT_USAGE 2
#define HASH_QUEUE_MAX 4096 /* pending verifications; beyond it, 503 */
#define LISTEN_BACKLOG 4096

struct app {
    struct tg_config cfg;
    struct tg_server srv;
    struct tg_userdb *userdb;
    struct tg_bearer *bearer;
    struct tg_pool *pool;
    struct tg_cidr *rate_exempt; /* owned; borrowed by srv.rl */
    struct tg_worker **workers;
    int nworkers;
};

static int demo_user(int argc, char **argv)
{
    unsigned char raw[12];
    char pw[TG_B64_ENCODED_SIZE(sizeof raw)];
    if (argc != 3) {
        fprintf(stderr, "usage: tollgate demo-user FILE\n");
        return EXIT_USAGE;
    }
    if (tg_secret_random(raw, sizeof raw) < 0)
        return 1;
    tg_b64_encode(raw, sizeof raw, pw);
    for (char *p = pw; *p; p++) /* URL-safe: pastes cleanly into a proxy URL */
        *p = *p == '+' ? 'x' : *p == '/' ? 'y' : *p;
    char err[512];
    if (access(argv[2], F_OK) == 0) {
        fprintf(stderr, "tollgate: cannot create %s: file exists (not overwriting)\n", argv[2]);
        return EXIT_USAGE;
    }
    if (tg_userfile_set(argv[2], "demo", "tollgate", pw, strlen(pw), err, sizeof err) < 0) {
        fprintf(stderr, "tollgate: cannot create %s: %s\n", argv[2], err);
        return 1;
    }
    printf("Created %s with user 'demo' (bcrypt for Basic, H(A1) for Digest).\n"
           "Password, shown only now: %s\n\n"
           "Try it:\n"
           "  curl -x http://127.0.0.1:3128 --proxy-user demo:%s http://example.com/\n",
           argv[2], pw, pw);
    tg_secret_wipe(pw, sizeof pw);
    return 0;
}

static int open_logs(struct app *a, char *err, size_t len)
{
    int rc = tg_logfile_open(&a->srv.access_log, a->cfg.access_log);
    if (rc < 0) {
        snprintf(err, len, "access-log: cannot open '%s': %s", a->cfg.access_log, strerror(-rc));
        return -1;
    }
    rc = tg_logfile_open(&a->srv.auth_log, a->cfg.auth_log);
    if (rc < 0) {
        snprintf(err, len, "auth-log: cannot open '%s': %s", a->cfg.auth_log, strerror(-rc));
        return -1;
    }
    return 0;
}

/* --auth auto: every scheme the credential files can serve, strongest first. */
static size_t auto_schemes(unsigned serves, const char **names)
{
    size_t n = 0;
    if (serves & TG_AUTH_SERVES_DIGEST_SHA)
        names[n++] = "digest-sha256";
    if (serves & TG_AUTH_SERVES_DIGEST_MD5)
        names[n++] = "digest-md5";
    if (serves & TG_AUTH_SERVES_BEARER)
        names[n++] = "bearer";
    if (serves & TG_AUTH_SERVES_BASIC)
        names[n++] = "basic";
    return n;
}

static int setup_auth(struct app *a, char *err, size_t len)
{
    struct tg_credsource src[3];
    size_t nsrc = 0;
    const char *autonames[4];
    if (a->cfg.no_auth)
        return 0;
    if (a->cfg.htpasswd)
        src[nsrc++] = (struct tg_credsource){TG_CREDSOURCE_HTPASSWD, a->cfg.htpasswd};
    if (a->cfg.htdigest)
        src[nsrc++] = (struct tg_credsource){TG_CREDSOURCE_HTDIGEST, a->cfg.htdigest};
    if (a->cfg.users)
        src[nsrc++] = (struct tg_credsource){TG_CREDSOURCE_USERS, a->cfg.users};
    a->userdb = tg_userdb_new(src, nsrc, a->cfg.realm, err, len);
    if (!a->userdb)
        return -1;
    unsigned serves = tg_userdb_serves(a->userdb);
    if (a->cfg.tokens || a->cfg.jwt_keys) {
        struct tg_bearer_config bc = {
            .tokens_file = a->cfg.tokens,
            .jwt_keys_file = a->cfg.jwt_keys,
            .jwt_issuer = a->cfg.jwt_issuer,
            .jwt_audience = a->cfg.jwt_audience,
            .jwt_user_claim = a->cfg.jwt_user_claim,
            .jwt_skew_ms = a->cfg.jwt_clock_skew_ms,
        };
        if (!(a->bearer = tg_bearer_new(&bc, err, len)))
            return -1;
        serves |= TG_AUTH_SERVES_BEARER;
    }
    struct tg_auth_config ac = {
        .realm = a->cfg.realm,
        .schemes = (const char *const *)a->cfg.auth,
        .nschemes = a->cfg.nauth,
        .rules = (const char *const *)a->cfg.auth_rules.item,
        .nrules = a->cfg.auth_rules.n,
        .no_default_rules = a->cfg.no_default_auth_rules,
        .userdb = a->userdb,
        .pool = a->pool,
        .serves = serves,
        .bearer = a->bearer,
        .nonce_secret_file = a->cfg.nonce_secret_file,
        .nonce_ttl_ms = a->cfg.nonce_ttl_ms,
    };
    if (a->cfg.nauth == 0) {
        ac.schemes = autonames;
        ac.nschemes = auto_schemes(serves, autonames);
    }
    a->srv.auth = tg_auth_new(&ac, err, len);
    return a->srv.auth ? 0 : -1;
}

/* Binds nworkers sockets for every listener; fds[w * nlisten + i]. */
static int bind_all(struct app *a, int *fds)
{
    for (size_t i = 0; i < a->cfg.nlisten; i++) {
        struct tg_listen_addr *l = &a->cfg.listen[i];
        int busy = tg_sock_port((struct sockaddr *)&l->addr) == 0
                       ? 0
                       : tg_sock_probe_free((struct sockaddr *)&l->addr, l->addrlen);
        if (busy < 0) {
            fprintf(stderr, "tollgate: cannot listen on %s: %s\n", l->text, strerror(-busy));
            return -1;
        }
        for (int w = 0; w < a->nworkers; w++) {
            int fd = tg_sock_listen((struct sockaddr *)&l->addr, l->addrlen, LISTEN_BACKLOG);
            if (fd < 0) {
                fprintf(stderr, "tollgate: cannot listen on %s: %s\n", l->text, strerror(-fd));
                return -1;
            }
            fds[w * (int)a->cfg.nlisten + (int)i] = fd;
            if (w == 0 && tg_sock_port((struct sockaddr *)&l->addr) == 0) {
                /* Port 0: every worker must share the port the kernel picked. */
                struct sockaddr_storage got;
                socklen_t glen;
                tg_sock_local(fd, &got, &glen);
                tg_sock_set_port((struct sockaddr *)&l->addr, tg_sock_port((struct sockaddr *)&got));
            }
        }
        char text[TG_SOCK_ADDRSTRLEN];
        tg_sock_format((struct sockaddr *)&l->addr, text, sizeof text);
        fprintf(stderr, "tollgate: listening on %s\n", text);
    }
    return 0;
}

static int start_workers(struct app *a)
{
    size_t nl = a->cfg.nlisten;
    int *fds = calloc((size_t)a->nworkers * nl, sizeof *fds);
    a->workers = calloc((size_t)a->nworkers, sizeof *a->workers);
    if (!fds || !a->workers || bind_all(a, fds) < 0) {
        free(fds);
        return -1;
    }
    for (int w = 0; w < a->nworkers; w++) {
        a->workers[w] = tg_worker_new(w, &a->srv, &fds[(size_t)w * nl], nl);
        if (!a->workers[w] || tg_worker_start(a->workers[w]) < 0) {
            fprintf(stderr, "tollgate: cannot start worker %d\n", w);
            free(fds);
            return -1;
        }
    }
    free(fds);
    return 0;
}

/* SIGHUP: every file re-read off to the side; a broken one keeps its old data. */
static void reload(struct app *a)
{
    char err[512];
    if (a->userdb && tg_userdb_reload(a->userdb, err, sizeof err) < 0)
        fprintf(stderr, "tollgate: reload failed, keeping the previous users: %s\n", err);
    else if (a->userdb)
        fprintf(stderr, "tollgate: reloaded credentials (%zu users)\n",
                tg_userdb_count(a->userdb));
    if (a->srv.tls && tg_tls_reload(a->srv.tls, err, sizeof err) < 0)
        fprintf(stderr, "tollgate: TLS reload failed, keeping the previous certificate: %s\n",
                err);
    else if (a->srv.tls)
        fprintf(stderr, "tollgate: reloaded TLS certificate %s\n", a->cfg.tls_cert);
    if (a->bearer && tg_bearer_reload(a->bearer, err, sizeof err) < 0)
        fprintf(stderr, "tollgate: token reload failed, keeping the previous tokens: %s\n", err);
    if (a->cfg.groups && tg_acl_reload_groups(a->srv.acl, err, sizeof err) < 0)
        fprintf(stderr, "tollgate: groups reload failed, keeping the previous groups: %s\n",
                err);
    else if (a->cfg.groups)
        fprintf(stderr, "tollgate: reloaded groups %s (%zu memberships)\n", a->cfg.groups,
                tg_acl_group_members(a->srv.acl));
}

static void reopen_logs(struct app *a)
{
    if (tg_logfile_reopen(&a->srv.access_log) < 0 || tg_logfile_reopen(&a->srv.auth_log) < 0)
        fprintf(stderr, "tollgate: reopening logs failed: %s\n", strerror(errno));
}

static bool all_finished(struct app *a)
{
    for (int w = 0; a->workers && w < a->nworkers; w++) {
        if (a->workers[w] && !tg_worker_finished(a->workers[w]))
            return false;
    }
    return true;
}

/* Drains, waits at most the grace period, then forces the rest closed. */
static void shut_down(struct app *a)
{
    for (int w = 0; a->workers && w < a->nworkers; w++) {
        if (a->workers[w])
            tg_worker_drain(a->workers[w]);
    }
    uint64_t deadline = tg_clock_mono_ms() + a->cfg.shutdown_grace_ms;
    while (!all_finished(a) && tg_clock_mono_ms() < deadline)
        usleep(20000);
    for (int w = 0; a->workers && w < a->nworkers; w++) {
        if (a->workers[w])
            tg_worker_stop(a->workers[w]);
    }
}

static void signal_loop(struct app *a, const sigset_t *set)
{
    for (;;) {
        int sig = sigwaitinfo(set, NULL);
        if (sig == SIGHUP)
            reload(a);
        else if (sig == SIGUSR1)
            reopen_logs(a);
        else if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    fprintf(stderr, "tollgate: shutting down\n");
    shut_down(a);
}

static void teardown(struct app *a)
{
    for (int w = 0; a->workers && w < a->nworkers; w++) {
        if (a->workers[w])
            tg_worker_join(a->workers[w]);
    }
    tg_pool_free(a->pool); /* runs queued jobs; their results land in worker mailboxes */
    for (int w = 0; a->workers && w < a->nworkers; w++)
        tg_worker_free(a->workers[w]);
    tg_buf_thread_exit(); /* blocks the connections closed above left here */
    free(a->workers);
    tg_auth_free(a->srv.auth);
    tg_userdb_free(a->userdb);
    tg_bearer_free(a->bearer);
    tg_acl_free(a->srv.acl);
    tg_ratelimit_free(a->srv.rl);
    tg_connlimit_free(a->srv.connlimit);
    tg_tls_free(a->srv.tls);
    free(a->rate_exempt);
    tg_logfile_close(&a->srv.access_log);
    tg_logfile_close(&a->srv.auth_log);
    tg_dns_global_fini();
    tg_config_fini(&a->cfg);
}

static int setup_ratelimit(struct app *a)
{
    const struct tg_config *cfg = &a->cfg;
    size_t n = cfg->rate_exempt.n;
    a->rate_exempt = calloc(n ? n : 1, sizeof *a->rate_exempt);
    if (!a->rate_exempt)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (tg_cidr_parse(cfg->rate_exempt.item[i], &a->rate_exempt[i]) < 0)
            return -1;
    }
    struct tg_ratelimit_config rc = {
        .max_failures = cfg->rate_max_failures,
        .window_ms = cfg->rate_window_ms,
        .penalty_ms = cfg->rate_penalty_ms,
        .penalty_max_ms = cfg->rate_penalty_max_ms,
        .ipv6_prefix = (unsigned)cfg->rate_ipv6_prefix,
        .exempt = a->rate_exempt,
        .nexempt = n,
        .capacity = 65536,
        .user_addresses = 10,
        .user_delay_ms = 2000,
    };
    a->srv.rl = tg_ratelimit_new(&rc);
    return a->srv.rl ? 0 : -1;
}

/*
 * --connect-ports becomes the last access rules: "allow method=CONNECT
 * port=LIST" then "deny method=CONNECT", so an administrator's own rules,
 * which come first, can open other ports to some users.
 */
static int add_connect_port_rules(struct tg_acl *acl, const struct tg_config *cfg, char *err,
                                  size_t len)
{
    char rule[1024] = "allow method=CONNECT port=";
    size_t used = strlen(rule);
    for (size_t i = 0; i < cfg->nconnect_ports && used < sizeof rule; i++) {
        const struct tg_port_range *p = &cfg->connect_ports[i];
        used += (size_t)snprintf(rule + used, sizeof rule - used, "%s%u-%u", i ? "," : "",
                                 p->lo, p->hi);
    }
    if (cfg->nconnect_ports && tg_acl_add_rule(acl, rule, err, len) < 0)
        return -1;
    return tg_acl_add_rule(acl, "deny method=CONNECT", err, len);
}

static int setup_tls(struct app *a, char *err, size_t len)
{
    for (size_t i = 0; i < a->cfg.nlisten; i++) {
        if (a->cfg.listen[i].tls) {
            a->srv.tls = tg_tls_new(a->cfg.tls_cert, a->cfg.tls_key, err, len);
            return a->srv.tls ? 0 : -1;
        }
    }
    return 0;
}

static int setup_policy(struct app *a, char *err, size_t len)
{
    const struct tg_config *cfg = &a->cfg;
    struct tg_acl *acl = a->srv.acl = tg_acl_new();
    if (!acl)
        return -1;
    for (size_t i = 0; i < cfg->access_rules.n; i++) {
        if (tg_acl_add_rule(acl, cfg->access_rules.item[i], err, len) < 0)
            return -1;
    }
    if (add_connect_port_rules(acl, cfg, err, len) < 0)
        return -1;
    tg_acl_set_default(acl, !cfg->access_default_deny);
    for (size_t i = 0; i < cfg->allow_destination.n; i++) {
        struct tg_cidr p;
        if (tg_cidr_parse(cfg->allow_destination.item[i], &p) < 0 ||
            tg_acl_allow_destination(acl, &p) < 0)
            return -1;
    }
    for (size_t i = 0; i < cfg->nlisten; i++)
        tg_acl_add_own_address(acl, (const struct sockaddr *)&cfg->listen[i].addr);
    if (cfg->groups && tg_acl_load_groups(acl, cfg->groups, err, len) < 0)
        return -1;
    a->srv.connlimit = tg_connlimit_new((size_t)cfg->max_connections,
                                        (unsigned)cfg->max_connections_per_address);
    if (!a->srv.connlimit)
        return -1;
    return cfg->no_auth ? 0 : setup_ratelimit(a);
}

static int configure(struct app *a, int argc, char **argv)
{
    char err[512];
    if (tg_config_defaults(&a->cfg) < 0)
        return 1;
    int rc = tg_config_parse_args(&a->cfg, argc, argv, stdout, err, sizeof err);
    if (rc == 1)
        return -1;
    if (rc < 0 || tg_config_validate(&a->cfg, err, sizeof err) < 0 ||
        open_logs(a, err, sizeof err) < 0) {
        fprintf(stderr, "tollgate: %s\n", err);
        return EXIT_USAGE;
    }
    a->pool = tg_pool_new(a->cfg.hash_threads, HASH_QUEUE_MAX);
    if (!a->pool)
        return 1;
    err[0] = '\0';
    if (setup_auth(a, err, sizeof err) < 0 || setup_policy(a, err, sizeof err) < 0 ||
        setup_tls(a, err, sizeof err) < 0) {
        fprintf(stderr, "tollgate: %s\n", err[0] ? err : "out of memory");
        return EXIT_USAGE;
    }
    a->srv.cfg = &a->cfg;
    a->srv.limits.max_request_line = a->cfg.max_request_line;
    a->srv.limits.max_head = a->cfg.max_header_size;
    a->srv.limits.max_fields = a->cfg.max_headers;
    a->nworkers = a->cfg.threads;
    return 0;
}

static void warn_about_mode(const struct app *a)
{
    const struct tg_config *cfg = &a->cfg;
    bool plain = false;
    for (size_t i = 0; i < cfg->nlisten; i++)
        plain = plain || !cfg->listen[i].tls;
    if (cfg->no_auth)
        fprintf(stderr, "tollgate: WARNING: --no-auth given: this is an OPEN proxy\n");
    else if (plain && tg_auth_offers(a->srv.auth, &tg_basic_scheme) &&
             (!a->srv.tls || cfg->basic_on_plaintext))
        fprintf(stderr, "tollgate: warning: Basic credentials cross plaintext listeners "
                        "readable by anyone on the path\n");
    else if (plain && a->srv.tls && !cfg->basic_on_plaintext &&
             tg_auth_some_offer_basic_only(a->srv.auth))
        fprintf(stderr, "tollgate: warning: only Basic is offered (to some clients) and it is "
                        "kept to the TLS listeners: plaintext listeners answer them 403 "
                        "tls_required (add --users for Digest, or --basic-on-plaintext)\n");
}

int main(int argc, char **argv)
{
    static struct app a;
    sigset_t set;
    if (argc > 1 && strcmp(argv[1], "demo-user") == 0)
        return demo_user(argc, argv);
    if (argc > 1 && strcmp(argv[1], "passwd") == 0)
        return tg_passwd_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "token") == 0)
        return tg_token_main(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[1], "directives") == 0) {
        tg_config_print_markdown(stdout); /* the docs' table: scripts/gen-docs.sh */
        return 0;
    }
    /* Signals are taken synchronously by the main thread only. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    int rc = configure(&a, argc, argv);
    if (rc != 0) {
        teardown(&a);
        return rc < 0 ? 0 : rc;
    }
    if (tg_dns_global_init() < 0 || start_workers(&a) < 0) {
        shut_down(&a);
        teardown(&a);
        return 1;
    }
    warn_about_mode(&a);
    signal_loop(&a, &set);
    teardown(&a);
    return 0;
}
