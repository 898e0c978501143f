/*
 * tls: the server side of TLS listeners (an "HTTPS proxy"): one context per
 * process holding certificate, key and policy (TLS 1.2 and 1.3 only, AEAD
 * ciphers with forward secrecy, ALPN http/1.1, session tickets whose keys
 * rotate), swappable at run time so SIGHUP can load a new certificate
 * without touching open connections, and non-blocking per-connection
 * read/write helpers that fold OpenSSL's WANT_READ/WANT_WRITE into the
 * -EAGAIN convention of plain sockets.
 */
#ifndef TG_TLS_H
#define TG_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct ssl_st SSL;
struct tg_tls;

/* Loads cert (PEM chain) and key. NULL with a message in err. */
struct tg_tls *tg_tls_new(const char *cert, const char *key, char *err, size_t errlen);

/* Loads the files again; on failure keeps the old pair. 0 or -1 with err. Any thread. */
int tg_tls_reload(struct tg_tls *t, char *err, size_t errlen);

/* Frees the context; connections keep their own reference. Accepts NULL. */
void tg_tls_free(struct tg_tls *t);

/* A server connection on fd under the current certificate. NULL on failure. */
SSL *tg_tls_accept(struct tg_tls *t, int fd);

enum tg_tls_io {
    TG_TLS_DONE = 0,       /* handshake finished / bytes moved */
    TG_TLS_WANT_READ = 1,  /* wait for the socket to be readable */
    TG_TLS_WANT_WRITE = 2, /* wait for the socket to be writable */
    TG_TLS_EOF = 3,        /* the peer closed (close_notify or TCP EOF) */
    TG_TLS_ERROR = 4,      /* protocol error or reset; close */
};

/* Advances the handshake. */
enum tg_tls_io tg_tls_handshake(SSL *ssl);

/* Reads up to len bytes into buf; *n gets the count on DONE. */
enum tg_tls_io tg_tls_read(SSL *ssl, void *buf, size_t len, size_t *n);

/* Writes up to len bytes; *n gets the count on DONE (partial writes allowed). */
enum tg_tls_io tg_tls_write(SSL *ssl, const void *buf, size_t len, size_t *n);

/* Decrypted bytes already buffered inside OpenSSL: epoll will not announce them. */
bool tg_tls_pending(SSL *ssl);

/* "TLSv1.3" etc. */
const char *tg_tls_version(SSL *ssl);

/* Sends close_notify (best effort, non-blocking) without freeing: reading may go on. */
void tg_tls_notify_close(SSL *ssl);

/* Sends close_notify (best effort, non-blocking) and frees. Accepts NULL. */
void tg_tls_close(SSL *ssl);

#endif
