/* restore-files/anon.c: eventfd, signalfd, timerfd, epoll and inotify
 * made again from their dumped state; see reopen.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)	/* linux/timerfd.h */
#endif

static int reopen_watch_cmp(const void *a, const void *b)
{
	return (*(InotifyWatchEntry *const *)a)->wd - (*(InotifyWatchEntry *const *)b)->wd;
}

/* Adds an inotify's watches again with their watch descriptors, which the
 * process knows by number. The kernel hands them out in increasing order
 * from the last one given, so each is added in wd order, and one that comes
 * out too small is removed and added again until the number matches. A
 * removal queues an IN_IGNORED event; those are read off afterwards so the
 * process never sees them. */
static int reopen_inotify_watches(int fd, const RegFileEntry *re, struct err *e)
{
	const AnonFileEntry *a = re->anon;
	_cleanup_free_ InotifyWatchEntry **w = malloc(sizeof(*w) * (a->n_inotify + 1));
	bool removed = false;

	if (!w)
		return err_errno(e, "order the watches of inotify (id %u)", re->id);
	if (!a->n_inotify)
		return 0;
	memcpy(w, a->inotify, sizeof(*w) * a->n_inotify);
	qsort(w, a->n_inotify, sizeof(*w), reopen_watch_cmp);
	for (size_t i = 0; i < a->n_inotify; i++) {
		/* IN_MASK_ADD and IN_MASK_CREATE are requests, not state. */
		uint32_t mask = w[i]->mask & ~(IN_MASK_ADD | IN_MASK_CREATE);
		int wd;

		if (i && w[i]->wd == w[i - 1]->wd)
			return err_input(e, "files.img: inotify (id %u) has watch %d twice", re->id, w[i]->wd);
		for (;;) {
			wd = inotify_add_watch(fd, w[i]->path, mask);
			if (wd < 0 && errno == ENOENT)
				return err_input(e, "'%s', watched by inotify (id %u) as watch %d, is missing; it was removed or "
						 "renamed since the dump", w[i]->path, re->id, w[i]->wd);
			if (wd < 0)
				return err_errno(e, "add inotify watch %d on '%s' (mask %#x)", w[i]->wd, w[i]->path, mask);
			if (wd >= w[i]->wd)
				break;
			inotify_rm_watch(fd, wd);
			removed = true;
		}
		if (wd != w[i]->wd)
			return err_input(e, "inotify (id %u): watch on '%s' came back as %d, not %d (two watches on one file?)",
					 re->id, w[i]->path, wd, w[i]->wd);
	}
	if (removed) {
		char buf[4096];
		int fl = fcntl(fd, F_GETFL);

		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		fcntl(fd, F_SETFL, fl);
	}
	return 0;
}

/* Makes an eventfd, signalfd or timerfd again, in the state it was dumped in. */
int reopen_anon(struct reopen_file *f, struct err *e)
{
	const RegFileEntry *re = f->re;
	const AnonFileEntry *a = re->anon;
	bool nonblock = re->flags & O_NONBLOCK;
	_cleanup_close_ int fd = -1;

	switch (a->kind) {
	case ANON_KIND__ANON_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC | (nonblock ? EFD_NONBLOCK : 0) | (a->eventfd_semaphore ? EFD_SEMAPHORE : 0));
		/* The count is 64 bits; eventfd(2)'s start value only 32. */
		if (fd >= 0 && a->eventfd_count && write(fd, &a->eventfd_count, 8) != 8)
			return err_errno(e, "set the count %llu of eventfd (id %u)", (unsigned long long)a->eventfd_count, re->id);
		break;
	case ANON_KIND__ANON_SIGNALFD: {
		sigset_t mask;

		sigemptyset(&mask);
		for (int sig = 1; sig <= 64; sig++)
			if (a->sigmask & (1ULL << (sig - 1)))
				sigaddset(&mask, sig);
		fd = signalfd(-1, &mask, SFD_CLOEXEC | (nonblock ? SFD_NONBLOCK : 0));
		break;
	}
	case ANON_KIND__ANON_TIMERFD: {
		struct itimerspec it = {
			{ a->interval_ns / 1000000000ULL, a->interval_ns % 1000000000ULL },
			{ a->value_ns / 1000000000ULL, a->value_ns % 1000000000ULL },
		};

		fd = timerfd_create(a->clockid, TFD_CLOEXEC | (nonblock ? TFD_NONBLOCK : 0));
		/* fdinfo gives the time left, so the timer is set relative to now.
		 * A periodic timer that expired and was not read yet shows no time
		 * left (the kernel moves it on only at the read): its next expiry is
		 * within one interval, and its unread ticks are given below. */
		if (!a->value_ns && a->interval_ns)
			it.it_value = it.it_interval;
		if (fd >= 0 && (a->value_ns || a->interval_ns) && timerfd_settime(fd, 0, &it, NULL) < 0)
			return err_errno(e, "arm timerfd (id %u)", re->id);
		if (fd >= 0 && a->ticks && ioctl(fd, TFD_IOC_SET_TICKS, &a->ticks) < 0)
			return err_errno(e, "give timerfd (id %u) its %llu unread expirations", re->id, (unsigned long long)a->ticks);
		break;
	}
	case ANON_KIND__ANON_EPOLL:
		/* Empty: its registrations are made by the task (see reopen_write_plan). */
		fd = epoll_create1(EPOLL_CLOEXEC);
		break;
	case ANON_KIND__ANON_INOTIFY: {
		int ret;

		fd = inotify_init1(IN_CLOEXEC | (nonblock ? IN_NONBLOCK : 0));
		if (fd >= 0 && (ret = reopen_inotify_watches(fd, re, e)) < 0)
			return ret;
		break;
	}
	case ANON_KIND__ANON_PIDFD:
		/* Its process does not exist yet: a stand-in, which the task
		 * replaces with its own pidfd_open once every task exists. */
		if (!a->has_pidfd_pid || !a->pidfd_pid)
			return err_input(e, "files.img: pidfd (id %u) names no process", re->id);
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		break;
	default:
		return err_input(e, "files.img: file %u is an anonymous inode of unknown kind %d", re->id, a->kind);
	}
	if (fd < 0)
		return err_errno(e, "make %s (id %u) of pid %d fd %u again", re->path, re->id, f->pid, f->tfd);
	pr_trace("file %u: %s", re->id, re->path);
	f->fd = TAKE_FD(fd);
	return 0;
}
