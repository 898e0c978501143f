/*
 * htgroup: the groups of an Apache htgroup file ("group: user user ..."),
 * as access rules ask "is this user in that group", swappable at run time.
 *
 * SIGHUP re-reads the file off to the side and swaps the table in; a
 * broken file keeps the old one. Readers take the current table under a
 * short lock with a reference, so a check never sees a half-loaded table
 * and a table is freed only once its last reader is done.
 */
#ifndef TG_HTGROUP_H
#define TG_HTGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/str.h"

#define TG_HTGROUP_MAX (1u << 20)     /* bytes of the file */
#define TG_HTGROUP_LINE_MAX 16384     /* bytes of one line (Apache: 8190) */

struct tg_htgroup;

/*
 * Loads path (copied): whitespace-separated members, blank and # lines
 * skipped, a group may repeat. NULL with "PATH:LINE: ..." (or "PATH: ..."
 * for open/read/size errors) in err.
 */
struct tg_htgroup *tg_htgroup_load(const char *path, char *err, size_t errlen);

/* Re-reads the file. 0, or -1 with err set and the old table kept. Not on a loop. */
int tg_htgroup_reload(struct tg_htgroup *g, char *err, size_t errlen);

/* Whether user is listed in group. Any thread. A NULL g has no members. */
bool tg_htgroup_is_member(struct tg_htgroup *g, struct tg_str group, struct tg_str user);

/* (group, user) pairs in the current table. */
size_t tg_htgroup_count(struct tg_htgroup *g);

/* A user or group name: no controls, space, ',' or ':', not empty. */
bool tg_htgroup_name_ok(const char *s, size_t len);

/* Accepts NULL. No reader may still be inside tg_htgroup_is_member. */
void tg_htgroup_free(struct tg_htgroup *g);

#endif
