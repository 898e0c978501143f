/*
 * Unit tests for cred/credstore: each source format parsed (comments,
 * blank lines, CRLF, uppercase hex), merging across sources, lines for
 * another realm skipped and counted, every load error with its exact
 * "PATH:LINE: problem" message, exact case-sensitive lookup, and userhash
 * lookup per algorithm. Expected digests were computed independently with
 * Python's hashlib (and the MD5 H(A1) of alice with Apache's htdigest), not
 * with auth/digestcalc. Files live in a fresh temporary directory per test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cred/credstore.h"
#include "cred/passhash.h"

/* htpasswd -nbB -C 5 alice 'correct horse' / bob hunter2 */
#define ALICE_BCRYPT "$2y$05$.NEuEng61JmLxsiCR25que7Oo0JquhJlnJw8Z8r9ngaT8V9TBgmn6"
#define BOB_BCRYPT "$2y$05$0MtZRkDVTLpFHQulCtUso.pmBNbieT5tXT5xbCYfBA7jBKadhs8Ma"
#define BOB_APR1 "$apr1$AH42xRYQ$jwCGgclCh1uUoakbMnpTV/" /* "secret" */

/* H("alice:tollgate:correct horse"); the MD5 one is what htdigest wrote. */
#define ALICE_MD5 "7c73d8d18cca3305d19ee0342d330b75"
#define ALICE_SHA256 "54378d20b643b7d9fd9d3e555e036be562371c499f6c38da1d571cde0b95023f"
#define ALICE_SHA512 "5f6933ba01c0e02517773a6967374fa5ff20f20fda05e2a70721948b85dc0437"
/* H("bob:tollgate:hunter2") */
#define BOB_MD5 "7cc8cd9bddf78aaac5c6b8a30a00bb99"
#define BOB_SHA256 "46d3004be1e4a6713dc50c9f9f3c3c30dd4c5264ae11f767be5ade40899905f2"
#define BOB_SHA512 "24ce8ad01e03458e01bf9b8502f63c6004ab9346d8e83b378abc0d38991030d0"
/* H("Carol Smith:tollgate:p:a:ss") */
#define CAROL_SHA256 "eb8da2d71b75ab4e4670a5e47e040014f06a57e24fa3f0e63dfd75fa4713bdbc"
/* H("alice:other:correct horse") */
#define ALICE_OTHER_MD5 "df0a442288b3e93691cd2393a9ff7698"

/* Userhashes H(user ":tollgate") per algorithm (RFC 7616 §3.4.4). */
static const char *const alice_uh[TG_DIGEST_NALGS] = {
    "3dff6745ac3f91301f0f747967c01dee",
    "dc20537ab7c6094c78d2f70e0df869af104ed58e00f68fcc245aa90b787f463e",
    "12d25f4ed06e6dc4581d7d8305be2a28f990cf072706eeda51cdd8b01929c3cb",
};
static const char *const bob_uh[TG_DIGEST_NALGS] = {
    "43c95bd8cee3c19d258acc6b99067068",
    "8e587482cd48d83625b59f0292a45b50dc0a1f24e2bea10394217b1ddab67f82",
    "30d6f501f064d16da8be15cbbe5fb22f01aa22f413afb62813734258bd9ee081",
};
static const char *const carol_uh[TG_DIGEST_NALGS] = {
    "e1ffbe09b4ffe4bc8f12a366b067c5d2",
    "c21c954cf625bd53088365814dea5f3896a891db8dd8616e51ac5de5edb821ee",
    "9c8999dd07e8a0600e44401286a44dc95980fe8df3669787565fdd0c8635bfea",
};

#define ALICE_USERS "alice:tollgate:" ALICE_BCRYPT ":" ALICE_MD5 ":" ALICE_SHA256 ":" ALICE_SHA512
#define BOB_USERS "bob:tollgate:" BOB_BCRYPT ":" BOB_MD5 ":" BOB_SHA256 ":" BOB_SHA512

struct tmp {
    char dir[64];
    char path[3][128];
    char err[1024];
    struct tg_credstore *store;
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    snprintf(t->dir, sizeof t->dir, "/tmp/tg_credstore_XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    char dir[sizeof t->dir]; /* a copy: GCC fears t->dir overlaps t->path */
    memcpy(dir, t->dir, sizeof dir);
    for (int i = 0; i < 3; i++)
        snprintf(t->path[i], sizeof t->path[i], "%s/f%d", dir, i);
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

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Writes text to file i and loads that one file as `kind` for "tollgate". */
static int load1(struct tmp *t, enum tg_credsource_kind kind, const char *text)
{
    write_file(t->path[0], text, strlen(text));
    struct tg_credsource src = {kind, t->path[0]};
    tg_credstore_free(t->store);
    t->store = NULL;
    t->err[0] = '\0';
    return tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err);
}

static const struct tg_cred *lookup(const struct tmp *t, const char *user)
{
    return tg_credstore_lookup(t->store, user, strlen(user));
}

/* ---- each format ---- */

static void test_htpasswd_source_parses(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(load1(t, TG_CREDSOURCE_HTPASSWD,
                           "# users\r\n\r\nalice:" ALICE_BCRYPT "\r\n   \n  # indented\n"
                           "bob:" BOB_APR1),
                     0);
    assert_int_equal(tg_credstore_count(t->store), 2);
    assert_int_equal(tg_credstore_skipped_realm(t->store), 0);
    const struct tg_cred *a = lookup(t, "alice");
    assert_non_null(a);
    assert_string_equal(a->user, "alice");
    assert_int_equal(a->user_len, 5);
    assert_string_equal(a->basic_hash, ALICE_BCRYPT);
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++)
        assert_null(a->ha1[alg]);
    assert_int_equal(tg_passhash_verify(a->basic_hash, "correct horse", 13), TG_PASSHASH_MATCH);
    assert_string_equal(lookup(t, "bob")->basic_hash, BOB_APR1);
}

static void test_htdigest_source_parses(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(load1(t, TG_CREDSOURCE_HTDIGEST,
                           "alice:tollgate:" ALICE_MD5 "\n"
                           "alice:other:" ALICE_OTHER_MD5 "\n"
                           "# bob's is in upper case\n"
                           "bob:tollgate:7CC8CD9BDDF78AAAC5C6B8A30A00BB99\r\n"),
                     0);
    assert_int_equal(tg_credstore_count(t->store), 2);
    assert_int_equal(tg_credstore_skipped_realm(t->store), 1);
    const struct tg_cred *a = lookup(t, "alice");
    assert_non_null(a);
    assert_null(a->basic_hash);
    assert_string_equal(a->ha1[TG_DIGEST_MD5], ALICE_MD5);
    assert_null(a->ha1[TG_DIGEST_SHA256]);
    assert_null(a->ha1[TG_DIGEST_SHA512_256]);
    assert_string_equal(lookup(t, "bob")->ha1[TG_DIGEST_MD5], BOB_MD5);
}

static void test_users_source_parses(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(load1(t, TG_CREDSOURCE_USERS,
                           "# written by tollgate passwd\n" ALICE_USERS "\n"
                           "bob:tollgate:" BOB_BCRYPT ":::\n"
                           "Carol Smith:tollgate:::" CAROL_SHA256 ":\n"
                           "dave:tollgate::::\n"),
                     0);
    assert_int_equal(tg_credstore_count(t->store), 4);
    const struct tg_cred *a = lookup(t, "alice");
    assert_string_equal(a->basic_hash, ALICE_BCRYPT);
    assert_string_equal(a->ha1[TG_DIGEST_MD5], ALICE_MD5);
    assert_string_equal(a->ha1[TG_DIGEST_SHA256], ALICE_SHA256);
    assert_string_equal(a->ha1[TG_DIGEST_SHA512_256], ALICE_SHA512);
    const struct tg_cred *b = lookup(t, "bob");
    assert_string_equal(b->basic_hash, BOB_BCRYPT);
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++)
        assert_null(b->ha1[alg]);
    const struct tg_cred *c = lookup(t, "Carol Smith");
    assert_null(c->basic_hash);
    assert_null(c->ha1[TG_DIGEST_MD5]);
    assert_string_equal(c->ha1[TG_DIGEST_SHA256], CAROL_SHA256);
    assert_null(c->ha1[TG_DIGEST_SHA512_256]);
    const struct tg_cred *d = lookup(t, "dave");
    assert_non_null(d);
    assert_null(d->basic_hash);
}

static void test_lines_for_another_realm_are_skipped_and_counted(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(load1(t, TG_CREDSOURCE_USERS,
                           "alice:other:" ALICE_BCRYPT ":" ALICE_OTHER_MD5 "::\n"
                           "bob:Tollgate:" BOB_BCRYPT ":::\n" BOB_USERS "\n"),
                     0);
    assert_int_equal(tg_credstore_count(t->store), 1);
    assert_int_equal(tg_credstore_skipped_realm(t->store), 2);
    assert_null(lookup(t, "alice"));
    assert_non_null(lookup(t, "bob"));
}

static void test_sources_merge_by_user(void **state)
{
    struct tmp *t = *state;
    write_file(t->path[0], "alice:" ALICE_BCRYPT "\n", strlen("alice:" ALICE_BCRYPT "\n"));
    const char *hd = "alice:tollgate:" ALICE_MD5 "\nbob:tollgate:" BOB_MD5 "\n";
    write_file(t->path[1], hd, strlen(hd));
    const char *us = "alice:tollgate:::" ALICE_SHA256 ":" ALICE_SHA512 "\n";
    write_file(t->path[2], us, strlen(us));
    struct tg_credsource src[3] = {{TG_CREDSOURCE_HTPASSWD, t->path[0]},
                                   {TG_CREDSOURCE_HTDIGEST, t->path[1]},
                                   {TG_CREDSOURCE_USERS, t->path[2]}};
    assert_int_equal(tg_credstore_load(src, 3, "tollgate", &t->store, t->err, sizeof t->err), 0);
    assert_int_equal(tg_credstore_count(t->store), 2);
    const struct tg_cred *a = lookup(t, "alice");
    assert_string_equal(a->basic_hash, ALICE_BCRYPT);
    assert_string_equal(a->ha1[TG_DIGEST_MD5], ALICE_MD5);
    assert_string_equal(a->ha1[TG_DIGEST_SHA256], ALICE_SHA256);
    assert_string_equal(a->ha1[TG_DIGEST_SHA512_256], ALICE_SHA512);
    const struct tg_cred *b = lookup(t, "bob");
    assert_null(b->basic_hash);
    assert_string_equal(b->ha1[TG_DIGEST_MD5], BOB_MD5);
}

static void test_no_sources_give_an_empty_store(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(tg_credstore_load(NULL, 0, "tollgate", &t->store, t->err, sizeof t->err), 0);
    assert_int_equal(tg_credstore_count(t->store), 0);
    assert_null(lookup(t, "alice"));
    assert_null(tg_credstore_lookup_userhash(t->store, TG_DIGEST_MD5, alice_uh[0], 32));
    assert_int_equal(tg_credstore_count(NULL), 0);
    assert_null(tg_credstore_lookup(NULL, "alice", 5));
    tg_credstore_free(NULL);
}

/* ---- lookups ---- */

static void test_lookup_is_exact_and_case_sensitive(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(
        load1(t, TG_CREDSOURCE_HTPASSWD, "alice:" ALICE_BCRYPT "\nAlice Cooper:" BOB_APR1 "\n"), 0);
    assert_non_null(lookup(t, "alice"));
    assert_null(lookup(t, "Alice"));
    assert_null(lookup(t, "ALICE"));
    assert_null(lookup(t, "alic"));
    assert_null(lookup(t, "alice "));
    assert_null(lookup(t, ""));
    assert_null(lookup(t, "Alice"));
    assert_string_equal(lookup(t, "Alice Cooper")->basic_hash, BOB_APR1);
    /* The length decides, not a NUL. */
    assert_non_null(tg_credstore_lookup(t->store, "alicex", 5));
    assert_null(tg_credstore_lookup(t->store, "alice", 4));
}

static void test_userhash_lookup_for_each_algorithm(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(load1(t, TG_CREDSOURCE_USERS,
                           ALICE_USERS "\n" BOB_USERS "\nCarol Smith:tollgate:::" CAROL_SHA256
                                       ":\nerin:tollgate:" BOB_BCRYPT ":::\n"),
                     0);
    for (int alg = 0; alg < TG_DIGEST_NALGS; alg++) {
        const char *hex = alice_uh[alg];
        size_t len = strlen(hex);
        const struct tg_cred *a = tg_credstore_lookup_userhash(t->store, alg, hex, len);
        assert_non_null(a);
        assert_string_equal(a->user, "alice");
        assert_string_equal(tg_credstore_lookup_userhash(t->store, alg, bob_uh[alg], len)->user,
                            "bob");
        assert_string_equal(tg_credstore_lookup_userhash(t->store, alg, carol_uh[alg], len)->user,
                            "Carol Smith");
        /* Clients may send the hex in upper case. */
        char upper[65];
        for (size_t i = 0; i <= len; i++)
            upper[i] = (hex[i] >= 'a' && hex[i] <= 'f') ? (char)(hex[i] - 32) : hex[i];
        assert_ptr_equal(tg_credstore_lookup_userhash(t->store, alg, upper, len), a);
        /* Wrong length, non-hex, or one digit off. */
        assert_null(tg_credstore_lookup_userhash(t->store, alg, hex, len - 1));
        assert_null(tg_credstore_lookup_userhash(t->store, alg, hex, len - 2));
        char bad[65];
        memcpy(bad, hex, len + 1);
        bad[3] = 'g';
        assert_null(tg_credstore_lookup_userhash(t->store, alg, bad, len));
        bad[3] = hex[3] == '0' ? '1' : '0';
        assert_null(tg_credstore_lookup_userhash(t->store, alg, bad, len));
    }
    /* Another algorithm's userhash is not this one's. */
    assert_null(tg_credstore_lookup_userhash(t->store, TG_DIGEST_SHA256, alice_uh[2], 64));
    /* erin has no Digest credential, so no userhash: MD5("erin:tollgate"). */
    assert_non_null(lookup(t, "erin"));
    assert_null(tg_credstore_lookup_userhash(t->store, TG_DIGEST_MD5,
                                             "535f102e629567df33175c627a64d3b7", 32));
}

/* Enough users to grow the tables several times. */
static void test_many_users_are_all_found(void **state)
{
    struct tmp *t = *state;
    enum { N = 5000 };
    size_t cap = N * 64, len = 0;
    char *text = malloc(cap);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "user%d:tollgate:" ALICE_MD5 "\n", i);
    write_file(t->path[0], text, len);
    free(text);
    struct tg_credsource src = {TG_CREDSOURCE_HTDIGEST, t->path[0]};
    assert_int_equal(tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err), 0);
    assert_int_equal(tg_credstore_count(t->store), N);
    for (int i = 0; i < N; i++) {
        char name[32], hex[TG_DIGEST_HEX_MAX];
        snprintf(name, sizeof name, "user%d", i);
        const struct tg_cred *c = lookup(t, name);
        assert_non_null(c);
        assert_string_equal(c->user, name);
        tg_digest_userhash(TG_DIGEST_SHA256, tg_str_c(name), tg_str_c("tollgate"), hex);
        assert_ptr_equal(tg_credstore_lookup_userhash(t->store, TG_DIGEST_SHA256, hex, 64), c);
    }
    assert_null(lookup(t, "user5000"));
}

/* ---- errors ---- */

struct bad_case {
    enum tg_credsource_kind kind;
    const char *text;
    const char *error; /* after "PATH:" */
};

static void test_bad_lines_fail_with_their_line_number(void **state)
{
    struct tmp *t = *state;
    char long_user_line[256], long_realm_line[512];
    memset(long_user_line, 'u', 129);
    strcpy(long_user_line + 129, ":x\n");
    char realm[258];
    memset(realm, 'r', 257);
    realm[257] = '\0';
    snprintf(long_realm_line, sizeof long_realm_line, "alice:%s:" ALICE_MD5, realm);
    const struct bad_case cases[] = {
        /* H(A1) length and digits */
        {TG_CREDSOURCE_HTDIGEST, "alice:tollgate:7c73d8d18cca3305d19ee0342d330b7\n",
         "1: MD5 H(A1) must be 32 hex digits, not 31"},
        {TG_CREDSOURCE_HTDIGEST, "alice:tollgate:" ALICE_SHA256 "\n",
         "1: MD5 H(A1) must be 32 hex digits, not 64"},
        {TG_CREDSOURCE_HTDIGEST, "alice:tollgate:\n", "1: MD5 H(A1) must be 32 hex digits, not 0"},
        {TG_CREDSOURCE_HTDIGEST, "alice:tollgate:7c73d8d18cca3305d19ee0342d330b7z\n",
         "1: non-hex character in MD5 H(A1)"},
        {TG_CREDSOURCE_USERS, "alice:tollgate:::" ALICE_MD5 ":\n",
         "1: SHA-256 H(A1) must be 64 hex digits, not 32"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate::::5f6933ba01c0e02517773a6967374fa5ff20f20fda05e2a70721948b85dc043 \n",
         "1: leading or trailing white space"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate::::5f6933ba01c0e02517773a6967374fa5ff20f20fda05e2a70721948b85dc043g\n",
         "1: non-hex character in SHA-512-256 H(A1)"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate::" ALICE_MD5 ":-4378d20b643b7d9fd9d3e555e036be562371c499f6c38da1d571cde0b"
         "95023f:\n",
         "1: non-hex character in SHA-256 H(A1)"},
        /* bcrypt shape */
        {TG_CREDSOURCE_USERS, "alice:tollgate:" BOB_APR1 ":::\n", "1: malformed bcrypt hash"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate:$2y$03$.NEuEng61JmLxsiCR25que7Oo0JquhJlnJw8Z8r9ngaT8V9TBgmn6:::\n",
         "1: malformed bcrypt hash"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate:$2x$05$.NEuEng61JmLxsiCR25que7Oo0JquhJlnJw8Z8r9ngaT8V9TBgmn6:::\n",
         "1: malformed bcrypt hash"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate:$2y$05$.NEuEng61JmLxsiCR25que7Oo0JquhJlnJw8Z8r9ngaT8V9TBgmn:::\n",
         "1: malformed bcrypt hash"},
        /* field counts */
        {TG_CREDSOURCE_HTDIGEST, "alice:" ALICE_MD5 "\n",
         "1: expected 3 ':'-separated fields, found 2"},
        {TG_CREDSOURCE_USERS, ALICE_USERS ":\n", "1: expected 6 ':'-separated fields, found 7"},
        {TG_CREDSOURCE_USERS, "alice:tollgate:" ALICE_BCRYPT "::\n",
         "1: expected 6 ':'-separated fields, found 5"},
        {TG_CREDSOURCE_HTPASSWD, "alice\n", "1: expected 2 ':'-separated fields, found 1"},
        /* Apache would read "alice:HASH:group" as HASH; we refuse. */
        {TG_CREDSOURCE_HTPASSWD, "alice:" BOB_APR1 ":staff\n",
         "1: expected 2 ':'-separated fields, found 3"},
        /* user names */
        {TG_CREDSOURCE_HTPASSWD, "bob:" BOB_APR1 "\n:" BOB_APR1 "\n", "2: empty user name"},
        {TG_CREDSOURCE_HTPASSWD, "al\x01ice:" BOB_APR1 "\n", "1: control character in user name"},
        {TG_CREDSOURCE_HTPASSWD,
         "al\x7f"
         "ice:" BOB_APR1 "\n",
         "1: control character in user name"},
        {TG_CREDSOURCE_HTDIGEST, "al\rice:tollgate:" ALICE_MD5 "\n",
         "1: control character in user name"},
        {TG_CREDSOURCE_HTPASSWD, long_user_line, "1: user name longer than 128 bytes"},
        {TG_CREDSOURCE_HTPASSWD, " alice:" BOB_APR1 "\n", "1: leading or trailing white space"},
        /* realms */
        {TG_CREDSOURCE_HTDIGEST, "alice::" ALICE_MD5 "\n", "1: empty realm"},
        {TG_CREDSOURCE_HTDIGEST, "alice:toll\tgate:" ALICE_MD5 "\n",
         "1: control character in realm"},
        {TG_CREDSOURCE_HTDIGEST, long_realm_line, "1: realm longer than 256 bytes"},
        /* a bad line in another realm still fails the load */
        {TG_CREDSOURCE_HTDIGEST, "\n\nalice:other:" ALICE_MD5 "0\n",
         "3: MD5 H(A1) must be 32 hex digits, not 33"},
        /* htpasswd hashes */
        {TG_CREDSOURCE_HTPASSWD, "alice:\n", "1: empty hash"},
        {TG_CREDSOURCE_HTPASSWD, "alice:$apr1$AH42xRYQ $jw\n", "1: white space in hash"},
        {TG_CREDSOURCE_HTPASSWD, "alice:$apr1$AH42xRYQ\t$jw\n", "1: control character in hash"},
        /* duplicates in one file */
        {TG_CREDSOURCE_HTPASSWD, "alice:" ALICE_BCRYPT "\n# x\nbob:" BOB_APR1 "\nalice:" BOB_APR1,
         "4: duplicate user (first defined on line 1)"},
        {TG_CREDSOURCE_HTDIGEST, "alice:tollgate:" ALICE_MD5 "\nalice:tollgate:" ALICE_MD5 "\n",
         "2: duplicate user (first defined on line 1)"},
        {TG_CREDSOURCE_USERS,
         "alice:tollgate:" ALICE_BCRYPT ":::\nalice:tollgate:::" ALICE_SHA256 ":\n",
         "2: duplicate user (first defined on line 1)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[1200];
        snprintf(want, sizeof want, "%s:%s", t->path[0], cases[i].error);
        if (load1(t, cases[i].kind, cases[i].text) != -1 || strcmp(t->err, want) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, t->err, want);
        assert_null(t->store);
    }
}

static void test_nul_byte_and_long_line_are_refused(void **state)
{
    struct tmp *t = *state;
    char want[256];
    const char nul[] = "alice:" BOB_APR1 "\nb\0b:" BOB_APR1 "\n";
    write_file(t->path[0], nul, sizeof nul - 1);
    struct tg_credsource src = {TG_CREDSOURCE_HTPASSWD, t->path[0]};
    assert_int_equal(tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err), -1);
    snprintf(want, sizeof want, "%s:2: control character in user name", t->path[0]);
    assert_string_equal(t->err, want);

    char *line = malloc(5000);
    memset(line, 'a', 4097);
    strcpy(line + 4097, ":x\n");
    write_file(t->path[0], line, strlen(line));
    free(line);
    assert_int_equal(tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err), -1);
    snprintf(want, sizeof want, "%s:1: line longer than 4096 bytes", t->path[0]);
    assert_string_equal(t->err, want);
    assert_null(t->store);
}

static void test_unreadable_or_huge_files_fail(void **state)
{
    struct tmp *t = *state;
    char want[256];
    struct tg_credsource src = {TG_CREDSOURCE_USERS, t->path[1]};
    assert_int_equal(tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err), -1);
    snprintf(want, sizeof want, "%s: No such file or directory", t->path[1]);
    assert_string_equal(t->err, want);

    int fd = open(t->path[1], O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (64 << 20) + 1), 0); /* sparse: costs no disk */
    close(fd);
    assert_int_equal(tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err), -1);
    snprintf(want, sizeof want, "%s: file larger than 64 MiB", t->path[1]);
    assert_string_equal(t->err, want);

    src.path = t->dir;
    assert_int_equal(tg_credstore_load(&src, 1, "tollgate", &t->store, t->err, sizeof t->err), -1);
    snprintf(want, sizeof want, "%s: Is a directory", t->dir);
    assert_string_equal(t->err, want);
    assert_null(t->store);
}

/* Loads path[0] as a0 and path[1] as a1 and expects err "path[1]:1: MSG path[0]:LINE". */
static void expect_conflict(struct tmp *t, enum tg_credsource_kind a0, const char *t0,
                            enum tg_credsource_kind a1, const char *t1, const char *msg, int line)
{
    write_file(t->path[0], t0, strlen(t0));
    write_file(t->path[1], t1, strlen(t1));
    struct tg_credsource src[2] = {{a0, t->path[0]}, {a1, t->path[1]}};
    assert_int_equal(tg_credstore_load(src, 2, "tollgate", &t->store, t->err, sizeof t->err), -1);
    assert_null(t->store);
    char want[512];
    snprintf(want, sizeof want, "%s:1: %s for this user already given by %s:%d", t->path[1], msg,
             t->path[0], line);
    assert_string_equal(t->err, want);
}

static void test_a_field_given_by_two_sources_is_an_error(void **state)
{
    struct tmp *t = *state;
    expect_conflict(t, TG_CREDSOURCE_HTPASSWD, "bob:" BOB_APR1 "\nalice:" ALICE_BCRYPT "\n",
                    TG_CREDSOURCE_USERS, ALICE_USERS "\n", "Basic hash", 2);
    expect_conflict(t, TG_CREDSOURCE_HTDIGEST, "alice:tollgate:" ALICE_MD5 "\n",
                    TG_CREDSOURCE_USERS, "alice:tollgate::" ALICE_MD5 "::\n", "MD5 H(A1)", 1);
    expect_conflict(t, TG_CREDSOURCE_USERS, "alice:tollgate:::" ALICE_SHA256 ":\n",
                    TG_CREDSOURCE_USERS, "alice:tollgate:::" ALICE_SHA256 ":\n", "SHA-256 H(A1)",
                    1);
    expect_conflict(t, TG_CREDSOURCE_HTPASSWD, "alice:" ALICE_BCRYPT "\n", TG_CREDSOURCE_HTPASSWD,
                    "alice:" ALICE_BCRYPT "\n", "Basic hash", 1);
}

static void test_same_user_in_other_realm_does_not_conflict(void **state)
{
    struct tmp *t = *state;
    const char *hd = "alice:other:" ALICE_OTHER_MD5 "\n";
    write_file(t->path[0], hd, strlen(hd));
    write_file(t->path[1], ALICE_USERS "\n", strlen(ALICE_USERS "\n"));
    struct tg_credsource src[2] = {{TG_CREDSOURCE_HTDIGEST, t->path[0]},
                                   {TG_CREDSOURCE_USERS, t->path[1]}};
    assert_int_equal(tg_credstore_load(src, 2, "tollgate", &t->store, t->err, sizeof t->err), 0);
    assert_int_equal(tg_credstore_skipped_realm(t->store), 1);
    assert_string_equal(lookup(t, "alice")->ha1[TG_DIGEST_MD5], ALICE_MD5);
    /* Loaded for the other realm, the users line is the skipped one. */
    tg_credstore_free(t->store);
    assert_int_equal(tg_credstore_load(src, 2, "other", &t->store, t->err, sizeof t->err), 0);
    assert_int_equal(tg_credstore_skipped_realm(t->store), 1);
    const struct tg_cred *a = lookup(t, "alice");
    assert_string_equal(a->ha1[TG_DIGEST_MD5], ALICE_OTHER_MD5);
    assert_null(a->basic_hash);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_htpasswd_source_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_htdigest_source_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users_source_parses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lines_for_another_realm_are_skipped_and_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sources_merge_by_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_sources_give_an_empty_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookup_is_exact_and_case_sensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_userhash_lookup_for_each_algorithm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_users_are_all_found, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_lines_fail_with_their_line_number, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte_and_long_line_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_or_huge_files_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_field_given_by_two_sources_is_an_error, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_user_in_other_realm_does_not_conflict, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
