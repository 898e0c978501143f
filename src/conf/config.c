/*
 * config: the tg_config_* interface that glues the directive table
 * (directive.c) to its inputs. It fills defaults, reads config files line
 * by line, parses the command line (--config first, then flags that
 * override it), checks cross-directive rules and frees what it owns.
 * Errors get their place here: "FILE:LINE: name: why" or "--name: why".
 *
 * This file does not parse values (confvalue.c) or print help
 * (confdoc.c). It does not open the files values name (htpasswd, logs),
 * bind the listen addresses, or know what an authentication scheme does;
 * those checks happen where the value is used, and their errors name the
 * directive there.
 */
#include "conf/config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf/confvalue.h"
#include "conf/directive.h"

/* Where a value came from, for error messages and for list replacement. */
struct origin {
    enum tg_config_origin src;
    const char *file; /* borrowed; FILE only */
    size_t line;      /* FILE only, 1-based */
};

/* ---- errors and apply ---- */

/* Writes "FILE:LINE: name: why", "--name: why" or, without a name, the bare location + why. */
static int fail(const struct origin *o, const char *name, const char *why, char *err,
                size_t errlen)
{
    if (o->src == TG_CONFIG_ORIGIN_FILE && name)
        snprintf(err, errlen, "%s:%zu: %s: %s", o->file, o->line, name, why);
    else if (o->src == TG_CONFIG_ORIGIN_FILE)
        snprintf(err, errlen, "%s:%zu: %s", o->file, o->line, why);
    else if (name)
        snprintf(err, errlen, "--%s: %s", name, why);
    else
        snprintf(err, errlen, "%s", why);
    return -1;
}

static int apply(struct tg_config *c, const struct tg_directive *d, const char *v,
                 const struct origin *o, char *err, size_t errlen)
{
    char why[256];
    if (tg_confvalue_set(c, d, v, o->src, why, sizeof why) < 0)
        return fail(o, d->name, why, err, errlen);
    return 0;
}

/* ---- config file ---- */

/* Cuts a comment: '#' at the start or after a blank, so "a#b" stays a value. */
static void strip_comment(char *line)
{
    for (char *p = line; *p; p++) {
        if (*p == '#' && (p == line || tg_confvalue_is_blank(p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

/* One line: "name", "name VALUE", blank or comment. line is modified. */
static int parse_line(struct tg_config *c, char *line, const struct origin *o, char *err,
                      size_t errlen)
{
    char *end, *name = line, *value;
    strip_comment(line);
    for (end = line + strlen(line); end > line && tg_confvalue_is_blank(end[-1]); end--)
        end[-1] = '\0';
    while (tg_confvalue_is_blank(*name))
        name++;
    if (*name == '\0')
        return 0;
    for (value = name; *value && !tg_confvalue_is_blank(*value); value++)
        ;
    const struct tg_directive *d = tg_directive_find(name, (size_t)(value - name));
    while (tg_confvalue_is_blank(*value))
        *value++ = '\0';
    char why[128];
    if (!d) {
        snprintf(why, sizeof why, "unknown directive '%.80s'", name);
        return fail(o, NULL, why, err, errlen);
    }
    if (d->flags & TG_DIRECTIVE_ARGS_ONLY)
        return fail(o, d->name, "not allowed inside a config file", err, errlen);
    if (tg_directive_takes_value(d) && *value == '\0')
        return fail(o, d->name, "missing value", err, errlen);
    return apply(c, d, *value ? value : NULL, o, err, errlen);
}

int tg_config_load_file(struct tg_config *c, const char *path, char *err, size_t errlen)
{
    struct origin o = {TG_CONFIG_ORIGIN_FILE, path, 0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
        o.line++;
        if (memchr(line, '\0', (size_t)n))
            rc = fail(&o, NULL, "NUL byte in line", err, errlen);
        else
            rc = parse_line(c, line, &o, err, errlen);
    }
    /* fopen succeeds on a directory; the read then fails with EISDIR. */
    if (rc == 0 && ferror(f)) {
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

/* ---- command line ---- */

/*
 * Reads the option at argv[*i] into its directive and value (NULL when it
 * takes none), advancing *i past both. "--name VALUE" and "--name=VALUE".
 */
static int next_flag(int argc, char **argv, int *i, const struct tg_directive **d,
                     const char **value, char *err, size_t errlen)
{
    const char *arg = argv[(*i)++], *name = arg + 2, *eq;
    if (strncmp(arg, "--", 2) != 0 || *name == '\0') {
        snprintf(err, errlen, "unexpected argument '%.80s' (options start with --; see --help)", arg);
        return -1;
    }
    eq = strchr(name, '=');
    *d = tg_directive_find(name, eq ? (size_t)(eq - name) : strlen(name));
    if (!*d) {
        snprintf(err, errlen, "unknown option '--%.*s' (see --help)",
                 (int)(eq ? eq - name : (ptrdiff_t)strlen(name)), name);
        return -1;
    }
    *value = NULL;
    if (!tg_directive_takes_value(*d)) {
        if (eq)
            snprintf(err, errlen, "--%s: takes no value", (*d)->name);
        return eq ? -1 : 0;
    }
    if (eq)
        *value = eq + 1;
    else if (*i < argc)
        *value = argv[(*i)++];
    if (!*value || **value == '\0') {
        snprintf(err, errlen, "--%s: missing value", (*d)->name);
        return -1;
    }
    return 0;
}

/*
 * First pass: checks every argument, handles --help and --version, and
 * finds --config, whose file must load before the other flags override it.
 */
static int scan_args(int argc, char **argv, FILE *out, const char **config, char *err,
                     size_t errlen)
{
    const struct tg_directive *d;
    const char *v;
    *config = NULL;
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &d, &v, err, errlen) < 0)
            return -1;
        if (d->kind == TG_DIRECTIVE_HELP) {
            tg_config_print_help(out);
            return 1;
        }
        if (d->kind == TG_DIRECTIVE_VERSION) {
            fprintf(out, "tollgate %s\n", TG_VERSION);
            return 1;
        }
        if (d->kind == TG_DIRECTIVE_CONFIG && *config) {
            snprintf(err, errlen, "--config: given more than once");
            return -1;
        }
        if (d->kind == TG_DIRECTIVE_CONFIG)
            *config = v;
    }
    return 0;
}

int tg_config_parse_args(struct tg_config *c, int argc, char **argv, FILE *out, char *err,
                         size_t errlen)
{
    struct origin o = {TG_CONFIG_ORIGIN_ARGS, NULL, 0};
    const struct tg_directive *d;
    const char *v;
    int rc = scan_args(argc, argv, out, &v, err, errlen);
    if (rc != 0)
        return rc;
    if (v && (apply(c, tg_directive_find("config", 6), v, &o, err, errlen) < 0 ||
              tg_config_load_file(c, v, err, errlen) < 0))
        return -1;
    for (int i = 1; i < argc;) {
        if (next_flag(argc, argv, &i, &d, &v, err, errlen) < 0)
            return -1;
        if (d->kind != TG_DIRECTIVE_CONFIG && apply(c, d, v, &o, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* ---- the rest of the interface ---- */

/*
 * A default that fails to parse is a bug that test_config catches; at run
 * time the only possible failure is strdup running out of memory.
 */
int tg_config_defaults(struct tg_config *c)
{
    struct origin o = {TG_CONFIG_ORIGIN_DEFAULT, NULL, 0};
    char err[256];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < tg_directive_count(); i++) {
        const struct tg_directive *d = tg_directive_at(i);
        if (d->default_value && apply(c, d, d->default_value, &o, err, sizeof err) < 0) {
            tg_config_fini(c);
            memset(c, 0, sizeof *c);
            return -ENOMEM;
        }
    }
    return 0;
}

int tg_config_validate(const struct tg_config *c, char *err, size_t errlen)
{
    bool creds = c->htpasswd || c->users || c->htdigest || c->tokens || c->jwt_keys;
    bool tls = false;
    for (size_t i = 0; i < c->nlisten; i++)
        tls = tls || c->listen[i].tls;
    if (tls && (!c->tls_cert || !c->tls_key)) {
        snprintf(err, errlen, "--tls-listen needs --tls-cert and --tls-key");
        return -1;
    }
    if (c->no_auth && creds) {
        snprintf(err, errlen, "--no-auth and a credentials file (--htpasswd, --users, "
                              "--htdigest) are mutually exclusive");
        return -1;
    }
    if (!c->no_auth && !creds) {
        snprintf(err, errlen, "no credentials configured: give --htpasswd FILE (or --users, "
                              "--htdigest), or --no-auth to run an open proxy (not recommended)");
        return -1;
    }
    return 0;
}

bool tg_config_connect_port_ok(const struct tg_config *c, uint16_t port)
{
    for (size_t i = 0; i < c->nconnect_ports; i++) {
        if (port >= c->connect_ports[i].lo && port <= c->connect_ports[i].hi)
            return true;
    }
    return false;
}

void tg_config_fini(struct tg_config *c)
{
    if (!c)
        return;
    char **owned[] = {&c->config_file, &c->htpasswd, &c->users,    &c->htdigest,
                      &c->realm,       &c->access_log, &c->auth_log, &c->nonce_secret_file,
                      &c->groups,      &c->tokens,     &c->jwt_keys, &c->jwt_issuer,
                      &c->jwt_audience, &c->jwt_user_claim, &c->tls_cert, &c->tls_key};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        free(*owned[i]);
        *owned[i] = NULL;
    }
    for (size_t i = 0; i < c->nauth; i++) {
        free(c->auth[i]);
        c->auth[i] = NULL;
    }
    c->nauth = 0;
    struct tg_config_list *lists[] = {&c->auth_rules, &c->access_rules, &c->allow_destination,
                                      &c->rate_exempt};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) {
        for (size_t i = 0; i < lists[k]->n; i++) {
            free(lists[k]->item[i]);
            lists[k]->item[i] = NULL;
        }
        lists[k]->n = 0;
    }
}
