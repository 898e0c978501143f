/*
 * reqhead: parser for an HTTP/1.x request head (RFC 9112 §2-§3, §5-§7).
 *
 * The parser neither allocates nor copies: the result holds views into the
 * caller's buffer. It is strict on purpose: anything a smuggling attack
 * could exploit (CL+TE, duplicate or invalid Content-Length, a
 * Transfer-Encoding whose last coding is not chunked, bare LF, obs-fold,
 * whitespace before the colon, NUL or CR in values, invalid field names) is
 * rejected with a status and a reason rather than interpreted.
 */
#ifndef TG_REQHEAD_H
#define TG_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "http/error.h"

/* Hard ceiling on fields per head; the configured limit may be lower. */
#define TG_REQHEAD_MAX_FIELDS 128

struct tg_field {
    struct tg_str name;  /* borrowed; never empty */
    struct tg_str value; /* borrowed; OWS trimmed */
};

enum tg_body_kind {
    TG_BODY_NONE = 0,
    TG_BODY_LENGTH = 1,  /* Content-Length */
    TG_BODY_CHUNKED = 2, /* Transfer-Encoding: chunked */
    TG_BODY_CLOSE = 3,   /* until the connection closes (responses only) */
};

struct tg_reqhead_limits {
    size_t max_request_line; /* 414 past it */
    size_t max_head;         /* whole head incl. request line; 431 past it */
    size_t max_fields;       /* <= TG_REQHEAD_MAX_FIELDS; 431 past it */
};

struct tg_reqhead {
    struct tg_str method; /* borrowed; a token */
    struct tg_str target; /* borrowed; request-target as sent */
    int minor_version;    /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
    struct tg_field fields[TG_REQHEAD_MAX_FIELDS];
    size_t nfields;
    size_t head_len; /* bytes of the head including the final CRLF CRLF */

    /* Derived from the fields, so callers need not re-scan them. */
    enum tg_body_kind body;  /* NONE, LENGTH or CHUNKED */
    uint64_t content_length; /* valid when body == TG_BODY_LENGTH */
    bool keep_alive;         /* version default adjusted by Connection */
    bool expect_continue;    /* Expect: 100-continue present */
    bool is_connect;         /* method is CONNECT */
    int host_index;          /* index of the Host field, -1 if none */
    int proxy_auth_index;    /* index of Proxy-Authorization, -1 if none */
    int proxy_auth_count;    /* how many Proxy-Authorization fields */
};

/*
 * Parses the head at the start of buf[0..len).
 * Returns the head length (> 0) when a complete valid head is present,
 * 0 when more bytes are needed (and no limit is exceeded yet), or -1 when
 * the input is invalid or too large, with *err set (400, 414, 431, 501).
 * Thread-safe; no allocation.
 */
long tg_reqhead_parse(const char *buf, size_t len, const struct tg_reqhead_limits *lim,
                      struct tg_reqhead *out, struct tg_http_error *err);

/* Returns the first field with that name (case-insensitive), or NULL. */
const struct tg_field *tg_reqhead_find(const struct tg_reqhead *h, const char *name);

#endif
