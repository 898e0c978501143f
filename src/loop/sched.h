/*
 * sched: scheduling hints for the calling thread. Event loops ask for a
 * short time slice so that, on a core they share with password hashing,
 * a client's bytes wake them at once; pool threads ask for a low priority
 * and a long slice. Best effort: everything works without them.
 */
#ifndef TG_SCHED_H
#define TG_SCHED_H

#include <stdint.h>

#define TG_SCHED_SLICE_SHORT_NS 100000ULL    /* the shortest slice Linux grants */
#define TG_SCHED_SLICE_LONG_NS 100000000ULL  /* the longest */

/*
 * Sets the calling thread's nice value (never below the process's current
 * one, which an unprivileged thread could not undo) and its requested time
 * slice (EEVDF, Linux 6.12 and later; ignored before). 0, or -errno.
 */
int tg_sched_hint(int nice, uint64_t slice_ns);

#endif
