/*
 * secret: handling of credential bytes. Comparisons take time that depends
 * only on the lengths, never on where the first difference is; wiping is
 * not optimised away.
 */
#ifndef TG_SECRET_H
#define TG_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Constant-time equality (time depends on the lengths only). */
bool tg_secret_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Overwrites n bytes with zeros in a way the compiler keeps. */
void tg_secret_wipe(void *p, size_t n);

/* Fills p with n cryptographically random bytes; 0 or a negative errno. */
int tg_secret_random(void *p, size_t n);

#endif
