/* seize/track.c: start write tracking of the tree before it is let go
 * (amber pre-dump; lib/track.h).
 *
 * Runs once every dump stage is done and the driver said "release
 * resume", while the tree is still stopped: whatever dump-memory copied is
 * exactly what the tree holds now, so protecting every tracked page here
 * makes the next iteration's written set relative to this copy. Each
 * process gets a userfaultfd in asynchronous write-protect mode: the one
 * the holder of the parent iteration had (dump-memory claimed it for this
 * dump), or a new one made in the task with a remote syscall, taken out
 * with pidfd_getfd and closed there again, so the task never has it as a
 * descriptor. Its private VMAs are registered (those that are already stay
 * so) and all write-protected; then the holder (amber-track) adopts the set
 * and listens in this dump's images directory. Tracking is an
 * optimisation: a process it cannot be set up for is warned about, and
 * the next iteration copies it in full. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images/collect.h"
#include "images/rjournal.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/track.h"
#include "stages/seize/seize.h"

/* Makes a userfaultfd in p (a remote syscall), takes it out and closes it
 * in p again; *out is this stage's descriptor of it. */
static int seize_track_uffd(const struct seize_proc *p, uint64_t start_time, struct rjournal *j, int *out, struct err *e)
{
	struct rsys r;
	uint64_t site;
	uint8_t orig[RSYS_PARK_SIZE];
	bool gadget, back = true;
	long fd = -1, res;
	int ret;

	*out = -1;
	if ((ret = rjournal_process(j, p->pid, start_time, e)) < 0 || (ret = seize_site(p, j, &site, &gadget, orig, e)) < 0)
		return ret;
	if ((ret = rsys_begin(&r, p->pid, site, RSYS_SITE_SYSCALL_STOPS, &j->watch, e)) == 0) {
		ret = rsys_call(&r, &fd, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | TRACK_UFFD_USER_MODE_ONLY, 0, 0, 0, 0, 0, e);
		if (ret == 0 && fd < 0)
			ret = err_errnum(e, -fd, "make a userfaultfd in pid %d", p->pid);
		if (ret == 0) {
			int pidfd = syscall(SYS_pidfd_open, p->pid, 0);

			*out = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
			if (*out < 0)
				ret = err_errno(e, "take the userfaultfd out of pid %d (pidfd_getfd)", p->pid);
			if (pidfd >= 0)
				close(pidfd);
		}
		/* The task must not keep it: the program never made it. */
		if (fd >= 0 && rsys_call(&r, &res, SYS_close, fd, 0, 0, 0, 0, 0, ret < 0 ? &(struct err){ 0 } : e) < 0 && ret == 0)
			ret = -1;
		if (rsys_finish(&r, ret < 0 ? &(struct err){ 0 } : e) < 0) {
			back = false;
			if (ret == 0)
				ret = -1;
		}
	}
	if (gadget && back) {
		struct err e2;

		if ((rsys_park_write(p->pid, site, orig, &j->watch, ret < 0 ? &e2 : e) < 0 ||
		     rjournal_gadget_gone(j, ret < 0 ? &e2 : e) < 0) && ret == 0)
			ret = -1;
	}
	if (ret < 0 && *out >= 0) {
		close(*out);
		*out = -1;
	}
	return ret;
}

/* Registers and write-protects p's private VMAs with uffd. */
static int seize_track_vmas(pid_t pid, int uffd, struct err *e)
{
	struct collect_mm c;
	int ret, tracked = 0, busy = 0;

	if ((ret = collect_mm(pid, &c, e)) < 0)
		return ret;
	for (int i = 0; i < c.nr; i++) {
		const struct proc_vma *v = &c.vmas[i];
		VmaKind k = c.kinds[i];

		if (v->shared || (k != VMA_KIND__VMA_ANON_PRIVATE && k != VMA_KIND__VMA_FILE_PRIVATE &&
				  k != VMA_KIND__VMA_MEMFD_PRIVATE))
			continue;
		ret = track_uffd_register(uffd, v->start, v->end);
		if (ret == 0)
			ret = track_uffd_protect(uffd, v->start, v->end);
		if (ret == -EBUSY)
			busy++;
		else if (ret < 0)
			pr_debug("pid %d: VMA %#llx-%#llx not tracked (%s): copied in full by the next iteration", pid,
				 (unsigned long long)v->start, (unsigned long long)v->end, strerror(-ret));
		else
			tracked++;
	}
	if (busy)
		pr_warn("pid %d: %d VMAs are tracked by another userfaultfd (the program's own, or another pre-dump "
			"chain's): the next iteration copies them in full", pid, busy);
	pr_info("pid %d: write tracking on %d VMAs", pid, tracked);
	collect_mm_free(&c);
	return 0;
}

/* Starts amber-track (next to this binary) on a socket bound at
 * DIR/track.sock; it is its own session, a grandchild nobody waits for. */
static int seize_track_spawn(const struct stage_ctx *ctx, int *conn, struct err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char self[PATH_MAX], bin[PATH_MAX + 16], logp[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int s, logfd = -1, st;
	pid_t pid;

	if (n < 0)
		return err_errno(e, "find this stage's binary (/proc/self/exe)");
	self[n] = 0;
	snprintf(bin, sizeof(bin), "%s/amber-track", dirname(self));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return err_errno(e, "make the tracking socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", ctx->dir_fd, TRACK_SOCK);
	unlinkat(ctx->dir_fd, TRACK_SOCK, 0);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 4) < 0) {
		close(s);
		return err_errno(e, "listen at %s in the images directory", TRACK_SOCK);
	}
	if (ctx->run_dir) {
		snprintf(logp, sizeof(logp), "%s/track.log", ctx->run_dir);
		logfd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	}
	pid = fork();
	if (pid < 0) {
		close(s);
		return err_errno(e, "fork amber-track");
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);
		char fdarg[32];

		setsid();
		if (fork() != 0)
			_exit(0);
		/* Out of the way first: seize has closed its stdout, so s may be 1. */
		s = fcntl(s, F_DUPFD, 10);
		logfd = logfd >= 0 ? fcntl(logfd, F_DUPFD, 10) : -1;
		nul = fcntl(nul, F_DUPFD, 10);
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(logfd >= 0 ? logfd : nul, 2);
		dup2(s, 3);
		close_range(4, ~0U, 0);
		snprintf(fdarg, sizeof(fdarg), "%s=3", "track");
		execl(bin, bin, "--fd", fdarg, "--log-fd", "2", (char *)NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	close(s);
	if (logfd >= 0)
		close(logfd);
	if ((*conn = track_connect(ctx->dir_fd)) < 0)
		return err_errno(e, "connect to the amber-track just started ('%s')", bin);
	return 0;
}

int seize_track(const struct stage_ctx *ctx, const struct seize_tree *t, const struct seize_opts *o, struct rjournal *j)
{
	struct track_set have, set;
	struct err e = { 0 };
	int conn = -1, ret = 0;
	pid_t holder = 0;

	track_set_init(&have);
	track_set_init(&set);
	/* The parent's holder, claimed by dump-memory for this dump. */
	if (o->prev) {
		int pfd = open(o->prev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (pfd >= 0 && (conn = track_connect(pfd)) >= 0 && (ret = track_get(conn, ctx->dump_id, &have, &e)) < 0) {
			/* Someone else's generation: its tracking is worth nothing, end it. */
			pr_info("the tracking held for '%s' is not this dump's (%s): starting it again", o->prev,
				ret == -ESTALE ? "claimed by another dump" : e.msg);
			track_quit(conn, &(struct err){ 0 });
			close(conn);
			conn = -1;
			usleep(100000);
		}
		if (pfd >= 0)
			close(pfd);
	}
	for (int i = 0; i < t->nr; i++) {
		const struct seize_proc *p = &t->procs[i];
		struct proc_stat ps;
		int uffd;

		if (p->zombie || p->gone)
			continue;
		if (set.nr == TRACK_MAX) {
			pr_warn("pid %d: more than %d processes, not tracked: every iteration copies it in full", p->pid, TRACK_MAX);
			continue;
		}
		e.msg[0] = 0;
		if (proc_read_stat(p->pid, 0, &ps, &e) < 0) {
			pr_warn("pid %d: not tracked: %s", p->pid, e.msg);
			continue;
		}
		uffd = track_set_find(&have, p->pid, ps.start_time);
		if (uffd >= 0) {
			uffd = fcntl(uffd, F_DUPFD_CLOEXEC, 0);
		} else if (seize_track_uffd(p, ps.start_time, j, &uffd, &e) < 0 || track_uffd_api(uffd, &e) < 0) {
			pr_warn("pid %d: write tracking not started (%s): the next iteration copies it in full", p->pid, e.msg);
			if (uffd >= 0)
				close(uffd);
			continue;
		}
		if (seize_track_vmas(p->pid, uffd, &e) < 0) {
			pr_warn("pid %d: write tracking not started (%s): the next iteration copies it in full", p->pid, e.msg);
			close(uffd);
			continue;
		}
		set.ent[set.nr] = (struct track_ent){ .pid = p->pid, .start_time = ps.start_time };
		set.fd[set.nr++] = uffd;
	}
	track_set_close(&have);
	e.msg[0] = 0;
	if (conn < 0 && set.nr && seize_track_spawn(ctx, &conn, &e) < 0)
		pr_warn("write tracking not kept (%s): the next iteration copies everything", e.msg);
	else if (conn >= 0 && track_adopt(conn, ctx->dump_id, &set, ctx->dir_fd, &holder, &e) < 0)
		pr_warn("write tracking not kept (amber-track: %s): the next iteration copies everything", e.msg);
	else if (set.nr)
		pr_info("write tracking of %d processes held by amber-track pid %d at %s", set.nr, (int)holder, TRACK_SOCK);
	if (conn >= 0)
		close(conn);
	track_set_close(&set);
	return 0;
}
