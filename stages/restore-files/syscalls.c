/* syscalls: what restore-files may call once it is confined
 * (lib/confine.h; measured with strace -f over the e2e suite,
 * doc/design.md "Confined stages"). Opening and making files is its work;
 * what it may not do includes exec, ptrace, prctl, mounting, setting
 * capabilities, writing another process's memory, sockets other than
 * unix, TCP and UDP ones, and ioctls other than the few it makes. */
#include <linux/timerfd.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "lib/confine.h"
#include "stages/restore-files/reopen.h"

const int restore_files_syscalls[] = {
	CONFINE_LIBC,
	/* files: made again, given their owner and mode, ghosts linked in,
	 * socket files (reopen.c, memfd.c, sockets.c) */
	SYS_ftruncate, SYS_fallocate, SYS_fchown, SYS_fchownat, SYS_fchmod, SYS_chmod, SYS_linkat, SYS_unlinkat,
	SYS_mknodat,
	/* directories on the stubs of delayed mounts (stub.c), removed
	 * directories made again (reopen.c) */
	SYS_mkdir, SYS_mkdirat,
	SYS_memfd_create, SYS_pipe2,
	/* anonymous-inode files (anon.c) */
	SYS_eventfd2, SYS_signalfd4, SYS_timerfd_create, SYS_timerfd_settime, SYS_timerfd_gettime, SYS_epoll_create1,
	SYS_inotify_init1, SYS_inotify_add_watch, SYS_inotify_rm_watch, SYS_ioctl,
	/* unix sockets and their queues (sockets.c, unixq.c); the files
	 * socket and the reports of children (ipc/fdpass.c, lib/nschild.c) */
	SYS_socket, SYS_socketpair, SYS_bind, SYS_listen, SYS_connect, SYS_accept4, SYS_shutdown, SYS_setsockopt,
	SYS_getsockopt, SYS_sendmsg, SYS_recvmsg, SYS_sendto, SYS_recvfrom,
	/* a child per mount namespace of the tree (mntns.c, lib/nschild.c) */
	SYS_clone, SYS_clone3, SYS_setns, SYS_wait4, SYS_waitid, SYS_kill,
	/* waiting for a pty's queue to be put back (lib/pty.c) */
	SYS_poll, SYS_ppoll,
	-1
};

const unsigned long restore_files_ioctls[] = {
	FIONREAD,		/* what a pipe holds (reopen.c) */
	TFD_IOC_SET_TICKS,	/* a timerfd's unread expirations (anon.c) */
	TCGETS,			/* isatty of --shell-job's terminal (main.c) */
	TCSETS, TIOCSWINSZ,	/* its dumped settings and window size (inherit.c), a pty's (tty.c) */
	/* pty pairs (tty.c): the new index, unlocking, the slave, packet
	 * and exclusive mode, the lock */
	TIOCGPTN, TIOCSPTLCK, 0x5441 /* TIOCGPTPEER */, TIOCPKT, TIOCEXCL,
	SIOCGIFINDEX,		/* the device a multicast group is joined on again (inet.c) */
	0
};
