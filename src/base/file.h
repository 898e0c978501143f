/*
 * file: reading a whole configuration-sized file (users, tokens, keys,
 * groups) in one call, bounded, for loaders that run off the event loop.
 */
#ifndef TG_FILE_H
#define TG_FILE_H

#include <stddef.h>

/*
 * Reads path to its end into *out (malloc'd, NUL-terminated; the caller
 * frees it) with its length in *len. More than max bytes is an error, so
 * a wrong path (a log, a device) is refused rather than slurped. Copies
 * given up while growing are wiped: these files hold hashes and digests.
 * 0, or -errno (EFBIG past max; EISDIR for a directory).
 */
int tg_file_read(const char *path, size_t max, char **out, size_t *len);

/* "PATH: reason" for a tg_file_read error into err (the limit for EFBIG). */
void tg_file_error(char *err, size_t errlen, const char *path, int neg_errno, size_t max);

#endif
