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

/* On the `hidden` socket (build-mntns -> restore-files) an id is a file id
 * of files.img (the directory of that file), or a task's working directory
 * or root: FDPASS_ID_CWD or FDPASS_ID_ROOT with its pid (pids stay below
 * 2^22, PID_MAX_LIMIT). */
#define FDPASS_ID_CWD	0x80000000u
#define FDPASS_ID_ROOT	0x40000000u
#define FDPASS_ID_PID	0x3fffffffu

/* Sends n fds with their ids (n <= FDPASS_BATCH). */
int fdpass_send(int sock, const int *fds, const uint32_t *ids, int n, struct err *e);
int fdpass_send_end(int sock, struct err *e);
/* Receives one batch: returns how many fds (0 at the end marker); fds and ids
 * must hold FDPASS_BATCH entries. */
int fdpass_recv(int sock, int *fds, uint32_t *ids, struct err *e);

#endif
