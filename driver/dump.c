/* dump: the dump pipeline.
 *
 *	seize -> { dump-memory, dump-files -> dump-mounts } -> inventory.img -> release
 *
 * seize freezes the tree and stays alive as its tracer; the other three read
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
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/mntns.h"
#include "driver/opts.h"
#include "driver/run.h"
#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/stream.pb-c.h"
#include "ipc/exitcodes.h"
#include "ipc/fds.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/memfd.h"
#include "lib/remap.h"
#include "lib/tracee.h"

static int dump_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes inventory.img listing every image in the directory; last, because
 * its presence is what says the dump is complete. */
static int dump_write_inventory(const char *images, int root, bool pidns, uint64_t *bytes, struct err *e)
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
	dfd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = dfd < 0 ? err_errno(e, "open '%s'", images) : image_write_one(dfd, "inventory", "inventory.img", &inv.base, e);
	for (int i = 0; i < n; i++)
		free(names[i]);
	return ret;
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
 * lib/memfd.h), or after a failed dump the temporary files a killed stage
 * left. */
static void dump_remove_memfd_images(struct run *r, bool tmp_only)
{
	struct err e = { 0 };
	_cleanup_close_ int fd = open(r->images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || memfd_remove_images(fd, tmp_only, &e) < 0)
		pr_warn("could not remove the memfd images of %s: %s", tmp_only ? "this dump's stages" : "an earlier dump",
			fd < 0 ? strerror(errno) : e.msg);
}

/* Tells seize what to do with the tree and waits for it to finish. */
static int dump_release(struct run *r, struct run_stage *seize, int ctl, const char *verdict, struct err *e)
{
	struct run_stage *all[1] = { seize };
	char line[32];
	int n = snprintf(line, sizeof(line), "release %s\n", verdict);

	if (ctl >= 0) {
		if (write(ctl, line, n) != n)
			pr_warn("could not tell seize to %s the tree: %m", verdict);
		close(ctl);
	}
	return run_wait(r, all, 1, seize, false, e);
}

static void dump_usage(void)
{
	printf("usage: amber dump -t PID -D DIR [--leave-running [--keep-link-remaps]] [--ghost-limit BYTES] [--file-locks]\n"
	       "                  [--shell-job] [--external KEY]... [-v N] [-o LOG] [--run-dir DIR]\n"
	       "  --external KEY  a descriptor of the tree belongs to the outside; restore gives it back with\n"
	       "                  --inherit-fd. KEY: file[MNT_ID:INODE], tty[RDEV:DEV], unix[INODE], pipe[INODE]\n"
	       "                  (decimal; 0x for hexadecimal); or mnt[MOUNTPOINT]:NAME, a mount restore\n"
	       "                  binds from --external mnt[NAME]:PATH\n"
	       "  --shell-job     the tree runs on the shell's terminal: every terminal is external\n");
}

int cmd_dump(int argc, char **argv)
{
	struct drv_opts o;
	struct run r;
	struct run_stage seize, mem, files, mounts;
	struct run_stage *all[4] = { &seize, &mem, &files, &mounts };
	struct err e = { 0 };
	char tbuf[16];
	const char *seize_args[] = { "-t", tbuf, NULL };
	int ctl[2] = { -1, -1 }, ret;
	struct run_fd fds[1];
	double t0 = run_now(), frozen_at, released_at;
	uint64_t bytes = 0;

	if ((ret = drv_parse(argc, argv, "Dtov", &o)) != 0) {
		if (ret < 0)
			dump_usage();
		return ret < 0 ? 0 : ret;
	}
	log_init("amber", o.verbosity, 2);
	if (!o.pid || !o.images) {
		fprintf(stderr, "amber dump: need -t PID and -D DIR\n");
		dump_usage();
		return EXIT_USAGE;
	}
	if (mkdir(o.images, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "amber dump: cannot create the images directory '%s': %s\n", o.images, strerror(errno));
		return EXIT_SYSTEM;
	}
	chmod(o.images, 0700);	/* images hold memory and secrets */
	if ((ret = run_init(&r, "dump", o.images, o.run_dir, o.verbosity, o.logfile, &e)) < 0) {
		pr_err("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	if (r.log_fd >= 0)
		log_init("amber", o.verbosity, r.log_fd);
	snprintf(tbuf, sizeof(tbuf), "%d", o.pid);
	/* SIGPIPE would kill the driver if seize died before reading its verdict. */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(ctl, O_CLOEXEC) < 0) {
		pr_err("pipe: %m");
		return EXIT_SYSTEM;
	}
	fds[0] = (struct run_fd){ FD_NAME_CONTROL, ctl[0], FD_DEF_CONTROL };
	frozen_at = run_now();
	ret = run_start(&r, &seize, "seize", seize_args, fds, 1, &e);
	close(ctl[0]);
	if (ret == 0)
		ret = run_wait(&r, all, 1, &seize, true, &e);
	if (ret < 0) {
		run_kill(&seize);
		close(ctl[1]);
		run_report_failure(&r, &seize, &e);
		pr_err("dump of pid %d failed; the process was not touched", o.pid);
		run_free(&r);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	/* The tree is frozen: memory, files and mounts are read in parallel. */
	memset(&mounts, 0, sizeof(mounts));
	dump_remove_memfd_images(&r, false);
	ret = run_start(&r, &mem, "dump-memory", NULL, NULL, 0, &e);
	if (ret == 0) {
		const char *files_args[7 + 2 * DRV_MAX_EXTERNALS] = { NULL };
		int na = 0;

		if (!o.leave_running)
			files_args[na++] = "--accept-backlog";	/* the tree is killed after the dump */

		if (o.file_locks)
			files_args[na++] = "--file-locks";
		if (o.ghost_limit) {
			files_args[na++] = "--ghost-limit";
			files_args[na++] = o.ghost_limit;
		}
		if (o.shell_job)
			files_args[na++] = "--shell-job";
		for (int i = 0; i < o.nr_externals; i++) {
			files_args[na++] = "--external";
			files_args[na++] = o.externals[i];
		}

		ret = run_start(&r, &files, "dump-files", files_args, NULL, 0, &e);
		if (ret == 0) {
			struct run_stage *par[4] = { &seize, &mem, &files, &mounts };
			const char *mounts_args[2 * EXTMNT_MAX + 1] = { NULL };

			/* dump-mounts after dump-files, beside dump-memory: a link
			 * remap dump-files makes on a tmpfs is saved with it. */
			ret = run_wait(&r, par, 3, &files, false, &e);
			extmnt_args(&o.extmnt, mounts_args, 0);
			if (ret == 0)
				ret = run_start(&r, &mounts, "dump-mounts", mounts_args, NULL, 0, &e);
			if (ret == 0)
				ret = run_wait(&r, par, 4, &mounts, false, &e);
			if (ret == 0)
				ret = run_wait(&r, par, 4, &mem, false, &e);
			if (ret < 0) {
				run_kill(&mem);
				run_kill(&files);
				run_kill(&mounts);
			}
		} else {
			run_kill(&mem);
		}
	}
	if (ret == 0) {
		struct dump_root dr = { 0, false };

		run_find(&r, STREAM_RECORD__BODY_TASK, dump_take_root, &dr);
		ret = dump_write_inventory(r.images, dr.pid ? dr.pid : o.pid, dr.host_pid_seen, &bytes, &e);
	}
	if (ret < 0) {
		struct err e2 = { 0 };
		struct run_stage *failed = mem.exited && (!WIFEXITED(mem.status) || WEXITSTATUS(mem.status)) ? &mem :
					   files.exited && (!WIFEXITED(files.status) || WEXITSTATUS(files.status)) ? &files :
					   mounts.exited && (!WIFEXITED(mounts.status) || WEXITSTATUS(mounts.status)) ? &mounts : NULL;

		run_report_failure(&r, failed, &e);
		/* dump-files took back its own link remaps if it failed; if it
		 * succeeded, the failure came later and they are ours to remove. */
		dump_remove_remaps(&r, false);
		mntns_remove_live_remaps(r.images, o.pid);
		dump_remove_memfd_images(&r, true);
		if (dump_release(&r, &seize, ctl[1], "resume", &e2) < 0)
			pr_err("%s", e2.msg);
		else
			pr_err("dump of pid %d failed; the process was resumed and carries on", o.pid);
		run_free(&r);
		(void)all;
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	released_at = run_now();
	ret = dump_release(&r, &seize, ctl[1], o.leave_running ? "resume" : "kill", &e);
	if (ret < 0) {
		pr_err("%s", e.msg);
		run_free(&r);
		return e.exit_code ? e.exit_code : EXIT_SYSTEM;
	}
	/* A tree that goes on running has its files open: the remaps are only
	 * kept for a later restore when asked. */
	if (o.leave_running && !o.keep_link_remaps) {
		dump_remove_remaps(&r, true);
		mntns_remove_live_remaps(r.images, o.pid);
	}
	pr_info("dumped pid %d to %s: %.1f MiB in %.3f s (frozen %.3f s)%s", o.pid, r.images,
		bytes / 1048576.0, run_now() - t0, released_at - frozen_at,
		o.leave_running ? ", left running" : "");
	run_free(&r);
	return EXIT_OK;
}
