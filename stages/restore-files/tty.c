/* restore-files/tty.c: pty pairs made again. The master's description is
 * a new open of /dev/ptmx (or the path it was opened by), which makes a
 * new pair with a new index; its termios, window size and queues are put
 * back through a slave opened here (TIOCGPTPEER), and each slave
 * description is another open of the slave from the master with its
 * dumped flags. Packet mode, the lock and exclusive mode come last, once
 * every slave description is open (reopen_pty_finish). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/pty.h"
#include "stages/restore-files/reopen.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* The termios of a TtyStateEntry. */
static int reopen_pty_termios(const TtyStateEntry *s, struct termios *t, uint32_t index, struct err *e)
{
	memset(t, 0, sizeof(*t));
	if (!s || !s->has_cc || s->cc.len > sizeof(t->c_cc))
		return err_input(e, "files.img: pty master %u has no termios, or one with %zu control characters",
				 index, s && s->has_cc ? s->cc.len : 0);
	t->c_iflag = s->iflag;
	t->c_oflag = s->oflag;
	t->c_cflag = s->cflag;
	t->c_lflag = s->lflag;
	t->c_line = s->line;
	memcpy(t->c_cc, s->cc.data, s->cc.len);
	if (s->has_ispeed)
		cfsetispeed(t, s->ispeed);
	if (s->has_ospeed)
		cfsetospeed(t, s->ospeed);
	return 0;
}

/* The master of dumped pty index on the devpts instance of p. */
static struct reopen_file *reopen_pty_master_of(struct reopen *r, const PtyEntry *p)
{
	for (int i = 0; i < r->nr_files; i++) {
		const PtyEntry *q = r->files[i].re->pty;

		if (q && q->master && q->index == p->index && q->devpts == p->devpts)
			return &r->files[i];
	}
	return NULL;
}

/* Opens the ptmx at path with flags until the new pair has index want: on
 * a devpts instance of the tree's own (made again by build-mntns, so the
 * tree's pairs are all its pairs) the kernel gives the lowest free index,
 * and the indexes below want that are free now are taken for a moment by
 * pairs closed at the end. */
static int reopen_pty_open_index(const char *path, int flags, uint32_t want, struct err *e)
{
	int held[64], nr = 0, fd = -1;
	unsigned int idx = 0;

	for (;;) {
		fd = open(path, flags);
		if (fd < 0) {
			err_errno(e, "open '%s' for pty %u", path, want);
			break;
		}
		if (ioctl(fd, TIOCGPTN, &idx) < 0) {
			err_errno(e, "read the index of a new pty of '%s'", path);
			break;
		}
		if (idx == want)
			break;
		if (idx > want || nr == (int)(sizeof(held) / sizeof(held[0]))) {
			err_input(e, "'%s' gave pty %u where pty %u of the dump must be made again (%s)", path, idx,
				  want, idx > want ? "that index is taken on the new devpts instance"
					      : "too many free indexes below it");
			break;
		}
		held[nr++] = fd;
		fd = -1;
	}
	while (nr)
		close(held[--nr]);
	if (fd >= 0 && idx != want) {
		close(fd);
		return -EIO;
	}
	return fd < 0 ? -EIO : fd;
}

static int reopen_pty_master(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const PtyEntry *p = f->re->pty;
	_cleanup_close_ int fd = -1, peer = -1;
	struct termios t;
	struct winsize ws = { 0 };
	unsigned int idx;
	int zero = 0, ret;

	if ((ret = reopen_pty_termios(p->state, &t, p->index, e)) < 0)
		return ret;
	if ((t.c_lflag & ICANON) && p->has_to_slave && p->to_slave.len)
		return err_input(e, "files.img: pty %u has input queued in canonical mode, which dump never saves", p->index);
	if (p->has_devpts)
		fd = reopen_pty_open_index(f->re->path, reopen_flags(f->re), p->index, e);
	else
		fd = open(f->re->path, reopen_flags(f->re));
	if (fd < 0 && p->has_devpts)
		return err_wrap(e, "pid %d fd %u", f->pid, f->tfd);
	if (fd < 0)
		return err_errno(e, "open '%s' for pty %u (pid %d fd %u)", f->re->path, p->index, f->pid, f->tfd);
	if (ioctl(fd, TIOCGPTN, &idx) < 0 || ioctl(fd, TIOCSPTLCK, &zero) < 0)
		return err_errno(e, "unlock the new pty for pty %u", p->index);
	peer = ioctl(fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (peer < 0)
		return err_errno(e, "open the slave of the new pty /dev/pts/%u", idx);
	if (tcsetattr(peer, TCSANOW, &t) < 0)
		return err_errno(e, "set the termios of pty /dev/pts/%u", idx);
	if (p->state->has_rows) {
		ws.ws_row = p->state->rows;
		ws.ws_col = p->state->cols;
		ws.ws_xpixel = p->state->xpixel;
		ws.ws_ypixel = p->state->ypixel;
		if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
			return err_errno(e, "set the window size of pty /dev/pts/%u", idx);
	}
	if ((p->has_to_slave && p->to_slave.len > PTY_QUEUE_MAX) || (p->has_to_master && p->to_master.len > PTY_QUEUE_MAX))
		return err_input(e, "files.img: pty %u has more than %d bytes queued", p->index, PTY_QUEUE_MAX);
	if (p->has_eofs && p->eofs && !(t.c_lflag & ICANON))
		return err_input(e, "files.img: pty %u has end-of-file marks waiting out of canonical mode", p->index);
	if ((p->has_eofs && (ret = pty_put_line(fd, peer, &t, p->eofs, NULL, 0, e)) < 0) ||
	    (p->has_to_slave && (ret = pty_put_input(fd, peer, &t, p->to_slave.data, p->to_slave.len, e)) < 0) ||
	    (p->has_to_master && (ret = pty_put_output(fd, peer, &t, p->to_master.data, p->to_master.len, e)) < 0))
		return err_wrap(e, "pty %u (now /dev/pts/%u)", p->index, idx);
	pr_info("pty: dumped /dev/pts/%u%s is now /dev/pts/%u", p->index, p->has_devpts ? " (the tree's devpts)" : "", idx);
	f->fd = TAKE_FD(fd);
	return 0;
}

int reopen_pty(struct reopen *r, struct reopen_file *f, struct err *e)
{
	const PtyEntry *p = f->re->pty;
	struct reopen_file *m;
	int fd, flags = reopen_flags(f->re);

	if (p->master)
		return f->fd >= 0 ? 0 : reopen_pty_master(r, f, e);
	m = reopen_pty_master_of(r, p);
	if (!m)
		return err_input(e, "files.img: pty slave '%s' (id %u) of pid %d fd %u has no master record for index %u",
				 f->re->path, f->re->id, f->pid, f->tfd, p->index);
	/* Counted when the loop of reopen_open_rest comes to it. */
	if (m->fd < 0) {
		int ret = reopen_pty_master(r, m, e);

		if (ret < 0)
			return ret;
	}
	/* TIOCGPTPEER opens the slave with exactly the flags it is given (but
	 * O_NOCTTY): no O_LARGEFILE unless asked, which open(2) adds on a
	 * 64-bit kernel and F_SETFL cannot set; so the dumped flags go as they
	 * are, with the kernel's O_LARGEFILE (0100000) read from fdinfo (glibc's
	 * O_LARGEFILE is 0 on x86-64). O_CLOEXEC, though, would stay in the
	 * description's f_flags, and /proc would show every descriptor of it
	 * close-on-exec whatever F_SETFD says: this stage's copy gets
	 * FD_CLOEXEC from fcntl instead. */
	fd = ioctl(m->fd, TIOCGPTPEER, flags & ~O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "open the slave of pty %u for pid %d fd %u with flags %#o", p->index, f->pid, f->tfd,
				 flags & ~O_CLOEXEC);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		return err_errno(e, "make the slave of pty %u close-on-exec in this stage", p->index);
	}
	f->fd = fd;
	return 0;
}

int reopen_pty_finish(struct reopen *r, struct err *e)
{
	for (int i = 0; i < r->nr_files; i++) {
		const struct reopen_file *f = &r->files[i];
		const PtyEntry *p = f->re->pty;
		int one = 1, pkt;

		if (!p || !p->master || f->fd < 0)
			continue;
		pkt = p->packet;
		if (pkt && ioctl(f->fd, TIOCPKT, &pkt) < 0)
			return err_errno(e, "set packet mode on pty %u", p->index);
		if (p->slave_excl) {
			_cleanup_close_ int peer = ioctl(f->fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);

			if (peer < 0 || ioctl(peer, TIOCEXCL) < 0)
				return err_errno(e, "set exclusive mode on the slave of pty %u", p->index);
		}
		if (p->master_excl && ioctl(f->fd, TIOCEXCL) < 0)
			return err_errno(e, "set exclusive mode on pty master %u", p->index);
		if (p->locked && ioctl(f->fd, TIOCSPTLCK, &one) < 0)
			return err_errno(e, "lock pty %u", p->index);
	}
	return 0;
}
