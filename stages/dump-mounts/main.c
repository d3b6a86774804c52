/* amber-dump-mounts: dump the mount namespaces a stopped tree made.
 *
 * What it does
 *	Every task's mount namespace is compared with this stage's own (the
 *	dumper's); tasks in it need nothing here: they are restored in the
 *	restorer's namespace. For every other namespace (unshare -m, a
 *	container) the mount tree is read whole, as its root sees it: a child
 *	enters it (setns) and reads its own mountinfo there (lib/nsroot.h), so a
 *	task that chroot(2)ed, whose /proc/PID/mountinfo shows only what is
 *	under its root and by paths from there, changes nothing; paths in the
 *	images (mountpoints, and cwd, root and files of dump-files) are all from
 *	the namespace's root (and /proc is always our own, opened before entering:
 *	the tree's may be the proc of a pid namespace we are not in). The tree
 *	is written parents first, each mount with how
 *	build-mntns will make it again:
 *	host bind	its super block is mounted outside the tree too (the
 *	root file system, /proc, a bind of a host directory):
 *	bound again from there, found by device number
 *	tmpfs		a tmpfs only the tree has: its files, directories,
 *	symlinks, device nodes and FIFOs, with modes, owners,
 *	xattrs, hard links and mtimes, go to tmpfs-MNT.img
 *	tree bind	a bind of such a tmpfs (the same super block, a root
 *	inside the first's): made from that mount
 *	fresh		a new proc, sysfs, devpts, mqueue, cgroup2, ...
 *	external	named with --external mnt[MOUNTPOINT]:NAME: restore
 *	binds what --external mnt[NAME]:PATH gives
 *	overlay		an overlay only the tree has: its layer directories
 *	(lowerdir, datadir, upperdir, workdir, from the super block options,
 *	which must be absolute paths to directories here) and its other
 *	options (index, redirect_dir, metacopy, xino, volatile, ...) are
 *	recorded, with a digest of the upper layer (lib/union.h); restore
 *	mounts a new overlay on them
 *	with its options, super block options and propagation (shared peer
 *	group, master, unbindable). A network file system (nfs, nfs4, cifs,
 *	smb3, 9p, ceph, fuse.sshfs, ...) is marked `delayable` with its
 *	source, type and options, as a host bind even when the host does not
 *	have it now: restore binds it if the host has it then, or runs the
 *	tree on a stub with --delay-mount. Any other mount (a block device, a
 *	FUSE file system, ...) is refused, naming its id and mountpoint and
 *	the --external fix, and so is a bind of one pty slave of a devpts (a
 *	container's /dev/console as runc makes it): its pair is made after
 *	the mounts.
 *
 * Inputs	stdin: state stream with one `task` record (PstreeEntry) per
 *	process (seize's), host_pid used when set; zombies are skipped.
 *
 * Options	--external mnt[MOUNTPOINT]:NAME (repeatable).
 *
 * Outputs	images (-D), only when the tree has a namespace of its own:
 *	mntns.img		one MntnsEntry per namespace: id, pids, root mount
 *	mountpoints-ID.img	one MntEntry per mount of namespace ID
 *	tmpfs-MNT.img		the contents of tmpfs mount MNT
 *	stdout: state stream with a hello (writer "dump-mounts") and an
 *	end, no records.
 *
 * Exit status	0 ok; 2 usage; 3 a mount that cannot be made again (an
 *	overlay whose layers are relative paths or missing here), or a
 *	tmpfs that cannot be read (the last stderr line names the mount id,
 *	mountpoint and what to do); 4 a /proc read or image write failed;
 *	5 the input stream was cut.
 *
 * Side effects	none on the tree or its namespaces (the copy dies with the
 *	child); reads /proc, the tree's tmpfs mounts and the upper layers of
 *	its overlays.
 *
 * Capabilities	CAP_SYS_PTRACE (/proc/PID/ns and mountinfo of other
 *	users' tasks), CAP_DAC_READ_SEARCH (read every file of a tmpfs),
 *	CAP_SYS_ADMIN and CAP_SYS_CHROOT (a child enters each namespace with
 *	setns and reads its tmpfs mounts from a private copy of it, where
 *	each is cloned alone with open_tree, so what lies under a mountpoint
 *	is saved too, and a tmpfs under another mount is reached by
 *	unmounting, in the copy only, what covers it).
 *
 * By hand	(the tree stopped again, e.g. kill -STOP)
 *	amber-dump-mounts -D DIR --dump-id ID -v3 < RUN/NN-dump-mounts.in > /dev/null
 *	amber show DIR/mountpoints-1.img
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/image.h"
#include "images/mnt.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mntclone.h"
#include "lib/nschild.h"
#include "lib/nsroot.h"
#include "stages/dump-mounts/dump-mounts.h"

#define DM_MAX_EXTERNAL 64

struct dump_mounts_opts {
	struct { char *mountpoint, *name; } ext[DM_MAX_EXTERNAL];
	int nr_ext;
};

/* One mount namespace of the tree. */
struct dm_ns {
	ino_t ino;
	pid_t host_pid;			/* a task in it, to read through */
	uint32_t *pids;
	size_t nr_pids;
};

struct dm_state {
	struct dm_ns *ns;
	int nr_ns;
	struct mountinfo_table host;	/* this stage's own mounts */
};

/* File systems a new instance of which is what the tree had. */
static bool dm_fresh_type(const char *t)
{
	static const char *const types[] = { "proc", "sysfs", "devpts", "mqueue", "cgroup2", "bpf", "tracefs",
					     "debugfs", "securityfs", "pstore", "configfs", "fusectl", "binfmt_misc" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(t, types[i]))
			return true;
	return false;
}

/* Network file systems (and FUSE ones that reach a remote store): the
 * restore may run the tree on a stub until they are back. */
static bool dm_delayable_type(const char *t)
{
	static const char *const types[] = { "nfs", "nfs4", "cifs", "smb3", "9p", "ceph", "glusterfs", "afs",
					     "fuse.sshfs", "fuse.s3fs", "fuse.rclone", "fuse.gcsfuse", "fuse.glusterfs" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(t, types[i]))
			return true;
	return false;
}

/* Whether some mount of 'host' is of device dev and shows a root that
 * contains 'root', so a bind of it can reach it. */
static bool dm_host_has(const struct mountinfo_table *host, const struct mountinfo *m)
{
	for (int i = 0; i < host->nr; i++) {
		const struct mountinfo *h = &host->m[i];

		if (h->major == m->major && h->minor == m->minor && mountinfo_relpath(h->root, m->root))
			return true;
	}
	return false;
}

/* The widest mount of the namespace with m's super block whose root holds
 * m's (m itself if none is wider). */
static const struct mountinfo *dm_widest(const struct mountinfo_table *t, const struct mountinfo *m)
{
	const struct mountinfo *best = m;

	for (int i = 0; i < t->nr; i++) {
		const struct mountinfo *o = &t->m[i];

		if (o->major == m->major && o->minor == m->minor && mountinfo_relpath(o->root, m->root) &&
		    (strlen(o->root) < strlen(best->root) || (strlen(o->root) == strlen(best->root) && o->id < best->id)))
			best = o;
	}
	return best;
}

/* Decides how mount m is made again; fills me. */
static int dm_classify(const struct dump_mounts_opts *o, const struct dm_state *s, const struct mountinfo_table *t,
		       const struct mountinfo *m, MntEntry *me, struct err *e)
{
	const struct mountinfo *w;

	me->has_delayable = me->delayable = dm_delayable_type(m->fstype);
	for (int i = 0; i < o->nr_ext; i++)
		if (!strcmp(o->ext[i].mountpoint, m->mountpoint)) {
			me->kind = MNT_KIND__MNT_EXTERNAL;
			me->external = o->ext[i].name;
			return 0;
		}
	/* A bind of one pty slave (runc binds the slave of a container's
	 * console on /dev/console): the pair is made again only after the
	 * mounts, on another index for the host's devpts. */
	if (!strcmp(m->fstype, "devpts") && strcmp(m->root, "/") && strcmp(m->root, "/ptmx"))
		return err_input(e, "mount %d at '%s' is a bind of the pty slave /dev/pts%s of a devpts instance (as a "
				 "container runtime makes /dev/console), which amber cannot make again yet: the pair is "
				 "made after the mounts; name it with --external mnt[%s]:NAME at dump and bind a terminal "
				 "there with --external mnt[NAME]:PATH at restore",
				 m->id, m->mountpoint, m->root, m->mountpoint);
	if (dm_host_has(&s->host, m)) {
		me->kind = MNT_KIND__MNT_HOST_BIND;
		return 0;
	}
	w = dm_widest(t, m);
	if (w != m) {
		me->kind = MNT_KIND__MNT_TREE_BIND;
		me->has_bind_of = true;
		me->bind_of = w->id;
		return 0;
	}
	if (!strcmp(m->fstype, "tmpfs")) {
		if (strcmp(m->root, "/"))
			return err_input(e, "tmpfs mount %d at '%s' shows only '%s' of a tmpfs no longer mounted whole: "
					 "it cannot be saved; name it with --external mnt[%s]:NAME",
					 m->id, m->mountpoint, m->root, m->mountpoint);
		me->kind = MNT_KIND__MNT_TMPFS;
		return 0;
	}
	if (dm_fresh_type(m->fstype) && !strcmp(m->root, "/")) {
		me->kind = MNT_KIND__MNT_FRESH;
		return 0;
	}
	if (!strcmp(m->fstype, "overlay"))
		return dump_mounts_overlay(m, me, e);
	/* Not mounted outside the tree now: made from its source at restore
	 * (restore --delay-mount, then amber mount-delayed), or bound again
	 * if the host has it by then. */
	if (me->delayable) {
		me->kind = MNT_KIND__MNT_HOST_BIND;
		return 0;
	}
	return err_input(e, "mount %d at '%s' (%s from '%s') cannot be made again: amber makes tmpfs, binds of what "
			 "is mounted outside the tree and new proc/sysfs/devpts/mqueue/cgroup2; name it with "
			 "--external mnt[%s]:NAME at dump and --external mnt[NAME]:PATH at restore",
			 m->id, m->mountpoint, m->fstype, m->source, m->mountpoint);
}

/* What the child saving tmpfs mounts works on. */
struct dm_tmpfs_arg {
	int dirfd;
	pid_t pid;
	int proc;		/* our /proc, opened before entering */
	const struct mountinfo_table *t;
	const int *idx;
	int n;
};

/* In a child in pid's mount namespace: makes a private copy of it, clones
 * the tmpfs mounts idx[] of t (pid's mountinfo) there and saves what they
 * hold; returns how many files. */
static int dm_tmpfs_in_copy(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct dm_tmpfs_arg *a = arg;
	const struct mountinfo_table *t = a->t;
	struct mountinfo_table copy;
	_cleanup_free_ int *map = calloc(t->nr, sizeof(int)), *want = calloc(a->n, sizeof(int)),
			   *fds = calloc(a->n, sizeof(int));
	int ret, files = 0;

	if (!map || !want || !fds)
		return err_errnum(e, ENOMEM, "%d mounts", t->nr);
	/* Our /proc, not the namespace's: the tree's own proc may be of a pid
	 * namespace we are not in. */
	if ((ret = mntclone_private_copy(a->pid, e)) < 0 || (ret = mountinfo_read_at(a->proc, &copy, e)) < 0)
		return ret;
	mntclone_match(t, &copy, map);
	for (int i = 0; i < a->n && ret >= 0; i++) {
		fds[i] = -1;
		want[i] = map[a->idx[i]];
		if (want[i] < 0)
			ret = err_input(e, "tmpfs mount %d at '%s' is not in a copy of pid %d's mount namespace",
					t->m[a->idx[i]].id, t->m[a->idx[i]].mountpoint, a->pid);
	}
	if (ret >= 0)
		ret = mntclone_get(&copy, want, a->n, fds, e);
	for (int i = 0; i < a->n && ret >= 0; i++) {
		int k = 0;

		ret = dump_mounts_tmpfs(a->dirfd, fds[i], &t->m[a->idx[i]], &k, e);
		files += k;
	}
	mountinfo_free(&copy);
	return ret < 0 ? ret : files;
}

/* Runs dm_tmpfs_in_copy in a child (entering a namespace is for good). */
static int dm_tmpfs(int dirfd, pid_t pid, const struct mountinfo_table *t, const int *idx, int n, int *files,
		    struct err *e)
{
	_cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct dm_tmpfs_arg a = { dirfd, pid, proc, t, idx, n };
	char path[64], what[96];
	int ret;

	if (!n)
		return 0;
	if (proc < 0)
		return err_errno(e, "open '/proc'");
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	snprintf(what, sizeof(what), "save the tmpfs mounts of pid %d's mount namespace", pid);
	if ((ret = nschild_run_at(what, path, CLONE_NEWNS, dm_tmpfs_in_copy, &a, NULL, e)) < 0)
		return ret;
	*files = ret;
	return 0;
}

/* Writes mountpoints-ID.img (and the tmpfs images) for namespace ns. */
static int dm_dump_ns(const struct stage_ctx *ctx, const struct dump_mounts_opts *o, const struct dm_state *s,
		      int id, struct dm_ns *ns, MntnsEntry *nse, struct err *e)
{
	struct mountinfo_table t;
	struct image img;
	char name[64];
	int *order, *tmpfs_idx = NULL, ret, files = 0, tmpfs = 0;

	/* The whole namespace from its root, not pid's view: a task that
	 * chroot'ed sees only what is under its root (lib/nsroot.h). */
	if ((ret = nsroot_open(ns->host_pid, NULL, &t, e)) < 0)
		return ret;
	order = calloc(t.nr ? t.nr : 1, sizeof(*order));
	tmpfs_idx = calloc(t.nr ? t.nr : 1, sizeof(*tmpfs_idx));
	if (!order || !tmpfs_idx) {
		free(order);
		mountinfo_free(&t);
		return err_errnum(e, ENOMEM, "%d mounts", t.nr);
	}
	if ((ret = mountinfo_order(&t, order, e)) < 0)
		goto out;
	nse->root_mnt = t.nr ? t.m[order[0]].id : 0;
	snprintf(name, sizeof(name), "mountpoints-%d.img", id);
	if ((ret = image_open_write(&img, ctx->dir_fd, "mountpoints", name, e)) < 0)
		goto out;
	for (int k = 0; k < t.nr && ret >= 0; k++) {
		const struct mountinfo *m = &t.m[order[k]];
		MntEntry me = MNT_ENTRY__INIT;

		me.mnt_id = m->id;
		me.parent_id = k ? m->parent : m->id;
		me.dev = makedev(m->major, m->minor);
		me.root = m->root;
		me.mountpoint = m->mountpoint;
		me.fstype = m->fstype;
		me.source = m->source;
		me.options = m->opts;
		me.super_options = m->super_opts;
		me.has_shared = m->shared > 0;
		me.shared = m->shared;
		me.has_master = m->master > 0;
		me.master = m->master;
		me.has_unbindable = m->unbindable;
		me.unbindable = m->unbindable;
		if ((ret = dm_classify(o, s, &t, m, &me, e)) < 0) {
			dump_mounts_overlay_free(&me);
			break;
		}
		if (me.kind == MNT_KIND__MNT_TMPFS)
			tmpfs_idx[tmpfs++] = order[k];
		pr_debug("mount namespace %d: mount %d at '%s' (%s), kind %d", id, m->id, m->mountpoint, m->fstype, me.kind);
		ret = image_write(&img, &me.base, e);
		dump_mounts_overlay_free(&me);
	}
	if (ret >= 0)
		ret = image_close_write(&img, e);
	else
		image_close(&img);
	if (ret >= 0)
		ret = dm_tmpfs(ctx->dir_fd, ns->host_pid, &t, tmpfs_idx, tmpfs, &files, e);
	if (ret >= 0)
		pr_info("mount namespace %d (%zu tasks): %d mounts, %d tmpfs with %d files", id, ns->nr_pids, t.nr, tmpfs, files);
out:
	free(order);
	free(tmpfs_idx);
	mountinfo_free(&t);
	return ret;
}

/* Puts task (pid, host pid) into the namespace it is in, unless that is ours. */
static int dm_add_task(struct dm_state *s, ino_t self, uint32_t pid, pid_t host, struct err *e)
{
	char path[64];
	struct stat st;
	struct dm_ns *ns = NULL;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", host);
	if (stat(path, &st) < 0)
		return err_errno(e, "pid %u: find its mount namespace ('%s')", pid, path);
	if (st.st_ino == self)
		return 0;
	for (int i = 0; i < s->nr_ns; i++)
		if (s->ns[i].ino == st.st_ino)
			ns = &s->ns[i];
	if (!ns) {
		if (grow_one(&s->ns, s->nr_ns) < 0)
			return err_errno(e, "pid %u: remember its mount namespace", pid);
		ns = &s->ns[s->nr_ns++];
		*ns = (struct dm_ns){ st.st_ino, host, NULL, 0 };
	}
	if (grow_one(&ns->pids, ns->nr_pids) < 0)
		return err_errno(e, "pid %u: remember its mount namespace", pid);
	ns->pids[ns->nr_pids++] = pid;
	return 0;
}

/* Groups the tasks on stdin by mount namespace and dumps every one that is
 * not ours: mntns.img and what dm_dump_ns writes. */
static int dm_run_tasks(const struct stage_ctx *ctx, const struct dump_mounts_opts *o,
			const struct stream_task *tasks, int nr, struct dm_state *s, struct err *e)
{
	struct stat self;
	struct image img;
	int ret = 0;

	if (stat("/proc/self/ns/mnt", &self) < 0)
		return err_errno(e, "stat '/proc/self/ns/mnt'");
	for (int i = 0; ret >= 0 && i < nr; i++)
		ret = dm_add_task(s, self.st_ino, tasks[i].pid, tasks[i].host, e);
	if (ret < 0 || !s->nr_ns)
		return ret;
	if ((unsigned int)s->nr_ns > IMAGE_MAX_MNTNS_ID)
		return err_input(e, "the tree has %d mount namespaces, more than the %u that images hold", s->nr_ns,
				 IMAGE_MAX_MNTNS_ID);
	if ((ret = mountinfo_read(0, &s->host, e)) < 0)
		return ret;
	if ((ret = image_open_write(&img, ctx->dir_fd, "mntns", "mntns.img", e)) < 0)
		return ret;
	for (int i = 0; i < s->nr_ns && ret >= 0; i++) {
		MntnsEntry nse = MNTNS_ENTRY__INIT;

		nse.id = i + 1;
		nse.n_pids = s->ns[i].nr_pids;
		nse.pids = s->ns[i].pids;
		nse.has_ns_ino = true;
		nse.ns_ino = s->ns[i].ino;
		ret = dm_dump_ns(ctx, o, s, i + 1, &s->ns[i], &nse, e);
		if (ret >= 0)
			ret = image_write(&img, &nse.base, e);
	}
	if (ret >= 0)
		return image_close_write(&img, e);
	image_close(&img);
	return ret;
}

/* The stage: tasks in, images out, an empty stream back. */
static int dump_mounts_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct dm_state s = { 0 };
	struct stream_task *tasks;
	struct stream_out out;
	int nr, ret;

	if ((ret = stream_in_tasks(0, "state stream (stdin)", &tasks, &nr, e)) >= 0 &&
	    (ret = stream_out_open(&out, 1, "dump-mounts", e)) >= 0)
		ret = dm_run_tasks(ctx, opts, tasks, nr, &s, e);
	if (ret >= 0)
		ret = stream_out_end(&out, e);
	free(tasks);
	for (int i = 0; i < s.nr_ns; i++)
		free(s.ns[i].pids);
	free(s.ns);
	mountinfo_free(&s.host);
	return ret;
}

/* --external mnt[MOUNTPOINT]:NAME; other kinds of --external are not ours. */
static int dump_mounts_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct dump_mounts_opts *o = opts;
	const char *close = strstr(arg, "]:");

	if (opt != 'X')
		return err_set(e, EXIT_USAGE, "unknown option");
	if (strncmp(arg, "mnt[", 4))
		return 0;
	if (!close || close == arg + 4 || !close[2] || arg[4] != '/')
		return err_set(e, EXIT_USAGE, "--external '%s': want mnt[MOUNTPOINT]:NAME, e.g. mnt[/srv/data]:data", arg);
	if (o->nr_ext == DM_MAX_EXTERNAL)
		return err_set(e, EXIT_USAGE, "--external '%s': at most %d external mounts", arg, DM_MAX_EXTERNAL);
	o->ext[o->nr_ext].mountpoint = strndup(arg + 4, close - arg - 4);
	o->ext[o->nr_ext++].name = strdup(close + 2);
	return 0;
}

static const struct option dump_mounts_options[] = {
	{ "external", required_argument, NULL, 'X' },
	{ NULL, 0, NULL, 0 },
};

static const struct stage_desc dump_mounts_desc = {
	.name = "dump-mounts",
	.summary = "Write mntns.img, mountpoints-ID.img and tmpfs-MNT.img for the mount namespaces the stopped tree made.",
	.usage = "      --external mnt[MOUNTPOINT]:NAME  a mount restore binds from a path given then (repeatable)",
	.caps = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, CAP_SYS_CHROOT },
	.nr_caps = 4,
	.options = dump_mounts_options,
	.parse_option = dump_mounts_parse_option,
	.run = dump_mounts_run,
};

int main(int argc, char **argv)
{
	static struct dump_mounts_opts opts;

	return stage_main(&dump_mounts_desc, &opts, argc, argv);
}
