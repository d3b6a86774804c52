/* lib/nldiag.c: one netlink socket from NETLINK_SOCK_DIAG's netlink_diag,
 * found by its inode in a dump of every netlink protocol (netlink_diag has
 * no request by inode). */
#include <linux/netlink_diag.h>
#include <linux/sock_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/exitcodes.h"
#include "lib/nldiag.h"

#ifndef SOCK_DIAG_BY_FAMILY
#define SOCK_DIAG_BY_FAMILY 20
#endif

struct nldiag_reply {
	uint32_t ino;
	struct nldiag_sock *s;
	bool found, bad;
};

int nldiag_parse(const struct nlmsghdr *h, struct nldiag_sock *s)
{
	struct netlink_diag_msg *m;
	struct nlattr *tb[NETLINK_DIAG_MAX + 1];

	memset(s, 0, sizeof(*s));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    nlmsg_parse((struct nlmsghdr *)h, sizeof(*m), tb, NETLINK_DIAG_MAX, NULL) < 0)
		return -1;
	m = nlmsg_data(h);
	if (m->ndiag_family != AF_NETLINK)
		return -1;
	s->ino = m->ndiag_ino;
	s->protocol = m->ndiag_protocol;
	s->type = m->ndiag_type;
	s->portid = m->ndiag_portid;
	s->dst_portid = m->ndiag_dst_portid;
	s->dst_group = m->ndiag_dst_group;
	if (tb[NETLINK_DIAG_FLAGS] && nla_len(tb[NETLINK_DIAG_FLAGS]) >= 4)
		s->flags = nla_get_u32(tb[NETLINK_DIAG_FLAGS]);
	/* SK_MEMINFO_RMEM_ALLOC is the first of the u32 meminfo array. */
	if (tb[NETLINK_DIAG_MEMINFO] && nla_len(tb[NETLINK_DIAG_MEMINFO]) >= 4)
		s->rmem = *(const uint32_t *)nla_data(tb[NETLINK_DIAG_MEMINFO]);
	return 0;
}

static int nldiag_on_msg(struct nl_msg *msg, void *arg)
{
	struct nldiag_reply *r = arg;
	struct nldiag_sock s;

	if (r->found)
		return NL_OK;
	if (nldiag_parse(nlmsg_hdr(msg), &s) < 0) {
		r->bad = true;
		return NL_STOP;
	}
	if (s.ino == r->ino) {
		*r->s = s;
		r->found = true;
	}
	return NL_OK;
}

int nldiag_find(uint32_t ino, struct nldiag_sock *s, struct err *e)
{
	struct netlink_diag_req req = {
		.sdiag_family = AF_NETLINK,
		.sdiag_protocol = NDIAG_PROTO_ALL,
		.ndiag_show = NDIAG_SHOW_MEMINFO | NDIAG_SHOW_FLAGS,
	};
	struct nldiag_reply r = { .ino = ino, .s = s };
	struct nl_sock *sk;
	int ret;

	memset(s, 0, sizeof(*s));
	if (!(sk = nl_socket_alloc()))
		return err_set(e, EXIT_SYSTEM, "allocate a netlink socket to ask sock_diag about netlink sockets");
	if ((ret = nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		nl_socket_free(sk);
		return err_set(e, EXIT_SYSTEM, "connect to NETLINK_SOCK_DIAG: %s", nl_geterror(ret));
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, nldiag_on_msg, &r);
	ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, &req, sizeof(req));
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (ret < 0)
		return err_set(e, EXIT_SYSTEM, "sock_diag of netlink sockets: %s (is CONFIG_NETLINK_DIAG set?)",
			       nl_geterror(ret));
	if (r.bad)
		return err_set(e, EXIT_SYSTEM, "sock_diag sent a malformed reply about netlink sockets");
	return r.found;
}
