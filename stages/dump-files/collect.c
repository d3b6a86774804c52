/* collect: see collect.h. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/remap.h"
#include "lib/sockdiag.h"
#include "stages/dump-files/collect.h"

#define COLLECT_DELETED " (deleted)"

int collect_open(struct collect *c, int dir_fd, uint64_t ghost_limit, bool file_locks, struct err *e)
{
	memset(c, 0, sizeof(*c));
	c->dir_fd = dir_fd;
	c->scratch[0] = c->scratch[1] = -1;
	c->ghost_limit = ghost_limit;
	c->file_locks = file_locks;
	c->pidfd = -1;
	c->files.fd = -1;
	c->nr_buckets = 256;
	c->buckets = malloc(sizeof(*c->buckets) * c->nr_buckets);
	if (!c->buckets)
		return err_errno(e, "allocate the open files table");
	memset(c->buckets, 0xff, sizeof(*c->buckets) * c->nr_buckets);
	return image_open_write(&c->files, dir_fd, "files", "files.img", e);
}

void collect_free(struct collect *c)
{
	image_close(&c->files);
	if (c->pipedata_open)
		image_close(&c->pipedata);
	c->pipedata_open = false;
	if (c->scratch[0] >= 0) {
		close(c->scratch[0]);
		close(c->scratch[1]);
		c->scratch[0] = c->scratch[1] = -1;
	}
	free(c->pipes);
	free(c->fifos);
	free(c->owners);
	c->owners = NULL;
	free(c->socks);
	c->socks = NULL;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	free(c->pipe_sides);
	free(c->pipe_holder);
	free(c->tree);
	if (c->remaps_open)
		image_close(&c->remaps);
	c->remaps_open = false;
	for (int i = 0; i < c->nr_links; i++)
		free(c->links[i]);
	free(c->links);
	for (int i = 0; i < c->nr_remapped; i++)
		free(c->remapped[i].path);
	free(c->remapped);
	c->remapped = NULL;
	c->nr_remapped = 0;
	c->links = NULL;
	c->nr_links = 0;
	c->pipes = NULL;
	c->pipe_sides = NULL;
	c->pipe_holder = NULL;
	c->tree = NULL;
	free(c->v);
	free(c->buckets);
	c->v = NULL;
	c->buckets = NULL;
}

static void collect_refuse(struct collect *c, pid_t pid, int fd, const char *link, const char *why);

/* A pipe the tree holds only one end of: is the other end in a process
 * outside the tree? Then the restored end would be cut off from its peer
 * (a writer killed by SIGPIPE, a reader seeing end-of-file), so it is
 * refused like any descriptor amber cannot restore yet. If no process has
 * it, the peer had closed it, which a restore reproduces. */
static void collect_check_pipe_peers(struct collect *c)
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
				char why[160];

				if (c->pipe_sides[i] == 3 || strtoull(link + 6, NULL, 10) != c->pipes[i])
					continue;
				snprintf(why, sizeof(why), "its other end is held by pid %d (fd %s) outside the dumped tree; "
					 "pipes to the outside are not supported yet", pid, fe->d_name);
				collect_refuse(c, c->pipe_holder[i][0], c->pipe_holder[i][1], link, why);
				c->pipe_sides[i] = 3;	/* once per pipe */
			}
		}
	}
}

void collect_abort(struct collect *c)
{
	for (int i = 0; i < c->nr_links; i++)
		if (unlink(c->links[i]) == 0)
			pr_info("removed link remap '%s' (the dump failed)", c->links[i]);
}

/* A file whose SIGIO goes to a process outside the tree would, restored,
 * signal whoever has that pid then: refused. */
static void collect_check_owners(struct collect *c)
{
	for (int i = 0; i < c->nr_owners; i++) {
		bool ours = false;
		char why[160];

		for (int j = 0; j < c->nr_tree && !ours; j++)
			ours = c->tree[j] == c->owners[i].owner;
		if (ours)
			continue;
		snprintf(why, sizeof(why), "its signal owner (F_SETOWN) is pid %d, outside the dumped tree; "
			 "owners outside the tree are not supported", c->owners[i].owner);
		collect_refuse(c, c->owners[i].pid, c->owners[i].fd, "", why);
	}
}

/* A socket pair whose other end is held outside the tree would be cut
 * from its peer by a restore: refused, naming both sockets. */
static void collect_check_socket_peers(struct collect *c)
{
	for (int i = 0; i < c->nr_socks; i++) {
		bool found = !c->socks[i].peer;
		char why[200], link[64];

		for (int j = 0; j < c->nr_socks && !found; j++)
			found = c->socks[j].ino == c->socks[i].peer;
		if (found)
			continue;
		snprintf(link, sizeof(link), "socket:[%llu]", (unsigned long long)c->socks[i].ino);
		snprintf(why, sizeof(why), "its peer socket:[%llu] is held outside the dumped tree; "
			 "sockets joined to the outside are not supported yet", (unsigned long long)c->socks[i].peer);
		collect_refuse(c, c->socks[i].pid, c->socks[i].fd, link, why);
	}
}

int collect_close(struct collect *c, struct err *e)
{
	collect_check_pipe_peers(c);
	collect_check_socket_peers(c);
	collect_check_owners(c);
	if (c->remaps_open && image_close_write(&c->remaps, e) < 0)
		return -EIO;
	c->remaps_open = false;
	if (image_close_write(&c->files, e) < 0)
		return -EIO;
	if (c->pipedata_open && image_close_write(&c->pipedata, e) < 0)
		return -EIO;
	c->pipedata_open = false;
	if (c->nr_unsupported > 1)
		return err_set(e, c->unsupported.exit_code, "%s (%d unsupported descriptors in all; the others are listed above)",
			       c->unsupported.msg, c->nr_unsupported);
	if (c->nr_unsupported)
		return err_set(e, c->unsupported.exit_code, "%s", c->unsupported.msg);
	return 0;
}

/* readlink(2) into buf as a string; a link that does not fit is an input error. */
static int collect_readlink(const char *path, char *buf, size_t size, struct err *e)
{
	ssize_t n = readlink(path, buf, size);

	if (n < 0)
		return err_errno(e, "readlink '%s'", path);
	if ((size_t)n >= size)
		return err_input(e, "'%s' points to a path longer than %zu bytes", path, size - 1);
	buf[n] = 0;
	return 0;
}

static bool collect_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Is this a terminal? Their state (termios, session, the other end of a pty)
 * needs its own dump code, so they are refused rather than reopened. */
static bool collect_is_tty(const char *link, const struct stat *st)
{
	unsigned int major = major(st->st_rdev);

	if (!S_ISCHR(st->st_mode))
		return false;
	/* 2, 3: BSD ptys; 4: tty0-63, ttyS; 5: tty, console, ptmx; 136-143: /dev/pts */
	if (major == 2 || major == 3 || major == 4 || major == 5 || (major >= 136 && major <= 143))
		return true;
	return !strncmp(link, "/dev/pts/", 9) || !strncmp(link, "/dev/tty", 8) || !strcmp(link, "/dev/console");
}

/* Why the file behind a descriptor cannot be dumped yet, or NULL if it can:
 * what is supported now is anything that can be opened again by its path. */
static const char *collect_unsupported(const char *link, const struct stat *st)
{
	if (!strncmp(link, "pipe:", 5) || !strncmp(link, "socket:", 7))
		return NULL;	/* a socket that cannot be restored is refused with its reason by collect_unix */
	if (!strcmp(link, "anon_inode:[eventfd]") || !strcmp(link, "anon_inode:[signalfd]") ||
	    !strcmp(link, "anon_inode:[timerfd]") || !strcmp(link, "anon_inode:[eventpoll]") ||
	    !strcmp(link, "anon_inode:inotify"))
		return NULL;
	if (!strncmp(link, "anon_inode:", 11))
		return "this kind of anonymous inode (fanotify, userfaultfd, ...) is not supported yet; close it before the dump";
	if (link[0] != '/')
		return "only files reachable by a path are supported yet";
	if (!strncmp(link, "/memfd:", 7) && st->st_nlink == 0 && !S_ISREG(st->st_mode))
		return "this kind of memfd is not supported yet";
	if (st->st_nlink == 0 && collect_ends_with(link, COLLECT_DELETED) && !S_ISREG(st->st_mode))
		return "it was deleted while open, and only deleted regular files are supported yet";
	if (collect_is_tty(link, st))
		return "terminals are not supported yet; start the process with its stdio redirected (e.g. setsid CMD </dev/null >LOG 2>&1)";
	if (S_ISFIFO(st->st_mode) && st->st_nlink == 0)
		return "it is a named pipe (FIFO) that was deleted while open, which is not supported yet";
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ||
	    S_ISFIFO(st->st_mode))
		return NULL;
	return "only regular files, directories and device nodes are supported yet";
}

/* Logs and counts one descriptor that cannot be dumped; the first becomes the error. */
static void collect_refuse(struct collect *c, pid_t pid, int fd, const char *link, const char *why)
{
	if (c->nr_unsupported++ == 0)
		err_input(&c->unsupported, "pid %d fd %d is '%s': %s", pid, fd, link, why);
	else
		pr_warn("pid %d fd %d is '%s': %s", pid, fd, link, why);
}

/* Are two descriptors the same open file description? 1 yes, 0 no, <0 error. */
static int collect_same_file(pid_t pid1, int fd1, pid_t pid2, int fd2, struct err *e)
{
	long r = syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);

	if (r < 0 && errno == ENOSYS)
		return err_errno(e, "kcmp: the kernel lacks CONFIG_KCMP, which amber needs to tell shared files apart");
	if (r < 0)
		return err_errno(e, "kcmp(KCMP_FILE) of pid %d fd %d and pid %d fd %d", pid1, fd1, pid2, fd2);
	return r == 0;
}

static unsigned int collect_hash(uint64_t dev, uint64_t ino, uint32_t flags, uint64_t pos, int nr_buckets)
{
	uint64_t h = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full) ^ flags ^ (pos * 0x165667b19e3779f9ull);

	return (h ^ (h >> 29)) & (nr_buckets - 1);
}

/* Doubles the hash table once it holds as many files as buckets. */
static int collect_grow(struct collect *c, struct err *e)
{
	int n = c->nr_buckets * 2;
	int *b = malloc(sizeof(*b) * n);

	if (!b)
		return err_errno(e, "allocate the open files table");
	memset(b, 0xff, sizeof(*b) * n);
	for (int i = 0; i < c->nr; i++) {
		unsigned int h = collect_hash(c->v[i].dev, c->v[i].ino, c->v[i].flags, c->v[i].pos, n);

		c->v[i].next = b[h];
		b[h] = i;
	}
	free(c->buckets);
	c->buckets = b;
	c->nr_buckets = n;
	return 0;
}

/* Saves what a pipe holds, once per pipe, without taking it out: a new
 * description of the pipe (opened through /proc, read-write so it never
 * blocks) is tee'd into a scratch pipe, which is read. One scratch pipe
 * serves every pipe; it is only grown for one that holds more than it can
 * take (many pipes can exhaust a user's pipe pages, and without
 * CAP_SYS_RESOURCE a pipe cannot then be grown). */
static int collect_pipe_bytes(struct collect *c, pid_t pid, int fd, uint64_t ino, bool fifo, struct err *e);

static int collect_pipe_data(struct collect *c, pid_t pid, int fd, uint64_t ino, struct err *e)
{
	for (int i = 0; i < c->nr_pipes; i++)
		if (c->pipes[i] == ino)
			return 0;
	if (c->nr_pipes % 64 == 0) {
		uint64_t *np = realloc(c->pipes, sizeof(*np) * (c->nr_pipes + 64));
		uint8_t *ns = realloc(c->pipe_sides, c->nr_pipes + 64);
		int (*nh)[2] = realloc(c->pipe_holder, sizeof(*nh) * (c->nr_pipes + 64));

		if (np)
			c->pipes = np;
		if (ns)
			c->pipe_sides = ns;
		if (nh)
			c->pipe_holder = nh;
		if (!np || !ns || !nh)
			return err_errno(e, "remember pipe %llu", (unsigned long long)ino);
	}
	c->pipe_sides[c->nr_pipes] = 0;
	c->pipe_holder[c->nr_pipes][0] = pid;
	c->pipe_holder[c->nr_pipes][1] = fd;
	c->pipes[c->nr_pipes++] = ino;
	return collect_pipe_bytes(c, pid, fd, ino, false, e);
}

/* A FIFO's buffer belongs to its inode, so it is saved once per inode
 * (device and inode: a FIFO's inode number can equal a pipe's). Its ends
 * may be opened by anyone at any time, so unlike a pipe's they are not
 * checked against the rest of the system. */
static int collect_fifo_data(struct collect *c, pid_t pid, int fd, const struct stat *st, struct err *e)
{
	for (int i = 0; i < c->nr_fifos; i++)
		if (c->fifos[i].dev == st->st_dev && c->fifos[i].ino == st->st_ino)
			return 0;
	if (c->nr_fifos % 16 == 0) {
		void *n = realloc(c->fifos, sizeof(*c->fifos) * (c->nr_fifos + 16));

		if (!n)
			return err_errno(e, "remember FIFO %llu", (unsigned long long)st->st_ino);
		c->fifos = n;
	}
	c->fifos[c->nr_fifos].dev = st->st_dev;
	c->fifos[c->nr_fifos++].ino = st->st_ino;
	return collect_pipe_bytes(c, pid, fd, st->st_ino, true, e);
}

static int collect_pipe_bytes(struct collect *c, pid_t pid, int fd, uint64_t ino, bool fifo, struct err *e)
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
	pr_debug("pipe:[%llu]: %zd bytes buffered, capacity %d", (unsigned long long)ino, n, size);
	return image_write(&c->pipedata, &pd.base, e);
}

/* Does path no longer lead to the open file st describes? */
static bool collect_path_replaced(const char *path, const struct stat *st)
{
	struct stat now;

	if (stat(path, &now) < 0)
		return errno == ENOENT || errno == ENOTDIR;
	return now.st_dev != st->st_dev || now.st_ino != st->st_ino;
}

static int collect_ghost(struct collect *c, pid_t pid, int fd, const char *orig, const struct stat *st, uint32_t id,
			 const char *memfd_name, struct err *e);

/* Appends one record to remaps.img, creating it the first time. */
static int collect_write_remap(struct collect *c, const RemapEntry *re, struct err *e)
{
	int ret;

	if (!c->remaps_open) {
		if ((ret = image_open_write(&c->remaps, c->dir_fd, "remaps", "remaps.img", e)) < 0)
			return ret;
		c->remaps_open = true;
	}
	return image_write(&c->remaps, &re->base, e);
}

/* A file unlinked while open: link it back under a hidden name next to
 * where it lived (a link remap), which the kernel allows only for files
 * made with O_TMPFILE; otherwise save its contents (a ghost file), up to
 * --ghost-limit bytes. */
/* The remap made already for this inode (another description of it), or NULL. */
static const struct collect_remapped *collect_remapped_of(const struct collect *c, const struct stat *st)
{
	for (int i = 0; i < c->nr_remapped; i++)
		if (c->remapped[i].dev == st->st_dev && c->remapped[i].ino == st->st_ino)
			return &c->remapped[i];
	return NULL;
}

static int collect_remember_remap(struct collect *c, const struct stat *st, uint32_t id, int kind, const char *path,
				  struct err *e)
{
	struct collect_remapped *n = realloc(c->remapped, sizeof(*n) * (c->nr_remapped + 1));

	if (!n)
		return err_errno(e, "remember a remap");
	c->remapped = n;
	n[c->nr_remapped] = (struct collect_remapped){ st->st_dev, st->st_ino, id, kind, path ? strdup(path) : NULL };
	c->nr_remapped++;
	return 0;
}

static int collect_remap(struct collect *c, pid_t pid, int fd, const char *orig, const struct stat *st,
			 uint32_t id, struct err *e)
{
	const struct collect_remapped *prev = collect_remapped_of(c, st);
	RemapEntry rm = REMAP_ENTRY__INIT;
	char path[64], link[PATH_MAX + 64], dir[PATH_MAX];
	const char *slash = strrchr(orig, '/');
	char **nl;

	if (prev) {
		/* One remap per inode: this description reaches it the same way. */
		rm.file_id = id;
		rm.kind = prev->kind;
		rm.path = prev->path;
		if (prev->kind == REMAP_KIND__REMAP_GHOST) {
			rm.has_ghost_id = true;
			rm.ghost_id = prev->file_id;
		}
		return collect_write_remap(c, &rm, e);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	snprintf(dir, sizeof(dir), "%.*s", slash && slash != orig ? (int)(slash - orig) : 1, orig);
	snprintf(link, sizeof(link), "%s/" REMAP_PREFIX "%llu.%d", dir, (unsigned long long)st->st_ino, getpid());
	rm.file_id = id;
	if (linkat(AT_FDCWD, path, AT_FDCWD, link, AT_SYMLINK_FOLLOW) == 0) {
		nl = realloc(c->links, sizeof(*nl) * (c->nr_links + 1));
		if (!nl || !(nl[c->nr_links] = strdup(link))) {
			unlink(link);
			if (nl)
				c->links = nl;
			return err_errno(e, "remember link remap '%s'", link);
		}
		c->links = nl;
		c->nr_links++;
		rm.kind = REMAP_KIND__REMAP_LINK;
		rm.path = link;
		if (collect_remember_remap(c, st, id, rm.kind, link, e) < 0)
			return -1;
		pr_info("pid %d fd %d: '%s' %s; linked back as '%s'", pid, fd, orig,
			st->st_nlink ? "is no longer at that path" : "was unlinked", link);
		return collect_write_remap(c, &rm, e);
	}
	pr_debug("pid %d fd %d: cannot link '%s' back (%m): saving it as a ghost file", pid, fd, orig);
	return collect_ghost(c, pid, fd, orig, st, id, NULL, e);
}

/* Saves a file's contents in the images (a ghost file), up to --ghost-limit
 * bytes; a memfd (memfd_name set) keeps its name and seals too. */
static int collect_ghost(struct collect *c, pid_t pid, int fd, const char *orig, const struct stat *st, uint32_t id,
			 const char *memfd_name, struct err *e)
{
	RemapEntry rm = REMAP_ENTRY__INIT;
	GhostFileEntry gh = GHOST_FILE_ENTRY__INIT;
	char path[64], gname[64];
	_cleanup_close_ int rfd = -1;
	_cleanup_free_ uint8_t *data = NULL;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	rm.file_id = id;
	if ((uint64_t)st->st_size > c->ghost_limit) {
		char why[256];

		snprintf(why, sizeof(why), "its %lld bytes must be saved in the images, over the ghost-limit of %llu bytes "
			 "(raise it with --ghost-limit)", (long long)st->st_size, (unsigned long long)c->ghost_limit);
		collect_refuse(c, pid, fd, orig, why);
		return 0;
	}
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	data = malloc(st->st_size ? st->st_size : 1);
	if (rfd < 0 || !data)
		return err_errno(e, "read the unlinked file '%s' of pid %d fd %d", orig, pid, fd);
	if (pread(rfd, data, st->st_size, 0) != st->st_size)
		return err_errno(e, "read %lld bytes of the unlinked file '%s'", (long long)st->st_size, orig);
	gh.file_id = id;
	gh.mode = st->st_mode;
	gh.size = st->st_size;
	gh.has_data = true;
	gh.data.data = data;
	gh.data.len = st->st_size;
	gh.has_uid = gh.has_gid = true;
	gh.uid = st->st_uid;
	gh.gid = st->st_gid;
	if (memfd_name) {
		int seals = fcntl(rfd, F_GET_SEALS);

		gh.memfd_name = (char *)memfd_name;
		gh.has_seals = seals > 0;
		gh.seals = seals > 0 ? seals : 0;
	}
	snprintf(gname, sizeof(gname), "ghost-%u.img", id);
	if ((ret = image_write_one(c->dir_fd, "ghost", gname, &gh.base, e)) < 0)
		return ret;
	rm.kind = REMAP_KIND__REMAP_GHOST;
	rm.has_ghost_id = true;
	rm.ghost_id = id;
	if (!memfd_name && collect_remember_remap(c, st, id, rm.kind, NULL, e) < 0)
		return -1;
	pr_info("pid %d fd %d: '%s' %s; its %lld bytes are saved in %s", pid, fd, orig,
		memfd_name ? "is a memfd" : "was unlinked", (long long)st->st_size, gname);
	return collect_write_remap(c, &rm, e);
}

/* The state of an eventfd, signalfd, timerfd or epoll, from its fdinfo.
 * An epoll's registrations go into *tfds (malloc'd), pointed at by a. */
/* Opens the file an inotify watch is on from its file handle, through a
 * mount of its file system in pid's mount table, and gives the path it has
 * now. fdinfo names the watched inode only by handle, and a path is what
 * restore can add a watch on (and what a user can read in the image). */
static int collect_inotify_path(pid_t pid, const struct proc_inotify_watch *w, char *out, size_t cap, struct err *e)
{
	unsigned int major = w->sdev >> 20, minor = w->sdev & 0xfffff;
	_cleanup_free_ char *mounts = NULL;
	char path[PATH_MAX + 64], want[32];
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + PROC_HANDLE_MAX];
	} h;
	struct stat st;
	const char *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	if ((ret = proc_read_file(path, &mounts, NULL, e)) < 0)
		return ret;
	snprintf(want, sizeof(want), " %u:%u ", major, minor);
	h.fh.handle_bytes = w->handle_bytes;
	h.fh.handle_type = w->handle_type;
	memcpy(h.fh.f_handle, w->handle, w->handle_bytes);
	for (p = strstr(mounts, want); p; p = strstr(p + 1, want)) {
		char root[PATH_MAX], mnt[PATH_MAX];
		_cleanup_close_ int mfd = -1, fd = -1;
		ssize_t n;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": any mount of the file
		 * system will do, the handle is resolved within it. */
		if (sscanf(p + strlen(want), "%4095s %4095s", root, mnt) != 2)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, mnt);
		/* Not O_PATH: open_by_handle_at wants a real open file (EBADF). */
		if ((mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		if ((fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC)) < 0) {
			if (errno == ESTALE)
				return err_input(e, "pid %d: inotify watch %d is on inode %llu, which was deleted; "
						 "amber can only restore watches on files that still exist",
						 pid, w->wd, (unsigned long long)w->ino);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, out, cap - 1);
		if (n <= 0 || (size_t)n >= cap - 1 || fstat(fd, &st) < 0)
			return err_errno(e, "find the path of inotify watch %d of pid %d", w->wd, pid);
		out[n] = 0;
		if (st.st_ino != w->ino || out[0] != '/')
			return err_input(e, "pid %d: inotify watch %d is on inode %llu, which is not reachable by a path ('%s')",
					 pid, w->wd, (unsigned long long)w->ino, out);
		return 0;
	}
	return err_input(e, "pid %d: inotify watch %d is on inode %llu of device %u:%u, which no mount of the process "
			 "reaches", pid, w->wd, (unsigned long long)w->ino, major, minor);
}

/* An inotify instance: each watch with its path. The entries, their
 * pointers and the paths live in one block, *block, freed by the caller. */
static int collect_inotify(pid_t pid, int fd, const char *text, AnonFileEntry *a, void **block, struct err *e)
{
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	InotifyWatchEntry *v, **vp;
	char *paths;
	int nr, ret;

	if ((ret = proc_parse_fdinfo_inotify(text, &w, &nr, e)) < 0)
		return err_wrap(e, "fdinfo of pid %d fd %d", pid, fd);
	a->kind = ANON_KIND__ANON_INOTIFY;
	if (!nr)
		return 0;
	*block = calloc(nr, sizeof(*v) + sizeof(*vp) + PATH_MAX);
	if (!*block)
		return err_errno(e, "keep the watches of inotify pid %d fd %d", pid, fd);
	v = *block;
	vp = (InotifyWatchEntry **)(v + nr);
	paths = (char *)(vp + nr);
	for (int i = 0; i < nr; i++) {
		char *path = paths + (size_t)i * PATH_MAX;

		if ((ret = collect_inotify_path(pid, &w[i], path, PATH_MAX, e)) < 0)
			return ret;
		inotify_watch_entry__init(&v[i]);
		v[i].wd = w[i].wd;
		v[i].mask = w[i].mask;
		v[i].ignored_mask = w[i].ignored_mask;
		v[i].ino = w[i].ino;
		v[i].path = path;
		vp[i] = &v[i];
		pr_debug("pid %d fd %d: inotify watch %d on '%s' mask %#x", pid, fd, w[i].wd, path, w[i].mask);
	}
	a->n_inotify = nr;
	a->inotify = vp;
	return 0;
}

static int collect_anon(pid_t pid, int fd, const char *link, AnonFileEntry *a, EpollTargetEntry **tfds,
			void **block, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	struct proc_fdinfo_anon fa;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if (!strcmp(link, "anon_inode:inotify"))
		return collect_inotify(pid, fd, text, a, block, e);
	if (!strcmp(link, "anon_inode:[eventpoll]") && !strstr(text, "tfd:")) {
		a->kind = ANON_KIND__ANON_EPOLL;	/* an epoll watching nothing yet */
		return 0;
	}
	if ((ret = proc_parse_fdinfo_anon(text, &fa, e)) < 0)
		return err_wrap(e, "'%s'", path);
	if (fa.epoll) {
		EpollTargetEntry **vp;

		a->kind = ANON_KIND__ANON_EPOLL;
		*tfds = calloc(fa.nr_tfd, sizeof(**tfds) + sizeof(*vp));
		if (!*tfds) {
			proc_fdinfo_anon_free(&fa);
			return err_errno(e, "keep the registrations of epoll pid %d fd %d", pid, fd);
		}
		/* The pointer array lives after the entries, in the same block. */
		vp = (EpollTargetEntry **)(*tfds + fa.nr_tfd);
		for (int i = 0; i < fa.nr_tfd; i++) {
			epoll_target_entry__init(&(*tfds)[i]);
			(*tfds)[i].tfd = fa.tfd[i].tfd;
			(*tfds)[i].events = fa.tfd[i].events;
			(*tfds)[i].data = fa.tfd[i].data;
			vp[i] = &(*tfds)[i];
		}
		a->n_epoll = fa.nr_tfd;
		a->epoll = vp;
		proc_fdinfo_anon_free(&fa);
	} else if (fa.eventfd) {
		a->kind = ANON_KIND__ANON_EVENTFD;
		a->has_eventfd_count = a->has_eventfd_semaphore = true;
		a->eventfd_count = fa.eventfd_count;
		a->eventfd_semaphore = fa.eventfd_semaphore;
	} else if (fa.signalfd) {
		a->kind = ANON_KIND__ANON_SIGNALFD;
		a->has_sigmask = true;
		a->sigmask = fa.sigmask;
	} else {
		a->kind = ANON_KIND__ANON_TIMERFD;
		a->has_clockid = a->has_ticks = a->has_settime_flags = a->has_value_ns = a->has_interval_ns = true;
		a->clockid = fa.clockid;
		a->ticks = fa.ticks;
		a->settime_flags = fa.settime_flags;
		a->value_ns = fa.value_sec * 1000000000ULL + fa.value_nsec;
		a->interval_ns = fa.interval_sec * 1000000000ULL + fa.interval_nsec;
	}
	return 0;
}

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

/* A copy of pid's fd in this process (pidfd_getfd), for what only the
 * open file itself can tell; the pidfd is kept while one task is read. */
static int collect_getfd(struct collect *c, pid_t pid, int fd, struct err *e)
{
	int dup;

	if (c->pidfd_pid != pid) {
		if (c->pidfd >= 0)
			close(c->pidfd);
		c->pidfd_pid = pid;
		if ((c->pidfd = syscall(SYS_pidfd_open, pid, 0)) < 0)
			return err_errno(e, "pidfd_open pid %d to read its files", pid);
	}
	if ((dup = syscall(SYS_pidfd_getfd, c->pidfd, fd, 0)) < 0)
		return err_errno(e, "pidfd_getfd pid %d fd %d", pid, fd);
	return dup;
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

static int collect_unix_bound(int sk, uint64_t ino, const struct sockdiag_unix *d, UnixSocketEntry *u, uint8_t **name,
			      ProtobufCBinaryData **q, uint8_t **buf, const char **why, struct err *e)
{
	bool listening = d->state == 10;	/* TCP_LISTEN */
	int passcred = 0, sndbuf = 0, rcvbuf = 0;
	socklen_t len = sizeof(int);

	if (listening && d->rqueue) {
		*why = "the listening socket has connections waiting to be accepted, which cannot be restored yet";
		return 0;
	}
	if (d->name[0] != 0 && d->name[0] != '/') {
		*why = "the socket is bound to a relative path, which cannot be restored";
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
	u->has_name = u->has_listening = true;
	/* The name outlives d: it is written with the record, later. */
	if (!(*name = malloc(d->name_len)))
		return err_errno(e, "keep the name of socket:[%llu]", (unsigned long long)ino);
	memcpy(*name, d->name, d->name_len);
	u->name.data = *name;
	u->name.len = d->name_len;
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

/* One end of a unix socket pair: its type, peer, shutdown state, options
 * and queued data. Anything else (another family, a bound, listening or
 * unconnected socket) gets a reason in *why and is refused by the caller. */
static int collect_unix(struct collect *c, pid_t pid, int fd, uint64_t ino, UnixSocketEntry *u, ProtobufCBinaryData **q,
			uint8_t **buf, uint8_t **name, const char **why, struct err *e)
{
	_cleanup_close_ int sk = -1;
	struct sockdiag_unix d;
	int domain = 0, passcred = 0, sndbuf = 0, rcvbuf = 0, ret;
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
	if (d.named) {
		if (d.name[0] != 0 && d.name[0] != '/') {
			*why = "the connection was accepted from a listener bound to a relative path, which cannot be restored";
			return 0;
		}
		if (!(*name = malloc(d.name_len)))
			return err_errno(e, "keep the name of socket:[%llu]", (unsigned long long)ino);
		memcpy(*name, d.name, d.name_len);
		u->has_name = true;
		u->name.data = *name;
		u->name.len = d.name_len;
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
	len = sizeof(int);
	getsockopt(sk, SOL_SOCKET, SO_PASSCRED, &passcred, &len);
	len = sizeof(int);
	getsockopt(sk, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
	len = sizeof(int);
	getsockopt(sk, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
	u->type = d.type;
	u->ino = ino;
	u->peer_ino = d.peer;
	u->shutdown = d.shutdown;
	u->passcred = passcred;
	u->sndbuf = sndbuf;
	u->rcvbuf = rcvbuf;
	return collect_unix_queue(sk, d.type, u, q, buf, why, e);
}

/* The owner and signal of pid's fd (F_GETOWN_EX, F_GETSIG), which /proc
 * does not show: asked of a copy of the descriptor (pidfd_getfd), since
 * both belong to the open file description. *set says whether either was
 * set. The owner is translated to the pid the tree knows it by (the last
 * NSpid), and remembered to be checked against the tree at the end. */
static int collect_fown(struct collect *c, pid_t pid, int fd, FownEntry *fo, bool *set, struct err *e)
{
	struct f_owner_ex own = { 0 };
	_cleanup_close_ int dup = -1;
	struct proc_status st;
	int sig;

	*set = false;
	if ((dup = collect_getfd(c, pid, fd, e)) < 0)
		return dup;
	if (fcntl(dup, F_GETOWN_EX, &own) < 0 || (sig = fcntl(dup, F_GETSIG)) < 0)
		return err_errno(e, "read the owner of pid %d fd %d (F_GETOWN_EX, F_GETSIG)", pid, fd);
	if (!own.pid && !sig)
		return 0;
	fo->type = own.type;
	fo->pid = own.pid;
	fo->signum = sig;
	*set = true;
	if (!own.pid)
		return 0;
	if (own.type == F_OWNER_PGRP) {
		/* A group is rebuilt with its leader's pid: that leader must be ours. */
	} else if (proc_read_status(own.pid, 0, &st, e) < 0) {
		return err_wrap(e, "pid %d fd %d: its owner", pid, fd);
	} else {
		fo->pid = st.nr_nspid ? st.nspid[st.nr_nspid - 1] : own.pid;
	}
	if (c->nr_owners % 16 == 0) {
		void *n = realloc(c->owners, sizeof(*c->owners) * (c->nr_owners + 16));

		if (!n)
			return err_errno(e, "remember the owner of pid %d fd %d", pid, fd);
		c->owners = n;
	}
	c->owners[c->nr_owners++] = (struct collect_owner){ own.type == F_OWNER_PGRP || st.tgid <= 0 ? own.pid : st.tgid, pid, fd };
	return 0;
}

/* The id of the open file description behind pid's fd: an existing one if
 * kcmp says a descriptor seen before shares it, else a new RegFileEntry
 * written to files.img. *added says which. */
static int collect_file_id(struct collect *c, pid_t pid, int fd, const char *link, const struct stat *st,
			   const struct proc_fdinfo *fi, uint32_t *id, bool *added, struct err *e)
{
	uint32_t flags = fi->flags & ~O_CLOEXEC;
	RegFileEntry re = REG_FILE_ENTRY__INIT;
	AnonFileEntry anon = ANON_FILE_ENTRY__INIT;
	_cleanup_free_ EpollTargetEntry *tfds = NULL;
	_cleanup_free_ void *watches = NULL;
	FownEntry fown = FOWN_ENTRY__INIT;
	UnixSocketEntry usk = UNIX_SOCKET_ENTRY__INIT;
	_cleanup_free_ ProtobufCBinaryData *usk_q = NULL;
	_cleanup_free_ uint8_t *usk_buf = NULL, *usk_name = NULL;
	bool owned;
	char orig[PATH_MAX];
	struct collect_file *f;
	unsigned int h;
	int ret;

	*added = false;
	h = collect_hash(st->st_dev, st->st_ino, flags, fi->pos, c->nr_buckets);
	for (int i = c->buckets[h]; i >= 0; i = c->v[i].next) {
		f = &c->v[i];
		if (f->dev != st->st_dev || f->ino != st->st_ino || f->flags != flags || f->pos != fi->pos)
			continue;
		if ((ret = collect_same_file(f->pid, f->fd, pid, fd, e)) < 0)
			return ret;
		if (ret) {
			*id = f->id;
			return 0;
		}
	}

	if (c->nr == c->cap) {
		int cap = c->cap ? c->cap * 2 : 64;
		struct collect_file *v = realloc(c->v, sizeof(*v) * cap);

		if (!v)
			return err_errno(e, "allocate the open files table");
		c->v = v;
		c->cap = cap;
	}
	f = &c->v[c->nr];
	f->id = c->nr + 1;
	f->pid = pid;
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->flags = flags;
	f->pos = fi->pos;
	f->next = c->buckets[h];
	c->buckets[h] = c->nr++;

	re.id = f->id;
	re.path = (char *)link;
	re.flags = flags;
	re.pos = fi->pos;
	re.has_mnt_id = fi->mnt_id >= 0;
	re.mnt_id = fi->mnt_id;
	re.has_inode = re.has_dev = re.has_mode = true;
	re.inode = st->st_ino;
	re.dev = st->st_dev;
	re.mode = st->st_mode;
	re.has_size = S_ISREG(st->st_mode);
	re.size = st->st_size;
	if ((ret = collect_fown(c, pid, fd, &fown, &owned, e)) < 0)
		return ret;
	if (owned)
		re.fown = &fown;
	if (!strncmp(link, "socket:", 7)) {
		const char *why;

		if ((ret = collect_unix(c, pid, fd, st->st_ino, &usk, &usk_q, &usk_buf, &usk_name, &why, e)) < 0)
			return ret;
		if (why) {
			collect_refuse(c, pid, fd, link, why);
			why = NULL;
		} else if ((ret = collect_remember_socket(c, pid, fd, usk.ino, usk.peer_ino, e)) < 0) {
			return ret;
		}
		re.unix_sk = &usk;
		re.has_mnt_id = false;
	}
	if (!strncmp(link, "anon_inode:", 11)) {
		if ((ret = collect_anon(pid, fd, link, &anon, &tfds, &watches, e)) < 0)
			return ret;
		re.anon = &anon;
		re.has_mnt_id = false;
	}
	/* Unlinked by the name it was opened with: maybe by its last name
	 * (nlink 0: a ghost unless it can be relinked), maybe while another
	 * hard link keeps it (then it can always be linked back). */
	if (S_ISREG(st->st_mode) && !strncmp(link, "/memfd:", 7) && collect_ends_with(link, COLLECT_DELETED)) {
		/* A memfd: saved whole, with its name and seals. */
		size_t n = strlen(link) - strlen(COLLECT_DELETED);

		if (n >= sizeof(orig))
			return err_input(e, "memfd name of pid %d fd %d is too long", pid, fd);
		memcpy(orig, link, n);
		orig[n] = 0;
		re.path = orig;
		re.has_remapped = re.remapped = true;
		re.has_mnt_id = false;
		if ((ret = collect_ghost(c, pid, fd, orig, st, f->id, orig + 7, e)) < 0)
			return ret;
	} else if (S_ISREG(st->st_mode) && collect_ends_with(link, COLLECT_DELETED)) {
		size_t n = strlen(link) - strlen(COLLECT_DELETED);

		if (n >= sizeof(orig))
			return err_input(e, "path of pid %d fd %d is too long", pid, fd);
		memcpy(orig, link, n);
		orig[n] = 0;
		re.path = orig;
		re.has_remapped = re.remapped = true;
		if ((ret = collect_remap(c, pid, fd, orig, st, f->id, e)) < 0)
			return ret;
	} else if (S_ISREG(st->st_mode) && link[0] == '/' && collect_path_replaced(link, st)) {
		/* Opened by a path that now leads elsewhere (renamed, or replaced
		 * by another file): the open file still has a link somewhere, so
		 * it can be linked back and reopened by that. */
		re.has_remapped = re.remapped = true;
		if ((ret = collect_remap(c, pid, fd, link, st, f->id, e)) < 0)
			return ret;
	}
	if (S_ISFIFO(st->st_mode) && link[0] == '/') {
		re.has_fifo = re.fifo = true;
		if ((ret = collect_fifo_data(c, pid, fd, st, e)) < 0)
			return ret;
	}
	if (!strncmp(link, "pipe:", 5)) {
		re.has_pipe_ino = true;
		re.pipe_ino = st->st_ino;
		re.has_mnt_id = false;
		if ((ret = collect_pipe_data(c, pid, fd, st->st_ino, e)) < 0)
			return ret;
	}
	if ((ret = image_write(&c->files, &re.base, e)) < 0)
		return ret;
	pr_debug("file %u: '%s' flags %#o pos %llu (pid %d fd %d)", re.id, link, flags,
		 (unsigned long long)re.pos, pid, fd);
	*id = f->id;
	*added = true;
	if (c->nr >= c->nr_buckets)
		return collect_grow(c, e);
	return 0;
}

/* Writes fs-PID.img: cwd, root and umask. */
static int collect_fs(struct collect *c, pid_t pid, pid_t id, struct err *e)
{
	char path[64], name[64], cwd[PATH_MAX], root[PATH_MAX];
	FsEntry fs = FS_ENTRY__INIT;
	struct proc_status st;
	struct stat sb;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if ((ret = collect_readlink(path, cwd, sizeof(cwd), e)) < 0)
		return ret;
	if (collect_ends_with(cwd, COLLECT_DELETED) && stat(path, &sb) == 0 && sb.st_nlink == 0)
		return err_input(e, "pid %d: its working directory '%s' was removed, which is not supported; "
				 "let it change directory first", pid, cwd);
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	if ((ret = collect_readlink(path, root, sizeof(root), e)) < 0)
		return ret;
	if ((ret = proc_read_status(pid, 0, &st, e)) < 0)
		return ret;
	fs.cwd = cwd;
	fs.root = root;
	fs.has_umask = true;
	fs.umask = st.umask;
	snprintf(name, sizeof(name), "fs-%d.img", id);
	return image_write_one(c->dir_fd, "fs", name, &fs.base, e);
}

static int collect_int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The descriptor numbers open in pid, ascending; *fds is malloc'd. */
static int collect_list_fds(pid_t pid, int **fds, int *nr, struct err *e)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ int *v = NULL;
	struct dirent *de;
	char path[64];
	int n = 0, cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return err_errno(e, "list the descriptors of pid %d ('%s')", pid, path);
	while ((errno = 0, de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] == '.' || *end || fd < 0 || fd > INT_MAX)
			continue;
		if (n == cap) {
			int *nv;

			cap = cap ? cap * 2 : 32;
			nv = realloc(v, sizeof(*v) * cap);
			if (!nv)
				return err_errno(e, "list the descriptors of pid %d", pid);
			v = nv;
		}
		v[n++] = fd;
	}
	if (errno)
		return err_errno(e, "list the descriptors of pid %d ('%s')", pid, path);
	if (n)
		qsort(v, n, sizeof(*v), collect_int_cmp);
	*fds = TAKE_PTR(v);
	*nr = n;
	return 0;
}

/* Reads one descriptor and writes its FdinfoEntry (and its file if new). */
static int collect_fd(struct collect *c, struct image *fdinfo, pid_t pid, int fd, int *nr_new, struct err *e)
{
	FdinfoEntry fe = FDINFO_ENTRY__INIT;
	FileLockEntry locks[PROC_MAX_LOCKS], *lockp[PROC_MAX_LOCKS];
	struct proc_fdinfo fi;
	char path[64], link[PATH_MAX];
	const char *why;
	struct stat st;
	bool added = false;
	uint32_t id = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if ((ret = collect_readlink(path, link, sizeof(link), e)) < 0)
		return ret;
	/* stat follows the magic link to the open file itself, even a deleted one. */
	if (stat(path, &st) < 0)
		return err_errno(e, "stat pid %d fd %d ('%s')", pid, fd, link);
	why = collect_unsupported(link, &st);
	if (why) {
		collect_refuse(c, pid, fd, link, why);
		return 0;
	}
	if ((ret = proc_read_fdinfo(pid, fd, &fi, e)) < 0)
		return ret;
	if ((ret = collect_file_id(c, pid, fd, link, &st, &fi, &id, &added, e)) < 0)
		return ret;
	*nr_new += added;
	fe.fd = fd;
	fe.id = id;
	fe.type = !strncmp(link, "pipe:", 5) ? FD_TYPE__FD_PIPE : !strncmp(link, "anon_inode:", 11) ? FD_TYPE__FD_ANON : FD_TYPE__FD_REG;
	if (fe.type == FD_TYPE__FD_PIPE)
		for (int i = 0; i < c->nr_pipes; i++)
			if (c->pipes[i] == (uint64_t)st.st_ino)
				c->pipe_sides[i] |= (fi.flags & O_ACCMODE) == O_WRONLY ? 2 : (fi.flags & O_ACCMODE) == O_RDONLY ? 1 : 3;
	fe.cloexec = !!(fi.flags & O_CLOEXEC);
	if (fi.nr_locks) {
		bool other = false;

		for (int i = 0; i < fi.nr_locks; i++)
			other |= fi.locks[i].kind == PROC_LOCK_OTHER;
		if (!c->file_locks || other) {
			collect_refuse(c, pid, fd, link, other ? "it holds a lease or lock of a kind amber cannot take again"
							       : "it holds a file lock; dump with --file-locks to save it");
			return 0;
		}
		fe.n_locks = fi.nr_locks;
		fe.locks = lockp;
		for (int i = 0; i < fi.nr_locks; i++) {
			file_lock_entry__init(&locks[i]);
			locks[i].kind = fi.locks[i].kind;
			locks[i].write = fi.locks[i].write;
			locks[i].start = fi.locks[i].start;
			locks[i].len = fi.locks[i].len;
			lockp[i] = &locks[i];
		}
	}
	pr_trace("pid %d fd %d -> file %u%s", pid, fd, id, fe.cloexec ? " (cloexec)" : "");
	return image_write(fdinfo, &fe.base, e);
}

int collect_task(struct collect *c, pid_t pid, pid_t id, struct err *e)
{
	_cleanup_free_ int *fds = NULL;
	struct image fdinfo;
	char name[64];
	int nr = 0, nr_new = 0, unsupported = c->nr_unsupported, ret;

	if (pid <= 0)
		return err_input(e, "task record with pid %d", pid);
	if (c->nr_tree % 64 == 0) {
		pid_t *nt = realloc(c->tree, sizeof(*nt) * (c->nr_tree + 64));

		if (!nt)
			return err_errno(e, "remember pid %d", pid);
		c->tree = nt;
	}
	c->tree[c->nr_tree++] = pid;
	snprintf(name, sizeof(name), "/proc/%d", pid);
	if (access(name, F_OK) < 0 && errno == ENOENT)
		return err_input(e, "pid %d does not exist; the task records name a process that is gone "
				 "(it exited, or the tree was not stopped)", pid);
	if ((ret = collect_fs(c, pid, id, e)) < 0)
		return ret;
	if ((ret = collect_list_fds(pid, &fds, &nr, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fdinfo-%d.img", id);
	if ((ret = image_open_write(&fdinfo, c->dir_fd, "fdinfo", name, e)) < 0)
		return ret;
	for (int i = 0; i < nr && ret >= 0; i++)
		ret = collect_fd(c, &fdinfo, pid, fds[i], &nr_new, e);
	if (image_close_write(&fdinfo, ret < 0 ? &(struct err){ 0 } : e) < 0 && ret >= 0)
		ret = -EIO;
	if (ret < 0)
		return ret;
	c->nr_tasks++;
	c->nr_fds += nr;
	unsupported = c->nr_unsupported - unsupported;
	if (unsupported)
		pr_info("pid %d: %d fds, %d new open files, %d unsupported", pid, nr, nr_new, unsupported);
	else
		pr_info("pid %d: %d fds, %d new open files", pid, nr, nr_new);
	return 0;
}
