/*
 * authparam: the auth-param list of credentials (RFC 9110 §11.2), i.e.
 *
 *   #auth-param   with  auth-param = token BWS "=" BWS ( token / quoted-string )
 *
 * using the list rules of §5.6.1 (empty elements and OWS around commas are
 * accepted), tokens of §5.6.2 and quoted-strings with quoted-pair of §5.6.4.
 * Quoted values are unescaped into out->buf; names and token values stay
 * views into the input. One pass, no allocation, no resumption: the whole
 * field value is in memory when it is parsed.
 *
 * It does not know any scheme: which parameters are required, which values
 * make sense, token68 credentials (Basic) - that is the scheme's business.
 * It is strict where lenience has hurt others: a value that is a single '"'
 * was behind Squid's 2019 Digest overflow, and duplicated parameters let two
 * components disagree on which one counts.
 */
#include "auth/authparam.h"

#include <string.h>

/* The input still to read. */
struct cursor {
    const char *p;
    const char *end;
};

static const char MALFORMED[] = "malformed";

/* tchar of RFC 9110 §5.6.2. */
static bool is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * A byte allowed inside a quoted-string, as qdtext or after a backslash
 * (§5.6.4): HTAB, SP, VCHAR, obs-text. Every other control byte is refused,
 * so NUL, CR and LF never reach a value.
 */
static bool is_qchar(unsigned char c)
{
    return c == '\t' || (c >= ' ' && c != 0x7f);
}

static void skip_ows(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* The longest run of tchars at the cursor (possibly empty). */
static struct tg_str read_token(struct cursor *c)
{
    struct tg_str t = {c->p, 0};
    while (c->p < c->end && is_tchar((unsigned char)*c->p))
        c->p++;
    t.len = (size_t)(c->p - t.p);
    return t;
}

/*
 * A quoted-string at the cursor (which is on the opening quote), unescaped
 * into out->buf from *used on. NULL on success, else the reason.
 */
static const char *read_quoted(struct cursor *c, struct tg_authparams *out, size_t *used,
                               struct tg_str *value)
{
    size_t start = *used;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            value->p = out->buf + start;
            value->len = *used - start;
            return NULL;
        }
        if (ch == '\\') {
            if (++c->p == c->end)
                return MALFORMED;
            ch = (unsigned char)*c->p;
        }
        if (!is_qchar(ch))
            return MALFORMED;
        if (*used == sizeof out->buf)
            return "too_long";
        out->buf[(*used)++] = (char)ch;
    }
    return MALFORMED; /* no closing quote */
}

static bool same_name(struct tg_str a, struct tg_str b)
{
    return a.len == b.len && tg_str_same_nocase(a.p, b.p, a.len);
}

/* One `name BWS "=" BWS value` at the cursor, appended to out. */
static const char *read_param(struct cursor *c, struct tg_authparams *out, size_t *used)
{
    struct tg_authparam p = {{NULL, 0}, {NULL, 0}, false};
    p.name = read_token(c);
    if (p.name.len == 0)
        return MALFORMED;
    skip_ows(c);
    if (c->p == c->end || *c->p != '=')
        return MALFORMED; /* a bare token: token68 or a flag, neither is an auth-param */
    c->p++;
    skip_ows(c);
    if (c->p < c->end && *c->p == '"') {
        const char *why = read_quoted(c, out, used, &p.value);
        if (why)
            return why;
        p.quoted = true;
    } else {
        p.value = read_token(c);
        if (p.value.len == 0)
            return MALFORMED; /* empty, or a byte that starts neither form */
    }
    for (size_t i = 0; i < out->n; i++) {
        if (same_name(out->p[i].name, p.name))
            return "duplicate_param";
    }
    if (out->n == TG_AUTHPARAM_MAX)
        return "too_many_params";
    out->p[out->n++] = p;
    return NULL;
}

/*
 * The list loop. After each element only OWS and then a comma or the end
 * may follow: that is what refuses `a="x"y` and `a=b c=d`.
 */
int tg_authparam_parse(struct tg_str in, struct tg_authparams *out, const char **why)
{
    const char *err = NULL;
    size_t used = 0;
    out->n = 0;
    if (in.len > 0) {
        struct cursor c = {in.p, in.p + in.len};
        skip_ows(&c);
        while (c.p < c.end && !err) {
            if (*c.p == ',') { /* an empty list element (§5.6.1.2) */
                c.p++;
                skip_ows(&c);
                continue;
            }
            err = read_param(&c, out, &used);
            skip_ows(&c);
            if (!err && c.p < c.end && *c.p != ',')
                err = MALFORMED;
        }
    }
    if (!err)
        return 0;
    out->n = 0; /* a caller that ignores the result still finds nothing */
    if (why)
        *why = err;
    return -1;
}

const struct tg_authparam *tg_authparam_get(const struct tg_authparams *ps, const char *name)
{
    if (!ps || !name)
        return NULL;
    for (size_t i = 0; i < ps->n; i++) {
        if (tg_str_eq_nocase(ps->p[i].name, name))
            return &ps->p[i];
    }
    return NULL;
}
