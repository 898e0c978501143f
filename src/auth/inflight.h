/*
 * inflight: verifications under way on one worker, so that requests that
 * carry the same credentials while the first of them is being hashed wait
 * for that one hash instead of queueing their own. Without it, a client
 * opening 50 connections at once (or 50 requests after the credential
 * cache entry expired) costs 50 bcrypt runs and seconds of delay.
 *
 * Loop thread only; nothing is allocated: nodes live in the attempts. The
 * key (the raw credential string) is borrowed from the leading attempt and
 * compared in constant time.
 */
#ifndef TG_INFLIGHT_H
#define TG_INFLIGHT_H

#include <stddef.h>

struct tg_inflight_node {
    struct tg_inflight_node *next;      /* private: the next leader */
    struct tg_inflight_node *followers; /* private: waiting on this one, newest first */
    const void *key;                    /* private, borrowed */
    size_t len;                         /* private */
};

struct tg_inflight {
    struct tg_inflight_node *leaders; /* private */
};

/* The leader verifying key[0..len), or NULL. */
struct tg_inflight_node *tg_inflight_find(const struct tg_inflight *f, const void *key, size_t len);

/* Registers n as verifying key[0..len) (borrowed until tg_inflight_done). */
void tg_inflight_lead(struct tg_inflight *f, struct tg_inflight_node *n, const void *key,
                      size_t len);

/* Makes n wait for leader's verdict. */
void tg_inflight_follow(struct tg_inflight_node *leader, struct tg_inflight_node *n);

/*
 * Unregisters leader and returns its followers, linked through ->next, in
 * arrival order. A leader that was never registered returns NULL.
 */
struct tg_inflight_node *tg_inflight_done(struct tg_inflight *f, struct tg_inflight_node *leader);

#endif
