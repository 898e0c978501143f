/*
 * confdoc: the directive table as people read it - `tollgate --help` and
 * the Markdown table that `tollgate directives` prints for
 * docs/directives.md and README.md (scripts/gen-docs.sh). Both are
 * generated from the table in directive.c, so names, defaults and help
 * cannot drift from the parser. The functions keep their tg_config_*
 * names: they are config.h's public interface, used by main.c and tests.
 *
 * This file only prints. The Value column restates the limits confvalue.c
 * enforces; a change to a parser's limits needs a change here too.
 */
#include <stdio.h>

#include "conf/config.h"
#include "conf/confvalue.h"
#include "conf/directive.h"

/* "--name METAVAR" as --help shows it. */
static int flag_text(const struct tg_directive *d, char *buf, size_t len)
{
    return snprintf(buf, len, "--%s%s%s", d->name, d->metavar ? " " : "",
                    d->metavar ? d->metavar : "");
}

void tg_config_print_help(FILE *out)
{
    char buf[64];
    int width = 0;
    for (size_t i = 0; i < tg_directive_count(); i++) {
        int n = flag_text(tg_directive_at(i), buf, sizeof buf);
        width = n > width ? n : width;
    }
    fprintf(out, "usage: tollgate [--config FILE] [--OPTION VALUE]...\n"
                 "An authenticating HTTP/1.1 forward proxy. Every option except config, help and\n"
                 "version can also be a config-file line \"name VALUE\"; flags override the file.\n\n");
    for (size_t i = 0; i < tg_directive_count(); i++) {
        const struct tg_directive *d = tg_directive_at(i);
        flag_text(d, buf, sizeof buf);
        fprintf(out, "  %-*s  %s", width, buf, d->help);
        if (d->default_value)
            fprintf(out, " (default: %s)", d->default_value);
        fputc('\n', out);
    }
}

/*
 * A Markdown table cell: '|' would end the cell and a backslash would
 * escape the character after it, so both are written escaped.
 */
static void put_cell(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* The "Value" column: what a directive accepts, ranges included. */
static void print_value_doc(FILE *out, const struct tg_directive *d)
{
    char lo[32], hi[32];
    switch (d->kind) {
    case TG_DIRECTIVE_PATH:
    case TG_DIRECTIVE_CONFIG:
        fprintf(out, "path");
        break;
    case TG_DIRECTIVE_TEXT:
        fprintf(out, "text");
        break;
    case TG_DIRECTIVE_LOG:
        fprintf(out, "path, `-` (stderr) or `off`");
        break;
    case TG_DIRECTIVE_REALM:
        fprintf(out, "text, at most %d printable ASCII bytes, no `\"` or `\\`", TG_CONFVALUE_REALM_MAX);
        break;
    case TG_DIRECTIVE_LISTEN:
        fprintf(out, "`ADDR:PORT` or `[V6ADDR]:PORT`, port 0..65535");
        break;
    case TG_DIRECTIVE_SCHEMES: {
        char known[128];
        tg_confvalue_format_schemes(known, sizeof known);
        fprintf(out, "`auto`, or a comma list of: %s", known);
        break;
    }
    case TG_DIRECTIVE_LIST:
        fprintf(out, "%s", d->valuedoc ? d->valuedoc : "text");
        break;
    case TG_DIRECTIVE_RATE:
        fprintf(out, "`N/SECONDS`, N 1..100, SECONDS 1..86400");
        break;
    case TG_DIRECTIVE_PENALTY:
        fprintf(out, "`SECONDS` or `SECONDS:MAX`, 1..86400, MAX >= SECONDS");
        break;
    case TG_DIRECTIVE_ACCESS_DEFAULT:
        fprintf(out, "`allow` or `deny`");
        break;
    case TG_DIRECTIVE_PORTS:
        fprintf(out, "comma list of `PORT` or `LO-HI` (1..65535), or `none`");
        break;
    case TG_DIRECTIVE_INT:
    case TG_DIRECTIVE_COUNT:
        fprintf(out, "integer %llu..%llu%s", d->min, d->max,
                (d->flags & TG_DIRECTIVE_CPUS) ? " or `auto`" : "");
        break;
    case TG_DIRECTIVE_BYTES:
        fprintf(out, "bytes %llu..%llu, suffix `k` or `m` allowed", d->min, d->max);
        break;
    case TG_DIRECTIVE_SECONDS:
        tg_confvalue_format_seconds(d->min, lo, sizeof lo);
        tg_confvalue_format_seconds(d->max, hi, sizeof hi);
        fprintf(out, "seconds %s..%s, up to 3 decimals", lo, hi);
        break;
    case TG_DIRECTIVE_BOOL:
        fprintf(out, "none on the command line; in a file optional `yes`/`no`");
        break;
    case TG_DIRECTIVE_HELP:
    case TG_DIRECTIVE_VERSION:
        fprintf(out, "none");
        break;
    }
}

void tg_config_print_markdown(FILE *out)
{
    fprintf(out, "| Directive | Value | Default | Meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < tg_directive_count(); i++) {
        const struct tg_directive *d = tg_directive_at(i);
        fprintf(out, "| `%s` | ", d->name);
        print_value_doc(out, d);
        if (d->flags & TG_DIRECTIVE_REPEATABLE)
            fprintf(out, "; repeatable");
        if (d->flags & TG_DIRECTIVE_ARGS_ONLY)
            fprintf(out, "; command line only");
        fprintf(out, " | ");
        if (d->default_value)
            fprintf(out, "`%s`", d->default_value);
        else
            fprintf(out, "none");
        fprintf(out, " | ");
        put_cell(out, d->help);
        fprintf(out, " |\n");
    }
}

size_t tg_config_directive_count(void)
{
    return tg_directive_count();
}

const char *tg_config_directive_name(size_t i)
{
    const struct tg_directive *d = tg_directive_at(i);
    return d ? d->name : NULL;
}
