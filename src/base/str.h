/*
 * str: borrowed byte views (pointer + length) and the few comparisons the
 * parsers need. A view never owns its bytes; it is valid as long as the
 * buffer it points into.
 */
#ifndef TG_STR_H
#define TG_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct tg_str {
    const char *p; /* borrowed */
    size_t len;
};

/* A view of a NUL-terminated literal or string. */
static inline struct tg_str tg_str_c(const char *s)
{
    struct tg_str v = {s, strlen(s)};
    return v;
}

/* ASCII case-insensitive equality of a[0..n) and b[0..n). */
bool tg_str_same_nocase(const char *a, const char *b, size_t n);

/*
 * ASCII case-insensitive equality of a view and a C string. Inline: every
 * field of every head is compared with a handful of names, and for a
 * literal name the length check is a compare with a constant.
 */
static inline bool tg_str_eq_nocase(struct tg_str a, const char *b)
{
    size_t n = strlen(b);
    return a.len == n && tg_str_same_nocase(a.p, b, n);
}

/*
 * Copies the C string src into dst[0..size) as snprintf("%s") would
 * (truncated, always terminated when size > 0) but without the format
 * machinery: names are copied so on every request.
 */
void tg_str_copy(char *dst, size_t size, const char *src);

/* Exact equality of two views. */
bool tg_str_eq(struct tg_str a, struct tg_str b);

/* The view without leading and trailing spaces and tabs (RFC 9110 OWS). */
struct tg_str tg_str_trim(struct tg_str s);

/*
 * Iterates a comma-separated list (RFC 9110 §5.6.1): returns true and sets
 * *item to the next non-empty trimmed element, advancing *rest; false when
 * the list is exhausted. Quoted strings are not special-cased: callers use
 * it for token lists only (Connection, Transfer-Encoding).
 */
bool tg_str_next_token(struct tg_str *rest, struct tg_str *item);

#endif
