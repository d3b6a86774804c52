/* check: 'amber check', does this kernel and this process have what amber needs?
 *
 *	amber check [-v]
 *
 * Every feature is tried for real (a forked child is seized, its memory read
 * and written, a task is cloned with a chosen pid, the vDSO of a child is
 * moved, ...), never guessed from the kernel config. One line per feature:
 *
 *	ok       clone3 set_tid           restore tasks with their old pids
 *	missing  userfaultfd              lazy page restore, not used yet (optional)
 *	         userfaultfd: Operation not permitted
 *
 * A missing feature is followed by why it failed; -v also prints what was
 * found for those that work (xstate size, rseq area, pid used, ...).
 *
 * Exit status: 0 every essential feature works (optional ones may be
 * missing); 2 bad command line; 4 an essential feature is missing. Side
 * effects: short-lived child processes, all killed and reaped before exit;
 * /proc/sys/kernel/ns_last_pid is written with the value it already held.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/kcmp.h>
#include <linux/mount.h>
#include <sched.h>
#include <linux/openat2.h>
#include <linux/userfaultfd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver/driver.h"
#include "lib/exitcodes.h"
#include "lib/cleanup.h"
#include "lib/sockdiag.h"
#include "lib/proc.h"

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/* Detail text for one feature: the reason it is missing, or what was found. */
struct check_note {
	char text[256];
};

struct check {
	const char *name;
	const char *why;
	bool optional;
	bool (*run)(struct check_note *n);	/* true if the feature works */
};

/* Fills the note and returns the verdict, for one-line returns. */
static bool __attribute__((format(printf, 3, 4)))
check_say(struct check_note *n, bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
	return ok;
}

/* "what: strerror(errno)", with a hint when the cause is missing privilege. */
static bool check_errno(struct check_note *n, const char *what)
{
	int errnum = errno;

	return check_say(n, false, "%s: %s%s", what, strerror(errnum),
			 errnum == EPERM || errnum == EACCES ? "; run amber as root" :
			 errnum == ENOSYS ? "; the kernel lacks it (CONFIG_CHECKPOINT_RESTORE?)" : "");
}

/* ---- a child to try ptrace and friends on ------------------------------ */

/* A value the tracee holds at a known address (the same in parent and child
 * after fork), for the process_vm_readv/writev round trip. */
static volatile uint64_t check_marker = 0x616d626572;	/* "amber" */

struct check_tracee {
	pid_t pid;
	int child_fd;		/* an fd number open in the child: its end of the pipe */
};

/* The child: blocks SIGUSR2 (for the sigmask check), says it is ready, waits to be killed. */
static void __attribute__((noreturn)) check_tracee_body(int ready_fd)
{
	sigset_t set;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	check_marker = 0x616d626572;
	if (write(ready_fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Kills and reaps the tracee; used as a cleanup handler. */
static void check_tracee_end(struct check_tracee *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		while (waitpid(t->pid, NULL, __WALL) < 0 && errno == EINTR)
			;
	}
	t->pid = -1;
}

/* Forks a tracee and, if 'seize', seizes it and stops it with PTRACE_INTERRUPT. */
static bool check_tracee_start(struct check_tracee *t, bool seize, struct check_note *n)
{
	int p[2], status;
	char c;

	t->pid = -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return check_errno(n, "pipe");
	fflush(NULL);
	t->pid = fork();
	if (t->pid < 0) {
		close(p[0]);
		close(p[1]);
		return check_errno(n, "fork");
	}
	if (t->pid == 0) {
		close(p[0]);
		check_tracee_body(p[1]);
	}
	t->child_fd = p[1];
	close(p[1]);
	if (read(p[0], &c, 1) != 1) {
		close(p[0]);
		return check_say(n, false, "the test child %d died before it was ready", (int)t->pid);
	}
	close(p[0]);
	if (!seize)
		return true;
	if (ptrace(PTRACE_SEIZE, t->pid, 0, PTRACE_O_EXITKILL) < 0)
		return check_errno(n, "PTRACE_SEIZE");
	if (ptrace(PTRACE_INTERRUPT, t->pid, 0, 0) < 0)
		return check_errno(n, "PTRACE_INTERRUPT");
	if (waitpid(t->pid, &status, __WALL) < 0)
		return check_errno(n, "waitpid");
	if (!WIFSTOPPED(status) || (status >> 16) != PTRACE_EVENT_STOP)
		return check_say(n, false, "PTRACE_INTERRUPT: child %d did not reach a group stop (status %#x)",
				 (int)t->pid, status);
	return true;
}

#define _cleanup_tracee_ __attribute__((cleanup(check_tracee_end)))

/* ---- the checks -------------------------------------------------------- */

static bool check_caps(struct check_note *n)
{
	static const struct { cap_value_t cap; const char *name; } want[] = {
		{ CAP_SYS_ADMIN, "cap_sys_admin" },
		{ CAP_CHECKPOINT_RESTORE, "cap_checkpoint_restore" },
		{ CAP_SYS_PTRACE, "cap_sys_ptrace" },
	};
	cap_t caps = cap_get_proc();
	char missing[128] = "";
	size_t len = 0;

	if (!caps)
		return check_errno(n, "cap_get_proc");
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		cap_flag_value_t v = CAP_CLEAR;

		if (cap_get_flag(caps, want[i].cap, CAP_EFFECTIVE, &v) < 0 || v != CAP_SET)
			len += snprintf(missing + len, sizeof(missing) - len, " %s", want[i].name);
	}
	cap_free(caps);
	if (len)
		return check_say(n, false, "euid %u; not in the effective set:%s; run amber as root",
				 (unsigned)geteuid(), missing);
	return check_say(n, true, "euid %u; cap_sys_admin, cap_checkpoint_restore, cap_sys_ptrace effective",
			 (unsigned)geteuid());
}

static bool check_ptrace_scope(struct check_note *n)
{
	_cleanup_free_ char *text = NULL;
	struct err e;
	int scope;

	if (proc_read_file("/proc/sys/kernel/yama/ptrace_scope", &text, NULL, &e) < 0)
		return check_say(n, true, "no Yama LSM: ptrace is governed by capabilities only");
	scope = atoi(text);
	if (scope >= 3)
		return check_say(n, false, "kernel.yama.ptrace_scope is %d: no process may attach; it cannot be lowered without a reboot",
				 scope);
	return check_say(n, true, "kernel.yama.ptrace_scope is %d%s", scope,
			 scope == 2 ? " (CAP_SYS_PTRACE needed, which root has)" : "");
}

static bool check_seize(struct check_note *n)
{
	_cleanup_tracee_ struct check_tracee t = { .pid = -1 };

	if (!check_tracee_start(&t, true, n))
		return false;
	return check_say(n, true, "seized and interrupted child %d", (int)t.pid);
}

static bool check_xstate(struct check_note *n)
{
	_cleanup_tracee_ struct check_tracee t = { .pid = -1 };
	static uint8_t buf[64 * 1024];
	struct iovec iov = { buf, sizeof(buf) };

	if (!check_tracee_start(&t, true, n))
		return false;
	if (ptrace(PTRACE_GETREGSET, t.pid, NT_X86_XSTATE, &iov) < 0)
		return check_errno(n, "PTRACE_GETREGSET NT_X86_XSTATE");
	/* Bytes 512..519 are the XSAVE header's XSTATE_BV; 464..471 hold XCR0 as the kernel saw it. */
	return check_say(n, true, "%zu bytes of xstate, xfeatures %#" PRIx64, iov.iov_len,
			 iov.iov_len >= 472 ? *(uint64_t *)(buf + 464) : 0);
}

static bool check_sigmask(struct check_note *n)
{
	_cleanup_tracee_ struct check_tracee t = { .pid = -1 };
	uint64_t mask = 0;

	if (!check_tracee_start(&t, true, n))
		return false;
	if (ptrace(PTRACE_GETSIGMASK, t.pid, sizeof(mask), &mask) < 0)
		return check_errno(n, "PTRACE_GETSIGMASK");
	if (!(mask & (1ull << (SIGUSR2 - 1))))
		return check_say(n, false, "PTRACE_GETSIGMASK gave %#" PRIx64 " without the SIGUSR2 the child blocked", mask);
	return check_say(n, true, "child's blocked mask %#" PRIx64, mask);
}

static bool check_rseq(struct check_note *n)
{
	_cleanup_tracee_ struct check_tracee t = { .pid = -1 };
	struct __ptrace_rseq_configuration conf = { 0 };
	long ret;

	if (!check_tracee_start(&t, true, n))
		return false;
	ret = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t.pid, sizeof(conf), &conf);
	if (ret < 0)
		return check_errno(n, "PTRACE_GET_RSEQ_CONFIGURATION");
	if (!conf.rseq_abi_pointer)
		return check_say(n, true, "works; the test child has no rseq area (glibc.pthread.rseq=0?)");
	return check_say(n, true, "child's rseq area at %#" PRIx64 ", %u bytes, signature %#x",
			 (uint64_t)conf.rseq_abi_pointer, conf.rseq_abi_size, conf.signature);
}

static bool check_process_vm(struct check_note *n)
{
	_cleanup_tracee_ struct check_tracee t = { .pid = -1 };
	uint64_t got = 0, put = 0x6b63656863;	/* "check" */
	struct iovec local = { &got, sizeof(got) };
	struct iovec remote = { (void *)&check_marker, sizeof(check_marker) };

	if (!check_tracee_start(&t, true, n))
		return false;
	if (process_vm_readv(t.pid, &local, 1, &remote, 1, 0) != sizeof(got))
		return check_errno(n, "process_vm_readv");
	if (got != 0x616d626572)
		return check_say(n, false, "process_vm_readv read %#" PRIx64 ", not the child's marker", got);
	local.iov_base = &put;
	if (process_vm_writev(t.pid, &local, 1, &remote, 1, 0) != sizeof(put))
		return check_errno(n, "process_vm_writev");
	local.iov_base = &got;
	if (process_vm_readv(t.pid, &local, 1, &remote, 1, 0) != sizeof(got) || got != put)
		return check_say(n, false, "process_vm_writev did not change the child's memory");
	return check_say(n, true, "read and wrote 8 bytes in child %d", (int)t.pid);
}

static bool check_pidfd(struct check_note *n)
{
	_cleanup_tracee_ struct check_tracee t = { .pid = -1 };
	_cleanup_close_ int pidfd = -1;
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!check_tracee_start(&t, false, n))
		return false;
	pidfd = syscall(SYS_pidfd_open, t.pid, 0);
	if (pidfd < 0)
		return check_errno(n, "pidfd_open");
	fd = syscall(SYS_pidfd_getfd, pidfd, t.child_fd, 0);
	if (fd < 0)
		return check_errno(n, "pidfd_getfd");
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return check_say(n, false, "pidfd_getfd returned something other than the child's pipe");
	return check_say(n, true, "took fd %d out of child %d", t.child_fd, (int)t.pid);
}

static bool check_kcmp(struct check_note *n)
{
	_cleanup_close_ int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int b = a < 0 ? -1 : fcntl(a, F_DUPFD_CLOEXEC, 0);
	_cleanup_close_ int c = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid_t me = getpid();
	long same, other;

	if (a < 0 || b < 0 || c < 0)
		return check_errno(n, "open /dev/null");
	same = syscall(SYS_kcmp, me, me, KCMP_FILE, a, b);
	if (same < 0)
		return check_errno(n, "kcmp");
	other = syscall(SYS_kcmp, me, me, KCMP_FILE, a, c);
	if (same != 0 || other == 0)
		return check_say(n, false, "kcmp KCMP_FILE gave %ld for a dup and %ld for another open", same, other);
	return check_say(n, true, "KCMP_FILE tells a dup from another open");
}

static bool check_pagemap(struct check_note *n)
{
	static uint8_t page[1 << 16];
	long psize = sysconf(_SC_PAGESIZE);
	uintptr_t addr = ((uintptr_t)page + psize - 1) & ~(uintptr_t)(psize - 1);
	_cleanup_close_ int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t pme;

	*(volatile uint8_t *)addr = 1;
	if (fd < 0)
		return check_errno(n, "open /proc/self/pagemap");
	if (pread(fd, &pme, sizeof(pme), addr / psize * sizeof(pme)) != sizeof(pme))
		return check_errno(n, "read /proc/self/pagemap");
	if (!(pme & PME_PRESENT))
		return check_say(n, false, "a page just written reads as not present (%#" PRIx64 ")", pme);
	if (!(pme & PME_PFN_MASK))
		return check_say(n, false, "PFNs read as zero: reading them needs CAP_SYS_ADMIN; run amber as root");
	return check_say(n, true, "present bit and PFN %#" PRIx64 " visible", (uint64_t)(pme & PME_PFN_MASK));
}

/* struct clone_args up to set_tid_size (CLONE_ARGS_SIZE_VER1), spelt out so that
 * <linux/sched.h> and glibc's <sched.h> need not meet. */
struct check_clone_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/* Reads one number from a /proc/sys file; -1 if it cannot. */
static long check_read_sysctl(const char *path)
{
	_cleanup_free_ char *text = NULL;
	struct err e;

	if (proc_read_file(path, &text, NULL, &e) < 0)
		return -1;
	return atol(text);
}

static bool check_clone3(struct check_note *n)
{
	long last = check_read_sysctl("/proc/sys/kernel/ns_last_pid");
	long max = check_read_sysctl("/proc/sys/kernel/pid_max");
	pid_t want;

	if (last < 0 || max < 1000)
		return check_say(n, false, "cannot read /proc/sys/kernel/ns_last_pid and pid_max");
	want = last + 1000 < max ? last + 1000 : 300 + last % 1000;
	/* The chosen pid may be taken or get taken: move on and try again. */
	for (int tries = 0; tries < 32; tries++, want = want + 7 < max ? want + 7 : 300) {
		pid_t tid = want;
		struct check_clone_args args = {
			.exit_signal = SIGCHLD,
			.set_tid = (uintptr_t)&tid,
			.set_tid_size = 1,
		};
		long pid;

		fflush(NULL);
		pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid == 0)
			_exit(0);
		if (pid < 0 && errno == EEXIST)
			continue;
		if (pid < 0)
			return check_errno(n, "clone3 with set_tid");
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (pid != want)
			return check_say(n, false, "clone3 asked for pid %d, got %ld", (int)want, pid);
		return check_say(n, true, "created a child with pid %d as asked", (int)want);
	}
	return check_say(n, false, "clone3 with set_tid: every pid tried was in use");
}

static bool check_ns_last_pid(struct check_note *n)
{
	const char *path = "/proc/sys/kernel/ns_last_pid";
	_cleanup_close_ int fd = open(path, O_RDWR | O_CLOEXEC);
	char buf[32];
	ssize_t len;

	if (fd < 0)
		return check_errno(n, "open /proc/sys/kernel/ns_last_pid for writing");
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	if (len <= 0)
		return check_errno(n, "read /proc/sys/kernel/ns_last_pid");
	/* Writing back the value it holds changes nothing but proves the right to. */
	if (pwrite(fd, buf, len, 0) != len)
		return check_errno(n, "write /proc/sys/kernel/ns_last_pid");
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return check_say(n, true, "wrote back its value %s", buf);
}

static bool check_mm_map(struct check_note *n)
{
	unsigned int size = 0;

	if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, (unsigned long)&size, 0, 0) < 0)
		return check_errno(n, "prctl PR_SET_MM_MAP_SIZE");
	if (size != sizeof(struct prctl_mm_map))
		return check_say(n, false, "the kernel's struct prctl_mm_map is %u bytes, amber's %zu", size,
				 sizeof(struct prctl_mm_map));
	return check_say(n, true, "struct prctl_mm_map is %u bytes", size);
}

/* In a forked child: moves its [vdso] elsewhere; exits 0 on success, 100 when
 * there is no vDSO, else the errno of mremap. */
static void __attribute__((noreturn)) check_vdso_child(void)
{
	unsigned long start = 0, end = 0;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	void *to;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[vdso]") && sscanf(line, "%lx-%lx", &start, &end) == 2)
			break;
	if (!start)
		_exit(100);
	to = mmap(NULL, end - start, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (to == MAP_FAILED)
		_exit(errno);
	/* From here on the vDSO is gone from where libc thinks it is: only raw
	 * system calls until exit. */
	if ((void *)syscall(SYS_mremap, start, end - start, end - start, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to)
		syscall(SYS_exit_group, errno ? errno : 99);
	syscall(SYS_exit_group, 0);
	_exit(0);
}

static bool check_vdso(struct check_note *n)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return check_errno(n, "fork");
	if (pid == 0)
		check_vdso_child();
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return check_errno(n, "waitpid");
	if (WIFSIGNALED(status))
		return check_say(n, false, "the child that moved its vDSO died of signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) == 100)
		return check_say(n, false, "no [vdso] in /proc/self/maps");
	if (WEXITSTATUS(status)) {
		errno = WEXITSTATUS(status);
		return check_errno(n, "mremap [vdso]");
	}
	return check_say(n, true, "a child moved its [vdso] with mremap");
}

static bool check_memfd(struct check_note *n)
{
	_cleanup_close_ int fd = memfd_create("amber-check", MFD_CLOEXEC);

	if (fd < 0)
		return check_errno(n, "memfd_create");
	return check_say(n, true, "created memfd %d", fd);
}

static bool check_sockdiag(struct check_note *n)
{
	struct sockdiag_unix d;
	struct stat a, b;
	struct err e = { 0 };
	int sk[2];
	bool ok;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sk) < 0)
		return check_errno(n, "socketpair");
	ok = fstat(sk[0], &a) == 0 && fstat(sk[1], &b) == 0 && sockdiag_unix_get(a.st_ino, &d, &e) == 0;
	close(sk[0]);
	close(sk[1]);
	if (!ok)
		return check_say(n, false, "%s", e.msg[0] ? e.msg : "fstat a socket");
	if (d.peer != b.st_ino)
		return check_say(n, false, "sock_diag gave socket:[%u] the peer socket:[%u], want socket:[%llu]", d.ino, d.peer,
				 (unsigned long long)b.st_ino);
	return check_say(n, true, "sock_diag names the peer of a socketpair");
}

static bool check_openat2(struct check_note *n)
{
	_cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int in = -1;
	_cleanup_close_ int out = -1;
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_BENEATH };

	if (root < 0)
		return check_errno(n, "open /");
	in = syscall(SYS_openat2, root, ".", &how, sizeof(how));
	if (in < 0)
		return check_errno(n, "openat2 RESOLVE_BENEATH");
	out = syscall(SYS_openat2, root, "..", &how, sizeof(how));
	if (out >= 0 || errno != EXDEV)
		return check_say(n, false, "openat2 RESOLVE_BENEATH let '..' escape the directory");
	return check_say(n, true, "refuses '..' out of the directory");
}

/* The network lock (driver/netlock.c) makes an nftables table with nft. */
static bool check_nft(struct check_note *n)
{
	static const char *const paths[] = { "/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft" };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return check_say(n, true, "%s", paths[i]);
	return check_say(n, false, "no nft program: install Debian's nftables, or dump with --network-lock skip");
}

static bool check_userfaultfd(struct check_note *n)
{
	struct uffdio_api api = { .api = UFFD_API };
	_cleanup_close_ int fd = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);

	if (fd < 0)
		fd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (fd < 0) {
		_cleanup_close_ int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev >= 0)
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC);
	}
	if (fd < 0)
		return check_errno(n, "userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		return check_errno(n, "UFFDIO_API");
	return check_say(n, true, "features %#llx", (unsigned long long)api.features);
}

/* In a child, in a private mount namespace of its own: what build-mntns
 * does to make one (fsopen/fsmount, open_tree clones, mount_setattr,
 * MOVE_MOUNT_SET_GROUP, move_mount onto a mount by fd). Exit 0, or the
 * number of the step that failed, with errno in the note pipe. */
static int check_mount_api_child(int out)
{
	struct mount_attr shared = { .propagation = MS_SHARED };
	int step = 1, fs, a, b, root;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		goto fail;
	step++;
	fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0 || syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0 ||
	    (a = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0)) < 0 || mkdirat(a, "d", 0700) < 0)
		goto fail;
	step++;
	if ((b = syscall(SYS_open_tree, a, "d", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)) < 0)
		goto fail;
	step++;
	root = syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (root < 0 || syscall(SYS_move_mount, root, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
	    syscall(SYS_move_mount, a, "", root, "tmp", MOVE_MOUNT_F_EMPTY_PATH) < 0 ||
	    syscall(SYS_move_mount, b, "", root, "mnt", MOVE_MOUNT_F_EMPTY_PATH) < 0)
		goto fail;
	step++;
	if (syscall(SYS_mount_setattr, a, "", AT_EMPTY_PATH, &shared, sizeof(shared)) < 0 ||
	    syscall(SYS_move_mount, a, "", b, "", MOVE_MOUNT_SET_GROUP | MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		goto fail;
	return 0;
fail:
	if (write(out, &errno, sizeof(errno)) < 0)
		return 1;
	return step;
}

/* /dev/fuse opens: the stubs of delayed mounts can be made. */
static bool check_fuse(struct check_note *n)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return check_say(n, false, "open /dev/fuse: %s (modprobe fuse)", strerror(errno));
	close(fd);
	return check_say(n, true, "/dev/fuse opens");
}

static bool check_mount_api(struct check_note *n)
{
	static const char *const steps[] = { "", "unshare(CLONE_NEWNS)", "fsopen/fsmount a tmpfs",
					     "open_tree(OPEN_TREE_CLONE)", "move_mount", "mount_setattr and MOVE_MOUNT_SET_GROUP" };
	int p[2], status, err = 0;
	pid_t child;

	if (pipe2(p, O_CLOEXEC) < 0)
		return check_errno(n, "pipe");
	if ((child = fork()) == 0)
		_exit(check_mount_api_child(p[1]));
	close(p[1]);
	if (child < 0 || waitpid(child, &status, 0) != child || read(p[0], &err, sizeof(err)) < 0)
		err = errno;
	close(p[0]);
	if (child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return check_say(n, true, "made, bound, moved and shared mounts in a private namespace");
	errno = err;
	return check_errno(n, child > 0 && WIFEXITED(status) && WEXITSTATUS(status) < 6 ? steps[WEXITSTATUS(status)] : "fork");
}

static const struct check check_table[] = {
	{ "capabilities",         "dump and restore need root: cap_sys_admin, cap_checkpoint_restore, cap_sys_ptrace", false, check_caps },
	{ "ptrace_scope",         "Yama must let amber attach to the tree", false, check_ptrace_scope },
	{ "ptrace seize",         "freeze the tree without signals it could notice", false, check_seize },
	{ "ptrace xstate",        "dump and restore FPU/SSE/AVX registers", false, check_xstate },
	{ "ptrace sigmask",       "dump and restore blocked signals", false, check_sigmask },
	{ "ptrace rseq",          "dump restartable sequences registered by glibc", false, check_rseq },
	{ "process_vm_readv",     "read and write memory of stopped tasks", false, check_process_vm },
	{ "pidfd_getfd",          "copy open files out of the tree", false, check_pidfd },
	{ "kcmp",                 "tell shared files and address spaces apart", false, check_kcmp },
	{ "pagemap",              "find which pages to dump", false, check_pagemap },
	{ "clone3 set_tid",       "restore tasks with their old pids", false, check_clone3 },
	{ "PR_SET_MM_MAP",        "restore brk, args, auxv and exe of a process", false, check_mm_map },
	{ "vdso mremap",          "move the vDSO back to its old address", false, check_vdso },
	{ "memfd_create",         "make memfds again (descriptors and mappings)", false, check_memfd },
	{ "unix sock_diag",       "dump unix sockets: peers, names, backlogs (libnl)", true, check_sockdiag },
	{ "ns_last_pid",          "pick pids on kernels without clone3 set_tid", true, check_ns_last_pid },
	{ "openat2 beneath",      "open image files only beneath the images directory", true, check_openat2 },
	{ "userfaultfd",          "lazy page restore, not used yet", true, check_userfaultfd },
	{ "mount API",            "dump and restore trees in mount namespaces of their own", true, check_mount_api },
	{ "network lock",         "keep TCP peers from resets between dump and restore (nft)", true, check_nft },
	{ "FUSE",                 "run a tree on a stub while its mount is delayed (restore --delay-mount)", true, check_fuse },
};

static const char check_usage[] =
	"usage: amber check [-v]\n"
	"  try every kernel feature amber needs and say which are missing\n"
	"  -v  also say what was found for the features that work\n";

int cmd_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "verbose", no_argument, NULL, 'v' },
		{ "help",    no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt, verbose = 0, missing = 0, missing_opt = 0;

	optind = 0;	/* the driver may have run getopt already */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'v': verbose++; break;
		case 'h': fputs(check_usage, stdout); return EXIT_OK;
		default:
			drv_error("unknown option '%s'", argv[optind - 1]);
			fputs(check_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		drv_error("unexpected argument '%s'", argv[optind]);
		fputs(check_usage, stderr);
		return EXIT_USAGE;
	}

	for (size_t i = 0; i < ARRAY_SIZE(check_table); i++) {
		const struct check *c = &check_table[i];
		struct check_note note = { "" };
		bool ok = c->run(&note);

		if (!ok)
			c->optional ? missing_opt++ : missing++;
		printf("%-8s %-20s %s%s\n", ok ? "ok" : "missing", c->name, c->why,
		       c->optional ? " (optional)" : "");
		if ((!ok || verbose) && note.text[0])
			printf("%-8s %s\n", "", note.text);
		fflush(stdout);
	}
	if (missing) {
		drv_error("%d essential kernel feature%s missing (see above); dump and restore will fail%s",
			  missing, missing == 1 ? " is" : "s are", geteuid() ? "; run amber as root" : "");
		return EXIT_SYSTEM;
	}
	printf("\nall essential features work%s\n", missing_opt ? "; some optional ones are missing" : "");
	return EXIT_OK;
}
