/*
 * hex: base16 digits both ways (digests in credential and token files,
 * %XX escapes), one definition instead of one per parser.
 */
#ifndef TG_HEX_H
#define TG_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* 0..15 for a digit of either case, -1 for anything else. */
int tg_hex_digit(char c);

/* Decodes exactly len digits (len even) into len / 2 bytes; false on any non-digit. */
bool tg_hex_decode(const char *s, size_t len, unsigned char *out);

/* n bytes as 2n lowercase digits and a NUL into out[2n + 1]. */
void tg_hex_encode(const unsigned char *d, size_t n, char *out);

#endif
