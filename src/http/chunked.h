/*
 * chunked: incremental decoder for the chunked transfer coding
 * (RFC 9112 §7.1). It walks framing and hands back data spans as views into
 * the input, so bodies stream through with no copy and no size limit other
 * than the chunk-size overflow check. Trailer fields are validated and
 * skipped (a proxy may drop them). Chunk extensions are bounded.
 */
#ifndef TG_CHUNKED_H
#define TG_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "http/error.h"

enum tg_chunked_result {
    TG_CHUNKED_NEED_MORE = 0, /* all input consumed, no data span */
    TG_CHUNKED_DATA = 1,      /* *data is a span of body bytes */
    TG_CHUNKED_DONE = 2,      /* last-chunk and trailers consumed */
    TG_CHUNKED_ERROR = 3,     /* invalid framing; *err set */
};

struct tg_chunked {
    int state;          /* private */
    uint64_t remaining; /* private: data bytes left in the current chunk */
    size_t line_len;    /* private: bytes seen on the current size/trailer line */
    size_t trailer_len; /* private: total trailer bytes seen */
};

void tg_chunked_init(struct tg_chunked *c);

/*
 * Consumes framing from in[0..len) and stops after at most one data span.
 * *consumed is set to the bytes used (including the span). Call again with
 * the rest until NEED_MORE, DONE or ERROR. Thread-safe, no allocation.
 */
enum tg_chunked_result tg_chunked_step(struct tg_chunked *c, const char *in, size_t len,
                                       size_t *consumed, struct tg_str *data,
                                       struct tg_http_error *err);

#endif
