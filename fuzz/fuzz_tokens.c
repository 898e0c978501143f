/*
 * fuzz_tokens: auth/tokens on arbitrary token files. The input is parsed
 * whole with tg_tokens_parse, name "tokens.txt". When it loads, a small
 * model of the format here reads every line again, and each line's digest
 * is looked up at times around its EXPIRY; so are digests cut from the
 * input (its SHA-256, its first 32 bytes, all zeros). Properties:
 *   - a refused file leaves a non-empty, terminated message that starts
 *     with "tokens.txt:";
 *   - count is at most the number of lines, and equals the number of
 *     lines the model sees as entries (each has its own digest);
 *   - every lookup result is one of the four; TG_TOKENS_OK gives a non-NULL
 *     user of 1..TG_TOKENS_USER_MAX bytes, NUL-terminated, without blanks
 *     or control bytes, and an expiry_ms of 0 or a whole second;
 *   - a listed digest is found with its line's state (tokens.h): "revoked"
 *     is refused at any time; an EXPIRY is refused from that second on and
 *     accepted (with its own user and expiry_ms = EXPIRY * 1000) the
 *     millisecond before; none or "-" is accepted forever, expiry_ms 0;
 *   - a digest found OK at now_ms is not OK at its expiry_ms when it has
 *     one;
 *   - nothing leaks.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/tokens.h"
#include "base/hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "tokens.txt"
#define NOW_MS 1780272000000ull /* 2026-06-01, as the unit tests */
#define MAX_FIELDS 5

/* One line as the model reads it (format in tokens.h). */
struct line {
    const char *f[MAX_FIELDS];
    size_t fl[MAX_FIELDS];
    size_t n; /* fields, at most MAX_FIELDS */
};

static void check_message(const char *err, size_t errlen)
{
    size_t len = strnlen(err, errlen);
    if (len == 0 || len == errlen || strncmp(err, NAME ":", strlen(NAME ":")) != 0)
        abort();
}

static size_t count_lines(const uint8_t *data, size_t size)
{
    size_t n = 1;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    return n;
}

static bool from_hex(const char *s, size_t len, unsigned char d[TG_TOKENS_DIGEST_LEN])
{
    return len == 2 * TG_TOKENS_DIGEST_LEN && tg_hex_decode(s, len, d);
}

static bool field_is(const struct line *l, size_t i, const char *word)
{
    return i < l->n && l->fl[i] == strlen(word) && memcmp(l->f[i], word, l->fl[i]) == 0;
}

/* Splits s[0..len) on runs of blanks; false for a blank or comment line. */
static bool split(const char *s, size_t len, struct line *l)
{
    if (len > 0 && s[len - 1] == '\r')
        len--;
    l->n = 0;
    for (size_t i = 0; i < len && l->n < MAX_FIELDS;) {
        while (i < len && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == len)
            break;
        l->f[l->n] = s + i;
        while (i < len && s[i] != ' ' && s[i] != '\t')
            i++;
        l->fl[l->n] = (size_t)(s + i - l->f[l->n]);
        l->n++;
    }
    return l->n > 0 && l->f[0][0] != '#';
}

static void check_user(const char *user, const struct line *l)
{
    if (!user)
        abort();
    size_t len = strnlen(user, TG_TOKENS_USER_MAX + 1);
    if (len == 0 || len > TG_TOKENS_USER_MAX)
        abort();
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)user[i];
        if (c <= 0x20 || c == 0x7f)
            abort();
    }
    if (l && (len != l->fl[1] || memcmp(user, l->f[1], len) != 0))
        abort();
}

/* Looks d up at now; checks what any answer must satisfy. */
static enum tg_tokens_result lookup(const struct tg_tokens *t, const unsigned char *d, uint64_t now,
                                    const struct line *l, uint64_t *expiry_ms)
{
    const char *user = NULL;
    *expiry_ms = 1; /* never a whole second: must be overwritten on OK */
    enum tg_tokens_result r = tg_tokens_lookup(t, d, now, &user, expiry_ms);
    if ((unsigned)r > TG_TOKENS_EXPIRED)
        abort();
    if (r == TG_TOKENS_OK) {
        check_user(user, l);
        if (*expiry_ms % 1000 != 0)
            abort();
        if (*expiry_ms && tg_tokens_lookup(t, d, *expiry_ms, &user, expiry_ms) == TG_TOKENS_OK)
            abort();
    }
    return r;
}

/* Decimal seconds as the format allows them; false otherwise. */
static bool expiry_of(const struct line *l, size_t i, uint64_t *sec)
{
    uint64_t v = 0;
    if (l->fl[i] == 0 || l->fl[i] > 12)
        return false;
    for (size_t k = 0; k < l->fl[i]; k++) {
        if (l->f[i][k] < '0' || l->f[i][k] > '9')
            return false;
        v = v * 10 + (uint64_t)(l->f[i][k] - '0');
    }
    *sec = v;
    return v <= TG_TOKENS_EXPIRY_MAX;
}

/* A line of a file that loaded: its digest behaves as the line says. */
static void check_entry(const struct tg_tokens *t, const struct line *l)
{
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    uint64_t exp, sec;
    if (l->n < 2 || l->n > 4 || !from_hex(l->f[0], l->fl[0], d))
        abort(); /* the parser accepted a line the format does not allow */
    bool revoked = l->n > 2 && field_is(l, l->n - 1, "revoked");
    bool timed = l->n > 2 && !field_is(l, 2, "revoked") && !field_is(l, 2, "-");
    if (timed && !expiry_of(l, 2, &sec))
        abort();
    if (revoked) {
        if (lookup(t, d, NOW_MS, l, &exp) != TG_TOKENS_REVOKED ||
            lookup(t, d, 0, l, &exp) != TG_TOKENS_REVOKED)
            abort();
    } else if (timed) {
        /* tokens.h: "the token is refused from that second on". */
        if (lookup(t, d, sec * 1000, l, &exp) != TG_TOKENS_EXPIRED)
            abort();
        if (sec > 0 && (lookup(t, d, sec * 1000 - 1, l, &exp) != TG_TOKENS_OK || exp != sec * 1000))
            abort();
    } else {
        if (lookup(t, d, NOW_MS, l, &exp) != TG_TOKENS_OK || exp != 0 ||
            lookup(t, d, UINT64_MAX, l, &exp) != TG_TOKENS_OK)
            abort();
    }
}

/* Walks the input's lines as tg_tokens_parse does; returns the entries seen. */
static size_t check_lines(const struct tg_tokens *t, const uint8_t *data, size_t size)
{
    size_t entries = 0;
    for (size_t start = 0; start < size;) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size;
        struct line l;
        if (split((const char *)data + start, end - start, &l)) {
            check_entry(t, &l);
            entries++;
        }
        start = end + 1;
    }
    return entries;
}

/* Digests the file need not list: any answer is fine if well-formed. */
static void check_others(const struct tg_tokens *t, const uint8_t *data, size_t size)
{
    unsigned char d[TG_TOKENS_DIGEST_LEN];
    uint64_t exp;
    tg_tokens_digest(data, size, d);
    lookup(t, d, NOW_MS, NULL, &exp);
    memset(d, 0, sizeof d);
    lookup(t, d, NOW_MS, NULL, &exp);
    if (size >= TG_TOKENS_DIGEST_LEN)
        lookup(t, data, NOW_MS, NULL, &exp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    memset(err, 'x', sizeof err);
    struct tg_tokens *t = tg_tokens_parse((const char *)data, size, NAME, err, sizeof err);
    if (!t) {
        check_message(err, sizeof err);
        return 0;
    }
    size_t n = tg_tokens_count(t);
    if (n > count_lines(data, size) || check_lines(t, data, size) != n)
        abort();
    check_others(t, data, size);
    tg_tokens_free(t);
    return 0;
}
