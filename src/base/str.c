/*
 * str: comparisons and list iteration over borrowed views. Nothing here
 * allocates.
 */
#include "base/str.h"

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

bool tg_str_same_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

bool tg_str_eq(struct tg_str a, struct tg_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

struct tg_str tg_str_trim(struct tg_str s)
{
    while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
        s.p++;
        s.len--;
    }
    while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
        s.len--;
    return s;
}

bool tg_str_next_token(struct tg_str *rest, struct tg_str *item)
{
    while (rest->len > 0) {
        const char *comma = memchr(rest->p, ',', rest->len);
        size_t n = comma ? (size_t)(comma - rest->p) : rest->len;
        struct tg_str cur = {rest->p, n};
        rest->p += comma ? n + 1 : n;
        rest->len -= comma ? n + 1 : n;
        cur = tg_str_trim(cur);
        if (cur.len > 0) {
            *item = cur;
            return true;
        }
    }
    return false;
}
