/* confine: a seccomp allow list for a process that reads untrusted input
 * with privileges (the stages that parse images: doc/design.md, "Confined
 * stages").
 *
 *	static const int allow[] = { CONFINE_LIBC, SYS_mount, ... };
 *	ret = confine_install("build-mntns", allow, ARRAY_SIZE(allow), NULL, 0, e);
 *
 * confine_install sets no_new_privs and a seccomp filter that lets the
 * listed x86_64 system calls through (and the few the SIGSYS handler and
 * exit need) and traps any other: a handler writes one error line naming
 * the call to the log fd and the process dies of SIGSYS, which the driver
 * reports as "killed by signal 31" with that line as the stage's last
 * error. A call of another ABI (int 0x80, x32) kills the process at once.
 * The filter and no_new_privs are inherited by every thread and child made
 * afterwards and can never be undone: a process whose children must not
 * have them installs it only once the last such child exists.
 *
 * A sanitizer build (make SANITIZE=1) is not confined: the sanitizers'
 * runtime makes calls of its own (LeakSanitizer ptraces the process at
 * exit); confine_install then only says so at debug level.
 */
#ifndef AMBER_CONFINE_H
#define AMBER_CONFINE_H

#include <stddef.h>
#include <sys/syscall.h>

#include "lib/err.h"

/* What glibc and amber's own helpers make for ordinary work in any stage:
 * memory, I/O on descriptors it has, opening and looking at files, time,
 * futexes, threads' bookkeeping, limits. A stage's list starts with it. */
#define CONFINE_LIBC \
	SYS_read, SYS_write, SYS_pread64, SYS_pwrite64, SYS_readv, SYS_writev, SYS_close, SYS_lseek, \
	SYS_fstat, SYS_newfstatat, SYS_statx, SYS_stat, SYS_lstat, SYS_fcntl, SYS_dup, SYS_dup2, SYS_dup3, \
	SYS_open, SYS_openat, SYS_openat2, SYS_getdents64, SYS_readlink, SYS_readlinkat, SYS_access, \
	SYS_faccessat, SYS_faccessat2, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_brk, \
	SYS_futex, SYS_set_robust_list, SYS_rseq, SYS_sched_yield, SYS_sched_getaffinity, SYS_clock_gettime, \
	SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday, SYS_time, SYS_getuid, SYS_geteuid, SYS_getgid, \
	SYS_getegid, SYS_getppid, SYS_uname, SYS_sysinfo, SYS_getrandom, SYS_umask, SYS_prlimit64, \
	SYS_restart_syscall

/* Sets no_new_privs and the allow list: the nr calls of allow[] and, for
 * SYS_ioctl, only the nr_ioctls requests of ioctls[] (at most 100). */
int confine_install(const char *who, const int *allow, size_t nr, const unsigned long *ioctls, size_t nr_ioctls,
		    struct err *e);

#endif
