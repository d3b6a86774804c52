/* pty: putting bytes back into a pty pair's queues (see pty.h). */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/exitcodes.h"
#include "lib/pty.h"

unsigned int pty_index_of(unsigned long rdev)
{
	/* devpts numbers slaves from major 136 on (UNIX98_PTY_SLAVE_MAJOR). */
	return (major(rdev) - 136) * 256 + minor(rdev);
}

/* Waits (up to a second) until fd counts want bytes to read. */
static int pty_wait(int fd, int want, const char *what, struct err *e)
{
	for (int i = 0; i < 1000; i++) {
		int n = 0;

		if (ioctl(fd, FIONREAD, &n) < 0)
			return err_errno(e, "count what the pty %s holds", what);
		if (n >= want)
			return 0;
		nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	return err_set(e, EXIT_SYSTEM, "the pty %s did not get the %d bytes put back within a second", what, want);
}

/* Writes all n bytes to fd, waiting while it is full. */
static int pty_write_all(int fd, const unsigned char *p, size_t n, const char *what, struct err *e)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EAGAIN) {
			poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 100);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_errno(e, "write %zu bytes back to the pty %s", n, what);
		p += w;
		n -= w;
	}
	return 0;
}

int pty_put_input(int master, int slave, const struct termios *t, const void *data, size_t n, struct err *e)
{
	struct termios raw = *t;
	int ret;

	if (!n)
		return 0;
	/* ICANON stays as it is (off): changing it would reset the buffer. */
	raw.c_iflag = 0;
	raw.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG | IEXTEN | FLUSHO | TOSTOP);
	if (tcsetattr(slave, TCSANOW, &raw) < 0)
		return err_errno(e, "set the pty slave raw to put its input back");
	ret = pty_write_all(master, data, n, "master", e);
	if (ret == 0)
		ret = pty_wait(slave, n > PTY_QUEUE_MAX ? PTY_QUEUE_MAX : n, "slave", e);
	if (tcsetattr(slave, TCSANOW, t) < 0 && ret == 0)
		ret = err_errno(e, "set the pty slave's termios back");
	return ret;
}

int pty_put_line(int master, int slave, const struct termios *t, unsigned int eofs, const void *data, size_t n,
		 struct err *e)
{
	static const int specials[] = { VEOF, VERASE, VKILL, VEOL, VEOL2, VWERASE, VREPRINT, VLNEXT, VINTR, VQUIT,
					VSUSP, VSTART, VSTOP, VDISCARD };
	const unsigned char *p = data;
	_cleanup_free_ unsigned char *all = NULL;
	bool used[256] = { false };
	struct termios canon = *t;
	int ret, k = 1;

	if (!n && !eofs)
		return 0;
	if (eofs > PTY_QUEUE_MAX || n > PTY_QUEUE_MAX)
		return err_set(e, EXIT_INPUT, "%u end-of-file marks and a line of %zu bytes are too many to put back", eofs, n);
	for (size_t i = 0; i < n; i++)
		used[p[i]] = true;
	/* n_tty treats a disabled special (0) as the byte 0: each special
	 * gets a byte value the line does not hold (the line has no '\n'). */
	used['\n'] = true;
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		while (k < 256 && used[k])
			k++;
		if (k == 256)
			return err_set(e, EXIT_INPUT, "an unfinished pty line of %zu bytes holds every byte value", n);
		canon.c_cc[specials[i]] = k++;
	}
	/* The end-of-file marks came first, then the line: one write. */
	if (!(all = malloc(eofs + n)))
		return err_errno(e, "a buffer for a line to put back");
	memset(all, canon.c_cc[VEOF], eofs);
	if (n)
		memcpy(all + eofs, data, n);
	canon.c_iflag = 0;
	canon.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG | IEXTEN | FLUSHO);
	if (tcsetattr(slave, TCSANOW, &canon) < 0)
		return err_errno(e, "set the pty slave to put an unfinished line back");
	ret = pty_write_all(master, all, eofs + n, "master", e);
	/* FIONREAD counts neither an unfinished line nor an end-of-file mark.
	 * poll(2) on a slave with no line to read waits for the queued work
	 * first (n_tty_poll flushes the buffer work) and takes nothing; with
	 * end-of-file marks it may find the first before the work is done,
	 * so it is given a moment more. */
	if (ret == 0) {
		poll(&(struct pollfd){ .fd = slave, .events = POLLIN }, 1, 0);
		if (eofs) {
			nanosleep(&(struct timespec){ .tv_nsec = 20000000 }, NULL);
			poll(&(struct pollfd){ .fd = slave, .events = POLLIN }, 1, 0);
		}
	}
	if (tcsetattr(slave, TCSANOW, t) < 0 && ret == 0)
		ret = err_errno(e, "set the pty slave's termios back");
	return ret;
}

int pty_put_output(int master, int slave, const struct termios *t, const void *data, size_t n, struct err *e)
{
	struct termios raw = *t;
	int ret;

	if (!n)
		return 0;
	raw.c_oflag &= ~OPOST;
	if (tcsetattr(slave, TCSANOW, &raw) < 0)
		return err_errno(e, "turn the pty slave's output processing off to put its output back");
	ret = pty_write_all(slave, data, n, "slave", e);
	if (ret == 0)
		ret = pty_wait(master, n > PTY_QUEUE_MAX ? PTY_QUEUE_MAX : n, "master", e);
	if (tcsetattr(slave, TCSANOW, t) < 0 && ret == 0)
		ret = err_errno(e, "set the pty slave's termios back");
	return ret;
}
