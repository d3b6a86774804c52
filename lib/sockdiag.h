/* lib/sockdiag.h: what the kernel's sock_diag says about one unix socket. */
#ifndef AMBER_LIB_SOCKDIAG_H
#define AMBER_LIB_SOCKDIAG_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct sockdiag_unix {
	uint32_t ino;
	int type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	int state;		/* TCP_ESTABLISHED, TCP_LISTEN, TCP_CLOSE (as unix sockets use them) */
	uint32_t peer;		/* the peer's inode, 0 if none */
	bool named;		/* bound to a path or an abstract name */
	uint8_t shutdown;	/* the kernel's RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	uint32_t rqueue;	/* receive queue; for a listener, connections not yet accepted */
	uint32_t wqueue;	/* for a listener, its backlog */
	char name[108];		/* sun_path as bound (abstract: a 0 byte first) */
	int name_len;
	uint32_t vfs_ino;	/* a path-bound socket's file inode */
};

/* Asks sock_diag (through libnl) about the unix socket with inode ino, in
 * the caller's network namespace. */
int sockdiag_unix_get(uint32_t ino, struct sockdiag_unix *u, struct err *e);

#endif
