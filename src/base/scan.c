/*
 * scan: SSE2 compares are signed or equality only, so "x <= k" unsigned
 * is written min(x, k) == x. Each 16-byte step builds a mask of the bytes
 * in the class and stops at its lowest set bit; the tail under 16 bytes
 * goes byte by byte, so nothing is read past p + n.
 */
#include "base/scan.h"

/* The two classes; scan() is written once for both. */
enum byte_class { CTL, ESCAPED };

static bool in_class(enum byte_class k, unsigned char c)
{
    return k == CTL ? tg_scan_is_ctl(c) : tg_scan_is_escaped(c);
}

#ifdef __SSE2__
#include <emmintrin.h>

static __m128i le(__m128i x, unsigned char k)
{
    return _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8((char)k)), x);
}

static __m128i ge(__m128i x, unsigned char k)
{
    return _mm_cmpeq_epi8(_mm_max_epu8(x, _mm_set1_epi8((char)k)), x);
}

static __m128i eq(__m128i x, unsigned char k)
{
    return _mm_cmpeq_epi8(x, _mm_set1_epi8((char)k));
}

/* 0xff in each byte of x that is in the class, as in_class says. */
static __m128i class_mask(enum byte_class k, __m128i x)
{
    if (k == CTL)
        return _mm_or_si128(_mm_andnot_si128(eq(x, '\t'), le(x, 0x1f)), eq(x, 0x7f));
    return _mm_or_si128(_mm_or_si128(le(x, ' '), ge(x, 0x7f)), _mm_or_si128(eq(x, '%'), eq(x, '"')));
}
#endif

static size_t scan(const char *p, size_t n, enum byte_class k)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 16 <= n; i += 16) {
        int bits = _mm_movemask_epi8(class_mask(k, _mm_loadu_si128((const __m128i *)(p + i))));
        if (bits)
            return i + (size_t)__builtin_ctz((unsigned)bits);
    }
#endif
    while (i < n && !in_class(k, (unsigned char)p[i]))
        i++;
    return i;
}

size_t tg_scan_ctl(const char *p, size_t n)
{
    return scan(p, n, CTL);
}

size_t tg_scan_escaped(const char *p, size_t n)
{
    return scan(p, n, ESCAPED);
}
