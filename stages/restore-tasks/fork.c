/* restore-tasks/fork.c: create a task with its old pid and stop it, ready
 * for the transplant. Everything the child does runs on amber's code before
 * the transplant replaces it, so it uses raw syscalls only where glibc's
 * cached state (the parent's tid) would mislead it. */
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "lib/tracee.h"
#include "stages/restore-tasks/restore-tasks.h"

#define RT_LOWEST_ADDR	(16ULL << 20)
#define RT_HIGHEST_ADDR	0x7ffffffff000ULL

struct rt_range { uint64_t start, end; };

static int rt_range_cmp(const void *a, const void *b)
{
	const struct rt_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Finds 'size' bytes free both in the image and in this process (whose
 * mappings the child starts with), avoiding 'also' if given. */
static int rt_find_gap(const MmEntry *mm, uint64_t size, const struct rt_range *also, uint64_t *addr, struct err *e)
{
	_cleanup_free_ struct proc_vma *self = NULL;
	_cleanup_free_ struct rt_range *r = NULL;
	int nself = 0, n = 0, ret;
	uint64_t cur = RT_LOWEST_ADDR;

	if ((ret = proc_read_maps(getpid(), &self, &nself, e)) < 0)
		return ret;
	r = calloc(nself + mm->n_vmas + 1, sizeof(*r));
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
		return err_set(e, 4, "no free %llu-byte range for the restore trampoline", (unsigned long long)size);
	*addr = cur + RT_PAGE;
	return 0;
}

struct rt_child {
	const struct rt_task *t;
	int sync_fd;		/* read end: one byte once we are seized */
	int err_fd;		/* write end: a message if setup fails */
};

/* Reports a setup failure to the stage and exits; the stage prints it. */
static void __attribute__((noreturn)) rt_child_fail(int err_fd, const char *what, const char *arg)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s '%s': %s", what, arg, strerror(errno));

	if (write(err_fd, msg, n) < 0)
		_exit(3);
	_exit(3);
}

/* Moves fds into place: copies above every fd in play first, so no dup2 can
 * clobber a source that is still needed, then closes everything else. */
static int rt_child_fds(const struct rt_task *t, int *err_fd)
{
	int hi = *err_fd;
	int staged[t->nr_fds + 1];

	for (int i = 0; i < t->nr_fds; i++) {
		if (t->fds[i].target > hi)
			hi = t->fds[i].target;
		if (t->fds[i].src > hi)
			hi = t->fds[i].src;
	}
	hi++;
	for (int i = 0; i < t->nr_fds; i++) {
		staged[i] = fcntl(t->fds[i].src, F_DUPFD_CLOEXEC, hi);
		if (staged[i] < 0)
			return -1;
	}
	*err_fd = fcntl(*err_fd, F_DUPFD_CLOEXEC, hi);
	if (*err_fd < 0)
		return -1;
	syscall(SYS_close_range, 0, hi - 1, 0);
	for (int i = 0; i < t->nr_fds; i++)
		if (dup3(staged[i], t->fds[i].target, t->fds[i].cloexec ? O_CLOEXEC : 0) < 0)
			return -1;
	for (int i = 0; i < t->nr_fds; i++)
		close(staged[i]);
	/* Anything else the stage had open above 'hi' must not leak into the task. */
	if (*err_fd > hi)
		syscall(SYS_close_range, hi, *err_fd - 1, 0);
	syscall(SYS_close_range, *err_fd + 1, ~0U, 0);
	return 0;
}

static void __attribute__((noreturn)) rt_child_main(struct rt_child *c)
{
	const struct rt_task *t = c->t;
	static const uint8_t code[] = { 0x0f, 0x05, 0xcc };	/* syscall; int3 */
	int err_fd = c->err_fd;
	char byte;
	void *tramp;

	if (read(c->sync_fd, &byte, 1) != 1)
		_exit(4);	/* the stage died before seizing us */
	if (t->pe->sid == t->pe->pid) {
		if (setsid() < 0)
			rt_child_fail(err_fd, "setsid for", "session leader");
	} else if (t->pe->pgid == t->pe->pid) {
		if (setpgid(0, 0) < 0)
			rt_child_fail(err_fd, "setpgid for", "group leader");
	}
	if (t->fs->has_umask)
		umask(t->fs->umask);
	if (chdir(t->fs->cwd) < 0)
		rt_child_fail(err_fd, "chdir to the dumped working directory", t->fs->cwd);
	if (rt_child_fds(t, &err_fd) < 0)
		rt_child_fail(err_fd, "install descriptors for pid", "restored task");

	tramp = mmap((void *)t->tramp, RT_TRAMP_PAGES * RT_PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (tramp != (void *)t->tramp)
		rt_child_fail(err_fd, "map the trampoline at", "a free address");
	memcpy(tramp, code, sizeof(code));
	if (mprotect(tramp, RT_PAGE, PROT_READ | PROT_EXEC) < 0)
		rt_child_fail(err_fd, "protect the trampoline", "page");
	close(err_fd);
	syscall(SYS_kill, syscall(SYS_getpid), SIGSTOP);
	_exit(5);	/* not reached: the stage rewrites this task while it is stopped */
}

int rt_fork(struct rt_task *t, struct err *e)
{
	struct clone_args args;
	pid_t want = t->pe->pid, pid;
	int sync[2], errp[2], status, ret;
	char msg[512];
	ssize_t n;
	struct rt_range tr;

	if ((ret = rt_find_gap(t->mm, RT_TRAMP_PAGES * RT_PAGE, NULL, &t->tramp, e)) < 0)
		return ret;
	tr = (struct rt_range){ t->tramp - RT_PAGE, t->tramp + (RT_TRAMP_PAGES + 1) * RT_PAGE };
	if ((ret = rt_find_gap(t->mm, 64 * RT_PAGE, &tr, &t->spare, e)) < 0)
		return ret;
	if (pipe2(sync, O_CLOEXEC) < 0)
		return err_errno(e, "pipe");
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(sync[0]);
		close(sync[1]);
		return err_errno(e, "pipe");
	}
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uint64_t)(uintptr_t)&want;
	args.set_tid_size = 1;
	fflush(NULL);
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		struct rt_child c = { t, sync[0], errp[1] };

		rt_child_main(&c);
	}
	close(sync[0]);
	close(errp[1]);
	if (pid < 0) {
		ret = errno == EEXIST ? err_input(e, "pid %d is already in use; it must be free to restore the process that had it", want)
				      : err_errno(e, "create a task with pid %d (clone3 set_tid)", want);
		close(sync[1]);
		close(errp[0]);
		return ret;
	}
	t->pid = pid;
	/* EXITKILL: if this stage dies, the half-made task dies with it. */
	if (ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD) < 0) {
		ret = err_errno(e, "seize new task %d", pid);
		kill(pid, SIGKILL);
		goto out;
	}
	if (write(sync[1], "g", 1) != 1) {
		ret = err_errno(e, "start new task %d", pid);
		goto out;
	}
	ret = tracee_wait(pid, &status, e);
	if (ret < 0) {
		n = read(errp[0], msg, sizeof(msg) - 1);
		if (n > 0) {
			msg[n] = 0;
			ret = err_input(e, "pid %d: %s", pid, msg);
		}
		goto out;
	}
	if (!WIFSTOPPED(status) || WSTOPSIG(status) != SIGSTOP)
		ret = err_set(e, 4, "new task %d stopped with status %#x, want SIGSTOP", pid, status);
out:
	close(sync[1]);
	close(errp[0]);
	return ret;
}
