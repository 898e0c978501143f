/*
 * connauth: the authentication step of a request: starting the scheme's
 * check (on the hashing pool when it is costly), holding a Digest auth-int
 * body until its hash is known, and answering the verdict (forward, 407,
 * 429, 400, 503) with its auth-log line. conn.c owns the connection's
 * states; this file moves it into and out of TG_CONN_AUTH, BODYWAIT and
 * DELAY.
 */
#include "proxy/connauth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "base/clock.h"
#include "log/authlog.h"
#include "policy/ratelimit.h"
#include "proxy/bodyhash.h"
#include "proxy/errpage.h"
#include "proxy/server.h"
#include "proxy/worker.h"

static const struct tg_config *cfg(const struct tg_conn *c)
{
    return c->w->srv->cfg;
}

static void hold_body(struct tg_conn *c, struct tg_str value);

static void write_auth_log(struct tg_conn *c, struct tg_auth_attempt *at)
{
    struct tg_auth_entry e = {
        .client = c->peer,
        .user = at->user[0] ? at->user : NULL,
        .scheme = at->scheme ? at->scheme->name : "-",
        .result = at->result == TG_AUTH_OK          ? "ok"
                  : at->result == TG_AUTH_CHALLENGE ? "refused"
                                                    : "fail",
        .reason = at->reason,
    };
    tg_authlog_write(tg_worker_auth_log(c->w), &e);
}

/* 429 for an address in a penalty: logged like an authentication attempt. */
void tg_connauth_respond_429(struct tg_conn *c, uint64_t left_ms, const char *user)
{
    char extra[64];
    struct tg_auth_entry e = {
        .client = c->peer,
        .user = user && user[0] ? user : NULL,
        .scheme = "-",
        .result = "rate_limited",
        .reason = "too_many_failures",
    };
    tg_authlog_write(tg_worker_auth_log(c->w), &e);
    snprintf(extra, sizeof extra, "Retry-After: %llu\r\n",
             (unsigned long long)((left_ms + 999) / 1000));
    tg_conn_respond(c, 429, "rate_limited", extra, tg_errpage_body(429));
}

/* With a TLS listener, Basic is kept off plaintext ones unless --basic-on-plaintext. */
static bool no_basic(const struct tg_conn *c)
{
    return !c->ssl && c->tls_listener_exists && !cfg(c)->basic_on_plaintext;
}

void tg_connauth_respond_407(struct tg_conn *c, const struct tg_auth_attempt *at, bool failed)
{
    struct tg_buf hdrs;
    struct tg_auth_challenge_ctx ctx = {
        .error = failed && !at->stale ? (at->error ? at->error : "invalid_credentials") : NULL,
        .error_description = failed ? at->error_description : NULL,
        .stale = at->stale,
    };
    tg_buf_init(&hdrs, 4096);
    tg_auth_challenges(c->w->srv->auth, c->req->offer, &hdrs, failed ? at->scheme : NULL, &ctx,
                       no_basic(c));
    if (tg_buf_len(&hdrs) == 0) {
        /* Only Basic is offered to this client and this listener may not carry
         * it: a 407 without a challenge would leave the client stuck. */
        tg_buf_fini(&hdrs);
        tg_conn_respond(c, 403, "tls_required", NULL, tg_errpage_tls_required);
        return;
    }
    char *extra = strndup(hdrs.data ? tg_buf_head(&hdrs) : "", tg_buf_len(&hdrs));
    tg_buf_fini(&hdrs);
    tg_conn_respond(c, 407, at->reason, extra, tg_errpage_body(407));
    free(extra);
}

/*
 * Wrong credentials count against the address (a stale nonce is not a
 * failure: the password was right). Past the limit the answer is 429; for
 * a user under attack from many addresses the 407 waits a little.
 */
static void refuse_failed(struct tg_conn *c, struct tg_auth_attempt *at)
{
    uint64_t delay = 0, penalty = 0;
    if (c->w->srv->rl && !at->stale)
        penalty = tg_ratelimit_fail(c->w->srv->rl, &c->peer_sa.sa, at->user[0] ? at->user : NULL,
                                    tg_clock_mono_ms(), &delay);
    if (penalty) {
        tg_connauth_respond_429(c, penalty, at->user);
        return;
    }
    if (delay) {
        c->state = TG_CONN_DELAY; /* on_timer sends the 407 */
        tg_conn_set_timer(c, delay);
        tg_conn_update(c);
        return;
    }
    tg_connauth_respond_407(c, at, true);
}

static void handle_auth_result(struct tg_conn *c, struct tg_auth_attempt *at)
{
    if (at->result != TG_AUTH_CHALLENGE || at->presented)
        write_auth_log(c, at);
    switch (at->result) {
    case TG_AUTH_OK:
        c->authed = true;
        tg_str_copy(c->req->user, sizeof c->req->user, at->user);
        if (at->info[0] && !(c->req->auth_info = strdup(at->info))) {
            tg_conn_close(c);
            return;
        }
        tg_forward_start(c); /* access rules are judged per resolved address there */
        break;
    case TG_AUTH_REJECT:
        tg_str_copy(c->req->user, sizeof c->req->user, at->user);
        tg_conn_respond(c, 400, at->reason, NULL, tg_errpage_body(400));
        break;
    case TG_AUTH_CHALLENGE:
        tg_connauth_respond_407(c, at, false);
        break;
    case TG_AUTH_FAIL:
        tg_str_copy(c->req->user, sizeof c->req->user, at->user);
        refuse_failed(c, at);
        break;
    default:
        tg_conn_respond(c, 503, "auth_busy", "Retry-After: 1\r\n", tg_errpage_body(503));
        break;
    }
}

static void on_auth_done(struct tg_auth_attempt *at)
{
    struct tg_conn *c = at->owner;
    c->state = TG_CONN_HEAD; /* no longer pending; respond/forward set the next state */
    handle_auth_result(c, at);
}

void tg_connauth_start(struct tg_conn *c, struct tg_str value)
{
    struct tg_req *r = c->req;
    struct tg_auth_request rq = {
        .method = tg_str_c(r->method),
        .target = tg_str_c(r->target),
        .is_connect = r->is_connect,
        .no_basic = no_basic(c),
    };
    for (int i = 0; r->have_body_hash && i < TG_DIGEST_NALGS; i++)
        rq.body_hash[i] = r->body_hash[i];
    struct tg_auth_attempt *at = tg_freelist_take(&c->w->spare_attempts);
    if (!at) {
        tg_conn_close(c);
        return;
    }
    at->owner = c;
    at->cache = c->w->cache;
    if (cfg(c)->cred_cache_ttl_ms && cfg(c)->cred_cache_size) /* else every request hashes */
        at->inflight = &c->w->inflight;
    at->on_done = on_auth_done;
    c->at = at;
    enum tg_auth_result res =
        tg_auth_start(c->w->srv->auth, c->w->loop, at, &rq, value, tg_loop_now(c->w->loop));
    if (res == TG_AUTH_PENDING) {
        c->state = TG_CONN_AUTH;
        tg_loop_timer_clear(c->w->loop, &c->timer);
        tg_conn_update(c);
        return;
    }
    if (res == TG_AUTH_NEED_BODY) {
        tg_conn_free_attempt(c);
        hold_body(c, value);
        return;
    }
    handle_auth_result(c, at);
}

/* Once the held body is complete: its hashes go to the scheme with the same credentials. */
void tg_connauth_check_held_body(struct tg_conn *c)
{
    struct tg_req *r = c->req;
    size_t len = tg_buf_len(&c->in);
    enum tg_bodyhash_result res =
        tg_bodyhash(len ? tg_buf_head(&c->in) : "", len, r->body_in.kind == TG_BODY_CHUNKED,
                    r->body_in.left, r->body_hash);
    if (res == TG_BODYHASH_DONE) {
        r->have_body_hash = true;
        c->state = TG_CONN_HEAD; /* start_auth moves it on */
        tg_connauth_start(c, tg_str_c(r->held_cred));
    } else if (res == TG_BODYHASH_INVALID) {
        c->close_after = true;
        tg_conn_respond(c, 400, "invalid_chunked_body", NULL, tg_errpage_body(400));
    } else if (len >= c->in.cap) {
        c->close_after = true;
        tg_conn_respond(c, 413, "auth_int_body_too_large", NULL, tg_errpage_body(413));
    } else {
        tg_conn_update(c);
    }
}

/*
 * Digest auth-int covers the body, so it must be here before the answer
 * can be checked: hold it (bounded by auth-int-max) in the client buffer,
 * where forwarding will later read it as usual.
 */
static void hold_body(struct tg_conn *c, struct tg_str value)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    struct tg_req *r = c->req;
    size_t max = cfg(c)->auth_int_max;
    /* Chunked framing costs at most a few bytes per chunk; allow for it. */
    size_t cap = r->body_in.kind == TG_BODY_CHUNKED ? max + max / 8 + 4096 : (size_t)r->body_in.left;
    if (r->body_in.kind == TG_BODY_LENGTH && r->body_in.left > max) {
        c->close_after = true;
        tg_conn_respond(c, 413, "auth_int_body_too_large", NULL, tg_errpage_body(413));
        return;
    }
    if (!(r->held_cred = strndup(value.p, value.len)) ||
        tg_buf_set_cap(&c->in, cap > c->in.cap ? cap : c->in.cap) < 0) {
        tg_conn_close(c);
        return;
    }
    c->state = TG_CONN_BODYWAIT;
    tg_conn_set_timer(c, cfg(c)->header_timeout_ms);
    if (!r->body_in.done && r->expect_continue && tg_buf_append(&c->out, cont, sizeof cont - 1) < 0) {
        tg_conn_close(c);
        return;
    }
    if (tg_buf_len(&c->out))
        tg_conn_flush(c);
    if (!c->closed && c->state == TG_CONN_BODYWAIT)
        tg_connauth_check_held_body(c);
}
