/* netlink: netlink sockets (route, uevent, generic, ... listeners and
 * request sockets): the protocol and type, the port id it is bound to
 * (getsockname), every multicast group it joined (NETLINK_LIST_MEMBERSHIPS,
 * which also has the groups past 32 that nl_groups cannot show), the peer
 * it is connected to (getpeername) and the options of lib/inetopt.c's
 * table for netlink. sock_diag (lib/nldiag.h) says what no getsockopt
 * does: messages waiting to be read, and a dump the program asked for
 * that the kernel is still sending. Neither can be put back (the kernel
 * sent them, and a restored socket has no dump in progress), so either is
 * refused by name: the program is between a request and its answer. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/netlink_diag.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "lib/nldiag.h"
#include "stages/dump-files/dump-files.h"

#ifndef NETLINK_LIST_MEMBERSHIPS
#define NETLINK_LIST_MEMBERSHIPS 9
#endif

/* The groups sk joined, as numbers (1 and up), into k. */
static int df_netlink_groups(int sk, struct df_nlsk *k, const char *who, struct err *e)
{
	uint32_t words[64];	/* 2048 groups: more than any family has */
	socklen_t len = sizeof(words);
	size_t n = 0;

	memset(words, 0, sizeof(words));
	if (getsockopt(sk, SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, words, &len) < 0)
		return err_errno(e, "the multicast groups of %s (NETLINK_LIST_MEMBERSHIPS)", who);
	if (len > sizeof(words))
		len = sizeof(words);
	for (size_t w = 0; w < len / 4; w++)
		n += __builtin_popcount(words[w]);
	if (!n)
		return 0;
	if (!(k->groups = calloc(n, sizeof(*k->groups))))
		return err_errno(e, "list the multicast groups of %s", who);
	n = 0;
	for (size_t w = 0; w < len / 4; w++)
		for (int b = 0; b < 32; b++)
			if (words[w] & (1u << b))
				k->groups[n++] = w * 32 + b + 1;
	k->n.n_groups = n;
	k->n.groups = k->groups;
	return 0;
}

int df_netlink_describe(struct df *c, struct df_desc *d, int sk, const char **why, struct err *e)
{
	struct df_nlsk *k = &d->nlsk;
	NetlinkSocketEntry *n = &k->n;
	struct sockaddr_nl sa;
	socklen_t len = sizeof(int);
	struct nldiag_sock di;
	int type = 0, protocol = 0, ret;
	char who[64];
	uint64_t ns = 0;
	bool own = false;

	netlink_socket_entry__init(n);
	*why = NULL;
	snprintf(who, sizeof(who), "pid %d fd %d", d->pid, d->fd);
	if (getsockopt(sk, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return err_errno(e, "SO_TYPE of %s", who);
	len = sizeof(int);
	if (getsockopt(sk, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0)
		return err_errno(e, "SO_PROTOCOL of %s", who);
	if ((ret = df_sock_own_netns(sk, &own, &ns, e)) < 0)
		return err_wrap(e, "%s", who);
	if (!own) {
		snprintf(k->why, sizeof(k->why), "it is a netlink socket of network namespace net:[%llu], not amber's; "
			 "amber restores netlink sockets only in its own network namespace yet", (unsigned long long)ns);
		*why = k->why;
		return 0;
	}
	/* Never bound: in no table of the kernel's, nothing to ask. */
	if ((ret = nldiag_find(d->st->st_ino, &di, e)) < 0)
		return err_wrap(e, "%s", who);
	if (ret && (di.flags & NDIAG_FLAG_CB_RUNNING)) {
		snprintf(k->why, sizeof(k->why), "the kernel is still sending the netlink dump (protocol %d) it asked for, "
			 "which amber cannot restore: let it read the dump to its end before the dump", protocol);
		*why = k->why;
		return 0;
	}
	if (ret && di.rmem) {
		snprintf(k->why, sizeof(k->why), "%u bytes of netlink messages (protocol %d) wait to be read in it, which "
			 "amber cannot put back: let the process read them before the dump", di.rmem, protocol);
		*why = k->why;
		return 0;
	}
	n->protocol = protocol;
	n->type = type;
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(sk, (struct sockaddr *)&sa, &len) < 0)
		return err_errno(e, "getsockname of %s", who);
	if (sa.nl_pid) {
		n->has_portid = true;
		n->portid = sa.nl_pid;
	}
	if ((ret = df_netlink_groups(sk, k, who, e)) < 0)
		return ret;
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getpeername(sk, (struct sockaddr *)&sa, &len) == 0 && (sa.nl_pid || sa.nl_groups)) {
		n->has_dst_portid = n->has_dst_group = true;
		n->dst_portid = sa.nl_pid;
		n->dst_group = sa.nl_groups;
	}
	{
		_cleanup_close_ int fresh = socket(AF_NETLINK, type | SOCK_CLOEXEC, protocol);

		if (fresh < 0)
			return err_errno(e, "make a new netlink socket (protocol %d) to compare the options of %s with",
					 protocol, who);
		n->n_opts = df_sock_opts(sk, fresh, AF_NETLINK, protocol, k->opts, k->optp, k->optdata, DF_INET_MAX_OPTS);
		n->opts = k->optp;
	}
	pr_debug("%s: netlink socket, protocol %d, port id %u, %zu groups, %zu options", who, protocol, n->portid,
		 n->n_groups, n->n_opts);
	d->re.netlink_sk = n;
	d->re.has_mnt_id = false;
	(void)c;
	return 0;
}

void df_netlink_release(struct df_desc *d)
{
	free(d->nlsk.groups);
	d->nlsk.groups = NULL;
}
