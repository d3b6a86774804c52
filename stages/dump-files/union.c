/* dump-files/union.c: --union-root BRANCH=UNION. A union file system that
 * /proc shows by its branches (AUFS and the like) gives a descriptor, cwd
 * or root a path under a branch; the file is opened again through the
 * union, so the path under UNION is recorded, with the union's device,
 * inode and mount id, once the file there is found to be the same (type
 * and size). lib/union.h maps the paths. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lib/log.h"
#include "lib/union.h"
#include "stages/dump-files/dump-files.h"

int df_union_path(struct df *c, pid_t pid, int fd, char *link, size_t size, struct stat *st, int *mnt_id)
{
	char mapped[PATH_MAX], here[PATH_MAX + 128], why[PATH_MAX + 160];
	struct statx stx;
	int r;

	if (!c->nr_union_roots || link[0] != '/' || !strncmp(link, "/memfd:", 7))
		return 0;
	r = union_root_map(c->union_roots, c->nr_union_roots, link, mapped, sizeof(mapped));
	if (r == 0)
		return 0;
	if (r < 0 || strlen(mapped) >= size) {
		df_refuse(c, pid, fd, link, "--union-root makes its path longer than a path can be");
		return 1;
	}
	/* An unlinked file is saved or linked back by its path: only the
	 * directory it goes in changes. */
	if (!df_is_deleted(link)) {
		df_ns_path(c, pid, mapped, here, sizeof(here));
		if (statx(AT_FDCWD, here, 0, STATX_BASIC_STATS | STATX_MNT_ID, &stx) < 0 ||
		    (stx.stx_mode & S_IFMT) != (st->st_mode & S_IFMT) ||
		    (S_ISREG(st->st_mode) && (off_t)stx.stx_size != st->st_size)) {
			snprintf(why, sizeof(why), "--union-root maps it to '%s', which is %s; check the BRANCH=UNION pair",
				 mapped, (stx.stx_mode & S_IFMT) != (st->st_mode & S_IFMT) ? "missing or another kind of file"
											: "another size");
			df_refuse(c, pid, fd, link, why);
			return 1;
		}
		st->st_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
		st->st_ino = stx.stx_ino;
		if (mnt_id && (stx.stx_mask & STATX_MNT_ID))
			*mnt_id = stx.stx_mnt_id;
	}
	pr_debug("pid %d fd %d: '%s' is '%s' in the union (--union-root)", pid, fd, link, mapped);
	memcpy(link, mapped, strlen(mapped) + 1);
	return 0;
}

int df_union_dir(struct df *c, pid_t pid, const char *what, char *path, size_t size, struct err *e)
{
	char mapped[PATH_MAX], here[PATH_MAX + 128];
	struct stat st;
	int r;

	if (!c->nr_union_roots || path[0] != '/')
		return 0;
	r = union_root_map(c->union_roots, c->nr_union_roots, path, mapped, sizeof(mapped));
	if (r == 0)
		return 0;
	df_ns_path(c, pid, mapped, here, sizeof(here));
	if (r < 0 || strlen(mapped) >= size || stat(here, &st) < 0 || !S_ISDIR(st.st_mode))
		return err_input(e, "pid %d: its %s '%s' is under a --union-root branch, and the union has no directory "
				 "'%s'; check the BRANCH=UNION pair", pid, what, path, r < 0 ? "(too long)" : mapped);
	pr_debug("pid %d: %s '%s' is '%s' in the union (--union-root)", pid, what, path, mapped);
	memcpy(path, mapped, strlen(mapped) + 1);
	return 0;
}
