/* dump-files/inet.c: TCP and UDP sockets, IPv4 and IPv6, of amber's own
 * network namespace: listeners, bound or unbound sockets, UDP sockets with
 * their peer and the datagrams waiting in them; their addresses from
 * getsockname and getpeername, their state and a listener's backlog and
 * accept queue from inet_diag (lib/inetdiag.h), and every option of
 * lib/inetopt.h that differs from a new socket's; raw sockets and the
 * multicast groups of UDP ones. Established TCP connections are tcp.c's.
 * Anything else of the inet families (ICMP, SCTP, a listener with
 * connections waiting) is refused by name; see dump-files.h. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/inetdiag.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "stages/dump-files/dump-files.h"

#ifndef SO_GET_FILTER
#define SO_GET_FILTER SO_ATTACH_FILTER
#endif

/* The kernel's names of TCP states, for messages. */
static const char *df_inet_state_name(int state)
{
	static const char *const names[] = { "?", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
					     "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING",
					     "NEW_SYN_RECV" };

	return state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state] : "?";
}

void df_inet_name(int family, const uint8_t *addr, unsigned port, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, a, sizeof(a)))
		snprintf(a, sizeof(a), "?");
	snprintf(buf, size, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
}

/* The address and port of sa (AF_INET or AF_INET6) into addr (4 or 16
 * bytes), *port and *scope; false for another family. */
bool df_inet_split(const struct sockaddr_storage *sa, uint8_t *addr, uint32_t *port, uint32_t *scope, size_t *len)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		memcpy(addr, &in->sin_addr, 4);
		*port = ntohs(in->sin_port);
		*scope = 0;
		*len = 4;
		return true;
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(addr, &in6->sin6_addr, 16);
		*port = ntohs(in6->sin6_port);
		*scope = in6->sin6_scope_id;
		*len = 16;
		return true;
	}
	return false;
}

/* Is the socket of amber's network namespace? */
int df_sock_own_netns(int sk, bool *own, uint64_t *ns, struct err *e)
{
	_cleanup_close_ int nsfd = ioctl(sk, SIOCGSKNS);
	struct stat a, b;

	if (nsfd < 0 || fstat(nsfd, &a) < 0)
		return err_errno(e, "SIOCGSKNS: the network namespace of a socket");
	if (stat("/proc/self/ns/net", &b) < 0)
		return err_errno(e, "stat /proc/self/ns/net");
	*own = a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	*ns = a.st_ino;
	return 0;
}

size_t df_sock_opts(int sk, int fresh, int family, int protocol, InetSockOpt *opts, InetSockOpt **optp,
		    uint8_t (*optdata)[INETOPT_MAX_BYTES], size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < inetopt_count && n < max; i++) {
		const struct inetopt *o = &inetopt_table[i];
		uint8_t a[INETOPT_MAX_BYTES] = { 0 }, b[INETOPT_MAX_BYTES] = { 0 };
		socklen_t la = sizeof(a), lb = sizeof(b);
		InetSockOpt *s = &opts[n];

		if (!inetopt_applies(o, family, protocol))
			continue;
		if (o->kind == INETOPT_INT)
			la = lb = sizeof(int);
		if (getsockopt(sk, o->level, o->opt, a, &la) < 0)
			continue;	/* not on this kernel */
		if (fresh < 0 || getsockopt(fresh, o->level, o->opt, b, &lb) < 0)
			lb = 0;
		if (la == lb && !memcmp(a, b, la))
			continue;
		inet_sock_opt__init(s);
		s->name = (char *)o->name;
		if (o->kind == INETOPT_INT) {
			int v;

			memcpy(&v, a, sizeof(v));
			s->has_value = true;
			s->value = v;
		} else {
			memcpy(optdata[n], a, la);
			s->has_data = true;
			s->data.data = optdata[n];
			s->data.len = la;
		}
		optp[n++] = s;
	}
	return n;
}

/* The options of an inet socket that differ from a new socket's of its
 * kind: an option left as the kernel made it is set by no one at restore,
 * so defaults that a sysctl sets follow the restoring host. */
static int df_inet_opts(int sk, int family, int type, int protocol, struct df_isk *k, struct err *e)
{
	_cleanup_close_ int fresh = socket(family, type | SOCK_CLOEXEC, protocol);

	if (fresh < 0)
		return err_errno(e, "make a new socket to compare the options of socket:[%llu] with",
				 (unsigned long long)k->s.ino);
	k->s.n_opts = df_sock_opts(sk, fresh, family, protocol, k->opts, k->optp, k->optdata, DF_INET_MAX_OPTS);
	k->s.opts = k->optp;
	return 0;
}

/* Peeks at every datagram waiting at UDP socket sk, with its sender, into
 * k, leaving them where they are (SO_PEEK_OFF moves past each). */
static int df_inet_queue(int sk, struct df_isk *k, const char **why, struct err *e)
{
	size_t cap = 0, used = 0, n_cap = 0;
	int old = -1, off = 0;
	socklen_t len = sizeof(old);
	int ret = 0;

	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, &len);
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off)) < 0)
		return err_errno(e, "set a peek offset on socket:[%llu]", (unsigned long long)k->s.ino);
	for (;;) {
		struct sockaddr_storage from;
		struct iovec iov;
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		InetDatagram *dg;
		size_t alen;
		ssize_t n;

		if (cap - used < 65536 && grow_cap(&k->buf, &cap, used + 65536) < 0) {
			ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->s.ino);
			break;
		}
		iov = (struct iovec){ k->buf + used, 65536 };
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->s.ino);
			break;
		}
		if (n == 0) {
			*why = "an empty datagram waits in it, which amber cannot peek past";
			break;
		}
		if (n > 65536 || (mh.msg_flags & MSG_TRUNC)) {
			*why = "a datagram larger than 64 KiB waits in it";
			break;
		}
		if (k->s.n_queue == n_cap) {
			size_t want = n_cap ? n_cap * 2 : 16;
			InetDatagram *q = realloc(k->dgrams, want * sizeof(*q));
			uint8_t (*f)[16] = q ? realloc(k->from, want * sizeof(*f)) : NULL;

			if (q)
				k->dgrams = q;
			if (f)
				k->from = f;
			if (!q || !f) {
				ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->s.ino);
				break;
			}
			n_cap = want;
		}
		dg = &k->dgrams[k->s.n_queue];
		inet_datagram__init(dg);
		dg->data.data = (uint8_t *)(uintptr_t)used;	/* an offset until buf stops moving */
		dg->data.len = n;
		if (!df_inet_split(&from, k->from[k->s.n_queue], &dg->from_port, &dg->from_scope, &alen)) {
			*why = "a datagram waits in it from a sender of no inet family";
			break;
		}
		dg->from_addr.data = k->from[k->s.n_queue];
		dg->from_addr.len = alen;
		dg->has_from_scope = alen == 16;
		k->s.n_queue++;
		used += n;
		off += n;
	}
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	if (ret < 0)
		return ret;
	if (k->s.n_queue && !(k->dgramp = malloc(k->s.n_queue * sizeof(*k->dgramp))))
		return err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->s.ino);
	for (size_t i = 0; i < k->s.n_queue; i++) {
		k->dgrams[i].data.data = k->buf + (uintptr_t)k->dgrams[i].data.data;
		k->dgrams[i].from_addr.data = k->from[i];
		k->dgramp[i] = &k->dgrams[i];
	}
	k->s.queue = k->dgramp;
	return 0;
}

/* A socket sock_diag does not list is in none of the kernel's hash
 * tables: a TCP socket never bound nor connected (or, before Linux 6.x
 * listed bound ones, bound and idle), a UDP socket never bound. Its state
 * from TCP_INFO then; -1 for one that should have been listed. */
static int df_inet_unlisted(int sk, int protocol, struct inetdiag_sock *di)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct tcp_info ti;

	memset(di, 0, sizeof(*di));
	di->state = 7;	/* TCP_CLOSE */
	if (protocol == IPPROTO_TCP) {
		len = sizeof(ti);
		if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 || ti.tcpi_state != 7)
			return -1;
		return 0;
	}
	if (getsockname(sk, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	return (sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port :
		((struct sockaddr_in6 *)&sa)->sin6_port) ? -1 : 0;
}

/* sock_diag's list of the sockets of family and protocol (read once). */
int df_diag(struct df *c, int family, int protocol, struct df_diag **out, struct err *e)
{
	struct df_diag *d = &c->diag[(family == AF_INET6) * 2 + (protocol == IPPROTO_UDP)];

	if (!d->loaded && inetdiag_list(family, protocol, &d->v, &d->nr, e) < 0)
		return -1;
	d->loaded = true;
	*out = d;
	return 0;
}

/* Refuses what cannot be restored: a kind of socket other than TCP and UDP
 * (why names it), a socket of another network namespace. */
static const char *df_inet_kind_why(int type, int protocol, char *buf, size_t size)
{
	if (type == SOCK_STREAM && protocol == IPPROTO_TCP)
		return NULL;
	if (type == SOCK_DGRAM && protocol == IPPROTO_UDP)
		return NULL;
	if (type == SOCK_RAW)
		return NULL;	/* df_inet_raw */
	if (type == SOCK_DGRAM && (protocol == IPPROTO_ICMP || protocol == IPPROTO_ICMPV6))
		snprintf(buf, size, "it is an ICMP ping socket, which amber cannot restore yet");
	else if (protocol == IPPROTO_SCTP)
		snprintf(buf, size, "it is an SCTP socket, which amber cannot restore yet");
	else
		snprintf(buf, size, "it is an inet socket of type %d and protocol %d, which amber cannot restore yet", type,
			 protocol);
	return buf;
}

/* A filter cannot be read back as it was attached: true (and *why set)
 * if the socket on 'here' has one. */
static bool df_inet_filtered(int sk, struct df_isk *k, const char *here, const char **why)
{
	socklen_t len = 0;

	if (getsockopt(sk, SOL_SOCKET, SO_GET_FILTER, NULL, &len) == 0 && !len)
		return false;
	snprintf(k->why, sizeof(k->why), "a socket filter (SO_ATTACH_FILTER or SO_ATTACH_BPF) is attached to the "
		 "socket on %s, which amber cannot restore", here);
	*why = k->why;
	return true;
}

/* A raw socket: its protocol, the address it is bound to and the peer it
 * is connected to (raw sockets have no port), its options (IP_HDRINCL,
 * ICMP_FILTER, ... in lib/inetopt.c). Datagrams waiting in it were IP
 * packets that reached the host; they cannot be sent to it again as they
 * came, so a socket with any is refused, naming it. */
static int df_inet_raw(struct df_desc *d, int sk, int family, int protocol, struct df_isk *k, const char **why,
		       struct err *e)
{
	InetSocketEntry *s = &k->s;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	uint32_t port, scope;
	size_t alen;
	char byte, here[80];

	s->family = family;
	s->type = SOCK_RAW;
	s->protocol = protocol;
	s->ino = d->st->st_ino;
	s->state = 7;	/* TCP_CLOSE, as inet_diag says of an unconnected one */
	memset(&sa, 0, sizeof(sa));
	if (getsockname(sk, (struct sockaddr *)&sa, &len) < 0 || !df_inet_split(&sa, k->src, &port, &scope, &alen))
		return err_errno(e, "getsockname pid %d fd %d", d->pid, d->fd);
	if (memcmp(k->src, (uint8_t[16]){ 0 }, alen)) {
		s->has_src_addr = true;
		s->src_addr.data = k->src;
		s->src_addr.len = alen;
		s->has_src_scope = alen == 16;
		s->src_scope = scope;
	}
	/* getpeername says ENOTCONN for a raw socket even when it is
	 * connected (it has no port): /proc/net/raw says where it is
	 * connected, and how many bytes wait in it. */
	{
		_cleanup_free_ char *text = NULL;
		struct inetdiag_sock di;
		int found;

		if (proc_read_file(family == AF_INET ? "/proc/self/net/raw" : "/proc/self/net/raw6", &text, NULL, e) < 0)
			return err_wrap(e, "pid %d fd %d: is the raw socket connected", d->pid, d->fd);
		if ((found = inetdiag_parse_proc_raw(family, text, d->st->st_ino, &di)) < 0)
			return err_set(e, EXIT_SYSTEM, "pid %d fd %d: /proc/net/raw%s is not the table amber reads", d->pid,
				       d->fd, family == AF_INET ? "" : "6");
		if (found && di.rqueue) {
			snprintf(k->why, sizeof(k->why), "%u bytes of packets wait to be read in the raw socket (protocol %d), "
				 "which amber cannot put back as they came: let the process read them before the dump",
				 di.rqueue, protocol);
			*why = k->why;
			return 0;
		}
		if (found && di.state == 1 && memcmp(di.dst, (uint8_t[16]){ 0 }, alen)) {
			s->state = 1;
			memcpy(k->dst, di.dst, alen);
			s->has_dst_addr = true;
			s->dst_addr.data = k->dst;
			s->dst_addr.len = alen;
			s->has_dst_scope = alen == 16;
		}
	}
	df_inet_name(family, k->src, 0, here, sizeof(here));
	/* And /proc/net/raw counts only bytes charged to the socket: a peek
	 * makes sure nothing at all waits. */
	if (recv(sk, &byte, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
		snprintf(k->why, sizeof(k->why), "packets wait to be read in the raw socket (protocol %d) on %s, which amber "
			 "cannot put back as they came: let the process read them before the dump", protocol, here);
		*why = k->why;
		return 0;
	}
	if (df_inet_filtered(sk, k, here, why))
		return 0;
	if (df_inet_opts(sk, family, SOCK_RAW, protocol, k, e) < 0)
		return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
	pr_debug("pid %d fd %d: raw socket, protocol %d, on %s%s, %zu options", d->pid, d->fd, protocol, here,
		 s->has_dst_addr ? ", connected" : "", s->n_opts);
	d->re.inet_sk = s;
	d->re.has_mnt_id = false;
	return 0;
}

/* The multicast groups sk joined (lib/mcast.h): every group a device of
 * this network namespace joined (read once; the sockets amber dumps are all
 * in its own namespace) is asked about. */
static int df_inet_mcast(struct df *c, int sk, int family, struct df_isk *k, struct err *e)
{
	int n = 0, ret;

	if (!c->mc_read && mcast_read_groups(getpid(), &c->mc_groups, &c->nr_mc_groups, e) < 0)
		return -1;
	c->mc_read = true;
	for (int i = 0; i < c->nr_mc_groups; i++) {
		struct mcast_membership m;
		struct df_mcast *x;

		if ((ret = mcast_probe(sk, family, &c->mc_groups[i], &m, e)) < 0)
			return ret;
		if (!ret)
			continue;
		if (grow_one(&k->mcast, n) < 0)
			return err_errno(e, "list the multicast groups of a socket");
		x = &k->mcast[n++];
		memset(x, 0, sizeof(*x));
		x->mm = m;
	}
	if (!n)
		return 0;
	if (!(k->mcastp = calloc(n, sizeof(*k->mcastp))))
		return err_errno(e, "list the multicast groups of a socket");
	/* Pointers into k->mcast only now: it no longer moves. */
	for (int i = 0; i < n; i++) {
		struct df_mcast *x = &k->mcast[i];
		size_t alen = x->mm.g.family == AF_INET ? 4 : 16;
		char name[80];

		inet_mcast__init(&x->m);
		x->m.family = x->mm.g.family;
		x->m.group.data = x->mm.g.addr;
		x->m.group.len = alen;
		x->m.ifname = x->mm.g.ifname;
		x->m.ifindex = x->mm.g.ifindex;
		x->m.fmode = x->mm.fmode;
		for (uint32_t j = 0; j < x->mm.nr_sources; j++) {
			x->src[j].data = x->mm.sources[j];
			x->src[j].len = alen;
		}
		x->m.n_sources = x->mm.nr_sources;
		x->m.sources = x->src;
		k->mcastp[i] = &x->m;
		pr_debug("the socket joined multicast group %s (%s filter of %u sources)",
			 mcast_name(&x->mm.g, name, sizeof(name)), x->mm.fmode == MCAST_INCLUDE ? "include" : "exclude",
			 x->mm.nr_sources);
	}
	k->s.n_mcast = n;
	k->s.mcast = k->mcastp;
	return 0;
}

int df_inet_describe(struct df *c, struct df_desc *d, int sk, int family, const char **why, struct err *e)
{
	struct df_isk *k = &d->isk;
	InetSocketEntry *s = &k->s;
	int type = 0, protocol = 0, ret;
	socklen_t len = sizeof(int);
	struct sockaddr_storage sa;
	struct inetdiag_sock di;
	char here[80], there[80];
	uint64_t ns = 0;
	bool own = false;
	size_t alen;

	inet_socket_entry__init(s);
	*why = NULL;
	if (getsockopt(sk, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return err_errno(e, "SO_TYPE of pid %d fd %d", d->pid, d->fd);
	len = sizeof(int);
	if (getsockopt(sk, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) < 0)
		return err_errno(e, "SO_PROTOCOL of pid %d fd %d", d->pid, d->fd);
	if ((*why = df_inet_kind_why(type, protocol, k->why, sizeof(k->why))))
		return 0;
	if ((ret = df_sock_own_netns(sk, &own, &ns, e)) < 0)
		return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
	if (!own) {
		snprintf(k->why, sizeof(k->why), "it belongs to network namespace net:[%llu], not amber's; amber restores "
			 "TCP and UDP sockets only in its own network namespace yet", (unsigned long long)ns);
		*why = k->why;
		return 0;
	}
	if (type == SOCK_RAW)
		return df_inet_raw(d, sk, family, protocol, k, why, e);
	{
		struct df_diag *list;
		const struct inetdiag_sock *found;

		if (df_diag(c, family, protocol, &list, e) < 0)
			return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
		found = inetdiag_lookup(list->v, list->nr, d->st->st_ino);
		ret = found != NULL;
		if (found)
			di = *found;
		else
			memset(&di, 0, sizeof(di));
	}
	if (!ret && (ret = df_inet_unlisted(sk, protocol, &di)) < 0)
		return err_set(e, EXIT_SYSTEM, "pid %d fd %d: sock_diag does not list socket:[%llu], which is bound or "
			       "connected", d->pid, d->fd, (unsigned long long)d->st->st_ino);
	s->family = family;
	s->type = type;
	s->protocol = protocol;
	s->ino = d->st->st_ino;
	s->state = di.state;
	len = sizeof(sa);
	memset(&sa, 0, sizeof(sa));
	if (getsockname(sk, (struct sockaddr *)&sa, &len) < 0 ||
	    !df_inet_split(&sa, k->src, &s->src_port, &s->src_scope, &alen))
		return err_errno(e, "getsockname pid %d fd %d", d->pid, d->fd);
	if (s->src_port) {
		s->has_src_addr = s->has_src_port = true;
		s->src_addr.data = k->src;
		s->src_addr.len = alen;
		s->has_src_scope = alen == 16;
	}
	df_inet_name(family, k->src, s->src_port, here, sizeof(here));
	if (protocol == IPPROTO_TCP && di.state == 10 /* TCP_LISTEN */) {
		s->has_backlog = true;
		s->backlog = di.wqueue;
		if (di.rqueue) {
			snprintf(k->why, sizeof(k->why), "the TCP listener on %s has %u connections waiting to be accepted, "
				 "which amber cannot restore yet; let the process accept them before the dump", here, di.rqueue);
			*why = k->why;
			return 0;
		}
	} else if (protocol == IPPROTO_TCP && di.state != 7 /* TCP_CLOSE */) {
		df_inet_name(family, di.dst, di.dport, there, sizeof(there));
		if (di.state == 1 && c->tcp_mode) {
			if ((ret = df_tcp_established(c, d, sk, k, &di, e)) < 0)
				return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
		} else if (di.state == 1)
			snprintf(k->why, sizeof(k->why), "it is an established TCP connection %s -> %s, which is dumped only "
				 "with amber dump --tcp-established", here, there);
		else
			snprintf(k->why, sizeof(k->why), "it is a TCP connection %s -> %s in state %s, which amber cannot "
				 "restore yet", here, there, df_inet_state_name(di.state));
		if (di.state != 1 || !c->tcp_mode) {
			*why = k->why;
			return 0;
		}
	}
	if (protocol == IPPROTO_UDP && di.state == 1 /* connected */) {
		len = sizeof(sa);
		memset(&sa, 0, sizeof(sa));
		if (getpeername(sk, (struct sockaddr *)&sa, &len) < 0 ||
		    !df_inet_split(&sa, k->dst, &s->dst_port, &s->dst_scope, &alen))
			return err_errno(e, "getpeername pid %d fd %d", d->pid, d->fd);
		s->has_dst_addr = s->has_dst_port = true;
		s->dst_addr.data = k->dst;
		s->dst_addr.len = alen;
		s->has_dst_scope = alen == 16;
	} else if (protocol == IPPROTO_UDP && di.state != 7) {
		snprintf(k->why, sizeof(k->why), "the UDP socket on %s is in state %s, which amber cannot restore", here,
			 df_inet_state_name(di.state));
		*why = k->why;
		return 0;
	}
	s->has_shutdown = di.shutdown != 0;
	s->shutdown = di.shutdown;
	if (df_inet_filtered(sk, k, here, why))
		return 0;
	if ((ret = df_inet_opts(sk, family, type, protocol, k, e)) < 0)
		return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
	if (protocol == IPPROTO_UDP && (ret = df_inet_mcast(c, sk, family, k, e)) < 0)
		return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
	if (protocol == IPPROTO_UDP && (ret = df_inet_queue(sk, k, why, e)) < 0)
		return err_wrap(e, "pid %d fd %d", d->pid, d->fd);
	if (*why)
		return 0;
	pr_debug("pid %d fd %d: %s socket on %s, state %s, %zu options, %zu datagrams waiting", d->pid, d->fd,
		 protocol == IPPROTO_TCP ? "TCP" : "UDP", here, df_inet_state_name(di.state), s->n_opts, s->n_queue);
	d->re.inet_sk = s;
	d->re.has_mnt_id = false;
	return 0;
}

void df_inet_release(struct df_desc *d)
{
	struct df_isk *k = &d->isk;

	free(k->buf);
	free(k->dgrams);
	free(k->dgramp);
	free(k->from);
	free(k->sndq);
	free(k->rcvq);
	free(k->mcast);
	free(k->mcastp);
	k->mcast = NULL;
	k->mcastp = NULL;
	k->sndq = k->rcvq = NULL;
	k->buf = NULL;
	k->dgrams = NULL;
	k->dgramp = NULL;
	k->from = NULL;
}
