/*
 * connauth: authentication of the current request of a client connection,
 * from the Proxy-Authorization value to the verdict's response.
 */
#ifndef TG_CONNAUTH_H
#define TG_CONNAUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/str.h"
#include "proxy/conn.h"

struct tg_auth_attempt;

/* Checks value (the request's Proxy-Authorization, possibly empty) and acts on the verdict. */
void tg_connauth_start(struct tg_conn *c, struct tg_str value);

/* TG_CONN_BODYWAIT: more of a held auth-int body arrived; checks once it is complete. */
void tg_connauth_check_held_body(struct tg_conn *c);

/* The 407 (or 403 tls_required when no challenge may be offered here); failed adds error=. */
void tg_connauth_respond_407(struct tg_conn *c, const struct tg_auth_attempt *at, bool failed);

/* 429 for an address in a penalty, logged like an authentication attempt. */
void tg_connauth_respond_429(struct tg_conn *c, uint64_t left_ms, const char *user);

#endif
