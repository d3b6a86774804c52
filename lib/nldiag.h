/* lib/nldiag.h: what the kernel's sock_diag (netlink_diag) says about one
 * netlink socket: what getsockopt cannot give, whether a dump the program
 * asked for is still being sent (NDIAG_FLAG_CB_RUNNING), and how many
 * bytes of messages wait in its receive queue. */
#ifndef AMBER_LIB_NLDIAG_H
#define AMBER_LIB_NLDIAG_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct nldiag_sock {
	uint32_t ino;
	int protocol;		/* NETLINK_ROUTE ... */
	int type;		/* SOCK_RAW, SOCK_DGRAM */
	uint32_t portid, dst_portid, dst_group;
	uint32_t flags;		/* NDIAG_FLAG_* */
	uint32_t rmem;		/* bytes queued for reading (SK_MEMINFO_RMEM_ALLOC) */
};

/* Finds the netlink socket with inode ino in the caller's network
 * namespace: 1 found, 0 not listed, or an error. */
int nldiag_find(uint32_t ino, struct nldiag_sock *s, struct err *e);
/* Fills s from one SOCK_DIAG_BY_FAMILY reply message; -1 if malformed. */
int nldiag_parse(const struct nlmsghdr *h, struct nldiag_sock *s);

#endif
