/* netns: a network namespace's devices, addresses, routes and sysctls,
 * read into a netns.img record (seize) and made again from one
 * (restore-tasks), with libnl-route-3.
 *
 * Every function here runs in a child that already entered the namespace
 * (lib/nschild.h) and exits afterwards: rtnetlink and /proc/sys/net answer
 * for the caller's network namespace. What the dump cannot make again
 * (a device of another kind than loopback and veth, a route with several
 * next hops) fails netns_collect as bad input naming the namespace, the
 * device and its kind.
 *
 * Restore is in two steps, so that a veth pair between two namespaces of
 * the tree can be made whole: netns_make_links in each namespace (in image
 * order; the pair is made by the earlier of its two namespaces, its peer
 * sent into the other with IFLA_NET_NS_FD), then netns_configure in each
 * (sysctls, MTU, MAC, flags, addresses, routes).
 */
#ifndef AMBER_IMAGES_NETNS_H
#define AMBER_IMAGES_NETNS_H

#include <stdint.h>
#include <sys/types.h>

#include "images/ns.pb-c.h"
#include "lib/err.h"

/* Another network namespace of the tree, open in the caller, to name the
 * namespace a veth's peer lives in. */
struct netns_other {
	uint64_t id;		/* its inode at dump (net:[ID]) */
	int fd;			/* an open /proc/PID/ns/net or pin */
};

/* Fills ne's links, addrs, routes, sysctls and lo_up from the caller's
 * network namespace. others[0..nr) are the tree's other namespaces; a
 * veth whose peer is in none of them is marked peer_external. pid and
 * ne->id name the namespace in messages. The memory is the child's: it
 * packs ne, sends it and exits. */
int netns_collect(NetnsEntry *ne, pid_t pid, const struct netns_other *others, int nr, struct err *e);

/* Makes in the caller's (new) namespace the devices of ne that fall to it:
 * a veth pair both of whose ends are in ne, or whose other end is in a
 * namespace that comes later in all[0..nr) (fds[k] is all[k]'s new
 * namespace). self is ne's index in all. */
int netns_make_links(const NetnsEntry *const *all, const int *fds, int nr, int self, struct err *e);

/* Sets up ne in the caller's namespace once every device exists: sysctls,
 * MTU, MAC address, txqueuelen and flags of each device, then addresses,
 * then routes. */
int netns_configure(const NetnsEntry *ne, struct err *e);

/* Waits (at most 3 s) until every device's operstate agrees with its
 * carrier, which the kernel updates asynchronously: the tree then sees
 * its devices as they were (ip shows UP, not NO-CARRIER). */
int netns_settle(const NetnsEntry *ne, struct err *e);

#endif
