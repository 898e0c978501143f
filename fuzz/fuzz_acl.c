/*
 * fuzz_acl: policy/acl on arbitrary text. Each input line is offered to
 * tg_acl_add_rule, and the whole input is loaded as an htgroup file (via a
 * memfd), then a fixed set of requests is checked. Properties:
 *   - a refused rule or groups file leaves a non-empty, terminated message
 *     (the groups one starting with the path);
 *   - every verdict is one of the three, its rule index is at most the
 *     number of rules accepted, and the guard reports index 0;
 *   - a public destination is never refused by the guard, and a guarded
 *     one (no --allow-destination here) is allowed only by a rule, never
 *     by the default;
 *   - the same request checked twice gets the same answer.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
    } else {
        abort();
    }
    return ss;
}

static void check_message(const char *err, size_t errlen, const char *prefix)
{
    size_t n = strnlen(err, errlen);
    if (n == 0 || n == errlen || strncmp(err, prefix, strlen(prefix)) != 0)
        abort();
}

static size_t add_rules(struct tg_acl *acl, const uint8_t *data, size_t size)
{
    size_t accepted = 0;
    char *line = malloc(size + 1);
    for (size_t start = 0; start <= size;) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t len = nl ? (size_t)(nl - data) - start : size - start;
        memcpy(line, data + start, len);
        line[len] = '\0';
        char err[128];
        memset(err, 'x', sizeof err);
        int rc = tg_acl_add_rule(acl, line, err, sizeof err);
        if (rc == 0)
            accepted++;
        else if (rc == -1)
            check_message(err, sizeof err, "");
        else
            abort();
        start += len + 1;
    }
    free(line);
    return accepted;
}

static void load_groups(struct tg_acl *acl, const uint8_t *data, size_t size)
{
    int fd = memfd_create("groups", MFD_CLOEXEC);
    if (fd < 0)
        return;
    if (write(fd, data, size) == (ssize_t)size) {
        char path[64], err[256];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        memset(err, 'x', sizeof err);
        if (tg_acl_load_groups(acl, path, err, sizeof err) != 0)
            check_message(err, sizeof err, path);
    }
    close(fd);
}

static void check_requests(const struct tg_acl *acl, size_t accepted)
{
    static const char *const users[] = {"alice", "bob", NULL};
    static const char *const hosts[] = {"a.example.com", "EXAMPLE.com.", NULL};
    static const char *const dests[] = {"93.184.216.34",          "2606:2800::1", "127.0.0.1",
                                        "::ffff:169.254.169.254", "fe80::1",      "203.0.113.5"};
    struct sockaddr_storage client = addr("192.0.2.7");
    for (size_t u = 0; u < 3; u++)
        for (size_t h = 0; h < 3; h++)
            for (size_t d = 0; d < sizeof dests / sizeof *dests; d++) {
                struct sockaddr_storage dest = addr(dests[d]);
                struct tg_acl_request rq = {users[u],
                                            hosts[h],
                                            (uint16_t)(80 + 363 * (d & 1)),
                                            (d & 2) != 0,
                                            (struct sockaddr *)&client,
                                            (struct sockaddr *)&dest};
                size_t rule = SIZE_MAX, again = SIZE_MAX;
                enum tg_acl_verdict v = tg_acl_check(acl, &rq, &rule);
                bool guarded = tg_acl_guarded(acl, rq.dest);
                if (v > TG_ACL_DENY_SSRF || rule > accepted)
                    abort();
                if (v == TG_ACL_DENY_SSRF && (rule != 0 || !guarded))
                    abort();
                if (v == TG_ACL_ALLOW && guarded && rule == 0)
                    abort();
                if (tg_acl_check(acl, &rq, &again) != v || again != rule)
                    abort();
            }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_acl *acl = tg_acl_new();
    if (!acl)
        return 0;
    struct sockaddr_storage own = addr("203.0.113.5");
    if (tg_acl_add_own_address(acl, (struct sockaddr *)&own) != 0)
        abort();
    tg_acl_set_default(acl, size % 2 == 0);
    size_t accepted = add_rules(acl, data, size);
    load_groups(acl, data, size);
    check_requests(acl, accepted);
    tg_acl_free(acl);
    return 0;
}
