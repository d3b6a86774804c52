/* signals: a self-checking workload for pending signals and sigaltstack
 * across a checkpoint.
 *
 *	signals READYFILE RESULTFILE
 *
 * With SIGUSR2 and three real-time signals blocked it queues, to itself:
 *	process-wide	SIGUSR2 by kill(2) (SI_USER); SIGRTMIN+1 three times with
 *			values 101, 102, 103 and SIGRTMIN+2 once with 201 by
 *			sigqueue(3) (SI_QUEUE)
 *	thread		SIGRTMIN+3 twice with values 301, 302, by
 *			rt_tgsigqueueinfo(2) to its own tid
 * and sets a 64 KiB sigaltstack, on which the SIGUSR2 handler (SA_ONSTACK)
 * must run. It writes "READY <pid>" to READYFILE and waits for SIGUSR1
 * (never blocked). The test dumps, kills and restores it in between, then
 * sends SIGUSR1. It checks that each signal is still pending in the right
 * queue (SigPnd/ShdPnd of /proc/self/status) and that sigaltstack(2) reports
 * the same stack, unblocks them, and checks every delivery: number, order
 * within each signal, value, si_code, si_pid, and the handler's stack. It
 * writes PASS or "FAIL: ..." lines to RESULTFILE and exits 0 or 1.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "workload.h"

#define ALT_SIZE (64 * 1024)
#define MAX_LOG 32

struct delivery {
	int signo, code, value;
	pid_t pid;
	int on_altstack;
};

static struct delivery deliveries[MAX_LOG];
static volatile int nr_deliveries;
static char *altstack;
static char report_text[8192];
static struct wl_report report = { .text = report_text, .size = sizeof(report_text) };

/* Logs every delivery of the checked signals, with where its frame is. */
static void on_signal(int sig, siginfo_t *si, void *uc)
{
	char here;
	int n = nr_deliveries;

	if (n >= MAX_LOG)
		return;
	deliveries[n].signo = sig;
	deliveries[n].code = si->si_code;
	deliveries[n].value = si->si_value.sival_int;
	deliveries[n].pid = si->si_pid;
	deliveries[n].on_altstack = &here >= altstack && &here < altstack + ALT_SIZE;
	nr_deliveries = n + 1;
}

/* The hex mask of 'key' in /proc/self/status. */
static uint64_t status_mask(const char *key)
{
	char line[256];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtoull(line + strlen(key) + 1, NULL, 16);
	if (f)
		fclose(f);
	return v;
}

static uint64_t bit(int sig)
{
	return 1ULL << (sig - 1);
}

/* Checks the deliveries of one signal: count, values in order, code. */
static void check_signal(int sig, const int *values, int n, int code, int altstack_wanted)
{
	int seen = 0;

	for (int i = 0; i < nr_deliveries; i++) {
		const struct delivery *d = &deliveries[i];

		if (d->signo != sig)
			continue;
		if (seen < n && values && d->value != values[seen])
			wl_fail(&report, "signal %d delivery %d has value %d, want %d", sig, seen, d->value, values[seen]);
		if (d->code != code)
			wl_fail(&report, "signal %d delivery %d has si_code %d, want %d", sig, seen, d->code, code);
		if (d->pid != getpid())
			wl_fail(&report, "signal %d delivery %d has si_pid %d, want %d", sig, seen, d->pid, getpid());
		if (altstack_wanted && !d->on_altstack)
			wl_fail(&report, "signal %d handler did not run on the sigaltstack", sig);
		seen++;
	}
	if (seen != n)
		wl_fail(&report, "signal %d was delivered %d times, want %d", sig, seen, n);
}

int main(int argc, char **argv)
{
	static const int rt1[] = { 101, 102, 103 }, rt2[] = { 201 }, rt3[] = { 301, 302 };
	int s1 = SIGRTMIN + 1, s2 = SIGRTMIN + 2, s3 = SIGRTMIN + 3;
	struct sigaction sa = { 0 };
	sigset_t block, none;
	stack_t ss = { 0 }, old;

	if (argc != 3) {
		fprintf(stderr, "usage: signals READYFILE RESULTFILE\n");
		return 2;
	}
	altstack = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (altstack == MAP_FAILED)
		return 2;
	ss.ss_sp = altstack;
	ss.ss_size = ALT_SIZE;
	if (sigaltstack(&ss, NULL) < 0)
		return 2;

	wl_catch_usr1();
	/* Handlers run one at a time, so the log is in delivery order. */
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(s1, &sa, NULL);
	sigaction(s2, &sa, NULL);
	sigaction(s3, &sa, NULL);
	sa.sa_flags |= SA_ONSTACK;
	sigaction(SIGUSR2, &sa, NULL);

	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, s1);
	sigaddset(&block, s2);
	sigaddset(&block, s3);
	sigprocmask(SIG_BLOCK, &block, NULL);

	kill(getpid(), SIGUSR2);
	for (int i = 0; i < 3; i++)
		sigqueue(getpid(), s1, (union sigval){ .sival_int = rt1[i] });
	sigqueue(getpid(), s2, (union sigval){ .sival_int = rt2[0] });
	for (int i = 0; i < 2; i++) {
		siginfo_t si = { 0 };

		si.si_signo = s3;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value.sival_int = rt3[i];
		if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), s3, &si) < 0)
			return 2;
	}

	if (wl_write_ready(argv[1], getpid()) < 0)
		return 2;
	wl_wait_usr1();

	/* Still pending, in the right queues. */
	if (status_mask("SigPnd") != bit(s3))
		wl_fail(&report, "thread pending mask %#llx, want %#llx", (unsigned long long)status_mask("SigPnd"),
		                 (unsigned long long)bit(s3));
	if (status_mask("ShdPnd") != (bit(SIGUSR2) | bit(s1) | bit(s2)))
		wl_fail(&report, "process pending mask %#llx, want %#llx", (unsigned long long)status_mask("ShdPnd"),
		                 (unsigned long long)(bit(SIGUSR2) | bit(s1) | bit(s2)));
	if (sigaltstack(NULL, &old) < 0 || old.ss_sp != altstack || old.ss_size != ALT_SIZE || old.ss_flags != 0)
		wl_fail(&report, "sigaltstack is %p/%zu/%#x, want %p/%d/0", old.ss_sp, old.ss_size, old.ss_flags, altstack, ALT_SIZE);

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	check_signal(SIGUSR2, NULL, 1, SI_USER, 1);
	check_signal(s1, rt1, 3, SI_QUEUE, 0);
	check_signal(s2, rt2, 1, SI_QUEUE, 0);
	check_signal(s3, rt3, 2, SI_QUEUE, 0);
	if (nr_deliveries != 7)
		wl_fail(&report, "%d signals delivered, want 7", nr_deliveries);
	/* The kernel delivers a thread's own queue first, then the process's,
	 * lowest signal number first in each. */
	{
		static const int order[] = { 0, 0, 1, 2, 2, 2, 3 };	/* s3 s3 USR2 s1 s1 s1 s2 */
		int want[4] = { s3, SIGUSR2, s1, s2 };

		for (int i = 0; i < nr_deliveries && i < 7; i++)
			if (deliveries[i].signo != want[order[i]])
				wl_fail(&report, "delivery %d was signal %d, want %d", i, deliveries[i].signo, want[order[i]]);
	}
	if (wl_write_result(argv[2], &report) < 0)
		return 2;
	return report.nfails ? 1 : 0;
}
