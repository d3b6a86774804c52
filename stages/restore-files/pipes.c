/* restore-files/pipes.c: pipes and FIFOs made again (split from reopen.c):
 * a pipe per dumped pipe inode, its saved bytes put back with its
 * capacity, each end handed to the descriptions of that end; a FIFO
 * opened by its path (or made again unnamed when its path was removed),
 * refilled once. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "images/image.h"
#include "lib/exitcodes.h"
#include "ipc/fdpass.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

/* Puts a pipe's saved bytes back and gives it its capacity. Non-blocking:
 * a pipe made smaller than its data (the user's pipe pages ran out) must be
 * an error, not a hang. */
static int reopen_pipe_refill(int wfd, const PipeDataEntry *d, struct err *e)
{
	int fl = fcntl(wfd, F_GETFL);
	ssize_t n;

	if (fcntl(wfd, F_GETPIPE_SZ) != (int)d->size && fcntl(wfd, F_SETPIPE_SZ, d->size) < 0)
		pr_debug("pipe:[%llu]: cannot give it its %u-byte capacity (%m)", (unsigned long long)d->pipe_ino, d->size);
	if (!d->has_data || !d->data.len)
		return 0;
	fcntl(wfd, F_SETFL, fl | O_NONBLOCK);
	n = write(wfd, d->data.data, d->data.len);
	fcntl(wfd, F_SETFL, fl);
	if (n != (ssize_t)d->data.len)
		return err_errno(e, "put %zu bytes back into %s %llu (capacity %d; raise /proc/sys/fs/pipe-user-pages-soft?)",
				 d->data.len, d->fifo ? "FIFO" : "pipe", (unsigned long long)d->pipe_ino, fcntl(wfd, F_GETPIPE_SZ));
	return 0;
}

/* A FIFO that is not empty now was written to since the dump (by someone
 * outside the tree): refilling it would mix old and new bytes. */
static int reopen_pipe_check_fifo(const RegFileEntry *re, int fd, struct err *e)
{
	struct stat st;
	int queued = 0;

	if (fstat(fd, &st) < 0 || ioctl(fd, FIONREAD, &queued) < 0)
		return err_errno(e, "inspect FIFO '%s' (id %u)", re->path, re->id);
	if (!S_ISFIFO(st.st_mode))
		return reopen_changed_type(re, st.st_mode, e);
	if (queued)
		return err_input(e, "FIFO '%s' (id %u) holds %d bytes that were written since the dump; drain it before the restore",
				 re->path, re->id, queued);
	return 0;
}

/* The pipe with this inode, made (and refilled with what it held) the first
 * time a description of it is opened. */
static int reopen_pipe_get(struct reopen *r, uint64_t ino, struct reopen_pipe **out, struct err *e)
{
	struct reopen_pipe *p = NULL;
	int fds[2], ret;

	for (int i = 0; i < r->nr_pipes; i++)
		if (r->pipes[i].ino == ino && !r->pipes[i].data->fifo)
			p = &r->pipes[i];
	if (!p)
		return err_input(e, "pipe:[%llu] is in files.img but pipedata.img does not have it", (unsigned long long)ino);
	if (p->end[0] < 0) {
		const PipeDataEntry *d = p->data;

		if (pipe2(fds, O_CLOEXEC) < 0)
			return err_errno(e, "make pipe:[%llu] again", (unsigned long long)ino);
		p->end[0] = fds[0];
		p->end[1] = fds[1];
		if ((ret = reopen_pipe_refill(fds[1], d, e)) < 0)
			return ret;
	}
	*out = p;
	return 0;
}

/* Opens one description of a FIFO by its path. The first opener makes a
 * read-write holder of the FIFO, which never blocks and puts the saved
 * bytes back; then each description opens without blocking (a writer
 * finds the holder as its reader), and gets its own flags back. The holder
 * is closed once every description is open, so ends nobody held stay
 * closed. */
/* A FIFO removed while open, made again unnamed: made under a hidden name
 * in the directory it lived in (or /tmp), opened read-write, the name
 * removed at once, then given its owner and mode. */
static int reopen_fifo_make(const RegFileEntry *re, int *out, struct err *e)
{
	const char *slash = strrchr(re->path, '/');
	char dir[PATH_MAX], name[PATH_MAX + 64];
	_cleanup_close_ int fd = -1;

	snprintf(dir, sizeof(dir), "%.*s", slash && slash != re->path ? (int)(slash - re->path) : 1, re->path);
	snprintf(name, sizeof(name), "%s/.amber-fifo.%llu.%d", dir, (unsigned long long)re->inode, getpid());
	if (mkfifo(name, 0600) < 0) {
		pr_warn("file %u: cannot make FIFO '%s' again in '%s' (%m): using /tmp", re->id, re->path, dir);
		snprintf(name, sizeof(name), "/tmp/.amber-fifo.%llu.%d", (unsigned long long)re->inode, getpid());
		if (mkfifo(name, 0600) < 0)
			return err_errno(e, "make the removed FIFO '%s' (id %u) again as '%s'", re->path, re->id, name);
	}
	fd = open(name, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		unlinkat(AT_FDCWD, name, 0);
		errno = err;
		return err_errno(e, "open the remade FIFO '%s' (id %u)", name, re->id);
	}
	if (unlinkat(AT_FDCWD, name, 0) < 0)
		return err_errno(e, "remove the name '%s' of the remade FIFO '%s'", name, re->path);
	if (re->has_uid && re->has_gid && fchown(fd, re->uid, re->gid) < 0)
		return err_errno(e, "give the remade FIFO '%s' (id %u) its owner %u:%u", re->path, re->id, re->uid, re->gid);
	if (re->has_mode && fchmod(fd, re->mode & 07777) < 0)
		return err_errno(e, "give the remade FIFO '%s' (id %u) its mode %#o", re->path, re->id, re->mode & 07777);
	*out = TAKE_FD(fd);
	return 0;
}

int reopen_fifo(struct reopen *r, struct reopen_file *f, const char *path, int flags, struct err *e)
{
	char self[64];
	const RegFileEntry *re = f->re;
	struct reopen_pipe *p = NULL;
	_cleanup_close_ int fd = -1;
	int ret;

	for (int i = 0; i < r->nr_pipes; i++)
		if (r->pipes[i].ino == re->inode && r->pipes[i].data->fifo)
			p = &r->pipes[i];
	if (!p)
		return err_input(e, "FIFO '%s' (id %u) is in files.img but pipedata.img does not have it", re->path, re->id);
	if (p->end[0] < 0 && re->deleted) {
		if ((ret = reopen_fifo_make(re, &p->end[0], e)) < 0 || (ret = reopen_pipe_refill(p->end[0], p->data, e)) < 0)
			return ret;
	} else if (p->end[0] < 0) {
		p->end[0] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (p->end[0] < 0 && errno == ENOENT)
			return err_input(e, "FIFO '%s' (id %u) of pid %d fd %u is missing; make it again (mkfifo) or "
					 "restore where it exists", re->path, re->id, f->pid, f->tfd);
		if (p->end[0] < 0)
			return err_errno(e, "open FIFO '%s' (id %u) to refill it", path, re->id);
		if ((ret = reopen_pipe_check_fifo(re, p->end[0], e)) < 0 || (ret = reopen_pipe_refill(p->end[0], p->data, e)) < 0)
			return ret;
	}
	/* A removed one is reached through the end held. */
	if (re->deleted) {
		snprintf(self, sizeof(self), "/proc/self/fd/%d", p->end[0]);
		path = self;
	}
	fd = open(path, (re->deleted ? flags & ~O_NOFOLLOW : flags) | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, "open FIFO '%s' (id %u) of pid %d fd %u with flags %#o", path, re->id, f->pid, f->tfd, flags);
	if (fcntl(fd, F_SETFL, re->flags & (O_NONBLOCK | O_APPEND | O_DIRECT | O_NOATIME | O_ASYNC)) < 0)
		return err_errno(e, "set the flags %#o of FIFO '%s'", re->flags, path);
	pr_debug("file %u: FIFO '%s' flags %#o", re->id, path, flags);
	f->fd = TAKE_FD(fd);
	return 0;
}

/* Opens one description of a pipe: the pipe's own end for the first one
 * of each side, a new description of that end (through /proc) for the
 * others, so descriptions that were distinct stay distinct. */
int reopen_pipe_end(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	int acc = re->flags & O_ACCMODE, side = acc == O_WRONLY ? 1 : 0, fd, ret;
	struct reopen_pipe *p = NULL;

	if ((ret = reopen_pipe_get(r, re->pipe_ino, &p, e)) < 0)
		return ret;
	if (acc != O_RDWR && !p->end_given[side]) {
		fd = p->end[side];
		p->end_given[side] = true;
	} else {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", p->end[side]);
		fd = open(path, acc | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, "open another description of pipe:[%llu]", (unsigned long long)re->pipe_ino);
	}
	if (fcntl(fd, F_SETFL, re->flags & (O_NONBLOCK | O_DIRECT)) < 0)
		return err_errno(e, "set the flags %#o of pipe:[%llu]", re->flags, (unsigned long long)re->pipe_ino);
	f->fd = fd;
	pr_trace("file %u: pipe:[%llu] %s end, flags %#o", re->id, (unsigned long long)re->pipe_ino,
		 side ? "write" : "read", re->flags);
	return 0;
}

/* Reads pipedata.img, if the dump has pipes. */
int reopen_load_pipes(struct reopen *r, struct err *e)
{
	struct image img;
	PipeDataEntry *d;
	int ret = image_open_read(&img, r->dir_fd, "pipedata", "pipedata.img", e);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&d, e)) > 0) {
		if (grow_one(&r->pipes, r->nr_pipes) < 0) {
			pipe_data_entry__free_unpacked(d, NULL);
			ret = err_errno(e, "read pipedata.img");
			break;
		}
		r->pipes[r->nr_pipes++] = (struct reopen_pipe){ d->pipe_ino, { -1, -1 }, { false, false }, d };
	}
	image_close(&img);
	return ret;
}
