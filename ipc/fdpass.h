/* fdpass: sending open files between stages over a unix socket.
 *
 * Each message carries up to FDPASS_BATCH fds with SCM_RIGHTS and, as data,
 * the file ids they stand for (u32 each, after a u32 count). A count of zero
 * with no fds is the end marker: a receiver that meets EOF first knows the
 * sender died.
 */
#ifndef AMBER_FDPASS_H
#define AMBER_FDPASS_H

#include <stdint.h>

#include "lib/err.h"

#define FDPASS_BATCH 64

/* Sends n fds with their ids (n <= FDPASS_BATCH). */
int fdpass_send(int sock, const int *fds, const uint32_t *ids, int n, struct err *e);
int fdpass_send_end(int sock, struct err *e);
/* Receives one batch: returns how many fds (0 at the end marker); fds and ids
 * must hold FDPASS_BATCH entries. */
int fdpass_recv(int sock, int *fds, uint32_t *ids, struct err *e);

#endif
