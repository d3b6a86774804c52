/* inotify: a self-checking workload for inotify instances.
 *
 *	inotify READYFILE RESULTFILE DIR
 *
 * One non-blocking inotify watches DIR/a for IN_MODIFY (wd 1), DIR for
 * IN_CREATE (wd 2) and DIR/c for IN_MODIFY | IN_ONESHOT (wd 4): a watch
 * on DIR/b (wd 3) was added and removed, so the numbers have a gap, and its
 * IN_IGNORED event was read. A second, blocking inotify watches nothing.
 * After SIGUSR1 it checks the flags, that no event is queued (none may be
 * left over from making the watches again), then that a write to a gives
 * IN_MODIFY on wd 1, a new file in DIR gives IN_CREATE with its name on
 * wd 2, a write to c gives IN_MODIFY then IN_IGNORED on wd 4 (one-shot), a
 * write to b gives nothing, and that a new watch gets wd 5. PASS or FAIL
 * lines go to RESULTFILE. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "workload.h"

/* Appends a line to DIR/NAME (creating it). */
static int touch(const char *dir, const char *name)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd < 0 || write(fd, "x\n", 2) != 2)
		return -1;
	return close(fd);
}

/* Reads the events queued within 200 ms into buf; their total size. */
static ssize_t events(int fd, char *buf, size_t cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, 200) <= 0)
		return 0;
	wl_sleep_ms(50);	/* let the rest of one action's events arrive */
	n = read(fd, buf, cap);
	return n < 0 ? 0 : n;
}

struct want { int wd; uint32_t mask; const char *name; };

/* Checks that buf holds exactly the events want (wd, mask, name or ""). */
static void expect(struct wl_report *r, const char *what, const char *buf, ssize_t n, int nwant,
		   const struct want *want)
{
	int i = 0;

	for (ssize_t off = 0; off < n; i++) {
		const struct inotify_event *ev = (const void *)(buf + off);
		const char *name = ev->len ? ev->name : "";

		if (i >= nwant)
			wl_fail(r, "%s: an extra event wd %d mask %#x '%s'", what, ev->wd, ev->mask, name);
		else if (ev->wd != want[i].wd || ev->mask != want[i].mask || strcmp(name, want[i].name))
			wl_fail(r, "%s: event %d is wd %d mask %#x '%s', want wd %d mask %#x '%s'", what, i, ev->wd, ev->mask,
				name, want[i].wd, want[i].mask, want[i].name);
		off += sizeof(*ev) + ev->len;
	}
	if (i < nwant)
		wl_fail(r, "%s: %d events, want %d", what, i, nwant);
}

int main(int argc, char **argv)
{
	char report[4096] = "", path[4096], buf[4096] __attribute__((aligned(8)));
	struct wl_report r = { report, sizeof(report), 0 };
	const char *dir;
	int in, idle, wb, fl;
	ssize_t n;

	if (argc < 4)
		return 2;
	dir = argv[3];
	wl_catch_usr1();
	if (touch(dir, "a") < 0 || touch(dir, "b") < 0 || touch(dir, "c") < 0)
		return 1;
	in = inotify_init1(IN_NONBLOCK);
	idle = inotify_init1(0);
	snprintf(path, sizeof(path), "%s/a", dir);
	if (in < 0 || idle < 0 || inotify_add_watch(in, path, IN_MODIFY) != 1 || inotify_add_watch(in, dir, IN_CREATE) != 2)
		return 1;
	snprintf(path, sizeof(path), "%s/b", dir);
	wb = inotify_add_watch(in, path, IN_MODIFY);
	snprintf(path, sizeof(path), "%s/c", dir);
	if (wb != 3 || inotify_add_watch(in, path, IN_MODIFY | IN_ONESHOT) != 4 || inotify_rm_watch(in, wb) < 0)
		return 1;
	events(in, buf, sizeof(buf));	/* b's IN_IGNORED */
	if (wl_write_ready(argv[1], getpid()) < 0)
		return 1;
	wl_wait_usr1();

	fl = fcntl(in, F_GETFL);
	if (!(fl & O_NONBLOCK))
		wl_fail(&r, "the inotify lost O_NONBLOCK (flags %#o)", fl);
	if (fcntl(idle, F_GETFL) & O_NONBLOCK)
		wl_fail(&r, "the idle inotify became non-blocking");
	n = read(in, buf, sizeof(buf));
	if (n >= 0 || errno != EAGAIN)
		wl_fail(&r, "%zd bytes of events were queued right after restore", n);
	{
		static const struct want a[] = { { 1, IN_MODIFY, "" } },
			created[] = { { 2, IN_CREATE, "new" } }, c[] = { { 4, IN_MODIFY, "" }, { 4, IN_IGNORED, "" } };

		touch(dir, "a");
		n = events(in, buf, sizeof(buf));
		expect(&r, "write to a", buf, n, 1, a);
		touch(dir, "new");
		n = events(in, buf, sizeof(buf));
		expect(&r, "create new", buf, n, 1, created);
		touch(dir, "c");
		n = events(in, buf, sizeof(buf));
		expect(&r, "write to c (one-shot)", buf, n, 2, c);
		touch(dir, "b");
		n = events(in, buf, sizeof(buf));
		expect(&r, "write to b (unwatched)", buf, n, 0, NULL);
	}
	snprintf(path, sizeof(path), "%s/b", dir);
	if ((wb = inotify_add_watch(in, path, IN_MODIFY)) != 5)
		wl_fail(&r, "a new watch got wd %d, want 5", wb);
	wl_write_result(argv[2], &r);
	return r.nfails ? 1 : 0;
}
