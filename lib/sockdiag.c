/* lib/sockdiag.c: one unix socket's peer, name, state, shutdown and the
 * connections waiting in a listener's backlog from NETLINK_SOCK_DIAG.
 * These are not in /proc or getsockopt: the peer's inode is what joins the
 * two ends of a pair in a dump. */
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/exitcodes.h"
#include "lib/sockdiag.h"

#ifndef SOCK_DIAG_BY_FAMILY
#define SOCK_DIAG_BY_FAMILY 20
#endif

#define SOCKDIAG_SHOW (UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_VFS | UDIAG_SHOW_ICONS)

struct sockdiag_reply {
	struct sockdiag_unix *u;
	bool found;
	bool bad;
	uint32_t client;	/* sockdiag_unix_listener_of: the client looked for */
	uint32_t listener;
};

int sockdiag_unix_parse(const struct nlmsghdr *h, struct sockdiag_unix *u)
{
	struct unix_diag_msg *m;
	struct nlattr *tb[UNIX_DIAG_MAX + 1];

	memset(u, 0, sizeof(*u));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) || nlmsg_parse((struct nlmsghdr *)h, sizeof(*m), tb, UNIX_DIAG_MAX, NULL) < 0)
		return -1;
	m = nlmsg_data(h);
	u->ino = m->udiag_ino;
	u->type = m->udiag_type;
	u->state = m->udiag_state;
	u->peer = tb[UNIX_DIAG_PEER] && nla_len(tb[UNIX_DIAG_PEER]) >= 4 ? nla_get_u32(tb[UNIX_DIAG_PEER]) : 0;
	u->named = tb[UNIX_DIAG_NAME] && nla_len(tb[UNIX_DIAG_NAME]) > 0;
	if (u->named) {
		u->name_len = nla_len(tb[UNIX_DIAG_NAME]) < (int)sizeof(u->name) ? nla_len(tb[UNIX_DIAG_NAME]) : (int)sizeof(u->name);
		memcpy(u->name, nla_data(tb[UNIX_DIAG_NAME]), u->name_len);
	}
	if (tb[UNIX_DIAG_VFS] && nla_len(tb[UNIX_DIAG_VFS]) >= (int)sizeof(struct unix_diag_vfs))
		u->vfs_ino = ((struct unix_diag_vfs *)nla_data(tb[UNIX_DIAG_VFS]))->udiag_vfs_ino;
	u->shutdown = tb[UNIX_DIAG_SHUTDOWN] && nla_len(tb[UNIX_DIAG_SHUTDOWN]) >= 1 ? nla_get_u8(tb[UNIX_DIAG_SHUTDOWN]) : 0;
	if (tb[UNIX_DIAG_RQLEN] && nla_len(tb[UNIX_DIAG_RQLEN]) >= (int)sizeof(struct unix_diag_rqlen)) {
		u->rqueue = ((struct unix_diag_rqlen *)nla_data(tb[UNIX_DIAG_RQLEN]))->udiag_rqueue;
		u->wqueue = ((struct unix_diag_rqlen *)nla_data(tb[UNIX_DIAG_RQLEN]))->udiag_wqueue;
	}
	if (tb[UNIX_DIAG_ICONS]) {
		int n = nla_len(tb[UNIX_DIAG_ICONS]) / (int)sizeof(uint32_t);

		u->icons_truncated = n > SOCKDIAG_MAX_ICONS;
		u->nr_icons = n > SOCKDIAG_MAX_ICONS ? SOCKDIAG_MAX_ICONS : n;
		memcpy(u->icons, nla_data(tb[UNIX_DIAG_ICONS]), u->nr_icons * sizeof(uint32_t));
	}
	return 0;
}

static int sockdiag_on_msg(struct nl_msg *msg, void *arg)
{
	struct sockdiag_reply *r = arg;

	if (sockdiag_unix_parse(nlmsg_hdr(msg), r->u) < 0) {
		r->bad = true;
		return NL_STOP;
	}
	r->found = true;
	for (int i = 0; r->client && !r->listener && i < r->u->nr_icons; i++)
		if (r->u->icons[i] == r->client)
			r->listener = r->u->ino;
	return NL_OK;
}

/* Sends one request and feeds every reply to sockdiag_on_msg. */
static int sockdiag_ask(struct unix_diag_req *req, int flags, struct sockdiag_reply *r, struct err *e)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return err_set(e, EXIT_SYSTEM, "allocate a netlink socket to ask sock_diag about unix sockets");
	if ((ret = nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		nl_socket_free(sk);
		return err_set(e, EXIT_SYSTEM, "connect to NETLINK_SOCK_DIAG: %s (is CONFIG_UNIX_DIAG set?)", nl_geterror(ret));
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, sockdiag_on_msg, r);
	ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, flags, req, sizeof(*req));
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (ret < 0)
		return err_set(e, EXIT_SYSTEM, "sock_diag: %s (is CONFIG_UNIX_DIAG set?)", nl_geterror(ret));
	if (r->bad)
		return err_set(e, EXIT_SYSTEM, "sock_diag sent a malformed reply");
	return 0;
}

int sockdiag_unix_get(uint32_t ino, struct sockdiag_unix *u, struct err *e)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = ~0u,
		.udiag_ino = ino,
		.udiag_show = SOCKDIAG_SHOW,
		.udiag_cookie = { ~0u, ~0u },	/* INET_DIAG_NOCOOKIE: any socket with this inode */
	};
	struct sockdiag_reply r = { .u = u };
	int ret;

	memset(u, 0, sizeof(*u));
	if ((ret = sockdiag_ask(&req, NLM_F_REQUEST, &r, e)) < 0)
		return err_wrap(e, "socket:[%u]", ino);
	if (!r.found)
		return err_set(e, EXIT_SYSTEM, "sock_diag has nothing about socket:[%u]", ino);
	return 0;
}

int sockdiag_unix_listener_of(uint32_t client_ino, uint32_t *listener, struct err *e)
{
	struct unix_diag_req req = {
		.sdiag_family = AF_UNIX,
		.udiag_states = 1u << 10,	/* TCP_LISTEN */
		.udiag_show = SOCKDIAG_SHOW,
	};
	struct sockdiag_unix u;
	struct sockdiag_reply r = { .u = &u, .client = client_ino };
	int ret;

	*listener = 0;
	if ((ret = sockdiag_ask(&req, NLM_F_REQUEST | NLM_F_DUMP, &r, e)) < 0)
		return err_wrap(e, "find the listener of socket:[%u]", client_ino);
	*listener = r.listener;
	return 0;
}
