/*
 * freelist: the kept objects form a singly linked stack, so the most
 * recently freed (still in cache) is reused first.
 */
#include "base/freelist.h"

#include <stdlib.h>
#include <string.h>

void tg_freelist_init(struct tg_freelist *fl, size_t size, size_t max)
{
    fl->head = NULL;
    fl->n = 0;
    fl->max = max;
    fl->size = size;
}

void *tg_freelist_take(struct tg_freelist *fl)
{
    void *p = fl->head;
    if (!p)
        return calloc(1, fl->size);
    memcpy(&fl->head, p, sizeof fl->head);
    fl->n--;
    memset(p, 0, fl->size);
    return p;
}

void tg_freelist_give(struct tg_freelist *fl, void *p)
{
    if (!p)
        return;
    if (fl->n >= fl->max) {
        free(p);
        return;
    }
    memcpy(p, &fl->head, sizeof fl->head);
    fl->head = p;
    fl->n++;
}

void tg_freelist_fini(struct tg_freelist *fl)
{
    while (fl->head) {
        void *p = fl->head;
        memcpy(&fl->head, p, sizeof fl->head);
        free(p);
    }
    fl->n = 0;
}
