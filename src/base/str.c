/*
 * str: comparisons and list iteration over borrowed views. Nothing here
 * allocates.
 */
#include "base/str.h"

#include <stdint.h>

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/*
 * The eight bytes of x with ASCII 'A'-'Z' turned to lower case. Per byte,
 * with the top bit cleared, adding 0x80 - 'A' sets the top bit from 'A'
 * up and adding 0x80 - 'Z' - 1 from past 'Z'; no sum carries into the
 * next byte. Bytes that had the top bit set are not letters.
 */
static uint64_t fold8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, tops = 0x8080808080808080ULL;
    uint64_t low7 = x & ~tops;
    uint64_t from_a = low7 + ones * (0x80 - 'A');
    uint64_t past_z = low7 + ones * (0x80 - 'Z' - 1);
    uint64_t upper = from_a & ~past_z & ~x & tops;
    return x | (upper >> 2); /* 0x80 >> 2 is the case bit, 0x20 */
}

bool tg_str_same_nocase(const char *a, const char *b, size_t n)
{
    /* Header names are compared with literals on every request: eight
     * bytes at a time, folding case only where they differ. */
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, sizeof x);
        memcpy(&y, b + i, sizeof y);
        if (x != y && fold8(x) != fold8(y))
            return false;
    }
    for (; i < n; i++) {
        if (a[i] != b[i] && lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

void tg_str_copy(char *dst, size_t size, const char *src)
{
    if (size == 0)
        return;
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
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
