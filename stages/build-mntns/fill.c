/* fill: a new tmpfs made again from tmpfs-MNT.img (dump-mounts' tmpfs.c).
 *
 * The image may have been written by someone else, and this stage runs as
 * root: nothing it says may reach outside the new mount. Every entry is
 * made in its parent directory, opened with openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV from the mount's root, and named
 * by its last component alone, made or opened without following a
 * symlink; so a symlink entry followed by entries "under" it fails rather
 * than writing where the symlink points. A file the dump did not see as
 * set-id (TmpfsFileEntry.setid) never gets S_ISUID, S_ISGID or file
 * capabilities, whatever its mode and xattrs say. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/build-mntns/build-mntns.h"

/* The directory that holds path (relative to the mount's root mntfd),
 * opened O_PATH beneath it without a symlink, and path's last component
 * in *name; -1 with e set if there is none such. */
static int fill_parent(int mntfd, const char *path, const char **name, const MntEntry *me, struct err *e)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	const char *slash = strrchr(path, '/');
	char dir[4096];
	int fd;

	*name = slash ? slash + 1 : path;
	if (!**name || !strcmp(*name, ".") || !strcmp(*name, ".."))
		return err_input(e, "tmpfs-%u.img: '%s' does not name a file", me->mnt_id, path);
	if (slash && (size_t)(slash - path) >= sizeof(dir))
		return err_input(e, "tmpfs-%u.img: path '%.64s...' is too long", me->mnt_id, path);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	fd = syscall(SYS_openat2, mntfd, dir, &how, sizeof(how));
	if (fd < 0 && (errno == ELOOP || errno == EXDEV || errno == ENOTDIR))
		return err_input(e, "tmpfs-%u.img: the directory of '%s' is not a directory of the tmpfs (a symlink "
				 "or another file is on its path)", me->mnt_id, path);
	if (fd < 0)
		return err_errno(e, "tmpfs mount %u: open the directory of '%s'", me->mnt_id, path);
	return fd;
}

/* The permission bits fe may have: set-id bits only if the dump saw them. */
static mode_t fill_mode(const TmpfsFileEntry *fe)
{
	mode_t mode = fe->mode & 07777;

	if (!(fe->has_setid && fe->setid))
		mode &= ~(mode_t)(S_ISUID | S_ISGID);
	return mode;
}

/* Owner, mode, xattrs and mtime of fd (an open file or directory). */
static int fill_attrs(int fd, const TmpfsFileEntry *fe, const MntEntry *me, struct err *e)
{
	const char *p = fe->path[0] ? fe->path : "/";
	mode_t mode = fill_mode(fe);

	if (mode != (fe->mode & 07777))
		pr_warn("tmpfs mount %u: '%s' has set-id bits in its mode %o that the dump did not see: made %o",
			me->mnt_id, p, fe->mode & 07777, mode);
	/* chown first: it clears set-id bits that fchmod then sets again. */
	if (fchown(fd, fe->uid, fe->gid) < 0 || fchmod(fd, mode) < 0)
		return err_errno(e, "tmpfs mount %u: give '%s' its owner %u:%u and mode %o", me->mnt_id, p, fe->uid,
				 fe->gid, mode);
	for (size_t i = 0; i < fe->n_xattrs; i++) {
		/* File capabilities work as set-id bits do. */
		if (!strcmp(fe->xattrs[i]->name, "security.capability") && !(fe->has_setid && fe->setid)) {
			pr_warn("tmpfs mount %u: '%s' has file capabilities the dump did not see: not set", me->mnt_id, p);
			continue;
		}
		if (fsetxattr(fd, fe->xattrs[i]->name, fe->xattrs[i]->value.data, fe->xattrs[i]->value.len, 0) < 0)
			return err_errno(e, "tmpfs mount %u: set xattr '%s' of '%s'", me->mnt_id, fe->xattrs[i]->name, p);
	}
	if (fe->has_mtime_ns && !S_ISDIR(fe->mode)) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { fe->mtime_ns / 1000000000, fe->mtime_ns % 1000000000 } };

		if (futimens(fd, ts) < 0)
			return err_errno(e, "tmpfs mount %u: set the mtime of '%s'", me->mnt_id, p);
	}
	return 0;
}

/* More data for the regular file already made at name in dir. */
static int fill_more(int dir, const char *name, const TmpfsFileEntry *fe, const MntEntry *me, struct err *e)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* Only a regular file: a device node made from the image is never opened. */
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return err_input(e, "tmpfs-%u.img: more data for '%s', which is not a regular file made before", me->mnt_id,
				 fe->path);
	fd = openat(dir, name, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, fe->data.data, fe->data.len, fe->offset) != (ssize_t)fe->data.len)
		return err_errno(e, "tmpfs mount %u: write '%s' at %llu", me->mnt_id, fe->path, (unsigned long long)fe->offset);
	return 0;
}

/* A hard link name in dir to the earlier entry fe->link. */
static int fill_link(int mntfd, int dir, const char *name, const TmpfsFileEntry *fe, const MntEntry *me, struct err *e)
{
	const char *oldname;
	_cleanup_close_ int olddir = fill_parent(mntfd, fe->link, &oldname, me, e);

	if (olddir < 0)
		return olddir;
	if (linkat(olddir, oldname, dir, name, 0) < 0)
		return err_errno(e, "tmpfs mount %u: link '%s' to '%s'", me->mnt_id, fe->path, fe->link);
	return 0;
}

/* Makes one entry of the image under mntfd. */
static int fill_one(int mntfd, const TmpfsFileEntry *fe, const MntEntry *me, struct err *e)
{
	const char *p = fe->path;
	_cleanup_close_ int dir = -1, fd = -1;
	const char *name = ".";

	if (fe->path[0] && (dir = fill_parent(mntfd, fe->path, &name, me, e)) < 0)
		return dir;
	if (!fe->path[0]) {
		/* The root: the mount itself. */
		if (fe->has_offset || fe->link || !S_ISDIR(fe->mode))
			return err_input(e, "tmpfs-%u.img: the root entry is not a directory (mode %o)", me->mnt_id, fe->mode);
		fd = openat(mntfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			return err_errno(e, "tmpfs mount %u: open its root", me->mnt_id);
		return fill_attrs(fd, fe, me, e);
	}
	if (fe->has_offset)
		return fill_more(dir, name, fe, me, e);
	if (fe->link)
		return fill_link(mntfd, dir, name, fe, me, e);
	if (S_ISLNK(fe->mode)) {
		if (!fe->target || symlinkat(fe->target, dir, name) < 0 ||
		    fchownat(dir, name, fe->uid, fe->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return err_errno(e, "tmpfs mount %u: make symlink '%s'", me->mnt_id, p);
		return 0;
	}
	if (S_ISCHR(fe->mode) || S_ISBLK(fe->mode) || S_ISFIFO(fe->mode)) {
		/* Just made by mknodat, so fchmodat (which follows) finds the node. */
		if (mknodat(dir, name, fe->mode & S_IFMT, fe->rdev) < 0 ||
		    fchownat(dir, name, fe->uid, fe->gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(dir, name, fill_mode(fe), 0) < 0)
			return err_errno(e, "tmpfs mount %u: make %s '%s'", me->mnt_id, S_ISFIFO(fe->mode) ? "FIFO" : "device node", p);
		return 0;
	}
	if (S_ISDIR(fe->mode)) {
		if (mkdirat(dir, name, 0700) < 0)
			return err_errno(e, "tmpfs mount %u: make directory '%s'", me->mnt_id, p);
		fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else if (S_ISREG(fe->mode)) {
		fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 && ((fe->has_data && write(fd, fe->data.data, fe->data.len) != (ssize_t)fe->data.len) ||
				(fe->has_size && ftruncate(fd, fe->size) < 0)))
			return err_errno(e, "tmpfs mount %u: write '%s'", me->mnt_id, p);
	} else {
		return err_input(e, "tmpfs-%u.img: '%s' has an unknown file type (mode %o)", me->mnt_id, p, fe->mode);
	}
	if (fd < 0)
		return err_errno(e, "tmpfs mount %u: make '%s'", me->mnt_id, p);
	return fill_attrs(fd, fe, me, e);
}

int build_mntns_fill(int dirfd, int mntfd, const MntEntry *me, struct err *e)
{
	struct image img;
	TmpfsFileEntry *fe;
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "tmpfs-%u.img", me->mnt_id);
	if ((ret = image_open_read(&img, dirfd, "tmpfs", name, e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&fe, e)) > 0) {
		/* Paths come from the image: never let one climb out (RESOLVE_BENEATH
		 * in fill_parent says so too). */
		if (fe->path[0] == '/' || strstr(fe->path, "..") || (fe->link && (fe->link[0] == '/' || strstr(fe->link, ".."))))
			ret = err_input(e, "%s: path '%s' is not inside the tmpfs", name, fe->path);
		else
			ret = fill_one(mntfd, fe, me, e);
		tmpfs_file_entry__free_unpacked(fe, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}
