/* restore-tasks/fork.c: create every task of the tree with its old pid,
 * session, group and parent, and stop it, ready for the transplant.
 *
 * The stage forks the root; every task forks its own children (so each has
 * the right parent), one at a time, before it closes amber's descriptors
 * (its children need them). Tasks and stage meet in a small shared memory
 * area: a task waits until the stage has seized it, sets up its session,
 * group and children, then its own cwd, fds and trampoline, says READY and
 * stops itself. Zombies are never seized: they set their session and group
 * and exit with their dumped status, unreaped, as their parent expects.
 *
 * Everything a task runs here is amber's code on a fork of the stage, so it
 * uses raw syscalls where glibc's cached state (the stage's tid) would
 * mislead it, and it never returns into the stage's logic. */
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/rsys.h"
#include "lib/tracee.h"
#include "stages/restore-tasks/restore-tasks.h"

#define RT_LOWEST_ADDR	(16ULL << 20)
#define RT_HIGHEST_ADDR	0x7ffffffff000ULL
#define RT_CREATE_TIMEOUT 30	/* seconds for the whole tree to be created */

struct rt_range { uint64_t start, end; };

static int rt_range_cmp(const void *a, const void *b)
{
	const struct rt_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Finds 'size' bytes free both in the image and in this process (whose
 * mappings every task starts with), avoiding 'also' if given. */
static int rt_find_gap(const MmEntry *mm, const struct proc_vma *self, int nself, uint64_t size,
		       const struct rt_range *also, uint64_t *addr, struct err *e)
{
	_cleanup_free_ struct rt_range *r = calloc(nself + mm->n_vmas + 1, sizeof(*r));
	int n = 0;
	uint64_t cur = RT_LOWEST_ADDR;

	if (!r)
		return err_errno(e, "find a free address range");
	for (int i = 0; i < nself; i++)
		r[n++] = (struct rt_range){ self[i].start, self[i].end };
	for (size_t i = 0; i < mm->n_vmas; i++)
		r[n++] = (struct rt_range){ mm->vmas[i]->start, mm->vmas[i]->end };
	if (also)
		r[n++] = *also;
	qsort(r, n, sizeof(*r), rt_range_cmp);
	/* Leave a guard page on each side so nothing merges with our mapping. */
	for (int i = 0; i < n; i++) {
		if (r[i].start >= cur + size + 2 * RT_PAGE)
			break;
		if (r[i].end > cur)
			cur = r[i].end;
	}
	if (cur + size + 2 * RT_PAGE > RT_HIGHEST_ADDR)
		return err_set(e, EXIT_SYSTEM, "no free %llu-byte range for the restore trampoline", (unsigned long long)size);
	*addr = cur + RT_PAGE;
	return 0;
}

/* Picks, per task, where its trampoline and vDSO spare gap go. */
static int rt_plan_addresses(struct rt_plan *p, struct err *e)
{
	_cleanup_free_ struct proc_vma *self = NULL;
	int nself = 0, ret;

	/* The shared area is already mapped, so it counts as ours here. */
	if ((ret = proc_read_maps(getpid(), &self, &nself, e)) < 0)
		return ret;
	for (int i = 0; i < p->nr; i++) {
		struct rt_task *t = &p->tasks[i];
		struct rt_range tr;

		if (t->pe->zombie || t->pe->helper)
			continue;
		if ((ret = rt_find_gap(t->mm, self, nself, RT_TRAMP_PAGES * RT_PAGE, NULL, &t->tramp, e)) < 0)
			return ret;
		tr = (struct rt_range){ t->tramp - RT_PAGE, t->tramp + (RT_TRAMP_PAGES + 1) * RT_PAGE };
		if ((ret = rt_find_gap(t->mm, self, nself, 64 * RT_PAGE, &tr, &t->spare, e)) < 0)
			return ret;
	}
	return 0;
}

/* Futexes live in memory shared between processes: no FUTEX_PRIVATE_FLAG. */
static void rt_futex_wait(_Atomic uint32_t *addr, uint32_t val, long ns)
{
	struct timespec ts = { ns / 1000000000L, ns % 1000000000L };

	syscall(SYS_futex, addr, FUTEX_WAIT, val, ns ? &ts : NULL, NULL, 0);
}

static void rt_futex_wake(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, addr, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static void rt_slot_set(struct rt_shared *sh, int i, uint32_t state)
{
	atomic_store(&sh->slot[i].state, state);
	rt_futex_wake(&sh->slot[i].state);
	atomic_fetch_add(&sh->changes, 1);
	rt_futex_wake(&sh->changes);
}

/* Waits (in a task) until slot i leaves 'from'. */
static uint32_t rt_slot_wait_change(struct rt_shared *sh, int i, uint32_t from)
{
	uint32_t s;

	while ((s = atomic_load(&sh->slot[i].state)) == from)
		rt_futex_wait(&sh->slot[i].state, from, 0);
	return s;
}

/* Waits (in a task) until slot i reaches 'want': the slot may still read
 * NONE if the task runs before its parent marked it born. */
static void rt_slot_wait_for(struct rt_shared *sh, int i, uint32_t want)
{
	uint32_t s;

	while ((s = atomic_load(&sh->slot[i].state)) != want)
		rt_futex_wait(&sh->slot[i].state, s, 0);
}

/* Reports a task's setup failure to the stage and ends the task. */
static void __attribute__((noreturn, format(printf, 3, 4))) rt_child_fail(struct rt_shared *sh, int i, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(sh->slot[i].err, sizeof(sh->slot[i].err), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(sh->slot[i].err) && errnum)
		snprintf(sh->slot[i].err + n, sizeof(sh->slot[i].err) - n, ": %s", strerror(errnum));
	rt_slot_set(sh, i, RT_SLOT_FAILED);
	_exit(EXIT_INPUT);
}

/* Moves fds into place without copying them all first (which could need
 * twice the descriptors, more than RLIMIT_NOFILE allows for big tables):
 * each target is filled in turn; a source still needed that sits on a
 * target is moved out of the way first; a source is closed as soon as its
 * last target is filled. Then everything that is not a target is closed. */
static int rt_child_fds(struct rt_task *t)
{
	int n = t->nr_fds, top = 2, keep[2] = { -1, -1 };
	int *occupant, *loc, *pending;	/* by fd number: the source living there; by source: where it is, uses left */

	for (int i = 0; i < n; i++) {
		if (t->fds[i].target > top)
			top = t->fds[i].target;
		if (t->fds[i].src > top)
			top = t->fds[i].src;
	}
	top += n + 64;	/* room for sources moved out of the way */
	/* The root and cwd kept for the chroot go above every target and
	 * source, out of the way of the moves, and stay open (keep[] sorted). */
	for (int k = 0; k < 2; k++)
		if (t->chroot_fd[k] >= 0 && (t->chroot_fd[k] = keep[k] = fcntl(t->chroot_fd[k], F_DUPFD_CLOEXEC, top)) < 0)
			return -1;
	if (keep[1] >= 0 && keep[1] < keep[0]) {
		keep[1] = keep[0];
		keep[0] = t->chroot_fd[1];
	}
	occupant = malloc(sizeof(int) * top);
	loc = malloc(sizeof(int) * top);
	pending = calloc(top, sizeof(int));
	if (!occupant || !loc || !pending)
		return -1;
	for (int fd = 0; fd < top; fd++) {
		occupant[fd] = -1;
		loc[fd] = fd;
	}
	for (int i = 0; i < n; i++) {
		occupant[t->fds[i].src] = t->fds[i].src;
		pending[t->fds[i].src]++;
	}
	for (int i = 0; i < n; i++) {
		int src = t->fds[i].src, tg = t->fds[i].target, cur = loc[src];

		if (cur != tg) {
			int occ = occupant[tg];

			if (occ >= 0 && occ != src) {
				int nf = fcntl(tg, F_DUPFD_CLOEXEC, t->fds[i].target + 1);

				if (nf < 0 || nf >= top)
					return -1;
				loc[occ] = nf;
				occupant[nf] = occ;
			}
			if (dup3(cur, tg, t->fds[i].cloexec ? O_CLOEXEC : 0) < 0)
				return -1;
		} else if (fcntl(tg, F_SETFD, t->fds[i].cloexec ? FD_CLOEXEC : 0) < 0) {
			return -1;
		}
		occupant[tg] = -2;	/* final */
		if (--pending[src] == 0 && cur != tg && occupant[cur] == src) {
			close(cur);
			occupant[cur] = -1;
		} else if (cur != tg && pending[src] > 0 && occupant[cur] != src) {
			loc[src] = tg;	/* its old place was reused: take it from here */
		}
	}
	/* Close every fd that is not a target, range by range. */
	for (int fd = 0, from = 0; fd <= top; fd++)
		if (fd == top || occupant[fd] == -2) {
			if (fd > from)
				syscall(SYS_close_range, from, fd - 1, 0);
			from = fd + 1;
		}
	/* Above top, all but the kept ones. */
	for (int k = 0, from = top; k <= 2; k++) {
		if (k < 2 && keep[k] < 0)
			continue;
		if (k == 2) {
			syscall(SYS_close_range, from, ~0U, 0);
			break;
		}
		if (keep[k] > from)
			syscall(SYS_close_range, from, keep[k] - 1, 0);
		from = keep[k] + 1;
	}
	return 0;
}

/* Joins the dumped session and process group. A session can only be made
 * by its leader, so anything else must come from the task's creator. */
static void rt_child_session(struct rt_plan *p, int i)
{
	const struct rt_task *t = &p->tasks[i];
	const PstreeEntry *pe = t->pe, *cp = t->creator >= 0 ? p->tasks[t->creator].pe : NULL;
	uint32_t csid = cp ? cp->sid : 0, cpgid = cp ? cp->pgid : 0;

	if (pe->sid == pe->pid) {
		/* setsid also makes it the leader of a new group */
		if (setsid() < 0)
			rt_child_fail(p->shared, i, "pid %u: setsid", pe->pid);
		return;
	}
	if (cp && pe->sid != csid) {
		errno = 0;
		rt_child_fail(p->shared, i, "pid %u is in session %u but its creator %u is in session %u; "
			      "this session layout is not supported", pe->pid, pe->sid, cp->pid, csid);
	}
	if (pe->pgid == pe->pid) {
		if (setpgid(0, 0) < 0)
			rt_child_fail(p->shared, i, "pid %u: make it a group leader", pe->pid);
	} else if (cp && pe->pgid != cpgid) {
		/* The group's leader (maybe a helper) exists already, in this session. */
		if (setpgid(0, pe->pgid) < 0)
			rt_child_fail(p->shared, i, "pid %u: join process group %u", pe->pid, pe->pgid);
	}
}

/* A session leader whose terminal is a pty of the tree takes it (before
 * forking: its children inherit it), and once its children and their
 * groups exist (fg) gives the terminal to the dumped foreground group. The
 * slave is the restored description the leader's ctty_fd gets, still at
 * its source fd here. */
static void rt_child_ctty(struct rt_plan *p, int i, bool fg)
{
	const struct rt_task *t = &p->tasks[i];
	int src = -1;

	if (!t->fs || !t->fs->has_ctty_fd || t->pe->zombie || t->pe->helper)
		return;
	for (int k = 0; k < t->nr_fds && src < 0; k++)
		if (t->fds[k].target == t->fs->ctty_fd)
			src = t->fds[k].src;
	if (src < 0) {
		errno = 0;
		rt_child_fail(p->shared, i, "pid %u: fs-%u.img names fd %d as its controlling terminal, which it does not hold",
			      t->pe->pid, t->pe->pid, t->fs->ctty_fd);
	}
	if (!fg && ioctl(src, TIOCSCTTY, 0) < 0)
		rt_child_fail(p->shared, i, "pid %u: take its controlling terminal (fd %d) again (TIOCSCTTY)", t->pe->pid,
			      t->fs->ctty_fd);
	if (fg && t->fs->has_ctty_fg && t->fs->ctty_fg && tcsetpgrp(src, t->fs->ctty_fg) < 0)
		rt_child_fail(p->shared, i, "pid %u: give its terminal to process group %u (tcsetpgrp)", t->pe->pid,
			      t->fs->ctty_fg);
}

/* Replaces each /dev/tty description the task holds (passed as its
 * terminal's slave) with its own open of /dev/tty, now that it has that
 * terminal, on the same source fd: the children it forks next share it. */
static void rt_child_dev_tty(struct rt_plan *p, int i)
{
	const struct rt_task *t = &p->tasks[i];

	if (t->pe->zombie || t->pe->helper)
		return;
	for (int k = 0; k < t->nr_fds; k++) {
		struct stat st;
		int fl, fd, src = t->fds[k].src;

		if (!t->fds[k].plan || !t->fds[k].plan->dev_tty)
			continue;
		if (fstat(src, &st) == 0 && st.st_rdev == makedev(5, 0))
			continue;	/* replaced already, by a parent */
		fl = fcntl(src, F_GETFL);
		fd = fl < 0 ? -1 : open("/dev/tty", (fl & (O_ACCMODE | O_NONBLOCK | O_APPEND)) | O_NOCTTY | O_CLOEXEC);
		if (fd < 0 || dup3(fd, src, O_CLOEXEC) < 0)
			rt_child_fail(p->shared, i, "pid %u fd %d: open /dev/tty again (its controlling terminal)", t->pe->pid,
				      t->fds[k].target);
		close(fd);
	}
}

/* Ends a zombie the way it ended before: same wait status for its parent. */
static void __attribute__((noreturn)) rt_child_exit_as(int status)
{
	if (WIFSIGNALED(status)) {
		struct rlimit no_core = { 0, 0 };
		sigset_t all;

		setrlimit(RLIMIT_CORE, &no_core);
		signal(WTERMSIG(status), SIG_DFL);
		sigfillset(&all);
		sigprocmask(SIG_UNBLOCK, &all, NULL);
		syscall(SYS_kill, syscall(SYS_getpid), WTERMSIG(status));
	}
	_exit(WEXITSTATUS(status));
}

static void __attribute__((noreturn)) rt_child_main(struct rt_plan *p, int i);

/* Forks task j from the calling task i with its old pid; returns in i. With
 * CLONE_PARENT (a session helper creating a member) j's parent is i's. */
static void rt_child_fork(struct rt_plan *p, int i, int j, uint64_t flags)
{
	struct rt_task *c = &p->tasks[j];
	pid_t want = c->pe->pid, pid;
	struct clone_args args;
	uint32_t s;

	memset(&args, 0, sizeof(args));
	args.flags = flags;
	/* With CLONE_PARENT the kernel takes the exit signal from i itself. */
	args.exit_signal = flags & CLONE_PARENT ? 0 : SIGCHLD;
	args.set_tid = (uint64_t)(uintptr_t)&want;
	args.set_tid_size = 1;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0)
		rt_child_main(p, j);
	if (pid < 0)
		rt_child_fail(p->shared, j, "pid %d (a child of %u) could not be created%s", want, i >= 0 ? p->tasks[i].pe->pid : 1,
			      errno == EEXIST ? ": the pid is in use; it must be free to restore the process that had it" : "");
	if (!c->pe->zombie && !c->pe->helper)
		rt_slot_set(p->shared, j, RT_SLOT_BORN);
	s = rt_slot_wait_change(p->shared, j, c->pe->zombie || c->pe->helper ? RT_SLOT_NONE : RT_SLOT_BORN);
	while (s == RT_SLOT_GO)
		s = rt_slot_wait_change(p->shared, j, RT_SLOT_GO);
	if (s == RT_SLOT_FAILED)
		_exit(EXIT_INPUT);	/* the child said why; the stage reports it */
	if (s == RT_SLOT_ZOMBIE && !(flags & CLONE_PARENT)) {
		siginfo_t si;

		/* Let it be a zombie before going on, without reaping it. */
		while (waitid(P_PID, pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
			;
	}
}

static void __attribute__((noreturn)) rt_child_main(struct rt_plan *p, int i)
{
	static const uint8_t code[] = { 0x0f, 0x05, 0xcc };	/* syscall; int3 */
	struct rt_task *t = &p->tasks[i];
	void *tramp;

	atomic_store(&p->shared->slot[i].created, 1);
	/* If the stage (or the task's creator) dies before the task is seized,
	 * nothing else would ever end it. Cleared in the transplant. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!t->pe->zombie && !t->pe->helper)
		rt_slot_wait_for(p->shared, i, RT_SLOT_GO);
	rt_child_session(p, i);
	rt_child_ctty(p, i, false);
	rt_child_dev_tty(p, i);
	/* Into its mount namespace before it forks its children (who inherit
	 * it or enter their own) and before its cwd and files resolve. */
	if (t->has_mntns && setns(t->mntns_fd, CLONE_NEWNS) < 0)
		rt_child_fail(p->shared, i, "pid %u: enter its mount namespace (setns)", t->pe->pid);
	/* Its UTS, IPC and network namespaces too (ns.c made them), which its children
	 * inherit unless they have their own. */
	if (t->uts_fd >= 0 && setns(t->uts_fd, CLONE_NEWUTS) < 0)
		rt_child_fail(p->shared, i, "pid %u: enter its UTS namespace (setns)", t->pe->pid);
	if (t->ipc_fd >= 0 && setns(t->ipc_fd, CLONE_NEWIPC) < 0)
		rt_child_fail(p->shared, i, "pid %u: enter its IPC namespace (setns)", t->pe->pid);
	if (t->net_fd >= 0 && setns(t->net_fd, CLONE_NEWNET) < 0)
		rt_child_fail(p->shared, i, "pid %u: enter its network namespace (setns)", t->pe->pid);
	if (t->pe->zombie) {
		rt_slot_set(p->shared, i, RT_SLOT_ZOMBIE);
		rt_child_exit_as(t->pe->exit_status);
	}
	if (t->pe->helper) {
		/* A session helper creates the session's members for its parent. */
		for (int j = i + 1; j < p->nr; j++)
			if (p->tasks[j].creator == i)
				rt_child_fork(p, i, j, CLONE_PARENT);
		rt_slot_set(p->shared, i, RT_SLOT_HELPER);
		rt_slot_wait_for(p->shared, i, RT_SLOT_RELEASE);
		_exit(EXIT_OK);
	}
	for (int j = i + 1; j < p->nr; j++)
		if (p->tasks[j].creator == i)
			rt_child_fork(p, i, j, 0);
	rt_child_ctty(p, i, true);
	/* Every member is in place: the helpers among our children may go, and
	 * are reaped here, so the restored process never sees them. */
	for (int j = i + 1; j < p->nr; j++)
		if (p->tasks[j].parent == i && p->tasks[j].pe->helper) {
			rt_slot_set(p->shared, j, RT_SLOT_RELEASE);
			while (waitpid(p->tasks[j].pe->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}

	if (t->fs->has_umask)
		umask(t->fs->umask);
	/* A cwd under an overmount comes as the directory's fd (build-mntns
	 * took it before the overmount was mounted). */
	if (t->cwd_src >= 0 ? fchdir(t->cwd_src) < 0 : chdir(t->fs->cwd) < 0)
		rt_child_fail(p->shared, i, "pid %u: chdir to the dumped working directory '%s'%s", t->pe->pid, t->fs->cwd,
			      t->cwd_src >= 0 ? " (under an overmount, through its directory fd)" : "");
	/* A root other than /: opened now (its path is the namespace's, as is
	 * every path the transplant opens), entered by the stage after them. */
	if (t->root_src >= 0 || (t->fs->root && strcmp(t->fs->root, "/"))) {
		t->chroot_fd[0] = t->root_src >= 0 ? fcntl(t->root_src, F_DUPFD_CLOEXEC, 3)
						   : open(t->fs->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (t->chroot_fd[0] < 0)
			rt_child_fail(p->shared, i, "pid %u: open its dumped root directory '%s'", t->pe->pid, t->fs->root);
		if ((t->chroot_fd[1] = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
			rt_child_fail(p->shared, i, "pid %u: open its working directory '%s'", t->pe->pid, t->fs->cwd);
	}
	if (rt_child_fds(t) < 0)
		rt_child_fail(p->shared, i, "pid %u: put the restored files on their descriptors", t->pe->pid);
	p->shared->slot[i].chroot_fd[0] = t->chroot_fd[0];
	p->shared->slot[i].chroot_fd[1] = t->chroot_fd[1];
	/* Locks: POSIX ones belong to this process, flock and OFD ones to the
	 * description; either way the task takes them as it had them. */
	for (int k = 0; k < t->nr_fds; k++)
		for (size_t l = 0; t->fds[k].plan && l < t->fds[k].plan->n_locks; l++) {
			const FileLockEntry *lk = t->fds[k].plan->locks[l];
			struct flock fl = { .l_type = lk->write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET,
					    .l_start = lk->start, .l_len = lk->len };
			int fd = t->fds[k].target, r;

			r = lk->kind == LOCK_KIND__LOCK_FLOCK ? flock(fd, (lk->write ? LOCK_EX : LOCK_SH) | LOCK_NB) :
			    fcntl(fd, lk->kind == LOCK_KIND__LOCK_OFD ? F_OFD_SETLK : F_SETLK, &fl);
			if (r < 0)
				rt_child_fail(p->shared, i, "pid %u fd %d: take its %s lock again (is another process holding it now?)",
					      t->pe->pid, fd, lk->kind == LOCK_KIND__LOCK_FLOCK ? "flock" :
					      lk->kind == LOCK_KIND__LOCK_OFD ? "OFD" : "POSIX");
		}
	/* Owners: the task itself, an ancestor or a child made above (the
	 * tasks are created parents first); F_OWNER_TID only for a main thread,
	 * since the other threads come later. */
	for (int k = 0; k < t->nr_fds; k++) {
		const FownEntry *fo = t->fds[k].plan ? t->fds[k].plan->fown : NULL;
		struct f_owner_ex own = { .type = fo ? fo->type : 0, .pid = fo ? fo->pid : 0 };
		int fd = t->fds[k].target;

		if (t->fds[k].plan && t->fds[k].plan->async && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC) < 0)
			rt_child_fail(p->shared, i, "pid %u fd %d: set O_ASYNC", t->pe->pid, fd);
		if (!fo)
			continue;
		if (fo->signum && fcntl(fd, F_SETSIG, fo->signum) < 0)
			rt_child_fail(p->shared, i, "pid %u fd %d: set its signal (F_SETSIG %u)", t->pe->pid, fd, fo->signum);
		if (fo->pid && fcntl(fd, F_SETOWN_EX, &own) < 0)
			rt_child_fail(p->shared, i, "pid %u fd %d: give it its owner %s %d again (F_SETOWN_EX)%s", t->pe->pid, fd,
				      fo->type == F_OWNER_TID ? "thread" : fo->type == F_OWNER_PGRP ? "group" : "process", fo->pid,
				      errno == ESRCH ? ": it does not exist yet; only the process itself, its ancestors, its "
						       "children and their groups can own its files" : "");
	}
	for (int k = 0; k < t->nr_epoll; k++) {
		const struct rt_epoll_add *a = &t->epoll[k];
		struct epoll_event ev = { .events = a->events, .data.u64 = a->data };
		int saved = -1, saved_fl = 0;

		/* A registration whose file moved to another fd: the file goes
		 * at the registered number for the call (the number is its key),
		 * and whatever held that number gets it back. */
		if (a->file_fd >= 0) {
			saved_fl = fcntl(a->tfd, F_GETFD);
			if (saved_fl >= 0 && (saved = fcntl(a->tfd, F_DUPFD_CLOEXEC, 0)) < 0)
				rt_child_fail(p->shared, i, "pid %u: keep fd %d aside", t->pe->pid, a->tfd);
			if (dup2(a->file_fd, a->tfd) < 0)
				rt_child_fail(p->shared, i, "pid %u: put fd %d at %d for an epoll registration", t->pe->pid,
					      a->file_fd, a->tfd);
		}
		if (epoll_ctl(a->epfd, EPOLL_CTL_ADD, a->tfd, &ev) < 0)
			rt_child_fail(p->shared, i, "pid %u: make the registration of fd %d in epoll fd %d again",
				      t->pe->pid, a->tfd, a->epfd);
		if (a->file_fd >= 0 && saved >= 0 &&
		    (dup3(saved, a->tfd, saved_fl & FD_CLOEXEC ? O_CLOEXEC : 0) < 0 || close(saved) < 0))
			rt_child_fail(p->shared, i, "pid %u: put fd %d back", t->pe->pid, a->tfd);
		if (a->file_fd >= 0 && saved < 0)
			close(a->tfd);
	}
	tramp = mmap((void *)t->tramp, RT_TRAMP_PAGES * RT_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (tramp != (void *)t->tramp)
		rt_child_fail(p->shared, i, "pid %u: map the trampoline at %#llx", t->pe->pid, (unsigned long long)t->tramp);
	memcpy(tramp, code, sizeof(code));
	memcpy((char *)tramp + RT_BATCH_OFFSET, rsys_batch_code, sizeof(rsys_batch_code));
	if (mprotect(tramp, RT_PAGE, PROT_READ | PROT_EXEC) < 0)
		rt_child_fail(p->shared, i, "pid %u: protect the trampoline", t->pe->pid);
	rt_slot_set(p->shared, i, RT_SLOT_READY);
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
	_exit(EXIT_FAILURE_);	/* not reached: the stage rewrites this task while it is stopped */
}

/* The innermost pid of task 'pid' (last NSpid field), or 0. */
static pid_t rt_nspid(pid_t pid, pid_t tid)
{
	struct proc_status st;
	struct err ignored;

	if (proc_read_status(pid, tid, &st, &ignored) < 0 || !st.nr_nspid)
		return 0;
	return st.nspid[st.nr_nspid - 1];
}

pid_t rt_host_pid_of_child(pid_t parent, pid_t nspid)
{
	_cleanup_free_ pid_t *kids = NULL;
	struct err ignored;
	int n = 0;

	if (proc_read_children(parent, parent, &kids, &n, &ignored) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (rt_nspid(kids[i], 0) == nspid)
			return kids[i];
	return 0;
}

pid_t rt_host_tid(pid_t pid, pid_t nstid)
{
	_cleanup_free_ pid_t *tids = NULL;
	struct err ignored;
	int n = 0;

	if (proc_list_threads(pid, &tids, &n, &ignored) < 0)
		return 0;
	for (int i = 0; i < n; i++)
		if (rt_nspid(pid, tids[i]) == nstid)
			return tids[i];
	return 0;
}

/* Where this stage finds task i: its own pid outside a new pid namespace;
 * inside one, the child of its parent (or of the init) with that NSpid. */
static pid_t rt_host_pid(struct rt_plan *p, int i)
{
	const struct rt_task *t = &p->tasks[i];

	if (!p->pidns)
		return t->pe->pid;
	if (i == 0)
		return p->root_host ? p->root_host : rt_host_pid_of_child(p->init_host, t->pe->pid);
	return p->tasks[t->parent].pid ? rt_host_pid_of_child(p->tasks[t->parent].pid, t->pe->pid) : 0;
}

static struct rt_task *rt_task_by_pid(struct rt_plan *p, pid_t pid)
{
	for (int i = 0; i < p->nr; i++)
		if (p->tasks[i].pid == pid)
			return &p->tasks[i];
	return NULL;
}

/* Seizes the tasks that were born since the last look, and lets them go on. */
static int rt_seize_born(struct rt_plan *p, struct err *e)
{
	for (int i = 0; i < p->nr; i++) {
		struct rt_task *t = &p->tasks[i];

		if (t->seized || atomic_load(&p->shared->slot[i].state) != RT_SLOT_BORN)
			continue;
		t->pid = rt_host_pid(p, i);
		if (!t->pid)
			continue;	/* not visible in its parent's children yet */
		/* EXITKILL: if this stage dies, the half-made tree dies with it. */
		if (ptrace(PTRACE_SEIZE, t->pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE) < 0)
			return err_errno(e, "seize new task %d", t->pid);
		t->seized = true;
		rt_slot_set(p->shared, i, RT_SLOT_GO);
	}
	return 0;
}

/* Handles one wait status of a task being created. */
static int rt_on_status(struct rt_plan *p, pid_t pid, int status, int *stopped, struct err *e)
{
	struct rt_task *t = rt_task_by_pid(p, pid);

	if (p->init_host && pid == p->init_host)
		return err_set(e, EXIT_SYSTEM, "amber's init of the new pid namespace ended while the tree was being created (wait status %#x)", status);
	if (!t)
		return 0;	/* a zombie's exit seen as its tracer: nothing to do */
	if (WIFSTOPPED(status)) {
		if (WSTOPSIG(status) == SIGSTOP && (status >> 16) == 0 &&
		    atomic_load(&p->shared->slot[t->index].state) == RT_SLOT_READY && !t->stopped) {
			t->stopped = true;
			(*stopped)++;
			return 0;
		}
		/* Anything else (a SIGCHLD from a zombie child, say) is the
		 * task's own business while it runs amber's code: pass it on. */
		if (ptrace(PTRACE_CONT, pid, 0, (status >> 16) ? 0 : WSTOPSIG(status)) < 0)
			return err_errno(e, "resume task %d", pid);
		return 0;
	}
	if (atomic_load(&p->shared->slot[t->index].state) == RT_SLOT_FAILED)
		return err_input(e, "%s", p->shared->slot[t->index].err);
	return err_set(e, EXIT_SYSTEM, "task %d ended while being created (wait status %#x)", pid, status);
}

/* The init of a new pid namespace when the dumped root was not one: it
 * creates the root, lets go of amber's files, reaps orphans, and exits with
 * the root's status (the namespace dies with its init, so it stays while
 * the root lives). */
static void __attribute__((noreturn)) rt_init_main(struct rt_plan *p)
{
	pid_t root = p->tasks[0].pe->pid;
	int status;

	prctl(PR_SET_NAME, "amber-init");
	rt_child_fork(p, -1, 0, 0);
	syscall(SYS_close_range, 0, ~0U, 0);
	for (;;) {
		pid_t got = waitpid(-1, &status, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			_exit(EXIT_OK);
		if (got == root)
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

/* Creates the root: as the stage's child, or as the new pid namespace's
 * init (it was pid 1), or under amber's init in a new pid namespace. */
static int rt_create_root(struct rt_plan *p, struct err *e)
{
	struct clone_args args;
	pid_t want = p->tasks[0].pe->pid, pid;
	bool root_is_init = want == 1;

	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	if (p->pidns)
		args.flags = CLONE_NEWPID;
	if (!p->pidns || root_is_init) {
		args.set_tid = (uint64_t)(uintptr_t)&want;
		args.set_tid_size = 1;
	}
	fflush(NULL);
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		if (p->pidns && !root_is_init)
			rt_init_main(p);
		rt_child_main(p, 0);
	}
	if (pid < 0)
		return errno == EEXIST ? err_input(e, "pid %d is already in use; it must be free to restore the process that had it", want)
				       : err_errno(e, "create the root task %d (clone3%s)", want, p->pidns ? " CLONE_NEWPID" : " set_tid");
	if (p->pidns && !root_is_init) {
		p->init_host = pid;
		pr_info("new pid namespace: amber's init is pid %d here", pid);
		return 0;
	}
	if (p->pidns)
		p->root_host = pid;
	rt_slot_set(p->shared, 0, RT_SLOT_BORN);
	return 0;
}

int rt_create_tree(struct rt_plan *p, struct err *e)
{
	pid_t pid;
	int stopped = 0, live = 0, ret;
	time_t deadline = time(NULL) + RT_CREATE_TIMEOUT;

	for (int i = 0; i < p->nr; i++)
		live += !p->tasks[i].pe->zombie && !p->tasks[i].pe->helper;
	p->shared_size = sizeof(*p->shared) + p->nr * sizeof(p->shared->slot[0]);
	p->shared = mmap(NULL, p->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->shared == MAP_FAILED) {
		p->shared = NULL;
		return err_errno(e, "map the task creation area");
	}
	p->shared->nr = p->nr;
	for (int i = 0; i < p->nr; i++)
		p->shared->slot[i].chroot_fd[0] = p->shared->slot[i].chroot_fd[1] = -1;
	if ((ret = rt_plan_addresses(p, e)) < 0)
		return ret;

	if ((ret = rt_create_root(p, e)) < 0)
		return ret;

	while (stopped < live) {
		uint32_t seen = atomic_load(&p->shared->changes);
		int status;

		if ((ret = rt_seize_born(p, e)) < 0)
			return ret;
		while ((pid = waitpid(-1, &status, __WALL | WNOHANG)) > 0)
			if ((ret = rt_on_status(p, pid, status, &stopped, e)) < 0)
				break;
		/* A task that failed says why; its parent only exits after it. */
		for (int i = 0; i < p->nr; i++)
			if (atomic_load(&p->shared->slot[i].state) == RT_SLOT_FAILED)
				return err_input(e, "%s", p->shared->slot[i].err);
		if (ret < 0)
			return ret;
		if (stopped == live)
			break;
		if (time(NULL) > deadline)
			return err_set(e, EXIT_SYSTEM, "the tree was not created within %d s (%d of %d tasks ready)",
				       RT_CREATE_TIMEOUT, stopped, live);
		rt_futex_wait(&p->shared->changes, seen, 1000000);
	}
	for (int i = 0; i < p->nr; i++) {
		p->tasks[i].chroot_fd[0] = p->shared->slot[i].chroot_fd[0];
		p->tasks[i].chroot_fd[1] = p->shared->slot[i].chroot_fd[1];
	}
	pr_debug("created %d tasks (%d zombies or helpers)", p->nr, p->nr - live);
	return 0;
}
