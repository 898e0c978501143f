/*
 * token: the `tollgate token` subcommand. It parses its arguments and the
 * --ttl duration, checks that FILE (when it exists) is a token file the
 * proxy would accept, then has auth/tokens mint a token and append its
 * hash. The token itself goes to stdout alone, so `T=$(tollgate token ...)`
 * captures exactly it; everything else goes to stderr. The token is wiped
 * from memory before returning. It does not signal the proxy.
 */
#include "cli/token.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auth/tokens.h"
#include "base/secret.h"

#define USAGE "usage: tollgate token FILE USER [--ttl DURATION]\n"
#define TTL_MAX_S (100ull * 366 * 86400) /* a century: beyond that, say "no --ttl" */

enum exit_code {
    EXIT_DONE = 0,
    EXIT_FAILED = 1,
    EXIT_USAGE = 2,
};

struct args {
    const char *file;
    const char *user;
    uint64_t ttl_s; /* 0: no expiry */
    bool help;
};

static int usage_error(const char *why, const char *what)
{
    fprintf(stderr, "tollgate token: %s%s\n" USAGE, why, what);
    return -1;
}

/* "3600", "90m", "12h", "30d", "45s": a positive number of seconds. */
static bool parse_duration(const char *s, uint64_t *out)
{
    uint64_t v = 0, unit = 1;
    size_t i = 0;
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > TTL_MAX_S)
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (i == 0)
        return false;
    switch (s[i]) {
    case '\0':
    case 's':
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return false;
    }
    if (s[i] != '\0' && s[i + 1] != '\0')
        return false;
    if (v == 0 || v > TTL_MAX_S / unit)
        return false;
    *out = v * unit;
    return true;
}

static int set_ttl(struct args *a, const char *value)
{
    if (!parse_duration(value, &a->ttl_s))
        return usage_error("--ttl wants a positive duration like 3600, 90m, 12h or 30d, not ",
                           value);
    return 0;
}

/* Options may come before, between or after FILE and USER; "--" ends them. */
static int parse_args(int argc, char **argv, struct args *a)
{
    *a = (struct args){0};
    int npos = 0;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (options && strcmp(s, "--") == 0)
            options = false;
        else if (options && (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0))
            a->help = true;
        else if (options && strncmp(s, "--ttl=", 6) == 0) {
            if (set_ttl(a, s + 6) < 0)
                return -1;
        } else if (options && strcmp(s, "--ttl") == 0) {
            if (i + 1 == argc)
                return usage_error("--ttl needs a value", "");
            if (set_ttl(a, argv[++i]) < 0)
                return -1;
        } else if (options && s[0] == '-' && s[1] != '\0')
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

/* An existing FILE must already be valid: a line appended to a broken
 * file would never work, and the proxy would keep refusing the file. */
static bool file_usable(const char *path)
{
    char err[1024];
    if (access(path, F_OK) < 0 && errno == ENOENT)
        return true;
    struct tg_tokens *t = tg_tokens_load(path, err, sizeof err);
    if (!t) {
        fprintf(stderr, "tollgate: %s\n", err);
        return false;
    }
    tg_tokens_free(t);
    return true;
}

static void say_added(const struct args *a, uint64_t expiry)
{
    char when[64] = "";
    time_t t = (time_t)expiry;
    struct tm tm;
    if (expiry && gmtime_r(&t, &tm))
        strftime(when, sizeof when, ", expires %Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "tollgate: added a token for %s to %s%s (the token is shown only now)\n",
            a->user, a->file, when);
}

static int mint(const struct args *a)
{
    char token[TG_TOKENS_MINTED_LEN + 1], err[1024];
    unsigned char digest[TG_TOKENS_DIGEST_LEN];
    uint64_t expiry = a->ttl_s ? (uint64_t)time(NULL) + a->ttl_s : 0;
    int rc = tg_tokens_mint(token, digest);
    if (rc < 0) {
        fprintf(stderr, "tollgate: no random bytes: %s\n", strerror(-rc));
        return EXIT_FAILED;
    }
    /* Store first: a printed token whose hash never reached FILE is useless. */
    rc = tg_tokens_append(a->file, digest, a->user, expiry, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "tollgate: %s\n", err);
    else if (printf("%s\n", token) < 0 || fflush(stdout) != 0)
        rc = -1;
    tg_secret_wipe(token, sizeof token);
    if (rc < 0)
        return EXIT_FAILED;
    say_added(a, expiry);
    return EXIT_DONE;
}

int tg_token_main(int argc, char **argv)
{
    struct args a;
    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (a.help) {
        fputs(USAGE "Mints a random Bearer token for USER, prints it once on standard output\n"
                    "and appends its SHA-256 to FILE (created 0600). DURATION is seconds or a\n"
                    "number with s, m, h or d (90m, 12h, 30d); without --ttl the token does not\n"
                    "expire. Send the proxy SIGHUP to load the new line.\n",
              stdout);
        return EXIT_DONE;
    }
    const char *why = tg_tokens_bad_user(a.user);
    if (why) {
        fprintf(stderr, "tollgate token: %s\n", why);
        return EXIT_USAGE;
    }
    if (!file_usable(a.file))
        return EXIT_FAILED;
    return mint(&a);
}
