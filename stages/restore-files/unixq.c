/* restore-files/unixq.c: what waited in the tree's unix sockets, put back
 * once every file is open: each queue entry sent again with its files in
 * flight (SCM_RIGHTS), a datagram from its sender's name; the clients that
 * waited in a listener's backlog connected again with what they had sent;
 * bound datagram sockets connected again; shutdowns last. See reopen.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

#define UNIXQ_MAX_FDS 253	/* SCM_MAX_FD */

/* The file of files.img with this id, or NULL (the plan is sorted by id). */
static struct reopen_file *unixq_file(const struct reopen *r, uint32_t id)
{
	int lo = 0, hi = r->nr_files - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (r->files[mid].re->id == id)
			return &r->files[mid];
		if (r->files[mid].re->id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The unix socket of files.img with this inode (not an embryo), or NULL. */
static struct reopen_file *unixq_by_ino(const struct reopen *r, uint64_t ino, bool embryo_peer)
{
	for (int i = 0; i < r->nr_files; i++) {
		const UnixSocketEntry *u = r->files[i].re->unix_sk;

		if (u && !embryo_peer && !u->embryo && u->ino == ino)
			return &r->files[i];
		if (u && embryo_peer && u->embryo && u->peer_ino == ino)
			return &r->files[i];
	}
	return NULL;
}

int reopen_unix_mark_inflight(struct reopen *r, struct err *e)
{
	for (int i = 0; i < r->nr_files; i++) {
		const UnixSocketEntry *u = r->files[i].re->unix_sk;

		for (size_t n = 0; u && n < u->n_notes; n++) {
			if (u->notes[n]->index >= u->n_queue)
				return err_input(e, "files.img: %s (id %u) has a note for queue entry %u of %zu", r->files[i].re->path,
						 r->files[i].re->id, u->notes[n]->index, u->n_queue);
			if (u->notes[n]->n_fds > UNIXQ_MAX_FDS)
				return err_input(e, "files.img: %s (id %u) has %zu files in flight in one message",
						 r->files[i].re->path, r->files[i].re->id, u->notes[n]->n_fds);
			for (size_t k = 0; k < u->notes[n]->n_fds; k++) {
				struct reopen_file *f = unixq_file(r, u->notes[n]->fds[k]);

				if (!f)
					return err_input(e, "files.img: %s (id %u) has file %u in flight, which files.img lacks",
							 r->files[i].re->path, r->files[i].re->id, u->notes[n]->fds[k]);
				f->inflight = true;
			}
		}
	}
	return 0;
}

/* The note of queue entry i, or NULL. */
static const UnixQueueNote *unixq_note(const UnixSocketEntry *u, size_t i)
{
	for (size_t n = 0; n < u->n_notes; n++)
		if (u->notes[n]->index == i)
			return u->notes[n];
	return NULL;
}

/* Sends queue entry i of f's socket from sk (to sa if given), with the
 * files that were in flight with it. Non-blocking: a queue that no longer
 * fits must be an error, not a hang. */
static int unixq_send(const struct reopen *r, const struct reopen_file *f, size_t i, int sk, const struct sockaddr_un *sa,
		      socklen_t salen, struct err *e)
{
	const UnixSocketEntry *u = f->re->unix_sk;
	const UnixQueueNote *note = unixq_note(u, i);
	union {
		char buf[CMSG_SPACE(sizeof(int) * UNIXQ_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { u->queue[i].data, u->queue[i].len };
	struct msghdr mh = { .msg_name = (void *)sa, .msg_namelen = sa ? salen : 0, .msg_iov = &iov, .msg_iovlen = 1 };

	if (note && note->n_fds) {
		struct cmsghdr *cm;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * note->n_fds);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * note->n_fds);
		for (size_t k = 0; k < note->n_fds; k++) {
			const struct reopen_file *in = unixq_file(r, note->fds[k]);

			if (!in || in->fd < 0)
				return err_input(e, "file %u, in flight in %s (id %u), was not opened", note->fds[k], f->re->path,
						 f->re->id);
			((int *)CMSG_DATA(cm))[k] = in->fd;
		}
	}
	if (sendmsg(sk, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)u->queue[i].len)
		return err_errno(e, "put %zu queued bytes%s back into %s (id %u)", u->queue[i].len,
				 note && note->n_fds ? " and their files in flight" : "", f->re->path, f->re->id);
	return 0;
}

/* Sends one datagram to bound socket f from a socket with the name of its
 * sender: the tree's own socket with that name, or one bound to it for the
 * moment (the sender is gone: nobody may hold the name now); an unbound
 * one when the sender had no name. */
static int unixq_send_from(const struct reopen *r, const struct reopen_file *f, size_t i, const struct sockaddr_un *to,
			   socklen_t tolen, struct err *e)
{
	const UnixQueueNote *note = unixq_note(f->re->unix_sk, i);
	UnixSocketEntry name = UNIX_SOCKET_ENTRY__INIT;
	struct reopen_unix_place p = { -1, "" };
	struct sockaddr_un sa;
	socklen_t len;
	_cleanup_close_ int tmp = -1;
	char whose[256];
	int stale, ret;

	if (note && note->has_from) {
		for (int k = 0; k < r->nr_files; k++) {
			const UnixSocketEntry *s = r->files[k].re->unix_sk;

			if (s && r->files[k].fd >= 0 && s->has_name && s->type == SOCK_DGRAM && s->name.len == note->from.len &&
			    !memcmp(s->name.data, note->from.data, note->from.len))
				return unixq_send(r, f, i, r->files[k].fd, to, tolen, e);
		}
	}
	if ((tmp = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return err_errno(e, "make a socket to send %s (id %u) its datagrams again", f->re->path, f->re->id);
	if (!note || !note->has_from)
		return unixq_send(r, f, i, tmp, to, tolen, e);
	name.has_name = true;
	name.name = note->from;
	if (!(len = reopen_unix_addr(&name, &sa)))
		return err_input(e, "files.img: %s (id %u): a datagram's sender name has %zu bytes, or is a relative path",
				 f->re->path, f->re->id, note->from.len);
	/* A socket file only where the dumped sender had it. */
	snprintf(whose, sizeof(whose), "%s (id %u), the sender of a datagram waiting in it", f->re->path, f->re->id);
	if ((ret = reopen_unix_place(r, &sa, note->has_from_dir_dev && note->has_from_dir_ino, note->from_dir_dev,
				     note->from_dir_ino, whose, &p, e)) < 0) {
		reopen_unix_place_close(&p);
		return ret;
	}
	if ((stale = reopen_unix_clear_stale(&p, &sa)) != 0 || bind(tmp, (struct sockaddr *)&sa, len) < 0) {
		ret = err_input(e, "%s (id %u): a datagram waiting in it came from '%s%.*s', a name a live socket outside "
				"the tree holds now (or that cannot be bound: %s); it cannot be sent from that name again",
				f->re->path, f->re->id, sa.sun_path[0] ? "" : "@", (int)note->from.len - !sa.sun_path[0],
				sa.sun_path + !sa.sun_path[0], stale ? "in use" : strerror(errno));
		reopen_unix_place_close(&p);
		return ret;
	}
	ret = unixq_send(r, f, i, tmp, to, tolen, e);
	reopen_unix_unlink(&p);
	reopen_unix_place_close(&p);
	return ret;
}

/* Puts back what waited at f: a bound datagram socket's datagrams from
 * their senders' names; a pair end's queue from its peer (or from its
 * closed peer's stand-in, closed afterwards). */
static int unixq_refill(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const UnixSocketEntry *u = f->re->unix_sk;
	const struct reopen_file *peer = u->peer_ino ? unixq_by_ino(r, u->peer_ino, false) : NULL;
	int ret;

	if (reopen_is_bound(f->re) && !u->listening) {
		struct sockaddr_un to;
		socklen_t tolen = reopen_unix_addr(u, &to);

		for (size_t i = 0; i < u->n_queue; i++)
			if ((ret = unixq_send_from(r, f, i, &to, tolen, e)) < 0)
				return ret;
		return 0;
	}
	if (!u->n_queue)
		return 0;
	if (!(peer && peer->fd >= 0) && f->aux < 0)
		return err_input(e, "%s (id %u) holds %zu queue entries, but nothing is left to send them from",
				 f->re->path, f->re->id, u->n_queue);
	for (size_t i = 0; i < u->n_queue; i++)
		if ((ret = unixq_send(r, f, i, peer && peer->fd >= 0 ? peer->fd : f->aux, NULL, 0, e)) < 0)
			return ret;
	return 0;
}

/* Connects the clients that waited in listener l's backlog again, in the
 * order accept() is to take them, each sending what it had sent. */
static int unixq_backlog(struct reopen *r, const struct reopen_file *l, struct err *e)
{
	const UnixSocketEntry *u = l->re->unix_sk;
	struct sockaddr_un sa;
	socklen_t len = reopen_unix_addr(u, &sa);
	int ret;

	for (size_t i = 0; i < u->n_waiting; i++) {
		struct reopen_file *c = unixq_by_ino(r, u->waiting[i], false), *emb = unixq_by_ino(r, u->waiting[i], true);

		if (!c || c->fd < 0)
			return err_input(e, "socket:[%llu], waiting to be accepted at %s (id %u), is %s",
					 (unsigned long long)u->waiting[i], l->re->path, l->re->id,
					 c ? "held by no task" : "not in files.img");
		if (connect(c->fd, (struct sockaddr *)&sa, len) < 0)
			return err_errno(e, "connect %s (id %u) to %s (id %u) again, to wait in its backlog", c->re->path,
					 c->re->id, l->re->path, l->re->id);
		for (size_t q = 0; emb && q < emb->re->unix_sk->n_queue; q++)
			if ((ret = unixq_send(r, emb, q, c->fd, NULL, 0, e)) < 0)
				return ret;
		pr_debug("file %u: %s waits again at %s, with %zu entries sent", c->re->id, c->re->path, l->re->path,
			 emb ? emb->re->unix_sk->n_queue : 0);
	}
	return 0;
}

/* A bound datagram socket that was connected: to its peer's name again. */
static int unixq_connect_bound(struct reopen *r, const struct reopen_file *f, struct err *e)
{
	const struct reopen_file *peer = unixq_by_ino(r, f->re->unix_sk->peer_ino, false);
	struct sockaddr_un sa;
	socklen_t len = peer ? reopen_unix_addr(peer->re->unix_sk, &sa) : 0;

	if (!len)
		return err_input(e, "%s (id %u) was connected to socket:[%llu], which has no name in files.img", f->re->path,
				 f->re->id, (unsigned long long)f->re->unix_sk->peer_ino);
	if (connect(f->fd, (struct sockaddr *)&sa, len) < 0)
		return err_errno(e, "connect %s (id %u) to %s (id %u) again", f->re->path, f->re->id, peer->re->path, peer->re->id);
	return 0;
}

/* Shuts f down as it was. For a stream or seqpacket pair, SHUT_WR on one
 * end is what stops the other end reading too, so reading is only shut
 * where the peer's writing was not. A closed peer's end had both already. */
static int unixq_shutdown(struct reopen *r, const struct reopen_file *f, struct err *e)
{
	const UnixSocketEntry *u = f->re->unix_sk;
	const struct reopen_file *peer = u->peer_ino && !reopen_is_bound(f->re) ? unixq_by_ino(r, u->peer_ino, false) : NULL;
	bool peer_wr = peer && u->type != SOCK_DGRAM && (peer->re->unix_sk->shutdown & 2);

	if (!u->shutdown || (u->type != SOCK_DGRAM && !u->peer_ino && !u->has_listener_ino))
		return 0;
	if ((u->shutdown & 2) && shutdown(f->fd, SHUT_WR) < 0)
		return err_errno(e, "shut %s (id %u) for writing", f->re->path, f->re->id);
	if ((u->shutdown & 1) && !peer_wr && shutdown(f->fd, SHUT_RD) < 0)
		return err_errno(e, "shut %s (id %u) for reading", f->re->path, f->re->id);
	return 0;
}

/* Is f a unix socket this stage made? */
static bool unixq_made_here(const struct reopen_file *f)
{
	return f->re->unix_sk && !f->inherit;
}

/* Each pass below is one of reopen_ns_each: the sockets of one mount
 * namespace, where their names (paths) are bound and connected to. The
 * queues first. */
static int unixq_refill_all(struct reopen *r, struct err *e)
{
	int ret;

	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];

		if (f->fd < 0 || f->inherit || !f->re->unix_sk || !reopen_ns_here(r, f->pid))
			continue;
		if ((ret = unixq_refill(r, f, e)) < 0)
			return ret;
		if (f->aux >= 0) {
			close(f->aux);
			f->aux = -1;
		}
	}
	return 0;
}

/* Then the clients waiting in backlogs. */
static int unixq_backlog_all(struct reopen *r, struct err *e)
{
	int ret;

	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];

		if (f->fd >= 0 && !f->inherit && f->re->unix_sk && f->re->unix_sk->listening && f->re->unix_sk->n_waiting &&
		    reopen_ns_here(r, f->pid) && (ret = unixq_backlog(r, f, e)) < 0)
			return ret;
	}
	return 0;
}

/* Then connections of bound datagram sockets, and shutdowns. */
static int unixq_connect_all(struct reopen *r, struct err *e)
{
	int ret;

	for (int i = 0; i < r->nr_files; i++) {
		struct reopen_file *f = &r->files[i];

		if (f->fd < 0 || f->inherit || !f->re->unix_sk || !reopen_ns_here(r, f->pid))
			continue;
		if (reopen_is_bound(f->re) && !f->re->unix_sk->listening && f->re->unix_sk->peer_ino &&
		    (ret = unixq_connect_bound(r, f, e)) < 0)
			return ret;
		if ((ret = unixq_shutdown(r, f, e)) < 0)
			return ret;
	}
	return 0;
}

int reopen_unix_finish(struct reopen *r, struct err *e)
{
	int ret;

	if ((ret = reopen_ns_each(r, unixq_refill_all, unixq_made_here, "put back what waited in unix sockets", e)) < 0 ||
	    (ret = reopen_ns_each(r, unixq_backlog_all, unixq_made_here,
				  "connect the clients waiting in unix listeners' backlogs", e)) < 0)
		return ret;
	return reopen_ns_each(r, unixq_connect_all, unixq_made_here, "connect bound datagram sockets and shut sockets down", e);
}
