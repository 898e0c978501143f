/*
 * fuzz_config: conf/config's file parser on arbitrary file contents. The
 * input is written to a memfd and loaded through /proc/self/fd/N over the
 * defaults, then validated and freed (a leak fails the run). Properties:
 *   - loading returns 0, or -1 with a terminated message that starts with
 *     "PATH:" (an error always names the file);
 *   - validating returns 0, or -1 with a non-empty terminated message;
 *   - whatever was accepted stays inside the documented bounds: at most
 *     TG_CONFIG_MAX_* listen addresses, schemes, rules and port ranges, each
 *     range LO <= HI with LO >= 1, a realm of at most 128 printable ASCII bytes without '"'
 *     or '\', list items that are non-NULL strings;
 *   - loading the same bytes again into a fresh config gives the same
 *     result and message (nothing depends on leftover state).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tg_config first, second;

static void check_message(const char *err, size_t errlen, const char *prefix)
{
    size_t n = strnlen(err, errlen);
    if (n == 0 || n == errlen || strncmp(err, prefix, strlen(prefix)) != 0)
        abort();
}

static void check_list(const struct tg_config_list *l)
{
    if (l->n > TG_CONFIG_MAX_RULES)
        abort();
    for (size_t i = 0; i < l->n; i++) {
        if (!l->item[i] || l->item[i][0] == '\0')
            abort();
    }
}

static void check_realm(const char *realm)
{
    if (!realm || strlen(realm) > 128)
        abort();
    for (const char *p = realm; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\')
            abort();
    }
}

static void check_bounds(const struct tg_config *c)
{
    if (c->nlisten > TG_CONFIG_MAX_LISTEN || c->nauth > TG_CONFIG_MAX_SCHEMES ||
        c->nconnect_ports > TG_CONFIG_MAX_PORT_RANGES)
        abort();
    for (size_t i = 0; i < c->nlisten; i++) {
        if (c->listen[i].addrlen == 0 || strnlen(c->listen[i].text, 64) == 64)
            abort();
    }
    for (size_t i = 0; i < c->nauth; i++) {
        if (!c->auth[i])
            abort();
    }
    for (size_t i = 0; i < c->nconnect_ports; i++) {
        const struct tg_port_range *r = &c->connect_ports[i];
        if (r->lo == 0 || r->lo > r->hi || !tg_config_connect_port_ok(c, r->lo) ||
            !tg_config_connect_port_ok(c, r->hi))
            abort();
    }
    check_realm(c->realm);
    check_list(&c->auth_rules);
    check_list(&c->access_rules);
    check_list(&c->allow_destination);
    check_list(&c->rate_exempt);
    if (c->threads < 1 || c->hash_threads < 1 || c->rate_max_failures < 1)
        abort();
}

/* Defaults, the file, validation: returns the load result, message in err. */
static int load(struct tg_config *c, const char *path, char *err, size_t errlen)
{
    char prefix[80], verr[256];
    if (tg_config_defaults(c) != 0)
        abort();
    memset(err, 'x', errlen);
    int rc = tg_config_load_file(c, path, err, errlen);
    snprintf(prefix, sizeof prefix, "%s:", path);
    if (rc == -1)
        check_message(err, errlen, prefix);
    else if (rc != 0)
        abort();
    check_bounds(c);
    memset(verr, 'x', sizeof verr);
    int v = tg_config_validate(c, verr, sizeof verr);
    if (v == -1)
        check_message(verr, sizeof verr, "");
    else if (v != 0)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err1[512], err2[512];
    int fd = memfd_create("config", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc1 = load(&first, path, err1, sizeof err1);
    int rc2 = load(&second, path, err2, sizeof err2);
    if (rc1 != rc2 || (rc1 != 0 && strcmp(err1, err2) != 0))
        abort();
    tg_config_fini(&first);
    tg_config_fini(&second);
    close(fd);
    return 0;
}
