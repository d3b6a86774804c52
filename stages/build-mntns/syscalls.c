/* syscalls: what build-mntns may call once it is confined (lib/confine.h;
 * measured with strace -f over the e2e suite, doc/design.md "Confined
 * stages"). Mounts are its work; what it may not do includes exec,
 * ptrace, prctl, setting capabilities, writing another process's memory,
 * sockets other than its own socket pairs, and any ioctl. */
#include "lib/confine.h"
#include "stages/build-mntns/build-mntns.h"

const int build_mntns_syscalls[] = {
	CONFINE_LIBC,
	/* the namespace and its mounts (build.c, lib/mntclone.c) */
	SYS_unshare, SYS_setns, SYS_fsopen, SYS_fsconfig, SYS_fsmount, SYS_fspick, SYS_open_tree, SYS_move_mount,
	SYS_mount_setattr, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chdir, SYS_fchdir,
	/* a tmpfs's contents (fill.c) */
	SYS_mkdirat, SYS_mkdir, SYS_mknodat, SYS_symlinkat, SYS_linkat, SYS_fchown, SYS_fchownat, SYS_fchmod,
	SYS_fchmodat, SYS_fsetxattr, SYS_ftruncate, SYS_utimensat,
	/* an overlay's layers: the upper layer's digest, a volatile marker (lib/union.c, build.c) */
	SYS_llistxattr, SYS_lgetxattr, SYS_rmdir,
	/* the pins (main.c) */
	SYS_unlink, SYS_unlinkat,
	/* the child that builds a namespace and its report (lib/nschild.c, ipc/fdpass.c) */
	SYS_clone, SYS_clone3, SYS_wait4, SYS_waitid, SYS_kill, SYS_socketpair, SYS_sendmsg, SYS_recvmsg,
	-1
};
