/* lib/sockdiag.c: one unix socket's peer, name, state and shutdown from
 * NETLINK_SOCK_DIAG. These are not in /proc or getsockopt: the peer's
 * inode is what joins the two ends of a pair in a dump. */
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/sockdiag.h"

#ifndef SOCK_DIAG_BY_FAMILY
#define SOCK_DIAG_BY_FAMILY 20
#endif

struct sockdiag_reply {
	struct sockdiag_unix *u;
	bool found;
};

static int sockdiag_on_msg(struct nl_msg *msg, void *arg)
{
	struct sockdiag_reply *r = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct unix_diag_msg *m = nlmsg_data(h);
	struct nlattr *tb[UNIX_DIAG_MAX + 1];

	if (nlmsg_parse(h, sizeof(*m), tb, UNIX_DIAG_MAX, NULL) < 0)
		return NL_STOP;
	r->u->ino = m->udiag_ino;
	r->u->type = m->udiag_type;
	r->u->state = m->udiag_state;
	r->u->peer = tb[UNIX_DIAG_PEER] ? nla_get_u32(tb[UNIX_DIAG_PEER]) : 0;
	r->u->named = tb[UNIX_DIAG_NAME] && nla_len(tb[UNIX_DIAG_NAME]) > 0;
	if (r->u->named) {
		r->u->name_len = nla_len(tb[UNIX_DIAG_NAME]) < (int)sizeof(r->u->name) ? nla_len(tb[UNIX_DIAG_NAME])
											: (int)sizeof(r->u->name);
		memcpy(r->u->name, nla_data(tb[UNIX_DIAG_NAME]), r->u->name_len);
	}
	if (tb[UNIX_DIAG_VFS] && nla_len(tb[UNIX_DIAG_VFS]) >= (int)sizeof(struct unix_diag_vfs))
		r->u->vfs_ino = ((struct unix_diag_vfs *)nla_data(tb[UNIX_DIAG_VFS]))->udiag_vfs_ino;
	r->u->shutdown = tb[UNIX_DIAG_SHUTDOWN] ? nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]) : 0;
	if (tb[UNIX_DIAG_RQLEN] && nla_len(tb[UNIX_DIAG_RQLEN]) >= (int)sizeof(struct unix_diag_rqlen))
		r->u->rqueue = ((struct unix_diag_rqlen *)nla_data(tb[UNIX_DIAG_RQLEN]))->udiag_rqueue,
		r->u->wqueue = ((struct unix_diag_rqlen *)nla_data(tb[UNIX_DIAG_RQLEN]))->udiag_wqueue;
	r->found = true;
	return NL_OK;
}

int sockdiag_unix_get(uint32_t ino, struct sockdiag_unix *u, struct err *e)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0u,
		.udiag_ino = ino,
		.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_VFS,
		.udiag_cookie = { ~0u, ~0u },	/* INET_DIAG_NOCOOKIE: any socket with this inode */
	};
	struct sockdiag_reply r = { u, false };
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	memset(u, 0, sizeof(*u));
	if (!sk)
		return err_set(e, 4, "allocate a netlink socket to ask sock_diag about socket:[%u]", ino);
	if ((ret = nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		nl_socket_free(sk);
		return err_set(e, 4, "connect to NETLINK_SOCK_DIAG: %s (is CONFIG_UNIX_DIAG set?)", nl_geterror(ret));
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, sockdiag_on_msg, &r);
	ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, &req, sizeof(req));
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (ret < 0)
		return err_set(e, 4, "sock_diag about socket:[%u]: %s (is CONFIG_UNIX_DIAG set?)", ino, nl_geterror(ret));
	if (!r.found)
		return err_set(e, 4, "sock_diag has nothing about socket:[%u]", ino);
	return 0;
}
