/* nspath: a task's paths looked up in its own mount namespace.
 *
 * /proc shows a task's cwd, fds and maps by their paths from the root of
 * its mount namespace. A task in ours needs nothing; one in another
 * namespace whose root is that namespace's is reached under /proc/PID/root;
 * a task that chroot(2)ed is not (/proc/PID/root is its chroot), so its
 * paths are looked up under the namespace's root, which a child entering
 * the namespace opens (lib/nsroot.h), once per namespace.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/grow.h"
#include "lib/log.h"
#include "lib/nsroot.h"
#include "stages/dump-files/dump-files.h"

/* pid's mount namespace inode, if it is not ours (0 if it is). The tree
 * is frozen, so the answer for the task being read is kept. */
static uint64_t df_foreign_ns(struct df *c, pid_t pid)
{
	struct stat self, other;
	char p[64];

	if (c->ns_pid == pid)
		return c->ns_ino;
	c->ns_pid = pid;
	c->ns_ino = 0;
	snprintf(p, sizeof(p), "/proc/%d/ns/mnt", pid);
	if (stat("/proc/self/ns/mnt", &self) == 0 && stat(p, &other) == 0 && self.st_ino != other.st_ino)
		c->ns_ino = other.st_ino;
	return c->ns_ino;
}

/* An fd of the root of pid's namespace ns, opened once; -1 if it cannot be. */
static int df_nsroot(struct df *c, pid_t pid, uint64_t ns)
{
	struct mountinfo_table t;
	struct err e;
	int fd = -1;

	for (int i = 0; i < c->nr_nsroots; i++)
		if (c->nsroots[i].ns == ns)
			return c->nsroots[i].fd;
	if (nsroot_open(pid, &fd, &t, &e) < 0) {
		pr_warn("pid %d: %s; its paths are looked up under its own root", pid, e.msg);
		return -1;
	}
	mountinfo_free(&t);
	if (grow_one(&c->nsroots, c->nr_nsroots) < 0) {
		close(fd);
		return -1;
	}
	c->nsroots[c->nr_nsroots].ns = ns;
	c->nsroots[c->nr_nsroots++].fd = fd;
	return fd;
}

void df_ns_path(struct df *c, pid_t pid, const char *path, char *buf, size_t size)
{
	uint64_t ns = df_foreign_ns(c, pid);
	char link[64], root[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(buf, size, "%s", path);
	if (!ns)
		return;
	snprintf(link, sizeof(link), "/proc/%d/root", pid);
	n = readlink(link, root, sizeof(root) - 1);
	if (n == 1 && root[0] == '/') {
		snprintf(buf, size, "/proc/%d/root%s", pid, path);
		return;
	}
	fd = df_nsroot(c, pid, ns);
	if (fd >= 0)
		snprintf(buf, size, "/proc/self/fd/%d%s", fd, path);
	else
		snprintf(buf, size, "/proc/%d/root%s", pid, path);
}

/* Whether path, or else its deepest existing directory, is on a mount
 * other than mnt_id: the file is there, on a mount something was mounted
 * over (its directory, or the file itself). */
static bool df_hidden(const char *path, int mnt_id)
{
	char dir[PATH_MAX + 64];
	struct statx stx;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	for (;;) {
		if (statx(AT_FDCWD, dir, 0, STATX_MNT_ID, &stx) == 0)
			return (int)stx.stx_mnt_id != mnt_id;
		if (!(slash = strrchr(dir, '/')) || slash == dir)
			return false;
		*slash = 0;
	}
}

bool df_path_replaced(struct df *c, pid_t pid, const char *path, const struct stat *st, int mnt_id)
{
	char rooted[PATH_MAX + 64];
	struct stat now;
	bool foreign = df_foreign_ns(c, pid) != 0;

	df_ns_path(c, pid, path, rooted, sizeof(rooted));
	if (stat(rooted, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino)
		return false;
	if (foreign && st->st_nlink > 0 && mnt_id >= 0 && df_hidden(rooted, mnt_id))
		return false;
	return true;
}
