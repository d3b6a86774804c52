/* lib/inetdiag.c: one TCP or UDP socket from NETLINK_SOCK_DIAG's inet_diag,
 * found by its inode in a dump of its family and protocol (an exact
 * request needs both addresses and ports, which a caller may not know). */
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/inetdiag.h"

#ifndef SOCK_DIAG_BY_FAMILY
#define SOCK_DIAG_BY_FAMILY 20
#endif

struct inetdiag_reply {
	uint32_t ino;
	const struct inetdiag_sock *peer_of;	/* inetdiag_find_peer: the end whose other end is looked for */
	struct inetdiag_sock *s;
	/* inetdiag_each: called for every socket instead of a search */
	void (*each)(const struct inetdiag_sock *s, void *arg);
	void *each_arg;
	bool found;
	bool bad;
};

int inetdiag_parse(const struct nlmsghdr *h, struct inetdiag_sock *s)
{
	struct inet_diag_msg *m;
	struct nlattr *tb[INET_DIAG_MAX + 1];

	memset(s, 0, sizeof(*s));
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)) ||
	    nlmsg_parse((struct nlmsghdr *)h, sizeof(*m), tb, INET_DIAG_MAX, NULL) < 0)
		return -1;
	m = nlmsg_data(h);
	if (m->idiag_family != AF_INET && m->idiag_family != AF_INET6)
		return -1;
	s->ino = m->idiag_inode;
	s->family = m->idiag_family;
	s->state = m->idiag_state;
	s->sport = ntohs(m->id.idiag_sport);
	s->dport = ntohs(m->id.idiag_dport);
	memcpy(s->src, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
	memcpy(s->dst, m->id.idiag_dst, m->idiag_family == AF_INET ? 4 : 16);
	s->ifindex = m->id.idiag_if;
	s->rqueue = m->idiag_rqueue;
	s->wqueue = m->idiag_wqueue;
	s->uid = m->idiag_uid;
	if (tb[INET_DIAG_SHUTDOWN] && nla_len(tb[INET_DIAG_SHUTDOWN]) >= 1)
		s->shutdown = nla_get_u8(tb[INET_DIAG_SHUTDOWN]);
	if (tb[INET_DIAG_SKV6ONLY] && nla_len(tb[INET_DIAG_SKV6ONLY]) >= 1)
		s->v6only = nla_get_u8(tb[INET_DIAG_SKV6ONLY]);
	if (tb[INET_DIAG_PROTOCOL] && nla_len(tb[INET_DIAG_PROTOCOL]) >= 1)
		s->protocol = nla_get_u8(tb[INET_DIAG_PROTOCOL]);
	return 0;
}

static int inetdiag_on_msg(struct nl_msg *msg, void *arg)
{
	struct inetdiag_reply *r = arg;
	struct inetdiag_sock s;

	if (r->found)
		return NL_OK;
	if (inetdiag_parse(nlmsg_hdr(msg), &s) < 0) {
		r->bad = true;
		return NL_STOP;
	}
	if (r->each) {
		r->each(&s, r->each_arg);
		return NL_OK;
	}
	if (r->peer_of ? (s.family == r->peer_of->family && s.sport == r->peer_of->dport && s.dport == r->peer_of->sport &&
			  !memcmp(s.src, r->peer_of->dst, 16) && !memcmp(s.dst, r->peer_of->src, 16) && s.ino) :
	    s.ino == r->ino) {
		*r->s = s;
		r->found = true;
	}
	return NL_OK;
}

/* Asks for every socket of family and protocol, for r. */
static int inetdiag_ask(int family, int protocol, struct inetdiag_reply *r, struct err *e);

int inetdiag_find(int family, int protocol, uint32_t ino, struct inetdiag_sock *s, struct err *e)
{
	struct inetdiag_reply r = { .ino = ino, .s = s };

	memset(s, 0, sizeof(*s));
	return inetdiag_ask(family, protocol, &r, e);
}

int inetdiag_find_peer(int protocol, const struct inetdiag_sock *s, struct inetdiag_sock *peer, struct err *e)
{
	struct inetdiag_reply r = { .peer_of = s, .s = peer };

	memset(peer, 0, sizeof(*peer));
	return inetdiag_ask(s->family, protocol, &r, e);
}

int inetdiag_each(int family, int protocol, void (*fn)(const struct inetdiag_sock *s, void *arg), void *arg,
		  struct err *e)
{
	struct inetdiag_reply r = { .each = fn, .each_arg = arg };

	return inetdiag_ask(family, protocol, &r, e) < 0 ? -1 : 0;
}

struct inetdiag_listing {
	struct inetdiag_sock *v;
	int nr;
	bool oom;
};

static void inetdiag_collect(const struct inetdiag_sock *s, void *arg)
{
	struct inetdiag_listing *l = arg;

	if (l->oom)
		return;
	if (grow_one(&l->v, l->nr) < 0) {
		l->oom = true;
		return;
	}
	l->v[l->nr++] = *s;
}

static int inetdiag_ino_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct inetdiag_sock *)a)->ino, y = ((const struct inetdiag_sock *)b)->ino;

	return x < y ? -1 : x > y;
}

/* ADDR:PORT of /proc/net/raw{,6}: each 32-bit word of the address printed
 * as %08X of its raw (network order) value. */
static int inetdiag_proc_addr(const char *text, int family, uint8_t *addr, uint16_t *port)
{
	int words = family == AF_INET ? 1 : 4;

	for (int w = 0; w < words; w++) {
		char hex[9];
		uint32_t v;

		memcpy(hex, text + 8 * w, 8);
		hex[8] = 0;
		if (strspn(hex, "0123456789abcdefABCDEF") != 8)
			return -1;
		v = (uint32_t)strtoul(hex, NULL, 16);
		memcpy(addr + 4 * w, &v, 4);
	}
	if (text[8 * words] != ':' || strspn(text + 8 * words + 1, "0123456789abcdefABCDEF") < 4)
		return -1;
	*port = (uint16_t)strtoul(text + 8 * words + 1, NULL, 16);
	return 0;
}

int inetdiag_parse_proc_raw(int family, const char *text, uint32_t ino, struct inetdiag_sock *s)
{
	const char *p = strchr(text, '\n');

	if (!p || !strstr(text, "local_address"))
		return -1;
	for (p++; *p; ) {
		char local[64], remote[64];
		unsigned st, txq, rxq, inode;
		const char *end = strchr(p, '\n');

		if (sscanf(p, " %*u: %63s %63s %x %x:%x %*x:%*x %*x %*u %*u %u", local, remote, &st, &txq, &rxq, &inode) != 6)
			return -1;
		if (inode == ino) {
			memset(s, 0, sizeof(*s));
			s->ino = ino;
			s->family = family;
			s->state = st;
			s->rqueue = rxq;
			s->wqueue = txq;
			if (inetdiag_proc_addr(local, family, s->src, &s->sport) < 0 ||
			    inetdiag_proc_addr(remote, family, s->dst, &s->dport) < 0)
				return -1;
			return 1;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

int inetdiag_list(int family, int protocol, struct inetdiag_sock **v, int *nr, struct err *e)
{
	struct inetdiag_listing l = { 0 };

	if (inetdiag_each(family, protocol, inetdiag_collect, &l, e) < 0) {
		free(l.v);
		return -1;
	}
	if (l.oom) {
		free(l.v);
		return err_errno(e, "list the %s sockets", protocol == IPPROTO_TCP ? "TCP" : "UDP");
	}
	if (l.nr)
		qsort(l.v, l.nr, sizeof(*l.v), inetdiag_ino_cmp);
	*v = l.v;
	*nr = l.nr;
	return 0;
}

const struct inetdiag_sock *inetdiag_lookup(const struct inetdiag_sock *v, int nr, uint32_t ino)
{
	struct inetdiag_sock key = { .ino = ino };

	return nr ? bsearch(&key, v, nr, sizeof(*v), inetdiag_ino_cmp) : NULL;
}

const struct inetdiag_sock *inetdiag_lookup_peer(const struct inetdiag_sock *v, int nr, const struct inetdiag_sock *s)
{
	size_t alen = s->family == AF_INET ? 4 : 16;

	for (int i = 0; i < nr; i++)
		if (v[i].family == s->family && v[i].sport == s->dport && v[i].dport == s->sport &&
		    !memcmp(v[i].src, s->dst, alen) && !memcmp(v[i].dst, s->src, alen) && v[i].ino)
			return &v[i];
	return NULL;
}

static int inetdiag_ask(int family, int protocol, struct inetdiag_reply *r, struct err *e)
{
	/* Raw sockets are asked for as IPPROTO_RAW with the protocol beside
	 * (raw_diag); the two layouts are one size, the raw protocol where the
	 * other has padding. */
	bool raw = protocol != IPPROTO_TCP && protocol != IPPROTO_UDP;
	struct inet_diag_req_raw req = {
		.sdiag_family = family,
		.sdiag_protocol = raw ? IPPROTO_RAW : protocol,
		.sdiag_raw_protocol = raw ? protocol : 0,
		.idiag_states = ~0u,
	};
	const char *what = raw ? "raw" : protocol == IPPROTO_TCP ? "TCP" : "UDP";
	struct nl_sock *sk;
	int ret;

	if (!(sk = nl_socket_alloc()))
		return err_set(e, EXIT_SYSTEM, "allocate a netlink socket to ask sock_diag about %s sockets", what);
	if ((ret = nl_connect(sk, NETLINK_SOCK_DIAG)) < 0) {
		nl_socket_free(sk);
		return err_set(e, EXIT_SYSTEM, "connect to NETLINK_SOCK_DIAG: %s", nl_geterror(ret));
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, inetdiag_on_msg, r);
	ret = nl_send_simple(sk, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, &req, sizeof(req));
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	nl_socket_free(sk);
	if (ret < 0)
		return err_set(e, EXIT_SYSTEM, "sock_diag of %s sockets: %s (is CONFIG_INET_%s_DIAG set?)", what,
			       nl_geterror(ret), raw ? "RAW" : what);
	if (r->bad)
		return err_set(e, EXIT_SYSTEM, "sock_diag sent a malformed reply about %s sockets", what);
	return r->found;
}
