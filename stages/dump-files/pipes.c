/* dump-files/pipes.c: what pipes and FIFOs hold, and the check that no
 * pipe is joined to a process outside the tree; see dump-files.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/dump-files/dump-files.h"

/* Saves what a pipe holds, once per pipe, without taking it out: a new
 * description of the pipe (opened through /proc, read-write so it never
 * blocks) is tee'd into a scratch pipe, which is read. One scratch pipe
 * serves every pipe; it is only grown for one that holds more than it can
 * take (many pipes can exhaust a user's pipe pages, and without
 * CAP_SYS_RESOURCE a pipe cannot then be grown). */
static int df_pipe_bytes(struct df *c, pid_t pid, int fd, uint64_t ino, bool fifo, struct err *e);

static int df_pipe_data(struct df *c, pid_t pid, int fd, uint64_t ino, struct err *e)
{
	for (int i = 0; i < c->nr_pipes; i++)
		if (c->pipes[i] == ino)
			return 0;
	if (grow_one(&c->pipes, c->nr_pipes) < 0 || grow_one(&c->pipe_sides, c->nr_pipes) < 0 ||
	    grow_one(&c->pipe_holder, c->nr_pipes) < 0)
		return err_errno(e, "remember pipe %llu", (unsigned long long)ino);
	c->pipe_sides[c->nr_pipes] = 0;
	c->pipe_holder[c->nr_pipes][0] = pid;
	c->pipe_holder[c->nr_pipes][1] = fd;
	c->pipes[c->nr_pipes++] = ino;
	return df_pipe_bytes(c, pid, fd, ino, false, e);
}

/* A FIFO's buffer belongs to its inode, so it is saved once per inode
 * (device and inode: a FIFO's inode number can equal a pipe's). Its ends
 * may be opened by anyone at any time, so unlike a pipe's they are not
 * checked against the rest of the system. */
static int df_fifo_data(struct df *c, pid_t pid, int fd, const struct stat *st, struct err *e)
{
	for (int i = 0; i < c->nr_fifos; i++)
		if (c->fifos[i].dev == st->st_dev && c->fifos[i].ino == st->st_ino)
			return 0;
	if (grow_one(&c->fifos, c->nr_fifos) < 0)
		return err_errno(e, "remember FIFO %llu", (unsigned long long)st->st_ino);
	c->fifos[c->nr_fifos].dev = st->st_dev;
	c->fifos[c->nr_fifos++].ino = st->st_ino;
	return df_pipe_bytes(c, pid, fd, st->st_ino, true, e);
}

static int df_pipe_bytes(struct df *c, pid_t pid, int fd, uint64_t ino, bool fifo, struct err *e)
{
	PipeDataEntry pd = PIPE_DATA_ENTRY__INIT;
	char path[64];
	_cleanup_close_ int p = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	int size, queued = 0;
	ssize_t n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	p = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (p < 0)
		return err_errno(e, "open pipe:[%llu] of pid %d fd %d to read what it holds", (unsigned long long)ino, pid, fd);
	size = fcntl(p, F_GETPIPE_SZ);
	if (size <= 0 || ioctl(p, FIONREAD, &queued) < 0)
		return err_errno(e, "size of pipe:[%llu]", (unsigned long long)ino);
	if (queued > 0) {
		if (c->scratch[0] < 0 && pipe2(c->scratch, O_NONBLOCK | O_CLOEXEC) < 0)
			return err_errno(e, "make a scratch pipe");
		if (fcntl(c->scratch[1], F_GETPIPE_SZ) < queued && fcntl(c->scratch[1], F_SETPIPE_SZ, queued) < 0)
			return err_errno(e, "grow a scratch pipe to copy the %d bytes of pipe:[%llu]", queued, (unsigned long long)ino);
		buf = malloc(queued);
		if (!buf)
			return err_errno(e, "copy pipe:[%llu]", (unsigned long long)ino);
		n = tee(p, c->scratch[1], queued, SPLICE_F_NONBLOCK);
		if (n != queued)
			return err_errno(e, "tee the %d bytes of pipe:[%llu] (got %zd)", queued, (unsigned long long)ino, n);
		if (read(c->scratch[0], buf, n) != n)
			return err_errno(e, "read the copy of pipe:[%llu]", (unsigned long long)ino);
	}
	if (!c->pipedata_open) {
		int ret = image_open_write(&c->pipedata, c->dir_fd, "pipedata", "pipedata.img", e);

		if (ret < 0)
			return ret;
		c->pipedata_open = true;
	}
	pd.pipe_ino = ino;
	pd.has_fifo = pd.fifo = fifo;
	pd.size = size;
	pd.has_data = n > 0;
	pd.data.data = buf;
	pd.data.len = n;
	pr_trace("pipe:[%llu]: %zd bytes buffered, capacity %d", (unsigned long long)ino, n, size);
	return image_write(&c->pipedata, &pd.base, e);
}

int df_pipe_describe(struct df *c, struct df_desc *d, struct err *e)
{
	d->re.has_pipe_ino = true;
	d->re.pipe_ino = d->st->st_ino;
	d->re.has_mnt_id = false;
	return df_pipe_data(c, d->pid, d->fd, d->st->st_ino, e);
}

/* Notes which ends of a pipe the tree holds (a pipe end in flight is one
 * it still has). */
void df_pipe_seen(struct df *c, const struct stat *st, const struct proc_fdinfo *fi)
{
	for (int i = 0; i < c->nr_pipes; i++)
		if (c->pipes[i] == (uint64_t)st->st_ino)
			c->pipe_sides[i] |= (fi->flags & O_ACCMODE) == O_WRONLY ? 2 : (fi->flags & O_ACCMODE) == O_RDONLY ? 1 : 3;
}

/* A named pipe, opened by its path. */
bool df_fifo_match(const char *link, const struct stat *st)
{
	return S_ISFIFO(st->st_mode);
}

int df_fifo_describe(struct df *c, struct df_desc *d, struct err *e)
{
	d->re.has_fifo = d->re.fifo = true;
	/* Removed while open: where it lived, and its owner (mode is there). */
	if (d->st->st_nlink == 0 && df_is_deleted(d->link)) {
		size_t n = strlen(d->link) - strlen(DF_DELETED);

		if (n >= sizeof(d->path))
			return err_input(e, "path of pid %d fd %d is too long", d->pid, d->fd);
		memcpy(d->path, d->link, n);
		d->path[n] = 0;
		d->re.path = d->path;
		d->re.has_deleted = d->re.deleted = true;
		d->re.has_uid = d->re.has_gid = true;
		d->re.uid = d->st->st_uid;
		d->re.gid = d->st->st_gid;
	}
	return df_fifo_data(c, d->pid, d->fd, d->st, e);
}

/* A pipe the tree holds only one end of: is the other end in a process
 * outside the tree? Then the restored end would be cut off from its peer
 * (a writer killed by SIGPIPE, a reader seeing end-of-file), so it is
 * refused like any descriptor amber cannot restore yet. If no process has
 * it, the peer had closed it, which a restore reproduces. */
void df_pipe_check(struct df *c)
{
	_cleanup_closedir_ DIR *proc = NULL;
	struct dirent *de;
	bool one_sided = false;

	for (int i = 0; i < c->nr_pipes; i++)
		one_sided |= c->pipe_sides[i] != 3;
	if (!one_sided || !(proc = opendir("/proc")))
		return;
	while ((de = readdir(proc))) {
		pid_t pid = atoi(de->d_name);
		_cleanup_closedir_ DIR *fds = NULL;
		struct dirent *fe;
		char path[64];
		bool ours = false;

		if (pid <= 0 || pid == getpid())
			continue;
		for (int i = 0; i < c->nr_tree && !ours; i++)
			ours = c->tree[i] == pid;
		if (ours)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		if (!(fds = opendir(path)))
			continue;
		while ((fe = readdir(fds))) {
			char link[64], fpath[96];
			ssize_t n;

			snprintf(fpath, sizeof(fpath), "%s/%s", path, fe->d_name);
			n = readlink(fpath, link, sizeof(link) - 1);
			if (n <= 5 || strncmp(link, "pipe:[", 6))
				continue;
			link[n] = 0;
			for (int i = 0; i < c->nr_pipes; i++) {
				char why[256];

				if (c->pipe_sides[i] == 3 || strtoull(link + 6, NULL, 10) != c->pipes[i])
					continue;
				snprintf(why, sizeof(why), "its other end is held by pid %d (fd %s) outside the dumped tree; "
					 "dump with --external pipe[%llu] and give a pipe back at restore with "
					 "--inherit-fd fd[N]:pipe:[%llu]", pid, fe->d_name, (unsigned long long)c->pipes[i],
					 (unsigned long long)c->pipes[i]);
				df_refuse(c, c->pipe_holder[i][0], c->pipe_holder[i][1], link, why);
				c->pipe_sides[i] = 3;	/* once per pipe */
			}
		}
	}
}
