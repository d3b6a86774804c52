/* restore: the restore pipeline.
 *
 *	collect-pstree -> collect-remaps -> build-mntns -> restore-files -> restore-tasks
 *
 * build-mntns makes the mount namespaces the tree had (none for a tree in
 * the dumper's own) and pins them in RUN/ns; the pins are unmounted when
 * the restore ends, worked or not: the restored tasks keep them alive.
 * restore-files opens the files, writes its plan, and sends the files to
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
#include <sys/wait.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/mntns.h"
#include "driver/opts.h"
#include "driver/run.h"
#include "images/stream.pb-c.h"
#include "ipc/exitcodes.h"
#include "ipc/fds.h"
#include "lib/log.h"
#include "lib/remap.h"

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

static void restore_usage(void)
{
	printf("usage: amber restore -D DIR [-d] [--pidfile FILE] [--pidns] [--shell-job] [--inherit-fd fd[N]:KEY]...\n"
	       "                     [--external mnt[NAME]:PATH]... [--root PATH] [-v N] [-o LOG] [--run-dir DIR]\n"
	       "  -d              leave the restored tree running and return at once\n"
	       "  --pidfile FILE  write the restored root's pid to FILE\n"
	       "  --pidns         restore into a new pid namespace, where every task keeps its pid\n"
	       "  --allow-changed-files  restore onto files whose size changed since the dump\n"
	       "  --inherit-fd fd[N]:KEY  amber's fd N stands for KEY in the tree: file[MNT_ID:INODE], tty[RDEV:DEV],\n"
	       "                  socket:[INODE], pipe:[INODE] (as amber show DIR lists them) or a path\n"
	       "  --shell-job     the tree's terminal is the one amber runs on\n"
	       "  --external mnt[NAME]:PATH  bind the dump's external mount NAME from PATH\n"
	       "  --root PATH     the root of the tree's mount namespace is PATH, not what it was at dump\n");
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
			pr_err("lost track of restored pid %d: %m", root);
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

int cmd_restore(int argc, char **argv)
{
	struct drv_opts o;
	struct run r;
	struct run_stage pstree, remaps, mntns, files, tasks;
	struct run_stage *all[5] = { &pstree, &remaps, &mntns, &files, &tasks };
	struct err e = { 0 };
	struct run_stage *cur = NULL;
	int sock[2] = { -1, -1 }, hidden[2] = { -1, -1 }, ret;
	struct restore_pids rp = { 0, 0 };
	const char *tasks_args[] = { NULL, NULL };
	int shell_tty = -1;
	double t0 = run_now();

	if ((ret = drv_parse(argc, argv, "Dovd", &o)) != 0) {
		if (ret < 0)
			restore_usage();
		return ret < 0 ? 0 : ret;
	}
	log_init("amber", o.verbosity, 2);
	if (o.pidns)
		tasks_args[0] = "--pidns";
	if (o.shell_job && (shell_tty = restore_find_tty()) < 0) {
		fprintf(stderr, "amber restore: --shell-job gives the tree the terminal amber runs on, "
			"but none of its stdin, stdout and stderr is a terminal and it has no /dev/tty\n");
		return EXIT_USAGE;
	}
	if (!o.images) {
		fprintf(stderr, "amber restore: need -D DIR\n");
		restore_usage();
		return EXIT_USAGE;
	}
	if ((ret = run_init(&r, "restore", o.images, o.run_dir, o.verbosity, o.logfile, &e)) < 0) {
		pr_err("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if (r.log_fd >= 0)
		log_init("amber", o.verbosity, r.log_fd);
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		pr_warn("cannot become a child subreaper (%m): the restored root will be init's child");

	cur = &pstree;
	ret = run_start(&r, &pstree, "collect-pstree", tasks_args, NULL, 0, &e);
	if (ret == 0)
		ret = run_wait(&r, all, 1, &pstree, false, &e);
	if (ret == 0) {
		cur = &remaps;
		ret = run_start(&r, &remaps, "collect-remaps", NULL, NULL, 0, &e);
		if (ret == 0)
			ret = run_wait(&r, all + 1, 1, &remaps, false, &e);
	}
	/* Directory fds of files under overmounts wait in this socket from
	 * build-mntns until restore-files takes them. */
	if (ret == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, hidden) < 0)
		ret = err_errno(&e, "socketpair for the hidden files socket");
	if (ret == 0) {
		const char *mntns_args[2 * EXTMNT_MAX + 3] = { NULL };
		struct run_fd fd = { FD_NAME_HIDDEN, hidden[0], FD_DEF_HIDDEN };
		int na = extmnt_args(&o.extmnt, mntns_args, 0);

		cur = &mntns;
		if (o.root) {
			mntns_args[na++] = "--root";
			mntns_args[na++] = o.root;
		}
		ret = run_start(&r, &mntns, "build-mntns", mntns_args, &fd, 1, &e);
		if (ret == 0)
			ret = run_wait(&r, all + 2, 1, &mntns, false, &e);
	}
	if (hidden[0] >= 0)
		close(hidden[0]);
	if (ret == 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
		ret = err_errno(&e, "socketpair for the files socket");
	if (ret == 0) {
		struct run_fd fds[3 + DRV_MAX_INHERITS] = { { FD_NAME_FILES, sock[0], FD_DEF_FILES },
							     { FD_NAME_HIDDEN, hidden[1], FD_DEF_HIDDEN } };
		const char *files_args[3 + 2 * DRV_MAX_INHERITS] = { NULL };
		char inherit_args[DRV_MAX_INHERITS][64 + 4096];
		int nr_fds = 2, na = 0;

		cur = &files;
		if (o.allow_changed)
			files_args[na++] = "--allow-changed-files";
		/* Each --inherit-fd fd[N]:KEY becomes the stage's fd[20+i]:KEY. */
		for (int i = 0; i < o.nr_inherits; i++) {
			snprintf(inherit_args[i], sizeof(inherit_args[i]), "fd[%d]:%s", FD_FIRST_INHERIT + i,
				 strchr(o.inherits[i].arg, ':') + 1);
			fds[nr_fds++] = (struct run_fd){ NULL, o.inherits[i].fd, FD_FIRST_INHERIT + i };
			files_args[na++] = "--inherit-fd";
			files_args[na++] = inherit_args[i];
		}
		if (o.shell_job) {
			fds[nr_fds++] = (struct run_fd){ FD_NAME_TTY, shell_tty, FD_DEF_TTY };
			files_args[na++] = "--shell-job";
		}
		ret = run_start(&r, &files, "restore-files", files_args, fds, nr_fds, &e);
		close(sock[0]);
		/* Its plan is complete when its stream ends; the files follow on
		 * the socket while restore-tasks takes them. */
		if (ret == 0)
			ret = run_wait(&r, all + 3, 1, &files, true, &e);
	}
	if (ret == 0) {
		/* With --shell-job, the terminal too: a job gets it as its foreground. */
		struct run_fd fds[2] = { { FD_NAME_FILES, sock[1], FD_DEF_FILES }, { FD_NAME_TTY, shell_tty, FD_DEF_TTY } };
		struct run_stage *both[2] = { &files, &tasks };

		ret = run_start(&r, &tasks, "restore-tasks", tasks_args, fds, o.shell_job ? 2 : 1, &e);
		close(sock[1]);
		sock[1] = -1;
		if (ret == 0) {
			cur = &tasks;
			ret = run_wait(&r, both, 2, &tasks, false, &e);
		}
		if (ret == 0) {
			cur = &files;
			ret = run_wait(&r, both, 2, &files, false, &e);
		}
		if (ret < 0) {
			/* Whichever failed, neither goes on. */
			if (files.exited && (!WIFEXITED(files.status) || WEXITSTATUS(files.status)))
				cur = &files;
			run_kill(&files);
			run_kill(&tasks);
		}
	}
	if (sock[1] >= 0)
		close(sock[1]);
	if (hidden[1] >= 0)
		close(hidden[1]);
	if (ret == 0 && (run_find(&r, STREAM_RECORD__BODY_RESTORED, restore_take_root, &rp), !rp.root))
		ret = err_proto(&e, "restore-tasks reported no restored root");
	if (ret < 0) {
		run_kill(cur);
		mntns_unpin(r.dir);
		run_report_failure(&r, cur, &e);
		pr_err("restore from %s failed; nothing was left running", r.images);
		run_free(&r);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
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

		if (!f || fprintf(f, "%d\n", rp.root) < 0 || fclose(f) != 0)
			pr_warn("could not write the pid file '%s': %m", o.pidfile);
	}
	pr_info("restored pid %d from %s in %.3f s", rp.root, r.images, run_now() - t0);
	run_free(&r);
	if (o.detach)
		return EXIT_OK;
	return restore_wait_root(rp.waitable ? rp.waitable : rp.root);
}
