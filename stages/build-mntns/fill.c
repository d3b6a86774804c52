/* fill: a new tmpfs made again from tmpfs-MNT.img (dump-mounts' tmpfs.c). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/cleanup.h"
#include "stages/build-mntns/build-mntns.h"

/* Owner, mode, xattrs and mtime of fd (an open file or directory). */
static int fill_attrs(int fd, const TmpfsFileEntry *fe, const MntEntry *me, struct err *e)
{
	const char *p = fe->path[0] ? fe->path : "/";

	/* chown first: it clears set-id bits that fchmod then sets again. */
	if (fchown(fd, fe->uid, fe->gid) < 0 || fchmod(fd, fe->mode & 07777) < 0)
		return err_errno(e, "tmpfs mount %u: give '%s' its owner %u:%u and mode %o", me->mnt_id, p, fe->uid,
				 fe->gid, fe->mode & 07777);
	for (size_t i = 0; i < fe->n_xattrs; i++)
		if (fsetxattr(fd, fe->xattrs[i]->name, fe->xattrs[i]->value.data, fe->xattrs[i]->value.len, 0) < 0)
			return err_errno(e, "tmpfs mount %u: set xattr '%s' of '%s'", me->mnt_id, fe->xattrs[i]->name, p);
	if (fe->has_mtime_ns && !S_ISDIR(fe->mode)) {
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { fe->mtime_ns / 1000000000, fe->mtime_ns % 1000000000 } };

		if (futimens(fd, ts) < 0)
			return err_errno(e, "tmpfs mount %u: set the mtime of '%s'", me->mnt_id, p);
	}
	return 0;
}

/* Makes one entry of the image under mntfd. */
static int fill_one(int mntfd, const TmpfsFileEntry *fe, const MntEntry *me, struct err *e)
{
	const char *p = fe->path[0] ? fe->path : ".";
	_cleanup_close_ int fd = -1;

	if (fe->has_offset) {
		fd = openat(mntfd, p, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || pwrite(fd, fe->data.data, fe->data.len, fe->offset) != (ssize_t)fe->data.len)
			return err_errno(e, "tmpfs mount %u: write '%s' at %llu", me->mnt_id, p, (unsigned long long)fe->offset);
		return 0;
	}
	if (fe->link) {
		if (linkat(mntfd, fe->link, mntfd, p, 0) < 0)
			return err_errno(e, "tmpfs mount %u: link '%s' to '%s'", me->mnt_id, p, fe->link);
		return 0;
	}
	if (S_ISLNK(fe->mode)) {
		if (!fe->target || symlinkat(fe->target, mntfd, p) < 0 ||
		    fchownat(mntfd, p, fe->uid, fe->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return err_errno(e, "tmpfs mount %u: make symlink '%s'", me->mnt_id, p);
		return 0;
	}
	if (S_ISCHR(fe->mode) || S_ISBLK(fe->mode) || S_ISFIFO(fe->mode)) {
		if (mknodat(mntfd, p, fe->mode & ~07777, fe->rdev) < 0 ||
		    fchownat(mntfd, p, fe->uid, fe->gid, AT_SYMLINK_NOFOLLOW) < 0 || fchmodat(mntfd, p, fe->mode & 07777, 0) < 0)
			return err_errno(e, "tmpfs mount %u: make %s '%s'", me->mnt_id, S_ISFIFO(fe->mode) ? "FIFO" : "device node", p);
		return 0;
	}
	if (S_ISDIR(fe->mode)) {
		if (fe->path[0] && mkdirat(mntfd, p, 0700) < 0)
			return err_errno(e, "tmpfs mount %u: make directory '%s'", me->mnt_id, p);
		fd = openat(mntfd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else if (S_ISREG(fe->mode)) {
		fd = openat(mntfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
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
		/* Paths come from the image: never let one climb out. */
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
