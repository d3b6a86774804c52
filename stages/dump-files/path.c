/* dump-files/path.c: what is opened by a path. A regular file unlinked
 * while open, or whose path now leads elsewhere, is linked back under a
 * hidden name next to where it lived (a link remap) when the kernel allows,
 * else its contents are saved (a ghost file), up to --ghost-limit bytes;
 * both are listed in remaps.img. Directories and device nodes need nothing
 * but their path; what cannot be opened again by a path is refused. See
 * dump-files.h. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* A file unlinked while open: link it back under a hidden name next to
 * where it lived (a link remap), which the kernel allows only for files
 * made with O_TMPFILE; otherwise save its contents (a ghost file), up to
 * --ghost-limit bytes. */
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
	return df_ghost(c, pid, fd, orig, st, id, e);
}

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
	if (df_is_deleted(d->link)) {
		size_t n = strlen(d->link) - strlen(DF_DELETED);

		if (n >= sizeof(d->path))
			return err_input(e, "path of pid %d fd %d is too long", d->pid, d->fd);
		memcpy(d->path, d->link, n);
		d->path[n] = 0;
		d->re.path = d->path;
		d->re.has_remapped = d->re.remapped = true;
		return df_remap(c, d->pid, d->fd, d->path, d->st, d->re.id, e);
	}
	if (df_path_replaced(c, d->pid, d->link, d->st, d->fi->mnt_id)) {
		d->re.has_remapped = d->re.remapped = true;
		return df_remap(c, d->pid, d->fd, d->link, d->st, d->re.id, e);
	}
	return 0;
}

/* Why a file opened by a path (a FIFO, a directory, a device node, or
 * whatever else) cannot be dumped yet, or NULL if it can: anything that can
 * be opened again by its path can. */
const char *df_path_unsupported(const char *link, const struct stat *st, char *buf, size_t size)
{
	if (!strncmp(link, "/memfd:", 7) && st->st_nlink == 0 && !S_ISREG(st->st_mode))
		return "this kind of memfd is not supported yet";
	if (st->st_nlink == 0 && df_is_deleted(link) && !S_ISREG(st->st_mode))
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
