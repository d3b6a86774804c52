/* netlock: the network lock of a dump (--network-lock).
 *
 * From the moment a dump reads the tree's sockets until the restored tree
 * runs, nothing may answer for the tree's TCP connections: a segment from
 * a peer that reached no socket (the tree is killed) would be answered
 * with a reset, and data ACKed by a socket after its queues were saved
 * would be lost. So the driver drops, with one nftables table, every
 * packet of those connections (peer to tree on input, tree to peer on
 * output) and every packet to the ports the tree listens on. Peers see
 * silence, retransmit, and carry on once the restore removes the table.
 *
 * Only a tree in the driver's network namespace is locked: a tree with a
 * namespace of its own takes it along when killed, and nothing outside
 * can reach a namespace that is gone.
 */
#ifndef AMBER_DRIVER_NETLOCK_H
#define AMBER_DRIVER_NETLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

enum netlock_mode { NETLOCK_NFTABLES, NETLOCK_SKIP };

/* One TCP socket of the tree, as the lock sees it. */
struct netlock_conn {
	int family;		/* AF_INET, AF_INET6 (IPv4-mapped addresses count as AF_INET) */
	bool listen;		/* a listener: its port (and address unless any) is locked */
	uint8_t src[16], dst[16];	/* the tree's end, the peer's end */
	uint16_t sport, dport;
};

struct netlock {
	char table[64];		/* "amber-lock-DUMPID", in family inet */
	struct netlock_conn *conns;
	int nr;
	bool locked;		/* the table is in place */
};

/* Parses --network-lock's value; -1 if unknown. */
int netlock_mode_parse(const char *s, enum netlock_mode *m);
/* Finds the TCP sockets of root's tree (every process's fds, matched with
 * sock_diag of the driver's network namespace); none if the tree's root
 * has a network namespace of its own. */
int netlock_collect(pid_t root, struct netlock *nl, struct err *e);
/* The nftables script that makes the lock table for nl's sockets, in buf;
 * -1 if it does not fit. */
int netlock_script(const struct netlock *nl, char *buf, size_t len);
/* Puts the table in place (nft -f -); nothing to do without sockets. */
int netlock_lock(struct netlock *nl, struct err *e);
/* Removes lock table 'table' (nft delete table inet TABLE). */
int netlock_unlock_table(const char *table, struct err *e);
/* Removes nl's table if it put one in place; a warning if that fails. */
void netlock_unlock(struct netlock *nl);
void netlock_free(struct netlock *nl);

#endif
