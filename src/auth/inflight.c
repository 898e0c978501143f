/*
 * inflight: a singly linked list of leaders. Its length is bounded by the
 * hashing pool's queue (a leader is registered only once its job was
 * accepted), so a linear scan costs less than one hash by far.
 */
#include "auth/inflight.h"

#include "base/secret.h"

struct tg_inflight_node *tg_inflight_find(const struct tg_inflight *f, const void *key, size_t len)
{
    for (struct tg_inflight_node *n = f->leaders; n; n = n->next) {
        if (n->len == len && tg_secret_equal(n->key, n->len, key, len))
            return n;
    }
    return NULL;
}

void tg_inflight_lead(struct tg_inflight *f, struct tg_inflight_node *n, const void *key,
                      size_t len)
{
    n->key = key;
    n->len = len;
    n->followers = NULL;
    n->next = f->leaders;
    f->leaders = n;
}

void tg_inflight_follow(struct tg_inflight_node *leader, struct tg_inflight_node *n)
{
    n->key = NULL;
    n->len = 0;
    n->followers = NULL;
    n->next = leader->followers;
    leader->followers = n;
}

struct tg_inflight_node *tg_inflight_done(struct tg_inflight *f, struct tg_inflight_node *leader)
{
    struct tg_inflight_node **p = &f->leaders;
    while (*p && *p != leader)
        p = &(*p)->next;
    if (!*p)
        return NULL;
    *p = leader->next;
    struct tg_inflight_node *in_order = NULL;
    for (struct tg_inflight_node *n = leader->followers, *next; n; n = next) {
        next = n->next;
        n->next = in_order;
        in_order = n;
    }
    leader->followers = NULL;
    leader->next = NULL;
    return in_order;
}
