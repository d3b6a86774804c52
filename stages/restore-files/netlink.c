/* netlink: a netlink socket made again (dump-files netlink.c saved it):
 * of its protocol and type, with its options, bound to the port id it had
 * (the kernel hands a port id out only once in a network namespace; the
 * restored tree has its pids back, so the one autobind gave, the pid, is
 * free), a member of the same multicast groups, and connected to the same
 * peer. */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

/* Netlink protocols are numbered below 32 (MAX_LINKS). */
#define NL_MAX_PROTOCOL 31
/* Most groups a family has: the group bitmap NETLINK_LIST_MEMBERSHIPS
 * gives at dump is read into 64 words. */
#define NL_MAX_GROUP 2048

int reopen_netlink_check(const RegFileEntry *re, struct err *e)
{
	const NetlinkSocketEntry *n = re->netlink_sk;

	if ((n->type != SOCK_RAW && n->type != SOCK_DGRAM) || n->protocol > NL_MAX_PROTOCOL)
		return err_input(e, "files.img: netlink socket %u (%s) has type %u and protocol %u; want SOCK_RAW or "
				 "SOCK_DGRAM and a protocol up to %d", re->id, re->path, n->type, n->protocol, NL_MAX_PROTOCOL);
	for (size_t i = 0; i < n->n_groups; i++)
		if (!n->groups[i] || n->groups[i] > NL_MAX_GROUP)
			return err_input(e, "files.img: netlink socket %u (%s) has group %u; groups are 1 to %d", re->id,
					 re->path, n->groups[i], NL_MAX_GROUP);
	if (n->has_portid && !n->portid)
		return err_input(e, "files.img: netlink socket %u (%s) is bound to port id 0", re->id, re->path);
	return reopen_sock_opts_check(n->opts, n->n_opts, AF_NETLINK, n->protocol, re, e);
}

int reopen_netlink(struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const NetlinkSocketEntry *n = re->netlink_sk;
	_cleanup_close_ int sk = socket(AF_NETLINK, n->type | SOCK_CLOEXEC, n->protocol);

	if (sk < 0)
		return err_errno(e, "make netlink socket %s (id %u, protocol %u) again%s", re->path, re->id, n->protocol,
				 errno == EPROTONOSUPPORT ? ": this kernel does not have that netlink protocol" : "");
	if (reopen_sock_opts(sk, n->opts, n->n_opts, re, e) < 0)
		return -1;
	if (n->has_portid) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = n->portid };

		if (bind(sk, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return err_errno(e, "bind netlink socket %s (id %u) to port id %u again%s", re->path, re->id, n->portid,
					 errno == EADDRINUSE ? ": another socket of this network namespace has it now" : "");
	}
	/* After the bind: joining binds an unbound socket to a port id of the
	 * kernel's choosing. */
	for (size_t i = 0; i < n->n_groups; i++) {
		int g = (int)n->groups[i];

		if (setsockopt(sk, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
			return err_errno(e, "join group %d of netlink socket %s (id %u, protocol %u) again", g, re->path,
					 re->id, n->protocol);
	}
	if (n->has_dst_portid || n->has_dst_group) {
		struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_pid = n->dst_portid, .nl_groups = n->dst_group };

		if (connect(sk, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return err_errno(e, "connect netlink socket %s (id %u) to port id %u again", re->path, re->id,
					 n->dst_portid);
	}
	if (fcntl(sk, F_SETFL, re->flags & O_NONBLOCK) < 0)
		return err_errno(e, "set the flags of %s", re->path);
	pr_debug("file %u: netlink socket, protocol %u, port id %u, %zu groups, %zu options", re->id, n->protocol,
		 n->portid, n->n_groups, n->n_opts);
	f->fd = TAKE_FD(sk);
	return 0;
}
