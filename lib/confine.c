/* confine: see confine.h. */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "lib/confine.h"
#include "lib/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define CONFINE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONFINE_SANITIZED 1
#endif
#endif
#ifndef CONFINE_SANITIZED
#define CONFINE_SANITIZED 0
#endif

/* What the handler and the way out need, whatever the stage's list says. */
static const int confine_base[] = {
	SYS_rt_sigreturn, SYS_exit, SYS_exit_group, SYS_write, SYS_rt_sigaction, SYS_rt_sigprocmask,
	SYS_tgkill, SYS_getpid, SYS_gettid,
};

/* Read by the SIGSYS handler; written once, before the filter exists. */
static struct {
	int fd;
	char who[64];
} confine_cfg = { 2, "amber" };

/* Appends s to line at *n (bounded by size). */
static void confine_put(char *line, size_t size, size_t *n, const char *s)
{
	while (*s && *n + 1 < size)
		line[(*n)++] = *s++;
}

/* Appends v in decimal. */
static void confine_put_num(char *line, size_t size, size_t *n, unsigned long v)
{
	char digits[24];
	int i = sizeof(digits) - 1;

	digits[i] = 0;
	do
		digits[--i] = '0' + v % 10;
	while ((v /= 10) && i > 0);
	confine_put(line, size, n, digits + i);
}

/* Appends v in hexadecimal, 0x first. */
static void confine_put_hex(char *line, size_t size, size_t *n, unsigned long v)
{
	char digits[24];
	int i = sizeof(digits) - 1;

	digits[i] = 0;
	do
		digits[--i] = "0123456789abcdef"[v % 16];
	while ((v /= 16) && i > 2);
	confine_put(line, size, n, "0x");
	confine_put(line, size, n, digits + i);
}

/* SIGSYS from the filter: say which call, then die of SIGSYS. Only
 * async-signal-safe calls, all of them in confine_base. */
static void confine_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	char line[512];
	size_t n = 0;
	sigset_t set;

	/* A log line as lib/log.c writes them, so the driver files it as the
	 * stage's last error. */
	confine_put(line, sizeof(line), &n, "(  0.000000) ");
	confine_put(line, sizeof(line), &n, confine_cfg.who);
	confine_put(line, sizeof(line), &n, ": E: system call ");
	confine_put_num(line, sizeof(line), &n, (unsigned long)si->si_syscall);
	if (si->si_syscall == SYS_ioctl) {
		confine_put(line, sizeof(line), &n, " (ioctl request ");
		confine_put_hex(line, sizeof(line), &n, (uint32_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSI]);
		confine_put(line, sizeof(line), &n, ")");
	}
	confine_put(line, sizeof(line), &n, " is not in the stage's seccomp allow list, so the stage is killed (SIGSYS); "
		    "if the stage needs it, add it to the list (ausyscall ");
	confine_put_num(line, sizeof(line), &n, (unsigned long)si->si_syscall);
	confine_put(line, sizeof(line), &n, " names it; doc/design.md, Confined stages)\n");
	if (write(confine_cfg.fd, line, n) < 0)
		n = 0;
	sigaction(SIGSYS, &dfl, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	_exit(128 + SIGSYS);
}

/* Appends one instruction to the program. */
static void confine_emit(struct sock_filter *f, size_t *n, struct sock_filter insn)
{
	f[(*n)++] = insn;
}

int confine_install(const char *who, const int *allow, size_t nr, const unsigned long *ioctls, size_t nr_ioctls,
		    struct err *e)
{
	size_t nb = sizeof(confine_base) / sizeof(confine_base[0]), n = 0;
	struct sigaction sa = { .sa_sigaction = confine_sigsys, .sa_flags = SA_SIGINFO };
	struct sock_filter *f;
	struct sock_fprog prog;
	int ret;

	if (CONFINE_SANITIZED) {
		pr_debug("%s: a sanitizer build: no seccomp allow list (the sanitizers' runtime makes calls of its own)", who);
		return 0;
	}
	if (nr + nb > 1000 || nr_ioctls > 100)
		return err_input(e, "%s: %zu system calls and %zu ioctls are more than a seccomp allow list here holds", who,
				 nr, nr_ioctls);
	/* 4 to check the ABI and load the number, 3 + 2 per ioctl request, 2
	 * per call, 1 return. */
	if (!(f = calloc(4 + 3 + 2 * nr_ioctls + 2 * (nr + nb) + 1, sizeof(*f))))
		return err_errnum(e, ENOMEM, "%s: seccomp allow list", who);
	confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
	confine_emit(f, &n, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
	confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
	/* ioctl: only the listed requests (the low 32 bits of its second
	 * argument, as the kernel reads it); any other call jumps over. */
	confine_emit(f, &n, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0, 1 + 2 * nr_ioctls + 1));
	confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])));
	for (size_t i = 0; i < nr_ioctls; i++) {
		confine_emit(f, &n, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ioctls[i], 0, 1));
		confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	}
	confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	/* x32 calls have bit 30 set: none is listed, so they fall to the end. */
	for (size_t i = 0; i < nr + nb; i++) {
		int k = i < nb ? confine_base[i] : allow[i - nb];

		if (k == SYS_ioctl)
			continue;	/* judged above */
		confine_emit(f, &n, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)k, 0, 1));
		confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	}
	confine_emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
	prog.len = n;
	prog.filter = f;
	confine_cfg.fd = log_fd();
	snprintf(confine_cfg.who, sizeof(confine_cfg.who), "%s", who);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		free(f);
		return err_errno(e, "%s: handle SIGSYS", who);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		free(f);
		return err_errno(e, "%s: set no_new_privs", who);
	}
	/* TSYNC: every thread there is gets it too. */
	ret = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
	free(f);
	if (ret != 0)
		return err_errno(e, "%s: install the seccomp allow list of %zu system calls", who, nr);
	pr_debug("%s: confined to %zu system calls (no_new_privs, seccomp)", who, nr + nb);
	return 0;
}
