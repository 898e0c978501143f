/*
 * Unit tests for policy/htgroup: membership, reload swapping the table,
 * and a broken file on reload keeping the old one (SIGHUP semantics).
 * Parsing details are covered through the acl tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/htgroup.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static bool member(struct tg_htgroup *g, const char *group, const char *user)
{
    return tg_htgroup_is_member(g, tg_str_c(group), tg_str_c(user));
}

static void test_reload_swaps_and_a_broken_file_keeps_the_old_table(void **state)
{
    char path[] = "/tmp/tg_test_htgroup_XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "staff: alice bob\n# comment\nadmins: bob\n");
    struct tg_htgroup *g = tg_htgroup_load(path, err, sizeof err);
    assert_non_null(g);
    assert_int_equal(tg_htgroup_count(g), 3);
    assert_true(member(g, "staff", "alice"));
    assert_true(member(g, "admins", "bob"));
    assert_false(member(g, "admins", "alice"));
    assert_false(member(g, "Staff", "alice")); /* names are case-sensitive */

    write_file(path, "admins: alice\n");
    assert_int_equal(tg_htgroup_reload(g, err, sizeof err), 0);
    assert_true(member(g, "admins", "alice"));
    assert_false(member(g, "staff", "alice"));
    assert_int_equal(tg_htgroup_count(g), 1);

    write_file(path, "admins alice\n");
    assert_int_equal(tg_htgroup_reload(g, err, sizeof err), -1);
    assert_non_null(strstr(err, ":1: expected 'group: user ...'"));
    assert_true(member(g, "admins", "alice"));

    unlink(path);
    assert_int_equal(tg_htgroup_reload(g, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_true(member(g, "admins", "alice"));
    tg_htgroup_free(g);
}

static void test_no_table_has_no_members(void **state)
{
    assert_false(member(NULL, "staff", "alice"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_swaps_and_a_broken_file_keeps_the_old_table),
        cmocka_unit_test(test_no_table_has_no_members),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
