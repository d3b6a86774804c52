/* tmpfs: the contents of a tmpfs that exists only in the tree's mount
 * namespace, saved to tmpfs-MNT.img (images/mnt.proto TmpfsFileEntry). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/image.h"
#include "images/mnt.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/dump-mounts/dump-mounts.h"

#define TMPFS_CHUNK (1u << 20)	/* data per record, well under the frame limit */

struct tmpfs_walk {
	struct image img;
	int mnt_id;
	const char *mountpoint;
	int files;
	struct { dev_t dev; ino_t ino; char *path; } *links;	/* hard links seen */
	int nr_links;
	char *buf;
};

/* Reads the extended attributes of an open file into fe. */
static int tmpfs_xattrs(int fd, const char *path, TmpfsFileEntry *fe, struct tmpfs_walk *w, struct err *e)
{
	char names[8192];
	ssize_t n = flistxattr(fd, names, sizeof(names));

	if (n < 0)
		return errno == ENOTSUP ? 0 : err_errno(e, "list the xattrs of '%s' on tmpfs mount %d", path, w->mnt_id);
	for (char *p = names; p < names + n; p += strlen(p) + 1) {
		XattrEntry *x = calloc(1, sizeof(*x));
		ssize_t vl = fgetxattr(fd, p, w->buf, TMPFS_CHUNK);

		if (!x)
			return err_errnum(e, ENOMEM, "xattr of '%s'", path);
		if (vl < 0) {
			free(x);
			return err_errno(e, "read xattr '%s' of '%s' on tmpfs mount %d", p, path, w->mnt_id);
		}
		xattr_entry__init(x);
		x->name = strdup(p);
		x->value.len = vl;
		x->value.data = malloc(vl ? vl : 1);
		if (!x->name || !x->value.data || grow_one(&fe->xattrs, fe->n_xattrs) < 0) {
			free(x->name);
			free(x->value.data);
			free(x);
			return err_errnum(e, ENOMEM, "xattr of '%s'", path);
		}
		memcpy(x->value.data, w->buf, vl);
		fe->xattrs[fe->n_xattrs++] = x;
		/* File capabilities are kept at restore only with setid. */
		if (!strcmp(p, "security.capability"))
			fe->has_setid = fe->setid = true;
	}
	return 0;
}

/* Frees the xattrs tmpfs_xattrs added to fe (fe itself is on the stack). */
static void tmpfs_entry_free(TmpfsFileEntry *fe)
{
	for (size_t i = 0; i < fe->n_xattrs; i++) {
		free(fe->xattrs[i]->name);
		free(fe->xattrs[i]->value.data);
		free(fe->xattrs[i]);
	}
	free(fe->xattrs);
}

/* Writes a regular file's data, TMPFS_CHUNK per record after the first. */
static int tmpfs_file_data(int fd, TmpfsFileEntry *fe, struct tmpfs_walk *w, struct err *e)
{
	uint64_t off = 0;
	int ret = 0;

	for (;;) {
		ssize_t n = pread(fd, w->buf, TMPFS_CHUNK, off);

		if (n < 0)
			return err_errno(e, "read '%s' on tmpfs mount %d", fe->path, w->mnt_id);
		if (off == 0) {
			fe->has_data = true;
			fe->data.data = (uint8_t *)w->buf;
			fe->data.len = n;
			ret = image_write(&w->img, &fe->base, e);
		} else if (n > 0) {
			TmpfsFileEntry c = TMPFS_FILE_ENTRY__INIT;

			c.path = fe->path;
			c.mode = fe->mode;
			c.has_offset = c.has_data = true;
			c.offset = off;
			c.data.data = (uint8_t *)w->buf;
			c.data.len = n;
			ret = image_write(&w->img, &c.base, e);
		}
		if (ret < 0 || n < TMPFS_CHUNK)
			return ret;
		off += n;
	}
}

static int tmpfs_walk_dir(int dirfd, const char *rel, struct tmpfs_walk *w, struct err *e);

/* Saves one directory entry 'name' of dirfd (path 'rel' in the mount). */
static int tmpfs_one(int dirfd, const char *name, const char *rel, struct tmpfs_walk *w, struct err *e)
{
	TmpfsFileEntry fe = TMPFS_FILE_ENTRY__INIT;
	_cleanup_close_ int fd = -1;
	char target[PATH_MAX];
	struct stat st;
	int ret = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_errno(e, "stat '%s' on tmpfs mount %d at '%s'", rel, w->mnt_id, w->mountpoint);
	fe.path = (char *)rel;
	fe.mode = st.st_mode;
	fe.uid = st.st_uid;
	fe.gid = st.st_gid;
	fe.has_mtime_ns = true;
	fe.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	/* Restore gives set-id bits (and file capabilities, tmpfs_xattrs) only
	 * to what had them. */
	fe.has_setid = fe.setid = (st.st_mode & (S_ISUID | S_ISGID)) != 0;
	w->files++;
	if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
		char *path;

		for (int i = 0; i < w->nr_links; i++)
			if (w->links[i].ino == st.st_ino && w->links[i].dev == st.st_dev) {
				fe.link = w->links[i].path;
				return image_write(&w->img, &fe.base, e);
			}
		if (grow_one(&w->links, w->nr_links) < 0 || !(path = strdup(rel)))
			return err_errno(e, "remember the hard links of '%s' on tmpfs mount %d", rel, w->mnt_id);
		w->links[w->nr_links++] = (typeof(*w->links)){ st.st_dev, st.st_ino, path };
	}
	if (S_ISLNK(st.st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return err_errno(e, "read symlink '%s' on tmpfs mount %d", rel, w->mnt_id);
		target[n] = 0;
		fe.target = target;
		return image_write(&w->img, &fe.base, e);
	}
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		fe.has_rdev = true;
		fe.rdev = st.st_rdev;
		return image_write(&w->img, &fe.base, e);
	}
	if (S_ISSOCK(st.st_mode)) {
		/* A socket file means nothing without its socket; a listener the
		 * tree holds makes it again when restore-files binds it. */
		pr_warn("tmpfs mount %d: socket file '%s' is not saved", w->mnt_id, rel);
		w->files--;
		return 0;
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, "open '%s' on tmpfs mount %d at '%s'", rel, w->mnt_id, w->mountpoint);
	if (S_ISDIR(st.st_mode)) {
		if ((ret = tmpfs_xattrs(fd, rel, &fe, w, e)) >= 0)
			ret = image_write(&w->img, &fe.base, e);
		tmpfs_entry_free(&fe);
		return ret < 0 ? ret : tmpfs_walk_dir(fd, rel, w, e);
	}
	fe.has_size = true;
	fe.size = st.st_size;
	if ((ret = tmpfs_xattrs(fd, rel, &fe, w, e)) >= 0)
		ret = tmpfs_file_data(fd, &fe, w, e);
	tmpfs_entry_free(&fe);
	return ret;
}

/* Saves what directory dirfd ('rel') holds, depth first. */
static int tmpfs_walk_dir(int dirfd, const char *rel, struct tmpfs_walk *w, struct err *e)
{
	int dfd = dup(dirfd), ret = 0;
	_cleanup_closedir_ DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;

	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return err_errno(e, "list '%s' on tmpfs mount %d", rel, w->mnt_id);
	}
	while (ret >= 0 && (de = readdir(d))) {
		char path[PATH_MAX];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", de->d_name) >= (int)sizeof(path))
			return err_input(e, "tmpfs mount %d: a path under '%s' is too long", w->mnt_id, rel);
		ret = tmpfs_one(dirfd, de->d_name, path, w, e);
	}
	return ret;
}

int dump_mounts_tmpfs(int dirfd, int mntfd, const struct mountinfo *m, int *files, struct err *e)
{
	struct tmpfs_walk w = { .mnt_id = m->id, .mountpoint = m->mountpoint };
	TmpfsFileEntry root = TMPFS_FILE_ENTRY__INIT;
	_cleanup_close_ int fd = -1;
	char name[64];
	struct stat st;
	int ret;

	/* mntfd is a clone of the mount alone: no submount hides anything. */
	fd = openat(mntfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return err_errno(e, "open the root of tmpfs mount %d at '%s'", m->id, m->mountpoint);
	if (!(w.buf = malloc(TMPFS_CHUNK)))
		return err_errnum(e, ENOMEM, "tmpfs buffer");
	snprintf(name, sizeof(name), "tmpfs-%d.img", m->id);
	if ((ret = image_open_write(&w.img, dirfd, "tmpfs", name, e)) < 0) {
		free(w.buf);
		return ret;
	}
	root.path = "";
	root.mode = st.st_mode;
	root.has_setid = root.setid = (st.st_mode & (S_ISUID | S_ISGID)) != 0;
	root.uid = st.st_uid;
	root.gid = st.st_gid;
	ret = tmpfs_xattrs(fd, "/", &root, &w, e);
	if (ret >= 0)
		ret = image_write(&w.img, &root.base, e);
	tmpfs_entry_free(&root);
	if (ret >= 0)
		ret = tmpfs_walk_dir(fd, "", &w, e);
	if (ret >= 0)
		ret = image_close_write(&w.img, e);
	else
		image_close(&w.img);
	for (int i = 0; i < w.nr_links; i++)
		free(w.links[i].path);
	free(w.links);
	free(w.buf);
	*files = w.files;
	return ret;
}
