/*
 * server: state shared by every worker thread of one Tollgate process:
 * configuration, the authentication layer, the hashing pool, log files and
 * the process-wide connection count. Read-only after start, except for the
 * atomics and what the owning modules synchronise themselves.
 */
#ifndef TG_SERVER_H
#define TG_SERVER_H

#include <stdatomic.h>

#include "auth/auth.h"
#include "conf/config.h"
#include "http/reqhead.h"
#include "log/logfile.h"

struct tg_acl;
struct tg_tls;
struct tg_connlimit;
struct tg_ratelimit;

struct tg_server {
    const struct tg_config *cfg; /* borrowed */
    struct tg_auth *auth;        /* owned by main; NULL with --no-auth */
    struct tg_acl *acl;          /* owned by main: access rules and the SSRF guard */
    struct tg_ratelimit *rl;     /* owned by main; NULL with --no-auth */
    struct tg_connlimit *connlimit; /* owned by main */
    struct tg_tls *tls;          /* owned by main; NULL without TLS listeners */
    struct tg_logfile access_log;
    struct tg_logfile auth_log;
    struct tg_reqhead_limits limits;
    atomic_int nconns; /* client connections open, all workers */
};

#endif
