/*
 * bodyhash: H(entity-body) for Digest qop=auth-int (RFC 7616 §3.4.3),
 * computed over a request body held in the client buffer, for every
 * Digest algorithm at once because the answer's algorithm is only known
 * to the scheme. Chunked bodies are decoded on a scratch decoder, so the
 * buffered bytes stay untouched for forwarding.
 */
#ifndef TG_BODYHASH_H
#define TG_BODYHASH_H

#include <stddef.h>
#include <stdint.h>

#include "auth/digestcalc.h"
#include "http/chunked.h"

enum tg_bodyhash_result {
    TG_BODYHASH_DONE = 0,    /* the whole body is buffered; hex filled */
    TG_BODYHASH_MORE = 1,    /* more bytes needed */
    TG_BODYHASH_INVALID = 2, /* chunked framing error */
};

/*
 * Hashes the body at the front of data[0..len): `length` bytes when
 * chunked is 0, else a chunked body decoded from a fresh decoder.
 */
enum tg_bodyhash_result tg_bodyhash(const char *data, size_t len, int chunked, uint64_t length,
                                    char hex[TG_DIGEST_NALGS][TG_DIGEST_HEX_MAX]);

#endif
