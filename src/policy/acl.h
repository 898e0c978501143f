/*
 * acl: ordered access rules evaluated after authentication, deciding who
 * may go where, plus the SSRF guard.
 *
 * Rule text (config directive `access-rule`, first match wins):
 *   allow|deny [COND...]
 * where every given condition must match:
 *   user=NAME[,NAME...]        authenticated user (case-sensitive)
 *   group=NAME[,NAME...]       member of a group from the htgroup file
 *   host=PATTERN[,PATTERN...]  destination host as requested, exact (case-insensitive)
 *                              or "*.suffix" (any subdomain of suffix, not suffix itself)
 *   dest=CIDR[,CIDR...]        destination address actually connected to
 *   port=N|LO-HI[,...]         destination port
 *   method=CONNECT|!CONNECT    tunnel or not
 *   client=CIDR[,CIDR...]      client address
 * No rule matching: the default action (allow unless configured otherwise).
 *
 * SSRF guard: after the rules allow a request, a destination address in
 * a guarded range (loopback, link-local incl. 169.254.169.254 and
 * fe80::/10, unspecified, multicast, the proxy's own listening addresses)
 * is refused unless an allow rule that matched has a dest= condition
 * covering it, or it is inside an --allow-destination prefix. The check
 * runs on the resolved address about to be connected, so a name that
 * resolves to 127.0.0.1 is caught.
 */
#ifndef TG_ACL_H
#define TG_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/cidr.h"

struct sockaddr;
struct tg_acl;

/* Limits: a bounded config, and no rule set that makes each check slow. */
#define TG_ACL_MAX_RULES 256         /* access rules per acl */
#define TG_ACL_MAX_ITEMS 32          /* comma-separated items in one condition */
#define TG_ACL_RULE_MAX 4096         /* bytes of one rule's text */
#define TG_ACL_MAX_ALLOW_DEST 64     /* --allow-destination prefixes */
#define TG_ACL_MAX_OWN 256           /* own addresses, interfaces included */

enum tg_acl_verdict {
    TG_ACL_ALLOW = 0,
    TG_ACL_DENY_RULE = 1, /* a deny rule matched (or the default is deny) */
    TG_ACL_DENY_SSRF = 2, /* allowed by rules, refused by the SSRF guard */
};

/*
 * All pointers borrowed for the call. A NULL user, host or client never
 * matches a condition on it. A NULL dest matches no dest= condition and
 * the guard refuses it (fail closed: check the address being connected).
 */
struct tg_acl_request {
    const char *user; /* NULL when authentication is off */
    const char *host; /* as requested, without brackets; one trailing dot ignored */
    uint16_t port;
    bool is_connect;
    const struct sockaddr *client;
    const struct sockaddr *dest; /* the resolved address about to be connected */
};

/* An empty acl (no rules, default allow); NULL on ENOMEM. Free accepts NULL. */
struct tg_acl *tg_acl_new(void);
void tg_acl_free(struct tg_acl *acl);

/*
 * The building calls below are for one thread, before the acl is shared.
 *
 * Appends a rule; 0 or -1 with a message in err ("bad condition 'x=...'",
 * err may be NULL). Refused: a first word other than allow/deny, unknown or
 * repeated keys, empty lists or items, bad CIDRs (host bits set included),
 * ports outside 1-65535 or LO > HI, more than TG_ACL_MAX_ITEMS items, rules
 * past TG_ACL_MAX_RULES or TG_ACL_RULE_MAX bytes. text is copied.
 */
int tg_acl_add_rule(struct tg_acl *acl, const char *text, char *err, size_t errlen);

/* Default when no rule matches (allow unless set). */
void tg_acl_set_default(struct tg_acl *acl, bool allow);

/*
 * Prefixes the SSRF guard lets through (--allow-destination), copied.
 * 0, or -1 with errno EINVAL (bad family or bits) or E2BIG (past the limit).
 */
int tg_acl_allow_destination(struct tg_acl *acl, const struct tg_cidr *prefix);

/*
 * The proxy's own listening addresses (guarded, exact address; the port is
 * ignored). An unspecified address (0.0.0.0, ::) stands for every address
 * of the host: the interfaces' addresses are read now (getifaddrs), so a
 * reload picks up new ones. 0, or -1 with errno (EAFNOSUPPORT, E2BIG past
 * TG_ACL_MAX_OWN, or getifaddrs' error).
 */
int tg_acl_add_own_address(struct tg_acl *acl, const struct sockaddr *sa);

/*
 * Loads "group: user user ..." lines (Apache htgroup: whitespace-separated
 * members, blank and # lines skipped, a group may repeat), replacing any
 * groups loaded before. 0, or -1 with "PATH:LINE: ..." (or "PATH: ..." for
 * open/read/size errors) in err, the previous groups kept. A group named in
 * a rule but absent from the file simply has no members.
 */
int tg_acl_load_groups(struct tg_acl *acl, const char *path, char *err, size_t errlen);

/* SIGHUP: re-reads the groups file (htgroup.h); 0 without one. Not on a loop. */
int tg_acl_reload_groups(struct tg_acl *acl, char *err, size_t errlen);

/* (group, user) pairs loaded, for the reload message. */
size_t tg_acl_group_members(const struct tg_acl *acl);

/*
 * Decides. *rule (if rule is not NULL) gets the 1-based index of the
 * matching rule (0: the default or the guard). Any thread, no allocation;
 * the rules are immutable once built, group membership may be reloaded.
 */
enum tg_acl_verdict tg_acl_check(const struct tg_acl *acl, const struct tg_acl_request *rq,
                                 size_t *rule);

/*
 * Before resolution: true when the rules already deny the request without
 * knowing its address (the first rule that could match needs none), so a
 * denied name is never even looked up. *rule as for tg_acl_check. False
 * means "not denied yet": tg_acl_check still runs on each address.
 */
bool tg_acl_denied_early(const struct tg_acl *acl, const struct tg_acl_request *rq, size_t *rule);

/*
 * True when the address is in a range the SSRF guard refuses by default
 * (--allow-destination not considered); also for a family other than
 * AF_INET/AF_INET6. IPv4-mapped IPv6 addresses are judged as IPv4.
 */
bool tg_acl_guarded(const struct tg_acl *acl, const struct sockaddr *sa);

#endif
