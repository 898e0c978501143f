/*
 * field: the field-line grammar shared by the request and response head
 * parsers (RFC 9110 §5, RFC 9112 §2.2, §5, §6). Private to src/http: the
 * public entry points are reqhead and resphead.
 */
#ifndef TG_FIELD_H
#define TG_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/str.h"
#include "http/error.h"
#include "http/reqhead.h"

/* Largest Content-Length or chunk total we accept: fits an off_t. */
#define TG_FIELD_MAX_LENGTH INT64_MAX

/* True for RFC 9110 §5.6.2 tchar. */
bool tg_field_is_tchar(unsigned char c);

/* True when s is a non-empty RFC 9110 token. */
bool tg_field_is_token(struct tg_str s);

/*
 * Finds the line that starts at buf[pos], looking no further than
 * buf[len - 1]. Returns 1 with *line (without its CRLF) and *next (the
 * offset after the CRLF); 0 when no CRLF is present yet, with *line set to
 * the bytes seen so far minus a trailing CR; -1 with *reason ("bare_lf",
 * "bare_cr", "nul_byte") when the line can never be valid.
 */
int tg_field_next_line(const char *buf, size_t len, size_t pos, struct tg_str *line, size_t *next,
                       const char **reason);

/*
 * Finds the start line, skipping the empty lines RFC 9112 §2.2 lets a
 * recipient ignore before it (clients send one after a POST body). Same
 * contract as tg_field_next_line from offset 0.
 */
int tg_field_start_line(const char *buf, size_t len, struct tg_str *line, size_t *next,
                        const char **reason);

/* True when every byte of v may appear in a field value or a reason
 * phrase: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5, RFC 9112 §4). */
bool tg_field_is_value(struct tg_str v);

/* What differs between parsing a client's head and an origin's. */
struct tg_field_limits {
    size_t max_head;       /* the head may not end past this offset */
    size_t max_fields;     /* <= TG_REQHEAD_MAX_FIELDS */
    int status;            /* for syntax errors: 400 or 502 */
    int limit_status;      /* for the two limits below: 431 or 502 */
    const char *too_large; /* reason when max_head is exceeded */
    const char *too_many;  /* reason when max_fields is exceeded */
};

/*
 * Parses the field lines starting at buf[pos] up to and including the
 * empty line that ends the head. Fills fields[0..*nfields).
 * Returns the head length (offset after the final CRLF), 0 when more bytes
 * are needed, or -1 with *err set.
 */
long tg_field_parse_block(const char *buf, size_t len, size_t pos,
                          const struct tg_field_limits *lim, struct tg_field *fields,
                          size_t *nfields, struct tg_http_error *err);

/*
 * Parses a Content-Length member: 1*DIGIT, at most 19 digits and at most
 * TG_FIELD_MAX_LENGTH. Returns 0 with *out set, or -1.
 */
int tg_field_parse_length(struct tg_str s, uint64_t *out);

/* What the Transfer-Encoding fields of one message say, summed up. */
struct tg_field_te {
    int nfields;       /* Transfer-Encoding fields seen */
    int nchunked;      /* times "chunked" was listed */
    bool chunked_last; /* the last coding listed is chunked */
    bool other;        /* a coding other than chunked was listed */
    bool invalid;      /* a member was not a token, or a field was empty */
};

/* Adds one Transfer-Encoding field value to *te (RFC 9112 §6.1). */
void tg_field_te_add(struct tg_field_te *te, struct tg_str value);

/*
 * Reads a Connection (or Proxy-Connection) value and sets *close or
 * *keep_alive when the matching option is listed (RFC 9112 §9.3, §9.6).
 */
void tg_field_connection(struct tg_str value, bool *close, bool *keep_alive);

#endif
