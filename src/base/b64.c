/*
 * b64: the base64 alphabet of RFC 4648 §4, padded, for Basic credentials
 * (RFC 7617 §2) and {SHA} htpasswd hashes. Decoding is strict, as §3.3 and
 * §3.5 allow: no whitespace or line breaks, no characters outside the
 * alphabet, padding exactly where the length requires it, and no non-zero
 * bits left over in the last character. Each byte string therefore has one
 * encoding, so a cache keyed on the encoded form cannot be fooled by an
 * equivalent spelling. It does not handle the URL-safe alphabet (§5) or
 * unpadded input: nothing in Tollgate sends either.
 */
#include "base/b64.h"

#include <limits.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The 6-bit value of c, or -1 outside the alphabet ('=' included). */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Number of '=' at the end of a length-multiple-of-4 input: 0, 1 or 2. */
static size_t padding(const char *in, size_t len)
{
    if (len == 0 || in[len - 1] != '=')
        return 0;
    return in[len - 2] == '=' ? 2 : 1;
}

/*
 * Decodes one quantum of 4 characters, `pad` of them '='. Returns the number
 * of bytes written (3 - pad) or -1.
 */
static int quantum(const char *in, size_t pad, unsigned char *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        int s = i < 4 - pad ? sextet((unsigned char)in[i]) : 0;
        if (s < 0)
            return -1;
        v = v << 6 | (uint32_t)s;
    }
    /* §3.5: the bits a padded quantum leaves over must be zero. */
    if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
        return -1;
    int n = 3 - (int)pad;
    for (int i = 0; i < n; i++)
        out[i] = (unsigned char)(v >> (16 - 8 * i));
    return n;
}

long tg_b64_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    if (len % 4 != 0)
        return -1;
    size_t pad = padding(in, len);
    size_t outlen = len / 4 * 3 - pad;
    if (outlen > outcap || outlen > (size_t)LONG_MAX)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        size_t qpad = i + 4 == len ? pad : 0;
        int n = quantum(in + i, qpad, out + o);
        if (n < 0)
            return -1;
        o += (size_t)n;
    }
    return (long)o;
}

size_t tg_b64_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = left > 1 ? alphabet[v >> 6 & 63] : '=';
        out[o++] = left > 2 ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}
