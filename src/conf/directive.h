/*
 * directive: the one list of Tollgate's directives, internal to conf/.
 * Each row says how its value is parsed (the kind), which field of struct
 * tg_config it fills, its default as text and one line of help. The flag
 * parser, the file parser, the defaults and the documentation all walk this
 * table, so a directive exists once. Read-only after compilation; any thread.
 */
#ifndef TG_DIRECTIVE_H
#define TG_DIRECTIVE_H

#include <stdbool.h>
#include <stddef.h>

/* A day: a longer duration is a typo, not a timeout. In milliseconds. */
#define TG_DIRECTIVE_SECONDS_MAX_MS 86400000ull

/* How a directive's value is parsed, and the type of the field it fills. */
enum tg_directive_kind {
    TG_DIRECTIVE_PATH = 0,       /* char *: any non-empty text */
    TG_DIRECTIVE_LOG,            /* char *: FILE, "-" (stderr) or "off" (NULL) */
    TG_DIRECTIVE_REALM,          /* char *: text that is safe inside a quoted header value */
    TG_DIRECTIVE_LISTEN,         /* listen[]: ADDR:PORT or [V6]:PORT, appended */
    TG_DIRECTIVE_SCHEMES,        /* auth[]: comma list of known scheme names, or "auto" */
    TG_DIRECTIVE_LIST,           /* struct tg_config_list: free text, appended; optional validate */
    TG_DIRECTIVE_RATE,           /* rate_max_failures + rate_window_ms: "N/SECONDS" */
    TG_DIRECTIVE_PENALTY,        /* rate_penalty_ms [+ rate_penalty_max_ms]: "SECONDS[:MAX]" */
    TG_DIRECTIVE_ACCESS_DEFAULT, /* access_default_deny: "allow" or "deny" */
    TG_DIRECTIVE_PORTS,          /* connect_ports[]: comma list of PORT or LO-HI, or "none" */
    TG_DIRECTIVE_INT,            /* int: decimal integer in min..max */
    TG_DIRECTIVE_COUNT,          /* size_t: decimal integer in min..max */
    TG_DIRECTIVE_BYTES,          /* size_t: integer with optional k/m suffix, in min..max */
    TG_DIRECTIVE_SECONDS,        /* uint64_t milliseconds: seconds with up to 3 decimals */
    TG_DIRECTIVE_BOOL,           /* bool: no value on the command line */
    TG_DIRECTIVE_CONFIG,         /* char *: the config file itself, loaded before other flags */
    TG_DIRECTIVE_HELP,           /* prints --help; stores nothing */
    TG_DIRECTIVE_VERSION,        /* prints the version; stores nothing */
    TG_DIRECTIVE_TEXT,           /* char *: any non-empty text that is not a file name */
};

/* Bits of struct tg_directive's flags. */
enum tg_directive_flag {
    TG_DIRECTIVE_REPEATABLE = 1 << 0, /* each occurrence appends (see enum tg_config_origin) */
    TG_DIRECTIVE_ARGS_ONLY = 1 << 1,  /* command line only; an error inside a config file */
    TG_DIRECTIVE_CPUS = 1 << 2,       /* "auto" means one per online CPU, clamped to max */
    TG_DIRECTIVE_TLS = 1 << 3,        /* TG_DIRECTIVE_LISTEN: the addresses speak TLS */
};

struct tg_directive {
    const char *name;          /* "--name" on the command line, "name" in a file */
    enum tg_directive_kind kind;
    size_t offset;             /* offsetof(struct tg_config, field) */
    const char *default_value; /* parsed like user input; NULL: none */
    const char *metavar;       /* NULL for kinds that take no value */
    const char *help;          /* one line, lower case, no final period */
    unsigned flags;            /* enum tg_directive_flag bits */
    unsigned long long min, max; /* numeric kinds, in the stored unit (seconds: ms) */
    /* TG_DIRECTIVE_LIST: checks one value (0, or -1 with why); NULL accepts any text. */
    int (*validate)(const char *v, char *why, size_t whylen);
    const char *valuedoc; /* TG_DIRECTIVE_LIST: the Value column of the docs */
};

/* Number of directives (flags included: config, help, version). */
size_t tg_directive_count(void);

/* The i-th directive in --help order (borrowed, static), or NULL when i >= count. */
const struct tg_directive *tg_directive_at(size_t i);

/* The directive named name[0..len) exactly (no "--", case-sensitive), or NULL. */
const struct tg_directive *tg_directive_find(const char *name, size_t len);

/* false for kinds that take no value: a bool, --help and --version. */
bool tg_directive_takes_value(const struct tg_directive *d);

#endif
