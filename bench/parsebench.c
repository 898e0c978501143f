/*
 * parsebench: the parser micro-benchmark of `make bench`. It parses one
 * typical proxy request head with tg_reqhead_parse, or the Digest
 * credentials of its Proxy-Authorization field with tg_authparam_parse, N
 * times. bench/run.py runs it under `valgrind --tool=callgrind`, collecting
 * only inside run_reqhead / run_authparam, and divides the instruction count
 * by N: a figure that repeats exactly from run to run, unlike a timer.
 *
 * It measures the parsers alone, on input already in memory: no socket, no
 * allocation, no logging.
 *
 * usage: parsebench reqhead|authparam N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authparam.h"
#include "http/reqhead.h"

/* What curl 7.88 sends for `curl --proxy-digest -x ... http://...` on its
 * second request, plus the headers a browser adds: 9 fields. */
static const char head[] =
    "GET http://www.example.com/products/index.html?page=2&sort=price HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Proxy-Authorization: Digest username=\"alice\", realm=\"tollgate\", "
    "nonce=\"AAABjJ1x2gQvK3mP9sLr8w_Zb4cE1tYk0nQ7uHf2Xy5aGd6JhV3Wq\", "
    "uri=\"http://www.example.com/products/index.html?page=2&sort=price\", "
    "cnonce=\"ZjY4NWEwMzE5YzQyOGI1Mw==\", nc=00000001, qop=auth, "
    "response=\"5d1d7e4b1f1bb9e9c2a1c58e5fbd3f6f2a9c6a0e7d0b4e3f8a1c2b3d4e5f6a7b\", "
    "algorithm=SHA-256, opaque=\"c2VydmVyLW9wYXF1ZQ\", userhash=false\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate\r\n"
    "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark\r\n"
    "Proxy-Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "\r\n";

static struct tg_reqhead parsed_head;
static struct tg_authparams parsed_params;

/* Both loops are noinline so callgrind's --toggle-collect can name them. */
__attribute__((noinline)) static long run_reqhead(long n)
{
    static const struct tg_reqhead_limits lim = {8192, 16384, 100};
    struct tg_http_error err;
    long total = 0;
    for (long i = 0; i < n; i++)
        total += tg_reqhead_parse(head, sizeof head - 1, &lim, &parsed_head, &err);
    return total;
}

__attribute__((noinline)) static long run_authparam(struct tg_str creds, long n)
{
    const char *why = NULL;
    long total = 0;
    for (long i = 0; i < n; i++)
        total += tg_authparam_parse(creds, &parsed_params, &why) == 0 ? (long)parsed_params.n : -1;
    return total;
}

/* The credentials after "Digest ", found with the parser itself. */
static struct tg_str digest_creds(void)
{
    static const struct tg_reqhead_limits lim = {8192, 16384, 100};
    struct tg_http_error err;
    struct tg_str none = {NULL, 0};
    if (tg_reqhead_parse(head, sizeof head - 1, &lim, &parsed_head, &err) <= 0 ||
        parsed_head.proxy_auth_index < 0)
        return none;
    struct tg_str v = parsed_head.fields[parsed_head.proxy_auth_index].value;
    if (v.len < 7 || memcmp(v.p, "Digest ", 7) != 0)
        return none;
    struct tg_str creds = {v.p + 7, v.len - 7};
    return creds;
}

int main(int argc, char **argv)
{
    long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
    if (n <= 0 || (strcmp(argv[1], "reqhead") != 0 && strcmp(argv[1], "authparam") != 0)) {
        fprintf(stderr, "usage: parsebench reqhead|authparam N\n");
        return 2;
    }
    if (strcmp(argv[1], "reqhead") == 0) {
        long total = run_reqhead(n);
        if (total != n * (long)(sizeof head - 1)) {
            fprintf(stderr, "parsebench: the request head did not parse\n");
            return 1;
        }
        printf("reqhead: %ld parses, %zu bytes, %zu fields\n", n, sizeof head - 1,
               parsed_head.nfields);
        return 0;
    }
    struct tg_str creds = digest_creds();
    long total = creds.p ? run_authparam(creds, n) : -1;
    if (total <= 0 || total != n * (long)parsed_params.n) {
        fprintf(stderr, "parsebench: the Digest credentials did not parse\n");
        return 1;
    }
    printf("authparam: %ld parses, %zu bytes, %zu params\n", n, creds.len, parsed_params.n);
    return 0;
}
