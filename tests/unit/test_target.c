/* Unit tests for src/http/target.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/target.h"

static struct tg_target t;
static struct tg_http_error err;

static int parse(const char *s, bool connect)
{
    err.status = 0;
    err.reason = NULL;
    return tg_target_parse(tg_str_c(s), connect, &t, &err);
}

static void assert_view(struct tg_str v, const char *want)
{
    assert_int_equal(v.len, strlen(want));
    assert_memory_equal(v.p, want, v.len);
}

static void assert_absolute(const char *s, const char *host, unsigned port, const char *path)
{
    assert_int_equal(parse(s, false), 0);
    assert_int_equal(t.form, TG_TARGET_ABSOLUTE);
    assert_view(t.host, host);
    assert_false(t.host_is_ipv6);
    assert_int_equal(t.port, port);
    assert_view(t.path, path);
}

static void assert_ipv6(const char *s, const char *host, unsigned port, const char *path)
{
    assert_int_equal(parse(s, false), 0);
    assert_int_equal(t.form, TG_TARGET_ABSOLUTE);
    assert_view(t.host, host);
    assert_true(t.host_is_ipv6);
    assert_int_equal(t.port, port);
    assert_view(t.path, path);
}

static void assert_rejected(const char *s, const char *reason)
{
    assert_int_equal(parse(s, false), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.reason, reason);
}

static void assert_connect(const char *s, const char *host, bool ipv6, unsigned port)
{
    assert_int_equal(parse(s, true), 0);
    assert_int_equal(t.form, TG_TARGET_AUTHORITY);
    assert_view(t.host, host);
    assert_int_equal(t.host_is_ipv6, ipv6);
    assert_int_equal(t.port, port);
    assert_int_equal(t.path.len, 0);
}

static void assert_connect_rejected(const char *s)
{
    assert_int_equal(parse(s, true), -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.reason, "bad_connect_target");
}

static void test_absolute_form_gives_views_into_the_target(void **state)
{
    const char *s = "http://example.com/a/b?c=d";
    assert_absolute(s, "example.com", 80, "/a/b?c=d");
    assert_ptr_equal(t.host.p, s + 7);
    assert_ptr_equal(t.path.p, s + 18);
    assert_absolute("http://192.0.2.7:3128/x", "192.0.2.7", 3128, "/x");
    assert_absolute("http://a_b-c.example~/", "a_b-c.example~", 80, "/");
}

static void test_scheme_is_case_insensitive_and_host_keeps_its_case(void **state)
{
    assert_absolute("HTTP://Example.COM/Path", "Example.COM", 80, "/Path");
    assert_absolute("hTtP://h/", "h", 80, "/");
}

static void test_empty_path_becomes_slash(void **state)
{
    assert_absolute("http://example.com", "example.com", 80, "/");
    assert_absolute("http://example.com:8080", "example.com", 8080, "/");
    assert_ipv6("http://[::1]", "::1", 80, "/");
    /* Only the fragment after it: still no path. */
    assert_absolute("http://example.com#top", "example.com", 80, "/");
}

static void test_query_without_path_is_kept_for_the_caller_to_prefix(void **state)
{
    assert_absolute("http://h?q=1", "h", 80, "?q=1");
    assert_absolute("http://h:81?", "h", 81, "?");
}

static void test_fragment_is_dropped(void **state)
{
    assert_absolute("http://h/p#frag", "h", 80, "/p");
    assert_absolute("http://h/p?q=1#f?g/h", "h", 80, "/p?q=1");
    /* '@' and ':' after the authority are path bytes, not userinfo or port. */
    assert_absolute("http://h/u@v:w", "h", 80, "/u@v:w");
}

static void test_percent_encoding_is_checked_not_decoded(void **state)
{
    assert_absolute("http://a%2Db.example/%7Euser", "a%2Db.example", 80, "/%7Euser");
    assert_rejected("http://a%2/", "invalid_host");
    assert_rejected("http://a%/", "invalid_host");
    assert_rejected("http://a%zz/", "invalid_host");
}

static void test_ports(void **state)
{
    assert_absolute("http://h:1/", "h", 1, "/");
    assert_absolute("http://h:65535/", "h", 65535, "/");
    assert_absolute("http://h:00080/", "h", 80, "/");
    /* RFC 3986 §3.2.3: an empty port means the scheme's default. */
    assert_absolute("http://h:/", "h", 80, "/");
    assert_rejected("http://h:0/", "invalid_port");
    assert_rejected("http://h:65536/", "invalid_port");
    assert_rejected("http://h:99999/", "invalid_port");
    assert_rejected("http://h:000080/", "invalid_port");
    assert_rejected("http://h:8o/", "invalid_port");
    assert_rejected("http://h:-1/", "invalid_port");
    assert_rejected("http://h:+80/", "invalid_port");
    assert_rejected("http://h:80:81/", "invalid_port");
    assert_rejected("http://[::1]:65536/", "invalid_port");
}

static void test_ipv6_literals(void **state)
{
    const char *s = "http://[2001:db8::1]:8080/x";
    assert_ipv6(s, "2001:db8::1", 8080, "/x");
    assert_ptr_equal(t.host.p, s + 8);
    assert_ipv6("http://[::1]/", "::1", 80, "/");
    assert_ipv6("http://[::ffff:192.0.2.1]/", "::ffff:192.0.2.1", 80, "/");
    assert_ipv6("http://[::1]:/", "::1", 80, "/");
    assert_ipv6("http://[FE80::A]?x", "FE80::A", 80, "?x");
}

static void test_bad_ipv6_literals(void **state)
{
    assert_rejected("http://[::1/", "invalid_host");
    assert_rejected("http://[::1]x/", "invalid_host");
    assert_rejected("http://[::1]]/", "invalid_host");
    assert_rejected("http://[]/", "invalid_host");
    assert_rejected("http://[::g]/", "invalid_host");
    assert_rejected("http://[1:2:3:4:5:6:7:8:9]/", "invalid_host");
    assert_rejected("http://[12345::]/", "invalid_host");
    assert_rejected("http://[192.0.2.1]/", "invalid_host");
    /* Zone ids (RFC 6874) name an interface on our side: refused. */
    assert_rejected("http://[fe80::1%25eth0]/", "invalid_host");
    assert_rejected("http://[v1.fe80::a]/", "invalid_host");
    assert_rejected("http://::1/", "empty_host");
}

static void test_bad_hosts(void **state)
{
    assert_rejected("http:///x", "empty_host");
    assert_rejected("http://", "empty_host");
    assert_rejected("http://:80/", "empty_host");
    assert_rejected("http://?q", "empty_host");
    assert_rejected("http://a<b/", "invalid_host");
    assert_rejected("http://a\\b/", "invalid_host");
    assert_rejected("http://a\"b/", "invalid_host");
    assert_rejected("http://a[b]/", "invalid_host");
}

static void test_userinfo_is_rejected(void **state)
{
    assert_rejected("http://user@example.com/", "userinfo_in_target");
    assert_rejected("http://user:pass@example.com:8080/", "userinfo_in_target");
    assert_rejected("http://@example.com/", "userinfo_in_target");
    assert_rejected("http://example.com@evil.example/", "userinfo_in_target");
    assert_rejected("http://good.example\\@evil.example/", "userinfo_in_target");
    assert_rejected("http://[::1]@evil/", "userinfo_in_target");
}

static void test_other_schemes(void **state)
{
    assert_rejected("https://example.com/", "unsupported_scheme");
    assert_rejected("HTTPS://example.com:443/", "unsupported_scheme");
    assert_rejected("ftp://example.com/", "unsupported_scheme");
    assert_rejected("ws://example.com/", "unsupported_scheme");
    assert_rejected("httpx://example.com/", "unsupported_scheme");
    assert_rejected("htt://example.com/", "unsupported_scheme");
    assert_rejected("a+b-c.d://example.com/", "unsupported_scheme");
}

static void test_malformed_targets(void **state)
{
    assert_rejected("", "bad_target");
    assert_rejected("http:/example.com/", "bad_target");
    assert_rejected("http:example.com", "bad_target");
    assert_rejected("http//example.com/", "bad_target");
    assert_rejected("1http://example.com/", "bad_target");
    assert_rejected("://example.com/", "bad_target");
    assert_rejected("example.com:80", "bad_target");
    assert_rejected("example.com/", "bad_target");
    assert_rejected("**", "bad_target");
    assert_rejected("http://h/a\x7f", "bad_target");
    assert_rejected("http://h/a b", "bad_target");
}

static void test_origin_and_asterisk_forms(void **state)
{
    const char *s = "/index.html?x=1";
    assert_int_equal(parse(s, false), 0);
    assert_int_equal(t.form, TG_TARGET_ORIGIN);
    assert_ptr_equal(t.path.p, s);
    assert_int_equal(t.path.len, strlen(s));
    assert_int_equal(t.host.len, 0);
    assert_int_equal(t.port, 0);

    assert_int_equal(parse("*", false), 0);
    assert_int_equal(t.form, TG_TARGET_ASTERISK);
    assert_int_equal(t.host.len, 0);
    assert_int_equal(t.path.len, 0);
    assert_int_equal(t.port, 0);
}

static void test_connect_authority_form(void **state)
{
    const char *s = "example.com:443";
    assert_connect(s, "example.com", false, 443);
    assert_ptr_equal(t.host.p, s);
    assert_connect("192.0.2.1:8443", "192.0.2.1", false, 8443);
    assert_connect("[2001:db8::1]:443", "2001:db8::1", true, 443);
    assert_connect("EXAMPLE.com:65535", "EXAMPLE.com", false, 65535);
    assert_connect("h:1", "h", false, 1);
}

static void test_connect_needs_host_and_port_and_nothing_else(void **state)
{
    assert_connect_rejected("example.com");
    assert_connect_rejected("example.com:");
    assert_connect_rejected("[::1]");
    assert_connect_rejected("[::1]:");
    assert_connect_rejected(":443");
    assert_connect_rejected("");
    assert_connect_rejected("example.com:0");
    assert_connect_rejected("example.com:65536");
    assert_connect_rejected("example.com:https");
    assert_connect_rejected("example.com:443/");
    assert_connect_rejected("http://example.com:443");
    assert_connect_rejected("http://example.com:443/");
    assert_connect_rejected("user@example.com:443");
    assert_connect_rejected("user:pw@example.com:443");
    assert_connect_rejected("/path");
    assert_connect_rejected("*");
    assert_connect_rejected("[::1:443");
    assert_connect_rejected("::1:443");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute_form_gives_views_into_the_target),
        cmocka_unit_test(test_scheme_is_case_insensitive_and_host_keeps_its_case),
        cmocka_unit_test(test_empty_path_becomes_slash),
        cmocka_unit_test(test_query_without_path_is_kept_for_the_caller_to_prefix),
        cmocka_unit_test(test_fragment_is_dropped),
        cmocka_unit_test(test_percent_encoding_is_checked_not_decoded),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_ipv6_literals),
        cmocka_unit_test(test_bad_ipv6_literals),
        cmocka_unit_test(test_bad_hosts),
        cmocka_unit_test(test_userinfo_is_rejected),
        cmocka_unit_test(test_other_schemes),
        cmocka_unit_test(test_malformed_targets),
        cmocka_unit_test(test_origin_and_asterisk_forms),
        cmocka_unit_test(test_connect_authority_form),
        cmocka_unit_test(test_connect_needs_host_and_port_and_nothing_else),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
