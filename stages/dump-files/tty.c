/* dump-files/tty.c: pseudo-terminal pairs whose master the tree holds, on
 * the host's devpts. Each end is a files.img record with a PtyEntry; the
 * master's carries the pair's state: termios and window size, packet
 * mode, lock, exclusive mode of each end, and what waits in each
 * direction. A tty queue cannot be peeked at, so it is read and written
 * back at once (lib/pty.h), whether the tree is killed or keeps running.
 * A slave whose master is outside the tree stays a terminal of the
 * outside (--shell-job, --external). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <limits.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/mountinfo.h"
#include "lib/pty.h"
#include "stages/dump-files/dump-files.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

const struct df_kind df_pty_kind = {
	.name = "pty",
	.prefix = "/dev/",
	.fd_type = FD_TYPE__FD_REG,
	.describe = df_pty_describe,
	.release = df_pty_release,
};

static bool df_pty_is_master(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(5, 2);
}

static bool df_pty_is_slave(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) >= 136 && major(st->st_rdev) <= 143;
}

/* The st_dev of the devpts instance of a pty master pid holds at fd, 0 if
 * not known: the file system of the master itself when it was opened as
 * devpts' own ptmx (/dev/pts/ptmx), else the "pts" directory beside the
 * /dev/ptmx it was opened by, as the kernel finds it, in pid's root. */
static uint64_t df_pty_master_dev(pid_t pid, int fd)
{
	char path[64], link[PATH_MAX], pts[PATH_MAX + 64], *slash;
	struct statfs sf;
	struct stat st;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (statfs(path, &sf) == 0 && sf.f_type == DEVPTS_SUPER_MAGIC && stat(path, &st) == 0)
		return st.st_dev;
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0 || link[0] != '/')
		return 0;
	link[n] = 0;
	slash = strrchr(link, '/');
	*slash = 0;
	snprintf(pts, sizeof(pts), "/proc/%d/root%s/pts", pid, link);
	if (statfs(pts, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC || stat(pts, &st) < 0)
		return 0;
	return st.st_dev;
}

/* Adds the index of pid's fd if it is a pty master. */
static int df_pty_scan_fd(struct df *c, pid_t pid, int fd, struct err *e)
{
	char path[64];
	struct stat st;
	unsigned int idx;
	int copy;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	if (stat(path, &st) < 0 || !df_pty_is_master(&st))
		return 0;
	if ((copy = df_getfd(c, pid, fd, e)) < 0)
		return copy;
	if (ioctl(copy, TIOCGPTN, &idx) < 0) {
		close(copy);
		return err_errno(e, "read the pty index of pid %d fd %d (TIOCGPTN)", pid, fd);
	}
	close(copy);
	if (grow_one(&c->pty_masters, c->nr_pty_masters) < 0)
		return err_errno(e, "remember pty master %u", idx);
	c->pty_masters[c->nr_pty_masters++] = (struct df_pty_master){ .idx = idx, .dev = df_pty_master_dev(pid, fd) };
	return 0;
}

int df_pty_scan(struct df *c, const pid_t *pids, int nr, struct err *e)
{
	struct stat st;

	c->devpts_dev = stat("/dev/pts", &st) == 0 ? st.st_dev : 0;
	for (int i = 0; i < nr; i++) {
		_cleanup_closedir_ DIR *d = NULL;
		struct dirent *de;
		char path[64];
		int ret;

		snprintf(path, sizeof(path), "/proc/%d/fd", pids[i]);
		if (!(d = opendir(path)))
			continue;	/* df_task says why */
		while ((de = readdir(d)))
			if (de->d_name[0] != '.' && (ret = df_pty_scan_fd(c, pids[i], atoi(de->d_name), e)) < 0)
				return ret;
	}
	return 0;
}

/* The master the tree holds of pty idx on devpts instance dev, or NULL. */
static const struct df_pty_master *df_pty_find(const struct df *c, uint64_t dev, unsigned int idx)
{
	for (int i = 0; i < c->nr_pty_masters; i++)
		if (c->pty_masters[i].idx == idx && c->pty_masters[i].dev == dev)
			return &c->pty_masters[i];
	return NULL;
}

bool df_pty_inside(const struct df *c, const struct stat *st)
{
	if (df_pty_is_master(st))
		return true;
	return df_pty_is_slave(st) && df_pty_find(c, st->st_dev, pty_index_of(st->st_rdev));
}

/* The fd of pid on the device rdev, or -1; its stat in *st. */
static int df_pty_fd_on(pid_t pid, dev_t rdev, struct stat *st)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d))) {
		char p[64 + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (stat(p, st) == 0 && S_ISCHR(st->st_mode) && st->st_rdev == rdev)
			return atoi(de->d_name);
	}
	return -1;
}

/* The master of pid's controlling terminal if it is a slave whose master
 * the tree holds, else NULL. tty_nr says only the index: with masters of
 * that index on several devpts instances, a descriptor pid holds on the
 * slave says which. */
static const struct df_pty_master *df_pty_ctty_master(const struct df *c, pid_t pid)
{
	const struct df_pty_master *found = NULL;
	struct proc_stat st;
	struct err ignored = { 0 };
	struct stat fst;
	dev_t rdev;
	int n = 0;

	if (proc_read_stat(pid, 0, &st, &ignored) < 0 || !st.tty_nr)
		return NULL;
	rdev = makedev(major(st.tty_nr), minor(st.tty_nr));
	if (major(rdev) < 136 || major(rdev) > 143)
		return NULL;
	for (int i = 0; i < c->nr_pty_masters; i++)
		if (c->pty_masters[i].idx == pty_index_of(rdev))
			found = &c->pty_masters[i], n++;
	if (n <= 1)
		return found;
	return df_pty_fd_on(pid, rdev, &fst) >= 0 ? df_pty_find(c, fst.st_dev, pty_index_of(rdev)) : NULL;
}

bool df_pty_dev_tty(const struct df *c, pid_t pid, const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(5, 0) && df_pty_ctty_master(c, pid);
}

/* How the images name devpts instance dev of a pty end pid holds: 0 for
 * the host's /dev/pts, else the mount id of a devpts mount of it in pid's
 * mount namespace, which must be the tree's own (build-mntns makes that
 * mount again); -1 with *why set when it cannot be made again. */
static int df_pty_devpts(const struct df *c, pid_t pid, uint64_t dev, char *why, size_t size)
{
	struct mountinfo_table mt = { 0 };
	struct err ignored = { 0 };
	struct stat self, its;
	char path[64];
	int id = -1;

	if (dev == c->devpts_dev)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if (stat("/proc/self/ns/mnt", &self) < 0 || stat(path, &its) < 0 || self.st_ino == its.st_ino) {
		snprintf(why, size, "it is an end of a pty of a devpts instance (%u:%u) other than the host's /dev/pts, "
			 "mounted in the dumper's mount namespace, not in the tree's own; amber makes such an instance "
			 "again only as a mount of the tree's own mount namespace", major(dev), minor(dev));
		return -1;
	}
	if (mountinfo_read(pid, &mt, &ignored) == 0)
		for (int i = 0; i < mt.nr && id < 0; i++)
			if (!strcmp(mt.m[i].fstype, "devpts") && makedev(mt.m[i].major, mt.m[i].minor) == dev &&
			    !strcmp(mt.m[i].root, "/"))
				id = mt.m[i].id;
	mountinfo_free(&mt);
	if (id < 0)
		snprintf(why, size, "it is an end of a pty of a devpts instance (%u:%u) that is mounted nowhere in the "
			 "tree's mount namespace (unmounted after the pty was made?); amber makes a pty again only on "
			 "a devpts mount it makes again", major(dev), minor(dev));
	return id;
}

/* The most a drain reads: the line discipline's buffer and the flip
 * buffers behind it (64 KiB), so that all of it can be put back. */
#define DF_PTY_DRAIN_MAX (PTY_QUEUE_MAX + 1 + 65536 + 4096)

/* Reads what waits in fd (non-blocking) into *buf, all of it up to
 * DF_PTY_DRAIN_MAX. skip: a packet-mode master's leading status byte of
 * each read. */
static int df_pty_drain(int fd, bool skip, uint8_t **buf, size_t *n, struct err *e)
{
	_cleanup_free_ uint8_t *tmp = malloc(DF_PTY_DRAIN_MAX + 1);
	size_t have = 0;

	*n = 0;
	if (!tmp)
		return err_errno(e, "a buffer for the pty's queue");
	for (;;) {
		ssize_t r;

		if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, have ? 20 : 0) <= 0)
			break;
		r = read(fd, tmp + have, DF_PTY_DRAIN_MAX + 1 - have);
		if (r < 0 && (errno == EAGAIN || errno == EIO))
			break;
		if (r < 0)
			return err_errno(e, "read the pty's queue");
		if (r == 0)
			break;
		if (skip) {
			memmove(tmp + have, tmp + have + 1, r - 1);
			r--;
		}
		have += r;
		if (have >= DF_PTY_DRAIN_MAX)
			return err_input(e, "the pty's queue holds more than %d bytes", DF_PTY_DRAIN_MAX);
	}
	if (!have)
		return 0;
	*buf = TAKE_PTR(tmp);
	*n = have;
	return 0;
}

/* Canonical mode: what FIONREAD does not count there. End-of-file marks
 * (^D on an empty line) make the slave readable with nothing counted; a
 * non-blocking read takes one and returns 0, so they are counted by
 * reading them (into *eofs; a complete line after them stops it, *more).
 * Then an unfinished line (in *n its length): it is seen only out of
 * canonical mode, and going back to it would end the line there (n_tty
 * marks the last byte as a line end), so it is read out of canonical
 * mode. Both are put back at once, exactly: the marks, then the line,
 * unfinished (lib/pty.c). */
static int df_pty_canon_rest(int master, int peer, const struct termios *t, unsigned int *eofs, int *more, size_t *n,
			     struct err *e)
{
	_cleanup_free_ uint8_t *line = NULL;
	struct termios raw = *t;
	int ret = 0, ret2;

	*n = 0;
	*eofs = 0;
	*more = 0;
	for (;;) {
		struct pollfd pf = { .fd = peer, .events = POLLIN };
		char c;
		ssize_t r;

		if (poll(&pf, 1, 0) <= 0 || !(pf.revents & POLLIN) || *eofs >= PTY_QUEUE_MAX)
			break;
		if (ioctl(peer, FIONREAD, more) < 0 || *more)
			break;
		r = read(peer, &c, 1);
		if (r != 0)
			break;	/* EAGAIN: nothing after all */
		(*eofs)++;
	}
	if (!*more) {
		raw.c_lflag &= ~(ICANON | ECHO | ECHOE | ECHOK | ECHONL);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(peer, TCSANOW, &raw) < 0)
			ret = err_errno(e, "look at the pty slave's input");
		else {
			ret = df_pty_drain(peer, false, &line, n, e);
			/* Empty now, so going back to canonical mode ends no line. */
			if (tcsetattr(peer, TCSANOW, t) < 0)
				return err_errno(e, "set the pty slave's termios back after reading an unfinished line");
		}
	}
	if ((ret2 = pty_put_line(master, peer, t, *eofs, line, *n, e)) < 0)
		return ret2;
	return ret;
}

/* The slave of a master copy, opened here: unlocked for a moment if
 * it is locked. */
static int df_pty_peer(int master, bool locked, struct err *e)
{
	int zero = 0, one = 1, peer;

	if (locked && ioctl(master, TIOCSPTLCK, &zero) < 0)
		return err_errno(e, "unlock the pty for a moment");
	peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (peer < 0)
		err_errno(e, "open the pty's slave (TIOCGPTPEER)");
	if (locked && ioctl(master, TIOCSPTLCK, &one) < 0 && peer >= 0) {
		close(peer);
		return err_errno(e, "lock the pty again");
	}
	return peer < 0 ? -EIO : peer;
}

/* The pair's state and queues, into the master's record. Every refusal
 * that can be decided without reading a queue is decided first; what is
 * read is put back whole, the refusal after that included. */
static int df_pty_master(struct df *c, struct df_desc *d, int copy, struct err *e)
{
	PtyEntry *p = &d->pty;
	TtyStateEntry *ts;
	struct termios t;
	struct stat pst;
	int pkt = 0, lock = 0, excl = 0, n = 0, ret, devpts;
	size_t qn[2] = { 0, 0 }, line = 0;
	unsigned int eofs = 0;
	_cleanup_close_ int peer = -1;
	char why[512];

	if ((ret = df_tty_state(c, d->pid, d->fd, &d->pty_state, d->pty_cc, &ts, e)) < 0)
		return ret;
	if (!ts || tcgetattr(copy, &t) < 0)
		return err_errno(e, "read the termios of pty %u (pid %d fd %d)", p->index, d->pid, d->fd);
	p->state = ts;
	if (ioctl(copy, TIOCGPKT, &pkt) < 0 || ioctl(copy, TIOCGPTLCK, &lock) < 0 || ioctl(copy, TIOCGEXCL, &excl) < 0)
		return err_errno(e, "read the modes of pty master %u (pid %d fd %d)", p->index, d->pid, d->fd);
	p->has_packet = p->has_locked = p->has_master_excl = p->has_slave_excl = true;
	p->packet = pkt;
	p->locked = lock;
	p->master_excl = excl;
	if ((peer = df_pty_peer(copy, lock, e)) < 0)
		return peer;
	if (fstat(peer, &pst) < 0)
		return err_errno(e, "fstat the slave of pty %u", p->index);
	if ((devpts = df_pty_devpts(c, d->pid, pst.st_dev, why, sizeof(why))) < 0) {
		df_refuse(c, d->pid, d->fd, d->link, why);
		return 0;
	}
	if (devpts) {
		p->has_devpts = true;
		p->devpts = devpts;
	}
	if (ioctl(peer, TIOCGEXCL, &excl) < 0)
		return err_errno(e, "read the exclusive mode of the slave of pty %u", p->index);
	p->slave_excl = excl;
	/* A status byte waiting for a packet-mode reader cannot be put back. */
	if (pkt) {
		struct pollfd pf = { .fd = copy, .events = POLLPRI };

		if (poll(&pf, 1, 0) > 0 && (pf.revents & POLLPRI)) {
			df_refuse(c, d->pid, d->fd, d->link, "it is a pty master in packet mode with a status change "
				  "(TIOCPKT_*) not read yet, which amber cannot put back; let the program read it");
			return 0;
		}
	}
	/* Complete lines of canonical input: FIONREAD counts them there, and
	 * nothing has been read or changed yet. */
	if (ioctl(peer, FIONREAD, &n) < 0)
		return err_errno(e, "count the pty slave's input");
	if ((t.c_lflag & ICANON) && n) {
		snprintf(why, sizeof(why), "the slave of pty %u (/dev/pts/%u) holds %d bytes of input in canonical "
			 "mode not read yet; amber puts queued input back only in non-canonical (raw) mode",
			 p->index, p->index, n);
		df_refuse(c, d->pid, d->fd, d->link, why);
		return 0;
	}
	if (t.c_lflag & ICANON) {
		if ((ret = df_pty_canon_rest(copy, peer, &t, &eofs, &n, &line, e)) < 0)
			return err_wrap(e, "pty %u of pid %d fd %d", p->index, d->pid, d->fd);
		if (n) {
			snprintf(why, sizeof(why), "the slave of pty %u (/dev/pts/%u) holds %d bytes of input in canonical "
				 "mode not read yet, after %u end-of-file marks; amber puts queued input back only in "
				 "non-canonical (raw) mode", p->index, p->index, n, eofs);
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
		if (line) {
			snprintf(why, sizeof(why), "the slave of pty %u (/dev/pts/%u) holds an unfinished line of %zu "
				 "bytes of input in canonical mode (typed, no Enter yet); amber puts queued input back "
				 "only in non-canonical (raw) mode; finish or erase the line", p->index, p->index, line);
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
	} else if ((ret = df_pty_drain(peer, false, &d->pty_q[0], &qn[0], e)) < 0)
		return err_wrap(e, "pty %u of pid %d fd %d", p->index, d->pid, d->fd);
	/* The master is read through the tree's own description: with data
	 * waiting (poll says so) a read does not block. */
	if ((ret = df_pty_drain(copy, pkt, &d->pty_q[1], &qn[1], e)) < 0) {
		pty_put_input(copy, peer, &t, d->pty_q[0], qn[0], &(struct err){ 0 });
		return err_wrap(e, "pty %u of pid %d fd %d", p->index, d->pid, d->fd);
	}
	/* Back at once, all of it, in the same order, whatever happens next. */
	if ((ret = pty_put_input(copy, peer, &t, d->pty_q[0], qn[0], e)) < 0 ||
	    (ret = pty_put_output(copy, peer, &t, d->pty_q[1], qn[1], e)) < 0)
		return err_wrap(e, "pty %u of pid %d fd %d", p->index, d->pid, d->fd);
	for (int i = 0; i < 2; i++)
		if (qn[i] > PTY_QUEUE_MAX) {
			snprintf(why, sizeof(why), "pty %u holds %zu bytes %s, more than the %d amber can put back "
				 "(they were put back); let the program read them", p->index, qn[i],
				 i ? "written to the slave and not read from the master"
				   : "written to the master and not read from the slave", PTY_QUEUE_MAX);
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
	p->has_eofs = eofs > 0;
	p->eofs = eofs;
	if (eofs)
		pr_info("pty %u: %u end-of-file marks wait at the slave", p->index, eofs);
	p->has_to_slave = qn[0] > 0;
	p->to_slave.data = d->pty_q[0];
	p->to_slave.len = qn[0];
	p->has_to_master = qn[1] > 0;
	p->to_master.data = d->pty_q[1];
	p->to_master.len = qn[1];
	if (qn[0] || qn[1])
		pr_info("pty %u: %zu bytes queued to the slave, %zu to the master", p->index, qn[0], qn[1]);
	return 0;
}

int df_pty_describe(struct df *c, struct df_desc *d, struct err *e)
{
	PtyEntry *p = &d->pty;
	_cleanup_close_ int copy = -1;
	unsigned int idx;
	char why[512];
	int devpts;

	pty_entry__init(p);
	tty_state_entry__init(&d->pty_state);
	if (d->st->st_rdev == makedev(5, 0)) {
		const struct df_pty_master *m = df_pty_ctty_master(c, d->pid);

		if (!m)
			return err_input(e, "pid %d fd %d: /dev/tty, whose terminal changed during the dump", d->pid, d->fd);
		p->index = m->idx;
		p->has_dev_tty = p->dev_tty = true;
		if ((devpts = df_pty_devpts(c, d->pid, m->dev, why, sizeof(why))) > 0)
			p->has_devpts = true, p->devpts = devpts;
		d->re.pty = p;
		return 0;
	}
	if (!df_pty_is_master(d->st)) {
		p->index = pty_index_of(d->st->st_rdev);
		if ((devpts = df_pty_devpts(c, d->pid, d->st->st_dev, why, sizeof(why))) < 0) {
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
		if (devpts)
			p->has_devpts = true, p->devpts = devpts;
		d->re.pty = p;
		return 0;
	}
	if ((copy = df_getfd(c, d->pid, d->fd, e)) < 0)
		return copy;
	if (ioctl(copy, TIOCGPTN, &idx) < 0)
		return err_errno(e, "read the pty index of pid %d fd %d (TIOCGPTN)", d->pid, d->fd);
	p->index = idx;
	p->master = true;
	d->re.pty = p;
	return df_pty_master(c, d, copy, e);
}

void df_pty_release(struct df_desc *d)
{
	free(d->pty_q[0]);
	free(d->pty_q[1]);
	d->pty_q[0] = d->pty_q[1] = NULL;
}

int df_pty_ctty(struct df *c, pid_t pid, FsEntry *fs, struct err *e)
{
	struct proc_stat st;
	struct stat fst;
	dev_t rdev;
	unsigned int idx;
	bool inside = false, same_ids = true;
	char link[64], why[256];
	int fd, ret;

	if ((ret = proc_read_stat(pid, 0, &st, e)) < 0)
		return ret;
	if (!st.tty_nr || st.session != pid)
		return 0;	/* no terminal, or a member's: its leader's */
	rdev = makedev(major(st.tty_nr), minor(st.tty_nr));
	if (major(rdev) < 136 || major(rdev) > 143)
		return 0;	/* another terminal: the outside's (--shell-job) or refused with its fds */
	idx = pty_index_of(rdev);
	for (int i = 0; i < c->nr_pty_masters; i++)
		inside |= c->pty_masters[i].idx == idx;
	if (!inside)
		return 0;
	snprintf(link, sizeof(link), "/dev/pts/%u", idx);
	fd = df_pty_fd_on(pid, rdev, &fst);
	if (fd >= 0 && !df_pty_find(c, fst.st_dev, idx))
		return 0;	/* a slave of another instance, the outside's */
	if (fd < 0) {
		df_refuse(c, pid, -1, link, "it is the controlling terminal of session leader pid, which holds no "
			  "descriptor on it; amber makes a restored session leader take its terminal through one");
		return 0;
	}
	fs->has_ctty_fd = true;
	fs->ctty_fd = fd;
	if (st.tpgid <= 0)
		return 0;
	/* The foreground group as the images name it. */
	for (int i = 0; i < c->nr_in_tasks; i++) {
		same_ids &= c->in_tasks[i].pid == c->in_tasks[i].host;
		if ((pid_t)c->in_tasks[i].host == st.tpgid) {
			fs->has_ctty_fg = true;
			fs->ctty_fg = c->in_tasks[i].pid;
			return 0;
		}
	}
	if (same_ids) {
		fs->has_ctty_fg = true;
		fs->ctty_fg = st.tpgid;
		return 0;
	}
	snprintf(why, sizeof(why), "the foreground process group %d of its controlling terminal is no process of "
		 "the tree's pid namespace", st.tpgid);
	df_refuse(c, pid, fd, link, why);
	return 0;
}
