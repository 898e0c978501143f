/*
 * Unit tests for policy/acl: each condition kind matches and fails to
 * match; every condition of a rule must hold; the first matching rule
 * wins and its index is reported; the default applies otherwise; every
 * malformed rule is refused with its exact message; htgroup files load,
 * and refuse bad lines with PATH:LINE; the SSRF guard refuses loopback,
 * link-local, unspecified, multicast and own addresses (IPv4-mapped too)
 * even when a rule allows the host, and lets them through only for a rule
 * whose dest= names them or an --allow-destination prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/acl.h"
#include "policy/htgroup.h"

/* ---- helpers ---- */

/* A socket address from text; a small ring so several can be live at once. */
static const struct sockaddr *sa(const char *text)
{
    static struct sockaddr_storage ring[8];
    static unsigned next;
    struct sockaddr_storage *ss = &ring[next++ % 8];
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return (const struct sockaddr *)ss;
}

static struct tg_cidr prefix(const char *text)
{
    struct tg_cidr c;
    assert_int_equal(tg_cidr_parse(text, &c), 0);
    return c;
}

/* An acl built from rule lines; fails the test on any refused rule. */
static struct tg_acl *acl_of(const char *const *rules)
{
    struct tg_acl *acl = tg_acl_new();
    assert_non_null(acl);
    char err[256] = "";
    for (size_t i = 0; rules[i]; i++) {
        if (tg_acl_add_rule(acl, rules[i], err, sizeof err) != 0)
            fail_msg("rule '%s' refused: %s", rules[i], err);
    }
    return acl;
}

/* An ordinary request: alice to www.example.com:443 (public address), no tunnel. */
static struct tg_acl_request req(void)
{
    struct tg_acl_request rq = {
        .user = "alice",
        .host = "www.example.com",
        .port = 443,
        .is_connect = false,
        .client = sa("192.0.2.7"),
        .dest = sa("93.184.216.34"),
    };
    return rq;
}

/* The verdict as "ALLOW#n", "DENY#n" or "SSRF#n" for exact one-line asserts. */
static const char *verdict(const struct tg_acl *acl, const struct tg_acl_request *rq)
{
    static char out[32];
    size_t rule = 99;
    enum tg_acl_verdict v = tg_acl_check(acl, rq, &rule);
    const char *name = v == TG_ACL_ALLOW       ? "ALLOW"
                       : v == TG_ACL_DENY_RULE ? "DENY"
                       : v == TG_ACL_DENY_SSRF ? "SSRF"
                                               : "?";
    snprintf(out, sizeof out, "%s#%zu", name, rule);
    return out;
}

/* "deny COND" then default allow: DENY#1 when COND matches, ALLOW#0 otherwise. */
static const char *deny_if(const char *cond, const struct tg_acl_request *rq)
{
    char text[256];
    snprintf(text, sizeof text, "deny %s", cond);
    const char *rules[] = {text, NULL};
    struct tg_acl *acl = acl_of(rules);
    const char *v = verdict(acl, rq);
    tg_acl_free(acl);
    return v;
}

/* A temporary file holding text; the caller unlinks it. */
static void temp_file(char path[64], const char *text, size_t len)
{
    strcpy(path, "/tmp/test_acl_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Loads groups from text; returns the result and leaves the message in err. */
static int load_groups(struct tg_acl *acl, const char *text, size_t len, char path[64], char *err,
                       size_t errlen)
{
    temp_file(path, text, len);
    int rc = tg_acl_load_groups(acl, path, err, errlen);
    unlink(path);
    return rc;
}

/* ---- conditions ---- */

static void test_rule_without_conditions_matches_every_request(void **state)
{
    struct tg_acl_request rq = req();
    const char *rules[] = {"deny", NULL};
    struct tg_acl *acl = acl_of(rules);
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    rq.user = NULL;
    rq.host = NULL;
    rq.client = NULL;
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    tg_acl_free(acl);
}

static void test_user_condition_matches_listed_names_case_sensitively(void **state)
{
    struct tg_acl_request rq = req();
    assert_string_equal(deny_if("user=alice", &rq), "DENY#1");
    assert_string_equal(deny_if("user=bob,alice,carol", &rq), "DENY#1");
    assert_string_equal(deny_if("user=bob", &rq), "ALLOW#0");
    assert_string_equal(deny_if("user=Alice", &rq), "ALLOW#0");
    assert_string_equal(deny_if("user=alic", &rq), "ALLOW#0");
    assert_string_equal(deny_if("user=alicex", &rq), "ALLOW#0");
    rq.user = NULL; /* authentication off: no user condition holds */
    assert_string_equal(deny_if("user=alice", &rq), "ALLOW#0");
}

static void test_host_condition_matches_exact_names_ignoring_case_and_trailing_dot(void **state)
{
    struct tg_acl_request rq = req();
    assert_string_equal(deny_if("host=www.example.com", &rq), "DENY#1");
    assert_string_equal(deny_if("host=WWW.Example.COM", &rq), "DENY#1");
    assert_string_equal(deny_if("host=www.example.com.", &rq), "DENY#1");
    assert_string_equal(deny_if("host=example.com", &rq), "ALLOW#0");
    assert_string_equal(deny_if("host=ww.example.com", &rq), "ALLOW#0");
    assert_string_equal(deny_if("host=other.org,www.example.com", &rq), "DENY#1");
    rq.host = "WWW.EXAMPLE.COM.";
    assert_string_equal(deny_if("host=www.example.com", &rq), "DENY#1");
    rq.host = "www.example.com..";
    assert_string_equal(deny_if("host=www.example.com", &rq), "ALLOW#0");
    rq.host = "10.1.2.3";
    assert_string_equal(deny_if("host=10.1.2.3", &rq), "DENY#1");
    rq.host = "2001:db8::1";
    assert_string_equal(deny_if("host=2001:DB8::1", &rq), "DENY#1");
    rq.host = NULL;
    assert_string_equal(deny_if("host=www.example.com", &rq), "ALLOW#0");
}

static void test_wildcard_host_matches_subdomains_but_not_the_suffix_itself(void **state)
{
    struct tg_acl_request rq = req();
    const char *yes[] = {"a.example.com", "a.b.example.com", "A.EXAMPLE.com", "a.example.com."};
    const char *no[] = {"example.com",
                        "example.com.",
                        "badexample.com",
                        "a.example.org",
                        "a.example.com.evil",
                        ".example.com",
                        "",
                        "."};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        rq.host = yes[i];
        assert_string_equal(deny_if("host=*.example.com", &rq), "DENY#1");
        assert_string_equal(deny_if("host=*.Example.Com.", &rq), "DENY#1");
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        rq.host = no[i];
        assert_string_equal(deny_if("host=*.example.com", &rq), "ALLOW#0");
    }
    rq.host = "x.com";
    assert_string_equal(deny_if("host=*.com", &rq), "DENY#1");
}

static void test_dest_condition_matches_the_connected_address(void **state)
{
    struct tg_acl_request rq = req();
    assert_string_equal(deny_if("dest=93.184.216.0/24", &rq), "DENY#1");
    assert_string_equal(deny_if("dest=93.184.216.34", &rq), "DENY#1");
    assert_string_equal(deny_if("dest=93.184.217.0/24", &rq), "ALLOW#0");
    assert_string_equal(deny_if("dest=10.0.0.0/8,93.0.0.0/8", &rq), "DENY#1");
    assert_string_equal(deny_if("dest=2606:2800::/32", &rq), "ALLOW#0");
    rq.dest = sa("2606:2800::1");
    assert_string_equal(deny_if("dest=2606:2800::/32", &rq), "DENY#1");
    assert_string_equal(deny_if("dest=2606:2801::/32", &rq), "ALLOW#0");
    assert_string_equal(deny_if("dest=0.0.0.0/0", &rq), "ALLOW#0");
    /* An IPv4-mapped destination is judged as IPv4, in either spelling of the rule. */
    rq.dest = sa("::ffff:93.184.216.34");
    assert_string_equal(deny_if("dest=93.184.216.0/24", &rq), "DENY#1");
    rq.dest = sa("93.184.216.34");
    assert_string_equal(deny_if("dest=::ffff:93.184.216.0/120", &rq), "DENY#1");
}

static void test_port_condition_matches_ports_and_inclusive_ranges(void **state)
{
    struct tg_acl_request rq = req();
    assert_string_equal(deny_if("port=443", &rq), "DENY#1");
    assert_string_equal(deny_if("port=80", &rq), "ALLOW#0");
    assert_string_equal(deny_if("port=80,443", &rq), "DENY#1");
    assert_string_equal(deny_if("port=443-443", &rq), "DENY#1");
    assert_string_equal(deny_if("port=400-443", &rq), "DENY#1");
    assert_string_equal(deny_if("port=443-500", &rq), "DENY#1");
    assert_string_equal(deny_if("port=444-500", &rq), "ALLOW#0");
    assert_string_equal(deny_if("port=1-442", &rq), "ALLOW#0");
    rq.port = 65535;
    assert_string_equal(deny_if("port=1-65535", &rq), "DENY#1");
    assert_string_equal(deny_if("port=65535", &rq), "DENY#1");
    rq.port = 1;
    assert_string_equal(deny_if("port=1", &rq), "DENY#1");
    assert_string_equal(deny_if("port=2-65535", &rq), "ALLOW#0");
}

static void test_method_condition_tells_tunnels_from_other_requests(void **state)
{
    struct tg_acl_request rq = req();
    assert_string_equal(deny_if("method=CONNECT", &rq), "ALLOW#0");
    assert_string_equal(deny_if("method=!CONNECT", &rq), "DENY#1");
    rq.is_connect = true;
    assert_string_equal(deny_if("method=CONNECT", &rq), "DENY#1");
    assert_string_equal(deny_if("method=!CONNECT", &rq), "ALLOW#0");
}

static void test_client_condition_matches_the_client_address(void **state)
{
    struct tg_acl_request rq = req();
    assert_string_equal(deny_if("client=192.0.2.0/24", &rq), "DENY#1");
    assert_string_equal(deny_if("client=192.0.2.7", &rq), "DENY#1");
    assert_string_equal(deny_if("client=192.0.2.8", &rq), "ALLOW#0");
    assert_string_equal(deny_if("client=198.51.100.0/24,192.0.0.0/16", &rq), "DENY#1");
    rq.client = sa("::ffff:192.0.2.7"); /* a dual-stack listener's IPv4 client */
    assert_string_equal(deny_if("client=192.0.2.0/24", &rq), "DENY#1");
    rq.client = sa("2001:db8::7");
    assert_string_equal(deny_if("client=2001:db8::/32", &rq), "DENY#1");
    assert_string_equal(deny_if("client=192.0.2.0/24", &rq), "ALLOW#0");
    rq.client = NULL;
    assert_string_equal(deny_if("client=0.0.0.0/0", &rq), "ALLOW#0");
}

static void test_every_condition_of_a_rule_must_match(void **state)
{
    struct tg_acl_request rq = req();
    const char *all = "user=alice host=*.example.com dest=93.184.216.0/24 port=443 "
                      "method=!CONNECT client=192.0.2.0/24";
    assert_string_equal(deny_if(all, &rq), "DENY#1");
    struct tg_acl_request miss[6];
    for (size_t i = 0; i < 6; i++)
        miss[i] = req();
    miss[0].user = "bob";
    miss[1].host = "www.example.org";
    miss[2].dest = sa("93.184.217.1");
    miss[3].port = 80;
    miss[4].is_connect = true;
    miss[5].client = sa("198.51.100.1");
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(deny_if(all, &miss[i]), "ALLOW#0");
}

/* ---- order and default ---- */

static void test_first_matching_rule_wins_and_is_reported(void **state)
{
    const char *rules[] = {
        "deny user=mallory", "allow user=alice port=443", "deny user=alice", "allow", NULL,
    };
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    assert_string_equal(verdict(acl, &rq), "ALLOW#2");
    rq.port = 80;
    assert_string_equal(verdict(acl, &rq), "DENY#3");
    rq.user = "bob";
    assert_string_equal(verdict(acl, &rq), "ALLOW#4");
    rq.user = "mallory";
    rq.port = 443;
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    /* The index is optional. */
    assert_int_equal(tg_acl_check(acl, &rq, NULL), TG_ACL_DENY_RULE);
    tg_acl_free(acl);
}

static void test_default_applies_when_no_rule_matches(void **state)
{
    const char *rules[] = {"allow user=alice", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    rq.user = "bob";
    assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    tg_acl_set_default(acl, false);
    assert_string_equal(verdict(acl, &rq), "DENY#0");
    rq.user = "alice";
    assert_string_equal(verdict(acl, &rq), "ALLOW#1");
    tg_acl_set_default(acl, true);
    rq.user = "bob";
    assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    tg_acl_free(acl);

    struct tg_acl *empty = tg_acl_new();
    assert_string_equal(verdict(empty, &rq), "ALLOW#0");
    tg_acl_set_default(empty, false);
    assert_string_equal(verdict(empty, &rq), "DENY#0");
    tg_acl_free(empty);
    tg_acl_free(NULL);
}

static void test_whitespace_around_and_between_words_is_ignored(void **state)
{
    const char *rules[] = {"  \tdeny\t user=alice    port=443\t ", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    rq.port = 80;
    assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    tg_acl_free(acl);
}

/* ---- parse errors ---- */

static void expect_refused(const char *text, const char *message)
{
    struct tg_acl *acl = tg_acl_new();
    char err[256] = "";
    if (tg_acl_add_rule(acl, text, err, sizeof err) != -1)
        fail_msg("rule '%s' was accepted", text);
    assert_string_equal(err, message);
    /* Nothing of a refused rule remains. */
    struct tg_acl_request rq = req();
    tg_acl_set_default(acl, false);
    assert_string_equal(verdict(acl, &rq), "DENY#0");
    tg_acl_free(acl);
}

static void test_rule_must_start_with_allow_or_deny(void **state)
{
    expect_refused("", "empty rule");
    expect_refused(" \t ", "empty rule");
    expect_refused("permit user=a", "rule must start with allow or deny, not 'permit'");
    expect_refused("Allow", "rule must start with allow or deny, not 'Allow'");
    expect_refused("user=a allow", "rule must start with allow or deny, not 'user=a'");
    expect_refused("allowed", "rule must start with allow or deny, not 'allowed'");
}

static void test_unknown_malformed_and_duplicate_conditions_are_refused(void **state)
{
    expect_refused("allow users=a", "unknown condition 'users=a'");
    expect_refused("allow User=a", "unknown condition 'User=a'");
    expect_refused("allow =a", "unknown condition '=a'");
    expect_refused("deny port", "bad condition 'port': expected KEY=VALUE");
    expect_refused("deny allow", "bad condition 'allow': expected KEY=VALUE");
    expect_refused("allow user=a user=b", "duplicate condition 'user=b'");
    expect_refused("allow port=80 host=a port=80", "duplicate condition 'port=80'");
    expect_refused("allow method=CONNECT method=CONNECT", "duplicate condition 'method=CONNECT'");
}

static void test_empty_lists_and_items_are_refused(void **state)
{
    const char *keys[] = {"user", "group", "host", "dest", "port", "client"};
    char rule[64], msg[128];
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        snprintf(rule, sizeof rule, "allow %s=", keys[i]);
        snprintf(msg, sizeof msg, "bad condition '%s=': empty list", keys[i]);
        expect_refused(rule, msg);
    }
    expect_refused("allow user=a,,b", "bad condition 'user=a,,b': empty item");
    expect_refused("allow user=a,", "bad condition 'user=a,': empty item");
    expect_refused("allow host=,a", "bad condition 'host=,a': empty item");
    expect_refused("allow port=80,", "bad condition 'port=80,': empty item");
    expect_refused("allow method=", "bad condition 'method=': expected CONNECT or !CONNECT");
}

static void test_bad_cidrs_are_refused(void **state)
{
    expect_refused("allow dest=10.0.0.1/8",
                   "bad condition 'dest=10.0.0.1/8': bad CIDR '10.0.0.1/8'");
    expect_refused("allow dest=10.0.0.0/33",
                   "bad condition 'dest=10.0.0.0/33': bad CIDR '10.0.0.0/33'");
    expect_refused("allow dest=10.0.0/8", "bad condition 'dest=10.0.0/8': bad CIDR '10.0.0/8'");
    expect_refused("allow dest=10.0.0.0/", "bad condition 'dest=10.0.0.0/': bad CIDR '10.0.0.0/'");
    expect_refused("allow dest=::/129", "bad condition 'dest=::/129': bad CIDR '::/129'");
    expect_refused("allow dest=[::1]", "bad condition 'dest=[::1]': bad CIDR '[::1]'");
    expect_refused("allow dest=example.com",
                   "bad condition 'dest=example.com': bad CIDR 'example.com'");
    expect_refused("allow client=10.0.0.0/8,300.0.0.0/8",
                   "bad condition 'client=10.0.0.0/8,300.0.0.0/8': bad CIDR '300.0.0.0/8'");
    expect_refused("allow client=fe80::1/10",
                   "bad condition 'client=fe80::1/10': bad CIDR 'fe80::1/10'");
}

static void test_bad_ports_and_ranges_are_refused(void **state)
{
    expect_refused("allow port=0", "bad condition 'port=0': bad port '0'");
    expect_refused("allow port=65536", "bad condition 'port=65536': bad port '65536'");
    expect_refused("allow port=100000", "bad condition 'port=100000': bad port '100000'");
    expect_refused("allow port=-1", "bad condition 'port=-1': bad port '-1'");
    expect_refused("allow port=+80", "bad condition 'port=+80': bad port '+80'");
    expect_refused("allow port=http", "bad condition 'port=http': bad port 'http'");
    expect_refused("allow port=80-", "bad condition 'port=80-': bad port '80-'");
    expect_refused("allow port=0-80", "bad condition 'port=0-80': bad port '0-80'");
    expect_refused("allow port=1-65536", "bad condition 'port=1-65536': bad port '1-65536'");
    expect_refused("allow port=1-2-3", "bad condition 'port=1-2-3': bad port '1-2-3'");
    expect_refused("allow port=443,90-80",
                   "bad condition 'port=443,90-80': reversed port range '90-80'");
}

static void test_bad_methods_hosts_and_names_are_refused(void **state)
{
    expect_refused("allow method=GET", "bad condition 'method=GET': expected CONNECT or !CONNECT");
    expect_refused("allow method=connect",
                   "bad condition 'method=connect': expected CONNECT or !CONNECT");
    expect_refused("allow method=CONNECT,!CONNECT",
                   "bad condition 'method=CONNECT,!CONNECT': expected CONNECT or !CONNECT");
    expect_refused("allow host=*", "bad condition 'host=*': bad host pattern '*'");
    expect_refused("allow host=*.", "bad condition 'host=*.': bad host pattern '*.'");
    expect_refused("allow host=*example.com",
                   "bad condition 'host=*example.com': bad host pattern '*example.com'");
    expect_refused("allow host=a.*.com",
                   "bad condition 'host=a.*.com': bad host pattern 'a.*.com'");
    expect_refused("allow host=a..com", "bad condition 'host=a..com': bad host pattern 'a..com'");
    expect_refused("allow host=.com", "bad condition 'host=.com': bad host pattern '.com'");
    expect_refused("allow host=*..com", "bad condition 'host=*..com': bad host pattern '*..com'");
    expect_refused("allow host=a.com..",
                   "bad condition 'host=a.com..': bad host pattern 'a.com..'");
    expect_refused("allow host=.", "bad condition 'host=.': bad host pattern '.'");
    expect_refused("allow host=a/b", "bad condition 'host=a/b': bad host pattern 'a/b'");
    expect_refused("allow user=a\x01", "bad condition 'user=a?': bad name 'a?'");
    expect_refused("allow group=a:b", "bad condition 'group=a:b': bad name 'a:b'");
}

static void test_too_many_items_rules_and_bytes_are_refused(void **state)
{
    /* 32 ports are accepted, 33 are not. */
    char rule[512] = "allow port=1";
    for (int p = 2; p <= TG_ACL_MAX_ITEMS; p++)
        snprintf(rule + strlen(rule), sizeof rule - strlen(rule), ",%d", p);
    struct tg_acl *acl = tg_acl_new();
    char err[256] = "";
    assert_int_equal(tg_acl_add_rule(acl, rule, err, sizeof err), 0);
    strcat(rule, ",33");
    assert_int_equal(tg_acl_add_rule(acl, rule, err, sizeof err), -1);
    assert_string_equal(err, "bad condition 'port=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
                             "19,20,21,22,23...': too many items (max 32)");
    tg_acl_free(acl);

    /* 256 rules are accepted, the 257th is not; the last one still decides. */
    acl = tg_acl_new();
    for (int i = 1; i < TG_ACL_MAX_RULES; i++)
        assert_int_equal(tg_acl_add_rule(acl, "deny user=nobody", err, sizeof err), 0);
    assert_int_equal(tg_acl_add_rule(acl, "deny user=alice", err, sizeof err), 0);
    assert_int_equal(tg_acl_add_rule(acl, "deny", err, sizeof err), -1);
    assert_string_equal(err, "too many rules (max 256)");
    struct tg_acl_request rq = req();
    assert_string_equal(verdict(acl, &rq), "DENY#256");
    tg_acl_free(acl);

    /* TG_ACL_RULE_MAX bytes are accepted, one more is not. */
    char *big = malloc(TG_ACL_RULE_MAX + 2);
    memset(big, ' ', TG_ACL_RULE_MAX + 1);
    memcpy(big, "deny", 4);
    big[TG_ACL_RULE_MAX] = '\0';
    acl = tg_acl_new();
    assert_int_equal(tg_acl_add_rule(acl, big, err, sizeof err), 0);
    big[TG_ACL_RULE_MAX] = ' ';
    big[TG_ACL_RULE_MAX + 1] = '\0';
    assert_int_equal(tg_acl_add_rule(acl, big, err, sizeof err), -1);
    assert_string_equal(err, "rule too long (max 4096 bytes)");
    free(big);
    tg_acl_free(acl);
}

static void test_error_buffer_is_optional_and_truncated(void **state)
{
    struct tg_acl *acl = tg_acl_new();
    assert_int_equal(tg_acl_add_rule(acl, "permit", NULL, 0), -1);
    char err[8];
    assert_int_equal(tg_acl_add_rule(acl, "permit", err, sizeof err), -1);
    assert_string_equal(err, "rule mu");
    tg_acl_free(acl);
}

/* ---- groups ---- */

static void test_group_condition_uses_htgroup_membership(void **state)
{
    const char *text = "# staff groups\n"
                       "\n"
                       "admins: alice  root\n"
                       "  \t\n"
                       "  devs:\tbob\talice \r\n"
                       "admins: carol\n"
                       "empty:\n"
                       "   # indented comment\n"
                       "ops:dave";
    const char *rules[] = {"deny group=admins", "allow group=devs,ops", NULL};
    struct tg_acl *acl = acl_of(rules);
    char path[64], err[256] = "";
    assert_int_equal(load_groups(acl, text, strlen(text), path, err, sizeof err), 0);
    assert_string_equal(err, "");

    struct tg_acl_request rq = req();
    tg_acl_set_default(acl, false);
    const struct {
        const char *user, *verdict;
    } cases[] = {
        {"alice", "DENY#1"}, {"root", "DENY#1"}, {"carol", "DENY#1"}, {"bob", "ALLOW#2"},
        {"dave", "ALLOW#2"}, {"eve", "DENY#0"},  {"Alice", "DENY#0"}, {"admins", "DENY#0"},
        {"", "DENY#0"},      {"bo", "DENY#0"},   {"bobx", "DENY#0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rq.user = cases[i].user;
        assert_string_equal(verdict(acl, &rq), cases[i].verdict);
    }
    rq.user = NULL;
    assert_string_equal(verdict(acl, &rq), "DENY#0");
    tg_acl_free(acl);
}

static void test_groups_reload_replaces_and_failed_load_keeps_previous(void **state)
{
    const char *rules[] = {"deny group=admins", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    char path[64], err[256];
    assert_string_equal(verdict(acl, &rq), "ALLOW#0"); /* no groups file: no members */
    assert_int_equal(load_groups(acl, "admins: alice\n", 14, path, err, sizeof err), 0);
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    assert_int_equal(load_groups(acl, "admins alice\n", 13, path, err, sizeof err), -1);
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    assert_int_equal(load_groups(acl, "admins: bob\n", 12, path, err, sizeof err), 0);
    assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    assert_int_equal(load_groups(acl, "", 0, path, err, sizeof err), 0);
    rq.user = "bob";
    assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    tg_acl_free(acl);
}

static void expect_groups_refused(const char *text, size_t len, const char *message)
{
    struct tg_acl *acl = tg_acl_new();
    char path[64], err[256] = "", expected[320];
    assert_int_equal(load_groups(acl, text, len, path, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s:%s", path, message);
    assert_string_equal(err, expected);
    tg_acl_free(acl);
}

static void test_bad_groups_files_are_refused_with_path_and_line(void **state)
{
    expect_groups_refused("admins alice\n", 13, "1: expected 'group: user ...'");
    expect_groups_refused("# c\n\nok: a\nbad\n", 15, "4: expected 'group: user ...'");
    expect_groups_refused(": alice\n", 8, "1: bad group name");
    expect_groups_refused("admins : alice\n", 15, "1: bad group name");
    expect_groups_refused("ad mins: alice\n", 15, "1: bad group name");
    expect_groups_refused("a,b: alice\n", 11, "1: bad group name");
    expect_groups_refused("ok: a\nadmins: alice bob:x\n", 26, "2: bad user name");
    expect_groups_refused("admins: alice\x01\n", 15, "1: bad user name");
    expect_groups_refused("admins: alice,bob\n", 18, "1: bad user name");
    expect_groups_refused("admins: alice\rbob\n", 18, "1: bad user name");
    expect_groups_refused("ok: a\nadmins: al\0ice\n", 21, "2: NUL byte");

    size_t len = TG_HTGROUP_LINE_MAX + 20;
    char *line = malloc(len);
    memcpy(line, "ok: a\nbig:", 10);
    memset(line + 10, 'u', len - 11);
    line[len - 1] = '\n';
    expect_groups_refused(line, len, "2: line too long");
    free(line);
}

static void test_missing_and_oversized_groups_files_are_refused(void **state)
{
    struct tg_acl *acl = tg_acl_new();
    char err[256] = "";
    assert_int_equal(tg_acl_load_groups(acl, "/nonexistent/groups", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/groups: No such file or directory");

    /* Exactly the limit loads; one byte more does not. */
    size_t len = TG_HTGROUP_MAX + 1;
    char *text = malloc(len);
    for (size_t i = 0; i < len; i++)
        text[i] = (i % 1000 == 999) ? '\n' : '#';
    char path[64], expected[128];
    assert_int_equal(load_groups(acl, text, len - 1, path, err, sizeof err), 0);
    assert_int_equal(load_groups(acl, text, len, path, err, sizeof err), -1);
    snprintf(expected, sizeof expected, "%s: file larger than %u bytes", path, TG_HTGROUP_MAX);
    assert_string_equal(err, expected);
    free(text);
    tg_acl_free(acl);
}

/* ---- SSRF guard ---- */

static const char *const guarded_addrs[] = {
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "169.254.0.1",
    "fe80::1",
    "febf::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "0.0.0.0",
    "0.1.2.3",
    "::",
    "::1",
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "255.255.255.255",
    "::ffff:224.0.0.1",
    "::ffff:0.0.0.0",
};

static const char *const public_addrs[] = {
    "93.184.216.34",   "2606:2800::1",
    "126.255.255.255", "128.0.0.1",
    "169.253.255.255", "169.255.0.1",
    "223.255.255.255", "240.0.0.1",
    "1.0.0.0",         "fec0::1",
    "fe7f:ffff::1",    "::2",
    "fe00::1",         "::ffff:93.184.216.34",
};

static void test_guard_knows_the_refused_ranges(void **state)
{
    struct tg_acl *acl = tg_acl_new();
    for (size_t i = 0; i < sizeof guarded_addrs / sizeof *guarded_addrs; i++) {
        if (!tg_acl_guarded(acl, sa(guarded_addrs[i])))
            fail_msg("%s not guarded", guarded_addrs[i]);
    }
    for (size_t i = 0; i < sizeof public_addrs / sizeof *public_addrs; i++) {
        if (tg_acl_guarded(acl, sa(public_addrs[i])))
            fail_msg("%s guarded", public_addrs[i]);
    }
    struct sockaddr_storage unix_sa = {.ss_family = AF_UNIX};
    assert_true(tg_acl_guarded(acl, (struct sockaddr *)&unix_sa));
    tg_acl_free(acl);
}

static void test_guard_refuses_internal_addresses_even_when_a_rule_allows_the_host(void **state)
{
    const char *rules[] = {"allow host=www.example.com", "allow port=443", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    const char *required[] = {"127.0.0.1",        "169.254.169.254", "fe80::1",
                              "::ffff:127.0.0.1", "0.0.0.0",         "224.0.0.1"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        rq.dest = sa(required[i]);
        assert_string_equal(verdict(acl, &rq), "SSRF#0");
    }
    for (size_t i = 0; i < sizeof guarded_addrs / sizeof *guarded_addrs; i++) {
        rq.dest = sa(guarded_addrs[i]);
        assert_string_equal(verdict(acl, &rq), "SSRF#0");
    }
    rq.host = "other.org";
    rq.dest = sa("127.0.0.1");
    assert_string_equal(verdict(acl, &rq), "SSRF#0");
    rq.port = 80; /* the default allows too */
    assert_string_equal(verdict(acl, &rq), "SSRF#0");
    tg_acl_free(acl);
}

static void test_public_addresses_pass_the_guard(void **state)
{
    const char *rules[] = {"allow host=www.example.com", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    for (size_t i = 0; i < sizeof public_addrs / sizeof *public_addrs; i++) {
        rq.dest = sa(public_addrs[i]);
        assert_string_equal(verdict(acl, &rq), "ALLOW#1");
    }
    rq.host = "other.org";
    rq.dest = sa("2606:2800::1");
    assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    tg_acl_free(acl);
}

static void test_deny_rules_are_decided_before_the_guard(void **state)
{
    const char *rules[] = {"deny user=alice", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    rq.dest = sa("127.0.0.1");
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    tg_acl_set_default(acl, false);
    rq.user = "bob";
    assert_string_equal(verdict(acl, &rq), "DENY#0");
    tg_acl_free(acl);
}

static void test_allow_rule_with_dest_covering_the_address_passes_the_guard(void **state)
{
    const char *rules[] = {
        "allow user=alice dest=127.0.0.0/8,fe80::/10,169.254.169.254",
        "allow dest=10.0.0.0/8",
        "allow user=bob",
        NULL,
    };
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    const char *named[] = {"127.0.0.1", "::ffff:127.0.0.1", "fe80::1", "169.254.169.254"};
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        rq.dest = sa(named[i]);
        assert_string_equal(verdict(acl, &rq), "ALLOW#1");
    }
    /* Not covered by rule 1's dest=: rule 2 misses, the default allows, the guard refuses. */
    const char *unnamed[] = {"169.254.0.1", "::1", "224.0.0.1", "0.0.0.0"};
    for (size_t i = 0; i < sizeof unnamed / sizeof *unnamed; i++) {
        rq.dest = sa(unnamed[i]);
        assert_string_equal(verdict(acl, &rq), "SSRF#0");
    }
    /* An allow rule without dest= does not lift the guard. */
    rq.user = "bob";
    rq.dest = sa("127.0.0.1");
    assert_string_equal(verdict(acl, &rq), "SSRF#0");
    rq.dest = sa("93.184.216.34");
    assert_string_equal(verdict(acl, &rq), "ALLOW#3");
    tg_acl_free(acl);
}

static void test_allow_destination_prefixes_pass_the_guard(void **state)
{
    struct tg_acl *acl = tg_acl_new();
    struct tg_cidr c = prefix("127.0.0.1");
    assert_int_equal(tg_acl_allow_destination(acl, &c), 0);
    c = prefix("fe80::/16");
    assert_int_equal(tg_acl_allow_destination(acl, &c), 0);
    c = prefix("::ffff:169.254.169.254");
    assert_int_equal(tg_acl_allow_destination(acl, &c), 0);

    struct tg_acl_request rq = req();
    const char *allowed[] = {"127.0.0.1", "::ffff:127.0.0.1", "fe80::1", "169.254.169.254",
                             "::ffff:169.254.169.254"};
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        rq.dest = sa(allowed[i]);
        assert_string_equal(verdict(acl, &rq), "ALLOW#0");
        assert_true(tg_acl_guarded(acl, rq.dest)); /* still a guarded range */
    }
    const char *refused[] = {"127.0.0.2", "fe81::1", "169.254.169.253", "::1"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        rq.dest = sa(refused[i]);
        assert_string_equal(verdict(acl, &rq), "SSRF#0");
    }
    /* A deny rule still wins over an allowed destination. */
    assert_int_equal(tg_acl_add_rule(acl, "deny port=443", NULL, 0), 0);
    rq.dest = sa("127.0.0.1");
    assert_string_equal(verdict(acl, &rq), "DENY#1");
    tg_acl_free(acl);
}

static void test_allow_destination_refuses_bad_prefixes_and_too_many(void **state)
{
    struct tg_acl *acl = tg_acl_new();
    struct tg_cidr c = prefix("10.0.0.0/8");
    c.bits = 33;
    errno = 0;
    assert_int_equal(tg_acl_allow_destination(acl, &c), -1);
    assert_int_equal(errno, EINVAL);
    c = prefix("::/0");
    c.bits = 129;
    assert_int_equal(tg_acl_allow_destination(acl, &c), -1);
    c.family = AF_UNIX;
    c.bits = 0;
    assert_int_equal(tg_acl_allow_destination(acl, &c), -1);
    c = prefix("127.0.0.1");
    for (int i = 0; i < TG_ACL_MAX_ALLOW_DEST; i++)
        assert_int_equal(tg_acl_allow_destination(acl, &c), 0);
    errno = 0;
    assert_int_equal(tg_acl_allow_destination(acl, &c), -1);
    assert_int_equal(errno, E2BIG);
    tg_acl_free(acl);
}

static void test_own_addresses_are_guarded(void **state)
{
    struct tg_acl *acl = tg_acl_new();
    struct tg_acl_request rq = req();
    rq.dest = sa("203.0.113.5");
    assert_false(tg_acl_guarded(acl, rq.dest));
    assert_int_equal(tg_acl_add_own_address(acl, sa("203.0.113.5")), 0);
    assert_int_equal(tg_acl_add_own_address(acl, sa("2001:db8::5")), 0);
    assert_int_equal(tg_acl_add_own_address(acl, sa("::ffff:198.51.100.9")), 0);
    assert_int_equal(tg_acl_add_own_address(acl, sa("203.0.113.5")), 0); /* repeat is fine */

    const char *own[] = {"203.0.113.5", "::ffff:203.0.113.5", "2001:db8::5", "198.51.100.9",
                         "::ffff:198.51.100.9"};
    for (size_t i = 0; i < sizeof own / sizeof *own; i++) {
        rq.dest = sa(own[i]);
        assert_true(tg_acl_guarded(acl, rq.dest));
        assert_string_equal(verdict(acl, &rq), "SSRF#0");
    }
    /* Exact address only: neighbours are not the proxy. */
    const char *others[] = {"203.0.113.4", "203.0.113.6", "2001:db8::6", "198.51.100.8"};
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        rq.dest = sa(others[i]);
        assert_string_equal(verdict(acl, &rq), "ALLOW#0");
    }
    /* Named explicitly, an own address is reachable. */
    assert_int_equal(tg_acl_add_rule(acl, "allow dest=203.0.113.5", NULL, 0), 0);
    rq.dest = sa("203.0.113.5");
    assert_string_equal(verdict(acl, &rq), "ALLOW#1");

    struct sockaddr_storage unix_sa = {.ss_family = AF_UNIX};
    errno = 0;
    assert_int_equal(tg_acl_add_own_address(acl, (struct sockaddr *)&unix_sa), -1);
    assert_int_equal(errno, EAFNOSUPPORT);
    tg_acl_free(acl);
}

/*
 * Every address of every interface, as getifaddrs reports them, is guarded;
 * returns how many of them only the own-address entries guard.
 */
static size_t expect_interfaces_guarded(const struct tg_acl *acl)
{
    struct tg_acl *plain = tg_acl_new();
    struct ifaddrs *list;
    size_t gained = 0;
    assert_int_equal(getifaddrs(&list), 0);
    for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr ||
            (ifa->ifa_addr->sa_family != AF_INET && ifa->ifa_addr->sa_family != AF_INET6))
            continue;
        char text[INET6_ADDRSTRLEN] = "";
        const void *a = ifa->ifa_addr->sa_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)ifa->ifa_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
        inet_ntop(ifa->ifa_addr->sa_family, a, text, sizeof text);
        if (!tg_acl_guarded(acl, ifa->ifa_addr))
            fail_msg("interface %s address %s not guarded", ifa->ifa_name, text);
        gained += !tg_acl_guarded(plain, ifa->ifa_addr);
    }
    freeifaddrs(list);
    tg_acl_free(plain);
    return gained;
}

static void test_unspecified_own_address_guards_every_interface_address(void **state)
{
    const char *wild[] = {"0.0.0.0", "::", "::ffff:0.0.0.0"};
    for (size_t i = 0; i < sizeof wild / sizeof *wild; i++) {
        struct tg_acl *acl = tg_acl_new();
        assert_int_equal(tg_acl_add_own_address(acl, sa(wild[i])), 0);
        size_t gained = expect_interfaces_guarded(acl);
        if (i == 0 && gained == 0)
            print_message("note: only loopback/link-local interface addresses here\n");
        assert_false(tg_acl_guarded(acl, sa("93.184.216.34")));
        tg_acl_free(acl);
    }
}

static void test_missing_destination_is_refused_by_the_guard(void **state)
{
    const char *rules[] = {"allow dest=0.0.0.0/0", "allow user=alice", NULL};
    struct tg_acl *acl = acl_of(rules);
    struct tg_acl_request rq = req();
    rq.dest = NULL;
    assert_string_equal(verdict(acl, &rq), "SSRF#0");
    tg_acl_free(acl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_without_conditions_matches_every_request),
        cmocka_unit_test(test_user_condition_matches_listed_names_case_sensitively),
        cmocka_unit_test(test_host_condition_matches_exact_names_ignoring_case_and_trailing_dot),
        cmocka_unit_test(test_wildcard_host_matches_subdomains_but_not_the_suffix_itself),
        cmocka_unit_test(test_dest_condition_matches_the_connected_address),
        cmocka_unit_test(test_port_condition_matches_ports_and_inclusive_ranges),
        cmocka_unit_test(test_method_condition_tells_tunnels_from_other_requests),
        cmocka_unit_test(test_client_condition_matches_the_client_address),
        cmocka_unit_test(test_every_condition_of_a_rule_must_match),
        cmocka_unit_test(test_first_matching_rule_wins_and_is_reported),
        cmocka_unit_test(test_default_applies_when_no_rule_matches),
        cmocka_unit_test(test_whitespace_around_and_between_words_is_ignored),
        cmocka_unit_test(test_rule_must_start_with_allow_or_deny),
        cmocka_unit_test(test_unknown_malformed_and_duplicate_conditions_are_refused),
        cmocka_unit_test(test_empty_lists_and_items_are_refused),
        cmocka_unit_test(test_bad_cidrs_are_refused),
        cmocka_unit_test(test_bad_ports_and_ranges_are_refused),
        cmocka_unit_test(test_bad_methods_hosts_and_names_are_refused),
        cmocka_unit_test(test_too_many_items_rules_and_bytes_are_refused),
        cmocka_unit_test(test_error_buffer_is_optional_and_truncated),
        cmocka_unit_test(test_group_condition_uses_htgroup_membership),
        cmocka_unit_test(test_groups_reload_replaces_and_failed_load_keeps_previous),
        cmocka_unit_test(test_bad_groups_files_are_refused_with_path_and_line),
        cmocka_unit_test(test_missing_and_oversized_groups_files_are_refused),
        cmocka_unit_test(test_guard_knows_the_refused_ranges),
        cmocka_unit_test(test_guard_refuses_internal_addresses_even_when_a_rule_allows_the_host),
        cmocka_unit_test(test_public_addresses_pass_the_guard),
        cmocka_unit_test(test_deny_rules_are_decided_before_the_guard),
        cmocka_unit_test(test_allow_rule_with_dest_covering_the_address_passes_the_guard),
        cmocka_unit_test(test_allow_destination_prefixes_pass_the_guard),
        cmocka_unit_test(test_allow_destination_refuses_bad_prefixes_and_too_many),
        cmocka_unit_test(test_own_addresses_are_guarded),
        cmocka_unit_test(test_unspecified_own_address_guards_every_interface_address),
        cmocka_unit_test(test_missing_destination_is_refused_by_the_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
