/* dump-files/inet.c: TCP and UDP sockets, IPv4 and IPv6, of amber's own
 * network namespace: listeners, bound or unbound sockets, UDP sockets with
 * their peer and the datagrams waiting in them; their addresses from
 * getsockname and getpeername, their state and a listener's backlog and
 * accept queue from inet_diag (lib/inetdiag.h), and every option of
 * lib/inetopt.h that differs from a new socket's. Anything else of the
 * inet families (raw, ICMP, SCTP, an established TCP connection, a
 * listener with connections waiting) is refused by name; see dump-files.h. */
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
static bool df_inet_split(const struct sockaddr_storage *sa, uint8_t *addr, uint32_t *port, uint32_t *scope, size_t *len)
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

#ifndef TCP_REPAIR_OFF_NO_WP
#define TCP_REPAIR_OFF_NO_WP -1
#endif
#ifndef SIOCOUTQNSD
#define SIOCOUTQNSD 0x894B
#endif

/* Peeks at len bytes of the selected repair queue of sk into *buf. */
static int df_tcp_peek(int sk, size_t len, uint8_t **buf, const char *what, uint64_t ino, struct err *e)
{
	size_t got = 0;

	if (!len)
		return 0;
	if (!(*buf = malloc(len)))
		return err_errno(e, "read the %s queue of socket:[%llu]", what, (unsigned long long)ino);
	/* One peek copies the whole queue; a short one means it moved. */
	while (got < len) {
		ssize_t n = recv(sk, *buf, len, MSG_PEEK | MSG_DONTWAIT);

		if (n < 0)
			return err_errno(e, "peek at the %s queue of socket:[%llu]", what, (unsigned long long)ino);
		if ((size_t)n != len)
			return err_set(e, EXIT_SYSTEM, "the %s queue of socket:[%llu] holds %zd bytes, not the %zu it said",
				       what, (unsigned long long)ino, n, len);
		got = n;
	}
	return 0;
}

/* Reads the sequence numbers, queue lengths and window of sk (in repair
 * mode) into n. */
static int df_tcp_snap(int sk, struct df_tcp_snap *n, uint64_t ino, struct err *e)
{
	socklen_t len = sizeof(uint32_t);
	int q = TCP_RECV_QUEUE;

	memset(n, 0, sizeof(*n));
	if (ioctl(sk, SIOCINQ, &n->inq) < 0 || ioctl(sk, SIOCOUTQ, &n->outq) < 0 || ioctl(sk, SIOCOUTQNSD, &n->unsent) < 0)
		return err_errno(e, "the queue lengths of socket:[%llu]", (unsigned long long)ino);
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &n->rcv_seq, &len) < 0)
		return err_errno(e, "the receive sequence of socket:[%llu]", (unsigned long long)ino);
	q = TCP_SEND_QUEUE;
	len = sizeof(uint32_t);
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    getsockopt(sk, IPPROTO_TCP, TCP_QUEUE_SEQ, &n->snd_seq, &len) < 0)
		return err_errno(e, "the send sequence of socket:[%llu]", (unsigned long long)ino);
	len = sizeof(n->w);
	_Static_assert(sizeof(n->w) == sizeof(struct tcp_repair_window), "df_tcp_snap.w is a struct tcp_repair_window");
	if (getsockopt(sk, IPPROTO_TCP, TCP_REPAIR_WINDOW, &n->w, &len) < 0)
		return err_errno(e, "TCP_REPAIR_WINDOW of socket:[%llu]", (unsigned long long)ino);
	return 0;
}

/* Peeks at both queues of sk as snapshot n says they are (replacing what
 * *rcvq and *sndq held). */
static int df_tcp_queues(int sk, const struct df_tcp_snap *n, uint64_t ino, uint8_t **rcvq, uint8_t **sndq,
			 struct err *e)
{
	int q = TCP_RECV_QUEUE;

	free(*rcvq);
	free(*sndq);
	*rcvq = *sndq = NULL;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    df_tcp_peek(sk, n->inq, rcvq, "receive", ino, e) < 0)
		return -1;
	q = TCP_SEND_QUEUE;
	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) < 0 ||
	    df_tcp_peek(sk, n->outq, sndq, "send", ino, e) < 0)
		return -1;
	q = TCP_NO_QUEUE;
	setsockopt(sk, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q));
	return 0;
}

/* Puts sk (a copy of a socket of the tree) in repair mode and remembers a
 * copy, so that a failure from here on takes it out again. */
static int df_tcp_repair(struct df *c, int sk, uint64_t ino, struct err *e)
{
	int on = 1, copy;

	if (setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)) < 0)
		return err_errno(e, "put socket:[%llu] in TCP repair mode", (unsigned long long)ino);
	if ((copy = dup(sk)) < 0 || grow_one(&c->repaired, c->nr_repaired) < 0) {
		if (copy >= 0)
			close(copy);
		setsockopt(sk, IPPROTO_TCP, TCP_REPAIR, &(int){ TCP_REPAIR_OFF_NO_WP }, sizeof(int));
		return err_errno(e, "remember socket:[%llu]", (unsigned long long)ino);
	}
	c->repaired[c->nr_repaired++] = copy;
	return 0;
}

/* A copy of the socket with inode ino, found among the descriptors of
 * the tree's processes; -1 if none holds it. */
static int df_sockref_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct df_sockref *)a)->ino, y = ((const struct df_sockref *)b)->ino;

	return x < y ? -1 : x > y;
}

/* Indexes every socket descriptor of the tree by inode, once. */
static void df_sockrefs_build(struct df *c)
{
	size_t cap = 0;

	c->sockrefs_built = true;
	for (int i = 0; i < c->nr_all_pids; i++) {
		char path[64], link[64];
		struct dirent *de;
		DIR *d;

		snprintf(path, sizeof(path), "/proc/%d/fd", c->all_pids[i]);
		if (!(d = opendir(path)))
			continue;
		while ((de = readdir(d))) {
			char fdpath[128];
			ssize_t n;

			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, de->d_name);
			if ((n = readlink(fdpath, link, sizeof(link) - 1)) < 0)
				continue;
			link[n] = 0;
			if (strncmp(link, "socket:[", 8) || grow_cap(&c->sockrefs, &cap, (size_t)c->nr_sockrefs + 1) < 0)
				continue;
			c->sockrefs[c->nr_sockrefs++] = (struct df_sockref){ strtoull(link + 8, NULL, 10), c->all_pids[i],
									      atoi(de->d_name) };
		}
		closedir(d);
	}
	if (c->nr_sockrefs)
		qsort(c->sockrefs, c->nr_sockrefs, sizeof(*c->sockrefs), df_sockref_cmp);
}

/* A descriptor of this stage's own for the tree's socket of inode ino, or
 * -1 if no process of the tree holds it. */
static int df_tcp_holder(struct df *c, uint64_t ino)
{
	struct df_sockref key = { .ino = ino }, *r;
	struct err ignored = { 0 };

	if (!c->sockrefs_built)
		df_sockrefs_build(c);
	r = c->nr_sockrefs ? bsearch(&key, c->sockrefs, c->nr_sockrefs, sizeof(*r), df_sockref_cmp) : NULL;
	return r ? df_getfd(c, r->pid, r->fd, &ignored) : -1;
}

/* sock_diag's list of the sockets of family and protocol (read once). */
static int df_diag(struct df *c, int family, int protocol, struct df_diag **out, struct err *e)
{
	struct df_diag *d = &c->diag[(family == AF_INET6) * 2 + (protocol == IPPROTO_UDP)];

	if (!d->loaded && inetdiag_list(family, protocol, &d->v, &d->nr, e) < 0)
		return -1;
	d->loaded = true;
	*out = d;
	return 0;
}

/* Does b's receive sequence lie between what a sent and had acknowledged
 * and what a sent? Else a segment moved between the two looks. */
static bool df_tcp_fits(const struct df_tcp_snap *a, const struct df_tcp_snap *b)
{
	uint32_t una = a->snd_seq - a->outq, nxt = a->snd_seq - a->unsent;

	return (int32_t)(b->rcv_seq - una) >= 0 && (int32_t)(nxt - b->rcv_seq) >= 0;
}

/* Reads sk (and the other end pk, if not -1) until two looks agree and
 * the two ends agree with each other: the connection is live in the
 * kernel even with both processes frozen. */
static int df_tcp_read_pair(int sk, uint64_t ino, struct df_tcp_snap *a, uint8_t **rq, uint8_t **sq, int pk,
			    uint64_t pino, struct df_tcp_snap *b, uint8_t **prq, uint8_t **psq, struct err *e)
{
	for (int tries = 0;; tries++) {
		struct df_tcp_snap a2, b2;
		struct err pe = { 0 };
		bool moved;

		if (df_tcp_snap(sk, a, ino, e) < 0 || (pk >= 0 && df_tcp_snap(pk, b, pino, e) < 0))
			return -1;
		/* A peek that found another length than a moment ago: moved. */
		moved = df_tcp_queues(sk, a, ino, rq, sq, &pe) < 0 || (pk >= 0 && df_tcp_queues(pk, b, pino, prq, psq, &pe) < 0);
		if (df_tcp_snap(sk, &a2, ino, e) < 0 || (pk >= 0 && df_tcp_snap(pk, &b2, pino, e) < 0))
			return -1;
		moved = moved || memcmp(a, &a2, sizeof(a2)) ||
			(pk >= 0 && (memcmp(b, &b2, sizeof(b2)) || !df_tcp_fits(a, b) || !df_tcp_fits(b, a)));
		if (!moved) {
			if (tries)
				pr_debug("socket:[%llu] moved while it was read; read again %d times", (unsigned long long)ino,
					 tries);
			return 0;
		}
		if (tries >= 200)
			return err_set(e, EXIT_SYSTEM, "TCP connection socket:[%llu] kept changing while it was read (200 "
				       "tries)%s%s", (unsigned long long)ino, pe.msg[0] ? ": " : "", pe.msg);
		usleep(2000);
	}
}

/* An established TCP connection, read in repair mode (which the tree's
 * socket stays in until df_inet_unrepair, or until the killed tree closes
 * it silently): sequence numbers, both queues, the options negotiated
 * and the window. The tree is frozen but the kernel still moves the
 * connection (an acknowledgement, a retransmission, a window probe), so
 * it is read until two looks around the peeks agree. */
static int df_inet_tcp(struct df *c, int sk, struct df_isk *k, const struct inetdiag_sock *di, struct err *e)
{
	TcpConnEntry *t = &k->tcp;
	int peek_off = -1, none = -1, pk = -1, ret;
	socklen_t len = sizeof(int);
	struct df_tcp_snap a, b;
	struct inetdiag_sock pd = { 0 };
	struct tcp_info ti;
	uint32_t v;

	tcp_conn_entry__init(t);
	/* Read already, with the other end. */
	for (int i = 0; i < c->nr_tcp_cache; i++)
		if (c->tcp_cache[i].ino == k->s.ino) {
			a = c->tcp_cache[i].snap;
			k->rcvq = c->tcp_cache[i].rcvq;
			k->sndq = c->tcp_cache[i].sndq;
			c->tcp_cache[i] = c->tcp_cache[--c->nr_tcp_cache];
			goto got;
		}
	if (df_tcp_repair(c, sk, k->s.ino, e) < 0)
		return -1;
	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off, &len);
	if (peek_off >= 0)
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof(none));
	/* The other end, when the tree holds it, is read at the same time. */
	{
		struct df_diag *list;
		const struct inetdiag_sock *p;

		if (df_diag(c, di->family, IPPROTO_TCP, &list, e) < 0)
			return -1;
		p = inetdiag_lookup_peer(list->v, list->nr, di);
		ret = p != NULL;
		if (p)
			pd = *p;
	}
	if (ret && pd.state == 1 && (pk = df_tcp_holder(c, pd.ino)) >= 0 && df_tcp_repair(c, pk, pd.ino, e) < 0) {
		close(pk);
		return -1;
	}
	if (pk >= 0 && grow_one(&c->tcp_cache, c->nr_tcp_cache) < 0) {
		close(pk);
		return err_errno(e, "remember socket:[%u]", pd.ino);
	}
	if (pk >= 0)
		c->tcp_cache[c->nr_tcp_cache] = (struct df_tcp_cached){ .ino = pd.ino };
	ret = df_tcp_read_pair(sk, k->s.ino, &a, &k->rcvq, &k->sndq, pk, pd.ino, &b,
			       pk >= 0 ? &c->tcp_cache[c->nr_tcp_cache].rcvq : NULL,
			       pk >= 0 ? &c->tcp_cache[c->nr_tcp_cache].sndq : NULL, e);
	if (pk >= 0) {
		c->tcp_cache[c->nr_tcp_cache].snap = b;
		c->nr_tcp_cache++;
		close(pk);
	}
	if (peek_off >= 0)
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &peek_off, sizeof(peek_off));
	if (ret < 0)
		return -1;
got:
	t->rcv_seq = a.rcv_seq;
	t->snd_seq = a.snd_seq;
	t->has_rcvq = a.inq > 0;
	t->rcvq = (ProtobufCBinaryData){ a.inq, k->rcvq };
	t->has_sndq = a.outq > 0;
	t->sndq = (ProtobufCBinaryData){ a.outq, k->sndq };
	t->has_unsent = a.unsent > 0;
	t->unsent = a.unsent;
	t->snd_wl1 = a.w.snd_wl1;
	t->snd_wnd = a.w.snd_wnd;
	t->max_window = a.w.max_window;
	t->rcv_wnd = a.w.rcv_wnd;
	t->rcv_wup = a.w.rcv_wup;
	len = sizeof(ti);
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sk, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return err_errno(e, "TCP_INFO of socket:[%llu]", (unsigned long long)k->s.ino);
	t->sack = !!(ti.tcpi_options & TCPI_OPT_SACK);
	t->timestamps = !!(ti.tcpi_options & TCPI_OPT_TIMESTAMPS);
	if (ti.tcpi_options & TCPI_OPT_WSCALE) {
		t->has_snd_wscale = t->has_rcv_wscale = true;
		t->snd_wscale = ti.tcpi_snd_wscale;
		t->rcv_wscale = ti.tcpi_rcv_wscale;
	}
	len = sizeof(v);
	if (getsockopt(sk, IPPROTO_TCP, TCP_MAXSEG, &v, &len) < 0)
		return err_errno(e, "TCP_MAXSEG of socket:[%llu]", (unsigned long long)k->s.ino);
	t->mss = v;
	len = sizeof(v);
	if (t->timestamps && getsockopt(sk, IPPROTO_TCP, TCP_TIMESTAMP, &v, &len) == 0) {
		t->has_timestamp = true;
		t->timestamp = v;
	}
	k->s.tcp = t;
	return 0;
}

void df_inet_unrepair(struct df *c)
{
	int off = TCP_REPAIR_OFF_NO_WP;

	for (int i = 0; i < c->nr_repaired; i++) {
		if (setsockopt(c->repaired[i], IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) < 0)
			pr_warn("cannot take a TCP connection out of repair mode: %m");
		close(c->repaired[i]);
	}
	c->nr_repaired = 0;
}

/* Is there a connection of the tree going the other way? */
static bool df_inet_reverse(const struct df *c, const struct df_tcp *t)
{
	size_t alen = t->family == AF_INET ? 4 : 16;

	for (int i = 0; i < c->nr_tcps; i++) {
		const struct df_tcp *o = &c->tcps[i];

		if (o->family == t->family && o->sport == t->dport && o->dport == t->sport && !memcmp(o->src, t->dst, alen) &&
		    !memcmp(o->dst, t->src, alen))
			return true;
	}
	return false;
}

void df_inet_check(struct df *c)
{
	for (int i = 0; i < c->nr_tcps; i++) {
		const struct df_tcp *t = &c->tcps[i];
		char here[80], there[80], why[400], link[64];

		/* The other end outside: the driver's network lock keeps it from
		 * resetting the connection while the tree is away. */
		if (df_inet_reverse(c, t) || c->peer_outside)
			continue;
		df_inet_name(t->family, t->src, t->sport, here, sizeof(here));
		df_inet_name(t->family, t->dst, t->dport, there, sizeof(there));
		snprintf(link, sizeof(link), "socket:[%llu]", (unsigned long long)t->ino);
		snprintf(why, sizeof(why), "the TCP connection %s -> %s has its other end outside the dumped tree, and "
			 "no network lock keeps that end from resetting it while the tree is dumped or restored (the "
			 "driver locks with nftables, --network-lock nftables, when the tree is in its network "
			 "namespace)", here, there);
		df_refuse(c, t->pid, t->fd, link, why);
	}
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

/* An established connection (--tcp-established): its peer, remembered to
 * check the tree holds the other end, and its repair state. */
static int df_inet_established(struct df *c, struct df_desc *d, int sk, struct df_isk *k, const struct inetdiag_sock *di,
			       struct err *e)
{
	InetSocketEntry *s = &k->s;
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	size_t alen;
	struct df_tcp *t;

	memset(&sa, 0, sizeof(sa));
	if (getpeername(sk, (struct sockaddr *)&sa, &len) < 0 ||
	    !df_inet_split(&sa, k->dst, &s->dst_port, &s->dst_scope, &alen))
		return err_errno(e, "getpeername");
	s->has_dst_addr = s->has_dst_port = true;
	s->dst_addr.data = k->dst;
	s->dst_addr.len = alen;
	s->has_dst_scope = alen == 16;
	if (grow_one(&c->tcps, c->nr_tcps) < 0)
		return err_errno(e, "remember socket:[%llu]", (unsigned long long)s->ino);
	t = &c->tcps[c->nr_tcps++];
	*t = (struct df_tcp){ .pid = d->pid, .fd = d->fd, .ino = s->ino, .family = s->family, .sport = s->src_port,
			      .dport = s->dst_port };
	memcpy(t->src, k->src, alen);
	memcpy(t->dst, k->dst, alen);
	return df_inet_tcp(c, sk, k, di, e);
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
			if ((ret = df_inet_established(c, d, sk, k, &di, e)) < 0)
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
