/*
 * Unit tests for conf/config: the directive table's defaults, both flag
 * spellings, config files (comments, blanks, FILE:LINE errors), flags
 * overriding the file, every kind of bad value, --help and --version,
 * connect-port ranges, the credentials rule in tg_config_validate, and
 * that tg_config_fini frees everything (LeakSanitizer fails a leak).
 *
 * config.c reports errors through its err buffer (main.c prints it and
 * exits 2), so the tests compare that buffer exactly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/config.h"

#define MAX_ARGS 64
#define KNOWN_SCHEMES "basic, digest, digest-sha256, digest-md5, digest-sha512-256, bearer"

/* ---- helpers ---- */

static int setup_config(void **state)
{
    struct tg_config *c = calloc(1, sizeof *c);
    if (!c || tg_config_defaults(c) != 0) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown_config(void **state)
{
    tg_config_fini(*state);
    free(*state);
    return 0;
}

/* Runs tg_config_parse_args on "tollgate" + the NULL-terminated args; out is discarded. */
static int vparse(struct tg_config *c, char *err, size_t errlen, va_list ap)
{
    char *argv[MAX_ARGS] = {"tollgate"};
    int argc = 1;
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL) {
        assert_true(argc < MAX_ARGS);
        argv[argc++] = (char *)a;
    }
    FILE *out = fopen("/dev/null", "w");
    assert_non_null(out);
    int rc = tg_config_parse_args(c, argc, argv, out, err, errlen);
    fclose(out);
    return rc;
}

static int parse(struct tg_config *c, char *err, size_t errlen, ...)
{
    va_list ap;
    va_start(ap, errlen);
    int rc = vparse(c, err, errlen, ap);
    va_end(ap);
    return rc;
}

/* The args must fail on a fresh default config with exactly this message. */
static void args_fail(const char *expected, ...)
{
    struct tg_config c;
    char err[512] = "";
    va_list ap;
    assert_int_equal(tg_config_defaults(&c), 0);
    va_start(ap, expected);
    int rc = vparse(&c, err, sizeof err, ap);
    va_end(ap);
    assert_int_equal(rc, -1);
    assert_string_equal(err, expected);
    tg_config_fini(&c);
}

/* Writes len bytes to a fresh /tmp file; its name goes to path (at least 32 bytes). */
static void write_conf_n(char *path, const char *text, size_t len)
{
    strcpy(path, "/tmp/tg_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void write_conf(char *path, const char *text)
{
    write_conf_n(path, text, strlen(text));
}

/* Loading text must fail with "PATH" + suffix, both directly and through --config. */
static void file_fail_n(const char *text, size_t len, const char *suffix)
{
    char path[64], expected[512], err[512] = "";
    struct tg_config c;
    write_conf_n(path, text, len);
    snprintf(expected, sizeof expected, "%s%s", path, suffix);

    assert_int_equal(tg_config_defaults(&c), 0);
    assert_int_equal(tg_config_load_file(&c, path, err, sizeof err), -1);
    assert_string_equal(err, expected);
    tg_config_fini(&c);

    err[0] = '\0';
    assert_int_equal(tg_config_defaults(&c), 0);
    assert_int_equal(parse(&c, err, sizeof err, "--config", path, NULL), -1);
    assert_string_equal(err, expected);
    tg_config_fini(&c);
    unlink(path);
}

static void file_fail(const char *text, const char *suffix)
{
    file_fail_n(text, strlen(text), suffix);
}

/* Everything f printed into *buf (malloc'd, NUL-terminated). */
static char *capture(void (*f)(FILE *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    f(out);
    assert_int_equal(fclose(out), 0);
    return buf;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static long expected_cpus(long max)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    n = n < 1 ? 1 : n;
    return n > max ? max : n;
}

static void assert_listen_v4(const struct tg_listen_addr *l, const char *text, uint32_t ip,
                             uint16_t port)
{
    const struct sockaddr_in *a = (const struct sockaddr_in *)&l->addr;
    assert_string_equal(l->text, text);
    assert_int_equal(l->addrlen, sizeof(struct sockaddr_in));
    assert_int_equal(a->sin_family, AF_INET);
    assert_int_equal(ntohs(a->sin_port), port);
    assert_int_equal(ntohl(a->sin_addr.s_addr), ip);
}

static void assert_listen_v6(const struct tg_listen_addr *l, const char *text, const char *ip,
                             uint16_t port)
{
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&l->addr;
    struct in6_addr want;
    assert_int_equal(inet_pton(AF_INET6, ip, &want), 1);
    assert_string_equal(l->text, text);
    assert_int_equal(l->addrlen, sizeof(struct sockaddr_in6));
    assert_int_equal(a->sin6_family, AF_INET6);
    assert_int_equal(ntohs(a->sin6_port), port);
    assert_memory_equal(&a->sin6_addr, &want, sizeof want);
}

/* ---- the table and its defaults ---- */

static void test_directive_table_lists_every_directive_in_help_order(void **state)
{
    static const char *const names[] = {"config",
                                        "listen",
                                        "tls-listen",
                                        "tls-cert",
                                        "tls-key",
                                        "tls-handshake-timeout",
                                        "basic-on-plaintext",
                                        "htpasswd",
                                        "users",
                                        "htdigest",
                                        "tokens",
                                        "jwt-keys",
                                        "jwt-issuer",
                                        "jwt-audience",
                                        "jwt-user-claim",
                                        "jwt-clock-skew",
                                        "realm",
                                        "auth",
                                        "auth-rule",
                                        "no-default-auth-rules",
                                        "nonce-ttl",
                                        "nonce-secret-file",
                                        "auth-int-max",
                                        "access-log",
                                        "auth-log",
                                        "threads",
                                        "hash-threads",
                                        "connect-ports",
                                        "no-auth",
                                        "access-rule",
                                        "access-default",
                                        "groups",
                                        "allow-destination",
                                        "rate-limit",
                                        "rate-penalty",
                                        "rate-ipv6-prefix",
                                        "rate-exempt",
                                        "max-connections-per-address",
                                        "preauth-max-header-size",
                                        "max-header-size",
                                        "max-headers",
                                        "max-request-line",
                                        "preauth-body-max",
                                        "max-connections",
                                        "header-timeout",
                                        "idle-timeout",
                                        "connect-timeout",
                                        "response-timeout",
                                        "tunnel-idle-timeout",
                                        "shutdown-grace",
                                        "cred-cache-ttl",
                                        "cred-cache-size",
                                        "upstream-pool-size",
                                        "upstream-idle-timeout",
                                        "help",
                                        "version"};
    size_t n = sizeof names / sizeof names[0];
    assert_int_equal(tg_config_directive_count(), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(tg_config_directive_name(i), names[i]);
    assert_null(tg_config_directive_name(n));
    assert_null(tg_config_directive_name((size_t)-1));
}

static void test_defaults_fill_every_field(void **state)
{
    struct tg_config *c = *state;
    assert_null(c->config_file);
    assert_int_equal(c->nlisten, 1);
    assert_listen_v4(&c->listen[0], "127.0.0.1:3128", INADDR_LOOPBACK, 3128);
    assert_int_equal(c->listen_origin, TG_CONFIG_ORIGIN_DEFAULT);
    assert_null(c->htpasswd);
    assert_null(c->users);
    assert_null(c->htdigest);
    assert_string_equal(c->realm, "tollgate");
    assert_int_equal(c->nauth, 0); /* "auto" */
    assert_int_equal(c->auth_rules.n, 0);
    assert_false(c->no_default_auth_rules);
    assert_null(c->nonce_secret_file);
    assert_int_equal(c->nonce_ttl_ms, 300000);
    assert_int_equal(c->auth_int_max, 1024 * 1024);
    assert_string_equal(c->access_log, "-");
    assert_string_equal(c->auth_log, "-");
    assert_int_equal(c->threads, expected_cpus(256));
    assert_int_equal(c->hash_threads, expected_cpus(64));
    assert_int_equal(c->nconnect_ports, 1);
    assert_int_equal(c->connect_ports[0].lo, 443);
    assert_int_equal(c->connect_ports[0].hi, 443);
    assert_false(c->no_auth);
}

static void test_defaults_fill_limits_and_timeouts(void **state)
{
    struct tg_config *c = *state;
    assert_int_equal(c->max_header_size, 16384);
    assert_int_equal(c->max_headers, 100);
    assert_int_equal(c->max_request_line, 8192);
    assert_int_equal(c->preauth_body_max, 65536);
    assert_int_equal(c->max_connections, 10000);
    assert_int_equal(c->header_timeout_ms, 10000);
    assert_int_equal(c->idle_timeout_ms, 60000);
    assert_int_equal(c->connect_timeout_ms, 10000);
    assert_int_equal(c->response_timeout_ms, 60000);
    assert_int_equal(c->tunnel_idle_timeout_ms, 300000);
    assert_int_equal(c->shutdown_grace_ms, 10000);
    assert_int_equal(c->cred_cache_ttl_ms, 300000);
    assert_int_equal(c->cred_cache_size, 4096);
    assert_int_equal(c->upstream_pool_size, 64);
    assert_int_equal(c->upstream_idle_timeout_ms, 30000);
}

static void test_no_arguments_keep_the_defaults(void **state)
{
    struct tg_config *c = *state;
    char err[256] = "untouched";
    assert_int_equal(parse(c, err, sizeof err, NULL), 0);
    assert_string_equal(err, "untouched");
    assert_int_equal(c->nlisten, 1);
    assert_string_equal(c->listen[0].text, "127.0.0.1:3128");
    assert_string_equal(c->realm, "tollgate");
}

/* ---- flags ---- */

static void test_flag_value_may_follow_as_next_argument_or_after_equals(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--realm", "Office Proxy", "--max-headers=50",
                           "--idle-timeout", "2.5", "--header-timeout=0.001", "--threads", "3",
                           "--hash-threads=2", "--max-connections", "1", NULL),
                     0);
    assert_string_equal(c->realm, "Office Proxy");
    assert_int_equal(c->max_headers, 50);
    assert_int_equal(c->idle_timeout_ms, 2500);
    assert_int_equal(c->header_timeout_ms, 1);
    assert_int_equal(c->threads, 3);
    assert_int_equal(c->hash_threads, 2);
    assert_int_equal(c->max_connections, 1);
}

static void test_value_after_equals_may_contain_equals_and_start_with_dashes(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--realm=a=b", "--htpasswd", "--file", NULL), 0);
    assert_string_equal(c->realm, "a=b");
    assert_string_equal(c->htpasswd, "--file");
}

static void test_later_flag_replaces_earlier_value(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--realm", "one", "--realm=two", "--htpasswd", "/a",
                           "--htpasswd", "/b", NULL),
                     0);
    assert_string_equal(c->realm, "two");
    assert_string_equal(c->htpasswd, "/b");
}

static void test_threads_auto_is_online_cpus_clamped_to_max(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--threads", "7", "--hash-threads", "5", NULL), 0);
    assert_int_equal(parse(c, err, sizeof err, "--threads=auto", "--hash-threads", "auto", NULL),
                     0);
    assert_int_equal(c->threads, expected_cpus(256));
    assert_int_equal(c->hash_threads, expected_cpus(64));
}

static void test_bool_flag_takes_no_value(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--no-auth", "--no-default-auth-rules", NULL), 0);
    assert_true(c->no_auth);
    assert_true(c->no_default_auth_rules);
}

/* ---- listen ---- */

static void test_listen_flags_replace_default_and_accumulate(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--listen", "0.0.0.0:8080", "--listen=[::1]:3128",
                           "--listen", "[::]:0", "--listen", "10.1.2.3:65535", NULL),
                     0);
    assert_int_equal(c->nlisten, 4);
    assert_int_equal(c->listen_origin, TG_CONFIG_ORIGIN_ARGS);
    assert_listen_v4(&c->listen[0], "0.0.0.0:8080", INADDR_ANY, 8080);
    assert_listen_v6(&c->listen[1], "[::1]:3128", "::1", 3128);
    assert_listen_v6(&c->listen[2], "[::]:0", "::", 0);
    assert_listen_v4(&c->listen[3], "10.1.2.3:65535", 0x0a010203, 65535);
}

static void test_listen_refuses_the_same_address_twice(void **state)
{
    args_fail("--listen: '127.0.0.1:80' is given twice", "--listen", "127.0.0.1:80", "--listen",
              "127.0.0.1:80", NULL);
    /* Equal addresses written differently are still the same socket. */
    args_fail("--listen: '[0:0::1]:80' is given twice", "--listen", "[::1]:80", "--listen",
              "[0:0::1]:80", NULL);
    args_fail("--listen: '127.0.0.1:080' is given twice", "--listen", "127.0.0.1:80", "--listen",
              "127.0.0.1:080", NULL);
}

static void test_listen_same_address_on_other_port_or_family_is_fine(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--listen", "127.0.0.1:80", "--listen",
                           "127.0.0.1:81", "--listen", "[::1]:80", NULL),
                     0);
    assert_int_equal(c->nlisten, 3);
}

static void test_listen_refuses_more_than_the_maximum(void **state)
{
    static char text[TG_CONFIG_MAX_LISTEN + 1][32];
    char *argv[2 * (TG_CONFIG_MAX_LISTEN + 1) + 1] = {"tollgate"};
    char err[256] = "", expected[64];
    struct tg_config *c = *state;
    int argc = 1;
    for (int i = 0; i <= TG_CONFIG_MAX_LISTEN; i++) {
        snprintf(text[i], sizeof text[i], "127.0.0.1:%d", 1000 + i);
        argv[argc++] = "--listen";
        argv[argc++] = text[i];
    }
    assert_int_equal(tg_config_parse_args(c, argc - 2, argv, stdout, err, sizeof err), 0);
    assert_int_equal(c->nlisten, TG_CONFIG_MAX_LISTEN);
    tg_config_fini(c);
    assert_int_equal(tg_config_defaults(c), 0);
    assert_int_equal(tg_config_parse_args(c, argc, argv, stdout, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "--listen: too many addresses (at most %d)",
             TG_CONFIG_MAX_LISTEN);
    assert_string_equal(err, expected);
}

static void test_listen_refuses_malformed_addresses(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1",    "127.0.0.1:",     ":3128",           "localhost:3128", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:+80",  "127.0.0.1: 80",   "127.0.0.1:0x50", "256.0.0.1:80",
        "::1:3128",     "[::1]",          "[::1:3128",       "::1]:3128",      "[::1]x:3128",
        "[]:3128",      "[127.0.0.1]:80", "[fe80::1%lo]:80", "[::g]:80",       "1.2.3:80",
    };
    char expected[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(expected, sizeof expected,
                 "--listen: invalid address '%s' (expected ADDR:PORT or [V6]:PORT)", bad[i]);
        args_fail(expected, "--listen", bad[i], NULL);
    }
}

static void test_listen_refuses_text_too_long_to_keep(void **state)
{
    /* text[64] keeps 63 bytes; leading zeros in the port make the lengths exact. */
    char ok[64], tl[65], expected[256];
    snprintf(ok, sizeof ok, "1.2.3.4:%055d", 80);
    snprintf(tl, sizeof tl, "1.2.3.4:%056d", 80);
    assert_int_equal(strlen(ok), 63);
    assert_int_equal(strlen(tl), 64);

    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--listen", ok, NULL), 0);
    assert_listen_v4(&c->listen[0], ok, 0x01020304, 80);
    snprintf(expected, sizeof expected,
             "--listen: invalid address '%s' (expected ADDR:PORT or [V6]:PORT)", tl);
    args_fail(expected, "--listen", tl, NULL);
}

/* ---- config files ---- */

static void test_file_reads_lines_comments_blanks_and_crlf(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256] = "";
    write_conf(path, "# Tollgate test configuration\n"
                     "\n"
                     "   \t\n"
                     "realm Office Proxy   # trailing comment\n"
                     "\thtpasswd\t/etc/tollgate/users#1\n"
                     "max-headers 64\r\n"
                     "  # indented comment\n"
                     "idle-timeout 1.25\n"
                     "no-auth\n"
                     "access-log off\n"
                     "connect-ports 443, 8443-8444\n"
                     "max-header-size 32k"); /* no final newline */
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(c->realm, "Office Proxy");
    assert_string_equal(c->htpasswd, "/etc/tollgate/users#1");
    assert_int_equal(c->max_headers, 64);
    assert_int_equal(c->idle_timeout_ms, 1250);
    assert_true(c->no_auth);
    assert_null(c->access_log);
    assert_string_equal(c->auth_log, "-");
    assert_int_equal(c->nconnect_ports, 2);
    assert_int_equal(c->max_header_size, 32768);
    assert_null(c->config_file); /* only --config records the file */
    unlink(path);
}

static void test_file_bool_accepts_yes_no_words(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "no-auth yes\nno-default-auth-rules TRUE\n");
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), 0);
    assert_true(c->no_auth);
    assert_true(c->no_default_auth_rules);
    unlink(path);
    write_conf(path, "no-auth off\nno-default-auth-rules No\n");
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), 0);
    assert_false(c->no_auth);
    assert_false(c->no_default_auth_rules);
    unlink(path);
}

static void test_empty_file_changes_nothing(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "");
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), 0);
    assert_string_equal(c->realm, "tollgate");
    assert_int_equal(c->nlisten, 1);
    unlink(path);
}

static void test_file_listen_replaces_default_then_accumulates(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "listen 0.0.0.0:3128\nlisten [::1]:3129\n");
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), 0);
    assert_int_equal(c->nlisten, 2);
    assert_int_equal(c->listen_origin, TG_CONFIG_ORIGIN_FILE);
    assert_listen_v4(&c->listen[0], "0.0.0.0:3128", INADDR_ANY, 3128);
    assert_listen_v6(&c->listen[1], "[::1]:3129", "::1", 3129);
    unlink(path);
}

static void test_flags_override_file_values_wherever_config_appears(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "realm from-file\nmax-headers 50\nlisten 0.0.0.0:1\nlisten 0.0.0.0:2\n"
                     "access-log /var/log/tollgate.log\n");
    /* --realm comes before --config on the line yet still wins. */
    assert_int_equal(parse(c, err, sizeof err, "--realm", "from-flag", "--config", path, "--listen",
                           "[::1]:3", NULL),
                     0);
    assert_string_equal(c->config_file, path);
    assert_string_equal(c->realm, "from-flag");
    assert_int_equal(c->max_headers, 50);
    assert_string_equal(c->access_log, "/var/log/tollgate.log");
    assert_int_equal(c->nlisten, 1);
    assert_listen_v6(&c->listen[0], "[::1]:3", "::1", 3);
    unlink(path);
}

static void test_file_listen_stays_when_no_flag_gives_one(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "listen 0.0.0.0:1\nlisten 0.0.0.0:2\n");
    assert_int_equal(parse(c, err, sizeof err, "--config=", NULL), -1);
    assert_string_equal(err, "--config: missing value");
    assert_int_equal(parse(c, err, sizeof err, "--config", path, "--realm", "x", NULL), 0);
    assert_int_equal(c->nlisten, 2);
    assert_string_equal(c->listen[1].text, "0.0.0.0:2");
    unlink(path);
}

static void test_file_stops_at_first_error_keeping_earlier_lines(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256], expected[128];
    write_conf(path, "realm first\nbogus 1\nrealm second\n");
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s:2: unknown directive 'bogus'", path);
    assert_string_equal(err, expected);
    assert_string_equal(c->realm, "first");
    unlink(path);
}

/* ---- errors: command line ---- */

static void test_unknown_and_malformed_options_are_refused(void **state)
{
    args_fail("unknown option '--bogus' (see --help)", "--bogus", NULL);
    args_fail("unknown option '--bogus' (see --help)", "--bogus=1", NULL);
    args_fail("unknown option '--Listen' (see --help)", "--Listen", "127.0.0.1:1", NULL);
    args_fail("unknown option '--' (see --help)", "--=x", NULL);
    args_fail("unexpected argument 'listen' (options start with --; see --help)", "listen",
              "127.0.0.1:1", NULL);
    args_fail("unexpected argument '-h' (options start with --; see --help)", "-h", NULL);
    args_fail("unexpected argument '--' (options start with --; see --help)", "--", NULL);
    args_fail("unexpected argument 'extra' (options start with --; see --help)", "--realm", "x",
              "extra", NULL);
}

static void test_missing_and_unwanted_values_are_refused(void **state)
{
    args_fail("--realm: missing value", "--realm", NULL);
    args_fail("--realm: missing value", "--realm=", NULL);
    args_fail("--realm: missing value", "--realm", "", NULL);
    args_fail("--listen: missing value", "--no-auth", "--listen", NULL);
    args_fail("--no-auth: takes no value", "--no-auth=yes", NULL);
    args_fail("--help: takes no value", "--help=1", NULL);
    args_fail("--version: takes no value", "--version=", NULL);
}

static void test_config_given_twice_or_unreadable_is_refused(void **state)
{
    args_fail("--config: given more than once", "--config", "/a", "--config=/b", NULL);
    args_fail("/nonexistent/tollgate.conf: cannot open: No such file or directory", "--config",
              "/nonexistent/tollgate.conf", NULL);
    args_fail("/tmp: cannot read: Is a directory", "--config", "/tmp", NULL);
}

static void test_bad_integers_are_refused(void **state)
{
    static const char *const bad[] = {"0",    "129",  "-1",  "+5",  " 5",
                                      "5 ",   "0x10", "12a", "1e2", "99999999999999999999999",
                                      "auto", "1.0"};
    char expected[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(expected, sizeof expected, "--max-headers: expected an integer 1..128, got '%s'",
                 bad[i]);
        args_fail(expected, "--max-headers", bad[i], NULL);
    }
    args_fail("--threads: expected an integer 1..256, got '257'", "--threads", "257", NULL);
    args_fail("--threads: expected an integer 1..256, got 'AUTO'", "--threads", "AUTO", NULL);
    args_fail("--hash-threads: expected an integer 1..64, got '65'", "--hash-threads=65", NULL);
    args_fail("--max-connections: expected an integer 1..1000000, got 'auto'", "--max-connections",
              "auto", NULL);
    args_fail("--upstream-pool-size: expected an integer 0..10000, got '10001'",
              "--upstream-pool-size", "10001", NULL);
}

static void test_integer_limits_are_inclusive(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--max-headers", "128", "--threads", "256",
                           "--max-connections", "1000000", "--cred-cache-size", "0",
                           "--upstream-pool-size", "00", NULL),
                     0);
    assert_int_equal(c->max_headers, 128);
    assert_int_equal(c->threads, 256);
    assert_int_equal(c->max_connections, 1000000);
    assert_int_equal(c->cred_cache_size, 0);
    assert_int_equal(c->upstream_pool_size, 0);
}

static void test_sizes_take_k_and_m_suffixes(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--max-header-size", "1m", "--max-request-line",
                           "300", "--preauth-body-max=0k", "--auth-int-max", "64M", NULL),
                     0);
    assert_int_equal(c->max_header_size, 1048576);
    assert_int_equal(c->max_request_line, 300);
    assert_int_equal(c->preauth_body_max, 0);
    assert_int_equal(c->auth_int_max, 64 * 1048576);
    assert_int_equal(parse(c, err, sizeof err, "--max-header-size", "1024", "--max-request-line",
                           "64K", "--preauth-body-max=16m", NULL),
                     0);
    assert_int_equal(c->max_header_size, 1024);
    assert_int_equal(c->max_request_line, 65536);
    assert_int_equal(c->preauth_body_max, 16777216);
}

static void test_bad_sizes_are_refused(void **state)
{
    static const char *const bad[] = {"16g", "16kb", "k",    "m",    "1023",  "1025k",
                                      "2m",  "-1k",  "1.5k", "16 k", "0x400", "18014398509481984k"};
    char expected[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(expected, sizeof expected,
                 "--max-header-size: expected a size 1024..1048576 bytes (suffix k or m allowed), "
                 "got '%s'",
                 bad[i]);
        args_fail(expected, "--max-header-size", bad[i], NULL);
    }
    args_fail("--max-header-size: missing value", "--max-header-size", "", NULL);
    args_fail("--preauth-body-max: expected a size 0..16777216 bytes (suffix k or m allowed), "
              "got '16385k'",
              "--preauth-body-max", "16385k", NULL);
}

static void test_durations_take_up_to_three_decimals(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--header-timeout", "0.5", "--idle-timeout", "86400",
                           "--connect-timeout", "1.05", "--response-timeout", "007",
                           "--cred-cache-ttl", "0", "--nonce-ttl", "0.001", NULL),
                     0);
    assert_int_equal(c->header_timeout_ms, 500);
    assert_int_equal(c->idle_timeout_ms, 86400000);
    assert_int_equal(c->connect_timeout_ms, 1050);
    assert_int_equal(c->response_timeout_ms, 7000);
    assert_int_equal(c->cred_cache_ttl_ms, 0);
    assert_int_equal(c->nonce_ttl_ms, 1);
}

static void test_bad_durations_are_refused(void **state)
{
    static const char *const bad[] = {"0",        "0.0", "0.0001", "1.2345", "86400.001", "86401",
                                      "86400000", "1e3", "inf",    "-1",     ".5",        "5.",
                                      "1..5",     "1,5", "0x10",   "10s",    " 10",       "1.5.0"};
    char expected[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(expected, sizeof expected,
                 "--idle-timeout: expected seconds 0.001..86400 (up to 3 decimals), got '%s'",
                 bad[i]);
        args_fail(expected, "--idle-timeout", bad[i], NULL);
    }
    args_fail("--cred-cache-ttl: expected seconds 0..86400 (up to 3 decimals), got '-0'",
              "--cred-cache-ttl", "-0", NULL);
}

static void test_bad_port_lists_are_refused(void **state)
{
    static const struct {
        const char *value, *item;
    } bad[] = {
        {"0", "0"},           {"65536", "65536"},   {"443,,80", ""},    {"443,", ""},
        {",443", ""},         {"90-80", "90-80"},   {"https", "https"}, {"443-", "443-"},
        {"-443", "-443"},     {"1-2-3", "1-2-3"},   {"0-80", "0-80"},   {"80-65536", "80-65536"},
        {"none,443", "none"}, {"443 80", "443 80"}, {" , ", ""},
    };
    char expected[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(expected, sizeof expected,
                 "--connect-ports: invalid port or range '%s' (expected PORT or LO-HI, 1..65535)",
                 bad[i].item);
        args_fail(expected, "--connect-ports", bad[i].value, NULL);
    }
}

static void test_port_list_refuses_more_than_the_maximum(void **state)
{
    char list[512] = "", expected[128];
    size_t used = 0;
    for (int i = 1; i <= TG_CONFIG_MAX_PORT_RANGES + 1; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%d", i > 1 ? "," : "", i);
    snprintf(expected, sizeof expected, "--connect-ports: too many entries (at most %d)",
             TG_CONFIG_MAX_PORT_RANGES);
    args_fail(expected, "--connect-ports", list, NULL);

    struct tg_config *c = *state;
    char err[256];
    *strrchr(list, ',') = '\0';
    assert_int_equal(parse(c, err, sizeof err, "--connect-ports", list, NULL), 0);
    assert_int_equal(c->nconnect_ports, TG_CONFIG_MAX_PORT_RANGES);
}

static void test_bad_realms_are_refused(void **state)
{
    const char *why = "only printable ASCII without '\"' or '\\' is allowed";
    char expected[256], long_realm[130];
    snprintf(expected, sizeof expected, "--realm: %s", why);
    args_fail(expected, "--realm", "say \"hi\"", NULL);
    args_fail(expected, "--realm", "back\\slash", NULL);
    args_fail(expected, "--realm", "tab\there", NULL);
    args_fail(expected, "--realm", "caf\xc3\xa9", NULL);
    args_fail(expected, "--realm", "del\x7f", NULL);
    memset(long_realm, 'r', 129);
    long_realm[129] = '\0';
    args_fail("--realm: longer than 128 bytes", "--realm", long_realm, NULL);

    struct tg_config *c = *state;
    char err[256];
    long_realm[128] = '\0';
    assert_int_equal(parse(c, err, sizeof err, "--realm", long_realm, NULL), 0);
    assert_string_equal(c->realm, long_realm);
    assert_int_equal(parse(c, err, sizeof err, "--realm", "~ !#$%&'()*+,-./:;<=>?@[]^_`{|}", NULL),
                     0);
    assert_string_equal(c->realm, "~ !#$%&'()*+,-./:;<=>?@[]^_`{|}");
}

static void test_bad_scheme_lists_are_refused(void **state)
{
    args_fail("--auth: unknown scheme 'ntlm' (known: " KNOWN_SCHEMES ")", "--auth", "basic,ntlm",
              NULL);
    args_fail("--auth: unknown scheme 'Auto' (known: " KNOWN_SCHEMES ")", "--auth", "Auto", NULL);
    args_fail("--auth: scheme 'basic' is listed twice", "--auth", "basic, BASIC", NULL);
    args_fail("--auth: empty scheme name in 'basic,,digest'", "--auth", "basic,,digest", NULL);
    args_fail("--auth: empty scheme name in 'basic,'", "--auth", "basic,", NULL);
}

/* ---- errors: config file, each naming FILE:LINE ---- */

static void test_file_errors_name_file_line_and_problem(void **state)
{
    file_fail("realm ok\n\n# c\nbogus value\n", ":4: unknown directive 'bogus'");
    file_fail("--realm x\n", ":1: unknown directive '--realm'");
    file_fail("realm\n", ":1: realm: missing value");
    file_fail("\n  realm   # no value, only a comment\n", ":2: realm: missing value");
    file_fail("listen\t\r\n", ":1: listen: missing value");
    file_fail("max-headers 0\n", ":1: max-headers: expected an integer 1..128, got '0'");
    file_fail("max-headers 5 6\n", ":1: max-headers: expected an integer 1..128, got '5 6'");
    file_fail("max-header-size 16g\n",
              ":1: max-header-size: expected a size 1024..1048576 bytes (suffix k or m allowed), "
              "got '16g'");
    file_fail("idle-timeout 1.2345\n",
              ":1: idle-timeout: expected seconds 0.001..86400 (up to 3 decimals), got '1.2345'");
    file_fail("connect-ports 443,x\n",
              ":1: connect-ports: invalid port or range 'x' (expected PORT or LO-HI, 1..65535)");
    file_fail("listen 127.0.0.1\n",
              ":1: listen: invalid address '127.0.0.1' (expected ADDR:PORT or [V6]:PORT)");
    file_fail("listen [::1]:1\nlisten [::1]:1\n", ":2: listen: '[::1]:1' is given twice");
    file_fail("realm a\"b\n", ":1: realm: only printable ASCII without '\"' or '\\' is allowed");
    file_fail("auth ntlm\n", ":1: auth: unknown scheme 'ntlm' (known: " KNOWN_SCHEMES ")");
    file_fail("no-auth maybe\n",
              ":1: no-auth: expected yes or no (or true/false, on/off), got 'maybe'");
    file_fail("config /etc/other.conf\n", ":1: config: not allowed inside a config file");
    file_fail("help\n", ":1: help: not allowed inside a config file");
    file_fail("version\n", ":1: version: not allowed inside a config file");
    file_fail_n("realm a\nrealm b\0c\n", 18, ":2: NUL byte in line");
}

static void test_file_errors_keep_the_path_as_given(void **state)
{
    char path[64], rel[80], err[256], expected[160];
    struct tg_config *c = *state;
    write_conf(path, "threads 0\n");
    /* The message repeats the path as written, not a normalised one. */
    snprintf(rel, sizeof rel, "/tmp/../%s", path + 1);
    assert_int_equal(tg_config_load_file(c, rel, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s:1: threads: expected an integer 1..256, got '0'", rel);
    assert_string_equal(err, expected);
    unlink(path);
}

static void test_file_error_truncates_to_errlen(void **state)
{
    char path[64], err[16];
    struct tg_config *c = *state;
    write_conf(path, "bogus\n");
    assert_int_equal(tg_config_load_file(c, path, err, sizeof err), -1);
    assert_int_equal(strlen(err), sizeof err - 1);
    assert_memory_equal(err, path, sizeof err - 1);
    unlink(path);
}

/* ---- --help and --version ---- */

static int parse_capturing(struct tg_config *c, char **outbuf, char *err, size_t errlen, int argc,
                           char **argv)
{
    size_t len;
    FILE *out = open_memstream(outbuf, &len);
    assert_non_null(out);
    int rc = tg_config_parse_args(c, argc, argv, out, err, errlen);
    assert_int_equal(fclose(out), 0);
    return rc;
}

static void test_version_prints_and_returns_one_without_applying_flags(void **state)
{
    struct tg_config *c = *state;
    char *argv[] = {"tollgate", "--realm", "changed", "--version", "--bogus", NULL};
    char *out = NULL, err[256] = "untouched";
    assert_int_equal(parse_capturing(c, &out, err, sizeof err, 5, argv), 1);
    assert_string_equal(out, "tollgate " TG_VERSION "\n");
    assert_string_equal(err, "untouched");
    assert_string_equal(c->realm, "tollgate");
    free(out);
}

static void test_help_returns_one_and_prints_the_table(void **state)
{
    struct tg_config *c = *state;
    char *argv[] = {"tollgate", "--help", "--version", NULL};
    char *out = NULL, err[256];
    assert_int_equal(parse_capturing(c, &out, err, sizeof err, 3, argv), 1);
    char *table = capture(tg_config_print_help);
    assert_string_equal(out, table);
    free(table);
    free(out);
}

static void test_error_before_help_wins(void **state)
{
    struct tg_config *c = *state;
    char *argv[] = {"tollgate", "--bogus", "--help", NULL};
    char *out = NULL, err[256];
    assert_int_equal(parse_capturing(c, &out, err, sizeof err, 3, argv), -1);
    assert_string_equal(out, "");
    assert_string_equal(err, "unknown option '--bogus' (see --help)");
    free(out);
}

/* The line of --help for directive name, or NULL. */
static const char *help_line(const char *help, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n  --%s", name);
    for (const char *p = strstr(help, key); p; p = strstr(p + 1, key)) {
        char next = p[strlen(key)];
        if (next == ' ' || next == '\n')
            return p + 1;
    }
    return NULL;
}

static void test_help_has_one_aligned_line_per_directive(void **state)
{
    char *help = capture(tg_config_print_help);
    const char *usage = "usage: tollgate [--config FILE] [--OPTION VALUE]...\n"
                        "An authenticating HTTP/1.1 forward proxy. Every option except config, "
                        "help and\n"
                        "version can also be a config-file line \"name VALUE\"; flags override "
                        "the file.\n\n";
    assert_memory_equal(help, usage, strlen(usage));
    assert_int_equal(count_lines(help), 4 + tg_config_directive_count());

    /* The help column is where "print the version" starts on the last line. */
    const char *version = help_line(help, "version");
    assert_non_null(version);
    size_t col = (size_t)(strstr(version, "print the version\n") - version);
    for (size_t i = 0; i < tg_config_directive_count(); i++) {
        const char *line = help_line(help, tg_config_directive_name(i));
        assert_non_null(line);
        assert_true(strchr(line, '\n') - line > (ptrdiff_t)col);
        assert_int_equal(line[col - 1], ' ');
        assert_int_equal(line[col - 2], ' ');
        assert_true(line[col] != ' ');
    }

    char expected[512];
    snprintf(expected, sizeof expected,
             "  %-*s  accept clients on ADDR:PORT or [V6ADDR]:PORT (port 0: any free); "
             "repeatable (default: 127.0.0.1:3128)\n",
             (int)col - 4, "--listen ADDR:PORT");
    assert_memory_equal(help_line(help, "listen"), expected, strlen(expected));
    snprintf(expected, sizeof expected,
             "  %-*s  ports CONNECT may reach: PORT or LO-HI, comma-separated, or none "
             "(default: 443)\n",
             (int)col - 4, "--connect-ports LIST");
    assert_memory_equal(help_line(help, "connect-ports"), expected, strlen(expected));
    snprintf(expected, sizeof expected, "  %-*s  print this help\n", (int)col - 4, "--help");
    assert_memory_equal(help_line(help, "help"), expected, strlen(expected));
    free(help);
}

/* ---- logs, schemes, rules ---- */

static void test_off_disables_logs_and_dash_is_stderr(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--access-log", "off", "--auth-log=off", NULL), 0);
    assert_null(c->access_log);
    assert_null(c->auth_log);
    assert_int_equal(parse(c, err, sizeof err, "--access-log", "./off", "--auth-log", "-", NULL),
                     0);
    assert_string_equal(c->access_log, "./off");
    assert_string_equal(c->auth_log, "-");
    assert_int_equal(
        parse(c, err, sizeof err, "--access-log", "OFF", "--auth-log", "/var/log/auth.json", NULL),
        0);
    assert_string_equal(c->access_log, "OFF");
    assert_string_equal(c->auth_log, "/var/log/auth.json");
}

static void test_auth_schemes_are_canonical_and_auto_clears_them(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--auth", "Digest-SHA256, basic ,digest-MD5", NULL),
                     0);
    assert_int_equal(c->nauth, 3);
    assert_string_equal(c->auth[0], "digest-sha256");
    assert_string_equal(c->auth[1], "basic");
    assert_string_equal(c->auth[2], "digest-md5");
    assert_int_equal(parse(c, err, sizeof err, "--auth", "basic,ntlm", NULL), -1);
    assert_int_equal(c->nauth, 3); /* a bad list leaves the old one */
    assert_string_equal(c->auth[0], "digest-sha256");
    assert_int_equal(parse(c, err, sizeof err, "--auth", "auto", NULL), 0);
    assert_int_equal(c->nauth, 0);
    assert_null(c->auth[0]);
}

static void test_auth_rules_accumulate_and_survive_auth(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--auth-rule", "user-agent=curl/* basic", "--auth",
                           "digest", "--auth-rule=client=10.0.0.0/8 digest-md5", "--auth", "auto",
                           NULL),
                     0);
    assert_int_equal(c->nauth, 0);
    assert_int_equal(c->auth_rules.n, 2);
    assert_string_equal(c->auth_rules.item[0], "user-agent=curl/* basic");
    assert_string_equal(c->auth_rules.item[1], "client=10.0.0.0/8 digest-md5");
}

static void test_auth_rules_refuse_more_than_the_maximum(void **state)
{
    struct tg_config *c = *state;
    char err[256], expected[64];
    for (int i = 0; i < TG_CONFIG_MAX_RULES; i++)
        assert_int_equal(parse(c, err, sizeof err, "--auth-rule", "client=::1/128 basic", NULL), 0);
    assert_int_equal(c->auth_rules.n, TG_CONFIG_MAX_RULES);
    assert_int_equal(parse(c, err, sizeof err, "--auth-rule", "client=::1/128 basic", NULL), -1);
    snprintf(expected, sizeof expected, "--auth-rule: at most %d values", TG_CONFIG_MAX_RULES);
    assert_string_equal(err, expected);
}

/* ---- abuse resistance directives ---- */

static void test_rate_limit_and_penalty_defaults_and_values(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(c->rate_max_failures, 5);
    assert_int_equal(c->rate_window_ms, 60000);
    assert_int_equal(c->rate_penalty_ms, 60000);
    assert_int_equal(c->rate_penalty_max_ms, 3600000);
    assert_int_equal(c->rate_ipv6_prefix, 64);
    assert_int_equal(parse(c, err, sizeof err, "--rate-limit", "3/10.5", "--rate-penalty", "2", NULL), 0);
    assert_int_equal(c->rate_max_failures, 3);
    assert_int_equal(c->rate_window_ms, 10500);
    assert_int_equal(c->rate_penalty_ms, 2000);
    assert_int_equal(c->rate_penalty_max_ms, 2000);
    assert_int_equal(parse(c, err, sizeof err, "--rate-penalty=2:4", NULL), 0);
    assert_int_equal(c->rate_penalty_max_ms, 4000);
}

static void test_rate_directives_refuse_bad_values(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    const char *bad_rates[] = {"5",   "0/60",   "101/60", "5/0", "5/x", "/60", "5/60/1",
                               "+5/60", " 5/60", "-18446744073709551615/60"};
    for (size_t i = 0; i < sizeof bad_rates / sizeof bad_rates[0]; i++) {
        assert_int_equal(parse(c, err, sizeof err, "--rate-limit", bad_rates[i], NULL), -1);
        assert_non_null(strstr(err, "--rate-limit: expected N/SECONDS"));
    }
    const char *bad_penalties[] = {"0", "60:30", "x", "60:", "90000"};
    for (size_t i = 0; i < sizeof bad_penalties / sizeof bad_penalties[0]; i++) {
        assert_int_equal(parse(c, err, sizeof err, "--rate-penalty", bad_penalties[i], NULL), -1);
        assert_non_null(strstr(err, "--rate-penalty: expected SECONDS[:MAX]"));
    }
    assert_int_equal(parse(c, err, sizeof err, "--rate-exempt", "10.0.0.1/8", NULL), -1);
    assert_string_equal(err, "--rate-exempt: expected an address prefix like 10.0.0.0/8 or "
                             "fd00::/8, got '10.0.0.1/8'");
}

static void test_access_directives(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_false(c->access_default_deny);
    assert_int_equal(parse(c, err, sizeof err, "--access-rule", "deny host=*.example.com",
                           "--access-rule", "allow user=alice port=443", "--access-default",
                           "deny", "--allow-destination", "10.0.0.0/8", NULL),
                     0);
    assert_int_equal(c->access_rules.n, 2);
    assert_string_equal(c->access_rules.item[1], "allow user=alice port=443");
    assert_true(c->access_default_deny);
    assert_int_equal(c->allow_destination.n, 1);
    assert_int_equal(parse(c, err, sizeof err, "--access-rule", "permit user=alice", NULL), -1);
    assert_non_null(strstr(err, "--access-rule: "));
    assert_int_equal(parse(c, err, sizeof err, "--access-default", "maybe", NULL), -1);
    assert_string_equal(err, "--access-default: expected allow or deny, got 'maybe'");
}

/* ---- connect ports ---- */

static void test_connect_port_ok_follows_ports_and_ranges(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_true(tg_config_connect_port_ok(c, 443));
    assert_false(tg_config_connect_port_ok(c, 442));
    assert_false(tg_config_connect_port_ok(c, 444));
    assert_false(tg_config_connect_port_ok(c, 80));
    assert_false(tg_config_connect_port_ok(c, 0));

    assert_int_equal(parse(c, err, sizeof err, "--connect-ports", "443, 8000-8080 ,563,9-9", NULL),
                     0);
    assert_int_equal(c->nconnect_ports, 4);
    assert_int_equal(c->connect_ports[1].lo, 8000);
    assert_int_equal(c->connect_ports[1].hi, 8080);
    static const uint16_t yes[] = {443, 563, 8000, 8001, 8079, 8080, 9};
    static const uint16_t no[] = {0, 8, 10, 442, 444, 562, 564, 7999, 8081, 65535};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(tg_config_connect_port_ok(c, yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_false(tg_config_connect_port_ok(c, no[i]));
}

static void test_connect_ports_none_and_full_range(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--connect-ports", "1-65535", NULL), 0);
    assert_true(tg_config_connect_port_ok(c, 1));
    assert_true(tg_config_connect_port_ok(c, 65535));
    assert_false(tg_config_connect_port_ok(c, 0));
    assert_int_equal(parse(c, err, sizeof err, "--connect-ports", "none", NULL), 0);
    assert_int_equal(c->nconnect_ports, 0);
    assert_false(tg_config_connect_port_ok(c, 443));
}

static void test_bad_port_list_leaves_the_old_one(void **state)
{
    struct tg_config *c = *state;
    char err[256];
    assert_int_equal(parse(c, err, sizeof err, "--connect-ports", "80,443,bad", NULL), -1);
    assert_int_equal(c->nconnect_ports, 1);
    assert_true(tg_config_connect_port_ok(c, 443));
    assert_false(tg_config_connect_port_ok(c, 80));
}

/* ---- validation ---- */

static void validate_after(const char *expected, ...)
{
    struct tg_config c;
    char err[512] = "";
    va_list ap;
    assert_int_equal(tg_config_defaults(&c), 0);
    va_start(ap, expected);
    assert_int_equal(vparse(&c, err, sizeof err, ap), 0);
    va_end(ap);
    assert_int_equal(tg_config_validate(&c, err, sizeof err), expected ? -1 : 0);
    if (expected)
        assert_string_equal(err, expected);
    tg_config_fini(&c);
}

static void test_validate_requires_credentials_or_no_auth(void **state)
{
    const char *none = "no credentials configured: give --htpasswd FILE (or --users, "
                       "--htdigest), or --no-auth to run an open proxy (not recommended)";
    const char *both = "--no-auth and a credentials file (--htpasswd, --users, --htdigest) are "
                       "mutually exclusive";
    validate_after(none, NULL);
    validate_after(none, "--realm", "x", "--listen", "[::1]:1", NULL);
    validate_after(NULL, "--no-auth", NULL);
    validate_after(NULL, "--htpasswd", "/etc/tollgate.htpasswd", NULL);
    validate_after(NULL, "--users", "/etc/tollgate.users", NULL);
    validate_after(NULL, "--htdigest", "/etc/tollgate.htdigest", NULL);
    validate_after(NULL, "--htpasswd", "/a", "--users", "/b", "--htdigest", "/c", NULL);
    validate_after(both, "--no-auth", "--htpasswd", "/a", NULL);
    validate_after(both, "--users", "/b", "--no-auth", NULL);
    validate_after(both, "--no-auth", "--htdigest", "/c", NULL);
}

static void test_validate_sees_no_auth_from_file(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "no-auth\n");
    assert_int_equal(parse(c, err, sizeof err, "--config", path, NULL), 0);
    assert_int_equal(tg_config_validate(c, err, sizeof err), 0);
    unlink(path);
}

/* ---- ownership ---- */

static void test_fini_frees_everything_and_is_repeatable(void **state)
{
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "htpasswd /file/one\nrealm file\naccess-log /file/two\n");
    assert_int_equal(parse(c, err, sizeof err, "--config", path, "--htpasswd", "/a", "--users",
                           "/b", "--htdigest", "/c", "--realm", "r", "--access-log", "/d",
                           "--auth-log", "/e", "--nonce-secret-file", "/f", "--auth",
                           "basic,digest", "--auth-rule", "user-agent=x* digest", "--auth-rule",
                           "client=::1/128 basic", NULL),
                     0);
    assert_int_equal(c->nauth, 2);
    assert_int_equal(c->auth_rules.n, 2);
    tg_config_fini(c);
    assert_null(c->config_file);
    assert_null(c->htpasswd);
    assert_null(c->users);
    assert_null(c->htdigest);
    assert_null(c->realm);
    assert_null(c->access_log);
    assert_null(c->auth_log);
    assert_null(c->nonce_secret_file);
    assert_int_equal(c->nauth, 0);
    assert_null(c->auth[0]);
    assert_null(c->auth[1]);
    assert_int_equal(c->auth_rules.n, 0);
    assert_null(c->auth_rules.item[0]);
    assert_null(c->auth_rules.item[1]);
    tg_config_fini(c); /* again: the teardown runs it a third time */
    unlink(path);
}

static void test_fini_accepts_null_and_zeroed_struct(void **state)
{
    struct tg_config z;
    memset(&z, 0, sizeof z);
    tg_config_fini(NULL);
    tg_config_fini(&z);
    assert_int_equal(tg_config_defaults(&z), 0);
    tg_config_fini(&z);
    assert_int_equal(tg_config_defaults(&z), 0); /* reuse after fini */
    assert_string_equal(z.realm, "tollgate");
    tg_config_fini(&z);
}

static void test_failed_parses_leak_nothing(void **state)
{
    /* Each leaves partly applied owned strings behind; teardown's fini must free them. */
    struct tg_config *c = *state;
    char path[64], err[256];
    write_conf(path, "realm a\nhtpasswd /x\naccess-log /y\nauth digest\nrealm b\"\n");
    assert_int_equal(parse(c, err, sizeof err, "--htpasswd", "/z", "--config", path, NULL), -1);
    assert_string_equal(c->htpasswd, "/x");
    assert_int_equal(parse(c, err, sizeof err, "--realm", "q", "--auth-rule", "r", "--users", "/u",
                           "--threads", "0", NULL),
                     -1);
    assert_string_equal(c->realm, "q");
    unlink(path);
}

/* ---- documentation ---- */

static void test_markdown_has_one_row_per_directive(void **state)
{
    char *md = capture(tg_config_print_markdown);
    const char *head = "| Directive | Value | Default | Meaning |\n|---|---|---|---|\n";
    assert_memory_equal(md, head, strlen(head));
    assert_int_equal(count_lines(md), 2 + tg_config_directive_count());
    assert_non_null(strstr(md, "\n| `listen` | `ADDR:PORT` or `[V6ADDR]:PORT`, port 0..65535; "
                               "repeatable | `127.0.0.1:3128` | accept clients on ADDR:PORT or "
                               "[V6ADDR]:PORT (port 0: any free); repeatable |\n"));
    assert_non_null(strstr(md, "\n| `max-header-size` | bytes 1024..1048576, suffix `k` or `m` "
                               "allowed | `16k` | largest request head a client may send (431 "
                               "past it): bounds memory per client |\n"));
    assert_non_null(strstr(md, "\n| `idle-timeout` | seconds 0.001..86400, up to 3 decimals | "
                               "`60` | time a kept-alive client connection may wait for its next "
                               "request |\n"));
    /* A backslash in a cell is doubled, or Markdown would swallow it. */
    assert_non_null(strstr(md, "\n| `realm` | text, at most 128 printable ASCII bytes, no `\"` "
                               "or `\\` | `tollgate` | realm named in the login prompt "
                               "(printable ASCII, no \" or \\\\) |\n"));
    assert_non_null(strstr(md, "\n| `config` | path; command line only | none | read directives "
                               "from FILE first; flags given here override it |\n"));
    free(md);
}

static void test_docs_directives_md_embeds_the_table_verbatim(void **state)
{
    /* Run from the repository root, as `make unit` does. */
    FILE *f = fopen("docs/directives.md", "r");
    assert_non_null(f);
    char *doc = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&doc, &cap, '\0', f);
    fclose(f);
    assert_true(n > 0);
    char *md = capture(tg_config_print_markdown);
    if (!strstr(doc, md))
        fail_msg("docs/directives.md is stale: regenerate its table from "
                 "tg_config_print_markdown()");
    free(md);
    free(doc);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_config, teardown_config)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_directive_table_lists_every_directive_in_help_order),
        T(test_defaults_fill_every_field),
        T(test_defaults_fill_limits_and_timeouts),
        T(test_no_arguments_keep_the_defaults),
        T(test_flag_value_may_follow_as_next_argument_or_after_equals),
        T(test_value_after_equals_may_contain_equals_and_start_with_dashes),
        T(test_later_flag_replaces_earlier_value),
        T(test_threads_auto_is_online_cpus_clamped_to_max),
        T(test_bool_flag_takes_no_value),
        T(test_listen_flags_replace_default_and_accumulate),
        T(test_listen_refuses_the_same_address_twice),
        T(test_listen_same_address_on_other_port_or_family_is_fine),
        T(test_listen_refuses_more_than_the_maximum),
        T(test_listen_refuses_malformed_addresses),
        T(test_listen_refuses_text_too_long_to_keep),
        T(test_file_reads_lines_comments_blanks_and_crlf),
        T(test_file_bool_accepts_yes_no_words),
        T(test_empty_file_changes_nothing),
        T(test_file_listen_replaces_default_then_accumulates),
        T(test_flags_override_file_values_wherever_config_appears),
        T(test_file_listen_stays_when_no_flag_gives_one),
        T(test_file_stops_at_first_error_keeping_earlier_lines),
        T(test_unknown_and_malformed_options_are_refused),
        T(test_missing_and_unwanted_values_are_refused),
        T(test_config_given_twice_or_unreadable_is_refused),
        T(test_bad_integers_are_refused),
        T(test_integer_limits_are_inclusive),
        T(test_sizes_take_k_and_m_suffixes),
        T(test_bad_sizes_are_refused),
        T(test_durations_take_up_to_three_decimals),
        T(test_bad_durations_are_refused),
        T(test_bad_port_lists_are_refused),
        T(test_port_list_refuses_more_than_the_maximum),
        T(test_bad_realms_are_refused),
        T(test_bad_scheme_lists_are_refused),
        T(test_file_errors_name_file_line_and_problem),
        T(test_file_errors_keep_the_path_as_given),
        T(test_file_error_truncates_to_errlen),
        T(test_version_prints_and_returns_one_without_applying_flags),
        T(test_help_returns_one_and_prints_the_table),
        T(test_error_before_help_wins),
        T(test_help_has_one_aligned_line_per_directive),
        T(test_off_disables_logs_and_dash_is_stderr),
        T(test_auth_schemes_are_canonical_and_auto_clears_them),
        T(test_auth_rules_accumulate_and_survive_auth),
        T(test_auth_rules_refuse_more_than_the_maximum),
        T(test_rate_limit_and_penalty_defaults_and_values),
        T(test_rate_directives_refuse_bad_values),
        T(test_access_directives),
        T(test_connect_port_ok_follows_ports_and_ranges),
        T(test_connect_ports_none_and_full_range),
        T(test_bad_port_list_leaves_the_old_one),
        T(test_validate_requires_credentials_or_no_auth),
        T(test_validate_sees_no_auth_from_file),
        T(test_fini_frees_everything_and_is_repeatable),
        T(test_fini_accepts_null_and_zeroed_struct),
        T(test_failed_parses_leak_nothing),
        T(test_markdown_has_one_row_per_directive),
        T(test_docs_directives_md_embeds_the_table_verbatim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
