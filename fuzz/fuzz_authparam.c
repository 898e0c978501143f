/*
 * fuzz_authparam: auth/authparam on arbitrary bytes. Properties:
 *   - the result is 0, or -1 with one of the documented reasons and n == 0;
 *   - n <= TG_AUTHPARAM_MAX; every name is a non-empty token inside the
 *     input; every token value is a non-empty token inside the input; every
 *     quoted value lies inside buf, after the previous one, free of control
 *     bytes other than HTAB; names are unique case-insensitively and
 *     tg_authparam_get finds each one at its own index;
 *   - serialising the result canonically (quoted values re-escaped) and
 *     parsing that again gives the same list.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/authparam.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tg_authparams first, second;

static bool within(const char *p, size_t len, const char *lo, size_t cap)
{
    return p >= lo && p <= lo + cap && len <= (size_t)(lo + cap - p);
}

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool all_tchars(struct tg_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        if (!is_tchar((unsigned char)s.p[i]))
            return false;
    }
    return s.len > 0;
}

static void check_value(const struct tg_authparams *ps, size_t i, struct tg_str in,
                        const char **next_quoted)
{
    const struct tg_authparam *p = &ps->p[i];
    if (!p->quoted) {
        if (!within(p->value.p, p->value.len, in.p, in.len) || !all_tchars(p->value))
            abort();
        return;
    }
    if (!within(p->value.p, p->value.len, ps->buf, sizeof ps->buf) || p->value.p != *next_quoted)
        abort();
    for (size_t k = 0; k < p->value.len; k++) {
        unsigned char c = (unsigned char)p->value.p[k];
        if (c != '\t' && (c < ' ' || c == 0x7f))
            abort();
    }
    *next_quoted = p->value.p + p->value.len;
}

static void check_lookup(const struct tg_authparams *ps, size_t i)
{
    struct tg_str name = ps->p[i].name;
    char *c = malloc(name.len + 1);
    memcpy(c, name.p, name.len);
    c[name.len] = '\0';
    if (tg_authparam_get(ps, c) != &ps->p[i])
        abort();
    free(c);
}

static void check_result(const struct tg_authparams *ps, struct tg_str in)
{
    const char *next_quoted = ps->buf;
    if (ps->n > TG_AUTHPARAM_MAX)
        abort();
    for (size_t i = 0; i < ps->n; i++) {
        if (!within(ps->p[i].name.p, ps->p[i].name.len, in.p, in.len) || !all_tchars(ps->p[i].name))
            abort();
        check_value(ps, i, in, &next_quoted);
        check_lookup(ps, i);
    }
}

/* name=token or name="escaped", joined by ", ". */
static size_t serialise(const struct tg_authparams *ps, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const struct tg_authparam *p = &ps->p[i];
        if (i > 0) {
            memcpy(out + n, ", ", 2);
            n += 2;
        }
        memcpy(out + n, p->name.p, p->name.len);
        n += p->name.len;
        out[n++] = '=';
        if (p->quoted)
            out[n++] = '"';
        for (size_t k = 0; k < p->value.len; k++) {
            char c = p->value.p[k];
            if (p->quoted && (c == '"' || c == '\\'))
                out[n++] = '\\';
            out[n++] = c;
        }
        if (p->quoted)
            out[n++] = '"';
    }
    return n;
}

static bool same_str(struct tg_str a, struct tg_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void check_reparse(const struct tg_authparams *ps)
{
    /* Each value byte at most doubles; names, '=', quotes and ", " are bounded per param. */
    size_t cap = 2 * sizeof ps->buf + TG_AUTHPARAM_MAX * 6;
    for (size_t i = 0; i < ps->n; i++)
        cap += ps->p[i].name.len + 2 * ps->p[i].value.len;
    char *text = malloc(cap);
    struct tg_str again = {text, serialise(ps, text)};
    const char *why = NULL;
    if (again.len > cap || tg_authparam_parse(again, &second, &why) != 0 || second.n != ps->n)
        abort();
    for (size_t i = 0; i < ps->n; i++) {
        if (!same_str(second.p[i].name, ps->p[i].name) ||
            !same_str(second.p[i].value, ps->p[i].value) || second.p[i].quoted != ps->p[i].quoted)
            abort();
    }
    check_result(&second, again);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_str in = {(const char *)data, size};
    const char *why = NULL;
    int rc = tg_authparam_parse(in, &first, &why);
    if (rc == -1) {
        if (first.n != 0 || !why ||
            (strcmp(why, "malformed") && strcmp(why, "duplicate_param") &&
             strcmp(why, "too_many_params") && strcmp(why, "too_long")))
            abort();
        return 0;
    }
    if (rc != 0 || why)
        abort();
    check_result(&first, in);
    check_reparse(&first);
    return 0;
}
