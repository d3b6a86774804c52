/* lib/sockdiag.h: what the kernel's sock_diag says about one unix socket. */
#ifndef AMBER_LIB_SOCKDIAG_H
#define AMBER_LIB_SOCKDIAG_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

/* The most connections waiting in one listener's backlog that are kept. */
#define SOCKDIAG_MAX_ICONS 128

struct sockdiag_unix {
	uint32_t ino;
	int type;		/* SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET */
	int state;		/* TCP_ESTABLISHED, TCP_LISTEN, TCP_CLOSE (as unix sockets use them) */
	uint32_t peer;		/* the peer's inode, 0 if none (or a connection not accepted yet) */
	bool named;		/* bound to a path or an abstract name */
	uint8_t shutdown;	/* the kernel's RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	uint32_t rqueue;	/* receive queue; for a listener, connections not yet accepted */
	uint32_t wqueue;	/* for a listener, its backlog; else bytes sent and not read yet */
	char name[108];		/* sun_path as bound (abstract: a 0 byte first) */
	int name_len;
	uint32_t vfs_ino;	/* a path-bound socket's file inode */
	/* A listener: the clients of the connections waiting in its backlog,
	 * in the order accept() takes them (UNIX_DIAG_ICONS). */
	uint32_t icons[SOCKDIAG_MAX_ICONS];
	int nr_icons;
	bool icons_truncated;	/* more waited than icons holds */
};

/* Asks sock_diag (through libnl) about the unix socket with inode ino, in
 * the caller's network namespace. */
int sockdiag_unix_get(uint32_t ino, struct sockdiag_unix *u, struct err *e);
/* Finds the listener in whose backlog the connection of client ino waits:
 * *listener is its inode, 0 if no listener of the network namespace has it. */
int sockdiag_unix_listener_of(uint32_t client_ino, uint32_t *listener, struct err *e);
/* Fills u from one SOCK_DIAG_BY_FAMILY reply message (unix_diag_msg and its
 * attributes); -1 if the message is malformed. For tests and the above. */
int sockdiag_unix_parse(const struct nlmsghdr *h, struct sockdiag_unix *u);

#endif
