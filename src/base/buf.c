/*
 * buf: bounded buffer with lazy allocation. Memory is only held while bytes
 * are in flight; this is what keeps an idle keep-alive connection small.
 */
#include "base/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Each request allocates and frees a few 4-64 KiB buffers (head, response,
 * origin side); malloc and free of those showed in profiles. So each
 * thread keeps up to STASH_MAX freed blocks, STASH_MAX_BYTES in all, for
 * reuse by size: bounded memory per thread, none per idle connection.
 * Sized for a loop turn with a few dozen requests in flight.
 */
#define STASH_MAX 32
#define STASH_MAX_BYTES (1024 * 1024)
#define STASH_MIN_SIZE 4096
#define STASH_MAX_SIZE 65536

struct stashed {
    char *p;
    size_t size;
};

static _Thread_local struct stashed stash[STASH_MAX];
static _Thread_local size_t nstash, stash_bytes;

static char *block_alloc(size_t size)
{
    for (size_t i = nstash; i-- > 0;) {
        if (stash[i].size == size) {
            char *p = stash[i].p;
            stash_bytes -= size;
            stash[i] = stash[--nstash];
            return p;
        }
    }
    return malloc(size);
}

static void block_free(char *p, size_t size)
{
    if (p && size >= STASH_MIN_SIZE && size <= STASH_MAX_SIZE && nstash < STASH_MAX &&
        stash_bytes + size <= STASH_MAX_BYTES) {
        stash[nstash++] = (struct stashed){p, size};
        stash_bytes += size;
        return;
    }
    free(p);
}

void tg_buf_thread_exit(void)
{
    while (nstash > 0)
        free(stash[--nstash].p);
    stash_bytes = 0;
}

void tg_buf_init(struct tg_buf *b, size_t cap)
{
    b->data = NULL;
    b->start = b->end = 0;
    b->cap = cap;
}

void tg_buf_fini(struct tg_buf *b)
{
    block_free(b->data, b->cap);
    b->data = NULL;
    b->start = b->end = 0;
}

/* Moves the bytes in flight to the start of the block. */
static void compact(struct tg_buf *b)
{
    size_t n = b->end - b->start;
    memmove(b->data, b->data + b->start, n);
    b->start = 0;
    b->end = n;
}

size_t tg_buf_space(struct tg_buf *b, char **tail)
{
    if (!b->data) {
        b->data = block_alloc(b->cap);
        if (!b->data) {
            *tail = NULL;
            return 0;
        }
        b->start = b->end = 0;
    }
    if (b->end == b->cap && b->start > 0)
        compact(b);
    *tail = b->data + b->end;
    return b->cap - b->end;
}

void tg_buf_produce(struct tg_buf *b, size_t n)
{
    b->end += n;
}

void tg_buf_consume(struct tg_buf *b, size_t n)
{
    b->start += n;
    if (b->start >= b->end)
        tg_buf_fini(b);
}

int tg_buf_append_slow(struct tg_buf *b, const void *p, size_t n)
{
    char *tail;
    if (n == 0)
        return 0;
    if (tg_buf_space(b, &tail) < n) {
        if (b->data && b->start > 0)
            compact(b);
        if (!b->data || b->cap - b->end < n)
            return -ENOBUFS;
        tail = b->data + b->end;
    }
    memcpy(tail, p, n);
    b->end += n;
    return 0;
}

int tg_buf_append_field(struct tg_buf *b, const char *name, size_t nlen, const char *value,
                        size_t vlen)
{
    char *tail;
    size_t n = nlen + 2 + vlen + 2;
    if (tg_buf_space(b, &tail) < n) {
        if (!b->data || b->cap - (b->end - b->start) < n)
            return -ENOBUFS; /* the whole line or nothing */
        compact(b);
        tail = b->data + b->end;
    }
    memcpy(tail, name, nlen);
    memcpy(tail + nlen, ": ", 2);
    memcpy(tail + nlen + 2, value, vlen);
    memcpy(tail + nlen + 2 + vlen, "\r\n", 2);
    b->end += n;
    return 0;
}

size_t tg_buf_size_class(size_t n)
{
    size_t cap = STASH_MIN_SIZE;
    while (cap < n && cap <= SIZE_MAX / 2)
        cap *= 2;
    return cap;
}

int tg_buf_append_u64(struct tg_buf *b, uint64_t v)
{
    char d[20];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return tg_buf_append(b, d + i, sizeof d - i);
}

int tg_buf_printf(struct tg_buf *b, const char *fmt, ...)
{
    char *tail;
    va_list ap;
    size_t room = tg_buf_space(b, &tail);
    if (!tail)
        return -ENOBUFS;
    va_start(ap, fmt);
    int n = vsnprintf(tail, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return -ENOBUFS; /* nothing is produced: the partial text is ignored */
    b->end += (size_t)n;
    return 0;
}

void tg_buf_release_if_empty(struct tg_buf *b)
{
    if (b->data && b->start == b->end)
        tg_buf_fini(b);
}

int tg_buf_set_cap(struct tg_buf *b, size_t cap)
{
    size_t len = b->end - b->start;
    if (cap < len)
        return -EINVAL;
    if (b->data) {
        memmove(b->data, b->data + b->start, len);
        char *p = realloc(b->data, cap ? cap : 1);
        if (!p)
            return -ENOMEM;
        b->data = p;
        b->start = 0;
        b->end = len;
    }
    b->cap = cap;
    return 0;
}
