/*
 * errpage: the status texts and short bodies of responses Tollgate writes
 * itself. Bodies say what happened and what to do; they never echo request
 * bytes (Squid echoed credentials into error pages: CVE-2025-62168).
 */
#ifndef TG_ERRPAGE_H
#define TG_ERRPAGE_H

/* Reason phrase for a status code ("Bad Request"). */
const char *tg_errpage_phrase(int status);

/* A one-paragraph plain-text body for a status, ending in '\n'. */
const char *tg_errpage_body(int status);

/* The page for a request sent to the proxy as if it were a web server. */
extern const char tg_errpage_not_a_server[];
/* The 403 on a plaintext listener when the client may only use Basic, kept to TLS. */
extern const char tg_errpage_tls_required[];

#endif
