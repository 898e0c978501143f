/*
 * passwd: the `tollgate passwd` subcommand. It parses its arguments, reads
 * the password from standard input (twice with echo off on a terminal,
 * else one line) and hands the rest to cred/userfile. The password is read
 * a byte at a time with read(2), so no stdio buffer keeps a copy, and is
 * wiped before returning. It does not hash or touch files itself.
 */
#include "cli/passwd.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "base/secret.h"
#include "cred/userfile.h"

#define DEFAULT_REALM "tollgate"
/* Far above what bcrypt accepts; userfile gives the real limit. */
#define PW_MAX 1024

#define USAGE "usage: tollgate passwd FILE USER [--realm REALM] [--delete]\n"

enum exit_code {
    EXIT_DONE = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
};

struct args {
    const char *file;
    const char *user;
    const char *realm;
    bool delete;
    bool help;
};

/* ---- arguments ---- */

static int usage_error(const char *why, const char *what)
{
    fprintf(stderr, "tollgate passwd: %s%s\n" USAGE, why, what);
    return -1;
}

/* Options may come before, between or after FILE and USER; "--" ends them. */
static int parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){.realm = DEFAULT_REALM};
    int npos = 0;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (options && strcmp(s, "--") == 0)
            options = false;
        else if (options && strcmp(s, "--delete") == 0)
            a->delete = true;
        else if (options && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0))
            a->help = true;
        else if (options && strncmp(s, "--realm=", 8) == 0)
            a->realm = s + 8;
        else if (options && strcmp(s, "--realm") == 0 && i + 1 < argc)
            a->realm = argv[++i];
        else if (options && strcmp(s, "--realm") == 0)
            return usage_error("--realm needs a value", "");
        else if (options && s[0] == '-' && s[1] != '\0')
            return usage_error("unknown option ", s);
        else if (npos++ == 0)
            a->file = s;
        else if (npos == 2)
            a->user = s;
        else
            return usage_error("unexpected argument ", s);
    }
    if (!a->help && npos < 2)
        return usage_error("FILE and USER are required", "");
    return 0;
}

/* ---- reading the password ---- */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

/* Reads one line from fd 0 into buf (PW_MAX bytes) without its "\n" or
 * "\r\n". Returns its length, -1 on a read error or interruption, -2 when
 * longer than PW_MAX. */
static long read_line(char *buf)
{
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(STDIN_FILENO, &c, 1);
        if (r < 0 && errno == EINTR && !interrupted)
            continue;
        if (r < 0)
            return -1;
        if (r == 0 || c == '\n')
            break;
        if (n == PW_MAX)
            return -2;
        buf[n++] = c;
    }
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    return (long)n;
}

/* Catches the signals a user sends to give up, without SA_RESTART so
 * read() returns and the terminal's echo can be restored. */
static void catch_signals(struct sigaction old[4], bool on)
{
    static const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], on ? &sa : &old[i], on ? &old[i] : NULL);
}

/* Asks prompt on out and reads the answer; the newline the user typed was
 * not echoed, so we write one. */
static long ask(int out, const char *prompt, char *buf)
{
    if (write(out, prompt, strlen(prompt)) < 0)
        return -1;
    long n = read_line(buf);
    if (write(out, "\n", 1) < 0)
        return -1;
    return n;
}

/* Asks twice with echo off; the prompts go to /dev/tty, or to stderr when
 * there is none. Returns the length, -1 (message printed) on failure. */
static long read_tty_password(char *pw)
{
    char again[PW_MAX];
    struct termios old, quiet;
    struct sigaction saved[4];
    if (tcgetattr(STDIN_FILENO, &old) < 0) {
        fprintf(stderr, "tollgate: terminal: %s\n", strerror(errno));
        return -1;
    }
    int tty = open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    int out = tty >= 0 ? tty : STDERR_FILENO;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
    catch_signals(saved, true);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    long n = ask(out, "Password: ", pw);
    long m = n >= 0 && !interrupted ? ask(out, "Again: ", again) : -1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    catch_signals(saved, false);
    if (tty >= 0)
        close(tty);
    bool same = n >= 0 && m >= 0 && tg_secret_equal(pw, (size_t)n, again, (size_t)m);
    tg_secret_wipe(again, sizeof again);
    if (interrupted)
        raise(interrupted); /* echo is back on: now die as the user asked */
    if (n == -2 || m == -2)
        fprintf(stderr, "tollgate: password longer than %d bytes\n", PW_MAX);
    else if (n < 0 || m < 0)
        fprintf(stderr, "tollgate: cannot read the password: %s\n", strerror(errno));
    else if (!same)
        fprintf(stderr, "tollgate: passwords do not match\n");
    return same ? n : -1;
}

static long read_password(char *pw)
{
    if (isatty(STDIN_FILENO))
        return read_tty_password(pw);
    long n = read_line(pw);
    if (n == -2)
        fprintf(stderr, "tollgate: password longer than %d bytes\n", PW_MAX);
    else if (n < 0)
        fprintf(stderr, "tollgate: cannot read the password: %s\n", strerror(errno));
    return n < 0 ? -1 : n;
}

/* ---- the two commands ---- */

static int run_delete(const struct args *a)
{
    char err[1024];
    int rc = tg_userfile_delete(a->file, a->user, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "tollgate: %s\n", err);
    else if (rc == 1)
        fprintf(stderr, "tollgate: %s is not in %s\n", a->user, a->file);
    else
        printf("tollgate: deleted %s from %s\n", a->user, a->file);
    return rc == 0 ? EXIT_DONE : EXIT_FAILED;
}

static int run_set(const struct args *a)
{
    char err[1024], pw[PW_MAX];
    /* Read the file first, so a typo in FILE fails before the prompt. */
    int had = tg_userfile_has(a->file, a->user, err, sizeof err);
    if (had < 0) {
        fprintf(stderr, "tollgate: %s\n", err);
        return EXIT_FAILED;
    }
    long n = read_password(pw);
    int rc = -1;
    if (n == 0)
        fprintf(stderr, "tollgate: empty password refused\n");
    else if (n > 0 &&
             (rc = tg_userfile_set(a->file, a->user, a->realm, pw, (size_t)n, err, sizeof err)) < 0)
        fprintf(stderr, "tollgate: %s\n", err);
    tg_secret_wipe(pw, sizeof pw);
    if (rc < 0)
        return EXIT_FAILED;
    if (had)
        printf("tollgate: updated %s in %s\n", a->user, a->file);
    else
        printf("tollgate: added %s to %s\n", a->user, a->file);
    return EXIT_DONE;
}

int tg_passwd_main(int argc, char **argv)
{
    struct args a;
    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (a.help) {
        fputs(USAGE "Sets USER's password in FILE (created 0600) for Basic and Digest in REALM\n"
                    "(default " DEFAULT_REALM "), read from standard input; --delete removes "
                    "USER.\n",
              stdout);
        return EXIT_DONE;
    }
    const char *why = tg_userfile_bad_name(a.user, a.delete ? NULL : a.realm);
    if (why) {
        fprintf(stderr, "tollgate passwd: %s\n", why);
        return EXIT_USAGE;
    }
    int rc = a.delete ? run_delete(&a) : run_set(&a);
    char warn[1024];
    if (rc == EXIT_DONE && tg_userfile_check_mode(a.file, warn, sizeof warn) == 1)
        fprintf(stderr, "tollgate: warning: %s\n", warn);
    return rc;
}
