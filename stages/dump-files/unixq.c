/* dump-files/unixq.c: what waits to be read at a unix socket, peeked at
 * without taking it: the bytes, the name of each datagram's bound sender,
 * and the files in flight (SCM_RIGHTS), which become files.img records of
 * their own; see dump-files.h. */
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
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/dump-files/dump-files.h"

#define UNIXQ_MAX_FDS 253	/* SCM_MAX_FD */
#define UNIXQ_MAX_EMPTIES 4096	/* empty datagrams in a row peeked at, at most */

/* Room for the files and the credentials one message can carry. */
union unixq_ctl {
	char buf[CMSG_SPACE(sizeof(int) * UNIXQ_MAX_FDS) + CMSG_SPACE(sizeof(struct ucred))];
	struct cmsghdr align;
};

/* The files.img id of a file in flight that peeking installed here as fd:
 * a kind that may be in flight (a regular file, a memfd, a pipe end or a
 * socket), described like a descriptor of the tree (one that shares its
 * open file description gets its id). Anything else sets *why. */
static int unixq_inflight(struct df *c, pid_t pid, int fd, int copy, uint32_t *id, char *why, size_t whylen,
			  struct err *e)
{
	char path[64], link[PATH_MAX];
	const struct df_kind *k;
	struct proc_fdinfo fi;
	struct stat st;
	bool added;
	ssize_t n;
	pid_t self = getpid(), via_pid = c->via_pid;
	int via_fd = c->via_fd, ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", self, copy);
	if ((n = readlink(path, link, sizeof(link) - 1)) < 0 || stat(path, &st) < 0)
		return err_errno(e, "pid %d fd %d: look at a file in flight in its queue", pid, fd);
	link[n] = 0;
	k = df_kind_of(c, link, &st);
	if (!k || !k->in_flight) {
		snprintf(why, whylen, "a file in flight in its queue (SCM_RIGHTS) is '%s'; only regular files, pipes and "
			 "sockets are supported in flight", link);
		return 0;
	}
	if ((ret = proc_read_fdinfo(self, copy, &fi, e)) < 0)
		return ret;
	if (fi.nr_locks) {
		snprintf(why, whylen, "a file in flight in its queue (SCM_RIGHTS), '%s', holds a lock, which is not "
			 "supported in flight", link);
		return 0;
	}
	c->via_pid = pid;
	c->via_fd = fd;
	ret = df_file_id(c, k, self, copy, link, &st, &fi, NULL, id, &added, e);
	c->via_pid = via_pid;
	c->via_fd = via_fd;
	if (ret < 0)
		return ret;
	/* A pipe end in flight is an end the tree still has. */
	if (k->seen)
		k->seen(c, &st, &fi);
	pr_debug("pid %d fd %d: '%s' in flight in its queue is file %u", pid, fd, link, *id);
	return 0;
}

/* The files of one SCM_RIGHTS message: each kept, described, and its id put
 * into note->fds; a failure closes the rest. */
static int unixq_take_fds(struct df *c, pid_t pid, int fd, struct msghdr *mh, UnixQueueNote *note, struct df_usk *k,
			  const char **why, struct err *e)
{
	int ret = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		size_t nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		if (ret >= 0 && grow_by(&note->fds, note->n_fds, nr) < 0)
			ret = err_errno(e, "pid %d fd %d: remember the files in flight", pid, fd);
		for (size_t i = 0; i < nr; i++) {
			int copy = ((int *)CMSG_DATA(cm))[i];

			if (ret < 0 || *why) {
				close(copy);
				continue;
			}
			if ((ret = df_keep_fd(c, copy, e)) < 0)
				continue;	/* closed by df_keep_fd */
			ret = unixq_inflight(c, pid, fd, copy, &note->fds[note->n_fds], k->why, sizeof(k->why), e);
			if (ret >= 0 && k->why[0])
				*why = k->why;
			else if (ret >= 0)
				note->n_fds++;
		}
	}
	return ret;
}

/* Appends one queue entry of n bytes at offset 'used' of k->buf. */
static int unixq_add_entry(struct df_usk *k, size_t used, size_t n, struct err *e)
{
	if (grow_one(&k->q, k->u.n_queue) < 0)
		return err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
	k->q[k->u.n_queue].len = n;
	k->q[k->u.n_queue].data = (uint8_t *)(uintptr_t)used;	/* an offset until the buffer stops moving */
	k->u.n_queue++;
	return 0;
}

/* A note for the last queue entry. */
static UnixQueueNote *unixq_note(struct df_usk *k, struct err *e)
{
	if (grow_one(&k->notes, k->u.n_notes) < 0) {
		err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
		return NULL;
	}
	unix_queue_note__init(&k->notes[k->u.n_notes]);
	k->notes[k->u.n_notes].index = k->u.n_queue - 1;
	return &k->notes[k->u.n_notes++];
}

/* One peeked message into k: a datagram is an entry of its own (with a note
 * for its sender's name or files); stream bytes join the run before them,
 * except that files end a run: they go with its last byte, an entry of its
 * own. Where the message that carried them started cannot be told: a
 * stream peek goes on past the end of what was asked for to the next
 * message with files (so any offset before it "has" them), and stops after
 * it. Delivered with the last byte, they come with the read that reaches
 * the end of that message, never earlier than they would have. */
static int unixq_add(struct df *c, pid_t pid, int fd, int type, size_t used, ssize_t n, struct msghdr *mh,
		     bool *run_open, struct df_usk *k, const char **why, struct err *e)
{
	const struct sockaddr_un *from = mh->msg_name;
	bool fds = false;
	UnixQueueNote *note;
	int ret;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
		fds |= cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS;
	if (type == SOCK_STREAM && fds) {
		if (n > 1 && *run_open)
			k->q[k->u.n_queue - 1].len += n - 1;
		else if (n > 1 && (ret = unixq_add_entry(k, used, n - 1, e)) < 0)
			return ret;
		used += n - 1;
		n = 1;
		*run_open = false;
	} else if (type == SOCK_STREAM && *run_open) {
		k->q[k->u.n_queue - 1].len += n;	/* stream bytes are one run */
		return 0;
	}
	if ((ret = unixq_add_entry(k, used, n, e)) < 0)
		return ret;
	*run_open = type == SOCK_STREAM && !fds;
	if (!fds && !(type != SOCK_STREAM && mh->msg_namelen > sizeof(sa_family_t)))
		return 0;
	if (!(note = unixq_note(k, e)))
		return -ENOMEM;
	if (type != SOCK_STREAM && mh->msg_namelen > sizeof(sa_family_t)) {
		/* From a bound sender: recvfrom gives its name, which it must have again. */
		size_t len = mh->msg_namelen - sizeof(sa_family_t);

		if (!(note->from.data = malloc(len)))
			return err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
		memcpy(note->from.data, from->sun_path, len);
		note->from.len = len;
		note->has_from = true;
		note->has_from_dir_dev = note->has_from_dir_ino =
			df_unix_dir(note->from.data, len, &note->from_dir_dev, &note->from_dir_ino);
	}
	return fds ? unixq_take_fds(c, pid, fd, mh, note, k, why, e) : 0;
}

int df_unix_queue(struct df *c, pid_t pid, int fd, int sk, int type, struct df_usk *k, const char **why,
		  struct err *e)
{
	size_t cap = 256 * 1024, used = 0;
	int zero = 0, old = -1;
	socklen_t len = sizeof(old);
	bool run_open = false;
	int ret = 0, empties = 0;

	if (!(k->buf = malloc(cap)))
		return err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
	getsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, &len);
	if (setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
		return err_errno(e, "set a peek offset on socket:[%llu]", (unsigned long long)k->u.ino);
	while (!*why) {
		union unixq_ctl ctl;
		struct sockaddr_un from;
		struct iovec iov = { k->buf + used, cap - used };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
		int off = used;
		ssize_t n;

		/* At least 64 KiB of room for each peek (iov is set again). */
		if (cap - used < 64 * 1024) {
			if (grow_cap(&k->buf, &cap, used + 64 * 1024) < 0) {
				ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
				break;
			}
			continue;
		}
		/* Set each time, in case a peek moved it otherwise. */
		setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof(off));
		n = recvmsg(sk, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			ret = err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
			break;
		}
		if (mh.msg_flags & MSG_CTRUNC) {
			for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
				for (size_t i = 0; cm->cmsg_type == SCM_RIGHTS && i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
					close(((int *)CMSG_DATA(cm))[i]);
			*why = "a message in its queue carries more files than amber can peek at";
			break;
		}
		if (n == 0 && type == SOCK_STREAM)
			break;
		/* An empty datagram is an entry of its own. The kernel marks an
		 * empty one peeked and skips it at the same offset next time
		 * (__skb_try_recv_from_queue), so the next peek finds the one
		 * after; a bound keeps a kernel that does not from looping. */
		if (n == 0 && ++empties > UNIXQ_MAX_EMPTIES) {
			*why = "it holds more empty datagrams in a row than amber can peek past";
			break;
		}
		if (n > 0)
			empties = 0;
		if ((size_t)n == cap - used && type == SOCK_STREAM && mh.msg_controllen) {
			*why = "a message with files in flight in its queue is too large to peek at whole";
			break;
		}
		if ((ret = unixq_add(c, pid, fd, type, used, n, &mh, &run_open, k, why, e)) < 0)
			break;
		used += n;
	}
	setsockopt(sk, SOL_SOCKET, SO_PEEK_OFF, &old, sizeof(old));
	for (size_t i = 0; i < k->u.n_queue; i++)
		k->q[i].data = k->buf + (uintptr_t)k->q[i].data;
	k->u.queue = k->q;
	if (k->u.n_notes && !(k->notep = malloc(sizeof(*k->notep) * k->u.n_notes)))
		return err_errno(e, "peek at socket:[%llu]", (unsigned long long)k->u.ino);
	for (size_t i = 0; i < k->u.n_notes; i++)
		k->notep[i] = &k->notes[i];
	k->u.notes = k->notep;
	return ret;
}

void df_usk_free(struct df_usk *k)
{
	for (size_t i = 0; k->notes && i < k->u.n_notes; i++) {
		free(k->notes[i].from.data);
		free(k->notes[i].fds);
	}
	free(k->notes);
	free(k->notep);
	free(k->q);
	free(k->buf);
	k->notes = NULL;
	k->notep = NULL;
	k->q = NULL;
	k->buf = NULL;
	k->u.n_notes = 0;
	k->u.n_queue = 0;
}
