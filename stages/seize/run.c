/* seize/run.c: the stage's work: freeze, record, report, hold, release. */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "images/rjournal.h"
#include "images/pstree.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/fds.h"
#include "ipc/stream.h"
#include "lib/log.h"
#include "stages/seize/seize.h"

/* Writes pstree.img and announces each process on the state stream. */
static int seize_write_tree(const struct stage_ctx *ctx, const struct seize_tree *t, struct err *e)
{
	struct stream_out out;
	struct image img;
	int ret;

	if ((ret = image_open_write(&img, ctx->dir_fd, "pstree", "pstree.img", e)) < 0)
		return ret;
	if ((ret = stream_out_open(&out, 1, "seize", e)) < 0) {
		image_close(&img);
		return ret;
	}
	for (int i = 0; ret == 0 && i < t->nr; i++) {
		PstreeEntry pe = PSTREE_ENTRY__INIT;

		if (t->procs[i].gone)
			continue;
		pe.pid = t->procs[i].ns_pid;
		pe.ppid = t->procs[i].ns_ppid;
		pe.pgid = t->procs[i].ns_pgid;
		pe.sid = t->procs[i].ns_sid;
		pe.n_threads = t->procs[i].nr_tids;
		pe.threads = (uint32_t *)t->procs[i].ns_tids;
		if (t->procs[i].stopped) {
			pe.has_stopped = true;
			pe.stopped = true;
		}
		if (t->procs[i].zombie) {
			pe.has_zombie = pe.has_exit_status = true;
			pe.zombie = true;
			pe.exit_status = t->procs[i].exit_status;
		}
		ret = image_write(&img, &pe.base, e);
		/* The other dump stages read /proc, where the pid may differ. */
		if (t->own_pidns) {
			pe.has_host_pid = true;
			pe.host_pid = t->procs[i].pid;
		}
		if (ret == 0)
			ret = stream_out_task(&out, &pe, e);
	}
	/* A failed writer leaves it unfinished, which every reader refuses. */
	if (ret < 0)
		image_close(&img);
	else
		ret = image_close_write(&img, e);
	if (ret == 0)
		ret = stream_out_end(&out, e);
	return ret;
}

int seize_wait_verdict(int fd)
{
	char buf[64];
	size_t n = 0;

	if (fd < 0)
		return 0;
	while (n < sizeof(buf) - 1) {
		ssize_t got = read(fd, buf + n, 1);

		if (got <= 0 || buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	/* The whole line, NUL bytes and all: only the exact words kill. */
	if (n == strlen("release kill") && !memcmp(buf, "release kill", n))
		return 1;
	if (strcmp(buf, "release resume"))
		pr_warn("control fd said '%s' (or closed): resuming the tree", buf);
	return 0;
}

/* Busy threads of the tree would keep this stage off the CPU between the
 * stops it waits for, so it freezes at real-time priority; afterwards it
 * goes back to normal, where the remote-syscall round trips are faster. */
static void seize_priority(bool realtime)
{
	struct sched_param sp = { .sched_priority = realtime ? 1 : 0 };

	if (realtime && getenv("AMBER_NO_RT"))
		return;
	if (sched_setscheduler(0, realtime ? SCHED_FIFO : SCHED_OTHER, &sp) < 0 && realtime)
		pr_debug("no real-time priority for seize (%m): freezing busy threads may be slower");
}

int seize_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	struct seize_opts *o = opts;
	struct seize_tree t;
	struct rjournal j;
	const char *die_after = getenv("AMBER_TEST_SEIZE_DIE_AFTER");
	int ret, nthreads = 0, kill_it;

	if (!o->pid)
		return err_set(e, EXIT_USAGE, "no tree to seize: pass -t PID");
	rjournal_init(&j, die_after ? atol(die_after) : 0);
	/* Before the tree is touched: the journal is what lets amber-unseize
	 * put it back if this stage dies. */
	if (ctx->run_dir) {
		int dfd = open(ctx->run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd < 0)
			return err_errno(e, "open the run directory '%s' for the journal", ctx->run_dir);
		ret = rjournal_create(&j, dfd, RJOURNAL_NAME, e);
		close(dfd);
		if (ret < 0)
			return ret;
	}
	seize_priority(true);
	ret = seize_tree_freeze(o->pid, &t, e);
	seize_priority(false);
	if (ret == 0)
		ret = seize_tree_ns_ids(&t, e);
	/* Before anything else: a namespace that cannot be restored refuses
	 * the dump while the tree is merely stopped. */
	if (ret == 0)
		ret = seize_dump_ns(ctx->dir_fd, &t, o, e);
	for (int i = 0; ret == 0 && i < t.nr; i++) {
		if (t.procs[i].zombie || t.procs[i].gone)
			continue;
		ret = seize_dump_core(ctx->dir_fd, &t.procs[i], &j, e);
		nthreads += t.procs[i].nr_tids;
	}
	if (ret == 0)
		ret = seize_write_tree(ctx, &t, e);
	if (ret < 0) {
		/* Whatever went wrong, the tree goes on as before. */
		seize_tree_release(&t, 0);
		seize_tree_free(&t);
		rjournal_close(&j);
		return ret;
	}
	pr_info("froze %d processes, %d threads of tree %d (%ld steps changed or stopped them)", t.nr, nthreads, o->pid, j.changes);
	close(1);
	kill_it = seize_wait_verdict(stage_fd(ctx, FD_NAME_CONTROL));
	if (!kill_it && o->track)
		seize_track(ctx, &t, o, &j);
	seize_tree_release(&t, kill_it);
	pr_info("%s tree %d", kill_it ? "killed" : "resumed", o->pid);
	seize_tree_free(&t);
	rjournal_close(&j);
	return 0;
}
