/* dump-files/task.c: one process of the tree: its place in the file
 * system (fs-PID.img) and its descriptors (fdinfo-PID.img), each file
 * behind them told apart by its kind (kinds.c) and added to files.img
 * (files.c) if it is new; see dump-files.h. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "stages/dump-files/dump-files.h"

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
	if (df_is_deleted(cwd) && stat(path, &sb) == 0 && sb.st_nlink == 0 && S_ISDIR(sb.st_mode)) {
		if ((ret = df_deleted_cwd(c, pid, id, cwd, &fs.cwd_file_id, e)) < 0)
			return ret;
		fs.has_cwd_file_id = true;
	}
	snprintf(path, sizeof(path), "/proc/%d/root", pid);
	if ((ret = df_readlink(path, root, sizeof(root), e)) < 0)
		return ret;
	if ((ret = proc_read_status(pid, 0, &st, e)) < 0)
		return ret;
	if ((ret = df_union_dir(c, pid, "working directory", cwd, sizeof(cwd), e)) < 0 ||
	    (ret = df_union_dir(c, pid, "root", root, sizeof(root), e)) < 0)
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
	if ((ret = df_pty_ctty(c, pid, &fs, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fs-%d.img", id);
	return image_write_one(c->dir_fd, "fs", name, &fs.base, e);
}

/* Why the file behind a descriptor, of kind k, cannot be dumped yet, or
 * NULL if it can. */
static const char *df_unsupported(const struct df_kind *k, const char *link, const struct stat *st, char *buf,
				  size_t size)
{
	if (!k)
		return "only files reachable by a path are supported yet";
	return k->unsupported ? k->unsupported(link, st, buf, size) : NULL;
}

/* Reads one descriptor and writes its FdinfoEntry (and its file if new). */
static int df_fd(struct df *c, struct image *fdinfo, pid_t pid, int fd, int *nr_new, struct err *e)
{
	FdinfoEntry fe = FDINFO_ENTRY__INIT;
	FileLockEntry locks[PROC_MAX_LOCKS], *lockp[PROC_MAX_LOCKS];
	struct proc_fdinfo fi;
	char path[64], link[PATH_MAX], key[EXT_KEY_MAX], why_buf[256];
	const struct df_kind *k;
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
	/* A branch's path is the union's (--union-root). */
	if ((ret = df_union_path(c, pid, fd, link, sizeof(link), &st, &fi.mnt_id)) != 0)
		return ret > 0 ? 0 : ret;
	k = df_kind_of(c, link, &st);
	/* A pty end whose master the tree holds is the tree's own. */
	if (df_pty_inside(c, &st) || df_pty_dev_tty(c, pid, &st)) {
		k = &df_pty_kind;
		ext = NULL;
	} else
		ext = df_external_key(c, k, link, &st, fi.mnt_id, key, sizeof(key));
	why = ext ? NULL : df_unsupported(k, link, &st, why_buf, sizeof(why_buf));
	if (why) {
		df_refuse(c, pid, fd, link, why);
		return 0;
	}
	if ((ret = df_file_id(c, k, pid, fd, link, &st, &fi, ext, &id, &added, e)) < 0)
		return ret;
	*nr_new += added;
	fe.fd = fd;
	fe.id = id;
	fe.type = k ? k->fd_type : FD_TYPE__FD_REG;
	if (k && k->seen)
		k->seen(c, &st, &fi);
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
	if ((ret = proc_list_fds(pid, &fds, &nr, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "fdinfo-%d.img", id);
	if ((ret = image_open_write(&fdinfo, c->dir_fd, "fdinfo", name, e)) < 0)
		return ret;
	for (int i = 0; i < nr && ret >= 0; i++)
		ret = df_fd(c, &fdinfo, pid, fds[i], &nr_new, e);
	if (ret < 0)
		image_close(&fdinfo);
	else if (image_close_write(&fdinfo, e) < 0)
		ret = -EIO;
	if (ret < 0 || (ret = df_maps(c, pid, id, e)) < 0)
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
