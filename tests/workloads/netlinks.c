/* netlinks: a self-checking workload for netlink sockets.
 *
 *	netlinks READYFILE RESULTFILE
 *
 * Before the dump:
 *  - a NETLINK_ROUTE socket bound by the kernel (the process's first port
 *    id, its pid), in groups RTNLGRP_IPV4_MROUTE (6) and RTNLGRP_MCTP_IFADDR
 *    (34, past the 32 that nl_groups can show),
 *    with NETLINK_EXT_ACK and NETLINK_NO_ENOBUFS set and a 1 MiB receive
 *    buffer (SO_RCVBUFFORCE);
 *  - a NETLINK_KOBJECT_UEVENT socket bound to port id 0x7a7a7a7a and group
 *    2 (libudev's), with SO_PASSCRED (what a udev monitor has);
 * Groups that nothing on a test machine sends to: a message waiting at
 * the dump would refuse it (t068 tests that).
 *  - a NETLINK_GENERIC socket never bound;
 *  - a NETLINK_ROUTE socket that sent a request and read the whole answer.
 * After SIGUSR1 it checks each socket's port id, groups
 * (NETLINK_LIST_MEMBERSHIPS) and options, then asks the first one for the
 * list of links (RTM_GETLINK, a dump) and reads it to NLMSG_DONE, and asks
 * the fourth one for loopback's link. PASS or FAIL lines go to RESULTFILE.
 */
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "workload.h"

#ifndef NETLINK_LIST_MEMBERSHIPS
#define NETLINK_LIST_MEMBERSHIPS 9
#endif

static int nl_bind(int sk, unsigned pid)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = pid };

	return bind(sk, (struct sockaddr *)&sa, sizeof(sa));
}

static unsigned nl_portid(int sk)
{
	struct sockaddr_nl sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	return getsockname(sk, (struct sockaddr *)&sa, &len) < 0 ? ~0u : sa.nl_pid;
}

static int nl_join(int sk, int g)
{
	return setsockopt(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g));
}

/* Word i of the group bitmap. */
static unsigned nl_groups_word(int sk, int i)
{
	unsigned w[8] = { 0 };
	socklen_t len = sizeof(w);

	return getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, w, &len) < 0 ? ~0u : w[i];
}

static unsigned nl_groups(int sk) { return nl_groups_word(sk, 0); }
static unsigned nl_groups2(int sk) { return nl_groups_word(sk, 1); }

static int nl_opt(int sk, int level, int opt)
{
	int v = -1;
	socklen_t len = sizeof(v);

	getsockopt(sk, level, opt, &v, &len);
	return v;
}

/* Sends RTM_GETLINK (a dump of all links, or one: ifindex) and reads the
 * answer to its end; the number of links, or -1. */
static int nl_getlink(int sk, int ifindex)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			 .nlmsg_flags = NLM_F_REQUEST | (ifindex ? 0 : NLM_F_DUMP), .nlmsg_seq = 7 },
		  .i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex } };
	static char buf[65536];
	int links = 0;

	if (send(sk, &req, sizeof(req), 0) != sizeof(req))
		return -1;
	for (;;) {
		ssize_t n = recv(sk, buf, sizeof(buf), 0);

		if (n <= 0)
			return -1;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return links;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -1;
			if (h->nlmsg_type == RTM_NEWLINK)
				links++;
		}
		if (ifindex)
			return links;
	}
}

int main(int argc, char **argv)
{
	char report[4096] = "";
	struct wl_report r = { report, sizeof(report), 0 };
	int route = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	int uevent = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT);
	int genl = socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC);
	int asked = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	int one = 1, mib = 1 << 20;
	unsigned route_id, asked_id;

	if (argc < 3 || route < 0 || uevent < 0 || genl < 0 || asked < 0)
		return 2;
	wl_catch_usr1();
	if (nl_bind(route, 0) < 0 || nl_join(route, RTNLGRP_IPV4_MROUTE) < 0 || nl_join(route, 34) < 0 ||
	    setsockopt(route, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one)) < 0 ||
	    setsockopt(route, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one)) < 0 ||
	    setsockopt(route, SOL_SOCKET, SO_RCVBUFFORCE, &mib, sizeof(mib)) < 0 ||
	    nl_bind(uevent, 0x7a7a7a7a) < 0 || nl_join(uevent, 2) < 0 ||
	    setsockopt(uevent, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) {
		fprintf(stderr, "netlinks: set-up: %s\n", strerror(errno));
		return 1;
	}
	if (nl_getlink(asked, 1) != 1) {
		fprintf(stderr, "netlinks: RTM_GETLINK of lo before the dump failed\n");
		return 1;
	}
	route_id = nl_portid(route);
	asked_id = nl_portid(asked);
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	if (nl_portid(route) != route_id)
		wl_fail(&r, "route socket: port id %u, was %u", nl_portid(route), route_id);
	if (nl_groups(route) != 1u << (RTNLGRP_IPV4_MROUTE - 1) || nl_groups2(route) != 1u << (34 - 33))
		wl_fail(&r, "route socket: groups %#x %#x, want %#x %#x", nl_groups(route), nl_groups2(route),
			1u << (RTNLGRP_IPV4_MROUTE - 1), 1u << (34 - 33));
	if (nl_opt(route, SOL_NETLINK, NETLINK_EXT_ACK) != 1 || nl_opt(route, SOL_NETLINK, NETLINK_NO_ENOBUFS) != 1)
		wl_fail(&r, "route socket: NETLINK_EXT_ACK %d, NETLINK_NO_ENOBUFS %d, want 1 and 1",
			nl_opt(route, SOL_NETLINK, NETLINK_EXT_ACK), nl_opt(route, SOL_NETLINK, NETLINK_NO_ENOBUFS));
	if (nl_opt(route, SOL_SOCKET, SO_RCVBUF) != 2 * mib)
		wl_fail(&r, "route socket: SO_RCVBUF %d, want %d", nl_opt(route, SOL_SOCKET, SO_RCVBUF), 2 * mib);
	if (nl_portid(uevent) != 0x7a7a7a7a || nl_groups(uevent) != 2)
		wl_fail(&r, "uevent socket: port id %#x groups %#x, want 0x7a7a7a7a and 2", nl_portid(uevent), nl_groups(uevent));
	if (nl_opt(uevent, SOL_SOCKET, SO_PASSCRED) != 1)
		wl_fail(&r, "uevent socket: SO_PASSCRED is off");
	if (nl_portid(genl) != 0)
		wl_fail(&r, "generic socket: bound to port id %u, never was", nl_portid(genl));
	if (nl_portid(asked) != asked_id)
		wl_fail(&r, "request socket: port id %u, was %u", nl_portid(asked), asked_id);
	if (nl_getlink(route, 0) < 1)
		wl_fail(&r, "route socket: RTM_GETLINK dump failed after restore");
	if (nl_getlink(asked, 1) != 1)
		wl_fail(&r, "request socket: RTM_GETLINK of lo failed after restore");
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
