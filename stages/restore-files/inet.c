/* restore-files/inet.c: TCP and UDP sockets made again in the stage's
 * network namespace: a new socket, the options the dump saved (only those
 * of lib/inetopt.h's table), bound to its address and port, listening with
 * its backlog; once every socket is made, the datagrams that waited in a
 * UDP socket are sent to it again from their senders' addresses, then it
 * is connected to its peer and shut down as it was; see reopen.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/inetopt.h"
#include "lib/log.h"
#include "lib/mcast.h"
#include "stages/restore-files/reopen.h"

/* "ADDR:PORT" of an address of the images, for messages. */
static const char *reopen_inet_name(uint32_t family, const ProtobufCBinaryData *addr, uint32_t port, char *buf,
				    size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (addr && addr->len == (family == AF_INET ? 4u : 16u))
		inet_ntop(family, addr->data, a, sizeof(a));
	else if (!addr)
		snprintf(a, sizeof(a), family == AF_INET ? "0.0.0.0" : "::");
	snprintf(buf, size, family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, port);
	return buf;
}

/* The sockaddr of an address and port of the images (its length; 0 if the
 * address has the wrong size for the family). */
static socklen_t reopen_inet_addr(uint32_t family, const ProtobufCBinaryData *addr, uint32_t port, uint32_t scope,
				  struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (family == AF_INET && addr->len == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr->data, 4);
		return sizeof(*in);
	}
	if (family == AF_INET6 && addr->len == 16) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		in6->sin6_scope_id = scope;
		memcpy(&in6->sin6_addr, addr->data, 16);
		return sizeof(*in6);
	}
	return 0;
}

int reopen_inet_check(const RegFileEntry *re, struct err *e)
{
	const InetSocketEntry *s = re->inet_sk;
	size_t alen = s->family == AF_INET ? 4 : 16;

	if (s->family != AF_INET && s->family != AF_INET6)
		return err_input(e, "files.img: socket %u (%s) has family %u, not AF_INET or AF_INET6", re->id, re->path,
				 s->family);
	if (!(s->type == SOCK_STREAM && s->protocol == IPPROTO_TCP) && !(s->type == SOCK_DGRAM && s->protocol == IPPROTO_UDP) &&
	    !(s->type == SOCK_RAW && s->protocol <= 255))
		return err_input(e, "files.img: socket %u (%s) has type %u and protocol %u, neither TCP nor UDP nor raw", re->id,
				 re->path, s->type, s->protocol);
	if (s->type == SOCK_RAW && (s->has_src_port || s->tcp || s->has_backlog))
		return err_input(e, "files.img: raw socket %u (%s) has a port, a backlog or a connection state", re->id,
				 re->path);
	if (s->type == SOCK_STREAM && s->state != 10 && s->state != 7 && !(s->state == 1 && s->tcp && s->has_dst_addr))
		return err_input(e, "files.img: TCP socket %u (%s) is in state %u; only listening (10), closed (7) and "
				 "established ones (1, with their repair state and peer) are made again", re->id, re->path,
				 s->state);
	if (s->tcp && (s->state != 1 || !s->has_src_addr || (s->tcp->has_unsent && s->tcp->unsent > s->tcp->sndq.len)))
		return err_input(e, "files.img: TCP connection %u (%s) has no address, or more bytes unsent than queued",
				 re->id, re->path);
	if ((s->has_src_addr && (s->src_addr.len != alen || s->src_port > 65535)) ||
	    (s->has_dst_addr && (s->dst_addr.len != alen || s->dst_port > 65535 || (!s->dst_port && s->type != SOCK_RAW))))
		return err_input(e, "files.img: socket %u (%s) has an address of the wrong size or a bad port", re->id, re->path);
	if (s->has_dst_addr && s->type == SOCK_STREAM && !s->tcp)
		return err_input(e, "files.img: TCP socket %u (%s) has a peer but no connection state", re->id, re->path);
	if (s->n_queue && s->protocol != IPPROTO_UDP)
		return err_input(e, "files.img: TCP socket %u (%s) has datagrams", re->id, re->path);
	for (size_t i = 0; i < s->n_queue; i++)
		if (s->queue[i]->from_addr.len != 4 && s->queue[i]->from_addr.len != 16)
			return err_input(e, "files.img: socket %u (%s): datagram %zu has a sender address of %zu bytes", re->id,
					 re->path, i, s->queue[i]->from_addr.len);
	for (size_t i = 0; i < s->n_mcast; i++) {
		const InetMcast *m = s->mcast[i];
		size_t glen = m->family == AF_INET ? 4 : 16;

		if (s->protocol != IPPROTO_UDP || (m->family != AF_INET && m->family != AF_INET6) ||
		    (s->family == AF_INET && m->family == AF_INET6) || m->group.len != glen ||
		    m->n_sources > MCAST_MAX_SOURCES || m->fmode > MCAST_INCLUDE || !m->ifname[0] ||
		    strlen(m->ifname) >= IF_NAMESIZE || (m->fmode == MCAST_INCLUDE && !m->n_sources))
			return err_input(e, "files.img: socket %u (%s): multicast membership %zu is not one a UDP socket of its "
					 "family can have (family, group size, filter mode, sources or device name)", re->id,
					 re->path, i);
		for (size_t j = 0; j < m->n_sources; j++)
			if (m->sources[j].len != glen)
				return err_input(e, "files.img: socket %u (%s): multicast membership %zu has a source of %zu "
						 "bytes", re->id, re->path, i, m->sources[j].len);
	}
	return reopen_sock_opts_check(s->opts, s->n_opts, s->family, s->protocol, re, e);
}

/* The saved option of this name among opts, or NULL. */
static const InetSockOpt *reopen_sock_opt(InetSockOpt *const *opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(opts[i]->name, name))
			return opts[i];
	return NULL;
}

static const InetSockOpt *reopen_inet_opt(const InetSocketEntry *s, const char *name)
{
	return reopen_sock_opt(s->opts, s->n_opts, name);
}

/* Sets the saved options of a socket (inet or netlink), in the table's
 * order. getsockopt gave twice the buffer sizes that were asked (the
 * kernel's bookkeeping), so half is asked for, with the FORCE variants
 * that pass the sysctl limits. */
int reopen_sock_opts(int sk, InetSockOpt *const *opts, size_t n, const RegFileEntry *re, struct err *e)
{
	for (size_t i = 0; i < inetopt_count; i++) {
		const struct inetopt *t = &inetopt_table[i];
		const InetSockOpt *o = reopen_sock_opt(opts, n, t->name);
		int v, level = t->level, opt = t->opt, ret;

		if (!o)
			continue;
		if (t->kind == INETOPT_BYTES) {
			ret = setsockopt(sk, level, opt, o->data.data, o->data.len);
		} else {
			v = (int)o->value;
			if (level == SOL_SOCKET && (opt == SO_RCVBUF || opt == SO_SNDBUF)) {
				v /= 2;
				opt = opt == SO_RCVBUF ? SO_RCVBUFFORCE : SO_SNDBUFFORCE;
			}
			ret = setsockopt(sk, level, opt, &v, sizeof(v));
		}
		if (ret < 0)
			return err_errno(e, "set option %s of %s (id %u) again", t->name, re->path, re->id);
	}
	return 0;
}

/* Checks that every saved option is one of the table's for a socket of
 * this family and protocol, with a value of its kind. */
int reopen_sock_opts_check(InetSockOpt *const *opts, size_t n, int family, int protocol, const RegFileEntry *re,
			   struct err *e)
{
	for (size_t i = 0; i < n; i++) {
		const InetSockOpt *o = opts[i];
		const struct inetopt *t = inetopt_find(o->name);

		if (!t || !inetopt_applies(t, family, protocol))
			return err_input(e, "files.img: socket %u (%s) has option '%s', which is none that amber sets on such "
					 "a socket", re->id, re->path, o->name);
		if ((t->kind == INETOPT_INT) != o->has_value || (t->kind == INETOPT_BYTES) != o->has_data ||
		    (o->has_data && o->data.len > INETOPT_MAX_BYTES))
			return err_input(e, "files.img: socket %u (%s): option '%s' has a value of the wrong kind or size",
					 re->id, re->path, o->name);
	}
	return 0;
}

/* Joins the socket's multicast groups again, each on the device of its
 * name (an index may differ from the dump's), with its source filter. */
static int reopen_inet_mcast(int sk, const RegFileEntry *re, struct err *e)
{
	const InetSocketEntry *s = re->inet_sk;

	for (size_t i = 0; i < s->n_mcast; i++) {
		const InetMcast *m = s->mcast[i];
		struct mcast_membership mm;
		unsigned ifindex = if_nametoindex(m->ifname);

		memset(&mm, 0, sizeof(mm));
		mm.g.family = m->family;
		mm.g.ifindex = m->ifindex;
		snprintf(mm.g.ifname, sizeof(mm.g.ifname), "%s", m->ifname);
		memcpy(mm.g.addr, m->group.data, m->group.len);
		mm.fmode = m->fmode;
		mm.nr_sources = m->n_sources;
		for (size_t j = 0; j < m->n_sources; j++)
			memcpy(mm.sources[j], m->sources[j].data, m->sources[j].len);
		if (!ifindex) {
			char name[80];

			return err_set(e, EXIT_INPUT, "%s (id %u) joined multicast group %s, and there is no device %s "
				       "here to join it on", re->path, re->id, mcast_name(&mm.g, name, sizeof(name)), m->ifname);
		}
		if (mcast_join(sk, &mm, ifindex, e) < 0)
			return err_wrap(e, "%s (id %u)", re->path, re->id);
	}
	return 0;
}

int reopen_inet(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const InetSocketEntry *s = re->inet_sk;
	_cleanup_close_ int sk = socket(s->family, s->type | SOCK_CLOEXEC, s->protocol);
	const InetSockOpt *reuse = reopen_inet_opt(s, "SO_REUSEADDR");
	int one = 1, zero = 0;
	char name[80] = "";

	if (sk < 0)
		return err_errno(e, "make %s socket %s (id %u) again",
				 s->type == SOCK_RAW ? "raw" : s->protocol == IPPROTO_TCP ? "TCP" : "UDP", re->path,
				 re->id);
	if (reopen_sock_opts(sk, s->opts, s->n_opts, re, e) < 0)
		return -1;
	if (s->tcp) {
		/* Connected in reopen_inet_finish, once every listener is bound. */
	} else if (s->has_src_port && s->src_port) {
		struct sockaddr_storage sa;
		socklen_t len = reopen_inet_addr(s->family, &s->src_addr, s->src_port, s->src_scope, &sa);

		reopen_inet_name(s->family, &s->src_addr, s->src_port, name, sizeof(name));
		/* A connection of the dumped socket may linger in TIME_WAIT on the
		 * port: bind as if SO_REUSEADDR were set, then set it as it was. */
		if (!reuse || !reuse->value)
			setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(sk, (struct sockaddr *)&sa, len) < 0) {
			if (errno == EADDRINUSE)
				return err_errno(e, "bind %s (id %u) to %s again: another socket holds the address now (is the "
						 "dumped process still running, dumped with --leave-running?)", re->path, re->id, name);
			return err_errno(e, "bind %s (id %u) to %s again", re->path, re->id, name);
		}
		if (s->has_backlog && s->state == 10 && listen(sk, s->backlog) < 0)
			return err_errno(e, "listen on %s (id %u) again", name, re->id);
		if ((!reuse || !reuse->value) && setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof(zero)) < 0)
			return err_errno(e, "clear SO_REUSEADDR of %s (id %u)", re->path, re->id);
	} else if (s->type == SOCK_RAW && s->has_src_addr) {
		struct sockaddr_storage sa;
		socklen_t len = reopen_inet_addr(s->family, &s->src_addr, 0, s->src_scope, &sa);

		reopen_inet_name(s->family, &s->src_addr, 0, name, sizeof(name));
		if (bind(sk, (struct sockaddr *)&sa, len) < 0)
			return err_errno(e, "bind raw socket %s (id %u) to %s again", re->path, re->id, name);
	} else if (s->state == 10) {
		return err_input(e, "files.img: listening socket %u (%s) has no port", re->id, re->path);
	}
	if (reopen_inet_mcast(sk, re, e) < 0)
		return -1;
	if (fcntl(sk, F_SETFL, re->flags & O_NONBLOCK) < 0)
		return err_errno(e, "set the flags of %s", re->path);
	pr_debug("file %u: %s %s %s%s, %zu options", re->id, re->path,
		 s->type == SOCK_RAW ? "raw" : s->protocol == IPPROTO_TCP ? "TCP" : "UDP",
		 s->tcp ? "connection, made later" : s->state == 10 ? "listening on " : s->has_src_port ? "bound to " :
		 "unbound", name,
		 s->n_opts);
	f->fd = TAKE_FD(sk);
	return 0;
}

/* The tree's own unconnected UDP socket bound to this address, to send a
 * datagram from, or -1. */
static int reopen_inet_sender(const struct reopen *r, const struct sockaddr_storage *from, socklen_t flen)
{
	for (int i = 0; i < r->nr_files; i++) {
		const InetSocketEntry *s = r->files[i].re->inet_sk;
		struct sockaddr_storage sa;

		if (!s || r->files[i].fd < 0 || s->protocol != IPPROTO_UDP || !s->has_src_port || r->files[i].inherit)
			continue;
		if (reopen_inet_addr(s->family, &s->src_addr, s->src_port, s->src_scope, &sa) == flen && !memcmp(&sa, from, flen))
			return r->files[i].fd;
	}
	return -1;
}

/* Where a datagram is sent to reach socket s: its address, or loopback
 * for a socket bound to the wildcard address. */
static socklen_t reopen_inet_dest(const InetSocketEntry *s, int family, struct sockaddr_storage *to)
{
	static const uint8_t any6[16], lo6[16] = { [15] = 1 }, mapped_lo[16] = { [10] = 0xff, [11] = 0xff, 127, 0, 0, 1 };
	uint8_t lo4[4] = { 127, 0, 0, 1 }, a[16];
	ProtobufCBinaryData addr = { s->src_addr.len, a };

	memcpy(a, s->src_addr.data, s->src_addr.len);
	if (s->family == AF_INET && !memcmp(a, "\0\0\0\0", 4))
		memcpy(a, lo4, 4);
	if (s->family == AF_INET6 && !memcmp(a, any6, 16))
		memcpy(a, family == AF_INET ? mapped_lo : lo6, 16);
	return reopen_inet_addr(s->family, &addr, s->src_port, s->src_scope, to);
}

/* Sends the datagrams that waited at f again, each from its sender's
 * address: the tree's socket bound to it, else one bound to it for the
 * moment; a sender address in use by another socket fails the restore,
 * naming it. */
static int reopen_inet_queue(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const InetSocketEntry *s = f->re->inet_sk;
	char name[80], fname[80];

	reopen_inet_name(s->family, s->has_src_addr ? &s->src_addr : NULL, s->src_port, name, sizeof(name));
	for (size_t i = 0; i < s->n_queue; i++) {
		const InetDatagram *d = s->queue[i];
		int family = d->from_addr.len == 4 ? AF_INET : AF_INET6;
		struct sockaddr_storage from, to;
		socklen_t flen = reopen_inet_addr(family, &d->from_addr, d->from_port, d->from_scope, &from);
		socklen_t tlen = reopen_inet_dest(s, family, &to);
		_cleanup_close_ int own = -1;
		int via = reopen_inet_sender(r, &from, flen);

		reopen_inet_name(family, &d->from_addr, d->from_port, fname, sizeof(fname));
		if (!s->has_src_port || !tlen)
			return err_input(e, "files.img: UDP socket %u has datagrams waiting but no address", f->re->id);
		if (via < 0) {
			if ((own = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP)) < 0)
				return err_errno(e, "make a socket to send datagram %zu to %s (id %u) from %s", i, name, f->re->id,
						 fname);
			if (bind(own, (struct sockaddr *)&from, flen) < 0)
				return err_errno(e, "bind a socket to %s, the sender of datagram %zu that waited at %s (id %u)%s",
						 fname, i, name, f->re->id,
						 errno == EADDRINUSE ? ": another socket holds that address now" : "");
			via = own;
		}
		if (sendto(via, d->data.data, d->data.len, 0, (struct sockaddr *)&to, tlen) != (ssize_t)d->data.len)
			return err_errno(e, "send datagram %zu of %zu bytes from %s to %s (id %u) again", i, d->data.len, fname,
					 name, f->re->id);
	}
	return 0;
}

/* Counts the datagrams waiting at sk, peeking past each (SO_PEEK_OFF):
 * a datagram the kernel dropped on the way back would be lost silently. */
static size_t reopen_inet_count(int sk)
{
	static uint8_t buf[65536];
	size_t n = 0;
	int off = 0, none = -1;

	while (n < 1000000) {
		ssize_t got;

		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		if ((got = recv(sk, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT)) <= 0)
			break;
		off += got;
		n++;
	}
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none));
	return n;
}

/* TCP option kinds, as TCP_REPAIR_OPTIONS takes them (RFC 793, 7323, 2018). */
enum { REOPEN_TCPOPT_MSS = 2, REOPEN_TCPOPT_WINDOW = 3, REOPEN_TCPOPT_SACK_PERM = 4, REOPEN_TCPOPT_TIMESTAMP = 8 };

/* Sends len bytes of buf to the selected repair queue of sk (or, with
 * TCP_NO_QUEUE out of repair mode, as a program would). */
static int reopen_tcp_send(int sk, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = send(sk, buf, len > 65536 ? 65536 : len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

/* An established TCP connection made again in repair mode: its sequence
 * numbers, bound and connected without a handshake (repair mode lets it
 * share its port with the restored listener), its options and clock, both
 * queues, its window; then out of repair mode, and what had never been
 * sent sent as a program would. --tcp-close: disconnected in repair mode
 * instead, silently; the program sees ECONNABORTED. */
static int reopen_inet_tcp(const struct reopen *r, struct reopen_file *f, struct err *e)
{
	const InetSocketEntry *s = f->re->inet_sk;
	const TcpConnEntry *t = s->tcp;
	struct sockaddr_storage src, dst;
	socklen_t slen = reopen_inet_addr(s->family, &s->src_addr, s->src_port, s->src_scope, &src);
	socklen_t dlen = reopen_inet_addr(s->family, &s->dst_addr, s->dst_port, s->dst_scope, &dst);
	struct tcp_repair_opt opts[4];
	struct tcp_repair_window w = { t->snd_wl1, t->snd_wnd, t->max_window, t->rcv_wnd, t->rcv_wup };
	size_t sent = t->sndq.len - (t->has_unsent ? t->unsent : 0);
	int sk = f->fd, on = 1, off = 0, q, n = 0;
	uint32_t seq;
	char here[80], there[80];

	reopen_inet_name(s->family, &s->src_addr, s->src_port, here, sizeof(here));
	reopen_inet_name(s->family, &s->dst_addr, s->dst_port, there, sizeof(there));
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return err_errno(e, "put TCP connection %s -> %s (id %u) in repair mode", here, there, f->re->id);
	q = TCP_SEND_QUEUE;
	seq = t->snd_seq - (uint32_t)t->sndq.len;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    setsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)) < 0)
		return err_errno(e, "set the send sequence of TCP connection %s -> %s (id %u)", here, there, f->re->id);
	q = TCP_RECV_QUEUE;
	seq = t->rcv_seq - (uint32_t)t->rcvq.len;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    setsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof(seq)) < 0)
		return err_errno(e, "set the receive sequence of TCP connection %s -> %s (id %u)", here, there, f->re->id);
	/* The connect below sizes its segments from the MSS it knows then
	 * (TCP_REPAIR_OPTIONS comes after, too late for that): 536 without this. */
	if (t->mss >= 88 && t->mss <= 65535)
		setsockopt(sk, IPPROTO_TCP, TCP_MAXSEG, &t->mss, sizeof(t->mss));
	if (bind(sk, (struct sockaddr *)&src, slen) < 0)
		return err_errno(e, "bind TCP connection %s -> %s (id %u) again%s", here, there, f->re->id,
				 errno == EADDRINUSE ? ": another socket holds the address (is the dumped process still "
				 "running?)" : "");
	if (connect(sk, (struct sockaddr *)&dst, dlen) < 0)
		return err_errno(e, "connect TCP connection %s -> %s (id %u) again in repair mode%s", here, there, f->re->id,
				 errno == EADDRNOTAVAIL ? ": a connection with these addresses and ports exists (is the dumped "
				 "process still running?)" : "");
	if (r->tcp_close) {
		struct sockaddr unspec = { .sa_family = AF_UNSPEC };

		if (connect(sk, &unspec, sizeof(unspec)) < 0)
			return err_errno(e, "close TCP connection %s -> %s (id %u) (--tcp-close)", here, there, f->re->id);
		if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0)
			return err_errno(e, "take TCP socket %s (id %u) out of repair mode", here, f->re->id);
		pr_debug("file %u: TCP connection %s -> %s made closed (--tcp-close)", f->re->id, here, there);
		return 0;
	}
	opts[n++] = (struct tcp_repair_opt){ REOPEN_TCPOPT_MSS, t->mss };
	if (t->has_snd_wscale)
		opts[n++] = (struct tcp_repair_opt){ REOPEN_TCPOPT_WINDOW, t->snd_wscale | (t->rcv_wscale << 16) };
	if (t->sack)
		opts[n++] = (struct tcp_repair_opt){ REOPEN_TCPOPT_SACK_PERM, 0 };
	if (t->timestamps)
		opts[n++] = (struct tcp_repair_opt){ REOPEN_TCPOPT_TIMESTAMP, 0 };
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts, n * sizeof(opts[0])) < 0)
		return err_errno(e, "set the options of TCP connection %s -> %s (id %u)", here, there, f->re->id);
	if (t->has_timestamp && setsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &t->timestamp, sizeof(t->timestamp)) < 0)
		return err_errno(e, "set the clock of TCP connection %s -> %s (id %u)", here, there, f->re->id);
	q = TCP_RECV_QUEUE;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    reopen_tcp_send(sk, t->rcvq.data, t->rcvq.len) < 0)
		return err_errno(e, "put back the %zu bytes waiting to be read at TCP connection %s -> %s (id %u)",
				 t->rcvq.len, here, there, f->re->id);
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &w, sizeof(w)) < 0)
		return err_errno(e, "set the window of TCP connection %s -> %s (id %u)", here, there, f->re->id);
	/* What was sent goes back as sent (snd_nxt must cover what the peer
	 * may acknowledge); it fitted in the send buffer at dump, but not
	 * always with the overhead of how it is queued now: room for the
	 * moment, until reopen_inet_tcp_run. */
	if (t->sndq.len) {
		int cur = 0, big;
		socklen_t len = sizeof(cur);

		getsockopt(sk, SOL_SOCKET, SO_SNDBUF, &cur, &len);
		big = cur + 2 * (int)t->sndq.len + 65536;
		setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	}
	q = TCP_SEND_QUEUE;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 || reopen_tcp_send(sk, t->sndq.data, sent) < 0)
		return err_errno(e, "put back the %zu bytes sent and not acknowledged at TCP connection %s -> %s (id %u)", sent,
				 here, there, f->re->id);
	q = TCP_NO_QUEUE;
	setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	pr_debug("file %u: TCP connection %s -> %s, %zu bytes to read, %zu sent and not acknowledged, %zu never sent",
		 f->re->id, here, there, t->rcvq.len, sent, t->sndq.len - sent);
	return 0;
}

/* Once every connection exists: out of repair mode, which sends a window
 * probe (a peer not made yet would answer it with a reset); what had
 * never been sent is sent as a program would, and the send buffer goes
 * back to its size at dump. */
static int reopen_inet_tcp_run(const struct reopen *r, struct reopen_file *f, struct err *e)
{
	const InetSocketEntry *s = f->re->inet_sk;
	const TcpConnEntry *t = s->tcp;
	const InetSockOpt *reuse = reopen_inet_opt(s, "SO_REUSEADDR");
	size_t sent = t->sndq.len - (t->has_unsent ? t->unsent : 0);
	const InetSockOpt *sndbuf = reopen_inet_opt(s, "SO_SNDBUF");
	int sk = f->fd, on = 1, off = 0;
	char here[80], there[80];

	if (r->tcp_close)
		return 0;
	reopen_inet_name(s->family, &s->src_addr, s->src_port, here, sizeof(here));
	reopen_inet_name(s->family, &s->dst_addr, s->dst_port, there, sizeof(there));
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0)
		return err_errno(e, "take TCP connection %s -> %s (id %u) out of repair mode", here, there, f->re->id);
	if (reuse && reuse->value && setsockopt(sk, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0)
		return err_errno(e, "set SO_REUSEADDR of TCP connection %s (id %u) again", here, f->re->id);
	if (reopen_tcp_send(sk, t->sndq.data + sent, t->sndq.len - sent) < 0)
		return err_errno(e, "send the %zu bytes never sent at TCP connection %s -> %s (id %u)", t->sndq.len - sent,
				 here, there, f->re->id);
	/* Smaller than what is queued only stops the program's writes for a while. */
	if (t->sndq.len && sndbuf) {
		int v = (int)sndbuf->value / 2;

		setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v));
	}
	return 0;
}

int reopen_inet_finish(struct reopen *r, struct err *e)
{
	/* Connections first: a listener of the tree already holds its port. */
	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];

		if (f->re->inet_sk && f->re->inet_sk->tcp && f->fd >= 0 && !f->inherit && reopen_inet_tcp(r, f, e) < 0)
			return -1;
	}
	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];

		if (f->re->inet_sk && f->re->inet_sk->tcp && f->fd >= 0 && !f->inherit && reopen_inet_tcp_run(r, f, e) < 0)
			return -1;
	}
	/* Every queue first: a datagram may come from another socket of the
	 * tree that is connected elsewhere afterwards. */
	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];

		if (f->re->inet_sk && f->fd >= 0 && !f->inherit && f->re->inet_sk->n_queue &&
		    reopen_inet_queue(r, f, e) < 0)
			return -1;
	}
	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];
		const InetSocketEntry *s = f->re->inet_sk;
		struct sockaddr_storage sa;
		char name[80];

		if (!s || f->fd < 0 || f->inherit)
			continue;
		if (s->n_queue) {
			size_t n = reopen_inet_count(f->fd);

			if (n != s->n_queue)
				return err_set(e, EXIT_SYSTEM, "%s (id %u): %zu datagrams waited in it at dump, %zu are back (its "
					       "receive buffer is full?)", f->re->path, f->re->id, s->n_queue, n);
		}
		if (s->has_dst_addr && (s->protocol == IPPROTO_UDP || s->type == SOCK_RAW)) {
			socklen_t len = reopen_inet_addr(s->family, &s->dst_addr, s->dst_port, s->dst_scope, &sa);

			reopen_inet_name(s->family, &s->dst_addr, s->dst_port, name, sizeof(name));
			if (connect(f->fd, (struct sockaddr *)&sa, len) < 0)
				return err_errno(e, "connect %s socket %s (id %u) to %s again", s->type == SOCK_RAW ? "raw" : "UDP",
						 f->re->path, f->re->id, name);
		}
		if (s->shutdown && !s->tcp && shutdown(f->fd, s->shutdown == 3 ? SHUT_RDWR : s->shutdown == 2 ? SHUT_WR : SHUT_RD) < 0 &&
		    errno != ENOTCONN)
			return err_errno(e, "shut %s (id %u) down again", f->re->path, f->re->id);
	}
	return 0;
}
