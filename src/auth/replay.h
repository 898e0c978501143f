/*
 * replay: which nonce counts (nc) have been used, shared by every worker
 * thread, bounded in memory. Each nonce has a sliding window of the last 64
 * counts, so requests that share a nonce may arrive out of order (browsers
 * use one nonce on parallel connections) but each count is accepted once.
 *
 * Bounded without opening a hole: when a shard is full the entry with the
 * oldest issue time is evicted and the shard remembers that time as a
 * floor; a nonce issued at or before the floor that is not in the table is
 * answered STALE (the client silently fetches a fresh nonce), never FRESH.
 * Entries past the nonce TTL are dropped first, as those nonces are stale
 * anyway. Sharded mutexes keep threads from contending.
 */
#ifndef TG_REPLAY_H
#define TG_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "auth/nonce.h"

struct tg_replay;

enum tg_replay_verdict {
    TG_REPLAY_FRESH = 0,  /* first use of this nc: now recorded */
    TG_REPLAY_SEEN = 1,   /* nc already used, or below the window: a replay */
    TG_REPLAY_STALE = 2,  /* the table forgot this nonce: ask for a new one */
};

/* capacity: nonces remembered in all (split among shards). NULL on ENOMEM. */
struct tg_replay *tg_replay_new(size_t capacity, uint64_t ttl_ms);
void tg_replay_free(struct tg_replay *r);

/*
 * Records use of count nc (>= 1) of nonce `id` issued at issued_ms.
 * Any thread. Call only after the response was verified as correct, so a
 * guesser cannot burn counts of someone else's nonce.
 */
enum tg_replay_verdict tg_replay_use(struct tg_replay *r, const unsigned char id[TG_NONCE_ID_LEN],
                                     uint64_t issued_ms, uint32_t nc, uint64_t now_ms);

#endif
