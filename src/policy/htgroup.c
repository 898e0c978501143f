/*
 * htgroup: see htgroup.h. A table is the file's text plus a sorted
 * (group, user) array pointing into it, so membership is a binary search.
 */
#include "policy/htgroup.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"

struct member {
    struct tg_str group; /* both borrowed from the table's text */
    struct tg_str user;
};

struct table {
    atomic_uint refs;
    char *text;             /* owned: the file as read */
    struct member *members; /* owned, sorted by group then user */
    size_t n;
};

struct tg_htgroup {
    pthread_mutex_t lock; /* guards cur; held only to take a reference */
    struct table *cur;    /* owned (one reference) */
    char *path;           /* owned */
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

bool tg_htgroup_name_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f || c == ',' || c == ':')
            return false;
    }
    return len > 0;
}

static int cmp_str(struct tg_str a, struct tg_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.p, b.p, n) : 0;
    if (c)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

static int cmp_member(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    int c = cmp_str(x->group, y->group);
    return c ? c : cmp_str(x->user, y->user);
}

static int push_member(struct table *t, size_t *cap, struct tg_str group, struct tg_str user)
{
    if (t->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct member *v = realloc(t->members, ncap * sizeof *v);
        if (!v)
            return -1;
        t->members = v;
        *cap = ncap;
    }
    t->members[t->n++] = (struct member){group, user};
    return 0;
}

/* One line [s, e) without its newline. 0 or -1 with the reason in *why. */
static int parse_line(const char *s, const char *e, struct table *t, size_t *cap,
                      const char **why)
{
    while (s < e && is_space(*s))
        s++;
    if (s == e || *s == '#')
        return 0;
    const char *colon = memchr(s, ':', (size_t)(e - s));
    if (!colon) {
        *why = "expected 'group: user ...'";
        return -1;
    }
    struct tg_str group = {s, (size_t)(colon - s)};
    if (!tg_htgroup_name_ok(group.p, group.len)) {
        *why = "bad group name";
        return -1;
    }
    for (const char *p = colon + 1;;) {
        while (p < e && is_space(*p))
            p++;
        if (p == e)
            return 0;
        const char *u = p;
        while (p < e && !is_space(*p))
            p++;
        if (!tg_htgroup_name_ok(u, (size_t)(p - u))) {
            *why = "bad user name";
            return -1;
        }
        if (push_member(t, cap, group, (struct tg_str){u, (size_t)(p - u)}) != 0) {
            *why = "out of memory";
            return -1;
        }
    }
}

static int parse(const char *path, struct table *t, size_t len, char *err, size_t errlen)
{
    const char *p = t->text, *end = t->text + len;
    size_t cap = 0;
    for (unsigned line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        const char *why = NULL;
        if ((size_t)(e - p) > TG_HTGROUP_LINE_MAX)
            why = "line too long";
        else if (memchr(p, '\0', (size_t)(e - p)))
            why = "NUL byte";
        if (e > p && e[-1] == '\r')
            e--; /* CRLF files */
        if (why || parse_line(p, e, t, &cap, &why) != 0) {
            if (err && errlen)
                snprintf(err, errlen, "%s:%u: %s", path, line, why);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    if (t->n > 0)
        qsort(t->members, t->n, sizeof *t->members, cmp_member);
    return 0;
}

static void table_release(struct table *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
        free(t->members);
        free(t->text);
        free(t);
    }
}

static struct table *table_load(const char *path, char *err, size_t errlen)
{
    struct table *t = calloc(1, sizeof *t);
    size_t len = 0;
    int rc = t ? tg_file_read(path, TG_HTGROUP_MAX, &t->text, &len) : -1;
    if (rc < 0) {
        tg_file_error(err, errlen, path, t ? rc : -ENOMEM, TG_HTGROUP_MAX);
        free(t);
        return NULL;
    }
    atomic_init(&t->refs, 1);
    if (parse(path, t, len, err, errlen) != 0) {
        table_release(t);
        return NULL;
    }
    return t;
}

struct tg_htgroup *tg_htgroup_load(const char *path, char *err, size_t errlen)
{
    struct tg_htgroup *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path)) || !(g->cur = table_load(path, err, errlen))) {
        if (g && !g->path && err && errlen)
            snprintf(err, errlen, "%s: out of memory", path);
        if (g)
            free(g->path);
        free(g);
        return NULL;
    }
    pthread_mutex_init(&g->lock, NULL);
    return g;
}

int tg_htgroup_reload(struct tg_htgroup *g, char *err, size_t errlen)
{
    struct table *t = table_load(g->path, err, errlen);
    if (!t)
        return -1;
    pthread_mutex_lock(&g->lock);
    struct table *old = g->cur;
    g->cur = t;
    pthread_mutex_unlock(&g->lock);
    table_release(old);
    return 0;
}

static struct table *acquire(struct tg_htgroup *g)
{
    pthread_mutex_lock(&g->lock);
    struct table *t = g->cur;
    atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&g->lock);
    return t;
}

bool tg_htgroup_is_member(struct tg_htgroup *g, struct tg_str group, struct tg_str user)
{
    if (!g)
        return false;
    struct table *t = acquire(g);
    struct member key = {group, user};
    bool found = t->n > 0 && bsearch(&key, t->members, t->n, sizeof key, cmp_member) != NULL;
    table_release(t);
    return found;
}

size_t tg_htgroup_count(struct tg_htgroup *g)
{
    struct table *t = acquire(g);
    size_t n = t->n;
    table_release(t);
    return n;
}

void tg_htgroup_free(struct tg_htgroup *g)
{
    if (!g)
        return;
    table_release(g->cur);
    pthread_mutex_destroy(&g->lock);
    free(g->path);
    free(g);
}
