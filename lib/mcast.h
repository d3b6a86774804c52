/* lib/mcast.h: the multicast groups a socket has joined.
 *
 * No call lists a socket's memberships. The kernel lists the groups each
 * device has joined (/proc/PID/net/igmp, igmp6), for all sockets together;
 * and getsockopt(MCAST_MSFILTER) on a socket, for one device and group,
 * answers with the socket's source filter if it joined that group there,
 * and EADDRNOTAVAIL if not. Asking every socket about every listed group
 * finds each socket's memberships exactly, with their filters; a restore
 * joins them again (MCAST_JOIN_GROUP, or MCAST_JOIN_SOURCE_GROUP for each
 * source of an include filter, MCAST_BLOCK_SOURCE for each of an exclude
 * filter).
 */
#ifndef AMBER_LIB_MCAST_H
#define AMBER_LIB_MCAST_H

#include <net/if.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/err.h"

/* Most sources of one filter amber saves; a socket with more is refused. */
#define MCAST_MAX_SOURCES 64

/* A group some socket joined on a device, from igmp or igmp6. */
struct mcast_group {
	int family;		/* AF_INET, AF_INET6 */
	uint32_t ifindex;
	char ifname[IF_NAMESIZE];
	uint8_t addr[16];	/* 4 bytes for AF_INET */
};

/* One membership of one socket, with its source filter. */
struct mcast_membership {
	struct mcast_group g;
	uint32_t fmode;		/* MCAST_INCLUDE 1 or MCAST_EXCLUDE 0 */
	uint32_t nr_sources;
	uint8_t sources[MCAST_MAX_SOURCES][16];
};

/* Parses /proc/net/igmp (family AF_INET) or /proc/net/igmp6 (AF_INET6)
 * text, appending to *groups; bad input names the line. */
int mcast_parse(int family, const char *text, struct mcast_group **groups, int *nr, struct err *e);
/* The groups of pid's network namespace, both families. */
int mcast_read_groups(pid_t pid, struct mcast_group **groups, int *nr, struct err *e);
/* Whether socket sk (of family sk_family) joined g: 1 with m filled, 0 if
 * not, or an error (a filter of more than MCAST_MAX_SOURCES sources is
 * bad input naming the group). */
int mcast_probe(int sk, int sk_family, const struct mcast_group *g, struct mcast_membership *m, struct err *e);
/* Joins m again on device ifindex, with its filter. */
int mcast_join(int sk, const struct mcast_membership *m, uint32_t ifindex, struct err *e);
/* "239.1.2.3 on lo" for messages. */
const char *mcast_name(const struct mcast_group *g, char *buf, size_t size);

#endif
