/*
 * scan: finding the first byte of a class in a span, 16 bytes at a time
 * where the CPU has SSE2 (every x86-64), a byte at a time elsewhere. The
 * two classes are the ones every request pays for: the bytes a field
 * value may not hold (the head parser) and the bytes the access log
 * escapes.
 */
#ifndef TG_SCAN_H
#define TG_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* True for a byte a field value may not hold: a control other than HTAB, or DEL (RFC 9110 §5.5). */
static inline bool tg_scan_is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/* True for a byte the access log writes as %XX: space and below, DEL and above, '%', '"'. */
static inline bool tg_scan_is_escaped(unsigned char c)
{
    return c <= ' ' || c >= 0x7f || c == '%' || c == '"';
}

/* The offset of the first tg_scan_is_ctl byte in p[0..n), or n. */
size_t tg_scan_ctl(const char *p, size_t n);

/* The offset of the first tg_scan_is_escaped byte in p[0..n), or n. */
size_t tg_scan_escaped(const char *p, size_t n);

#endif
