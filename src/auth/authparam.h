/*
 * authparam: the auth-param list of a Proxy-Authorization value (RFC 9110
 * §11.2): `name = value` pairs separated by commas, where a value is a
 * token or a quoted-string, names compare case-insensitively, whitespace
 * around '=' and ',' is optional and empty list elements are allowed.
 * Quoted values are unescaped ("\x" -> "x") into the caller's struct, so the
 * result never points at half-decoded bytes. Anything else - a bare token,
 * an unterminated quote, a duplicated name, a value that is neither token
 * nor quoted-string - is rejected rather than guessed at.
 */
#ifndef TG_AUTHPARAM_H
#define TG_AUTHPARAM_H

#include <stdbool.h>
#include <stddef.h>

#include "base/str.h"

#define TG_AUTHPARAM_MAX 24     /* more parameters than this: rejected */
#define TG_AUTHPARAM_BUF 4096   /* unescaped value bytes, all params together */

struct tg_authparam {
    struct tg_str name;  /* points into the input */
    struct tg_str value; /* points into the input (token) or into buf (quoted, unescaped) */
    bool quoted;
};

struct tg_authparams {
    struct tg_authparam p[TG_AUTHPARAM_MAX];
    size_t n;
    char buf[TG_AUTHPARAM_BUF];
};

/*
 * Parses `in` (the credentials after the scheme token and its space).
 * Returns 0, or -1 with *why set to a static reason: "malformed",
 * "duplicate_param", "too_many_params", "too_long". out->p[] values stay
 * valid while both `in` and `out` live.
 */
int tg_authparam_parse(struct tg_str in, struct tg_authparams *out, const char **why);

/* The value of parameter `name` (case-insensitive), or NULL when absent. */
const struct tg_authparam *tg_authparam_get(const struct tg_authparams *ps, const char *name);

#endif
