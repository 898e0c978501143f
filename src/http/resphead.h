/*
 * resphead: parser for an HTTP/1.x response head from an origin
 * (RFC 9112 §4, §6). Same strictness and no-allocation contract as reqhead;
 * it also decides how the body is framed (RFC 9112 §6.3), which depends on
 * the request method and the status.
 */
#ifndef TG_RESPHEAD_H
#define TG_RESPHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/reqhead.h"

struct tg_resphead {
    int minor_version;
    int status;           /* 100..599 */
    struct tg_str reason; /* borrowed; may be empty */
    struct tg_field fields[TG_REQHEAD_MAX_FIELDS];
    size_t nfields;
    size_t head_len;

    enum tg_body_kind body;  /* NONE, LENGTH, CHUNKED or CLOSE */
    uint64_t content_length; /* valid when body == TG_BODY_LENGTH */
    bool keep_alive;         /* the origin will keep the connection open */
};

/*
 * Parses a response head; request_was_head adjusts the body framing (no
 * body for HEAD, 1xx, 204, 304; CONNECT responses are not parsed here).
 * Returns head length (> 0), 0 when more bytes are needed, -1 on invalid or
 * oversized input with *err set (status 502 for the client).
 * Thread-safe; no allocation.
 */
long tg_resphead_parse(const char *buf, size_t len, size_t max_head, bool request_was_head,
                       struct tg_resphead *out, struct tg_http_error *err);

#endif
