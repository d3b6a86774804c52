/* restore-tasks/run.c: read the plan, receive the files, restore each task. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "images/image.h"
#include "lib/proc.h"
#include "images/inventory.pb-c.h"
#include "ipc/fdpass.h"
#include "ipc/fds.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "stages/restore-tasks/restore-tasks.h"

static int rt_plan_add(struct rt_plan *p, StreamRecord *rec, struct err *e)
{
	if (rec->body_case == STREAM_RECORD__BODY_TASK) {
		struct rt_task *nt;

		/* Its threads are made from the list, the leader first (images.c). */
		if (!rec->task->n_threads || rec->task->threads[0] != rec->task->pid)
			return err_proto(e, "task %u does not list itself as its first thread; collect-pstree checks that",
					 rec->task->pid);
		if (grow_one(&p->tasks, p->nr) < 0)
			return err_errno(e, "plan task %u", rec->task->pid);
		nt = p->tasks;
		memset(&nt[p->nr], 0, sizeof(nt[0]));
		nt[p->nr].index = p->nr;
		nt[p->nr].parent = -1;
		nt[p->nr].cwd_src = nt[p->nr].root_src = -1;
		nt[p->nr].chroot_fd[0] = nt[p->nr].chroot_fd[1] = -1;
		nt[p->nr].uts_fd = nt[p->nr].ipc_fd = nt[p->nr].net_fd = -1;
		for (int i = 0; i < p->nr; i++)
			if (nt[i].pe->pid == rec->task->ppid)
				nt[p->nr].parent = i;
		if (p->nr && nt[p->nr].parent < 0)
			return err_proto(e, "task %u comes before its parent %u; collect-pstree orders parents first",
					 rec->task->pid, rec->task->ppid);
		nt[p->nr++].pe = rec->task;
		rec->task = NULL;	/* ours now */
		rec->body_case = STREAM_RECORD__BODY__NOT_SET;
	} else if (rec->body_case == STREAM_RECORD__BODY_EPOLL_ADD) {
		const EpollAddEntry *a = rec->epoll_add;
		struct rt_task *t = NULL;

		for (int i = 0; i < p->nr; i++)
			if (p->tasks[i].pe->pid == a->pid)
				t = &p->tasks[i];
		if (!t)
			return err_proto(e, "epoll registration for pid %u, which is not being restored", a->pid);
		if (grow_one(&t->epoll, t->nr_epoll) < 0)
			return err_errno(e, "plan epoll registrations");
		if (a->has_file_fd && (a->file_fd < 0 || a->file_fd == a->tfd || a->tfd < 0))
			return err_input(e, "epoll registration of pid %u fd %d: file fd %d for fd %d", a->pid, a->epfd,
					 a->file_fd, a->tfd);
		t->epoll[t->nr_epoll++] = (struct rt_epoll_add){ a->epfd, a->tfd, a->has_file_fd ? a->file_fd : -1,
								 a->events, a->data };
	} else if (rec->body_case == STREAM_RECORD__BODY_MNTNS) {
		/* build-mntns' namespace: its pin is opened once the whole
		 * input is read (rt_open_pins). */
		if (grow_one(&p->mntns, p->nr_mntns) < 0)
			return err_errno(e, "plan mount namespaces");
		p->mntns[p->nr_mntns++] = rec->mntns;
		rec->mntns = NULL;
		rec->body_case = STREAM_RECORD__BODY__NOT_SET;
	} else if (rec->body_case == STREAM_RECORD__BODY_FS_PLAN) {
		if (grow_one(&p->dirs, p->nr_dirs) < 0)
			return err_errno(e, "plan working directories");
		p->dirs[p->nr_dirs++] = rec->fs_plan;
		rec->fs_plan = NULL;
		rec->body_case = STREAM_RECORD__BODY__NOT_SET;
	} else if (rec->body_case == STREAM_RECORD__BODY_FD_PLAN) {
		if (grow_one(&p->fds, p->nr_fds) < 0)
			return err_errno(e, "plan fd");
		p->fds[p->nr_fds++] = rec->fd_plan;
		rec->fd_plan = NULL;
		rec->body_case = STREAM_RECORD__BODY__NOT_SET;
	}
	return 0;
}

int rt_plan_read(int fd, struct rt_plan *p, struct err *e)
{
	struct stream_in in;
	StreamRecord *rec;
	int ret;

	if ((ret = stream_in_open(&in, fd, "stdin", e)) < 0)
		return ret;
	while ((ret = stream_in_next(&in, &rec, e)) > 0) {
		ret = rt_plan_add(p, rec, e);
		stream_record__free_unpacked(rec, NULL);
		if (ret < 0)
			break;
	}
	stream_in_close(&in);
	return ret;
}

/* Opens the pin of each of build-mntns' namespaces: the tasks in it enter
 * it before they take their cwd and files (fork.c). One fd serves them all. */
static int rt_open_pins(struct rt_plan *p, struct err *e)
{
	for (int k = 0; k < p->nr_mntns; k++) {
		const MntnsPlanEntry *m = p->mntns[k];
		int fd = open(m->pin, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return err_errno(e, "open the pin '%s' of mount namespace %u", m->pin, m->id);
		for (size_t j = 0; j < m->n_pids; j++)
			for (int i = 0; i < p->nr; i++)
				if (p->tasks[i].pe->pid == m->pids[j]) {
					p->tasks[i].has_mntns = true;
					p->tasks[i].mntns_fd = fd;
					p->tasks[i].mntns_id = m->id;
					p->tasks[i].mntns = m;
				}
	}
	return 0;
}

/* Takes every file restore-files sent, indexed by file id. The table is
 * sized by the ids, so they are bounded first: restore-files sends the ids
 * of files.img (at most IMAGE_MAX_FILE_ID) and numbers the working
 * directories and roots it opens after them, two per task at most. */
int rt_receive_files(struct rt_plan *p, int sock, struct err *e)
{
	uint64_t max = IMAGE_MAX_FILE_ID + 2 * (uint64_t)p->nr;
	int fds[FDPASS_BATCH], n, ret = 0;
	uint32_t ids[FDPASS_BATCH];

	while (ret == 0 && (n = fdpass_recv(sock, fds, ids, e)) > 0)
		for (int i = 0; i < n; i++) {
			if (ret < 0) {
				close(fds[i]);
				continue;
			}
			if (ids[i] > max) {
				ret = err_proto(e, "restore-files sent file id %u, over the limit of %llu", ids[i],
						(unsigned long long)max);
				close(fds[i]);
				continue;
			}
			if (ids[i] >= p->nr_ids) {
				size_t nr = p->nr_ids, want = (size_t)ids[i] + 64;

				if (grow_to(&p->file_fd, want) < 0) {
					ret = err_errno(e, "index received files");
					close(fds[i]);
					continue;
				}
				for (size_t j = nr; j < want; j++)
					p->file_fd[j] = -1;
				p->nr_ids = want;
			}
			if (p->file_fd[ids[i]] >= 0)
				close(p->file_fd[ids[i]]);
			p->file_fd[ids[i]] = fds[i];
		}
	return ret < 0 ? ret : n;
}

/* A task whose session leader is a helper (the leader is gone) is forked by
 * that helper, which called setsid(), with CLONE_PARENT; every other task by
 * its parent. */
static void rt_assign_creators(struct rt_plan *p)
{
	for (int i = 0; i < p->nr; i++) {
		struct rt_task *t = &p->tasks[i];

		t->creator = t->parent;
		if (t->pe->sid == t->pe->pid)
			continue;
		for (int h = 0; h < p->nr; h++)
			if (p->tasks[h].pe->helper && p->tasks[h].pe->pid == t->pe->sid &&
			    p->tasks[h].pe->sid == p->tasks[h].pe->pid && p->tasks[h].parent == t->parent)
				t->creator = h;
	}
}

/* The stage's fd of a file restore-files sent, or -1. */
static int rt_file_fd(const struct rt_plan *p, uint32_t id)
{
	return id < p->nr_ids ? p->file_fd[id] : -1;
}

/* Gives each task its cwd and root under an overmount, if it has one. */
static int rt_assign_dirs(struct rt_plan *p, struct err *e)
{
	for (int i = 0; i < p->nr_dirs; i++) {
		const FsPlanEntry *d = p->dirs[i];
		struct rt_task *t = NULL;

		for (int j = 0; j < p->nr; j++)
			if (p->tasks[j].pe->pid == d->pid)
				t = &p->tasks[j];
		if (!t)
			return err_proto(e, "fs plan for pid %u, which is not being restored", d->pid);
		if ((d->has_cwd_file_id && rt_file_fd(p, d->cwd_file_id) < 0) ||
		    (d->has_root_file_id && rt_file_fd(p, d->root_file_id) < 0))
			return err_proto(e, "the cwd or root of pid %u needs file id %u, which restore-files did not send",
					 d->pid, d->has_cwd_file_id ? d->cwd_file_id : d->root_file_id);
		if (d->has_cwd_file_id)
			t->cwd_src = rt_file_fd(p, d->cwd_file_id);
		if (d->has_root_file_id)
			t->root_src = rt_file_fd(p, d->root_file_id);
	}
	return 0;
}

/* Gives each task the list of its descriptors. */
static int rt_assign_fds(struct rt_plan *p, struct err *e)
{
	for (int i = 0; i < p->nr_fds; i++) {
		const FdPlanEntry *f = p->fds[i];
		struct rt_task *t = NULL;

		for (int j = 0; j < p->nr; j++)
			if (p->tasks[j].pe->pid == f->pid)
				t = &p->tasks[j];
		if (!t)
			return err_proto(e, "fd plan for pid %u, which is not being restored", f->pid);
		if (f->file_id >= p->nr_ids || p->file_fd[f->file_id] < 0)
			return err_proto(e, "pid %u fd %u needs file id %u, which restore-files did not send", f->pid, f->fd, f->file_id);
		if (grow_one(&t->fds, t->nr_fds) < 0)
			return err_errno(e, "plan fds");
		t->fds[t->nr_fds++] = (struct rt_fd){ p->file_fd[f->file_id], f->fd, f->cloexec, f, NULL };
	}
	return 0;
}

#define RT_ROLLBACK_TIMEOUT 10	/* seconds the rollback waits for the killed tasks to go */

/* Reaps what is this stage's to reap (its children, the tracees it still
 * holds) until none is left, for RT_ROLLBACK_TIMEOUT seconds at most. Never
 * a blocking wait on one pid: a thread group leader is reported only once
 * its other threads are gone, and those are tracees of this stage, reaped
 * by this same loop. */
static void rt_reap_all(void)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		pid_t got = waitpid(-1, NULL, __WALL | WNOHANG);

		if (got > 0 || (got < 0 && errno == EINTR))
			continue;
		if (got < 0)
			return;	/* ECHILD: nothing of ours is left */
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= RT_ROLLBACK_TIMEOUT) {
			pr_warn("rollback: tasks still not gone after %d s; the driver reaps what is left", RT_ROLLBACK_TIMEOUT);
			return;
		}
		usleep(1000);
	}
}

int rt_plan_check(struct rt_plan *p, struct err *e)
{
	int ret;

	if (p->nr == 0)
		return err_proto(e, "no task to restore on stdin");
	rt_assign_creators(p);
	if ((ret = rt_assign_fds(p, e)) < 0)
		return ret;
	return rt_assign_dirs(p, e);
}

/* Kills what was created; used on any failure so nothing is left behind.
 * Only tasks known to exist are killed: a pid that could not be had may
 * belong to someone else. */
static void rt_rollback(struct rt_plan *p)
{
	/* A pid namespace dies with its init: that takes every task in it. */
	if (p->init_host > 0)
		kill(p->init_host, SIGKILL);
	if (p->root_host > 0)
		kill(p->root_host, SIGKILL);
	/* Which tasks exist: those seen or flagged created, and any whose
	 * parent is this stage or such a task (one forked a moment ago has not
	 * flagged itself yet). Found before anything is killed: a killed
	 * task's children move to the driver, and a pid of the plan held by
	 * a process that is not the tree's (the pid was taken) is left alone. */
	bool *mine = p->pidns ? NULL : calloc(p->nr + 1, sizeof(*mine));

	for (int grew = 1; mine && grew;) {
		grew = 0;
		for (int i = 0; i < p->nr; i++) {
			struct proc_status st;
			struct err ignored;
			bool parent_mine = false;

			if (mine[i])
				continue;
			if (p->tasks[i].pid > 0 || (p->shared && atomic_load(&p->shared->slot[i].created))) {
				mine[i] = true;
				grew = 1;
				continue;
			}
			if (proc_read_status(p->tasks[i].pe->pid, 0, &st, &ignored) < 0)
				continue;
			parent_mine = st.ppid == getpid();
			for (int k = 0; k < p->nr && !parent_mine; k++)
				parent_mine = mine[k] && (uint32_t)st.ppid == p->tasks[k].pe->pid;
			if (parent_mine) {
				mine[i] = true;
				grew = 1;
			}
		}
	}
	for (int i = p->nr - 1; mine && i >= 0; i--) {
		if (mine[i]) {
			pid_t pid = p->tasks[i].pe->pid;

			kill(pid, SIGKILL);
			pr_info("rolled back: killed task %d", pid);
		}
	}
	free(mine);
	/* Tasks whose parent died before them are the driver's (a child
	 * subreaper) once this stage has let go of them: it reaps them. */
	rt_reap_all();
}

/* The paths of the /proc files the tasks hold (FdPlanEntry.proc_path),
 * with the pid of the restored process as this stage's proc shows it
 * (another one in a new pid namespace): every task exists now. */
static int rt_proc_paths(struct rt_plan *p, struct err *e)
{
	for (int i = 0; i < p->nr; i++)
		for (int k = 0; k < p->tasks[i].nr_fds; k++) {
			struct rt_fd *f = &p->tasks[i].fds[k];
			const FdPlanEntry *pl = f->plan;
			const char *rest;
			pid_t host = 0;

			if (!pl || !pl->has_proc_pid || !pl->proc_path)
				continue;
			rest = strncmp(pl->proc_path, "/proc/", 6) ? NULL : strchr(pl->proc_path + 6, '/');
			for (int j = 0; j < p->nr; j++)
				if (p->tasks[j].pe->pid == pl->proc_pid && !p->tasks[j].pe->helper)
					host = p->tasks[j].pid;
			if (host <= 0)
				return err_input(e, "pid %u fd %u is '%s', a file of pid %u, which is no live task of the tree",
						 p->tasks[i].pe->pid, pl->fd, pl->proc_path, pl->proc_pid);
			if (asprintf(&f->proc_path, "/proc/%d%s", host, rest ? rest : "") < 0)
				return err_errno(e, "plan the /proc files");
		}
	return 0;
}

void rt_plan_free(struct rt_plan *p)
{
	for (int i = 0; i < p->nr; i++) {
		free(p->tasks[i].epoll);
		rt_unload(&p->tasks[i]);
		pstree_entry__free_unpacked(p->tasks[i].pe, NULL);
	}
	for (int i = 0; i < p->nr_fds; i++)
		fd_plan_entry__free_unpacked(p->fds[i], NULL);
	for (int i = 0; i < p->nr_dirs; i++)
		fs_plan_entry__free_unpacked(p->dirs[i], NULL);
	free(p->dirs);
	for (int i = 0; i < p->nr_mntns; i++)
		mntns_plan_entry__free_unpacked(p->mntns[i], NULL);
	free(p->mntns);
	for (uint32_t i = 0; i < p->nr_ids; i++)
		if (p->file_fd[i] >= 0)
			close(p->file_fd[i]);
	free(p->tasks);
	free(p->fds);
	free(p->file_fd);
	if (p->shared)
		munmap(p->shared, p->shared_size);
	rt_shmem_free(p);
	rt_memfd_free(p);
	rt_procmnt_free(p);
	rt_ns_free(p);
}

/* Says which pids run again, as the driver sees them, and amber's init if
 * there is one (the driver waits for it instead of the root). */
static int rt_report(const struct rt_plan *p, struct err *e)
{
	struct stream_out out;
	int ret = stream_out_open(&out, 1, "restore-tasks", e);

	for (int i = -1; ret == 0 && i < p->nr; i++) {
		RestoredEntry re = RESTORED_ENTRY__INIT;
		StreamRecord rec = STREAM_RECORD__INIT;

		if (i < 0 && !p->init_host)
			continue;
		if (i >= 0 && (p->tasks[i].pe->zombie || p->tasks[i].pe->helper))
			continue;
		re.pid = i < 0 ? p->init_host : p->tasks[i].pid;
		re.has_root = true;
		re.root = i == 0;
		re.has_ns_init = i < 0;
		re.ns_init = i < 0;
		rec.body_case = STREAM_RECORD__BODY_RESTORED;
		rec.restored = &re;
		ret = stream_out_write(&out, &rec, e);
	}
	return ret ? ret : stream_out_end(&out, e);
}

void rt_foreground(const struct rt_plan *p, int tty)
{
	const struct rt_task *root = NULL;

	for (int i = 0; i < p->nr && !root; i++)
		if (!p->tasks[i].pe->ppid && !p->tasks[i].pe->helper)
			root = &p->tasks[i];
	/* A session leader lost its terminal with setsid; a member of amber's
	 * group has it already. */
	if (!root || root->pe->pgid != root->pe->pid || root->pe->sid == root->pe->pid || root->pid <= 0)
		return;
	if (tcgetpgrp(tty) != getpgrp()) {
		pr_info("the terminal's foreground is not amber's: pid %u's process group stays in the background",
			root->pe->pid);
		return;
	}
	/* Its group, as this stage sees it, has the root's pid here. */
	if (tcsetpgrp(tty, root->pid) < 0)
		pr_warn("could not give the terminal to pid %u's process group: %m", root->pe->pid);
	else
		pr_info("pid %u's process group has the terminal, as a shell's foreground job", root->pe->pid);
}

int restore_tasks_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct rt_opts *o = opts;
	struct rt_plan p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.pidns = o->pidns;
	p.lazy = o->lazy;
	p.lazy_sock = -1;
	ret = rt_plan_read(0, &p, e);
	if (ret == 0)
		ret = rt_open_pins(&p, e);
	if (ret == 0)
		ret = rt_receive_files(&p, stage_fd(ctx, FD_NAME_FILES), e);
	if (ret == 0)
		ret = rt_plan_check(&p, e);
	/* pid 1 can only be had as the init of a new pid namespace, and a tree
	 * dumped from a pid namespace of its own goes into a new one. */
	if (ret == 0 && p.nr && p.tasks[0].pe->pid == 1)
		p.pidns = true;
	if (ret == 0 && !p.pidns) {
		InventoryEntry *inv = NULL;
		struct err ignored;

		if (image_read_one(ctx->dir_fd, "inventory", "inventory.img", (ProtobufCMessage **)&inv, &ignored) == 0) {
			p.pidns = inv->has_pid_namespace && inv->pid_namespace;
			inventory_entry__free_unpacked(inv, NULL);
		}
	}
	for (int i = 0; ret == 0 && i < p.nr; i++)
		if (!p.tasks[i].pe->zombie && !p.tasks[i].pe->helper)
			ret = rt_load(ctx->dir_fd, &p.tasks[i], e);
	/* A removed working directory: the one restore-files made again. */
	for (int i = 0; ret == 0 && i < p.nr; i++) {
		struct rt_task *t = &p.tasks[i];

		if (!t->fs || !t->fs->has_cwd_file_id)
			continue;
		if (rt_file_fd(&p, t->fs->cwd_file_id) < 0)
			ret = err_input(e, "fs-%u.img: the removed working directory is file %u, which restore-files did not send",
					t->pe->pid, t->fs->cwd_file_id);
		else
			t->cwd_src = rt_file_fd(&p, t->fs->cwd_file_id);
	}
	/* Before any task exists: a memfd image that is missing or bad fails
	 * the restore with nothing to roll back. */
	if (ret == 0)
		ret = rt_memfd_make(ctx->dir_fd, &p, e);
	if (ret == 0)
		ret = rt_procmnt_plan(ctx->dir_fd, &p, e);
	if (ret == 0)
		ret = rt_ns_plan(ctx->dir_fd, &p, o, e);
	for (int i = 0; ret == 0 && p.lazy && i < p.nr; i++) {
		p.tasks[i].lazy = true;
		p.tasks[i].uffd = -1;
	}
	if (ret == 0 && p.lazy)
		ret = rt_lazy_start(ctx, o, &p, e);
	if (ret == 0)
		ret = rt_create_tree(&p, e);
	/* Every task it forks exists: from here on the stage is confined,
	 * and no restored process inherits it (they are forked already). */
	if (ret == 0)
		ret = stage_confine(ctx, e);
	/* After the tasks exist, so that none of them starts with a copy. */
	if (ret == 0)
		ret = rt_shmem_make(&p, e);
	if (ret == 0)
		ret = rt_proc_paths(&p, e);
	for (int i = 0, done = 0; ret == 0 && i < p.nr; i++) {
		if (p.tasks[i].pe->zombie || p.tasks[i].pe->helper)
			continue;
		if ((ret = rt_transplant(ctx->dir_fd, &p.tasks[i], e)) < 0)
			break;
		log_progress("%d of %d tasks restored", ++done, p.nr);
	}
	/* The tree's own proc, in its new pid namespace (procmnt.c). */
	if (ret == 0)
		ret = rt_procmnt_mount(&p, e);
	for (int i = 0; ret == 0 && i < p.nr; i++)
		if (!p.tasks[i].pe->zombie && !p.tasks[i].pe->helper)
			ret = rt_load_threads(&p.tasks[i], e);
	/* Before verify: whatever reads the tree's memory now is served. */
	if (ret == 0 && p.lazy)
		ret = rt_lazy_handover(&p, e);
	/* Last, with every task made and none running: the verify stage
	 * compares them with the images (unless --no-verify). */
	if (ret == 0 && stage_fd(ctx, FD_NAME_VERIFY) >= 0)
		ret = rt_verify(&p, stage_fd(ctx, FD_NAME_VERIFY), e);
	/* Before it runs: a job that reads its terminal must not meet SIGTTIN. */
	if (ret == 0 && stage_fd(ctx, FD_NAME_TTY) >= 0)
		rt_foreground(&p, stage_fd(ctx, FD_NAME_TTY));
	/* Stopped at dump: a SIGSTOP pending before it is detached, which it
	 * takes before it runs a single instruction of its own. */
	for (int i = 0; ret == 0 && i < p.nr; i++)
		if (p.tasks[i].pe->stopped && !p.tasks[i].pe->zombie && !p.tasks[i].pe->helper &&
		    kill(p.tasks[i].pid, SIGSTOP) < 0)
			ret = err_errno(e, "stop pid %u again (it was stopped at dump)", p.tasks[i].pe->pid);
	/* All at once: no restored task runs while another is still amber's. */
	for (int i = 0; ret == 0 && i < p.nr; i++)
		if (!p.tasks[i].pe->zombie && !p.tasks[i].pe->helper)
			ret = rt_release(&p.tasks[i], e);
	if (ret == 0)
		pr_info("restored %d processes, root %u (pid %d here)%s", p.nr, p.tasks[0].pe->pid, p.tasks[0].pid,
			p.pidns ? " in a new pid namespace" : "");
	if (ret == 0)
		ret = rt_report(&p, e);
	if (ret < 0)
		rt_rollback(&p);
	for (int i = 0; p.lazy && i < p.nr; i++)
		if (p.tasks[i].lazy && p.tasks[i].uffd >= 0)
			close(p.tasks[i].uffd);
	/* Closing it tells amber-lazy-pages (waiting for fds) that the restore failed. */
	if (p.lazy_sock >= 0)
		close(p.lazy_sock);
	rt_plan_free(&p);
	return ret;
}
