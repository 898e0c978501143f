/*
 * Unit tests for auth/authparam: the RFC 9110 §11.2 auth-param list as
 * clients send it (quoted or not, OWS, empty elements, escapes, commas and
 * '=' inside quotes), case-insensitive lookup, and every rejection: bare
 * tokens and token68, lone and unterminated quotes, junk after a value,
 * control bytes, duplicates, and the count and size limits at their edges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authparam.h"

static struct tg_authparams ps; /* 4 KiB: static rather than on each test's stack */

static int parse_n(const char *in, size_t len, const char **why)
{
    struct tg_str s = {in, len};
    *why = "untouched";
    return tg_authparam_parse(s, &ps, why);
}

static void expect_ok(const char *in, size_t n)
{
    const char *why;
    if (parse_n(in, strlen(in), &why) != 0)
        fail_msg("rejected [%s]: %s", in, why);
    assert_string_equal(why, "untouched");
    assert_int_equal(ps.n, n);
}

static void expect_bad_n(const char *in, size_t len, const char *reason)
{
    const char *why;
    ps.n = 99;
    if (parse_n(in, len, &why) != -1)
        fail_msg("accepted [%.*s]", (int)len, in);
    assert_string_equal(why, reason);
    assert_int_equal(ps.n, 0);
}

static void expect_bad(const char *in, const char *reason)
{
    expect_bad_n(in, strlen(in), reason);
}

static void expect_param(size_t i, const char *name, const char *value, bool quoted)
{
    assert_true(i < ps.n);
    assert_int_equal(ps.p[i].name.len, strlen(name));
    assert_memory_equal(ps.p[i].name.p, name, strlen(name));
    assert_int_equal(ps.p[i].value.len, strlen(value));
    if (*value)
        assert_memory_equal(ps.p[i].value.p, value, strlen(value));
    assert_int_equal(ps.p[i].quoted, quoted);
}

static void test_typical_digest_answer(void **state)
{
    const char *in = "username=\"Mufasa\", realm=\"http-auth@example.org\", "
                     "uri=\"/dir/index.html\", algorithm=MD5, nc=00000001, qop=auth, "
                     "cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\"";
    expect_ok(in, 7);
    expect_param(0, "username", "Mufasa", true);
    expect_param(1, "realm", "http-auth@example.org", true);
    expect_param(2, "uri", "/dir/index.html", true);
    expect_param(3, "algorithm", "MD5", false);
    expect_param(4, "nc", "00000001", false);
    expect_param(5, "qop", "auth", false);
    expect_param(6, "cnonce", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", true);
}

/* Names and token values are views of the input; quoted values live in buf. */
static void test_views_point_into_input_or_buf(void **state)
{
    const char *in = "a=tok, b=\"q\"";
    expect_ok(in, 2);
    assert_ptr_equal(ps.p[0].name.p, in);
    assert_ptr_equal(ps.p[0].value.p, in + 2);
    assert_ptr_equal(ps.p[1].name.p, in + 7);
    assert_ptr_equal(ps.p[1].value.p, ps.buf);
}

static void test_quoted_pairs_are_unescaped(void **state)
{
    expect_ok("a=\"x\\\"y\\\\z\"", 1);
    expect_param(0, "a", "x\"y\\z", true);
    expect_ok("a=\"\\a\\,\\ \"", 1); /* any VCHAR or SP may be escaped (§5.6.4) */
    expect_param(0, "a", "a, ", true);
    expect_ok("a=\"\\\\\", b=\"\\\"\"", 2); /* a = one backslash, b = one quote */
    expect_param(0, "a", "\\", true);
    expect_param(1, "b", "\"", true);
}

static void test_commas_and_equals_inside_quotes(void **state)
{
    expect_ok("uri=\"/p?a=1,b=2\", x=\"=,=\", y=z", 3);
    expect_param(0, "uri", "/p?a=1,b=2", true);
    expect_param(1, "x", "=,=", true);
    expect_param(2, "y", "z", false);
}

static void test_ows_around_equals_and_commas(void **state)
{
    expect_ok("  a = b ,\tc\t=\t\"d e\"\t, e=f  ", 3);
    expect_param(0, "a", "b", false);
    expect_param(1, "c", "d e", true);
    expect_param(2, "e", "f", false);
    expect_ok("a=\"\tx\t\"", 1); /* HTAB is qdtext */
    expect_param(0, "a", "\tx\t", true);
}

static void test_empty_list_elements_are_skipped(void **state)
{
    expect_ok(", ,a=b,,, c=d ,", 2);
    expect_param(0, "a", "b", false);
    expect_param(1, "c", "d", false);
    expect_ok("", 0);
    expect_ok(" \t ", 0);
    expect_ok(",", 0);
    expect_ok(" , , ", 0);
    const char *why = "untouched";
    struct tg_str none = {NULL, 0};
    assert_int_equal(tg_authparam_parse(none, &ps, &why), 0);
    assert_int_equal(ps.n, 0);
}

static void test_empty_quoted_value_is_allowed(void **state)
{
    expect_ok("opaque=\"\", a=\"\"", 2);
    expect_param(0, "opaque", "", true);
    expect_param(1, "a", "", true);
    assert_non_null(ps.p[0].value.p); /* present-but-empty differs from absent */
}

static void test_token_characters(void **state)
{
    expect_ok("!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz", 1);
    expect_param(0, "!#$%&'*+-.^_`|~09AZaz", "!#$%&'*+-.^_`|~09AZaz", false);
}

static void test_lookup_is_case_insensitive(void **state)
{
    expect_ok("UserName=\"u\", qop=auth", 2);
    const struct tg_authparam *p = tg_authparam_get(&ps, "username");
    assert_ptr_equal(p, &ps.p[0]);
    assert_ptr_equal(tg_authparam_get(&ps, "USERNAME"), &ps.p[0]);
    assert_ptr_equal(tg_authparam_get(&ps, "QOP"), &ps.p[1]);
    assert_null(tg_authparam_get(&ps, "user"));
    assert_null(tg_authparam_get(&ps, "usernamex"));
    assert_null(tg_authparam_get(&ps, ""));
    assert_null(tg_authparam_get(NULL, "qop"));
}

static void test_duplicates_are_rejected(void **state)
{
    expect_bad("a=1, a=2", "duplicate_param");
    expect_bad("a=1, a=1", "duplicate_param");
    expect_bad("realm=\"x\", Realm=\"x\"", "duplicate_param");
    expect_bad("nc=00000001, b=c, NC=00000002", "duplicate_param");
    expect_bad("a=\"\", A=\"\"", "duplicate_param");
}

/* Squid's 2019 Digest overflow: a value that is one '"'. */
static void test_lone_quote_is_rejected(void **state)
{
    expect_bad("\"", "malformed");
    expect_bad("a=\"", "malformed");
    expect_bad("a=\", b=c", "malformed"); /* the quote swallows the rest, never closes */
    expect_bad("a=b, \"", "malformed");
    expect_bad("a=b\"", "malformed");
}

static void test_unterminated_quote_is_rejected(void **state)
{
    expect_bad("a=\"abc", "malformed");
    expect_bad("a=\"abc\\\"", "malformed"); /* the closing quote is escaped */
    expect_bad("a=\"abc\\", "malformed");   /* input ends after a backslash */
    expect_bad("a=\"x\", b=\"y", "malformed");
}

static void test_token68_and_bare_tokens_are_rejected(void **state)
{
    expect_bad("QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "malformed");
    expect_bad("dXNlcjpwYXNz", "malformed");
    expect_bad("abc=", "malformed");
    expect_bad("abc==", "malformed");
    expect_bad("a", "malformed");
    expect_bad("a=b, c", "malformed");
    expect_bad("a=b, c ,d=e", "malformed");
    expect_bad("=b", "malformed");
    expect_bad(" = ", "malformed");
}

static void test_junk_after_a_value_is_rejected(void **state)
{
    expect_bad("a=\"x\"y", "malformed");
    expect_bad("a=\"x\" y, b=c", "malformed");
    expect_bad("a=\"x\"\"y\"", "malformed");
    expect_bad("a=\"x\"=", "malformed");
    expect_bad("a=b c=d", "malformed");
    expect_bad("a=b;c=d", "malformed");
    expect_bad("a=b=c", "malformed");
}

static void test_value_neither_token_nor_quoted_is_rejected(void **state)
{
    expect_bad("a=", "malformed");
    expect_bad("a= , b=c", "malformed");
    expect_bad("a=@", "malformed");
    expect_bad("a=(x)", "malformed");
    expect_bad("a=/path", "malformed");
    expect_bad("a=\\\"x\\\"", "malformed");
    expect_bad("a=x\xc3\xa4", "malformed"); /* obs-text is not tchar */
    expect_bad("a\xc3\xa4=x", "malformed");
}

static void test_control_bytes_are_rejected(void **state)
{
    expect_bad_n("a=\"x\0y\"", 7, "malformed");
    expect_bad_n("a=x\0", 4, "malformed");
    expect_bad_n("a\0=x", 4, "malformed");
    expect_bad("a=\"x\ry\"", "malformed");
    expect_bad("a=\"x\ny\"", "malformed");
    expect_bad("a=\"x\r\n y\"", "malformed");
    expect_bad("a=\"x\x01y\"", "malformed");
    expect_bad("a=\"x\x7fy\"", "malformed");
    expect_bad("a=\"x\\\x7f\"", "malformed"); /* not even escaped */
    expect_bad("a=\"x\\\ny\"", "malformed");
    expect_bad("a=b,\r\n c=d", "malformed");
    expect_bad("a=b\x0b", "malformed");
}

/* obs-text (0x80-0xFF) is allowed in quoted strings: UTF-8 user names. */
static void test_obs_text_in_quoted_value(void **state)
{
    expect_ok("username=\"J\xc3\xa4s\xc3\xb8n Doe\"", 1);
    expect_param(0, "username", "J\xc3\xa4s\xc3\xb8n Doe", true);
    expect_ok("a=\"\\\xff\"", 1);
    expect_param(0, "a", "\xff", true);
}

static void test_parameter_count_limit(void **state)
{
    char in[TG_AUTHPARAM_MAX * 8 + 16];
    size_t len = 0;
    for (int i = 0; i < TG_AUTHPARAM_MAX; i++)
        len += (size_t)sprintf(in + len, "%sp%d=v", i ? "," : "", i);
    expect_ok(in, TG_AUTHPARAM_MAX);
    expect_param(TG_AUTHPARAM_MAX - 1, "p23", "v", false);
    sprintf(in + len, ",p%d=v", TG_AUTHPARAM_MAX);
    expect_bad(in, "too_many_params");
    sprintf(in + len, ",,, ,"); /* empty elements do not count */
    expect_ok(in, TG_AUTHPARAM_MAX);
}

/* TG_AUTHPARAM_BUF bounds the unescaped quoted bytes of all values together. */
static void test_unescaped_size_limit(void **state)
{
    static char in[2 * TG_AUTHPARAM_BUF + 64];
    size_t half = TG_AUTHPARAM_BUF / 2;
    /* Two quoted values filling buf exactly, then one byte more. */
    int len = sprintf(in, "a=\"%0*d\", b=\"%0*d\"", (int)half, 0, (int)half, 0);
    expect_ok(in, 2);
    assert_int_equal(ps.p[1].value.len, half);
    assert_ptr_equal(ps.p[1].value.p + half, ps.buf + TG_AUTHPARAM_BUF);
    sprintf(in + len, ", c=\"\""); /* an empty value still fits a full buf */
    expect_ok(in, 3);
    sprintf(in + len, ", c=\"x\"");
    expect_bad(in, "too_long");
    /* Token values are not copied, so they do not count. */
    sprintf(in + len, ", c=x");
    expect_ok(in, 3);
    /* The limit is on unescaped bytes: 4096 escaped pairs fit. */
    len = sprintf(in, "a=\"");
    for (size_t i = 0; i < TG_AUTHPARAM_BUF; i++)
        len += sprintf(in + len, "\\x");
    sprintf(in + len, "\"");
    expect_ok(in, 1);
    assert_int_equal(ps.p[0].value.len, TG_AUTHPARAM_BUF);
    assert_int_equal(ps.p[0].value.p[TG_AUTHPARAM_BUF - 1], 'x');
    sprintf(in + len, "x\"");
    expect_bad(in, "too_long");
}

/* A failed parse leaves nothing to look up, whatever came before the error. */
static void test_failure_leaves_no_params(void **state)
{
    expect_bad("a=1, b=2, junk", "malformed");
    assert_null(tg_authparam_get(&ps, "a"));
    const char *why = NULL;
    struct tg_str s = tg_str_c("a=\"");
    assert_int_equal(tg_authparam_parse(s, &ps, NULL), -1); /* why may be NULL */
    assert_int_equal(tg_authparam_parse(s, &ps, &why), -1);
    assert_string_equal(why, "malformed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typical_digest_answer),
        cmocka_unit_test(test_views_point_into_input_or_buf),
        cmocka_unit_test(test_quoted_pairs_are_unescaped),
        cmocka_unit_test(test_commas_and_equals_inside_quotes),
        cmocka_unit_test(test_ows_around_equals_and_commas),
        cmocka_unit_test(test_empty_list_elements_are_skipped),
        cmocka_unit_test(test_empty_quoted_value_is_allowed),
        cmocka_unit_test(test_token_characters),
        cmocka_unit_test(test_lookup_is_case_insensitive),
        cmocka_unit_test(test_duplicates_are_rejected),
        cmocka_unit_test(test_lone_quote_is_rejected),
        cmocka_unit_test(test_unterminated_quote_is_rejected),
        cmocka_unit_test(test_token68_and_bare_tokens_are_rejected),
        cmocka_unit_test(test_junk_after_a_value_is_rejected),
        cmocka_unit_test(test_value_neither_token_nor_quoted_is_rejected),
        cmocka_unit_test(test_control_bytes_are_rejected),
        cmocka_unit_test(test_obs_text_in_quoted_value),
        cmocka_unit_test(test_parameter_count_limit),
        cmocka_unit_test(test_unescaped_size_limit),
        cmocka_unit_test(test_failure_leaves_no_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
