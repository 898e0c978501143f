/*
 * Unit tests for base/file: whole-file reads up to a limit, NUL
 * termination, the refusals (missing, directory, over the limit) and a
 * non-regular file (a pipe) read to its end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"

static void write_temp(char path[64], const char *text, size_t len)
{
    snprintf(path, 64, "/tmp/tg_test_file_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_reads_up_to_the_limit_and_terminates(void **state)
{
    char path[64], *out = NULL;
    size_t len = 0;
    write_temp(path, "a\0b\ncd", 6);
    assert_int_equal(tg_file_read(path, 6, &out, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "a\0b\ncd", 7); /* the NUL after the data is ours */
    free(out);
    assert_int_equal(tg_file_read(path, 5, &out, &len), -EFBIG);
    unlink(path);
}

static void test_empty_file_is_an_empty_string(void **state)
{
    char path[64], *out = NULL;
    size_t len = 99;
    write_temp(path, "", 0);
    assert_int_equal(tg_file_read(path, 10, &out, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    free(out);
    unlink(path);
}

static void test_missing_and_directory_are_refused_with_a_message(void **state)
{
    char *out = NULL, err[128];
    size_t len;
    int rc = tg_file_read("/nonexistent/x", 10, &out, &len);
    assert_int_equal(rc, -ENOENT);
    tg_file_error(err, sizeof err, "/nonexistent/x", rc, 10);
    assert_string_equal(err, "/nonexistent/x: No such file or directory");
    rc = tg_file_read("/tmp", 10, &out, &len);
    assert_int_equal(rc, -EISDIR);
    tg_file_error(err, sizeof err, "/tmp", -EFBIG, 10);
    assert_string_equal(err, "/tmp: file larger than 10 bytes");
}

/* A pipe has no size to trust: the limit is checked while reading. */
static void test_pipe_is_read_to_its_end_within_the_limit(void **state)
{
    int p[2];
    char path[64], big[9000], *out = NULL;
    size_t len = 0;
    memset(big, 'x', sizeof big);
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], big, sizeof big), (ssize_t)sizeof big);
    close(p[1]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    assert_int_equal(tg_file_read(path, sizeof big, &out, &len), 0);
    assert_int_equal(len, sizeof big);
    assert_int_equal(out[len], '\0');
    free(out);
    close(p[0]);

    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], big, sizeof big), (ssize_t)sizeof big);
    close(p[1]);
    snprintf(path, sizeof path, "/proc/self/fd/%d", p[0]);
    assert_int_equal(tg_file_read(path, sizeof big - 1, &out, &len), -EFBIG);
    close(p[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_up_to_the_limit_and_terminates),
        cmocka_unit_test(test_empty_file_is_an_empty_string),
        cmocka_unit_test(test_missing_and_directory_are_refused_with_a_message),
        cmocka_unit_test(test_pipe_is_read_to_its_end_within_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
