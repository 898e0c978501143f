/*
 * bodypipe: a fixed-length response body moved from the origin socket to
 * the client socket with splice(2) through a pipe, so its bytes never
 * cross user space. Copying a large download through two 64 KiB buffers
 * cost the proxy more CPU than everything else it does for it.
 *
 * Usable only where the bytes need not be seen: plaintext on both sides
 * and Content-Length framing on both sides (forward.c decides). It never
 * reads past the body's end, because what follows on a persistent origin
 * connection is the next response.
 *
 * Loop thread only.
 */
#ifndef TG_BODYPIPE_H
#define TG_BODYPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tg_bodypipe;

/* A pipe sized for a body of left bytes; NULL when none can be had (copy instead). */
struct tg_bodypipe *tg_bodypipe_new(uint64_t left);

/* Closes the pipe (bytes still in it are lost). Accepts NULL. */
void tg_bodypipe_free(struct tg_bodypipe *p);

/* Bytes read from the origin and not yet sent to the client; 0 for NULL. */
size_t tg_bodypipe_queued(const struct tg_bodypipe *p);

/* Whether reading from the origin can make progress (else wait for a drain). */
bool tg_bodypipe_has_room(const struct tg_bodypipe *p);

/*
 * Moves at most *left bytes from the socket src into the pipe and lowers
 * *left by what moved. Returns the bytes moved, 0 at EOF, -EAGAIN when
 * nothing could move, or another negative errno.
 */
ssize_t tg_bodypipe_fill(struct tg_bodypipe *p, int src, uint64_t *left);

/* Moves queued bytes to the socket dst: bytes moved (0 if none queued), -EAGAIN, or a negative errno. */
ssize_t tg_bodypipe_drain(struct tg_bodypipe *p, int dst);

#endif
