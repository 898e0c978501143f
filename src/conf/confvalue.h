/*
 * confvalue: parsing one directive's value into struct tg_config, internal
 * to conf/. config.c feeds it values from defaults, files and flags;
 * confdoc.c borrows its formatting so the docs state the limits the
 * parsers enforce.
 */
#ifndef TG_CONFVALUE_H
#define TG_CONFVALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"
#include "conf/directive.h"

/* Longest realm accepted, in bytes; the docs quote the same number. */
#define TG_CONFVALUE_REALM_MAX 128

/*
 * Stores value v (NULL: none given, only for kinds that take no value)
 * into the field of c that d names. src is where v came from: a repeatable
 * directive's list is replaced by the first value from a newer source.
 * Returns 0, or -1 with the problem in why, without a "--name:" or
 * "FILE:LINE:" prefix. A bad value leaves the field as it was (only
 * running out of memory can leave the scheme list emptied). Callers hold c
 * exclusively.
 */
int tg_confvalue_set(struct tg_config *c, const struct tg_directive *d, const char *v,
                     enum tg_config_origin src, char *why, size_t whylen);

/* The blanks config text is split at: space, tab, CR, LF. */
bool tg_confvalue_is_blank(char ch);

/* Milliseconds as the shortest decimal seconds into buf: 1 -> "0.001", 86400000 -> "86400". */
void tg_confvalue_format_seconds(unsigned long long ms, char *buf, size_t len);

/* The known scheme names, "basic, digest, ...", into buf (truncated to len). */
void tg_confvalue_format_schemes(char *buf, size_t len);

#endif
