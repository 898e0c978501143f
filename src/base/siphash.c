/*
 * siphash: written from the paper's description (sections 2 and 4):
 * four 64-bit words of state, two rounds per 8-byte message word, four to
 * finalise; the 128-bit variant differs only in two constants and a second
 * finalisation.
 */
#include "base/siphash.h"

#include <endian.h>
#include <string.h>

struct sip {
    uint64_t v0, v1, v2, v3;
};

static uint64_t rotl(uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

static void store_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static void rounds(struct sip *s, int n)
{
    for (int i = 0; i < n; i++) {
        s->v0 += s->v1;
        s->v1 = rotl(s->v1, 13) ^ s->v0;
        s->v0 = rotl(s->v0, 32);
        s->v2 += s->v3;
        s->v3 = rotl(s->v3, 16) ^ s->v2;
        s->v0 += s->v3;
        s->v3 = rotl(s->v3, 21) ^ s->v0;
        s->v2 += s->v1;
        s->v1 = rotl(s->v1, 17) ^ s->v2;
        s->v2 = rotl(s->v2, 32);
    }
}

static void compress(struct sip *s, uint64_t m)
{
    s->v3 ^= m;
    rounds(s, 2);
    s->v0 ^= m;
}

/* Initialisation and every message word, the length byte included. */
static void absorb(struct sip *s, const unsigned char *key, const unsigned char *p, size_t len,
                   uint64_t v1_tweak)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    unsigned char last[8] = {0};
    s->v0 = k0 ^ 0x736f6d6570736575ULL; /* "somepseudorandomlygeneratedbytes" */
    s->v1 = k1 ^ 0x646f72616e646f6dULL ^ v1_tweak;
    s->v2 = k0 ^ 0x6c7967656e657261ULL;
    s->v3 = k1 ^ 0x7465646279746573ULL;
    size_t whole = len & ~(size_t)7;
    for (size_t i = 0; i < whole; i += 8)
        compress(s, load_le64(p + i));
    if (len > whole)
        memcpy(last, p + whole, len - whole);
    last[7] = (unsigned char)len; /* the length modulo 256 */
    compress(s, load_le64(last));
}

static uint64_t finish(struct sip *s, uint64_t v2_tweak)
{
    s->v2 ^= v2_tweak;
    rounds(s, 4);
    return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

void tg_siphash128(const unsigned char key[TG_SIPHASH_KEY], const void *data, size_t len,
                   unsigned char out[TG_SIPHASH_OUT])
{
    struct sip s;
    absorb(&s, key, data, len, 0xee);
    store_le64(out, finish(&s, 0xee));
    s.v1 ^= 0xdd; /* the second half: a further finalisation */
    rounds(&s, 4);
    store_le64(out + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

uint64_t tg_siphash64(const unsigned char key[TG_SIPHASH_KEY], const void *data, size_t len)
{
    struct sip s;
    absorb(&s, key, data, len, 0);
    return finish(&s, 0xff);
}
