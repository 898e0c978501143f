/*
 * acl: the ordered access rules (allow|deny with user, group, host, dest,
 * port, method and client conditions; first match wins) and the SSRF guard
 * that refuses loopback, link-local, unspecified, multicast and the proxy's
 * own addresses unless a rule or --allow-destination names them.
 *
 * Rules are parsed once into plain bounded structs; each keeps one owned
 * copy of its text that its names point into. Group membership is asked of
 * htgroup.c, whose table SIGHUP can swap; the rules themselves never change
 * after building, so tg_acl_check allocates nothing and locks only for a
 * group condition (htgroup's brief reference).
 *
 * Not here: reading the config file (config hands over each rule's text),
 * resolving names (the proxy passes the address it is about to connect to),
 * logging and the 403 page.
 */
#include "policy/acl.h"

#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/str.h"
#include "policy/htgroup.h"

enum cond {
    COND_USER = 0,
    COND_GROUP = 1,
    COND_HOST = 2,
    COND_DEST = 3,
    COND_PORT = 4,
    COND_METHOD = 5,
    COND_CLIENT = 6,
    COND_COUNT = 7,
};

static const char *const cond_keys[COND_COUNT] = {"user", "group",  "host",  "dest",
                                                  "port", "method", "client"};

struct host_pattern {
    struct tg_str name; /* borrowed from the rule text; ".suffix" when wild */
    bool wild;          /* "*.suffix": any name ending in ".suffix", not suffix itself */
};

struct port_range {
    uint16_t lo, hi; /* inclusive */
};

struct rule {
    bool allow;
    bool connect;     /* method=: CONNECT (true) or !CONNECT (false) */
    unsigned present; /* bit (1u << enum cond) for each condition given */
    char *text;       /* owned: the rule's text, NUL at token ends */
    uint8_t n[COND_COUNT];
    struct tg_str users[TG_ACL_MAX_ITEMS];
    struct tg_str groups[TG_ACL_MAX_ITEMS];
    struct host_pattern hosts[TG_ACL_MAX_ITEMS];
    struct tg_cidr dests[TG_ACL_MAX_ITEMS];
    struct port_range ports[TG_ACL_MAX_ITEMS];
    struct tg_cidr clients[TG_ACL_MAX_ITEMS];
};

struct tg_acl {
    struct rule *rules[TG_ACL_MAX_RULES]; /* owned */
    size_t nrules;
    bool default_allow;
    struct tg_cidr allow_dest[TG_ACL_MAX_ALLOW_DEST];
    size_t nallow_dest;
    struct tg_cidr own[TG_ACL_MAX_OWN]; /* host prefixes, IPv4-mapped stored as IPv4 */
    size_t nown;
    struct tg_htgroup *groups; /* owned; NULL without --groups */
};

/*
 * Guarded by default. IPv4-mapped IPv6 forms (::ffff:127.0.0.1) are caught
 * by the IPv4 entries, as tg_cidr_match judges mapped addresses as IPv4.
 */
static const struct tg_cidr guarded_ranges[] = {
    {AF_INET, {127}, 8},                 /* loopback */
    {AF_INET, {0}, 8},                   /* "this network"; 0.0.0.0 reaches the host */
    {AF_INET, {169, 254}, 16},           /* link-local, cloud metadata 169.254.169.254 */
    {AF_INET, {224}, 4},                 /* multicast */
    {AF_INET, {255, 255, 255, 255}, 32}, /* limited broadcast */
    {AF_INET6, {[15] = 1}, 128},         /* ::1 */
    {AF_INET6, {0}, 128},                /* :: */
    {AF_INET6, {0xfe, 0x80}, 10},        /* link-local */
    {AF_INET6, {0xff}, 8},               /* multicast */
};

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

__attribute__((format(printf, 3, 4))) static void fail(char *err, size_t errlen, const char *fmt,
                                                       ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* A token made fit for a message: control bytes as '?', long ones cut. */
static const char *shown(const char *s, char out[72])
{
    size_t i = 0;
    for (; s[i] && i < 64; i++)
        out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (s[i])
        memcpy(out + i, "...", 4);
    else
        out[i] = '\0';
    return out;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* ::ffff:a.b.c.d/96+N is a.b.c.d/N: one spelling, matching both forms. */
static void unmap(struct tg_cidr *c)
{
    if (c->family != AF_INET6 || c->bits < 96 || memcmp(c->addr, v4mapped, 12) != 0)
        return;
    memmove(c->addr, c->addr + 12, 4);
    memset(c->addr + 4, 0, 12);
    c->family = AF_INET;
    c->bits -= 96;
}

/* ---- rule parsing ---- */

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == ':';
}

/*
 * "name" or "*.suffix"; one trailing dot (the FQDN spelling) is dropped.
 * Labels must be non-empty; ':' admits IPv6 literals.
 */
static bool parse_host(const char *s, size_t len, struct host_pattern *out)
{
    out->wild = len >= 2 && s[0] == '*' && s[1] == '.';
    if (out->wild) {
        s++;
        len--;
    }
    if (len > 0 && s[len - 1] == '.')
        len--;
    size_t start = out->wild ? 1 : 0;
    if (len <= start || s[start] == '.' || s[len - 1] == '.')
        return false;
    for (size_t i = start; i < len; i++) {
        if (!host_char(s[i]) || (s[i] == '.' && s[i - 1] == '.'))
            return false;
    }
    out->name = (struct tg_str){s, len};
    return true;
}

static bool parse_port(const char *s, size_t len, uint16_t *out)
{
    if (len == 0 || len > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return false;
    *out = (uint16_t)v;
    return true;
}

static const char *parse_port_range(const char *s, size_t len, struct port_range *out)
{
    const char *dash = memchr(s, '-', len);
    if (!dash) {
        if (!parse_port(s, len, &out->lo))
            return "bad port";
        out->hi = out->lo;
        return NULL;
    }
    if (!parse_port(s, (size_t)(dash - s), &out->lo) ||
        !parse_port(dash + 1, len - (size_t)(dash - s) - 1, &out->hi))
        return "bad port";
    return out->lo > out->hi ? "reversed port range" : NULL;
}

static bool parse_prefix(const char *s, size_t len, struct tg_cidr *out)
{
    char buf[64];
    if (len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (tg_cidr_parse(buf, out) != 0)
        return false;
    unmap(out);
    return true;
}

/* Adds one list item to the rule. NULL, or why the item is refused. */
static const char *add_item(struct rule *r, enum cond kind, const char *s, size_t len)
{
    uint8_t i = r->n[kind];
    switch (kind) {
    case COND_USER:
    case COND_GROUP:
        if (!tg_htgroup_name_ok(s, len))
            return "bad name";
        (kind == COND_USER ? r->users : r->groups)[i] = (struct tg_str){s, len};
        break;
    case COND_HOST:
        if (!parse_host(s, len, &r->hosts[i]))
            return "bad host pattern";
        break;
    case COND_DEST:
    case COND_CLIENT:
        if (!parse_prefix(s, len, kind == COND_DEST ? &r->dests[i] : &r->clients[i]))
            return "bad CIDR";
        break;
    case COND_PORT: {
        const char *why = parse_port_range(s, len, &r->ports[i]);
        if (why)
            return why;
        break;
    }
    default:
        return "not a list";
    }
    r->n[kind]++;
    return NULL;
}

/* Splits "a,b,c" (value of tok) into items. 0 or -1 with err set. */
static int parse_list(struct rule *r, enum cond kind, const char *tok, const char *value, char *err,
                      size_t errlen)
{
    char show[72], item[72];
    const char *p = value;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            fail(err, errlen, "bad condition '%s': %s", shown(tok, show),
                 *value ? "empty item" : "empty list");
            return -1;
        }
        if (r->n[kind] == TG_ACL_MAX_ITEMS) {
            fail(err, errlen, "bad condition '%s': too many items (max %d)", shown(tok, show),
                 TG_ACL_MAX_ITEMS);
            return -1;
        }
        const char *why = add_item(r, kind, p, len);
        if (why) {
            char copy[72];
            size_t n = len < sizeof copy - 1 ? len : sizeof copy - 1;
            memcpy(copy, p, n);
            copy[n] = '\0';
            fail(err, errlen, "bad condition '%s': %s '%s'", shown(tok, show), why,
                 shown(copy, item));
            return -1;
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* One KEY=VALUE token. 0 or -1 with err set. */
static int parse_condition(struct rule *r, const char *tok, char *err, size_t errlen)
{
    char show[72];
    const char *eq = strchr(tok, '=');
    if (!eq) {
        fail(err, errlen, "bad condition '%s': expected KEY=VALUE", shown(tok, show));
        return -1;
    }
    size_t klen = (size_t)(eq - tok);
    enum cond kind = COND_COUNT;
    for (int k = 0; k < COND_COUNT; k++) {
        if (strlen(cond_keys[k]) == klen && memcmp(cond_keys[k], tok, klen) == 0)
            kind = (enum cond)k;
    }
    if (kind == COND_COUNT) {
        fail(err, errlen, "unknown condition '%s'", shown(tok, show));
        return -1;
    }
    if (r->present & (1u << kind)) {
        fail(err, errlen, "duplicate condition '%s'", shown(tok, show));
        return -1;
    }
    r->present |= 1u << kind;
    if (kind != COND_METHOD)
        return parse_list(r, kind, tok, eq + 1, err, errlen);
    if (strcmp(eq + 1, "CONNECT") == 0 || strcmp(eq + 1, "!CONNECT") == 0) {
        r->connect = eq[1] == 'C';
        return 0;
    }
    fail(err, errlen, "bad condition '%s': expected CONNECT or !CONNECT", shown(tok, show));
    return -1;
}

/* Cuts the next space-separated token in place; NULL at the end. */
static char *next_token(char **p)
{
    char *s = *p;
    while (is_space(*s))
        s++;
    if (!*s)
        return NULL;
    char *e = s;
    while (*e && !is_space(*e))
        e++;
    *p = *e ? e + 1 : e;
    *e = '\0';
    return s;
}

static int parse_rule(struct rule *r, char *err, size_t errlen)
{
    char show[72];
    char *p = r->text;
    char *tok = next_token(&p);
    if (!tok) {
        fail(err, errlen, "empty rule");
        return -1;
    }
    if (strcmp(tok, "allow") != 0 && strcmp(tok, "deny") != 0) {
        fail(err, errlen, "rule must start with allow or deny, not '%s'", shown(tok, show));
        return -1;
    }
    r->allow = tok[0] == 'a';
    while ((tok = next_token(&p)) != NULL) {
        if (parse_condition(r, tok, err, errlen) != 0)
            return -1;
    }
    return 0;
}

static void rule_free(struct rule *r)
{
    if (r)
        free(r->text);
    free(r);
}

int tg_acl_add_rule(struct tg_acl *acl, const char *text, char *err, size_t errlen)
{
    if (acl->nrules == TG_ACL_MAX_RULES) {
        fail(err, errlen, "too many rules (max %d)", TG_ACL_MAX_RULES);
        return -1;
    }
    size_t len = strlen(text);
    if (len > TG_ACL_RULE_MAX) {
        fail(err, errlen, "rule too long (max %d bytes)", TG_ACL_RULE_MAX);
        return -1;
    }
    struct rule *r = calloc(1, sizeof *r);
    if (r)
        r->text = malloc(len + 1);
    if (!r || !r->text) {
        rule_free(r);
        fail(err, errlen, "out of memory");
        return -1;
    }
    memcpy(r->text, text, len + 1);
    if (parse_rule(r, err, errlen) != 0) {
        rule_free(r);
        return -1;
    }
    acl->rules[acl->nrules++] = r;
    return 0;
}

/* ---- groups ---- */

int tg_acl_load_groups(struct tg_acl *acl, const char *path, char *err, size_t errlen)
{
    struct tg_htgroup *g = tg_htgroup_load(path, err, errlen);
    if (!g)
        return -1;
    tg_htgroup_free(acl->groups);
    acl->groups = g;
    return 0;
}

int tg_acl_reload_groups(struct tg_acl *acl, char *err, size_t errlen)
{
    return acl->groups ? tg_htgroup_reload(acl->groups, err, errlen) : 0;
}

size_t tg_acl_group_members(const struct tg_acl *acl)
{
    return acl->groups ? tg_htgroup_count(acl->groups) : 0;
}

/* ---- guard configuration ---- */

/* The exact address as a host prefix (IPv4-mapped as IPv4). 0 or -1. */
static int host_prefix(const struct sockaddr *sa, struct tg_cidr *out)
{
    memset(out, 0, sizeof *out);
    if (sa->sa_family == AF_INET) {
        memcpy(out->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        out->family = AF_INET;
        out->bits = 32;
    } else if (sa->sa_family == AF_INET6) {
        memcpy(out->addr, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        out->family = AF_INET6;
        out->bits = 128;
        unmap(out);
    } else {
        return -1;
    }
    return 0;
}

static bool unspecified(const struct tg_cidr *c)
{
    static const uint8_t zero[16];
    return memcmp(c->addr, zero, c->family == AF_INET ? 4 : 16) == 0;
}

static bool same_prefix(const struct tg_cidr *a, const struct tg_cidr *b)
{
    return a->family == b->family && a->bits == b->bits &&
           memcmp(a->addr, b->addr, sizeof a->addr) == 0;
}

static int add_own(struct tg_acl *acl, const struct tg_cidr *c)
{
    for (size_t i = 0; i < acl->nown; i++) {
        if (same_prefix(&acl->own[i], c))
            return 0;
    }
    if (acl->nown == TG_ACL_MAX_OWN) {
        errno = E2BIG;
        return -1;
    }
    acl->own[acl->nown++] = *c;
    return 0;
}

/* A wildcard listener accepts on every address the host has: guard them all. */
static int add_own_interfaces(struct tg_acl *acl)
{
    struct ifaddrs *list;
    if (getifaddrs(&list) != 0)
        return -1;
    int rc = 0;
    for (struct ifaddrs *ifa = list; ifa && rc == 0; ifa = ifa->ifa_next) {
        struct tg_cidr c;
        if (ifa->ifa_addr && host_prefix(ifa->ifa_addr, &c) == 0 && !unspecified(&c))
            rc = add_own(acl, &c);
    }
    freeifaddrs(list);
    return rc;
}

int tg_acl_add_own_address(struct tg_acl *acl, const struct sockaddr *sa)
{
    struct tg_cidr c;
    if (host_prefix(sa, &c) != 0) {
        errno = EAFNOSUPPORT;
        return -1;
    }
    return unspecified(&c) ? add_own_interfaces(acl) : add_own(acl, &c);
}

int tg_acl_allow_destination(struct tg_acl *acl, const struct tg_cidr *prefix)
{
    if ((prefix->family != AF_INET || prefix->bits > 32) &&
        (prefix->family != AF_INET6 || prefix->bits > 128)) {
        errno = EINVAL;
        return -1;
    }
    if (acl->nallow_dest == TG_ACL_MAX_ALLOW_DEST) {
        errno = E2BIG;
        return -1;
    }
    struct tg_cidr c = *prefix;
    unmap(&c);
    acl->allow_dest[acl->nallow_dest++] = c;
    return 0;
}

struct tg_acl *tg_acl_new(void)
{
    struct tg_acl *acl = calloc(1, sizeof *acl);
    if (acl)
        acl->default_allow = true;
    return acl;
}

void tg_acl_free(struct tg_acl *acl)
{
    if (!acl)
        return;
    for (size_t i = 0; i < acl->nrules; i++)
        rule_free(acl->rules[i]);
    tg_htgroup_free(acl->groups);
    free(acl);
}

void tg_acl_set_default(struct tg_acl *acl, bool allow)
{
    acl->default_allow = allow;
}

/* ---- checking ---- */

/* The request with its strings measured once. */
struct query {
    const struct tg_acl_request *rq;
    struct tg_str user; /* p NULL: no user */
    struct tg_str host; /* trailing dot dropped; p NULL: no host */
};

static bool any_prefix(const struct tg_cidr *v, size_t n, const struct sockaddr *sa)
{
    if (!sa)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (tg_cidr_match(&v[i], sa))
            return true;
    }
    return false;
}

static bool any_name(const struct tg_str *v, size_t n, struct tg_str s)
{
    for (size_t i = 0; i < n; i++) {
        if (tg_str_eq(v[i], s))
            return true;
    }
    return false;
}

static bool any_group(const struct tg_acl *acl, const struct rule *r, struct tg_str user)
{
    for (size_t i = 0; i < r->n[COND_GROUP]; i++) {
        if (tg_htgroup_is_member(acl->groups, r->groups[i], user))
            return true;
    }
    return false;
}

static bool host_matches(const struct host_pattern *pat, struct tg_str h)
{
    const struct tg_str *n = &pat->name;
    if (!pat->wild)
        return h.len == n->len && tg_str_same_nocase(h.p, n->p, n->len);
    /* ".suffix" must end the host with at least one byte before it. */
    return h.len > n->len && tg_str_same_nocase(h.p + h.len - n->len, n->p, n->len);
}

static bool any_host(const struct rule *r, struct tg_str h)
{
    for (size_t i = 0; i < r->n[COND_HOST]; i++) {
        if (host_matches(&r->hosts[i], h))
            return true;
    }
    return false;
}

static bool any_port(const struct rule *r, uint16_t port)
{
    for (size_t i = 0; i < r->n[COND_PORT]; i++) {
        if (port >= r->ports[i].lo && port <= r->ports[i].hi)
            return true;
    }
    return false;
}

static bool has(const struct rule *r, enum cond c)
{
    return (r->present & (1u << c)) != 0;
}

static bool rule_matches(const struct tg_acl *acl, const struct rule *r, const struct query *q)
{
    if (has(r, COND_USER) && !(q->user.p && any_name(r->users, r->n[COND_USER], q->user)))
        return false;
    if (has(r, COND_GROUP) && !(q->user.p && any_group(acl, r, q->user)))
        return false;
    if (has(r, COND_HOST) && !(q->host.p && any_host(r, q->host)))
        return false;
    if (has(r, COND_DEST) && !any_prefix(r->dests, r->n[COND_DEST], q->rq->dest))
        return false;
    if (has(r, COND_PORT) && !any_port(r, q->rq->port))
        return false;
    if (has(r, COND_METHOD) && r->connect != q->rq->is_connect)
        return false;
    return !has(r, COND_CLIENT) || any_prefix(r->clients, r->n[COND_CLIENT], q->rq->client);
}

bool tg_acl_guarded(const struct tg_acl *acl, const struct sockaddr *sa)
{
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return true;
    return any_prefix(guarded_ranges, sizeof guarded_ranges / sizeof guarded_ranges[0], sa) ||
           any_prefix(acl->own, acl->nown, sa);
}

static void query_init(struct query *q, const struct tg_acl_request *rq)
{
    q->rq = rq;
    q->user = rq->user ? tg_str_c(rq->user) : (struct tg_str){NULL, 0};
    q->host = rq->host ? tg_str_c(rq->host) : (struct tg_str){NULL, 0};
    if (q->host.len > 0 && q->host.p[q->host.len - 1] == '.')
        q->host.len--;
}

bool tg_acl_denied_early(const struct tg_acl *acl, const struct tg_acl_request *rq, size_t *rule)
{
    struct query q;
    query_init(&q, rq);
    for (size_t i = 0; i < acl->nrules; i++) {
        if (has(acl->rules[i], COND_DEST))
            return false; /* needs the resolved address: decided after DNS */
        if (rule_matches(acl, acl->rules[i], &q)) {
            *rule = i + 1;
            return !acl->rules[i]->allow;
        }
    }
    *rule = 0;
    return !acl->default_allow;
}

enum tg_acl_verdict tg_acl_check(const struct tg_acl *acl, const struct tg_acl_request *rq,
                                 size_t *rule)
{
    struct query q = {rq, {NULL, 0}, {NULL, 0}};
    if (rq->user)
        q.user = tg_str_c(rq->user);
    if (rq->host) {
        q.host = tg_str_c(rq->host);
        if (q.host.len > 0 && q.host.p[q.host.len - 1] == '.')
            q.host.len--;
    }
    const struct rule *hit = NULL;
    size_t index = 0;
    for (size_t i = 0; i < acl->nrules && !hit; i++) {
        if (rule_matches(acl, acl->rules[i], &q)) {
            hit = acl->rules[i];
            index = i + 1;
        }
    }
    if (hit ? !hit->allow : !acl->default_allow) {
        if (rule)
            *rule = index;
        return TG_ACL_DENY_RULE;
    }
    /* A matched dest= condition means the rule named this address: it is let through. */
    bool cleared = rq->dest && ((hit && has(hit, COND_DEST)) || !tg_acl_guarded(acl, rq->dest) ||
                                any_prefix(acl->allow_dest, acl->nallow_dest, rq->dest));
    if (rule)
        *rule = cleared ? index : 0;
    return cleared ? TG_ACL_ALLOW : TG_ACL_DENY_SSRF;
}
