/* syscalls: what restore-tasks may call once it is confined, which is
 * only once every task it forks exists (run.c; doc/design.md "Confined
 * stages": the restored processes must not inherit the filter or
 * no_new_privs). Measured with strace over the e2e suite. Tracing the
 * tasks and writing their memory is its work; what it may not do includes
 * exec, mounting anything but a proc (procmnt.c), setting its own
 * credentials, opening sockets, and ioctls other than the terminal's
 * foreground group. */
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include "lib/confine.h"
#include "stages/restore-tasks/restore-tasks.h"

const int restore_tasks_syscalls[] = {
	CONFINE_LIBC,
	/* the tasks: traced, their memory written, killed on failure
	 * (transplant.c, lib/rsys.c, lib/pagecopy.c, run.c) */
	SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_wait4, SYS_waitid, SYS_kill, SYS_getpgrp,
	SYS_statfs, SYS_fstatfs, SYS_ioctl,
	/* a thread's scheduling policy, set from here (taskstate.c) */
	SYS_sched_setattr,
	/* shared memory and memfds the tasks map (shmem.c, memfd.c) */
	SYS_memfd_create, SYS_ftruncate, SYS_fchown, SYS_fchmod,
	/* the page copy's threads (lib/pagecopy.c) */
	SYS_clone3,
	/* a new proc in a new pid namespace, by a child (procmnt.c, lib/nschild.c) */
	SYS_clone, SYS_setns, SYS_umount2, SYS_mount, SYS_socketpair, SYS_sendmsg, SYS_recvmsg,
	/* the mounts on such a proc, cloned and put back on the new one (procmnt.c) */
	SYS_open_tree, SYS_move_mount,
	/* restore --lazy-pages: the userfaultfd taken out of a task, the
	 * pidfds handed to amber-lazy-pages, its answer (lazy.c) */
	SYS_pidfd_open, SYS_pidfd_getfd, SYS_poll, SYS_ppoll,
	-1
};

const unsigned long restore_tasks_ioctls[] = {
	TIOCGPGRP, TIOCSPGRP,	/* the terminal's foreground group (run.c, --shell-job) */
	UFFDIO_API, UFFDIO_REGISTER,	/* restore --lazy-pages (lazy.c) */
	0
};
