/* lazy-pages/run.c: load, keep, serve (see main.c). */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/pagechain.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "ipc/fdpass.h"
#include "lib/exitcodes.h"
#include "lib/grow.h"
#include "ipc/lazy.h"
#include "lib/log.h"
#include "stages/lazy-pages/lazy-pages.h"

#define LP_PAGE		4096ULL
#define LP_FAULT_PAGES	16
#define LP_PUSH_PAGES	64
#define LP_MAX_PROCS	4096

/* A run of pages the images hold, in a lazy VMA. */
struct lp_run {
	uint64_t vaddr, len;
	const uint8_t *src;		/* its contents, in a mapped pages image */
	uint64_t first;			/* its first page's index in done[] */
};

/* One process's pages: shared by a process and the children it forks. */
struct lp_pages {
	struct lp_run *runs;		/* in address order */
	int nr;
	size_t cap;
	uint64_t pages;
};

struct lp_proc {
	uint32_t pid;			/* as the images name it (a forked child: its parent's) */
	int uffd, pidfd;		/* pidfd -1 for a child the tree forked */
	struct lp_pages *pg;
	uint8_t *done;			/* per page of pg: in (copied, or found there) */
	uint64_t left;			/* pages not in yet */
	int cur;			/* push cursor: run, */
	uint64_t cur_page;		/* and page in it */
	bool finished;
};

struct lp_state {
	struct lp_proc *procs;
	int nr;
	uint64_t faults, fault_pages, zero, pushed;
};

/* Maps pages-PID.img of directory dirfd (for the life of the process). */
static int lp_map(int dirfd, uint32_t pid, int level, const uint8_t **map, uint64_t *body, struct err *e)
{
	char name[64];
	struct image img;
	void *m;
	int ret;

	snprintf(name, sizeof(name), "pages-%u.img", pid);
	if ((ret = image_open_read(&img, dirfd, "pages", name, e)) < 0)
		return level ? err_wrap(e, "parent %d of the images directory", level) : ret;
	*body = img.hdr.body;
	m = img.size ? mmap(NULL, img.size, PROT_READ, MAP_PRIVATE, img.fd, 0) : NULL;
	image_close(&img);
	if (m == MAP_FAILED)
		return err_errno(e, "map '%s' (level %d)", name, level);
	*map = m ? (const uint8_t *)m + IMAGE_PAGES_HDR_SIZE : NULL;
	return 0;
}

/* Adds a run if it lies in a lazy VMA of mm, its data inside the image. */
static int lp_add_run(struct lp_pages *pg, const MmEntry *mm, uint64_t vaddr, uint64_t len, const uint8_t *map,
		      uint64_t off, uint64_t body, int level, struct err *e)
{
	const VmaEntry *v = NULL;

	for (size_t i = 0; i < mm->n_vmas && !v; i++)
		if (vaddr >= mm->vmas[i]->start && vaddr < mm->vmas[i]->end)
			v = mm->vmas[i];
	if (!v || !lazy_vma(v))
		return 0;
	if (off > body || len > body - off || vaddr + len > v->end)
		return err_input(e, "level %d: pages %#llx-%#llx at %llu are outside the pages image or their VMA", level,
				 (unsigned long long)vaddr, (unsigned long long)(vaddr + len), (unsigned long long)off);
	if (grow_cap(&pg->runs, &pg->cap, (size_t)pg->nr + 1) < 0)
		return err_errno(e, "plan the pages");
	pg->runs[pg->nr++] = (struct lp_run){ vaddr, len, map + off, 0 };
	return 0;
}

static int lp_run_cmp(const void *a, const void *b)
{
	const struct lp_run *x = a, *y = b;

	return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* Loads pid's mm, its pagemap and pages, and those of the parents its
 * in_parent entries refer to (images/pagechain.h): the runs in lazy VMAs. */
static int lp_load(int dirfd, uint32_t pid, struct lp_pages *pg, struct err *e)
{
	struct pagechain_level lv[PAGECHAIN_MAX + 1];
	struct pagechain_ent *ents[PAGECHAIN_MAX + 1] = { NULL };
	const uint8_t *maps[PAGECHAIN_MAX + 1];
	uint64_t bodies[PAGECHAIN_MAX + 1];
	int dirs[PAGECHAIN_MAX + 1];
	struct pagechain_run *runs = NULL;
	char name[64];
	MmEntry *mm = NULL;
	int nlv = 1, nr = 0, n0 = 0, ret;
	bool more = false;

	snprintf(name, sizeof(name), "mm-%u.img", pid);
	if ((ret = image_read_one(dirfd, "mm", name, (ProtobufCMessage **)&mm, e)) < 0)
		return ret;
	dirs[0] = dirfd;
	ret = pagechain_read_pagemap(dirfd, pid, 0, &ents[0], &n0, e);
	if (ret == 0)
		ret = lp_map(dirfd, pid, 0, &maps[0], &bodies[0], e);
	lv[0] = (struct pagechain_level){ ents[0], n0 };
	for (int i = 0; ret == 0 && i < n0; i++) {
		more |= ents[0][i].in_parent;
		if (!ents[0][i].in_parent)
			ret = lp_add_run(pg, mm, ents[0][i].vaddr, ents[0][i].len, maps[0], ents[0][i].off, bodies[0], 0, e);
	}
	while (ret == 0 && more) {
		InventoryEntry *inv = NULL;
		uint64_t id;
		int pfd;

		free(runs);
		runs = NULL;
		if ((ret = pagechain_resolve(lv, nlv, &runs, &nr, &more, e)) < 0 || !more)
			break;
		if (nlv > PAGECHAIN_MAX) {
			ret = err_input(e, "pid %u: the chain of parents is longer than %d", pid, PAGECHAIN_MAX);
			break;
		}
		if ((ret = pagechain_inventory(dirs[nlv - 1], &inv, &id, e)) < 0)
			break;
		ret = pagechain_open_parent(dirs[nlv - 1], "an images directory of the chain", inv, &pfd, e);
		inventory_entry__free_unpacked(inv, NULL);
		if (ret == 0 && pfd < 0)
			ret = err_input(e, "pagemap-%u.img has pages in a parent, but no parent is named", pid);
		if (ret < 0)
			break;
		dirs[nlv] = pfd;
		ret = pagechain_read_pagemap(pfd, pid, nlv, &ents[nlv], &lv[nlv].nr, e);
		if (ret == 0)
			ret = lp_map(pfd, pid, nlv, &maps[nlv], &bodies[nlv], e);
		lv[nlv].ent = ents[nlv];
		nlv++;
	}
	for (int i = 0; ret == 0 && i < nr; i++)
		ret = lp_add_run(pg, mm, runs[i].vaddr, runs[i].len, maps[runs[i].level], runs[i].off, bodies[runs[i].level],
				 runs[i].level, e);
	free(runs);
	for (int k = 0; k < nlv; k++) {
		free(ents[k]);
		if (k)
			close(dirs[k]);
	}
	mm_entry__free_unpacked(mm, NULL);
	if (ret < 0)
		return ret;
	qsort(pg->runs, pg->nr, sizeof(pg->runs[0]), lp_run_cmp);
	for (int i = 0; i < pg->nr; i++) {
		pg->runs[i].first = pg->pages;
		pg->pages += pg->runs[i].len / LP_PAGE;
	}
	if (nlv > 1)
		pr_info("pid %u: pages from %d images directories of the chain", pid, nlv);
	return 0;
}

static int lp_add(struct lp_state *s, uint32_t pid, int uffd, int pidfd, struct lp_pages *pg, const uint8_t *done,
		  struct err *e)
{
	struct lp_proc *p;

	if (s->nr >= LP_MAX_PROCS || grow_one(&s->procs, s->nr) < 0)
		return err_errno(e, "serve pid %u", pid);
	p = &s->procs[s->nr];
	*p = (struct lp_proc){ .pid = pid, .uffd = uffd, .pidfd = pidfd, .pg = pg };
	p->done = calloc(pg->pages + 1, 1);
	if (!p->done)
		return err_errno(e, "serve pid %u", pid);
	if (done)
		memcpy(p->done, done, pg->pages);
	for (uint64_t i = 0; i < pg->pages; i++)
		p->left += !p->done[i];
	s->nr++;
	return 0;
}

/* The run that holds addr, or -1. */
static int lp_find(const struct lp_pages *pg, uint64_t addr)
{
	int lo = 0, hi = pg->nr;

	while (lo < hi) {
		int mid = (lo + hi) / 2;

		if (addr < pg->runs[mid].vaddr)
			hi = mid;
		else if (addr >= pg->runs[mid].vaddr + pg->runs[mid].len)
			lo = mid + 1;
		else
			return mid;
	}
	return -1;
}

static void lp_finish(struct lp_proc *p, const char *why)
{
	if (p->finished)
		return;
	p->finished = true;
	/* The last copy here: the kernel unregisters the memory (the
	 * keeper's copy goes when it exits), and the rest of it is zero. */
	close(p->uffd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	if (p->left)
		pr_info("pid %u: %s with %llu pages not in yet", p->pid, why, (unsigned long long)p->left);
	else
		pr_info("pid %u: %s", p->pid, why);
}

/* Copies n pages of run r from page k on; marks them in. 0, or <0 with
 * errno: ESRCH (the process is gone) or another failure. Pages found
 * there already (EEXIST) count as in. */
static int lp_copy(struct lp_proc *p, int r, uint64_t k, uint64_t n, bool wake)
{
	const struct lp_run *run = &p->pg->runs[r];

	while (n) {
		struct uffdio_copy c = {
			.dst = run->vaddr + k * LP_PAGE, .src = (uint64_t)(uintptr_t)(run->src + k * LP_PAGE),
			.len = n * LP_PAGE, .mode = wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE,
		};
		uint64_t got;

		if (ioctl(p->uffd, UFFDIO_COPY, &c) == 0) {
			got = n;
		} else if (errno == EAGAIN) {
			got = c.copy > 0 ? (uint64_t)c.copy / LP_PAGE : 0;
		} else if (errno == EEXIST) {
			/* Some page of the range is there: one at a time. */
			if (n > 1) {
				int ret = lp_copy(p, r, k, 1, wake);

				if (ret < 0)
					return ret;
				k++;
				n--;
				continue;
			}
			got = 1;
			if (wake) {
				struct uffdio_range w = { c.dst, LP_PAGE };

				ioctl(p->uffd, UFFDIO_WAKE, &w);
			}
		} else {
			return -1;
		}
		for (uint64_t i = 0; i < got; i++)
			if (!p->done[run->first + k + i]) {
				p->done[run->first + k + i] = 1;
				p->left--;
			}
		k += got;
		n -= got;
	}
	return 0;
}

/* Answers a fault at addr. */
static int lp_fault(struct lp_state *s, struct lp_proc *p, uint64_t addr, struct err *e)
{
	uint64_t page = addr & ~(LP_PAGE - 1);
	int r = lp_find(p->pg, page);

	s->faults++;
	if (r >= 0) {
		const struct lp_run *run = &p->pg->runs[r];
		uint64_t k = (page - run->vaddr) / LP_PAGE, n = 0;

		while (k + n < run->len / LP_PAGE && n < LP_FAULT_PAGES && !p->done[run->first + k + n])
			n++;
		if (n) {
			s->fault_pages += n;
			if (lp_copy(p, r, k, n, true) < 0 && errno != ESRCH)
				return err_errno(e, "copy %llu pages at %#llx into pid %u (UFFDIO_COPY)", (unsigned long long)n,
						 (unsigned long long)page, p->pid);
			return 0;
		}
	}
	/* Not in the images, or in and dropped since: a zero page, as without us. */
	struct uffdio_zeropage z = { .range = { page, LP_PAGE } };

	s->zero++;
	if (ioctl(p->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST && errno != ESRCH && errno != EAGAIN)
		return err_errno(e, "put a zero page at %#llx into pid %u (UFFDIO_ZEROPAGE)", (unsigned long long)page, p->pid);
	if (errno == EEXIST || errno == EAGAIN) {
		struct uffdio_range w = { page, LP_PAGE };

		ioctl(p->uffd, UFFDIO_WAKE, &w);
	}
	return 0;
}

/* Reads and answers what p's userfaultfd has. */
static int lp_events(struct lp_state *s, int i, struct err *e)
{
	struct uffd_msg msg;
	int ret;

	for (;;) {
		struct lp_proc *p = &s->procs[i];	/* lp_add may move the array */
		ssize_t n = read(p->uffd, &msg, sizeof(msg));

		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n != sizeof(msg))
			return err_errno(e, "read the userfaultfd of pid %u", p->pid);
		switch (msg.event) {
		case UFFD_EVENT_PAGEFAULT:
			if ((ret = lp_fault(s, p, msg.arg.pagefault.address, e)) < 0)
				return ret;
			break;
		case UFFD_EVENT_FORK:
			if ((ret = lp_add(s, p->pid, (int)msg.arg.fork.ufd, -1, p->pg, p->done, e)) < 0)
				return ret;
			pr_info("pid %u forked: its child is served too", s->procs[i].pid);
			break;
		case UFFD_EVENT_REMAP:
			return err_input(e, "pid %u moved lazily restored memory (mremap %#llx to %#llx) before all of it was in: "
					 "amber-lazy-pages cannot follow that yet; restore it without --lazy-pages",
					 p->pid, (unsigned long long)msg.arg.remap.from, (unsigned long long)msg.arg.remap.to);
		default:
			break;
		}
	}
}

/* Pushes the next pages of p that are not in yet; finishes p when all are. */
static int lp_push(struct lp_state *s, struct lp_proc *p, struct err *e)
{
	const struct lp_pages *pg = p->pg;

	while (p->cur < pg->nr) {
		const struct lp_run *run = &pg->runs[p->cur];
		uint64_t np = run->len / LP_PAGE, n = 0;

		while (p->cur_page < np && p->done[run->first + p->cur_page])
			p->cur_page++;
		if (p->cur_page == np) {
			p->cur++;
			p->cur_page = 0;
			continue;
		}
		while (p->cur_page + n < np && n < LP_PUSH_PAGES && !p->done[run->first + p->cur_page + n])
			n++;
		if (lp_copy(p, p->cur, p->cur_page, n, false) < 0) {
			if (errno == ESRCH) {
				lp_finish(p, "exited");
				return 0;
			}
			/* Unmapped since (ENOENT): nothing to serve there any more. */
			if (errno != ENOENT)
				return err_errno(e, "push %llu pages at %#llx into pid %u (UFFDIO_COPY)", (unsigned long long)n,
						 (unsigned long long)(run->vaddr + p->cur_page * LP_PAGE), p->pid);
			for (uint64_t i = 0; i < n; i++)
				if (!p->done[run->first + p->cur_page + i]) {
					p->done[run->first + p->cur_page + i] = 1;
					p->left--;
				}
		}
		s->pushed += n;
		p->cur_page += n;
		return 0;
	}
	if (!p->left)
		lp_finish(p, "every page is in");
	return 0;
}

static double lp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The server: faults first, then a push step, until every page is in. */
static int lp_serve(struct lp_state *s, int rate, struct err *e)
{
	double t0 = lp_now();
	int ret;

	for (;;) {
		struct pollfd fds[LP_MAX_PROCS];
		int idx[LP_MAX_PROCS], n = 0, timeout = 0, left = 0;
		double ahead;

		for (int i = 0; i < s->nr; i++) {
			if (s->procs[i].finished)
				continue;
			left++;
			if (!s->procs[i].left) {
				lp_finish(&s->procs[i], "every page is in");
				left--;
				continue;
			}
			fds[n] = (struct pollfd){ .fd = s->procs[i].uffd, .events = POLLIN };
			idx[n++] = i;
			if (s->procs[i].pidfd >= 0) {
				fds[n] = (struct pollfd){ .fd = s->procs[i].pidfd, .events = POLLIN };
				idx[n++] = -1 - i;
			}
		}
		if (!left)
			break;
		/* The push goes no faster than --push-rate. */
		ahead = rate ? s->pushed * LP_PAGE / (rate * 1048576.0) - (lp_now() - t0) : 0;
		if (ahead > 0)
			timeout = ahead > 0.1 ? 100 : (int)(ahead * 1000) + 1;
		if (poll(fds, n, timeout) < 0 && errno != EINTR)
			return err_errno(e, "poll the userfaultfds");
		for (int k = 0; k < n; k++) {
			if (!fds[k].revents)
				continue;
			if (idx[k] < 0) {
				lp_finish(&s->procs[-1 - idx[k]], "exited");
				continue;
			}
			if (!s->procs[idx[k]].finished && (ret = lp_events(s, idx[k], e)) < 0)
				return ret;
		}
		if (ahead <= 0) {
			for (int i = 0; i < s->nr; i++)
				if (!s->procs[i].finished && (ret = lp_push(s, &s->procs[i], e)) < 0)
					return ret;
		}
	}
	pr_info("done after %.2f s: %llu faults served (%llu pages, %llu zero pages), %llu pages pushed",
		lp_now() - t0, (unsigned long long)s->faults, (unsigned long long)s->fault_pages,
		(unsigned long long)s->zero, (unsigned long long)s->pushed);
	return 0;
}

/* The pid a pidfd names (fdinfo), or -1. */
static pid_t lp_pidfd_pid(int pidfd)
{
	char path[64], line[128];
	FILE *f;
	pid_t pid = -1;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Pid: %d", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* SIGKILLs pid and everything below it. */
static void lp_kill_tree(pid_t pid, int depth)
{
	char path[96];
	FILE *f;
	int c;

	if (depth > 64)
		return;
	kill(pid, SIGSTOP);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	if ((f = fopen(path, "re"))) {
		while (fscanf(f, "%d", &c) == 1)
			lp_kill_tree(c, depth + 1);
		fclose(f);
	}
	kill(pid, SIGKILL);
}

/* The keeper: holds the userfaultfds until the server is done; kills the
 * tree if it is not. */
static int lp_keep(struct lp_state *s, pid_t server, struct err *e)
{
	int st;
	char how[64];

	while (waitpid(server, &st, 0) < 0)
		if (errno != EINTR)
			return err_errno(e, "wait for the lazy-pages server %d", server);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		pr_info("the server is done: the tree no longer depends on amber-lazy-pages");
		return 0;
	}
	if (WIFSIGNALED(st))
		snprintf(how, sizeof(how), "killed by signal %d", WTERMSIG(st));
	else
		snprintf(how, sizeof(how), "exit status %d", WEXITSTATUS(st));
	for (int i = 0; i < s->nr; i++) {
		pid_t pid = s->procs[i].pidfd >= 0 ? lp_pidfd_pid(s->procs[i].pidfd) : -1;

		if (pid > 0)
			lp_kill_tree(pid, 0);
		if (s->procs[i].pidfd >= 0)
			syscall(SYS_pidfd_send_signal, s->procs[i].pidfd, SIGKILL, NULL, 0);
	}
	return err_set(e, EXIT_SYSTEM, "the lazy-pages server (pid %d) ended (%s) before every page of the restored tree was in: "
		       "killed the restored processes and their children, which must not run with pages missing", server, how);
}

int lazy_pages_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct lp_opts *o = opts;
	struct lp_state s = { 0 };
	int sock = stage_fd(ctx, LAZY_FD_NAME), fds[FDPASS_BATCH], n, ret = 0;
	uint32_t ids[FDPASS_BATCH];
	char ready = LAZY_READY;
	pid_t server;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		if ((n = fdpass_recv(sock, fds, ids, e)) < 0)
			return err_wrap(e, "the restore did not hand its userfaultfds over (it failed?)");
		if (n == 0)
			break;
		for (int i = 0; i < n; i++) {
			struct lp_pages *pg;

			if (ids[i] & LAZY_ID_PIDFD) {
				if (s.nr && s.procs[s.nr - 1].pid == (ids[i] & ~LAZY_ID_PIDFD))
					s.procs[s.nr - 1].pidfd = fds[i];
				else
					close(fds[i]);
				continue;
			}
			if (!(pg = calloc(1, sizeof(*pg))))
				return err_errno(e, "serve pid %u", ids[i]);
			if ((ret = lp_load(ctx->dir_fd, ids[i], pg, e)) < 0 ||
			    (ret = lp_add(&s, ids[i], fds[i], -1, pg, NULL, e)) < 0)
				return err_wrap(e, "pid %u", ids[i]);
			pr_info("pid %u: %llu pages in %d runs to serve", ids[i], (unsigned long long)pg->pages, pg->nr);
		}
	}
	server = fork();
	if (server < 0)
		return err_errno(e, "fork the lazy-pages server");
	if (server == 0) {
		struct err se = { 0 };

		close(sock);
		if (lp_serve(&s, o->push_rate, &se) < 0) {
			pr_err("%s", se.msg);
			_exit(se.exit_code ? se.exit_code : EXIT_SYSTEM);
		}
		_exit(0);
	}
	if (write(sock, &ready, 1) != 1)
		pr_warn("could not tell restore-tasks that the pages are served: %m");
	close(sock);
	return lp_keep(&s, server, e);
}
