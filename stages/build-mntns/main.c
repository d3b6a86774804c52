/* amber-build-mntns: make the mount namespaces of the tree being restored,
 * before any of its tasks exists, and pin them in the run directory.
 *
 * For every namespace of mntns.img (dump-mounts) a child unshares a mount
 * namespace and makes it into the dumped one (build.c): every mount is
 * made detached first (a bind of the same super block from the host, a
 * tmpfs filled from tmpfs-MNT.img, a new proc/sysfs/..., a bind of another
 * of the tree's mounts, an --external path), then moved onto its parent
 * parents first, propagation set last (shared peer groups, slaves,
 * unbindable), and pivoted to be the root. This stage then bind-mounts the
 * child's /proc/PID/ns/mnt onto RUN/ns/mnt.ID, so the namespace outlives
 * the child: restore-files and restore-tasks enter it from there, and so
 * can a person (nsenter --mount=RUN/ns/mnt.ID). The driver unmounts the
 * pins when the restore ends, whether it worked or not. A dump without
 * mntns.img (a tree in the dumper's own namespace) needs nothing: the
 * stage writes an empty plan.
 *
 * Input (stdin): a state stream (its records are not used).
 * Input (images dir, -D): mntns.img, mountpoints-ID.img, tmpfs-MNT.img,
 *	files.img and fs-PID.img (for what lies under overmounts).
 * Options: --external mnt[NAME]:PATH (repeatable): what an external mount
 *	of the dump is bound from. --root PATH: the root mount of each
 *	namespace is bound from PATH instead (a container's root file system
 *	moved or copied since the dump).
 * Named fds: `hidden` (optional): a unix SOCK_SEQPACKET socket; for each
 *	open file (files.img) that lies under an overmount, an O_PATH fd of
 *	its directory (a directory's own) taken before the overmount was
 *	mounted, named by file id (ipc/fdpass.h); for each task's cwd and root
 *	(fs-PID.img, by their mount ids) under one, an O_PATH fd of it named
 *	FDPASS_ID_CWD or FDPASS_ID_ROOT | pid; then the end marker.
 *	restore-files opens the file relative to it, and hands a cwd or root
 *	on to restore-tasks.
 * Output (stdout): state stream: one `mntns` record (MntnsPlanEntry: id,
 *	pin path, pids) per namespace, then the end.
 * Exit status: 0 ok; 2 usage (no --run-dir to pin in); 3 a mount that
 *	cannot be made (an external one without its path, a host device not
 *	mounted any more; the last stderr line names the mount id and
 *	mountpoint); 4 a mount call failed.
 * Side effects: pins RUN/ns/mnt.ID (bind mounts in the caller's mount
 *	namespace), removed again if the stage fails; nothing else is
 *	mounted outside the new namespaces.
 * Capabilities kept: CAP_SYS_ADMIN (mounts, setns), CAP_SYS_CHROOT
 *	(pivot_root), CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_MKNOD
 *	(tmpfs contents with their owners, modes and device nodes).
 *
 * By hand:
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
#include <sys/wait.h>
#include <unistd.h>

#include "images/image.h"
#include "ipc/fdpass.h"
#include "ipc/fds.h"
#include "ipc/stage.h"
#include "ipc/stream.h"
#include "lib/log.h"
#include "stages/build-mntns/build-mntns.h"

/* Builds namespace ns in a child and pins it at 'pin'. */
static int bm_build_and_pin(const struct stage_ctx *ctx, const struct build_mntns_opts *o, const struct bm_ns *ns,
			    const char *pin, struct err *e)
{
	struct { int ret; struct err e; } res = { 0 };
	int up[2], down[2], status, fd, ret = 0;
	char nspath[64];
	pid_t child;

	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
		return err_errno(e, "pipe");
	if ((child = fork()) < 0)
		return err_errno(e, "fork");
	if (child == 0) {
		char c;

		close(up[0]);
		close(down[1]);
		res.ret = build_mntns_build(ctx->dir_fd, o, ns, stage_fd(ctx, FD_NAME_HIDDEN), &res.e);
		if (write(up[1], &res, sizeof(res)) != sizeof(res))
			_exit(4);
		/* Alive until pinned: the namespace must not die before. */
		while (read(down[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	if (read(up[0], &res, sizeof(res)) != sizeof(res))
		ret = err_set(e, 4, "the child building mount namespace %u died", ns->id);
	else if (res.ret < 0)
		ret = (*e = res.e, res.ret);
	if (ret >= 0) {
		snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", child);
		fd = open(pin, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			ret = err_errno(e, "create the pin '%s' of mount namespace %u (a rerun removes the old one "
					"first: umount '%s'; rm '%s')", pin, ns->id, pin, pin);
		else if (close(fd), mount(nspath, pin, NULL, MS_BIND, NULL) < 0)
			ret = err_errno(e, "pin mount namespace %u at '%s'", ns->id, pin);
	}
	close(down[1]);
	close(up[0]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
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
	if (ret >= 0 && !in.present) {
		if (stage_fd(ctx, FD_NAME_HIDDEN) >= 0 && (ret = fdpass_send_end(stage_fd(ctx, FD_NAME_HIDDEN), e)) < 0)
			return ret;
		return stream_out_end(&out, e);
	}
	if (ret >= 0 && !ctx->run_dir)
		ret = err_set(e, 2, "the dump has mount namespaces: give --run-dir, where they are pinned");
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
		if (ret >= 0 && (ret = bm_build_and_pin(ctx, o, &in.ns[i], pin, e)) >= 0)
			built++;
		if (ret >= 0) {
			pe.id = in.nse[i]->id;
			pe.pin = pin;
			pe.n_pids = in.nse[i]->n_pids;
			pe.pids = in.nse[i]->pids;
			rec.body_case = STREAM_RECORD__BODY_MNTNS;
			rec.mntns = &pe;
			ret = stream_out_write(&out, &rec, e);
		}
	}
	build_mntns_input_free(&in);
	if (ret >= 0 && stage_fd(ctx, FD_NAME_HIDDEN) >= 0)
		ret = fdpass_send_end(stage_fd(ctx, FD_NAME_HIDDEN), e);
	if (ret < 0) {
		bm_unpin(ctx->run_dir, built);
		return ret;
	}
	return stream_out_end(&out, e);
}

/* --external mnt[NAME]:PATH; other kinds are not ours. */
static int build_mntns_parse_option(void *opts, int opt, const char *arg, struct err *e)
{
	struct build_mntns_opts *o = opts;
	const char *close = strstr(arg, "]:");

	if (opt == 'R') {
		o->root = strdup(arg);
		return 0;
	}
	if (opt != 'X')
		return err_set(e, 2, "unknown option");
	if (strncmp(arg, "mnt[", 4))
		return 0;
	if (!close || close == arg + 4 || !close[2])
		return err_set(e, 2, "--external '%s': want mnt[NAME]:PATH", arg);
	if (o->nr_ext == BM_MAX_EXTERNAL)
		return err_set(e, 2, "--external '%s': at most %d external mounts", arg, BM_MAX_EXTERNAL);
	o->ext[o->nr_ext].name = strndup(arg + 4, close - arg - 4);
	o->ext[o->nr_ext++].path = strdup(close + 2);
	return 0;
}

static const struct option build_mntns_options[] = {
	{ "external", required_argument, NULL, 'X' },
	{ "root", required_argument, NULL, 'R' },
	{ NULL, 0, NULL, 0 },
};

static const struct stage_desc build_mntns_desc = {
	.name = "build-mntns",
	.summary = "Make the dump's mount namespaces (mntns.img) and pin them in RUN/ns/mnt.ID.",
	.usage = "      --external mnt[NAME]:PATH  bind external mount NAME from PATH (repeatable)\n"
		 "      --root PATH                bind each namespace's root mount from PATH",
	.caps = { CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_CHOWN, CAP_FOWNER, CAP_DAC_OVERRIDE, CAP_MKNOD },
	.nr_caps = 6,
	.optional_fds = { FD_NAME_HIDDEN },
	.options = build_mntns_options,
	.parse_option = build_mntns_parse_option,
	.run = build_mntns_run,
};

int main(int argc, char **argv)
{
	static struct build_mntns_opts opts;

	return stage_main(&build_mntns_desc, &opts, argc, argv);
}
