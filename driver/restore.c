/* restore: the restore pipeline.
 *
 *	collect-pstree -> collect-remaps -> build-mntns -> restore-files -> restore-tasks
 *
 * build-mntns makes the mount namespaces the tree had (none for a tree in
 * the dumper's own) and pins them in RUN/ns; the pins are unmounted when
 * the restore ends, worked or not: the restored tasks keep them alive.
 * The table at the end (restore_rows) is the pipeline; driver/pipeline.c
 * runs it. restore-files opens the files, writes its plan, and sends the files to
 * restore-tasks (started as soon as the plan is complete, so the two run
 * side by side) over a
 * socketpair the driver made. restore-tasks leaves the restored root as its
 * child; the driver is a child subreaper, so when the stage exits the root
 * becomes the driver's child and, without -d, the driver waits for it and
 * returns its exit status as its own.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/delayed.h"
#include "driver/driver.h"
#include "images/pagechain.h"
#include "driver/dumpdir.h"
#include "driver/mntns.h"
#include "driver/netlock.h"
#include "driver/opts.h"
#include "driver/pipeline.h"
#include "driver/run.h"
#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/stream.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "images/remap.h"
#include "lib/proc.h"

struct restore_pids {
	int root;	/* the restored root, as the driver sees it */
	int waitable;	/* what the driver waits for: the root, or amber's init of a new pid namespace */
};

static void restore_take_root(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct restore_pids *rp = arg;

	if (rec && rec->restored && rec->restored->root)
		rp->root = rec->restored->pid;
	if (rec && rec->restored && rec->restored->ns_init)
		rp->waitable = rec->restored->pid;
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* Says where a pty pair of the tree is now (restore-files' pty_moved). */
static void restore_say_pty(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);

	if (rec && rec->pty_moved && rec->pty_moved->console)
		pr_info("the tree's terminal (/dev/pts/%u at dump, outside the tree) is now /dev/pts/%u; its master was "
			"sent to --console-socket", rec->pty_moved->dumped, rec->pty_moved->now);
	else if (rec && rec->pty_moved)
		pr_info("pty /dev/pts/%u of the dump%s is now /dev/pts/%u", rec->pty_moved->dumped,
			rec->pty_moved->has_devpts ? " (on the tree's own devpts, made again)" : "", rec->pty_moved->now);
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

static void restore_usage(void)
{
	printf("usage: amber restore -D DIR [-d] [--pidfile FILE] [--pidns] [--shell-job] [--inherit-fd fd[N]:KEY]...\n"
	       "                     [--console-socket PATH]\n"
	       "                     [--external mnt[NAME]:PATH]... [--external veth[IF]:OUTSIDE]... [--root PATH] [--tcp-close] [--empty-ns net] [-v N] [-o LOG]\n"
	       "                     [--run-dir DIR]\n"
	       "  -d              leave the restored tree running and return at once\n"
	       "  --pidfile FILE  write the restored root's pid to FILE\n"
	       "  --pidns         restore into a new pid namespace, where every task keeps its pid\n"
	       "  --allow-changed-files  restore onto files whose size changed since the dump, and unix\n"
	       "                         sockets' paths in directories that are not the dump's, and overlays\n"
	       "                         whose upper layer changed\n"
	       "  --inherit-fd fd[N]:KEY  amber's fd N stands for KEY in the tree: file[MNT_ID:INODE], tty[RDEV:DEV],\n"
	       "                  socket:[INODE], pipe:[INODE] (as amber show DIR lists them) or a path\n"
	       "  --shell-job     the tree's terminal is the one amber runs on\n"
	       "  --console-socket PATH  the tree's terminal (dumped with --external tty[...]) is a new pty pair\n"
	       "                  whose master goes to the unix socket PATH (SCM_RIGHTS, as runc's)\n"
	       "  --external mnt[NAME]:PATH  bind the dump's external mount NAME from PATH\n"
	       "  --external veth[IFNAME]:OUTSIDE  make the peer of the tree's veth IFNAME here, named OUTSIDE\n"
	       "  --root PATH     the root of the tree's mount namespace is PATH, not what it was at dump\n"
	       "  --allow-untrusted-dir  restore from a directory another user owns or others can write\n"
	       "  --verify=MODE   check the restored tree against the images before it runs: fail (the\n"
	       "                  default: a difference removes the tree), warn (print them, let it run),\n"
	       "                  pages (fail, and compare every restored page too), off\n"
	       "  --no-verify     the same as --verify=off\n"
	       "  --delay-mount mnt[MOUNTPOINT]  put a stub at MOUNTPOINT of the tree's mount namespace (and its binds)\n"
	       "                  and run the tree on it until 'amber mount-delayed --mount' mounts the real one\n"
	       "  --tcp-close     restore the established TCP connections of the dump closed (the process sees\n"
	       "                  ECONNABORTED on them)\n"
	       "  --empty-ns net  leave the tree's new network namespace empty, for the caller to set up\n"

	       "  --lazy-pages    start the tree before its private anonymous memory is in: amber-lazy-pages\n"
	       "                  serves it on fault and pushes the rest (the tree is killed if it cannot)\n"
	       "  --lazy-push-rate MIB  the background push of --lazy-pages, in MiB/s (default: no limit)\n");
}

/* The terminal amber runs on, for --shell-job: its stdio's, else /dev/tty. */
static int restore_find_tty(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (isatty(fd))
			return fd;
	return open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
}

/* Waits for the restored root and turns its end into our exit status. */
static int restore_wait_root(pid_t root)
{
	int status;

	for (;;) {
		pid_t got = waitpid(-1, &status, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			drv_error("lost track of restored pid %d: %s", root, strerror(errno));
			return EXIT_SYSTEM;
		}
		/* Orphans of the restored tree are ours to reap too. */
		if (got != root)
			continue;
		if (WIFEXITED(status))
			return WEXITSTATUS(status);
		return 128 + WTERMSIG(status);
	}
}

/* After a failed restore, every stage has been reaped, so any child left is
 * a task restore-tasks made whose parent died before it (the driver is a
 * child subreaper): it is killed, and reaped with the rest, for at most
 * RESTORE_REAP_TIMEOUT seconds. Never a blocking wait on one pid: a thread
 * group leader is reported only once its threads are gone. */
#define RESTORE_REAP_TIMEOUT 10

static void restore_reap_orphans(void)
{
	double until = run_now() + RESTORE_REAP_TIMEOUT;
	struct err ignored;
	pid_t *kids = NULL;
	int nr = 0;

	if (proc_read_children(getpid(), getpid(), &kids, &nr, &ignored) == 0)
		for (int i = 0; i < nr; i++)
			kill(kids[i], SIGKILL);
	free(kids);
	for (;;) {
		pid_t got = waitpid(-1, NULL, __WALL | WNOHANG);

		if (got > 0 || (got < 0 && errno == EINTR))
			continue;
		if (got < 0)
			return;
		if (run_now() > until) {
			pr_warn("restored tasks still not gone %d s after the failed restore", RESTORE_REAP_TIMEOUT);
			return;
		}
		usleep(1000);
	}
}

/* The command's state, shared by the hooks of its table. */
struct restore_state {
	int shell_tty;		/* --shell-job: the terminal amber runs on */
	struct restore_pids rp;
	pid_t mountd;		/* amber-mountd, serving the stubs of delayed mounts, or 0 */
};

static int restore_pidns_arg(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	return c->o->pidns ? pl_arg(a, "--pidns", e) : 0;
}

static int restore_mntns_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	int ret = pl_arg_each(a, "--external", c->o->extmnt.arg, c->o->extmnt.nr, e);

	if (ret == 0 && c->o->root && (ret = pl_arg(a, "--root", e)) == 0)
		ret = pl_arg(a, c->o->root, e);
	if (ret == 0 && c->o->allow_changed)
		ret = pl_arg(a, "--allow-changed-files", e);
	if (ret == 0)
		ret = pl_arg_each(a, "--delay-mount", c->o->delay_mounts, c->o->nr_delay_mounts, e);
	return ret;
}

/* The namespaces build-mntns pinned: the restored tasks keep them alive. */
static void restore_mntns_rollback(struct pl_ctx *c)
{
	struct restore_state *rs = c->cmd;

	delayed_stop(c->r->dir, rs->mountd);
	rs->mountd = 0;
	mntns_unpin(c->r->dir);
}

/* The stubs build-mntns made are served before restore-files makes the
 * tree's files on them. */
static int restore_files_before(struct pl_ctx *c, struct err *e)
{
	return delayed_start(c, &((struct restore_state *)c->cmd)->mountd, e);
}

static int restore_files_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	const struct drv_opts *o = c->o;
	int ret = o->allow_changed ? pl_arg(a, "--allow-changed-files", e) : 0;

	if (ret == 0 && o->tcp_close)
		ret = pl_arg(a, "--tcp-close", e);

	/* Each --inherit-fd fd[N]:KEY becomes the stage's fd[20+i]:KEY. */
	for (int i = 0; ret == 0 && i < o->nr_inherits; i++) {
		if ((ret = pl_fd(a, NULL, o->inherits[i].fd, FD_FIRST_INHERIT + i, e)) == 0 &&
		    (ret = pl_arg(a, "--inherit-fd", e)) == 0)
			ret = pl_argf(a, e, "fd[%d]:%s", FD_FIRST_INHERIT + i, strchr(o->inherits[i].arg, ':') + 1);
	}
	if (ret == 0 && o->shell_job && (ret = pl_fd(a, FD_NAME_TTY, ((struct restore_state *)c->cmd)->shell_tty, FD_DEF_TTY, e)) == 0)
		ret = pl_arg(a, "--shell-job", e);
	if (ret == 0 && o->console_socket && (ret = pl_arg(a, "--console-socket", e)) == 0)
		ret = pl_arg(a, o->console_socket, e);
	return ret;
}

/* Removes one file restore-files made (a made_file record) if the path is
 * still that socket: nothing else there is touched. */
static void restore_unmake_file(const uint8_t *data, uint32_t len, void *arg)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	struct stat st;

	if (rec && rec->made_file && lstat(rec->made_file->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    (uint64_t)st.st_dev == rec->made_file->dev && (uint64_t)st.st_ino == rec->made_file->ino &&
	    unlink(rec->made_file->path) == 0)
		pr_info("removed socket file '%s', which the failed restore made", rec->made_file->path);
	if (rec)
		stream_record__free_unpacked(rec, NULL);
}

/* A failed restore leaves no file it made behind. */
static void restore_files_rollback(struct pl_ctx *c)
{
	run_find(c->r, STREAM_RECORD__BODY_MADE_FILE, restore_unmake_file, NULL);
}

/* From restore-tasks on, the stubs hold every request for data: nothing
 * of the restore reads them (a private writable mapping of a file on one
 * is refused by restore-files), and the tree never gets an answer the
 * real file system would not give. */
static int restore_tasks_before(struct pl_ctx *c, struct err *e)
{
	return ((struct restore_state *)c->cmd)->mountd ? delayed_run(c->r->dir, 0, e) : 0;
}

/* With --shell-job, the terminal: a job gets it as its foreground. */
static int restore_tasks_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	int ret = restore_pidns_arg(c, a, e);

	if (ret == 0)
		ret = pl_arg_each(a, "--external", c->o->extveth, c->o->nr_extveth, e);
	if (ret == 0 && c->o->empty_net && (ret = pl_arg(a, "--empty-ns", e)) == 0)
		ret = pl_arg(a, "net", e);
	if (ret == 0 && c->o->lazy_pages)
		ret = pl_arg(a, "--lazy-pages", e);
	if (ret == 0 && c->o->lazy_push_rate && (ret = pl_arg(a, "--lazy-push-rate", e)) == 0)
		ret = pl_arg(a, c->o->lazy_push_rate, e);
	if (ret == 0 && c->o->shell_job)
		ret = pl_fd(a, FD_NAME_TTY, ((struct restore_state *)c->cmd)->shell_tty, FD_DEF_TTY, e);
	return ret;
}

/* --no-verify: restore-tasks then lets the tree run unchecked. */
static bool restore_verify_skip(const struct pl_ctx *c)
{
	return c->o->verify == DRV_VERIFY_OFF;
}

static int restore_verify_args(struct pl_ctx *c, struct pl_args *a, struct err *e)
{
	int ret = c->o->verify == DRV_VERIFY_WARN ? pl_arg(a, "--warn", e) : 0;

	if (ret == 0 && c->o->verify_pages)
		ret = pl_arg(a, "--pages", e);
	if (ret == 0 && c->o->allow_changed)
		ret = pl_arg(a, "--allow-changed-files", e);
	return ret;
}

static int restore_finish(struct pl_ctx *c, struct err *e)
{
	struct restore_state *rs = c->cmd;

	run_find(c->r, STREAM_RECORD__BODY_RESTORED, restore_take_root, &rs->rp);
	run_find(c->r, STREAM_RECORD__BODY_PTY_MOVED, restore_say_pty, NULL);
	return rs->rp.root ? 0 : err_proto(e, "restore-tasks reported no restored root");
}

static void restore_failed(struct pl_ctx *c)
{
	drv_error("restore from %s failed; nothing was left running", c->r->images);
}

static const struct pl_chan restore_chans[] = {
	{ FD_NAME_HIDDEN, FD_DEF_HIDDEN, false, .end = { "build-mntns", "restore-files" },
	  .replay = { PL_REPLAY_NONE, PL_REPLAY_NONE },
	  .what = "directory fds of files under overmounts, taken before the overmount" },
	{ FD_NAME_STUBS, FD_DEF_STUBS, false, .end = { "build-mntns", NULL },
	  .replay = { PL_REPLAY_DRAIN, PL_REPLAY_NONE },
	  .what = "the /dev/fuse fd of each stub on a delayed mount (--delay-mount), for amber-mountd" },
	{ FD_NAME_FILES, FD_DEF_FILES, false, .end = { "restore-files", "restore-tasks" },
	  .replay = { PL_REPLAY_DRAIN, PL_REPLAY_PRODUCER }, .what = "the opened files, by file id" },
	{ FD_NAME_VERIFY, FD_DEF_VERIFY, false, true, .end = { "verify", "restore-tasks" },
	  .replay = { PL_REPLAY_NONE, PL_REPLAY_NONE },
	  .what = "the made tree's tasks to verify, and the verdict that lets them run" },
};

static const struct pl_row restore_rows[] = {
	{ .stage = "collect-pstree", .does = "check the dump is complete and the pids are free",
	  .reads = "inventory.img, pstree.img, core-*.img", .writes = "TASK records",
	  .more_args = restore_pidns_arg, .wait = PL_EXIT },
	{ .stage = "collect-remaps", .does = "find the link remaps and ghost files of the files",
	  .reads = "files.img, remaps.img", .writes = "REMAP records", .wait = PL_EXIT },
	{ .stage = "build-mntns", .does = "make the tree's mount namespaces and pin them in RUN/ns",
	  .reads = "TASK records; mntns.img, mountpoints-*.img, tmpfs-*.img", .writes = "MNTNS records; RUN/ns pins",
	  .more_args = restore_mntns_args, .wait = PL_EXIT, .rollback = restore_mntns_rollback,
	  .rollback_doc = "its pins are unmounted (done after a restore too)" },
	{ .stage = "restore-files", .does = "open every file, pipe and socket; write the plan",
	  .reads = "TASK, REMAP, MNTNS records; files.img, fdinfo-*.img, fs-*.img", .writes = "FD_PLAN, FS_PLAN, EPOLL_ADD records",
	  .opt_fds = "tty (--shell-job), 20 and up (--inherit-fd)",
	  .more_args = restore_files_args, .before = restore_files_before, .wait = PL_STREAM,
	  .rollback = restore_files_rollback,
	  .side_stages = { "mountd", "stubfs" },
	  .side_stages_does = { "with --delay-mount: serve the stubs and swap the real mounts in (amber mount-delayed); "
				"outlives the restore",
				"the stubs' FUSE server, started by amber-mountd" },
	  .rollback_doc = "the socket files it bound at paths are removed (if still the same files)" },
	{ .stage = "verify", .does = "compare the made tree with the images before it runs (started here, works last)",
	  .reads = "the verify socket's TASK records; core-*.img, mm-*.img, fdinfo-*.img, files.img, fs-*.img, pagemap-*.img, pages-*.img",
	  .writes = "the verdict, on the verify socket", .opt_fds = "verify (the socket)",
	  .more_args = restore_verify_args, .skip = restore_verify_skip, .skip_doc = "--no-verify, --verify=off",
	  .wait = PL_BESIDE },
	{ .stage = "restore-tasks", .does = "fork the tree, install the files, memory and registers",
	  .reads = "every record so far; core-*.img, mm-*.img, pagemap-*.img, pages-*.img", .writes = "RESTORED records",
	  .opt_fds = "tty (--shell-job)", .more_args = restore_tasks_args, .before = restore_tasks_before,
	  .wait = PL_EXIT, .side_stages = { "lazy-pages" },
	  .side_stages_does = { "with --lazy-pages: serve the tree's private memory on fault and push the rest; "
				"kill the tree if it cannot (log: RUN/lazy-pages.log)" } },
};

const struct pipeline pl_restore = {
	.command = "restore",
	.shape = "collect-pstree -> collect-remaps -> build-mntns -> restore-files -> restore-tasks -> verify",
	.rows = restore_rows, .nr_rows = sizeof(restore_rows) / sizeof(restore_rows[0]),
	.chans = restore_chans, .nr_chans = sizeof(restore_chans) / sizeof(restore_chans[0]),
	.finish = restore_finish, .failed = restore_failed,
};

/* The network lock the dump left (inventory.img names its table) goes once
 * the tree runs again; after a failed restore it stays, so that peers
 * still see no reset when the restore is tried again. */
static void restore_netlock(const char *images, bool ok)
{
	InventoryEntry *inv = NULL;
	struct err e = { 0 };
	int fd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || image_read_one(fd, "inventory", "inventory.img", (ProtobufCMessage **)&inv, &e) < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	if (inv->netlock_table && ok) {
		if (netlock_unlock_table(inv->netlock_table, &e) < 0)
			pr_warn("%s; remove it with: nft delete table inet %s", e.msg, inv->netlock_table);
		else
			pr_info("network lock removed (nftables table inet %s)", inv->netlock_table);
	} else if (inv->netlock_table) {
		pr_info("the network lock stays (nftables table inet %s), so that peers see no reset when the restore is "
			"tried again; 'nft delete table inet %s' removes it", inv->netlock_table, inv->netlock_table);
	}
	inventory_entry__free_unpacked(inv, NULL);
}

/* --page-server: the pages files a dump sent to a page server must have
 * been brought into its directory (else restore-tasks would miss them). */
static int restore_check_remote(int fd, const char *what, const InventoryEntry *inv, struct err *e)
{
	for (size_t i = 0; i < inv->n_remote_images; i++) {
		struct stat st;

		if (fstatat(fd, inv->remote_images[i], &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			continue;
		return err_input(e, "%s lacks '%s', which its dump sent to the page server at %s: copy the server's "
				 "DIR/NAME/%s (NAME: this dump directory's name) into it first", what,
				 inv->remote_images[i], inv->page_server ? inv->page_server : "?", inv->remote_images[i]);
	}
	return 0;
}

/* A pre-dump is not restorable; an incremental dump needs every parent
 * its chain names, each the dump it was made against: checked before any
 * stage runs (restore-tasks checks each link again as it reads pages). */
static int restore_check_chain(const char *images, struct err *e)
{
	_cleanup_close_ int fd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	InventoryEntry *inv = NULL;
	uint64_t id;
	int ret, depth = 0;

	if (fd < 0)
		return 0;	/* run_init and the stages say what is wrong */
	if (pagechain_inventory(fd, &inv, &id, e) < 0)
		return 0;
	if (inv->has_pre_dump && inv->pre_dump) {
		inventory_entry__free_unpacked(inv, NULL);
		return err_input(e, "'%s' is a pre-dump (memory only, the tree ran on): restore the dump made with "
				 "'amber dump --prev-images-dir %s' instead", images, images);
	}
	while (inv) {
		char what[PATH_MAX + 64];
		int pfd;

		if (depth)
			snprintf(what, sizeof(what), "parent %d of '%s'", depth, images);
		else
			snprintf(what, sizeof(what), "'%s'", images);
		ret = restore_check_remote(fd, what, inv, e);
		if (ret == 0)
			ret = pagechain_open_parent(fd, what, inv, &pfd, e);
		inventory_entry__free_unpacked(inv, NULL);
		inv = NULL;
		if (ret < 0)
			return ret;
		if (pfd < 0)
			break;
		close(fd);
		fd = pfd;
		if (++depth > PAGECHAIN_MAX)
			return err_input(e, "the chain of parents of '%s' is longer than %d", images, PAGECHAIN_MAX);
		if ((ret = pagechain_inventory(fd, &inv, &id, e)) < 0)
			return err_wrap(e, "parent %d of '%s'", depth, images);
	}
	return 0;
}

/* The notifications of a runtime (swrk) once the tree is made. They come
 * after verify let the tree run: amber has no stop between making the
 * namespaces and resuming the tasks where a caller could act. */
static int restore_notify_after(int root, struct err *e)
{
	static const char *const after[] = {
		"setup-namespaces", "post-setup-namespaces", "post-restore", "network-unlock", "pre-resume", "post-resume",
	};
	int ret = 0;

	for (size_t i = 0; ret == 0 && i < sizeof(after) / sizeof(after[0]); i++)
		ret = drv_notify(after[i], root, e);
	return ret;
}

int cmd_restore(int argc, char **argv)
{
	struct drv_opts o;
	struct run r;
	struct err e = { 0 };
	struct restore_state rs = { -1, { 0, 0 }, 0 };
	double t0 = run_now();
	int ret, lock;

	if ((ret = drv_parse(argc, argv, &o)) != 0) {
		if (ret < 0)
			restore_usage();
		return ret < 0 ? 0 : ret;
	}
	log_init("amber", o.verbosity, 2);
	if (o.shell_job && (rs.shell_tty = restore_find_tty()) < 0) {
		drv_error("--shell-job gives the tree the terminal amber runs on, "
			  "but none of its stdin, stdout and stderr is a terminal and it has no /dev/tty");
		return EXIT_USAGE;
	}
	if (!o.images) {
		drv_error("need -D DIR");
		restore_usage();
		return EXIT_USAGE;
	}
	/* One restore of a dump at a time, and none while it is being dumped. */
	if ((lock = dumpdir_lock(o.images, "restore", &e)) < 0) {
		drv_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if (!o.allow_untrusted && dumpdir_check_trusted(lock, o.images, &e) < 0) {
		drv_error("%s", e.msg);
		close(lock);
		return e.exit_code;
	}
	if (o.lazy_pages && o.verify_pages) {
		drv_error("--verify=pages reads every page, which --lazy-pages has not put in yet: use one or the other");
		close(lock);
		return EXIT_USAGE;
	}
	if (restore_check_chain(o.images, &e) < 0) {
		drv_error("%s", e.msg);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_INPUT;
	}
	if ((ret = run_init(&r, "restore", o.images, o.run_dir, o.verbosity, o.logfile, &e)) < 0) {
		drv_error("%s", e.msg);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	/* Pins a killed restore left would be in the way; none is running (the lock). */
	mntns_unpin(r.dir);
	if (r.log_fd >= 0)
		log_init("amber", o.verbosity, r.log_fd);
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		pr_warn("cannot become a child subreaper (%m): the restored root will be init's child");
	if (drv_notify("pre-restore", 0, &e) < 0) {
		drv_error("restore from %s not started: %s", r.images, e.msg);
		run_free(&r);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if (pl_run(&pl_restore, &r, &o, &rs, &e) < 0) {
		restore_netlock(r.images, false);
		restore_reap_orphans();
		run_free(&r);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	restore_netlock(r.images, true);
	/* From now on the stubs hold what the tree asks of them. */
	if (rs.mountd && delayed_run(r.dir, rs.rp.root, &e) < 0)
		pr_warn("%s: the stubs of the delayed mounts do not hold the tree's requests", e.msg);
	/* Remaps inside the tree's namespaces go the same way, in them. */
	mntns_remove_remaps(&r);
	mntns_unpin(r.dir);
	{
		/* The restored files are open again: the link remaps that led to
		 * them go, and the files are unlinked as they were. Only now, so a
		 * failed restore can be tried again. */
		int fd = open(r.images, O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;

		if (fd >= 0 && remap_remove_links(fd, &n, &e) < 0)
			pr_warn("could not remove the link remaps: %s", e.msg);
		if (fd >= 0)
			close(fd);
	}
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "w");

		if (!f || fprintf(f, "%d\n", rs.rp.root) < 0 || fclose(f) != 0)
			pr_warn("could not write the pid file '%s': %m", o.pidfile);
	}
	if (restore_notify_after(rs.rp.root, &e) < 0) {
		drv_error("restored pid %d from %s, but %s; the restored tree was killed", rs.rp.root, r.images, e.msg);
		restore_reap_orphans();
		run_free(&r);
		close(lock);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	drv_set_restored_pid(rs.rp.root);
	pr_info("restored pid %d from %s in %.3f s", rs.rp.root, r.images, run_now() - t0);
	run_free(&r);
	close(lock);
	if (o.detach)
		return EXIT_OK;
	return restore_wait_root(rs.rp.waitable ? rs.rp.waitable : rs.rp.root);
}
