/*
 * Unit tests for cred/htpasswd: loading good files (comments, blank lines,
 * CRLF, colons after the first), every load error with its
 * "PATH:LINE: problem" message, exact case-sensitive lookup, and create()
 * followed by load() and a password check. Files live in a fresh temporary
 * directory per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cred/htpasswd.h"
#include "cred/passhash.h"

#define H1 "$2y$05$DMSuiSXNrcz8S3s5TuOFfujR7GDQuyDI0qnIPK1HqoXm.hgHY0B32" /* "secret" */
#define H2 "$apr1$AH42xRYQ$jwCGgclCh1uUoakbMnpTV/"                         /* "secret" */
#define H3 "{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ="                               /* "secret" */

struct tmp {
    char dir[64];
    char path[128];
    char err[512];
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tg_htpasswd_XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->path, sizeof t->path, "%s/users", t->dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Writes text to the test's file and loads it. */
static int load_text(struct tmp *t, const char *text, size_t len, struct tg_htpasswd **h)
{
    write_file(t->path, text, len);
    t->err[0] = '\0';
    return tg_htpasswd_load(t->path, h, t->err, sizeof t->err);
}

static const char *lookup(const struct tg_htpasswd *h, const char *user)
{
    return tg_htpasswd_lookup(h, user, strlen(user));
}

static void test_loads_users_comments_and_blank_lines(void **state)
{
    struct tmp *t = *state;
    const char text[] = "# users\n"
                        "\n"
                        "alice:" H1 "\n"
                        "   \n"
                        "  # indented comment\n"
                        "bob:" H2 "\n"
                        "carol smith:" H3; /* no final newline */
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, text, sizeof text - 1, &h), 0);
    assert_non_null(h);
    assert_int_equal(tg_htpasswd_count(h), 3);
    assert_string_equal(lookup(h, "alice"), H1);
    assert_string_equal(lookup(h, "bob"), H2);
    assert_string_equal(lookup(h, "carol smith"), H3);
    assert_int_equal(tg_passhash_verify(lookup(h, "bob"), "secret", 6), TG_PASSHASH_MATCH);
    tg_htpasswd_free(h);
}

static void test_lookup_is_exact_and_case_sensitive(void **state)
{
    struct tmp *t = *state;
    const char text[] = "alice:" H1 "\nAlice:" H2 "\nal:" H3 "\n";
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, text, sizeof text - 1, &h), 0);
    assert_int_equal(tg_htpasswd_count(h), 3);
    assert_string_equal(lookup(h, "alice"), H1);
    assert_string_equal(lookup(h, "Alice"), H2);
    assert_string_equal(lookup(h, "al"), H3);
    assert_null(lookup(h, "ALICE"));
    assert_null(lookup(h, "alic"));
    assert_null(lookup(h, "alicee"));
    assert_null(lookup(h, "a"));
    assert_null(lookup(h, ""));
    assert_null(lookup(h, "alice:"));
    /* The length, not a NUL, ends the name. */
    assert_string_equal(tg_htpasswd_lookup(h, "alice:secret", 5), H1);
    assert_null(tg_htpasswd_lookup(h, "alice\0", 6));
    tg_htpasswd_free(h);
}

static void test_crlf_line_endings_are_accepted(void **state)
{
    struct tmp *t = *state;
    const char text[] = "# windows\r\n\r\nalice:" H1 "\r\nbob:" H3 "\r\n";
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, text, sizeof text - 1, &h), 0);
    assert_int_equal(tg_htpasswd_count(h), 2);
    assert_string_equal(lookup(h, "alice"), H1);
    assert_string_equal(lookup(h, "bob"), H3);
    tg_htpasswd_free(h);
}

static void test_user_is_split_on_the_first_colon(void **state)
{
    struct tmp *t = *state;
    const char text[] = "alice:weird:hash\n";
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, text, sizeof text - 1, &h), 0);
    assert_string_equal(lookup(h, "alice"), "weird:hash");
    assert_null(lookup(h, "alice:weird"));
    tg_htpasswd_free(h);
}

static void test_empty_file_has_no_users(void **state)
{
    struct tmp *t = *state;
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, "", 0, &h), 0);
    assert_int_equal(tg_htpasswd_count(h), 0);
    assert_null(lookup(h, "alice"));
    tg_htpasswd_free(h);
    assert_int_equal(load_text(t, "# only a comment\n", 17, &h), 0);
    assert_int_equal(tg_htpasswd_count(h), 0);
    tg_htpasswd_free(h);
}

/* Loads text, expects failure with "PATH:" + want as the message. */
static void expect_error(struct tmp *t, const char *text, size_t len, const char *want)
{
    struct tg_htpasswd *h = (struct tg_htpasswd *)1;
    int rc = load_text(t, text, len, &h);
    assert_int_equal(rc, -EINVAL);
    assert_null(h);
    char full[512];
    snprintf(full, sizeof full, "%s:%s", t->path, want);
    assert_string_equal(t->err, full);
}

static void test_each_bad_line_is_reported_with_its_number(void **state)
{
    struct tmp *t = *state;
    static const struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"alice:" H1 "\nbob\n", "2: missing ':'"},
        {"# c\n\n:" H1 "\n", "3: empty user name"},
        {"alice:\n", "1: empty hash"},
        {"alice:\r\n", "1: empty hash"},
        {":\n", "1: empty user name"},
        {"alice:" H1 "\nbob:" H2 "\nalice:" H3 "\n", "3: duplicate user (first defined on line 1)"},
        {" alice:" H1 "\n", "1: leading or trailing white space"},
        {"alice:" H1 " \n", "1: leading or trailing white space"},
        {"alice:" H1 "\t\n", "1: leading or trailing white space"},
        {"alice:" H1 "\r\r\n", "1: control character in hash"},
        {"alice:$apr1$x y\n", "1: white space in hash"},
        {"al\tice:" H1 "\n", "1: control character in user name"},
        {"alice:" H1 "\nbob:\x1b[31m\n", "2: control character in hash"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_error(t, cases[i].text, strlen(cases[i].text), cases[i].want);
}

static void test_nul_bytes_are_rejected(void **state)
{
    struct tmp *t = *state;
    const char text[] = "alice:" H1 "\nbo\0b:" H2 "\ncarol:ab\0cd\n";
    expect_error(t, text, sizeof text - 1, "2: NUL byte in user name");
    const char text2[] = "carol:ab\0cd\n";
    expect_error(t, text2, sizeof text2 - 1, "1: NUL byte in hash");
}

static void test_first_duplicate_in_file_order_is_reported(void **state)
{
    struct tmp *t = *state;
    const char text[] = "zed:a\nbob:b\nzed:c\nbob:d\nzed:e\n";
    expect_error(t, text, sizeof text - 1, "3: duplicate user (first defined on line 1)");
    const char text2[] = "bob:a\nalice:b\nzed:c\nzed:d\nalice:e\n";
    expect_error(t, text2, sizeof text2 - 1, "4: duplicate user (first defined on line 3)");
}

static void test_line_longer_than_4096_bytes_is_rejected(void **state)
{
    struct tmp *t = *state;
    char *text = malloc(8192);
    /* Exactly 4096 bytes before the newline is fine. */
    int n = snprintf(text, 8192, "alice:" H1 "\nbob:");
    memset(text + n, 'x', 4096 - 4);
    n += 4096 - 4;
    text[n++] = '\n';
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, text, (size_t)n, &h), 0);
    assert_int_equal(strlen(lookup(h, "bob")), 4092);
    tg_htpasswd_free(h);
    /* One more byte is not. */
    n = snprintf(text, 8192, "alice:" H1 "\nbob:");
    memset(text + n, 'x', 4096 - 3);
    n += 4096 - 3;
    text[n++] = '\n';
    write_file(t->path, text, (size_t)n);
    expect_error(t, text, (size_t)n, "2: line longer than 4096 bytes");
    free(text);
}

static void test_missing_file_reports_path_and_strerror(void **state)
{
    struct tmp *t = *state;
    struct tg_htpasswd *h = NULL;
    char err[512], want[512];
    snprintf(want, sizeof want, "%s/nope: %s", t->dir, strerror(ENOENT));
    char path[128];
    snprintf(path, sizeof path, "%s/nope", t->dir);
    assert_int_equal(tg_htpasswd_load(path, &h, err, sizeof err), -ENOENT);
    assert_null(h);
    assert_string_equal(err, want);
    /* A directory cannot be read as a file. */
    assert_int_equal(tg_htpasswd_load(t->dir, &h, err, sizeof err), -EISDIR);
    assert_null(h);
}

static void test_file_over_64_mib_is_rejected(void **state)
{
    struct tmp *t = *state;
    int fd = open(t->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (64 << 20) + 1), 0); /* sparse: cheap */
    close(fd);
    struct tg_htpasswd *h = NULL;
    assert_int_equal(tg_htpasswd_load(t->path, &h, t->err, sizeof t->err), -EFBIG);
    assert_null(h);
    char want[512];
    snprintf(want, sizeof want, "%s: file larger than 64 MiB", t->path);
    assert_string_equal(t->err, want);
}

/* A pipe has no size up front: the limit must hold while reading. */
static void test_unsized_input_is_read_whole(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(mkfifo(t->path, 0600), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(t->path, O_WRONLY);
        char line[64];
        for (int i = 0; i < 2000; i++) {
            int n = snprintf(line, sizeof line, "user%d:hash%d\n", i, i);
            if (write(fd, line, (size_t)n) != n)
                _exit(1);
        }
        _exit(0);
    }
    struct tg_htpasswd *h = NULL;
    assert_int_equal(tg_htpasswd_load(t->path, &h, t->err, sizeof t->err), 0);
    assert_int_equal(tg_htpasswd_count(h), 2000);
    assert_string_equal(lookup(h, "user1999"), "hash1999");
    assert_string_equal(lookup(h, "user0"), "hash0");
    tg_htpasswd_free(h);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_int_equal(status, 0);
}

static void test_many_users_are_all_found(void **state)
{
    struct tmp *t = *state;
    size_t cap = 100000 * 24, n = 0;
    char *text = malloc(cap);
    for (int i = 99999; i >= 0; i--)
        n += (size_t)snprintf(text + n, cap - n, "u%d:h%d\n", i, i);
    struct tg_htpasswd *h = NULL;
    assert_int_equal(load_text(t, text, n, &h), 0);
    free(text);
    assert_int_equal(tg_htpasswd_count(h), 100000);
    char user[32], hash[32];
    for (int i = 0; i < 100000; i += 7) {
        snprintf(user, sizeof user, "u%d", i);
        snprintf(hash, sizeof hash, "h%d", i);
        assert_string_equal(lookup(h, user), hash);
    }
    assert_null(lookup(h, "u100000"));
    tg_htpasswd_free(h);
}

static void test_free_accepts_null(void **state)
{
    tg_htpasswd_free(NULL);
    assert_int_equal(tg_htpasswd_count(NULL), 0);
    assert_null(tg_htpasswd_lookup(NULL, "a", 1));
}

static void test_create_then_load_then_verify(void **state)
{
    struct tmp *t = *state;
    char path[160];
    snprintf(path, sizeof path, "%s/sub/users", t->dir); /* parent is missing */
    assert_int_equal(tg_htpasswd_create(path, "alice", "pa:ss wörd"), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[160];
    snprintf(dir, sizeof dir, "%s/sub", t->dir);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    struct tg_htpasswd *h = NULL;
    assert_int_equal(tg_htpasswd_load(path, &h, t->err, sizeof t->err), 0);
    assert_int_equal(tg_htpasswd_count(h), 1);
    const char *hash = lookup(h, "alice");
    assert_non_null(hash);
    assert_int_equal(strncmp(hash, "$2y$10$", 7), 0);
    assert_int_equal(tg_passhash_verify(hash, "pa:ss wörd", strlen("pa:ss wörd")),
                     TG_PASSHASH_MATCH);
    assert_int_equal(tg_passhash_verify(hash, "pa:ss word", strlen("pa:ss word")),
                     TG_PASSHASH_MISMATCH);
    tg_htpasswd_free(h);

    /* Never overwrites. */
    assert_int_equal(tg_htpasswd_create(path, "bob", "x"), -EEXIST);
}

static void test_create_refuses_bad_names_and_deep_paths(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(tg_htpasswd_create(t->path, "", "x"), -EINVAL);
    assert_int_equal(tg_htpasswd_create(t->path, "a:b", "x"), -EINVAL);
    assert_int_equal(tg_htpasswd_create(t->path, " alice", "x"), -EINVAL);
    assert_int_equal(tg_htpasswd_create(t->path, "#alice", "x"), -EINVAL);
    assert_int_equal(tg_htpasswd_create(t->path, "al\nice", "x"), -EINVAL);
    assert_int_equal(access(t->path, F_OK), -1);
    char path[160];
    snprintf(path, sizeof path, "%s/a/b/users", t->dir); /* two levels missing */
    assert_int_equal(tg_htpasswd_create(path, "alice", "x"), -ENOENT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_loads_users_comments_and_blank_lines),
        T(test_lookup_is_exact_and_case_sensitive),
        T(test_crlf_line_endings_are_accepted),
        T(test_user_is_split_on_the_first_colon),
        T(test_empty_file_has_no_users),
        T(test_each_bad_line_is_reported_with_its_number),
        T(test_nul_bytes_are_rejected),
        T(test_first_duplicate_in_file_order_is_reported),
        T(test_line_longer_than_4096_bytes_is_rejected),
        T(test_missing_file_reports_path_and_strerror),
        T(test_file_over_64_mib_is_rejected),
        T(test_unsized_input_is_read_whole),
        T(test_many_users_are_all_found),
        T(test_free_accepts_null),
        T(test_create_then_load_then_verify),
        T(test_create_refuses_bad_names_and_deep_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
