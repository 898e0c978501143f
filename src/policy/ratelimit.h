/*
 * ratelimit: failed-login limiting shared by every worker thread.
 *
 * Per client address (IPv6 grouped by a prefix, /64 by default): failures
 * are counted over a sliding window; more than `max_failures` within
 * `window_ms` puts the address in a penalty for `penalty_ms`, doubled on
 * each repeat offence up to `penalty_max_ms`. While in a penalty every
 * request of that address is refused (429), valid credentials included.
 * Exempt prefixes are never limited.
 *
 * Per user name: failures from many distinct addresses mark the name as
 * under attack; its failures are then answered after an added delay,
 * never refused outright, so the real user at their usual address still
 * gets in.
 *
 * Tables are fixed-size and sharded (a mutex per shard): an attacker with
 * many addresses evicts the oldest entries, never grows memory. The check
 * on the success path is one relaxed atomic load while no address is in a
 * penalty, and one shard lookup otherwise.
 */
#ifndef TG_RATELIMIT_H
#define TG_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "net/cidr.h"

struct sockaddr;

struct tg_ratelimit_config {
    unsigned max_failures;   /* more than this many in the window: penalty (default 5) */
    uint64_t window_ms;      /* default 60000 */
    uint64_t penalty_ms;     /* first penalty (default 60000) */
    uint64_t penalty_max_ms; /* cap of the doubling (default 3600000) */
    unsigned ipv6_prefix;    /* 1..128, default 64 */
    const struct tg_cidr *exempt; /* borrowed array */
    size_t nexempt;
    size_t capacity;         /* addresses tracked (default 65536) */
    unsigned user_addresses; /* distinct failing addresses that mark a user under attack (default 10) */
    uint64_t user_delay_ms;  /* delay added to such a user's failures (default 2000) */
};

struct tg_ratelimit;

/*
 * cfg is copied (exempt stays borrowed until tg_ratelimit_free). Every
 * field must be set (the defaults above are the config module's). NULL
 * with errno ENOMEM, or EINVAL when a value is out of range: max_failures
 * above 100 (each address keeps max_failures + 1 failure times);
 * window_ms, penalty_ms or capacity 0; capacity above 1 << 24;
 * penalty_max_ms below penalty_ms; ipv6_prefix outside 1..128;
 * user_addresses above 64 (0 turns user tracking off). User names
 * tracked: capacity / 4 (at least 8).
 */
struct tg_ratelimit *tg_ratelimit_new(const struct tg_ratelimit_config *cfg);
/* Accepts NULL. Only once no other thread uses rl. */
void tg_ratelimit_free(struct tg_ratelimit *rl);

/*
 * Milliseconds of penalty left for this client address, 0 when it may
 * proceed. Any thread; called for every request. Exempt addresses, and
 * addresses other than AF_INET / AF_INET6, are never limited (an exempt
 * host inside a penalised IPv6 group included).
 */
uint64_t tg_ratelimit_blocked(struct tg_ratelimit *rl, const struct sockaddr *client,
                              uint64_t now_ms);

/*
 * Records a failed authentication (wrong or malformed credentials; not a
 * 407 for missing credentials) of `user` (may be NULL) from client.
 * Returns the penalty now in force for the address in ms (0: none yet;
 * always 0 for an exempt address). A failure arriving while the address
 * is already in a penalty is not counted and returns the time left.
 * *delay_ms (delay_ms may be NULL) gets the delay to add before answering
 * (user under attack), 0 otherwise. Any thread.
 */
uint64_t tg_ratelimit_fail(struct tg_ratelimit *rl, const struct sockaddr *client,
                           const char *user, uint64_t now_ms, uint64_t *delay_ms);

#endif
