/* amber-build-mntns: make the mount namespaces of the tree being restored,
 * before any of its tasks exists, and pin them in the run directory.
 *
 * What it does
 *	For every namespace of mntns.img (dump-mounts) a child unshares a mount
 *	namespace and makes it into the dumped one (build.c): every mount is
 *	made detached first (a bind of the same super block from the host, a
 *	tmpfs filled from tmpfs-MNT.img, a new proc/sysfs/..., a bind of another
 *	of the tree's mounts, an --external path, or a new overlay from the
 *	dumped layer directories and options, once their paths are found to
 *	be directories and the upper layer's digest to be the dump's:
 *	lib/union.h), then moved onto its parent
 *	parents first, propagation set last (shared peer groups, slaves,
 *	unbindable), and pivoted to be the root. The child sends the namespace
 *	back as an fd (lib/nschild.h), which this stage bind-mounts onto
 *	RUN/ns/mnt.ID, so the namespace outlives the child and the fd:
 *	restore-files and restore-tasks enter it from there, and so
 *	can a person (nsenter --mount=RUN/ns/mnt.ID). The driver unmounts the
 *	pins when the restore ends, whether it worked or not. A mount named by
 *	--delay-mount gets a stub instead (a new FUSE super block, nothing
 *	asked of it here), and so does each other mount of its super block or
 *	bind of it (binds of its whole root only); the /dev/fuse fd of each
 *	stub goes to amber-mountd through the driver (`stubs`). A dump without
 *	mntns.img (a tree in the dumper's own namespace) needs nothing: the
 *	stage writes an empty plan.
 *
 * Inputs	stdin: a state stream (its records are not used).
 *	images (-D): mntns.img, mountpoints-ID.img, tmpfs-MNT.img,
 *	files.img and fs-PID.img (for what lies under overmounts).
 *
 * Options	--external mnt[NAME]:PATH (repeatable): what an external mount
 *	of the dump is bound from. --root PATH: the root mount of each
 *	namespace is bound from PATH instead (a container's root file system
 *	moved or copied since the dump). --allow-changed-files: an overlay
 *	whose upper layer changed since the dump is mounted anyway, with a
 *	warning. --delay-mount MOUNTPOINT (repeatable): a stub goes there
 *	until amber-mountd mounts the real file system.
 *
 * Outputs	stdout: state stream: one `mntns` record (MntnsPlanEntry: id,
 *	pin path, pids, the devices of the tmpfs mounts it filled from the
 *	images, the delayed mounts it stubbed with their binds) per
 *	namespace, then the end.
 *
 * Named fds	`hidden` (optional): a unix SOCK_SEQPACKET socket; for each
 *	open file (files.img) that lies under an overmount, an O_PATH fd of
 *	its directory (a directory's own) taken before the overmount was
 *	mounted, named by file id (ipc/fdpass.h); for each task's cwd and root
 *	(fs-PID.img, by their mount ids) under one, an O_PATH fd of it named
 *	FDPASS_ID_CWD or FDPASS_ID_ROOT | pid; then the end marker.
 *	restore-files opens the file relative to it, and hands a cwd or root
 *	on to restore-tasks. `stubs` (optional, needed with --delay-mount):
 *	a unix socket; the /dev/fuse fd of each stub, named by the delayed
 *	mount's id (ipc/fdpass.h), then the end marker.
 *
 * Exit status	0 ok; 2 usage (no --run-dir to pin in); 3 a mount that
 *	cannot be made (an external one without its path, a host device not
 *	mounted any more, an overlay whose layer directory is missing or whose
 *	upper layer changed; the last stderr line names the mount id and
 *	mountpoint; a mount of a network file system not mounted here names
 *	--delay-mount); 4 a mount call failed.
 *
 * Side effects	pins RUN/ns/mnt.ID (bind mounts in the caller's mount
 *	namespace), removed again if the stage fails; nothing else is
 *	mounted outside the new namespaces. A tmpfs's contents are made
 *	beneath the new mount only (fill.c: openat2 RESOLVE_BENEATH, no
 *	symlink followed), and set-id bits or file capabilities only on
 *	files the dump saw with them (TmpfsFileEntry.setid). An overlay of
 *	the tree is mounted again on its layer directories, in place (its
 *	work directory is emptied by the kernel, as on any mount; a volatile
 *	overlay's work/incompat/volatile marker is removed first).
 *
 * Capabilities	CAP_SYS_ADMIN (mounts, setns), CAP_SYS_CHROOT
 *	(pivot_root), CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_MKNOD
 *	(tmpfs contents with their owners, modes and device nodes),
 *	CAP_DAC_READ_SEARCH (an overlay gets index=on, nfs_export=on only
 *	from a mounter that can decode file handles; without it the kernel
 *	quietly falls back to index=off).
 *	Confined: no_new_privs and a seccomp allow list (syscalls.c), set
 *	once the capabilities are dropped (doc/design.md, Confined stages).
 *
 * By hand
 *	amber stage build-mntns --replay RUN, or
 *	amber-build-mntns -D DIR --run-dir RUN < RUN/NN-build-mntns.in
 *	nsenter --mount=RUN/ns/mnt.1 cat /proc/self/mountinfo
 *	umount RUN/ns/mnt.1	(what the driver does at the end)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/exitcodes.h"
#include "ipc/fdpass.h"
#include "ipc/fds.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/nschild.h"
#include "stages/build-mntns/build-mntns.h"

/* What the child building a namespace works on. */
struct bm_child_arg {
	const struct stage_ctx *ctx;
	const struct build_mntns_opts *o;
	const struct bm_ns *ns;
};

/* Sends the stub fds of a namespace on the stubs socket, named by mount id. */
static int bm_send_stubs(int sock, const int *fds, const uint32_t *ids, int n, struct err *e)
{
	if (n && sock < 0)
		return err_set(e, EXIT_USAGE, "--delay-mount needs the 'stubs' fd, where the stubs' /dev/fuse fds go "
			       "to amber-mountd");
	return n ? fdpass_send(sock, fds, ids, n, e) : 0;
}

/* In a child: builds namespace ns (unsharing it) and sends it back as an
 * fd, which keeps it alive once the child is gone. Its /proc/self/ns/mnt
 * is reached through our /proc, opened before: the new root may have no
 * /proc, or a new one of another pid namespace. */
static int bm_child(void *arg, struct nschild_reply *reply, struct err *e)
{
	const struct bm_child_arg *a = arg;
	_cleanup_close_ int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC), fd = -1;
	_cleanup_free_ uint64_t *made = calloc(a->ns->nr + 1, sizeof(*made));
	struct bm_stubs stubs = { .nr = 0 };
	int ret, nr_made = 0;

	if (proc < 0)
		return err_errno(e, "open '/proc'");
	if (!made)
		return err_errnum(e, ENOMEM, "%d mounts", a->ns->nr);
	ret = build_mntns_build(a->ctx->dir_fd, a->o, a->ns, stage_fd(a->ctx, FD_NAME_HIDDEN), made, &nr_made, &stubs, e);
	if (ret >= 0)
		ret = bm_send_stubs(stage_fd(a->ctx, FD_NAME_STUBS), stubs.fd, stubs.mnt_id, stubs.nr, e);
	for (int i = 0; i < stubs.nr; i++)
		close(stubs.fd[i]);
	if (ret < 0)
		return ret;
	if ((fd = openat(proc, "thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open the new mount namespace %u ('/proc/thread-self/ns/mnt')", a->ns->id);
	/* The devices of the tmpfs mounts it made, as bytes. */
	if (nr_made && (ret = nschild_send(reply, made, nr_made * sizeof(*made), e)) < 0)
		return ret;
	return nschild_send_fds(reply, &fd, 1, e);
}

/* Builds namespace ns in a child and pins it at 'pin'; pe gets the devices
 * of the tmpfs mounts made (pe->made_devs, the caller frees it). */
static int bm_build_and_pin(const struct stage_ctx *ctx, const struct build_mntns_opts *o, const struct bm_ns *ns,
			    const char *pin, MntnsPlanEntry *pe, struct err *e)
{
	struct bm_child_arg a = { ctx, o, ns };
	struct nschild_result res;
	char what[64], nspath[64];
	int fd, ret;

	snprintf(what, sizeof(what), "build mount namespace %u", ns->id);
	if ((ret = nschild_run(what, NULL, 0, bm_child, &a, &res, e)) < 0)
		return ret;
	if (res.nr_fds != 1 || res.len % sizeof(uint64_t)) {
		nschild_result_free(&res);
		return err_set(e, EXIT_SYSTEM, "%s: the child sent %d fds and %zu bytes, not the namespace's", what,
			       res.nr_fds, res.len);
	}
	if (res.len && !(pe->made_devs = malloc(res.len))) {
		nschild_result_free(&res);
		return err_errnum(e, ENOMEM, "%s", what);
	}
	if (res.len)
		memcpy(pe->made_devs, res.data, res.len);
	pe->n_made_devs = res.len / sizeof(uint64_t);
	snprintf(nspath, sizeof(nspath), "/proc/self/fd/%d", res.fds[0]);
	fd = open(pin, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		ret = err_errno(e, "create the pin '%s' of mount namespace %u (a rerun removes the old one "
				"first: umount '%s'; rm '%s')", pin, ns->id, pin, pin);
	else if (close(fd), mount(nspath, pin, NULL, MS_BIND, NULL) < 0)
		ret = err_errno(e, "pin mount namespace %u at '%s'", ns->id, pin);
	nschild_result_free(&res);
	return ret;
}

/* Unmounts and removes the pins made so far (the stage failed). */
static void bm_unpin(const char *run_dir, int upto)
{
	char pin[4096];

	for (int i = 1; i <= upto; i++) {
		snprintf(pin, sizeof(pin), "%s/ns/mnt.%d", run_dir, i);
		umount2(pin, MNT_DETACH);
		unlink(pin);
	}
}

/* The stage: each namespace of mntns.img built and pinned, one record each. */
static int build_mntns_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct build_mntns_opts *o = opts;
	struct build_mntns_input in;
	struct stream_out out;
	int ret, built = 0;

	if ((ret = stream_out_open(&out, 1, "build-mntns", e)) < 0)
		return ret;
	ret = build_mntns_read(ctx->dir_fd, &in, e);
	if (ret >= 0 && !in.present && o->nr_delay) {
		build_mntns_input_free(&in);
		return err_input(e, "--delay-mount mnt[%s]: the tree has no mount namespace of its own, so no mount of "
				 "it was dumped; a mount of the restorer's namespace is not amber's to delay", o->delay[0]);
	}
	if (ret >= 0 && !in.present) {
		if (stage_fd(ctx, FD_NAME_HIDDEN) >= 0 && (ret = fdpass_send_end(stage_fd(ctx, FD_NAME_HIDDEN), e)) < 0)
			return ret;
		if (stage_fd(ctx, FD_NAME_STUBS) >= 0 && (ret = fdpass_send_end(stage_fd(ctx, FD_NAME_STUBS), e)) < 0)
			return ret;
		return stream_out_end(&out, e);
	}
	if (ret >= 0 && !ctx->run_dir)
		ret = err_set(e, EXIT_USAGE, "the dump has mount namespaces: give --run-dir, where they are pinned");
	for (int k = 0; ret >= 0 && k < o->nr_delay; k++) {
		bool found = false;

		for (int i = 0; i < in.nr; i++)
			for (int j = 0; j < in.ns[i].nr; j++)
				found |= !strcmp(in.ns[i].m[j]->mountpoint, o->delay[k]);
		if (!found)
			ret = err_input(e, "--delay-mount mnt[%s]: no mount of the tree's namespaces is at '%s' (amber show "
					"DIR lists them)", o->delay[k], o->delay[k]);
	}
	if (ret < 0) {
		build_mntns_input_free(&in);
		return ret;
	}
	for (int i = 0; ret >= 0 && i < in.nr; i++) {
		MntnsPlanEntry pe = MNTNS_PLAN_ENTRY__INIT;
		StreamRecord rec = STREAM_RECORD__INIT;
		char dir[4096], pin[4096];

		snprintf(dir, sizeof(dir), "%s/ns", ctx->run_dir);
		snprintf(pin, sizeof(pin), "%s/mnt.%u", dir, in.nse[i]->id);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			ret = err_errno(e, "make '%s'", dir);
		if (ret >= 0 && (ret = bm_build_and_pin(ctx, o, &in.ns[i], pin, &pe, e)) >= 0)
			built++;
		_cleanup_free_ DelayedMnt *dm = calloc(in.ns[i].nr + 1, sizeof(*dm));
		_cleanup_free_ DelayedMnt **dmp = calloc(in.ns[i].nr + 1, sizeof(*dmp));
		_cleanup_free_ char **binds = calloc(in.ns[i].nr + 1, sizeof(*binds));
		int nb = 0;

		if (!dm || !dmp || !binds)
			ret = err_errnum(e, ENOMEM, "%d mounts", in.ns[i].nr);
		for (int k = 0; ret >= 0 && k < in.ns[i].nr; k++) {
			const MntEntry *me = in.ns[i].m[k];
			DelayedMnt *d = &dm[pe.n_stubs];

			if (build_mntns_delayed(o, me) < 0)
				continue;
			delayed_mnt__init(d);
			d->mnt_id = me->mnt_id;
			d->mountpoint = me->mountpoint;
			d->fstype = me->fstype;
			d->source = me->source;
			d->options = me->super_options;
			d->binds = binds + nb;
			for (int j = 0; j < in.ns[i].nr; j++)
				if (j != k && build_mntns_stub_of(o, &in.ns[i], j) == k)
					binds[nb++] = in.ns[i].m[j]->mountpoint, d->n_binds++;
			dmp[pe.n_stubs++] = d;
		}
		pe.stubs = dmp;
		if (ret >= 0) {
			pe.id = in.nse[i]->id;
			pe.pin = pin;
			pe.n_pids = in.nse[i]->n_pids;
			pe.pids = in.nse[i]->pids;
			rec.body_case = STREAM_RECORD__BODY_MNTNS;
			rec.mntns = &pe;
			ret = stream_out_write(&out, &rec, e);
		}
		free(pe.made_devs);
	}
	build_mntns_input_free(&in);
	if (ret >= 0 && stage_fd(ctx, FD_NAME_HIDDEN) >= 0)
		ret = fdpass_send_end(stage_fd(ctx, FD_NAME_HIDDEN), e);
	if (ret >= 0 && stage_fd(ctx, FD_NAME_STUBS) >= 0)
		ret = fdpass_send_end(stage_fd(ctx, FD_NAME_STUBS), e);
	if (ret < 0) {
		bm_unpin(ctx->run_dir, built);
		return ret;
	}
	return stream_out_end(&out, e);
}

/* --external mnt[NAME]:PATH (other kinds are not ours), --root PATH,
 * --allow-changed-files. */
static int build_mntns_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct build_mntns_opts *o = opts;
	const char *close;

	if (opt == 'R') {
		o->root = strdup(arg);
		return 0;
	}
	if (opt == 'A') {
		o->allow_changed = true;
		return 0;
	}
	if (opt == 'M') {
		if (o->nr_delay == BM_MAX_EXTERNAL)
			return err_set(e, EXIT_USAGE, "--delay-mount '%s': at most %d delayed mounts", arg, BM_MAX_EXTERNAL);
		o->delay[o->nr_delay++] = strdup(arg);
		return 0;
	}
	if (opt != 'X')
		return err_set(e, EXIT_USAGE, "unknown option");
	if (strncmp(arg, "mnt[", 4))
		return 0;
	close = strstr(arg, "]:");
	if (!close || close == arg + 4 || !close[2])
		return err_set(e, EXIT_USAGE, "--external '%s': want mnt[NAME]:PATH", arg);
	if (o->nr_ext == BM_MAX_EXTERNAL)
		return err_set(e, EXIT_USAGE, "--external '%s': at most %d external mounts", arg, BM_MAX_EXTERNAL);
	o->ext[o->nr_ext].name = strndup(arg + 4, close - arg - 4);
	o->ext[o->nr_ext++].path = strdup(close + 2);
	return 0;
}

static const struct option build_mntns_options[] = {
	{ "external", required_argument, NULL, 'X' },
	{ "root", required_argument, NULL, 'R' },
	{ "allow-changed-files", no_argument, NULL, 'A' },
	{ "delay-mount", required_argument, NULL, 'M' },
	{ NULL, 0, NULL, 0 },
};

static const struct stage_desc build_mntns_desc = {
	.name = "build-mntns",
	.reads_images = true,
	.summary = "Make the dump's mount namespaces (mntns.img) and pin them in RUN/ns/mnt.ID.",
	.usage = "      --external mnt[NAME]:PATH  bind external mount NAME from PATH (repeatable)\n"
		 "      --root PATH                bind each namespace's root mount from PATH\n"
		 "      --allow-changed-files      mount an overlay whose upper layer changed since the dump\n"
		 "      --delay-mount MOUNTPOINT   put a stub there (and on its binds), fd 'stubs' (repeatable)",
	.caps = { CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_MKNOD, CAP_DAC_READ_SEARCH },
	.nr_caps = 7,
	.optional_fds = { FD_NAME_HIDDEN, FD_NAME_STUBS },
	.syscalls = build_mntns_syscalls,
	.options = build_mntns_options,
	.parse_option = build_mntns_parse_option,
	.run = build_mntns_run,
};

int main(int argc, char **argv)
{
	static struct build_mntns_opts opts;

	return stage_main(&build_mntns_desc, &opts, argc, argv);
}
