/*
 * tls: OpenSSL 3 server contexts. The current SSL_CTX sits behind a mutex
 * and is reference-counted by OpenSSL itself (each SSL holds its context),
 * so a reload swaps the pointer and the old context lives on until its
 * last connection closes.
 *
 * Session tickets: keys live in the process, a new one every
 * TICKET_ROTATE_S seconds; the previous key still decrypts (renewing the
 * ticket), so resumption survives a rotation but a stolen key is useless
 * after two periods.
 */
#include "net/tls.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICKET_ROTATE_S 3600
#define CIPHERS_TLS12 "ECDHE+AESGCM:ECDHE+CHACHA20"

struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    time_t born;
};

struct tg_tls {
    pthread_mutex_t lock;
    SSL_CTX *ctx; /* one reference held here */
    char *cert, *key;
    struct ticket_key keys[2]; /* [0] current, [1] previous */
};

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void make_ex_index(void)
{
    ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void error_text(char *err, size_t errlen, const char *what, const char *path)
{
    char ossl[256] = "";
    unsigned long e = ERR_get_error();
    if (e)
        ERR_error_string_n(e, ossl, sizeof ossl);
    ERR_clear_error();
    snprintf(err, errlen, "%s %s: %s", what, path, ossl[0] ? ossl : "failed");
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    static const unsigned char h1[] = "\x08http/1.1";
    unsigned char *sel;
    /* Only HTTP/1.1: a browser offered h2 falls back rather than speaking it to us. */
    if (SSL_select_next_proto(&sel, outlen, h1, sizeof h1 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static int new_ticket_key(struct ticket_key *k)
{
    k->born = time(NULL);
    return RAND_bytes(k->name, sizeof k->name) == 1 && RAND_bytes(k->aes, sizeof k->aes) == 1 &&
                   RAND_bytes(k->hmac, sizeof k->hmac) == 1
               ? 0
               : -1;
}

static int set_ticket_mac(EVP_MAC_CTX *hctx, const unsigned char *key)
{
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params) == 1 && EVP_MAC_init(hctx, key, 32, NULL) == 1;
}

/* OpenSSL's ticket-key callback: 1 use, 2 use and renew, 0 unknown (full handshake), -1 error. */
static int ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    struct tg_tls *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index);
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    if (time(NULL) - t->keys[0].born >= TICKET_ROTATE_S) {
        t->keys[1] = t->keys[0];
        if (new_ticket_key(&t->keys[0]) < 0)
            t->keys[0] = t->keys[1];
    }
    if (enc) {
        const struct ticket_key *k = &t->keys[0];
        memcpy(name, k->name, sizeof k->name);
        rc = RAND_bytes(iv, EVP_MAX_IV_LENGTH) == 1 &&
                     EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 &&
                     set_ticket_mac(hctx, k->hmac)
                 ? 1
                 : -1;
    } else {
        for (int i = 0; i < 2 && rc == 0; i++) {
            const struct ticket_key *k = &t->keys[i];
            if (k->born == 0 || memcmp(name, k->name, sizeof k->name) != 0)
                continue;
            rc = EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k->aes, iv) == 1 &&
                         set_ticket_mac(hctx, k->hmac)
                     ? (i == 0 ? 1 : 2)
                     : -1;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static SSL_CTX *build_ctx(struct tg_tls *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        error_text(err, errlen, "cannot create TLS context for", t->cert);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_cipher_list(ctx, CIPHERS_TLS12);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_NO_COMPRESSION |
                                 SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    SSL_CTX_set_ex_data(ctx, ex_index, t);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
        error_text(err, errlen, "cannot load certificate", t->cert);
    } else if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
        error_text(err, errlen, "cannot load key", t->key);
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        error_text(err, errlen, "key does not match certificate", t->cert);
    } else {
        return ctx;
    }
    SSL_CTX_free(ctx);
    return NULL;
}

struct tg_tls *tg_tls_new(const char *cert, const char *key, char *err, size_t errlen)
{
    pthread_once(&ex_once, make_ex_index);
    struct tg_tls *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&t->lock, NULL);
    if (!(t->cert = strdup(cert)) || !(t->key = strdup(key)) || new_ticket_key(&t->keys[0]) < 0) {
        snprintf(err, errlen, "out of memory");
        tg_tls_free(t);
        return NULL;
    }
    t->ctx = build_ctx(t, err, errlen);
    if (!t->ctx) {
        tg_tls_free(t);
        return NULL;
    }
    return t;
}

int tg_tls_reload(struct tg_tls *t, char *err, size_t errlen)
{
    SSL_CTX *ctx = build_ctx(t, err, errlen);
    if (!ctx)
        return -1;
    pthread_mutex_lock(&t->lock);
    SSL_CTX *old = t->ctx;
    t->ctx = ctx;
    pthread_mutex_unlock(&t->lock);
    SSL_CTX_free(old); /* connections still using it hold their own reference */
    return 0;
}

void tg_tls_free(struct tg_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    pthread_mutex_destroy(&t->lock);
    OPENSSL_cleanse(t->keys, sizeof t->keys);
    free(t->cert);
    free(t->key);
    free(t);
}

SSL *tg_tls_accept(struct tg_tls *t, int fd)
{
    pthread_mutex_lock(&t->lock);
    SSL *ssl = SSL_new(t->ctx);
    pthread_mutex_unlock(&t->lock);
    if (!ssl)
        return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

static enum tg_tls_io outcome(SSL *ssl, int rc)
{
    switch (SSL_get_error(ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return TG_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return TG_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return TG_TLS_EOF;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        return rc == 0 ? TG_TLS_EOF : TG_TLS_ERROR; /* TCP EOF without close_notify */
    default:
        ERR_clear_error();
        return TG_TLS_ERROR;
    }
}

enum tg_tls_io tg_tls_handshake(SSL *ssl)
{
    int rc = SSL_do_handshake(ssl);
    return rc == 1 ? TG_TLS_DONE : outcome(ssl, rc);
}

enum tg_tls_io tg_tls_read(SSL *ssl, void *buf, size_t len, size_t *n)
{
    int rc = SSL_read_ex(ssl, buf, len, n);
    return rc == 1 ? TG_TLS_DONE : outcome(ssl, rc);
}

enum tg_tls_io tg_tls_write(SSL *ssl, const void *buf, size_t len, size_t *n)
{
    int rc = SSL_write_ex(ssl, buf, len, n);
    return rc == 1 ? TG_TLS_DONE : outcome(ssl, rc);
}

bool tg_tls_pending(SSL *ssl)
{
    return SSL_has_pending(ssl) == 1;
}

const char *tg_tls_version(SSL *ssl)
{
    return SSL_get_version(ssl);
}

void tg_tls_notify_close(SSL *ssl)
{
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl);
    ERR_clear_error();
}

void tg_tls_close(SSL *ssl)
{
    if (!ssl)
        return;
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl); /* non-blocking socket: queues close_notify, never waits */
    ERR_clear_error();
    SSL_free(ssl);
}
