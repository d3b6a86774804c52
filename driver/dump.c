/* dump: the dump pipeline.
 *
 *	seize -> { dump-memory, dump-files -> dump-mounts } -> inventory.img -> release
 *
 * The table at the end (dump_rows) is the pipeline; driver/pipeline.c runs
 * it. seize freezes the tree and stays alive as its tracer; the other three read
 * the stopped tree in parallel. The tree is resumed on any failure (seize
 * resumes it when its control pipe says so or closes), and killed or resumed
 * (--leave-running) only after inventory.img marks the dump complete.
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "driver/dedup.h"
#include "driver/driver.h"
#include "driver/dumpdir.h"
#include "driver/mntns.h"
#include "driver/opts.h"
#include "driver/netlock.h"
#include "driver/tcprepair.h"
#include "driver/pipeline.h"
#include "driver/run.h"
#include "images/image.h"
#include "images/pagechain.h"
#include "images/inventory.pb-c.h"
#include "images/rjournal.h"
#include "images/stream.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "images/memfd.h"
#include "images/remap.h"
#include "ipc/pageserver.h"
#include "lib/tracee.h"
#include "lib/track.h"

static int dump_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* --page-server: the pages files dump-memory sent there (remote_pages records). */
struct dump_remote {
	const char *server;
	char *names[4096];
	int nr;
};

static void dump_take_remote(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct dump_remote *rem = arg;

	if (rec && rec->remote_pages && rem->nr < 4096)
		rem->names[rem->nr++] = strdup(rec->remote_pages->name);
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* Writes inventory.img listing every image in the directory; last, because
 * its presence is what says the dump is complete. */
static int dump_write_inventory(const char *images, int root, bool pidns, const char *netlock, uint64_t parent_id,
				bool pre_dump, const struct dump_remote *rem, uint64_t *bytes,
				struct err *e)
{
	InventoryEntry inv = INVENTORY_ENTRY__INIT;
	_cleanup_closedir_ DIR *d = opendir(images);
	_cleanup_close_ int dfd = -1;
	struct dirent *de;
	char *names[4096];
	int n = 0, ret;
	struct utsname u;
	struct timespec now;

	if (!d)
		return err_errno(e, "list '%s'", images);
	*bytes = 0;
	while ((de = readdir(d)) && n < 4096) {
		struct stat st;

		if (!image_kind_of_file(de->d_name) || !strcmp(de->d_name, "inventory.img"))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			*bytes += st.st_size;
		names[n++] = strdup(de->d_name);
	}
	qsort(names, n, sizeof(names[0]), dump_name_cmp);
	uname(&u);
	clock_gettime(CLOCK_REALTIME, &now);
	inv.format_version = IMAGE_FORMAT_VERSION;
	inv.kernel = u.release;
	inv.root_pid = root;
	if (pidns) {
		inv.has_pid_namespace = true;
		inv.pid_namespace = true;
	}
	inv.n_images = n;
	inv.images = names;
	inv.has_dump_time_ns = true;
	inv.dump_time_ns = now.tv_sec * 1000000000ULL + now.tv_nsec;
	inv.amber_version = AMBER_VERSION;
	inv.has_page_size = inv.has_xstate_size = inv.has_xfeatures = true;
	inv.page_size = getpagesize();
	inv.xstate_size = tracee_xstate_size();
	inv.xfeatures = tracee_xfeatures();
	inv.has_dump_id = true;
	inv.dump_id = image_dump_id();
	inv.netlock_table = (char *)netlock;
	if (parent_id) {
		inv.has_parent_dump_id = true;
		inv.parent_dump_id = parent_id;
	}
	if (pre_dump)
		inv.has_pre_dump = inv.pre_dump = true;
	if (rem && rem->server) {
		inv.page_server = (char *)rem->server;
		inv.n_remote_images = rem->nr;
		inv.remote_images = (char **)rem->names;
	}
	dfd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = dfd < 0 ? err_errno(e, "open '%s'", images) : image_write_one(dfd, "inventory", "inventory.img", &inv.base, e);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return ret;
}

/* A random id for this dump, never 0: every image header carries it, so an
 * image of another dump cannot pass for one of this. */
static int dump_pick_id(uint64_t *id, struct err *e)
{
	do {
		if (getrandom(id, sizeof(*id), 0) != (ssize_t)sizeof(*id))
			return err_errno(e, "pick a dump id (getrandom)");
	} while (!*id);
	return 0;
}

/* The root as the images name it, and whether the tree has its own pid
 * namespace (seize then sends each task's host pid along). */
struct dump_root {
	int pid;
	bool host_pid_seen;
};

static void dump_take_root(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct dump_root *dr = arg;

	if (rec && rec->task && !dr->pid) {
		dr->pid = rec->task->pid;
		dr->host_pid_seen = rec->task->has_host_pid;
	}
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* Removes the link remaps of this dump (remaps.img lists them). */
static void dump_remove_remaps(struct run *r, bool say)
{
	struct err e = { 0 };
	int fd = open(r->images, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;

	if (fd < 0)
		return;
	if (remap_remove_links(fd, &n, &e) < 0)
		pr_warn("could not remove the link remaps of this dump: %s", e.msg);
	else if (n && say)
		pr_info("removed %d link remaps (the tree runs on; --keep-link-remaps keeps them)", n);
	close(fd);
}

/* Removes memfd images: an earlier dump's and their temporary files before
 * the stages run (a memfd is saved only if its images are not there yet,
 * images/memfd.h), or after a failed dump the temporary files a killed stage
 * left. */
static void dump_remove_memfd_images(struct run *r, bool tmp_only)
{
	struct err e = { 0 };
	_cleanup_close_ int fd = open(r->images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || memfd_remove_images(fd, tmp_only, &e) < 0)
		pr_warn("could not remove the memfd images of %s: %s", tmp_only ? "this dump's stages" : "an earlier dump",
			fd < 0 ? strerror(errno) : e.msg);
}

static void dump_usage(void)
{
	printf("usage: amber dump -t PID -D DIR [--force] [--leave-running [--keep-link-remaps]] [--ghost-limit BYTES]\n"
	       "                  [--file-locks] [--tcp-established] [--network-lock MODE] [--shell-job] [--external KEY]... [-v N] [-o LOG]\n"
	       "                  [--union-root BRANCH=UNION]... [--run-dir DIR] [--prev-images-dir PREV]\n"
	       "  -D DIR          the images appear in DIR only once the dump is complete\n"
	       "  --force         replace the dump DIR holds (atomically, once the new one is complete)\n"
	       "  --prev-images-dir PREV  incremental: copy only the pages written since the pre-dump in PREV\n"
	       "  --auto-dedup    with --prev-images-dir: punch the pages this dump copied again out of PREV\n"
	       "  --page-server A:N  send the pages files to 'amber page-server' at A:N instead of writing them\n"
	       "  --external KEY  a descriptor of the tree belongs to the outside; restore gives it back with\n"
	       "                  --inherit-fd. KEY: file[MNT_ID:INODE], tty[RDEV:DEV], unix[INODE], pipe[INODE]\n"
	       "                  (decimal; 0x for hexadecimal); or mnt[MOUNTPOINT]:NAME, a mount restore\n"
	       "                  binds from --external mnt[NAME]:PATH; or veth[IFNAME], a veth of the tree's network\n"
	       "                  namespace whose peer is outside (restore names the peer: veth[IFNAME]:OUTSIDE)\n"
	       "  --shell-job     the tree runs on the shell's terminal: every terminal outside the tree is external\n"
	       "                  (a pty pair whose master the tree holds is restored with it)\n"
	       "  --tcp-established  dump established TCP connections (TCP repair mode: sequence numbers, queues,\n"
	       "                  options), with peers in the tree or outside it (the network lock keeps those)\n"
	       "  --network-lock nftables|skip  keep the tree's connections and listening ports from their peers\n"
	       "                  from the freeze until the restore (nftables, the default), or do without\n"
	       "  --empty-ns net  the tree's network namespace is the caller's: its devices, addresses and routes\n"
	       "                  are not saved, and restore leaves a new one empty for the caller to set up\n"
	       "  --union-root BRANCH=UNION  a path /proc shows under BRANCH (a branch or layer of a union file\n"
	       "                  system) is recorded as the same path under UNION, where restore opens it\n");
}

/* The command's state, shared by the hooks of its table. */
struct dump_state {
	double frozen_at, released_at;
	bool touched;		/* seize's journal records a change to the tree */
	int unseized;		/* 0: not needed; 1: amber-unseize put the tree back; -1: it could not */
	char unseize_error[1024];
	uint64_t bytes;
	struct netlock nl;	/* --network-lock: in place from before dump-files until the restore */
	struct dumpdir dir;	/* the images appear under -D only when complete */
	char run_dir[PATH_MAX];
	char prev[PATH_MAX];	/* --prev-images-dir, resolved */
	uint64_t parent_id;	/* its dump id */
	bool net_locked;	/* the caller was told network-lock (swrk) */
};

static int dump_seize_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	int ret = pl_arg(a, "-t", e);

	if (ret == 0)
		ret = pl_argf(a, e, "%d", c->o->pid);
	/* A pre-dump leaves write tracking behind for the next iteration. */
	if (ret == 0 && c->o->pre_dump && (ret = pl_arg(a, "--track", e)) == 0 && c->o->prev_images &&
	    (ret = pl_arg(a, "--prev-images-dir", e)) == 0)
		ret = pl_arg(a, ((struct dump_state *)c->cmd)->prev, e);
	/* The caller (a container runtime) sets the network namespace up. */
	if (ret == 0 && c->o->empty_net && (ret = pl_arg(a, "--empty-ns", e)) == 0)
		ret = pl_arg(a, "net", e);
	return ret < 0 ? ret : pl_arg_each(a, "--external", c->o->extveth, c->o->nr_extveth, e);
}

/* An incremental dump: the parent iteration's directory. */
static int dump_memory_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	int ret = 0;

	if (c->o->prev_images && (ret = pl_arg(a, "--prev-images-dir", e)) == 0)
		ret = pl_arg(a, ((struct dump_state *)c->cmd)->prev, e);
	/* --page-server: the pages files go there, under -D's final name. */
	if (ret == 0 && c->o->page_server && (ret = pl_arg(a, "--page-server", e)) == 0 &&
	    (ret = pl_arg(a, c->o->page_server, e)) == 0 && (ret = pl_arg(a, "--page-server-dir", e)) == 0) {
		const char *fin = ((struct dump_state *)c->cmd)->dir.final, *sl = strrchr(fin, '/');

		ret = pl_arg(a, sl ? sl + 1 : fin, e);
	}
	/* --union-root: dump-memory maps paths of mapped files too. */
	return ret ? ret : pl_arg_each(a, "--union-root", c->o->union_roots, c->o->nr_union_roots, e);
}

/* The 'parent' link of an incremental dump: relative when the parent is a
 * sibling of -D (so the two can move together), else absolute. */
static int dump_link_parent(struct pl_ctx *c, struct err *e)
{
	const struct dump_state *ds = c->cmd;
	char final[PATH_MAX], target[PATH_MAX + 8], path[PATH_MAX + 16];
	const char *fs, *ps = strrchr(ds->prev, '/');

	snprintf(target, sizeof(target), "%s", ds->prev);
	if (realpath(ds->dir.final, final) && (fs = strrchr(final, '/')) && ps && fs - final == ps - ds->prev &&
	    !strncmp(final, ds->prev, fs - final))
		snprintf(target, sizeof(target), "..%s", ps);
	snprintf(path, sizeof(path), "%s/" PAGECHAIN_LINK, c->r->images);
	if (symlink(target, path) < 0)
		return err_errno(e, "link the parent images directory '%s' as '%s'", ds->prev, path);
	return 0;
}

static int dump_seize_before(struct pl_ctx *c, struct err *e)
{
	((struct dump_state *)c->cmd)->frozen_at = run_now();
	return 0;
}

/* Tells seize what to do with the tree; the runner then waits for it. */
static int dump_seize_release(struct pl_ctx *c, bool ok, struct err *e)
{
	const char *verdict = ok && !c->o->leave_running ? "kill" : "resume";
	int ctl = pl_chan_take(c, FD_NAME_CONTROL);
	char line[32];
	int n = snprintf(line, sizeof(line), "release %s\n", verdict);

	if (ok)
		((struct dump_state *)c->cmd)->released_at = run_now();
	/* A closed control pipe also resumes the tree: only the verdict matters. */
	if (ctl >= 0 && write(ctl, line, n) != n)
		pr_warn("could not tell seize to %s the tree: %m", verdict);
	if (ctl >= 0)
		close(ctl);
	return 0;
}

/* seize ended while it held the tree (it failed, or was killed): whatever it
 * had changed and not put back is in its journal, and amber-unseize puts it
 * back. A seize that ended well put everything back itself. */
static void dump_seize_rollback(struct pl_ctx *c)
{
	struct dump_state *ds = c->cmd;
	const struct run_stage *seize = pl_stage(c, "seize");
	struct rjournal_state js;
	char path[PATH_MAX + 32];
	struct err e = { 0 };
	int fd, ret;

	if (!seize || (seize->exited && WIFEXITED(seize->status) && WEXITSTATUS(seize->status) == 0))
		return;
	snprintf(path, sizeof(path), "%s/%s", c->r->dir, RJOURNAL_NAME);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;
	ret = rjournal_load(fd, path, &js, &e);
	close(fd);
	/* A journal the driver cannot read is unseize's to report. */
	ds->touched = ret < 0 || rjournal_touched(&js);
	if (ret == 0 && !rjournal_pending(&js)) {
		rjournal_state_free(&js);
		return;
	}
	rjournal_state_free(&js);
	if (pl_run_extra(c, "unseize", NULL, &e) == 0) {
		ds->unseized = 1;
		return;
	}
	ds->unseized = -1;
	snprintf(ds->unseize_error, sizeof(ds->unseize_error), "%s", e.msg);
}

/* A memfd is saved only if its images are not there yet (images/memfd.h):
 * an earlier dump's go first. */
static int dump_memory_before(struct pl_ctx *c, struct err *e)
{
	dump_remove_memfd_images(c->r, false);
	/* The tree is frozen: a runtime locks its network now (swrk). */
	((struct dump_state *)c->cmd)->net_locked = true;
	return drv_notify("network-lock", 0, e);
}

/* The temporary files a killed dump-memory left. */
static void dump_memory_rollback(struct pl_ctx *c)
{
	dump_remove_memfd_images(c->r, true);
}

static int dump_files_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	const struct drv_opts *o = c->o;
	int ret = 0;

	/* The tree is killed after the dump: connections waiting in a listening
	 * socket's backlog can be taken. */
	if (!o->leave_running)
		ret = pl_arg(a, "--accept-backlog", e);
	if (ret == 0 && o->file_locks)
		ret = pl_arg(a, "--file-locks", e);
	if (ret == 0 && o->ghost_limit && (ret = pl_arg(a, "--ghost-limit", e)) == 0)
		ret = pl_arg(a, o->ghost_limit, e);
	if (ret == 0 && o->shell_job)
		ret = pl_arg(a, "--shell-job", e);
	/* A killed tree's connections must close in repair mode, silently. */
	if (ret == 0 && o->tcp_established)
		ret = pl_arg(a, o->leave_running ? "--tcp-established" : "--tcp-established=keep-repair", e);
	/* Peers outside the tree are kept from resetting its connections by
	 * the lock (or the user said to do without one). */
	if (ret == 0 && o->tcp_established &&
	    (((struct dump_state *)c->cmd)->nl.locked || o->network_lock == NETLOCK_SKIP))
		ret = pl_arg(a, "--tcp-peer-outside", e);
	if (ret == 0)
		ret = pl_arg_each(a, "--union-root", o->union_roots, o->nr_union_roots, e);
	return ret ? ret : pl_arg_each(a, "--external", o->externals, o->nr_externals, e);
}

/* The network lock goes in before dump-files reads a socket's queues: data a
 * peer sends later is not ACKed by a socket whose state is already saved.
 * The tree is frozen by now (seize has ended its stream). */
static int dump_files_before(struct pl_ctx *c, struct err *e)
{
	struct dump_state *ds = c->cmd;
	bool conns = false;
	int ret;

	if (c->o->network_lock == NETLOCK_SKIP)
		return 0;
	snprintf(ds->nl.table, sizeof(ds->nl.table), "amber-lock-%016llx", (unsigned long long)c->r->dump_id);
	if ((ret = netlock_collect(c->o->pid, &ds->nl, e)) < 0)
		return ret;
	for (int i = 0; i < ds->nl.nr; i++)
		conns |= !ds->nl.conns[i].listen;
	if ((ret = netlock_lock(&ds->nl, e)) == 0 || conns)
		return ret;
	/* Listeners only: a client that connects meanwhile is refused, and
	 * nothing of the tree is lost; so a lock that cannot be had is no
	 * reason to fail the dump. */
	pr_warn("%s; the tree has listening sockets only, so the dump goes on without the lock", e->msg);
	return 0;
}

/* dump-files took back its own link remaps if it failed; if it succeeded,
 * the failure came later and they are the driver's to remove. */
static void dump_files_rollback(struct pl_ctx *c)
{
	dump_remove_remaps(c->r, false);
	mntns_remove_live_remaps(c->r->images, c->o->pid);
	if (c->o->tcp_established)
		tcprepair_leave_tree(c->o->pid);
	/* The tree carries on: its peers may talk to it again. */
	netlock_unlock(&((struct dump_state *)c->cmd)->nl);
}

/* --external mnt[MOUNTPOINT]:NAME options (driver/extmnt.c). */
static int dump_mounts_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	return pl_arg_each(a, "--external", c->o->extmnt.arg, c->o->extmnt.nr, e);
}

/* All three readers are done: inventory.img marks the dump complete. */
static int dump_finish(struct pl_ctx *c, struct err *e)
{
	struct dump_state *ds = c->cmd;
	struct dump_root dr = { 0, false };
	struct dump_remote rem = { .server = c->o->page_server };
	int ret;

	run_find(c->r, STREAM_RECORD__BODY_TASK, dump_take_root, &dr);
	if (c->o->page_server)
		run_find(c->r, STREAM_RECORD__BODY_REMOTE_PAGES, dump_take_remote, &rem);
	if (rem.nr > 1)
		qsort(rem.names, rem.nr, sizeof(rem.names[0]), dump_name_cmp);
	if (c->o->prev_images && (ret = dump_link_parent(c, e)) < 0)
		return ret;
	/* A tree left running is unlocked at once: the restore has nothing to remove. */
	ret = dump_write_inventory(c->r->images, dr.pid ? dr.pid : c->o->pid, dr.host_pid_seen,
				   ds->nl.locked && !c->o->leave_running ? ds->nl.table : NULL, ds->parent_id, c->o->pre_dump,
				   &rem, &ds->bytes, e);
	for (int i = 0; i < rem.nr; i++)
		free(rem.names[i]);
	/* The images are complete, the tree still frozen (swrk). */
	if (ret == 0)
		ret = drv_notify("post-dump", 0, e);
	/* Before the verdict: a tree is only killed once its dump is in place. */
	if (ret == 0 && (ret = dumpdir_commit(&ds->dir, c->r->dir, e)) == 0)
		snprintf(c->r->images, sizeof(c->r->images), "%s", ds->dir.final);
	return ret;
}

/* The last word on the tree, true to what happened to it. */
static void dump_failed(struct pl_ctx *c)
{
	const struct dump_state *ds = c->cmd;
	const struct run_stage *seize = pl_stage(c, "seize");
	char q1[2 * PATH_MAX], q2[2 * PATH_MAX];

	if (ds->unseized < 0)
		drv_error("dump of pid %d failed, and seize ended while it held the process: amber could not put back "
			  "everything it had changed (%s); try again with: %s stage unseize --run-dir %s",
			  c->o->pid, ds->unseize_error, run_quote(c->r->self, q1, sizeof(q1)), run_quote(c->r->dir, q2, sizeof(q2)));
	else if (ds->unseized > 0)
		drv_error("dump of pid %d failed while seize held the process; amber put back what seize had changed, "
			  "and the process was resumed and carries on", c->o->pid);
	else if (ds->touched)
		drv_error("dump of pid %d failed; seize put back what it had changed, and the process was resumed and "
			  "carries on", c->o->pid);
	else if (c->failed == 0 || !seize || (seize->exited && (!WIFEXITED(seize->status) || WEXITSTATUS(seize->status))))
		drv_error("dump of pid %d failed; the process was not touched", c->o->pid);
	else if (c->held_failed < 0)
		drv_error("dump of pid %d failed; the process was resumed and carries on", c->o->pid);
}

static const struct pl_chan dump_chans[] = {
	{ FD_NAME_CONTROL, FD_DEF_CONTROL, true, .end = { "seize", NULL }, .replay = { PL_REPLAY_NONE, PL_REPLAY_NONE },
	  .what = "the driver's verdict for the frozen tree: release kill or release resume" },
};

static const struct pl_row dump_rows[] = {
	{ .stage = "seize", .does = "freeze the tree and stay its tracer until the verdict",
	  .reads = "/proc of the tree", .writes = "TASK records; pstree.img, core-*.img, utsns.img",
	  .more_args = dump_seize_args, .before = dump_seize_before, .wait = PL_STREAM,
	  .release = dump_seize_release, .rollback = dump_seize_rollback, .rollback_stage = "unseize",
	  .rollback_stage_does = "put back what a seize that failed or died left changed in the tree",
	  .rollback_doc = "told 'release resume': the tree carries on; if it failed or died while it held the tree, "
			  "unseize puts back what its journal (RUN/seize.journal) says it changed" },
	{ .stage = "dump-memory", .does = "copy every task's memory",
	  .reads = "TASK records; /proc/PID/mem; with --prev-images-dir PREV/pagemap-*.img, PREV/track.sock",
	  .writes = "mm-*.img, pagemap-*.img, pages-*.img, memfd images",
	  .more_args = dump_memory_args,
	  .before = dump_memory_before, .wait = PL_BESIDE, .rollback = dump_memory_rollback,
	  .rollback_doc = "its temporary memfd images are removed" },
	{ .stage = "dump-files", .does = "describe every fd, cwd and root; make link remaps",
	  .reads = "TASK records; /proc/PID/fd", .writes = "files.img, fdinfo-*.img, fs-*.img, remaps.img, ghost-*.img, pipedata.img",
	  .more_args = dump_files_args, .before = dump_files_before, .wait = PL_EXIT, .rollback = dump_files_rollback,
	  .rollback_doc = "its link remaps are removed, in the tree's mount namespace too; the network lock its "
			  "'before' put in place is removed" },
	{ .stage = "dump-mounts", .does = "save the mount namespaces and their tmpfs contents",
	  .reads = "TASK records; files.img; mountinfo", .writes = "mntns.img, mountpoints-*.img, tmpfs-*.img",
	  .more_args = dump_mounts_args, .wait = PL_EXIT },
};

const struct pipeline pl_dump = {
	.command = "dump",
	.shape = "seize -> { dump-memory, dump-files -> dump-mounts } -> inventory.img -> release",
	.rows = dump_rows, .nr_rows = sizeof(dump_rows) / sizeof(dump_rows[0]),
	.chans = dump_chans, .nr_chans = sizeof(dump_chans) / sizeof(dump_chans[0]),
	.finish = dump_finish, .failed = dump_failed,
};

/* pre-dump: the tree's memory only, and write tracking started, while the
 * tree is stopped only for that; it always carries on. */
static const struct pl_row predump_rows[] = {
	{ .stage = "seize", .does = "freeze the tree; at 'release resume' start write tracking (amber-track holds it)",
	  .reads = "/proc of the tree", .writes = "TASK records; pstree.img, core-*.img",
	  .more_args = dump_seize_args, .before = dump_seize_before, .wait = PL_STREAM,
	  .release = dump_seize_release, .rollback = dump_seize_rollback, .rollback_stage = "unseize",
	  .rollback_stage_does = "put back what a seize that failed or died left changed in the tree",
	  .side_stages = { "track" }, .side_stages_does = { "hold the write tracking between iterations, at DIR/track.sock" },
	  .rollback_doc = "told 'release resume': the tree carries on; if it failed or died while it held the tree, "
			  "unseize puts back what its journal (RUN/seize.journal) says it changed" },
	{ .stage = "dump-memory", .does = "copy every task's memory (with --prev-images-dir only what was written since)",
	  .reads = "TASK records; /proc/PID/mem; PREV/pagemap-*.img, PREV/track.sock",
	  .writes = "mm-*.img, pagemap-*.img, pages-*.img, memfd images",
	  .more_args = dump_memory_args, .before = dump_memory_before, .wait = PL_BESIDE, .rollback = dump_memory_rollback,
	  .rollback_doc = "its temporary memfd images are removed" },
};

const struct pipeline pl_predump = {
	.command = "pre-dump",
	.shape = "seize -> dump-memory -> inventory.img -> release (resume, tracking started)",
	.rows = predump_rows, .nr_rows = sizeof(predump_rows) / sizeof(predump_rows[0]),
	.chans = dump_chans, .nr_chans = sizeof(dump_chans) / sizeof(dump_chans[0]),
	.finish = dump_finish, .failed = dump_failed,
};

static void predump_usage(void)
{
	printf("usage: amber pre-dump -t PID -D DIR [--prev-images-dir PREV] [--force] [--external veth[IF]]... [-v N] [-o LOG]\n"
	       "  copies the memory of the tree of PID into DIR and starts tracking its writes; the tree carries on.\n"
	       "  --prev-images-dir PREV  copy only the pages written since the pre-dump in PREV; DIR refers to PREV\n"
	       "                  for the others (a 'parent' link). Finish with 'amber dump --prev-images-dir DIR'.\n"
	       "  --auto-dedup    punch the pages this pre-dump copied again out of PREV (the chain must not branch)\n"
	       "  --page-server A:N  send the pages files to 'amber page-server' at A:N instead of writing them\n");
}

/* --prev-images-dir: a complete dump, whose id the new one records. */
static int dump_check_prev(const char *prev, struct dump_state *ds, struct err *e)
{
	InventoryEntry *inv = NULL;
	_cleanup_close_ int fd = -1;
	int ret;

	if (!realpath(prev, ds->prev))
		return err_set(e, EXIT_USAGE, "--prev-images-dir '%s': %s", prev, strerror(errno));
	fd = open(ds->prev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EXIT_USAGE, "--prev-images-dir '%s': %s", prev, strerror(errno));
	if ((ret = pagechain_inventory(fd, &inv, &ds->parent_id, e)) < 0) {
		err_wrap(e, "--prev-images-dir '%s' holds no complete dump", prev);
		e->exit_code = EXIT_USAGE;
		return ret;
	}
	inventory_entry__free_unpacked(inv, NULL);
	return 0;
}

static int dump_command(int argc, char **argv, bool pre_dump)
{
	struct drv_opts o;
	struct run r;
	struct err e = { 0 };
	struct dump_state ds;
	double t0 = run_now();
	int ret;

	if ((ret = drv_parse(argc, argv, &o)) != 0) {
		if (ret < 0)
			pre_dump ? predump_usage() : dump_usage();
		return ret < 0 ? 0 : ret;
	}
	log_init("amber", o.verbosity, 2);
	if (!o.pid || !o.images) {
		drv_error("need -t PID and -D DIR");
		pre_dump ? predump_usage() : dump_usage();
		return EXIT_USAGE;
	}
	memset(&ds, 0, sizeof(ds));
	if (pre_dump) {
		o.pre_dump = true;
		o.leave_running = true;
	}
	if (o.auto_dedup && !o.prev_images) {
		drv_error("--auto-dedup needs --prev-images-dir: it punches the parent's pages this dump copies again");
		return EXIT_USAGE;
	}
	if (o.auto_dedup && o.page_server) {
		drv_error("--auto-dedup cannot punch pages sent to a page server: leave it out, and remove superseded "
			  "pages on the page server's side");
		return EXIT_USAGE;
	}
	if (o.page_server) {
		struct sockaddr_storage ss;
		socklen_t sl;

		if (ps_parse_addr(o.page_server, &ss, &sl, &e) < 0) {
			drv_error("--page-server: %s", e.msg);
			return EXIT_USAGE;
		}
	}
	if (o.prev_images && dump_check_prev(o.prev_images, &ds, &e) < 0) {
		drv_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_USAGE;
	}
	/* The images go to a fresh 0700 directory (they hold memory and
	 * secrets) that takes -D's name when complete. */
	if (dumpdir_begin(&ds.dir, o.images, o.force, &e) < 0) {
		drv_error("%s", e.msg);
		dumpdir_abort(&ds.dir);
		dumpdir_release(&ds.dir);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	snprintf(ds.run_dir, sizeof(ds.run_dir), "%s/dump.run", ds.dir.final);
	if ((ret = run_init(&r, "dump", ds.dir.tmp, o.run_dir ? o.run_dir : ds.run_dir, o.verbosity, o.logfile, &e)) < 0) {
		drv_error("%s", e.msg);
		dumpdir_abort(&ds.dir);
		dumpdir_release(&ds.dir);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if (r.log_fd >= 0)
		log_init("amber", o.verbosity, r.log_fd);
	if (dump_pick_id(&r.dump_id, &e) < 0) {
		drv_error("%s", e.msg);
		dumpdir_abort(&ds.dir);
		dumpdir_release(&ds.dir);
		run_free(&r);
		return EXIT_SYSTEM;
	}
	/* The stages get it as --dump-id (run_start); inventory.img and the
	 * remaps.img this driver may read on a rollback are checked with it. */
	image_set_dump_id(r.dump_id);
	pr_debug("dump id %016llx", (unsigned long long)r.dump_id);
	/* SIGPIPE would kill the driver if seize died before reading its verdict. */
	signal(SIGPIPE, SIG_IGN);
	if (drv_notify("pre-dump", 0, &e) < 0) {
		drv_error("dump of pid %d not started: %s", o.pid, e.msg);
		dumpdir_abort(&ds.dir);
		dumpdir_release(&ds.dir);
		run_free(&r);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if (pl_run(pre_dump ? &pl_predump : &pl_dump, &r, &o, &ds, &e) < 0) {
		struct err ignored = { 0 };

		/* The tree was resumed: its network goes with it. */
		if (ds.net_locked)
			drv_notify("network-unlock", 0, &ignored);
		/* Nothing half-written is left where -D points. */
		dumpdir_abort(&ds.dir);
		dumpdir_release(&ds.dir);
		netlock_free(&ds.nl);
		run_free(&r);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	dumpdir_release(&ds.dir);
	/* A killed tree stays locked until its restore; one left running is
	 * unlocked now that it runs again. */
	if (o.leave_running)
		netlock_unlock(&ds.nl);
	else if (ds.nl.locked)
		pr_info("its TCP connections stay locked (nftables table inet %s) until 'amber restore' removes the lock",
			ds.nl.table);
	netlock_free(&ds.nl);
	/* seize starts the write tracking after the verdict, with the tree
	 * still stopped: a pre-dump's frozen time runs until seize ended. */
	if (pre_dump)
		ds.released_at = run_now();
	/* The final dump ends the write tracking of the chain: nothing
	 * follows it (a tree left running would still take its faults). */
	if (!pre_dump && o.prev_images) {
		_cleanup_close_ int pfd = open(ds.prev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int conn = pfd >= 0 ? track_connect(pfd) : -1;

		if (conn >= 0) {
			if (track_quit(conn, &e) == 0)
				pr_info("write tracking of '%s' ended", ds.prev);
			close(conn);
		}
	}
	/* The dump is complete: the parent's superseded pages may go. A
	 * failure leaves the parent whole and the dump as good. */
	if (o.auto_dedup) {
		uint64_t freed = 0;

		if (dedup_parent(r.images, &freed, &e) < 0)
			pr_warn("--auto-dedup: %s", e.msg);
		else
			pr_info("--auto-dedup: %.1f MiB of '%s' punched out", freed / 1048576.0, ds.prev);
	}
	if (o.leave_running && ds.net_locked && drv_notify("network-unlock", 0, &e) < 0)
		pr_warn("the tree was left running, but its network may still be locked: %s", e.msg);
	/* A tree that goes on running has its files open: the remaps are only
	 * kept for a later restore when asked. */
	if (o.leave_running && !o.keep_link_remaps) {
		dump_remove_remaps(&r, true);
		mntns_remove_live_remaps(r.images, o.pid);
	}
	pr_info("%s pid %d to %s: %.1f MiB in %.3f s (frozen %.3f s)%s", pre_dump ? "pre-dumped" : "dumped", o.pid, r.images,
		ds.bytes / 1048576.0, run_now() - t0, ds.released_at - ds.frozen_at,
		o.leave_running ? ", left running" : "");
	run_free(&r);
	return EXIT_OK;
}

int cmd_dump(int argc, char **argv)
{
	return dump_command(argc, argv, false);
}

int cmd_predump(int argc, char **argv)
{
	return dump_command(argc, argv, true);
}
