/* dump-files/sockets.c: unix sockets (pairs, listeners, accepted
 * connections, bound datagram sockets) and the check that no pair is
 * joined to the outside; see collect.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/sockdiag.h"
#include "stages/dump-files/collect.h"

static int collect_remember_socket(struct collect *c, pid_t pid, int fd, uint64_t ino, uint64_t peer, struct err *e)
{
	if (c->nr_socks % 64 == 0) {
		void *n = realloc(c->socks, sizeof(*c->socks) * (c->nr_socks + 64));

		if (!n)
			return err_errno(e, "remember socket:[%llu]", (unsigned long long)ino);
		c->socks = n;
	}
	c->socks[c->nr_socks++] = (struct collect_sock){ ino, peer, pid, fd };
	return 0;
}

/* Peeks at what waits to be read at a unix socket, without taking it:
 * MSG_PEEK from a moving peek offset (SO_PEEK_OFF, put back afterwards),
 * one datagram or one run of stream bytes per call. *q and *buf are
 * malloc'd for the caller; *why is set for a queue amber cannot restore. */
static int collect_unix_queue(int sk, int type, UnixSocketEntry *u, ProtobufCBinaryData **q, uint8_t **buf,
			      const char **why, struct err *e)
{
	size_t cap = 256 * 1024, used = 0;
	int zero = 0, old = -1;
	socklen_t len = sizeof(old);
	int ret = 0;

	*buf = malloc(cap);
	if (!*buf)
		return err_errno(e, "peek at socket:[%llu]", (unsigned long long)u->ino);
	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, &len);
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return err_errno(e, "set a peek offset on socket:[%llu]", (unsigned long long)u->ino);
	for (;;) {
		char ctl[CMSG_SPACE(sizeof(int) * 64)];
		struct sockaddr_un from;
		struct iovec iov = { *buf + used, cap - used };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl, .msg_controllen = sizeof(ctl) };
		ssize_t n;
		void *nq;

		if (cap - used < 64 * 1024) {
			uint8_t *nb = realloc(*buf, cap * 2);

			if (!nb) {
				ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)u->ino);
				break;
			}
			*buf = nb;
			cap *= 2;
			continue;
		}
		n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)u->ino);
			break;
		}
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				/* Peeking installed copies of them here: closed at once. */
				for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(cm))[i]);
				*why = "file descriptors are in flight in it (SCM_RIGHTS), which is not supported yet";
			}
		/* Put back, a datagram comes from the restore's unbound socket. */
		if (type == SOCK_DGRAM && mh.msg_namelen > sizeof(sa_family_t))
			*why = "datagrams from a bound sender wait in it, which cannot be sent again from that address";
		if (*why || (n == 0 && type == SOCK_STREAM))
			break;
		if (n == 0) {
			*why = "it holds an empty datagram, which amber cannot peek past";
			break;
		}
		if (type == SOCK_STREAM && u->n_queue) {
			(*q)[0].len += n;	/* stream bytes are one run */
		} else {
			nq = realloc(*q, sizeof(**q) * (u->n_queue + 1));
			if (!nq) {
				ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)u->ino);
				break;
			}
			*q = nq;
			(*q)[u->n_queue].len = n;
			(*q)[u->n_queue].data = (uint8_t *)(uintptr_t)used;	/* an offset until the buffer stops moving */
			u->n_queue++;
		}
		used += n;
	}
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	for (size_t i = 0; i < u->n_queue; i++)
		(*q)[i].data = *buf + (uintptr_t)(*q)[i].data;
	u->queue = *q;
	return ret;
}

/* A listening unix socket: its name, backlog and (bound to a path) its
 * file's mode and owner. Connections waiting to be accepted cannot be
 * made again, and a relative path would be bound relative to the wrong
 * directory: both are refused. */
static int collect_unix_queue(int sk, int type, UnixSocketEntry *u, ProtobufCBinaryData **q, uint8_t **buf,
			      const char **why, struct err *e);

/* What every unix socket kept records: type, inode, options, and its name
 * if it has one (copied into *name: it outlives d, being written with the
 * record later). A name that is a relative path sets *why, since it would
 * be bound again relative to the wrong directory. */
static int collect_unix_common(int sk, uint64_t ino, const struct sockdiag_unix *d, UnixSocketEntry *u, uint8_t **name,
			       const char **why, struct err *e)
{
	int passcred = 0, sndbuf = 0, rcvbuf = 0;
	socklen_t len = sizeof(int);

	if (d->named && d->name[0] != 0 && d->name[0] != '/') {
		*why = "it is bound (or was accepted from a listener bound) to a relative path, which cannot be restored";
		return 0;
	}
	getsockopt(sk, SOL_SOCKET, SO_PASSCRED, &passcred, &len);
	len = sizeof(int);
	getsockopt(sk, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
	len = sizeof(int);
	getsockopt(sk, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	u->type = d->type;
	u->ino = ino;
	u->passcred = passcred;
	u->sndbuf = sndbuf;
	u->rcvbuf = rcvbuf;
	if (!d->named)
		return 0;
	if (!(*name = malloc(d->name_len)))
		return err_errno(e, "keep the name of socket:[%llu]", (unsigned long long)ino);
	memcpy(*name, d->name, d->name_len);
	u->has_name = true;
	u->name.data = *name;
	u->name.len = d->name_len;
	return 0;
}

static int collect_unix_bound(int sk, uint64_t ino, const struct sockdiag_unix *d, UnixSocketEntry *u, uint8_t **name,
			      ProtobufCBinaryData **q, uint8_t **buf, const char **why, struct err *e)
{
	bool listening = d->state == 10;	/* TCP_LISTEN */
	int ret;

	if (listening && d->rqueue) {
		*why = "the listening socket has connections waiting to be accepted, which cannot be restored yet";
		return 0;
	}
	if ((ret = collect_unix_common(sk, ino, d, u, name, why, e)) < 0 || *why)
		return ret;
	u->has_listening = true;
	u->listening = listening;
	u->has_backlog = listening;
	u->backlog = d->wqueue;
	if (d->name[0] == '/') {
		char path[sizeof(d->name) + 1];
		struct stat st;

		memcpy(path, d->name, d->name_len);
		path[d->name_len] = 0;
		if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || st.st_ino != d->vfs_ino) {
			*why = "the file of the socket's path was removed or replaced, so it cannot be bound again";
			return 0;
		}
		u->has_mode = u->has_uid = u->has_gid = true;
		u->mode = st.st_mode & 07777;
		u->uid = st.st_uid;
		u->gid = st.st_gid;
	}
	/* A bound datagram socket: what waits in it is sent to it again. */
	return listening ? 0 : collect_unix_queue(sk, d->type, u, q, buf, why, e);
}

/* A unix socket: a pair's end (type, peer, shutdown state, options
 * and queued data. Anything else (another family, a bound, listening or
 * unconnected socket) gets a reason in *why and is refused by the caller. */
static int collect_unix_one(struct collect *c, pid_t pid, int fd, uint64_t ino, UnixSocketEntry *u, ProtobufCBinaryData **q,
			uint8_t **buf, uint8_t **name, const char **why, struct err *e)
{
	_cleanup_close_ int sk = -1;
	struct sockdiag_unix d;
	int domain = 0, ret;
	socklen_t len = sizeof(domain);

	*why = NULL;
	if ((sk = collect_getfd(c, pid, fd, e)) < 0)
		return sk;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return err_errno(e, "SO_DOMAIN of pid %d fd %d", pid, fd);
	if (domain != AF_UNIX) {
		*why = "only unix sockets are supported yet (this is another family); close it before the dump";
		return 0;
	}
	if ((ret = sockdiag_unix_get(ino, &d, e)) < 0)
		return err_wrap(e, "pid %d fd %d", pid, fd);
	/* A bound datagram socket with no peer of its own: its state is
	 * TCP_CLOSE, or TCP_ESTABLISHED once a client connected to it. */
	if (d.named && (d.state == 10 /* TCP_LISTEN */ || (d.type == SOCK_DGRAM && !d.peer)))
		return collect_unix_bound(sk, ino, &d, u, name, q, buf, why, e);
	/* Named and connected: the server end of an accepted connection. */
	if (d.named && !(d.state == 1 && d.peer && d.type != SOCK_DGRAM)) {
		*why = "bound and connected unix datagram sockets are not supported yet";
		return 0;
	}
	if (d.type != SOCK_STREAM && d.type != SOCK_DGRAM && d.type != SOCK_SEQPACKET) {
		*why = "this unix socket type is not supported";
		return 0;
	}
	/* 1 is TCP_ESTABLISHED, 7 TCP_CLOSE: a stream pair whose peer closed. */
	if (!(d.state == 1 && d.peer) && !(d.state == 7 && !d.peer && d.type != SOCK_DGRAM)) {
		*why = "only connected unix socket pairs are supported yet (this one is unconnected or listening)";
		return 0;
	}
	/* The server end of an accepted connection keeps the listener's name. */
	if ((ret = collect_unix_common(sk, ino, &d, u, name, why, e)) < 0 || *why)
		return ret;
	u->peer_ino = d.peer;
	u->shutdown = d.shutdown;
	return collect_unix_queue(sk, d.type, u, q, buf, why, e);
}

int collect_unix(struct collect *c, pid_t pid, int fd, uint64_t ino, UnixSocketEntry *u, ProtobufCBinaryData **q,
		 uint8_t **buf, uint8_t **name, const char **why, struct err *e)
{
	int ret = collect_unix_one(c, pid, fd, ino, u, q, buf, name, why, e);

	/* Its peer is checked at the end, once every socket has been seen. */
	if (ret < 0 || *why)
		return ret;
	return collect_remember_socket(c, pid, fd, ino, u->peer_ino, e);
}

/* A socket pair whose other end is held outside the tree would be cut
 * from its peer by a restore: refused, naming both sockets. */
void collect_check_socket_peers(struct collect *c)
{
	for (int i = 0; i < c->nr_socks; i++) {
		bool found = !c->socks[i].peer;
		char why[256], link[64];

		for (int j = 0; j < c->nr_socks && !found; j++)
			found = c->socks[j].ino == c->socks[i].peer;
		if (found)
			continue;
		snprintf(link, sizeof(link), "socket:[%llu]", (unsigned long long)c->socks[i].ino);
		snprintf(why, sizeof(why), "its peer socket:[%llu] is held outside the dumped tree; dump with "
			 "--external unix[%llu] and give the socket back at restore with --inherit-fd fd[N]:%s",
			 (unsigned long long)c->socks[i].peer, (unsigned long long)c->socks[i].peer, link);
		collect_refuse(c, c->socks[i].pid, c->socks[i].fd, link, why);
	}
}
