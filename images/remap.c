/* remap: see remap.h. */
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "images/remap.h"

/* Sets e to why path is left alone; returns REMAP_NOT_OURS. */
static int remap_not_ours(struct err *e, const char *path, const char *why)
{
	err_input(e, "'%s' is not the link remap the dump made (%s): left alone", path, why);
	return REMAP_NOT_OURS;
}

/* Is dev a tmpfs build-mntns filled from the images? */
static bool remap_made_dev(const struct remap_expect *x, uint64_t dev)
{
	for (size_t i = 0; i < x->nr_made; i++)
		if (x->made[i] == dev)
			return true;
	return false;
}

int remap_unlink(const char *path, const struct remap_expect *x, struct err *e)
{
	const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS };
	_cleanup_close_ int dfd = -1;
	char dir[PATH_MAX], why[160];
	struct stat st;

	if (path[0] != '/')
		return remap_not_ours(e, path, "not an absolute path");
	if (strncmp(base, REMAP_PREFIX, strlen(REMAP_PREFIX)))
		return remap_not_ours(e, path, "its name does not start with " REMAP_PREFIX);
	if (!x->has_id)
		return remap_not_ours(e, path, "the images record no device and inode for it");
	if ((size_t)(slash - path) >= sizeof(dir))
		return remap_not_ours(e, path, "its directory's path is too long");
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	/* The directory is reached without a symlink (a dump names it by the
	 * kernel's path, which has none), so the checks below and the unlink
	 * are about one file. */
	dfd = syscall(SYS_openat2, AT_FDCWD, dir, &how, sizeof(how));
	if (dfd < 0 && errno == ENOENT)
		return REMAP_MISSING;
	if (dfd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return remap_not_ours(e, path, "its directory's path goes through a symlink");
	if (dfd < 0)
		return err_errno(e, "open the directory of link remap '%s'", path);
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? REMAP_MISSING : err_errno(e, "look at link remap '%s'", path);
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, sizeof(why), "it is not a regular file: mode %o", st.st_mode);
		return remap_not_ours(e, path, why);
	}
	if (((uint64_t)st.st_dev != x->dev || (uint64_t)st.st_ino != x->ino) && !remap_made_dev(x, st.st_dev)) {
		snprintf(why, sizeof(why), "it is inode %llu on device %u:%u, the dump made inode %llu on device %u:%u",
			 (unsigned long long)st.st_ino, major(st.st_dev), minor(st.st_dev), (unsigned long long)x->ino,
			 major(x->dev), minor(x->dev));
		return remap_not_ours(e, path, why);
	}
	if (unlinkat(dfd, base, 0) < 0)
		return errno == ENOENT ? REMAP_MISSING : err_errno(e, "remove link remap '%s'", path);
	return REMAP_REMOVED;
}

int remap_each_link(int dirfd, int (*fn)(const RemapEntry *re, void *arg, struct err *e), void *arg, struct err *e)
{
	struct image img;
	RemapEntry *re;
	int ret = image_open_read(&img, dirfd, "remaps", "remaps.img", e);

	if (ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&re, e)) > 0) {
		if (re->kind == REMAP_KIND__REMAP_LINK && re->path)
			ret = fn(re, arg, e);
		remap_entry__free_unpacked(re, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}

static int remap_unlink_one(const RemapEntry *re, void *arg, struct err *e)
{
	struct err why = { 0 };
	int *removed = arg;
	struct remap_expect x = { re->has_dev && re->has_ino, re->dev, re->ino, NULL, 0 };
	int ret = remap_unlink(re->path, &x, &why);

	if (ret == REMAP_REMOVED) {
		pr_debug("removed link remap '%s' of file %u", re->path, re->file_id);
		if (removed)
			(*removed)++;
	} else if (ret != REMAP_MISSING) {
		pr_warn("could not remove link remap of file %u: %s", re->file_id, why.msg);
	}
	return 0;
}

int remap_remove_links(int dirfd, int *removed, struct err *e)
{
	if (removed)
		*removed = 0;
	return remap_each_link(dirfd, remap_unlink_one, removed, e);
}
