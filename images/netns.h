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

#include <stdbool.h>
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

/* A veth whose peer is outside the tree, as --external names it:
 * veth[INSIDE] at dump, veth[INSIDE]:OUTSIDE at restore (CRIU's spelling). */
#define NETNS_EXT_MAX 16
struct netns_ext {
	char inside[16];	/* the device in the tree's namespace */
	char outside[16];	/* the peer's name outside ("" at dump) */
};

/* --empty-ns ARG of seize and restore-tasks: only "net" is taken; sets
 * *empty, or fails as a usage error. */
int netns_empty_parse(const char *arg, bool *empty, struct err *e);
/* Parses veth[INSIDE] (outside false) or veth[INSIDE]:OUTSIDE (outside
 * true) into x; 1 if arg is a veth key, 0 if it is of another kind,
 * negative with e filled if it is malformed. */
int netns_ext_parse(const char *arg, bool outside, struct netns_ext *x, struct err *e);

/* Fills ne's links, addrs, routes, sysctls and lo_up from the caller's
 * network namespace. others[0..nr) are the tree's other namespaces; a
 * veth whose peer is in none of them is recorded peer_external if ext
 * names it, else refused. pid and ne->id name the namespace in messages.
 * The memory is the child's: it packs ne, sends it and exits. */
int netns_collect(NetnsEntry *ne, pid_t pid, const struct netns_other *others, int nr, const struct netns_ext *ext,
		  int nr_ext, struct err *e);

/* Makes in the caller's (new) namespace the devices of ne that fall to it:
 * a veth pair both of whose ends are in ne, or whose other end is in a
 * namespace that comes later in all[0..nr) (fds[k] is all[k]'s new
 * namespace), or is outside the tree: then ext names it, and it is made
 * in the namespace of outside_fd (the restorer's), down. self is ne's
 * index in all. */
int netns_make_links(const NetnsEntry *const *all, const int *fds, int nr, int self, const struct netns_ext *ext,
		     int nr_ext, int outside_fd, struct err *e);

/* Sets up ne in the caller's namespace once every device exists: sysctls,
 * MTU, MAC address, txqueuelen and flags of each device, then addresses,
 * then routes. */
int netns_configure(const NetnsEntry *ne, struct err *e);

/* Waits (at most 3 s) until every device's operstate agrees with its
 * carrier, which the kernel updates asynchronously: the tree then sees
 * its devices as they were (ip shows UP, not NO-CARRIER). */
int netns_settle(const NetnsEntry *ne, struct err *e);

#endif
