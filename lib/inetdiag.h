/* lib/inetdiag.h: what the kernel's sock_diag (inet_diag) says about one
 * TCP or UDP socket, IPv4 or IPv6: its state, addresses and queues. These
 * are what getsockopt cannot give: a listener's backlog and how many
 * connections wait in its accept queue. */
#ifndef AMBER_LIB_INETDIAG_H
#define AMBER_LIB_INETDIAG_H

#include <linux/netlink.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/err.h"

struct inetdiag_sock {
	uint32_t ino;
	int family;		/* AF_INET, AF_INET6 */
	int state;		/* TCP_ESTABLISHED 1 ... TCP_LISTEN 10; UDP: TCP_CLOSE 7, or 1 once connected */
	uint16_t sport, dport;	/* host order */
	uint8_t src[16], dst[16];	/* 4 bytes for AF_INET */
	uint32_t ifindex;	/* bound device, 0 if none */
	uint32_t rqueue;	/* a listener: connections waiting to be accepted; else bytes to read */
	uint32_t wqueue;	/* a listener: its backlog; else bytes not yet acknowledged (TCP) */
	uint32_t uid;
	uint8_t shutdown;	/* RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	bool v6only;		/* INET_DIAG_SKV6ONLY (AF_INET6) */
	int protocol;		/* INET_DIAG_PROTOCOL when sent, else 0 */
};

/* Finds the socket with inode ino among the sockets of family and
 * protocol (IPPROTO_TCP, IPPROTO_UDP; any other: raw sockets of that
 * protocol, through raw_diag) of the caller's network namespace:
 * 1 found, 0 if sock_diag does not list it (a socket in no hash table:
 * never bound, or on older kernels bound and not listening), or an error. */
int inetdiag_find(int family, int protocol, uint32_t ino, struct inetdiag_sock *s, struct err *e);
/* Finds the other end of connection s on this host: the socket whose
 * addresses and ports are s's the other way round (1 found, 0 none). */
int inetdiag_find_peer(int protocol, const struct inetdiag_sock *s, struct inetdiag_sock *peer, struct err *e);
/* Calls fn for every socket of family and protocol of the caller's network
 * namespace (one sock_diag dump); 0 or an error. */
int inetdiag_each(int family, int protocol, void (*fn)(const struct inetdiag_sock *s, void *arg), void *arg,
		  struct err *e);
/* Every socket of family and protocol (one sock_diag dump), sorted by
 * inode, in a malloc'd array; for many lookups (inetdiag_lookup). */
int inetdiag_list(int family, int protocol, struct inetdiag_sock **v, int *nr, struct err *e);
/* In a list from inetdiag_list: the socket of inode ino, or NULL. */
const struct inetdiag_sock *inetdiag_lookup(const struct inetdiag_sock *v, int nr, uint32_t ino);
/* In such a list: the other end of connection s (addresses and ports the
 * other way round), or NULL. */
const struct inetdiag_sock *inetdiag_lookup_peer(const struct inetdiag_sock *v, int nr, const struct inetdiag_sock *s);
/* Finds raw socket ino in /proc/net/raw (AF_INET) or raw6 text: its
 * addresses, state and bytes waiting (rqueue). 1 found, 0 not there, -1
 * if the text is not such a table. sock_diag's raw_diag is a module this
 * kernel may not have; /proc/net/raw always is. */
int inetdiag_parse_proc_raw(int family, const char *text, uint32_t ino, struct inetdiag_sock *s);
/* Fills s from one SOCK_DIAG_BY_FAMILY reply message (inet_diag_msg and
 * its attributes); -1 if the message is malformed. For tests and the above. */
int inetdiag_parse(const struct nlmsghdr *h, struct inetdiag_sock *s);

#endif
