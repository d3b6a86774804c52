/* procmnt: a new proc of the tree's mount namespace, mounted again from
 * inside the restored pid namespace.
 *
 * A proc shows the pid namespace of whoever created it. build-mntns makes
 * the tree's proc mounts (MNT_FRESH) before any task exists, so in the
 * restorer's pid namespace; restored into a new one (--pidns, or a tree
 * that had its own), the tree would see the restorer's pids in /proc. So
 * once every task is transplanted (the transplant itself opens
 * /proc/<stage>/... in the tasks, which must be the restorer's proc) and
 * before any of them runs, for each such proc mount a child enters the
 * new pid namespace and the mount namespace (through its pin) and its
 * child, a member of the pid namespace (setns(CLONE_NEWPID) makes only
 * children members; lib/nschild.h), replaces the proc by a new one at the
 * same place, with the same options.
 * Mounts on the proc (a container runtime's masked paths, /dev/null bound
 * on /proc/keys, and read-only binds of /proc/sys and the like) are
 * cloned with their subtrees (open_tree), the old proc unmounted, the new
 * one mounted, and the clones attached where they were: same file
 * systems, same flags. Only a proc that no other mount covers, that has
 * no propagation, whose parent is not shared and whose mounts have no
 * propagation either is replaced (the replacement would lose or
 * propagate those); any other stays the restorer's, with a warning.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include "images/image.h"
#include "images/mnt.pb-c.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "lib/nschild.h"
#include "stages/restore-tasks/restore-tasks.h"

/* mount(2) flags of per-mount options. */
static unsigned long rt_procmnt_flags(const char *opts)
{
	static const struct { const char *name; unsigned long flag; } map[] = {
		{ "ro", MS_RDONLY }, { "nosuid", MS_NOSUID }, { "nodev", MS_NODEV }, { "noexec", MS_NOEXEC },
		{ "noatime", MS_NOATIME }, { "nodiratime", MS_NODIRATIME }, { "relatime", MS_RELATIME },
		{ "strictatime", MS_STRICTATIME },
	};
	unsigned long f = 0;

	for (size_t i = 0; opts && i < sizeof(map) / sizeof(map[0]); i++)
		if (mountinfo_has_opt(opts, map[i].name))
			f |= map[i].flag;
	return f;
}

/* The super block options for mount(2)'s data: all but rw and ro. */
static char *rt_procmnt_data(const char *super)
{
	char *copy = strdup(super ? super : ""), *out = calloc(1, strlen(super ? super : "") + 1), *save = NULL;

	if (!copy || !out) {
		free(copy);
		free(out);
		return NULL;
	}
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save))
		if (strcmp(o, "rw") && strcmp(o, "ro"))
			strcat(strcat(out, *out ? "," : ""), o);
	free(copy);
	return out;
}

/* Why proc mount m[i] cannot be replaced, or NULL. */
static const char *rt_procmnt_why_not(MntEntry **m, int nr, int i)
{
	const MntEntry *me = m[i];

	if (me->shared || me->master)
		return "it has propagation (shared or slave)";
	for (int k = 0; k < nr; k++) {
		bool ancestor = false;

		if (k == i)
			continue;
		if (m[k]->parent_id == me->mnt_id && (m[k]->shared || m[k]->master))
			return "a mount on it has propagation (shared or slave)";
		if (m[k]->parent_id == me->mnt_id)
			continue;
		if (m[k]->mnt_id == me->parent_id && m[k]->shared)
			return "its parent is shared";
		/* A mount at its path or above that is not its ancestor covers it. */
		for (uint32_t a = me->parent_id, hops = 0; hops < (uint32_t)nr && !ancestor; hops++) {
			int j = -1;

			for (int q = 0; q < nr; q++)
				if (m[q]->mnt_id == a)
					j = q;
			if (j < 0)
				break;
			ancestor = j == k;
			if (m[j]->parent_id == a)
				break;
			a = m[j]->parent_id;
		}
		if (!ancestor && mountinfo_relpath(m[k]->mountpoint, me->mountpoint))
			return "another mount covers it";
	}
	return NULL;
}

/* Adds the replaceable proc mounts of namespace ns_id (entered by fd). */
static int rt_procmnt_ns(int dirfd, struct rt_plan *p, uint32_t ns_id, int fd, struct err *e)
{
	MntEntry **m = NULL;
	struct image img;
	char name[64];
	MntEntry *me;
	int nr = 0, ret;

	snprintf(name, sizeof(name), "mountpoints-%u.img", ns_id);
	if ((ret = image_open_read(&img, dirfd, "mountpoints", name, e)) < 0)
		return ret;
	while ((ret = image_read(&img, (ProtobufCMessage **)&me, e)) > 0) {
		if (grow_one(&m, nr) < 0) {
			mnt_entry__free_unpacked(me, NULL);
			ret = err_errnum(e, ENOMEM, "%s", name);
			break;
		}
		m[nr++] = me;
	}
	image_close(&img);
	for (int i = 0; i < nr && ret >= 0; i++) {
		const char *why;

		if (m[i]->kind != MNT_KIND__MNT_FRESH || strcmp(m[i]->fstype, "proc"))
			continue;
		if ((why = rt_procmnt_why_not(m, nr, i))) {
			pr_warn("mount namespace %u: proc mount %u at '%s' shows the restorer's pids, not the restored pid "
				"namespace's: %s, so it is not mounted again", ns_id, m[i]->mnt_id, m[i]->mountpoint, why);
			continue;
		}
		if (grow_one(&p->procs, p->nr_procs) < 0) {
			ret = err_errnum(e, ENOMEM, "proc mounts");
			break;
		}
		p->procs[p->nr_procs] = (struct rt_procmnt){ ns_id, fd, strdup(m[i]->mountpoint),
							     rt_procmnt_flags(m[i]->options),
							     rt_procmnt_data(m[i]->super_options), NULL, 0 };
		if (!p->procs[p->nr_procs++].data)
			ret = err_errnum(e, ENOMEM, "proc mount options");
		for (int k = 0; k < nr && ret >= 0; k++) {
			struct rt_procmnt *pm = &p->procs[p->nr_procs - 1];

			if (k == i || m[k]->parent_id != m[i]->mnt_id)
				continue;
			if (grow_one(&pm->subs, pm->nr_subs) < 0 || !(pm->subs[pm->nr_subs++] = strdup(m[k]->mountpoint)))
				ret = err_errnum(e, ENOMEM, "mounts on proc");
		}
	}
	for (int i = 0; i < nr; i++)
		mnt_entry__free_unpacked(m[i], NULL);
	free(m);
	return ret < 0 ? ret : 0;
}

int rt_procmnt_plan(int dirfd, struct rt_plan *p, struct err *e)
{
	int ret = 0;

	if (!p->pidns)
		return 0;
	for (int i = 0; i < p->nr && ret >= 0; i++) {
		bool seen = false;

		if (!p->tasks[i].has_mntns)
			continue;
		for (int j = 0; j < i; j++)
			seen |= p->tasks[j].has_mntns && p->tasks[j].mntns_id == p->tasks[i].mntns_id;
		if (!seen)
			ret = rt_procmnt_ns(dirfd, p, p->tasks[i].mntns_id, p->tasks[i].mntns_fd, e);
	}
	return ret;
}

/* In a member of the new pid namespace, in the proc's mount namespace:
 * replaces the proc build-mntns made by a new one. */
static int rt_procmnt_member(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct rt_procmnt *pm = arg;
	int *sub = calloc(pm->nr_subs + 1, sizeof(*sub)), ret = 0;

	if (!sub)
		return err_errnum(e, ENOMEM, "mounts on proc");
	/* Copies of the mounts on it, with what is mounted on them, first:
	 * they go with the old proc. */
	for (int i = 0; i < pm->nr_subs && ret == 0; i++)
		if ((sub[i] = syscall(SYS_open_tree, AT_FDCWD, pm->subs[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				      AT_RECURSIVE)) < 0)
			ret = err_errno(e, "mount namespace %u: proc at '%s': copy the mount at '%s' on it", pm->ns_id,
					pm->mountpoint, pm->subs[i]);
	if (ret == 0 && umount2(pm->mountpoint, MNT_DETACH) < 0)
		ret = err_errno(e, "mount namespace %u: proc at '%s' in the restored pid namespace: unmount the proc "
				"build-mntns made", pm->ns_id, pm->mountpoint);
	if (ret == 0 && mount("proc", pm->mountpoint, "proc", pm->flags, pm->data) < 0)
		ret = err_errno(e, "mount namespace %u: proc at '%s' in the restored pid namespace: mount a new proc",
				pm->ns_id, pm->mountpoint);
	for (int i = 0; i < pm->nr_subs && ret == 0; i++)
		if (syscall(SYS_move_mount, sub[i], "", AT_FDCWD, pm->subs[i], MOVE_MOUNT_F_EMPTY_PATH) < 0)
			ret = err_errno(e, "mount namespace %u: put the mount at '%s' back on the new proc", pm->ns_id,
					pm->subs[i]);
	for (int i = 0; i < pm->nr_subs; i++)
		if (sub[i] > 0)
			close(sub[i]);
	free(sub);
	return ret;
}

int rt_procmnt_mount(struct rt_plan *p, struct err *e)
{
	struct nschild_ns ns[2] = { { -1, CLONE_NEWPID, NULL }, { -1, CLONE_NEWNS, NULL } };
	char path[64], what[4096 + 128];
	int ret = 0;

	if (!p->nr_procs)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/pid", p->tasks[0].pid);
	if ((ns[0].fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open the restored pid namespace '%s'", path);
	ns[0].name = path;
	/* A member of the pid namespace (nschild forks one) makes the proc,
	 * so it shows that namespace's pids. */
	for (int i = 0; i < p->nr_procs && ret >= 0; i++) {
		ns[1].fd = p->procs[i].mntns_fd;
		snprintf(what, sizeof(what), "mount namespace %u: mount proc at '%s' again from the restored pid namespace",
			 p->procs[i].ns_id, p->procs[i].mountpoint);
		ret = nschild_run(what, ns, 2, rt_procmnt_member, &p->procs[i], NULL, e);
	}
	close(ns[0].fd);
	if (ret < 0)
		return ret;
	for (int i = 0; i < p->nr_procs; i++)
		pr_info("mount namespace %u: new proc at '%s' shows the restored pid namespace", p->procs[i].ns_id,
			p->procs[i].mountpoint);
	return 0;
}

void rt_procmnt_free(struct rt_plan *p)
{
	for (int i = 0; i < p->nr_procs; i++) {
		free(p->procs[i].mountpoint);
		free(p->procs[i].data);
		for (int k = 0; k < p->procs[i].nr_subs; k++)
			free(p->procs[i].subs[k]);
		free(p->procs[i].subs);
	}
	free(p->procs);
	p->procs = NULL;
	p->nr_procs = 0;
}
