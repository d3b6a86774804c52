/* mntclone: see mntclone.h. */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "lib/cleanup.h"
#include "lib/mntclone.h"

/* The mount id the path reaches, or -errno. */
static long long mntclone_id_at(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) < 0)
		return -errno;
	return stx.stx_mnt_id;
}

bool mntclone_visible(const struct mountinfo *m)
{
	return mntclone_id_at(m->mountpoint) == m->id;
}

/* Unmounts (lazily) the mount that covers m, found by where m's mountpoint
 * path, or its nearest existing parent, leads. */
static int mntclone_uncover(const struct mountinfo_table *t, const struct mountinfo *m, struct err *e)
{
	char path[4096];
	long long top = -1;
	const struct mountinfo *x;

	snprintf(path, sizeof(path), "%s", m->mountpoint);
	for (;;) {
		char *slash;

		if ((top = mntclone_id_at(path)) >= 0 || !strcmp(path, "/"))
			break;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = 0;
		else
			*slash = 0;
	}
	x = top >= 0 ? mountinfo_find(t, (int)top) : NULL;
	/* Never an ancestor of m: that would take m with it. */
	for (const struct mountinfo *a = m; x && a; a = a->parent == a->id ? NULL : mountinfo_find(t, a->parent))
		if (a == x)
			x = NULL;
	if (!x)
		return err_input(e, "mount %d at '%s' cannot be reached: nothing that covers it can be taken away",
				 m->id, m->mountpoint);
	if (umount2(x->mountpoint, MNT_DETACH) < 0)
		return err_errno(e, "unmount mount %d at '%s' (in a private copy) to reach mount %d under it",
				 x->id, x->mountpoint, m->id);
	return 0;
}

int mntclone_get(const struct mountinfo_table *t, const int *want, int nr, int *fds, struct err *e)
{
	for (int round = 0; round <= t->nr; round++) {
		int left = 0, ret;

		for (int i = 0; i < nr; i++) {
			const struct mountinfo *m = &t->m[want[i]];

			if (fds[i] >= 0 || !mntclone_visible(m))
				continue;
			fds[i] = syscall(SYS_open_tree, AT_FDCWD, m->mountpoint, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (fds[i] < 0)
				return err_errno(e, "clone mount %d at '%s' (open_tree)", m->id, m->mountpoint);
		}
		for (int i = 0; i < nr; i++)
			if (fds[i] < 0) {
				/* Every visible one is cloned: what covers this one may go. */
				if ((ret = mntclone_uncover(t, &t->m[want[i]], e)) < 0)
					return ret;
				left++;
				break;
			}
		if (!left)
			return 0;
	}
	return err_input(e, "mounts could not be reached after unmounting everything over them");
}

void mntclone_match(const struct mountinfo_table *orig, const struct mountinfo_table *copy, int *map)
{
	int *order = calloc(orig->nr ? orig->nr : 1, sizeof(*order));
	bool *used = calloc(copy->nr ? copy->nr : 1, sizeof(*used));
	struct err e = { 0 };

	for (int i = 0; i < orig->nr; i++)
		map[i] = -1;
	if (!order || !used || mountinfo_order(orig, order, &e) < 0)
		goto out;
	for (int k = 0; k < orig->nr; k++) {
		const struct mountinfo *o = &orig->m[order[k]];
		const struct mountinfo *op = k ? mountinfo_find(orig, o->parent) : NULL;
		int pc = op ? map[op - orig->m] : -1, best = -1;

		if (k && pc < 0)
			continue;
		for (int j = 0; j < copy->nr; j++) {
			const struct mountinfo *c = &copy->m[j];
			bool root = !mountinfo_find(copy, c->parent) || c->parent == c->id;

			if (used[j] || (k ? (root || c->parent != copy->m[pc].id) : !root))
				continue;
			if (strcmp(c->mountpoint, o->mountpoint) || strcmp(c->root, o->root) ||
			    c->major != o->major || c->minor != o->minor)
				continue;
			if (best < 0 || c->id < copy->m[best].id)
				best = j;
		}
		if (best >= 0) {
			map[order[k]] = best;
			used[best] = true;
		}
	}
out:
	free(order);
	free(used);
}

int mntclone_private_copy(pid_t pid, struct err *e)
{
	if (unshare(CLONE_NEWNS) < 0)
		return err_errno(e, "make a private copy of pid %d's mount namespace (unshare)", pid);
	/* Nothing done in the copy may reach the original's peers. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_errno(e, "make the copy of pid %d's mount namespace private", pid);
	return 0;
}
