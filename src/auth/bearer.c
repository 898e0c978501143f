/*
 * bearer: placeholder being replaced by the real implementation (see bearer.h).
 */
#include "auth/bearer.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth/auth.h"

struct tg_bearer {
    int unused;
};

struct tg_bearer *tg_bearer_new(const struct tg_bearer_config *cfg, char *err, size_t errlen)
{
    snprintf(err, errlen, "bearer tokens are not implemented yet");
    return NULL;
}

int tg_bearer_reload(struct tg_bearer *b, char *err, size_t errlen)
{
    return 0;
}

void tg_bearer_free(struct tg_bearer *b)
{
    free(b);
}

int tg_bearer_verify(struct tg_bearer *b, struct tg_str token, uint64_t now_ms, char *user,
                     size_t userlen, const char **reason)
{
    *reason = "unknown";
    return -1;
}

const char *tg_bearer_describe(const char *reason)
{
    return reason;
}

static int bearer_challenge(const struct tg_auth *auth, int variant, struct tg_buf *out,
                            const struct tg_auth_challenge_ctx *ctx)
{
    return tg_buf_printf(out, "Proxy-Authenticate: Bearer realm=\"%s\"\r\n", tg_auth_realm(auth));
}

static enum tg_auth_result bearer_verify(struct tg_auth_attempt *at, struct tg_str creds)
{
    at->reason = "unknown";
    return TG_AUTH_FAIL;
}

static const char *bearer_describe_variant(int variant)
{
    return "Bearer";
}

static unsigned bearer_needs(int variant)
{
    return TG_AUTH_SERVES_BEARER;
}

const struct tg_auth_scheme tg_bearer_scheme = {
    .name = "bearer",
    .token = "Bearer",
    .challenge = bearer_challenge,
    .verify = bearer_verify,
    .describe = bearer_describe_variant,
    .needs = bearer_needs,
};
