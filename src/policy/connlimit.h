/*
 * connlimit: open connections per client address, shared by every worker
 * thread, so one address cannot hold all of --max-connections. A fixed
 * table (sharded, a mutex each) sized at start; an address is counted while
 * it has at least one connection, so the table needs no more entries than
 * the global connection limit allows.
 */
#ifndef TG_CONNLIMIT_H
#define TG_CONNLIMIT_H

#include <stdbool.h>
#include <stddef.h>

struct sockaddr;
struct tg_connlimit;

/* per_address 0 disables the limit (acquire always succeeds). NULL on ENOMEM. */
struct tg_connlimit *tg_connlimit_new(size_t max_connections, unsigned per_address);
void tg_connlimit_free(struct tg_connlimit *cl);

/* Counts a new connection of sa; false (nothing counted) when over the limit. Any thread. */
bool tg_connlimit_acquire(struct tg_connlimit *cl, const struct sockaddr *sa);

/* Uncounts a connection acquired before. Any thread. */
void tg_connlimit_release(struct tg_connlimit *cl, const struct sockaddr *sa);

#endif
