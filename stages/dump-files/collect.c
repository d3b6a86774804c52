/* collect: see dump-files.h. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/remap.h"
#include "stages/dump-files/dump-files.h"

#define DF_DELETED " (deleted)"

int df_open(struct df *c, int dir_fd, uint64_t ghost_limit, bool file_locks, struct err *e)
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

void df_free(struct df *c)
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
	for (int i = 0; i < c->nr_nsroots; i++)
		close(c->nsroots[i].fd);
	free(c->nsroots);
	c->nsroots = NULL;
	c->nr_nsroots = 0;
	free(c->pipes);
	free(c->fifos);
	free(c->memfds);
	free(c->owners);
	c->owners = NULL;
	free(c->socks);
	c->socks = NULL;
	free(c->listeners);
	c->listeners = NULL;
	for (int i = 0; i < c->nr_inflight; i++)
		close(c->inflight[i]);
	free(c->inflight);
	c->inflight = NULL;
	c->nr_inflight = 0;
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
	free(c->pipe_sides);
	free(c->pipe_holder);
	free(c->tree);
	free(c->ext);
	c->ext = NULL;
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

void df_abort(struct df *c)
{
	for (int i = 0; i < c->nr_links; i++)
		if (unlink(c->links[i]) == 0)
			pr_info("removed link remap '%s' (the dump failed)", c->links[i]);
}

/* A file whose SIGIO goes to a process outside the tree would, restored,
 * signal whoever has that pid then: refused. */
static void df_check_owners(struct df *c)
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
		df_refuse(c, c->owners[i].pid, c->owners[i].fd, "", why);
	}
}

int df_close(struct df *c, struct err *e)
{
	df_check_pipe_peers(c);
	df_check_socket_peers(c);
	df_check_owners(c);
	df_check_externals(c);
	/* Last: reading a waiting connection's data takes it from its backlog. */
	if (df_unix_backlogs(c, e) < 0)
		return -EIO;
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
static int df_readlink(const char *path, char *buf, size_t size, struct err *e)
{
	ssize_t n = readlink(path, buf, size);

	if (n < 0)
		return err_errno(e, "readlink '%s'", path);
	if ((size_t)n >= size)
		return err_input(e, "'%s' points to a path longer than %zu bytes", path, size - 1);
	buf[n] = 0;
	return 0;
}

static bool df_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* Is this a terminal? Their state (termios, session, the other end of a pty)
 * needs its own dump code, so they are refused rather than reopened. */
bool df_is_tty(const char *link, const struct stat *st)
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
static const char *df_unsupported(const char *link, const struct stat *st, char *buf, size_t size)
{
	if (!strncmp(link, "pipe:", 5) || !strncmp(link, "socket:", 7))
		return NULL;	/* a socket that cannot be restored is refused with its reason by df_unix */
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
	if (st->st_nlink == 0 && df_ends_with(link, DF_DELETED) && !S_ISREG(st->st_mode))
		return "it was deleted while open, and only deleted regular files are supported yet";
	if (df_is_tty(link, st)) {
		struct ext_key k = { .kind = EXT_TTY, .a = st->st_rdev, .b = st->st_dev };
		char key[EXT_KEY_MAX];

		ext_format(&k, key, sizeof(key));
		snprintf(buf, size, "it is a terminal; dump with --shell-job to give it back at restore as the terminal "
			 "amber runs on, or with --external %s and restore with --inherit-fd fd[N]:%s", key, key);
		return buf;
	}
	if (S_ISFIFO(st->st_mode) && st->st_nlink == 0)
		return "it is a named pipe (FIFO) that was deleted while open, which is not supported yet";
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ||
	    S_ISFIFO(st->st_mode))
		return NULL;
	return "only regular files, directories and device nodes are supported yet";
}

/* Logs and counts one descriptor that cannot be dumped; the first becomes the error. */
void df_refuse(struct df *c, pid_t pid, int fd, const char *link, const char *why)
{
	char via[320];

	/* A file in flight is this stage's copy: named by the socket that holds it. */
	if (pid == getpid() && c->via_pid) {
		snprintf(via, sizeof(via), "%s (in flight, SCM_RIGHTS, in the queue of pid %d fd %d)", link, c->via_pid, c->via_fd);
		link = via;
		pid = c->via_pid;
		fd = c->via_fd;
	}
	if (c->nr_unsupported++ == 0)
		err_input(&c->unsupported, "pid %d fd %d is '%s': %s", pid, fd, link, why);
	else
		pr_warn("pid %d fd %d is '%s': %s", pid, fd, link, why);
}

/* Are two descriptors the same open file description? 1 yes, 0 no, <0 error. */
static int df_same_file(pid_t pid1, int fd1, pid_t pid2, int fd2, struct err *e)
{
	long r = syscall(SYS_kcmp, pid1, pid2, KCMP_FILE, fd1, fd2);

	if (r < 0 && errno == ENOSYS)
		return err_errno(e, "kcmp: the kernel lacks CONFIG_KCMP, which amber needs to tell shared files apart");
	if (r < 0)
		return err_errno(e, "kcmp(KCMP_FILE) of pid %d fd %d and pid %d fd %d", pid1, fd1, pid2, fd2);
	return r == 0;
}

static unsigned int df_hash(uint64_t dev, uint64_t ino, uint32_t flags, uint64_t pos, int nr_buckets)
{
	uint64_t h = (dev * 0x9e3779b97f4a7c15ull) ^ (ino * 0xc2b2ae3d27d4eb4full) ^ flags ^ (pos * 0x165667b19e3779f9ull);

	return (h ^ (h >> 29)) & (nr_buckets - 1);
}

/* Doubles the hash table once it holds as many files as buckets. */
static int df_rehash(struct df *c, struct err *e)
{
	int n = c->nr_buckets * 2;
	int *b = malloc(sizeof(*b) * n);

	if (!b)
		return err_errno(e, "allocate the open files table");
	memset(b, 0xff, sizeof(*b) * n);
	for (int i = 0; i < c->nr; i++) {
		unsigned int h = df_hash(c->v[i].dev, c->v[i].ino, c->v[i].flags, c->v[i].pos, n);

		c->v[i].next = b[h];
		b[h] = i;
	}
	free(c->buckets);
	c->buckets = b;
	c->nr_buckets = n;
	return 0;
}

static int df_ghost(struct df *c, pid_t pid, int fd, const char *orig, const struct stat *st, uint32_t id,
		    struct err *e);

/* Appends one record to remaps.img, creating it the first time. */
static int df_write_remap(struct df *c, const RemapEntry *re, struct err *e)
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
static const struct df_remapped *df_remapped_of(const struct df *c, const struct stat *st)
{
	for (int i = 0; i < c->nr_remapped; i++)
		if (c->remapped[i].dev == st->st_dev && c->remapped[i].ino == st->st_ino)
			return &c->remapped[i];
	return NULL;
}

static int df_remember_remap(struct df *c, const struct stat *st, uint32_t id, int kind, const char *path,
			     struct err *e)
{
	if (grow_one(&c->remapped, c->nr_remapped) < 0)
		return err_errno(e, "remember a remap");
	c->remapped[c->nr_remapped] = (struct df_remapped){ st->st_dev, st->st_ino, id, kind, path ? strdup(path) : NULL };
	c->nr_remapped++;
	return 0;
}

static int df_remap(struct df *c, pid_t pid, int fd, const char *orig, const struct stat *st,
		    uint32_t id, struct err *e)
{
	const struct df_remapped *prev = df_remapped_of(c, st);
	RemapEntry rm = REMAP_ENTRY__INIT;
	char path[64], link[PATH_MAX + 64], dir[PATH_MAX], here[PATH_MAX + 128];
	const char *slash = strrchr(orig, '/');

	if (prev) {
		/* One remap per inode: this description reaches it the same way. */
		rm.file_id = id;
		rm.kind = prev->kind;
		rm.path = prev->path;
		if (prev->kind == REMAP_KIND__REMAP_GHOST) {
			rm.has_ghost_id = true;
			rm.ghost_id = prev->file_id;
		}
		return df_write_remap(c, &rm, e);
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	snprintf(dir, sizeof(dir), "%.*s", slash && slash != orig ? (int)(slash - orig) : 1, orig);
	snprintf(link, sizeof(link), "%s/" REMAP_PREFIX "%llu.%d", dir, (unsigned long long)st->st_ino, getpid());
	/* In another mount namespace the link goes beside the file there. */
	df_ns_path(c, pid, link, here, sizeof(here));
	rm.file_id = id;
	if (linkat(AT_FDCWD, path, AT_FDCWD, here, AT_SYMLINK_FOLLOW) == 0) {
		if (grow_one(&c->links, c->nr_links) < 0 || !(c->links[c->nr_links] = strdup(here))) {
			unlink(here);
			return err_errno(e, "remember link remap '%s'", link);
		}
		c->nr_links++;
		rm.kind = REMAP_KIND__REMAP_LINK;
		rm.path = link;
		if (df_remember_remap(c, st, id, rm.kind, link, e) < 0)
			return -1;
		pr_info("pid %d fd %d: '%s' %s; linked back as '%s'", pid, fd, orig,
			st->st_nlink ? "is no longer at that path" : "was unlinked", link);
		return df_write_remap(c, &rm, e);
	}
	pr_debug("pid %d fd %d: cannot link '%s' back (%m): saving it as a ghost file", pid, fd, orig);
	return df_ghost(c, pid, fd, orig, st, id, e);
}

/* Saves a file's contents in the images (a ghost file), up to --ghost-limit
 * bytes. */
static int df_ghost(struct df *c, pid_t pid, int fd, const char *orig, const struct stat *st, uint32_t id,
		    struct err *e)
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
		df_refuse(c, pid, fd, orig, why);
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
	snprintf(gname, sizeof(gname), "ghost-%u.img", id);
	if ((ret = image_write_one(c->dir_fd, "ghost", gname, &gh.base, e)) < 0)
		return ret;
	rm.kind = REMAP_KIND__REMAP_GHOST;
	rm.has_ghost_id = true;
	rm.ghost_id = id;
	if (df_remember_remap(c, st, id, rm.kind, NULL, e) < 0)
		return -1;
	pr_info("pid %d fd %d: '%s' was unlinked; its %lld bytes are saved in %s", pid, fd, orig,
		(long long)st->st_size, gname);
	return df_write_remap(c, &rm, e);
}

/* A copy of pid's fd in this process (pidfd_getfd), for what only the
 * open file itself can tell; the pidfd is kept while one task is read. */
int df_getfd(struct df *c, pid_t pid, int fd, struct err *e)
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

/* The owner and signal of pid's fd (F_GETOWN_EX, F_GETSIG), which /proc
 * does not show: asked of a copy of the descriptor (pidfd_getfd), since
 * both belong to the open file description. *set says whether either was
 * set. The owner is translated to the pid the tree knows it by (the last
 * NSpid), and remembered to be checked against the tree at the end. */
static int df_fown(struct df *c, pid_t pid, int fd, FownEntry *fo, bool *set, struct err *e)
{
	struct f_owner_ex own = { 0 };
	_cleanup_close_ int dup = -1;
	struct proc_status st;
	int sig;

	*set = false;
	if ((dup = df_getfd(c, pid, fd, e)) < 0)
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
	if (grow_one(&c->owners, c->nr_owners) < 0)
		return err_errno(e, "remember the owner of pid %d fd %d", pid, fd);
	c->owners[c->nr_owners++] = (struct df_owner){ own.type == F_OWNER_PGRP || st.tgid <= 0 ? own.pid : st.tgid, pid, fd };
	return 0;
}

/* Writes a new description's record; the usk it points to is freed. */
static int df_file_write(struct df *c, RegFileEntry *re, struct df_usk *usk, const char *link, pid_t pid,
			 int fd, uint32_t *id, bool *added, struct err *e)
{
	int ret = image_write(&c->files, &re->base, e);

	df_usk_free(usk);
	if (ret < 0)
		return ret;
	pr_trace("file %u: '%s'%s flags %#o pos %llu (pid %d fd %d)", re->id, link, re->external ? " (external)" : "",
		 re->flags, (unsigned long long)re->pos, pid, fd);
	*id = re->id;
	*added = true;
	if (c->nr >= c->nr_buckets)
		return df_rehash(c, e);
	return 0;
}

/* A new slot at the end of c->v with the next id, in no hash chain yet. */
int df_new_id(struct df *c, uint32_t *id, struct err *e)
{
	if (grow_cap(&c->v, &c->cap, (size_t)c->nr + 1) < 0)
		return err_errno(e, "allocate the open files table");
	/* In no hash chain: nothing is compared with it. */
	c->v[c->nr] = (struct df_file){ .id = c->nr + 1, .next = -1 };
	*id = c->v[c->nr++].id;
	return 0;
}

/* The id of the open file description behind pid's fd: an existing one if
 * kcmp says a descriptor seen before shares it, else a new RegFileEntry
 * written to files.img. *added says which. */
int df_file_id(struct df *c, pid_t pid, int fd, const char *link, const struct stat *st,
	       const struct proc_fdinfo *fi, const char *ext, uint32_t *id, bool *added, struct err *e)
{
	uint32_t flags = fi->flags & ~O_CLOEXEC;
	RegFileEntry re = REG_FILE_ENTRY__INIT;
	AnonFileEntry anon = ANON_FILE_ENTRY__INIT;
	_cleanup_free_ EpollTargetEntry *tfds = NULL;
	_cleanup_free_ void *watches = NULL;
	FownEntry fown = FOWN_ENTRY__INIT;
	struct df_usk usk = { .u = UNIX_SOCKET_ENTRY__INIT };
	bool owned;
	uint32_t my_id;
	char orig[PATH_MAX];
	struct df_file *f;
	unsigned int h;
	int ret;

	*added = false;
	h = df_hash(st->st_dev, st->st_ino, flags, fi->pos, c->nr_buckets);
	for (int i = c->buckets[h]; i >= 0; i = c->v[i].next) {
		f = &c->v[i];
		if (f->dev != st->st_dev || f->ino != st->st_ino || f->flags != flags || f->pos != fi->pos)
			continue;
		if ((ret = df_same_file(f->pid, f->fd, pid, fd, e)) < 0)
			return ret;
		if (ret) {
			*id = f->id;
			return 0;
		}
	}

	if ((ret = df_new_id(c, &my_id, e)) < 0)	/* f moves if a file in flight in a socket grows c->v */
		return ret;
	f = &c->v[c->nr - 1];
	f->pid = pid;
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->flags = flags;
	f->pos = fi->pos;
	f->next = c->buckets[h];
	c->buckets[h] = c->nr - 1;

	re.id = my_id;
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
	if ((ret = df_fown(c, pid, fd, &fown, &owned, e)) < 0)
		return ret;
	if (owned)
		re.fown = &fown;
	if (ext) {
		/* Outside the tree: its key stands for it, nothing else is read. */
		re.path = re.external = (char *)ext;
		re.has_size = false;
		return df_file_write(c, &re, &usk, link, pid, fd, id, added, e);
	}
	if (!strncmp(link, "socket:", 7)) {
		const char *why;

		ret = df_unix(c, pid, fd, st->st_ino, &usk, &why, e);
		if (ret < 0) {
			df_usk_free(&usk);
			return ret;
		}
		if (why)
			df_refuse(c, pid, fd, link, why);
		re.unix_sk = &usk.u;
		re.has_mnt_id = false;
	}
	if (!strncmp(link, "anon_inode:", 11)) {
		if ((ret = df_anon(pid, fd, link, &anon, &tfds, &watches, e)) < 0)
			return ret;
		re.anon = &anon;
		re.has_mnt_id = false;
	}
	/* Unlinked by the name it was opened with: maybe by its last name
	 * (nlink 0: a ghost unless it can be relinked), maybe while another
	 * hard link keeps it (then it can always be linked back). */
	if (S_ISREG(st->st_mode) && !strncmp(link, "/memfd:", 7) && df_ends_with(link, DF_DELETED)) {
		/* A memfd: saved whole, once per inode, in the memfd images. */
		size_t n = strlen(link) - strlen(DF_DELETED);

		if (n >= sizeof(orig))
			return err_input(e, "memfd name of pid %d fd %d is too long", pid, fd);
		memcpy(orig, link, n);
		orig[n] = 0;
		re.path = orig;
		re.has_memfd = re.memfd = true;
		re.has_mnt_id = false;
		if ((ret = df_memfd(c, pid, fd, orig, st, e)) < 0)
			return ret;
	} else if (S_ISREG(st->st_mode) && df_ends_with(link, DF_DELETED)) {
		size_t n = strlen(link) - strlen(DF_DELETED);

		if (n >= sizeof(orig))
			return err_input(e, "path of pid %d fd %d is too long", pid, fd);
		memcpy(orig, link, n);
		orig[n] = 0;
		re.path = orig;
		re.has_remapped = re.remapped = true;
		if ((ret = df_remap(c, pid, fd, orig, st, my_id, e)) < 0)
			return ret;
	} else if (S_ISREG(st->st_mode) && link[0] == '/' && df_path_replaced(c, pid, link, st, fi->mnt_id)) {
		/* Opened by a path that now leads elsewhere (renamed, or replaced
		 * by another file): the open file still has a link somewhere, so
		 * it can be linked back and reopened by that. */
		re.has_remapped = re.remapped = true;
		if ((ret = df_remap(c, pid, fd, link, st, my_id, e)) < 0)
			return ret;
	}
	if (S_ISFIFO(st->st_mode) && link[0] == '/') {
		re.has_fifo = re.fifo = true;
		if ((ret = df_fifo_data(c, pid, fd, st, e)) < 0)
			return ret;
	}
	if (!strncmp(link, "pipe:", 5)) {
		re.has_pipe_ino = true;
		re.pipe_ino = st->st_ino;
		re.has_mnt_id = false;
		if ((ret = df_pipe_data(c, pid, fd, st->st_ino, e)) < 0)
			return ret;
	}
	return df_file_write(c, &re, &usk, link, pid, fd, id, added, e);
}

/* Writes fs-PID.img: cwd, root and umask. */
static int df_fs(struct df *c, pid_t pid, pid_t id, struct err *e)
{
	char path[64], name[64], cwd[PATH_MAX], root[PATH_MAX];
	FsEntry fs = FS_ENTRY__INIT;
	struct proc_status st;
	struct statx stx;
	struct stat sb;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if ((ret = df_readlink(path, cwd, sizeof(cwd), e)) < 0)
		return ret;
	if (df_ends_with(cwd, DF_DELETED) && stat(path, &sb) == 0 && sb.st_nlink == 0)
		return err_input(e, "pid %d: its working directory '%s' was removed, which is not supported; "
				 "let it change directory first", pid, cwd);
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	if ((ret = df_readlink(path, root, sizeof(root), e)) < 0)
		return ret;
	if ((ret = proc_read_status(pid, 0, &st, e)) < 0)
		return ret;
	fs.cwd = cwd;
	fs.root = root;
	/* The mounts they are on: a directory under an overmount has a path
	 * that leads elsewhere at restore (build-mntns finds it by these). */
	snprintf(path, sizeof(path), "/proc/%d/cwd", pid);
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID))
		fs.has_cwd_mnt_id = true, fs.cwd_mnt_id = stx.stx_mnt_id;
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	if (statx(AT_FDCWD, path, 0, STATX_MNT_ID, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID))
		fs.has_root_mnt_id = true, fs.root_mnt_id = stx.stx_mnt_id;
	fs.has_umask = true;
	fs.umask = st.umask;
	snprintf(name, sizeof(name), "fs-%d.img", id);
	return image_write_one(c->dir_fd, "fs", name, &fs.base, e);
}

static int df_int_cmp(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* The descriptor numbers open in pid, ascending; *fds is malloc'd. */
static int df_list_fds(pid_t pid, int **fds, int *nr, struct err *e)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ int *v = NULL;
	struct dirent *de;
	char path[64];
	size_t cap = 0;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return err_errno(e, "list the descriptors of pid %d ('%s')", pid, path);
	while ((errno = 0, de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (de->d_name[0] == '.' || *end || fd < 0 || fd > INT_MAX)
			continue;
		if (grow_cap(&v, &cap, (size_t)n + 1) < 0)
			return err_errno(e, "list the descriptors of pid %d", pid);
		v[n++] = fd;
	}
	if (errno)
		return err_errno(e, "list the descriptors of pid %d ('%s')", pid, path);
	if (n)
		qsort(v, n, sizeof(*v), df_int_cmp);
	*fds = TAKE_PTR(v);
	*nr = n;
	return 0;
}

/* Reads one descriptor and writes its FdinfoEntry (and its file if new). */
static int df_fd(struct df *c, struct image *fdinfo, pid_t pid, int fd, int *nr_new, struct err *e)
{
	FdinfoEntry fe = FDINFO_ENTRY__INIT;
	FileLockEntry locks[PROC_MAX_LOCKS], *lockp[PROC_MAX_LOCKS];
	struct proc_fdinfo fi;
	char path[64], link[PATH_MAX], key[EXT_KEY_MAX], why_buf[256];
	const char *why, *ext;
	struct stat st;
	bool added = false;
	uint32_t id = 0;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if ((ret = df_readlink(path, link, sizeof(link), e)) < 0)
		return ret;
	/* stat follows the magic link to the open file itself, even a deleted one. */
	if (stat(path, &st) < 0)
		return err_errno(e, "stat pid %d fd %d ('%s')", pid, fd, link);
	if ((ret = proc_read_fdinfo(pid, fd, &fi, e)) < 0)
		return ret;
	ext = df_external_key(c, link, &st, fi.mnt_id, key, sizeof(key));
	why = ext ? NULL : df_unsupported(link, &st, why_buf, sizeof(why_buf));
	if (why) {
		df_refuse(c, pid, fd, link, why);
		return 0;
	}
	if ((ret = df_file_id(c, pid, fd, link, &st, &fi, ext, &id, &added, e)) < 0)
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
			df_refuse(c, pid, fd, link, other ? "it holds a lease or lock of a kind amber cannot take again"
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

int df_task(struct df *c, pid_t pid, pid_t id, struct err *e)
{
	_cleanup_free_ int *fds = NULL;
	struct image fdinfo;
	char name[64];
	int nr = 0, nr_new = 0, unsupported = c->nr_unsupported, ret;

	if (pid <= 0)
		return err_input(e, "task record with pid %d", pid);
	if (grow_one(&c->tree, c->nr_tree) < 0)
		return err_errno(e, "remember pid %d", pid);
	c->tree[c->nr_tree++] = pid;
	snprintf(name, sizeof(name), "/proc/%d", pid);
	if (access(name, F_OK) < 0 && errno == ENOENT)
		return err_input(e, "pid %d does not exist; the task records name a process that is gone "
				 "(it exited, or the tree was not stopped)", pid);
	if ((ret = df_fs(c, pid, id, e)) < 0)
		return ret;
	if ((ret = df_list_fds(pid, &fds, &nr, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fdinfo-%d.img", id);
	if ((ret = image_open_write(&fdinfo, c->dir_fd, "fdinfo", name, e)) < 0)
		return ret;
	for (int i = 0; i < nr && ret >= 0; i++)
		ret = df_fd(c, &fdinfo, pid, fds[i], &nr_new, e);
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
