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
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/grow.h"
#include "lib/log.h"
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
	c->pty_masters[c->nr_pty_masters++] = idx;
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

bool df_pty_inside(const struct df *c, const struct stat *st)
{
	if (df_pty_is_master(st))
		return true;
	if (!df_pty_is_slave(st) || st->st_dev != c->devpts_dev)
		return false;
	for (int i = 0; i < c->nr_pty_masters; i++)
		if (c->pty_masters[i] == pty_index_of(st->st_rdev))
			return true;
	return false;
}

/* The pty index of pid's controlling terminal if it is a slave whose
 * master the tree holds, else -1. */
static int df_pty_ctty_index(const struct df *c, pid_t pid)
{
	struct proc_stat st;
	struct err ignored = { 0 };
	dev_t rdev;

	if (proc_read_stat(pid, 0, &st, &ignored) < 0 || !st.tty_nr)
		return -1;
	rdev = makedev(major(st.tty_nr), minor(st.tty_nr));
	if (major(rdev) < 136 || major(rdev) > 143)
		return -1;
	for (int i = 0; i < c->nr_pty_masters; i++)
		if (c->pty_masters[i] == pty_index_of(rdev))
			return c->pty_masters[i];
	return -1;
}

bool df_pty_dev_tty(const struct df *c, pid_t pid, const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(5, 0) && df_pty_ctty_index(c, pid) >= 0;
}

/* Reads what waits in fd (non-blocking) into *buf, at most PTY_QUEUE_MAX
 * + 1 bytes (one more says there was too much). skip: a packet-mode
 * master's leading status byte of each read. */
static int df_pty_drain(int fd, bool skip, uint8_t **buf, size_t *n, struct err *e)
{
	uint8_t tmp[PTY_QUEUE_MAX + 2];
	size_t have = 0;

	*n = 0;
	for (;;) {
		ssize_t r;

		if (poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, have ? 20 : 0) <= 0)
			break;
		r = read(fd, tmp + have, sizeof(tmp) - have);
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
		if (have > PTY_QUEUE_MAX)
			break;
	}
	if (!have)
		return 0;
	if (!(*buf = malloc(have)))
		return err_errno(e, "keep %zu queued bytes", have);
	memcpy(*buf, tmp, have);
	*n = have;
	return 0;
}

/* How many bytes the slave's input holds in canonical mode, lines not
 * finished included: FIONREAD counts finished lines only there, so the
 * mode is left for a moment. */
static int df_pty_canon_count(int peer, const struct termios *t, int *n, struct err *e)
{
	struct termios raw = *t;

	if (ioctl(peer, FIONREAD, n) < 0)
		return err_errno(e, "count the pty slave's input");
	if (*n)
		return 0;
	raw.c_lflag &= ~ICANON;
	if (tcsetattr(peer, TCSANOW, &raw) < 0)
		return err_errno(e, "look at the pty slave's input");
	if (ioctl(peer, FIONREAD, n) < 0)
		*n = -1;
	if (tcsetattr(peer, TCSANOW, t) < 0)
		return err_errno(e, "set the pty slave's termios back");
	return 0;
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

/* The pair's state and queues, into the master's record. */
static int df_pty_master(struct df *c, struct df_desc *d, int copy, struct err *e)
{
	PtyEntry *p = &d->pty;
	TtyStateEntry *ts;
	struct termios t;
	struct stat pst;
	int pkt = 0, lock = 0, excl = 0, n = 0, ret;
	size_t qn[2] = { 0, 0 };
	_cleanup_close_ int peer = -1;
	char why[320];

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
	if (pst.st_dev != c->devpts_dev) {
		df_refuse(c, d->pid, d->fd, d->link, "it is the master of a pty of a devpts instance other than the host's "
			  "/dev/pts (mounted with newinstance), which is not supported yet");
		return 0;
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
	if (t.c_lflag & ICANON) {
		if ((ret = df_pty_canon_count(peer, &t, &n, e)) < 0)
			return ret;
		if (n) {
			snprintf(why, sizeof(why), "the slave of pty %u (/dev/pts/%u) holds %d bytes of input in canonical "
				 "mode not read yet; amber puts queued input back only in non-canonical (raw) mode",
				 p->index, p->index, n);
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
	} else if ((ret = df_pty_drain(peer, false, &d->pty_q[0], &qn[0], e)) < 0)
		return ret;
	/* The master is read through the tree's own description: with data
	 * waiting (poll says so) a read does not block. */
	if ((ret = df_pty_drain(copy, pkt, &d->pty_q[1], &qn[1], e)) < 0)
		return ret;
	/* Back at once, in the same order, whatever happens next. */
	if ((ret = pty_put_input(copy, peer, &t, d->pty_q[0], qn[0] > PTY_QUEUE_MAX ? PTY_QUEUE_MAX : qn[0], e)) < 0 ||
	    (ret = pty_put_output(copy, peer, &t, d->pty_q[1], qn[1] > PTY_QUEUE_MAX ? PTY_QUEUE_MAX : qn[1], e)) < 0)
		return err_wrap(e, "pty %u of pid %d fd %d", p->index, d->pid, d->fd);
	for (int i = 0; i < 2; i++)
		if (qn[i] > PTY_QUEUE_MAX) {
			snprintf(why, sizeof(why), "pty %u holds more than %d bytes %s, more than amber can put back",
				 p->index, PTY_QUEUE_MAX, i ? "written to the slave and not read from the master"
							   : "written to the master and not read from the slave");
			df_refuse(c, d->pid, d->fd, d->link, why);
			return 0;
		}
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

	pty_entry__init(p);
	tty_state_entry__init(&d->pty_state);
	if (d->st->st_rdev == makedev(5, 0)) {
		int ctty = df_pty_ctty_index(c, d->pid);

		if (ctty < 0)
			return err_input(e, "pid %d fd %d: /dev/tty, whose terminal changed during the dump", d->pid, d->fd);
		p->index = ctty;
		p->has_dev_tty = p->dev_tty = true;
		d->re.pty = p;
		return 0;
	}
	if (!df_pty_is_master(d->st)) {
		p->index = pty_index_of(d->st->st_rdev);
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

/* The fd of pid on the device rdev, or -1. */
static int df_pty_fd_on(pid_t pid, dev_t rdev)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if (!(d = opendir(path)))
		return -1;
	while ((de = readdir(d))) {
		struct stat st;
		char p[64 + 256];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (stat(p, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == rdev)
			return atoi(de->d_name);
	}
	return -1;
}

int df_pty_ctty(struct df *c, pid_t pid, FsEntry *fs, struct err *e)
{
	struct proc_stat st;
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
		inside |= c->pty_masters[i] == idx;
	if (!inside)
		return 0;
	snprintf(link, sizeof(link), "/dev/pts/%u", idx);
	fd = df_pty_fd_on(pid, rdev);
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
