/* dump-files/anon.c: the state of anonymous-inode files (eventfd,
 * signalfd, timerfd, epoll, inotify), read from their fdinfo; see dump-files.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "stages/dump-files/dump-files.h"

/* Opens the file an inotify watch is on from its file handle, through a
 * mount of its file system in pid's mount table, and gives the path it has
 * now. fdinfo names the watched inode only by handle, and a path is what
 * restore can add a watch on (and what a user can read in the image). */
static int df_inotify_path(pid_t pid, const struct proc_inotify_watch *w, char *out, size_t cap, struct err *e)
{
	unsigned int major = w->sdev >> 20, minor = w->sdev & 0xfffff;
	_cleanup_free_ char *mounts = NULL;
	char path[PATH_MAX + 64], want[32];
	union {
		struct file_handle fh;
		char space[sizeof(struct file_handle) + PROC_HANDLE_MAX];
	} h;
	struct stat st;
	const char *p;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/mountinfo", pid);
	if ((ret = proc_read_file(path, &mounts, NULL, e)) < 0)
		return ret;
	snprintf(want, sizeof(want), " %u:%u ", major, minor);
	h.fh.handle_bytes = w->handle_bytes;
	h.fh.handle_type = w->handle_type;
	memcpy(h.fh.f_handle, w->handle, w->handle_bytes);
	for (p = strstr(mounts, want); p; p = strstr(p + 1, want)) {
		char root[PATH_MAX], mnt[PATH_MAX];
		_cleanup_close_ int mfd = -1, fd = -1;
		ssize_t n;

		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": any mount of the file
		 * system will do, the handle is resolved within it. */
		if (sscanf(p + strlen(want), "%4095s %4095s", root, mnt) != 2)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, mnt);
		/* Not O_PATH: open_by_handle_at wants a real open file (EBADF). */
		if ((mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
			continue;
		if ((fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC)) < 0) {
			if (errno == ESTALE)
				return err_input(e, "pid %d: inotify watch %d is on inode %llu, which was deleted; "
						 "amber can only restore watches on files that still exist",
						 pid, w->wd, (unsigned long long)w->ino);
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, out, cap - 1);
		if (n <= 0 || (size_t)n >= cap - 1 || fstat(fd, &st) < 0)
			return err_errno(e, "find the path of inotify watch %d of pid %d", w->wd, pid);
		out[n] = 0;
		if (st.st_ino != w->ino || out[0] != '/')
			return err_input(e, "pid %d: inotify watch %d is on inode %llu, which is not reachable by a path ('%s')",
					 pid, w->wd, (unsigned long long)w->ino, out);
		return 0;
	}
	return err_input(e, "pid %d: inotify watch %d is on inode %llu of device %u:%u, which no mount of the process "
			 "reaches", pid, w->wd, (unsigned long long)w->ino, major, minor);
}

/* An inotify instance: each watch with its path. The entries, their
 * pointers and the paths live in one block, *block, freed by the caller. */
static int df_inotify(pid_t pid, int fd, const char *text, AnonFileEntry *a, void **block, struct err *e)
{
	_cleanup_free_ struct proc_inotify_watch *w = NULL;
	InotifyWatchEntry *v, **vp;
	char *paths;
	int nr, ret;

	if ((ret = proc_parse_fdinfo_inotify(text, &w, &nr, e)) < 0)
		return err_wrap(e, "fdinfo of pid %d fd %d", pid, fd);
	a->kind = ANON_KIND__ANON_INOTIFY;
	if (!nr)
		return 0;
	*block = calloc(nr, sizeof(*v) + sizeof(*vp) + PATH_MAX);
	if (!*block)
		return err_errno(e, "keep the watches of inotify pid %d fd %d", pid, fd);
	v = *block;
	vp = (InotifyWatchEntry **)(v + nr);
	paths = (char *)(vp + nr);
	for (int i = 0; i < nr; i++) {
		char *path = paths + (size_t)i * PATH_MAX;

		if ((ret = df_inotify_path(pid, &w[i], path, PATH_MAX, e)) < 0)
			return ret;
		inotify_watch_entry__init(&v[i]);
		v[i].wd = w[i].wd;
		v[i].mask = w[i].mask;
		v[i].ignored_mask = w[i].ignored_mask;
		v[i].ino = w[i].ino;
		v[i].path = path;
		vp[i] = &v[i];
		pr_debug("pid %d fd %d: inotify watch %d on '%s' mask %#x", pid, fd, w[i].wd, path, w[i].mask);
	}
	a->n_inotify = nr;
	a->inotify = vp;
	return 0;
}

/* The state of an eventfd, signalfd, timerfd, epoll or inotify, from its fdinfo.
 * An epoll's registrations go into *tfds (malloc'd), pointed at by a;
 * an inotify's watches into *block (malloc'd, freed by the caller). */
static int df_anon(pid_t pid, int fd, const char *link, AnonFileEntry *a, EpollTargetEntry **tfds,
		   void **block, struct err *e)
{
	char path[64];
	_cleanup_free_ char *text = NULL;
	struct proc_fdinfo_anon fa;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	if (!strcmp(link, "anon_inode:inotify"))
		return df_inotify(pid, fd, text, a, block, e);
	if (!strcmp(link, "anon_inode:[eventpoll]") && !strstr(text, "tfd:")) {
		a->kind = ANON_KIND__ANON_EPOLL;	/* an epoll watching nothing yet */
		return 0;
	}
	if ((ret = proc_parse_fdinfo_anon(text, &fa, e)) < 0)
		return err_wrap(e, "'%s'", path);
	if (fa.epoll) {
		EpollTargetEntry **vp;

		a->kind = ANON_KIND__ANON_EPOLL;
		*tfds = calloc(fa.nr_tfd, sizeof(**tfds) + sizeof(*vp));
		if (!*tfds) {
			proc_fdinfo_anon_free(&fa);
			return err_errno(e, "keep the registrations of epoll pid %d fd %d", pid, fd);
		}
		/* The pointer array lives after the entries, in the same block. */
		vp = (EpollTargetEntry **)(*tfds + fa.nr_tfd);
		for (int i = 0; i < fa.nr_tfd; i++) {
			epoll_target_entry__init(&(*tfds)[i]);
			(*tfds)[i].tfd = fa.tfd[i].tfd;
			(*tfds)[i].events = fa.tfd[i].events;
			(*tfds)[i].data = fa.tfd[i].data;
			vp[i] = &(*tfds)[i];
		}
		a->n_epoll = fa.nr_tfd;
		a->epoll = vp;
		proc_fdinfo_anon_free(&fa);
	} else if (fa.eventfd) {
		a->kind = ANON_KIND__ANON_EVENTFD;
		a->has_eventfd_count = a->has_eventfd_semaphore = true;
		a->eventfd_count = fa.eventfd_count;
		a->eventfd_semaphore = fa.eventfd_semaphore;
	} else if (fa.signalfd) {
		a->kind = ANON_KIND__ANON_SIGNALFD;
		a->has_sigmask = true;
		a->sigmask = fa.sigmask;
	} else {
		a->kind = ANON_KIND__ANON_TIMERFD;
		a->has_clockid = a->has_ticks = a->has_settime_flags = a->has_value_ns = a->has_interval_ns = true;
		a->clockid = fa.clockid;
		a->ticks = fa.ticks;
		a->settime_flags = fa.settime_flags;
		a->value_ns = fa.value_sec * 1000000000ULL + fa.value_nsec;
		a->interval_ns = fa.interval_sec * 1000000000ULL + fa.interval_nsec;
	}
	return 0;
}

/* Only the anonymous inodes whose state fdinfo shows are supported. */
const char *df_anon_unsupported(const char *link, const struct stat *st, char *buf, size_t size)
{
	if (!strcmp(link, "anon_inode:[eventfd]") || !strcmp(link, "anon_inode:[signalfd]") ||
	    !strcmp(link, "anon_inode:[timerfd]") || !strcmp(link, "anon_inode:[eventpoll]") ||
	    !strcmp(link, "anon_inode:inotify") || !strcmp(link, "anon_inode:[pidfd]"))
		return NULL;
	if (!strcmp(link, "anon_inode:[io_uring]"))
		return "it is an io_uring instance, whose rings, registered files and requests in flight amber cannot "
		       "restore; close it before the dump";
	if (!strcmp(link, "anon_inode:[fanotify]"))
		return "it is a fanotify group, whose marks amber cannot read back yet; close it before the dump";
	if (!strcmp(link, "anon_inode:[userfaultfd]"))
		return "it is a userfaultfd, whose registered ranges and pending faults amber cannot restore; close it "
		       "before the dump";
	return "this kind of anonymous inode is not supported yet; close it before the dump";
}

/* Is the file of the registration (tfd, the toff-th of that number) of
 * epoll pid's epfd the file of pid's fd? */
static bool df_epoll_is(pid_t pid, int epfd, int tfd, int toff, int fd)
{
	struct kcmp_epoll_slot slot = { .efd = epfd, .tfd = tfd, .toff = toff };

	return syscall(SYS_kcmp, pid, pid, KCMP_EPOLL_TFD, fd, (unsigned long)&slot) == 0;
}

/* Is the file of registration t (at pid's fd) one that the restored task
 * opens only after its epolls' registrations are made (a pidfd, a file
 * under /proc/PID)? Then it is refused, naming it. */
static bool df_epoll_late(struct df *c, struct df_desc *d, const EpollTargetEntry *t, int fd)
{
	char path[64], link[256], why[384];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", d->pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = 0;
	if (strcmp(link, "anon_inode:[pidfd]") && !(!strncmp(link, "/proc/", 6) && link[6] >= '1' && link[6] <= '9'))
		return false;
	snprintf(why, sizeof(why), "its registration of fd %d (data %#llx) is of '%s', which the restored task opens "
		 "only after its epolls are made again; amber cannot register it yet (remove the registration first)",
		 t->tfd, (unsigned long long)t->data, link);
	df_refuse(c, d->pid, d->fd, d->link, why);
	return true;
}

/* Finds, for each registration of the epoll pid's fd whose file is no
 * longer at its fd number (closed, or dup'ed and closed), the fd of pid
 * that holds it (kcmp); refuses one that no fd of pid holds. */
static int df_epoll_files(struct df *c, struct df_desc *d, struct err *e)
{
	_cleanup_free_ int *fds = NULL;
	int nr = -1, ret;

	for (size_t i = 0; i < d->anon.n_epoll; i++) {
		EpollTargetEntry *t = d->anon.epoll[i];
		int toff = 0, k;

		for (size_t j = 0; j < i; j++)
			toff += d->anon.epoll[j]->tfd == t->tfd;
		if (df_epoll_is(d->pid, d->fd, t->tfd, toff, t->tfd)) {
			if (df_epoll_late(c, d, t, t->tfd))
				return 0;
			continue;
		}
		if (nr < 0 && (ret = proc_list_fds(d->pid, &fds, &nr, e)) < 0)
			return ret;
		for (k = 0; k < nr && !df_epoll_is(d->pid, d->fd, t->tfd, toff, fds[k]); k++)
			;
		if (k == nr) {
			char why[256];

			snprintf(why, sizeof(why), "its registration of fd %d (data %#llx) is of a file that fd %d no longer "
				 "holds and no other fd of pid %d holds; amber cannot register it again (close the epoll "
				 "or remove the registration first)", t->tfd, (unsigned long long)t->data, t->tfd, d->pid);
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
		if (df_epoll_late(c, d, t, fds[k]))
			return 0;
		t->has_file_fd = true;
		t->file_fd = fds[k];
		pr_debug("pid %d fd %d: the file registered as fd %d is at fd %d now", d->pid, d->fd, t->tfd, fds[k]);
	}
	return 0;
}

/* A pidfd: the process it refers to ("Pid:" of its fdinfo, -1 once it
 * was reaped) must be a live process of the tree, which the restored task
 * opens a pidfd of again; any other is refused by name. */
static int df_pidfd(struct df *c, struct df_desc *d, struct err *e)
{
	char path[64], why[256];
	_cleanup_free_ char *text = NULL;
	const char *at;
	long pid;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", d->pid, d->fd);
	if ((ret = proc_read_file(path, &text, NULL, e)) < 0)
		return ret;
	at = strstr(text, "\nPid:");
	if (!at)
		return err_input(e, "'%s' of a pidfd has no 'Pid:' line", path);
	pid = strtol(at + 5, NULL, 10);
	d->anon.kind = ANON_KIND__ANON_PIDFD;
	if (d->fi->flags & O_EXCL) {	/* PIDFD_THREAD */
		df_refuse(c, d->pid, d->fd, d->link, "it is a pidfd of a thread (PIDFD_THREAD), which amber cannot open "
			  "again yet; close it before the dump");
		return 0;
	}
	for (int i = 0; pid > 0 && i < c->nr_in_tasks; i++)
		if ((long)c->in_tasks[i].host == pid) {
			d->anon.has_pidfd_pid = true;
			d->anon.pidfd_pid = c->in_tasks[i].pid;
			return 0;
		}
	if (pid <= 0)
		snprintf(why, sizeof(why), "it is a pidfd of a process that has exited and was reaped; amber cannot "
			 "make such a pidfd again (close it before the dump)");
	else
		snprintf(why, sizeof(why), "it is a pidfd of pid %ld, which is not a live process of the tree; dump a "
			 "tree that holds that process too, or close the pidfd first", pid);
	df_refuse(c, d->pid, d->fd, d->link, why);
	return 0;
}

int df_anon_describe(struct df *c, struct df_desc *d, struct err *e)
{
	int ret;

	if (!strcmp(d->link, "anon_inode:[pidfd]")) {
		if ((ret = df_pidfd(c, d, e)) < 0)
			return ret;
		d->re.anon = &d->anon;
		d->re.has_mnt_id = false;
		return 0;
	}
	ret = df_anon(d->pid, d->fd, d->link, &d->anon, &d->tfds, &d->watches, e);

	if (ret < 0)
		return ret;
	if (d->anon.kind == ANON_KIND__ANON_EPOLL && d->anon.n_epoll && (ret = df_epoll_files(c, d, e)) < 0)
		return ret;
	d->re.anon = &d->anon;
	d->re.has_mnt_id = false;
	return 0;
}

void df_anon_release(struct df_desc *d)
{
	free(d->tfds);
	free(d->watches);
	d->tfds = NULL;
	d->watches = NULL;
}
