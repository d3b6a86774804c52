/* netns: a network namespace's devices, addresses, routes and sysctls
 * (images/netns.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/net_namespace.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

#include "images/netns.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

/* From linux/if.h, which clashes with net/if.h. */
#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000
#endif
#define NETNS_OPER_DOWN		  2
#define NETNS_OPER_LOWERLAYERDOWN 3
#define NETNS_OPER_UP		  6

/* The device flags a program sets and restore sets again. */
#define NETNS_FLAGS (IFF_UP | IFF_NOARP | IFF_PROMISC | IFF_ALLMULTI | IFF_MULTICAST | IFF_DEBUG)
#define NETNS_MAX   4096	/* devices, addresses or routes in one namespace */

/* The sysctls saved, in the order restore writes them: ip_forward first
 * (writing it sets every conf/ forwarding), then conf/all and
 * conf/default, then each device's (%s is its name). */
static const char *const netns_sysctl_global[] = {
	"net/ipv4/ip_forward", "net/ipv4/ip_local_port_range", "net/ipv4/ping_group_range",
	"net/core/somaxconn", "net/ipv4/tcp_syncookies",
};
static const char *const netns_sysctl_conf[] = {
	"net/ipv4/conf/%s/forwarding", "net/ipv4/conf/%s/rp_filter", "net/ipv4/conf/%s/accept_local",
	"net/ipv4/conf/%s/route_localnet", "net/ipv6/conf/%s/forwarding", "net/ipv6/conf/%s/disable_ipv6",
	"net/ipv6/conf/%s/accept_ra", "net/ipv6/conf/%s/accept_dad",
};

static const struct netns_ext *netns_ext_find(const struct netns_ext *ext, int nr_ext, const char *name);

/* A route socket connected in the caller's namespace. */
static int netns_sock(struct nl_sock **sk, struct err *e)
{
	int ret;

	if (!(*sk = nl_socket_alloc()))
		return err_errno(e, "allocate a netlink socket");
	if ((ret = nl_connect(*sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(*sk);
		*sk = NULL;
		return err_set(e, EXIT_SYSTEM, "connect a route netlink socket: %s", nl_geterror(ret));
	}
	return 0;
}

static void netns_sock_free(struct nl_sock **sk)
{
	if (*sk)
		nl_socket_free(*sk);
}

static void netns_cache_free(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

/* The id (RTM_GETNSID) the caller's namespace gives the namespace of fd;
 * -1 if it has given none (no device of the caller's names it). */
static int netns_nsid_of(int fd, int32_t *nsid, struct err *e)
{
	__attribute__((cleanup(netns_sock_free))) struct nl_sock *sk = NULL;
	struct rtgenmsg g = { .rtgen_family = AF_UNSPEC };
	struct nlattr *tb[NETNSA_MAX + 1];
	struct sockaddr_nl peer;
	unsigned char *buf = NULL;
	struct nlmsghdr *h;
	struct nl_msg *m;
	int ret, n;

	*nsid = -1;
	if ((ret = netns_sock(&sk, e)) < 0)
		return ret;
	if (!(m = nlmsg_alloc_simple(RTM_GETNSID, NLM_F_REQUEST)))
		return err_errno(e, "build an RTM_GETNSID request");
	if (nlmsg_append(m, &g, sizeof(g), NLMSG_ALIGNTO) < 0 || nla_put_u32(m, NETNSA_FD, fd) < 0) {
		nlmsg_free(m);
		return err_set(e, EXIT_SYSTEM, "build an RTM_GETNSID request");
	}
	ret = nl_send_auto(sk, m);
	nlmsg_free(m);
	if (ret < 0)
		return err_set(e, EXIT_SYSTEM, "send RTM_GETNSID: %s", nl_geterror(ret));
	if ((n = nl_recv(sk, &peer, &buf, NULL)) <= 0)
		return err_set(e, EXIT_SYSTEM, "receive the answer to RTM_GETNSID: %s", n < 0 ? nl_geterror(n) : "nothing");
	h = (struct nlmsghdr *)buf;
	if (!nlmsg_ok(h, n) || h->nlmsg_type == NLMSG_ERROR) {
		ret = nlmsg_ok(h, n) && h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr)) ?
			((struct nlmsgerr *)nlmsg_data(h))->error : -EIO;
		free(buf);
		errno = -ret;
		return err_errno(e, "ask the id of a network namespace (RTM_GETNSID)");
	}
	if (nlmsg_parse(h, sizeof(g), tb, NETNSA_MAX, NULL) == 0 && tb[NETNSA_NSID])
		*nsid = (int32_t)nla_get_u32(tb[NETNSA_NSID]);
	free(buf);
	return 0;
}

/* The bytes of a (non-empty) nl_addr into a protobuf bytes field. */
static int netns_bytes(struct nl_addr *a, ProtobufCBinaryData *out, protobuf_c_boolean *has)
{
	if (!a || !nl_addr_get_len(a))
		return 0;
	out->len = nl_addr_get_len(a);
	if (!(out->data = malloc(out->len)))
		return -ENOMEM;
	memcpy(out->data, nl_addr_get_binary_addr(a), out->len);
	if (has)
		*has = 1;
	return 0;
}

/* Reads one sysctl into ne (a missing one is skipped: IPv6 off). */
static int netns_sysctl_read(NetnsEntry *ne, const char *name, struct err *e)
{
	char path[160], buf[256];
	_cleanup_close_ int fd = -1;
	NetSysctl *s;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : err_errno(e, "read sysctl '%s'", path);
	if ((n = read(fd, buf, sizeof(buf) - 1)) < 0)
		return err_errno(e, "read sysctl '%s'", path);
	buf[n] = 0;
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = 0;
	if (!(s = malloc(sizeof(*s))))
		return err_errno(e, "remember sysctl '%s'", path);
	net_sysctl__init(s);
	if (!(s->name = strdup(name)) || !(s->value = strdup(buf)))
		return err_errno(e, "remember sysctl '%s'", path);
	ne->sysctls[ne->n_sysctls++] = s;
	return 0;
}

/* The kind of link l, for records and messages. */
static const char *netns_kind(struct rtnl_link *l)
{
	const char *t = rtnl_link_get_type(l);

	if (rtnl_link_get_arptype(l) == ARPHRD_LOOPBACK)
		return "loopback";
	return t ? t : "unknown (no IFLA_INFO_KIND)";
}

/* Fills ne->links; refuses other kinds than loopback and veth. */
static int netns_collect_links(NetnsEntry *ne, pid_t pid, struct nl_cache *links, const struct netns_other *others,
			       int nr, const int32_t *nsids, const struct netns_ext *ext, int nr_ext, struct err *e)
{
	int count = nl_cache_nitems(links);

	if (count > NETNS_MAX)
		return err_input(e, "network namespace net:[%" PRIu64 "] of pid %d has %d devices, more than %d", ne->id, pid,
				 count, NETNS_MAX);
	if (!(ne->links = calloc(count ? count : 1, sizeof(*ne->links))))
		return err_errno(e, "remember the devices of net:[%" PRIu64 "]", ne->id);
	for (struct nl_object *o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		const char *kind = netns_kind(l), *name = rtnl_link_get_name(l);
		NetLink *nl = calloc(1, sizeof(*nl));
		int32_t peer_nsid = -1;

		if (!nl)
			return err_errno(e, "remember device '%s'", name);
		net_link__init(nl);
		ne->links[ne->n_links++] = nl;
		if (strcmp(kind, "loopback") && strcmp(kind, "veth"))
			return err_input(e, "network namespace net:[%" PRIu64 "] of pid %d has device '%s' (ifindex %d) of kind "
					 "'%s'; only loopback and veth devices can be restored: remove it (ip link del %s) "
					 "before the dump", ne->id, pid, name, rtnl_link_get_ifindex(l), kind, name);
		nl->ifindex = rtnl_link_get_ifindex(l);
		if (!(nl->name = strdup(name)) || !(nl->kind = strdup(kind)))
			return err_errno(e, "remember device '%s'", name);
		nl->flags = rtnl_link_get_flags(l) & NETNS_FLAGS;
		nl->mtu = rtnl_link_get_mtu(l);
		nl->txqlen = rtnl_link_get_txqlen(l);
		nl->has_txqlen = 1;
		if (!strcmp(kind, "loopback")) {
			ne->lo_up = !strcmp(name, "lo") && (nl->flags & IFF_UP);
			continue;
		}
		if (netns_bytes(rtnl_link_get_addr(l), &nl->mac, &nl->has_mac) < 0)
			return err_errno(e, "remember device '%s'", name);
		nl->has_peer_ifindex = 1;
		nl->peer_ifindex = rtnl_link_get_link(l);
		nl->has_peer_ns = nl->has_peer_external = 1;
		if (rtnl_link_get_link_netnsid(l, &peer_nsid) < 0 || peer_nsid < 0)
			continue;	/* both ends here */
		nl->peer_external = 1;
		for (int k = 0; k < nr; k++)
			if (nsids[k] == peer_nsid) {
				nl->peer_ns = others[k].id;
				nl->peer_external = 0;
			}
		if (nl->peer_external && !netns_ext_find(ext, nr_ext, name))
			return err_input(e, "network namespace net:[%" PRIu64 "] of pid %d has veth '%s' (ifindex %u) whose "
					 "peer (ifindex %u) is in a network namespace outside the tree; name it with "
					 "--external veth[%s] (and its peer's name at restore with --external veth[%s]:NAME), "
					 "or delete it (ip link del %s)", ne->id, pid, name, nl->ifindex, nl->peer_ifindex,
					 name, name, name);
	}
	return 0;
}

/* Fills ne->addrs. */
static int netns_collect_addrs(NetnsEntry *ne, struct nl_cache *addrs, struct err *e)
{
	int count = nl_cache_nitems(addrs);

	if (count > NETNS_MAX)
		return err_input(e, "network namespace net:[%" PRIu64 "] has %d addresses, more than %d", ne->id, count, NETNS_MAX);
	if (!(ne->addrs = calloc(count ? count : 1, sizeof(*ne->addrs))))
		return err_errno(e, "remember the addresses of net:[%" PRIu64 "]", ne->id);
	for (struct nl_object *o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a), *peer = rtnl_addr_get_peer(a);
		const char *label = rtnl_addr_get_label(a);
		NetAddr *na;
		char ifname[IF_NAMESIZE] = "";

		if (rtnl_addr_get_family(a) != AF_INET && rtnl_addr_get_family(a) != AF_INET6)
			continue;
		if (!(na = calloc(1, sizeof(*na))))
			return err_errno(e, "remember an address");
		net_addr__init(na);
		ne->addrs[ne->n_addrs++] = na;
		na->ifindex = rtnl_addr_get_ifindex(a);
		na->family = rtnl_addr_get_family(a);
		na->prefixlen = rtnl_addr_get_prefixlen(a);
		na->scope = rtnl_addr_get_scope(a);
		na->flags = rtnl_addr_get_flags(a);
		if (netns_bytes(local ? local : peer, &na->local, NULL) < 0 ||
		    (local && peer && nl_addr_cmp(local, peer) && netns_bytes(peer, &na->peer, &na->has_peer) < 0) ||
		    netns_bytes(rtnl_addr_get_broadcast(a), &na->broadcast, &na->has_broadcast) < 0)
			return err_errno(e, "remember an address");
		if_indextoname(na->ifindex, ifname);
		if (label && *label && strcmp(label, ifname) && !(na->label = strdup(label)))
			return err_errno(e, "remember an address");
	}
	return 0;
}

/* Fills ne->routes with those the kernel did not make itself. */
static int netns_collect_routes(NetnsEntry *ne, pid_t pid, struct nl_cache *routes, struct err *e)
{
	int count = nl_cache_nitems(routes);

	if (count > NETNS_MAX)
		return err_input(e, "network namespace net:[%" PRIu64 "] has %d routes, more than %d", ne->id, count, NETNS_MAX);
	if (!(ne->routes = calloc(count ? count : 1, sizeof(*ne->routes))))
		return err_errno(e, "remember the routes of net:[%" PRIu64 "]", ne->id);
	for (struct nl_object *o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *r = (struct rtnl_route *)o;
		struct rtnl_nexthop *nh;
		NetRoute *nr;
		char dst[128];

		if ((rtnl_route_get_family(r) != AF_INET && rtnl_route_get_family(r) != AF_INET6) ||
		    rtnl_route_get_protocol(r) == RTPROT_KERNEL || rtnl_route_get_table(r) == RT_TABLE_LOCAL ||
		    (rtnl_route_get_flags(r) & RTM_F_CLONED))
			continue;
		nl_addr2str(rtnl_route_get_dst(r), dst, sizeof(dst));
		if (rtnl_route_get_nnexthops(r) > 1)
			return err_input(e, "network namespace net:[%" PRIu64 "] of pid %d has route to %s with %d next hops; "
					 "multipath routes cannot be restored: delete it before the dump", ne->id, pid, dst,
					 rtnl_route_get_nnexthops(r));
		if (!(nr = calloc(1, sizeof(*nr))))
			return err_errno(e, "remember a route");
		net_route__init(nr);
		ne->routes[ne->n_routes++] = nr;
		nr->family = rtnl_route_get_family(r);
		nr->table = rtnl_route_get_table(r);
		nr->type = rtnl_route_get_type(r);
		nr->protocol = rtnl_route_get_protocol(r);
		nr->scope = rtnl_route_get_scope(r);
		nr->dst_len = rtnl_route_get_dst(r) ? nl_addr_get_prefixlen(rtnl_route_get_dst(r)) : 0;
		nr->has_priority = 1;
		nr->priority = rtnl_route_get_priority(r);
		if (netns_bytes(rtnl_route_get_dst(r), &nr->dst, &nr->has_dst) < 0 ||
		    netns_bytes(rtnl_route_get_pref_src(r), &nr->prefsrc, &nr->has_prefsrc) < 0)
			return err_errno(e, "remember a route");
		if ((nh = rtnl_route_nexthop_n(r, 0))) {
			nr->has_oif = 1;
			nr->oif = rtnl_route_nh_get_ifindex(nh);
			if (netns_bytes(rtnl_route_nh_get_gateway(nh), &nr->gateway, &nr->has_gateway) < 0)
				return err_errno(e, "remember a route");
		}
	}
	return 0;
}

int netns_ext_parse(const char *arg, bool outside, struct netns_ext *x, struct err *e)
{
	const char *close_br, *name;
	size_t n;

	if (strncmp(arg, "veth[", 5))
		return 0;
	memset(x, 0, sizeof(*x));
	name = arg + 5;
	if (!(close_br = strchr(name, ']')) || (n = close_br - name) == 0 || n >= sizeof(x->inside))
		return err_input(e, "--external '%s': want veth[IFNAME]%s with a device name of 1 to %zu characters", arg,
				 outside ? ":OUTSIDE_IFNAME" : "", sizeof(x->inside) - 1);
	memcpy(x->inside, name, n);
	if (!outside)
		return close_br[1] ? err_input(e, "--external '%s': at dump, want veth[IFNAME] alone (the name outside is "
					       "given at restore)", arg) : 1;
	if (close_br[1] != ':' || !close_br[2] || strlen(close_br + 2) >= sizeof(x->outside) || strchr(close_br + 2, '/'))
		return err_input(e, "--external '%s': at restore, want veth[IFNAME]:OUTSIDE_IFNAME (the name of its peer "
				 "in amber's network namespace)%s", arg, strchr(close_br, '@') ? "; attaching to a bridge (@BRIDGE) "
				 "is not supported: attach it yourself after the restore" : "");
	if (strchr(close_br + 2, '@'))
		return err_input(e, "--external '%s': attaching the outside end to a bridge (@BRIDGE) is not supported; "
				 "attach it yourself after the restore (ip link set NAME master BRIDGE)", arg);
	snprintf(x->outside, sizeof(x->outside), "%s", close_br + 2);
	return 1;
}

/* The --external entry for device name, or NULL. */
static const struct netns_ext *netns_ext_find(const struct netns_ext *ext, int nr_ext, const char *name)
{
	for (int i = 0; i < nr_ext; i++)
		if (!strcmp(ext[i].inside, name))
			return &ext[i];
	return NULL;
}

int netns_collect(NetnsEntry *ne, pid_t pid, const struct netns_other *others, int nr, const struct netns_ext *ext,
		  int nr_ext, struct err *e)
{
	__attribute__((cleanup(netns_sock_free))) struct nl_sock *sk = NULL;
	__attribute__((cleanup(netns_cache_free))) struct nl_cache *links = NULL, *addrs = NULL, *routes = NULL;
	_cleanup_free_ int32_t *nsids = calloc(nr ? nr : 1, sizeof(*nsids));
	size_t nconf = ARRAY_SIZE(netns_sysctl_conf);
	int ret;

	if (!nsids)
		return err_errno(e, "read network namespace net:[%" PRIu64 "]", ne->id);
	if ((ret = netns_sock(&sk, e)) < 0)
		return ret;
	if ((ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links)) < 0 || (ret = rtnl_addr_alloc_cache(sk, &addrs)) < 0 ||
	    (ret = rtnl_route_alloc_cache(sk, AF_UNSPEC, 0, &routes)) < 0)
		return err_set(e, EXIT_SYSTEM, "list the devices, addresses and routes of network namespace net:[%" PRIu64
			       "] of pid %d: %s", ne->id, pid, nl_geterror(ret));
	for (int k = 0; k < nr; k++)
		if ((ret = netns_nsid_of(others[k].fd, &nsids[k], e)) < 0)
			return ret;
	if ((ret = netns_collect_links(ne, pid, links, others, nr, nsids, ext, nr_ext, e)) < 0 ||
	    (ret = netns_collect_addrs(ne, addrs, e)) < 0 || (ret = netns_collect_routes(ne, pid, routes, e)) < 0)
		return ret;
	if (!(ne->sysctls = calloc(ARRAY_SIZE(netns_sysctl_global) + nconf * (ne->n_links + 2), sizeof(*ne->sysctls))))
		return err_errno(e, "remember the sysctls of net:[%" PRIu64 "]", ne->id);
	for (size_t k = 0; k < ARRAY_SIZE(netns_sysctl_global); k++)
		if ((ret = netns_sysctl_read(ne, netns_sysctl_global[k], e)) < 0)
			return ret;
	for (size_t i = 0; i < ne->n_links + 2; i++)
		for (size_t k = 0; k < nconf; k++) {
			char name[128];

			snprintf(name, sizeof(name), netns_sysctl_conf[k],
				 i == 0 ? "all" : i == 1 ? "default" : ne->links[i - 2]->name);
			if ((ret = netns_sysctl_read(ne, name, e)) < 0)
				return ret;
		}
	return 0;
}

/* ne's device with ifindex, or NULL. */
static const NetLink *netns_link_by_index(const NetnsEntry *ne, uint32_t ifindex)
{
	for (size_t i = 0; i < ne->n_links; i++)
		if (ne->links[i]->ifindex == ifindex)
			return ne->links[i];
	return NULL;
}

/* Makes veth l of ne with its peer outside the tree, named by ext, in
 * the namespace of outside_fd. */
static int netns_make_external(struct nl_sock *sk, const NetnsEntry *ne, const NetLink *l, const struct netns_ext *ext,
			       int nr_ext, int outside_fd, struct err *e)
{
	const struct netns_ext *x = netns_ext_find(ext, nr_ext, l->name);
	struct rtnl_link *v, *peer;
	int ret;

	if (!x)
		return err_input(e, "veth '%s' of network namespace net:[%" PRIu64 "] had its peer outside the tree: give "
				 "the name its peer gets in amber's network namespace with --external veth[%s]:NAME",
				 l->name, ne->id, l->name);
	if (!(v = rtnl_link_veth_alloc()))
		return err_errno(e, "make veth '%s'", l->name);
	peer = rtnl_link_veth_get_peer(v);
	rtnl_link_set_name(v, l->name);
	rtnl_link_set_ifindex(v, l->ifindex);
	rtnl_link_set_name(peer, x->outside);
	rtnl_link_set_ns_fd(peer, outside_fd);
	ret = rtnl_link_add(sk, v, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_veth_release(v);
	if (ret < 0)
		return err_set(e, ret == -NLE_EXIST ? EXIT_INPUT : EXIT_SYSTEM, "make veth '%s' (ifindex %u, net:[%" PRIu64
			       "]) with its peer '%s' in amber's network namespace: %s%s", l->name, l->ifindex, ne->id,
			       x->outside, nl_geterror(ret), ret == -NLE_EXIST ? " (is there a device of that name "
			       "already? --external veth[] names a device restore makes)" : "");
	pr_info("veth '%s' made again, its peer '%s' in amber's network namespace", l->name, x->outside);
	return 0;
}

int netns_make_links(const NetnsEntry *const *all, const int *fds, int nr, int self, const struct netns_ext *ext,
		     int nr_ext, int outside_fd, struct err *e)
{
	__attribute__((cleanup(netns_sock_free))) struct nl_sock *sk = NULL;
	const NetnsEntry *ne = all[self];
	int ret;

	if ((ret = netns_sock(&sk, e)) < 0)
		return ret;
	for (size_t i = 0; i < ne->n_links; i++) {
		const NetLink *l = ne->links[i], *p = NULL;
		struct rtnl_link *v, *peer;
		int peer_k = self;

		if (strcmp(l->kind, "veth"))
			continue;
		if (l->peer_external) {
			if ((ret = netns_make_external(sk, ne, l, ext, nr_ext, outside_fd, e)) < 0)
				return ret;
			continue;
		}
		if (l->peer_ns) {
			for (int k = 0; k < nr; k++)
				if (all[k]->id == l->peer_ns)
					peer_k = k;
			if (peer_k == self)
				return err_input(e, "netns.img: veth '%s' of net:[%" PRIu64 "] names peer namespace net:[%" PRIu64
						 "], which the image does not have", l->name, ne->id, l->peer_ns);
		}
		if (!(p = netns_link_by_index(all[peer_k], l->peer_ifindex)) || strcmp(p->kind, "veth"))
			return err_input(e, "netns.img: veth '%s' of net:[%" PRIu64 "] names peer ifindex %u in net:[%" PRIu64
					 "], which is not a veth of the image", l->name, ne->id, l->peer_ifindex, all[peer_k]->id);
		/* The pair is made once: by the earlier namespace, or by the
		 * lower ifindex of two ends here. */
		if (peer_k < self || (peer_k == self && l->peer_ifindex < l->ifindex))
			continue;
		if (!(v = rtnl_link_veth_alloc()))
			return err_errno(e, "make veth '%s'", l->name);
		peer = rtnl_link_veth_get_peer(v);
		rtnl_link_set_name(v, l->name);
		rtnl_link_set_ifindex(v, l->ifindex);
		rtnl_link_set_name(peer, p->name);
		rtnl_link_set_ifindex(peer, p->ifindex);
		if (peer_k != self)
			rtnl_link_set_ns_fd(peer, fds[peer_k]);
		ret = rtnl_link_add(sk, v, NLM_F_CREATE | NLM_F_EXCL);
		rtnl_link_veth_release(v);
		if (ret < 0)
			return err_set(e, EXIT_SYSTEM, "make veth pair '%s' (ifindex %u, net:[%" PRIu64 "]) and '%s' (ifindex %u, "
				       "net:[%" PRIu64 "]): %s", l->name, l->ifindex, ne->id, p->name, p->ifindex,
				       all[peer_k]->id, nl_geterror(ret));
		pr_info("veth pair '%s' and '%s' made again", l->name, p->name);
	}
	return 0;
}

/* Writes one sysctl. */
static int netns_sysctl_write(const NetSysctl *s, struct err *e)
{
	char path[160];
	_cleanup_close_ int fd = -1;
	size_t len = strlen(s->value);

	if (strstr(s->name, "..") || strncmp(s->name, "net/", 4))
		return err_input(e, "netns.img: sysctl '%s' is not under net/", s->name);
	snprintf(path, sizeof(path), "/proc/sys/%s", s->name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0 || write(fd, s->value, len) != (ssize_t)len)
		return err_errno(e, "set sysctl '%s' to '%s' again", path, s->value);
	return 0;
}

/* Sets a device's MTU, MAC address, queue length and flags (ioctls on
 * the device by its name). */
static int netns_link_set(int sk, const NetLink *l, struct err *e)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", l->name);
	ifr.ifr_mtu = l->mtu;
	if (ioctl(sk, SIOCSIFMTU, &ifr) < 0)
		return err_errno(e, "set the MTU of '%s' to %u again", l->name, l->mtu);
	if (l->has_mac && l->mac.len <= sizeof(ifr.ifr_hwaddr.sa_data)) {
		ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
		memcpy(ifr.ifr_hwaddr.sa_data, l->mac.data, l->mac.len);
		if (ioctl(sk, SIOCSIFHWADDR, &ifr) < 0)
			return err_errno(e, "set the MAC address of '%s' again", l->name);
	}
	if (l->has_txqlen) {
		ifr.ifr_qlen = l->txqlen;
		if (ioctl(sk, SIOCSIFTXQLEN, &ifr) < 0)
			return err_errno(e, "set the queue length of '%s' to %u again", l->name, l->txqlen);
	}
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return err_errno(e, "read the flags of '%s'", l->name);
	ifr.ifr_flags = (ifr.ifr_flags & ~NETNS_FLAGS) | (l->flags & NETNS_FLAGS);
	if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
		return err_errno(e, "set the flags of '%s' to %#x again", l->name, l->flags);
	return 0;
}

/* An nl_addr of family from bytes (all zero and len by family if none). */
static struct nl_addr *netns_addr(uint32_t family, const ProtobufCBinaryData *b, bool has, uint32_t prefixlen)
{
	static const unsigned char zero[16];
	struct nl_addr *a = has ? nl_addr_build(family, b->data, b->len)
				: nl_addr_build(family, zero, family == AF_INET ? 4 : 16);

	if (a)
		nl_addr_set_prefixlen(a, prefixlen);
	return a;
}

/* Adds one address; one the kernel made already (lo's, an IPv6
 * link-local) is left as it is. */
static int netns_addr_add(struct nl_sock *sk, const NetnsEntry *ne, const NetAddr *na, struct err *e)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = NULL, *peer = NULL, *brd = NULL;
	char buf[128] = "?";
	int ret = -NLE_NOMEM;

	if (!a)
		return err_errno(e, "add an address");
	if ((local = netns_addr(na->family, &na->local, true, na->prefixlen))) {
		nl_addr2str(local, buf, sizeof(buf));
		rtnl_addr_set_ifindex(a, na->ifindex);
		rtnl_addr_set_family(a, na->family);
		rtnl_addr_set_local(a, local);
		rtnl_addr_set_prefixlen(a, na->prefixlen);
		rtnl_addr_set_scope(a, na->scope);
		rtnl_addr_set_flags(a, na->flags & (IFA_F_NODAD | IFA_F_NOPREFIXROUTE | IFA_F_HOMEADDRESS |
						    IFA_F_MANAGETEMPADDR));
		if (na->has_peer && (peer = netns_addr(na->family, &na->peer, true, na->prefixlen)))
			rtnl_addr_set_peer(a, peer);
		if (na->has_broadcast && (brd = netns_addr(na->family, &na->broadcast, true, 0)))
			rtnl_addr_set_broadcast(a, brd);
		if (na->label)
			rtnl_addr_set_label(a, na->label);
		ret = rtnl_addr_add(sk, a, NLM_F_CREATE | NLM_F_EXCL);
	}
	rtnl_addr_put(a);
	nl_addr_put(local);
	nl_addr_put(peer);
	nl_addr_put(brd);
	if (ret < 0 && ret != -NLE_EXIST)
		return err_set(e, EXIT_SYSTEM, "add address %s to ifindex %u in net:[%" PRIu64 "] again: %s", buf, na->ifindex,
			       ne->id, nl_geterror(ret));
	return 0;
}

/* Adds one route; one the kernel made already is left as it is. */
static int netns_route_add(struct nl_sock *sk, const NetnsEntry *ne, const NetRoute *nr, struct err *e)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = NULL;
	struct nl_addr *dst = NULL, *gw = NULL, *src = NULL;
	char buf[128] = "?";
	int ret = -NLE_NOMEM;

	if (!r)
		return err_errno(e, "add a route");
	if ((dst = netns_addr(nr->family, &nr->dst, nr->has_dst, nr->dst_len))) {
		nl_addr2str(dst, buf, sizeof(buf));
		rtnl_route_set_family(r, nr->family);
		rtnl_route_set_table(r, nr->table);
		rtnl_route_set_type(r, nr->type);
		rtnl_route_set_protocol(r, nr->protocol);
		rtnl_route_set_scope(r, nr->scope);
		rtnl_route_set_dst(r, dst);
		if (nr->has_priority)
			rtnl_route_set_priority(r, nr->priority);
		if (nr->has_prefsrc && (src = netns_addr(nr->family, &nr->prefsrc, true, 0)))
			rtnl_route_set_pref_src(r, src);
		if (nr->has_oif || nr->has_gateway) {
			if (!(nh = rtnl_route_nh_alloc()))
				goto out;
			if (nr->has_oif)
				rtnl_route_nh_set_ifindex(nh, nr->oif);
			if (nr->has_gateway && (gw = netns_addr(nr->family, &nr->gateway, true, 0)))
				rtnl_route_nh_set_gateway(nh, gw);
			rtnl_route_add_nexthop(r, nh);
		}
		ret = rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_EXCL);
	}
out:
	rtnl_route_put(r);
	nl_addr_put(dst);
	nl_addr_put(gw);
	nl_addr_put(src);
	if (ret < 0 && ret != -NLE_EXIST)
		return err_set(e, EXIT_SYSTEM, "add route to %s (table %u) in net:[%" PRIu64 "] again: %s", buf, nr->table,
			       ne->id, nl_geterror(ret));
	return 0;
}

int netns_configure(const NetnsEntry *ne, struct err *e)
{
	__attribute__((cleanup(netns_sock_free))) struct nl_sock *sk = NULL;
	_cleanup_close_ int ifsk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int ret;

	if (ifsk < 0)
		return err_errno(e, "make a socket to set up net:[%" PRIu64 "]", ne->id);
	if ((ret = netns_sock(&sk, e)) < 0)
		return ret;
	for (size_t i = 0; i < ne->n_sysctls; i++)
		if ((ret = netns_sysctl_write(ne->sysctls[i], e)) < 0)
			return ret;
	for (size_t i = 0; i < ne->n_links; i++)
		if ((ret = netns_link_set(ifsk, ne->links[i], e)) < 0)
			return ret;
	for (size_t i = 0; i < ne->n_addrs; i++)
		if ((ret = netns_addr_add(sk, ne, ne->addrs[i], e)) < 0)
			return ret;
	for (size_t i = 0; i < ne->n_routes; i++)
		if ((ret = netns_route_add(sk, ne, ne->routes[i], e)) < 0)
			return ret;
	return 0;
}

/* Whether link l's operstate already says what its carrier says (the
 * kernel's linkwatch updates it up to a second later). */
static bool netns_link_settled(struct rtnl_link *l)
{
	unsigned flags = rtnl_link_get_flags(l);
	uint8_t op = rtnl_link_get_operstate(l);

	if (!(flags & IFF_UP) || rtnl_link_get_arptype(l) == ARPHRD_LOOPBACK)
		return true;
	return (flags & IFF_LOWER_UP) ? op == NETNS_OPER_UP : op == NETNS_OPER_LOWERLAYERDOWN || op == NETNS_OPER_DOWN;
}

int netns_settle(const NetnsEntry *ne, struct err *e)
{
	__attribute__((cleanup(netns_sock_free))) struct nl_sock *sk = NULL;
	int ret;

	if ((ret = netns_sock(&sk, e)) < 0)
		return ret;
	for (int tries = 0; tries < 60; tries++) {
		__attribute__((cleanup(netns_cache_free))) struct nl_cache *links = NULL;
		bool settled = true;

		if ((ret = rtnl_link_alloc_cache(sk, AF_UNSPEC, &links)) < 0)
			return err_set(e, EXIT_SYSTEM, "list the devices of net:[%" PRIu64 "]: %s", ne->id, nl_geterror(ret));
		for (struct nl_object *o = nl_cache_get_first(links); o && settled; o = nl_cache_get_next(o))
			settled = netns_link_settled((struct rtnl_link *)o);
		if (settled)
			return 0;
		usleep(50 * 1000);
	}
	pr_warn("the devices of net:[%" PRIu64 "] did not settle in 3 s (operstate behind the carrier)", ne->id);
	return 0;
}

int netns_empty_parse(const char *arg, bool *empty, struct err *e)
{
	if (strcmp(arg, "net"))
		return err_set(e, EXIT_USAGE, "--empty-ns '%s': only net can be left empty", arg);
	*empty = true;
	return 0;
}
