/* dump-files/sockets.c: unix sockets (pairs, listeners and the
 * connections waiting in them, accepted connections, bound and unbound
 * datagram sockets) and the check that no socket is joined to the outside;
 * see dump-files.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/sockdiag.h"
#include "stages/dump-files/dump-files.h"

static int df_remember_socket(struct df *c, pid_t pid, int fd, uint64_t ino, uint64_t peer, struct err *e)
{
	if (grow_one(&c->socks, c->nr_socks) < 0)
		return err_errno(e, "remember socket:[%llu]", (unsigned long long)ino);
	/* One in flight is named by the socket whose queue holds it. */
	if (pid == getpid() && c->via_pid)
		c->socks[c->nr_socks++] = (struct df_sock){ ino, peer, c->via_pid, c->via_fd };
	else
		c->socks[c->nr_socks++] = (struct df_sock){ ino, peer, pid, fd };
	return 0;
}

bool df_unix_dir(const uint8_t *name, size_t len, uint64_t *dev, uint64_t *ino)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	size_t slash = 0;
	struct stat st;

	if (!len || name[0] != '/' || len >= sizeof(dir))
		return false;
	for (size_t i = 0; i < len && name[i]; i++)
		if (name[i] == '/')
			slash = i;
	memcpy(dir, name, slash ? slash : 1);
	dir[slash ? slash : 1] = 0;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Saves each unix option that differs on sk from a new socket's of its
 * type: what the program set (SO_RCVLOWAT, SO_PEEK_OFF, ...). */
static void df_unix_sockopts(int sk, int type, struct df_usk *k)
{
	_cleanup_close_ int fresh = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);

	k->u.n_opts = df_sock_opts(sk, fresh, AF_UNIX, 0, k->opts, k->optp, k->optdata, DF_UNIX_MAX_OPTS);
	k->u.opts = k->optp;
}

/* What every unix socket kept records: type, inode, options, and its name
 * if it has one (copied into k->name: it outlives d, being written with the
 * record later). A name that is a relative path sets *why, since it would
 * be bound again relative to the wrong directory. */
static int df_unix_common(int sk, uint64_t ino, const struct sockdiag_unix *d, struct df_usk *k, const char **why)
{
	UnixSocketEntry *u = &k->u;
	int passcred = 0, sndbuf = 0, rcvbuf = 0;
	socklen_t len = sizeof(int);

	if (d->named && d->name[0] != 0 && d->name[0] != '/') {
		*why = "it is bound (or was accepted from a listener bound) to a relative path, which amber cannot bind "
		       "again in the right directory yet; bind it to an absolute path";
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
	df_unix_sockopts(sk, d->type, k);
	if (!d->named)
		return 0;
	memcpy(k->name, d->name, d->name_len);
	u->has_name = true;
	u->name.data = k->name;
	u->name.len = d->name_len;
	/* Where restore may make its file: the directory it is in now. */
	u->has_dir_dev = u->has_dir_ino = df_unix_dir(k->name, d->name_len, &u->dir_dev, &u->dir_ino);
	return 0;
}

/* Remembers a listener with connections waiting, whose data (if any) is
 * read once everything else passed (df_unix_backlogs). */
static int df_remember_listener(struct df *c, pid_t pid, int fd, uint64_t ino, struct err *e)
{
	if (grow_one(&c->listeners, c->nr_listeners) < 0)
		return err_errno(e, "remember socket:[%llu]", (unsigned long long)ino);
	c->listeners[c->nr_listeners++] = (struct df_listener){ pid, fd, ino };
	return 0;
}

/* A listening unix socket: its name, backlog, the clients whose
 * connections wait in it, and (bound to a path) its file's mode and owner;
 * or a bound datagram socket, with its queue and the bound peer it may be
 * connected to. A relative path would be bound relative to the wrong
 * directory: refused. */
static int df_unix_bound(struct df *c, pid_t pid, int fd, int sk, uint64_t ino, const struct sockdiag_unix *d,
			 struct df_usk *k, const char **why, struct err *e)
{
	UnixSocketEntry *u = &k->u;
	bool listening = d->state == 10;	/* TCP_LISTEN */
	int ret;

	if (listening && d->icons_truncated) {
		*why = "more connections wait to be accepted at the listening socket than amber keeps (128)";
		return 0;
	}
	if ((ret = df_unix_common(sk, ino, d, k, why)) < 0 || *why)
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
	if (listening) {
		for (int i = 0; i < d->nr_icons; i++)
			k->waiting[i] = d->icons[i];
		u->n_waiting = d->nr_icons;
		u->waiting = k->waiting;
		return d->nr_icons ? df_remember_listener(c, pid, fd, ino, e) : 0;
	}
	if (d->peer) {
		/* Connected again by name at restore: its peer must have one. */
		struct sockdiag_unix p;

		if ((ret = sockdiag_unix_get(d->peer, &p, e)) < 0)
			return err_wrap(e, "pid %d fd %d", pid, fd);
		if (!p.named) {
			*why = "it is a bound datagram socket connected to an unbound one, which cannot be connected again";
			return 0;
		}
		u->peer_ino = d->peer;
		u->shutdown = d->shutdown;
	}
	/* A bound stream or seqpacket socket that never listened nor
	 * connected: nothing waits in it. */
	if (d->type != SOCK_DGRAM) {
		u->has_listening = u->listening = false;
		u->has_backlog = false;
		u->has_unconnected = u->unconnected = true;
		return 0;
	}
	/* A bound datagram socket: what waits in it is sent to it again. */
	return df_unix_queue(c, pid, fd, sk, d->type, k, why, e);
}

/* A connected stream or seqpacket socket with no peer inode: a client
 * whose connection waits in a listener's backlog (its peer, the server
 * end, has no inode until accepted; the listener is found by the clients
 * sock_diag lists for it), or an end whose peer closed (the kernel leaves
 * it "established" and shut both ways), kept with its queue. */
static int df_unix_waiting(struct df *c, pid_t pid, int fd, int sk, uint64_t ino, const struct sockdiag_unix *d,
			   struct df_usk *k, const char **why, struct err *e)
{
	uint32_t listener;
	int ret;

	if ((ret = sockdiag_unix_listener_of(ino, &listener, e)) < 0)
		return err_wrap(e, "pid %d fd %d", pid, fd);
	/* An end whose peer closed; named: the server end of an accepted
	 * connection, made again through its listener's name. */
	if (!listener && d->shutdown == 3) {
		if ((ret = df_unix_common(sk, ino, d, k, why)) < 0 || *why)
			return ret;
		k->u.shutdown = d->shutdown;
		return df_unix_queue(c, pid, fd, sk, d->type, k, why, e);
	}
	if (!listener) {
		*why = "it is connected, but neither to a peer nor waiting in a listener's backlog";
		return 0;
	}
	if (d->named) {
		*why = "it is bound and its connection waits to be accepted, which is not supported";
		return 0;
	}
	if (d->rqueue) {
		*why = "its connection waits to be accepted, yet data waits at it";
		return 0;
	}
	if ((ret = df_unix_common(sk, ino, d, k, why)) < 0 || *why)
		return ret;
	k->u.has_listener_ino = true;
	k->u.listener_ino = listener;
	k->u.shutdown = d->shutdown;
	return 0;
}

/* A unix socket: a pair's end (type, peer, shutdown state, options and
 * queued data), a listening or bound one, a client waiting to be accepted,
 * or an unbound and unconnected datagram socket. Anything else (another
 * family, an unconnected stream socket) gets a reason in *why and is
 * refused by the caller. */
static int df_unix_one(struct df *c, pid_t pid, int fd, uint64_t ino, struct df_usk *k, const char **why,
		       struct err *e)
{
	_cleanup_close_ int sk = -1;
	struct sockdiag_unix d;
	int domain = 0, ret;
	socklen_t len = sizeof(domain);

	*why = NULL;
	if ((sk = df_getfd(c, pid, fd, e)) < 0)
		return sk;
	if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return err_errno(e, "SO_DOMAIN of pid %d fd %d", pid, fd);
	if (domain != AF_UNIX) {
		snprintf(k->why, sizeof(k->why), "it is %s socket (family %d); only unix, TCP, UDP and netlink sockets are "
			 "supported yet: close it before the dump", domain == AF_PACKET ? "a packet" :
			 domain == AF_VSOCK ? "a vsock" : domain == AF_ALG ? "an AF_ALG" : "another family's", domain);
		*why = k->why;
		return 0;
	}
	if ((ret = sockdiag_unix_get(ino, &d, e)) < 0)
		return err_wrap(e, "pid %d fd %d", pid, fd);
	if (d.type != SOCK_STREAM && d.type != SOCK_DGRAM && d.type != SOCK_SEQPACKET) {
		*why = "this unix socket type is not supported";
		return 0;
	}
	/* A bound datagram socket: TCP_CLOSE, or TCP_ESTABLISHED once
	 * connected (to a bound peer) or once a client connected to it. */
	/* A stream or seqpacket socket in TCP_CLOSE with no peer was never
	 * connected (an end whose peer closed stays established, and
	 * df_unix_waiting keeps it); bound or not. */
	if (d.state == 7 && !d.peer && d.type != SOCK_DGRAM && d.named)
		return df_unix_bound(c, pid, fd, sk, ino, &d, k, why, e);
	if (d.state == 7 && !d.peer && d.type != SOCK_DGRAM) {
		if ((ret = df_unix_common(sk, ino, &d, k, why)) < 0 || *why)
			return ret;
		k->u.has_unconnected = k->u.unconnected = true;
		return 0;
	}
	if (d.named && (d.state == 10 /* TCP_LISTEN */ || d.type == SOCK_DGRAM))
		return df_unix_bound(c, pid, fd, sk, ino, &d, k, why, e);
	/* A datagram socket whose connected peer closed: its queue is kept. */
	if (d.type == SOCK_DGRAM && !d.named && !d.peer && d.state == 1) {
		if ((ret = df_unix_common(sk, ino, &d, k, why)) < 0 || *why)
			return ret;
		k->u.has_peer_gone = k->u.peer_gone = true;
		return df_unix_queue(c, pid, fd, sk, d.type, k, why, e);
	}
	if (d.state == 1 && !d.peer && d.type != SOCK_DGRAM)
		return df_unix_waiting(c, pid, fd, sk, ino, &d, k, why, e);
	/* Never bound nor connected: nothing can be sent to it. */
	if (d.type == SOCK_DGRAM && !d.named && !d.peer && d.state == 7)
		return df_unix_common(sk, ino, &d, k, why);
	/* Named and connected: the server end of an accepted connection. */
	if (d.named && !(d.state == 1 && d.peer)) {
		*why = "this bound unix socket is neither listening nor connected, which is not supported";
		return 0;
	}
	/* 1 is TCP_ESTABLISHED, 7 TCP_CLOSE: a stream end whose peer closed
	 * (older kernels; newer ones leave it established, see above). */
	if (!(d.state == 1 && d.peer) && !(d.state == 7 && !d.peer && d.type != SOCK_DGRAM)) {
		*why = "only connected unix socket pairs are supported yet (this one is unconnected)";
		return 0;
	}
	/* The server end of an accepted connection keeps the listener's name. */
	if ((ret = df_unix_common(sk, ino, &d, k, why)) < 0 || *why)
		return ret;
	k->u.peer_ino = d.peer;
	k->u.shutdown = d.shutdown;
	return df_unix_queue(c, pid, fd, sk, d.type, k, why, e);
}

/* A socket of any family, told apart by SO_DOMAIN: TCP and UDP ones are
 * inet.c's, unix ones this file's; one that cannot be restored is
 * refused, with why. */
int df_socket_describe(struct df *c, struct df_desc *d, struct err *e)
{
	uint64_t ino = d->st->st_ino;
	struct df_usk *k = &d->usk;
	const char *why;
	int ret, domain = 0;
	socklen_t len = sizeof(domain);

	/* TCP and UDP sockets are inet.c's. */
	{
		_cleanup_close_ int sk = df_getfd(c, d->pid, d->fd, e);

		if (sk < 0)
			return sk;
		if (getsockopt(sk, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
			return err_errno(e, "SO_DOMAIN of pid %d fd %d", d->pid, d->fd);
		if (domain == AF_INET || domain == AF_INET6 || domain == AF_NETLINK) {
			ret = domain == AF_NETLINK ? df_netlink_describe(c, d, sk, &why, e) :
						     df_inet_describe(c, d, sk, domain, &why, e);
			if (ret < 0)
				return ret;
			if (why)
				df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
	}
	ret = df_unix_one(c, d->pid, d->fd, ino, k, &why, e);

	/* Its peer (or listener) is checked at the end, once every socket has
	 * been seen; one refused is still seen, as no one's outside peer. */
	if (ret < 0)
		return ret;
	if (why)
		ret = df_remember_socket(c, d->pid, d->fd, ino, 0, e);
	else
		ret = df_remember_socket(c, d->pid, d->fd, ino, k->u.has_listener_ino ? k->u.listener_ino : k->u.peer_ino, e);
	if (ret < 0)
		return ret;
	if (why)
		df_refuse(c, d->pid, d->fd, d->link, why);
	d->re.unix_sk = &k->u;
	d->re.has_mnt_id = false;
	return 0;
}

void df_unix_release(struct df_desc *d)
{
	df_usk_free(&d->usk);
	df_inet_release(d);
	df_netlink_release(d);
}

/* Writes the record of the server end of a waiting connection, accepted
 * here as sk, if its client had sent something to it. */
static int df_unix_embryo(struct df *c, const struct df_listener *l, int sk, uint32_t client, int type,
			  struct err *e)
{
	RegFileEntry re = REG_FILE_ENTRY__INIT;
	struct df_usk k = { .u = UNIX_SOCKET_ENTRY__INIT };
	char path[64];
	const char *why = NULL;
	struct stat st;
	int ret;

	if (fstat(sk, &st) < 0)
		return err_errno(e, "fstat a connection accepted from socket:[%llu]", (unsigned long long)l->ino);
	k.u.type = type;
	k.u.ino = st.st_ino;
	k.u.peer_ino = client;
	k.u.has_embryo = k.u.embryo = true;
	ret = df_unix_queue(c, l->pid, l->fd, sk, type, &k, &why, e);
	if (ret >= 0 && why)
		df_refuse(c, l->pid, l->fd, "socket:[waiting connection]", why);
	if (ret >= 0 && !why && k.u.n_queue && (ret = df_new_id(c, &re.id, e)) >= 0) {
		snprintf(path, sizeof(path), "socket:[%llu]", (unsigned long long)st.st_ino);
		re.path = path;
		re.flags = O_RDWR;
		re.unix_sk = &k.u;
		ret = image_write(&c->files, &re.base, e);
		pr_debug("file %u: %s, waiting to be accepted from socket:[%llu], %zu entries from socket:[%u]", re.id, path,
			 (unsigned long long)l->ino, k.u.n_queue, client);
	}
	df_usk_free(&k);
	return ret;
}

/* Takes the waiting connections of one listener (in accept order, which
 * is the backlog's) to read what their clients sent. The accepted server
 * ends stay open here until the stage exits. */
static int df_unix_accept_all(struct df *c, const struct df_listener *l, const struct sockdiag_unix *d,
			      struct err *e)
{
	_cleanup_close_ int copy = df_getfd(c, l->pid, l->fd, e);

	if (copy < 0)
		return copy;
	pr_info("pid %d fd %d: accepting the %d connections waiting at socket:[%llu] to read what their clients sent "
		"(the tree is killed after the dump)", l->pid, l->fd, d->nr_icons, (unsigned long long)l->ino);
	for (int i = 0; i < d->nr_icons; i++) {
		struct sockdiag_unix a;
		struct pollfd p = { .fd = copy, .events = POLLIN };
		struct stat st;
		int sk, ret;

		if (poll(&p, 1, 0) != 1 || (sk = accept4(copy, NULL, NULL, SOCK_CLOEXEC)) < 0)
			return err_errno(e, "pid %d fd %d: accept connection %d waiting at socket:[%llu]", l->pid, l->fd, i,
					 (unsigned long long)l->ino);
		if ((ret = df_keep_fd(c, sk, e)) < 0)
			return ret;
		if (fstat(sk, &st) < 0 || (ret = sockdiag_unix_get(st.st_ino, &a, e)) < 0)
			return err_errno(e, "look at a connection accepted from socket:[%llu]", (unsigned long long)l->ino);
		if (a.peer != d->icons[i])
			return err_set(e, EXIT_SYSTEM, "pid %d fd %d: connection %d accepted from socket:[%llu] is from socket:[%u], "
				       "not socket:[%u]", l->pid, l->fd, i, (unsigned long long)l->ino, a.peer, d->icons[i]);
		if ((ret = df_unix_embryo(c, l, sk, a.peer, d->type, e)) < 0)
			return ret;
	}
	return 0;
}

/* Is a socket with this inode held by the tree (seen so far)? */
static bool df_sock_seen(const struct df *c, uint64_t ino)
{
	for (int j = 0; j < c->nr_socks; j++)
		if (c->socks[j].ino == ino)
			return true;
	return false;
}

static void df_socket_outside(struct df *c, const struct df_sock *s);

int df_unix_backlogs(struct df *c, struct err *e)
{
	/* A waiting client outside the tree would be cut from the listener. */
	for (int i = 0; i < c->nr_listeners; i++) {
		const struct df_listener *l = &c->listeners[i];
		struct sockdiag_unix d;
		int ret;

		if ((ret = sockdiag_unix_get(l->ino, &d, e)) < 0)
			return err_wrap(e, "pid %d fd %d", l->pid, l->fd);
		for (int j = 0; j < d.nr_icons; j++)
			if (!df_sock_seen(c, d.icons[j])) {
				df_socket_outside(c, &(struct df_sock){ l->ino, d.icons[j], l->pid, l->fd });
				break;
			}
	}
	for (int i = 0; i < c->nr_listeners; i++) {
		const struct df_listener *l = &c->listeners[i];
		struct sockdiag_unix d, cd;
		uint32_t with_data = 0;
		char link[64], why[320];
		int ret;

		if ((ret = sockdiag_unix_get(l->ino, &d, e)) < 0)
			return err_wrap(e, "pid %d fd %d", l->pid, l->fd);
		for (int j = 0; j < d.nr_icons && !with_data; j++) {
			if ((ret = sockdiag_unix_get(d.icons[j], &cd, e)) < 0)
				return err_wrap(e, "pid %d fd %d: a waiting connection", l->pid, l->fd);
			if (cd.wqueue)
				with_data = d.icons[j];
		}
		if (!with_data)
			continue;
		snprintf(link, sizeof(link), "socket:[%llu]", (unsigned long long)l->ino);
		if (!c->accept_backlog) {
			snprintf(why, sizeof(why), "the connection from socket:[%u] waits to be accepted with data its client "
				 "sent, which can only be read by accepting it, and the tree is to keep running "
				 "(--leave-running); let the process accept it first", with_data);
			df_refuse(c, l->pid, l->fd, link, why);
			continue;
		}
		/* Taking connections from a tree that then fails to dump would lose them. */
		if (c->nr_unsupported)
			continue;
		if ((ret = df_unix_accept_all(c, l, &d, e)) < 0)
			return ret;
	}
	return 0;
}

/* A socket whose peer (or, waiting to be accepted, whose listener; or, a
 * listener, a client waiting in its backlog) is held outside the tree
 * would be cut from it by a restore: refused, naming both sockets and
 * how to mark it external (then it is never collected, so never here). */
static void df_socket_outside(struct df *c, const struct df_sock *s)
{
	char why[256], link[64];

	snprintf(link, sizeof(link), "socket:[%llu]", (unsigned long long)s->ino);
	snprintf(why, sizeof(why), "its peer socket:[%llu] is held outside the dumped tree; dump with "
		 "--external unix[%llu] and give the socket back at restore with --inherit-fd fd[N]:%s",
		 (unsigned long long)s->peer, (unsigned long long)s->peer, link);
	df_refuse(c, s->pid, s->fd, link, why);
}

void df_unix_check(struct df *c)
{
	df_inet_check(c);
	for (int i = 0; i < c->nr_socks; i++)
		if (c->socks[i].peer && !df_sock_seen(c, c->socks[i].peer))
			df_socket_outside(c, &c->socks[i]);
}
