/* console: --console-socket PATH, for a tree whose terminal's master its
 * runtime held outside the tree (a container's console). The dump named
 * that terminal with --external tty[RDEV:DEV]; here a new pair is made,
 * its slave stands for every such terminal (as --shell-job's terminal
 * does: each description opened again from it with its dumped flags,
 * the dumped termios and window size put on it), and its master is sent
 * to the unix socket at PATH the way runc sends a console to its
 * --console-socket: one message whose bytes are the master's name
 * ("/dev/ptmx") with the descriptor in SCM_RIGHTS. */
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/restore-files/reopen.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int reopen_console_make(struct reopen *r, struct err *e)
{
	_cleanup_close_ int master = -1;
	int zero = 0, slave;

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return err_errno(e, "--console-socket: open /dev/ptmx for the tree's terminal");
	if (ioctl(master, TIOCSPTLCK, &zero) < 0 || ioctl(master, TIOCGPTN, &r->console_index) < 0)
		return err_errno(e, "--console-socket: unlock the new pty");
	slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		return err_errno(e, "--console-socket: open the slave of the new pty /dev/pts/%u", r->console_index);
	r->console_master = TAKE_FD(master);
	return slave;
}

int reopen_console_send(struct reopen *r, const char *path, struct err *e)
{
	static const char name[] = "/dev/ptmx";
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
	struct iovec iov = { .iov_base = (void *)name, .iov_len = sizeof(name) - 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	_cleanup_close_ int sock = -1;

	if (strlen(path) >= sizeof(sa.sun_path))
		return err_input(e, "--console-socket '%s': the path is longer than a unix socket's %zu bytes", path,
				 sizeof(sa.sun_path) - 1);
	strcpy(sa.sun_path, path);
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return err_errno(e, "--console-socket: connect to '%s' (a unix stream socket someone listens on)", path);
	memset(u.buf, 0, sizeof(u.buf));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &r->console_master, sizeof(int));
	if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
		return err_errno(e, "--console-socket: send the master of /dev/pts/%u to '%s'", r->console_index, path);
	pr_info("the tree's terminal is now /dev/pts/%u; its master was sent to '%s'", r->console_index, path);
	close(r->console_master);
	r->console_master = -1;
	return 0;
}
