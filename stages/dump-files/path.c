/* dump-files/path.c: what is opened by a path. A regular file unlinked
 * while open, or whose path now leads elsewhere, is linked back under a
 * hidden name next to where it lived (a link remap) when the kernel allows,
 * else its contents are saved (a ghost file), up to --ghost-limit bytes;
 * both are listed in remaps.img. Directories and device nodes need nothing
 * but their path; what cannot be opened again by a path is refused. See
 * dump-files.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "images/remap.h"
#include "stages/dump-files/dump-files.h"

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

/* The remap made already for this inode (another description of it), or NULL. */
static const struct df_remapped *df_remapped_of(const struct df *c, const struct stat *st)
{
	for (int i = 0; i < c->nr_remapped; i++)
		if (c->remapped[i].dev == st->st_dev && c->remapped[i].ino == st->st_ino)
			return &c->remapped[i];
	return NULL;
}

/* Remembers the remap of an inode, for its other descriptions. */
static int df_remember_remap(struct df *c, const struct stat *st, uint32_t id, int kind, const char *path,
			     struct err *e)
{
	if (grow_one(&c->remapped, c->nr_remapped) < 0)
		return err_errno(e, "remember a remap");
	c->remapped[c->nr_remapped] = (struct df_remapped){ st->st_dev, st->st_ino, id, kind, path ? strdup(path) : NULL };
	c->nr_remapped++;
	return 0;
}

/* The bytes of data in rfd, a file of size bytes: what SEEK_DATA and
 * SEEK_HOLE find (the whole size on a file system without holes). */
static int df_ghost_data_bytes(int rfd, off_t size, uint64_t *bytes)
{
	off_t at = 0, end;

	*bytes = 0;
	while (at < size) {
		at = lseek(rfd, at, SEEK_DATA);
		if (at < 0 && errno == ENXIO)
			break;
		if (at < 0)
			return -1;
		end = lseek(rfd, at, SEEK_HOLE);
		if (end < 0)
			return -1;
		if (end > size)
			end = size;
		*bytes += end - at;
		at = end;
	}
	return 0;
}

#define DF_GHOST_RECORD (4u << 20)	/* the data one ghost record holds at most */

/* Writes the data runs of rfd (size bytes) into the ghost image, records of
 * up to DF_GHOST_RECORD bytes of data, each a copy of head with its runs. */
static int df_ghost_write_runs(struct image *img, GhostFileEntry *head, int rfd, off_t size, const char *orig,
			       struct err *e)
{
	GhostRun runs[64], *runp[64];
	_cleanup_free_ uint8_t *buf = malloc(DF_GHOST_RECORD);
	size_t used = 0;
	int nr = 0, ret;
	off_t at = 0, end = 0;

	if (!buf)
		return err_errno(e, "read the unlinked file '%s'", orig);
	for (;;) {
		/* The next stretch of data: [at, end), taken up to what fits. */
		if (at >= end && at < size) {
			off_t d = lseek(rfd, at, SEEK_DATA);

			if (d < 0 && errno != ENXIO)
				return err_errno(e, "find the data of the unlinked file '%s' (SEEK_DATA)", orig);
			at = d < 0 ? size : d;
			end = at < size ? lseek(rfd, at, SEEK_HOLE) : size;
			if (end < 0)
				return err_errno(e, "find the holes of the unlinked file '%s' (SEEK_HOLE)", orig);
			if (end > size)
				end = size;
		}
		if (at < end && used < DF_GHOST_RECORD && nr < 64) {
			size_t n = end - at < (off_t)(DF_GHOST_RECORD - used) ? (size_t)(end - at) : DF_GHOST_RECORD - used;
			ssize_t got = pread(rfd, buf + used, n, at);

			if (got != (ssize_t)n)
				return err_errno(e, "read %zu bytes at %lld of the unlinked file '%s'", n, (long long)at, orig);
			runs[nr] = (GhostRun)GHOST_RUN__INIT;
			runs[nr].offset = at;
			runs[nr].data.data = buf + used;
			runs[nr].data.len = n;
			runp[nr] = &runs[nr];
			nr++;
			used += n;
			at += n;
			continue;
		}
		/* A full record, or the end: write what was gathered. */
		if (nr || !img->nr_written) {
			head->n_runs = nr;
			head->runs = runp;
			ret = image_write(img, &head->base, e);
			head->n_runs = 0;
			head->runs = NULL;
			if (ret < 0)
				return ret;
		}
		if (at >= size)
			return 0;
		nr = 0;
		used = 0;
	}
}

/* Saves a file's data in the images (a ghost file), up to --ghost-limit
 * bytes of it: only its data runs, so a sparse file keeps its holes. */
static int df_ghost(struct df *c, pid_t pid, int fd, const char *path, const char *orig, const struct stat *st,
		    uint32_t id, struct err *e)
{
	RemapEntry rm = REMAP_ENTRY__INIT;
	GhostFileEntry gh = GHOST_FILE_ENTRY__INIT;
	char gname[64];
	_cleanup_close_ int rfd = -1;
	struct image img;
	uint64_t bytes;
	int ret;

	rm.file_id = id;
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return err_errno(e, "open the unlinked file '%s' of pid %d fd %d to read it", orig, pid, fd);
	if (df_ghost_data_bytes(rfd, st->st_size, &bytes) < 0)
		return err_errno(e, "find the data of the unlinked file '%s' of pid %d fd %d", orig, pid, fd);
	if (bytes > c->ghost_limit) {
		char why[256];

		snprintf(why, sizeof(why), "its %llu bytes of data must be saved in the images, over the ghost-limit of "
			 "%llu bytes (raise it with --ghost-limit)", (unsigned long long)bytes,
			 (unsigned long long)c->ghost_limit);
		df_refuse(c, pid, fd, orig, why);
		return 0;
	}
	gh.file_id = id;
	gh.mode = st->st_mode;
	gh.size = st->st_size;
	gh.has_uid = gh.has_gid = true;
	gh.uid = st->st_uid;
	gh.gid = st->st_gid;
	snprintf(gname, sizeof(gname), "ghost-%u.img", id);
	if ((ret = image_open_write(&img, c->dir_fd, "ghost", gname, e)) < 0)
		return ret;
	if ((ret = df_ghost_write_runs(&img, &gh, rfd, st->st_size, orig, e)) < 0) {
		image_close(&img);
		return ret;
	}
	if ((ret = image_close_write(&img, e)) < 0)
		return ret;
	rm.kind = REMAP_KIND__REMAP_GHOST;
	rm.has_ghost_id = true;
	rm.ghost_id = id;
	if (df_remember_remap(c, st, id, rm.kind, NULL, e) < 0)
		return -1;
	pr_info("pid %d fd %d: '%s' was unlinked; its %llu bytes of data (size %lld) are saved in %s", pid, fd, orig,
		(unsigned long long)bytes, (long long)st->st_size, gname);
	return df_write_remap(c, &rm, e);
}

/* A file unlinked while open: link it back under a hidden name next to
 * where it lived (a link remap), which the kernel allows only for files
 * made with O_TMPFILE; otherwise save its contents (a ghost file), up to
 * --ghost-limit bytes. The file is reached through path (the /proc link of
 * pid's fd, or of a mapping of it). */
static int df_remap(struct df *c, pid_t pid, int fd, const char *path, const char *orig, const struct stat *st,
		    uint32_t id, struct err *e)
{
	const struct df_remapped *prev = df_remapped_of(c, st);
	RemapEntry rm = REMAP_ENTRY__INIT;
	char link[PATH_MAX + 64], dir[PATH_MAX], here[PATH_MAX + 128];
	const char *slash = strrchr(orig, '/');

	if (prev) {
		/* One remap per inode: this description reaches it the same way. */
		rm.file_id = id;
		rm.kind = prev->kind;
		rm.path = prev->path;
		if (prev->kind == REMAP_KIND__REMAP_LINK) {
			rm.has_dev = rm.has_ino = true;
			rm.dev = st->st_dev;
			rm.ino = st->st_ino;
		}
		if (prev->kind == REMAP_KIND__REMAP_GHOST) {
			rm.has_ghost_id = true;
			rm.ghost_id = prev->file_id;
		}
		return df_write_remap(c, &rm, e);
	}
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
		/* The link is the open file's inode: only it is ever removed. */
		rm.has_dev = rm.has_ino = true;
		rm.dev = st->st_dev;
		rm.ino = st->st_ino;
		if (df_remember_remap(c, st, id, rm.kind, link, e) < 0)
			return -1;
		pr_info("pid %d fd %d: '%s' %s; linked back as '%s'", pid, fd, orig,
			st->st_nlink ? "is no longer at that path" : "was unlinked", link);
		return df_write_remap(c, &rm, e);
	}
	pr_debug("pid %d fd %d: cannot link '%s' back (%m): saving it as a ghost file", pid, fd, orig);
	return df_ghost(c, pid, fd, path, orig, st, id, e);
}

static int df_proc_describe(struct df *c, struct df_desc *d, struct err *e);

bool df_regular_match(const char *link, const struct stat *st)
{
	return S_ISREG(st->st_mode);
}

/* Unlinked by the name it was opened with: maybe by its last name (nlink
 * 0: a ghost unless it can be relinked), maybe while another hard link
 * keeps it (then it can always be linked back). Or opened by a path that
 * now leads elsewhere (renamed, or replaced by another file): the open file
 * still has a link somewhere, so it can be linked back and reopened by
 * that. */
int df_regular_describe(struct df *c, struct df_desc *d, struct err *e)
{
	char src[64];
	const char *path = d->src;
	int ret;

	if ((ret = df_proc_describe(c, d, e)) != 0)
		return ret < 0 ? ret : 0;
	if (!path) {
		snprintf(src, sizeof(src), "/proc/%d/fd/%d", d->pid, d->fd);
		path = src;
	}
	if (df_is_deleted(d->link)) {
		size_t n = strlen(d->link) - strlen(DF_DELETED);

		if (n >= sizeof(d->path))
			return err_input(e, "path of pid %d fd %d is too long", d->pid, d->fd);
		memcpy(d->path, d->link, n);
		d->path[n] = 0;
		d->re.path = d->path;
		d->re.has_remapped = d->re.remapped = true;
		return df_remap(c, d->pid, d->fd, path, d->path, d->st, d->re.id, e);
	}
	if (df_path_replaced(c, d->pid, d->link, d->st, d->fi->mnt_id)) {
		d->re.has_remapped = d->re.remapped = true;
		return df_remap(c, d->pid, d->fd, path, d->link, d->st, d->re.id, e);
	}
	return 0;
}

/* A file under /proc/PID/ (or /proc/PID itself) of a process of the
 * tree: recorded with the process's image pid, which the restored task
 * opens again itself (1); one of a process outside the tree is refused
 * (1); anything else under /proc or elsewhere is opened by its path (0). */
static int df_proc_describe(struct df *c, struct df_desc *d, struct err *e)
{
	char why[256], fs[64];
	const char *rest;
	unsigned long pid;
	char *end;
	struct statfs sf;

	if (strncmp(d->link, "/proc/", 6) || d->link[6] < '1' || d->link[6] > '9' || d->fd < 0)
		return 0;
	snprintf(fs, sizeof(fs), "/proc/%d/fd/%d", d->pid, d->fd);
	if (statfs(fs, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
		return 0;
	pid = strtoul(d->link + 6, &end, 10);
	if (*end && *end != '/')
		return 0;
	rest = end;
	for (int i = 0; i < c->nr_in_tasks; i++)
		if (c->in_tasks[i].host == pid) {
			snprintf(d->path, sizeof(d->path), "/proc/%u%s", c->in_tasks[i].pid, rest);
			d->re.path = d->path;
			d->re.has_proc_pid = true;
			d->re.proc_pid = c->in_tasks[i].pid;
			return 1;
		}
	snprintf(why, sizeof(why), "it is a file of pid %lu under /proc, and that is not a live process of the tree; "
		 "amber cannot point it at the same process again (close it before the dump)", pid);
	df_refuse(c, d->pid, d->fd, d->link, why);
	return 1;
}

/* A directory removed while open: where it lived, its owner (the mode
 * is in the record): restore makes it again, empty, and removes it. A
 * file under /proc of the tree's processes: df_proc_describe. */
int df_dir_describe(struct df *c, struct df_desc *d, struct err *e)
{
	size_t n;
	int ret;

	if ((ret = df_proc_describe(c, d, e)) != 0)
		return ret < 0 ? ret : 0;
	if (!S_ISDIR(d->st->st_mode) || d->st->st_nlink || !df_is_deleted(d->link))
		return 0;
	n = strlen(d->link) - strlen(DF_DELETED);
	if (n >= sizeof(d->path))
		return err_input(e, "path of pid %d fd %d is too long", d->pid, d->fd);
	memcpy(d->path, d->link, n);
	d->path[n] = 0;
	d->re.path = d->path;
	d->re.has_deleted = d->re.deleted = true;
	d->re.has_uid = d->re.has_gid = true;
	d->re.uid = d->st->st_uid;
	d->re.gid = d->st->st_gid;
	return 0;
}

int df_deleted_cwd(struct df *c, pid_t pid, pid_t id, const char *cwd, uint32_t *file_id, struct err *e)
{
	struct df_desc d = { .pid = pid, .fd = -1, .re = REG_FILE_ENTRY__INIT };
	char src[64];
	struct stat st;
	int ret;

	snprintf(src, sizeof(src), "/proc/%d/cwd", pid);
	if (stat(src, &st) < 0)
		return err_errno(e, "stat the removed working directory '%s' of pid %d", cwd, pid);
	d.link = cwd;
	d.st = &st;
	if ((ret = df_new_id(c, &d.re.id, e)) < 0)
		return ret;
	d.re.flags = O_RDONLY | O_DIRECTORY;
	d.re.has_inode = d.re.has_dev = d.re.has_mode = true;
	d.re.inode = st.st_ino;
	d.re.dev = st.st_dev;
	d.re.mode = st.st_mode;
	d.re.has_mapped_by = true;
	d.re.mapped_by = id;
	if ((ret = df_dir_describe(c, &d, e)) < 0)
		return ret;
	*file_id = d.re.id;
	pr_info("pid %d: its working directory '%s' was removed: file %u", pid, cwd, d.re.id);
	return image_write(&c->files, &d.re.base, e);
}

/* Why a file opened by a path (a FIFO, a directory, a device node, or
 * whatever else) cannot be dumped yet, or NULL if it can: anything that can
 * be opened again by its path can. */
const char *df_path_unsupported(const char *link, const struct stat *st, char *buf, size_t size)
{
	if (!strncmp(link, "/memfd:", 7) && st->st_nlink == 0 && !S_ISREG(st->st_mode))
		return "this kind of memfd is not supported yet";
	if (st->st_nlink == 0 && df_is_deleted(link) && !S_ISREG(st->st_mode) && !S_ISFIFO(st->st_mode) &&
	    !S_ISDIR(st->st_mode))
		return "it was deleted while open, and only deleted regular files, FIFOs and directories are supported yet";
	if (df_is_tty(link, st)) {
		struct ext_key k = { .kind = EXT_TTY, .a = st->st_rdev, .b = st->st_dev };
		char key[EXT_KEY_MAX];

		ext_format(&k, key, sizeof(key));
		snprintf(buf, size, "it is a terminal; dump with --shell-job to give it back at restore as the terminal "
			 "amber runs on, or with --external %s and restore with --inherit-fd fd[N]:%s", key, key);
		return buf;
	}
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ||
	    S_ISFIFO(st->st_mode))
		return NULL;
	/* Only O_PATH opens a symlink itself (with O_NOFOLLOW) or a socket
	 * file: opened again by its path with the same flags. */
	if ((S_ISLNK(st->st_mode) || S_ISSOCK(st->st_mode)) && st->st_nlink)
		return NULL;
	return "only regular files, directories, device nodes, and symlinks and socket files opened with O_PATH "
	       "are supported yet";
}
