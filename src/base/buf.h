/*
 * buf: a bounded byte buffer with a read cursor. The storage is allocated on
 * first use and can be released when empty, so that idle connections hold no
 * buffer memory. Growth never passes the capacity fixed at init: every
 * buffer in Tollgate has a limit.
 */
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct tg_buf {
    char *data;   /* owned; NULL while released */
    size_t start; /* first unread byte */
    size_t end;   /* one past the last byte */
    size_t cap;   /* fixed maximum size */
};

/* Sets the limit; allocates nothing. */
void tg_buf_init(struct tg_buf *b, size_t cap);

/* Frees the storage (if any). Safe on a zeroed or already freed buffer. */
void tg_buf_fini(struct tg_buf *b);

/* Bytes waiting to be read. */
static inline size_t tg_buf_len(const struct tg_buf *b)
{
    return b->end - b->start;
}

static inline char *tg_buf_head(const struct tg_buf *b)
{
    return b->data + b->start;
}

/*
 * Makes room for writing: allocates if needed and moves unread bytes to the
 * front when that frees space. Returns the writable space at the tail
 * (0 when full or on allocation failure) and sets *tail.
 */
size_t tg_buf_space(struct tg_buf *b, char **tail);

/* Records n bytes written at the tail returned by tg_buf_space. */
void tg_buf_produce(struct tg_buf *b, size_t n);

/* Drops n bytes from the front; releases the storage when it empties. */
void tg_buf_consume(struct tg_buf *b, size_t n);

/* tg_buf_append when the bytes do not simply fit at the tail. */
int tg_buf_append_slow(struct tg_buf *b, const void *p, size_t n);

/*
 * Appends n bytes; returns 0 or -ENOBUFS when they do not fit. Inline: a
 * response head is a few dozen appends, nearly all to a block with room.
 */
static inline int tg_buf_append(struct tg_buf *b, const void *p, size_t n)
{
    if (b->data && n && b->cap - b->end >= n) {
        memcpy(b->data + b->end, p, n);
        b->end += n;
        return 0;
    }
    return tg_buf_append_slow(b, p, n);
}

/*
 * Appends "name: value\r\n", one space check for the whole line: heads are
 * rewritten field by field on every request. 0 or -ENOBUFS (nothing added).
 */
int tg_buf_append_field(struct tg_buf *b, const char *name, size_t nlen, const char *value,
                        size_t vlen);

/*
 * The capacity to ask for when at least n bytes are needed: a power of two
 * from 4 KiB, so the thread's stash of freed blocks can serve it again.
 */
size_t tg_buf_size_class(size_t n);

/* Appends v in decimal (no printf: per-request heads use it); 0 or -ENOBUFS. */
int tg_buf_append_u64(struct tg_buf *b, uint64_t v);

/* Appends printf-formatted text; returns 0 or -ENOBUFS. */
int tg_buf_printf(struct tg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Frees the blocks this thread keeps for reuse: a thread that used buffers
 * calls it before it ends, or they leak. Buffers freed by one thread may
 * be reused by it only (the stash is thread-local).
 */
void tg_buf_thread_exit(void);

/*
 * Changes the limit (a request that must be held whole, then back). Keeps
 * the unread bytes; 0, -EINVAL when they would not fit, or -ENOMEM.
 */
int tg_buf_set_cap(struct tg_buf *b, size_t cap);

/* Releases the storage if the buffer is empty. */
void tg_buf_release_if_empty(struct tg_buf *b);

#endif
