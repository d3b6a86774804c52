/* dumpdir: see dumpdir.h. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "driver/dumpdir.h"
#include "driver/run.h"
#include "images/image.h"
#include "images/pagechain.h"
#include "lib/track.h"
#include "lib/exitcodes.h"
#include "lib/log.h"

/* An image, a memfd image or a temporary file of one (images/memfd.c names
 * those ".tmp.IMAGE.PID"). */
static bool dumpdir_is_image(const char *name)
{
	char base[NAME_MAX + 1];
	size_t n;

	snprintf(base, sizeof(base), "%s", name);
	if (!strncmp(base, ".tmp.", 5)) {
		char *dot = strrchr(base, '.');

		if (dot && dot[1] && strspn(dot + 1, "0123456789") == strlen(dot + 1))
			*dot = 0;
		memmove(base, base + 5, strlen(base + 5) + 1);
	}
	if (image_kind_of_file(base))
		return true;
	n = strlen(base);
	return n > 4 && !strcmp(base + n - 4, ".img") && (!strncmp(base, "memfd-", 6) || !strncmp(base, "pages-memfd-", 12));
}

static bool dumpdir_is_run_dir(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && !strcmp(name + n - 4, ".run");
}

bool dumpdir_all_ours(int fd, char *other, size_t size, bool *has_images, bool *complete)
{
	DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	bool ours = true;

	*has_images = *complete = false;
	if (!d)
		return true;
	while (ours && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if ((de->d_type == DT_LNK && !strcmp(de->d_name, PAGECHAIN_LINK)) ||
		    (de->d_type == DT_SOCK && !strcmp(de->d_name, TRACK_SOCK))) {
			continue;	/* an incremental dump's parent link, a pre-dump's tracking socket */
		} else if (de->d_type == DT_REG && dumpdir_is_image(de->d_name)) {
			*has_images = true;
			*complete |= !strcmp(de->d_name, "inventory.img");
		} else if (!(de->d_type == DT_DIR && dumpdir_is_run_dir(de->d_name))) {
			snprintf(other, size, "%s", de->d_name);
			ours = false;
		}
	}
	closedir(d);
	return ours;
}

/* Opens directory name under parent without following a symlink; NULL if
 * it cannot be. */
static DIR *dumpdir_opendir(int parent, const char *name)
{
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

/* Removes a run directory's own files and the directory, if nothing else is in it. */
static void dumpdir_remove_run(int parent, const char *name)
{
	DIR *d = dumpdir_opendir(parent, name);

	if (!d)
		return;
	run_clear_own_files(dirfd(d));
	/* An ns/ left by a killed restore holds pins; those are unmounted by a restore. */
	unlinkat(dirfd(d), "ns", AT_REMOVEDIR);
	closedir(d);
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0)
		pr_warn("kept '%s': it holds files amber did not write", name);
}

/* Removes amber's files from directory 'path' and, when empty, the directory. */
static void dumpdir_remove_ours(const char *path)
{
	DIR *d = dumpdir_opendir(AT_FDCWD, path);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if ((de->d_type == DT_REG && dumpdir_is_image(de->d_name)) ||
		    (de->d_type == DT_LNK && !strcmp(de->d_name, PAGECHAIN_LINK)) ||
		    (de->d_type == DT_SOCK && !strcmp(de->d_name, TRACK_SOCK)))
			unlinkat(dirfd(d), de->d_name, 0);
		else if (de->d_type == DT_DIR && dumpdir_is_run_dir(de->d_name))
			dumpdir_remove_run(dirfd(d), de->d_name);
	}
	closedir(d);
	if (rmdir(path) < 0)
		pr_warn("kept '%s': it holds files amber did not write", path);
}

int dumpdir_lock(const char *dir, const char *what, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return err_set(e, errno == ENOENT || errno == ENOTDIR ? EXIT_INPUT : EXIT_SYSTEM,
			       "images directory '%s': %s", dir, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int saved = errno;

		close(fd);
		if (saved == EWOULDBLOCK)
			return err_set(e, EXIT_USAGE, "another amber is using '%s' (a dump, restore or gc); "
				       "wait for it to end before the %s", dir, what);
		return err_set(e, EXIT_SYSTEM, "lock '%s': %s", dir, strerror(saved));
	}
	return fd;
}

int dumpdir_check_trusted(int fd, const char *dir, struct err *e)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return err_errno(e, "images directory '%s'", dir);
	/* Restore runs as root on what the images say: a directory someone
	 * else could have written into is not taken on trust. */
	if (st.st_uid != geteuid())
		return err_set(e, EXIT_INPUT, "images directory '%s' belongs to uid %u, not to amber's user; restore it only "
			       "if you trust its images, with --allow-untrusted-dir", dir, (unsigned)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return err_set(e, EXIT_INPUT, "images directory '%s' can be written by others (mode %03o); restore it only "
			       "if you trust its images, with --allow-untrusted-dir", dir, (unsigned)(st.st_mode & 0777));
	return 0;
}

int dumpdir_begin(struct dumpdir *d, const char *images, bool force, struct err *e)
{
	char other[256], parent[PATH_MAX], base[PATH_MAX];
	bool has_images, complete;
	int ret;

	memset(d, 0, sizeof(*d));
	d->lock_fd = -1;
	if (mkdir(images, 0700) < 0 && errno != EEXIST)
		return err_set(e, errno == ENOENT ? EXIT_USAGE : EXIT_SYSTEM, "cannot create the images directory '%s': %s",
			       images, strerror(errno));
	/* The real directory: a rename must replace it, not a symlink to it. */
	if (!realpath(images, d->final))
		return err_errno(e, "images directory '%s'", images);
	if (!strcmp(d->final, "/"))
		return err_set(e, EXIT_USAGE, "'/' cannot be an images directory");
	if ((ret = dumpdir_lock(d->final, "dump", e)) < 0)
		return ret;
	d->lock_fd = ret;
	if (!dumpdir_all_ours(d->lock_fd, other, sizeof(other), &has_images, &complete))
		return err_set(e, EXIT_USAGE, "'%s' holds '%s', which is not amber's; dump into an empty or new directory",
			       d->final, other);
	if (has_images && !force)
		return err_set(e, EXIT_USAGE, "'%s' holds a%s dump already; --force replaces it (atomically, once the new "
			       "dump is complete), or dump into an empty or new directory",
			       d->final, complete ? "" : "n incomplete");
	snprintf(parent, sizeof(parent), "%s", d->final);
	snprintf(base, sizeof(base), "%s", d->final);
	snprintf(d->tmp, sizeof(d->tmp), "%s/.%s.amber-XXXXXX", dirname(parent), basename(base));
	if (!mkdtemp(d->tmp)) {
		ret = err_errno(e, "create a temporary images directory beside '%s'", d->final);
		d->tmp[0] = 0;
		return ret;
	}
	return 0;
}

/* Writes the file system of 'dir' out to its disk. */
static int dumpdir_sync(const char *dir, struct err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return err_errno(e, "open the dump directory '%s' to sync it", dir);
	if (syncfs(fd) < 0)
		ret = err_errno(e, "write the dump in '%s' out to its disk (syncfs)", dir);
	close(fd);
	return ret;
}

int dumpdir_commit(struct dumpdir *d, const char *run_dir, struct err *e)
{
	size_t fl = strlen(d->final);
	char moved[PATH_MAX + 64];

	/* The run directory inside the final one goes along with the new dump. */
	if (run_dir && !strncmp(run_dir, d->final, fl) && run_dir[fl] == '/' && !strchr(run_dir + fl + 1, '/')) {
		snprintf(moved, sizeof(moved), "%s/%s", d->tmp, run_dir + fl + 1);
		if (rename(run_dir, moved) < 0)
			pr_warn("could not move the run directory '%s' along with the dump: %m", run_dir);
	}
	/* Durable before the tree may be killed: one syncfs for every image
	 * (no stage fsyncs its files), and one more for the rename that makes
	 * the dump visible under its name. */
	if (dumpdir_sync(d->tmp, e) < 0)
		return -1;
	if (renameat2(AT_FDCWD, d->tmp, AT_FDCWD, d->final, RENAME_EXCHANGE) < 0)
		return err_errno(e, "move the dump into '%s' (from '%s')", d->final, d->tmp);
	if (dumpdir_sync(d->final, e) < 0)
		return -1;
	/* What was there (an empty directory, or the dump --force replaces) is now at tmp. */
	dumpdir_remove_ours(d->tmp);
	d->tmp[0] = 0;
	return 0;
}

void dumpdir_abort(struct dumpdir *d)
{
	if (d->tmp[0])
		dumpdir_remove_ours(d->tmp);
	d->tmp[0] = 0;
}

void dumpdir_release(struct dumpdir *d)
{
	if (d->lock_fd >= 0)
		close(d->lock_fd);
	d->lock_fd = -1;
}
