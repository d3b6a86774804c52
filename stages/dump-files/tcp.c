/* dump-files/tcp.c: established TCP connections (--tcp-established),
 * read in TCP repair mode together with their other end when the tree
 * holds it (sequence numbers, both queues, the options negotiated, clock
 * and window), and the check that every connection's other end is the
 * tree's or kept from resets by the network lock; split from inet.c, which
 * describes the socket itself. */
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
#include <unistd.h>

#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "lib/inetdiag.h"
#include "lib/log.h"
#include "stages/dump-files/dump-files.h"

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


/* An established connection (--tcp-established): its peer, remembered to
 * check the tree holds the other end, and its repair state. */
int df_tcp_established(struct df *c, struct df_desc *d, int sk, struct df_isk *k, const struct inetdiag_sock *di,
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

