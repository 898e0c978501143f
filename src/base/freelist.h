/*
 * freelist: a bounded stack of freed objects of one size, kept by a single
 * thread for reuse. The request path allocates a request and an attempt
 * per request; with a few dozen requests in flight in one loop turn,
 * malloc and free of those showed in profiles. Objects come back zeroed,
 * as from calloc. At most `max` are kept; the rest go back to free().
 */
#ifndef TG_FREELIST_H
#define TG_FREELIST_H

#include <stddef.h>

struct tg_freelist {
    void *head; /* owned: kept objects, linked through their first bytes */
    size_t n, max;
    size_t size;
};

/* An empty list for objects of `size` bytes (>= sizeof(void *)). */
void tg_freelist_init(struct tg_freelist *fl, size_t size, size_t max);

/* A zeroed object of the list's size, or NULL when out of memory. */
void *tg_freelist_take(struct tg_freelist *fl);

/* Gives p (from tg_freelist_take or calloc of the same size) back; NULL is ignored. */
void tg_freelist_give(struct tg_freelist *fl, void *p);

/* Frees every kept object. */
void tg_freelist_fini(struct tg_freelist *fl);

#endif
