/* restore-tasks/lazy.c: restore --lazy-pages (ipc/lazy.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "images/image.h"
#include "ipc/fdpass.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "ipc/lazy.h"
#include "lib/log.h"
#include "lib/pagecopy.h"
#include "lib/rsys.h"
#include "stages/restore-tasks/restore-tasks.h"

#define RT_LAZY_READY_S	60

int rt_lazy_start(const struct stage_ctx *ctx, const struct rt_opts *o, struct rt_plan *p, struct err *e)
{
	char self[PATH_MAX], bin[PATH_MAX + 32], log[PATH_MAX + 32], rate[32], *slash;
	int sv[2], st;
	ssize_t n;
	pid_t child;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return err_errno(e, "find where amber-restore-tasks is");
	self[n] = 0;
	if ((slash = strrchr(self, '/')))
		*slash = 0;
	snprintf(bin, sizeof(bin), "%s/amber-lazy-pages", self);
	snprintf(log, sizeof(log), "%s/lazy-pages.log", ctx->run_dir ? ctx->run_dir : ctx->images_dir);
	snprintf(rate, sizeof(rate), "%d", o->push_rate);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return err_errno(e, "make the socket to amber-lazy-pages");
	child = fork();
	if (child < 0)
		return err_errno(e, "fork amber-lazy-pages");
	if (child == 0) {
		/* Double fork, its own session: it outlives the restore and the
		 * driver, and no terminal signal of ours reaches it. */
		setsid();
		if (fork() != 0)
			_exit(0);
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		syscall(SYS_close_range, 4, ~0U, 0);
		execl(bin, bin, "-D", ctx->images_dir, "--fd", LAZY_FD_NAME "=3", "-o", log, "--push-rate", rate,
		      "-v", ctx->verbosity >= 3 ? "3" : "2", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	waitpid(child, &st, 0);
	p->lazy_sock = sv[0];
	pr_info("amber-lazy-pages started, its log in '%s'", log);
	return 0;
}

int rt_lazy_uffd(struct rsys *r, struct rt_task *t, struct err *e)
{
	long fd = -1, res;
	int ret, pidfd;

	t->uffd = -1;
	/* Made while the task still has the credentials it was forked with:
	 * a restored unprivileged task could not make one that takes kernel
	 * faults too (vm.unprivileged_userfaultfd). */
	ret = rsys_call(r, &fd, SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK, 0, 0, 0, 0, 0, e);
	if (ret == 0 && fd < 0)
		ret = err_errnum(e, -fd, "make a userfaultfd in pid %u (restore --lazy-pages)", t->pe->pid);
	if (ret < 0)
		return ret;
	pidfd = syscall(SYS_pidfd_open, t->pid, 0);
	t->uffd = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, (int)fd, 0);
	if (t->uffd < 0)
		ret = err_errno(e, "take the userfaultfd out of pid %u (pidfd_getfd)", t->pe->pid);
	if (pidfd >= 0)
		close(pidfd);
	/* The program never made it: it must not see it. */
	if (rsys_call(r, &res, SYS_close, fd, 0, 0, 0, 0, 0, ret < 0 ? &(struct err){ 0 } : e) < 0 && ret == 0)
		ret = -1;
	return ret;
}

/* Fills the data pages of lazy VMAs that are present already (something
 * touched them before they were registered: the transplant's calls): the
 * server's UFFDIO_COPY would find them there (EEXIST) and leave them. */
static int rt_lazy_fill_present(int dirfd, struct rt_task *t, struct err *e)
{
	char path[64], name[64];
	_cleanup_close_ int pm = -1;
	struct pagecopy_run *runs = NULL;
	size_t cap = 0;
	int nr = 0, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", t->pid);
	if ((pm = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open '%s'", path);
	for (int i = 0; ret == 0 && i < t->nr_pm; i++) {
		const PagemapEntry *p = t->pm[i];
		const VmaEntry *v = rt_vma_at(t->mm, p->vaddr);

		for (uint32_t k = 0; v && lazy_vma(v) && k < p->nr_pages; k++) {
			uint64_t a = p->vaddr + k * RT_PAGE, pme;

			if (pread(pm, &pme, 8, a / RT_PAGE * 8) != 8) {
				ret = err_errno(e, "read '%s' at %#llx", path, (unsigned long long)a);
				break;
			}
			if (!(pme & (3ULL << 62)))
				continue;
			/* Its contents are in a parent directory: not read from here. */
			if (p->has_in_parent && p->in_parent) {
				ret = err_input(e, "pid %u: lazy memory at %#llx was touched during the restore and its page is "
						"in a parent images directory; restore without --lazy-pages", t->pe->pid,
						(unsigned long long)a);
				break;
			}
			if (grow_cap(&runs, &cap, (size_t)nr + 1) < 0) {
				ret = err_errno(e, "plan the pages of pid %u", t->pe->pid);
				break;
			}
			runs[nr++] = (struct pagecopy_run){ a, RT_PAGE, p->offset + k * RT_PAGE, !(v->prot & PROT_WRITE) };
		}
	}
	if (ret == 0 && nr) {
		struct image img;
		uint8_t *map;

		snprintf(name, sizeof(name), "pages-%u.img", t->pe->pid);
		if ((ret = image_open_read(&img, dirfd, "pages", name, e)) == 0) {
			map = mmap(NULL, img.size, PROT_READ, MAP_PRIVATE, img.fd, 0);
			if (map == MAP_FAILED) {
				ret = err_errno(e, "map '%s'", name);
			} else {
				/* pagecopy wants runs contiguous in the file: one at a time. */
				for (int i = 0; ret == 0 && i < nr; i++) {
					struct pagecopy_run one = runs[i];
					struct pagecopy pc = { .dir = PAGECOPY_RESTORE, .pid = t->pid, .runs = &one,
							       .nr_runs = 1, .total = RT_PAGE, .map = map,
							       .file_base = IMAGE_PAGES_HDR_SIZE + one.off, .threads = 1 };

					one.off = 0;
					ret = pagecopy_run(&pc, e);
				}
				munmap(map, img.size);
			}
			image_close(&img);
		}
		pr_info("pid %u: %d pages of lazy memory were touched before registration: filled now", t->pe->pid, nr);
	}
	free(runs);
	return ret;
}

int rt_lazy_register(int dirfd, struct rt_task *t, struct err *e)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP };
	int n = 0;

	if (ioctl(t->uffd, UFFDIO_API, &api) < 0)
		return err_errno(e, "set up the userfaultfd of pid %u (UFFDIO_API with fork and remap events)", t->pe->pid);
	for (size_t i = 0; i < t->mm->n_vmas; i++) {
		const VmaEntry *v = t->mm->vmas[i];
		struct uffdio_register r = { .range = { v->start, v->end - v->start }, .mode = UFFDIO_REGISTER_MODE_MISSING };
		bool data = false;

		if (!lazy_vma(v))
			continue;
		for (int k = 0; k < t->nr_pm && !data; k++)
			data = t->pm[k]->vaddr >= v->start && t->pm[k]->vaddr < v->end;
		if (!data)
			continue;
		if (ioctl(t->uffd, UFFDIO_REGISTER, &r) < 0)
			return err_errno(e, "register pid %u's memory at %#llx-%#llx with its userfaultfd (restore --lazy-pages)",
					 t->pe->pid, (unsigned long long)v->start, (unsigned long long)v->end);
		n++;
	}
	pr_debug("pid %u: %d VMAs served lazily", t->pe->pid, n);
	return rt_lazy_fill_present(dirfd, t, e);
}

int rt_lazy_handover(struct rt_plan *p, struct err *e)
{
	struct pollfd pfd = { .fd = p->lazy_sock, .events = POLLIN };
	char c = 0;
	int ret = 0;

	for (int i = 0; ret == 0 && i < p->nr; i++) {
		struct rt_task *t = &p->tasks[i];
		int fds[2];
		uint32_t ids[2];

		if (!t->lazy || t->uffd < 0)
			continue;
		fds[0] = t->uffd;
		ids[0] = t->pe->pid;
		fds[1] = syscall(SYS_pidfd_open, t->pid, 0);
		ids[1] = t->pe->pid | LAZY_ID_PIDFD;
		if (fds[1] < 0)
			return err_errno(e, "pidfd of pid %u", t->pe->pid);
		ret = fdpass_send(p->lazy_sock, fds, ids, 2, e);
		close(fds[1]);
	}
	if (ret == 0)
		ret = fdpass_send_end(p->lazy_sock, e);
	if (ret < 0)
		return err_wrap(e, "hand the userfaultfds to amber-lazy-pages");
	if (poll(&pfd, 1, RT_LAZY_READY_S * 1000) != 1 || read(p->lazy_sock, &c, 1) != 1 || c != LAZY_READY)
		return err_set(e, EXIT_SYSTEM, "amber-lazy-pages did not say it serves the pages (its log says why): "
			       "the tree is not let run");
	pr_info("amber-lazy-pages serves the memory of the tree");
	return 0;
}
