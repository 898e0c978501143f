/*
 * Unit tests for cred/userfile: set() then cred/credstore load() round
 * trips (the bcrypt hash verifies, each H(A1) equals auth/digestcalc's and
 * the values computed independently with Python's hashlib and Apache's
 * htdigest), replacing and deleting keep every other byte, new files are
 * 0600 and existing modes survive, symbolic links are followed, bad names
 * and passwords are refused, and check_mode's warnings. Files live in a
 * fresh temporary directory per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cred/credstore.h"
#include "cred/passhash.h"
#include "cred/userfile.h"

/* `htdigest -c F tollgate alice` with password "correct horse" wrote
 * "alice:tollgate:7c73d8d18cca3305d19ee0342d330b75"; the SHA ones are
 * hashlib's sha256 and sha512_256 of "alice:tollgate:correct horse". */
#define PW "correct horse"
#define ALICE_MD5 "7c73d8d18cca3305d19ee0342d330b75"
#define ALICE_SHA256 "54378d20b643b7d9fd9d3e555e036be562371c499f6c38da1d571cde0b95023f"
#define ALICE_SHA512 "5f6933ba01c0e02517773a6967374fa5ff20f20fda05e2a70721948b85dc0437"
/* H("alice:other:correct horse"), MD5 */
#define ALICE_OTHER_MD5 "df0a442288b3e93691cd2393a9ff7698"
/* H("alice:tollgate"), SHA-256: the userhash */
#define ALICE_UH_SHA256 "dc20537ab7c6094c78d2f70e0df869af104ed58e00f68fcc245aa90b787f463e"

#define BOB_LINE                                                                                   \
    "bob:tollgate:$2y$05$0MtZRkDVTLpFHQulCtUso.pmBNbieT5tXT5xbCYfBA7jBKadhs8Ma:"                   \
    "7cc8cd9bddf78aaac5c6b8a30a00bb99::"

struct tmp {
    char dir[64];
    char path[128];
    char err[1024];
    struct tg_credstore *store;
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tg_userfile_XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    char dir[sizeof t->dir]; /* a copy: GCC fears t->dir overlaps t->path */
    memcpy(dir, t->dir, sizeof dir);
    snprintf(t->path, sizeof t->path, "%s/users", dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    tg_credstore_free(t->store);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", t->dir);
    int rc = system(cmd);
    free(t);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* The file's bytes, NUL-terminated; the caller frees. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int set(struct tmp *t, const char *user, const char *realm, const char *pw)
{
    t->err[0] = '\0';
    return tg_userfile_set(t->path, user, realm, pw, strlen(pw), t->err, sizeof t->err);
}

static void load(struct tmp *t, const char *realm)
{
    struct tg_credsource src = {TG_CREDSOURCE_USERS, t->path};
    tg_credstore_free(t->store);
    t->store = NULL;
    assert_int_equal(tg_credstore_load(&src, 1, realm, &t->store, t->err, sizeof t->err), 0);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static void expect_err(const struct tmp *t, const char *why)
{
    char want[512];
    snprintf(want, sizeof want, "%s: %s", t->path, why);
    assert_string_equal(t->err, want);
}

/* ---- set ---- */

static void test_set_creates_a_0600_file_that_loads_back(void **state)
{
    struct tmp *t = *state;
    mode_t old = umask(0); /* 0600 must not depend on the umask */
    int rc = set(t, "alice", "tollgate", PW);
    umask(old);
    assert_int_equal(rc, 0);
    assert_int_equal(mode_of(t->path), 0600);
    load(t, "tollgate");
    assert_int_equal(tg_credstore_count(t->store), 1);
    const struct tg_cred *c = tg_credstore_lookup(t->store, "alice", 5);
    assert_non_null(c);
    assert_int_equal(strncmp(c->basic_hash, "$2y$10$", 7), 0);
    assert_int_equal(tg_passhash_verify(c->basic_hash, PW, strlen(PW)), TG_PASSHASH_MATCH);
    assert_int_equal(tg_passhash_verify(c->basic_hash, "correct horsE", strlen(PW)),
                     TG_PASSHASH_MISMATCH);
    assert_string_equal(c->ha1[TG_DIGEST_MD5], ALICE_MD5);
    assert_string_equal(c->ha1[TG_DIGEST_SHA256], ALICE_SHA256);
    assert_string_equal(c->ha1[TG_DIGEST_SHA512_256], ALICE_SHA512);
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        char hex[TG_DIGEST_HEX_MAX];
        tg_digest_ha1(alg, tg_str_c("alice"), tg_str_c("tollgate"), tg_str_c(PW), hex);
        assert_string_equal(c->ha1[alg], hex);
    }
    assert_ptr_equal(tg_credstore_lookup_userhash(t->store, TG_DIGEST_SHA256, ALICE_UH_SHA256, 64),
                     c);
    /* The whole file is the one line. */
    char *text = read_file(t->path);
    char want[512];
    snprintf(want, sizeof want, "alice:tollgate:%s:%s:%s:%s\n", c->basic_hash, ALICE_MD5,
             ALICE_SHA256, ALICE_SHA512);
    assert_string_equal(text, want);
    free(text);
    /* No temporary file is left beside it. */
    DIR *d = opendir(t->dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    assert_int_equal(entries, 1);
}

static void test_set_for_another_realm_is_skipped_when_loaded(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(set(t, "alice", "other", PW), 0);
    load(t, "tollgate");
    assert_int_equal(tg_credstore_count(t->store), 0);
    assert_int_equal(tg_credstore_skipped_realm(t->store), 1);
    load(t, "other");
    assert_string_equal(tg_credstore_lookup(t->store, "alice", 5)->ha1[TG_DIGEST_MD5],
                        ALICE_OTHER_MD5);
}

static void test_set_replaces_the_line_and_keeps_the_others(void **state)
{
    struct tmp *t = *state;
    const char *head = "# Tollgate users\r\n\n" BOB_LINE "\n  # alice:old:comment\n";
    const char *tail = "#alice:x\nalicex:tollgate::::\nnot even a valid line";
    char text[1024];
    snprintf(text, sizeof text, "%salice:old::::\r\n%s", head, tail);
    write_file(t->path, text);
    assert_int_equal(chmod(t->path, 0640), 0);
    assert_int_equal(set(t, "alice", "tollgate", PW), 0);
    assert_int_equal(mode_of(t->path), 0640);
    char *got = read_file(t->path);
    size_t hl = strlen(head), tl = strlen(tail), gl = strlen(got);
    assert_true(gl > hl + tl);
    assert_memory_equal(got, head, hl);
    assert_memory_equal(got + gl - tl, tail, tl);
    /* The new line keeps the CRLF of the one it replaced. */
    const char *line = got + hl;
    assert_int_equal(strncmp(line, "alice:tollgate:$2y$10$", 22), 0);
    const char *end = strchr(line, '\n');
    assert_ptr_equal(end, got + gl - tl - 1);
    assert_int_equal(end[-1], '\r');
    assert_int_equal(strncmp(end - 65, ALICE_SHA512, 64), 0);
    free(got);
}

static void test_set_appends_and_terminates_the_last_line(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, BOB_LINE);
    assert_int_equal(set(t, "alice", "tollgate", PW), 0);
    char *got = read_file(t->path);
    assert_int_equal(strncmp(got, BOB_LINE "\nalice:tollgate:$2y$10$", strlen(BOB_LINE) + 23), 0);
    size_t gl = strlen(got);
    assert_int_equal(got[gl - 1], '\n');
    assert_int_equal(strncmp(got + gl - 65, ALICE_SHA512, 64), 0);
    free(got);
    load(t, "tollgate");
    assert_int_equal(tg_credstore_count(t->store), 2);
}

static void test_set_appends_crlf_to_a_crlf_file(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, BOB_LINE "\r\n");
    assert_int_equal(set(t, "alice", "tollgate", PW), 0);
    char *got = read_file(t->path);
    size_t gl = strlen(got);
    assert_int_equal(strncmp(got, BOB_LINE "\r\nalice:", strlen(BOB_LINE) + 8), 0);
    assert_string_equal(got + gl - 66, ALICE_SHA512 "\r\n");
    free(got);
}

static void test_set_twice_updates_and_drops_duplicates(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, "alice:a::::\n" BOB_LINE "\nalice:b::::\n");
    assert_int_equal(set(t, "alice", "tollgate", PW), 0);
    assert_int_equal(set(t, "alice", "tollgate", "another one"), 0);
    load(t, "tollgate");
    assert_int_equal(tg_credstore_count(t->store), 2);
    const struct tg_cred *c = tg_credstore_lookup(t->store, "alice", 5);
    assert_int_equal(tg_passhash_verify(c->basic_hash, "another one", 11), TG_PASSHASH_MATCH);
    char *got = read_file(t->path);
    assert_int_equal(strncmp(got, "alice:tollgate:", 15), 0);
    assert_non_null(strstr(got, "\n" BOB_LINE "\n"));
    assert_null(strstr(got, "alice:b"));
    free(got);
}

static void test_set_follows_a_symbolic_link(void **state)
{
    struct tmp *t = *state;
    char target[160], link[160];
    snprintf(target, sizeof target, "%s/real", t->dir);
    memcpy(link, t->path, sizeof t->path);
    write_file(target, BOB_LINE "\n");
    assert_int_equal(symlink("real", link), 0);
    assert_int_equal(set(t, "alice", "tollgate", PW), 0);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    load(t, "tollgate");
    assert_int_equal(tg_credstore_count(t->store), 2);
}

static void test_set_refuses_bad_names_and_passwords(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(set(t, "al:ice", "tollgate", PW), -1);
    expect_err(t, "':' in user name");
    assert_int_equal(set(t, "al\nice", "tollgate", PW), -1);
    expect_err(t, "control character in user name");
    assert_int_equal(set(t, "", "tollgate", PW), -1);
    expect_err(t, "empty user name");
    assert_int_equal(set(t, " alice", "tollgate", PW), -1);
    expect_err(t, "white space at the start or end of the user name");
    assert_int_equal(set(t, "#alice", "tollgate", PW), -1);
    expect_err(t, "user name starting with '#'");
    assert_int_equal(set(t, "alice", "toll:gate", PW), -1);
    expect_err(t, "':' in realm");
    assert_int_equal(set(t, "alice", "toll\x7fgate", PW), -1);
    expect_err(t, "control character in realm");
    assert_int_equal(set(t, "alice", "", PW), -1);
    expect_err(t, "empty realm");
    assert_int_equal(set(t, "alice", "tollgate", ""), -1);
    expect_err(t, "empty password");
    assert_int_equal(
        tg_userfile_set(t->path, "alice", "tollgate", "a\0b", 3, t->err, sizeof t->err), -1);
    expect_err(t, "NUL byte in password");
    char pw[80];
    memset(pw, 'p', 73);
    pw[73] = '\0';
    assert_int_equal(set(t, "alice", "tollgate", pw), -1);
    expect_err(t, "password longer than 72 bytes (bcrypt ignores the rest)");
    assert_int_equal(access(t->path, F_OK), -1); /* nothing was created */

    char name[140];
    memset(name, 'u', 129);
    name[129] = '\0';
    assert_string_equal(tg_userfile_bad_name(name, NULL), "user name longer than 128 bytes");
    name[128] = '\0';
    assert_null(tg_userfile_bad_name(name, NULL));
    assert_null(tg_userfile_bad_name("Carol Smith", "Our proxy, Inc."));
    assert_string_equal(tg_userfile_bad_name("al:ice", NULL), "':' in user name");
}

static void test_set_into_a_missing_directory_fails(void **state)
{
    struct tmp *t = *state;
    char dir[sizeof t->dir];
    memcpy(dir, t->dir, sizeof dir);
    snprintf(t->path, sizeof t->path, "%s/nope/users", dir);
    assert_int_equal(set(t, "alice", "tollgate", PW), -1);
    expect_err(t, "No such file or directory");
}

/* ---- has and delete ---- */

static void test_has_finds_exact_names(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(tg_userfile_has(t->path, "bob", t->err, sizeof t->err), 0);
    write_file(t->path, "# bob:x\nbobby:a::::\n" BOB_LINE);
    assert_int_equal(tg_userfile_has(t->path, "bob", t->err, sizeof t->err), 1);
    assert_int_equal(tg_userfile_has(t->path, "bo", t->err, sizeof t->err), 0);
    assert_int_equal(tg_userfile_has(t->path, "Bob", t->err, sizeof t->err), 0);
    assert_int_equal(tg_userfile_has(t->path, "bobby", t->err, sizeof t->err), 1);
    assert_int_equal(tg_userfile_has(t->dir, "bob", t->err, sizeof t->err), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: not a regular file", t->dir);
    assert_string_equal(t->err, want);
}

static void test_delete_removes_only_that_user(void **state)
{
    struct tmp *t = *state;
    write_file(t->path,
               "# head\r\nalice:tollgate::::\r\n" BOB_LINE "\nalice:other::::\nalicex:a::::");
    assert_int_equal(chmod(t->path, 0604), 0);
    assert_int_equal(tg_userfile_delete(t->path, "alice", t->err, sizeof t->err), 0);
    char *got = read_file(t->path);
    assert_string_equal(got, "# head\r\n" BOB_LINE "\nalicex:a::::");
    free(got);
    assert_int_equal(mode_of(t->path), 0604);
}

static void test_delete_of_an_absent_user_leaves_the_file_alone(void **state)
{
    struct tmp *t = *state;
    write_file(t->path, BOB_LINE "\n");
    struct stat before, after;
    assert_int_equal(stat(t->path, &before), 0);
    assert_int_equal(tg_userfile_delete(t->path, "alice", t->err, sizeof t->err), 1);
    assert_int_equal(stat(t->path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino); /* not rewritten */
    char *got = read_file(t->path);
    assert_string_equal(got, BOB_LINE "\n");
    free(got);
}

static void test_delete_in_a_missing_file_fails(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(tg_userfile_delete(t->path, "alice", t->err, sizeof t->err), -1);
    expect_err(t, "No such file or directory");
    assert_int_equal(tg_userfile_delete(t->path, "a:b", t->err, sizeof t->err), -1);
    expect_err(t, "':' in user name");
}

/* ---- check_mode ---- */

static void expect_mode_warning(struct tmp *t, mode_t mode, const char *what)
{
    char warn[512], want[512];
    assert_int_equal(chmod(t->path, mode), 0);
    assert_int_equal(tg_userfile_check_mode(t->path, warn, sizeof warn), 1);
    snprintf(want, sizeof want,
             "%s is %s by group/others (mode %04o); it holds password-equivalent hashes: "
             "chmod 600 %s",
             t->path, what, (unsigned)mode, t->path);
    assert_string_equal(warn, want);
}

static void test_check_mode_warns_about_group_and_other_access(void **state)
{
    struct tmp *t = *state;
    char warn[512] = "";
    assert_int_equal(tg_userfile_check_mode(t->path, warn, sizeof warn), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: No such file or directory", t->path);
    assert_string_equal(warn, want);
    assert_int_equal(set(t, "alice", "tollgate", PW), 0);
    warn[0] = '\0';
    assert_int_equal(tg_userfile_check_mode(t->path, warn, sizeof warn), 0);
    assert_string_equal(warn, "");
    assert_int_equal(chmod(t->path, 0400), 0);
    assert_int_equal(tg_userfile_check_mode(t->path, warn, sizeof warn), 0);
    assert_int_equal(chmod(t->path, 0611), 0); /* execute bits reveal nothing */
    assert_int_equal(tg_userfile_check_mode(t->path, warn, sizeof warn), 0);
    expect_mode_warning(t, 0644, "readable");
    expect_mode_warning(t, 0640, "readable");
    expect_mode_warning(t, 0604, "readable");
    expect_mode_warning(t, 0620, "writable");
    expect_mode_warning(t, 0666, "readable and writable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_creates_a_0600_file_that_loads_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_for_another_realm_is_skipped_when_loaded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_replaces_the_line_and_keeps_the_others, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_appends_and_terminates_the_last_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_appends_crlf_to_a_crlf_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_twice_updates_and_drops_duplicates, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_set_follows_a_symbolic_link, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_refuses_bad_names_and_passwords, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_into_a_missing_directory_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_has_finds_exact_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_removes_only_that_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_of_an_absent_user_leaves_the_file_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_delete_in_a_missing_file_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_mode_warns_about_group_and_other_access, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
