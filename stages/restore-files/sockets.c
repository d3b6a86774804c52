/* restore-files/sockets.c: unix sockets made again: pairs, listeners,
 * bound and unbound datagram sockets, and the connections to them; what
 * waits in them is put back by unixq.c; see reopen.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/inetopt.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

/* Sets a remade socket's buffer sizes and SO_PASSCRED. getsockopt gives
 * twice what was asked (the kernel's bookkeeping), so half is asked for;
 * the FORCE variants go past the sysctl limits the first setting passed.
 * Then the options of lib/inetopt.c's table the program set, in the
 * table's order; one not in it for unix sockets is the image's fault. */
int reopen_unix_opts(int sk, const RegFileEntry *re, struct err *e)
{
	const UnixSocketEntry *u = re->unix_sk;
	int snd = u->sndbuf / 2, rcv = u->rcvbuf / 2, pc = u->passcred;

	for (size_t i = 0; i < u->n_opts; i++) {
		const InetSockOpt *o = u->opts[i];
		const struct inetopt *t = inetopt_find(o->name);

		if (!t || !inetopt_applies(t, AF_UNIX, 0))
			return err_input(e, "files.img: unix socket %u (%s) has option '%s', which is none that amber sets on "
					 "a unix socket", re->id, re->path, o->name);
		if ((t->kind == INETOPT_INT) != o->has_value || (t->kind == INETOPT_BYTES) != o->has_data ||
		    (o->has_data && o->data.len > INETOPT_MAX_BYTES))
			return err_input(e, "files.img: unix socket %u (%s): option '%s' has a value of the wrong kind or size",
					 re->id, re->path, o->name);
	}

	if (snd && setsockopt(sk, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof(snd)) < 0)
		setsockopt(sk, SOL_SOCKET, SO_SNDBUF, &snd, sizeof(snd));
	if (rcv && setsockopt(sk, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(sk, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (pc)
		setsockopt(sk, SOL_SOCKET, SO_PASSCRED, &pc, sizeof(pc));
	for (size_t i = 0; i < inetopt_count; i++) {
		const struct inetopt *t = &inetopt_table[i];
		const InetSockOpt *o = NULL;
		int v, ret;

		for (size_t k = 0; k < u->n_opts && !o; k++)
			if (!strcmp(u->opts[k]->name, t->name))
				o = u->opts[k];
		if (!o || !inetopt_applies(t, AF_UNIX, 0))
			continue;
		v = (int)o->value;
		ret = t->kind == INETOPT_BYTES ? setsockopt(sk, t->level, t->opt, o->data.data, o->data.len)
					       : setsockopt(sk, t->level, t->opt, &v, sizeof(v));
		if (ret < 0)
			return err_errno(e, "set option %s of unix socket %u (%s) again", t->name, re->id, re->path);
	}
	return 0;
}

/* The address of a dumped socket name in *sa and its length, or 0 for a
 * name no address can hold or a relative path (which a sane dump never
 * has: dump refuses it, since it would be bound relative to the wrong
 * directory). */
socklen_t reopen_unix_addr(const UnixSocketEntry *u, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!u->name.len || u->name.len > sizeof(sa->sun_path) || (u->name.data[0] && u->name.data[0] != '/'))
		return 0;
	memcpy(sa->sun_path, u->name.data, u->name.len);
	return offsetof(struct sockaddr_un, sun_path) + u->name.len;
}

int reopen_unix_place(const struct reopen *r, const struct sockaddr_un *sa, bool has_dir, uint64_t dev, uint64_t ino,
		      const char *whose, struct reopen_unix_place *p, struct err *e)
{
	char path[sizeof(sa->sun_path) + 1], *slash;
	struct stat st;

	p->dir = -1;
	p->base[0] = 0;
	if (!sa->sun_path[0])
		return 0;	/* abstract: no file */
	memcpy(path, sa->sun_path, sizeof(sa->sun_path));
	path[sizeof(sa->sun_path)] = 0;
	if (path[0] != '/')
		return err_input(e, "%s: the name '%s' is a relative path, which restore refuses as dump does", whose, path);
	slash = strrchr(path, '/');
	if (!slash[1])
		return err_input(e, "%s: the name '%s' ends with a slash", whose, path);
	snprintf(p->base, sizeof(p->base), "%s", slash + 1);
	if (slash == path)
		slash++;
	*slash = 0;
	/* The directory the bind will go to, followed as bind follows it. */
	if ((p->dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(p->dir, &st) < 0)
		return err_errno(e, "%s: open the directory '%s' of its name", whose, path);
	if (has_dir && (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino)
		return 0;
	if (r->allow_changed) {
		pr_warn("%s: the directory '%s' of its name is not the one the dump saw; bound there anyway "
			"(--allow-changed-files)", whose, path);
		return 0;
	}
	if (!has_dir)
		return err_input(e, "%s: the images do not say in which directory its name '%s' was; restore makes a socket "
				 "file only where the dumped one was (amber restore --allow-changed-files makes it anyway)",
				 whose, sa->sun_path);
	return err_input(e, "%s: the directory '%s' of its name is inode %llu on device %u:%u, not inode %llu on device %u:%u "
			 "as at dump; restore makes a socket file only where the dumped one was (amber restore "
			 "--allow-changed-files makes it anyway)", whose, path, (unsigned long long)st.st_ino,
			 major(st.st_dev), minor(st.st_dev), (unsigned long long)ino, major(dev), minor(dev));
}

void reopen_unix_place_close(struct reopen_unix_place *p)
{
	if (p->dir >= 0)
		close(p->dir);
	p->dir = -1;
}

/* Is a live socket bound to this path? /proc/net/unix lists every unix
 * socket of the network namespace with the path it was bound to. Asked
 * rather than connecting, which would leave a connection at a live
 * listener. */
static bool reopen_path_bound(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/unix", "re");
	size_t n = strlen(path);
	char line[512];

	while (f && fgets(line, sizeof(line), f)) {
		size_t l = strcspn(line, "\n");

		if (l > n && line[l - n - 1] == ' ' && !memcmp(line + l - n, path, n))
			return true;
	}
	return false;
}

int reopen_unix_clear_stale(const struct reopen_unix_place *p, const struct sockaddr_un *sa)
{
	struct stat st;

	if (p->dir < 0 || fstatat(p->dir, p->base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (reopen_path_bound(sa->sun_path))
		return 1;
	return unlinkat(p->dir, p->base, 0) < 0 && errno != ENOENT ? -1 : 0;
}

void reopen_unix_unlink(const struct reopen_unix_place *p)
{
	struct stat st;

	if (p->dir >= 0 && fstatat(p->dir, p->base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode))
		unlinkat(p->dir, p->base, 0);
}

/* Gives the socket file at p the dumped mode and owner, never following a
 * symlink: through an O_PATH fd of the file itself. */
static int reopen_unix_file_attrs(const struct reopen_unix_place *p, const UnixSocketEntry *u)
{
	_cleanup_close_ int fd = openat(p->dir, p->base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	char self[64];
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	if (chmod(self, u->mode) < 0 || fchownat(fd, "", u->uid, u->gid, AT_EMPTY_PATH) < 0)
		return -1;
	return 0;
}

/* Remembers the socket file just bound at 'path' (made_file records), if
 * this process is the stage itself: a child in a mount namespace of the
 * tree (mntns.c) binds there, where the path means another file. */
static void reopen_unix_made(const struct reopen *r, const char *path)
{
	struct reopen *w = (struct reopen *)r;
	struct stat st;

	if (r->self != getpid() || lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode) || grow_one(&w->made, w->nr_made) < 0)
		return;
	if ((w->made[w->nr_made].path = strdup(path))) {
		w->made[w->nr_made].dev = st.st_dev;
		w->made[w->nr_made].ino = st.st_ino;
		w->nr_made++;
	}
}

int reopen_write_made(const struct reopen *r, struct stream_out *out, struct err *e)
{
	int ret = 0;

	for (int i = 0; ret == 0 && i < r->nr_made; i++) {
		MadeFileEntry m = MADE_FILE_ENTRY__INIT;
		StreamRecord rec = STREAM_RECORD__INIT;

		m.path = r->made[i].path;
		m.dev = r->made[i].dev;
		m.ino = r->made[i].ino;
		rec.body_case = STREAM_RECORD__BODY_MADE_FILE;
		rec.made_file = &m;
		ret = stream_out_write(out, &rec, e);
	}
	return ret;
}

/* A listening unix socket or a bound datagram socket, bound to its name
 * again (its queue and its own connection come later, see unixq.c). A path
 * name is made only in the directory the dump saw it in
 * (reopen_unix_place). The file a path-bound listener leaves behind when
 * it is killed is removed first, but only if no live socket is bound to
 * it: a live listener (the original, after a --leave-running dump) keeps
 * its name and the restore is refused. */
int reopen_unix_bound(const struct reopen *r, struct reopen_file *f, struct err *e)
{
	const UnixSocketEntry *u = f->re->unix_sk;
	struct sockaddr_un sa;
	socklen_t len = reopen_unix_addr(u, &sa);
	char shown[sizeof(sa.sun_path) + 2], whose[sizeof(shown) + 128];
	_cleanup_close_ int sk = -1;
	struct reopen_unix_place p;
	int stale, ret;

	if (!len)
		return err_input(e, "%s (id %u) has a name of %zu bytes%s", f->re->path, f->re->id, u->name.len,
				 u->name.len && u->name.data[0] && u->name.data[0] != '/' ? " that is a relative path, which "
				 "restore refuses as dump does" : "");
	snprintf(shown, sizeof(shown), "%s%.*s", sa.sun_path[0] ? "" : "@", (int)u->name.len - !sa.sun_path[0],
		 sa.sun_path + !sa.sun_path[0]);
	snprintf(whose, sizeof(whose), "%s (id %u, '%s')", f->re->path, f->re->id, shown);
	if ((ret = reopen_unix_place(r, &sa, u->has_dir_dev && u->has_dir_ino, u->dir_dev, u->dir_ino, whose, &p, e)) < 0) {
		reopen_unix_place_close(&p);
		return ret;
	}
	if ((sk = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0)) < 0)
		ret = err_errno(e, "make listening socket '%s' again", shown);
	if (ret == 0) {
		if ((ret = reopen_unix_opts(sk, f->re, e)) < 0)
			stale = 0;
		else if ((stale = reopen_unix_clear_stale(&p, &sa)) > 0)
			ret = err_input(e, "unix socket '%s' is in use by a live listener; stop it before the restore", shown);
		else if (stale < 0)
			ret = err_errno(e, "remove the stale socket file '%s'", shown);
		else if (bind(sk, (struct sockaddr *)&sa, len) < 0)
			ret = err_errno(e, "bind listening socket %s (id %u) to '%s' again", f->re->path, f->re->id, shown);
	}
	if (ret == 0 && p.dir >= 0 && u->has_mode && reopen_unix_file_attrs(&p, u) < 0)
		pr_warn("socket file '%s': cannot give it mode %#o and owner %u:%u: %m", shown, u->mode, u->uid, u->gid);
	if (ret == 0 && sa.sun_path[0])
		reopen_unix_made(r, sa.sun_path);
	reopen_unix_place_close(&p);
	if (ret < 0)
		return ret;
	if (u->listening && listen(sk, u->backlog) < 0)
		return err_errno(e, "listen on '%s' again", shown);
	if (fcntl(sk, F_SETFL, f->re->flags & O_NONBLOCK) < 0)
		return err_errno(e, "set the flags of %s", f->re->path);
	pr_debug("file %u: %s %s '%s', backlog %u", f->re->id, f->re->path, u->listening ? "listening on" : "bound to", shown,
		 u->backlog);
	f->fd = TAKE_FD(sk);
	return 0;
}

/* A connection accepted from a listener, made again the way it was made:
 * a new client connects to the name and is accepted, so the server end has
 * the listener's name and the client sees it as its peer. Through the
 * restored listener when the tree still has it (restored first, see
 * reopen_open_all), else through a listener of our own bound to the name
 * for the moment. */
static int reopen_unix_accepted(struct reopen *r, struct reopen_file *server_f, int *client, int *server, struct err *e)
{
	const UnixSocketEntry *su = server_f->re->unix_sk;
	struct sockaddr_un sa;
	socklen_t len = reopen_unix_addr(su, &sa);
	_cleanup_close_ int own = -1, c = -1;
	struct reopen_unix_place p = { -1, "" };
	char whose[256];
	int listener = -1, s = -1, ret;

	if (!len)
		return err_input(e, "%s (id %u) has a name of %zu bytes, or a relative one", server_f->re->path,
				 server_f->re->id, su->name.len);
	for (int i = 0; i < r->nr_files && listener < 0; i++) {
		const UnixSocketEntry *l = r->files[i].re->unix_sk;

		if (l && l->listening && r->files[i].fd >= 0 && l->type == su->type && l->name.len == su->name.len &&
		    !memcmp(l->name.data, su->name.data, su->name.len))
			listener = r->files[i].fd;
	}
	if (listener < 0) {
		/* A socket file only where the dumped listener had it. */
		snprintf(whose, sizeof(whose), "%s (id %u)", server_f->re->path, server_f->re->id);
		if ((ret = reopen_unix_place(r, &sa, su->has_dir_dev && su->has_dir_ino, su->dir_dev, su->dir_ino, whose, &p,
					     e)) < 0) {
			reopen_unix_place_close(&p);
			return ret;
		}
		reopen_unix_clear_stale(&p, &sa);	/* a live one makes the bind below fail */
		own = socket(AF_UNIX, su->type | SOCK_CLOEXEC, 0);
		if (own < 0 || bind(own, (struct sockaddr *)&sa, len) < 0 || listen(own, 1) < 0) {
			ret = err_errno(e, "listen on the name of %s (id %u) for a moment, to connect its peer again",
					server_f->re->path, server_f->re->id);
			reopen_unix_place_close(&p);
			return ret;
		}
		listener = own;
	}
	c = socket(AF_UNIX, su->type | SOCK_CLOEXEC, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&sa, len) < 0)
		ret = err_errno(e, "connect the peer of %s (id %u) again", server_f->re->path, server_f->re->id);
	else if ((s = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
		ret = err_errno(e, "accept the connection of %s (id %u) again", server_f->re->path, server_f->re->id);
	else
		ret = 0;
	if (own >= 0)
		reopen_unix_unlink(&p);
	reopen_unix_place_close(&p);
	if (ret < 0)
		return ret;
	*server = s;
	*client = TAKE_FD(c);
	return 0;
}

/* A listening socket or a bound datagram socket: made in a first pass,
 * since the connections to them are made again through them. */
bool reopen_is_bound(const RegFileEntry *re)
{
	return re->unix_sk && re->unix_sk->has_name &&
	       (re->unix_sk->listening || re->unix_sk->type == SOCK_DGRAM || re->unix_sk->unconnected);
}

/* A datagram socket connected to a bound one of the tree (restored
 * first): connected to its name again. Only its peer could have sent to
 * it, and that peer is bound, not connected back, so nothing waits in it. */
static int reopen_unix_dgram_client(struct reopen_file *f, const struct reopen_file *server, struct err *e)
{
	struct sockaddr_un sa;
	socklen_t len = reopen_unix_addr(server->re->unix_sk, &sa);
	_cleanup_close_ int sk = -1;
	int ret;

	if (!len || f->re->unix_sk->n_queue)
		return err_input(e, "%s (id %u): datagram peer %s cannot be reached again", f->re->path, f->re->id,
				 server->re->path);
	sk = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0 || connect(sk, (struct sockaddr *)&sa, len) < 0)
		return err_errno(e, "connect %s (id %u) to its datagram peer %s again", f->re->path, f->re->id, server->re->path);
	if ((ret = reopen_unix_opts(sk, f->re, e)) < 0)
		return ret;
	if (fcntl(sk, F_SETFL, f->re->flags & O_NONBLOCK) < 0)
		return err_errno(e, "set the flags of %s", f->re->path);
	f->fd = TAKE_FD(sk);
	return 0;
}

/* A socket with no peer of its own yet: an unbound, unconnected datagram
 * socket, or a client whose connection waited in a listener's backlog
 * (connected again once every socket is made, see unixq.c). */
static int reopen_unix_plain(struct reopen_file *f, struct err *e)
{
	const UnixSocketEntry *u = f->re->unix_sk;
	_cleanup_close_ int sk = socket(AF_UNIX, u->type | SOCK_CLOEXEC, 0);
	int ret;

	if (sk < 0)
		return err_errno(e, "make %s (id %u) again", f->re->path, f->re->id);
	if ((ret = reopen_unix_opts(sk, f->re, e)) < 0)
		return ret;
	if (fcntl(sk, F_SETFL, f->re->flags & O_NONBLOCK) < 0)
		return err_errno(e, "set the flags of %s", f->re->path);
	pr_debug("file %u: %s, %s", f->re->id, f->re->path, u->has_listener_ino ? "waiting to be accepted" : "unbound");
	f->fd = TAKE_FD(sk);
	return 0;
}

/* A unix socket pair, made once for both ends (socketpair keeps the two
 * joined); a stream end whose peer had closed gets a peer (f->aux) that
 * is closed again once its data is back. Queues and shutdowns come once
 * every socket is made (unixq.c). */
int reopen_unix(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const UnixSocketEntry *u = f->re->unix_sk;
	struct reopen_file *peer = NULL;
	int sv[2], ret;

	if (f->fd >= 0)
		return 0;	/* made with its peer */
	if (u->has_listener_ino || u->unconnected || (u->type == SOCK_DGRAM && !u->peer_ino && !u->peer_gone))
		return reopen_unix_plain(f, e);

	for (int i = 0; u->peer_ino && i < r->nr_files && !peer; i++)
		if (r->files[i].re->unix_sk && r->files[i].re->unix_sk->ino == u->peer_ino)
			peer = &r->files[i];
	if (u->peer_ino && !peer)
		return err_input(e, "%s (id %u) is joined to socket:[%llu], which is not in files.img", f->re->path, f->re->id,
				 (unsigned long long)u->peer_ino);
	if (peer && peer->re->unix_sk->type != u->type)
		return err_input(e, "%s and its peer %s have different types", f->re->path, peer->re->path);
	if (peer && u->type == SOCK_DGRAM && peer->re->unix_sk->has_name && !u->has_name)
		return reopen_unix_dgram_client(f, peer, e);
	if (!peer && u->has_name && u->type != SOCK_DGRAM) {
		/* The server end of an accepted connection whose client
		 * closed: accepted again from a client that is closed once
		 * the queue is back (f->aux, below). */
		int client = -1, server = -1;

		if ((ret = reopen_unix_accepted(r, f, &client, &server, e)) < 0)
			return ret;
		sv[0] = server;
		sv[1] = client;
	} else if (peer && (u->has_name || peer->re->unix_sk->has_name)) {
		/* An accepted connection: the server end has the listener's name. */
		bool f_named = u->has_name;
		int client = -1, server = -1;

		if ((ret = reopen_unix_accepted(r, f_named ? f : peer, &client, &server, e)) < 0)
			return ret;
		sv[0] = f_named ? server : client;
		sv[1] = f_named ? client : server;
	} else if (socketpair(AF_UNIX, u->type | SOCK_CLOEXEC, 0, sv) < 0) {
		return err_errno(e, "make the socket pair of %s (id %u) again", f->re->path, f->re->id);
	}
	f->fd = sv[0];
	if ((ret = reopen_unix_opts(sv[0], f->re, e)) < 0)
		return ret;
	if (peer) {
		peer->fd = sv[1];
		if ((ret = reopen_unix_opts(sv[1], peer->re, e)) < 0)
			return ret;
		if (fcntl(sv[1], F_SETFL, peer->re->flags & O_NONBLOCK) < 0)
			return err_errno(e, "set the flags of %s", peer->re->path);
	} else {
		f->aux = sv[1];
	}
	if (fcntl(sv[0], F_SETFL, f->re->flags & O_NONBLOCK) < 0)
		return err_errno(e, "set the flags of %s", f->re->path);
	pr_debug("file %u: %s, pair with %s", f->re->id, f->re->path, peer ? peer->re->path : "a closed peer");
	return 0;
}
