/*
 * hopbyhop: which header fields stop at the proxy (RFC 9110 §7.6.1).
 * Fixed hop-by-hop names plus every name listed in Connection fields.
 * Proxy-Authorization and Proxy-Authenticate are consumed by the proxy
 * (RFC 9110 §11.7) and never forwarded; Authorization is end-to-end.
 */
#ifndef TG_HOPBYHOP_H
#define TG_HOPBYHOP_H

#include <stdbool.h>
#include <stddef.h>

#include "http/reqhead.h"

/*
 * Sets forward[i] to true for each field that must be forwarded and false
 * for each hop-by-hop one (including Connection itself and the names it
 * lists). Content-Length and Transfer-Encoding are also marked false: the
 * proxy re-frames bodies and writes its own framing. Thread-safe.
 */
void tg_hopbyhop_mark(const struct tg_field *fields, size_t n, bool *forward);

#endif
