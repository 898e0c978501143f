/*
 * scan: SSE2 compares are signed or equality only, so "x <= k" unsigned
 * is written min(x, k) == x. Each 16-byte step builds a mask of the bytes
 * in the class and stops at its lowest set bit; the tail under 16 bytes
 * goes byte by byte, so nothing is read past p + n.
 */
#include "base/scan.h"

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

static __m128i ctl_mask(__m128i x)
{
    return _mm_or_si128(_mm_andnot_si128(eq(x, '\t'), le(x, 0x1f)), eq(x, 0x7f));
}

static __m128i escaped_mask(__m128i x)
{
    return _mm_or_si128(_mm_or_si128(le(x, ' '), ge(x, 0x7f)),
                        _mm_or_si128(eq(x, '%'), eq(x, '"')));
}

/* The offset of the first 16-byte block with a byte in the class, or the tail's start. */
static size_t blocks(const char *p, size_t n, __m128i (*mask)(__m128i), size_t *hit)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        int bits = _mm_movemask_epi8(mask(_mm_loadu_si128((const __m128i *)(p + i))));
        if (bits) {
            *hit = i + (size_t)__builtin_ctz((unsigned)bits);
            return i;
        }
    }
    *hit = n;
    return i;
}
#endif

size_t tg_scan_ctl(const char *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    size_t hit;
    i = blocks(p, n, ctl_mask, &hit);
    if (hit < n)
        return hit;
#endif
    while (i < n && !tg_scan_is_ctl((unsigned char)p[i]))
        i++;
    return i;
}

size_t tg_scan_escaped(const char *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    size_t hit;
    i = blocks(p, n, escaped_mask, &hit);
    if (hit < n)
        return hit;
#endif
    while (i < n && !tg_scan_is_escaped((unsigned char)p[i]))
        i++;
    return i;
}
