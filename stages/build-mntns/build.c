/* build: one mount namespace made again, in the child that will be it.
 *
 * Every mount is first made detached, in no namespace (the "yard"): a
 * clone of a host mount (lib/mntclone.h), a new tmpfs filled from its
 * image, a new proc or sysfs, a clone of another mount of the tree, or
 * an external path. Then the root is put on / and each mount is moved
 * onto its parent, parents first, by a path relative to the parent's own
 * root fd: a mount that something later covers is reached as it was
 * before it was covered, so what was hidden stays hidden. Propagation
 * comes last (peer groups joined with MOVE_MOUNT_SET_GROUP), and the new
 * root is pivoted into place, leaving the host's mounts behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mntclone.h"
#include "lib/mountinfo.h"
#include "lib/union.h"
#include "stages/build-mntns/build-mntns.h"

struct bm_build {
	const struct bm_ns *ns;
	const struct build_mntns_opts *o;
	struct bm_stubs *stubs;
	int *fd;		/* detached (later attached) mount of each MntEntry */
	int dirfd;
	const char *root;	/* --root */
	struct { uint32_t group; int fd; } *outer;	/* members of peer groups outside the tree */
	int nr_outer;
};

/* The index in ns of mount id, or -1. */
static int bm_index(const struct bm_ns *ns, uint32_t id)
{
	for (int i = 0; i < ns->nr; i++)
		if (ns->m[i]->mnt_id == id)
			return i;
	return -1;
}

/* Clones of the host's mounts for every MNT_HOST_BIND mount. */
static int bm_host_binds(struct bm_build *b, struct err *e)
{
	struct mountinfo_table host;
	_cleanup_free_ int *want = calloc(b->ns->nr, sizeof(int)), *who = calloc(b->ns->nr, sizeof(int)),
			   *fds = calloc(b->ns->nr, sizeof(int));
	int n = 0, ret;

	if (!want || !who || !fds)
		return err_errnum(e, ENOMEM, "%d mounts", b->ns->nr);
	if ((ret = mountinfo_read(0, &host, e)) < 0)
		return ret;
	for (int i = 0; i < b->ns->nr && ret >= 0; i++) {
		const MntEntry *me = b->ns->m[i];
		int best = -1;

		if (me->kind != MNT_KIND__MNT_HOST_BIND || (i == 0 && b->root) || build_mntns_stub_of(b->o, b->ns, i) >= 0)
			continue;
		/* Any mount of the same super block that shows me's root will
		 * do; one that is not covered is cheaper to reach. */
		for (int j = 0; j < host.nr; j++) {
			const struct mountinfo *h = &host.m[j];

			if (h->major != major(me->dev) || h->minor != minor(me->dev) || !mountinfo_relpath(h->root, me->root))
				continue;
			if (best < 0 || (mntclone_visible(h) && !mntclone_visible(&host.m[best])))
				best = j;
		}
		if (best < 0 && me->delayable)
			ret = err_input(e, "mount %u at '%s' (%s from '%s') is a network file system that is not mounted "
					"here now: mount it, or restore with --delay-mount mnt[%s] to run the tree on a "
					"stub until 'amber mount-delayed' mounts it", me->mnt_id, me->mountpoint,
					me->fstype, me->source, me->mountpoint);
		else if (best < 0)
			ret = err_input(e, "mount %u at '%s' (%s from '%s', device %u:%u) was bound from outside the tree, "
					"and nothing of that device is mounted here now: mount it, restore with "
					"--delay-mount mnt[%s] (a stub until it is attached), or dump with "
					"--external mnt[%s]:NAME", me->mnt_id, me->mountpoint, me->fstype, me->source,
					major(me->dev), minor(me->dev), me->mountpoint, me->mountpoint);
		want[n] = best;
		fds[n] = -1;
		who[n++] = i;
	}
	if (ret >= 0)
		ret = mntclone_get(&host, want, n, fds, e);
	for (int k = 0; k < n && ret >= 0; k++) {
		const MntEntry *me = b->ns->m[who[k]];
		const char *rel = mountinfo_relpath(host.m[want[k]].root, me->root);

		b->fd[who[k]] = syscall(SYS_open_tree, fds[k], rel, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (*rel ? 0 : AT_EMPTY_PATH));
		if (b->fd[who[k]] < 0)
			ret = err_errno(e, "mount %u at '%s': bind '%s' of host mount %d at '%s'", me->mnt_id, me->mountpoint,
					me->root, host.m[want[k]].id, host.m[want[k]].mountpoint);
	}
	for (int k = 0; k < n; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	mountinfo_free(&host);
	return ret;
}

/* Passes the super block options of me to the new context fs (not rw/ro). */
static int bm_super_opts(int fs, const MntEntry *me, struct err *e)
{
	_cleanup_free_ char *opts = strdup(me->super_options ? me->super_options : "");
	char *save = NULL;

	if (me->source && syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", me->source, 0) < 0)
		return err_errno(e, "mount %u at '%s': %s source '%s'", me->mnt_id, me->mountpoint, me->fstype, me->source);
	for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(o, '=');
		int r;

		if (!strcmp(o, "rw") || !strcmp(o, "ro"))
			continue;
		if (eq)
			*eq = 0;
		r = eq ? syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, o, eq + 1, 0) :
			 syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, o, NULL, 0);
		if (r < 0)
			return err_errno(e, "mount %u at '%s': %s option '%s%s%s'", me->mnt_id, me->mountpoint, me->fstype, o,
					 eq ? "=" : "", eq ? eq + 1 : "");
	}
	return 0;
}

/* A new super block of me's type (tmpfs filled from its image, proc, ...). */
static int bm_new_sb(struct bm_build *b, int i, struct err *e)
{
	const MntEntry *me = b->ns->m[i];
	_cleanup_close_ int fs = syscall(SYS_fsopen, me->fstype, FSOPEN_CLOEXEC);
	int ret;

	if (fs < 0)
		return err_errno(e, "mount %u at '%s': open a new %s (fsopen)", me->mnt_id, me->mountpoint, me->fstype);
	if ((ret = bm_super_opts(fs, me, e)) < 0)
		return ret;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return err_errno(e, "mount %u at '%s': create the %s", me->mnt_id, me->mountpoint, me->fstype);
	b->fd[i] = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (b->fd[i] < 0)
		return err_errno(e, "mount %u at '%s': mount the new %s (fsmount)", me->mnt_id, me->mountpoint, me->fstype);
	if (me->kind != MNT_KIND__MNT_TMPFS)
		return 0;
	if ((ret = build_mntns_fill(b->dirfd, b->fd[i], me, e)) < 0)
		return ret;
	/* A read-only tmpfs is read-only once it is full. */
	if (mountinfo_has_opt(me->super_options, "ro")) {
		_cleanup_close_ int pick = syscall(SYS_fspick, b->fd[i], "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);

		if (pick < 0 || syscall(SYS_fsconfig, pick, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0 ||
		    syscall(SYS_fsconfig, pick, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
			return err_errno(e, "mount %u at '%s': make the tmpfs read-only", me->mnt_id, me->mountpoint);
	}
	return 0;
}

/* An external mount: bound from the path restore's --external gives. */
static int bm_external(struct bm_build *b, const struct build_mntns_opts *o, int i, struct err *e)
{
	const MntEntry *me = b->ns->m[i];

	for (int k = 0; k < o->nr_ext; k++) {
		if (strcmp(o->ext[k].name, me->external))
			continue;
		b->fd[i] = syscall(SYS_open_tree, AT_FDCWD, o->ext[k].path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (b->fd[i] < 0 && errno == ENOENT)
			return err_input(e, "mount %u at '%s' is external '%s', and its path '%s' (--external mnt[%s]:%s) "
					 "does not exist", me->mnt_id, me->mountpoint, me->external, o->ext[k].path,
					 me->external, o->ext[k].path);
		if (b->fd[i] < 0)
			return err_errno(e, "mount %u at '%s' is external '%s', and its path '%s' (--external mnt[%s]:%s) "
					 "cannot be bound", me->mnt_id, me->mountpoint, me->external, o->ext[k].path,
					 me->external, o->ext[k].path);
		return 0;
	}
	return err_input(e, "mount %u at '%s' is external '%s': say what to mount there with --external mnt[%s]:PATH",
			 me->mnt_id, me->mountpoint, me->external, me->external);
}

/* Whether path is a directory; if not, refuses overlay mount me naming the
 * layer and the --external fix. */
static int bm_ovl_layer(const MntEntry *me, const char *what, const char *path, struct err *e)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	return err_input(e, "overlay mount %u at '%s': its %s '%s' is %s, so the overlay cannot be mounted again; put "
			 "the layer back at that path, or dump with --external mnt[%s]:NAME and restore with "
			 "--external mnt[NAME]:PATH", me->mnt_id, me->mountpoint, what, path,
			 errno == ENOENT ? "missing" : "not a directory", me->mountpoint);
}

/* The upper layer of overlay mount me as the dump saw it, or refused
 * unless --allow-changed-files. */
static int bm_ovl_upper(const struct build_mntns_opts *o, const MntEntry *me, struct err *e)
{
	uint64_t digest, entries;
	int ret;

	if (!me->has_ovl_upper_digest)
		return 0;
	if ((ret = union_tree_digest(me->ovl_upper, UINT64_MAX, &digest, &entries, e)) < 0)
		return err_wrap(e, "overlay mount %u at '%s': read its upper layer '%s'", me->mnt_id, me->mountpoint,
				me->ovl_upper);
	if (digest == me->ovl_upper_digest && entries == me->ovl_upper_entries)
		return 0;
	if (o->allow_changed) {
		pr_warn("overlay mount %u at '%s': its upper layer '%s' changed since the dump (%llu entries, %llu then); "
			"mounted anyway (--allow-changed-files)", me->mnt_id, me->mountpoint, me->ovl_upper,
			(unsigned long long)entries, (unsigned long long)me->ovl_upper_entries);
		return 0;
	}
	return err_input(e, "overlay mount %u at '%s': its upper layer '%s' changed since the dump (%llu entries, %llu "
			 "then, or a file's size, time, owner, mode or inode differs); restoring onto a changed layer is "
			 "refused (amber restore --allow-changed-files accepts it)", me->mnt_id, me->mountpoint,
			 me->ovl_upper, (unsigned long long)entries, (unsigned long long)me->ovl_upper_entries);
}

/* One fsconfig call for overlay mount me; a failure names key and value. */
static int bm_ovl_set(int fs, const MntEntry *me, const char *key, const char *val, struct err *e)
{
	if (syscall(SYS_fsconfig, fs, val ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, key, val, 0) == 0)
		return 0;
	return err_errno(e, "overlay mount %u at '%s': option '%s%s%s'", me->mnt_id, me->mountpoint, key, val ? "=" : "",
			 val ? val : "");
}

/* A dirty volatile overlay leaves work/incompat/volatile in its work
 * directory when it is unmounted, and the kernel refuses to mount the
 * layers again while it is there. The dump's overlay was unmounted when
 * its tree died, without a crash in between (the upper layer is as the
 * dump saw it): the marker is removed. */
static int bm_ovl_volatile(const MntEntry *me, struct err *e)
{
	char dir[PATH_MAX + 32], marker[PATH_MAX + 64];

	snprintf(dir, sizeof(dir), "%s/work/incompat/volatile", me->ovl_work);
	snprintf(marker, sizeof(marker), "%s/dirty", dir);
	if (access(dir, F_OK) < 0)
		return 0;
	if ((unlink(marker) < 0 && errno != ENOENT) || (rmdir(dir) < 0 && errno != ENOENT))
		return err_errno(e, "overlay mount %u at '%s': remove the volatile marker '%s' of the dumped mount",
				 me->mnt_id, me->mountpoint, dir);
	pr_info("overlay mount %u at '%s': removed the volatile marker '%s' the dumped mount left", me->mnt_id,
		me->mountpoint, dir);
	return 0;
}

/* An overlay only the tree had: a new one from the same layers, with the
 * same options. Layers are given one by one (lowerdir+, datadir+), so no
 * path needs escaping. */
static int bm_overlay(struct bm_build *b, const struct build_mntns_opts *o, int i, struct err *e)
{
	const MntEntry *me = b->ns->m[i];
	_cleanup_close_ int fs = -1;
	bool vol = false;
	int ret = 0;

	for (size_t k = 0; ret >= 0 && k < me->n_ovl_lower; k++)
		ret = bm_ovl_layer(me, "lower layer", me->ovl_lower[k], e);
	for (size_t k = 0; ret >= 0 && k < me->n_ovl_data; k++)
		ret = bm_ovl_layer(me, "data-only layer", me->ovl_data[k], e);
	if (ret >= 0 && me->ovl_upper)
		ret = bm_ovl_layer(me, "upper layer", me->ovl_upper, e);
	if (ret >= 0 && me->ovl_work)
		ret = bm_ovl_layer(me, "work directory", me->ovl_work, e);
	if (ret < 0 || (ret = bm_ovl_upper(o, me, e)) < 0)
		return ret;
	for (size_t k = 0; k < me->n_ovl_options; k++)
		vol |= !strcmp(me->ovl_options[k], "volatile") || !strcmp(me->ovl_options[k], "fsync=volatile");
	if (vol && me->ovl_work && (ret = bm_ovl_volatile(me, e)) < 0)
		return ret;
	if ((fs = syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)) < 0)
		return err_errno(e, "mount %u at '%s': open a new overlay (fsopen)", me->mnt_id, me->mountpoint);
	if (me->source && (ret = bm_ovl_set(fs, me, "source", me->source, e)) < 0)
		return ret;
	for (size_t k = 0; ret >= 0 && k < me->n_ovl_lower; k++)
		ret = bm_ovl_set(fs, me, "lowerdir+", me->ovl_lower[k], e);
	for (size_t k = 0; ret >= 0 && k < me->n_ovl_data; k++)
		ret = bm_ovl_set(fs, me, "datadir+", me->ovl_data[k], e);
	if (ret >= 0 && me->ovl_upper && (ret = bm_ovl_set(fs, me, "upperdir", me->ovl_upper, e)) >= 0)
		ret = bm_ovl_set(fs, me, "workdir", me->ovl_work, e);
	for (size_t k = 0; ret >= 0 && k < me->n_ovl_options; k++) {
		_cleanup_free_ char *opt = strdup(me->ovl_options[k]);
		char *eq = opt ? strchr(opt, '=') : NULL;

		if (!opt)
			return err_errno(e, "overlay options");
		if (eq)
			*eq = 0;
		ret = bm_ovl_set(fs, me, opt, eq ? eq + 1 : NULL, e);
	}
	if (ret >= 0 && mountinfo_has_opt(me->super_options, "ro"))
		ret = bm_ovl_set(fs, me, "ro", NULL, e);
	if (ret < 0)
		return ret;
	if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		if (errno == EBUSY && me->ovl_upper)
			return err_errno(e, "overlay mount %u at '%s': its upper layer '%s' or work directory '%s' is in use "
					 "by another overlay mount, which index=on refuses (does the dumped tree still run, "
					 "after --leave-running?); unmount that overlay first", me->mnt_id, me->mountpoint,
					 me->ovl_upper, me->ovl_work);
		return err_errno(e, "overlay mount %u at '%s': create it from its layers (the kernel's reason is in its log)",
				 me->mnt_id, me->mountpoint);
	}
	b->fd[i] = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (b->fd[i] < 0)
		return err_errno(e, "overlay mount %u at '%s': mount it (fsmount)", me->mnt_id, me->mountpoint);
	return 0;
}

int build_mntns_delayed(const struct build_mntns_opts *o, const MntEntry *me)
{
	for (int k = 0; k < o->nr_delay; k++)
		if (!strcmp(o->delay[k], me->mountpoint))
			return k;
	return -1;
}

int build_mntns_stub_of(const struct build_mntns_opts *o, const struct bm_ns *ns, int i)
{
	const MntEntry *me = ns->m[i];

	if (build_mntns_delayed(o, me) >= 0)
		return i;
	for (int j = 0; j < ns->nr; j++) {
		const MntEntry *d = ns->m[j];

		if (j == i || build_mntns_delayed(o, d) < 0)
			continue;
		/* Another mount of the delayed super block, or a bind of it. */
		if ((me->kind == MNT_KIND__MNT_HOST_BIND && d->kind == MNT_KIND__MNT_HOST_BIND && me->dev == d->dev) ||
		    (me->kind == MNT_KIND__MNT_TREE_BIND && me->bind_of == d->mnt_id))
			return j;
	}
	return -1;
}

/* A new FUSE super block for the stub of delayed mount me: its
 * /dev/fuse fd goes to *fuse. Nothing here waits for the server: the
 * kernel queues FUSE_INIT, and no lookup reaches the stub in this stage. */
static int bm_stub_mount(const MntEntry *me, int *fuse, struct err *e)
{
	_cleanup_close_ int fs = -1;
	char opt[32];
	int mfd;

	if ((*fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC)) < 0)
		return err_errno(e, "mount %u at '%s': open '/dev/fuse' for its stub (is the fuse module loaded?)",
				 me->mnt_id, me->mountpoint);
	if ((fs = syscall(SYS_fsopen, "fuse", FSOPEN_CLOEXEC)) < 0)
		return err_errno(e, "mount %u at '%s': open a new fuse for its stub (fsopen)", me->mnt_id, me->mountpoint);
	snprintf(opt, sizeof(opt), "%d", *fuse);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "amber-stub", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "subtype", "amber-stub", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "fd", opt, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "rootmode", "40755", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "user_id", "0", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "group_id", "0", 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, "allow_other", NULL, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return err_errno(e, "mount %u at '%s': make its stub (a fuse file system)", me->mnt_id, me->mountpoint);
	if ((mfd = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0)
		return err_errno(e, "mount %u at '%s': mount its stub (fsmount)", me->mnt_id, me->mountpoint);
	return mfd;
}

/* Stubs for the delayed mounts, and their binds as binds of the stub. */
static int bm_stubs(struct bm_build *b, struct err *e)
{
	const struct bm_ns *ns = b->ns;

	for (int i = 0; i < ns->nr; i++) {
		const MntEntry *me = ns->m[i];
		int p;

		if (build_mntns_delayed(b->o, me) < 0)
			continue;
		if (i == 0)
			return err_input(e, "--delay-mount mnt[%s]: mount %u is the root of mount namespace %u, which "
					 "cannot wait for its file system", me->mountpoint, me->mnt_id, ns->id);
		if (b->stubs->nr == BM_MAX_EXTERNAL)
			return err_input(e, "--delay-mount: at most %d delayed mounts", BM_MAX_EXTERNAL);
		if ((b->fd[i] = bm_stub_mount(me, &b->stubs->fd[b->stubs->nr], e)) < 0)
			return b->fd[i];
		b->stubs->mnt_id[b->stubs->nr++] = me->mnt_id;
		pr_info("mount %u at '%s' (%s from '%s'): a stub until 'amber mount-delayed' mounts it", me->mnt_id,
			me->mountpoint, me->fstype, me->source ? me->source : "");
		/* A mount on a stub would need a lookup on it now. */
		for (int j = 0; j < ns->nr; j++)
			if ((p = bm_index(ns, ns->m[j]->parent_id)) >= 0 && j != p && build_mntns_stub_of(b->o, ns, p) >= 0)
				return err_input(e, "mount %u at '%s' lies on delayed mount %u at '%s': a mount on a "
						 "delayed mount is not made on its stub; do not delay '%s'", ns->m[j]->mnt_id,
						 ns->m[j]->mountpoint, ns->m[p]->mnt_id, ns->m[p]->mountpoint, me->mountpoint);
	}
	for (int i = 0; i < ns->nr; i++) {
		const MntEntry *me = ns->m[i];
		int d = build_mntns_stub_of(b->o, ns, i);

		if (d < 0 || d == i)
			continue;
		/* Only the stub's root can be bound without asking it. */
		if (strcmp(me->root, ns->m[d]->root))
			return err_input(e, "mount %u at '%s' shows '%s' of delayed mount %u at '%s': only binds of the "
					 "whole delayed mount go on its stub", me->mnt_id, me->mountpoint, me->root,
					 ns->m[d]->mnt_id, ns->m[d]->mountpoint);
		b->fd[i] = syscall(SYS_open_tree, b->fd[d], "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
		if (b->fd[i] < 0)
			return err_errno(e, "mount %u at '%s': bind the stub of delayed mount %u", me->mnt_id,
					 me->mountpoint, ns->m[d]->mnt_id);
	}
	return 0;
}

/* Makes every mount, detached. */
static int bm_make(struct bm_build *b, const struct build_mntns_opts *o, struct err *e)
{
	int ret;

	if (b->root) {
		b->fd[0] = syscall(SYS_open_tree, AT_FDCWD, b->root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (b->fd[0] < 0)
			return errno == ENOENT ? err_input(e, "--root '%s' (the root of mount namespace %u) does not exist",
							   b->root, b->ns->id)
					       : err_errno(e, "bind --root '%s' as the root of mount namespace %u", b->root, b->ns->id);
	}
	if ((ret = bm_host_binds(b, e)) < 0 || (ret = bm_stubs(b, e)) < 0)
		return ret;
	for (int i = b->root ? 1 : 0; i < b->ns->nr; i++) {
		const MntEntry *me = b->ns->m[i];

		if (build_mntns_stub_of(o, b->ns, i) >= 0)
			continue;
		if (me->kind == MNT_KIND__MNT_TMPFS || me->kind == MNT_KIND__MNT_FRESH)
			ret = bm_new_sb(b, i, e);
		else if (me->kind == MNT_KIND__MNT_EXTERNAL)
			ret = bm_external(b, o, i, e);
		else if (me->kind == MNT_KIND__MNT_OVERLAY)
			ret = bm_overlay(b, o, i, e);
		else if (me->kind != MNT_KIND__MNT_HOST_BIND && me->kind != MNT_KIND__MNT_TREE_BIND)
			ret = err_input(e, "mount %u at '%s': unknown kind %d in the image", me->mnt_id, me->mountpoint, me->kind);
		if (ret < 0)
			return ret;
	}
	/* Binds of the tree's own mounts, from those made above. */
	for (int i = 0; i < b->ns->nr; i++) {
		const MntEntry *me = b->ns->m[i];
		int src = me->kind == MNT_KIND__MNT_TREE_BIND ? bm_index(b->ns, me->bind_of) : i;
		const char *rel = src >= 0 ? mountinfo_relpath(b->ns->m[src]->root, me->root) : NULL;

		if (me->kind != MNT_KIND__MNT_TREE_BIND || build_mntns_stub_of(o, b->ns, i) >= 0)
			continue;
		if (!rel || src == i || b->fd[src] < 0)
			return err_input(e, "mount %u at '%s' is a bind of mount %u, which does not hold '%s'", me->mnt_id,
					 me->mountpoint, me->bind_of, me->root);
		b->fd[i] = syscall(SYS_open_tree, b->fd[src], rel, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (*rel ? 0 : AT_EMPTY_PATH));
		if (b->fd[i] < 0)
			return err_errno(e, "mount %u at '%s': bind '%s' of mount %u", me->mnt_id, me->mountpoint, me->root, me->bind_of);
	}
	return 0;
}

/* mount_setattr on the mount fd itself. */
static int bm_setattr(int fd, struct mount_attr *a)
{
	return syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, a, sizeof(*a));
}

/* Per-mount flags (ro, nosuid, nodev, noexec, atime). */
static int bm_flags(struct bm_build *b, struct err *e)
{
	for (int i = 0; i < b->ns->nr; i++) {
		const MntEntry *me = b->ns->m[i];
		unsigned long long want = mountinfo_attrs(me->options ? me->options : "");
		struct mount_attr a = { .attr_set = want,
					.attr_clr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
						    MOUNT_ATTR_NODIRATIME | MOUNT_ATTR_NOSYMFOLLOW };

		a.attr_clr &= ~want;
		/* The atime mode is one field, cleared whole then set (the kernel
		 * refuses part of it in attr_clr); mountinfo shows strictatime
		 * (a container's /dev) as neither relatime nor noatime. */
		a.attr_clr |= MOUNT_ATTR__ATIME;
		a.attr_set &= ~MOUNT_ATTR__ATIME;
		if (mountinfo_has_opt(me->options, "noatime"))
			a.attr_set |= MOUNT_ATTR_NOATIME;
		else if (!mountinfo_has_opt(me->options, "relatime"))
			a.attr_set |= MOUNT_ATTR_STRICTATIME;
		if (bm_setattr(b->fd[i], &a) < 0)
			return err_errno(e, "mount %u at '%s': set its options '%s'", me->mnt_id, me->mountpoint, me->options);
	}
	return 0;
}

/* Puts the root on / and every other mount on its parent, parents first. */
static int bm_attach(struct bm_build *b, struct err *e)
{
	if (syscall(SYS_move_mount, b->fd[0], "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return err_errno(e, "put root mount %u in place", b->ns->m[0]->mnt_id);
	for (int i = 1; i < b->ns->nr; i++) {
		const MntEntry *me = b->ns->m[i];
		int p = bm_index(b->ns, me->parent_id);
		const char *rel = p >= 0 && p < i ? mountinfo_relpath(b->ns->m[p]->mountpoint, me->mountpoint) : NULL;

		if (!rel)
			return err_input(e, "mount %u at '%s': its parent %u is not before it at a path above it",
					 me->mnt_id, me->mountpoint, me->parent_id);
		/* Relative to the parent's root fd: mounts made later on a
		 * path above cannot get in the way. */
		if (syscall(SYS_move_mount, b->fd[i], "", b->fd[p], rel, MOVE_MOUNT_F_EMPTY_PATH | (*rel ? 0 : MOVE_MOUNT_T_EMPTY_PATH)) < 0)
			return err_errno(e, "mount %u at '%s': move it onto mount %u", me->mnt_id, me->mountpoint, me->parent_id);
	}
	return 0;
}

static int bm_leader(const struct bm_ns *ns, uint32_t g);

/* Slaves of a peer group outside the tree (a container's mounts that are
 * slaves of the host's shared ones): while our copy of the host's mounts
 * still shares their groups, a clone of a member of each such group is
 * taken (a clone of a shared mount is a peer of it); the slave joins the
 * group through it later. A group the host no longer has is a warning. */
static int bm_outer_groups(struct bm_build *b, struct err *e)
{
	struct mountinfo_table host = { 0 };
	int ret = 0;

	for (int i = 0; i < b->ns->nr; i++) {
		uint32_t g = b->ns->m[i]->master;
		bool have = false;

		if (!g || bm_leader(b->ns, g) >= 0)
			continue;
		for (int k = 0; k < b->nr_outer; k++)
			have |= b->outer[k].group == g;
		if (have)
			continue;
		if (!host.m && (ret = mountinfo_read(0, &host, e)) < 0)
			return ret;
		for (int j = 0; j < host.nr; j++) {
			int fd;

			if ((uint32_t)host.m[j].shared != g || !mntclone_visible(&host.m[j]))
				continue;
			fd = syscall(SYS_open_tree, AT_FDCWD, host.m[j].mountpoint, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (fd < 0)
				continue;
			if (grow_one(&b->outer, b->nr_outer) < 0) {
				close(fd);
				mountinfo_free(&host);
				return err_errno(e, "remember a clone of outer peer group %u", g);
			}
			b->outer[b->nr_outer].group = g;
			b->outer[b->nr_outer++].fd = fd;
			break;
		}
	}
	mountinfo_free(&host);
	return 0;
}

/* A clone in outer peer group g, or -1. */
static int bm_outer_fd(const struct bm_build *b, uint32_t g)
{
	for (int k = 0; k < b->nr_outer; k++)
		if (b->outer[k].group == g)
			return b->outer[k].fd;
	return -1;
}

/* The member of peer group g that the others join: the widest root. */
static int bm_leader(const struct bm_ns *ns, uint32_t g)
{
	int best = -1;

	for (int i = 0; i < ns->nr; i++)
		if (ns->m[i]->shared == g && (best < 0 || strlen(ns->m[i]->root) < strlen(ns->m[best]->root)))
			best = i;
	return best;
}

/* Makes 'to' a peer of 'from' (and a slave of its master), both mount fds. */
static int bm_set_group(int from, int to)
{
	return syscall(SYS_move_mount, from, "", to, "",
		       MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

/* Shared peer groups, slaves and unbindable mounts, as dumped. */
static int bm_propagation(struct bm_build *b, struct err *e)
{
	const struct bm_ns *ns = b->ns;
	struct mount_attr shared = { .propagation = MS_SHARED }, slave = { .propagation = MS_SLAVE },
			  unbind = { .propagation = MS_UNBINDABLE };

	/* 1: leaders of groups that are no one's slaves. */
	for (int i = 0; i < ns->nr; i++)
		if (ns->m[i]->shared && !ns->m[i]->master && bm_leader(ns, ns->m[i]->shared) == i &&
		    bm_setattr(b->fd[i], &shared) < 0)
			return err_errno(e, "mount %u at '%s': make it shared", ns->m[i]->mnt_id, ns->m[i]->mountpoint);
	/* 2: slaves join their master's group, then leave it as slaves; a
	 * slave that leads a group of its own is made shared again. */
	for (int i = 0; i < ns->nr; i++) {
		const MntEntry *me = ns->m[i];
		int l = me->master ? bm_leader(ns, me->master) : -1;

		if (!me->master || (me->shared && bm_leader(ns, me->shared) != i))
			continue;
		if (l < 0 && bm_outer_fd(b, me->master) < 0) {
			pr_warn("mount %u at '%s' was a slave of peer group %u, which is outside its namespace and not "
				"mounted here any more: it is restored private", me->mnt_id, me->mountpoint, me->master);
			continue;
		}
		if (bm_set_group(l >= 0 ? b->fd[l] : bm_outer_fd(b, me->master), b->fd[i]) < 0 ||
		    bm_setattr(b->fd[i], &slave) < 0)
			return err_errno(e, "mount %u at '%s': make it a slave of peer group %u", me->mnt_id,
					 me->mountpoint, me->master);
		if (me->shared && bm_setattr(b->fd[i], &shared) < 0)
			return err_errno(e, "mount %u at '%s': make the slave shared", me->mnt_id, me->mountpoint);
	}
	/* 3: the other members join their group (and its master). */
	for (int i = 0; i < ns->nr; i++) {
		const MntEntry *me = ns->m[i];
		int l = me->shared ? bm_leader(ns, me->shared) : -1;

		if (l < 0 || l == i)
			continue;
		if (bm_set_group(b->fd[l], b->fd[i]) < 0)
			return err_errno(e, "mount %u at '%s': join peer group %u of mount %u (MOVE_MOUNT_SET_GROUP)",
					 me->mnt_id, me->mountpoint, me->shared, ns->m[l]->mnt_id);
	}
	for (int i = 0; i < ns->nr; i++)
		if (ns->m[i]->unbindable && bm_setattr(b->fd[i], &unbind) < 0)
			return err_errno(e, "mount %u at '%s': make it unbindable", ns->m[i]->mnt_id, ns->m[i]->mountpoint);
	return 0;
}

int build_mntns_build(int dirfd, const struct build_mntns_opts *o, const struct bm_ns *ns, int hidden_sock,
		      uint64_t *made, int *nr_made, struct bm_stubs *stubs, struct err *e)
{
	struct bm_build b = { ns, o, stubs, calloc(ns->nr ? ns->nr : 1, sizeof(int)), dirfd, o->root, NULL, 0 };
	_cleanup_free_ int *visible = calloc(ns->nr ? ns->nr : 1, sizeof(int));
	struct bm_hidden h = { NULL, 0 };
	struct timespec t0, t1;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!b.fd || !visible)
		return err_errnum(e, ENOMEM, "%d mounts", ns->nr);
	stubs->nr = 0;
	for (int i = 0; i < ns->nr; i++)
		b.fd[i] = -1;
	if (!ns->nr)
		return err_input(e, "mountpoints-%u.img has no mounts", ns->id);
	if (unshare(CLONE_NEWNS) < 0)
		return err_errno(e, "make mount namespace %u (unshare)", ns->id);
	if ((ret = bm_outer_groups(&b, e)) < 0)
		return ret;
	/* The copy of ours we start from must not share anything back. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return err_errno(e, "make the new mount namespace private");
	if ((ret = bm_make(&b, o, e)) < 0 || (ret = bm_flags(&b, e)) < 0)
		return ret;
	/* Before anything is mounted on them, the tree's mounts show every
	 * directory: those of open files are taken now (hidden.c). */
	/* A stub answers nothing until amber-mountd serves it: no lookup
	 * may reach one here (hidden.c skips a mount whose fd is -1). */
	for (int i = 0; i < ns->nr; i++)
		visible[i] = build_mntns_stub_of(o, ns, i) >= 0 ? -1 : b.fd[i];
	if ((ret = build_mntns_hidden_open(dirfd, ns, visible, &h, e)) < 0 || (ret = bm_attach(&b, e)) < 0 ||
	    (ret = bm_propagation(&b, e)) < 0)
		return ret;
	/* The new root takes the place of the old one, which goes with all
	 * the host's mounts on it (pivot_root(".", ".") stacks it on ours). */
	if (fchdir(b.fd[0]) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
		return err_errno(e, "make mount %u the root of mount namespace %u (pivot_root)", ns->m[0]->mnt_id, ns->id);
	if (umount2(".", MNT_DETACH) < 0)
		return err_errno(e, "unmount the old root from mount namespace %u", ns->id);
	if (chdir("/") < 0)
		return err_errno(e, "chdir / in mount namespace %u", ns->id);
	/* Paths resolve in the new namespace only now. */
	if ((ret = build_mntns_hidden_send(&h, hidden_sock, e)) < 0)
		return ret;
	*nr_made = 0;
	for (int i = 0; i < ns->nr; i++) {
		struct stat st;

		/* An overlay made again is a new device too: a link remap on it
		 * is the same inode of the upper layer on another device. */
		if (ns->m[i]->kind != MNT_KIND__MNT_TMPFS && ns->m[i]->kind != MNT_KIND__MNT_OVERLAY)
			continue;
		if (fstat(b.fd[i], &st) < 0)
			return err_errno(e, "mount %u at '%s': stat the new %s", ns->m[i]->mnt_id, ns->m[i]->mountpoint,
					 ns->m[i]->fstype);
		made[(*nr_made)++] = st.st_dev;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pr_info("mount namespace %u: %d mounts built in %.3f s", ns->id, ns->nr,
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}
